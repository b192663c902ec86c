// Resource providers and what hangs off them: inventories, traits, aggregates; custom resource
// classes and traits. Functions throw Placement's API errors for the conditions Placement reports.

import { sql } from 'kysely';
import { isUniqueViolation, isForeignKeyViolation, nowIso } from '../../common/db/index.js';
import { badRequest, conflict, notFound, CODES } from '../api/http.js';
import { STANDARD_RESOURCE_CLASSES, STANDARD_TRAITS } from '../standard.js';
import { writeTx, type Db, type StoreDb, type Tx } from '../../common/db/tx.js';

export interface Provider {
  uuid: string; name: string; generation: number;
  parent_provider_uuid: string | null; root_provider_uuid: string;
  created_at: string; updated_at: string;
}

export interface Inventory {
  resource_class: string; total: number; reserved: number; min_unit: number; max_unit: number;
  step_size: number; allocation_ratio: number; created_at?: string; updated_at?: string;
}

export const MAX_INT = 2147483647;
const STANDARD_RC = new Set(STANDARD_RESOURCE_CLASSES);
const STANDARD_TRAIT = new Set(STANDARD_TRAITS);

const T = 'placement_resource_providers';

function row(r: Record<string, unknown>): Provider {
  return {
    uuid: r.uuid as string, name: r.name as string, generation: Number(r.generation),
    parent_provider_uuid: (r.parent_provider_uuid as string | null) ?? null, root_provider_uuid: r.root_provider_uuid as string,
    created_at: r.created_at as string, updated_at: r.updated_at as string,
  };
}

export async function getProvider(db: Db | Tx, uuid: string): Promise<Provider | undefined> {
  const r = await db.selectFrom(T).selectAll().where('uuid', '=', uuid).executeTakeFirst();
  return r ? row(r) : undefined;
}

/** ResourceProvider.get_by_uuid: 404 "No resource provider with uuid X found". */
export async function mustGetProvider(db: Db | Tx, uuid: string): Promise<Provider> {
  const p = await getProvider(db, uuid);
  if (!p) throw notFound(`No resource provider with uuid ${uuid} found`);
  return p;
}

export interface ProviderFilters {
  name?: string; uuid?: string; in_tree?: string;
  resources?: Record<string, number>;
  member_of?: string[][]; forbidden_aggs?: string[];
  required_traits?: string[][]; forbidden_traits?: string[];
}

export async function listProviders(db: Db, f: ProviderFilters): Promise<Provider[]> {
  let q = db.selectFrom(T).selectAll();
  if (f.name !== undefined) q = q.where('name', '=', f.name);
  if (f.uuid !== undefined) q = q.where('uuid', '=', f.uuid);
  if (f.in_tree !== undefined) {
    const p = await getProvider(db, f.in_tree);
    if (!p) return [];
    q = q.where('root_provider_uuid', '=', p.root_provider_uuid);
  }
  let rows = (await q.orderBy('created_at').orderBy('uuid').execute()).map(row);
  if (f.member_of?.length || f.forbidden_aggs?.length) {
    const aggs = await aggregatesByProvider(db, rows.map((r) => r.uuid));
    rows = rows.filter((r) => {
      const mine = aggs.get(r.uuid) ?? new Set<string>();
      return (f.member_of ?? []).every((any) => any.some((a) => mine.has(a)))
        && !(f.forbidden_aggs ?? []).some((a) => mine.has(a));
    });
  }
  if (f.required_traits?.length || f.forbidden_traits?.length) {
    const all = [...(f.required_traits ?? []).flat(), ...(f.forbidden_traits ?? [])];
    await assertTraitsExist(db, all);
    const traits = await traitsByProvider(db, rows.map((r) => r.uuid));
    rows = rows.filter((r) => {
      const mine = traits.get(r.uuid) ?? new Set<string>();
      return (f.required_traits ?? []).every((any) => any.some((t) => mine.has(t)))
        && !(f.forbidden_traits ?? []).some((t) => mine.has(t));
    });
  }
  if (f.resources && Object.keys(f.resources).length) {
    for (const rc of Object.keys(f.resources)) await assertResourceClass(db, rc);
    const inv = await inventoriesWithUsage(db, rows.map((r) => r.uuid));
    rows = rows.filter((r) => Object.entries(f.resources!).every(([rc, amount]) => {
      const i = inv.get(`${r.uuid} ${rc}`);
      if (!i) return false;
      return amount >= i.min_unit && amount <= i.max_unit && amount % i.step_size === 0
        && (i.total - i.reserved) * i.allocation_ratio - i.used >= amount;
    }));
  }
  return rows;
}

export interface InventoryUsage extends Inventory { resource_provider_uuid: string; used: number }

/** Inventories of providers with their current usage, keyed "rp rc". */
export async function inventoriesWithUsage(db: Db | Tx, uuids: string[] | null): Promise<Map<string, InventoryUsage>> {
  const out = new Map<string, InventoryUsage>();
  if (uuids && uuids.length === 0) return out;
  let iq = db.selectFrom('placement_inventories').selectAll();
  if (uuids) iq = iq.where('resource_provider_uuid', 'in', uuids);
  for (const r of await iq.execute()) {
    out.set(`${r.resource_provider_uuid} ${r.resource_class}`, {
      resource_provider_uuid: r.resource_provider_uuid, resource_class: r.resource_class, total: Number(r.total), reserved: Number(r.reserved),
      min_unit: Number(r.min_unit), max_unit: Number(r.max_unit), step_size: Number(r.step_size), allocation_ratio: Number(r.allocation_ratio), used: 0,
    });
  }
  let uq = db.selectFrom('placement_allocations').select(['resource_provider_uuid', 'resource_class', sql<number>`sum(used)`.as('used')])
    .groupBy(['resource_provider_uuid', 'resource_class']);
  if (uuids) uq = uq.where('resource_provider_uuid', 'in', uuids);
  for (const r of await uq.execute()) {
    const i = out.get(`${r.resource_provider_uuid} ${r.resource_class}`);
    if (i) i.used = Number(r.used);
  }
  return out;
}

export async function createProvider(s: StoreDb, d: { uuid: string; name: string; parent_provider_uuid?: string | null }): Promise<Provider> {
  const now = nowIso();
  const fail = (why: string) => badRequest(`Unable to create resource provider "${d.name}", ${d.uuid}: Object action create failed because: ${why}`);
  return writeTx(s, async (trx) => {
    let root = d.uuid;
    const parent = d.parent_provider_uuid ?? null;
    if (parent !== null) {
      if (parent === d.uuid) throw fail('parent provider UUID cannot be same as UUID. Please set parent provider UUID to None if there is no parent.');
      const p = await getProvider(trx, parent);
      if (!p) throw fail('parent provider UUID does not exist.');
      root = p.root_provider_uuid;
    }
    const dup: string[] = [];
    if (await trx.selectFrom(T).select('uuid').where('uuid', '=', d.uuid).executeTakeFirst()) dup.push(`uuid: ${d.uuid}`);
    if (await trx.selectFrom(T).select('uuid').where('name', '=', d.name).executeTakeFirst()) dup.push(`name: ${d.name}`);
    if (dup.length) throw conflict(`Conflicting resource provider ${dup.join(', ')} already exists.`, CODES.DUPLICATE_NAME);
    try {
      await trx.insertInto(T).values({ uuid: d.uuid, name: d.name, generation: 0, parent_provider_uuid: parent, root_provider_uuid: root, created_at: now, updated_at: now }).execute();
    } catch (e) {
      if (isUniqueViolation(e)) throw conflict(`Conflicting resource provider name: ${d.name} already exists.`, CODES.DUPLICATE_NAME);
      throw e;
    }
    return { uuid: d.uuid, name: d.name, generation: 0, parent_provider_uuid: parent, root_provider_uuid: root, created_at: now, updated_at: now };
  });
}

export async function updateProvider(s: StoreDb, uuid: string, d: { name?: string; parent_provider_uuid?: string | null }, allowReparenting: boolean): Promise<Provider> {
  const fail = (action: string, why: string) => badRequest(`Unable to save resource provider ${uuid}: Object action ${action} failed because: ${why}`);
  return writeTx(s, async (trx) => {
    const me = await mustGetProvider(trx, uuid);
    const now = nowIso();
    const upd: Record<string, unknown> = { updated_at: now };
    if (d.name !== undefined) upd.name = d.name;
    let newRoot: string | undefined;
    if ('parent_provider_uuid' in d && d.parent_provider_uuid !== me.parent_provider_uuid) {
      const parent = d.parent_provider_uuid ?? null;
      if (parent !== null) {
        const p = await getProvider(trx, parent);
        if (!p) throw fail('create', 'parent provider UUID does not exist.');
        if (me.parent_provider_uuid !== null && !allowReparenting) throw fail('update', 're-parenting a provider is not currently allowed.');
        const subtree = await subtreeOf(trx, me.uuid);
        if (subtree.has(parent)) throw fail('update', 'creating loop in the provider tree is not allowed.');
        upd.parent_provider_uuid = parent;
        newRoot = p.root_provider_uuid;
      } else {
        if (!allowReparenting) throw fail('update', 'un-parenting a provider is not currently allowed.');
        upd.parent_provider_uuid = null;
        newRoot = me.uuid;
      }
    }
    try {
      await trx.updateTable(T).set(upd).where('uuid', '=', uuid).execute();
    } catch (e) {
      if (isUniqueViolation(e)) throw conflict(`Conflicting resource provider ${d.name} already exists.`, CODES.DUPLICATE_NAME);
      throw e;
    }
    if (newRoot !== undefined && newRoot !== me.root_provider_uuid) {
      const subtree = [...await subtreeOf(trx, me.uuid)];
      await trx.updateTable(T).set({ root_provider_uuid: newRoot }).where('uuid', 'in', subtree).execute();
    }
    return (await getProvider(trx, uuid))!;
  });
}

async function subtreeOf(db: Db | Tx, uuid: string): Promise<Set<string>> {
  const me = await getProvider(db, uuid);
  if (!me) return new Set();
  const tree = await db.selectFrom(T).select(['uuid', 'parent_provider_uuid']).where('root_provider_uuid', '=', me.root_provider_uuid).execute();
  const out = new Set([uuid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const r of tree) if (r.parent_provider_uuid && out.has(r.parent_provider_uuid) && !out.has(r.uuid)) { out.add(r.uuid); grew = true; }
  }
  return out;
}

export async function deleteProvider(s: StoreDb, uuid: string): Promise<void> {
  await writeTx(s, async (trx) => {
    const locked = await trx.updateTable(T).set({ generation: sql`generation + 1` }).where('uuid', '=', uuid).executeTakeFirst();
    if (Number(locked.numUpdatedRows) === 0) throw notFound(`No resource provider with uuid ${uuid} found for delete`);
    if (await trx.selectFrom(T).select('uuid').where('parent_provider_uuid', '=', uuid).executeTakeFirst()) {
      throw conflict(`Unable to delete parent resource provider ${uuid}: It has child resource providers.`, CODES.PROVIDER_CANNOT_DELETE_PARENT);
    }
    if (await trx.selectFrom('placement_allocations').select('consumer_uuid').where('resource_provider_uuid', '=', uuid).executeTakeFirst()) {
      throw conflict(`Unable to delete resource provider ${uuid}: Resource provider has allocations.`, CODES.PROVIDER_IN_USE);
    }
    for (const t of ['placement_inventories', 'placement_provider_traits', 'placement_provider_aggregates']) {
      await trx.deleteFrom(t).where('resource_provider_uuid', '=', uuid).execute();
    }
    try {
      await trx.deleteFrom(T).where('uuid', '=', uuid).execute();
    } catch (e) {
      if (isForeignKeyViolation(e)) throw conflict(`Unable to delete resource provider ${uuid}: Resource provider has allocations.`, CODES.PROVIDER_IN_USE);
      throw e;
    }
  });
}

/**
 * Locks a provider for a write that the caller made against `generation` (null: any): bumps it.
 * A mismatch is Placement's concurrent update (409 placement.concurrent_update).
 */
export async function bumpGeneration(trx: Tx, uuid: string, generation: number | null, message = 'resource provider generation conflict'): Promise<number> {
  let q = trx.updateTable(T).set({ generation: sql`generation + 1`, updated_at: nowIso() }).where('uuid', '=', uuid);
  if (generation !== null) q = q.where('generation', '=', generation);
  const r = await q.executeTakeFirst();
  if (Number(r.numUpdatedRows) === 0) {
    if (!(await getProvider(trx, uuid))) throw notFound(`No resource provider with uuid ${uuid} found`);
    throw conflict(message, CODES.CONCURRENT_UPDATE);
  }
  return (await getProvider(trx, uuid))!.generation;
}

// ---- resource classes ----

export function isStandardResourceClass(name: string): boolean { return STANDARD_RC.has(name); }

export async function resourceClassExists(db: Db | Tx, name: string): Promise<boolean> {
  if (STANDARD_RC.has(name)) return true;
  return !!(await db.selectFrom('placement_resource_classes').select('name').where('name', '=', name).executeTakeFirst());
}

export async function assertResourceClass(db: Db | Tx, name: string): Promise<void> {
  if (!(await resourceClassExists(db, name))) throw badRequest(`Invalid resource class in resources parameter: No such resource class ${name}.`);
}

export async function listResourceClasses(db: Db): Promise<Array<{ name: string; created_at?: string; updated_at?: string }>> {
  const custom = await db.selectFrom('placement_resource_classes').selectAll().orderBy('name').execute();
  return [...STANDARD_RESOURCE_CLASSES.map((name) => ({ name })), ...custom.map((r) => ({ name: r.name as string, created_at: r.created_at as string, updated_at: r.updated_at as string }))];
}

/** Adds a custom name (resource class or trait) to `table`; false when it is a standard one or already existed. */
async function createCustom(db: Db, table: string, standard: Set<string>, name: string): Promise<boolean> {
  if (standard.has(name)) return false;
  const now = nowIso();
  try {
    await db.insertInto(table).values({ name, created_at: now, updated_at: now }).execute();
    return true;
  } catch (e) {
    if (isUniqueViolation(e)) return false;
    throw e;
  }
}

/** Deletes a custom name from `table` unless a row of `usedIn` still names it in `column`: 'missing', 'inuse' or 'ok'. */
async function deleteCustom(s: StoreDb, table: string, usedIn: string, column: string, name: string): Promise<'missing' | 'inuse' | 'ok'> {
  return writeTx(s, async (trx) => {
    if (!(await trx.selectFrom(table).select('name').where('name', '=', name).executeTakeFirst())) return 'missing';
    if (await trx.selectFrom(usedIn).select(column).where(column, '=', name).executeTakeFirst()) return 'inuse';
    await trx.deleteFrom(table).where('name', '=', name).execute();
    return 'ok';
  });
}

/** Creates a custom class; false when it already existed. */
export async function createResourceClass(db: Db, name: string): Promise<boolean> {
  return createCustom(db, 'placement_resource_classes', STANDARD_RC, name);
}

/** Deletes a custom class: 'missing', 'inuse' or 'ok'. */
export async function deleteResourceClass(s: StoreDb, name: string): Promise<'missing' | 'inuse' | 'ok'> {
  return deleteCustom(s, 'placement_resource_classes', 'placement_inventories', 'resource_class', name);
}

// ---- inventories ----

export async function listInventories(db: Db | Tx, uuid: string): Promise<Inventory[]> {
  const rows = await db.selectFrom('placement_inventories').selectAll().where('resource_provider_uuid', '=', uuid).orderBy('resource_class').execute();
  return rows.map((r) => ({
    resource_class: r.resource_class, total: Number(r.total), reserved: Number(r.reserved), min_unit: Number(r.min_unit),
    max_unit: Number(r.max_unit), step_size: Number(r.step_size), allocation_ratio: Number(r.allocation_ratio),
    created_at: r.created_at, updated_at: r.updated_at,
  }));
}

async function inUse(trx: Tx, uuid: string, classes: string[]): Promise<string[]> {
  if (!classes.length) return [];
  const rows = await trx.selectFrom('placement_allocations').select('resource_class').where('resource_provider_uuid', '=', uuid)
    .where('resource_class', 'in', classes).groupBy('resource_class').execute();
  return rows.map((r) => r.resource_class as string);
}

export class InventoryInUse extends Error {
  constructor(readonly classes: string[], readonly provider: string) {
    super(`Inventory for '${classes.join(', ')}' on resource provider '${provider}' in use.`);
  }
}
export class UnknownResourceClass extends Error {
  constructor(readonly rc: string) { super(`No such resource class ${rc}.`); }
}

/**
 * Replaces all inventories of a provider (PUT .../inventories, DELETE .../inventories) at
 * `generation`; returns the new generation. Removing a class with allocations: InventoryInUse.
 */
export async function setInventories(s: StoreDb, uuid: string, generation: number | null, invs: Inventory[], conflictMessage?: string): Promise<number> {
  return writeTx(s, async (trx) => {
    const gen = await bumpGeneration(trx, uuid, generation, conflictMessage);
    for (const i of invs) if (!(await resourceClassExists(trx, i.resource_class))) throw new UnknownResourceClass(i.resource_class);
    const existing = await listInventories(trx, uuid);
    const keep = new Set(invs.map((i) => i.resource_class));
    const removed = existing.filter((e) => !keep.has(e.resource_class)).map((e) => e.resource_class);
    const busy = await inUse(trx, uuid, removed);
    if (busy.length) throw new InventoryInUse(busy, uuid);
    if (removed.length) await trx.deleteFrom('placement_inventories').where('resource_provider_uuid', '=', uuid).where('resource_class', 'in', removed).execute();
    const now = nowIso();
    const had = new Map(existing.map((e) => [e.resource_class, e]));
    for (const i of invs) {
      const vals = { total: i.total, reserved: i.reserved, min_unit: i.min_unit, max_unit: i.max_unit, step_size: i.step_size, allocation_ratio: i.allocation_ratio, updated_at: now };
      if (had.has(i.resource_class)) {
        await trx.updateTable('placement_inventories').set(vals).where('resource_provider_uuid', '=', uuid).where('resource_class', '=', i.resource_class).execute();
      } else {
        await trx.insertInto('placement_inventories').values({ resource_provider_uuid: uuid, resource_class: i.resource_class, ...vals, created_at: now }).execute();
      }
    }
    return gen;
  });
}

/** POST .../inventories: one new class; 409 when it exists. */
export async function addInventory(s: StoreDb, uuid: string, inv: Inventory): Promise<number> {
  return writeTx(s, async (trx) => {
    const gen = await bumpGeneration(trx, uuid, null);
    if (!(await resourceClassExists(trx, inv.resource_class))) throw new UnknownResourceClass(inv.resource_class);
    const now = nowIso();
    try {
      await trx.insertInto('placement_inventories').values({ resource_provider_uuid: uuid, ...inv, created_at: now, updated_at: now }).execute();
    } catch (e) {
      if (isUniqueViolation(e)) throw conflict(`Update conflict: (pymysql.err.IntegrityError) Duplicate entry for resource class ${inv.resource_class}`, CODES.CONCURRENT_UPDATE);
      throw e;
    }
    return gen;
  });
}

/** PUT .../inventories/{rc} at `generation`. */
export async function updateInventory(s: StoreDb, uuid: string, generation: number, inv: Inventory): Promise<number> {
  return writeTx(s, async (trx) => {
    const gen = await bumpGeneration(trx, uuid, generation);
    const r = await trx.updateTable('placement_inventories').set({
      total: inv.total, reserved: inv.reserved, min_unit: inv.min_unit, max_unit: inv.max_unit, step_size: inv.step_size, allocation_ratio: inv.allocation_ratio, updated_at: nowIso(),
    }).where('resource_provider_uuid', '=', uuid).where('resource_class', '=', inv.resource_class).executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) {
      throw badRequest(`No inventory record with resource class for resource provider ${uuid}: No inventory of class ${inv.resource_class} found.`);
    }
    return gen;
  });
}

/** DELETE .../inventories/{rc}. */
export async function deleteInventory(s: StoreDb, uuid: string, rc: string): Promise<void> {
  await writeTx(s, async (trx) => {
    await bumpGeneration(trx, uuid, null);
    const busy = await inUse(trx, uuid, [rc]);
    if (busy.length) throw conflict(`Unable to delete inventory of class ${rc}: ${new InventoryInUse(busy, uuid).message}`, CODES.CONCURRENT_UPDATE);
    const r = await trx.deleteFrom('placement_inventories').where('resource_provider_uuid', '=', uuid).where('resource_class', '=', rc).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw notFound(`No inventory of class ${rc} found for delete: No inventory of class ${rc} found for delete`);
  });
}

// ---- traits ----

export function isStandardTrait(name: string): boolean { return STANDARD_TRAIT.has(name); }

export async function traitExists(db: Db | Tx, name: string): Promise<boolean> {
  if (STANDARD_TRAIT.has(name)) return true;
  return !!(await db.selectFrom('placement_traits').select('name').where('name', '=', name).executeTakeFirst());
}

export async function assertTraitsExist(db: Db | Tx, names: string[]): Promise<void> {
  const missing: string[] = [];
  for (const n of new Set(names)) if (!(await traitExists(db, n))) missing.push(n);
  if (missing.length) throw badRequest(`Invalid trait(s) in "required" parameter: No such trait(s): ${missing.join(', ')}.`);
}

export async function listTraits(db: Db, filter: { startswith?: string; in?: string[]; associated?: boolean }): Promise<string[]> {
  const custom = (await db.selectFrom('placement_traits').select('name').execute()).map((r) => r.name as string);
  let all = [...STANDARD_TRAITS, ...custom];
  if (filter.startswith !== undefined) all = all.filter((t) => t.startsWith(filter.startswith!));
  if (filter.in) { const s = new Set(filter.in); all = all.filter((t) => s.has(t)); }
  if (filter.associated !== undefined) {
    const used = new Set((await db.selectFrom('placement_provider_traits').select('trait').distinct().execute()).map((r) => r.trait as string));
    all = all.filter((t) => used.has(t) === filter.associated);
  }
  return all.sort();
}

/** Creates a custom trait; false when it already existed. */
export async function createTrait(db: Db, name: string): Promise<boolean> {
  return createCustom(db, 'placement_traits', STANDARD_TRAIT, name);
}

/** Deletes a custom trait: 'missing', 'inuse' or 'ok'. */
export async function deleteTrait(s: StoreDb, name: string): Promise<'missing' | 'inuse' | 'ok'> {
  return deleteCustom(s, 'placement_traits', 'placement_provider_traits', 'trait', name);
}

/** A provider link table (traits, aggregates) as provider uuid -> the set of its `column` values; every provider when `uuids` is null. */
async function linksByProvider(db: Db | Tx, table: string, column: string, uuids: string[] | null): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>();
  if (uuids && !uuids.length) return out;
  let q = db.selectFrom(table).selectAll();
  if (uuids) q = q.where('resource_provider_uuid', 'in', uuids);
  for (const r of await q.execute()) {
    let set = out.get(r.resource_provider_uuid);
    if (!set) out.set(r.resource_provider_uuid, set = new Set());
    set.add(r[column]);
  }
  return out;
}

export async function traitsByProvider(db: Db | Tx, uuids: string[] | null): Promise<Map<string, Set<string>>> {
  return linksByProvider(db, 'placement_provider_traits', 'trait', uuids);
}

export async function providerTraits(db: Db | Tx, uuid: string): Promise<string[]> {
  return [...(await traitsByProvider(db, [uuid])).get(uuid) ?? []].sort();
}

/** Replaces a provider's traits at `generation`; returns the new generation. */
export async function setProviderTraits(s: StoreDb, uuid: string, generation: number | null, traits: string[]): Promise<number> {
  return writeTx(s, async (trx) => {
    const gen = await bumpGeneration(trx, uuid, generation);
    await trx.deleteFrom('placement_provider_traits').where('resource_provider_uuid', '=', uuid).execute();
    const uniq = [...new Set(traits)];
    if (uniq.length) await trx.insertInto('placement_provider_traits').values(uniq.map((t) => ({ resource_provider_uuid: uuid, trait: t }))).execute();
    return gen;
  });
}

// ---- aggregates ----

export async function aggregatesByProvider(db: Db | Tx, uuids: string[] | null): Promise<Map<string, Set<string>>> {
  return linksByProvider(db, 'placement_provider_aggregates', 'aggregate_uuid', uuids);
}

export async function providerAggregates(db: Db | Tx, uuid: string): Promise<string[]> {
  return [...(await aggregatesByProvider(db, [uuid])).get(uuid) ?? []].sort();
}

export async function setProviderAggregates(s: StoreDb, uuid: string, generation: number | null, aggs: string[], bump: boolean): Promise<number> {
  return writeTx(s, async (trx) => {
    const gen = bump ? await bumpGeneration(trx, uuid, generation) : (await mustGetProvider(trx, uuid)).generation;
    await trx.deleteFrom('placement_provider_aggregates').where('resource_provider_uuid', '=', uuid).execute();
    const uniq = [...new Set(aggs)];
    if (uniq.length) await trx.insertInto('placement_provider_aggregates').values(uniq.map((a) => ({ resource_provider_uuid: uuid, aggregate_uuid: a }))).execute();
    return gen;
  });
}
