// The compute agent (nova-compute): one per host. It registers its service and hypervisor, reports
// the host's resources to Placement, consumes the bus topic `compute.<host>`, runs each operation
// through the hypervisor driver — one operation at a time per instance, so a delete that arrives
// during a build waits for the build and then undoes it — and writes the outcome to the instance
// row. On start it reconciles: VMs that still run keep running and the database learns their
// power state; operations that were cut off by a restart leave the instance in ERROR with a fault.

import type { ComputeContext } from '../context.js';
import { nowIso, parseJson } from '../context.js';
import {
  actionEvent, addFault, getInstance, markDeleted, flavorsOf, systemMetadataOf, updateInstance, type InstanceRow,
} from '../store/instances.js';
import { PowerState, type HypervisorDriver, type ImageMeta, type ImageSource, type InstanceSpec } from './driver.js';
import { deleteAllocations, placementJson } from '../scheduler.js';
import { heartbeat, upsertComputeNode, upsertService } from '../store/services.js';
import { VM, TASK } from '../states.js';

export const agentTopic = (host: string) => `compute.${host}`;

/** What the API and conductor send to an agent. */
export interface AgentMessage {
  op: string;
  uuid: string;
  requestId?: string;
  actionId?: number;
  args?: Record<string, unknown>;
}

/** Operations answered synchronously over bus.call (the rest are casts). */
const CALLS = new Set(['console_output', 'vnc_console', 'power_state']);

export interface AgentOptions {
  host: string;
  /** Heartbeat period; the service counts as down after 60 s without one. */
  heartbeatSec?: number;
}

export class ComputeAgent {
  private queues = new Map<string, Promise<unknown>>();
  private unsubscribe?: () => void;
  private heartbeat?: NodeJS.Timeout;
  private nodeUuid = '';
  readonly host: string;

  constructor(private ctx: ComputeContext, readonly driver: HypervisorDriver, private images: ImageSource, private o: AgentOptions) {
    this.host = o.host;
  }

  async start(): Promise<void> {
    await this.driver.init();
    await this.registerService();
    await this.registerNode();
    await this.reconcile();
    this.unsubscribe = this.ctx.bus.consume(agentTopic(this.host), (m) => this.dispatch(m as AgentMessage));
    this.heartbeat = setInterval(() => { void this.beat().catch((e) => this.ctx.log.warn({ err: e }, 'heartbeat failed')); }, (this.o.heartbeatSec ?? 10) * 1000);
    this.heartbeat.unref();
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    if (this.heartbeat) clearInterval(this.heartbeat);
    await Promise.allSettled([...this.queues.values()]);
  }

  // --- registration -----------------------------------------------------------------------------

  private async registerService(): Promise<void> {
    await upsertService(this.ctx.db, this.host, 'nova-compute', 'compute');
  }

  private async beat(): Promise<void> {
    await heartbeat(this.ctx.db, this.host, 'nova-compute');
  }

  /** The hypervisor row and its Placement resource provider (same uuid) with the host's inventory. */
  private async registerNode(): Promise<void> {
    const db = this.ctx.db;
    const res = await this.driver.hostResources();
    const cfg = this.ctx.cfg.compute;
    // The node's uuid is also its Placement resource provider's.
    this.nodeUuid = (await upsertComputeNode(db, {
      host: this.host, hypervisor_hostname: this.host, hypervisor_type: res.hypervisorType, hypervisor_version: res.hypervisorVersion,
      vcpus: res.vcpus, memory_mb: res.memoryMb, local_gb: res.diskGb, cpu_info: res.cpuInfo, host_ip: res.hostIp,
    })).uuid;

    // Placement: the provider, then its inventory (retrying on a generation race).
    const rp = await placementJson(this.ctx, 'GET', `/resource_providers/${this.nodeUuid}`);
    if (rp.status === 404) {
      const c = await placementJson(this.ctx, 'POST', '/resource_providers', { uuid: this.nodeUuid, name: this.host });
      if (c.status !== 200 && c.status !== 201 && c.status !== 409) throw new Error(`placement: create provider: ${c.status} ${JSON.stringify(c.body)}`);
    } else if (rp.status !== 200) throw new Error(`placement: provider: ${rp.status}`);
    const inventories = {
      VCPU: { total: res.vcpus, reserved: 0, min_unit: 1, max_unit: res.vcpus, step_size: 1, allocation_ratio: Number(cfg.cpu_allocation_ratio) },
      MEMORY_MB: { total: res.memoryMb, reserved: Math.min(cfg.reserved_host_memory_mb, res.memoryMb - 1), min_unit: 1, max_unit: res.memoryMb, step_size: 1, allocation_ratio: Number(cfg.ram_allocation_ratio) },
      DISK_GB: { total: res.diskGb, reserved: Math.min(Math.ceil(cfg.reserved_host_disk_mb / 1024), res.diskGb - 1), min_unit: 1, max_unit: res.diskGb, step_size: 1, allocation_ratio: Number(cfg.disk_allocation_ratio) },
    };
    for (let attempt = 0; attempt < 5; attempt++) {
      const cur = await placementJson(this.ctx, 'GET', `/resource_providers/${this.nodeUuid}/inventories`);
      if (cur.status !== 200) throw new Error(`placement: inventories: ${cur.status}`);
      const put = await placementJson(this.ctx, 'PUT', `/resource_providers/${this.nodeUuid}/inventories`, {
        resource_provider_generation: cur.body.resource_provider_generation, inventories,
      });
      if (put.status === 200) return;
      if (put.status !== 409) throw new Error(`placement: set inventory: ${put.status} ${JSON.stringify(put.body)}`);
    }
    throw new Error('placement: inventory kept changing under us');
  }

  // --- reconciliation ---------------------------------------------------------------------------

  /** Brings the database in line with the host after a (re)start. */
  async reconcile(): Promise<void> {
    const db = this.ctx.db;
    const onHost = new Map((await this.driver.listInstances()).map((i) => [i.uuid, i]));
    const rows = await db.selectFrom('instances').selectAll().where('host', '=', this.host).where('deleted', '=', 0).execute() as InstanceRow[];
    const known = new Set(rows.map((r) => r.uuid));
    for (const inst of rows) {
      const vm = onHost.get(inst.uuid);
      if (inst.task_state === TASK.DELETING) { await this.terminate(inst.uuid); continue; }
      if (inst.vm_state === VM.BUILDING || inst.task_state) {
        // An operation was cut off by the restart: Nova's _init_instance puts builds in ERROR and clears other tasks.
        if (inst.vm_state === VM.BUILDING) {
          await updateInstance(db, inst.uuid, { vm_state: VM.ERROR, task_state: null, power_state: vm?.powerState ?? PowerState.NOSTATE });
          await addFault(db, inst.uuid, 500, 'Build was interrupted by a restart of the compute service', null, this.host);
          continue;
        }
        await updateInstance(db, inst.uuid, { task_state: null });
      }
      const ps = vm?.powerState ?? PowerState.NOSTATE;
      if (ps !== inst.power_state) await updateInstance(db, inst.uuid, { power_state: ps });
    }
    // VMs on the host that the database no longer knows (deleted while we were down) are removed.
    for (const uuid of onHost.keys()) {
      if (!known.has(uuid)) {
        const row = await getInstance(db, uuid, true);
        if (!row || row.deleted || row.host !== this.host) await this.driver.destroy(uuid).catch((e) => this.ctx.log.warn({ err: e, uuid }, 'orphan cleanup failed'));
      }
    }
  }

  // --- dispatch ---------------------------------------------------------------------------------

  /** Runs one message; operations on the same instance run one after another. */
  dispatch(m: AgentMessage): Promise<unknown> {
    if (CALLS.has(m.op)) return this.run(m);
    const prev = this.queues.get(m.uuid) ?? Promise.resolve();
    const next = prev.then(() => this.run(m)).catch((e) => { this.ctx.log.error({ err: e, op: m.op, uuid: m.uuid }, 'compute operation failed'); });
    this.queues.set(m.uuid, next);
    void next.finally(() => { if (this.queues.get(m.uuid) === next) this.queues.delete(m.uuid); });
    return next;
  }

  private async run(m: AgentMessage): Promise<unknown> {
    switch (m.op) {
      case 'build': return this.withEvent(m, 'compute__do_build_and_run_instance', () => this.build(m.uuid));
      case 'terminate': return this.withEvent(m, 'compute_terminate_instance', () => this.terminate(m.uuid));
      case 'stop': return this.simple(m, 'compute_stop_instance', async (i) => { await this.driver.powerOff(i.uuid, Number(m.args?.timeout ?? this.ctx.cfg.compute.shutdown_timeout)); }, { vm_state: VM.STOPPED, power_state: PowerState.SHUTDOWN });
      case 'start': return this.simple(m, 'compute_start_instance', async (i) => { await this.driver.powerOn(await this.spec(i)); }, { vm_state: VM.ACTIVE, power_state: PowerState.RUNNING });
      case 'reboot': return this.simple(m, 'compute_reboot_instance', async (i) => { await this.driver.reboot(await this.spec(i), m.args?.type === 'HARD'); }, { vm_state: VM.ACTIVE, power_state: PowerState.RUNNING });
      case 'pause': return this.simple(m, 'compute_pause_instance', (i) => this.driver.pause(i.uuid), { vm_state: VM.PAUSED, power_state: PowerState.PAUSED });
      case 'unpause': return this.simple(m, 'compute_unpause_instance', (i) => this.driver.unpause(i.uuid), { vm_state: VM.ACTIVE, power_state: PowerState.RUNNING });
      case 'suspend': return this.simple(m, 'compute_suspend_instance', (i) => this.driver.suspend(i.uuid), { vm_state: VM.SUSPENDED, power_state: PowerState.SHUTDOWN });
      case 'resume': return this.simple(m, 'compute_resume_instance', async (i) => { await this.driver.resume(await this.spec(i)); }, { vm_state: VM.ACTIVE, power_state: PowerState.RUNNING });
      case 'rescue': return this.simple(m, 'compute_rescue_instance', async (i) => {
        const imageId = String(m.args?.imageId ?? i.image_ref);
        const meta = await this.images.meta(imageId);
        await this.driver.rescue(await this.spec(i), meta, this.images);
      }, { vm_state: VM.RESCUED, power_state: PowerState.RUNNING });
      case 'unrescue': return this.simple(m, 'compute_unrescue_instance', async (i) => { await this.driver.unrescue(await this.spec(i)); }, { vm_state: VM.ACTIVE, power_state: PowerState.RUNNING });
      case 'snapshot': return this.snapshot(m);
      case 'rebuild': return this.rebuild(m);
      case 'resize': return this.resize(m);
      case 'confirm_resize': return this.confirmResize(m);
      case 'revert_resize': return this.revertResize(m);
      case 'shelve': return this.shelve(m);
      case 'unshelve': return this.unshelve(m);
      case 'console_output': return tailLog(await this.driver.consoleOutput(m.uuid), m.args?.length as number | undefined);
      case 'vnc_console': return this.driver.vncConsole(m.uuid);
      case 'power_state': return this.driver.powerState(m.uuid);
      default: throw new Error(`unknown compute operation ${m.op}`);
    }
  }

  private async withEvent(m: AgentMessage, event: string, fn: () => Promise<void>): Promise<void> {
    if (m.actionId === undefined) return fn();
    await actionEvent(this.ctx.db, m.actionId, event, this.host, fn);
  }

  /** A driver call that moves the instance to `after` and clears the task, or back with a fault on failure. */
  private async simple(m: AgentMessage, event: string, fn: (i: InstanceRow) => Promise<void>, after: Partial<InstanceRow>): Promise<void> {
    const inst = await getInstance(this.ctx.db, m.uuid);
    if (!inst || inst.task_state === TASK.DELETING) return;
    try {
      await this.withEvent(m, event, () => fn(inst));
      // The power state recorded is what the hypervisor reports now, not what we hoped for.
      const ps = await this.driver.powerState(m.uuid);
      const acceptable = after.power_state === PowerState.SHUTDOWN ? [PowerState.SHUTDOWN, PowerState.SUSPENDED] : [after.power_state];
      if (after.power_state !== undefined && !acceptable.includes(ps)) {
        throw new Error(`after ${m.op} the hypervisor reports power state ${ps}, expected ${after.power_state}`);
      }
      await updateInstance(this.ctx.db, m.uuid, { ...after, power_state: ps, task_state: null });
    } catch (e) {
      await this.failed(inst, e, false);
    }
  }

  /** Records the error as the instance's fault; the VM keeps its previous vm_state unless `error`. */
  private async failed(inst: InstanceRow, e: unknown, error: boolean): Promise<void> {
    const err = e as Error;
    this.ctx.log.warn({ err, uuid: inst.uuid }, 'compute operation failed');
    await addFault(this.ctx.db, inst.uuid, 500, err.message ?? String(e), String(err.stack ?? ''), this.host);
    const ps = await this.driver.powerState(inst.uuid).catch(() => PowerState.NOSTATE);
    await updateInstance(this.ctx.db, inst.uuid, error ? { vm_state: VM.ERROR, task_state: null, power_state: ps } : { task_state: null, power_state: ps });
  }

  // --- instance spec ----------------------------------------------------------------------------

  /** The driver's view of an instance, from its row (flavor copy, image metadata kept at create). */
  async spec(inst: InstanceRow, flavorKey: 'cur' | 'new' | 'old' = 'cur'): Promise<InstanceSpec> {
    const f = flavorsOf(inst)[flavorKey] ?? flavorsOf(inst).cur;
    const sm = systemMetadataOf(inst);
    const md = await this.ctx.db.selectFrom('instance_metadata').select(['key', 'value']).where('instance_uuid', '=', inst.uuid).execute();
    const image: ImageMeta | null = inst.image_ref ? {
      id: inst.image_ref,
      diskFormat: sm.image_disk_format ?? 'qcow2',
      containerFormat: sm.image_container_format ?? 'bare',
      size: Number(sm.image_size ?? 0),
      minDisk: Number(sm.image_min_disk ?? 0),
      minRam: Number(sm.image_min_ram ?? 0),
      properties: parseJson<Record<string, string>>(sm.image_properties, {}),
    } : null;
    return {
      uuid: inst.uuid, hostname: inst.hostname ?? 'server', vcpus: f.vcpus, memoryMb: f.memory_mb, rootGb: f.root_gb,
      ephemeralGb: f.ephemeral_gb, swapMb: f.swap, image, userData: inst.user_data,
      metadata: Object.fromEntries(md.map((r) => [r.key as string, (r.value ?? '') as string])),
      keyName: inst.key_name, keyData: inst.key_data, configDrive: !!inst.config_drive, vifs: [],
    };
  }

  // --- lifecycle --------------------------------------------------------------------------------

  private async build(uuid: string): Promise<void> {
    const db = this.ctx.db;
    const inst = await getInstance(db, uuid);
    if (!inst || inst.task_state === TASK.DELETING) return; // deleted before we got to it
    if (!(await updateInstance(db, uuid, { task_state: TASK.SPAWNING }, { vm_state: [VM.BUILDING] }))) return;
    try {
      await this.driver.spawn(await this.spec(inst), this.images);
    } catch (e) {
      await this.driver.destroy(uuid).catch(() => undefined);
      await deleteAllocations(this.ctx, uuid).catch(() => undefined);
      const err = e as Error;
      await addFault(db, uuid, 500, err.message ?? String(e), String(err.stack ?? ''), this.host);
      await updateInstance(db, uuid, { vm_state: VM.ERROR, task_state: null, power_state: PowerState.NOSTATE });
      throw e;
    }
    const now = nowIso();
    const ok = await updateInstance(db, uuid, { vm_state: VM.ACTIVE, task_state: null, power_state: PowerState.RUNNING, launched_at: now, progress: 0 }, { task_state: [TASK.SPAWNING] });
    if (!ok) {
      // A delete arrived while we spawned: its terminate is queued behind us and will clean up.
      this.ctx.log.info({ uuid }, 'instance deleted during build');
    }
  }

  private async terminate(uuid: string): Promise<void> {
    const inst = await getInstance(this.ctx.db, uuid);
    if (!inst) return; // already gone (a second delete)
    await this.driver.destroy(uuid);
    await deleteAllocations(this.ctx, uuid);
    await markDeleted(this.ctx.db, uuid);
  }

  private async snapshot(m: AgentMessage): Promise<void> {
    const inst = await getInstance(this.ctx.db, m.uuid);
    if (!inst) return;
    const imageId = String(m.args?.imageId);
    try {
      await updateInstance(this.ctx.db, m.uuid, { task_state: TASK.IMAGE_UPLOADING });
      await this.withEvent(m, 'compute_snapshot_instance', () => this.driver.snapshot(m.uuid, imageId, this.images));
      await updateInstance(this.ctx.db, m.uuid, { task_state: null });
    } catch (e) {
      await this.failed(inst, e, false);
    }
  }

  private async rebuild(m: AgentMessage): Promise<void> {
    const inst = await getInstance(this.ctx.db, m.uuid);
    if (!inst) return;
    const wasStopped = inst.vm_state === VM.STOPPED;
    try {
      await updateInstance(this.ctx.db, m.uuid, { task_state: TASK.REBUILD_SPAWNING });
      const fresh = (await getInstance(this.ctx.db, m.uuid))!;
      await this.withEvent(m, 'compute_rebuild_instance', async () => {
        await this.driver.rebuild(await this.spec(fresh), this.images);
        if (wasStopped) await this.driver.powerOff(m.uuid, 0);
      });
      await updateInstance(this.ctx.db, m.uuid, { vm_state: wasStopped ? VM.STOPPED : VM.ACTIVE, task_state: null, power_state: wasStopped ? PowerState.SHUTDOWN : PowerState.RUNNING, launched_at: nowIso() });
    } catch (e) {
      await this.failed(inst, e, true);
    }
  }

  private async resize(m: AgentMessage): Promise<void> {
    const inst = await getInstance(this.ctx.db, m.uuid);
    if (!inst) return;
    try {
      await updateInstance(this.ctx.db, m.uuid, { task_state: TASK.RESIZE_MIGRATING });
      await this.withEvent(m, 'compute_resize_instance', async () => {
        await this.driver.resize(await this.spec(inst, 'old'), await this.spec(inst, 'new'));
        // A server resized while stopped stays stopped (Nova's old_vm_state).
        if (systemMetadataOf(inst).old_vm_state === VM.STOPPED) await this.driver.powerOff(m.uuid, 0);
      });
      const fl = flavorsOf(inst);
      await updateInstance(this.ctx.db, m.uuid, {
        vm_state: VM.RESIZED, task_state: null, power_state: await this.driver.powerState(m.uuid),
        flavor: JSON.stringify({ ...fl, cur: fl.new }), vcpus: fl.new!.vcpus, memory_mb: fl.new!.memory_mb, root_gb: fl.new!.root_gb,
        ephemeral_gb: fl.new!.ephemeral_gb, instance_type_id: fl.new!.id,
      });
      await this.ctx.db.updateTable('migrations').set({ status: 'finished', updated_at: nowIso() }).where('instance_uuid', '=', m.uuid).where('status', '=', 'migrating').execute();
    } catch (e) {
      await this.ctx.db.updateTable('migrations').set({ status: 'error', updated_at: nowIso() }).where('instance_uuid', '=', m.uuid).where('status', '=', 'migrating').execute();
      await this.failed(inst, e, true);
    }
  }

  private async confirmResize(m: AgentMessage): Promise<void> {
    const inst = await getInstance(this.ctx.db, m.uuid);
    if (!inst) return;
    try {
      await this.withEvent(m, 'compute_confirm_resize', () => this.driver.confirmResize(m.uuid));
      const fl = flavorsOf(inst);
      const wasStopped = systemMetadataOf(inst).old_vm_state === VM.STOPPED;
      await updateInstance(this.ctx.db, m.uuid, { vm_state: wasStopped ? VM.STOPPED : VM.ACTIVE, task_state: null, flavor: JSON.stringify({ cur: fl.cur, old: null, new: null }) });
      await this.ctx.db.updateTable('migrations').set({ status: 'confirmed', updated_at: nowIso() }).where('instance_uuid', '=', m.uuid).where('status', '=', 'finished').execute();
    } catch (e) {
      await this.failed(inst, e, true);
    }
  }

  private async revertResize(m: AgentMessage): Promise<void> {
    const inst = await getInstance(this.ctx.db, m.uuid);
    if (!inst) return;
    try {
      const fl = flavorsOf(inst);
      const wasStopped = systemMetadataOf(inst).old_vm_state === VM.STOPPED;
      await this.withEvent(m, 'compute_revert_resize', async () => {
        await this.driver.revertResize(await this.spec(inst, 'old'));
        if (wasStopped) await this.driver.powerOff(m.uuid, 0);
      });
      const old = fl.old!;
      await updateInstance(this.ctx.db, m.uuid, {
        vm_state: wasStopped ? VM.STOPPED : VM.ACTIVE, task_state: null, power_state: await this.driver.powerState(m.uuid), flavor: JSON.stringify({ cur: old, old: null, new: null }),
        vcpus: old.vcpus, memory_mb: old.memory_mb, root_gb: old.root_gb, ephemeral_gb: old.ephemeral_gb, instance_type_id: old.id,
      });
      await this.ctx.db.updateTable('migrations').set({ status: 'reverted', updated_at: nowIso() }).where('instance_uuid', '=', m.uuid).where('status', '=', 'finished').execute();
    } catch (e) {
      await this.failed(inst, e, true);
    }
  }

  /** Shelve: snapshot to the given image, then free the host (offload) — the VM and its allocation go. */
  private async shelve(m: AgentMessage): Promise<void> {
    const inst = await getInstance(this.ctx.db, m.uuid);
    if (!inst) return;
    try {
      await this.withEvent(m, 'compute_shelve_instance', async () => {
        await this.driver.powerOff(m.uuid, 0);
        if (m.args?.imageId) await this.driver.snapshot(m.uuid, String(m.args.imageId), this.images);
        await this.driver.destroy(m.uuid);
      });
      await deleteAllocations(this.ctx, m.uuid);
      const sm = { ...systemMetadataOf(inst), shelved_image_id: String(m.args?.imageId ?? ''), shelved_at: nowIso() };
      await updateInstance(this.ctx.db, m.uuid, {
        vm_state: VM.SHELVED_OFFLOADED, task_state: null, power_state: PowerState.SHUTDOWN, host: null, node: null, system_metadata: JSON.stringify(sm),
      });
    } catch (e) {
      await this.failed(inst, e, true);
    }
  }

  /** Unshelve (scheduled here by the conductor): boot again from the shelved snapshot. */
  private async unshelve(m: AgentMessage): Promise<void> {
    const inst = await getInstance(this.ctx.db, m.uuid);
    if (!inst) return;
    try {
      const sm = systemMetadataOf(inst);
      const spec = await this.spec(inst);
      if (sm.shelved_image_id) spec.image = await this.images.meta(sm.shelved_image_id);
      await this.withEvent(m, 'compute_unshelve_instance', () => this.driver.spawn(spec, this.images));
      // The shelve snapshot has served its purpose: Nova deletes it once the server runs again.
      const rest = { ...sm };
      delete rest.shelved_image_id; delete rest.shelved_at;
      await updateInstance(this.ctx.db, m.uuid, { vm_state: VM.ACTIVE, task_state: null, power_state: PowerState.RUNNING, system_metadata: JSON.stringify(rest) });
      if (sm.shelved_image_id) await this.images.delete?.(sm.shelved_image_id).catch((e) => this.ctx.log.warn({ err: e, uuid: m.uuid }, 'could not delete the shelve snapshot'));
    } catch (e) {
      await deleteAllocations(this.ctx, m.uuid).catch(() => undefined);
      await this.failed(inst, e, true);
    }
  }
}

/** Nova's compute manager _tail_log: the last `length` newline-separated pieces of the log. */
export function tailLog(log: string, length?: number): string {
  if (length === undefined || length === null) return log;
  const lines = log.split('\n');
  return lines.slice(Math.max(0, lines.length - length)).join('\n');
}
