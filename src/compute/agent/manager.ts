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
import { allocateForInstance, buildNetworkInfo, deallocateForInstance, deallocateOne, portsOf, type RequestedNetwork, type VifInfo } from '../network.js';
import { LinuxBridgePlugger, NoopPlugger, type VifPlugger } from './vif.js';

export const agentTopic = (host: string) => `compute.${host}`;

/** The admin password a build or rebuild message carries (for the config drive), if any. */
const adminPassOf = (m: AgentMessage): string | null => (typeof m.args?.adminPass === 'string' ? m.args.adminPass : null);

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
/** Messages handled at once, outside the instance's queue (a build in that queue may be waiting for them). */
const IMMEDIATE = new Set(['external_event']);
/** Calls that still wait their turn in the instance's queue (they change the guest). */
const QUEUED_CALLS = new Set(['attach_interface', 'detach_interface']);

/** What a queued call answers: a result, or an error the API turns into its status. */
export type AgentReply<T> = { ok: T } | { error: { kind: 'BadRequest' | 'NotFound' | 'Conflict'; message: string } };

/** An external event as the API forwards it (os-server-external-events). */
interface ExternalEvent { name: string; server_uuid: string; tag?: string; status: string }

/** The network info cache of an instance row. */
export const networkInfoOf = (inst: InstanceRow): VifInfo[] => parseJson<VifInfo[]>(inst.network_info, []);

export interface AgentOptions {
  host: string;
  /** Heartbeat period; the service counts as down after 60 s without one. */
  heartbeatSec?: number;
  /** How ports are plugged on this host; default: linuxbridge for real guests, noop for the fake driver. */
  vifPlugger?: VifPlugger;
}

export class ComputeAgent {
  private queues = new Map<string, Promise<unknown>>();
  private unsubscribe?: () => void;
  private heartbeat?: NodeJS.Timeout;
  private nodeUuid = '';
  /** Builds waiting for external events, by "uuid name tag". */
  private waiters = new Map<string, { done: (status: string) => void }>();
  readonly host: string;
  readonly vifs: VifPlugger;

  constructor(private ctx: ComputeContext, readonly driver: HypervisorDriver, private images: ImageSource, private o: AgentOptions) {
    this.host = o.host;
    this.vifs = o.vifPlugger ?? (ctx.opts.driver === 'fake' ? new NoopPlugger() : new LinuxBridgePlugger());
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
    if (CALLS.has(m.op) || IMMEDIATE.has(m.op)) return this.run(m);
    const prev = this.queues.get(m.uuid) ?? Promise.resolve();
    const result = prev.then(() => this.run(m));
    const next = result.catch((e) => { this.ctx.log.error({ err: e, op: m.op, uuid: m.uuid }, 'compute operation failed'); });
    this.queues.set(m.uuid, next);
    void next.finally(() => { if (this.queues.get(m.uuid) === next) this.queues.delete(m.uuid); });
    return QUEUED_CALLS.has(m.op) ? result : next;
  }

  private async run(m: AgentMessage): Promise<unknown> {
    switch (m.op) {
      case 'build': return this.withEvent(m, 'compute__do_build_and_run_instance', () => this.build(m.uuid, adminPassOf(m)));
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
      case 'external_event': return this.externalEvent(m.args as unknown as ExternalEvent);
      case 'refresh_network': return this.refreshNetworkInfo(m.uuid);
      case 'attach_interface': return this.attachInterface(m.uuid, m.args as RequestedNetwork);
      case 'detach_interface': return this.detachInterface(m.uuid, String(m.args?.port_id ?? ''));
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
      keyName: inst.key_name, keyData: inst.key_data, configDrive: !!inst.config_drive,
      vifs: networkInfoOf(inst).map((v) => ({ portId: v.id, mac: v.address, tapName: this.vifs.kind === 'noop' ? null : v.devname, ...(v.network.meta.mtu ? { mtu: v.network.meta.mtu } : {}) })),
    };
  }

  // --- lifecycle --------------------------------------------------------------------------------

  private async build(uuid: string, adminPass: string | null): Promise<void> {
    const db = this.ctx.db;
    const inst = await getInstance(db, uuid);
    if (!inst || inst.task_state === TASK.DELETING) return; // deleted before we got to it
    if (!(await updateInstance(db, uuid, { task_state: TASK.NETWORKING }, { vm_state: [VM.BUILDING] }))) return;
    let info: VifInfo[] = [];
    try {
      info = await this.allocateNetwork(inst);
      if (!(await updateInstance(db, uuid, { task_state: TASK.SPAWNING }, { vm_state: [VM.BUILDING], task_state: [TASK.NETWORKING] }))) {
        await this.releaseNetwork(uuid, info);
        return;
      }
      await this.driver.spawn({ ...(await this.spec((await getInstance(db, uuid))!)), adminPass }, this.images);
    } catch (e) {
      await this.driver.destroy(uuid).catch(() => undefined);
      await this.releaseNetwork(uuid, info).catch((err) => this.ctx.log.warn({ err, uuid }, 'releasing the ports of a failed build failed'));
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
    await this.releaseNetwork(uuid, networkInfoOf(inst));
    await deleteAllocations(this.ctx, uuid);
    await markDeleted(this.ctx.db, uuid);
  }

  // --- network ----------------------------------------------------------------------------------

  /**
   * Creates and binds the instance's ports on this host, records the network info cache, plugs
   * the taps and waits for the network service to report each new port plugged (Nova's
   * network-vif-plugged), within vif_plugging_timeout.
   */
  private async allocateNetwork(inst: InstanceRow): Promise<VifInfo[]> {
    const sm = systemMetadataOf(inst);
    const requests = parseJson<RequestedNetwork[]>(sm.network_requests, []);
    if (!requests.length) return [];
    const ports = await allocateForInstance(this.ctx, inst, this.host, requests, parseJson<string[]>(sm.security_groups, []));
    const preserved = new Set(requests.filter((r) => r.port_id).map((r) => r.port_id!));
    let info: VifInfo[] = [];
    try {
      info = await buildNetworkInfo(this.ctx, ports, preserved);
      await updateInstance(this.ctx.db, inst.uuid, { network_info: JSON.stringify(info) });
      const timeoutSec = this.ctx.cfg.compute.vif_plugging_timeout;
      // Listen before plugging, so an event that comes quickly is not missed.
      const waits = timeoutSec > 0 && this.vifs.kind !== 'noop'
        ? info.filter((v) => !v.active).map((v) => this.waitEvent(inst.uuid, 'network-vif-plugged', v.id, timeoutSec * 1000))
        : [];
      try {
        for (const v of info) await this.vifs.plug({ tapName: v.devname, bridge: v.network.bridge, mtu: v.network.meta.mtu });
        const results = await Promise.allSettled(waits.map((w) => w.promise));
        const bad = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
        if (bad && this.ctx.cfg.compute.vif_plugging_is_fatal) throw new Error(`Virtual Interface creation failed: ${(bad.reason as Error).message}`);
      } finally {
        for (const w of waits) w.cancel();
      }
      return info;
    } catch (e) {
      for (const v of info) await this.vifs.unplug(v.devname).catch(() => undefined);
      await deallocateForInstance(this.ctx, inst.uuid, info.length ? info : ports.map((p) => ({ id: p.id, preserve_on_delete: preserved.has(p.id) }) as VifInfo)).catch(() => undefined);
      await updateInstance(this.ctx.db, inst.uuid, { network_info: '[]' }).catch(() => undefined);
      throw e;
    }
  }

  /** Unplugs the taps and gives the ports back to the network service (deleting those compute made). */
  private async releaseNetwork(uuid: string, info: VifInfo[]): Promise<void> {
    for (const v of info) await this.vifs.unplug(v.devname);
    await deallocateForInstance(this.ctx, uuid, info);
  }

  /** Re-reads the instance's ports (network-changed: a floating IP, a security group, a new address). */
  private async refreshNetworkInfo(uuid: string): Promise<void> {
    const inst = await getInstance(this.ctx.db, uuid);
    if (!inst) return;
    const old = networkInfoOf(inst);
    const ports = await portsOf(this.ctx, uuid);
    const info = await buildNetworkInfo(this.ctx, ports, new Set(old.filter((v) => v.preserve_on_delete).map((v) => v.id)));
    await updateInstance(this.ctx.db, uuid, { network_info: JSON.stringify(info) });
  }

  /** Creates or takes over a port, plugs it and hot-plugs the NIC into the guest (os-interface POST). */
  private async attachInterface(uuid: string, req: RequestedNetwork): Promise<AgentReply<{ port_id: string }>> {
    const inst = await getInstance(this.ctx.db, uuid);
    if (!inst) return { error: { kind: 'NotFound', message: `Instance ${uuid} could not be found.` } };
    const sm = systemMetadataOf(inst);
    let ports;
    try {
      ports = await allocateForInstance(this.ctx, inst, this.host, [req], parseJson<string[]>(sm.security_groups, []));
    } catch (e) {
      return { error: { kind: 'BadRequest', message: (e as Error).message } };
    }
    const port = ports[0]!;
    const preserved = new Set([...networkInfoOf(inst).filter((v) => v.preserve_on_delete).map((v) => v.id), ...(req.port_id ? [req.port_id] : [])]);
    const [vif] = await buildNetworkInfo(this.ctx, [port], preserved);
    try {
      await this.vifs.plug({ tapName: vif!.devname, bridge: vif!.network.bridge, mtu: vif!.network.meta.mtu });
      await this.driver.attachInterface(uuid, { portId: port.id, mac: port.mac_address, tapName: this.vifs.kind === 'noop' ? null : vif!.devname, ...(vif!.network.meta.mtu ? { mtu: vif!.network.meta.mtu } : {}) });
    } catch (e) {
      await this.vifs.unplug(vif!.devname).catch(() => undefined);
      await deallocateForInstance(this.ctx, uuid, [vif!]).catch(() => undefined);
      this.ctx.log.warn({ err: e, uuid }, 'interface attach failed');
      throw new Error(`Failed to attach network adapter device to ${uuid}`);
    }
    const info = [...networkInfoOf(inst).filter((v) => v.id !== port.id), vif!];
    await updateInstance(this.ctx.db, uuid, { network_info: JSON.stringify(info) });
    return { ok: { port_id: port.id } };
  }

  /** Unplugs the NIC of a port from the guest and gives the port back (os-interface DELETE). */
  private async detachInterface(uuid: string, portId: string): Promise<AgentReply<Record<string, never>>> {
    const inst = await getInstance(this.ctx.db, uuid);
    if (!inst) return { error: { kind: 'NotFound', message: `Instance ${uuid} could not be found.` } };
    const vif = networkInfoOf(inst).find((v) => v.id === portId);
    if (!vif) return { error: { kind: 'NotFound', message: `Port ${portId} is not attached` } };
    await this.driver.detachInterface(uuid, vif.address);
    await this.vifs.unplug(vif.devname);
    const ports = await portsOf(this.ctx, uuid);
    if (ports.some((p) => p.id === portId)) await deallocateOne(this.ctx, vif);
    await updateInstance(this.ctx.db, uuid, { network_info: JSON.stringify(networkInfoOf((await getInstance(this.ctx.db, uuid))!).filter((v) => v.id !== portId)) });
    return { ok: {} };
  }

  private waitEvent(uuid: string, name: string, tag: string, timeoutMs: number): { promise: Promise<void>; cancel: () => void } {
    const key = `${uuid} ${name} ${tag}`;
    let timer: NodeJS.Timeout | undefined;
    const promise = new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => { this.waiters.delete(key); reject(new Error(`timed out after ${timeoutMs / 1000} s waiting for ${name} of port ${tag}`)); }, timeoutMs);
      this.waiters.set(key, { done: (status) => {
        clearTimeout(timer);
        this.waiters.delete(key);
        if (status === 'failed') reject(new Error(`${name} of port ${tag} failed`)); else resolve();
      } });
    });
    return { promise, cancel: () => { clearTimeout(timer); this.waiters.delete(key); } };
  }

  private async externalEvent(e: ExternalEvent): Promise<void> {
    const waiter = this.waiters.get(`${e.server_uuid} ${e.name} ${e.tag ?? ''}`);
    if (waiter) { waiter.done(e.status); return; }
    // Nobody waits: network-changed (and a late plug) refresh the cache in the instance's queue.
    if (e.name === 'network-changed' || e.name === 'network-vif-plugged' || e.name === 'network-vif-deleted') {
      void this.dispatch({ op: 'refresh_network', uuid: e.server_uuid });
    }
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
        await this.driver.rebuild({ ...(await this.spec(fresh)), adminPass: adminPassOf(m) }, this.images);
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
