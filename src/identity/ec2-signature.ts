// AWS-style request signatures (versions 0, 1, 2 and 4) as keystoneclient's Ec2Signer computes
// them, so POST /v3/ec2tokens accepts what EC2/S3 front ends (nova's ec2 API, swift3, radosgw)
// forward: {access, signature, host, verb, path, params, headers, body_hash}.

import { createHash, createHmac } from 'node:crypto';

export class Ec2SignatureError extends Error {}

export interface Ec2Credentials {
  access?: string;
  signature?: string;
  host?: string;
  verb?: string;
  path?: string;
  params?: Record<string, unknown>;
  headers?: Record<string, unknown>;
  body_hash?: string;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : v === null || v === undefined ? String(v === null ? 'None' : '') : String(v));

/** Python's quote(value, safe='-_~') over UTF-8 bytes. */
function quote(s: string, safe: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9_.\-~]/.test(c) || safe.includes(c)) out += c;
    else out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

function canonicalQs(params: Record<string, unknown>): string {
  return Object.keys(params).sort().map((k) => `${quote(k, '')}=${quote(str(params[k]), '-_~')}`).join('&');
}

const hmacB64 = (alg: string, key: string, data: string | Buffer) => createHmac(alg, Buffer.from(key, 'utf8')).update(data).digest('base64');

function v4Creds(c: Ec2Credentials): boolean {
  const auth = c.headers?.Authorization;
  if (auth !== undefined) return typeof auth === 'string' && auth.startsWith('AWS4-HMAC-SHA256');
  return c.params?.['X-Amz-Algorithm'] === 'AWS4-HMAC-SHA256';
}

/** The signature the request should carry, or Ec2SignatureError when it cannot be computed. */
export function ec2Signature(secret: string, c: Ec2Credentials): string {
  const params = { ...(c.params ?? {}) };
  const version = params.SignatureVersion;
  try {
    if (version === '0') return hmacB64('sha1', secret, str(params.Action) + str(params.Timestamp));
    if (version === '1') {
      const h = createHmac('sha1', Buffer.from(secret, 'utf8'));
      for (const k of Object.keys(params).sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : a.toLowerCase() > b.toLowerCase() ? 1 : 0))) {
        h.update(k, 'utf8');
        h.update(str(params[k]), 'utf8');
      }
      return h.digest('base64');
    }
    if (version === '2') {
      params.SignatureMethod = 'HmacSHA256';
      const sts = `${str(c.verb)}\n${str(c.host)}\n${str(c.path)}\n${canonicalQs(params)}`;
      return hmacB64('sha256', secret, sts);
    }
    if (v4Creds(c)) return signatureV4(secret, c, params);
  } catch (e) {
    if (e instanceof Ec2SignatureError) throw e;
    throw new Ec2SignatureError('Unexpected signature format');
  }
  if (version !== undefined) throw new Ec2SignatureError(`Unknown signature version: ${str(version)}`);
  throw new Ec2SignatureError('Unexpected signature format');
}

function signatureV4(secret: string, c: Ec2Credentials, params: Record<string, unknown>): string {
  const headers = (c.headers ?? {}) as Record<string, unknown>;
  const sign = (key: Buffer, msg: string) => createHmac('sha256', key).update(msg, 'utf8').digest();
  const authParam = (name: string): string => {
    if (headers.Authorization !== undefined) {
      const s = str(headers.Authorization);
      const i = s.indexOf(`${name}=`);
      return i < 0 ? '' : s.slice(i + name.length + 1).split(',')[0]!;
    }
    const v = params[`X-Amz-${name}`];
    if (v === undefined) throw new Ec2SignatureError('Unexpected signature format');
    return str(v);
  };
  const date = headers['X-Amz-Date'] !== undefined ? str(headers['X-Amz-Date']) : params['X-Amz-Date'] !== undefined ? str(params['X-Amz-Date']) : undefined;
  const lower = new Map(Object.entries(headers).map(([k, v]) => [k.toLowerCase().trim(), str(v).trim()]));
  const stripPort = /^Boto\/2\.[0-9]\.[0-2]/.test(lower.get('user-agent') ?? '');
  const signed = authParam('SignedHeaders');
  const hl: string[] = [];
  for (const h of signed.split(';')) {
    if (!lower.has(h)) continue;
    hl.push(h === 'host' && stripPort ? `${h}:${lower.get(h)!.split(':')[0]}` : `${h}:${lower.get(h)}`);
  }
  const canonicalHeaders = hl.join('\n') + '\n';
  const qs = str(c.verb).toUpperCase() !== 'POST' ? canonicalQs(params) : '';
  const cr = [str(c.verb).toUpperCase(), str(c.path), qs, canonicalHeaders, signed, str(c.body_hash)].join('\n');
  const credential = authParam('Credential').split('/');
  if (credential.length < 4) throw new Ec2SignatureError('Unexpected signature format');
  const scope = credential.slice(1).join('/');
  const credDate = credential[1]!;
  if (date === undefined || !date.startsWith(credDate)) throw new Ec2SignatureError('Request date mismatch error');
  const sts = ['AWS4-HMAC-SHA256', date, scope, createHash('sha256').update(cr, 'utf8').digest('hex')].join('\n');
  let key = sign(Buffer.from('AWS4' + secret, 'utf8'), credDate);
  key = sign(key, credential[2]!);
  key = sign(key, credential[3]!);
  key = sign(key, 'aws4_request');
  return createHmac('sha256', key).update(sts, 'utf8').digest('hex');
}
