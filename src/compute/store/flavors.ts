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
