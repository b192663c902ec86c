// OAuth 1.0a request signatures (RFC 5849), verified the way Keystone verifies them through
// oauthlib: parameters collected from the Authorization header, the query string and (for form
// bodies) the body; the mandatory-parameter checks of oauthlib's endpoints; HMAC-SHA1/256/512 and
// PLAINTEXT signatures over the signature base string. Also the client side (signing), which the
// tests use and which behaves as Tempest's and keystoneauth's signers do.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** oauthlib's OAuth1Error: Keystone turns it into a 400 naming `error` and `description`. */
export class OAuthRequestError extends Error {
  constructor(readonly error: string, readonly description: string) {
    super(description);
    this.name = 'OAuthRequestError';
  }
}

const invalidRequest = (d: string) => new OAuthRequestError('invalid_request', d);

export const SIGNATURE_METHODS = ['HMAC-SHA1', 'HMAC-SHA256', 'HMAC-SHA512', 'RSA-SHA1', 'RSA-SHA256', 'RSA-SHA512', 'PLAINTEXT'] as const;
/** oauthlib's RequestValidator.timestamp_lifetime. */
export const TIMESTAMP_LIFETIME_SEC = 600;

/** Percent-encoding of RFC 5849 3.6 (Python's quote(s, safe='~')): only ALPHA DIGIT - . _ ~ stay. */
export function escape(s: string): string {
  const bytes = Buffer.from(s, 'utf8');
  let out = '';
  for (const b of bytes) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-._~]/.test(c)) out += c;
    else out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** Python's urllib.parse.unquote: %XX sequences decoded as UTF-8 (bad bytes replaced), '+' kept. */
export function unescape(s: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === '%' && /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(ch, 'utf8'));
    }
  }
  return new TextDecoder('utf-8').decode(Uint8Array.from(bytes));
}

/** urllib.request.parse_http_list: comma-separated items, commas inside quoted strings kept. */
function parseHttpList(s: string): string[] {
  const res: string[] = [];
  let part = '';
  let esc = false;
  let quote = false;
  for (const cur of s) {
    if (esc) { part += cur; esc = false; continue; }
    if (quote) {
      if (cur === '\\') { esc = true; continue; }
      if (cur === '"') quote = false;
      part += cur;
      continue;
    }
    if (cur === ',') { res.push(part); part = ''; continue; }
    if (cur === '"') quote = true;
    part += cur;
  }
  if (part) res.push(part);
  return res.map((p) => p.trim());
}

/** oauthlib's parse_authorization_header: `OAuth k="v", ...` to pairs (later duplicates win). */
export function parseAuthorizationHeader(header: string): Array<[string, string]> {
  if (header.slice(0, 6).toLowerCase() === 'oauth ') {
    const parsed = new Map<string, string>();
    let ok = true;
    for (const elt of parseHttpList(header.slice(6))) {
      const eq = elt.indexOf('=');
      if (eq < 0) { ok = false; break; }
      const k = elt.slice(0, eq);
      let v = elt.slice(eq + 1);
      if (v.length === 0) { ok = false; break; }
      if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
      else if (v === '"') v = '';
      parsed.set(k, v);
    }
    if (ok) return [...parsed.entries()];
  }
  throw invalidRequest('Malformed authorization header');
}

// oauthlib.common.urldecode: only characters of a urlencoded string, no broken %-escapes.
const URLENCODED_CHARS = /^[A-Za-z0-9_.\-=&;:%+~,*@!()/?'$]*$/;
const INVALID_HEX = /%[^0-9A-Fa-f]|%[0-9A-Fa-f][^0-9A-Fa-f]/;

function urldecode(query: string): Array<[string, string]> {
  if (query && !URLENCODED_CHARS.test(query)) throw invalidRequest('Error trying to decode a non urlencoded string.');
  if (INVALID_HEX.test(query) || /%[0-9A-Fa-f]?$/.test(query)) throw invalidRequest('Invalid hex encoding in query string.');
  const out: Array<[string, string]> = [];
  for (const nv of query.split('&')) {
    if (!nv) continue;
    const eq = nv.indexOf('=');
    const k = eq < 0 ? nv : nv.slice(0, eq);
    const v = eq < 0 ? '' : nv.slice(eq + 1);
    out.push([unescape(k.replace(/\+/g, ' ')), unescape(v.replace(/\+/g, ' '))]);
  }
  return out;
}

/** What a server needs of the HTTP request to verify its OAuth signature. */
export interface OAuthHttpRequest {
  method: string;
  /** The absolute URI the signature covers: scheme://host[:port]/path[?query]. */
  uri: string;
  /** The Authorization header, if any. */
  authorization?: string;
  /** Form-encoded body parameters (Keystone passes the query arguments here for form bodies). */
  bodyParams?: Array<[string, string]>;
}

/** A request's OAuth parameters, as oauthlib's endpoints read them. */
export interface OAuthParams {
  method: string;
  uri: string;
  signature?: string;
  clientKey?: string;
  resourceOwnerKey?: string;
  nonce?: string;
  timestamp?: string;
  callback?: string;
  verifier?: string;
  signatureMethod?: string;
  realm?: string;
  oauth: Map<string, string>;
  /** Every parameter but oauth_signature (and realm when it came in the header): what is signed. */
  params: Array<[string, string]>;
}

const unescapeOauth = (ps: Array<[string, string]>): Array<[string, string]> => ps.map(([k, v]) => [k, k.startsWith('oauth_') ? unescape(v) : v]);

/** oauthlib's BaseEndpoint._create_request: gathers the parameters; throws OAuthRequestError. */
export function readOAuthParams(r: OAuthHttpRequest): OAuthParams {
  const q = r.uri.indexOf('?');
  const query = q >= 0 ? r.uri.slice(q + 1).split('#')[0]! : '';
  const headerParams = r.authorization !== undefined ? unescapeOauth(parseAuthorizationHeader(r.authorization)) : [];
  const bodyParams = unescapeOauth(r.bodyParams ?? []);
  const queryParams = unescapeOauth(urldecode(query));
  const all = [...headerParams, ...bodyParams, ...queryParams];
  const isOauth = ([k]: [string, string]) => k.startsWith('oauth_');
  const sources = ([['AUTH_HEADER', headerParams], ['BODY', bodyParams], ['QUERY', queryParams]] as const)
    .map(([name, ps]) => [name, ps.filter(isOauth)] as const).filter(([, ps]) => ps.length > 0);
  if (sources.length > 1) throw invalidRequest(`oauth_ params must come from only 1 signature type but were found in ${sources.map((s) => s[0]).join(', ')}`);
  if (sources.length === 0) throw invalidRequest('Missing mandatory OAuth parameters.');
  const oauthList = sources[0]![1];
  const oauth = new Map(oauthList);
  if (oauth.size !== oauthList.length) throw invalidRequest('Duplicate OAuth1 entries.');
  let params = all.filter(([k]) => k !== 'oauth_signature');
  if ((r.authorization ?? '').includes('realm')) params = params.filter(([k]) => k !== 'realm');
  return {
    method: r.method,
    uri: r.uri,
    signature: oauth.get('oauth_signature'),
    clientKey: oauth.get('oauth_consumer_key'),
    resourceOwnerKey: oauth.get('oauth_token'),
    nonce: oauth.get('oauth_nonce'),
    timestamp: oauth.get('oauth_timestamp'),
    callback: oauth.get('oauth_callback'),
    verifier: oauth.get('oauth_verifier'),
    signatureMethod: oauth.get('oauth_signature_method'),
    realm: new Map(all).get('realm'),
    oauth,
    params,
  };
}

/** oauthlib's _check_mandatory_parameters, with Keystone's key and nonce formats. */
export function checkMandatoryParams(p: OAuthParams, now: number = Date.now()): void {
  if (!p.signature || !p.clientKey || !p.nonce || !p.timestamp || !p.signatureMethod) throw invalidRequest('Missing mandatory OAuth parameters.');
  if (!(SIGNATURE_METHODS as readonly string[]).includes(p.signatureMethod)) {
    throw new OAuthRequestError('invalid_signature_method', `Invalid signature, ${p.signatureMethod} not in ('${SIGNATURE_METHODS.join("', '")}').`);
  }
  if (p.oauth.has('oauth_version') && p.oauth.get('oauth_version') !== '1.0') throw invalidRequest('Invalid OAuth version.');
  if (p.timestamp.length !== 10) throw invalidRequest('Invalid timestamp size');
  if (!/^\s*[+-]?\d+\s*$/.test(p.timestamp)) throw invalidRequest('Timestamp must be an integer.');
  if (Math.abs(now / 1000 - parseInt(p.timestamp, 10)) > TIMESTAMP_LIFETIME_SEC) {
    throw invalidRequest(`Timestamp given is invalid, differ from allowed by over ${TIMESTAMP_LIFETIME_SEC} seconds.`);
  }
  if (!isKeystoneKey(p.clientKey)) throw invalidRequest('Invalid client key format.');
  if (!/^[0-9a-f]*$/.test(p.nonce)) throw invalidRequest('Invalid nonce format.');
}

/** Keystone's OAuth keys and tokens: uuid4 hex. */
export const isKeystoneKey = (s: string): boolean => /^[0-9a-f]{32}$/.test(s);

/** Keystone's verifier alphabet: letters and digits without the easily confused ones. */
export const VERIFIER_CHARS = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'].filter((c) => !'jiIl1oO0'.includes(c)).join('');
export const isVerifier = (s: string): boolean => s.length === 8 && [...s].every((c) => VERIFIER_CHARS.includes(c));

/** 8 distinct verifier characters (Python's random.sample over VERIFIER_CHARS). */
export function newVerifier(): string {
  const pool = [...VERIFIER_CHARS];
  let out = '';
  for (let i = 0; i < 8; i++) {
    const idx = randomBytes(4).readUInt32BE(0) % pool.length;
    out += pool.splice(idx, 1)[0]!;
  }
  return out;
}

/** RFC 5849 3.4.1.2: scheme and host lower-cased, default port dropped, no query or fragment. */
export function baseStringUri(uri: string): string {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)/.exec(uri);
  if (!m) throw invalidRequest('Invalid request URI.');
  const scheme = m[1]!.toLowerCase();
  let netloc = m[2]!.replace(/^.*@/, '').toLowerCase();
  let host = netloc;
  let port: number | undefined;
  const v6 = /^(\[[^\]]*\])(?::(\d*))?$/.exec(netloc);
  if (v6) { host = v6[1]!; port = v6[2] ? Number(v6[2]) : undefined; } else {
    const i = netloc.lastIndexOf(':');
    if (i >= 0) { host = netloc.slice(0, i); port = netloc.slice(i + 1) ? Number(netloc.slice(i + 1)) : undefined; }
  }
  if (!host) throw invalidRequest('Invalid request URI.');
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port <= 65535)) throw invalidRequest('Invalid request URI.');
  netloc = (scheme === 'http' && port === 80) || (scheme === 'https' && port === 443) || port === undefined ? host : `${host}:${port}`;
  const path = m[3] || '/';
  return `${scheme}://${netloc}${path}`.replace(/ /g, '%20');
}

export function normalizeParams(params: Array<[string, string]>): string {
  const kv = params.map(([k, v]) => [escape(k), escape(v)] as [string, string]);
  kv.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return kv.map(([k, v]) => `${k}=${v}`).join('&');
}

export function signatureBaseString(method: string, uri: string, params: Array<[string, string]>): string {
  return `${escape(method.toUpperCase())}&${escape(baseStringUri(uri))}&${escape(normalizeParams(params))}`;
}

const HMAC_ALG: Record<string, string> = { 'HMAC-SHA1': 'sha1', 'HMAC-SHA256': 'sha256', 'HMAC-SHA512': 'sha512' };

/** The signature of a base string with the client's and the token's secrets. */
export function sign(method: string, baseString: string, clientSecret: string, tokenSecret = ''): string {
  const key = `${escape(clientSecret)}&${escape(tokenSecret)}`;
  if (method === 'PLAINTEXT') return key;
  const alg = HMAC_ALG[method];
  if (!alg) throw new Error(`unsupported signature method ${method}`);
  return createHmac(alg, key).update(baseString, 'utf8').digest('base64');
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Checks the signature (RSA methods never verify here: Keystone has no RSA keys for consumers). */
export function verifySignature(p: OAuthParams, clientSecret: string, tokenSecret?: string | null): boolean {
  const m = p.signatureMethod ?? '';
  if (!(m in HMAC_ALG) && m !== 'PLAINTEXT') return false;
  const expected = sign(m, m === 'PLAINTEXT' ? '' : signatureBaseString(p.method, p.uri, p.params), clientSecret, tokenSecret ?? '');
  return safeEqual(expected, p.signature ?? '');
}

/** Client side: the Authorization header for a request (HMAC-SHA1 unless told otherwise). */
export function authorizationHeader(o: {
  method: string; uri: string; consumerKey: string; consumerSecret: string;
  token?: string; tokenSecret?: string; callback?: string; verifier?: string;
  signatureMethod?: string; timestamp?: number; nonce?: string;
}): string {
  const oauth: Array<[string, string]> = [
    ['oauth_nonce', o.nonce ?? randomBytes(16).toString('hex')],
    ['oauth_timestamp', String(o.timestamp ?? Math.floor(Date.now() / 1000))],
    ['oauth_version', '1.0'],
    ['oauth_signature_method', o.signatureMethod ?? 'HMAC-SHA1'],
    ['oauth_consumer_key', o.consumerKey],
  ];
  if (o.token) oauth.push(['oauth_token', o.token]);
  if (o.callback) oauth.push(['oauth_callback', o.callback]);
  if (o.verifier) oauth.push(['oauth_verifier', o.verifier]);
  const q = o.uri.indexOf('?');
  const query = q >= 0 ? urldecode(o.uri.slice(q + 1)) : [];
  const method = o.signatureMethod ?? 'HMAC-SHA1';
  const sig = sign(method, signatureBaseString(o.method, o.uri, [...oauth, ...query]), o.consumerSecret, o.tokenSecret ?? '');
  oauth.push(['oauth_signature', sig]);
  return 'OAuth ' + oauth.map(([k, v]) => `${escape(k)}="${escape(v)}"`).join(', ');
}
