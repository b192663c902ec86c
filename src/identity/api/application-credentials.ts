// Application credentials: /v3/users/{user_id}/application_credentials[/{id}], their access rules
// (/v3/users/{user_id}/access_rules[/{id}]), and the `application_credential` auth method.
// Keystone's rules: a user creates them for itself, on the project of its token, with a subset of
// the token's roles; the secret is shown once and stored hashed like passwords; a token from an
// application credential is scoped to its project, carries its roles the user still holds, and
// (unless the credential is unrestricted) cannot manage application credentials or trusts.

import { randomBytes } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { ApiError } from '../../common/errors.js';
import { isUniqueViolation } from '../../common/db/index.js';
import { validate } from '../../common/validation.js';
import type { IdentityContext } from '../context.js';
import { NULL_DOMAIN_ID, enforce, listLinks, newId, q, selfLink } from '../context.js';
import { isDelegatedToken, type TokenData } from '../tokens.js';
import { REVOCATION_EXCHANGE } from '../revocations.js';
import type { ExtensionDeps } from '../extensions.js';
import { findUserForAuth, type AuthResult } from '../authenticate.js';
import { hashPassword, verifyPassword } from '../passwords.js';
import { formatRole } from './roles.js';
import {
  appCredAccessRules, appCredRoleIds, appCredRow, effectiveRoleIdsOn, forbiddenAction, isExpired,
  parseExpiration, timestampMs, type Row,
} from '../delegation.js';

const idString = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[a-zA-Z0-9-]+$' };
const nameString = { type: 'string', minLength: 1, maxLength: 255, pattern: '[\\S]+' };
const appCredCreate = {
  type: 'object',
  properties: {
    name: nameString,
    description: { type: ['string', 'null'] },
    secret: { type: ['null', 'string'] },
    expires_at: { type: ['null', 'string'] },
    roles: {
      type: 'array',
      items: { type: 'object', properties: { id: idString, name: nameString }, minProperties: 1, maxProperties: 1, additionalProperties: false },
    },
    unrestricted: { type: 'boolean' },
    access_rules: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          path: { type: 'string', minLength: 0, maxLength: 225, pattern: '^\\/.*' },
          method: { type: 'string', pattern: '^(POST|GET|HEAD|PATCH|PUT|DELETE)$' },
          service: idString,
          id: idString,
        },
        additionalProperties: false,
      },
    },
  },
  required: ['name'],
  additionalProperties: true,
};

const appCredNotFound = (id: string) => new ApiError('NotFound', `Could not find Application Credential: ${id}.`);
const accessRuleNotFound = (id: string) => new ApiError('NotFound', `Could not find Access Rule: ${id}.`);
const invalidAppCred = (detail: string) => new ApiError('BadRequest', `Invalid application credential: ${detail}`);

/** Keystone's _block_delegated_token_app_creds: trust, OAuth1 (and other delegated) tokens may not. */
function blockDelegated(t: TokenData): void {
  if (t.methods.includes('application_credential')) return;
  if (isDelegatedToken(t)) throw new ApiError('Forbidden', 'Cannot manage application credentials with a token issued via delegation.');
}

/** A token from a restricted application credential cannot create or delete application credentials. */
function checkUnrestricted(t: TokenData): void {
  if (t.methods.includes('application_credential') && (!t.appCred || t.appCred.restricted)) {
    throw forbiddenAction("Using method 'application_credential' is not allowed for managing additional application credentials");
  }
}

/** Keystone: 64 random bytes, url-safe base64 without padding. */
const generateSecret = () => randomBytes(64).toString('base64url');

function formatRoleRef(req: FastifyRequest, r: Row): Row {
  const { links: _links, ...rest } = formatRole(req, r);
  return rest;
}

async function formatAppCred(ctx: IdentityContext, req: FastifyRequest, ac: Row, secret?: string): Promise<Row> {
  const roleIds = await appCredRoleIds(ctx, ac.id);
  const roleRows: Row[] = roleIds.length ? await ctx.db.selectFrom('role').selectAll().where('id', 'in', roleIds).orderBy('name').execute() : [];
  const rules = await appCredAccessRules(ctx, ac.id);
  const out: Row = {
    id: ac.id,
    name: ac.name,
    description: ac.description ?? null,
    user_id: ac.user_id,
    project_id: ac.project_id ?? null,
    system: ac.system ?? null,
    // Keystone serialises this datetime with oslo's PERFECT_TIME_FORMAT: microseconds, no zone.
    expires_at: ac.expires_at ?? null,
    unrestricted: !!ac.unrestricted,
    roles: roleRows.map((r) => formatRoleRef(req, r)),
  };
  if (rules.length) out.access_rules = rules;
  if (secret !== undefined) out.secret = secret;
  out.links = selfLink(req, `users/${ac.user_id}/application_credentials/${ac.id}`);
  return out;
}

function formatAccessRule(req: FastifyRequest, userId: string, r: Row): Row {
  return { id: r.id, service: r.service, path: r.path, method: r.method, links: selfLink(req, `users/${userId}/access_rules/${r.id}`) };
}

/** Deletes application credentials (their role and access rule links go with them). */
async function deleteAppCreds(ctx: IdentityContext, ids: string[]): Promise<void> {
  if (!ids.length) return;
  await ctx.db.transaction().execute(async (trx) => {
    await trx.deleteFrom('application_credential_access_rule').where('application_credential_id', 'in', ids).execute();
    await trx.deleteFrom('application_credential_role').where('application_credential_id', 'in', ids).execute();
    await trx.deleteFrom('application_credential').where('id', 'in', ids).execute();
  });
  ctx.changed(); // tokens made from them no longer validate here (the resolver finds them gone)
  // No revocation event can name an application credential; tell the services' token caches
  // (they drop every cached validation on any message of this exchange) so they re-validate now.
  await ctx.bus.fanout(REVOCATION_EXCHANGE, { application_credentials_deleted: ids, at: new Date().toISOString() }).catch(() => undefined);
}

/** The `application_credential` auth method: by id + secret, or name + secret + user. */
async function appCredMethod(ctx: IdentityContext, data: Record<string, unknown>): Promise<AuthResult> {
  const invalid = () => new ApiError('Unauthorized', 'Invalid application credential ID or secret');
  let ac: Row | undefined;
  if (typeof data.id === 'string' && data.id) {
    ac = await appCredRow(ctx, data.id);
    if (!ac) throw invalid();
  } else if (typeof data.name === 'string' && data.name) {
    const u = data.user;
    if (!u || typeof u !== 'object' || Array.isArray(u)) {
      throw new ApiError('BadRequest', 'Expecting to find user in application credential. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.');
    }
    const user = await findUserForAuth(ctx, u as Record<string, unknown>);
    const rows = await ctx.db.selectFrom('application_credential').selectAll().where('user_id', '=', user.id).where('name', '=', data.name).execute();
    if (rows.length !== 1) throw new ApiError('Unauthorized', `Could not find application credential: ${data.name}`);
    ac = rows[0]!;
  } else {
    throw new ApiError('BadRequest', 'Expecting to find id or name in application credential. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.');
  }
  const cred = ac!;
  if (typeof data.secret !== 'string' || !(await verifyPassword(data.secret, cred.secret_hash))) throw invalid();
  if (isExpired(cred.expires_at)) throw invalid();
  if (!cred.project_id) throw new ApiError('Unauthorized', 'Error authenticating with application credential: it has no project.');
  // CVE-2022-2447: a token never outlives its application credential.
  let expiresAt: Date | undefined;
  if (cred.expires_at) {
    const dflt = new Date(Date.now() + ctx.cfg.identity.token_expiration * 1000);
    const end = new Date(timestampMs(cred.expires_at));
    if (end < dflt) expiresAt = end;
  }
  return { userId: cred.user_id, appCredId: cred.id, fixedScope: { projectId: cred.project_id }, expiresAt };
}

export function registerApplicationCredentials({ app, ctx, authn }: ExtensionDeps): void {
  authn.registerMethod('application_credential', (c, data) => appCredMethod(c, data));

  app.post<{ Params: { userId: string } }>('/v3/users/:userId/application_credentials', async (req, reply) => {
    const userId = req.params.userId;
    const tok = enforce(ctx, req, 'identity:create_application_credential', { user_id: userId });
    const raw = req.body && typeof req.body === 'object' ? (req.body as Row).application_credential : undefined;
    const body = validate<Row>(appCredCreate, raw ?? {});
    blockDelegated(tok);
    checkUnrestricted(tok);
    if (tok.userId !== userId) throw forbiddenAction('Cannot create an application credential for another user');
    const projectId = tok.project?.id;
    if (!projectId) throw invalidAppCred('an application credential is created with a project-scoped token');

    // Roles: a subset of the token's roles (all of them when none are given).
    const tokenRoleIds = tok.roles.map((r) => r.id);
    let roleIds: string[];
    if (body.roles?.length) {
      roleIds = [];
      for (const r of body.roles as Array<{ id?: string; name?: string }>) {
        let id = r.id;
        if (!id) {
          const found = await ctx.db.selectFrom('role').select('id').where('name', '=', r.name!).where('domain_id', '=', NULL_DOMAIN_ID).execute();
          if (!found.length) throw new ApiError('NotFound', `Role ${r.name} is not defined`);
          id = found[0]!.id as string;
        }
        if (!tokenRoleIds.includes(id)) throw invalidAppCred('Cannot create an application credential with unassigned role');
        if (!roleIds.includes(id)) roleIds.push(id);
      }
    } else {
      roleIds = [...new Set(tokenRoleIds)];
    }
    const expiresAt = body.expires_at ? parseExpiration(body.expires_at) : null;
    const held = await effectiveRoleIdsOn(ctx, userId, projectId);
    for (const r of roleIds) {
      if (!held.has(r)) throw invalidAppCred(`Could not find role assignment with role: ${r}, user or group: ${userId}, project, domain, or system: ${projectId}.`);
    }

    const secret = typeof body.secret === 'string' && body.secret ? body.secret : generateSecret();
    const algorithm = ctx.cfg.identity.password_hash_algorithm === 'scrypt' ? 'scrypt' : 'bcrypt';
    const row: Row = {
      id: newId(), name: body.name, secret_hash: await hashPassword(secret, algorithm, ctx.cfg.identity.password_hash_rounds),
      description: body.description ?? null, user_id: userId, project_id: projectId, system: null, expires_at: expiresAt,
      unrestricted: body.unrestricted ? 1 : 0, created_at: new Date().toISOString(),
    };
    try {
      await ctx.db.transaction().execute(async (trx) => {
        await trx.insertInto('application_credential').values(row).execute();
        for (const r of roleIds) await trx.insertInto('application_credential_role').values({ application_credential_id: row.id, role_id: r }).execute();
        const linked = new Set<string>();
        for (const rule of (body.access_rules ?? []) as Row[]) {
          // An existing rule of this user, by id or by identical content, is shared; else a new one.
          let existing: Row | undefined;
          if (rule.id) {
            existing = await trx.selectFrom('access_rule').selectAll().where('id', '=', rule.id).executeTakeFirst();
            if (existing && existing.user_id !== userId) throw new ApiError('Conflict', `Conflict occurred attempting to store access_rule - Duplicate ID, ${rule.id}.`);
            if (!existing && (rule.service === undefined || rule.path === undefined || rule.method === undefined)) throw accessRuleNotFound(rule.id);
          }
          if (!existing) {
            if (rule.service === undefined || rule.path === undefined || rule.method === undefined) {
              throw new ApiError('BadRequest', "Invalid input for field 'access_rules': an access rule needs service, path and method.");
            }
            existing = await trx.selectFrom('access_rule').selectAll().where('user_id', '=', userId)
              .where('service', '=', rule.service).where('path', '=', rule.path).where('method', '=', rule.method).executeTakeFirst();
          }
          if (!existing) {
            existing = { id: rule.id ?? newId(), user_id: userId, service: rule.service, path: rule.path, method: rule.method };
            await trx.insertInto('access_rule').values(existing).execute();
          }
          if (linked.has(existing.id)) continue;
          linked.add(existing.id);
          await trx.insertInto('application_credential_access_rule').values({ application_credential_id: row.id, access_rule_id: existing.id }).execute();
        }
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw new ApiError('Conflict', `Conflict occurred attempting to store application_credential - Duplicate entry found with name ${body.name}.`);
      throw e;
    }
    reply.code(201);
    return { application_credential: await formatAppCred(ctx, req, row, secret) };
  });

  app.get<{ Params: { userId: string } }>('/v3/users/:userId/application_credentials', async (req) => {
    const userId = req.params.userId;
    const tok = enforce(ctx, req, 'identity:list_application_credentials', { user_id: userId });
    blockDelegated(tok);
    let qb = ctx.db.selectFrom('application_credential').selectAll().where('user_id', '=', userId);
    const name = q(req, 'name');
    if (name !== undefined) qb = qb.where('name', '=', name);
    const rows: Row[] = await qb.orderBy('created_at').orderBy('id').execute();
    const out = [];
    for (const r of rows) out.push(await formatAppCred(ctx, req, r));
    return { application_credentials: out, links: listLinks(req) };
  });

  // Policy reads the stored credential's owner, never the path's (Keystone's _update_request_user_id_attribute).
  const ownerTarget = (ac: Row | undefined, pathUser: string) => ({ user_id: ac ? ac.user_id : pathUser });

  app.get<{ Params: { userId: string; id: string } }>('/v3/users/:userId/application_credentials/:id', async (req) => {
    const ac = await appCredRow(ctx, req.params.id);
    const tok = enforce(ctx, req, 'identity:get_application_credential', ownerTarget(ac, req.params.userId));
    blockDelegated(tok);
    if (!ac) throw appCredNotFound(req.params.id);
    return { application_credential: await formatAppCred(ctx, req, ac) };
  });

  app.delete<{ Params: { userId: string; id: string } }>('/v3/users/:userId/application_credentials/:id', async (req, reply) => {
    const ac = await appCredRow(ctx, req.params.id);
    const tok = enforce(ctx, req, 'identity:delete_application_credential', ownerTarget(ac, req.params.userId));
    blockDelegated(tok);
    checkUnrestricted(tok);
    if (!ac) throw appCredNotFound(req.params.id);
    await deleteAppCreds(ctx, [ac.id]);
    reply.code(204).send();
  });

  // ---- access rules
  const userTarget = async (userId: string) => {
    const u = await ctx.db.selectFrom('identity_user').select(['id', 'domain_id']).where('id', '=', userId).executeTakeFirst();
    return u ? { 'target.user.id': u.id, 'target.user.domain_id': u.domain_id, user_id: userId } : { user_id: userId };
  };

  app.get<{ Params: { userId: string } }>('/v3/users/:userId/access_rules', async (req) => {
    const userId = req.params.userId;
    const tok = enforce(ctx, req, 'identity:list_access_rules', await userTarget(userId));
    blockDelegated(tok);
    let qb = ctx.db.selectFrom('access_rule').selectAll().where('user_id', '=', userId);
    for (const f of ['service', 'path', 'method'] as const) {
      const v = q(req, f);
      if (v !== undefined) qb = qb.where(f, '=', v);
    }
    const rows: Row[] = await qb.orderBy('id').execute();
    return { access_rules: rows.map((r) => formatAccessRule(req, userId, r)), links: listLinks(req) };
  });

  const getRule = async (userId: string, id: string): Promise<Row> => {
    const r = await ctx.db.selectFrom('access_rule').selectAll().where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
    if (!r) throw accessRuleNotFound(id);
    return r;
  };

  app.get<{ Params: { userId: string; id: string } }>('/v3/users/:userId/access_rules/:id', async (req) => {
    const tok = enforce(ctx, req, 'identity:get_access_rule', await userTarget(req.params.userId));
    blockDelegated(tok);
    return { access_rule: formatAccessRule(req, req.params.userId, await getRule(req.params.userId, req.params.id)) };
  });

  app.delete<{ Params: { userId: string; id: string } }>('/v3/users/:userId/access_rules/:id', async (req, reply) => {
    const tok = enforce(ctx, req, 'identity:delete_access_rule', await userTarget(req.params.userId));
    blockDelegated(tok);
    const r = await getRule(req.params.userId, req.params.id);
    const used = await ctx.db.selectFrom('application_credential_access_rule').select('application_credential_id').where('access_rule_id', '=', r.id).executeTakeFirst();
    if (used) throw new ApiError('Forbidden', 'May not delete access rule in use');
    await ctx.db.deleteFrom('access_rule').where('id', '=', r.id).execute();
    reply.code(204).send();
  });

  // ---- clean-up: application credentials go with their user or project; roles leave them.
  ctx.hooks.on('user.deleted', async (ids) => {
    const rows = await ctx.db.selectFrom('application_credential').select('id').where('user_id', 'in', ids).execute();
    await deleteAppCreds(ctx, rows.map((r: Row) => r.id));
    await ctx.db.deleteFrom('access_rule').where('user_id', 'in', ids).execute();
  });
  ctx.hooks.on('project.deleted', async (ids) => {
    const rows = await ctx.db.selectFrom('application_credential').select('id').where('project_id', 'in', ids).execute();
    await deleteAppCreds(ctx, rows.map((r: Row) => r.id));
  });
  ctx.hooks.on('role.deleted', async (ids) => {
    const r = await ctx.db.deleteFrom('application_credential_role').where('role_id', 'in', ids).executeTakeFirst();
    if (Number(r.numDeletedRows ?? 0)) ctx.changed();
  });
}
