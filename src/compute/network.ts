// Compute's side of networking (Nova's nova/network/neutron.py, reduced): it validates the networks
// a server asks for with the caller's own token (so a project can only use networks it can see),
// creates and binds the instance's ports with the nova service user on the chosen host, builds the
// network info cache Nova keeps on the instance (its `addresses`), and gives ports back on delete.
// Everything goes through the network service's REST API found in the catalog; without a network
// endpoint, servers boot without NICs and asking for a network is Nova's "could not be found".

import type { ComputeContext } from './context.js';
import { ApiError } from '../common/errors.js';
import type { SessionRequest } from '../common/auth/session.js';

/** One entry of the server's `networks` request, as Nova's NetworkRequest. */
export interface RequestedNetwork { network_id?: string; port_id?: string; fixed_ip?: string; tag?: string }

/** A Neutron port as we read it (the fields compute uses). */
export interface Port {
  id: string; network_id: string; mac_address: string; project_id?: string; tenant_id?: string;
  device_id: string; device_owner: string; status: string;
  fixed_ips: { subnet_id: string; ip_address: string }[];
  security_groups?: string[];
  'binding:host_id'?: string; 'binding:vif_type'?: string; 'binding:vif_details'?: Record<string, unknown>;
  'binding:vnic_type'?: string; 'binding:profile'?: Record<string, unknown>;
}

/** Nova's VIF model (nova/network/model.py), as stored in instances.network_info. */
export interface VifInfo {
  id: string;
  address: string;
  type: string;
  devname: string;
  details: Record<string, unknown>;
  vnic_type: string;
  active: boolean;
  preserve_on_delete: boolean;
  profile: Record<string, unknown>;
  network: {
    id: string; bridge: string; label: string;
    subnets: {
      cidr: string; version: number; gateway: { address: string | null; type: 'gateway'; version: number };
      dns: { address: string; type: 'dns'; version: number }[];
      routes: { cidr: string; gateway: { address: string; type: 'gateway'; version: number } }[];
      ips: { address: string; type: 'fixed'; version: number; floating_ips: { address: string; type: 'floating'; version: number }[] }[];
      meta: Record<string, unknown>;
    }[];
    meta: { injected: boolean; tenant_id: string; mtu: number | null; physical_network?: string | null; tunneled?: boolean };
  };
  meta?: Record<string, unknown>;
}

const NIC_NAME_LEN = 14;
/** The host device of a port, as Nova names it: tap + the first 11 characters of the port id. */
export const tapName = (portId: string): string => `tap${portId}`.slice(0, NIC_NAME_LEN);
/** The bridge of a port: what the binding says, else Nova's default brq + network id. */
export function bridgeOf(port: Port): string {
  const named = port['binding:vif_details']?.bridge_name;
  return typeof named === 'string' && named ? named : `brq${port.network_id}`.slice(0, NIC_NAME_LEN);
}

const ipVersion = (a: string): number => (a.includes(':') ? 6 : 4);

export class NeutronError extends Error {
  constructor(readonly status: number, readonly type: string, message: string) { super(message); }
}

/** A call to the network service: with the caller's token when given, else as the nova service user. */
async function neutron<T = any>(ctx: ComputeContext, method: string, path: string, o: { body?: unknown; token?: string } = {}): Promise<T> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const r: SessionRequest = o.body === undefined ? {} : { body: o.body };
  if (o.token !== undefined) { r.token = o.token; r.headers = { Accept: 'application/json' }; }
  const { status, body, text } = await ctx.session.json('network', method, `/v2.0${path}`, r);
  if (status >= 400) {
    const e = body?.NeutronError ?? {};
    throw new NeutronError(status, String(e.type ?? ''), String(e.message ?? text ?? `HTTP ${status}`));
  }
  return body as T;
}

const catalogChecks = new WeakMap<ComputeContext, { at: number; has: boolean }>();

/** Whether the catalog has a network service (checked at most every 30 s). */
export async function hasNetworkService(ctx: ComputeContext): Promise<boolean> {
  const c = catalogChecks.get(ctx);
  if (c && Date.now() - c.at < 30_000) return c.has;
  let has = true;
  try { await ctx.session.endpoint('network'); } catch { has = false; }
  catalogChecks.set(ctx, { at: Date.now(), has });
  return has;
}

const q = (params: Record<string, string | string[] | undefined>): string => {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue;
    for (const x of Array.isArray(v) ? v : [v]) u.append(k, x);
  }
  const s = u.toString();
  return s ? `?${s}` : '';
};

interface Network { id: string; name: string; subnets: string[]; mtu?: number; shared?: boolean; 'router:external'?: boolean; project_id?: string; 'provider:physical_network'?: string | null; 'provider:network_type'?: string; port_security_enabled?: boolean }

/**
 * Nova's validate_networks with the caller's token: the requested networks must exist, be visible
 * and have a subnet; requested ports must be free and have an address; a requested fixed IP must
 * be unused. `auto` (and no request before 2.37) picks the project's one available network.
 * Returns the requests to keep for the build (ports resolved to their networks).
 */
export async function validateNetworks(ctx: ComputeContext, token: string, projectId: string, networks: unknown, count: number): Promise<RequestedNetwork[]> {
  if (networks === 'none') return [];
  const requested = Array.isArray(networks) ? networks as { uuid?: string; port?: string; fixed_ip?: string; tag?: string }[] : null;
  if (!(await hasNetworkService(ctx))) {
    if (requested?.length) {
      const first = requested[0]!;
      throw new ApiError('BadRequest', first.port ? `Port id ${first.port} could not be found.` : `Network ${first.uuid ?? ''} could not be found.`);
    }
    return [];
  }
  const call = <T>(path: string) => neutron<T>(ctx, 'GET', path, { token }).catch((e) => {
    if (e instanceof NeutronError && e.status === 404) return null;
    throw e;
  });
  if (!requested || requested.length === 0) {
    // auto, or nothing asked before 2.37: the project's own networks plus the shared ones.
    const own = (await call<{ networks: Network[] }>(`/networks${q({ project_id: projectId, shared: 'False' })}`))?.networks ?? [];
    const shared = (await call<{ networks: Network[] }>(`/networks${q({ shared: 'True' })}`))?.networks ?? [];
    const nets = [...own, ...shared.filter((s) => !own.some((o) => o.id === s.id))];
    if (nets.length > 1) throw new ApiError('Conflict', 'Multiple possible networks found, use a Network ID to be more specific.');
    if (nets.length === 0) {
      if (networks === 'auto') throw new ApiError('BadRequest', `Unable to automatically allocate a network for project ${projectId}`);
      return [];
    }
    if (!nets[0]!.subnets?.length) throw new ApiError('BadRequest', `Network ${nets[0]!.id} requires a subnet in order to boot instances on.`);
    return [{ network_id: nets[0]!.id }];
  }

  const out: RequestedNetwork[] = [];
  const netIds: string[] = [];
  for (const r of requested) {
    if (r.port) {
      if (count > 1) throw new ApiError('BadRequest', 'Unable to launch multiple instances with a single configured port ID. Please launch your instance one by one with different ports.');
      const p = (await call<{ port: Port }>(`/ports/${encodeURIComponent(r.port)}`))?.port;
      if (!p) throw new ApiError('BadRequest', `Port id ${r.port} could not be found.`);
      if (p.device_id) throw new ApiError('Conflict', `Port ${r.port} is still in use.`);
      if (!p.fixed_ips?.length) throw new ApiError('BadRequest', `Port ${r.port} requires a FixedIP in order to be used.`);
      out.push({ port_id: p.id, network_id: p.network_id, ...(r.tag ? { tag: r.tag } : {}) });
      continue;
    }
    const id = r.uuid ?? '';
    if (r.fixed_ip) {
      if (count > 1) throw new ApiError('BadRequest', 'Failed to launch instances: max_count cannot be greater than 1 if an fixed_ip is specified.');
      const used = (await call<{ ports: Port[] }>(`/ports${q({ network_id: id, fixed_ips: `ip_address=${r.fixed_ip}`, fields: 'device_id' })}`))?.ports ?? [];
      if (used.length) throw new ApiError('BadRequest', `Fixed IP address ${r.fixed_ip} is already in use on instance ${used[0]!.device_id}.`);
    }
    netIds.push(id);
    out.push({ network_id: id, ...(r.fixed_ip ? { fixed_ip: r.fixed_ip } : {}), ...(r.tag ? { tag: r.tag } : {}) });
  }
  if (netIds.length) {
    const nets = (await call<{ networks: Network[] }>(`/networks${q({ id: [...new Set(netIds)] })}`))?.networks ?? [];
    for (const n of nets) if (!n.subnets?.length) throw new ApiError('BadRequest', `Network ${n.id} requires a subnet in order to boot instances on.`);
    const lost = [...new Set(netIds)].filter((id) => !nets.some((n) => n.id === id));
    if (lost.length) throw new ApiError('BadRequest', `Network ${lost.join(', ')} could not be found.`);
  }
  return out;
}

/**
 * Resolves security group names (or ids) in the instance's project, as Nova's
 * _process_security_groups: an unknown name is a 400, a name that matches twice a 409.
 */
export async function securityGroupIds(ctx: ComputeContext, projectId: string, names: string[]): Promise<string[]> {
  if (!names.length) return [];
  const groups = (await neutron<{ security_groups: { id: string; name: string }[] }>(ctx, 'GET', `/security-groups${q({ project_id: projectId, fields: ['id', 'name'] })}`)).security_groups;
  const ids: string[] = [];
  for (const name of names) {
    const byName = groups.filter((g) => g.name === name);
    if (byName.length > 1) throw new ApiError('Conflict', `Multiple security_group matches found for name '${name}', use an ID to be more specific.`);
    const g = byName[0] ?? groups.find((x) => x.id === name);
    if (!g) throw new ApiError('BadRequest', `Unable to find security_group with name or id '${name}'`);
    if (!ids.includes(g.id)) ids.push(g.id);
  }
  return ids;
}

/**
 * Creates (or takes over) and binds the instance's ports on `host`. On any failure the ports created
 * here are deleted again and taken-over ports are released, so a failed build leaks nothing.
 */
export async function allocateForInstance(ctx: ComputeContext, inst: { uuid: string; project_id: string; availability_zone: string | null }, host: string, requests: RequestedNetwork[], securityGroups: string[]): Promise<Port[]> {
  const ports: Port[] = [];
  const created: string[] = [];
  const taken: string[] = [];
  const owner = `compute:${inst.availability_zone ?? 'nova'}`;
  try {
    // Only the default group asked (or none): leave security_groups out and the network service
    // applies the project's default group, creating it on first use, as Neutron does.
    const onlyDefault = securityGroups.every((g) => g === 'default');
    const sgIds = !onlyDefault && requests.some((r) => !r.port_id) ? await securityGroupIds(ctx, inst.project_id, securityGroups) : null;
    for (const r of requests) {
      if (r.port_id) {
        const p = (await neutron<{ port: Port }>(ctx, 'PUT', `/ports/${r.port_id}`, { body: { port: { device_id: inst.uuid, device_owner: owner, 'binding:host_id': host } } })).port;
        taken.push(p.id);
        ports.push(p);
        continue;
      }
      const body: Record<string, unknown> = {
        network_id: r.network_id, project_id: inst.project_id, device_id: inst.uuid, device_owner: owner, 'binding:host_id': host,
      };
      if (r.fixed_ip) body.fixed_ips = [{ ip_address: r.fixed_ip }];
      const net = (await neutron<{ network: Network }>(ctx, 'GET', `/networks/${r.network_id}`)).network;
      if (sgIds && net.port_security_enabled !== false) body.security_groups = sgIds;
      const p = (await neutron<{ port: Port }>(ctx, 'POST', '/ports', { body: { port: body } })).port;
      created.push(p.id);
      ports.push(p);
    }
    return ports;
  } catch (e) {
    for (const id of created) await neutron(ctx, 'DELETE', `/ports/${id}`).catch(() => undefined);
    for (const id of taken) await releasePort(ctx, id).catch(() => undefined);
    if (e instanceof NeutronError) {
      if (e.type === 'IpAddressGenerationFailure') throw new Error(`No fixed IP addresses available for network: ${requests.find((r) => !r.port_id)?.network_id ?? ''}`);
      throw new Error(`network allocation failed: ${e.status} ${e.type}: ${e.message}`);
    }
    throw e;
  }
}

async function releasePort(ctx: ComputeContext, id: string): Promise<void> {
  await neutron(ctx, 'PUT', `/ports/${id}`, { body: { port: { device_id: '', device_owner: '', 'binding:host_id': '' } } });
}

/** Nova's network info cache for these ports: networks, subnets, addresses and floating IPs. */
export async function buildNetworkInfo(ctx: ComputeContext, ports: Port[], preserved: Set<string>): Promise<VifInfo[]> {
  if (!ports.length) return [];
  const netIds = [...new Set(ports.map((p) => p.network_id))];
  const nets = (await neutron<{ networks: Network[] }>(ctx, 'GET', `/networks${q({ id: netIds })}`)).networks;
  const subnetIds = [...new Set(ports.flatMap((p) => p.fixed_ips.map((f) => f.subnet_id)))];
  const subnets = subnetIds.length
    ? (await neutron<{ subnets: { id: string; cidr: string; ip_version: number; gateway_ip: string | null; dns_nameservers: string[]; host_routes: { destination: string; nexthop: string }[]; enable_dhcp: boolean }[] }>(ctx, 'GET', `/subnets${q({ id: subnetIds })}`)).subnets
    : [];
  const fips = await neutron<{ floatingips: { floating_ip_address: string; port_id: string | null; fixed_ip_address: string | null }[] }>(ctx, 'GET', `/floatingips${q({ port_id: ports.map((p) => p.id) })}`)
    .then((r) => r.floatingips).catch(() => []); // without the L3 API, no floating IPs
  return ports.map((p) => {
    const n = nets.find((x) => x.id === p.network_id);
    const bySubnet = new Map<string, string[]>();
    for (const f of p.fixed_ips) (bySubnet.get(f.subnet_id) ?? bySubnet.set(f.subnet_id, []).get(f.subnet_id)!).push(f.ip_address);
    return {
      id: p.id, address: p.mac_address, type: p['binding:vif_type'] && p['binding:vif_type'] !== 'unbound' ? p['binding:vif_type'] : 'bridge',
      devname: tapName(p.id), details: p['binding:vif_details'] ?? {}, vnic_type: p['binding:vnic_type'] ?? 'normal',
      active: p.status === 'ACTIVE', preserve_on_delete: preserved.has(p.id), profile: p['binding:profile'] ?? {},
      network: {
        id: p.network_id, bridge: bridgeOf(p), label: n?.name ?? '',
        subnets: [...bySubnet.entries()].map(([sid, addrs]) => {
          const s = subnets.find((x) => x.id === sid);
          const v = s?.ip_version ?? ipVersion(addrs[0]!);
          return {
            cidr: s?.cidr ?? '', version: v,
            gateway: { address: s?.gateway_ip ?? null, type: 'gateway' as const, version: v },
            dns: (s?.dns_nameservers ?? []).map((a) => ({ address: a, type: 'dns' as const, version: ipVersion(a) })),
            routes: (s?.host_routes ?? []).map((r) => ({ cidr: r.destination, gateway: { address: r.nexthop, type: 'gateway' as const, version: ipVersion(r.nexthop) } })),
            ips: addrs.map((a) => ({
              address: a, type: 'fixed' as const, version: ipVersion(a),
              floating_ips: fips.filter((f) => f.port_id === p.id && f.fixed_ip_address === a).map((f) => ({ address: f.floating_ip_address, type: 'floating' as const, version: ipVersion(f.floating_ip_address) })),
            })),
            meta: { enable_dhcp: s?.enable_dhcp ?? false },
          };
        }),
        meta: {
          injected: false, tenant_id: p.project_id ?? p.tenant_id ?? '', mtu: n?.mtu ?? null,
          physical_network: n?.['provider:physical_network'] ?? null, tunneled: n?.['provider:network_type'] === 'vxlan',
        },
      },
    };
  });
}

/** The instance's ports, as the service user sees them. */
export async function portsOf(ctx: ComputeContext, instanceUuid: string): Promise<Port[]> {
  return (await neutron<{ ports: Port[] }>(ctx, 'GET', `/ports${q({ device_id: instanceUuid })}`)).ports;
}

/** A port by id (null when gone). */
export async function showPort(ctx: ComputeContext, id: string, token?: string): Promise<Port | null> {
  try { return (await neutron<{ port: Port }>(ctx, 'GET', `/ports/${encodeURIComponent(id)}`, { token })).port; } catch (e) {
    if (e instanceof NeutronError && e.status === 404) return null;
    throw e;
  }
}

/** Updates a port's attributes (security groups, binding) as the service user. */
export async function updatePort(ctx: ComputeContext, id: string, port: Record<string, unknown>): Promise<Port> {
  return (await neutron<{ port: Port }>(ctx, 'PUT', `/ports/${id}`, { body: { port } })).port;
}

/**
 * Servers per ports query when the view asks for their security groups: Nova's MAX_SEARCH_IDS is
 * 150; 200 `device_id=<uuid>` pairs make a 9.4 kB URL, well inside Node's 16 KiB header limit.
 */
const SERVERS_PER_PORTS_QUERY = 200;
/** Group ids per security-groups query (Nova's MAX_SEARCH_IDS). */
const GROUPS_PER_QUERY = 150;

/**
 * A server view's `security_groups` for many servers at once, as Nova's
 * get_instances_security_groups_bindings (nova/network/security_group_api.py) with the caller's
 * token: the servers' ports in one query per 200 servers (device_id=..., only device_id and
 * security_groups asked for; the queries run together), then the groups those ports name in one
 * query (id=..., id and name). Per server, each port's groups in the order the network service
 * lists them, as `{name}` (the id when the group has no name); a group the caller cannot see is
 * left out. Not de-duplicated, as in Nova: a server with two ports in `default` shows it twice.
 * Servers without ports (networks `none`, not yet built, or every group removed) have no entry.
 */
export async function securityGroupBindings(ctx: ComputeContext, instanceUuids: string[], token: string): Promise<Map<string, { name: string }[]>> {
  const out = new Map<string, { name: string }[]>();
  const uuids = [...new Set(instanceUuids)];
  if (!uuids.length || !(await hasNetworkService(ctx))) return out;
  const chunks: string[][] = [];
  for (let i = 0; i < uuids.length; i += SERVERS_PER_PORTS_QUERY) chunks.push(uuids.slice(i, i + SERVERS_PER_PORTS_QUERY));
  const ports = (await Promise.all(chunks.map((ids) =>
    neutron<{ ports: Pick<Port, 'device_id' | 'security_groups'>[] }>(ctx, 'GET', `/ports${q({ device_id: ids, fields: ['device_id', 'security_groups'] })}`, { token })
      .then((r) => r.ports)))).flat();
  const sgIds = [...new Set(ports.flatMap((p) => p.security_groups ?? []))];
  if (!sgIds.length) return out;
  const groups = new Map<string, { id: string; name?: string | null }>();
  for (let i = 0; i < sgIds.length; i += GROUPS_PER_QUERY) {
    const r = await neutron<{ security_groups: { id: string; name?: string | null }[] }>(ctx, 'GET',
      `/security-groups${q({ id: sgIds.slice(i, i + GROUPS_PER_QUERY), fields: ['id', 'name'] })}`, { token });
    for (const g of r.security_groups) groups.set(g.id, g);
  }
  for (const p of ports) {
    for (const id of p.security_groups ?? []) {
      const g = groups.get(id);
      if (!g) continue;
      const list = out.get(p.device_id) ?? out.set(p.device_id, []).get(p.device_id)!;
      list.push({ name: g.name || g.id });
    }
  }
  return out;
}

/**
 * Gives the instance's ports back: ports compute created are deleted; ports the user brought
 * (preserve_on_delete) are unbound and stay. Ports already gone are fine.
 */
export async function deallocateForInstance(ctx: ComputeContext, instanceUuid: string, info: VifInfo[]): Promise<void> {
  if (!(await hasNetworkService(ctx))) return;
  const preserved = new Set(info.filter((v) => v.preserve_on_delete).map((v) => v.id));
  let ports: Port[];
  try { ports = await portsOf(ctx, instanceUuid); } catch (e) {
    if (e instanceof NeutronError && e.status === 404) return;
    throw e;
  }
  for (const p of ports) {
    try {
      if (preserved.has(p.id)) await releasePort(ctx, p.id);
      else await neutron(ctx, 'DELETE', `/ports/${p.id}`);
    } catch (e) {
      if (!(e instanceof NeutronError && e.status === 404)) throw e;
    }
  }
}

/** Gives one port back: deleted when compute made it, unbound when the user brought it. */
export async function deallocateOne(ctx: ComputeContext, vif: Pick<VifInfo, 'id' | 'preserve_on_delete'>): Promise<void> {
  try {
    if (vif.preserve_on_delete) await releasePort(ctx, vif.id);
    else await neutron(ctx, 'DELETE', `/ports/${vif.id}`);
  } catch (e) {
    if (!(e instanceof NeutronError && e.status === 404)) throw e;
  }
}

export { neutron as networkCall };
