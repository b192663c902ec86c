// Neutron's HTTP conventions (neutron/api/api_common.py, neutron/api/v2/base.py): errors as
// {"NeutronError": {"type", "message", "detail"}} with the exception's class name as type,
// the list query language (fields=, filters with repeated values, sort_key/sort_dir, limit/marker/
// page_reverse with <collection>_links), If-Match revision checks and body envelopes.

import type { FastifyRequest } from 'fastify';
import { ApiError, type ErrorKind } from '../../common/errors.js';

/** An expected Neutron error: `type` is the neutron-lib exception class name clients match on. */
export function nerr(kind: ErrorKind, type: string, message: string): ApiError {
  return new ApiError(kind, message, { detail: { type } });
}
export const badRequest = (msg: string, type = 'HTTPBadRequest') => nerr('BadRequest', type, msg);
/** neutron_lib BadRequest: 'Bad %(resource)s request: %(msg)s.' */
export const badResource = (resource: string, msg: string) => nerr('BadRequest', 'BadRequest', `Bad ${resource} request: ${msg}.`);
/** neutron_lib InvalidInput. */
export const invalidInput = (msg: string) => nerr('BadRequest', 'InvalidInput', `Invalid input for operation: ${msg}.`);
export const notFound = (type: string, msg: string) => nerr('NotFound', type, msg);
export const conflict = (type: string, msg: string) => nerr('Conflict', type, msg);

/** The NeutronError body for any ApiError (the framework's own errors get webob's class names). */
export function neutronFault(err: ApiError): unknown {
  const type = (err.detail.type as string | undefined) ?? WEBOB[err.kind] ?? 'NeutronException';
  return { NeutronError: { type, message: err.message, detail: '' } };
}

const WEBOB: Partial<Record<ErrorKind, string>> = {
  BadRequest: 'HTTPBadRequest', Unauthorized: 'HTTPUnauthorized', Forbidden: 'HTTPForbidden', NotFound: 'HTTPNotFound',
  MethodNotAllowed: 'HTTPMethodNotAllowed', NotAcceptable: 'HTTPNotAcceptable', Conflict: 'HTTPConflict',
  PreconditionFailed: 'HTTPPreconditionFailed', PayloadTooLarge: 'HTTPRequestEntityTooLarge',
  UnsupportedMediaType: 'HTTPUnsupportedMediaType', InternalServerError: 'HTTPInternalServerError',
  NotImplemented: 'HTTPNotImplemented', ServiceUnavailable: 'HTTPServiceUnavailable',
};

/** The query string as webob's MultiDict: every key with all its values, in order. */
export function queryPairs(req: FastifyRequest): [string, string][] {
  const i = req.url.indexOf('?');
  if (i < 0) return [];
  return [...new URLSearchParams(req.url.slice(i + 1)).entries()];
}

export function queryLists(req: FastifyRequest): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const [k, v] of queryPairs(req)) (m.get(k) ?? m.set(k, []).get(k)!).push(v);
  return m;
}

/** The request body's `<resource>` object (Neutron: 'Resource body required' / 'Unable to find X in request body'). */
export function resourceBody(req: FastifyRequest, resource: string): Record<string, unknown> {
  const body = req.body as unknown;
  if (body === undefined || body === null || body === '') throw badRequest('Resource body required');
  if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('Body contains invalid data');
  const inner = (body as Record<string, unknown>)[resource];
  if (inner === undefined) throw badRequest(`Unable to find '${resource}' in request body`);
  if (typeof inner !== 'object' || inner === null || Array.isArray(inner)) throw badRequest(`Body contains invalid data`);
  return inner as Record<string, unknown>;
}

/** If-Match: revision_number=N (neutron's check_request_for_revision_constraint). */
export function ifMatchRevision(req: FastifyRequest): number | undefined {
  const h = req.headers['if-match'];
  if (h === undefined) return undefined;
  const v = Array.isArray(h) ? h[0]! : h;
  const m = /^revision_number=(\d+)$/.exec(v.trim());
  if (!m) throw badResource('if-match', 'If-Match header without revision_number=<int>');
  return Number(m[1]);
}

export function checkRevision(req: FastifyRequest, current: number): void {
  const want = ifMatchRevision(req);
  if (want !== undefined && want !== current) {
    throw nerr('PreconditionFailed', 'RevisionNumberConstraintFailed', `Constrained to ${want}, but current revision is ${current}`);
  }
}

/** The base URL a client used (for links): scheme://host[:port] */
export function baseUrl(req: FastifyRequest): string {
  const proto = (req.headers['x-forwarded-proto'] as string | undefined) ?? 'http';
  return `${proto}://${req.headers.host ?? 'localhost'}`;
}

// ------------------------------------------------------------------------------------------------
// Booleans and values as neutron-lib's converters take them.

export function toBoolean(v: unknown, what = 'value'): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number' && (v === 0 || v === 1)) return v === 1;
  if (typeof v === 'string') {
    const s = v.toLowerCase();
    if (['true', '1', 't', 'y', 'yes', 'on'].includes(s)) return true;
    if (['false', '0', 'f', 'n', 'no', 'off'].includes(s)) return false;
  }
  throw invalidInput(`'${pyRepr(v)}' cannot be converted to boolean`.replace(/^/, what === 'value' ? '' : ''));
}

/** Python's str() of a JSON value, for messages that print what the client sent. */
export function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return `[${v.map((x) => (typeof x === 'string' ? `'${x}'` : pyRepr(x))).join(', ')}]`;
  if (typeof v === 'object') return `{${Object.entries(v as object).map(([k, x]) => `'${k}': ${typeof x === 'string' ? `'${x}'` : pyRepr(x)}`).join(', ')}}`;
  return String(v);
}

export const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

export function isUuidLike(v: unknown): v is string { return typeof v === 'string' && UUID_RE.test(v); }

/** validate_string with max length (neutron-lib's messages). */
export function checkString(attr: string, v: unknown, max?: number): string {
  if (typeof v !== 'string') throw invalidInput(`'${pyRepr(v)}' is not a valid string`);
  if (max !== undefined && v.length > max) throw invalidInput(`'${v}' exceeds maximum length of ${max}`);
  void attr;
  return v;
}

/** Neutron's timestamps: seconds, UTC, with Z. */
export const stamp = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
