// Delegation shared by trusts (OS-TRUST) and application credentials: Keystone's expiry
// timestamps, what makes a token "delegated", the trust chain rules, and the token resolver that
// gives trust- and application-credential-scoped tokens their user, roles and delegation data.
// The routes live in api/trusts.ts and api/application-credentials.ts; registerDelegation wires
// both (routes, auth method, scope, resolver, clean-up hooks).

import { ApiError } from '../common/errors.js';
import type { IdentityContext } from './context.js';
import { isoTime } from './context.js';
import type { DelegationResolver, TokenData } from './tokens.js';
import type { TokenPayload } from './token/formatter.js';
import type { ExtensionDeps } from './extensions.js';
import { assignedRoleIds, expandImplied, rolesByIds, type RoleRef } from './assignments.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Row = Record<string, any>;

/** Keystone's [trust] max_redelegation_count default. */
export const MAX_REDELEGATION_COUNT = 3;

// ---- timestamps ---------------------------------------------------------------------------------

const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

const badTimestamp = () => new ApiError('BadRequest', 'Timestamp not in expected format. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.');

/**
 * Parses an ISO-8601 time (UTC when no zone is given, as Keystone's parse_expiration_date) into
 * our stored form 'YYYY-MM-DDTHH:MM:SS.ffffff' (UTC, microseconds kept). 400 when malformed.
 */
export function parseTimestamp(v: string): string {
  const m = ISO_RE.exec(v.trim());
  if (!m) throw badTimestamp();
  const y = Number(m[1]), mo = Number(m[2]), d = Number(m[3]);
  const h = Number(m[4] ?? 0), mi = Number(m[5] ?? 0), s = Number(m[6] ?? 0);
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) throw badTimestamp();
  let ms = Date.UTC(y, mo - 1, d, h, mi, s);
  if (new Date(ms).getUTCDate() !== d) throw badTimestamp(); // 31 February
  const zone = m[8];
  if (zone && zone.toUpperCase() !== 'Z') {
    const zm = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone)!;
    const off = (Number(zm[2]) * 60 + Number(zm[3] ?? 0)) * 60_000;
    ms -= zm[1] === '+' ? off : -off;
  }
  if (!Number.isFinite(ms)) throw badTimestamp();
  const frac = (m[7] ?? '').slice(0, 6).padEnd(6, '0');
  return `${new Date(ms).toISOString().slice(0, 19)}.${frac}`;
}

/** Milliseconds since the epoch of a stored timestamp. */
export function timestampMs(stored: string): number {
  return Date.parse(`${stored.slice(0, 23)}Z`);
}

/** An expiry for a new trust or application credential: 400 when malformed or already past. */
export function parseExpiration(v: string): string {
  const t = parseTimestamp(v);
  if (timestampMs(t) < Date.now()) {
    throw new ApiError('BadRequest', "The 'expires_at' must not be before now. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.");
  }
  return t;
}

export function isExpired(stored: string | null | undefined): boolean {
  return !!stored && timestampMs(stored) <= Date.now();
}

/** Trusts render expires_at as Keystone's isotime(subsecond=True): whole seconds, '.000000Z'. */
export const trustTime = (stored: string | null | undefined): string | null => (stored ? `${stored.slice(0, 19)}.000000Z` : null);

// ---- tokens -------------------------------------------------------------------------------------


export const forbiddenAction = (what: string) => new ApiError('Forbidden', `You are not authorized to perform the requested action: ${what}.`);

/** Effective role ids of a user on a project (direct, group, inherited, implied; domain-specific ones too). */
export async function effectiveRoleIdsOn(ctx: IdentityContext, userId: string, projectId: string): Promise<Set<string>> {
  const assigned = await assignedRoleIds(ctx, userId, { projectId });
  if (assigned.size === 0) return assigned;
  return expandImplied(ctx, assigned);
}

// ---- trusts -------------------------------------------------------------------------------------

export async function trustRow(ctx: IdentityContext, id: string): Promise<Row | undefined> {
  return ctx.db.selectFrom('trust').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function trustRoleIds(ctx: IdentityContext, trustId: string): Promise<string[]> {
  const rows = await ctx.db.selectFrom('trust_role').select('role_id').where('trust_id', '=', trustId).execute();
  return rows.map((r: Row) => r.role_id as string);
}

/** Keystone's driver get_trust: a trust that is expired or has no uses left does not exist. */
export function trustUsable(t: Row): boolean {
  if (isExpired(t.expires_at)) return false;
  if (t.remaining_uses !== null && t.remaining_uses !== undefined && Number(t.remaining_uses) <= 0) return false;
  return true;
}

export const trustNotFound = (id: string) => new ApiError('NotFound', `Could not find trust: ${id}.`);

/** The trust and the trusts it was redelegated from, nearest first; throws NotFound on a gap. */
export async function trustPedigree(ctx: IdentityContext, t: Row): Promise<Row[]> {
  const chain = [t];
  const seen = new Set([t.id as string]);
  let cur = t;
  while (cur.redelegated_trust_id) {
    if (seen.has(cur.redelegated_trust_id)) break;
    const parent = await trustRow(ctx, cur.redelegated_trust_id);
    if (!parent) throw trustNotFound(cur.redelegated_trust_id);
    seen.add(parent.id);
    chain.push(parent);
    cur = parent;
  }
  return chain;
}

/**
 * Keystone's _validate_redelegation: may `child` (stored, or about to be) be redelegated from
 * `parent`? Fills child.expires_at from the parent when the child has none.
 */
export async function validateRedelegation(ctx: IdentityContext, parent: Row, child: Row, childRoleIds: string[]): Promise<void> {
  const depth = Number(parent.redelegation_count ?? 0);
  if (!(depth > 0 && depth <= MAX_REDELEGATION_COUNT)) {
    throw new ApiError('Forbidden', `Remaining redelegation depth of ${depth} out of allowed range of [0..${MAX_REDELEGATION_COUNT}]`);
  }
  if (child.remaining_uses !== null && child.remaining_uses !== undefined) {
    throw new ApiError('Forbidden', `Field "remaining_uses" is set to ${child.remaining_uses} while it must not be set in order to redelegate a trust`);
  }
  if (child.expires_at) {
    if (parent.expires_at && timestampMs(parent.expires_at) < timestampMs(child.expires_at)) {
      throw new ApiError('Forbidden', 'Requested expiration time is more than redelegated trust can provide');
    }
  } else {
    child.expires_at = parent.expires_at ?? null;
  }
  const parentRoles = new Set(await trustRoleIds(ctx, parent.id));
  if (!childRoleIds.every((r) => parentRoles.has(r))) throw new ApiError('Forbidden', 'Some of requested roles are not in redelegated trust');
  if (!parent.impersonation && child.impersonation) {
    throw new ApiError('Forbidden', `Impersonation is not allowed because redelegated trust does not specify impersonation. Redelegated trust id: ${parent.id}`);
  }
}

async function userEnabled(ctx: IdentityContext, id: string): Promise<Row | undefined> {
  const u = await ctx.db.selectFrom('identity_user').selectAll().where('id', '=', id).executeTakeFirst();
  if (!u || !u.enabled) return undefined;
  const d = await ctx.db.selectFrom('project').select(['id', 'name', 'enabled']).where('id', '=', u.domain_id).executeTakeFirst();
  if (!d || !d.enabled) return undefined;
  return { ...u, domain_name: d.name };
}

/**
 * Checks a stored trust can be used (by `trusteeId`) and returns what a token from it carries:
 * the trustor, and the trust's roles expanded by implied roles, all still held by the original
 * trustor on the project (global roles only). Throws Forbidden/NotFound as Keystone does.
 */
export async function trustTokenGrant(ctx: IdentityContext, t: Row, trusteeId: string): Promise<{ trustor: Row; roles: RoleRef[] }> {
  if (t.trustee_user_id !== trusteeId) throw new ApiError('Forbidden', 'User is not a trustee.');
  const chain = await trustPedigree(ctx, t);
  for (let i = 1; i < chain.length; i++) {
    await validateRedelegation(ctx, chain[i]!, { ...chain[i - 1]! }, await trustRoleIds(ctx, chain[i - 1]!.id));
    if (!(await userEnabled(ctx, chain[i]!.trustee_user_id))) throw new ApiError('Forbidden', 'One of the trust agents is disabled or deleted');
  }
  const trustor = await userEnabled(ctx, t.trustor_user_id);
  if (!trustor) throw new ApiError('Forbidden', 'Trustor is disabled.');
  if (!t.project_id) throw new ApiError('Forbidden', 'Trustee has no delegated roles.');
  const originalTrustor = chain[chain.length - 1]!.trustor_user_id as string;
  const held = await effectiveRoleIdsOn(ctx, originalTrustor, t.project_id);
  const wanted = await expandImplied(ctx, await trustRoleIds(ctx, t.id));
  if (wanted.size === 0) throw new ApiError('Forbidden', 'Trustee has no delegated roles.');
  for (const r of wanted) if (!held.has(r)) throw new ApiError('Forbidden', 'Trustee has no delegated roles.');
  return { trustor, roles: await rolesByIds(ctx, [...wanted], true) };
}

// ---- application credentials --------------------------------------------------------------------

export async function appCredRow(ctx: IdentityContext, id: string): Promise<Row | undefined> {
  return ctx.db.selectFrom('application_credential').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function appCredRoleIds(ctx: IdentityContext, id: string): Promise<string[]> {
  const rows = await ctx.db.selectFrom('application_credential_role').select('role_id').where('application_credential_id', '=', id).execute();
  return rows.map((r: Row) => r.role_id as string);
}

export async function appCredAccessRules(ctx: IdentityContext, id: string): Promise<Array<{ id: string; service: string; path: string; method: string }>> {
  const rows = await ctx.db.selectFrom('application_credential_access_rule as l')
    .innerJoin('access_rule as r', 'r.id', 'l.access_rule_id')
    .select(['r.id as id', 'r.service as service', 'r.path as path', 'r.method as method'])
    .where('l.application_credential_id', '=', id).orderBy('r.id').execute();
  return rows.map((r: Row) => ({ id: r.id, service: r.service, path: r.path, method: r.method }));
}

/** The roles a token from this application credential carries: its roles the user still holds. */
export async function appCredTokenRoles(ctx: IdentityContext, ac: Row): Promise<RoleRef[]> {
  if (!ac.project_id) return [];
  const held = await effectiveRoleIdsOn(ctx, ac.user_id, ac.project_id);
  const ids = (await appCredRoleIds(ctx, ac.id)).filter((r) => held.has(r));
  return rolesByIds(ctx, ids, true);
}

// ---- the token resolver -------------------------------------------------------------------------

async function passwordExpiry(ctx: IdentityContext, userId: string): Promise<string | null> {
  const row = await ctx.db.selectFrom('password').select(['expires_at']).where('user_id', '=', userId)
    .orderBy('created_at', 'desc').limit(1).executeTakeFirst();
  return row?.expires_at ?? null;
}

/** Trust-scoped and application-credential tokens: their delegation data and roles, or invalid. */
export class DelegationTokenResolver implements DelegationResolver {
  async resolve(ctx: IdentityContext, p: TokenPayload, data: TokenData): Promise<void> {
    const invalid = (why: string) => new ApiError('NotFound', `Could not find token: ${data.id}. (${why})`);
    if (p.trustId) {
      const t = await trustRow(ctx, p.trustId);
      // An issued token stays valid when the trust's last use is consumed; expiry or deletion ends it.
      if (!t || isExpired(t.expires_at)) throw invalid('its trust is gone or expired');
      if (t.project_id !== (p.projectId ?? null)) throw invalid('the trust is for another project');
      let grant;
      try {
        grant = await trustTokenGrant(ctx, t, p.userId);
      } catch (e) {
        if (e instanceof ApiError) throw invalid(e.message);
        throw e;
      }
      data.trust = {
        id: t.id, trustor_user_id: t.trustor_user_id, trustee_user_id: t.trustee_user_id, impersonation: !!t.impersonation,
        project_id: t.project_id ?? null, remaining_uses: t.remaining_uses ?? null, expires_at: trustTime(t.expires_at),
      };
      data.roles = grant.roles;
      if (t.impersonation) {
        const u = grant.trustor;
        data.userId = u.id;
        data.user = {
          id: u.id, name: u.name, domain: { id: u.domain_id, name: u.domain_name },
          password_expires_at: isoTime(await passwordExpiry(ctx, u.id)),
        };
      }
    }
    if (p.appCredId) {
      const ac = await appCredRow(ctx, p.appCredId);
      if (!ac) throw invalid('its application credential was deleted');
      if (isExpired(ac.expires_at)) throw invalid('its application credential has expired');
      if (ac.user_id !== p.userId || (ac.project_id ?? null) !== (p.projectId ?? null)) throw invalid('application credential mismatch');
      const rules = await appCredAccessRules(ctx, ac.id);
      data.appCred = { id: ac.id, name: ac.name, restricted: !ac.unrestricted, ...(rules.length ? { access_rules: rules } : {}) };
      data.roles = await appCredTokenRoles(ctx, ac);
    }
  }
}

/** The identity extension: trusts, application credentials, access rules. */
export async function registerDelegation(deps: ExtensionDeps): Promise<void> {
  // Loaded here rather than imported at the top: the route modules import this one.
  const { registerTrusts } = await import('./api/trusts.js');
  const { registerApplicationCredentials } = await import('./api/application-credentials.js');
  deps.tokens.addResolver(new DelegationTokenResolver());
  registerTrusts(deps);
  registerApplicationCredentials(deps);
}
