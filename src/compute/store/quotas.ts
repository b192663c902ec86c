// Quota limits (per project, per user within a project, per quota class) and the usage counts
// Nova's quota engine checks them against: instances/cores/ram from live instances, key pairs per
// user, server groups per project and user, a group's members per user.

import type { Kysely } from 'kysely';
import { prepared } from '../../common/db/prepared.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Db = Kysely<any>;

const now = () => new Date().toISOString();

/** Project-wide limits (userId undefined) or one user's limits within the project. */
const limitsOf = prepared<[string, string], { resource: string; hard_limit: number }>((db, projectId, userId) =>
  db.selectFrom('quotas').select(['resource', 'hard_limit']).where('project_id', '=', projectId).where('user_id', '=', userId));

export async function quotaLimits(db: Db, projectId: string, userId?: string): Promise<Record<string, number>> {
  const { rows } = await limitsOf(db, projectId, userId ?? '');
  return Object.fromEntries(rows.map((r) => [r.resource, Number(r.hard_limit)]));
}

/** Every user-level limit in a project (for the remaining-quota arithmetic). */
export async function userLimitsOfProject(db: Db, projectId: string): Promise<{ user_id: string; resource: string; hard_limit: number }[]> {
  const rows = await db.selectFrom('quotas').select(['user_id', 'resource', 'hard_limit']).where('project_id', '=', projectId).where('user_id', '<>', '').execute();
  return rows.map((r) => ({ user_id: r.user_id as string, resource: r.resource as string, hard_limit: Number(r.hard_limit) }));
}

export async function setQuotaLimit(db: Db, projectId: string, userId: string | undefined, resource: string, limit: number): Promise<void> {
  const u = userId ?? '';
  const r = await db.updateTable('quotas').set({ hard_limit: limit, updated_at: now() })
    .where('project_id', '=', projectId).where('user_id', '=', u).where('resource', '=', resource).executeTakeFirst();
  if (Number(r.numUpdatedRows) === 0) {
    await db.insertInto('quotas').values({ project_id: projectId, user_id: u, resource, hard_limit: limit, created_at: now(), updated_at: null }).execute();
  }
}

/** Deletes a project's limits (all of them, users' included) or one user's. */
export async function deleteQuotaLimits(db: Db, projectId: string, userId?: string): Promise<void> {
  let q = db.deleteFrom('quotas').where('project_id', '=', projectId);
  if (userId) q = q.where('user_id', '=', userId);
  await q.execute();
}

export async function quotaClassLimits(db: Db, className: string): Promise<Record<string, number>> {
  const rows = await db.selectFrom('quota_classes').select(['resource', 'hard_limit']).where('class_name', '=', className).execute();
  return Object.fromEntries(rows.map((r) => [r.resource as string, Number(r.hard_limit)]));
}

export async function setQuotaClassLimit(db: Db, className: string, resource: string, limit: number): Promise<void> {
  const r = await db.updateTable('quota_classes').set({ hard_limit: limit, updated_at: now() })
    .where('class_name', '=', className).where('resource', '=', resource).executeTakeFirst();
  if (Number(r.numUpdatedRows) === 0) {
    await db.insertInto('quota_classes').values({ class_name: className, resource, hard_limit: limit, created_at: now(), updated_at: null }).execute();
  }
}

/** Live (not deleted, not soft-deleted) instances of a project, or of one user in it: count, vcpus, ram. */
type UsageRow = { n: number | string; cores: number | string | null; ram: number | string | null };
const usageQuery = (db: Db, projectId: string) => db.selectFrom('instances')
  .select((eb) => [eb.fn.countAll().as('n'), eb.fn.sum('vcpus').as('cores'), eb.fn.sum('memory_mb').as('ram')])
  .where('project_id', '=', projectId).where('deleted', '=', 0).where('vm_state', '<>', 'soft-delete');
const projectUsage = prepared<[string], UsageRow>((db, projectId) => usageQuery(db, projectId));
const userUsage = prepared<[string, string], UsageRow>((db, projectId, userId) => usageQuery(db, projectId).where('user_id', '=', userId));

export async function instanceUsage(db: Db, projectId: string, userId?: string): Promise<{ instances: number; cores: number; ram: number }> {
  const r = (await (userId ? userUsage(db, projectId, userId) : projectUsage(db, projectId))).rows[0];
  return { instances: Number(r?.n ?? 0), cores: Number(r?.cores ?? 0), ram: Number(r?.ram ?? 0) };
}

export async function keypairCount(db: Db, userId: string): Promise<number> {
  const r = await db.selectFrom('key_pairs').select((eb) => eb.fn.countAll().as('n')).where('user_id', '=', userId).executeTakeFirst();
  return Number(r?.n ?? 0);
}

export async function serverGroupCount(db: Db, projectId: string, userId?: string): Promise<number> {
  let q = db.selectFrom('instance_groups').select((eb) => eb.fn.countAll().as('n')).where('project_id', '=', projectId);
  if (userId) q = q.where('user_id', '=', userId);
  const r = await q.executeTakeFirst();
  return Number(r?.n ?? 0);
}

/** Members of a server group that belong to one user's live instances. */
export async function groupMemberCount(db: Db, groupId: number, userId: string): Promise<number> {
  const r = await db.selectFrom('instance_group_member as m').innerJoin('instances as i', 'i.uuid', 'm.instance_uuid')
    .select((eb) => eb.fn.countAll().as('n')).where('m.group_id', '=', groupId).where('i.user_id', '=', userId).where('i.deleted', '=', 0)
    .executeTakeFirst();
  return Number(r?.n ?? 0);
}
