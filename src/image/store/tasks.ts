// Tasks (image imports) in the database.

import { sql, type Kysely } from 'kysely';
import { nowIso, parseJson } from '../util.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type DB = Kysely<any>;

export interface Task {
  id: string;
  type: string;
  status: 'pending' | 'processing' | 'success' | 'failure';
  owner: string | null;
  image_id: string | null;
  user_id: string | null;
  request_id: string | null;
  input: Record<string, unknown>;
  result: Record<string, unknown> | null;
  message: string;
  expires_at: string | null;
  created_at: string;
  updated_at: string;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function fromRow(r: Record<string, any>): Task {
  return {
    id: r.id, type: r.type, status: r.status, owner: r.owner ?? null, image_id: r.image_id ?? null,
    user_id: r.user_id ?? null, request_id: r.request_id ?? null, input: parseJson(r.input, {}),
    result: parseJson(r.result, null), message: r.message ?? '', expires_at: r.expires_at ?? null,
    created_at: r.created_at, updated_at: r.updated_at,
  };
}

export async function insertTask(db: DB, t: Task): Promise<void> {
  await db.insertInto('image_tasks').values({
    ...t, input: JSON.stringify(t.input), result: t.result === null ? null : JSON.stringify(t.result),
  }).execute();
}

export async function updateTask(db: DB, id: string, patch: Partial<Pick<Task, 'status' | 'result' | 'message' | 'expires_at'>>): Promise<void> {
  const row: Record<string, unknown> = { updated_at: nowIso() };
  if (patch.status !== undefined) row.status = patch.status;
  if (patch.result !== undefined) row.result = patch.result === null ? null : JSON.stringify(patch.result);
  if (patch.message !== undefined) row.message = patch.message;
  if (patch.expires_at !== undefined) row.expires_at = patch.expires_at;
  await db.updateTable('image_tasks').set(row).where('id', '=', id).execute();
}

export async function getTask(db: DB, id: string): Promise<Task | undefined> {
  const r = await db.selectFrom('image_tasks').selectAll().where('id', '=', id).executeTakeFirst();
  return r ? fromRow(r) : undefined;
}

/** Unexpired tasks of an image, oldest first. */
export async function tasksOfImage(db: DB, imageId: string): Promise<Task[]> {
  const now = nowIso();
  const rows = await db.selectFrom('image_tasks').selectAll().where('image_id', '=', imageId)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>=', now)]))
    .orderBy('created_at').orderBy('id').execute();
  return rows.map(fromRow);
}

export interface TaskListQuery {
  owner?: string | null;
  status?: string;
  type?: string;
  sortKey: string;
  sortDir: 'asc' | 'desc';
  limit: number;
  marker?: Task;
}

export async function listTasks(db: DB, q: TaskListQuery): Promise<Task[]> {
  const now = nowIso();
  let s = db.selectFrom('image_tasks').selectAll()
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>=', now)]));
  if (q.owner !== undefined) s = q.owner === null ? s.where('owner', 'is', null) : s.where('owner', '=', q.owner);
  if (q.status) s = s.where('status', '=', q.status);
  if (q.type) s = s.where('type', '=', q.type);
  const key = q.sortKey;
  if (q.marker) {
    const mv = (q.marker as unknown as Record<string, string>)[key] ?? '';
    const cmp = q.sortDir === 'desc' ? '<' : '>';
    s = s.where((eb) => eb.or([
      eb(sql.ref(key), cmp, mv),
      eb.and([eb(sql.ref(key), '=', mv), eb('id', cmp, q.marker!.id)]),
    ]));
  }
  const rows = await s.orderBy(sql.ref(key), q.sortDir).orderBy('id', q.sortDir).limit(q.limit).execute();
  return rows.map(fromRow);
}

/** Drops tasks past their expiry (Glance soft-deletes them; nothing needs them afterwards). */
export async function purgeExpiredTasks(db: DB): Promise<void> {
  await db.deleteFrom('image_tasks').where('expires_at', '<', nowIso()).execute();
}
