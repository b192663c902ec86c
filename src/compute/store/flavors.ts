// Flavor rows and the lookups servers need. The flavors API (api/flavors.ts) adds the rest.

import type { Kysely } from 'kysely';

export interface FlavorRow {
  id: number; flavorid: string; name: string; memory_mb: number; vcpus: number; root_gb: number;
  ephemeral_gb: number; swap: number; rxtx_factor: number; vcpu_weight: number | null;
  is_public: number; disabled: number; description: string | null; created_at: string; updated_at: string | null;
}

/** A flavor as copied into an instance (Nova keeps the instance's own copy: later flavor edits don't change it). */
export interface FlavorCopy {
  id: number; flavorid: string; name: string; memory_mb: number; vcpus: number; root_gb: number;
  ephemeral_gb: number; swap: number; rxtx_factor: number; vcpu_weight: number | null; is_public: boolean;
  description: string | null; extra_specs: Record<string, string>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Db = Kysely<any>;

export async function flavorByFlavorId(db: Db, flavorid: string): Promise<FlavorRow | undefined> {
  return db.selectFrom('flavors').selectAll().where('flavorid', '=', flavorid).executeTakeFirst() as Promise<FlavorRow | undefined>;
}

export async function extraSpecs(db: Db, id: number): Promise<Record<string, string>> {
  const rows = await db.selectFrom('flavor_extra_specs').select(['key', 'value']).where('flavor_id', '=', id).execute();
  return Object.fromEntries(rows.map((r) => [r.key as string, (r.value ?? '') as string]));
}

/** Whether a project may use a flavor: public, or listed in its access list. */
export async function flavorAccessible(db: Db, f: FlavorRow, projectId: string): Promise<boolean> {
  if (f.is_public) return true;
  const r = await db.selectFrom('flavor_projects').select('project_id').where('flavor_id', '=', f.id).where('project_id', '=', projectId).executeTakeFirst();
  return !!r;
}

export async function flavorCopy(db: Db, f: FlavorRow): Promise<FlavorCopy> {
  return {
    id: f.id, flavorid: f.flavorid, name: f.name, memory_mb: f.memory_mb, vcpus: f.vcpus, root_gb: f.root_gb,
    ephemeral_gb: f.ephemeral_gb, swap: f.swap, rxtx_factor: Number(f.rxtx_factor), vcpu_weight: f.vcpu_weight,
    is_public: !!f.is_public, description: f.description, extra_specs: await extraSpecs(db, f.id),
  };
}

// ---- the flavors API's queries ----

export interface FlavorListFilter {
  /** true: public (plus the project's private ones), false: private only, null: all. */
  isPublic: boolean | null;
  disabled?: boolean;
  minMemoryMb?: number;
  minRootGb?: number;
  /** The caller's project (private flavors it has access to are visible); admin sees all. */
  projectId: string;
  isAdmin: boolean;
}

async function accessibleIds(db: Db, projectId: string): Promise<Set<number>> {
  const rows = await db.selectFrom('flavor_projects').select('flavor_id').where('project_id', '=', projectId).execute();
  return new Set(rows.map((r) => Number(r.flavor_id)));
}

const num = (f: FlavorRow): FlavorRow => ({ ...f, id: Number(f.id), rxtx_factor: Number(f.rxtx_factor), is_public: Number(f.is_public), disabled: Number(f.disabled) });

/** Flavors as Nova's FlavorList.get_all filters them (sorted and paginated by the caller). */
export async function listFlavorRows(db: Db, f: FlavorListFilter): Promise<FlavorRow[]> {
  let q = db.selectFrom('flavors').selectAll();
  if (f.minMemoryMb !== undefined) q = q.where('memory_mb', '>=', f.minMemoryMb);
  if (f.minRootGb !== undefined) q = q.where('root_gb', '>=', f.minRootGb);
  if (f.disabled !== undefined) q = q.where('disabled', '=', f.disabled ? 1 : 0);
  const rows = ((await q.execute()) as FlavorRow[]).map(num);
  const access = await accessibleIds(db, f.projectId);
  return rows.filter((r) => {
    // Non-admins only ever see public flavors and the private ones shared with their project.
    if (!f.isAdmin && !r.is_public && !access.has(r.id)) return false;
    if (f.isPublic === null) return true;
    if (f.isPublic) return !!r.is_public || access.has(r.id);
    return !r.is_public;
  });
}

/** A flavor by its API id as the caller may see it (Nova's _flavor_get_query_from_db). */
export async function visibleFlavor(db: Db, flavorid: string, projectId: string, isAdmin: boolean): Promise<FlavorRow | undefined> {
  const f = await flavorByFlavorId(db, flavorid);
  if (!f) return undefined;
  const row = num(f);
  if (isAdmin || row.is_public) return row;
  return (await flavorAccessible(db, row, projectId)) ? row : undefined;
}

export interface NewFlavor {
  flavorid: string; name: string; memory_mb: number; vcpus: number; root_gb: number; ephemeral_gb: number;
  swap: number; rxtx_factor: number; is_public: boolean; description: string | null;
}

/** Inserts a flavor; throws 'name' or 'id' when one already exists. */
export async function insertFlavor(db: Db, n: NewFlavor, isUnique: (e: unknown) => boolean): Promise<FlavorRow> {
  if (await db.selectFrom('flavors').select('id').where('flavorid', '=', n.flavorid).executeTakeFirst()) throw new FlavorConflict('id');
  if (await db.selectFrom('flavors').select('id').where('name', '=', n.name).executeTakeFirst()) throw new FlavorConflict('name');
  try {
    await db.insertInto('flavors').values({
      flavorid: n.flavorid, name: n.name, memory_mb: n.memory_mb, vcpus: n.vcpus, root_gb: n.root_gb, ephemeral_gb: n.ephemeral_gb,
      swap: n.swap, rxtx_factor: n.rxtx_factor, vcpu_weight: null, is_public: n.is_public ? 1 : 0, disabled: 0,
      description: n.description, created_at: new Date().toISOString(), updated_at: null,
    }).execute();
  } catch (e) {
    if (!isUnique(e)) throw e;
    const byId = await db.selectFrom('flavors').select('id').where('flavorid', '=', n.flavorid).executeTakeFirst();
    throw new FlavorConflict(byId ? 'id' : 'name');
  }
  return num((await flavorByFlavorId(db, n.flavorid))!);
}

export class FlavorConflict extends Error {
  constructor(readonly what: 'name' | 'id') { super(`flavor ${what} exists`); }
}

export async function deleteFlavorRow(db: Db, id: number): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await tx.deleteFrom('flavor_extra_specs').where('flavor_id', '=', id).execute();
    await tx.deleteFrom('flavor_projects').where('flavor_id', '=', id).execute();
    await tx.deleteFrom('flavors').where('id', '=', id).execute();
  });
}

export async function setFlavorDescription(db: Db, id: number, description: string | null): Promise<void> {
  await db.updateTable('flavors').set({ description, updated_at: new Date().toISOString() }).where('id', '=', id).execute();
}

/** Sets (creates or replaces) extra specs. */
export async function putExtraSpecs(db: Db, id: number, specs: Record<string, string>): Promise<void> {
  await db.transaction().execute(async (tx) => {
    for (const [key, value] of Object.entries(specs)) {
      const upd = await tx.updateTable('flavor_extra_specs').set({ value }).where('flavor_id', '=', id).where('key', '=', key).executeTakeFirst();
      if (Number(upd.numUpdatedRows) === 0) await tx.insertInto('flavor_extra_specs').values({ flavor_id: id, key, value }).execute();
    }
  });
}

/** Removes one extra spec; false when the flavor has no such key. */
export async function deleteExtraSpec(db: Db, id: number, key: string): Promise<boolean> {
  const r = await db.deleteFrom('flavor_extra_specs').where('flavor_id', '=', id).where('key', '=', key).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

export async function flavorProjects(db: Db, id: number): Promise<string[]> {
  const rows = await db.selectFrom('flavor_projects').select('project_id').where('flavor_id', '=', id).orderBy('project_id').execute();
  return rows.map((r) => r.project_id as string);
}

/** Grants a project access; false when it already had it. */
export async function addFlavorProject(db: Db, id: number, projectId: string, isUnique: (e: unknown) => boolean): Promise<boolean> {
  if (await db.selectFrom('flavor_projects').select('flavor_id').where('flavor_id', '=', id).where('project_id', '=', projectId).executeTakeFirst()) return false;
  try {
    await db.insertInto('flavor_projects').values({ flavor_id: id, project_id: projectId }).execute();
  } catch (e) {
    if (isUnique(e)) return false;
    throw e;
  }
  return true;
}

export async function removeFlavorProject(db: Db, id: number, projectId: string): Promise<boolean> {
  const r = await db.deleteFrom('flavor_projects').where('flavor_id', '=', id).where('project_id', '=', projectId).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}
