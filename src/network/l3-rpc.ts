// The L3 part of a network node's desired state (neutron-server's L3 agent RPC, sync_routers,
// reduced): every router with its interfaces (one per port: its IPv4 address if it has one, the
// subnet's CIDR and the port's MAC), its gateway (the external subnet's gateway_ip as the default
// route, enable_snat), its extra routes and its associated floating IPs, plus the networks those
// touch so that the agent carries their bridges. One network node serves all routers here
// (no L3 agent scheduling).

import type { NetworkContext } from './context.js';
import type { RouterSource } from './agents-rpc.js';
import type { FloatingIpSpec, RouterInterfaceSpec, RouterSpec } from './agent/driver.js';
import { parse } from './store/common.js';

type Row = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const OWNER_INTF = 'network:router_interface';
const OWNER_GW = 'network:router_gateway';

export const routerSource: RouterSource = async (ctx: NetworkContext) => {
  const db = ctx.db;
  const routers = (await db.selectFrom('neutron_routers').selectAll().orderBy('created_at').orderBy('id').execute()) as Row[];
  if (!routers.length) return { routers: [], networkIds: [] };
  const ids = routers.map((r) => r.id as string);
  const ports = (await db.selectFrom('neutron_ports').select(['id', 'network_id', 'mac_address', 'device_id', 'device_owner', 'created_at'])
    .where('device_id', 'in', ids).where('device_owner', 'in', [OWNER_INTF, OWNER_GW]).orderBy('created_at').execute()) as Row[];
  const allocs = ports.length ? (await db.selectFrom('neutron_ipallocations as a').innerJoin('neutron_subnets as s', 's.id', 'a.subnet_id')
    .select(['a.port_id', 'a.subnet_id', 'a.ip_address', 's.cidr', 's.gateway_ip', 's.ip_version']).where('a.port_id', 'in', ports.map((p) => p.id)).execute()) as Row[] : [];
  // A port's address for the data plane: IPv4 first.
  const addrOf = (portId: string): Row | undefined => {
    const mine = allocs.filter((a) => a.port_id === portId);
    return mine.find((a) => Number(a.ip_version) === 4) ?? mine[0];
  };
  const spec = (p: Row): RouterInterfaceSpec | undefined => {
    const a = addrOf(p.id);
    if (!a) return undefined;
    return { port_id: p.id, network_id: p.network_id, subnet_id: a.subnet_id, ip_address: a.ip_address, cidr: a.cidr, mac_address: p.mac_address };
  };
  // Floating IPs whose fixed port still exists.
  const fips = (await db.selectFrom('neutron_floatingips as f').innerJoin('neutron_ports as p', 'p.id', 'f.fixed_port_id')
    .select(['f.id', 'f.floating_ip_address', 'f.fixed_ip_address', 'f.fixed_port_id', 'f.router_id']).where('f.router_id', 'in', ids).execute()) as Row[];
  const networkIds = new Set<string>();
  const out: RouterSpec[] = routers.map((r) => {
    const mine = ports.filter((p) => p.device_id === r.id);
    const interfaces = mine.filter((p) => p.device_owner === OWNER_INTF).map(spec).filter((x): x is RouterInterfaceSpec => !!x);
    const gwPort = mine.find((p) => p.id === r.gw_port_id);
    const gwSpec = gwPort ? spec(gwPort) : undefined;
    for (const i of interfaces) networkIds.add(i.network_id);
    if (gwSpec) networkIds.add(gwSpec.network_id);
    const floating_ips: FloatingIpSpec[] = gwSpec ? fips.filter((f) => f.router_id === r.id).map((f) => ({
      id: f.id, floating_ip_address: f.floating_ip_address, fixed_ip_address: f.fixed_ip_address, port_id: f.fixed_port_id,
    })) : [];
    return {
      id: r.id, admin_state_up: !!Number(r.admin_state_up), interfaces,
      external_gateway: gwSpec ? { ...gwSpec, gateway_ip: allocs.find((a) => a.port_id === gwPort!.id && a.subnet_id === gwSpec.subnet_id)?.gateway_ip ?? null, enable_snat: !!Number(r.enable_snat) } : null,
      routes: parse<{ destination: string; nexthop: string }[]>(r.routes, []), floating_ips,
    };
  });
  return { routers: out, networkIds: [...networkIds] };
};
