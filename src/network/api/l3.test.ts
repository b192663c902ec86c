// The L3 API (routers, interfaces, gateways, extra routes, floating IPs) over HTTP against a real
// network service, on SQLite, PostgreSQL and MariaDB (its joins and transactions are new SQL):
// Neutron's bodies, status codes and error types for the good and the bad cases, project
// isolation, quotas, and what the agents of a network node get for the routers (hostState).
// MONOSTACK_TEST_SKIP_ENGINES=postgres,mysql (or 1) leaves the servers out.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestCloud, type TestCloud } from '../../identity/testing.js';
import { startNetworkService, type NetworkTestService } from '../testing.js';
import { engineCases, engineSkipped } from '../../common/testing/engines.js';

const ENGINES = engineCases('monostack_l3_test');

let cloud: TestCloud;
before(async () => { cloud = await startTestCloud(); });
after(async () => { await cloud?.close(); });

/** A project with a member user, and that user's token. */
async function project(name: string): Promise<{ id: string; token: string }> {
  const admin = await cloud.adminToken();
  const p = await cloud.request('POST', '/v3/projects', { token: admin, body: { project: { name, domain_id: 'default' } } });
  assert.equal(p.status, 201, p.text);
  const u = await cloud.request('POST', '/v3/users', { token: admin, body: { user: { name: `u-${name}`, domain_id: 'default', password: 'pw', default_project_id: p.body.project.id } } });
  assert.equal(u.status, 201, u.text);
  const role = (await cloud.request('GET', '/v3/roles?name=member', { token: admin })).body.roles[0].id;
  await cloud.request('PUT', `/v3/projects/${p.body.project.id}/users/${u.body.user.id}/roles/${role}`, { token: admin });
  const t = await cloud.request('POST', '/v3/auth/tokens', { body: { auth: { identity: { methods: ['password'], password: { user: { id: u.body.user.id, password: 'pw' } } }, scope: { project: { id: p.body.project.id } } } } });
  assert.equal(t.status, 201, t.text);
  return { id: p.body.project.id, token: t.headers.get('x-subject-token')! };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function fault(r: { status: number; body: any; text: string }, status: number, type: string, msg?: RegExp): void {
  assert.equal(r.status, status, r.text);
  assert.equal(r.body?.NeutronError?.type, type, r.text);
  if (msg) assert.match(r.body.NeutronError.message, msg);
}

let seq = 0;
async function scenario(svc: NetworkTestService): Promise<void> {
  const n = ++seq;
  const alice = await project(`l3-alice-${n}`);
  const bob = await project(`l3-bob-${n}`);
  const A = (m: string, p: string, body?: unknown, headers?: Record<string, string>) => svc.request(m, p, { token: alice.token, body, headers });
  const B = (m: string, p: string, body?: unknown) => svc.request(m, p, { token: bob.token, body });
  const adm = (m: string, p: string, body?: unknown) => svc.admin(m, p, { body });
  const ok = async (r: Promise<{ status: number; text: string; body: any }>, status = 200) => { const x = await r; assert.equal(x.status, status, x.text); return x.body; }; // eslint-disable-line @typescript-eslint/no-explicit-any

  const exts = (await ok(A('GET', '/v2.0/extensions'))).extensions.map((e: { alias: string }) => e.alias);
  for (const a of ['router', 'ext-gw-mode', 'extraroute', 'extraroute-atomic', 'fip-port-details', 'floatingip-pools', 'router_availability_zone']) assert.ok(exts.includes(a), a);
  for (const a of ['l3-ha', 'dvr', 'l3-flavors']) assert.ok(!exts.includes(a), a);

  // The external network (admin) and alice's networks; the pool leaves .200 out, which the test
  // asks for by hand (addresses are allocated at random).
  const ext = (await ok(adm('POST', '/v2.0/networks', { network: { name: 'public', 'router:external': true } }), 201)).network;
  const extSub = (await ok(adm('POST', '/v2.0/subnets', { subnet: { network_id: ext.id, ip_version: 4, cidr: '172.24.4.0/24', allocation_pools: [{ start: '172.24.4.2', end: '172.24.4.150' }] } }), 201)).subnet;
  const mk = async (name: string, cidr: string, extra: Record<string, unknown> = {}) => {
    const net = (await ok(A('POST', '/v2.0/networks', { network: { name } }), 201)).network;
    const sub = (await ok(A('POST', '/v2.0/subnets', { subnet: { network_id: net.id, ip_version: 4, cidr, ...extra } }), 201)).subnet;
    return { net, sub };
  };
  const n1 = await mk('n1', '10.0.1.0/24');
  const n2 = await mk('n2', '10.0.2.0/24');
  const n3 = await mk('n3', '10.0.1.128/25');
  const noGw = await mk('n4', '10.0.4.0/24', { gateway_ip: null });
  const lonely = await mk('n5', '10.0.5.0/24');

  // Create: gateway with SNAT by default; enable_snat and external_fixed_ips are admin-only.
  fault(await A('POST', '/v2.0/routers', { router: { name: 'r', external_gateway_info: { network_id: ext.id, enable_snat: false } } }), 403, 'PolicyNotAuthorized');
  fault(await A('POST', '/v2.0/routers', { router: { external_gateway_info: { network_id: n1.net.id } } }), 400, 'BadRequest', /is not an external network/);
  fault(await A('POST', '/v2.0/routers', { router: { bogus: 1 } }), 400, 'HTTPBadRequest');
  fault(await A('POST', '/v2.0/routers', { router: { distributed: true } }), 403, 'PolicyNotAuthorized');
  const r = (await ok(A('POST', '/v2.0/routers', { router: { name: 'r1', external_gateway_info: { network_id: ext.id } } }), 201)).router;
  assert.equal(r.status, 'ACTIVE');
  assert.equal(r.admin_state_up, true);
  assert.equal(r.project_id, alice.id);
  assert.equal(r.tenant_id, alice.id);
  assert.deepEqual(r.routes, []);
  assert.equal(r.revision_number, 0);
  assert.equal(r.external_gateway_info.network_id, ext.id);
  assert.equal(r.external_gateway_info.enable_snat, true);
  assert.equal(r.external_gateway_info.external_fixed_ips.length, 1);
  assert.equal(r.external_gateway_info.external_fixed_ips[0].subnet_id, extSub.id);
  assert.match(r.external_gateway_info.external_fixed_ips[0].ip_address, /^172\.24\.4\.\d+$/);
  assert.ok(!('distributed' in r), 'distributed is admin-only to read');
  const adminView = (await ok(adm('GET', `/v2.0/routers/${r.id}`))).router;
  assert.equal(adminView.distributed, false);
  assert.equal(adminView.ha, false);
  assert.equal(adminView.flavor_id, null);
  const snatOff = (await ok(adm('POST', '/v2.0/routers', { router: { name: 'admin-r', external_gateway_info: { network_id: ext.id, enable_snat: false, external_fixed_ips: [{ ip_address: '172.24.4.200' }] } } }), 201)).router;
  assert.equal(snatOff.external_gateway_info.enable_snat, false);
  assert.deepEqual(snatOff.external_gateway_info.external_fixed_ips, [{ subnet_id: extSub.id, ip_address: '172.24.4.200' }]);
  fault(await adm('POST', '/v2.0/routers', { router: { external_gateway_info: { network_id: ext.id, external_fixed_ips: [{ ip_address: '172.24.4.1' }] } } }), 400, 'BadRequest', /same as the gateway IP/);
  // The gateway port is the router's, owned network:router_gateway, without a project.
  const gwPorts = (await ok(adm('GET', `/v2.0/ports?device_id=${r.id}&device_owner=network:router_gateway`))).ports;
  assert.equal(gwPorts.length, 1);
  assert.equal(gwPorts[0].project_id, '');

  // Isolation.
  fault(await B('GET', `/v2.0/routers/${r.id}`), 404, 'RouterNotFound');
  fault(await B('PUT', `/v2.0/routers/${r.id}`, { router: { name: 'x' } }), 404, 'RouterNotFound');
  fault(await B('DELETE', `/v2.0/routers/${r.id}`), 404, 'RouterNotFound');
  assert.deepEqual((await ok(B('GET', '/v2.0/routers'))).routers, []);
  assert.deepEqual((await ok(A('GET', '/v2.0/routers'))).routers.map((x: { id: string }) => x.id), [r.id]);
  assert.equal((await ok(adm('GET', '/v2.0/routers'))).routers.length, 2);

  // Interfaces by subnet: the port takes the gateway_ip.
  const i1 = await ok(A('PUT', `/v2.0/routers/${r.id}/add_router_interface`, { subnet_id: n1.sub.id }));
  assert.equal(i1.id, r.id);
  assert.equal(i1.subnet_id, n1.sub.id);
  assert.deepEqual(i1.subnet_ids, [n1.sub.id]);
  assert.equal(i1.network_id, n1.net.id);
  assert.equal(i1.project_id, alice.id);
  const p1 = (await ok(A('GET', `/v2.0/ports/${i1.port_id}`))).port;
  assert.equal(p1.device_owner, 'network:router_interface');
  assert.equal(p1.device_id, r.id);
  assert.deepEqual(p1.fixed_ips, [{ subnet_id: n1.sub.id, ip_address: '10.0.1.1' }]);
  fault(await A('PUT', `/v2.0/routers/${r.id}/add_router_interface`, { subnet_id: n1.sub.id }), 400, 'BadRequest', /Router already has a port on subnet/);
  fault(await A('PUT', `/v2.0/routers/${r.id}/add_router_interface`, { subnet_id: n3.sub.id }), 400, 'BadRequest', /Cidr 10\.0\.1\.128\/25 of subnet .* overlaps with cidr 10\.0\.1\.0\/24 of subnet/);
  fault(await A('PUT', `/v2.0/routers/${r.id}/add_router_interface`, { subnet_id: noGw.sub.id }), 400, 'BadRequest', /must have a gateway IP/);
  fault(await A('PUT', `/v2.0/routers/${r.id}/add_router_interface`, {}), 400, 'BadRequest', /Either subnet_id or port_id/);
  fault(await A('PUT', `/v2.0/routers/${r.id}/add_router_interface`, { subnet_id: n2.sub.id, port_id: p1.id }), 400, 'BadRequest', /Cannot specify both/);
  fault(await A('PUT', `/v2.0/routers/${r.id}/add_router_interface`, { subnet_id: 'nope' }), 400, 'BadRequest');
  fault(await B('PUT', `/v2.0/routers/${r.id}/add_router_interface`, { subnet_id: n2.sub.id }), 404, 'RouterNotFound');
  // The external subnet overlaps nothing here, but it is on the router too.
  const clash = await mk('clash', '172.24.4.0/25');
  fault(await A('PUT', `/v2.0/routers/${r.id}/add_router_interface`, { subnet_id: clash.sub.id }), 400, 'BadRequest', /overlaps with cidr 172\.24\.4\.0\/24/);

  // Interface by port: an existing port of alice's is taken over.
  const own = (await ok(A('POST', '/v2.0/ports', { port: { network_id: n2.net.id, fixed_ips: [{ ip_address: '10.0.2.10' }] } }), 201)).port;
  const i2 = await ok(A('PUT', `/v2.0/routers/${r.id}/add_router_interface`, { port_id: own.id }));
  assert.equal(i2.port_id, own.id);
  assert.equal(i2.subnet_id, n2.sub.id);
  const own2 = (await ok(A('GET', `/v2.0/ports/${own.id}`))).port;
  assert.equal(own2.device_owner, 'network:router_interface');
  assert.equal(own2.device_id, r.id);
  const bobPort = (await ok(B('POST', '/v2.0/ports', { port: { network_id: (await ok(B('POST', '/v2.0/networks', { network: { name: 'b' } }), 201)).network.id } }), 201)).port;
  fault(await A('PUT', `/v2.0/routers/${r.id}/add_router_interface`, { port_id: bobPort.id }), 404, 'PortNotFound');
  const used = (await ok(A('POST', '/v2.0/ports', { port: { network_id: lonely.net.id, device_id: 'some-server' } }), 201)).port;
  fault(await A('PUT', `/v2.0/routers/${r.id}/add_router_interface`, { port_id: used.id }), 409, 'PortInUse');

  // IPv6: a second prefix on the same network joins the router's existing IPv6 port.
  const v6net = (await ok(A('POST', '/v2.0/networks', { network: { name: 'v6' } }), 201)).network;
  const v6a = (await ok(A('POST', '/v2.0/subnets', { subnet: { network_id: v6net.id, ip_version: 6, cidr: '2001:db8:1::/64', ipv6_ra_mode: 'slaac', ipv6_address_mode: 'slaac' } }), 201)).subnet;
  const v6b = (await ok(A('POST', '/v2.0/subnets', { subnet: { network_id: v6net.id, ip_version: 6, cidr: '2001:db8:2::/64', ipv6_ra_mode: 'slaac', ipv6_address_mode: 'slaac' } }), 201)).subnet;
  const i6a = await ok(A('PUT', `/v2.0/routers/${r.id}/add_router_interface`, { subnet_id: v6a.id }));
  const i6b = await ok(A('PUT', `/v2.0/routers/${r.id}/add_router_interface`, { subnet_id: v6b.id }));
  assert.equal(i6b.port_id, i6a.port_id);
  assert.deepEqual(i6b.subnet_ids, [v6b.id]);
  assert.deepEqual((await ok(A('GET', `/v2.0/ports/${i6a.port_id}`))).port.fixed_ips.map((f: { ip_address: string }) => f.ip_address).sort(), ['2001:db8:1::1', '2001:db8:2::1']);
  const v6ext = (await ok(A('PUT', `/v2.0/routers/${r.id}/remove_router_interface`, { subnet_id: v6a.id })));
  assert.equal(v6ext.port_id, i6a.port_id);
  assert.deepEqual((await ok(A('GET', `/v2.0/ports/${i6a.port_id}`))).port.fixed_ips, [{ subnet_id: v6b.id, ip_address: '2001:db8:2::1' }]);
  await ok(A('PUT', `/v2.0/routers/${r.id}/remove_router_interface`, { subnet_id: v6b.id }));
  fault(await A('GET', `/v2.0/ports/${i6a.port_id}`), 404, 'PortNotFound');
  // A port outside the pool of a subnet the caller does not own (an admin's shared network) is refused.
  const shnet = (await ok(adm('POST', '/v2.0/networks', { network: { name: 'sh', shared: true } }), 201)).network;
  const shsub = (await ok(adm('POST', '/v2.0/subnets', { subnet: { network_id: shnet.id, ip_version: 4, cidr: '10.0.9.0/24', allocation_pools: [{ start: '10.0.9.100', end: '10.0.9.200' }] } }), 201)).subnet;
  const outside = (await ok(adm('POST', '/v2.0/ports', { port: { network_id: shnet.id, project_id: alice.id, fixed_ips: [{ subnet_id: shsub.id, ip_address: '10.0.9.5' }] } }), 201)).port;
  fault(await A('PUT', `/v2.0/routers/${r.id}/add_router_interface`, { port_id: outside.id }), 400, 'BadRequest', /out of the allocation pool/);
  assert.equal((await adm('DELETE', `/v2.0/ports/${outside.id}`)).status, 204);
  assert.equal((await adm('DELETE', `/v2.0/networks/${shnet.id}`)).status, 204);
  // The port taken over keeps its security groups (router ports are not filtered, Neutron shows them).
  assert.deepEqual(own2.security_groups, own.security_groups);

  // In use: the router, its subnets and networks, its ports through the port API.
  fault(await A('DELETE', `/v2.0/routers/${r.id}`), 409, 'RouterInUse', new RegExp(`Router ${r.id} still has ports`));
  fault(await A('DELETE', `/v2.0/subnets/${n1.sub.id}`), 409, 'SubnetInUse');
  fault(await A('DELETE', `/v2.0/networks/${n1.net.id}`), 409, 'NetworkInUse');
  fault(await A('DELETE', `/v2.0/ports/${p1.id}`), 409, 'ServicePortInUse');
  fault(await adm('DELETE', `/v2.0/networks/${ext.id}`), 409, 'NetworkInUse');
  fault(await adm('PUT', `/v2.0/networks/${ext.id}`, { network: { 'router:external': false } }), 409, 'ExternalNetworkInUse');

  // Extra routes: nexthops on a connected subnet, not the router's own address.
  fault(await A('PUT', `/v2.0/routers/${r.id}`, { router: { routes: [{ destination: '192.168.0.0/24', nexthop: '10.9.9.9' }] } }), 400, 'InvalidRoutes', /the nexthop is not connected with router/);
  fault(await A('PUT', `/v2.0/routers/${r.id}`, { router: { routes: [{ destination: '192.168.0.0/24', nexthop: '10.0.1.1' }] } }), 400, 'InvalidRoutes', /the nexthop is used by router/);
  fault(await A('PUT', `/v2.0/routers/${r.id}`, { router: { routes: [{ destination: 'nope', nexthop: '10.0.1.5' }] } }), 400, 'InvalidInput');
  fault(await A('PUT', `/v2.0/routers/${r.id}`, { router: { routes: Array.from({ length: 31 }, (_, i) => ({ destination: `192.168.${i}.0/24`, nexthop: '10.0.1.5' })) } }), 400, 'RoutesExhausted');
  const routed = (await ok(A('PUT', `/v2.0/routers/${r.id}`, { router: { routes: [{ destination: '192.168.0.0/24', nexthop: '10.0.1.5' }] } }))).router;
  assert.deepEqual(routed.routes, [{ destination: '192.168.0.0/24', nexthop: '10.0.1.5' }]);
  assert.ok(routed.revision_number > r.revision_number);
  const added = await ok(A('PUT', `/v2.0/routers/${r.id}/add_extraroutes`, { router: { routes: [{ destination: '192.168.1.0/24', nexthop: '10.0.2.5' }] } }));
  assert.equal(added.router.routes.length, 2);
  fault(await A('PUT', `/v2.0/routers/${r.id}/remove_router_interface`, { subnet_id: n2.sub.id }), 409, 'RouterInterfaceInUseByRoute');
  const removed = await ok(A('PUT', `/v2.0/routers/${r.id}/remove_extraroutes`, { router: { routes: [{ destination: '192.168.1.0/24', nexthop: '10.0.2.5' }] } }));
  assert.deepEqual(removed.router.routes, [{ destination: '192.168.0.0/24', nexthop: '10.0.1.5' }]);
  // If-Match and tags, as on every standard resource.
  fault(await A('PUT', `/v2.0/routers/${r.id}`, { router: { name: 'x' } }, { 'If-Match': 'revision_number=0' }), 412, 'RevisionNumberConstraintFailed');
  assert.equal((await A('PUT', `/v2.0/routers/${r.id}/tags/blue`)).status, 201);
  assert.deepEqual((await ok(A('GET', `/v2.0/routers?tags=blue`))).routers.map((x: { id: string }) => x.id), [r.id]);

  // Floating IPs.
  const pools = (await ok(A('GET', '/v2.0/floatingip-pools'))).floatingip_pools;
  assert.deepEqual(pools.filter((x: { network_id: string }) => x.network_id === ext.id), [{ subnet_id: extSub.id, subnet_name: extSub.name, tenant_id: alice.id, network_id: ext.id, cidr: '172.24.4.0/24' }]);
  assert.ok(!pools.some((x: { network_id: string }) => x.network_id === n1.net.id));
  fault(await A('POST', '/v2.0/floatingips', { floatingip: { floating_network_id: n1.net.id } }), 400, 'BadRequest', /is not a valid external network/);
  fault(await A('POST', '/v2.0/floatingips', { floatingip: {} }), 400, 'HTTPBadRequest');
  fault(await A('POST', '/v2.0/floatingips', { floatingip: { floating_network_id: ext.id, floating_ip_address: '172.24.4.50' } }), 403, 'PolicyNotAuthorized');
  fault(await A('POST', '/v2.0/floatingips', { floatingip: { floating_network_id: ext.id, fixed_ip_address: '10.0.1.7' } }), 400, 'BadRequest', /fixed_ip_address cannot be specified without a port_id/);
  const vm = (await ok(A('POST', '/v2.0/ports', { port: { network_id: n1.net.id, device_owner: 'compute:nova', fixed_ips: [{ ip_address: '10.0.1.7' }] } }), 201)).port;
  const vm5 = (await ok(A('POST', '/v2.0/ports', { port: { network_id: lonely.net.id } }), 201)).port;
  const f0 = (await ok(A('POST', '/v2.0/floatingips', { floatingip: { floating_network_id: ext.id, description: 'spare' } }), 201)).floatingip;
  assert.equal(f0.status, 'DOWN');
  assert.equal(f0.port_id, null);
  assert.equal(f0.router_id, null);
  assert.equal(f0.fixed_ip_address, null);
  assert.equal(f0.project_id, alice.id);
  assert.equal(f0.description, 'spare');
  assert.match(f0.floating_ip_address, /^172\.24\.4\.\d+$/);
  const f = (await ok(A('POST', '/v2.0/floatingips', { floatingip: { floating_network_id: ext.id, port_id: vm.id } }), 201)).floatingip;
  assert.equal(f.status, 'ACTIVE');
  assert.equal(f.router_id, r.id);
  assert.equal(f.fixed_ip_address, '10.0.1.7');
  assert.equal(f.port_id, vm.id);
  assert.deepEqual(f.port_details, { name: '', network_id: n1.net.id, mac_address: vm.mac_address, admin_state_up: true, status: 'DOWN', device_id: '', device_owner: 'compute:nova' });
  assert.equal(f0.port_details, null);
  const fipPorts = (await ok(adm('GET', `/v2.0/ports?device_owner=network:floatingip&device_id=${f.id}`))).ports;
  assert.equal(fipPorts.length, 1);
  assert.equal(fipPorts[0].fixed_ips[0].ip_address, f.floating_ip_address);
  fault(await A('POST', '/v2.0/floatingips', { floatingip: { floating_network_id: ext.id, port_id: vm.id } }), 409, 'FloatingIPPortAlreadyAssociated');
  fault(await A('PUT', `/v2.0/floatingips/${f0.id}`, { floatingip: { port_id: vm5.id } }), 404, 'ExternalGatewayForFloatingIPNotFound', /is not reachable from subnet/);
  fault(await A('PUT', `/v2.0/floatingips/${f0.id}`, { floatingip: { port_id: vm.id, fixed_ip_address: '10.0.1.99' } }), 400, 'BadRequest', /does not have fixed ip/);
  fault(await A('PUT', `/v2.0/floatingips/${f0.id}`, { floatingip: { port_id: bobPort.id } }), 404, 'PortNotFound');
  fault(await A('PUT', `/v2.0/floatingips/${f0.id}`, { floatingip: { port_id: p1.id } }), 400, 'BadRequest', /unable to be assigned a floating IP/);
  fault(await B('GET', `/v2.0/floatingips/${f.id}`), 404, 'FloatingIPNotFound');
  fault(await B('PUT', `/v2.0/floatingips/${f.id}`, { floatingip: { port_id: null } }), 404, 'FloatingIPNotFound');
  assert.deepEqual((await ok(B('GET', '/v2.0/floatingips'))).floatingips, []);
  assert.equal((await ok(A('GET', `/v2.0/floatingips?port_id=${vm.id}`))).floatingips.length, 1);
  // What the interface and the gateway are needed for.
  fault(await A('PUT', `/v2.0/routers/${r.id}/remove_router_interface`, { subnet_id: n1.sub.id }), 409, 'RouterInterfaceInUseByFloatingIP');
  fault(await A('PUT', `/v2.0/routers/${r.id}`, { router: { external_gateway_info: {} } }), 409, 'RouterExternalGatewayInUseByFloatingIp');

  // The network node's agent gets the router with its interfaces, gateway and floating IPs.
  const hs = await svc.service.rpc.hostState('net-node-1', true);
  const spec = hs.routers.find((x) => x.id === r.id)!;
  assert.ok(spec, 'router in host state');
  assert.deepEqual(spec.interfaces.map((i) => [i.ip_address, i.cidr, i.network_id]).sort(), [['10.0.1.1', '10.0.1.0/24', n1.net.id], ['10.0.2.10', '10.0.2.0/24', n2.net.id]]);
  assert.equal(spec.interfaces.find((i) => i.port_id === p1.id)!.mac_address, p1.mac_address);
  assert.equal(spec.external_gateway!.network_id, ext.id);
  assert.equal(spec.external_gateway!.gateway_ip, '172.24.4.1');
  assert.equal(spec.external_gateway!.enable_snat, true);
  assert.equal(spec.external_gateway!.ip_address, r.external_gateway_info.external_fixed_ips[0].ip_address);
  assert.equal(spec.external_gateway!.cidr, '172.24.4.0/24');
  assert.deepEqual(spec.floating_ips, [{ id: f.id, floating_ip_address: f.floating_ip_address, fixed_ip_address: '10.0.1.7', port_id: vm.id }]);
  assert.deepEqual(spec.routes, [{ destination: '192.168.0.0/24', nexthop: '10.0.1.5' }]);
  for (const id of [ext.id, n1.net.id, n2.net.id]) assert.ok(hs.networks.some((x) => x.id === id), id);
  assert.ok(hs.routers.some((x) => x.id === snatOff.id && x.external_gateway?.enable_snat === false));
  const compute = await svc.service.rpc.hostState('compute-1', false);
  assert.deepEqual(compute.routers, []);

  // Disassociate, re-associate, and the fixed port deleted through the port API.
  const dis = (await ok(A('PUT', `/v2.0/floatingips/${f.id}`, { floatingip: { port_id: null } }))).floatingip;
  assert.equal(dis.status, 'DOWN');
  assert.equal(dis.router_id, null);
  assert.equal(dis.fixed_ip_address, null);
  const re = (await ok(A('PUT', `/v2.0/floatingips/${f0.id}`, { floatingip: { port_id: vm.id, fixed_ip_address: '10.0.1.7' } }))).floatingip;
  assert.equal(re.router_id, r.id);
  assert.equal((await A('DELETE', `/v2.0/ports/${vm.id}`)).status, 204);
  const orphan = (await ok(A('GET', `/v2.0/floatingips/${f0.id}`))).floatingip;
  assert.equal(orphan.port_id, null);
  assert.equal(orphan.status, 'DOWN');

  // Concurrency: one fixed IP, five floating IPs asking for it at once: exactly one wins, the others get 409.
  const target = (await ok(A('POST', '/v2.0/ports', { port: { network_id: n1.net.id } }), 201)).port;
  const spare = await Promise.all(Array.from({ length: 5 }, () => ok(A('POST', '/v2.0/floatingips', { floatingip: { floating_network_id: ext.id } }), 201)));
  assert.equal(new Set(spare.map((x) => x.floatingip.floating_ip_address)).size, 5);
  const race = await Promise.all(spare.map((x) => A('PUT', `/v2.0/floatingips/${x.floatingip.id}`, { floatingip: { port_id: target.id } })));
  assert.equal(race.filter((x) => x.status === 200).length, 1, race.map((x) => x.text).join('\n'));
  for (const x of race.filter((y) => y.status !== 200)) fault(x, 409, 'FloatingIPPortAlreadyAssociated');
  // Two routers' worth of the same interface at once: the gateway address goes to one port only.
  const rr = (await ok(A('POST', '/v2.0/routers', { router: { name: 'race' } }), 201)).router;
  const sub6 = await mk('n6', '10.0.6.0/24');
  const adds = await Promise.all(Array.from({ length: 4 }, () => A('PUT', `/v2.0/routers/${rr.id}/add_router_interface`, { subnet_id: sub6.sub.id })));
  assert.equal(adds.filter((x) => x.status === 200).length, 1, adds.map((x) => x.text).join('\n'));
  for (const x of adds.filter((y) => y.status !== 200)) assert.ok(x.status === 400 || x.status === 409, x.text);
  await ok(A('PUT', `/v2.0/routers/${rr.id}/remove_router_interface`, { subnet_id: sub6.sub.id }));
  assert.equal((await A('DELETE', `/v2.0/routers/${rr.id}`)).status, 204);
  for (const x of spare) assert.equal((await A('DELETE', `/v2.0/floatingips/${x.floatingip.id}`)).status, 204);
  assert.equal((await A('DELETE', `/v2.0/ports/${target.id}`)).status, 204);

  // Quotas: 409 OverQuota past the limit.
  await ok(adm('PUT', `/v2.0/quotas/${alice.id}`, { quota: { floatingip: 2, router: 1 } }));
  fault(await A('POST', '/v2.0/floatingips', { floatingip: { floating_network_id: ext.id } }), 409, 'OverQuota');
  fault(await A('POST', '/v2.0/routers', { router: { name: 'r2' } }), 409, 'OverQuota');
  const usage = (await ok(A('GET', `/v2.0/quotas/${alice.id}/details`))).quota;
  assert.equal(usage.floatingip.used, 2);
  assert.equal(usage.router.used, 1);

  // Tear down: floating IPs, interfaces (by subnet and by port), gateway, router.
  for (const x of [f, f0]) assert.equal((await A('DELETE', `/v2.0/floatingips/${x.id}`)).status, 204);
  fault(await A('GET', `/v2.0/floatingips/${f.id}`), 404, 'FloatingIPNotFound');
  assert.equal((await ok(adm('GET', '/v2.0/ports?device_owner=network:floatingip'))).ports.length, 0);
  fault(await A('PUT', `/v2.0/routers/${r.id}/remove_router_interface`, { subnet_id: n3.sub.id }), 404, 'RouterInterfaceNotFoundForSubnet');
  fault(await A('PUT', `/v2.0/routers/${r.id}/remove_router_interface`, { port_id: vm5.id }), 404, 'RouterInterfaceNotFound');
  await ok(A('PUT', `/v2.0/routers/${r.id}`, { router: { routes: [] } }));
  const out1 = await ok(A('PUT', `/v2.0/routers/${r.id}/remove_router_interface`, { subnet_id: n1.sub.id }));
  assert.equal(out1.port_id, p1.id);
  const out2 = await ok(A('PUT', `/v2.0/routers/${r.id}/remove_router_interface`, { port_id: own.id }));
  assert.equal(out2.subnet_id, n2.sub.id);
  fault(await A('GET', `/v2.0/ports/${own.id}`), 404, 'PortNotFound');
  const cleared = (await ok(A('PUT', `/v2.0/routers/${r.id}`, { router: { external_gateway_info: {} } }))).router;
  assert.equal(cleared.external_gateway_info, null);
  assert.equal((await A('DELETE', `/v2.0/routers/${r.id}`)).status, 204);
  fault(await A('GET', `/v2.0/routers/${r.id}`), 404, 'RouterNotFound');
  assert.equal((await A('DELETE', `/v2.0/subnets/${n1.sub.id}`)).status, 204);
  assert.equal((await adm('DELETE', `/v2.0/routers/${snatOff.id}`)).status, 204);
  assert.equal((await ok(adm('GET', `/v2.0/ports?network_id=${ext.id}`))).ports.filter((p: { device_owner: string }) => p.device_owner !== 'network:dhcp').length, 0);
  // An external network goes with its disassociated floating IPs (an associated one keeps it in use).
  const leftover = (await ok(A('POST', '/v2.0/floatingips', { floatingip: { floating_network_id: ext.id } }), 201)).floatingip;
  assert.equal((await adm('DELETE', `/v2.0/networks/${ext.id}`)).status, 204);
  fault(await A('GET', `/v2.0/floatingips/${leftover.id}`), 404, 'FloatingIPNotFound');
}

for (const engine of ENGINES) {
  test(`L3 API on ${engine.name}: routers, interfaces, routes, floating IPs, agents' view`, { skip: engineSkipped(engine.name) ? `MONOSTACK_TEST_SKIP_ENGINES leaves ${engine.name} out` : false }, async () => {
    await engine.reachable();
    const url = engine.url();
    const svc = await startNetworkService({ identityUrl: cloud.url, adminPassword: cloud.adminPassword, dbUrl: url });
    try {
      await scenario(svc);
    } finally {
      await svc.close();
      await engine.drop(url);
    }
  });
}
