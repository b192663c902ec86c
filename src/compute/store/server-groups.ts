// Server groups (Nova's instance groups): a policy (affinity, anti-affinity, soft-affinity,
// soft-anti-affinity), rules (max_server_per_host) and members. serverGroupOf/addMember/groupHosts
// are what server create and the scheduler use for the `group` scheduler hint.

import type { Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Db = Kysely<any>;

export interface ServerGroupRow {
  id: number; uuid: string; name: string | null; project_id: string; user_id: string; policy: string;
  rules: Record<string, number>; created_at: string;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function toRow(r: any): ServerGroupRow {
  let rules: Record<string, number> = {};
  try { rules = r.rules ? JSON.parse(r.rules) : {}; } catch { rules = {}; }
  const typed: Record<string, number> = {};
  if (rules.max_server_per_host !== undefined) typed.max_server_per_host = Number(rules.max_server_per_host);
  return { id: Number(r.id), uuid: r.uuid, name: r.name, project_id: r.project_id, user_id: r.user_id, policy: r.policy, rules: typed, created_at: r.created_at };
}

export async function insertServerGroup(db: Db, g: { uuid: string; name: string | null; project_id: string; user_id: string; policy: string; rules: Record<string, number> }): Promise<ServerGroupRow> {
  await db.insertInto('instance_groups').values({
    uuid: g.uuid, name: g.name, project_id: g.project_id, user_id: g.user_id, policy: g.policy,
    rules: Object.keys(g.rules).length ? JSON.stringify(g.rules) : null, created_at: new Date().toISOString(), updated_at: null,
  }).execute();
  return (await serverGroupByUuid(db, g.uuid))!;
}

export async function serverGroupByUuid(db: Db, uuid: string): Promise<ServerGroupRow | undefined> {
  const r = await db.selectFrom('instance_groups').selectAll().where('uuid', '=', uuid).executeTakeFirst();
  return r ? toRow(r) : undefined;
}

/** Groups of one project (or all when projectId is undefined), oldest first. */
export async function listServerGroups(db: Db, projectId?: string): Promise<ServerGroupRow[]> {
  let q = db.selectFrom('instance_groups').selectAll().orderBy('id');
  if (projectId !== undefined) q = q.where('project_id', '=', projectId);
  return (await q.execute()).map(toRow);
}

export async function deleteServerGroup(db: Db, id: number): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await tx.deleteFrom('instance_group_member').where('group_id', '=', id).execute();
    await tx.deleteFrom('instance_groups').where('id', '=', id).execute();
  });
}

/** Members whose instances still exist (not deleted), in the order they joined. */
export async function liveMembers(db: Db, groupId: number): Promise<string[]> {
  const rows = await db.selectFrom('instance_group_member as m').innerJoin('instances as i', 'i.uuid', 'm.instance_uuid')
    .select('m.instance_uuid').where('m.group_id', '=', groupId).where('i.deleted', '=', 0).orderBy('m.created_at').orderBy('m.instance_uuid').execute();
  return rows.map((r) => r.instance_uuid as string);
}

/** The server group an instance belongs to, if any. */
export async function serverGroupOf(db: Db, instanceUuid: string): Promise<ServerGroupRow | undefined> {
  const r = await db.selectFrom('instance_group_member as m').innerJoin('instance_groups as g', 'g.id', 'm.group_id')
    .selectAll('g').where('m.instance_uuid', '=', instanceUuid).executeTakeFirst();
  return r ? toRow(r) : undefined;
}

/** Adds an instance to a group (idempotent). */
export async function addMember(db: Db, groupId: number, instanceUuid: string): Promise<void> {
  const exists = await db.selectFrom('instance_group_member').select('group_id').where('group_id', '=', groupId).where('instance_uuid', '=', instanceUuid).executeTakeFirst();
  if (exists) return;
  await db.insertInto('instance_group_member').values({ group_id: groupId, instance_uuid: instanceUuid, created_at: new Date().toISOString() }).execute();
}

export async function removeMember(db: Db, instanceUuid: string): Promise<void> {
  await db.deleteFrom('instance_group_member').where('instance_uuid', '=', instanceUuid).execute();
}

/** The hosts the group's live members run on (with how many members each), for the (anti-)affinity filters. */
export async function groupHosts(db: Db, groupId: number, exceptInstance?: string): Promise<Map<string, number>> {
  let q = db.selectFrom('instance_group_member as m').innerJoin('instances as i', 'i.uuid', 'm.instance_uuid')
    .select(['i.host', 'i.uuid']).where('m.group_id', '=', groupId).where('i.deleted', '=', 0).where('i.host', 'is not', null);
  if (exceptInstance) q = q.where('i.uuid', '<>', exceptInstance);
  const out = new Map<string, number>();
  for (const r of await q.execute()) out.set(r.host as string, (out.get(r.host as string) ?? 0) + 1);
  return out;
}
