// Who holds which role where. Effective roles follow Keystone: direct and group assignments,
// inherited assignments from the domain and every ancestor project, then implied roles expanded
// transitively. Domain-specific roles never appear in tokens, only the global roles they imply.

import type { IdentityContext } from './context.js';
import { NULL_DOMAIN_ID } from './context.js';

export interface RoleRef { id: string; name: string; domain_id: string | null }

export type AssignmentType = 'UserProject' | 'GroupProject' | 'UserDomain' | 'GroupDomain' | 'UserSystem' | 'GroupSystem';
export const SYSTEM_TARGET = 'system';

export interface AssignmentRow { type: AssignmentType; actor_id: string; target_id: string; role_id: string; inherited: number }

export async function groupIdsOf(ctx: IdentityContext, userId: string): Promise<string[]> {
  const rows = await ctx.db.selectFrom('group_membership').select('group_id').where('user_id', '=', userId).execute();
  return rows.map((r: { group_id: string }) => r.group_id);
}

/** The project's ancestors, nearest first (not including the domain). */
export async function ancestorsOf(ctx: IdentityContext, projectId: string): Promise<Array<{ id: string; parent_id: string | null; domain_id: string; is_domain: number }>> {
  const out: Array<{ id: string; parent_id: string | null; domain_id: string; is_domain: number }> = [];
  let cur = await ctx.db.selectFrom('project').select(['id', 'parent_id', 'domain_id', 'is_domain']).where('id', '=', projectId).executeTakeFirst();
  const seen = new Set<string>();
  while (cur?.parent_id && !seen.has(cur.parent_id)) {
    seen.add(cur.parent_id);
    const p = await ctx.db.selectFrom('project').select(['id', 'parent_id', 'domain_id', 'is_domain']).where('id', '=', cur.parent_id).executeTakeFirst();
    if (!p || p.is_domain) break;
    out.push(p);
    cur = p;
  }
  return out;
}

/** Role ids implied by `roleIds`, transitively, including the given ones. */
export async function expandImplied(ctx: IdentityContext, roleIds: Iterable<string>): Promise<Set<string>> {
  const all = new Set(roleIds);
  let frontier = [...all];
  while (frontier.length) {
    const rows = await ctx.db.selectFrom('implied_role').select('implied_role_id').where('prior_role_id', 'in', frontier).execute();
    frontier = [];
    for (const r of rows as Array<{ implied_role_id: string }>) {
      if (!all.has(r.implied_role_id)) { all.add(r.implied_role_id); frontier.push(r.implied_role_id); }
    }
  }
  return all;
}

export type Scope = { projectId: string } | { domainId: string } | { system: true };

/** The role ids assigned directly or through groups/inheritance to a user on a scope (before implication). */
export async function assignedRoleIds(ctx: IdentityContext, userId: string, scope: Scope, groupIds?: string[]): Promise<Set<string>> {
  const groups = groupIds ?? (await groupIdsOf(ctx, userId));
  const actors = [userId, ...groups];
  const ids = new Set<string>();
  if ('system' in scope) {
    const rows = await ctx.db.selectFrom('assignment').select('role_id')
      .where('type', 'in', ['UserSystem', 'GroupSystem']).where('target_id', '=', SYSTEM_TARGET).where('actor_id', 'in', actors).execute();
    for (const r of rows as Array<{ role_id: string }>) ids.add(r.role_id);
    return ids;
  }
  if ('domainId' in scope) {
    const rows = await ctx.db.selectFrom('assignment').select('role_id')
      .where('type', 'in', ['UserDomain', 'GroupDomain']).where('target_id', '=', scope.domainId)
      .where('inherited', '=', 0).where('actor_id', 'in', actors).execute();
    for (const r of rows as Array<{ role_id: string }>) ids.add(r.role_id);
    return ids;
  }
  const project = await ctx.db.selectFrom('project').select(['id', 'domain_id']).where('id', '=', scope.projectId).executeTakeFirst();
  if (!project) return ids;
  const ancestors = await ancestorsOf(ctx, scope.projectId);
  const direct = await ctx.db.selectFrom('assignment').select('role_id')
    .where('type', 'in', ['UserProject', 'GroupProject']).where('target_id', '=', scope.projectId)
    .where('inherited', '=', 0).where('actor_id', 'in', actors).execute();
  for (const r of direct as Array<{ role_id: string }>) ids.add(r.role_id);
  const inheritedTargets = [project.domain_id, scope.projectId, ...ancestors.map((a) => a.id)];
  const inherited = await ctx.db.selectFrom('assignment').select(['role_id', 'target_id'])
    .where('type', 'in', ['UserProject', 'GroupProject', 'UserDomain', 'GroupDomain']).where('inherited', '=', 1)
    .where('target_id', 'in', inheritedTargets).where('actor_id', 'in', actors).execute();
  // An inherited assignment on the project itself applies to its children only, not to it.
  for (const r of inherited as Array<{ role_id: string; target_id: string }>) if (r.target_id !== scope.projectId) ids.add(r.role_id);
  return ids;
}

/** The roles a token carries: assigned roles plus implied ones, without domain-specific roles. */
export async function effectiveRoles(ctx: IdentityContext, userId: string, scope: Scope, groupIds?: string[]): Promise<RoleRef[]> {
  const assigned = await assignedRoleIds(ctx, userId, scope, groupIds);
  if (assigned.size === 0) return [];
  const all = await expandImplied(ctx, assigned);
  return rolesByIds(ctx, [...all], true);
}

export async function rolesByIds(ctx: IdentityContext, ids: string[], globalOnly = false): Promise<RoleRef[]> {
  if (ids.length === 0) return [];
  const rows = await ctx.db.selectFrom('role').select(['id', 'name', 'domain_id']).where('id', 'in', ids).execute();
  return (rows as Array<{ id: string; name: string; domain_id: string }>)
    .filter((r) => !globalOnly || r.domain_id === NULL_DOMAIN_ID)
    .map((r) => ({ id: r.id, name: r.name, domain_id: r.domain_id === NULL_DOMAIN_ID ? null : r.domain_id }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Projects where the user has any effective role (direct, group, inherited), enabled or not. */
export async function projectIdsForUser(ctx: IdentityContext, userId: string): Promise<Set<string>> {
  const actors = [userId, ...(await groupIdsOf(ctx, userId))];
  const rows = await ctx.db.selectFrom('assignment').select(['type', 'target_id', 'inherited'])
    .where('actor_id', 'in', actors).where('type', 'in', ['UserProject', 'GroupProject', 'UserDomain', 'GroupDomain']).execute();
  const out = new Set<string>();
  for (const r of rows as Array<{ type: string; target_id: string; inherited: number }>) {
    if (r.type.endsWith('Project') && !r.inherited) out.add(r.target_id);
    if (r.inherited) {
      // Inherited to every project below the target (the domain's projects or the subtree).
      for (const id of await subtreeIds(ctx, r.target_id, r.type.endsWith('Domain'))) out.add(id);
    }
  }
  return out;
}

/** Ids of every project below `id` (a domain's projects when isDomain). */
export async function subtreeIds(ctx: IdentityContext, id: string, isDomain = false): Promise<string[]> {
  if (isDomain) {
    const rows = await ctx.db.selectFrom('project').select('id').where('domain_id', '=', id).where('is_domain', '=', 0).execute();
    return rows.map((r: { id: string }) => r.id);
  }
  const out: string[] = [];
  let frontier = [id];
  while (frontier.length) {
    const rows = await ctx.db.selectFrom('project').select('id').where('parent_id', 'in', frontier).where('is_domain', '=', 0).execute();
    frontier = rows.map((r: { id: string }) => r.id).filter((x: string) => !out.includes(x));
    out.push(...frontier);
  }
  return out;
}

/** Domains where the user holds a (non-inherited) domain role, directly or through a group. */
export async function domainIdsForUser(ctx: IdentityContext, userId: string): Promise<Set<string>> {
  const actors = [userId, ...(await groupIdsOf(ctx, userId))];
  const rows = await ctx.db.selectFrom('assignment').select('target_id')
    .where('actor_id', 'in', actors).where('type', 'in', ['UserDomain', 'GroupDomain']).where('inherited', '=', 0).execute();
  return new Set(rows.map((r: { target_id: string }) => r.target_id));
}
