// Consumers and their allocations: the claim transaction, reads and usages.
//
// A write (PUT /allocations/{c}, POST /allocations, DELETE, reshaper) runs in one transaction:
//   1. each consumer row is created or has its generation bumped (compare-and-set against the
//      caller's consumer_generation from 1.28): two writers of one consumer conflict here;
//   2. every provider receiving allocations is locked by bumping its generation, in uuid order;
//   3. the consumers' old allocations are removed, and capacity is checked against what is
//      committed now: (total - reserved) * allocation_ratio - used >= requested, with
//      min_unit <= requested <= max_unit and requested % step_size == 0;
//   4. the new allocations are written; consumers left without allocations are removed.
// Because step 2 holds the provider rows until commit, a concurrent claim on the same provider
// waits and then sees this one's usage: providers are never oversubscribed, on any engine.

import { sql } from 'kysely';
import { isUniqueViolation, nowIso } from '../../common/db/index.js';
import { conflict, CODES } from '../api/http.js';
import { resourceClassExists } from './providers.js';
import { writeTx, type Db, type StoreDb, type Tx } from '../../common/db/tx.js';

export interface ConsumerWrite {
  consumer: string;
  project_id: string;
  user_id: string;
  /** undefined: no generation check (before 1.28); null: the consumer must be new. */
  consumer_generation?: number | null;
  consumer_type?: string | null;
  /** provider uuid -> resource class -> amount (an empty object removes the consumer's allocations). */
  allocations: Record<string, Record<string, number>>;
}

/** Placement's InvalidInventory family: a 409 "Unable to allocate inventory: ...". */
export class AllocationInvalid extends Error {}
/** An unknown resource class or provider in an allocation: a 400. */
export class AllocationNotFound extends Error {}
export class AllocationProviderMissing extends Error {
  constructor(readonly provider: string) { super(`Allocation for resource provider '${provider}' that does not exist.`); }
}

export interface Consumer { uuid: string; project_id: string; user_id: string; generation: number; consumer_type: string | null }

export async function getConsumer(db: Db | Tx, uuid: string): Promise<Consumer | undefined> {
  const r = await db.selectFrom('placement_consumers').selectAll().where('uuid', '=', uuid).executeTakeFirst();
  return r ? { uuid: r.uuid, project_id: r.project_id, user_id: r.user_id, generation: Number(r.generation), consumer_type: r.consumer_type ?? null } : undefined;
}

async function touchConsumer(trx: Tx, w: ConsumerWrite, now: string): Promise<void> {
  const existing = await getConsumer(trx, w.consumer);
  if (existing) {
    if (w.consumer_generation !== undefined && existing.generation !== w.consumer_generation) {
      throw conflict(`consumer generation conflict - expected ${existing.generation} but got ${w.consumer_generation ?? 'None'}`, CODES.CONCURRENT_UPDATE);
    }
    const q = trx.updateTable('placement_consumers').set({
      generation: sql`generation + 1`, project_id: w.project_id, user_id: w.user_id, updated_at: now,
      ...(w.consumer_type ? { consumer_type: w.consumer_type } : {}),
    }).where('uuid', '=', w.consumer).where('generation', '=', existing.generation);
    const r = await q.executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) {
      throw conflict('consumer generation conflict - Another thread concurrently updated the data. Please retry your update', CODES.CONCURRENT_UPDATE);
    }
    return;
  }
  if (w.consumer_generation !== undefined && w.consumer_generation !== null) {
    throw conflict(`consumer generation conflict - expected null but got ${w.consumer_generation}`, CODES.CONCURRENT_UPDATE);
  }
  try {
    await trx.insertInto('placement_consumers').values({
      uuid: w.consumer, project_id: w.project_id, user_id: w.user_id, generation: 1, consumer_type: w.consumer_type ?? null, created_at: now, updated_at: now,
    }).execute();
  } catch (e) {
    if (isUniqueViolation(e)) throw conflict('consumer generation conflict - expected null but got a consumer created concurrently', CODES.CONCURRENT_UPDATE);
    throw e;
  }
}

/** Writes allocations for one or more consumers in one transaction (see the file comment). */
export async function writeAllocations(s: StoreDb, writes: ConsumerWrite[]): Promise<void> {
  await writeTx(s, async (trx) => {
    const now = nowIso();
    const sorted = [...writes].sort((a, b) => (a.consumer < b.consumer ? -1 : a.consumer > b.consumer ? 1 : 0));
    for (const w of sorted) await touchConsumer(trx, w, now);

    // Providers receiving allocations, and those of consumers being emptied (as Placement bumps them).
    const targets = new Set<string>();
    for (const w of writes) for (const rp of Object.keys(w.allocations)) targets.add(rp);
    const emptied = writes.filter((w) => Object.keys(w.allocations).length === 0).map((w) => w.consumer);
    if (emptied.length) {
      for (const r of await trx.selectFrom('placement_allocations').select('resource_provider_uuid').distinct().where('consumer_uuid', 'in', emptied).execute()) targets.add(r.resource_provider_uuid);
    }
    for (const rp of [...targets].sort()) {
      const r = await trx.updateTable('placement_resource_providers').set({ generation: sql`generation + 1`, updated_at: now }).where('uuid', '=', rp).executeTakeFirst();
      if (Number(r.numUpdatedRows) === 0) throw new AllocationProviderMissing(rp);
    }

    const consumers = writes.map((w) => w.consumer);
    await trx.deleteFrom('placement_allocations').where('consumer_uuid', 'in', consumers).execute();

    // Capacity, against committed usage (rows locked above).
    const need = new Map<string, number>();
    for (const w of writes) {
      for (const [rp, res] of Object.entries(w.allocations)) {
        for (const [rc, amount] of Object.entries(res)) {
          if (!(await resourceClassExists(trx, rc))) throw new AllocationNotFound(`No such resource class ${rc}.`);
          const key = `${rp} ${rc}`;
          need.set(key, (need.get(key) ?? 0) + amount);
        }
      }
    }
    const rps = [...new Set([...need.keys()].map((k) => k.split(' ')[0]!))];
    if (rps.length) {
      const inv = new Map<string, { total: number; reserved: number; min_unit: number; max_unit: number; step_size: number; allocation_ratio: number; used: number }>();
      for (const r of await trx.selectFrom('placement_inventories').selectAll().where('resource_provider_uuid', 'in', rps).execute()) {
        inv.set(`${r.resource_provider_uuid} ${r.resource_class}`, {
          total: Number(r.total), reserved: Number(r.reserved), min_unit: Number(r.min_unit), max_unit: Number(r.max_unit),
          step_size: Number(r.step_size), allocation_ratio: Number(r.allocation_ratio), used: 0,
        });
      }
      for (const r of await trx.selectFrom('placement_allocations').select(['resource_provider_uuid', 'resource_class', sql<number>`sum(used)`.as('used')])
        .where('resource_provider_uuid', 'in', rps).groupBy(['resource_provider_uuid', 'resource_class']).execute()) {
        const i = inv.get(`${r.resource_provider_uuid} ${r.resource_class}`);
        if (i) i.used = Number(r.used);
      }
      for (const rp of rps) {
        const classes = [...need.keys()].filter((k) => k.startsWith(`${rp} `)).map((k) => k.slice(rp.length + 1));
        if (!classes.some((rc) => inv.has(`${rp} ${rc}`))) {
          throw new AllocationInvalid(`Inventory for '${classes.join(', ')}' on resource provider '${rp}' invalid.`);
        }
      }
      for (const w of writes) {
        for (const [rp, res] of Object.entries(w.allocations)) {
          for (const [rc, amount] of Object.entries(res)) {
            if (amount === 0) continue;
            const i = inv.get(`${rp} ${rc}`);
            if (!i) throw new AllocationInvalid(`Inventory for '${rc}' on resource provider '${rp}' invalid.`);
            if (amount < i.min_unit || amount > i.max_unit || amount % i.step_size !== 0) {
              throw new AllocationInvalid(`Unable to create allocation for '${rc}' on resource provider '${rp}'. The requested amount would violate inventory constraints.`);
            }
            const capacity = (i.total - i.reserved) * i.allocation_ratio;
            if (capacity < i.used + need.get(`${rp} ${rc}`)!) {
              throw new AllocationInvalid(`Unable to create allocation for '${rc}' on resource provider '${rp}'. The requested amount would exceed the capacity.`);
            }
          }
        }
      }
    }

    const rows: Record<string, unknown>[] = [];
    for (const w of writes) {
      for (const [rp, res] of Object.entries(w.allocations)) {
        for (const [rc, amount] of Object.entries(res)) {
          if (amount > 0) rows.push({ consumer_uuid: w.consumer, resource_provider_uuid: rp, resource_class: rc, used: amount, created_at: now, updated_at: now });
        }
      }
    }
    if (rows.length) await trx.insertInto('placement_allocations').values(rows).execute();
    const withAllocs = new Set(rows.map((r) => r.consumer_uuid as string));
    const gone = consumers.filter((c) => !withAllocs.has(c));
    if (gone.length) await trx.deleteFrom('placement_consumers').where('uuid', 'in', gone).execute();
  });
}

/** DELETE /allocations/{consumer}: false when the consumer had none. */
export async function deleteAllocations(s: StoreDb, consumer: string): Promise<boolean> {
  return writeTx(s, async (trx) => {
    const rps = (await trx.selectFrom('placement_allocations').select('resource_provider_uuid').distinct().where('consumer_uuid', '=', consumer).execute())
      .map((r) => r.resource_provider_uuid as string).sort();
    if (!rps.length) return false;
    await trx.deleteFrom('placement_allocations').where('consumer_uuid', '=', consumer).execute();
    await trx.deleteFrom('placement_consumers').where('uuid', '=', consumer).execute();
    return true;
  });
}

export interface ConsumerAllocations {
  consumer: Consumer | undefined;
  allocations: Record<string, { generation: number; resources: Record<string, number> }>;
  updated_at: string | null;
}

export async function consumerAllocations(db: Db, consumer: string): Promise<ConsumerAllocations> {
  const rows = await db.selectFrom('placement_allocations as a').innerJoin('placement_resource_providers as rp', 'rp.uuid', 'a.resource_provider_uuid')
    .select(['a.resource_provider_uuid', 'a.resource_class', 'a.used', 'a.updated_at', 'rp.generation']).where('a.consumer_uuid', '=', consumer).execute();
  const allocations: ConsumerAllocations['allocations'] = {};
  let updated: string | null = null;
  for (const r of rows) {
    const e = allocations[r.resource_provider_uuid] ??= { generation: Number(r.generation), resources: {} };
    e.resources[r.resource_class] = Number(r.used);
    if (!updated || r.updated_at > updated) updated = r.updated_at;
  }
  return { consumer: rows.length ? await getConsumer(db, consumer) : undefined, allocations, updated_at: updated };
}

export async function providerAllocations(db: Db, rp: string): Promise<Record<string, { resources: Record<string, number>; consumer_generation: number | null }>> {
  const rows = await db.selectFrom('placement_allocations as a').leftJoin('placement_consumers as c', 'c.uuid', 'a.consumer_uuid')
    .select(['a.consumer_uuid', 'a.resource_class', 'a.used', 'c.generation']).where('a.resource_provider_uuid', '=', rp).execute();
  const out: Record<string, { resources: Record<string, number>; consumer_generation: number | null }> = {};
  for (const r of rows) {
    const e = out[r.consumer_uuid] ??= { resources: {}, consumer_generation: r.generation === null ? null : Number(r.generation) };
    e.resources[r.resource_class] = Number(r.used);
  }
  return out;
}

/** GET /resource_providers/{uuid}/usages: every inventory class with its usage (0 when unused). */
export async function providerUsages(db: Db, rp: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const r of await db.selectFrom('placement_inventories').select('resource_class').where('resource_provider_uuid', '=', rp).execute()) out[r.resource_class] = 0;
  for (const r of await db.selectFrom('placement_allocations').select(['resource_class', sql<number>`sum(used)`.as('used')]).where('resource_provider_uuid', '=', rp).groupBy('resource_class').execute()) {
    if (r.resource_class in out) out[r.resource_class] = Number(r.used);
  }
  return out;
}

/** GET /usages: sums over a project's (and user's) consumers, optionally per consumer type. */
export async function totalUsages(db: Db, projectId: string, userId?: string, consumerType?: string): Promise<Array<{ consumer_type: string; resource_class: string; used: number; consumers: number }>> {
  let q = db.selectFrom('placement_allocations as a').innerJoin('placement_consumers as c', 'c.uuid', 'a.consumer_uuid')
    .select(['a.consumer_uuid', 'a.resource_class', 'a.used', 'c.consumer_type']).where('c.project_id', '=', projectId);
  if (userId) q = q.where('c.user_id', '=', userId);
  const rows = await q.execute();
  const groups = new Map<string, { rcs: Map<string, number>; consumers: Set<string> }>();
  for (const r of rows) {
    const ct = r.consumer_type ?? 'unknown';
    if (consumerType === 'unknown' && r.consumer_type) continue;
    if (consumerType && consumerType !== 'all' && consumerType !== 'unknown' && ct !== consumerType) continue;
    const key = consumerType === 'all' ? 'all' : ct;
    let g = groups.get(key);
    if (!g) groups.set(key, g = { rcs: new Map(), consumers: new Set() });
    g.rcs.set(r.resource_class, (g.rcs.get(r.resource_class) ?? 0) + Number(r.used));
    g.consumers.add(r.consumer_uuid);
  }
  const out: Array<{ consumer_type: string; resource_class: string; used: number; consumers: number }> = [];
  for (const [ct, g] of groups) for (const [rc, used] of g.rcs) out.push({ consumer_type: ct, resource_class: rc, used, consumers: g.consumers.size });
  return out;
}
