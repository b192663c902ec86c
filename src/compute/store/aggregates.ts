// Host aggregates: a name, hosts, metadata (availability_zone is the metadata key that makes an
// aggregate an availability zone).

import type { Kysely } from 'kysely';
import { randomUUID } from 'node:crypto';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Db = Kysely<any>;

export interface Aggregate {
  id: number; uuid: string; name: string; created_at: string; updated_at: string | null;
  hosts: string[]; metadata: Record<string, string>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function load(db: Db, row: Record<string, any>): Promise<Aggregate> {
  const id = Number(row.id);
  const hosts = await db.selectFrom('aggregate_hosts').select('host').where('aggregate_id', '=', id).orderBy('host').execute();
  const meta = await db.selectFrom('aggregate_metadata').select(['key', 'value']).where('aggregate_id', '=', id).orderBy('key').execute();
  return {
    id, uuid: row.uuid as string, name: row.name as string, created_at: row.created_at as string, updated_at: (row.updated_at as string | null) ?? null,
    hosts: hosts.map((h) => h.host as string), metadata: Object.fromEntries(meta.map((m) => [m.key as string, m.value as string])),
  };
}

export async function listAggregates(db: Db): Promise<Aggregate[]> {
  const rows = await db.selectFrom('aggregates').selectAll().orderBy('id').execute();
  const out: Aggregate[] = [];
  for (const r of rows) out.push(await load(db, r));
  return out;
}

export async function aggregateById(db: Db, id: number): Promise<Aggregate | undefined> {
  const r = await db.selectFrom('aggregates').selectAll().where('id', '=', id).executeTakeFirst();
  return r ? load(db, r) : undefined;
}

export async function aggregateByName(db: Db, name: string): Promise<{ id: number } | undefined> {
  const r = await db.selectFrom('aggregates').select('id').where('name', '=', name).executeTakeFirst();
  return r ? { id: Number(r.id) } : undefined;
}

export async function insertAggregate(db: Db, name: string, metadata: Record<string, string>): Promise<Aggregate> {
  const now = new Date().toISOString();
  const uuid = randomUUID();
  await db.transaction().execute(async (tx) => {
    await tx.insertInto('aggregates').values({ uuid, name, created_at: now, updated_at: null }).execute();
    const r = await tx.selectFrom('aggregates').select('id').where('uuid', '=', uuid).executeTakeFirstOrThrow();
    for (const [key, value] of Object.entries(metadata)) await tx.insertInto('aggregate_metadata').values({ aggregate_id: r.id, key, value }).execute();
  });
  const r = await db.selectFrom('aggregates').selectAll().where('uuid', '=', uuid).executeTakeFirstOrThrow();
  return load(db, r);
}

export async function renameAggregate(db: Db, id: number, name: string): Promise<void> {
  await db.updateTable('aggregates').set({ name, updated_at: new Date().toISOString() }).where('id', '=', id).execute();
}

/** Sets metadata keys; a null value deletes the key. */
export async function updateAggregateMetadata(db: Db, id: number, metadata: Record<string, string | null>): Promise<void> {
  await db.transaction().execute(async (tx) => {
    for (const [key, value] of Object.entries(metadata)) {
      await tx.deleteFrom('aggregate_metadata').where('aggregate_id', '=', id).where('key', '=', key).execute();
      if (value !== null) await tx.insertInto('aggregate_metadata').values({ aggregate_id: id, key, value }).execute();
    }
    await tx.updateTable('aggregates').set({ updated_at: new Date().toISOString() }).where('id', '=', id).execute();
  });
}

export async function deleteAggregate(db: Db, id: number): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await tx.deleteFrom('aggregate_metadata').where('aggregate_id', '=', id).execute();
    await tx.deleteFrom('aggregate_hosts').where('aggregate_id', '=', id).execute();
    await tx.deleteFrom('aggregates').where('id', '=', id).execute();
  });
}

export async function addAggregateHost(db: Db, id: number, host: string): Promise<boolean> {
  if (await db.selectFrom('aggregate_hosts').select('host').where('aggregate_id', '=', id).where('host', '=', host).executeTakeFirst()) return false;
  await db.insertInto('aggregate_hosts').values({ aggregate_id: id, host }).execute();
  return true;
}

export async function removeAggregateHost(db: Db, id: number, host: string): Promise<boolean> {
  const r = await db.deleteFrom('aggregate_hosts').where('aggregate_id', '=', id).where('host', '=', host).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

/** A host's availability zone: its aggregates' availability_zone metadata, else the default ('nova'). */
export async function hostAvailabilityZone(db: Db, host: string, defaultZone = 'nova'): Promise<string> {
  const rows = await db.selectFrom('aggregate_hosts as h').innerJoin('aggregate_metadata as m', 'm.aggregate_id', 'h.aggregate_id')
    .select('m.value').where('h.host', '=', host).where('m.key', '=', 'availability_zone').orderBy('m.value').execute();
  const zones = [...new Set(rows.map((r) => r.value as string))];
  return zones.length ? zones.join(',') : defaultZone;
}
