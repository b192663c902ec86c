// Nova's request validation (nova/api/validation): a Draft-4 JSON Schema check that fails with the
// same 400 messages Nova's jsonschema gives — "Invalid input for field/attribute ram. Value: 0. 0 is
// less than the minimum of 1" — including Nova's own formats (name, az_name, keypair names, uuid)
// and its number-from-string minimum/maximum. Query strings are validated as dicts of lists, as
// Nova does with req.GET.dict_of_lists(). Schemas are plain objects written like Nova's.

import type { FastifyRequest } from 'fastify';
import { ApiError } from '../../common/errors.js';
import { pyRepr } from '../../common/pyrepr.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Schema = Record<string, any>;

class VErr { constructor(readonly message: string, readonly path: (string | number)[], readonly instance: unknown, readonly invalidName?: string) {} }

function isPrintable(ch: string, ws: boolean): boolean {
  // Unicode categories C* (control, format, unassigned...) and Z* other than Zs are not printable.
  if (/\p{C}/u.test(ch)) return false;
  if (/\p{Z}/u.test(ch) && !/\p{Zs}/u.test(ch)) return false;
  if (!ws && /\p{Zs}/u.test(ch)) return false;
  return true;
}

const NAME_REASON = 'printable characters. Can not start or end with whitespace.';
const NAME_LT_REASON = 'printable characters with at least one non space character';
const AZ_REASON = 'printable characters except :.Can not start or end with whitespace.';
const AZ_LT_REASON = 'printable characters except :, with at least one non space character';

function checkName(s: string, excludeColon: boolean): boolean {
  const chars = [...s];
  if (!chars.every((c) => isPrintable(c, true) && !(excludeColon && c === ':'))) return false;
  if (chars.length && (!isPrintable(chars[0]!, false) || !isPrintable(chars[chars.length - 1]!, false))) return false;
  return true;
}

function checkNameLT(s: string, excludeColon: boolean): boolean {
  const chars = [...s];
  if (!chars.every((c) => isPrintable(c, true) && !(excludeColon && c === ':'))) return false;
  return chars.some((c) => isPrintable(c, false));
}

function keypairName(s: string, safe: string): string | null {
  return [...s].every((c) => safe.includes(c)) ? null : `Only expected characters: [${safe}]`;
}

const UUID_RE = /^(?:[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12})$/i;
const DIGITS = '0123456789';
const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** Checks a format; returns null when fine, else an InvalidName reason ('!'-prefixed) or a format error. */
function checkFormat(format: string, v: unknown): string | null {
  if (typeof v !== 'string') return null;
  switch (format) {
    case 'name': return checkName(v, false) ? null : '!' + NAME_REASON;
    case 'name_with_leading_trailing_spaces': return checkNameLT(v, false) ? null : '!' + NAME_LT_REASON;
    case 'az_name': return checkName(v, true) ? null : '!' + AZ_REASON;
    case 'az_name_with_leading_trailing_spaces': return checkNameLT(v, true) ? null : '!' + AZ_LT_REASON;
    case 'keypair_name_20': { const r = keypairName(v, '_- ' + DIGITS + LETTERS); return r ? '!' + r : null; }
    case 'keypair_name_292': { const r = keypairName(v, '@._- ' + DIGITS + LETTERS); return r ? '!' + r : null; }
    case 'uuid': return UUID_RE.test(v) ? null : `${pyRepr(v)} is not a 'uuid'`;
    case 'regex': try { new RegExp(v); return null; } catch { return `${pyRepr(v)} is not a 'regex'`; }
    case 'ipv4': return /^(\d{1,3})(\.\d{1,3}){3}$/.test(v) && v.split('.').every((p) => Number(p) < 256) ? null : `${pyRepr(v)} is not a 'ipv4'`;
    case 'date-time': return Number.isNaN(Date.parse(v)) ? `${pyRepr(v)} is not a 'date-time'` : null;
    default: return null;
  }
}

function typeOk(t: string, v: unknown): boolean {
  switch (t) {
    case 'object': return typeof v === 'object' && v !== null && !Array.isArray(v);
    case 'array': return Array.isArray(v);
    case 'string': return typeof v === 'string';
    case 'integer': return typeof v === 'number' && Number.isInteger(v);
    case 'number': return typeof v === 'number';
    case 'boolean': return typeof v === 'boolean';
    case 'null': return v === null;
    default: return true;
  }
}

function jsonEqual(a: unknown, b: unknown): boolean {
  // Python: True == 1 and False == 0 in enum checks, but jsonschema 4 distinguishes booleans.
  return JSON.stringify(a) === JSON.stringify(b);
}

function numberFromStr(v: unknown): number | null {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v.trim()))) return Number(v.trim());
  return null;
}

/** Python's `re.search` semantics for a Nova pattern (JS lookbehind is supported by V8). */
const patternCache = new Map<string, RegExp>();
function pattern(p: string): RegExp {
  let r = patternCache.get(p);
  if (!r) { r = new RegExp(p, 'u'); patternCache.set(p, r); }
  return r;
}

function* errors(s: Schema, v: unknown, path: (string | number)[]): Generator<VErr> {
  for (const [kw, arg] of Object.entries(s)) {
    switch (kw) {
      case 'type': {
        const types: string[] = Array.isArray(arg) ? arg : [arg];
        if (!types.some((t) => typeOk(t, v))) yield new VErr(`${pyRepr(v)} is not of type ${types.map((t) => pyRepr(t)).join(', ')}`, path, v);
        break;
      }
      case 'enum':
        if (!(arg as unknown[]).some((e) => jsonEqual(e, v))) yield new VErr(`${pyRepr(v)} is not one of ${pyRepr(arg)}`, path, v);
        break;
      case 'minimum': case 'maximum': {
        const n = numberFromStr(v);
        if (n === null) break;
        if (kw === 'minimum') {
          if (s.exclusiveMinimum === true ? n <= arg : n < arg) yield new VErr(`${pyRepr(v)} is less than ${s.exclusiveMinimum === true ? 'or equal to ' : ''}the minimum of ${pyRepr(arg)}`, path, v);
        } else if (s.exclusiveMaximum === true ? n >= arg : n > arg) yield new VErr(`${pyRepr(v)} is greater than ${s.exclusiveMaximum === true ? 'or equal to ' : ''}the maximum of ${pyRepr(arg)}`, path, v);
        break;
      }
      case 'minLength': if (typeof v === 'string' && [...v].length < arg) yield new VErr(`${pyRepr(v)} is too short`, path, v); break;
      case 'maxLength': if (typeof v === 'string' && [...v].length > arg) yield new VErr(`${pyRepr(v)} is too long`, path, v); break;
      case 'pattern': if (typeof v === 'string' && !pattern(arg).test(v)) yield new VErr(`${pyRepr(v)} does not match ${pyRepr(arg)}`, path, v); break;
      case 'format': {
        const r = checkFormat(arg, v);
        if (r) yield r.startsWith('!') ? new VErr(r, path, v, r.slice(1)) : new VErr(r, path, v);
        break;
      }
      case 'minItems': if (Array.isArray(v) && v.length < arg) yield new VErr(`${pyRepr(v)} is too short`, path, v); break;
      case 'maxItems': if (Array.isArray(v) && v.length > arg) yield new VErr(`${pyRepr(v)} is too long`, path, v); break;
      case 'uniqueItems':
        if (arg && Array.isArray(v) && new Set(v.map((x) => JSON.stringify(x))).size !== v.length) yield new VErr(`${pyRepr(v)} has non-unique elements`, path, v);
        break;
      case 'items':
        if (Array.isArray(v)) {
          if (Array.isArray(arg)) { for (let i = 0; i < Math.min(arg.length, v.length); i++) yield* errors(arg[i], v[i], [...path, i]); }
          else for (let i = 0; i < v.length; i++) yield* errors(arg, v[i], [...path, i]);
        }
        break;
      case 'additionalItems':
        if (arg === false && Array.isArray(v) && Array.isArray(s.items) && v.length > s.items.length) {
          yield new VErr(`Additional items are not allowed (${v.slice(s.items.length).map(pyRepr).join(', ')} ${v.length - s.items.length === 1 ? 'was' : 'were'} unexpected)`, path, v);
        }
        break;
      case 'properties':
        if (typeOk('object', v)) {
          for (const [k, sub] of Object.entries(arg as Schema)) {
            if (Object.prototype.hasOwnProperty.call(v, k)) yield* errors(sub as Schema, (v as Record<string, unknown>)[k], [...path, k]);
          }
        }
        break;
      case 'patternProperties':
        if (typeOk('object', v)) {
          for (const [p, sub] of Object.entries(arg as Schema)) {
            for (const [k, x] of Object.entries(v as object)) if (pattern(p).test(k)) yield* errors(sub as Schema, x, [...path, k]);
          }
        }
        break;
      case 'additionalProperties':
        if (typeOk('object', v)) {
          const props = Object.keys(s.properties ?? {});
          const pats = Object.keys(s.patternProperties ?? {}).map(pattern);
          const extras = Object.keys(v as object).filter((k) => !props.includes(k) && !pats.some((p) => p.test(k)));
          if (arg === false && extras.length) {
            if (pats.length) {
              yield new VErr(`${extras.map(pyRepr).join(', ')} ${extras.length === 1 ? 'does' : 'do'} not match any of the regexes: ${Object.keys(s.patternProperties).sort().map(pyRepr).join(', ')}`, path, v);
            } else {
              yield new VErr(`Additional properties are not allowed (${extras.map(pyRepr).join(', ')} ${extras.length === 1 ? 'was' : 'were'} unexpected)`, path, v);
            }
          } else if (typeof arg === 'object') {
            for (const k of extras) yield* errors(arg, (v as Record<string, unknown>)[k], [...path, k]);
          }
        }
        break;
      case 'required':
        if (typeOk('object', v)) for (const k of arg as string[]) if (!Object.prototype.hasOwnProperty.call(v, k)) yield new VErr(`${pyRepr(k)} is a required property`, path, v);
        break;
      case 'minProperties': if (typeOk('object', v) && Object.keys(v as object).length < arg) yield new VErr(`${pyRepr(v)} does not have enough properties`, path, v); break;
      case 'maxProperties': if (typeOk('object', v) && Object.keys(v as object).length > arg) yield new VErr(`${pyRepr(v)} has too many properties`, path, v); break;
      case 'allOf':
        for (const sub of arg as Schema[]) yield* errors(sub, v, path);
        break;
      case 'anyOf':
        if (!(arg as Schema[]).some((sub) => errors(sub, v, path).next().done)) yield new VErr(`${pyRepr(v)} is not valid under any of the given schemas`, path, v);
        break;
      case 'oneOf': {
        const ok = (arg as Schema[]).filter((sub) => errors(sub, v, path).next().done).length;
        if (ok === 0) yield new VErr(`${pyRepr(v)} is not valid under any of the given schemas`, path, v);
        else if (ok > 1) yield new VErr(`${pyRepr(v)} is valid under each of ${pyRepr(arg)}`, path, v);
        break;
      }
      default: break;
    }
  }
}

function fail(e: VErr, isBody: boolean): never {
  if (e.invalidName) throw new ApiError('BadRequest', `An invalid 'name' value was provided. The name must be: ${e.invalidName}`);
  if (e.path.length > 0) {
    if (isBody) throw new ApiError('BadRequest', `Invalid input for field/attribute ${e.path[e.path.length - 1]}. Value: ${pyRepr(e.instance)}. ${e.message}`);
    throw new ApiError('BadRequest', `Invalid input for query parameters ${e.path[0]}. Value: ${pyRepr(e.instance)}. ${e.message}`);
  }
  throw new ApiError('BadRequest', e.message);
}

/** Validates a request body against a Nova schema (400 with Nova's message). */
export function validateBody<T = Record<string, unknown>>(schema: Schema, body: unknown): T {
  if (body === undefined) {
    // No body: Nova's wsgi layer passes body=None to the validator.
    throw new ApiError('BadRequest', `The request body is invalid: ${pyRepr(null)} is not of type 'object'`);
  }
  if (typeof body === 'string') throw new ApiError('BadRequest', 'Malformed request body');
  const first = errors(schema, body, []).next();
  if (!first.done) fail(first.value, true);
  return body as T;
}

/** The query string as Nova's dict_of_lists(). */
export function queryLists(req: FastifyRequest): Record<string, string[]> {
  const raw = req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '';
  const out: Record<string, string[]> = {};
  for (const [k, v] of new URLSearchParams(raw)) (out[k] ??= []).push(v);
  return out;
}

/**
 * Validates the query string against a Nova query schema and returns its dict of lists with the
 * parameters the schema does not name stripped (Nova ignores unknown parameters before their 2.75).
 */
export function validateQuery(schema: Schema, req: FastifyRequest): Record<string, string[]> {
  const q = queryLists(req);
  const first = errors(schema, q, []).next();
  if (!first.done) fail(first.value, false);
  if (schema.additionalProperties !== false) {
    for (const k of Object.keys(q)) if (!(k in (schema.properties ?? {}))) delete q[k];
  }
  return q;
}

/** The last value of a query parameter (Nova reads `req.GET[key]`, the last one). */
export const last = (q: Record<string, string[]>, k: string): string | undefined => {
  const l = q[k];
  return l && l.length ? l[l.length - 1] : undefined;
};

/** Nova's valid_description_regex: printable characters and horizontal spaces only. */
export const PRINTABLE = '^(?:(?![\\p{Zl}\\p{Zp}])\\P{C})*$';

// Nova's parameter types (nova/api/validation/parameter_types.py).
export const T = {
  multi: (s: Schema): Schema => ({ type: 'array', items: s }),
  single: (s: Schema): Schema => ({ type: 'array', items: s, maxItems: 1 }),
  boolean: { type: ['boolean', 'string'], enum: [true, 'True', 'TRUE', 'true', '1', 'ON', 'On', 'on', 'YES', 'Yes', 'yes', false, 'False', 'FALSE', 'false', '0', 'OFF', 'Off', 'off', 'NO', 'No', 'no'] } as Schema,
  positiveInteger: { type: ['integer', 'string'], pattern: '^[0-9]*$', minimum: 1, minLength: 1 } as Schema,
  nonNegativeInteger: { type: ['integer', 'string'], pattern: '^[0-9]*$', minimum: 0, minLength: 1 } as Schema,
  name: { type: 'string', minLength: 1, maxLength: 255, format: 'name' } as Schema,
  nameLT: { type: 'string', minLength: 1, maxLength: 255, format: 'name_with_leading_trailing_spaces' } as Schema,
  azName: { type: 'string', minLength: 1, maxLength: 255, format: 'az_name' } as Schema,
  azNameLT: { type: 'string', minLength: 1, maxLength: 255, format: 'az_name_with_leading_trailing_spaces' } as Schema,
  uuid: { type: 'string', format: 'uuid' } as Schema,
  description: { type: ['string', 'null'], minLength: 0, maxLength: 255, pattern: PRINTABLE } as Schema,
  metadata: { type: 'object', patternProperties: { '^[a-zA-Z0-9-_:. ]{1,255}$': { type: 'string', maxLength: 255 } }, additionalProperties: false } as Schema,
};

/** oslo's strutils.bool_from_string(strict=False). */
export function boolFromString(v: unknown, strict = false): boolean {
  if (typeof v === 'boolean') return v;
  const s = String(v).trim().toLowerCase();
  if (['1', 't', 'true', 'on', 'y', 'yes'].includes(s)) return true;
  if (strict && !['0', 'f', 'false', 'off', 'n', 'no'].includes(s)) {
    throw new ApiError('BadRequest', `Unrecognized value '${String(v)}', acceptable values are: '0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'`);
  }
  return false;
}

/** Nova's pagination links: {"href": ".../flavors?limit=1&marker=x", "rel": "next"} when a page is full. */
export function nextLink(req: FastifyRequest, collection: string, marker: string): { href: string; rel: string } {
  // As Nova: the request's parameters (last value of each) sorted by name, then the new marker.
  const params = new Map<string, string>();
  for (const [k, vs] of Object.entries(queryLists(req)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) params.set(k, vs[vs.length - 1]!);
  params.set('marker', marker);
  const q = new URLSearchParams([...params.entries()]);
  return { href: `${baseUrl(req)}/v2.1/${collection}?${q.toString()}`, rel: 'next' };
}

/** Nova's common limit/marker reading (api/openstack/common.get_limit_and_marker). */
export function limitMarker(q: Record<string, string[]>, maxLimit: number): { limit: number; marker?: string } {
  const l = last(q, 'limit');
  let limit = maxLimit;
  if (l !== undefined) {
    const n = Number(l);
    if (!/^-?\d+$/.test(l.trim())) throw new ApiError('BadRequest', 'limit param must be an integer');
    if (n < 0) throw new ApiError('BadRequest', 'limit param must be positive');
    limit = Math.min(n, maxLimit);
  }
  const marker = last(q, 'marker');
  return { limit, ...(marker !== undefined ? { marker } : {}) };
}

function baseUrl(req: FastifyRequest): string {
  const proto = (req.headers['x-forwarded-proto'] as string | undefined) ?? 'http';
  return `${proto}://${req.headers.host ?? 'localhost'}`;
}

/** Nova's self and bookmark links of a resource (http://host/v2.1/flavors/1, http://host/flavors/1). */
export function resourceLinks(req: FastifyRequest, collection: string, id: string): { rel: string; href: string }[] {
  const b = baseUrl(req);
  return [{ rel: 'self', href: `${b}/v2.1/${collection}/${id}` }, { rel: 'bookmark', href: `${b}/${collection}/${id}` }];
}
