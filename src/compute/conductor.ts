// The conductor: the control-plane half of every long operation. It schedules new instances
// (Placement claim), records where they land and casts the work to that host's agent; it deletes
// instances that never reached a host (or whose host is gone) locally; and it casts actions to the
// agent that owns an instance. Races with deletes are settled by compare-and-set on the instance
// row: whoever loses gives back what it claimed.

import { NoConsumer } from '../common/bus/index.js';
import { ApiError } from '../common/errors.js';
import type { ComputeContext } from './context.js';
import { addFault, flavorsOf, getInstance, markDeleted, updateInstance, type InstanceRow } from './store/instances.js';
import { deleteAllocations, NoValidHost, schedule, type ScheduleRequest } from './scheduler.js';
import { groupHosts } from './store/server-groups.js';
import { isUp, listServices } from './store/services.js';
import { agentTopic, networkInfoOf, type AgentMessage } from './agent/manager.js';
import { deallocateForInstance } from './network.js';
import { VM, TASK } from './states.js';

export interface BuildOptions {
  requestId: string;
  groupId: number | null;
  requestedHost: string | null;
  availabilityZone: string | null;
  /** The create action of each instance (from startAction), so that the build need not look it up. */
  actionIds?: Map<string, number>;
  /** The request's admin password, for the config drive (Nova's admin_password of build_and_run_instance). */
  adminPass?: string;
}

/** The id of the instance action a request started, for the agent's events. */
async function actionIdFor(ctx: ComputeContext, uuid: string, requestId: string): Promise<number | undefined> {
  const r = await ctx.db.selectFrom('instance_actions').select('id').where('instance_uuid', '=', uuid).where('request_id', '=', requestId)
    .orderBy('id', 'desc').executeTakeFirst();
  return r ? Number(r.id) : undefined;
}

/** Schedules and starts the build of each instance (in order: a group's members see each other's hosts). */
export async function buildInstances(ctx: ComputeContext, uuids: string[], o: BuildOptions): Promise<void> {
  for (const uuid of uuids) {
    try {
      await buildOne(ctx, uuid, o);
    } catch (e) {
      ctx.log.error({ err: e, uuid }, 'build failed before reaching a host');
      await addFault(ctx.db, uuid, 500, (e as Error).message, String((e as Error).stack ?? ''), null).catch(() => undefined);
      await updateInstance(ctx.db, uuid, { vm_state: VM.ERROR, task_state: null }).catch(() => undefined);
    }
  }
}

/** A server group's policy and where its other members run, for the scheduler's (anti-)affinity check. */
async function groupInfo(ctx: ComputeContext, groupId: number | null, uuid: string): Promise<ScheduleRequest['group']> {
  if (groupId === null) return null;
  const g = await ctx.db.selectFrom('instance_groups').select(['policy', 'rules']).where('id', '=', groupId).executeTakeFirst();
  if (!g) return null;
  const hosts: string[] = [];
  for (const [host, n] of await groupHosts(ctx.db, groupId, uuid)) for (let i = 0; i < n; i++) hosts.push(host);
  let rules: Record<string, unknown> = {};
  try { rules = g.rules ? JSON.parse(g.rules as string) : {}; } catch { rules = {}; }
  return { policy: g.policy as string, hosts, maxServerPerHost: rules.max_server_per_host !== undefined ? Number(rules.max_server_per_host) : undefined };
}

async function buildOne(ctx: ComputeContext, uuid: string, o: BuildOptions): Promise<void> {
  const inst = await getInstance(ctx.db, uuid);
  if (!inst || inst.task_state === TASK.DELETING) return;
  let where;
  try {
    where = await schedule(ctx, {
      instanceUuid: uuid, projectId: inst.project_id, userId: inst.user_id, flavor: flavorsOf(inst).cur,
      availabilityZone: o.availabilityZone, requestedHost: o.requestedHost, group: await groupInfo(ctx, o.groupId, uuid),
    });
  } catch (e) {
    if (!(e instanceof NoValidHost)) throw e;
    await addFault(ctx.db, uuid, 500, e.message, e.reasons.join('\n'), null);
    await updateInstance(ctx.db, uuid, { vm_state: VM.ERROR, task_state: null });
    return;
  }
  const az = o.availabilityZone ?? 'nova';
  const placed = await updateInstance(ctx.db, uuid, { host: where.host, node: where.node, task_state: null, availability_zone: az }, { vm_state: [VM.BUILDING], task_state: [TASK.SCHEDULING] });
  if (!placed) {
    // Deleted (locally) while we scheduled: give the claim back.
    await deleteAllocations(ctx, uuid);
    return;
  }
  const msg: AgentMessage = {
    op: 'build', uuid, requestId: o.requestId, actionId: o.actionIds?.get(uuid) ?? await actionIdFor(ctx, uuid, o.requestId),
    ...(o.adminPass ? { args: { adminPass: o.adminPass } } : {}),
  };
  try {
    await ctx.bus.cast(agentTopic(where.host), msg);
  } catch (e) {
    await deleteAllocations(ctx, uuid).catch(() => undefined);
    throw e;
  }
}

/** Whether the host's compute service has reported within the last minute. */
export async function hostIsUp(ctx: ComputeContext, host: string): Promise<boolean> {
  const [r] = await listServices(ctx.db, { host, binary: 'nova-compute' });
  return !!r && isUp(r);
}

/** Deletes an instance: on its host through the agent, or locally when it never got one or the host is down. */
export async function deleteInstance(ctx: ComputeContext, inst: InstanceRow, requestId: string): Promise<void> {
  if (!inst.host || !(await hostIsUp(ctx, inst.host))) {
    if (await markDeleted(ctx.db, inst.uuid)) await localCleanup(ctx, inst);
    return;
  }
  await updateInstance(ctx.db, inst.uuid, { task_state: TASK.DELETING });
  try {
    await ctx.bus.cast(agentTopic(inst.host), { op: 'terminate', uuid: inst.uuid, requestId, actionId: await actionIdFor(ctx, inst.uuid, requestId) } satisfies AgentMessage);
  } catch (e) {
    if (!(e instanceof NoConsumer)) throw e;
    if (await markDeleted(ctx.db, inst.uuid)) await localCleanup(ctx, inst);
  }
}

/**
 * Nova's _local_delete: the host cannot do it, so the claim and the ports are given back from here —
 * also without a host: a shelved-offloaded server keeps its ports (found by Tempest's
 * test_delete_server_while_in_shelved_state, whose network then could not be deleted).
 */
async function localCleanup(ctx: ComputeContext, inst: InstanceRow): Promise<void> {
  await deleteAllocations(ctx, inst.uuid).catch((e) => ctx.log.warn({ err: e, uuid: inst.uuid }, 'allocation cleanup failed'));
  await deallocateForInstance(ctx, inst.uuid, networkInfoOf(inst)).catch((e) => ctx.log.warn({ err: e, uuid: inst.uuid }, 'port cleanup failed'));
}

/** Casts an action to the instance's agent. */
export async function castAction(ctx: ComputeContext, inst: InstanceRow, op: string, requestId: string, args: Record<string, unknown> = {}): Promise<void> {
  if (!inst.host) throw new ApiError('Conflict', `Instance ${inst.uuid} is not on a compute host.`);
  try {
    await ctx.bus.cast(agentTopic(inst.host), { op, uuid: inst.uuid, requestId, actionId: await actionIdFor(ctx, inst.uuid, requestId), args } satisfies AgentMessage);
  } catch (e) {
    if (e instanceof NoConsumer) throw new ApiError('Conflict', `Compute service of host ${inst.host} is unavailable at this time.`);
    throw e;
  }
}

/** Asks the instance's agent and waits for the answer (console output, VNC target). */
export async function callAgent<T>(ctx: ComputeContext, inst: InstanceRow, op: string, args: Record<string, unknown> = {}): Promise<T> {
  if (!inst.host) throw new ApiError('Conflict', `Instance ${inst.uuid} is not ready yet.`);
  try {
    return await ctx.bus.call<T>(agentTopic(inst.host), { op, uuid: inst.uuid, args } satisfies AgentMessage, 30_000);
  } catch (e) {
    if (e instanceof NoConsumer) throw new ApiError('Conflict', `Compute service of host ${inst.host} is unavailable at this time.`);
    throw e;
  }
}

/**
 * Tells the instance's host to re-read its ports (the network info cache, as Nova's refresh_cache),
 * so `addresses` and the metadata follow; best effort, a host that is down re-reads them on start.
 */
export async function refreshNetworkCache(ctx: ComputeContext, inst: InstanceRow | null | undefined): Promise<void> {
  if (inst?.host) await ctx.bus.cast(agentTopic(inst.host), { op: 'refresh_network', uuid: inst.uuid } satisfies AgentMessage).catch(() => undefined);
}

/** Unshelve: a new placement for a shelved-offloaded instance, then the agent boots it from its snapshot. */
export async function unshelveInstance(ctx: ComputeContext, inst: InstanceRow, requestId: string): Promise<void> {
  try {
    const where = await schedule(ctx, { instanceUuid: inst.uuid, projectId: inst.project_id, userId: inst.user_id, flavor: flavorsOf(inst).cur, availabilityZone: null });
    await updateInstance(ctx.db, inst.uuid, { host: where.host, node: where.node, task_state: TASK.SPAWNING });
    await ctx.bus.cast(agentTopic(where.host), { op: 'unshelve', uuid: inst.uuid, requestId, actionId: await actionIdFor(ctx, inst.uuid, requestId) } satisfies AgentMessage);
  } catch (e) {
    await addFault(ctx.db, inst.uuid, 500, (e as Error).message, null, null);
    await updateInstance(ctx.db, inst.uuid, { vm_state: VM.SHELVED_OFFLOADED, task_state: null });
  }
}

