// Helpers every network resource shares: tags by resource, RBAC visibility, quota counting,
// JSON columns and integer booleans.

import { randomUUID } from 'node:crypto';
import type { Db, Tx } from './tx.js';

export const newId = (): string => randomUUID();
export const b = (v: unknown): number => (v ? 1 : 0);
export const json = (v: unknown): string => JSON.stringify(v ?? null);
export function parse<T>(s: unknown, dflt: T): T {
  if (typeof s !== 'string' || !s) return dflt;
  try { return JSON.parse(s) as T; } catch { return dflt; }
}

/** Tags of the given resources, sorted as Neutron returns them. */
export async function tagsOf(db: Db | Tx, type: string, ids: string[]): Promise<Map<string, string[]>> {
  const m = new Map<string, string[]>();
  if (!ids.length) return m;
  const rows = ids.length > 500
    ? await db.selectFrom('neutron_tags').select(['resource_id', 'tag']).where('resource_type', '=', type).execute()
    : await db.selectFrom('neutron_tags').select(['resource_id', 'tag']).where('resource_type', '=', type).where('resource_id', 'in', ids).execute();
  for (const r of rows as { resource_id: string; tag: string }[]) (m.get(r.resource_id) ?? m.set(r.resource_id, []).get(r.resource_id)!).push(r.tag);
  for (const v of m.values()) v.sort();
  return m;
}

export async function deleteTags(db: Db | Tx, type: string, id: string): Promise<void> {
  await db.deleteFrom('neutron_tags').where('resource_type', '=', type).where('resource_id', '=', id).execute();
}

/** RBAC rows of one object type granting `action` to `project` (or to everyone). */
export async function rbacGranted(db: Db | Tx, objectType: string, action: string, project: string): Promise<Set<string>> {
  const rows = await db.selectFrom('neutron_rbac_policies').select('object_id')
    .where('object_type', '=', objectType).where('action', '=', action).where('target_project', 'in', ['*', project]).execute();
  return new Set((rows as { object_id: string }[]).map((r) => r.object_id));
}

export async function rbacWildcard(db: Db | Tx, objectType: string, action: string, ids?: string[]): Promise<Set<string>> {
  let q = db.selectFrom('neutron_rbac_policies').select('object_id')
    .where('object_type', '=', objectType).where('action', '=', action).where('target_project', '=', '*');
  if (ids) { if (!ids.length) return new Set(); q = q.where('object_id', 'in', ids); }
  return new Set(((await q.execute()) as { object_id: string }[]).map((r) => r.object_id));
}

/** Bumps revision_number and updated_at of a resource row (Neutron's revision plugin). */
export async function bump(db: Db | Tx, table: string, id: string, now: string): Promise<void> {
  const { sql } = await import('kysely');
  await db.updateTable(table).set({ revision_number: sql`revision_number + 1`, updated_at: now }).where('id', '=', id).execute();
}
