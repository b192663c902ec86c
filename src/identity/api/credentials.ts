// /v3/credentials, the OS-EC2 view of ec2 credentials under /v3/users/{user_id}/credentials/OS-EC2,
// and POST /v3/ec2tokens and /v3/s3tokens, as Keystone 22 with Debian's security fixes does them:
// - blobs are encrypted at rest with Fernet keys of a credential key repository
//   (DATA_DIR/credential-keys, three keys, like `keystone-manage credential_setup`), each row
//   keeping the SHA-1 of the key that encrypted it;
// - an ec2 credential's id is the SHA-256 of its access key;
// - tokens obtained through delegation (trusts, application credentials, OAuth1, EC2) may not
//   touch credentials at all (LP#2159643), and PATCH may change the blob only.

import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { join } from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../../common/errors.js';
import { forbiddenAction } from '../../common/policy/enforcer.js';
import { isUniqueViolation } from '../../common/db/index.js';
import { validate } from '../../common/validation.js';
import type { IdentityContext } from '../context.js';
import { baseUrl, credentialsOf, enforce, listLinks, newId, parseJson, q, selfLink } from '../context.js';
import { isDelegatedToken, type TokenData, type TokenService } from '../tokens.js';
import type { ExtensionDeps } from '../extensions.js';
import { effectiveRoles } from '../assignments.js';
import { MultiFernet } from '../token/fernet.js';
import { KeyRepository, setupKeyRepository } from '../token/keys.js';
import { ec2Signature, Ec2SignatureError, type Ec2Credentials } from '../ec2-signature.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Row = Record<string, any>;

export const CRED_TYPE_EC2 = 'ec2';
/** Keystone's [credential] auth_ttl: how old a signed EC2 request may be, in minutes. */
const EC2_AUTH_TTL_MIN = 15;

// --- delegation ------------------------------------------------------------------------------

function requirePrimaryAuth(t: TokenData): void {
  if (isDelegatedToken(t)) throw forbiddenAction('Delegated tokens cannot access credentials directly');
}

// --- encryption at rest ----------------------------------------------------------------------

/** Fernet encryption of credential blobs with the credential key repository (max 3 keys, as Keystone). */
export class CredentialCrypto {
  private repo: KeyRepository;
  constructor(dir: string) {
    setupKeyRepository(dir, 3);
    this.repo = new KeyRepository(dir);
  }

  encrypt(plaintext: string): { encrypted_blob: string; key_hash: string } {
    const keys = this.repo.keys();
    const encrypted_blob = new MultiFernet(keys).encrypt(Buffer.from(plaintext, 'utf8'));
    return { encrypted_blob, key_hash: createHash('sha1').update(keys[0]!.toString(), 'utf8').digest('hex') };
  }

  decrypt(token: string): string {
    try {
      return new MultiFernet(this.repo.keys()).decrypt(token).toString('utf8');
    } catch (e) {
      throw new Error(`Credential could not be decrypted (is the credential key repository intact?): ${(e as Error).message}`);
    }
  }
}

// --- rows ------------------------------------------------------------------------------------

/** Python's json.dumps of a flat object (", " and ": " separators, non-ASCII escaped). */
function pyJsonDumps(o: Record<string, unknown>): string {
  const s = (v: unknown) => JSON.stringify(v).replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
  return '{' + Object.entries(o).map(([k, v]) => `${s(k)}: ${v === undefined ? 'null' : s(v)}`).join(', ') + '}';
}

export const hashAccessKey = (access: string): string => createHash('sha256').update(access, 'utf8').digest('hex');

const CORE = new Set(['id', 'user_id', 'project_id', 'type', 'blob', 'links']);

export class CredentialStore {
  constructor(private ctx: IdentityContext, private crypto: CredentialCrypto) {}

  /** The row as Keystone's API shows it (blob decrypted). */
  toRef(r: Row): Row {
    let blob: unknown = this.crypto.decrypt(r.encrypted_blob);
    if (r.type === CRED_TYPE_EC2) {
      // Keystone json-encodes an ec2 blob (a string) once more before encrypting it.
      try { blob = JSON.parse(blob as string); } catch { /* written by an older release: keep */ }
      if (blob !== null && typeof blob === 'object') blob = pyJsonDumps(blob as Row);
    }
    return { ...parseJson(r.extra, {}), id: r.id, user_id: r.user_id, project_id: r.project_id ?? null, type: r.type, blob };
  }

  private sealed(type: string, blob: string): { encrypted_blob: string; key_hash: string } {
    return this.crypto.encrypt(type === CRED_TYPE_EC2 ? JSON.stringify(blob) : blob);
  }

  async getRow(id: string): Promise<Row | undefined> {
    return this.ctx.db.selectFrom('credential').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async get(id: string): Promise<Row> {
    const r = await this.getRow(id);
    if (!r) throw new ApiError('NotFound', `Could not find credential: ${id}.`);
    return r;
  }

  async create(ref: { id: string; user_id: string; project_id: string | null; type: string; blob: string; extra: Row }): Promise<Row> {
    const row = {
      id: ref.id, user_id: ref.user_id, project_id: ref.project_id, type: ref.type,
      ...this.sealed(ref.type, ref.blob), extra: JSON.stringify(ref.extra),
    };
    try {
      await this.ctx.db.insertInto('credential').values(row).execute();
    } catch (e) {
      if (isUniqueViolation(e)) throw new ApiError('Conflict', `Conflict occurred attempting to store credential - Duplicate ID, ${ref.id}.`);
      throw e;
    }
    return row;
  }

  async updateBlob(r: Row, blob: string): Promise<Row> {
    const sealed = this.sealed(r.type, blob);
    await this.ctx.db.updateTable('credential').set(sealed).where('id', '=', r.id).execute();
    return { ...r, ...sealed };
  }

  async delete(id: string): Promise<void> {
    await this.ctx.db.deleteFrom('credential').where('id', '=', id).execute();
  }
}

// --- schemas ---------------------------------------------------------------------------------

const credentialProps = {
  blob: { type: 'string' }, project_id: { type: 'string' }, type: { type: 'string' }, user_id: { type: 'string' },
};
const credentialCreate = {
  type: 'object',
  properties: credentialProps,
  additionalProperties: true,
  oneOf: [
    { title: 'ec2 credential requires project_id', required: ['blob', 'type', 'user_id', 'project_id'], properties: { type: { enum: ['ec2'] } } },
    { title: 'non-ec2 credential does not require project_id', required: ['blob', 'type', 'user_id'], properties: { type: { not: { enum: ['ec2'] } } } },
  ],
};
/** Debian's fix for LP#2159643: only the blob can change. */
const credentialUpdate = {
  type: 'object',
  properties: { blob: { type: 'string' } },
  additionalProperties: false,
  required: ['blob'],
};

const validationError = (attribute: string, target: string) => new ApiError('BadRequest',
  `Expecting to find ${attribute} in ${target}. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.`);

/** An ec2 blob: a JSON object with an access key. */
function ec2Blob(blob: unknown): Row {
  let parsed: unknown;
  try { parsed = JSON.parse(String(blob)); } catch { throw new ApiError('BadRequest', 'Invalid blob in credential'); }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed) || Object.keys(parsed).length === 0) throw validationError('blob', 'credential');
  const p = parsed as Row;
  if (p.access === undefined || p.access === null) throw validationError('access', 'credential');
  return p;
}

/** The request body's object member `key`, or {} (Keystone: `body.get(key, {})`). */
function bodyMember(body: unknown, key: string): unknown {
  if (body === undefined || body === null || body === '') return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw new ApiError('BadRequest', 'The request body must be a JSON object.');
  const v = (body as Row)[key];
  return v === undefined ? {} : v;
}

// --- routes ----------------------------------------------------------------------------------

function credTarget(r: Row | undefined, extra: Row = {}): Row {
  return r ? { ...extra, target: { credential: r } } : extra;
}

function ec2Ref(req: FastifyRequest, cred: Row): Row {
  let blob: Row = {};
  try { blob = JSON.parse(cred.blob); } catch { /* keep {} */ }
  const ref: Row = {
    user_id: cred.user_id, tenant_id: cred.project_id, access: blob.access ?? null, secret: blob.secret ?? null, trust_id: blob.trust_id ?? null,
  };
  ref.links = { self: `${baseUrl(req)}/v3/users/${ref.user_id}/credentials/OS-EC2/${ref.access}` };
  return ref;
}

export function registerCredentials({ app, ctx, tokens }: ExtensionDeps): void {
  const store = new CredentialStore(ctx, new CredentialCrypto(join(ctx.cfg.DEFAULT.data_dir, 'credential-keys')));
  const show = (req: FastifyRequest, r: Row) => ({ ...store.toRef(r), links: selfLink(req, `credentials/${r.id}`) });

  ctx.hooks.on('user.deleted', async (ids) => { await ctx.db.deleteFrom('credential').where('user_id', 'in', ids).execute(); });
  ctx.hooks.on('project.deleted', async (ids) => { await ctx.db.deleteFrom('credential').where('project_id', 'in', ids).execute(); });

  app.post('/v3/credentials', async (req, reply) => {
    const cred = bodyMember(req.body, 'credential');
    const t = enforce(ctx, req, 'identity:create_credential', { target: { credential: cred } });
    const body = validate<Row>(credentialCreate, cred);
    requirePrimaryAuth(t);
    let id: string;
    if (String(body.type).toLowerCase() === CRED_TYPE_EC2) {
      id = hashAccessKey(String(ec2Blob(body.blob).access));
    } else {
      id = newId();
    }
    const extra = Object.fromEntries(Object.entries(body).filter(([k]) => !CORE.has(k)));
    const row = await store.create({ id, user_id: body.user_id, project_id: body.project_id ?? null, type: body.type, blob: body.blob, extra });
    reply.code(201);
    return { credential: show(req, row) };
  });

  app.get('/v3/credentials', async (req) => {
    const auth = req.auth;
    const filters: Row = {};
    for (const f of ['user_id', 'type']) { const v = q(req, f); if (v !== undefined) filters[f] = v; }
    const t = enforce(ctx, req, 'identity:list_credentials', auth?.system ? { ...filters } : { ...filters, target: { credential: { user_id: auth?.userId } } });
    let qb = ctx.db.selectFrom('credential').selectAll();
    if (filters.user_id !== undefined) qb = qb.where('user_id', '=', filters.user_id);
    if (filters.type !== undefined) qb = qb.where('type', '=', filters.type);
    const rows = await qb.orderBy('id').execute();
    const credentials: Row[] = [];
    // Each credential is checked again, so that a user sees only what it may get.
    const delegated = isDelegatedToken(t);
    for (const r of rows) {
      if (delegated) continue;
      try {
        ctx.policy.authorize('identity:get_credential', { target: { credential: { id: r.id, user_id: r.user_id, project_id: r.project_id, type: r.type } } }, credentialsOf(req.auth));
      } catch (e) {
        if (e instanceof ApiError && e.status === 403) continue;
        throw e;
      }
      credentials.push(show(req, r));
    }
    return { credentials, links: listLinks(req) };
  });

  app.get<{ Params: { credential_id: string } }>('/v3/credentials/:credential_id', async (req) => {
    const id = req.params.credential_id;
    const row = await store.getRow(id);
    const t = enforce(ctx, req, 'identity:get_credential', credTarget(row && policyView(row), { credential_id: id }));
    if (!row) throw new ApiError('NotFound', `Could not find credential: ${id}.`);
    requirePrimaryAuth(t);
    return { credential: show(req, row) };
  });

  app.patch<{ Params: { credential_id: string } }>('/v3/credentials/:credential_id', async (req) => {
    const id = req.params.credential_id;
    const before = await store.getRow(id);
    enforce(ctx, req, 'identity:update_credential', credTarget(before && policyView(before), { credential_id: id }));
    const cred = bodyMember(req.body, 'credential');
    const body = validate<Row>(credentialUpdate, cred);
    const current = await store.get(id);
    const t = req.auth!;
    requirePrimaryAuth(t);
    if (current.type.toLowerCase() === CRED_TYPE_EC2) {
      const next = ec2Blob(body.blob);
      const old = parseJson<Row>(store.toRef(current).blob, {});
      for (const key of ['trust_id', 'app_cred_id', 'access_token_id', 'access_id']) {
        if ((old[key] ?? null) !== (next[key] ?? null)) throw new ApiError('BadRequest', `${key} can not be updated for credential`);
      }
    }
    enforce(ctx, req, 'identity:update_credential', credTarget({ ...policyView(current), ...body }, { credential_id: id }));
    const row = await store.updateBlob(current, body.blob);
    return { credential: show(req, row) };
  });

  app.delete<{ Params: { credential_id: string } }>('/v3/credentials/:credential_id', async (req, reply) => {
    const id = req.params.credential_id;
    const row = await store.getRow(id);
    const t = enforce(ctx, req, 'identity:delete_credential', credTarget(row && policyView(row), { credential_id: id }));
    if (!row) throw new ApiError('NotFound', `Could not find credential: ${id}.`);
    requirePrimaryAuth(t);
    await store.delete(id);
    reply.code(204).send();
  });

  // --- OS-EC2 ---------------------------------------------------------------------------------

  const getUser = async (id: string) => {
    const u = await ctx.db.selectFrom('identity_user').select(['id']).where('id', '=', id).executeTakeFirst();
    if (!u) throw new ApiError('NotFound', `Could not find user: ${id}.`);
    return u;
  };
  /** The credential named by an access key in the path; 404 before policy, as Keystone's target builder. */
  const ec2ByAccess = async (access: string) => store.get(hashAccessKey(access));
  const rawEc2 = (r: Row) => {
    if (r.type !== CRED_TYPE_EC2) throw new ApiError('Unauthorized', 'EC2 access key not found.');
    return r;
  };

  app.get<{ Params: { user_id: string } }>('/v3/users/:user_id/credentials/OS-EC2', async (req) => {
    const userId = req.params.user_id;
    const t = enforce(ctx, req, 'identity:ec2_list_credentials', { user_id: userId });
    requirePrimaryAuth(t);
    await getUser(userId);
    const rows = await ctx.db.selectFrom('credential').selectAll().where('user_id', '=', userId).where('type', '=', CRED_TYPE_EC2).orderBy('id').execute();
    return { credentials: rows.map((r: Row) => ec2Ref(req, store.toRef(r))), links: listLinks(req) };
  });

  app.post<{ Params: { user_id: string } }>('/v3/users/:user_id/credentials/OS-EC2', async (req, reply) => {
    const userId = req.params.user_id;
    const t = enforce(ctx, req, 'identity:ec2_create_credential', { user_id: userId, target: { credential: { user_id: userId } } });
    await getUser(userId);
    const body = req.body;
    if (body !== undefined && body !== null && (typeof body !== 'object' || Array.isArray(body))) throw new ApiError('BadRequest', 'The request body must be a JSON object.');
    const tenantId = (body as Row | undefined)?.tenant_id;
    const project = typeof tenantId === 'string'
      ? await ctx.db.selectFrom('project').select(['id']).where('id', '=', tenantId).where('is_domain', '=', 0).executeTakeFirst()
      : undefined;
    if (!project) throw new ApiError('NotFound', `Could not find project: ${tenantId === undefined || tenantId === null ? 'None' : String(tenantId)}.`);
    requirePrimaryAuth(t);
    const blob = { access: randomUUID().replace(/-/g, ''), secret: randomUUID().replace(/-/g, ''), trust_id: null };
    const row = await store.create({ id: hashAccessKey(blob.access), user_id: userId, project_id: project.id, type: CRED_TYPE_EC2, blob: pyJsonDumps(blob), extra: {} });
    reply.code(201);
    return { credential: ec2Ref(req, store.toRef(row)) };
  });

  app.get<{ Params: { user_id: string; credential_id: string } }>('/v3/users/:user_id/credentials/OS-EC2/:credential_id', async (req) => {
    const row = await ec2ByAccess(req.params.credential_id);
    const t = enforce(ctx, req, 'identity:ec2_get_credential', { user_id: req.params.user_id, credential_id: req.params.credential_id, target: { credential: policyView(row) } });
    await getUser(req.params.user_id);
    rawEc2(row);
    requirePrimaryAuth(t);
    return { credential: ec2Ref(req, store.toRef(row)) };
  });

  app.delete<{ Params: { user_id: string; credential_id: string } }>('/v3/users/:user_id/credentials/OS-EC2/:credential_id', async (req, reply) => {
    const row = await ec2ByAccess(req.params.credential_id);
    const t = enforce(ctx, req, 'identity:ec2_delete_credential', { user_id: req.params.user_id, credential_id: req.params.credential_id, target: { credential: policyView(row) } });
    await getUser(req.params.user_id);
    rawEc2(row);
    requirePrimaryAuth(t);
    await store.delete(row.id);
    reply.code(204).send();
  });

  // --- POST /v3/ec2tokens ---------------------------------------------------------------------

  app.post('/v3/ec2tokens', async (req, reply) => {
    enforce(ctx, req, 'identity:ec2tokens_validate');
    const data = await ec2Authenticate(ctx, store, tokens, req.body, checkEc2Signature);
    reply.code(200).header('X-Subject-Token', data.id);
    return { token: await tokens.render(data, true) };
  });

  // POST /v3/s3tokens: the same for S3 front ends (swift's s3api, radosgw), which send the
  // base64 string-to-sign as `token`.
  app.post('/v3/s3tokens', async (req, reply) => {
    enforce(ctx, req, 'identity:s3tokens_validate');
    const data = await ec2Authenticate(ctx, store, tokens, req.body, checkS3Signature);
    reply.code(200);
    return { token: await tokens.render(data, true) };
  });
  const notAllowed = async () => { throw new ApiError('MethodNotAllowed', 'The method is not allowed for the requested URL.', { headers: { Allow: 'POST' } }); };
  app.get('/v3/ec2tokens', notAllowed);
  app.get('/v3/s3tokens', notAllowed);
}

/** What policy sees of a stored credential (never the blob). */
function policyView(r: Row): Row {
  return { id: r.id, user_id: r.user_id, project_id: r.project_id ?? null, type: r.type };
}

/** Keystone's EC2 authentication: a signed request's access key to a project-scoped token. */
async function ec2Authenticate(ctx: IdentityContext, store: CredentialStore, tokens: TokenService, body: unknown,
  checkSignature: (secret: string, c: Ec2Credentials & Row) => void): Promise<TokenData> {
  if (body === undefined || body === null || body === '' || typeof body !== 'object' || Array.isArray(body) || Object.keys(body).length === 0) {
    throw new ApiError('BadRequest', 'request must include a request body');
  }
  const b = body as Row;
  let creds = (b.credentials || b.credential || b.ec2Credentials) as unknown;
  if (!creds || typeof creds !== 'object' || Array.isArray(creds)) creds = {};
  const c = creds as Ec2Credentials & Row;
  if (!('access' in c) || typeof c.access !== 'string') throw new ApiError('Unauthorized', 'EC2 Signature not supplied');
  const row = await store.get(hashAccessKey(c.access));
  if (row.type !== CRED_TYPE_EC2) throw new ApiError('Unauthorized', 'EC2 access key not found.');
  const blob = parseJson<Row>(store.toRef(row).blob, {});
  checkSignature(String(blob.secret ?? ''), c);

  const project = await ctx.db.selectFrom('project').select(['id', 'enabled', 'domain_id']).where('id', '=', row.project_id ?? '').where('is_domain', '=', 0).executeTakeFirst();
  if (!project) throw new ApiError('NotFound', `Could not find project: ${row.project_id}.`);
  const user = await ctx.db.selectFrom('identity_user').select(['id', 'enabled']).where('id', '=', row.user_id).executeTakeFirst();
  if (!user) throw new ApiError('NotFound', `Could not find user: ${row.user_id}.`);
  if (!user.enabled || !project.enabled) throw new ApiError('Unauthorized', 'The request you have made requires authentication.');
  checkEc2Timestamp(c);

  const delegation = { trustId: blob.trust_id ?? undefined, appCredId: blob.app_cred_id ?? undefined, accessTokenId: blob.access_token_id ?? undefined };
  if (!delegation.trustId && !delegation.appCredId && !delegation.accessTokenId) {
    const roles = await effectiveRoles(ctx, user.id, { projectId: project.id });
    if (roles.length === 0) throw new ApiError('Unauthorized', 'User not valid for project.');
  }
  return tokens.issue({ userId: user.id, methods: ['ec2credential'], projectId: project.id, ...delegation });
}

/** Keystone's auth_str_equal: a comparison that takes the same time wherever the strings differ. */
function safeEqual(a: string, b: string): boolean {
  const x = createHash('sha256').update(a, 'utf8').digest();
  const y = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(x, y) && a === b;
}

function checkEc2Signature(secret: string, c: Ec2Credentials): void {
  if (!c.signature) throw new ApiError('Unauthorized', 'EC2 signature not supplied.');
  const creds: Ec2Credentials = { ...c, params: c.params && typeof c.params === 'object' ? c.params : {}, headers: c.headers && typeof c.headers === 'object' ? c.headers : {} };
  const matches = (cc: Ec2Credentials) => {
    try {
      return safeEqual(ec2Signature(secret, cc), String(c.signature));
    } catch (e) {
      if (e instanceof Ec2SignatureError) throw new ApiError('Unauthorized', `Invalid EC2 signature: ${e.message}.`);
      throw e;
    }
  };
  if (matches(creds)) return;
  // Some clients sign without the port.
  if (typeof c.host === 'string' && c.host.includes(':')) {
    const host = c.host.startsWith('[') ? c.host.slice(0, c.host.indexOf(']') + 1) : c.host.split(':')[0]!;
    if (matches({ ...creds, host })) return;
  }
  throw new ApiError('Unauthorized', 'Invalid EC2 signature.');
}

/** Keystone's s3tokens check: HMAC-SHA1 (v1) or AWS4 (v4, services s3/iam/sts) over the decoded `token`. */
function checkS3Signature(secret: string, c: Ec2Credentials & Row): void {
  const invalid = () => new ApiError('Unauthorized', 'Invalid EC2 signature.');
  if (typeof c.token !== 'string') throw new ApiError('Unauthorized', 'Credential signature mismatch');
  const sts = Buffer.from(c.token.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  let signature: string;
  if (sts.subarray(0, 4).toString('latin1') !== 'AWS4') {
    signature = createHmac('sha1', Buffer.from(secret, 'utf8')).update(sts).digest('base64');
  } else {
    const parts = sts.toString('latin1').split('\n');
    if (parts.length !== 4 || parts[0] !== 'AWS4-HMAC-SHA256') throw invalid();
    const scope = parts[2]!.split('/');
    if (scope.length !== 4 || scope[3] !== 'aws4_request' || !['s3', 'iam', 'sts'].includes(scope[2]!)) throw invalid();
    const sign = (key: Buffer, msg: string) => createHmac('sha256', key).update(Buffer.from(msg, 'latin1')).digest();
    const key = sign(sign(sign(sign(Buffer.from('AWS4' + secret, 'utf8'), scope[0]!), scope[1]!), scope[2]!), 'aws4_request');
    signature = createHmac('sha256', key).update(sts).digest('hex');
  }
  if (!safeEqual(signature, typeof c.signature === 'string' ? c.signature : '')) throw new ApiError('Unauthorized', 'Credential signature mismatch');
}

function checkEc2Timestamp(c: Ec2Credentials): void {
  const ts = (c.params?.Timestamp ?? (c.headers as Row | undefined)?.['X-Amz-Date'] ?? c.params?.['X-Amz-Date']) as unknown;
  if (!ts) return;
  const s = String(ts);
  // ISO 8601, extended (2024-01-02T03:04:05Z) or basic (20240102T030405Z) as AWS v4 writes it.
  const basic = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(Z|[+-]\d{2}:?\d{2})?$/.exec(s);
  const when = basic ? new Date(`${basic[1]}-${basic[2]}-${basic[3]}T${basic[4]}:${basic[5]}:${basic[6]}${basic[7] ?? 'Z'}`) : new Date(/[zZ]|[+-]\d{2}:?\d{2}$/.test(s) ? s : `${s}Z`);
  if (Number.isNaN(when.getTime())) throw new ApiError('Unauthorized', `Credential timestamp is invalid: ${s}`);
  if (Date.now() > when.getTime() + EC2_AUTH_TTL_MIN * 60_000) throw new ApiError('Unauthorized', 'Credential is expired');
}
