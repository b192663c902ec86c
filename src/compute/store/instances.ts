// Instance rows: create, read, compare-and-set updates (so two racing requests cannot both move a
// server from the same state), soft delete, metadata, tags, faults and the instance-action log.

import type { Kysely } from 'kysely';
import type { FlavorCopy } from './flavors.js';
import { nowIso, parseJson } from '../context.js';
import { insertId } from '../../common/db/index.js';
import { prepared } from '../../common/db/prepared.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Db = Kysely<any>;

export interface InstanceRow {
  id: number; uuid: string; display_name: string | null; display_description: string | null; hostname: string | null;
  project_id: string; user_id: string; image_ref: string | null; kernel_id: string | null; ramdisk_id: string | null;
  flavor: string; instance_type_id: number | null; vcpus: number; memory_mb: number; root_gb: number; ephemeral_gb: number;
  vm_state: string; task_state: string | null; power_state: number; host: string | null; node: string | null;
  availability_zone: string | null; key_name: string | null; key_data: string | null; user_data: string | null;
  config_drive: string | null; access_ip_v4: string | null; access_ip_v6: string | null;
  locked: number; locked_by: string | null; locked_reason: string | null; progress: number;
  reservation_id: string | null; launch_index: number; root_device_name: string | null; auto_disk_config: number;
  network_info: string | null; system_metadata: string | null;
  launched_at: string | null; terminated_at: string | null; created_at: string; updated_at: string | null;
  deleted_at: string | null; deleted: number;
}

/** The instance's flavors: the current one, and during a resize the old and new. */
export interface InstanceFlavors { cur: FlavorCopy; old?: FlavorCopy | null; new?: FlavorCopy | null }

export const flavorsOf = (r: InstanceRow): InstanceFlavors => parseJson<InstanceFlavors>(r.flavor, {} as InstanceFlavors);
export const systemMetadataOf = (r: InstanceRow): Record<string, string> => parseJson(r.system_metadata, {});

export async function insertInstance(db: Db, row: Omit<InstanceRow, 'id'>, metadata: Record<string, string>, tags: string[]): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await tx.insertInto('instances').values(row).execute();
    const md = Object.entries(metadata);
    if (md.length) await tx.insertInto('instance_metadata').values(md.map(([key, value]) => ({ instance_uuid: row.uuid, key, value }))).execute();
    if (tags.length) await tx.insertInto('instance_tags').values(tags.map((tag) => ({ instance_uuid: row.uuid, tag }))).execute();
  });
}

// Read several times per boot and per action: built and compiled once.
const liveInstance = prepared<[string], InstanceRow>((db, uuid) => db.selectFrom('instances').selectAll().where('uuid', '=', uuid).where('deleted', '=', 0));
const anyInstance = prepared<[string], InstanceRow>((db, uuid) => db.selectFrom('instances').selectAll().where('uuid', '=', uuid));

export async function getInstance(db: Db, uuid: string, includeDeleted = false): Promise<InstanceRow | undefined> {
  return (await (includeDeleted ? anyInstance : liveInstance)(db, uuid)).rows[0];
}

export interface Expect {
  vm_state?: readonly string[];
  /** Allowed current task states (null = none). */
  task_state?: readonly (string | null)[];
}

/**
 * Updates an instance when it is (still) in an expected state; false when another request moved
 * it first (or it was deleted). Always bumps updated_at.
 */
export async function updateInstance(db: Db, uuid: string, values: Partial<InstanceRow>, expect: Expect = {}): Promise<boolean> {
  let q = db.updateTable('instances').set({ ...values, updated_at: nowIso() }).where('uuid', '=', uuid).where('deleted', '=', 0);
  if (expect.vm_state) q = q.where('vm_state', 'in', [...expect.vm_state]);
  if (expect.task_state) {
    const named = expect.task_state.filter((t): t is string => t !== null);
    const withNull = expect.task_state.includes(null);
    q = q.where((eb) => {
      const ors = [];
      if (named.length) ors.push(eb('task_state', 'in', named));
      if (withNull) ors.push(eb('task_state', 'is', null));
      return ors.length ? eb.or(ors) : eb.val(false);
    });
  }
  const r = await q.executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** Marks the instance deleted (Nova's soft delete of the row; purged later). */
export async function markDeleted(db: Db, uuid: string): Promise<boolean> {
  const now = nowIso();
  const r = await db.updateTable('instances')
    .set({ deleted: 1, deleted_at: now, terminated_at: now, updated_at: now, vm_state: 'deleted', task_state: null, power_state: 0 })
    .where('uuid', '=', uuid).where('deleted', '=', 0).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

export async function metadataOf(db: Db, uuids: string[]): Promise<Map<string, Record<string, string>>> {
  const out = new Map<string, Record<string, string>>();
  if (!uuids.length) return out;
  for (let i = 0; i < uuids.length; i += 500) {
    const rows = await db.selectFrom('instance_metadata').select(['instance_uuid', 'key', 'value']).where('instance_uuid', 'in', uuids.slice(i, i + 500)).execute();
    for (const r of rows) {
      const m = out.get(r.instance_uuid) ?? {};
      m[r.key] = r.value ?? '';
      out.set(r.instance_uuid, m);
    }
  }
  return out;
}

export async function tagsOf(db: Db, uuids: string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (!uuids.length) return out;
  for (let i = 0; i < uuids.length; i += 500) {
    const rows = await db.selectFrom('instance_tags').select(['instance_uuid', 'tag']).where('instance_uuid', 'in', uuids.slice(i, i + 500)).orderBy('tag').execute();
    for (const r of rows) out.set(r.instance_uuid, [...(out.get(r.instance_uuid) ?? []), r.tag]);
  }
  return out;
}

export interface FaultRow { code: number; message: string; details: string | null; created_at: string }

/** The latest fault of each instance. */
export async function faultsOf(db: Db, uuids: string[]): Promise<Map<string, FaultRow>> {
  const out = new Map<string, FaultRow>();
  if (!uuids.length) return out;
  for (let i = 0; i < uuids.length; i += 500) {
    const rows = await db.selectFrom('instance_faults').select(['instance_uuid', 'code', 'message', 'details', 'created_at', 'id'])
      .where('instance_uuid', 'in', uuids.slice(i, i + 500)).orderBy('id').execute();
    for (const r of rows) out.set(r.instance_uuid, r as FaultRow);
  }
  return out;
}

export async function addFault(db: Db, uuid: string, code: number, message: string, details: string | null, host: string | null): Promise<void> {
  await db.insertInto('instance_faults').values({ instance_uuid: uuid, code, message: message.slice(0, 255), details, host, created_at: nowIso() }).execute();
}

/** Starts an instance action record (os-instance-actions), returning its id. */
export async function startAction(db: Db, a: { uuid: string; action: string; requestId: string; userId: string; projectId: string }): Promise<number> {
  const now = nowIso();
  return insertId(db, 'instance_actions', {
    action: a.action, instance_uuid: a.uuid, request_id: a.requestId, user_id: a.userId, project_id: a.projectId, start_time: now, updated_at: now,
  });
}

/** Records an event of an action (compute_start_instance, ...) with its result. */
export async function actionEvent(db: Db, actionId: number, event: string, host: string | null, fn: () => Promise<void>): Promise<void> {
  const start = nowIso();
  const eventId = await insertId(db, 'instance_action_events', { action_id: actionId, event, start_time: start, host });
  try {
    await fn();
    await db.updateTable('instance_action_events').set({ finish_time: nowIso(), result: 'Success' }).where('id', '=', eventId).execute();
  } catch (e) {
    await db.updateTable('instance_action_events').set({ finish_time: nowIso(), result: 'Error', traceback: String((e as Error).stack ?? e).slice(0, 4000) }).where('id', '=', eventId).execute();
    await db.updateTable('instance_actions').set({ message: 'Error', updated_at: nowIso() }).where('id', '=', actionId).execute();
    throw e;
  } finally {
    await db.updateTable('instance_actions').set({ finish_time: nowIso(), updated_at: nowIso() }).where('id', '=', actionId).execute();
  }
}
