// Keystone's Fernet token payloads (keystone/token/token_formatters.py, Keystone 22 "Zed" as
// shipped by Debian), byte for byte: a msgpack array `[version, ...fields]`.
//
// Encoding is done by a small writer here rather than msgpackr because python msgpack writes
// Keystone's float expiry as float64 even when it is integral (Keystone truncates expiries to
// whole seconds, so it always is), and integers >= 2^32 as uint64; msgpackr writes the former
// as an int and the latter as float64/int64. Decoding uses msgpackr, which reads standard
// msgpack fine.

import { Unpackr } from 'msgpackr';

/** Payload version numbers, one per Keystone payload class. */
export const PAYLOAD_VERSION = {
  unscoped: 0,
  domainScoped: 1,
  projectScoped: 2,
  trustScoped: 3,
  federatedUnscoped: 4,
  federatedProjectScoped: 5,
  federatedDomainScoped: 6,
  oauthScoped: 7,
  systemScoped: 8,
  applicationCredentialScoped: 9,
} as const;
export type PayloadKind = keyof typeof PAYLOAD_VERSION;

export interface TokenPayload {
  userId: string;
  /** Auth method names. After decoding: in Keystone's order (highest bit first). */
  methods: string[];
  expiresAt: Date;
  /** [0] = this token's audit id, [1] = the audit chain id when it came from another token. */
  auditIds: string[];
  /** 'all' */
  systemScope?: string;
  domainId?: string;
  projectId?: string;
  trustId?: string;
  federatedGroupIds?: string[];
  identityProviderId?: string;
  protocolId?: string;
  /** OAuth1 access token. */
  accessTokenId?: string;
  appCredId?: string;
}

/** The payload cannot be encoded: a caller bug, not a client error. */
export class TokenPayloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenPayloadError';
  }
}

/** A token's payload could not be decoded (wrong shape, unknown version). */
export class MalformedPayload extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedPayload';
  }
}

// ---------------------------------------------------------------------------------------------
// Auth methods bitmask (keystone/auth/plugins/core.py)

/** Keystone's default `[auth] methods`. The position in the list gives the bit. */
export const DEFAULT_AUTH_METHODS: readonly string[] = Object.freeze([
  'external',
  'password',
  'token',
  'oauth1',
  'mapped',
  'application_credential',
]);

/**
 * Method names that are not auth plugins but are written into tokens (EC2 credentials, OAuth2
 * client credentials). Debian's Keystone 22 (security update, CVE-2026-80182/80184) gives them
 * fixed high bits so they survive the round trip instead of encoding to 0.
 */
export const PSEUDO_METHOD_BITS: ReadonlyMap<number, string> = new Map([
  [2 ** 32, 'ec2credential'],
  [2 ** 33, 'oauth2_credential'],
]);

/** Method names <-> the integer in the payload, for a given `[auth] methods` list. */
export class AuthMethodCodec {
  readonly methods: readonly string[];
  // bit -> name, built like keystone's construct_method_map_from_config()
  readonly #map = new Map<number, string>();
  readonly #bitsDescending: number[];

  constructor(methods: readonly string[] = DEFAULT_AUTH_METHODS) {
    this.methods = Object.freeze([...methods]);
    let bit = 1;
    for (const m of methods) {
      this.#map.set(bit, m);
      bit *= 2;
    }
    for (const [b, m] of PSEUDO_METHOD_BITS) this.#map.set(b, m);
    this.#bitsDescending = [...this.#map.keys()].sort((a, b) => b - a);
  }

  /**
   * Sum of the bits of the given methods. Keystone silently drops unknown names (losing them
   * from the token) and counts duplicates twice (corrupting the sum); we refuse the first and
   * ignore the second.
   */
  encode(methods: readonly string[]): number {
    let sum = 0;
    for (const name of new Set(methods)) {
      let found = false;
      for (const [bit, m] of this.#map) {
        if (m === name) {
          sum += bit;
          found = true;
        }
      }
      if (!found) throw new TokenPayloadError(`auth method '${name}' is not in [auth] methods`);
    }
    return sum;
  }

  /** Keystone's convert_integer_to_method_list, same order (highest bit first), same arithmetic. */
  decode(value: number): string[] {
    if (value === 0) return [];
    const out: string[] = [];
    let rest = value;
    for (const bit of this.#bitsDescending) {
      if (Math.trunc(rest / bit) === 1) {
        out.push(this.#map.get(bit)!);
        rest -= bit;
      }
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Minimal msgpack writer, encoding exactly as python msgpack 1.x packb() (use_bin_type=True).

/** Forces a float64, as a python float always is. */
export class Float64 {
  constructor(readonly value: number) {}
}

export type MsgValue = null | boolean | number | bigint | Float64 | string | Uint8Array | readonly MsgValue[];

class Writer {
  #buf = Buffer.allocUnsafe(256);
  #pos = 0;

  #ensure(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#pos + n));
    this.#buf.copy(next, 0, 0, this.#pos);
    this.#buf = next;
  }

  byte(b: number): void {
    this.#ensure(1);
    this.#buf[this.#pos++] = b;
  }

  // type byte followed by an unsigned big-endian length/value of `size` bytes
  head(type: number, size: 1 | 2 | 4, value: number): void {
    this.#ensure(1 + size);
    this.#buf[this.#pos++] = type;
    this.#pos = size === 1 ? this.#buf.writeUInt8(value, this.#pos)
      : size === 2 ? this.#buf.writeUInt16BE(value, this.#pos)
      : this.#buf.writeUInt32BE(value, this.#pos);
  }

  u64(type: number, value: bigint): void {
    this.#ensure(9);
    this.#buf[this.#pos++] = type;
    this.#pos = type === 0xcf ? this.#buf.writeBigUInt64BE(value, this.#pos) : this.#buf.writeBigInt64BE(value, this.#pos);
  }

  f64(value: number): void {
    this.#ensure(9);
    this.#buf[this.#pos++] = 0xcb;
    this.#pos = this.#buf.writeDoubleBE(value, this.#pos);
  }

  bytes(b: Uint8Array): void {
    this.#ensure(b.length);
    this.#buf.set(b, this.#pos);
    this.#pos += b.length;
  }

  result(): Buffer {
    return Buffer.from(this.#buf.subarray(0, this.#pos));
  }
}

function writeInt(w: Writer, v: bigint): void {
  // python msgpack: the smallest form, unsigned forms for non-negative values
  if (v >= 0n) {
    if (v < 0x80n) w.byte(Number(v));
    else if (v < 0x100n) w.head(0xcc, 1, Number(v));
    else if (v < 0x10000n) w.head(0xcd, 2, Number(v));
    else if (v < 0x100000000n) w.head(0xce, 4, Number(v));
    else if (v < 0x10000000000000000n) w.u64(0xcf, v);
    else throw new TokenPayloadError('integer too large for msgpack');
  } else {
    if (v >= -32n) w.byte(0x100 + Number(v));
    else if (v >= -0x80n) w.head(0xd0, 1, 0x100 + Number(v));
    else if (v >= -0x8000n) w.head(0xd1, 2, 0x10000 + Number(v));
    else if (v >= -0x80000000n) w.head(0xd2, 4, 0x100000000 + Number(v));
    else if (v >= -0x8000000000000000n) w.u64(0xd3, v);
    else throw new TokenPayloadError('integer too small for msgpack');
  }
}

function writeValue(w: Writer, v: MsgValue): void {
  if (v === null) w.byte(0xc0);
  else if (v === true) w.byte(0xc3);
  else if (v === false) w.byte(0xc2);
  else if (typeof v === 'number') {
    if (Number.isSafeInteger(v)) writeInt(w, BigInt(v));
    else if (Number.isInteger(v)) throw new TokenPayloadError('integer beyond 2^53 must be passed as a bigint');
    else w.f64(v);
  } else if (typeof v === 'bigint') writeInt(w, v);
  else if (v instanceof Float64) w.f64(v.value);
  else if (typeof v === 'string') {
    const b = Buffer.from(v, 'utf8');
    if (b.length < 32) w.byte(0xa0 | b.length);
    else if (b.length < 0x100) w.head(0xd9, 1, b.length);
    else if (b.length < 0x10000) w.head(0xda, 2, b.length);
    else w.head(0xdb, 4, b.length);
    w.bytes(b);
  } else if (v instanceof Uint8Array) {
    if (v.length < 0x100) w.head(0xc4, 1, v.length);
    else if (v.length < 0x10000) w.head(0xc5, 2, v.length);
    else w.head(0xc6, 4, v.length);
    w.bytes(v);
  } else if (Array.isArray(v)) {
    const arr = v as readonly MsgValue[];
    if (arr.length < 16) w.byte(0x90 | arr.length);
    else if (arr.length < 0x10000) w.head(0xdc, 2, arr.length);
    else w.head(0xdd, 4, arr.length);
    for (const item of arr) writeValue(w, item);
  } else {
    throw new TokenPayloadError('value cannot be packed');
  }
}

/** msgpack bytes exactly as python's msgpack.packb() would produce for the same value. */
export function packMsgpack(value: MsgValue): Buffer {
  const w = new Writer();
  writeValue(w, value);
  return w.result();
}

// int64AsType 'number': the method bitmask may be a uint64 (pseudo-method bits); it stays < 2^53.
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: false, int64AsType: 'number' });

export function unpackMsgpack(bytes: Uint8Array): unknown {
  return unpackr.unpack(bytes);
}

// ---------------------------------------------------------------------------------------------
// Field conversions, following Keystone's BasePayload helpers.

// uuid4().hex, which is what Keystone generates. Keystone's uuid.UUID() parse would also take
// upper case, hyphens, braces and "urn:uuid:" - and then hand back a different string after the
// round trip. We pack only the canonical form as bytes and everything else as text, so an id
// always comes back unchanged (and Keystone still reads both forms).
const UUID_HEX = /^[0-9a-f]{32}$/;

const isUuidHex = (s: string): boolean => UUID_HEX.test(s);
const uuidBytes = (hex: string): Buffer => Buffer.from(hex, 'hex');

/** Keystone's attempt_convert_uuid_hex_to_bytes: `(true, 16 bytes)` or `(false, text)`. */
function packId(id: string): [boolean, Buffer | string] {
  return isUuidHex(id) ? [true, uuidBytes(id)] : [false, id];
}

function requireId(value: string | undefined, what: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new TokenPayloadError(`${what} is required`);
  return value;
}

const AUDIT_ID = /^[A-Za-z0-9_-]+$/;

/** Keystone's random_urlsafe_str_to_bytes; only canonical unpadded text, so it round-trips. */
function auditIdBytes(id: string): Buffer {
  const b = Buffer.from(id, 'base64url');
  if (!AUDIT_ID.test(id) || id.length % 4 === 1 || b.toString('base64url') !== id) {
    throw new TokenPayloadError(`audit id '${id}' is not unpadded urlsafe base64`);
  }
  return b;
}

/** Keystone's _convert_time_string_to_float; the same double as python's total_seconds(). */
function expiryFloat(d: Date): Float64 {
  const ms = d.getTime();
  if (!Number.isFinite(ms)) throw new TokenPayloadError('expiresAt is not a valid date');
  return new Float64(ms / 1000);
}

export interface PayloadOptions {
  methods: AuthMethodCodec;
  /** `[identity] default_domain_id`: the one non-UUID id a domain-scoped payload may carry. */
  defaultDomainId: string;
}

export const DEFAULT_PAYLOAD_OPTIONS: PayloadOptions = {
  methods: new AuthMethodCodec(),
  defaultDomainId: 'default',
};

function forbid(p: TokenPayload, kind: string, fields: Array<keyof TokenPayload>): void {
  for (const f of fields) {
    if (p[f] !== undefined) throw new TokenPayloadError(`a ${kind} token cannot carry ${f}`);
  }
}

/**
 * Which payload class Keystone's fernet provider would pick for this token
 * (_determine_payload_class_from_token), refusing combinations it would silently drop.
 */
export function payloadKind(p: TokenPayload): PayloadKind {
  const federated = p.identityProviderId !== undefined || p.protocolId !== undefined || p.federatedGroupIds !== undefined;
  if (p.accessTokenId !== undefined) {
    forbid(p, 'OAuth1', ['systemScope', 'domainId', 'trustId', 'appCredId', 'identityProviderId', 'protocolId', 'federatedGroupIds']);
    requireId(p.projectId, 'projectId of an OAuth1 token');
    return 'oauthScoped';
  }
  if (p.trustId !== undefined) {
    forbid(p, 'trust', ['systemScope', 'domainId', 'appCredId', 'identityProviderId', 'protocolId', 'federatedGroupIds']);
    requireId(p.projectId, 'projectId of a trust token');
    return 'trustScoped';
  }
  if (federated) {
    forbid(p, 'federated', ['systemScope', 'appCredId']);
    requireId(p.identityProviderId, 'identityProviderId of a federated token');
    requireId(p.protocolId, 'protocolId of a federated token');
    if (!Array.isArray(p.federatedGroupIds)) throw new TokenPayloadError('federatedGroupIds of a federated token is required');
    if (p.projectId !== undefined && p.domainId !== undefined) throw new TokenPayloadError('a token cannot be scoped to a project and a domain');
    return p.projectId !== undefined ? 'federatedProjectScoped' : p.domainId !== undefined ? 'federatedDomainScoped' : 'federatedUnscoped';
  }
  if (p.appCredId !== undefined) {
    forbid(p, 'application credential', ['systemScope', 'domainId']);
    requireId(p.projectId, 'projectId of an application credential token');
    return 'applicationCredentialScoped';
  }
  if (p.projectId !== undefined) {
    forbid(p, 'project-scoped', ['systemScope', 'domainId']);
    return 'projectScoped';
  }
  if (p.domainId !== undefined) {
    forbid(p, 'domain-scoped', ['systemScope']);
    return 'domainScoped';
  }
  if (p.systemScope !== undefined) {
    if (p.systemScope !== 'all') throw new TokenPayloadError(`unknown system scope '${p.systemScope}'`);
    return 'systemScoped';
  }
  return 'unscoped';
}

/** The array Keystone's payload_class.assemble() returns, prefixed with the version. */
export function assemblePayload(p: TokenPayload, opts: PayloadOptions = DEFAULT_PAYLOAD_OPTIONS): MsgValue[] {
  const kind = payloadKind(p);
  const user = packId(requireId(p.userId, 'userId'));
  if (!Array.isArray(p.methods)) throw new TokenPayloadError('methods is required');
  const methods = opts.methods.encode(p.methods);
  const expires = expiryFloat(p.expiresAt);
  if (!Array.isArray(p.auditIds) || p.auditIds.length < 1 || p.auditIds.length > 2) {
    throw new TokenPayloadError('auditIds must hold the audit id and at most the audit chain id');
  }
  const audit = p.auditIds.map(auditIdBytes);
  const v = PAYLOAD_VERSION[kind];

  switch (kind) {
    case 'unscoped':
      return [v, user, methods, expires, audit];
    case 'domainScoped': {
      // Not a (flag, value) pair: 16 bytes, or the default domain's id as text, nothing else.
      const d = requireId(p.domainId, 'domainId');
      let domain: Buffer | string;
      if (isUuidHex(d)) domain = uuidBytes(d);
      else if (d === opts.defaultDomainId) domain = d;
      else throw new TokenPayloadError(`domain id '${d}' is neither a UUID hex nor the default domain id`);
      return [v, user, methods, domain, expires, audit];
    }
    case 'projectScoped':
      return [v, user, methods, packId(requireId(p.projectId, 'projectId')), expires, audit];
    case 'trustScoped': {
      // Raw 16 bytes, no flag: Keystone cannot carry a non-UUID trust id.
      const t = requireId(p.trustId, 'trustId');
      if (!isUuidHex(t)) throw new TokenPayloadError(`trust id '${t}' is not a UUID hex`);
      return [v, user, methods, packId(requireId(p.projectId, 'projectId')), expires, audit, uuidBytes(t)];
    }
    case 'federatedUnscoped':
    case 'federatedProjectScoped':
    case 'federatedDomainScoped': {
      const groups = p.federatedGroupIds!.map((g) => packId(requireId(g, 'federated group id')));
      const idp = packId(requireId(p.identityProviderId, 'identityProviderId'));
      const protocol = requireId(p.protocolId, 'protocolId');
      if (kind === 'federatedUnscoped') return [v, user, methods, groups, idp, protocol, expires, audit];
      const scope = packId(kind === 'federatedProjectScoped' ? requireId(p.projectId, 'projectId') : requireId(p.domainId, 'domainId'));
      return [v, user, methods, scope, groups, idp, protocol, expires, audit];
    }
    case 'oauthScoped':
      return [v, user, methods, packId(requireId(p.projectId, 'projectId')), packId(requireId(p.accessTokenId, 'accessTokenId')), expires, audit];
    case 'systemScoped':
      return [v, user, methods, p.systemScope!, expires, audit];
    case 'applicationCredentialScoped':
      return [v, user, methods, packId(requireId(p.projectId, 'projectId')), expires, audit, packId(requireId(p.appCredId, 'appCredId'))];
  }
}

/** msgpack bytes of the payload, identical to what Keystone puts inside the token. */
export function encodePayload(p: TokenPayload, opts: PayloadOptions = DEFAULT_PAYLOAD_OPTIONS): Buffer {
  return packMsgpack(assemblePayload(p, opts));
}

// --- decoding ---------------------------------------------------------------------------------

function bad(msg: string): never {
  throw new MalformedPayload(msg);
}

function text(v: unknown, what: string): string {
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.length).toString('utf8');
  return bad(`${what} is not text`);
}

function uuidHex(v: unknown, what: string): string {
  if (!(v instanceof Uint8Array) || v.length !== 16) return bad(`${what} is not a 16-byte UUID`);
  return Buffer.from(v.buffer, v.byteOffset, 16).toString('hex');
}

/** Keystone's `(is_stored_as_bytes, value)` + _convert_or_decode. */
function unpackId(v: unknown, what: string): string | undefined {
  if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'boolean') return bad(`${what} is not an id pair`);
  if (v[0]) return uuidHex(v[1], what);
  if (v[1] === null) return undefined; // Keystone packs a missing id as (False, None)
  return text(v[1], what);
}

function int(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) return bad(`${what} is not an integer`);
  return v;
}

function expiry(v: unknown): Date {
  if (typeof v !== 'number' || !Number.isFinite(v)) return bad('expiry is not a number');
  // Keystone keeps microseconds (utcfromtimestamp); a Date keeps milliseconds.
  return new Date(Math.round(v * 1000));
}

function auditIds(v: unknown): string[] {
  if (!Array.isArray(v)) return bad('audit ids are not a list');
  return v.map((a) => {
    if (!(a instanceof Uint8Array)) return bad('audit id is not bytes');
    return Buffer.from(a.buffer, a.byteOffset, a.length).toString('base64url');
  });
}

// fields after the version, per version
const FIELD_COUNT: Record<number, number> = { 0: 4, 1: 5, 2: 5, 3: 6, 4: 7, 5: 8, 6: 8, 7: 6, 8: 5, 9: 6 };

/** Inverse of assemblePayload, following each class's disassemble(). Absent fields are left out. */
export function disassemblePayload(arr: unknown, opts: PayloadOptions = DEFAULT_PAYLOAD_OPTIONS): TokenPayload {
  const p = disassemble(arr, opts);
  for (const k of Object.keys(p) as Array<keyof TokenPayload>) if (p[k] === undefined) delete p[k];
  return p;
}

function disassemble(arr: unknown, opts: PayloadOptions): TokenPayload {
  if (!Array.isArray(arr) || arr.length === 0) return bad('payload is not a list');
  const version = arr[0];
  const need = typeof version === 'number' ? FIELD_COUNT[version] : undefined;
  if (need === undefined) return bad(`This is not a recognized Fernet payload version: ${String(version)}`);
  // Keystone reads fields by index, so trailing extras are tolerated as it does.
  if (arr.length < need + 1) return bad(`payload version ${version} is too short`);
  const f = arr.slice(1) as unknown[];
  const userId = unpackId(f[0], 'user id') ?? bad('user id is missing');
  const methods = opts.methods.decode(int(f[1], 'methods'));
  const base = { userId, methods };

  switch (version) {
    case PAYLOAD_VERSION.unscoped:
      return { ...base, expiresAt: expiry(f[2]), auditIds: auditIds(f[3]) };
    case PAYLOAD_VERSION.domainScoped: {
      let domainId: string;
      if (f[2] instanceof Uint8Array && f[2].length === 16) domainId = uuidHex(f[2], 'domain id');
      else {
        domainId = text(f[2], 'domain id');
        if (domainId !== opts.defaultDomainId) bad('domain id is neither a UUID nor the default domain id');
      }
      return { ...base, domainId, expiresAt: expiry(f[3]), auditIds: auditIds(f[4]) };
    }
    case PAYLOAD_VERSION.projectScoped:
      return { ...base, projectId: unpackId(f[2], 'project id'), expiresAt: expiry(f[3]), auditIds: auditIds(f[4]) };
    case PAYLOAD_VERSION.trustScoped:
      return {
        ...base,
        projectId: unpackId(f[2], 'project id'),
        expiresAt: expiry(f[3]),
        auditIds: auditIds(f[4]),
        trustId: uuidHex(f[5], 'trust id'),
      };
    case PAYLOAD_VERSION.federatedUnscoped:
    case PAYLOAD_VERSION.federatedProjectScoped:
    case PAYLOAD_VERSION.federatedDomainScoped: {
      const scoped = version !== PAYLOAD_VERSION.federatedUnscoped;
      const o = scoped ? 1 : 0; // scoped payloads carry the scope id before the groups
      const groups = f[2 + o];
      if (!Array.isArray(groups)) return bad('federated groups are not a list');
      const out: TokenPayload = {
        ...base,
        federatedGroupIds: groups.map((x) => unpackId(x, 'group id') ?? bad('group id is missing')),
        identityProviderId: unpackId(f[3 + o], 'identity provider id'),
        protocolId: text(f[4 + o], 'protocol id'),
        expiresAt: expiry(f[5 + o]),
        auditIds: auditIds(f[6 + o]),
      };
      if (scoped) {
        const scope = unpackId(f[2], 'scope id');
        if (version === PAYLOAD_VERSION.federatedProjectScoped) out.projectId = scope;
        else out.domainId = scope;
      }
      return out;
    }
    case PAYLOAD_VERSION.oauthScoped:
      return {
        ...base,
        projectId: unpackId(f[2], 'project id'),
        accessTokenId: unpackId(f[3], 'access token id'),
        expiresAt: expiry(f[4]),
        auditIds: auditIds(f[5]),
      };
    case PAYLOAD_VERSION.systemScoped:
      return { ...base, systemScope: text(f[2], 'system scope'), expiresAt: expiry(f[3]), auditIds: auditIds(f[4]) };
    case PAYLOAD_VERSION.applicationCredentialScoped:
      return {
        ...base,
        projectId: unpackId(f[2], 'project id'),
        expiresAt: expiry(f[3]),
        auditIds: auditIds(f[4]),
        appCredId: unpackId(f[5], 'application credential id'),
      };
    default:
      return bad(`This is not a recognized Fernet payload version: ${String(version)}`);
  }
}

/** Decode the msgpack bytes found inside a token. Throws MalformedPayload. */
export function decodePayload(bytes: Uint8Array, opts: PayloadOptions = DEFAULT_PAYLOAD_OPTIONS): TokenPayload {
  let arr: unknown;
  try {
    arr = unpackMsgpack(bytes);
  } catch {
    return bad('payload is not msgpack');
  }
  return disassemblePayload(arr, opts);
}
