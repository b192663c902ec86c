// Compute API: key pairs (/os-keypairs) — list (per user; an admin may name user_id from 2.10;
// limit/marker from 2.35), show, create (import a public key, or generate one before 2.92 and return
// its private key once), delete. Types ssh and x509 from 2.2. Fingerprints as Nova computes them:
// the md5 of the SSH key blob, or the sha1 of an X.509 certificate, as colon-separated hex.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { createHash, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authorize, requestContext, type ComputeContext } from '../context.js';
import { ApiError } from '../../common/errors.js';
import { isUniqueViolation } from '../../common/db/index.js';
import { run } from '../../common/exec.js';
import { last, limitMarker, nextLink, T, validateBody, validateQuery, type Schema } from './nova-schema.js';
import { deleteKeypair, insertKeypair, keypairByName, keypairsOfUser, type KeypairRow } from '../store/keypairs.js';
import { checkQuota } from '../quotas.js';

type Req = FastifyRequest<{ Params: { name: string } }>;

// ---- schemas (nova/api/openstack/compute/schemas/keypairs.py) ----
const kpName20: Schema = { allOf: [T.name, { type: 'string', minLength: 1, maxLength: 255, format: 'keypair_name_20' }] };
const kpName292: Schema = { allOf: [T.name, { type: 'string', minLength: 1, maxLength: 255, format: 'keypair_name_292' }] };

function createSchema(req: FastifyRequest): Schema {
  const mv = req.computeVersion;
  const props: Schema = { name: mv.atLeast('2.92') ? kpName292 : kpName20, public_key: { type: 'string' } };
  if (mv.atLeast('2.2')) props.type = { type: 'string', enum: ['ssh', 'x509'] };
  if (mv.atLeast('2.10')) props.user_id = { type: 'string' };
  const required = mv.atLeast('2.92') ? ['name', 'public_key'] : ['name'];
  return { type: 'object', properties: { keypair: { type: 'object', properties: props, required, additionalProperties: false } }, required: ['keypair'], additionalProperties: false };
}

function querySchema(req: FastifyRequest, list: boolean): Schema {
  const mv = req.computeVersion;
  const props: Schema = {};
  if (mv.atLeast('2.10')) props.user_id = T.multi({ type: 'string' });
  if (list && mv.atLeast('2.35')) { props.limit = T.multi(T.nonNegativeInteger); props.marker = T.multi({ type: 'string' }); }
  return { type: 'object', properties: props, additionalProperties: !mv.atLeast('2.75') };
}

// ---- SSH keys ----

function readString(buf: Buffer, off: number): [Buffer, number] {
  if (off + 4 > buf.length) throw new Error('truncated');
  const n = buf.readUInt32BE(off);
  if (off + 4 + n > buf.length) throw new Error('truncated');
  return [buf.subarray(off + 4, off + 4 + n), off + 4 + n];
}

/** Parses an OpenSSH public key line as cryptography's load_ssh_public_key would accept it. */
function parseSshPublicKey(line: string): Buffer {
  const parts = line.trim().split(/\s+/);
  if (parts.length < 2) throw new Error('not an ssh key');
  const [type, b64] = parts as [string, string];
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new Error('bad base64');
  const blob = Buffer.from(b64, 'base64');
  let [t, off] = readString(blob, 0);
  if (t.toString('latin1') !== type) throw new Error('key type mismatch');
  const fields: Record<string, number> = { 'ssh-rsa': 2, 'ssh-dss': 4, 'ssh-ed25519': 1, 'ecdsa-sha2-nistp256': 2, 'ecdsa-sha2-nistp384': 2, 'ecdsa-sha2-nistp521': 2 };
  const n = fields[type];
  if (n === undefined) throw new Error('unsupported key type');
  const values: Buffer[] = [];
  for (let i = 0; i < n; i++) { let v: Buffer; [v, off] = readString(blob, off); values.push(v); }
  if (off !== blob.length) throw new Error('trailing data');
  if (type === 'ssh-ed25519' && values[0]!.length !== 32) throw new Error('bad ed25519 key');
  if (type.startsWith('ecdsa-') && values[0]!.toString('latin1') !== type.slice('ecdsa-sha2-'.length)) throw new Error('curve mismatch');
  if (type === 'ssh-rsa' && values[1]!.length < 64) throw new Error('rsa key too small');
  return blob;
}

const colonHex = (hex: string) => hex.match(/../g)!.join(':');

/** Nova's crypto.generate_fingerprint: md5 of the key blob. */
export function sshFingerprint(publicKey: string): string {
  let blob: Buffer;
  try { blob = parseSshPublicKey(publicKey); } catch {
    throw new ApiError('BadRequest', 'Keypair data is invalid: failed to generate fingerprint');
  }
  return colonHex(createHash('md5').update(blob).digest('hex'));
}

/** Nova's crypto.generate_x509_fingerprint: sha1 of the certificate. */
export function x509Fingerprint(pem: string): string {
  try {
    const cert = new X509Certificate(pem);
    return cert.fingerprint.toLowerCase();
  } catch (e) {
    throw new ApiError('BadRequest', `Keypair data is invalid: failed to generate X509 fingerprint. Error message: ${(e as Error).message}`);
  }
}

function sshString(b: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
}
function mpint(b64url: string): Buffer {
  let b = Buffer.from(b64url, 'base64url');
  while (b.length > 1 && b[0] === 0 && !(b[1]! & 0x80)) b = b.subarray(1);
  if (b[0]! & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return sshString(b);
}

/** A new 2048-bit RSA key pair as paramiko writes it: PKCS#1 PEM private key, "ssh-rsa ... Generated-by-Nova". */
function generateSshKey(): { privateKey: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 65537 });
  const jwk = publicKey.export({ format: 'jwk' });
  const blob = Buffer.concat([sshString(Buffer.from('ssh-rsa')), mpint(jwk.e!), mpint(jwk.n!)]);
  return {
    privateKey: privateKey.export({ type: 'pkcs1', format: 'pem' }) as string,
    publicKey: `ssh-rsa ${blob.toString('base64')} Generated-by-Nova`,
  };
}

/** Nova's generate_winrm_x509_cert: a self-signed client certificate (openssl) and its PKCS#12 key, base64. */
async function generateX509(userId: string): Promise<{ privateKey: string; publicKey: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'monostack-x509-'));
  try {
    const conf = join(dir, 'temp.conf');
    const key = join(dir, 'temp.key');
    const crt = join(dir, 'temp.crt');
    const p12 = join(dir, 'temp.p12');
    await writeFile(conf, '[ req ]\ndistinguished_name = req_distinguished_name\n[ req_distinguished_name ]\n[ v3_req_client ]\n' +
      'extendedKeyUsage = clientAuth\n' + `subjectAltName = otherName:1.3.6.1.4.1.311.20.2.3;UTF8:${userId}@localhost\n`);
    await run('openssl', ['req', '-x509', '-nodes', '-days', '3650', '-config', conf, '-newkey', 'rsa:2048', '-outform', 'PEM',
      '-keyout', key, '-out', crt, '-subj', `/CN=${userId.replace(/[/\\=+,]/g, '_')}`, '-extensions', 'v3_req_client']);
    await run('openssl', ['pkcs12', '-export', '-inkey', key, '-in', crt, '-password', 'pass:', '-out', p12]);
    return { publicKey: await readFile(crt, 'utf8'), privateKey: (await readFile(p12)).toString('base64') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// ---- views ----

/** A datetime as Nova's JSON shows naive UTC datetimes: 2024-05-01T10:00:00.123000. */
export function novaDatetime(s: string | null | undefined): string | null {
  if (!s) return null;
  const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?/.exec(s);
  if (!m) return s;
  return `${m[1]}T${m[2]}.${(m[3] ?? '').padEnd(6, '0').slice(0, 6)}`;
}

function listView(k: KeypairRow, withType: boolean): Record<string, unknown> {
  const v: Record<string, unknown> = { name: k.name, public_key: k.public_key, fingerprint: k.fingerprint };
  if (withType) v.type = k.type;
  return { keypair: v };
}

function showView(k: KeypairRow, withType: boolean): Record<string, unknown> {
  const v: Record<string, unknown> = {
    name: k.name, public_key: k.public_key, fingerprint: k.fingerprint, user_id: k.user_id,
    created_at: novaDatetime(k.created_at), deleted: false, deleted_at: null, id: Number(k.id), updated_at: null,
  };
  if (withType) v.type = k.type;
  return v;
}

/** user_id from the query (2.10+): the first value, as Nova's req.GET.getall('user_id')[0]. */
function queryUser(req: FastifyRequest, list: boolean): { userId?: string; q: Record<string, string[]> } {
  const q = validateQuery(querySchema(req, list), req);
  const u = req.computeVersion.atLeast('2.10') ? q.user_id?.[0] : undefined;
  return { q, ...(u ? { userId: u } : {}) };
}

export function registerKeypairs(app: FastifyInstance, ctx: ComputeContext): void {
  app.get('/os-keypairs', async (req) => {
    const rc = requestContext(ctx, req);
    const { q, userId: u } = queryUser(req, true);
    const userId = u ?? rc.userId;
    authorize(ctx, rc, 'os_compute_api:os-keypairs:index', { user_id: userId });
    const mv = req.computeVersion;
    let limit: number | undefined;
    let marker: string | undefined;
    if (mv.atLeast('2.35')) {
      ({ limit, marker } = limitMarker(q, ctx.opts.maxLimit));
      if (marker !== undefined && !(await keypairByName(ctx.db, userId, marker))) throw new ApiError('BadRequest', `Marker ${marker} could not be found.`);
    }
    const rows = await keypairsOfUser(ctx.db, userId, limit, marker);
    const out: Record<string, unknown> = { keypairs: rows.map((k) => listView(k, mv.atLeast('2.2'))) };
    if (mv.atLeast('2.35')) {
      const max = Math.min(Number(last(q, 'limit') ?? ctx.opts.maxLimit), ctx.opts.maxLimit);
      if (max && rows.length === max) out.keypairs_links = [nextLink(req, 'os-keypairs', rows[rows.length - 1]!.name)];
    }
    return out;
  });

  app.get('/os-keypairs/:name', async (req: Req) => {
    const rc = requestContext(ctx, req);
    const { userId: u } = queryUser(req, false);
    const userId = u ?? rc.userId;
    authorize(ctx, rc, 'os_compute_api:os-keypairs:show', { user_id: userId });
    const k = await keypairByName(ctx.db, userId, req.params.name);
    if (!k) throw new ApiError('NotFound', `Keypair ${req.params.name} not found for user ${userId}`);
    return { keypair: showView(k, req.computeVersion.atLeast('2.2')) };
  });

  app.post('/os-keypairs', async (req, reply) => {
    const rc = requestContext(ctx, req);
    const mv = req.computeVersion;
    const body = validateBody<{ keypair: { name: string; public_key?: string; type?: 'ssh' | 'x509'; user_id?: string } }>(createSchema(req), req.body);
    const p = body.keypair;
    const name = p.name;
    const type = p.type ?? 'ssh';
    const userId = (mv.atLeast('2.10') ? p.user_id : undefined) || rc.userId;
    authorize(ctx, rc, 'os_compute_api:os-keypairs:create', { user_id: userId });
    try {
      await checkQuota(ctx, rc.projectId, userId, { key_pairs: 1 });
    } catch (e) {
      if (e instanceof ApiError && e.status === 403) throw new ApiError('Forbidden', 'Quota exceeded, too many key pairs.');
      throw e;
    }
    let publicKey: string;
    let privateKey: string | undefined;
    if (p.public_key !== undefined) publicKey = p.public_key;
    else {
      const g = type === 'x509' ? await generateX509(userId) : generateSshKey();
      publicKey = g.publicKey;
      privateKey = g.privateKey;
    }
    const fingerprint = type === 'x509' ? x509Fingerprint(publicKey) : sshFingerprint(publicKey);
    const row = await insertKeypair(ctx.db, { name, user_id: userId, fingerprint, public_key: publicKey, type }, isUniqueViolation);
    if (!row) throw new ApiError('Conflict', `Key pair '${name}' already exists.`);
    const v: Record<string, unknown> = {};
    if (privateKey !== undefined) v.private_key = privateKey;
    if (mv.atLeast('2.2')) v.type = row.type;
    Object.assign(v, { name: row.name, public_key: row.public_key, fingerprint: row.fingerprint, user_id: row.user_id });
    if (mv.atLeast('2.2')) reply.code(201);
    return { keypair: v };
  });

  app.delete('/os-keypairs/:name', async (req: Req, reply) => {
    const rc = requestContext(ctx, req);
    const { userId: u } = queryUser(req, false);
    const userId = u ?? rc.userId;
    authorize(ctx, rc, 'os_compute_api:os-keypairs:delete', { user_id: userId });
    if (!(await deleteKeypair(ctx.db, userId, req.params.name))) {
      throw new ApiError('NotFound', `Keypair ${req.params.name} not found for user ${userId}`);
    }
    reply.code(req.computeVersion.atLeast('2.2') ? 204 : 202);
    return '';
  });
}
