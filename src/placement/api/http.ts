// Placement's HTTP conventions: microversions (microversion_parse's middleware: the
// `OpenStack-API-Version: placement X.Y` header, `latest`, 406 for a version we do not serve, 400
// for one that does not parse), errors as the API-WG format webob renders for Placement
// ({"errors": [{"status", "title", "detail", "code" (1.23+), "request_id"}]}), JSON Schema
// validation with jsonschema's messages, content-type checks and the 1.15 cache headers.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { ApiError, ERROR_STATUS, ERROR_TITLE, type ErrorKind } from '../../common/errors.js';

export const MIN_VERSION = '1.0';
export const MAX_VERSION = '1.39';
const MAX_MINOR = 39;

/** A requested microversion (1.x). */
export class Version {
  constructor(readonly major: number, readonly minor: number) {}
  /** True when min <= this (and this <= max when given): microversion_parse's matches(). */
  matches(min: number, max?: number): boolean {
    return this.minor >= min && (max === undefined || this.minor <= max);
  }
  toString(): string { return `${this.major}.${this.minor}`; }
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The negotiated microversion; unset when negotiation failed or did not run yet. */
    placementVersion?: Version;
    placementError?: unknown;
  }
}

/** Placement's error codes (placement/errors.py). */
export const CODES = {
  DEFAULT: 'placement.undefined_code',
  INVENTORY_INUSE: 'placement.inventory.inuse',
  CONCURRENT_UPDATE: 'placement.concurrent_update',
  DUPLICATE_NAME: 'placement.duplicate_name',
  PROVIDER_IN_USE: 'placement.resource_provider.inuse',
  PROVIDER_CANNOT_DELETE_PARENT: 'placement.resource_provider.cannot_delete_parent',
  RESOURCE_PROVIDER_NOT_FOUND: 'placement.resource_provider.not_found',
  ILLEGAL_DUPLICATE_QUERYPARAM: 'placement.query.duplicate_key',
  QUERYPARAM_BAD_VALUE: 'placement.query.bad_value',
  QUERYPARAM_MISSING_VALUE: 'placement.query.missing_value',
} as const;
export type PlacementCode = typeof CODES[keyof typeof CODES];

/** An expected error with Placement's code. */
export function perr(kind: ErrorKind, message: string, code?: PlacementCode, headers?: Record<string, string>): ApiError {
  return new ApiError(kind, message, { detail: code ? { code } : {}, headers });
}
export const badRequest = (m: string, code?: PlacementCode) => perr('BadRequest', m, code);
export const notFound = (m: string, code?: PlacementCode) => perr('NotFound', m, code);
export const conflict = (m: string, code?: PlacementCode) => perr('Conflict', m, code);

/** microversion_parse.extract_version over the request headers. */
export function parseVersionHeader(header: string | string[] | undefined): Version {
  let found: string | undefined;
  const value = Array.isArray(header) ? header.join(',') : header;
  if (value !== undefined) {
    for (const part of value.split(',').reverse()) {
      const m = /^\s*(\S+)\s+(.+?)\s*$/.exec(part);
      if (m && m[1]!.toLowerCase() === 'placement') { found = m[2]!; break; }
    }
  }
  let v = found ?? MIN_VERSION;
  if (v === 'latest') v = MAX_VERSION;
  const parts = v.split('.');
  const nums = parts.length === 2 ? parts.map((p) => p.trim()) : [];
  if (nums.length !== 2 || !nums.every((n) => /^[+-]?\d+$/.test(n))) {
    throw perr('BadRequest', `Invalid microversion: invalid version string: ${v}; ${parts.length < 2 ? 'not enough values to unpack' : 'invalid literal'}`);
  }
  const major = Number(nums[0]);
  const minor = Number(nums[1]);
  if (major !== 1 || minor < 0 || minor > MAX_MINOR) {
    throw perr('NotAcceptable', `Invalid microversion: Unacceptable version header: ${v}`, undefined);
  }
  return new Version(major, minor);
}

// ---- error rendering (webob's json_formatter output, as placement.util.json_error_formatter) ----

const EXPLANATION: Partial<Record<ErrorKind, string>> = {
  BadRequest: 'The server could not comply with the request since it is either malformed or otherwise incorrect.',
  Forbidden: 'Access was denied to this resource.',
  NotFound: 'The resource could not be found.',
  Conflict: 'There was a conflict when trying to complete your request.',
  InternalServerError: 'The server has either erred or is incapable of performing the requested operation.',
  PayloadTooLarge: 'The body of your request was too large for this server.',
};

const KIND_BY_STATUS = new Map<number, ErrorKind>(Object.entries(ERROR_STATUS).map(([k, v]) => [v, k as ErrorKind]));

function detailOf(req: FastifyRequest, err: ApiError): string {
  let msg = err.message;
  if (err.kind === 'BadRequest' && msg.startsWith('Malformed request body: ')) msg = `Malformed JSON: ${msg.slice(24)}`;
  switch (err.kind) {
    case 'MethodNotAllowed': return `The method ${req.method} is not allowed for this resource. \n\n ${msg}`;
    case 'NotAcceptable': return `The resource could not be generated that was acceptable to your browser (content of type ${req.headers.accept ?? '${HTTP_ACCEPT}'}. \n\n ${msg}`;
    case 'UnsupportedMediaType': return `The request media type ${req.headers['content-type'] ?? '${CONTENT_TYPE}'} is not supported by this server. \n\n ${msg}`;
    default: return `${EXPLANATION[err.kind] ?? ''}\n\n ${msg}  `;
  }
}

/** Placement answers errors in JSON unless the client asked only for HTML or plain text. */
function wantsJson(accept: string | undefined): 'json' | 'html' | 'text' {
  if (!accept) return 'json';
  const a = accept.toLowerCase();
  if (a.includes('application/json') || a.includes('*/*') || a.includes('application/*')) return 'json';
  if (a.includes('html')) return 'html';
  return 'text';
}

const htmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Installs Placement's error bodies and microversion headers on the app. */
export function installPlacementHttp(app: FastifyInstance, wwwAuthenticate: () => string): void {
  app.addHook('onError', async (req, _reply, err) => { req.placementError = err; });
  app.addHook('onSend', async (req: FastifyRequest, reply: FastifyReply, payload) => {
    const status = reply.statusCode;
    if (req.placementVersion) reply.header('OpenStack-API-Version', `placement ${req.placementVersion}`);
    if (status < 400) {
      if (req.placementVersion) reply.header('Vary', 'openstack-api-version');
      return payload;
    }
    const e = req.placementError;
    const err = e instanceof ApiError && e.status === status ? e
      : new ApiError(KIND_BY_STATUS.get(status) ?? (status >= 500 ? 'InternalServerError' : 'BadRequest'), status >= 500 ? 'An unexpected error prevented the server from fulfilling your request.' : '');
    if (status === 401) {
      // keystonemiddleware's rejection, before Placement's own stack.
      reply.header('WWW-Authenticate', wwwAuthenticate());
      reply.header('content-type', 'application/json');
      return JSON.stringify({ error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } });
    }
    const detail = detailOf(req, err);
    const title = ERROR_TITLE[err.kind];
    const fmt = wantsJson(req.headers.accept);
    if (fmt === 'json') {
      const body: Record<string, unknown> = { status, title, detail };
      if (req.placementVersion?.matches(23)) body.code = (err.detail.code as string | undefined) ?? CODES.DEFAULT;
      body.request_id = req.id;
      if (status === 406 && req.placementVersion === undefined) { body.max_version = MAX_VERSION; body.min_version = MIN_VERSION; }
      reply.header('content-type', 'application/json');
      return JSON.stringify({ errors: [body] });
    }
    if (fmt === 'html') {
      reply.header('content-type', 'text/html; charset=UTF-8');
      return `<html>\n <head>\n  <title>${status} ${title}</title>\n </head>\n <body>\n  <h1>${status} ${title}</h1>\n  ${htmlEscape(detail.replace(/\n\n /, '<br /><br />\n'))}\n </body>\n</html>`;
    }
    reply.header('content-type', 'text/plain; charset=UTF-8');
    return `${status} ${title}\n\n${detail}`;
  });
}

// ---- request checks ----

/** util.require_content('application/json'). */
export function requireJson(req: FastifyRequest): void {
  const ct = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (ct !== 'application/json') {
    throw perr('UnsupportedMediaType', `The media type ${ct || 'None'} is not supported, use application/json`);
  }
}

/** util.check_accept('application/json'). */
export function checkAccept(req: FastifyRequest): void {
  const accept = req.headers.accept;
  if (!accept) return;
  const ok = accept.split(',').some((p) => {
    const [range, ...params] = p.trim().toLowerCase().split(';').map((s) => s.trim());
    const q = params.find((x) => x.startsWith('q='));
    if (q && Number(q.slice(2)) === 0) return false;
    return range === 'application/json' || range === 'application/*' || range === '*/*';
  });
  if (!ok) throw perr('NotAcceptable', 'Only application/json is provided');
}

/** Cache headers of microversion 1.15+ (Last-Modified, Cache-Control: no-cache). */
export function cacheHeaders(req: FastifyRequest, reply: FastifyReply, modified?: string | null): void {
  if (!req.placementVersion?.matches(15)) return;
  const d = modified ? new Date(modified) : new Date();
  reply.header('last-modified', d.toUTCString());
  reply.header('cache-control', 'no-cache');
}

// ---- JSON Schema with jsonschema's messages ----

const ajv = new Ajv({ allErrors: false, strict: false, coerceTypes: false, useDefaults: false });
const UUID_LIKE = /^(urn:uuid:)?\{?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\}?$/i;
ajv.addFormat('uuid', { type: 'string', validate: (s: string) => UUID_LIKE.test(s) });
const compiled = new WeakMap<object, ValidateFunction>();

/** Python's repr() of a JSON value. */
export function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(v);
  if (typeof v === 'string') return v.includes("'") && !v.includes('"') ? `"${v}"` : `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  return `{${Object.entries(v as Record<string, unknown>).map(([k, x]) => `${pyRepr(k)}: ${pyRepr(x)}`).join(', ')}}`;
}

function at(data: unknown, path: string): unknown {
  let cur: unknown = data;
  for (const seg of path.split('/').slice(1)) {
    const k = seg.replace(/~1/g, '/').replace(/~0/g, '~');
    cur = (cur as Record<string, unknown> | undefined)?.[k];
  }
  return cur;
}

function describe(e: ErrorObject, data: unknown, schema: object): string {
  const v = at(data, e.instancePath);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required': return `${pyRepr(p.missingProperty)} is a required property`;
    case 'additionalProperties': {
      let sub: unknown = schema;
      for (const k of e.schemaPath.replace(/^#\/?/, '').split('/').slice(0, -1)) if (k) sub = (sub as Record<string, unknown>)?.[k];
      const pats = (sub as { patternProperties?: Record<string, unknown> })?.patternProperties;
      if (pats && !(sub as { properties?: unknown }).properties) {
        return `${pyRepr(p.additionalProperty)} does not match any of the regexes: ${Object.keys(pats).map((x) => pyRepr(x)).join(', ')}`;
      }
      return `Additional properties are not allowed (${pyRepr(p.additionalProperty)} was unexpected)`;
    }
    case 'type': return `${pyRepr(v)} is not of type ${String(p.type).split(',').map((t) => pyRepr(t)).join(', ')}`;
    case 'maxLength': return `${pyRepr(v)} is too long`;
    case 'minLength': return `${pyRepr(v)} is too short`;
    case 'minimum': return `${pyRepr(v)} is less than the minimum of ${p.limit}`;
    case 'maximum': return `${pyRepr(v)} is greater than the maximum of ${p.limit}`;
    case 'pattern': return `${pyRepr(v)} does not match ${pyRepr(p.pattern)}`;
    case 'format': return `${pyRepr(v)} is not a ${pyRepr(p.format)}`;
    case 'anyOf': case 'oneOf': return `${pyRepr(v)} is not valid under any of the given schemas`;
    case 'minProperties': return `${pyRepr(v)} does not have enough properties`;
    case 'maxProperties': return `${pyRepr(v)} has too many properties`;
    case 'minItems': return `${pyRepr(v)} is too short`;
    case 'uniqueItems': return `${pyRepr(v)} has non-unique elements`;
    case 'enum': return `${pyRepr(v)} is not one of ${pyRepr(p.allowedValues)}`;
    case 'const': return `${pyRepr(p.allowedValue)} was expected`;
    default: return e.message ?? 'invalid';
  }
}

/** jsonschema's format_as_index: ['a'][0]... */
function asIndex(path: string[]): string {
  return path.map((p) => (/^\d+$/.test(p) ? `[${p}]` : `[${pyRepr(p)}]`)).join('');
}

function fullMessage(schema: object, e: ErrorObject, data: unknown, first: string): string {
  const spath = e.schemaPath.replace(/^#\/?/, '').split('/').filter(Boolean).map((x) => x.replace(/~1/g, '/').replace(/~0/g, '~'));
  const keyword = spath.pop() ?? e.keyword;
  let sub: unknown = schema;
  for (const k of spath) sub = (sub as Record<string, unknown>)?.[k];
  const ipath = e.instancePath.split('/').slice(1).map((x) => x.replace(/~1/g, '/').replace(/~0/g, '~'));
  return `${first}\n\nFailed validating ${pyRepr(keyword)} in schema${asIndex(spath)}:\n    ${pyRepr(sub)}\n\nOn instance${asIndex(ipath)}:\n    ${pyRepr(at(data, e.instancePath))}`;
}

function check(schema: object, data: unknown): string | null {
  let fn = compiled.get(schema);
  if (!fn) { fn = ajv.compile(schema); compiled.set(schema, fn); }
  if (fn(data)) return null;
  // jsonschema reports the deepest-best error; ajv's first is close enough for one-error messages.
  const errs = fn.errors!;
  const e = errs.find((x) => x.keyword !== 'anyOf' && x.keyword !== 'oneOf' && x.keyword !== 'if') ?? errs[0]!;
  const anyOf = errs.find((x) => x.keyword === 'anyOf' || x.keyword === 'oneOf');
  if (anyOf && e.instancePath === anyOf.instancePath) return fullMessage(schema, anyOf, data, describe(anyOf, data, schema));
  return fullMessage(schema, e, data, describe(e, data, schema));
}

/** util.extract_json: the body (already parsed) validated against a schema. */
export function extractJson<T>(req: FastifyRequest, schema: object): T {
  const body = req.body;
  if (body === undefined || typeof body === 'string') {
    const text = typeof body === 'string' ? body : '';
    try { JSON.parse(text); } catch (e) { throw badRequest(`Malformed JSON: ${(e as Error).message}`); }
  }
  const msg = check(schema, body);
  if (msg) throw badRequest(`JSON does not validate: ${msg}`);
  return body as T;
}

/** util.validate_query_params: the query (one value per key, the last wins as in webob's dict(GET)). */
export function validateQuery(req: FastifyRequest, schema: object): Record<string, string> {
  const q = queryDict(req);
  const msg = check(schema, q);
  if (msg) throw badRequest(`Invalid query string parameters: ${msg}`);
  return q;
}

/** All values of each query key, in order (webob's MultiDict). */
export function queryMulti(req: FastifyRequest): Map<string, string[]> {
  const i = req.url.indexOf('?');
  const out = new Map<string, string[]>();
  if (i < 0) return out;
  for (const [k, v] of new URLSearchParams(req.url.slice(i + 1))) {
    const list = out.get(k) ?? [];
    list.push(v);
    out.set(k, list);
  }
  return out;
}

/** dict(req.GET): the last value of each key. */
export function queryDict(req: FastifyRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, vs] of queryMulti(req)) out[k] = vs[vs.length - 1]!;
  return out;
}

export const UUID_RE = /^[0-9a-fA-F-]{36}$/;
export const isUuidLike = (s: string): boolean => UUID_LIKE.test(s);
/** str(uuid.UUID(s)): the canonical lowercase hyphenated form. */
export function normalizeUuid(s: string): string {
  const hex = s.replace(/^urn:uuid:/i, '').replace(/[{}-]/g, '').toLowerCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** webob's absolute Location: the request's scheme and Host with a path. */
export function locationOf(req: FastifyRequest, path: string): string {
  const host = req.headers.host ?? 'localhost';
  return `${req.protocol}://${host}${path}`;
}
