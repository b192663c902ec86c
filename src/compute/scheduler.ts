// The scheduler: asks Placement for allocation candidates that fit the flavor, drops the hosts
// the filters refuse (disabled or down compute service, availability zone, server-group affinity
// and anti-affinity, hosts named in ignore lists), and claims the first candidate left by writing
// the instance's allocations. Placement refuses a claim that would oversubscribe a provider
// (generation conflict or capacity), so two concurrent boots can never both take the last slot:
// the loser moves on to the next candidate. Every rejection is recorded, so "No valid host" says why.

import type { JsonReply } from '../common/auth/session.js';
import { ApiError } from '../common/errors.js';
import type { ComputeContext } from './context.js';
import type { FlavorCopy } from './store/flavors.js';
import { isUp, listServices } from './store/services.js';

export class NoValidHost extends Error {
  constructor(readonly reasons: string[]) {
    super(`No valid host was found. ${reasons.length ? reasons.join('; ') : 'There are not enough hosts available.'}`);
    this.name = 'NoValidHost';
  }
}

export interface Placement { host: string; node: string; providerUuid: string }

export interface ScheduleRequest {
  instanceUuid: string;
  projectId: string;
  userId: string;
  flavor: FlavorCopy;
  availabilityZone?: string | null;
  /** Server group policy and the hosts its members run on. */
  group?: { policy: string; hosts: string[]; maxServerPerHost?: number } | null;
  /** Hosts not to use (e.g. the source host of a migration). */
  ignoreHosts?: string[];
  /** Hosts the caller asked for (force_hosts / host at 2.74). */
  requestedHost?: string | null;
}

/** The resources a flavor needs, as Nova asks Placement (zero amounts are left out). */
export function flavorResources(f: FlavorCopy): Record<string, number> {
  const disk = f.root_gb + f.ephemeral_gb + Math.ceil(f.swap / 1024);
  const r: Record<string, number> = { VCPU: f.vcpus, MEMORY_MB: f.memory_mb };
  if (disk > 0) r.DISK_GB = disk;
  return r;
}

const PLACEMENT_VERSION = 'placement 1.36';

async function placementJson(ctx: ComputeContext, method: string, path: string, body?: unknown): Promise<JsonReply> {
  return ctx.session.json('placement', method, path, { body, headers: { 'OpenStack-API-Version': PLACEMENT_VERSION } });
}

export async function schedule(ctx: ComputeContext, req: ScheduleRequest): Promise<Placement> {
  const resources = flavorResources(req.flavor);
  const q = Object.entries(resources).map(([k, v]) => `${k}:${v}`).join(',');
  const cands = await placementJson(ctx, 'GET', `/allocation_candidates?resources=${q}&limit=1000`);
  if (cands.status !== 200) throw new Error(`placement allocation_candidates: ${cands.status} ${JSON.stringify(cands.body)}`);
  const reasons: string[] = [];
  const requests = (cands.body.allocation_requests ?? []) as { allocations: Record<string, { resources: Record<string, number> }> }[];
  if (!requests.length) throw new NoValidHost([`no compute node has ${q} free`]);

  const providerIds = [...new Set(requests.flatMap((a) => Object.keys(a.allocations)))];
  const nodes = await ctx.db.selectFrom('compute_nodes').select(['uuid', 'host', 'hypervisor_hostname']).where('uuid', 'in', providerIds).execute();
  const nodeByUuid = new Map(nodes.map((n) => [n.uuid as string, n]));
  const svcByHost = new Map((await listServices(ctx.db, { binary: 'nova-compute' })).map((s) => [s.host, s]));

  for (const cand of requests) {
    const rp = Object.keys(cand.allocations)[0]!;
    const node = nodeByUuid.get(rp);
    if (!node) { reasons.push(`provider ${rp} is not a compute node`); continue; }
    const host = node.host as string;
    const svc = svcByHost.get(host);
    if (!svc) { reasons.push(`${host}: no compute service`); continue; }
    if (svc.disabled) { reasons.push(`${host}: compute service disabled`); continue; }
    if (!isUp(svc)) { reasons.push(`${host}: compute service down`); continue; }
    if (req.ignoreHosts?.includes(host)) { reasons.push(`${host}: ignored for this request`); continue; }
    if (req.requestedHost && req.requestedHost !== host) { reasons.push(`${host}: not the requested host`); continue; }
    if (req.availabilityZone && !(await hostInZone(ctx, host, req.availabilityZone))) { reasons.push(`${host}: not in availability zone ${req.availabilityZone}`); continue; }
    if (req.group) {
      const { policy, hosts } = req.group;
      if (policy === 'affinity' && hosts.length && !hosts.includes(host)) { reasons.push(`${host}: affinity group runs elsewhere`); continue; }
      if (policy === 'anti-affinity' && hosts.filter((h) => h === host).length >= (req.group.maxServerPerHost ?? 1)) { reasons.push(`${host}: anti-affinity group already runs here`); continue; }
    }
    const claim = await placementJson(ctx, 'PUT', `/allocations/${req.instanceUuid}`, {
      allocations: cand.allocations, project_id: req.projectId, user_id: req.userId, consumer_generation: null,
    });
    if (claim.status === 204) return { host, node: node.hypervisor_hostname as string, providerUuid: rp };
    if (claim.status === 409) { reasons.push(`${host}: lost the claim (${conflictDetail(claim.body)})`); continue; }
    throw new Error(`placement claim: ${claim.status} ${JSON.stringify(claim.body)}`);
  }
  // Soft policies accept any host when none satisfies them.
  if (req.group && req.group.policy.startsWith('soft-')) return schedule(ctx, { ...req, group: null });
  throw new NoValidHost(reasons);
}

function conflictDetail(b: unknown): string {
  const e = (b as { errors?: { detail?: string }[] })?.errors?.[0]?.detail;
  return e ? e.split('\n')[0]!.slice(0, 200) : 'conflict';
}

/** Hosts are in the default zone `nova` unless an aggregate with availability_zone metadata holds them. */
async function hostInZone(ctx: ComputeContext, host: string, zone: string): Promise<boolean> {
  return (await hostZone(ctx, host)) === zone;
}

export async function hostZone(ctx: ComputeContext, host: string): Promise<string> {
  const r = await ctx.db.selectFrom('aggregate_hosts as h').innerJoin('aggregate_metadata as m', 'm.aggregate_id', 'h.aggregate_id')
    .select('m.value').where('h.host', '=', host).where('m.key', '=', 'availability_zone').executeTakeFirst();
  return (r?.value as string | undefined) ?? 'nova';
}

/** Removes the instance's (or migration's) allocations; a missing consumer is fine. */
export async function deleteAllocations(ctx: ComputeContext, consumer: string): Promise<void> {
  const r = await placementJson(ctx, 'DELETE', `/allocations/${consumer}`);
  if (r.status !== 204 && r.status !== 404) throw new Error(`placement delete allocations ${consumer}: ${r.status}`);
}

/** The allocations of a consumer: provider uuid -> resources. */
export async function getAllocations(ctx: ComputeContext, consumer: string): Promise<{ allocations: Record<string, { resources: Record<string, number> }>; consumer_generation?: number; project_id?: string; user_id?: string }> {
  const r = await placementJson(ctx, 'GET', `/allocations/${consumer}`);
  if (r.status !== 200) throw new Error(`placement get allocations ${consumer}: ${r.status}`);
  return r.body;
}

/** Writes allocations for a consumer (resize claims); 409 means the host lacks room. */
export async function putAllocations(ctx: ComputeContext, consumer: string, body: Record<string, unknown>): Promise<void> {
  const r = await placementJson(ctx, 'PUT', `/allocations/${consumer}`, body);
  if (r.status === 409) throw new ApiError('Conflict', `Not enough resources on the host: ${conflictDetail(r.body)}`);
  if (r.status !== 204) throw new Error(`placement put allocations ${consumer}: ${r.status} ${JSON.stringify(r.body)}`);
}

export { placementJson };
