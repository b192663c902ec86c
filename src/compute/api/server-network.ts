// Compute API: a server's network resources, which live in the network service — its interfaces
// (os-interface), its security groups (os-security-groups, addSecurityGroup/removeSecurityGroup).
// As Nova, these read and change the instance's Neutron ports; the network info cache is refreshed
// by the host when the network service reports the change (network-changed).

import type { FastifyInstance } from 'fastify';
import { ApiError } from '../../common/errors.js';
import type { ComputeContext } from '../context.js';
import { authorize, requestContext } from '../context.js';
import { loadServer } from './common.js';
import { addServerAction } from './server-actions.js';
import { hasNetworkService, networkCall, NeutronError, portsOf, showPort, updatePort, validateNetworks, type Port, type RequestedNetwork } from '../network.js';
import { callAgent, refreshNetworkCache } from '../conductor.js';
import { novaGroupViews } from './network-proxies.js';
import type { AgentReply } from '../agent/manager.js';
import type { InstanceRow } from '../store/instances.js';

type P = { Params: { id: string; port?: string } };

function interfaceView(p: Port, withTag: boolean): Record<string, unknown> {
  const v: Record<string, unknown> = { net_id: p.network_id, port_id: p.id, mac_addr: p.mac_address, port_state: p.status, fixed_ips: p.fixed_ips ?? null };
  if (withTag) v.tag = null;
  return v;
}

/** The instance's ports, or none without a network service. */
async function instancePorts(ctx: ComputeContext, inst: InstanceRow): Promise<Port[]> {
  if (!(await hasNetworkService(ctx))) return [];
  return portsOf(ctx, inst.uuid);
}

/** A security group of the caller's project by name or id (neutronclient's find_resourceid_by_name_or_id). */
async function findGroup(ctx: ComputeContext, projectId: string, name: string): Promise<string> {
  const notFound = () => new ApiError('NotFound', `Security group ${name} is not found for project ${projectId}`);
  if (!(await hasNetworkService(ctx))) throw notFound();
  const all = (await networkCall<{ security_groups: { id: string; name: string }[] }>(ctx, 'GET', `/security-groups?project_id=${encodeURIComponent(projectId)}&fields=id&fields=name`)).security_groups;
  const byName = all.filter((g) => g.name === name);
  if (byName.length > 1) throw new ApiError('Conflict', `Multiple security_group matches found for name '${name}', use an ID to be more specific.`);
  const g = byName[0] ?? all.find((x) => x.id === name);
  if (!g) throw notFound();
  return g.id;
}

function groupName(arg: unknown): string {
  if (typeof arg !== 'object' || arg === null || Array.isArray(arg)) throw new ApiError('BadRequest', 'Missing parameter dict');
  const name = (arg as { name?: unknown }).name;
  if (name === undefined) throw new ApiError('BadRequest', 'Security group not specified');
  if (typeof name !== 'string' || name.trim() === '') throw new ApiError('BadRequest', 'Security group name cannot be empty');
  return name;
}

export function registerServerNetwork(app: FastifyInstance, ctx: ComputeContext): void {
  app.get<P>('/servers/:id/os-interface', async (req) => {
    const rc = requestContext(ctx, req);
    const inst = await loadServer(ctx, rc, req.params.id);
    authorize(ctx, rc, 'os_compute_api:os-attach-interfaces:list', { project_id: inst.project_id });
    const ports = await instancePorts(ctx, inst);
    return { interfaceAttachments: ports.map((p) => interfaceView(p, req.computeVersion.atLeast('2.70'))) };
  });

  app.get<P>('/servers/:id/os-interface/:port', async (req) => {
    const rc = requestContext(ctx, req);
    const inst = await loadServer(ctx, rc, req.params.id);
    authorize(ctx, rc, 'os_compute_api:os-attach-interfaces:show', { project_id: inst.project_id });
    const p = (await hasNetworkService(ctx)) ? await showPort(ctx, req.params.port!, rc.token) : null;
    if (!p) throw new ApiError('NotFound', `Port id ${req.params.port} could not be found.`);
    if (p.device_id !== inst.uuid) throw new ApiError('NotFound', `Instance ${inst.uuid} does not have a port with id ${p.id}`);
    return { interfaceAttachment: interfaceView(p, req.computeVersion.atLeast('2.70')) };
  });

  app.post<P>('/servers/:id/os-interface', async (req) => {
    const rc = requestContext(ctx, req);
    const inst = await loadServer(ctx, rc, req.params.id);
    authorize(ctx, rc, 'os_compute_api:os-attach-interfaces:create', { project_id: inst.project_id });
    const b = req.body as { interfaceAttachment?: Record<string, unknown> } | undefined;
    const ia = b?.interfaceAttachment;
    if (b !== undefined && b !== null && (typeof b !== 'object' || Array.isArray(b))) throw new ApiError('BadRequest', 'Invalid input for field/attribute body.');
    const att = (ia ?? {}) as { net_id?: unknown; port_id?: unknown; fixed_ips?: unknown; tag?: unknown };
    const extra = Object.keys(att).find((k) => !['net_id', 'port_id', 'fixed_ips', ...(req.computeVersion.atLeast('2.49') ? ['tag'] : [])].includes(k));
    if (extra) throw new ApiError('BadRequest', `Invalid input for field/attribute interfaceAttachment. Additional properties are not allowed ('${extra}' was unexpected)`);
    for (const k of ['net_id', 'port_id'] as const) {
      if (att[k] !== undefined && (typeof att[k] !== 'string' || !/^[0-9a-f-]{32,36}$/i.test(att[k] as string))) throw new ApiError('BadRequest', `Invalid input for field/attribute ${k}. Value: ${JSON.stringify(att[k])}. ${JSON.stringify(att[k])} is not a 'uuid'`);
    }
    const fixed = Array.isArray(att.fixed_ips) ? att.fixed_ips as { ip_address?: string }[] : undefined;
    if (att.fixed_ips !== undefined && (!fixed || fixed.length !== 1 || typeof fixed[0]?.ip_address !== 'string')) throw new ApiError('BadRequest', 'Invalid input for field/attribute fixed_ips.');
    if (att.net_id && att.port_id) throw new ApiError('BadRequest', 'Must not input both network_id and port_id');
    if (fixed && !att.net_id) throw new ApiError('BadRequest', 'Must input network_id when request IP address');
    if (!['active', 'paused', 'stopped'].includes(inst.vm_state) || inst.task_state) {
      throw new ApiError('Conflict', inst.task_state
        ? `Cannot 'attach_interface' instance ${inst.uuid} while it is in task_state ${inst.task_state}`
        : `Cannot 'attach_interface' instance ${inst.uuid} while it is in vm_state ${inst.vm_state}`);
    }
    let requests: RequestedNetwork[];
    try {
      requests = att.net_id || att.port_id
        ? await validateNetworks(ctx, rc.token, inst.project_id, [{ ...(att.net_id ? { uuid: att.net_id as string } : {}), ...(att.port_id ? { port: att.port_id as string } : {}), ...(fixed ? { fixed_ip: fixed[0]!.ip_address } : {}) }], 1)
        : await validateNetworks(ctx, rc.token, inst.project_id, undefined, 1);
    } catch (e) {
      // Nova answers 404 for a network or port it cannot find here (os-interface), 400 at boot.
      if (e instanceof ApiError && /could not be found/.test(e.message)) throw new ApiError('NotFound', e.message);
      throw e;
    }
    if (!requests.length) throw new ApiError('BadRequest', `No specific network was requested and none are available for project '${inst.project_id}'.`);
    const r = await callAgent<AgentReply<{ port_id: string }>>(ctx, inst, 'attach_interface', requests[0] as Record<string, unknown>);
    if ('error' in r) throw new ApiError(r.error.kind, r.error.message);
    const port = await showPort(ctx, r.ok.port_id);
    if (!port) throw new ApiError('NotFound', `Port id ${r.ok.port_id} could not be found.`);
    return { interfaceAttachment: interfaceView(port, req.computeVersion.atLeast('2.70')) };
  });

  app.delete<P>('/servers/:id/os-interface/:port', async (req, reply) => {
    const rc = requestContext(ctx, req);
    const inst = await loadServer(ctx, rc, req.params.id);
    authorize(ctx, rc, 'os_compute_api:os-attach-interfaces:delete', { project_id: inst.project_id });
    if (!['active', 'paused', 'stopped'].includes(inst.vm_state) || inst.task_state) {
      throw new ApiError('Conflict', inst.task_state
        ? `Cannot 'detach_interface' instance ${inst.uuid} while it is in task_state ${inst.task_state}`
        : `Cannot 'detach_interface' instance ${inst.uuid} while it is in vm_state ${inst.vm_state}`);
    }
    const r = await callAgent<AgentReply<Record<string, never>>>(ctx, inst, 'detach_interface', { port_id: req.params.port });
    if ('error' in r) throw new ApiError(r.error.kind, r.error.message);
    reply.code(202);
    return reply.send();
  });

  app.get<P>('/servers/:id/os-security-groups', async (req) => {
    const rc = requestContext(ctx, req);
    const inst = await loadServer(ctx, rc, req.params.id);
    authorize(ctx, rc, 'os_compute_api:os-security-groups:list', { project_id: inst.project_id });
    const ids = [...new Set((await instancePorts(ctx, inst)).flatMap((p) => p.security_groups ?? []))];
    if (!ids.length) return { security_groups: [] };
    const groups = (await networkCall<{ security_groups: Parameters<typeof novaGroupViews>[2] }>(ctx, 'GET', `/security-groups?${ids.map((i) => `id=${i}`).join('&')}`)).security_groups;
    return { security_groups: await novaGroupViews(ctx, rc, groups) };
  });

  addServerAction('addSecurityGroup', async (a) => {
    authorize(a.ctx, a.rc, 'os_compute_api:os-security-groups:add', { project_id: a.inst.project_id });
    const name = groupName(a.arg);
    const id = await findGroup(a.ctx, a.rc.projectId, name);
    const ports = await instancePorts(a.ctx, a.inst);
    if (!ports.length) throw new ApiError('NotFound', `instance_id ${a.inst.uuid} could not be found as device id on any ports`);
    for (const p of ports) {
      const full = await showPort(a.ctx, p.id) as Port & { port_security_enabled?: boolean };
      if (!full || full.port_security_enabled === false || !full.fixed_ips?.length) throw new ApiError('BadRequest', 'Network requires port_security_enabled and subnet associated in order to apply security groups.');
      const groups = [...(full.security_groups ?? [])];
      if (!groups.includes(id)) groups.push(id);
      await updatePort(a.ctx, p.id, { security_groups: groups }).catch((e) => {
        if (e instanceof NeutronError && e.status === 400) throw new ApiError('BadRequest', e.message);
        throw e;
      });
    }
    await refreshNetworkCache(a.ctx, a.inst);
    return undefined;
  });

  addServerAction('removeSecurityGroup', async (a) => {
    authorize(a.ctx, a.rc, 'os_compute_api:os-security-groups:remove', { project_id: a.inst.project_id });
    const name = groupName(a.arg);
    const id = await findGroup(a.ctx, a.rc.projectId, name);
    const ports = await instancePorts(a.ctx, a.inst);
    if (!ports.length) throw new ApiError('NotFound', `instance_id ${a.inst.uuid} could not be found as device id on any ports`);
    let found = false;
    for (const p of ports) {
      const groups = p.security_groups ?? [];
      if (!groups.includes(id)) continue;
      await updatePort(a.ctx, p.id, { security_groups: groups.filter((g) => g !== id) });
      found = true;
    }
    if (!found) throw new ApiError('NotFound', `Security group ${name} not associated with the instance ${a.inst.uuid}`);
    await refreshNetworkCache(a.ctx, a.inst);
    return undefined;
  });
}
