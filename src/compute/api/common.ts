// Helpers every server route shares: finding a server the caller may see (404 otherwise, as Nova
// never tells a project that another project's server exists), validation with Nova's 400s,
// pagination parameters, and the extras (metadata, tags, faults) a server view needs.

import type { FastifyRequest } from 'fastify';
import { ApiError } from '../../common/errors.js';
import { validate } from '../../common/validation.js';
import type { ComputeContext, RequestContext } from '../context.js';
import { allowed } from '../context.js';
import { faultsOf, getInstance, metadataOf, tagsOf, type InstanceRow } from '../store/instances.js';
import type { ServerExtras } from './views.js';
import { isUp, listServices } from '../store/services.js';
import { securityGroupBindings } from '../network.js';

export const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/**
 * Nova verifies a project id with Keystone (the caller's token) before quotas or flavor access
 * name it: a 404 there is a 400 here; Keystone unreachable lets it pass, as in Nova.
 */
export async function verifyProjectId(ctx: ComputeContext, rc: RequestContext, projectId: string): Promise<void> {
  let res: Response;
  try {
    let base = await ctx.session.endpoint('identity');
    if (!/\/v3$/.test(base)) base += '/v3';
    res = await fetch(`${base}/projects/${encodeURIComponent(projectId)}`, { headers: { 'X-Auth-Token': rc.token } });
  } catch {
    return;
  }
  if (res.status === 404) throw new ApiError('BadRequest', `Project ID ${projectId} is not a valid project.`);
}

export function instanceNotFound(id: string): ApiError {
  return new ApiError('NotFound', `Instance ${id} could not be found.`);
}

/**
 * The server `id` when the caller's project owns it or an admin rule lets the caller see other
 * projects' servers (os_compute_api:servers:show with the server's project as target).
 */
export async function loadServer(ctx: ComputeContext, rc: RequestContext, id: string, includeDeleted = false): Promise<InstanceRow> {
  if (!UUID_RE.test(id)) throw instanceNotFound(id);
  const inst = await getInstance(ctx.db, id.toLowerCase().length === 32 ? dashed(id) : id.toLowerCase(), includeDeleted);
  if (!inst) throw instanceNotFound(id);
  if (inst.project_id !== rc.projectId && !rc.isAdmin && !allowed(ctx, rc, 'os_compute_api:servers:show', { project_id: inst.project_id })) {
    throw instanceNotFound(id);
  }
  return inst;
}

function dashed(h: string): string {
  const s = h.toLowerCase();
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

/** A JSON body validated against a schema, 400 otherwise. */
export function body<T>(req: FastifyRequest, schema: object): T {
  if (req.body === undefined || req.body === null || typeof req.body !== 'object') {
    if (typeof req.body === 'string') throw new ApiError('BadRequest', 'Malformed request body');
  }
  return validate<T>(schema, req.body);
}

/** The query string as Nova reads it: repeated keys give lists. */
export function query(req: FastifyRequest): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const u = new URL(req.url, 'http://x');
  for (const [k, v] of u.searchParams) (out[k] ??= []).push(v);
  return out;
}

export function intParam(v: string | undefined, name: string, min = 0): number | undefined {
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v.trim())) throw new ApiError('BadRequest', `${name} param must be an integer`);
  const n = Number(v);
  if (n < min) throw new ApiError('BadRequest', `${name} param must be positive`);
  return n;
}

/**
 * What the views of these servers need besides their rows, fetched for all of them at once. With
 * `securityGroupsAs` (the caller), also their `security_groups` from the network service, as Nova's
 * view does for show, detail, and PUT and rebuild from 2.75: one pass for the whole page (see
 * securityGroupBindings). If the network service fails, the views go without the field (logged).
 */
export async function serverExtras(ctx: ComputeContext, rows: InstanceRow[], opts: { securityGroupsAs?: RequestContext } = {}): Promise<Map<string, ServerExtras>> {
  const uuids = rows.map((r) => r.uuid);
  const needFaults = rows.filter((r) => r.vm_state === 'error' || r.deleted).map((r) => r.uuid);
  const rc = opts.securityGroupsAs;
  const [md, tags, faults, sgs] = await Promise.all([metadataOf(ctx.db, uuids), tagsOf(ctx.db, uuids), faultsOf(ctx.db, needFaults),
    rc ? securityGroupBindings(ctx, uuids, rc.token).catch((e: unknown) => {
      ctx.log.warn({ err: e, reqId: rc.requestId }, 'security groups of the servers could not be read from the network service');
      return new Map<string, { name: string }[]>();
    }) : undefined]);
  const up = await hostStatuses(ctx, [...new Set(rows.map((r) => r.host).filter((h): h is string => !!h))]);
  const out = new Map<string, ServerExtras>();
  for (const r of rows) {
    const e: ServerExtras = { metadata: md.get(r.uuid) ?? {}, tags: tags.get(r.uuid) ?? [], fault: faults.get(r.uuid), hostStatus: r.host ? (up.get(r.host) ?? 'UNKNOWN') : '' };
    const groups = sgs?.get(r.uuid);
    if (groups?.length) e.securityGroups = groups;
    out.set(r.uuid, e);
  }
  return out;
}

/** UP / DOWN / MAINTENANCE per compute host, from the nova-compute service rows. */
async function hostStatuses(ctx: ComputeContext, hosts: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (!hosts.length) return out;
  const wanted = new Set(hosts);
  for (const r of await listServices(ctx.db, { binary: 'nova-compute' })) {
    if (wanted.has(r.host)) out.set(r.host, !isUp(r) ? 'DOWN' : r.disabled ? 'MAINTENANCE' : 'UP');
  }
  return out;
}
