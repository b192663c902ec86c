// OS-TRUST: /v3/OS-TRUST/trusts[/{trust_id}[/roles[/{role_id}]]], the OS-TRUST:trust auth scope,
// and the clean-up of trusts when their users, projects or roles go away. Keystone's rules: the
// trustor creates the trust for roles it holds on the project; only the trustee may use it; a
// trust-scoped token may redelegate within the trust's limits; deleting a trust (and the trusts
// redelegated from it) revokes its tokens.

import type { FastifyRequest } from 'fastify';
import { ApiError } from '../../common/errors.js';
import { isUniqueViolation } from '../../common/db/index.js';
import { validate } from '../../common/validation.js';
import type { IdentityContext } from '../context.js';
import { enforce, listLinks, newId, parseJson, q, selfLink } from '../context.js';
import { isDelegatedMethod, type TokenData } from '../tokens.js';
import type { ExtensionDeps } from '../extensions.js';
import type { Revocations } from '../revocations.js';
import type { AuthResult } from '../authenticate.js';
import type { TokenPayload } from '../token/formatter.js';
import { NULL_DOMAIN_ID } from '../context.js';
import { formatRole } from './roles.js';
import {
  MAX_REDELEGATION_COUNT, effectiveRoleIdsOn, forbiddenAction, parseExpiration, timestampMs,
  trustNotFound, trustPedigree, trustRoleIds, trustRow, trustTime, trustTokenGrant, trustUsable, validateRedelegation,
  type Row,
} from '../delegation.js';

const idString = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[a-zA-Z0-9-]+$' };
const trustCreate = {
  type: 'object',
  properties: {
    trustor_user_id: { type: 'string', minLength: 1, maxLength: 64 },
    trustee_user_id: { type: 'string', minLength: 1, maxLength: 64 },
    impersonation: { type: 'boolean' },
    project_id: { type: ['string', 'null'], minLength: 1, maxLength: 64, pattern: '^[a-zA-Z0-9-]+$' },
    remaining_uses: { type: ['integer', 'null'], minimum: 1 },
    expires_at: { type: ['null', 'string'] },
    allow_redelegation: { type: ['boolean', 'null'] },
    redelegation_count: { type: ['integer', 'null'], minimum: 0 },
    roles: {
      type: 'array',
      items: {
        type: 'object',
        properties: { id: idString, name: { type: 'string', minLength: 1, maxLength: 255, pattern: '[\\S]+' } },
        minProperties: 1, maxProperties: 1, additionalProperties: false,
      },
    },
  },
  required: ['trustor_user_id', 'trustee_user_id', 'impersonation'],
  additionalProperties: true,
};

/** Request keys that are columns or computed, never kept as extra attributes. */
const TRUST_CORE = new Set(['id', 'trustor_user_id', 'trustee_user_id', 'impersonation', 'project_id', 'remaining_uses', 'expires_at',
  'allow_redelegation', 'redelegation_count', 'redelegated_trust_id', 'roles', 'roles_links', 'links', 'deleted_at']);

const trustTarget = (t: Row) => ({
  'target.trust.id': t.id, 'target.trust.trustor_user_id': t.trustor_user_id, 'target.trust.trustee_user_id': t.trustee_user_id,
  'target.trust.project_id': t.project_id ?? null, trust_id: t.id,
});

/** Keystone's _check_delegated_token: application credential and OAuth1 tokens cannot manage trusts. */
function checkNotDelegated(t: TokenData): void {
  if (isDelegatedMethod(t)) throw forbiddenAction('Delegated tokens cannot manage trusts');
}

function trustLink(req: FastifyRequest, id: string): string {
  return selfLink(req, `OS-TRUST/trusts/${id}`).self;
}

function formatTrustSummary(req: FastifyRequest, t: Row): Row {
  return {
    ...parseJson(t.extra, {}),
    id: t.id,
    trustor_user_id: t.trustor_user_id,
    trustee_user_id: t.trustee_user_id,
    project_id: t.project_id ?? null,
    impersonation: !!t.impersonation,
    expires_at: trustTime(t.expires_at),
    remaining_uses: t.remaining_uses ?? null,
    deleted_at: null,
    redelegated_trust_id: t.redelegated_trust_id ?? null,
    redelegation_count: t.redelegation_count ?? null,
    links: { self: trustLink(req, t.id) },
  };
}

async function trustRoles(ctx: IdentityContext, req: FastifyRequest, trustId: string): Promise<Row[]> {
  const ids = await trustRoleIds(ctx, trustId);
  if (!ids.length) return [];
  const rows: Row[] = await ctx.db.selectFrom('role').selectAll().where('id', 'in', ids).orderBy('name').execute();
  return rows.map((r) => formatRole(req, r));
}

async function formatTrust(ctx: IdentityContext, req: FastifyRequest, t: Row): Promise<Row> {
  return {
    ...formatTrustSummary(req, t),
    roles: await trustRoles(ctx, req, t.id),
    roles_links: { self: `${trustLink(req, t.id)}/roles`, previous: null, next: null },
  };
}

/** A trust that can be read: 404 when unknown, expired or used up (lp#1840288: before policy). */
async function usableTrust(ctx: IdentityContext, id: string): Promise<Row> {
  const t = await trustRow(ctx, id);
  if (!t || !trustUsable(t)) throw trustNotFound(id);
  if (t.redelegated_trust_id) {
    // Keystone's get_trust validates the chain of a redelegated trust.
    const chain = await trustPedigree(ctx, t);
    for (let i = 1; i < chain.length; i++) await validateRedelegation(ctx, chain[i]!, { ...chain[i - 1]! }, await trustRoleIds(ctx, chain[i - 1]!.id));
  }
  return t;
}

/** Deletes trusts and everything redelegated from them; revokes their tokens. */
export async function deleteTrusts(ctx: IdentityContext, revocations: Revocations, ids: string[]): Promise<void> {
  const all = new Set<string>();
  let frontier = ids.filter((x) => x);
  while (frontier.length) {
    for (const id of frontier) all.add(id);
    const kids = await ctx.db.selectFrom('trust').select('id').where('redelegated_trust_id', 'in', frontier).execute();
    frontier = kids.map((k: Row) => k.id as string).filter((id: string) => !all.has(id));
  }
  if (!all.size) return;
  const list = [...all];
  await ctx.db.transaction().execute(async (trx) => {
    await trx.deleteFrom('trust_role').where('trust_id', 'in', list).execute();
    await trx.deleteFrom('trust').where('id', 'in', list).execute();
  });
  ctx.changed();
  for (const id of list) await revocations.revoke({ trust_id: id });
}

/** Looks up roles given by id or by (global) name, in the request's order, without duplicates. */
async function normalizeRoles(ctx: IdentityContext, roles: Array<{ id?: string; name?: string }>): Promise<string[]> {
  const out: string[] = [];
  for (const r of roles) {
    let id = r.id;
    if (!id) {
      const found = await ctx.db.selectFrom('role').select('id').where('name', '=', r.name!).where('domain_id', '=', NULL_DOMAIN_ID).execute();
      if (!found.length) throw new ApiError('NotFound', `Role ${r.name} is not defined`);
      id = found[0]!.id as string;
    }
    if (!out.includes(id)) out.push(id);
  }
  return out;
}

/** POST /v3/auth/tokens with scope {"OS-TRUST:trust": {"id": ...}}. */
async function trustScope(ctx: IdentityContext, value: unknown, auth: AuthResult): Promise<Partial<TokenPayload>> {
  if (!value || typeof value !== 'object' || Array.isArray(value) || typeof (value as Row).id !== 'string' || !(value as Row).id) {
    throw new ApiError('BadRequest', 'Expecting to find trust_id in trust. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.');
  }
  const id = (value as Row).id as string;
  const unauthorized = () => new ApiError('Unauthorized', `Could not find trust: ${id}.`);
  const t = await trustRow(ctx, id);
  if (!t || !trustUsable(t)) throw unauthorized();
  if (!t.project_id) throw new ApiError('Unauthorized', `Trust ${id} is not for a project; only project trusts can scope a token.`);
  await trustTokenGrant(ctx, t, auth.userId); // trustee, chain, trustor, roles: before a use is spent
  // Spend one use (optimistic: only if nobody else spent it meanwhile). Keystone spends it after
  // issuing; here the checks that could still fail the issue have just passed.
  for (let attempt = 0; ; attempt++) {
    const cur = await trustRow(ctx, id);
    if (!cur) throw unauthorized();
    if (cur.remaining_uses === null || cur.remaining_uses === undefined) break;
    const left = Number(cur.remaining_uses);
    if (left <= 0) throw new ApiError('Forbidden', `No remaining uses for trust: ${id}.`);
    const r = await ctx.db.updateTable('trust').set({ remaining_uses: left - 1 }).where('id', '=', id).where('remaining_uses', '=', left).executeTakeFirst();
    if (Number(r.numUpdatedRows) === 1) break;
    if (attempt >= 10) throw new ApiError('Conflict', `Unable to consume trust ${id}, too many attempts.`);
  }
  const scope: Partial<TokenPayload> = { projectId: t.project_id, trustId: t.id };
  if (t.expires_at) {
    const dflt = auth.expiresAt ?? new Date(Date.now() + ctx.cfg.identity.token_expiration * 1000);
    const trustEnd = new Date(timestampMs(t.expires_at));
    scope.expiresAt = trustEnd < dflt ? trustEnd : dflt;
  }
  return scope;
}

export function registerTrusts({ app, ctx, authn, revocations }: ExtensionDeps): void {
  authn.registerScope('OS-TRUST:trust', trustScope);

  app.post('/v3/OS-TRUST/trusts', async (req, reply) => {
    const raw = req.body && typeof req.body === 'object' ? (req.body as Row).trust : undefined;
    const given: Row = raw && typeof raw === 'object' && !Array.isArray(raw) ? raw : {};
    const tok = enforce(ctx, req, 'identity:create_trust', {
      'target.trust.trustor_user_id': given.trustor_user_id, 'target.trust.trustee_user_id': given.trustee_user_id,
      'target.trust.project_id': given.project_id,
    });
    const body = validate<Row>(trustCreate, raw === undefined ? {} : raw);
    checkNotDelegated(tok);
    if (body.project_id && !(body.roles?.length)) throw forbiddenAction('At least one role should be specified');
    if (tok.userId !== body.trustor_user_id) throw forbiddenAction('The authenticated user should match the trustor');
    const trustee = await ctx.db.selectFrom('identity_user').select('id').where('id', '=', body.trustee_user_id).executeTakeFirst();
    if (!trustee) throw new ApiError('NotFound', `Could not find user: ${body.trustee_user_id}.`);
    const roleIds = await normalizeRoles(ctx, body.roles ?? []);

    // The redelegated trust, when a trust-scoped token creates this one.
    let parent: Row | undefined;
    if (tok.payload.trustId) parent = await usableTrust(ctx, tok.payload.trustId);
    else if (tok.payload.accessTokenId) throw forbiddenAction('Redelegation allowed for delegated by trust only');

    // The trustor (the original one, along a redelegation chain) must hold the roles on the project.
    if (body.project_id) {
      const p = await ctx.db.selectFrom('project').select('id').where('id', '=', body.project_id).where('is_domain', '=', 0).executeTakeFirst();
      if (!p) throw new ApiError('NotFound', `Could not find project: ${body.project_id}.`);
    }
    const originalTrustor = parent ? (await trustPedigree(ctx, parent)).pop()!.trustor_user_id : body.trustor_user_id;
    const held = body.project_id ? await effectiveRoleIdsOn(ctx, originalTrustor, body.project_id) : new Set<string>();
    for (const r of roleIds) if (!held.has(r)) throw new ApiError('NotFound', `Could not find role: ${r}.`);

    const trust: Row = {
      id: newId(),
      trustor_user_id: body.trustor_user_id,
      trustee_user_id: body.trustee_user_id,
      project_id: body.project_id ?? null,
      impersonation: body.impersonation ? 1 : 0,
      expires_at: body.expires_at ? parseExpiration(body.expires_at) : null,
      remaining_uses: body.remaining_uses ?? null,
      redelegated_trust_id: null,
      redelegation_count: null,
      extra: JSON.stringify(Object.fromEntries(Object.entries(body).filter(([k]) => !TRUST_CORE.has(k)))),
      created_at: new Date().toISOString(),
    };

    // Keystone's create_trust: redelegation depth and its constraints.
    const requested: number | null = body.redelegation_count ?? null;
    const redelegatable = !!body.allow_redelegation && requested !== 0;
    if (!redelegatable) {
      trust.redelegation_count = 0;
    } else {
      if (requested && requested > MAX_REDELEGATION_COUNT) {
        throw new ApiError('Forbidden', `Requested redelegation depth of ${requested} is greater than allowed ${MAX_REDELEGATION_COUNT}`);
      }
      if (trust.remaining_uses !== null) throw new ApiError('BadRequest', 'remaining_uses must not be set if redelegation is allowed');
      trust.redelegation_count = requested;
    }
    if (parent) {
      trust.redelegated_trust_id = parent.id;
      const remaining = Number(parent.redelegation_count ?? 0) - 1;
      if (redelegatable && requested && requested !== remaining) {
        throw new ApiError('Forbidden', 'Modifying "redelegation_count" upon redelegation is forbidden. Omitting this parameter is advised.');
      }
      trust.redelegation_count ??= remaining;
      for (const t of await trustPedigree(ctx, parent)) await validateRedelegation(ctx, t, trust, roleIds);
    }
    trust.redelegation_count ??= MAX_REDELEGATION_COUNT;

    try {
      await ctx.db.transaction().execute(async (trx) => {
        await trx.insertInto('trust').values(trust).execute();
        for (const r of roleIds) await trx.insertInto('trust_role').values({ trust_id: trust.id, role_id: r }).execute();
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw new ApiError('Conflict', 'Conflict occurred attempting to store trust - Duplicate entry.');
      throw e;
    }
    reply.code(201);
    return { trust: await formatTrust(ctx, req, trust) };
  });

  app.get('/v3/OS-TRUST/trusts', async (req) => {
    const trustor = q(req, 'trustor_user_id');
    const trustee = q(req, 'trustee_user_id');
    let tok: TokenData;
    if (trustor) tok = enforce(ctx, req, 'identity:list_trusts_for_trustor', { 'target.trust.trustor_user_id': trustor });
    else if (trustee) tok = enforce(ctx, req, 'identity:list_trusts_for_trustee', { 'target.trust.trustee_user_id': trustee });
    else tok = enforce(ctx, req, 'identity:list_trusts');
    checkNotDelegated(tok);
    let qb = ctx.db.selectFrom('trust').selectAll();
    if (trustor) qb = qb.where('trustor_user_id', '=', trustor);
    else if (trustee) qb = qb.where('trustee_user_id', '=', trustee);
    else if (Object.keys(req.query as Row).length) return { trusts: [], links: listLinks(req) }; // Keystone: unknown filters only
    const rows: Row[] = await qb.orderBy('created_at').orderBy('id').execute();
    return { trusts: rows.map((t) => formatTrustSummary(req, t)), links: listLinks(req) };
  });

  app.get<{ Params: { id: string } }>('/v3/OS-TRUST/trusts/:id', async (req) => {
    const t = await usableTrust(ctx, req.params.id);
    const tok = enforce(ctx, req, 'identity:get_trust', trustTarget(t));
    checkNotDelegated(tok);
    return { trust: await formatTrust(ctx, req, t) };
  });

  app.delete<{ Params: { id: string } }>('/v3/OS-TRUST/trusts/:id', async (req, reply) => {
    // Unlike Keystone, an expired or used-up trust can still be deleted (it has no flush command here).
    const t = await trustRow(ctx, req.params.id);
    if (!t) throw trustNotFound(req.params.id);
    const tok = enforce(ctx, req, 'identity:delete_trust', trustTarget(t));
    checkNotDelegated(tok);
    await deleteTrusts(ctx, revocations, [t.id]);
    reply.code(204).send();
  });

  app.get<{ Params: { id: string } }>('/v3/OS-TRUST/trusts/:id/roles', async (req) => {
    const t = await usableTrust(ctx, req.params.id);
    const tok = enforce(ctx, req, 'identity:list_roles_for_trust', trustTarget(t));
    checkNotDelegated(tok);
    return { roles: await trustRoles(ctx, req, t.id), links: { self: `${trustLink(req, t.id)}/roles`, previous: null, next: null } };
  });

  app.get<{ Params: { id: string; roleId: string } }>('/v3/OS-TRUST/trusts/:id/roles/:roleId', async (req) => {
    const t = await usableTrust(ctx, req.params.id);
    const tok = enforce(ctx, req, 'identity:get_role_for_trust', trustTarget(t));
    checkNotDelegated(tok);
    const ids = await trustRoleIds(ctx, t.id);
    if (!ids.includes(req.params.roleId)) throw new ApiError('NotFound', `Could not find role: ${req.params.roleId}.`);
    const r = await ctx.db.selectFrom('role').selectAll().where('id', '=', req.params.roleId).executeTakeFirst();
    if (!r) throw new ApiError('NotFound', `Could not find role: ${req.params.roleId}.`);
    return { role: formatRole(req, r) };
  });

  // ---- clean-up when what a trust points at is deleted
  ctx.hooks.on('user.deleted', async (ids) => {
    const rows = await ctx.db.selectFrom('trust').select('id')
      .where((eb) => eb.or([eb('trustor_user_id', 'in', ids), eb('trustee_user_id', 'in', ids)])).execute();
    await deleteTrusts(ctx, revocations, rows.map((r: Row) => r.id));
  });
  ctx.hooks.on('project.deleted', async (ids) => {
    const rows = await ctx.db.selectFrom('trust').select('id').where('project_id', 'in', ids).execute();
    await deleteTrusts(ctx, revocations, rows.map((r: Row) => r.id));
  });
  ctx.hooks.on('role.deleted', async (ids) => {
    // The role leaves every trust; a project trust left with no role is of no use and goes too.
    const affected = await ctx.db.selectFrom('trust_role').select('trust_id').where('role_id', 'in', ids).execute();
    if (!affected.length) return;
    const tids = [...new Set(affected.map((r: Row) => r.trust_id as string))];
    await ctx.db.deleteFrom('trust_role').where('role_id', 'in', ids).execute();
    const left = await ctx.db.selectFrom('trust_role').select('trust_id').where('trust_id', 'in', tids).execute();
    const keep = new Set(left.map((r: Row) => r.trust_id as string));
    await deleteTrusts(ctx, revocations, tids.filter((t) => !keep.has(t)));
    ctx.changed();
  });
}
