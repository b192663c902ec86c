// The server side of the network agents (neutron-server's agent RPC, reduced). Each host runs one
// agent (L2 + DHCP + L3 + metadata on a network node, L2 only on a compute node) that asks over
// the bus for everything its host must carry (`host_state`), converges the host to it, and reports
// back which of its compute ports are plugged (`ports_up`) and that it is alive (`heartbeat`).
// Whenever the API changes something, the agents are told to sync (a fanout). A port that comes
// up becomes ACTIVE and the compute service hears `network-vif-plugged` for it, as Nova waits for.

import type { Bus } from '../common/bus/index.js';
import type { ServiceSession } from '../common/auth/session.js';
import type { NetworkContext } from './context.js';
import { bump, parse } from './store/common.js';
import { nowIso } from './store/tx.js';
import type {
  HostNetworkState, NetworkSpec, PortSpec, RouterSpec, SecurityGroupSpec, SubnetSpec,
} from './agent/driver.js';
import { bridgeName, defaultTapName } from './agent/names.js';
import { DEVICE_OWNER_DHCP } from './agent/driver.js';

/** The topic the server consumes, and the fanout the agents subscribe to. */
export const SERVER_TOPIC = 'network.server';
export const AGENTS_FANOUT = 'network.agents';

export type AgentRequest =
  | { op: 'host_state'; host: string; network_node: boolean }
  | { op: 'ports_up'; host: string; up: string[]; down: string[] }
  | { op: 'heartbeat'; host: string; agents: AgentReport[] };

export interface AgentReport { agent_type: string; binary: string; topic: string; configurations: Record<string, unknown>; availability_zone?: string | null }

type Row = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Extra state a later module (routers, floating IPs) adds to a network node's view. */
export type RouterSource = (ctx: NetworkContext, host: string) => Promise<{ routers: RouterSpec[]; networkIds: string[] }>;

export interface AgentsRpcOptions {
  /** The network service user's session: external events go to the compute service through it. */
  session?: ServiceSession;
  routers?: RouterSource;
}

export class AgentsRpc {
  private unsubscribe?: () => void;
  private pending?: NodeJS.Timeout;

  constructor(private ctx: NetworkContext, private bus: Bus, private o: AgentsRpcOptions = {}) {}

  start(): void {
    this.unsubscribe = this.bus.consume(SERVER_TOPIC, (m) => this.handle(m as AgentRequest));
  }

  stop(): void {
    this.unsubscribe?.();
    if (this.pending) clearTimeout(this.pending);
  }

  /** Tells every agent to sync (coalesced: a burst of API writes makes one message). */
  changed(): void {
    if (this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      void this.bus.fanout(AGENTS_FANOUT, { op: 'sync' }).catch((e) => this.ctx.log.warn({ err: e }, 'network: agent notification failed'));
    }, 5);
    this.pending.unref?.();
  }

  private async handle(m: AgentRequest): Promise<unknown> {
    switch (m.op) {
      case 'host_state': return this.hostState(m.host, m.network_node);
      case 'ports_up': return this.portsUp(m.host, m.up, m.down);
      case 'heartbeat': return this.heartbeat(m.host, m.agents);
      default: throw new Error(`unknown network agent request ${(m as { op: string }).op}`);
    }
  }

  /**
   * What `host` must carry: the networks of the ports bound to it (all of them on a network node,
   * which also serves DHCP and routers), their subnets and every port on them (remote groups and
   * DHCP need the other hosts' ports too), and the security groups those ports use or refer to.
   */
  async hostState(host: string, networkNode: boolean): Promise<HostNetworkState> {
    const db = this.ctx.db;
    const local = (await db.selectFrom('neutron_ports').select(['network_id']).where('binding_host_id', '=', host).execute()) as Row[];
    const netIds = new Set<string>(local.map((r) => r.network_id as string));
    let routers: RouterSpec[] = [];
    if (networkNode) {
      for (const r of (await db.selectFrom('neutron_subnets').select('network_id').where('enable_dhcp', '=', 1).execute()) as Row[]) netIds.add(r.network_id);
      if (this.o.routers) {
        const r = await this.o.routers(this.ctx, host);
        routers = r.routers;
        for (const id of r.networkIds) netIds.add(id);
      }
    }
    if (!netIds.size) return { networks: [], subnets: [], ports: [], security_groups: [], routers };
    const ids = [...netIds];
    const nets = (await db.selectFrom('neutron_networks').leftJoin('neutron_segments', 'neutron_segments.network_id', 'neutron_networks.id')
      .select(['neutron_networks.id as id', 'neutron_networks.mtu as mtu', 'neutron_networks.admin_state_up as admin_state_up',
        'neutron_segments.network_type as network_type', 'neutron_segments.physical_network as physical_network', 'neutron_segments.segmentation_id as segmentation_id'])
      .where('neutron_networks.id', 'in', ids).execute()) as Row[];
    const networks: NetworkSpec[] = nets.map((n) => ({
      id: n.id, network_type: (n.network_type ?? 'local') as NetworkSpec['network_type'], physical_network: n.physical_network || null,
      segmentation_id: n.segmentation_id === null || n.segmentation_id === undefined ? null : Number(n.segmentation_id), mtu: Number(n.mtu), admin_state_up: !!Number(n.admin_state_up),
    }));
    const subnets: SubnetSpec[] = ((await db.selectFrom('neutron_subnets').selectAll().where('network_id', 'in', ids).execute()) as Row[]).map((s) => ({
      id: s.id, network_id: s.network_id, cidr: s.cidr, ip_version: Number(s.ip_version) as 4 | 6, gateway_ip: s.gateway_ip ?? null,
      enable_dhcp: !!Number(s.enable_dhcp), dns_nameservers: parse<string[]>(s.dns_nameservers, []), host_routes: parse(s.host_routes, []), allocation_pools: parse(s.allocation_pools, []),
    }));
    if (networkNode) await this.ensureDhcpPorts(host, subnets);
    const portRows = (await db.selectFrom('neutron_ports').selectAll().where('network_id', 'in', ids).execute()) as Row[];
    const portIds = portRows.map((p) => p.id as string);
    const fixed = new Map<string, { subnet_id: string; ip_address: string }[]>();
    const sgsOf = new Map<string, string[]>();
    if (portIds.length) {
      // By subnet (the primary key's prefix), not by a list of every port id (a thousand
      // parameters per statement); ports' groups through the (network_id, mac) index.
      const subnetIds = subnets.map((x) => x.id);
      const allocations = subnetIds.length ? await db.selectFrom('neutron_ipallocations').select(['port_id', 'subnet_id', 'ip_address']).where('subnet_id', 'in', subnetIds).execute() : [];
      for (const a of allocations as Row[]) {
        (fixed.get(a.port_id) ?? fixed.set(a.port_id, []).get(a.port_id)!).push({ subnet_id: a.subnet_id, ip_address: a.ip_address });
      }
      const groups = await db.selectFrom('neutron_port_security_groups as g').innerJoin('neutron_ports as p', 'p.id', 'g.port_id')
        .select(['g.port_id', 'g.security_group_id']).where('p.network_id', 'in', ids).execute();
      for (const g of groups as Row[]) (sgsOf.get(g.port_id) ?? sgsOf.set(g.port_id, []).get(g.port_id)!).push(g.security_group_id);
    }
    const ports: PortSpec[] = portRows.map((p) => ({
      id: p.id, network_id: p.network_id, mac_address: p.mac_address, fixed_ips: fixed.get(p.id) ?? [], device_owner: p.device_owner, device_id: p.device_id,
      project_id: p.project_id, port_security_enabled: !!Number(p.port_security_enabled), allowed_address_pairs: parse(p.allowed_address_pairs, []),
      security_groups: sgsOf.get(p.id) ?? [], dns_name: p.dns_name ?? '', admin_state_up: !!Number(p.admin_state_up),
      // Compute's taps on this host are named after the port (Nova's tap + 11 characters).
      tap_name: p.binding_host_id === host && String(p.device_owner).startsWith('compute:') ? defaultTapName(p.id) : null,
    }));
    // Security groups of this host's ports, plus the groups their rules name as remote groups.
    const wanted = new Set(ports.filter((p) => p.tap_name).flatMap((p) => p.security_groups ?? []));
    const security_groups: SecurityGroupSpec[] = [];
    const seen = new Set<string>();
    let frontier = [...wanted];
    while (frontier.length) {
      const groups = (await db.selectFrom('neutron_security_groups').select(['id', 'stateful']).where('id', 'in', frontier).execute()) as Row[];
      const rules = (await db.selectFrom('neutron_sg_rules').selectAll().where('security_group_id', 'in', frontier).execute()) as Row[];
      const next: string[] = [];
      for (const g of groups) {
        seen.add(g.id);
        const rs = rules.filter((r) => r.security_group_id === g.id);
        security_groups.push({
          id: g.id, stateful: !!Number(g.stateful), rules: rs.map((r) => ({
            id: r.id, direction: r.direction, ethertype: r.ethertype, protocol: r.protocol ?? null,
            port_range_min: r.port_range_min ?? null, port_range_max: r.port_range_max ?? null, remote_ip_prefix: r.remote_ip_prefix ?? null, remote_group_id: r.remote_group_id ?? null,
          })),
        });
        for (const r of rs) if (r.remote_group_id && !seen.has(r.remote_group_id)) next.push(r.remote_group_id);
      }
      frontier = [...new Set(next)].filter((id) => !seen.has(id));
    }
    // Ports in a remote group on other networks count too: add them (without a tap) so the group's addresses are known.
    const remoteGroups = new Set(security_groups.flatMap((g) => g.rules.map((r) => r.remote_group_id).filter((x): x is string => !!x)));
    if (remoteGroups.size) {
      const extra = (await db.selectFrom('neutron_port_security_groups').innerJoin('neutron_ports', 'neutron_ports.id', 'neutron_port_security_groups.port_id')
        .select(['neutron_ports.id as id', 'neutron_ports.network_id as network_id', 'neutron_ports.mac_address as mac_address', 'neutron_port_security_groups.security_group_id as sg'])
        .where('neutron_port_security_groups.security_group_id', 'in', [...remoteGroups]).execute()) as Row[];
      const missing = extra.filter((e) => !portIds.includes(e.id));
      if (missing.length) {
        const allocs = (await db.selectFrom('neutron_ipallocations').select(['port_id', 'subnet_id', 'ip_address']).where('port_id', 'in', missing.map((m) => m.id)).execute()) as Row[];
        const byPort = new Map<string, PortSpec>();
        for (const m of missing) {
          const p: PortSpec = byPort.get(m.id) ?? { id: m.id, network_id: m.network_id, mac_address: m.mac_address, fixed_ips: allocs.filter((a) => a.port_id === m.id).map((a) => ({ subnet_id: a.subnet_id as string, ip_address: a.ip_address as string })), security_groups: [], tap_name: null };
          p.security_groups!.push(m.sg);
          byPort.set(m.id, p);
        }
        ports.push(...byPort.values());
      }
    }
    return { networks, subnets, ports, security_groups, routers };
  }

  /**
   * The DHCP port of each network with a DHCP subnet, as neutron-dhcp-agent creates it: owned by
   * `network:dhcp`, bound to the network node, with an address from each DHCP subnet.
   */
  private async ensureDhcpPorts(host: string, subnets: SubnetSpec[]): Promise<void> {
    const dhcpNets = [...new Set(subnets.filter((s) => s.enable_dhcp).map((s) => s.network_id))];
    if (!dhcpNets.length || !this.createPort) return;
    const have = new Set(((await this.ctx.db.selectFrom('neutron_ports').select('network_id').where('device_owner', '=', DEVICE_OWNER_DHCP).where('network_id', 'in', dhcpNets).execute()) as Row[]).map((r) => r.network_id as string));
    for (const net of dhcpNets) {
      if (have.has(net)) continue;
      const dhcpSubnets = subnets.filter((s) => s.network_id === net && s.enable_dhcp).map((s) => ({ subnet_id: s.id }));
      await this.createPort({ network_id: net, device_owner: DEVICE_OWNER_DHCP, device_id: `dhcp-${host}-${net}`.slice(0, 255), host, fixed_ips: dhcpSubnets })
        .catch((e) => this.ctx.log.warn({ err: e, network: net }, 'network: cannot create the DHCP port'));
    }
  }

  /** How this module creates a port with the API's own rules (set by the service: MAC, IPAM, quotas bypassed). */
  createPort?: (p: { network_id: string; device_owner: string; device_id: string; host: string; fixed_ips: { subnet_id: string }[] }) => Promise<void>;

  /** Marks the host's plugged compute ports ACTIVE (and unplugged ones DOWN); compute hears of each one that came up. */
  private async portsUp(host: string, up: string[], down: string[]): Promise<{ changed: number }> {
    const db = this.ctx.db;
    let changed = 0;
    const events: { name: string; server_uuid: string; tag: string; status: string }[] = [];
    const now = nowIso();
    for (const [ids, status] of [[up, 'ACTIVE'], [down, 'DOWN']] as const) {
      if (!ids.length) continue;
      const rows = (await db.selectFrom('neutron_ports').select(['id', 'status', 'device_id', 'device_owner']).where('id', 'in', ids).where('binding_host_id', '=', host).execute()) as Row[];
      for (const r of rows) {
        if (r.status === status) continue;
        const res = await db.updateTable('neutron_ports').set({ status, updated_at: now }).where('id', '=', r.id).where('status', '=', r.status).executeTakeFirst();
        if (Number(res.numUpdatedRows ?? 0) === 0) continue;
        await bump(db, 'neutron_ports', r.id, now);
        changed++;
        if (status === 'ACTIVE' && String(r.device_owner).startsWith('compute:') && r.device_id) {
          events.push({ name: 'network-vif-plugged', server_uuid: r.device_id, tag: r.id, status: 'completed' });
        }
      }
    }
    if (events.length) await this.notifyCompute(events);
    return { changed };
  }

  /** POST /os-server-external-events to the compute service of the catalog (Nova's notifier). */
  async notifyCompute(events: { name: string; server_uuid: string; tag?: string; status?: string }[]): Promise<void> {
    if (!this.o.session || !events.length) return;
    try {
      const r = await this.o.session.request('compute', 'POST', '/os-server-external-events', { body: { events } });
      if (r.status >= 400 && r.status !== 404) this.ctx.log.warn({ status: r.status, body: await r.text() }, 'network: compute refused external events');
      else await r.arrayBuffer();
    } catch (e) {
      this.ctx.log.warn({ err: e }, 'network: cannot reach compute for external events');
    }
  }

  /** Agents' rows for `openstack network agent list`: created on first report, heartbeat after. */
  private async heartbeat(host: string, agents: AgentReport[]): Promise<void> {
    const db = this.ctx.db;
    const now = nowIso();
    for (const a of agents) {
      const row = await db.selectFrom('neutron_agents').select('id').where('host', '=', host).where('binary', '=', a.binary).executeTakeFirst() as Row | undefined;
      if (row) {
        await db.updateTable('neutron_agents').set({ heartbeat_timestamp: now, configurations: JSON.stringify(a.configurations) }).where('id', '=', row.id).execute();
      } else {
        await db.insertInto('neutron_agents').values({
          id: crypto.randomUUID(), agent_type: a.agent_type, binary: a.binary, topic: a.topic, host, availability_zone: a.availability_zone ?? null,
          admin_state_up: 1, description: null, configurations: JSON.stringify(a.configurations), resource_versions: null, load: 0, resources_synced: null,
          created_at: now, started_at: now, heartbeat_timestamp: now,
        }).execute();
      }
    }
  }
}

/** The bridge a port's network has on every host (for binding:vif_details.bridge_name). */
export const bridgeOfNetwork = bridgeName;
