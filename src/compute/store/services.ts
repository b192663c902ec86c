// nova-compute (and control) services and their compute nodes, as the compute agent reports them:
// upsertService() when it starts, heartbeat() every few seconds, upsertComputeNode() with the
// hypervisor's resources. A service is up when its last heartbeat is less than 60 s old (Nova's
// service_down_time) and it is not forced down.

import type { Kysely } from 'kysely';
import { randomUUID } from 'node:crypto';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Db = Kysely<any>;

/** Nova's [DEFAULT] service_down_time. */
export const SERVICE_DOWN_TIME_S = 60;

export interface ServiceRow {
  id: number; uuid: string; host: string; binary: string; topic: string | null; report_count: number; disabled: number;
  disabled_reason: string | null; forced_down: number; last_seen_up: string | null; created_at: string; updated_at: string | null;
}

export interface ComputeNodeRow {
  id: number; uuid: string; host: string; hypervisor_hostname: string; hypervisor_type: string; hypervisor_version: number;
  vcpus: number; memory_mb: number; local_gb: number; cpu_info: string | null; host_ip: string | null; created_at: string; updated_at: string | null;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const svc = (r: any): ServiceRow => ({ ...r, id: Number(r.id), report_count: Number(r.report_count), disabled: Number(r.disabled), forced_down: Number(r.forced_down) });
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const node = (r: any): ComputeNodeRow => ({ ...r, id: Number(r.id), hypervisor_version: Number(r.hypervisor_version), vcpus: Number(r.vcpus), memory_mb: Number(r.memory_mb), local_gb: Number(r.local_gb) });

/** Registers a service (host + binary such as nova-compute) or returns the existing row; marks it seen now. */
export async function upsertService(db: Db, host: string, binary: string, topic: string | null = binary.replace(/^nova-/, '')): Promise<ServiceRow> {
  const now = new Date().toISOString();
  const existing = await db.selectFrom('services').selectAll().where('host', '=', host).where('binary', '=', binary).executeTakeFirst();
  if (existing) {
    await db.updateTable('services').set({ last_seen_up: now, updated_at: now }).where('id', '=', existing.id).execute();
  } else {
    try {
      await db.insertInto('services').values({
        uuid: randomUUID(), host, binary, topic, report_count: 0, disabled: 0, disabled_reason: null, forced_down: 0,
        last_seen_up: now, created_at: now, updated_at: null,
      }).execute();
    } catch (e) {
      // Another process registered it first: fall through to the read.
      if (!(await db.selectFrom('services').select('id').where('host', '=', host).where('binary', '=', binary).executeTakeFirst())) throw e;
    }
  }
  return svc(await db.selectFrom('services').selectAll().where('host', '=', host).where('binary', '=', binary).executeTakeFirstOrThrow());
}

/** The service's periodic report: last_seen_up = now, report_count + 1. */
export async function heartbeat(db: Db, host: string, binary: string): Promise<void> {
  const now = new Date().toISOString();
  const r = await db.updateTable('services').set((eb) => ({ last_seen_up: now, updated_at: now, report_count: eb('report_count', '+', 1) }))
    .where('host', '=', host).where('binary', '=', binary).executeTakeFirst();
  if (Number(r.numUpdatedRows) === 0) await upsertService(db, host, binary);
}

export interface ComputeNodeReport {
  host: string; hypervisor_hostname: string; hypervisor_type: string; hypervisor_version: number;
  vcpus: number; memory_mb: number; local_gb: number; cpu_info?: Record<string, unknown> | string | null; host_ip?: string | null;
  /** Keeps a given uuid (e.g. the placement resource provider's); new nodes get a random one otherwise. */
  uuid?: string;
}

/** Creates or updates the compute node of a hypervisor (by hypervisor_hostname). */
export async function upsertComputeNode(db: Db, n: ComputeNodeReport): Promise<ComputeNodeRow> {
  const now = new Date().toISOString();
  const cpu = n.cpu_info === undefined || n.cpu_info === null ? null : typeof n.cpu_info === 'string' ? n.cpu_info : JSON.stringify(n.cpu_info);
  const values = {
    host: n.host, hypervisor_type: n.hypervisor_type, hypervisor_version: n.hypervisor_version, vcpus: n.vcpus, memory_mb: n.memory_mb,
    local_gb: n.local_gb, cpu_info: cpu, host_ip: n.host_ip ?? null,
  };
  const existing = await db.selectFrom('compute_nodes').select('id').where('hypervisor_hostname', '=', n.hypervisor_hostname).executeTakeFirst();
  if (existing) await db.updateTable('compute_nodes').set({ ...values, updated_at: now }).where('id', '=', existing.id).execute();
  else await db.insertInto('compute_nodes').values({ ...values, uuid: n.uuid ?? randomUUID(), hypervisor_hostname: n.hypervisor_hostname, created_at: now, updated_at: null }).execute();
  return node(await db.selectFrom('compute_nodes').selectAll().where('hypervisor_hostname', '=', n.hypervisor_hostname).executeTakeFirstOrThrow());
}

/** Whether a service is up: not forced down and seen within SERVICE_DOWN_TIME_S. */
export function isUp(row: Pick<ServiceRow, 'last_seen_up' | 'forced_down' | 'updated_at' | 'created_at'>, now = Date.now()): boolean {
  if (Number(row.forced_down)) return false;
  const seen = row.last_seen_up ?? row.updated_at ?? row.created_at;
  if (!seen) return false;
  return now - Date.parse(seen) <= SERVICE_DOWN_TIME_S * 1000;
}

export async function listServices(db: Db, f: { host?: string; binary?: string } = {}): Promise<ServiceRow[]> {
  let q = db.selectFrom('services').selectAll().orderBy('id');
  if (f.host !== undefined) q = q.where('host', '=', f.host);
  if (f.binary !== undefined) q = q.where('binary', '=', f.binary);
  return (await q.execute()).map(svc);
}

export async function serviceById(db: Db, id: number | string): Promise<ServiceRow | undefined> {
  const q = typeof id === 'number' ? db.selectFrom('services').selectAll().where('id', '=', id) : db.selectFrom('services').selectAll().where('uuid', '=', id);
  const r = await q.executeTakeFirst();
  return r ? svc(r) : undefined;
}

export async function updateService(db: Db, id: number, set: Partial<Pick<ServiceRow, 'disabled' | 'disabled_reason' | 'forced_down'>>): Promise<ServiceRow> {
  await db.updateTable('services').set({ ...set, updated_at: new Date().toISOString() }).where('id', '=', id).execute();
  return (await serviceById(db, id))!;
}

/** Deletes a service and, for a compute service, its compute nodes. */
export async function deleteService(db: Db, s: ServiceRow): Promise<void> {
  await db.transaction().execute(async (tx) => {
    if (s.binary === 'nova-compute') await tx.deleteFrom('compute_nodes').where('host', '=', s.host).execute();
    await tx.deleteFrom('aggregate_hosts').where('host', '=', s.host).execute();
    await tx.deleteFrom('services').where('id', '=', s.id).execute();
  });
}

export async function listComputeNodes(db: Db, f: { host?: string; hostnameLike?: string } = {}): Promise<ComputeNodeRow[]> {
  let q = db.selectFrom('compute_nodes').selectAll().orderBy('id');
  if (f.host !== undefined) q = q.where('host', '=', f.host);
  if (f.hostnameLike !== undefined) q = q.where('hypervisor_hostname', 'like', `%${f.hostnameLike.replace(/[\\%_]/g, (c) => '\\' + c)}%`);
  return (await q.execute()).map(node);
}

export async function computeNodeById(db: Db, id: number | string): Promise<ComputeNodeRow | undefined> {
  const q = typeof id === 'number' ? db.selectFrom('compute_nodes').selectAll().where('id', '=', id) : db.selectFrom('compute_nodes').selectAll().where('uuid', '=', id);
  const r = await q.executeTakeFirst();
  return r ? node(r) : undefined;
}

/** Resources the live instances on a host/node use (for the hypervisor's *_used fields). */
export async function nodeUsage(db: Db, host: string, nodeName: string): Promise<{ vcpus: number; memory_mb: number; local_gb: number; running_vms: number }> {
  const r = await db.selectFrom('instances')
    .select((eb) => [eb.fn.countAll().as('n'), eb.fn.sum('vcpus').as('v'), eb.fn.sum('memory_mb').as('m'), eb.fn.sum('root_gb').as('r'), eb.fn.sum('ephemeral_gb').as('e')])
    .where('host', '=', host).where('node', '=', nodeName).where('deleted', '=', 0).executeTakeFirst();
  return { running_vms: Number(r?.n ?? 0), vcpus: Number(r?.v ?? 0), memory_mb: Number(r?.m ?? 0), local_gb: Number(r?.r ?? 0) + Number(r?.e ?? 0) };
}
