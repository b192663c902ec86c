// Nova's quota engine (nova/quota.py, DbQuotaDriver) over our database: the resources and their
// config-less Nova defaults, the 'default' quota class overriding those defaults, per-project
// limits and per-user limits inside a project, usages counted from the rows themselves (live
// instances, key pairs, server groups, group members), the settable range an update must respect,
// and checkQuota() — the check every create runs, failing with Nova's 403 wording.

import type { Kysely } from 'kysely';
import { ApiError } from '../common/errors.js';
import type { ComputeContext } from './context.js';
import {
  groupMemberCount, instanceUsage, keypairCount, quotaClassLimits, quotaLimits, serverGroupCount, userLimitsOfProject,
} from './store/quotas.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Db = Kysely<any>;

/** Nova 26's quota defaults ([quota] options; nova-network's deprecated ones are unlimited). */
export const QUOTA_DEFAULTS: Readonly<Record<string, number>> = {
  cores: 20, fixed_ips: -1, floating_ips: -1, injected_file_content_bytes: 10240, injected_file_path_bytes: 255, injected_files: 5,
  instances: 10, key_pairs: 100, metadata_items: 128, ram: 51200, security_group_rules: -1, security_groups: -1,
  server_group_members: 10, server_groups: 10,
};

/** Every quota resource, sorted (QUOTAS.resources). */
export const QUOTA_RESOURCES: readonly string[] = Object.keys(QUOTA_DEFAULTS).sort();

/** Resources left out of quota bodies from 2.36 (nova-network proxies) and from 2.57 (personality files). */
export const FILTERED_2_36 = ['fixed_ips', 'floating_ips', 'security_group_rules', 'security_groups'];
export const FILTERED_2_57 = [...FILTERED_2_36, 'injected_files', 'injected_file_content_bytes', 'injected_file_path_bytes'];

const INSTANCE_RESOURCES = ['instances', 'cores', 'ram'];

/** The defaults with the 'default' quota class applied (QuotaEngine.get_defaults). */
export async function quotaDefaults(db: Db): Promise<Record<string, number>> {
  const cls = await quotaClassLimits(db, 'default');
  return Object.fromEntries(QUOTA_RESOURCES.map((r) => [r, cls[r] ?? QUOTA_DEFAULTS[r]!]));
}

/** A quota class's limits: its own rows over the defaults (QuotaEngine.get_class_quotas). */
export async function classQuotas(db: Db, className: string): Promise<Record<string, number>> {
  const [cls, defs] = await Promise.all([quotaClassLimits(db, className), quotaDefaults(db)]);
  return Object.fromEntries(QUOTA_RESOURCES.map((r) => [r, cls[r] ?? defs[r]!]));
}

export interface QuotaDetail { limit: number; in_use: number; reserved: number }

/** In-use figures as Nova's _get_usages shows them (key pairs and group members count as 0 here). */
async function usages(db: Db, projectId: string, userId?: string): Promise<Record<string, number>> {
  const inst = await instanceUsage(db, projectId, userId);
  const u: Record<string, number> = Object.fromEntries(QUOTA_RESOURCES.map((r) => [r, 0]));
  u.instances = inst.instances;
  u.cores = inst.cores;
  u.ram = inst.ram;
  u.server_groups = await serverGroupCount(db, projectId, userId);
  return u;
}

/** A project's limits (project rows over the defaults). */
export async function projectLimits(db: Db, projectId: string): Promise<Record<string, number>> {
  const [own, defs] = await Promise.all([quotaLimits(db, projectId), quotaDefaults(db)]);
  return Object.fromEntries(QUOTA_RESOURCES.map((r) => [r, own[r] ?? defs[r]!]));
}

/** A user's limits within a project (user rows over the project's limits). */
export async function userLimits(db: Db, projectId: string, userId: string): Promise<Record<string, number>> {
  const [own, proj] = await Promise.all([quotaLimits(db, projectId, userId), projectLimits(db, projectId)]);
  return Object.fromEntries(QUOTA_RESOURCES.map((r) => [r, own[r] ?? proj[r]!]));
}

/** Limits with usages (os-quota-sets detail, os-used-limits): project-wide, or one user's. */
export async function quotaDetails(db: Db, projectId: string, userId?: string): Promise<Record<string, QuotaDetail>> {
  const limits = userId ? await userLimits(db, projectId, userId) : await projectLimits(db, projectId);
  const used = await usages(db, projectId, userId);
  return Object.fromEntries(QUOTA_RESOURCES.map((r) => [r, { limit: limits[r]!, in_use: used[r] ?? 0, reserved: 0 }]));
}

const inf = (v: number) => (v === -1 ? Infinity : v);

/**
 * The range an update may set (DbQuotaDriver.get_settable_quotas): for a project, at least what is in
 * use (and what its users' own limits already take); for a user, at most the project's remaining
 * quota plus the user's current limit.
 */
export async function settableQuotas(db: Db, projectId: string, userId?: string): Promise<Record<string, { minimum: number; maximum: number }>> {
  const proj = await projectLimits(db, projectId);
  const userRows = await userLimitsOfProject(db, projectId);
  const remains: Record<string, number> = { ...proj };
  for (const r of userRows) if (r.resource in remains && remains[r.resource] !== -1) remains[r.resource]! -= r.hard_limit;
  const out: Record<string, { minimum: number; maximum: number }> = {};
  if (userId) {
    const own = await quotaLimits(db, projectId, userId);
    const used = await usages(db, projectId, userId);
    for (const r of QUOTA_RESOURCES) {
      const rem = remains[r]!;
      const maximum = rem === -1 || own[r] === -1 ? -1 : rem + (own[r] ?? 0);
      out[r] = { minimum: used[r] ?? 0, maximum };
    }
  } else {
    const used = await usages(db, projectId);
    for (const r of QUOTA_RESOURCES) {
      const taken = proj[r] === -1 || remains[r] === -1 ? 0 : proj[r]! - remains[r]!;
      out[r] = { minimum: Math.max(taken, used[r] ?? 0), maximum: -1 };
    }
  }
  return out;
}

export interface CheckQuotaOptions {
  /** The deltas are absolute values checked against the limits, not added to usage (Nova's limit_check: metadata_items, injected_files). */
  limitOnly?: boolean;
  /** The server group whose members a server_group_members delta adds to. */
  groupId?: number;
}

/** Nova's 403 for a quota a request would exceed (the OverQuota subclass's message the API shows). */
function overQuotaError(overs: string[], requested: Record<string, number>, used: Record<string, number>, limits: Record<string, number>): ApiError {
  const detail = { overs, requested, used, limits };
  const msg = (m: string) => new ApiError('Forbidden', m, { detail });
  if (overs.some((o) => INSTANCE_RESOURCES.includes(o))) {
    const o = overs.filter((x) => INSTANCE_RESOURCES.includes(x));
    const list = o.join(', ');
    return msg(`Quota exceeded for ${list}: Requested ${o.map((x) => requested[x]).join(', ')}, but already used ${o.map((x) => used[x]).join(', ')} of ${o.map((x) => limits[x]).join(', ')} ${list}`);
  }
  const first = overs[0]!;
  switch (first) {
    case 'metadata_items': return msg(`Maximum number of metadata items exceeds ${limits[first]}`);
    case 'key_pairs': return msg('Quota exceeded, too many key pairs.');
    case 'server_groups': return msg('Quota exceeded, too many server groups.');
    case 'server_group_members': return msg('Quota exceeded, too many servers in group');
    case 'injected_files': return msg('Personality file limit exceeded');
    case 'injected_file_path_bytes': return msg(`Personality file path exceeds maximum ${limits[first]}`);
    case 'injected_file_content_bytes': return msg(`Personality file content exceeds maximum ${limits[first]}`);
    default: return msg(`Quota exceeded for resources: [${overs.map((x) => `'${x}'`).join(', ')}]`);
  }
}

/**
 * Checks that adding `deltas` (e.g. `{instances: 1, cores: 2, ram: 512}`) to what `projectId` (and
 * `userId` within it) already uses stays within their quotas, as Nova's Quotas.check_deltas does:
 * instances/cores/ram against the project's live instances (and the user's, when the user has own
 * limits for them), key_pairs against the user's key pairs, server_groups against the project's
 * and the user's groups, server_group_members against the user's servers in `opts.groupId`. With
 * `limitOnly` (or `true` as the fifth argument) the values are checked as they are (metadata_items,
 * injected_files: Nova's limit_check). A limit of -1 is unlimited.
 *
 * Throws ApiError 403 with Nova's message, e.g. "Quota exceeded for cores: Requested 4, but already
 * used 18 of 20 cores", "Quota exceeded, too many key pairs.", "Maximum number of metadata items
 * exceeds 128". The error's `detail` carries {overs, requested, used, limits}.
 */
export async function checkQuota(ctx: ComputeContext | { db: Db }, projectId: string, userId: string, deltas: Record<string, number>, opts: boolean | CheckQuotaOptions = {}): Promise<void> {
  const o: CheckQuotaOptions = typeof opts === 'boolean' ? { limitOnly: opts } : opts;
  const db = ctx.db;
  const proj = await projectLimits(db, projectId);
  const ownUser = await quotaLimits(db, projectId, userId);
  const user: Record<string, number> = Object.fromEntries(QUOTA_RESOURCES.map((r) => [r, ownUser[r] ?? proj[r]!]));
  const overs = new Set<string>();
  const used: Record<string, number> = {};
  const limitOf: Record<string, number> = {};
  const check = (r: string, value: number, limit: number, usedNow: number) => {
    if (value > inf(limit)) { overs.add(r); used[r] = usedNow; limitOf[r] = limit; }
  };
  const keys = Object.keys(deltas).filter((k) => k in QUOTA_DEFAULTS);
  if (o.limitOnly) {
    for (const r of keys) { check(r, deltas[r]!, proj[r]!, 0); check(r, deltas[r]!, user[r]!, 0); }
  } else {
    if (keys.some((k) => INSTANCE_RESOURCES.includes(k))) {
      const p = await instanceUsage(db, projectId);
      const userScoped = INSTANCE_RESOURCES.some((r) => r in ownUser);
      const u = userScoped ? await instanceUsage(db, projectId, userId) : null;
      for (const r of INSTANCE_RESOURCES) {
        if (!(r in deltas)) continue;
        const pr = p[r as keyof typeof p];
        check(r, pr + deltas[r]!, proj[r]!, pr);
        if (u && !overs.has(r)) { const ur = u[r as keyof typeof u]; check(r, ur + deltas[r]!, user[r]!, ur); }
      }
    }
    if ('key_pairs' in deltas) {
      const n = await keypairCount(db, userId);
      check('key_pairs', n + deltas.key_pairs!, proj.key_pairs!, n);
      if (!overs.has('key_pairs')) check('key_pairs', n + deltas.key_pairs!, user.key_pairs!, n);
    }
    if ('server_groups' in deltas) {
      const pn = await serverGroupCount(db, projectId);
      const un = await serverGroupCount(db, projectId, userId);
      check('server_groups', pn + deltas.server_groups!, proj.server_groups!, pn);
      if (!overs.has('server_groups')) check('server_groups', un + deltas.server_groups!, user.server_groups!, un);
    }
    if ('server_group_members' in deltas) {
      const n = o.groupId !== undefined ? await groupMemberCount(db, o.groupId, userId) : 0;
      check('server_group_members', n + deltas.server_group_members!, user.server_group_members!, n);
    }
    for (const r of keys) {
      if (['key_pairs', 'server_groups', 'server_group_members', ...INSTANCE_RESOURCES].includes(r)) continue;
      check(r, deltas[r]!, proj[r]!, 0);
      check(r, deltas[r]!, user[r]!, 0);
    }
  }
  if (overs.size) throw overQuotaError([...overs].sort(), deltas, used, limitOf);
}
