// Quota limits and enforcement (Neutron's DbQuotaNoLockDriver, simplified): a create counts the
// project's rows of the resource inside its transaction and refuses with 409 OverQuota when the
// new total would pass the limit. Limits: a neutron_quotas row, else [network] quota_<resource>.

import type { NetworkContext } from '../context.js';
import type { Tx, Db } from '../store/tx.js';
import { conflict } from './http.js';
import { keyed, prepared } from '../../common/db/prepared.js';

/** Quota resources: name -> (table counted, default option). */
export const QUOTA_RESOURCES: Record<string, { table: string; where?: [string, string] }> = {
  network: { table: 'neutron_networks' },
  subnet: { table: 'neutron_subnets' },
  subnetpool: { table: 'neutron_subnetpools' },
  port: { table: 'neutron_ports' },
  security_group: { table: 'neutron_security_groups' },
  security_group_rule: { table: 'neutron_sg_rules' },
  rbac_policy: { table: 'neutron_rbac_policies' },
  router: { table: 'neutron_routers' },
  floatingip: { table: 'neutron_floatingips' },
};

export function defaultLimit(ctx: NetworkContext, resource: string): number {
  const v = (ctx.cfg.network as unknown as Record<string, number>)[`quota_${resource}`];
  return typeof v === 'number' ? v : -1;
}

// Every create checks its quota: both statements are prepared (common/db/prepared.ts).
const quotaRows = prepared<[string], { resource: string; limit: number }>((db, project) => db.selectFrom('neutron_quotas').select(['resource', 'limit']).where('project_id', '=', project));
const countOf = keyed<string, [string], { n: unknown }>((table) => (db, project) => db.selectFrom(table).select((e) => e.fn.countAll().as('n')).where('project_id', '=', project));

export async function limitsOf(ctx: NetworkContext, db: Db | Tx, project: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const r of Object.keys(QUOTA_RESOURCES)) out[r] = defaultLimit(ctx, r);
  for (const r of (await quotaRows(db, project)).rows) if (r.resource in out) out[r.resource] = Number(r.limit);
  return out;
}

export async function usageOf(db: Db | Tx, resource: string, project: string): Promise<number> {
  const spec = QUOTA_RESOURCES[resource]!;
  try {
    const [r] = (await countOf(spec.table)(db, project)).rows;
    return Number(r?.n ?? 0);
  } catch {
    return 0; // a table another area has not created yet (routers, floating IPs)
  }
}

/** Refuses the create of `count` more `resource`s for `project` when over its limit. */
export async function checkQuota(ctx: NetworkContext, db: Db | Tx, project: string, resource: string, count = 1): Promise<void> {
  const limits = await limitsOf(ctx, db, project);
  const limit = limits[resource] ?? -1;
  if (limit < 0) return;
  const used = await usageOf(db, resource, project);
  if (used + count > limit) throw conflict('OverQuota', `Quota exceeded for resources: ['${resource}'].`);
}
