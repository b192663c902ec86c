// OS-OAUTH1: delegation through OAuth 1.0a, as Keystone does it.
//   consumers        /v3/OS-OAUTH1/consumers[/{consumer_id}] (admin; the secret is shown at create only)
//   request token    POST /v3/OS-OAUTH1/request_token   (signed by the consumer; Requested-Project-Id)
//   authorize        PUT  /v3/OS-OAUTH1/authorize/{request_token_id} (the user picks roles; verifier)
//   access token     POST /v3/OS-OAUTH1/access_token    (signed with the request token and verifier)
//   tokens           POST /v3/auth/tokens, method "oauth1", signed with the access token: a token
//                    scoped to the access token's project carrying its roles and OS-OAUTH1
//   management       /v3/users/{user_id}/OS-OAUTH1/access_tokens[/{id}[/roles[/{role_id}]]]
// The two signed endpoints carry no policy check (Keystone's unenforced_api): the signature is the
// authentication. Deleting a consumer or an access token revokes the tokens made from it.

import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../common/errors.js';
import { validate } from '../../common/validation.js';
import type { IdentityContext } from '../context.js';
import { baseUrl, enforce, isoTime, listLinks, NULL_DOMAIN_ID, parseJson, selfLink } from '../context.js';
import type { ExtensionDeps } from '../extensions.js';
import { isDelegatedToken, notFoundToken } from '../tokens.js';
import { effectiveRoles, expandImplied, rolesByIds } from '../assignments.js';
import type { AuthResult } from '../authenticate.js';
import { registerCredentials } from './credentials.js';
import {
  checkMandatoryParams, isKeystoneKey, isVerifier, newVerifier, OAuthRequestError, parseAuthorizationHeader,
  readOAuthParams, verifySignature, type OAuthParams,
} from '../oauth1-signature.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Row = Record<string, any>;

/** Keystone's [oauth1] request_token_duration and access_token_duration, in seconds. */
const REQUEST_TOKEN_DURATION = 28800;
const ACCESS_TOKEN_DURATION = 86400;

const hexId = () => randomUUID().replace(/-/g, '');

const validationError = (attribute: string, target: string) => new ApiError('BadRequest',
  `Expecting to find ${attribute} in ${target}. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.`);

const consumerProps = { description: { type: ['string', 'null'] } };
const consumerCreate = { type: 'object', properties: consumerProps, additionalProperties: true };
const consumerUpdate = { type: 'object', properties: consumerProps, not: { required: ['secret'] }, minProperties: 1, additionalProperties: true };
const authorizeRoles = {
  type: 'array',
  items: {
    type: 'object',
    properties: { id: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[a-zA-Z0-9-]+$' }, name: { type: 'string', minLength: 1, maxLength: 255, pattern: '[\\S]+' } },
    minProperties: 1, maxProperties: 1, additionalProperties: false,
  },
};
const CONSUMER_CORE = new Set(['id', 'description', 'secret', 'links']);

/** Keystone reads these bodies leniently (get_json(silent=True) or {}): anything but an object is {}. */
function lenientMember(body: unknown, key: string, dflt: unknown): unknown {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return dflt;
  const v = (body as Row)[key];
  return v === undefined ? dflt : v;
}

function formatConsumer(req: FastifyRequest, c: Row, withSecret = false): Row {
  const out: Row = { ...parseJson(c.extra, {}), id: c.id, description: c.description ?? null, links: selfLink(req, `OS-OAUTH1/consumers/${c.id}`) };
  if (withSecret) out.secret = c.secret;
  return out;
}

function formatAccessToken(req: FastifyRequest, t: Row): Row {
  const base = `${baseUrl(req)}/v3/users/${t.authorizing_user_id}/OS-OAUTH1/access_tokens/${t.id}`;
  return {
    id: t.id, authorizing_user_id: t.authorizing_user_id, project_id: t.project_id, consumer_id: t.consumer_id,
    expires_at: t.expires_at ?? null, links: { roles: `${base}/roles`, self: base },
  };
}

function formatRoleEntity(req: FastifyRequest, r: Row): Row {
  return { ...parseJson(r.extra, {}), id: r.id, name: r.name, domain_id: r.domain_id === NULL_DOMAIN_ID ? null : r.domain_id, options: parseJson(r.options, {}), links: selfLink(req, `roles/${r.id}`) };
}

const expired = (expiresAt: string | null | undefined) => !!expiresAt && Date.now() > new Date(expiresAt).getTime();

/** The OAuth parameters of the Authorization header (Keystone's get_oauth_headers). */
function oauthHeaders(req: FastifyRequest): Map<string, string> {
  const h = req.headers.authorization;
  if (typeof h !== 'string' || !h) {
    throw new ApiError('BadRequest', 'No Authorization headers found, cannot proceed with OAuth related calls.');
  }
  try {
    return new Map(parseAuthorizationHeader(h));
  } catch {
    throw new ApiError('BadRequest', 'Malformed authorization header');
  }
}

/** The signed request as oauthlib sees it; `withQuery` false signs scheme://host/path only (auth). */
function signedRequest(req: FastifyRequest, withQuery: boolean): OAuthParams {
  const path = withQuery ? req.url : req.url.split('?')[0]!;
  const uri = `${req.protocol}://${req.host}${path}`;
  const ct = String(req.headers['content-type'] ?? '');
  // Keystone hands oauthlib the query arguments as the "body" (first value of each).
  let bodyParams: Array<[string, string]> | undefined;
  if (ct.includes('application/x-www-form-urlencoded')) {
    const seen = new Map<string, string>();
    for (const [k, v] of new URLSearchParams(req.url.split('?')[1] ?? '')) if (!seen.has(k)) seen.set(k, v);
    bodyParams = [...seen.entries()];
  }
  return readOAuthParams({ method: req.method, uri, authorization: req.headers.authorization, bodyParams });
}

/** oauthlib's error body, as Keystone's validate_oauth_params reports it. */
function oauthFailure(e: OAuthRequestError): ApiError {
  return new ApiError('BadRequest', `Validation failed with errors: ${e.error}, detail message is: ${e.description}.`);
}

function formReply(reply: FastifyReply, fields: Array<[string, string | null | undefined]>): string {
  reply.code(201).type('application/x-www-form-urlencoded');
  return fields.filter(([, v]) => v !== undefined && v !== null).map(([k, v]) => `${k}=${v}`).join('&');
}

export class OAuth1Store {
  constructor(private ctx: IdentityContext) {}

  async consumer(id: string): Promise<Row> {
    const c = await this.ctx.db.selectFrom('oauth_consumer').selectAll().where('id', '=', id).executeTakeFirst();
    if (!c) throw new ApiError('NotFound', 'Consumer not found');
    return c;
  }
  async requestToken(id: string): Promise<Row> {
    const t = await this.ctx.db.selectFrom('oauth_request_token').selectAll().where('id', '=', id).executeTakeFirst();
    if (!t) throw new ApiError('NotFound', 'Request token not found');
    return t;
  }
  async accessToken(id: string): Promise<Row> {
    const t = await this.ctx.db.selectFrom('oauth_access_token').selectAll().where('id', '=', id).executeTakeFirst();
    if (!t) throw new ApiError('NotFound', 'Access token not found');
    return t;
  }
}

/** The extension: /v3/credentials, OS-EC2, /v3/ec2tokens (credentials.ts) and OS-OAUTH1 (here). */
export function credentialsAndOAuth1Extension(deps: ExtensionDeps): void {
  registerCredentials(deps);
  registerOAuth1(deps);
}

export function registerOAuth1({ app, ctx, tokens, authn, revocations }: ExtensionDeps): void {
  const store = new OAuth1Store(ctx);
  registerConsumers(app, ctx, store, revocations);
  registerFlow(app, ctx, store);
  registerAccessTokens(app, ctx, store, revocations);

  // Tokens of a user or project that is deleted go with it.
  ctx.hooks.on('user.deleted', async (ids) => {
    await ctx.db.deleteFrom('oauth_access_token').where('authorizing_user_id', 'in', ids).execute();
    await ctx.db.deleteFrom('oauth_request_token').where('authorizing_user_id', 'in', ids).execute();
  });
  ctx.hooks.on('project.deleted', async (ids) => {
    await ctx.db.deleteFrom('oauth_access_token').where('project_id', 'in', ids).execute();
    await ctx.db.deleteFrom('oauth_request_token').where('requested_project_id', 'in', ids).execute();
  });

  authn.registerMethod('oauth1', async (c, _data, req) => oauth1Method(c, store, req));

  // A token made from an access token: its roles are the authorized ones the user still holds.
  tokens.addResolver({
    async resolve(c, p, data) {
      if (!p.accessTokenId) return;
      const at = await c.db.selectFrom('oauth_access_token').selectAll().where('id', '=', p.accessTokenId).executeTakeFirst();
      if (!at || at.authorizing_user_id !== p.userId || at.project_id !== p.projectId) throw notFoundToken(data.id);
      const granted = await expandImplied(c, parseJson<string[]>(at.role_ids, []));
      const held = new Set((await effectiveRoles(c, p.userId, { projectId: at.project_id })).map((r) => r.id));
      data.roles = await rolesByIds(c, [...granted].filter((id) => held.has(id)), true);
      data.oauth = { accessTokenId: at.id, consumerId: at.consumer_id };
    },
  });
}

function registerConsumers(app: FastifyInstance, ctx: IdentityContext, store: OAuth1Store, revocations: ExtensionDeps['revocations']): void {
  app.post('/v3/OS-OAUTH1/consumers', async (req, reply) => {
    enforce(ctx, req, 'identity:create_consumer');
    const body = validate<Row>(consumerCreate, lenientMember(req.body, 'consumer', {}));
    const row = {
      id: hexId(), description: body.description ?? null, secret: hexId(),
      extra: JSON.stringify(Object.fromEntries(Object.entries(body).filter(([k]) => !CONSUMER_CORE.has(k)))),
    };
    await ctx.db.insertInto('oauth_consumer').values(row).execute();
    reply.code(201);
    return { consumer: formatConsumer(req, row, true) };
  });

  app.get('/v3/OS-OAUTH1/consumers', async (req) => {
    enforce(ctx, req, 'identity:list_consumers');
    const rows = await ctx.db.selectFrom('oauth_consumer').selectAll().orderBy('id').execute();
    return { consumers: rows.map((c: Row) => formatConsumer(req, c)), links: listLinks(req) };
  });

  app.get<{ Params: { consumer_id: string } }>('/v3/OS-OAUTH1/consumers/:consumer_id', async (req) => {
    enforce(ctx, req, 'identity:get_consumer', { consumer_id: req.params.consumer_id });
    return { consumer: formatConsumer(req, await store.consumer(req.params.consumer_id)) };
  });

  app.patch<{ Params: { consumer_id: string } }>('/v3/OS-OAUTH1/consumers/:consumer_id', async (req) => {
    const id = req.params.consumer_id;
    enforce(ctx, req, 'identity:update_consumer', { consumer_id: id });
    const body = validate<Row>(consumerUpdate, lenientMember(req.body, 'consumer', {}));
    if (body.id !== undefined && body.id !== null && body.id !== id) throw new ApiError('BadRequest', 'Cannot change ID');
    const c = await store.consumer(id);
    const extra = { ...parseJson<Row>(c.extra, {}), ...Object.fromEntries(Object.entries(body).filter(([k]) => !CONSUMER_CORE.has(k))) };
    const upd = { description: 'description' in body ? body.description : c.description, extra: JSON.stringify(extra) };
    await ctx.db.updateTable('oauth_consumer').set(upd).where('id', '=', id).execute();
    return { consumer: formatConsumer(req, { ...c, ...upd }) };
  });

  app.delete<{ Params: { consumer_id: string } }>('/v3/OS-OAUTH1/consumers/:consumer_id', async (req, reply) => {
    const id = req.params.consumer_id;
    enforce(ctx, req, 'identity:delete_consumer', { consumer_id: id });
    await store.consumer(id);
    await ctx.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('oauth_request_token').where('consumer_id', '=', id).execute();
      await trx.deleteFrom('oauth_access_token').where('consumer_id', '=', id).execute();
      await trx.deleteFrom('oauth_consumer').where('id', '=', id).execute();
    });
    await revocations.revoke({ consumer_id: id });
    reply.code(204).send();
  });
}

function registerFlow(app: FastifyInstance, ctx: IdentityContext, store: OAuth1Store): void {
  const notAllowed = async () => { throw new ApiError('MethodNotAllowed', 'The method is not allowed for the requested URL.', { headers: { Allow: 'POST' } }); };
  app.get('/v3/OS-OAUTH1/request_token', notAllowed);
  app.get('/v3/OS-OAUTH1/access_token', notAllowed);

  app.post('/v3/OS-OAUTH1/request_token', async (req, reply) => {
    const headers = oauthHeaders(req);
    const consumerId = headers.get('oauth_consumer_key');
    const projectId = req.headers['requested-project-id'];
    if (!consumerId) throw validationError('oauth_consumer_key', 'request');
    if (typeof projectId !== 'string' || !projectId) throw validationError('Requested-Project-Id', 'request');
    const project = await ctx.db.selectFrom('project').select('id').where('id', '=', projectId).where('is_domain', '=', 0).executeTakeFirst();
    if (!project) throw new ApiError('NotFound', `Could not find project: ${projectId}.`);
    const consumer = await store.consumer(consumerId);

    let valid: boolean;
    try {
      const p = signedRequest(req, true);
      checkMandatoryParams(p);
      if (p.realm) throw new OAuthRequestError('invalid_request', `Invalid realm ['${p.realm.split(' ').join("', '")}']. Allowed are [].`);
      if (!p.callback) throw new OAuthRequestError('invalid_request', 'Missing callback URI.');
      const client = p.clientKey === consumer.id ? consumer : await store.consumer(p.clientKey!);
      const tokenSecret = p.resourceOwnerKey ? (await store.accessToken(p.resourceOwnerKey)).access_secret : undefined;
      valid = verifySignature(p, client.secret, tokenSecret);
    } catch (e) {
      if (e instanceof OAuthRequestError) throw oauthFailure(e);
      throw e;
    }
    if (!valid) throw new ApiError('Unauthorized', 'Invalid signature');

    const row = {
      id: hexId(), request_secret: hexId(), verifier: null, authorizing_user_id: null, requested_project_id: project.id,
      role_ids: null, consumer_id: consumer.id,
      expires_at: REQUEST_TOKEN_DURATION > 0 ? isoTime(new Date(Date.now() + REQUEST_TOKEN_DURATION * 1000)) : null,
    };
    await ctx.db.insertInto('oauth_request_token').values(row).execute();
    return formReply(reply, [['oauth_token', row.id], ['oauth_token_secret', row.request_secret], ['oauth_expires_at', row.expires_at]]);
  });

  app.put<{ Params: { request_token_id: string } }>('/v3/OS-OAUTH1/authorize/:request_token_id', async (req) => {
    const t = enforce(ctx, req, 'identity:authorize_request_token', { request_token_id: req.params.request_token_id });
    const roles = validate<Array<{ id?: string; name?: string }>>(authorizeRoles, lenientMember(req.body, 'roles', []));
    if (isDelegatedToken(t)) throw new ApiError('Forbidden', 'Cannot authorize a request token with a token issued via delegation.');
    const rt = await store.requestToken(req.params.request_token_id);
    if (expired(rt.expires_at)) throw new ApiError('Unauthorized', 'Request token is expired');

    const wanted: string[] = [];
    for (const r of roles) {
      let id = r.id;
      if (!id) {
        const found = await ctx.db.selectFrom('role').select('id').where('name', '=', r.name!).where('domain_id', '=', NULL_DOMAIN_ID).executeTakeFirst();
        if (!found) throw new ApiError('NotFound', `Could not find role: ${r.name}.`);
        id = found.id as string;
      }
      if (!wanted.includes(id)) wanted.push(id);
    }
    const held = new Set((await effectiveRoles(ctx, t.userId, { projectId: rt.requested_project_id })).map((r) => r.id));
    if (!wanted.every((id) => held.has(id))) throw new ApiError('Unauthorized', 'authorizing user does not have role required');

    const verifier = newVerifier();
    await ctx.db.updateTable('oauth_request_token')
      .set({ authorizing_user_id: t.userId, verifier, role_ids: JSON.stringify(wanted) })
      .where('id', '=', rt.id).execute();
    return { token: { oauth_verifier: verifier } };
  });

  app.post('/v3/OS-OAUTH1/access_token', async (req, reply) => {
    const headers = oauthHeaders(req);
    const consumerId = headers.get('oauth_consumer_key');
    const requestTokenId = headers.get('oauth_token');
    const verifier = headers.get('oauth_verifier');
    if (!consumerId) throw validationError('oauth_consumer_key', 'request');
    if (!requestTokenId) throw validationError('oauth_token', 'request');
    if (!verifier) throw validationError('oauth_verifier', 'request');
    const rt = await store.requestToken(requestTokenId);
    if (expired(rt.expires_at)) throw new ApiError('Unauthorized', 'Request token is expired');

    let p: OAuthParams;
    try {
      p = signedRequest(req, true);
      checkMandatoryParams(p);
      if (!p.resourceOwnerKey) throw new OAuthRequestError('invalid_request', 'Missing resource owner.');
      if (!isKeystoneKey(p.resourceOwnerKey)) throw new OAuthRequestError('invalid_request', 'Invalid resource owner key format.');
      if (!p.verifier) throw new OAuthRequestError('invalid_request', 'Missing verifier.');
      if (!isVerifier(p.verifier)) throw new OAuthRequestError('invalid_request', 'Invalid verifier format.');
    } catch (e) {
      if (e instanceof OAuthRequestError) throw oauthFailure(e);
      throw e;
    }
    const consumer = await ctx.db.selectFrom('oauth_consumer').selectAll().where('id', '=', p.clientKey!).executeTakeFirst();
    if (!consumer) throw new ApiError('Unauthorized', 'Provided consumer does not exist.');
    const signedToken = p.resourceOwnerKey === rt.id ? rt : await ctx.db.selectFrom('oauth_request_token').selectAll().where('id', '=', p.resourceOwnerKey).executeTakeFirst();
    if (!signedToken || signedToken.consumer_id !== consumer.id) throw new ApiError('Unauthorized', 'Provided consumer key does not match stored consumer key.');
    if (signedToken.verifier !== p.verifier) throw new ApiError('Unauthorized', 'Provided verifier does not match stored verifier');
    if (!verifySignature(p, consumer.secret, signedToken.request_secret)) throw new ApiError('Unauthorized', 'Invalid signature');
    if (!rt.authorizing_user_id) throw new ApiError('Unauthorized', 'Request Token does not have an authorizing user id.');

    const row = {
      id: hexId(), access_secret: hexId(), authorizing_user_id: rt.authorizing_user_id, project_id: rt.requested_project_id,
      role_ids: rt.role_ids ?? '[]', consumer_id: rt.consumer_id,
      expires_at: ACCESS_TOKEN_DURATION > 0 ? isoTime(new Date(Date.now() + ACCESS_TOKEN_DURATION * 1000)) : null,
    };
    // The request token is spent: exactly one exchange wins.
    const won = await ctx.db.transaction().execute(async (trx) => {
      const del = await trx.deleteFrom('oauth_request_token').where('id', '=', rt.id).executeTakeFirst();
      if (Number(del.numDeletedRows ?? 0) !== 1) return false;
      await trx.insertInto('oauth_access_token').values(row).execute();
      return true;
    });
    if (!won) throw new ApiError('NotFound', 'Request token not found');
    return formReply(reply, [['oauth_token', row.id], ['oauth_token_secret', row.access_secret], ['oauth_expires_at', row.expires_at]]);
  });
}

function registerAccessTokens(app: FastifyInstance, ctx: IdentityContext, store: OAuth1Store, revocations: ExtensionDeps['revocations']): void {
  const blockDelegated = (t: Parameters<typeof isDelegatedToken>[0]) => {
    if (isDelegatedToken(t)) throw new ApiError('Forbidden', 'Cannot manage OAuth access tokens with a token issued via delegation.');
  };
  type P = { user_id: string; access_token_id: string };

  app.get<{ Params: { user_id: string } }>('/v3/users/:user_id/OS-OAUTH1/access_tokens', async (req) => {
    const t = enforce(ctx, req, 'identity:list_access_tokens', { user_id: req.params.user_id });
    blockDelegated(t);
    const rows = await ctx.db.selectFrom('oauth_access_token').selectAll().where('authorizing_user_id', '=', req.params.user_id).orderBy('id').execute();
    return { access_tokens: rows.map((r: Row) => formatAccessToken(req, r)), links: listLinks(req) };
  });

  app.get<{ Params: P }>('/v3/users/:user_id/OS-OAUTH1/access_tokens/:access_token_id', async (req) => {
    const t = enforce(ctx, req, 'identity:get_access_token', { ...req.params });
    blockDelegated(t);
    const at = await store.accessToken(req.params.access_token_id);
    if (at.authorizing_user_id !== req.params.user_id) throw new ApiError('NotFound', 'Access token not found');
    return { access_token: formatAccessToken(req, at) };
  });

  // Keystone enforces identity:ec2_delete_credential here (a slip of its Flask port); with the
  // default rules both mean "admin", and the registered rule for this call is the one an operator
  // would expect to govern it.
  app.delete<{ Params: P }>('/v3/users/:user_id/OS-OAUTH1/access_tokens/:access_token_id', async (req, reply) => {
    const t = enforce(ctx, req, 'identity:delete_access_token', { ...req.params });
    blockDelegated(t);
    const at = await store.accessToken(req.params.access_token_id);
    if (at.authorizing_user_id !== req.params.user_id) throw new ApiError('Unauthorized', 'User IDs do not match');
    await ctx.db.deleteFrom('oauth_access_token').where('id', '=', at.id).execute();
    await revocations.revoke({ access_token_id: at.id });
    reply.code(204).send();
  });

  const tokenRoles = async (at: Row) => {
    const ids = parseJson<string[]>(at.role_ids, []);
    if (!ids.length) return [];
    const rows = await ctx.db.selectFrom('role').selectAll().where('id', 'in', ids).execute();
    const byId = new Map(rows.map((r: Row) => [r.id as string, r]));
    return ids.map((id) => byId.get(id)).filter((r): r is Row => !!r);
  };

  app.get<{ Params: P }>('/v3/users/:user_id/OS-OAUTH1/access_tokens/:access_token_id/roles', async (req) => {
    enforce(ctx, req, 'identity:list_access_token_roles', { ...req.params });
    const at = await store.accessToken(req.params.access_token_id);
    if (at.authorizing_user_id !== req.params.user_id) throw new ApiError('NotFound', 'Access token not found');
    return { roles: (await tokenRoles(at)).map((r) => formatRoleEntity(req, r)), links: listLinks(req) };
  });

  app.get<{ Params: P & { role_id: string } }>('/v3/users/:user_id/OS-OAUTH1/access_tokens/:access_token_id/roles/:role_id', async (req) => {
    enforce(ctx, req, 'identity:get_access_token_role', { ...req.params });
    const at = await store.accessToken(req.params.access_token_id);
    if (at.authorizing_user_id !== req.params.user_id) throw new ApiError('Unauthorized', 'User IDs do not match');
    const role = (await tokenRoles(at)).find((r) => r.id === req.params.role_id);
    if (!role) throw new ApiError('NotFound', `Could not find role: ${req.params.role_id}.`);
    return { role: formatRoleEntity(req, role) };
  });
}

/** The "oauth1" auth method: the request to POST /v3/auth/tokens is signed with an access token. */
async function oauth1Method(ctx: IdentityContext, store: OAuth1Store, req: FastifyRequest): Promise<AuthResult> {
  const headers = oauthHeaders(req);
  const accessTokenId = headers.get('oauth_token');
  if (!accessTokenId) throw validationError('oauth_token', 'request');
  const at = await store.accessToken(accessTokenId);
  if (expired(at.expires_at)) throw new ApiError('Unauthorized', 'Access token is expired');

  const fail = () => new ApiError('Unauthorized', 'Could not validate the access token');
  let p: OAuthParams;
  try {
    p = signedRequest(req, false);
    checkMandatoryParams(p);
  } catch (e) {
    if (e instanceof OAuthRequestError) throw fail();
    throw e;
  }
  if (p.resourceOwnerKey !== at.id || p.clientKey !== at.consumer_id) throw fail();
  const consumer = await ctx.db.selectFrom('oauth_consumer').select(['id', 'secret']).where('id', '=', at.consumer_id).executeTakeFirst();
  if (!consumer || !verifySignature(p, consumer.secret, at.access_secret)) throw fail();
  return { userId: at.authorizing_user_id, accessTokenId: at.id, fixedScope: { projectId: at.project_id } };
}
