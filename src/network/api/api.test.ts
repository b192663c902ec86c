// The network API over HTTP on SQLite, in a real test cloud (identity + network): discovery,
// errors, each resource, project isolation, policy, the list language, and bad input with
// Neutron's status and error type.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestCloud, type TestCloud, type Project } from '../../cli/test-cloud.js';

let cloud: TestCloud;
let admin: string;
let alice: Project;
let bob: Project;
const net = (method: string, path: string, token: string | undefined, body?: unknown, headers?: Record<string, string>) =>
  cloud.call('network', method, path, { token, body, headers });

function fault(r: { status: number; body: any }, status: number, type: string): void {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.equal(r.body?.NeutronError?.type, type, JSON.stringify(r.body));
  assert.equal(r.body.NeutronError.detail, '');
}

before(async () => {
  // The API under test, without this host's agent (no DHCP ports, no bridges).
  cloud = await startTestCloud({ services: ['network'], config: { network: { run_agent: false } } });
  admin = await cloud.adminToken();
  alice = await cloud.project('alice');
  bob = await cloud.project('bob');
});
after(async () => { await cloud?.close(); });

test('discovery, extensions and errors', async () => {
  const root = await net('GET', '/', undefined);
  assert.equal(root.status, 200);
  assert.equal(root.body.versions[0].id, 'v2.0');
  assert.equal((await net('GET', '/v2.0/networks', undefined)).status, 401);
  const v2 = await net('GET', '/v2.0', alice.token);
  assert.ok(v2.body.resources.some((r: any) => r.collection === 'networks'));
  const ext = await net('GET', '/v2.0/extensions', alice.token);
  const aliases = ext.body.extensions.map((e: any) => e.alias);
  for (const a of ['security-group', 'quotas', 'binding', 'provider', 'external-net', 'standard-attr-tag', 'rbac-policies']) assert.ok(aliases.includes(a), a);
  assert.ok(aliases.includes('router') && !aliases.includes('dvr'));
  fault(await net('GET', '/v2.0/extensions/dvr', alice.token), 404, 'HTTPNotFound');
  assert.deepEqual((await net('GET', '/v2.0/service-providers', alice.token)).body, { service_providers: [] });
  fault(await net('GET', '/v2.0/networks/00000000-0000-0000-0000-000000000000', alice.token), 404, 'NetworkNotFound');
  fault(await net('POST', '/v2.0/networks', alice.token, { network: { bogus: 1 } }), 400, 'HTTPBadRequest');
  fault(await net('POST', '/v2.0/networks', alice.token, { network: { shared: true } }), 403, 'PolicyNotAuthorized');
  fault(await net('POST', '/v2.0/networks', alice.token, { network: { 'provider:network_type': 'flat', 'provider:physical_network': 'x' } }), 403, 'PolicyNotAuthorized');
});

test('networks: provider types, VNI allocation, isolation, shared, If-Match, in use', async () => {
  const a = await net('POST', '/v2.0/networks', alice.token, { network: { name: 'a-net' } });
  assert.equal(a.status, 201, a.text);
  const n = a.body.network;
  assert.equal(n.status, 'ACTIVE');
  assert.equal(n.mtu, 1450);
  assert.equal(n.project_id, alice.projectId);
  assert.equal(n.revision_number, 0);
  assert.ok(!('provider:network_type' in n), 'provider attributes are admin-only');
  const seen = await net('GET', `/v2.0/networks/${n.id}`, admin);
  assert.equal(seen.body.network['provider:network_type'], 'vxlan');
  assert.ok(seen.body.network['provider:segmentation_id'] >= 1);
  // Another project sees nothing of it.
  fault(await net('GET', `/v2.0/networks/${n.id}`, bob.token), 404, 'NetworkNotFound');
  assert.equal((await net('GET', '/v2.0/networks', bob.token)).body.networks.length, 0);
  // Flat: one network per physnet; VLAN ids validated and exclusive.
  const flat = await net('POST', '/v2.0/networks', admin, { network: { name: 'flat', shared: true, 'provider:network_type': 'flat', 'provider:physical_network': 'physnet1' } });
  assert.equal(flat.status, 201, flat.text);
  assert.equal(flat.body.network.mtu, 1500);
  assert.equal(flat.body.network['provider:segmentation_id'], null);
  fault(await net('POST', '/v2.0/networks', admin, { network: { 'provider:network_type': 'flat', 'provider:physical_network': 'physnet1' } }), 409, 'FlatNetworkInUse');
  fault(await net('POST', '/v2.0/networks', admin, { network: { 'provider:network_type': 'flat' } }), 400, 'InvalidInput');
  fault(await net('POST', '/v2.0/networks', admin, { network: { 'provider:network_type': 'vlan', 'provider:physical_network': 'physnet1', 'provider:segmentation_id': 5000 } }), 400, 'InvalidInput');
  const v = await net('POST', '/v2.0/networks', admin, { network: { 'provider:network_type': 'vlan', 'provider:physical_network': 'physnet1', 'provider:segmentation_id': 100 } });
  assert.equal(v.status, 201, v.text);
  fault(await net('POST', '/v2.0/networks', admin, { network: { 'provider:network_type': 'vlan', 'provider:physical_network': 'physnet1', 'provider:segmentation_id': 100 } }), 409, 'VlanIdInUse');
  fault(await net('POST', '/v2.0/networks', admin, { network: { 'provider:network_type': 'geneve' } }), 400, 'InvalidInput');
  fault(await net('POST', '/v2.0/networks', admin, { network: { mtu: 9000 } }), 400, 'InvalidInput');
  // The shared network is visible (shared: true) to bob.
  const bobList = await net('GET', '/v2.0/networks', bob.token);
  assert.deepEqual(bobList.body.networks.map((x: any) => x.id), [flat.body.network.id]);
  assert.equal(bobList.body.networks[0].shared, true);
  // If-Match revision checks and revision bumps.
  fault(await net('PUT', `/v2.0/networks/${n.id}`, alice.token, { network: { name: 'x' } }, { 'If-Match': 'revision_number=7' }), 412, 'RevisionNumberConstraintFailed');
  const up = await net('PUT', `/v2.0/networks/${n.id}`, alice.token, { network: { name: 'x' } }, { 'If-Match': 'revision_number=0' });
  assert.equal(up.status, 200, up.text);
  assert.equal(up.body.network.revision_number, 1);
  // Bob cannot update or delete alice's network (404, not 403).
  fault(await net('DELETE', `/v2.0/networks/${n.id}`, bob.token), 404, 'NetworkNotFound');
});

test('list language: fields, filters, sort, pagination links, tags', async () => {
  for (const name of ['p1', 'p2', 'p3']) assert.equal((await net('POST', '/v2.0/networks', bob.token, { network: { name } })).status, 201);
  const mine = (await net('GET', '/v2.0/networks?name=p1&name=p2&fields=name&fields=id', bob.token)).body.networks;
  assert.deepEqual(mine.map((x: any) => x.name).sort(), ['p1', 'p2']);
  assert.deepEqual(Object.keys(mine[0]).sort(), ['id', 'name']);
  fault(await net('GET', '/v2.0/networks?bogus=1', bob.token), 400, 'HTTPBadRequest');
  fault(await net('GET', '/v2.0/networks?sort_key=bogus&sort_dir=asc', bob.token), 400, 'HTTPBadRequest');
  const sorted = (await net('GET', '/v2.0/networks?sort_key=name&sort_dir=desc&shared=false', bob.token)).body.networks.map((x: any) => x.name);
  assert.deepEqual(sorted, ['p3', 'p2', 'p1']);
  const page1 = await net('GET', '/v2.0/networks?sort_key=name&sort_dir=asc&limit=2&shared=false', bob.token);
  assert.deepEqual(page1.body.networks.map((x: any) => x.name), ['p1', 'p2']);
  const next = page1.body.networks_links.find((l: any) => l.rel === 'next').href as string;
  const page2 = await net('GET', next.slice(next.indexOf('/v2.0')), bob.token);
  assert.deepEqual(page2.body.networks.map((x: any) => x.name), ['p3']);
  assert.ok(page2.body.networks_links.some((l: any) => l.rel === 'previous'));
  const id = page1.body.networks[0].id;
  assert.equal((await net('PUT', `/v2.0/networks/${id}/tags`, bob.token, { tags: ['red', 'blue'] })).status, 200);
  assert.equal((await net('PUT', `/v2.0/networks/${id}/tags/green`, bob.token)).status, 201);
  assert.equal((await net('GET', `/v2.0/networks/${id}/tags/green`, bob.token)).status, 204);
  fault(await net('GET', `/v2.0/networks/${id}/tags/nope`, bob.token), 404, 'TagNotFound');
  const tagged = (await net('GET', '/v2.0/networks?tags=red,green', bob.token)).body.networks;
  assert.deepEqual(tagged.map((x: any) => x.id), [id]);
  assert.deepEqual(tagged[0].tags, ['blue', 'green', 'red']);
  assert.equal((await net('GET', '/v2.0/networks?not-tags-any=red', bob.token)).body.networks.filter((x: any) => x.id === id).length, 0);
});

test('subnets and ports: validation, IPv6, bindings, address pairs', async () => {
  const n = (await net('POST', '/v2.0/networks', alice.token, { network: { name: 's-net' } })).body.network;
  fault(await net('POST', '/v2.0/subnets', alice.token, { subnet: { network_id: n.id, ip_version: 4, cidr: '10.1.0.0/24', allocation_pools: [{ start: '10.1.1.5', end: '10.1.1.9' }] } }), 400, 'OutOfBoundsAllocationPool');
  fault(await net('POST', '/v2.0/subnets', alice.token, { subnet: { network_id: n.id, ip_version: 4, cidr: '10.1.0.0/24', allocation_pools: [{ start: '10.1.0.9', end: '10.1.0.5' }] } }), 400, 'InvalidAllocationPool');
  fault(await net('POST', '/v2.0/subnets', alice.token, { subnet: { network_id: n.id, ip_version: 4, cidr: '10.1.0.0/24', allocation_pools: [{ start: '10.1.0.2', end: '10.1.0.9' }, { start: '10.1.0.8', end: '10.1.0.20' }] } }), 400, 'OverlappingAllocationPools');
  fault(await net('POST', '/v2.0/subnets', alice.token, { subnet: { network_id: n.id, ip_version: 4, cidr: '10.1.0.0/24', gateway_ip: '10.1.0.5', allocation_pools: [{ start: '10.1.0.2', end: '10.1.0.9' }] } }), 409, 'GatewayConflictWithAllocationPools');
  fault(await net('POST', '/v2.0/subnets', alice.token, { subnet: { network_id: n.id, ip_version: 4, cidr: '10.1.0.1/24' } }), 400, 'InvalidInput');
  fault(await net('POST', '/v2.0/subnets', alice.token, { subnet: { network_id: n.id, ip_version: 6, cidr: '2001:db8::/64', ipv6_ra_mode: 'slaac', ipv6_address_mode: 'dhcpv6-stateful' } }), 400, 'InvalidInput');
  const s4 = await net('POST', '/v2.0/subnets', alice.token, { subnet: { network_id: n.id, ip_version: 4, cidr: '10.1.0.0/24', allocation_pools: [{ start: '10.1.0.10', end: '10.1.0.20' }] } });
  assert.equal(s4.status, 201, s4.text);
  fault(await net('POST', '/v2.0/subnets', alice.token, { subnet: { network_id: n.id, ip_version: 4, cidr: '10.1.0.128/25' } }), 400, 'InvalidInput');
  const s6 = await net('POST', '/v2.0/subnets', alice.token, { subnet: { network_id: n.id, ip_version: 6, cidr: '2001:db8:0:1::/64', ipv6_ra_mode: 'slaac', ipv6_address_mode: 'slaac' } });
  assert.equal(s6.status, 201, s6.text);
  assert.equal(s6.body.subnet.gateway_ip, '2001:db8:0:1::1');
  const p = await net('POST', '/v2.0/ports', alice.token, { port: { network_id: n.id, name: 'p' } });
  assert.equal(p.status, 201, p.text);
  const port = p.body.port;
  assert.equal(port.status, 'DOWN');
  assert.equal(port.fixed_ips.length, 2);
  assert.equal(port.fixed_ips[0].subnet_id, s4.body.subnet.id);
  // EUI-64 from the MAC.
  const m = port.mac_address.split(':').map((x: string) => parseInt(x, 16));
  const eui = `2001:db8:0:1:${((m[0] ^ 2) << 8 | m[1]).toString(16)}:${(m[2] << 8 | 0xff).toString(16)}:fe${m[3].toString(16).padStart(2, '0')}:${(m[4] << 8 | m[5]).toString(16)}`;
  assert.equal(port.fixed_ips[1].ip_address, eui);
  assert.equal(port.security_groups.length, 1, 'the default group');
  assert.ok(!('binding:vif_type' in port), 'bindings are admin-only');
  fault(await net('POST', '/v2.0/ports', alice.token, { port: { network_id: n.id, fixed_ips: [{ subnet_id: s4.body.subnet.id, ip_address: '10.2.0.5' }] } }), 400, 'InvalidIpForSubnet');
  fault(await net('POST', '/v2.0/ports', alice.token, { port: { network_id: n.id, fixed_ips: [{ ip_address: '10.2.0.5' }] } }), 400, 'InvalidIpForNetwork');
  const fixed = await net('POST', '/v2.0/ports', alice.token, { port: { network_id: n.id, fixed_ips: [{ ip_address: '10.1.0.50' }] } });
  assert.equal(fixed.status, 201, fixed.text);
  fault(await net('POST', '/v2.0/ports', alice.token, { port: { network_id: n.id, fixed_ips: [{ ip_address: '10.1.0.50' }] } }), 409, 'IpAddressAlreadyAllocated');
  fault(await net('POST', '/v2.0/ports', alice.token, { port: { network_id: n.id, 'binding:host_id': 'h1' } }), 403, 'PolicyNotAuthorized');
  fault(await net('POST', '/v2.0/ports', alice.token, { port: { network_id: n.id, port_security_enabled: false, allowed_address_pairs: [{ ip_address: '10.1.0.99' }] } }), 409, 'AddressPairAndPortSecurityRequired');
  // Admin binds the port (as Nova does): ACTIVE with the bridge VIF.
  const bound = await net('PUT', `/v2.0/ports/${port.id}`, admin, { port: { 'binding:host_id': 'compute1', device_id: 'vm-1', device_owner: 'compute:nova' } });
  assert.equal(bound.status, 200, bound.text);
  assert.equal(bound.body.port['binding:vif_type'], 'bridge');
  assert.equal(bound.body.port['binding:host_id'], 'compute1');
  const pairs = await net('PUT', `/v2.0/ports/${port.id}`, alice.token, { port: { allowed_address_pairs: [{ ip_address: '10.1.0.200/32' }] } });
  assert.equal(pairs.status, 200, pairs.text);
  assert.deepEqual(pairs.body.port.allowed_address_pairs, [{ ip_address: '10.1.0.200/32', mac_address: port.mac_address }]);
  const byIp = await net('GET', `/v2.0/ports?fixed_ips=ip_address%3D10.1.0.50`, alice.token);
  assert.deepEqual(byIp.body.ports.map((x: any) => x.id), [fixed.body.port.id]);
  const bySubstr = await net('GET', `/v2.0/ports?fixed_ips=ip_address_substr%3D1.0.50`, alice.token);
  assert.deepEqual(bySubstr.body.ports.map((x: any) => x.id), [fixed.body.port.id]);
  // Exhaust the 11-address pool (10.1.0.50 is outside it): then 409, and every pool address is used once.
  let last;
  for (let i = 0; i < 12; i++) {
    last = await net('POST', '/v2.0/ports', alice.token, { port: { network_id: n.id, fixed_ips: [{ subnet_id: s4.body.subnet.id }] } });
    if (last.status !== 201) break;
  }
  fault(last!, 409, 'IpAddressGenerationFailure');
  const inPool = (await net('GET', `/v2.0/ports?network_id=${n.id}`, admin)).body.ports.flatMap((x: any) => x.fixed_ips)
    .map((f: any) => f.ip_address).filter((ip: string) => /^10\.1\.0\.(1\d|20)$/.test(ip));
  assert.equal(inPool.length, 11);
  assert.equal(new Set(inPool).size, 11);
  fault(await net('DELETE', `/v2.0/networks/${n.id}`, alice.token), 409, 'NetworkInUse');
});

test('security groups: default group, rules, duplicates, in use', async () => {
  const groups = (await net('GET', '/v2.0/security-groups', bob.token)).body.security_groups;
  const def = groups.find((g: any) => g.name === 'default');
  assert.ok(def);
  assert.equal(def.security_group_rules.length, 4);
  fault(await net('DELETE', `/v2.0/security-groups/${def.id}`, bob.token), 409, 'SecurityGroupCannotRemoveDefault');
  fault(await net('POST', '/v2.0/security-groups', bob.token, { security_group: { name: 'default' } }), 409, 'SecurityGroupDefaultAlreadyExists');
  const g = await net('POST', '/v2.0/security-groups', bob.token, { security_group: { name: 'web' } });
  assert.equal(g.status, 201);
  assert.equal(g.body.security_group.security_group_rules.length, 2);
  const rule = { security_group_id: g.body.security_group.id, direction: 'ingress', protocol: 'tcp', port_range_min: 80, port_range_max: 80, remote_ip_prefix: '10.0.0.1/24' };
  const r = await net('POST', '/v2.0/security-group-rules', bob.token, { security_group_rule: rule });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.body.security_group_rule.normalized_cidr, '10.0.0.0/24');
  fault(await net('POST', '/v2.0/security-group-rules', bob.token, { security_group_rule: rule }), 409, 'SecurityGroupRuleExists');
  fault(await net('POST', '/v2.0/security-group-rules', bob.token, { security_group_rule: { ...rule, port_range_min: 90 } }), 400, 'SecurityGroupInvalidPortRange');
  fault(await net('POST', '/v2.0/security-group-rules', bob.token, { security_group_rule: { ...rule, protocol: 'bogus' } }), 400, 'SecurityGroupRuleInvalidProtocol');
  fault(await net('POST', '/v2.0/security-group-rules', bob.token, { security_group_rule: { ...rule, protocol: 'gre' } }), 400, 'SecurityGroupInvalidProtocolForPort');
  fault(await net('POST', '/v2.0/security-group-rules', bob.token, { security_group_rule: { ...rule, port_range_min: 81, port_range_max: 81, ethertype: 'IPv6' } }), 400, 'SecurityGroupRuleParameterConflict');
  fault(await net('POST', '/v2.0/security-group-rules', bob.token, { security_group_rule: { ...rule, remote_group_id: def.id } }), 400, 'SecurityGroupMultipleRemoteEntites');
  const v6 = await net('POST', '/v2.0/security-group-rules', bob.token, { security_group_rule: { security_group_id: g.body.security_group.id, direction: 'ingress', ethertype: 'IPv6', protocol: 'icmp' } });
  assert.equal(v6.body.security_group_rule.protocol, 'ipv6-icmp');
  const num = await net('POST', '/v2.0/security-group-rules', bob.token, { security_group_rule: { security_group_id: g.body.security_group.id, direction: 'egress', protocol: '132', port_range_min: 1, port_range_max: 65535 } });
  assert.equal(num.status, 201, num.text);
  assert.equal(num.body.security_group_rule.port_range_min, null);
  // Alice cannot see bob's group.
  fault(await net('GET', `/v2.0/security-groups/${g.body.security_group.id}`, alice.token), 404, 'SecurityGroupNotFound');
  const n = (await net('POST', '/v2.0/networks', bob.token, { network: {} })).body.network;
  await net('POST', '/v2.0/subnets', bob.token, { subnet: { network_id: n.id, ip_version: 4, cidr: '10.5.0.0/24' } });
  const p = await net('POST', '/v2.0/ports', bob.token, { port: { network_id: n.id, security_groups: [g.body.security_group.id] } });
  assert.deepEqual(p.body.port.security_groups, [g.body.security_group.id]);
  fault(await net('DELETE', `/v2.0/security-groups/${g.body.security_group.id}`, bob.token), 409, 'SecurityGroupInUse');
  fault(await net('PUT', `/v2.0/ports/${p.body.port.id}`, bob.token, { port: { port_security_enabled: false } }), 409, 'PortSecurityPortHasSecurityGroup');
  const off = await net('PUT', `/v2.0/ports/${p.body.port.id}`, bob.token, { port: { port_security_enabled: false, security_groups: [] } });
  assert.equal(off.status, 200, off.text);
  assert.equal((await net('DELETE', `/v2.0/security-groups/${g.body.security_group.id}`, bob.token)).status, 204);
});

test('quotas, RBAC, agents, availability zones, subnet pools', async () => {
  const carol = await cloud.project('carol');
  fault(await net('PUT', `/v2.0/quotas/${carol.projectId}`, carol.token, { quota: { network: 1 } }), 403, 'PolicyNotAuthorized');
  const q = await net('PUT', `/v2.0/quotas/${carol.projectId}`, admin, { quota: { network: 1 } });
  assert.equal(q.status, 200, q.text);
  assert.equal(q.body.quota.network, 1);
  assert.equal((await net('POST', '/v2.0/networks', carol.token, { network: {} })).status, 201);
  fault(await net('POST', '/v2.0/networks', carol.token, { network: {} }), 409, 'OverQuota');
  const d = await net('GET', `/v2.0/quotas/${carol.projectId}/details`, carol.token);
  assert.deepEqual(d.body.quota.network, { limit: 1, used: 1, reserved: 0 });
  assert.deepEqual((await net('GET', `/v2.0/quotas/${carol.projectId}/details.json`, carol.token)).body, d.body, 'the format suffix');
  assert.ok((await net('GET', '/v2.0/quotas', admin)).body.quotas.some((x: any) => x.project_id === carol.projectId));
  assert.equal((await net('DELETE', `/v2.0/quotas/${carol.projectId}`, admin)).status, 204);

  // RBAC: alice shares her network with carol only.
  const an = (await net('POST', '/v2.0/networks', alice.token, { network: { name: 'to-share' } })).body.network;
  const rb = await net('POST', '/v2.0/rbac-policies', alice.token, { rbac_policy: { object_type: 'network', object_id: an.id, action: 'access_as_shared', target_tenant: carol.projectId } });
  assert.equal(rb.status, 201, rb.text);
  assert.equal((await net('GET', `/v2.0/networks/${an.id}`, carol.token)).body.network.shared, true);
  fault(await net('GET', `/v2.0/networks/${an.id}`, bob.token), 404, 'NetworkNotFound');
  fault(await net('POST', '/v2.0/rbac-policies', alice.token, { rbac_policy: { object_type: 'network', object_id: an.id, action: 'access_as_shared', target_tenant: carol.projectId } }), 409, 'DuplicateRbacPolicy');
  fault(await net('POST', '/v2.0/rbac-policies', alice.token, { rbac_policy: { object_type: 'network', object_id: an.id, action: 'access_as_shared', target_tenant: '*' } }), 403, 'PolicyNotAuthorized');
  await net('POST', '/v2.0/subnets', alice.token, { subnet: { network_id: an.id, ip_version: 4, cidr: '10.7.0.0/24' } });
  assert.equal((await net('POST', '/v2.0/ports', carol.token, { port: { network_id: an.id } })).status, 201);
  fault(await net('DELETE', `/v2.0/rbac-policies/${rb.body.rbac_policy.id}`, alice.token), 409, 'RbacPolicyInUse');

  // Agents: what the data-plane agents reported; admin only.
  const agents = (await net('GET', '/v2.0/agents', admin)).body.agents;
  for (const ag of agents) assert.equal(typeof ag.alive, 'boolean');
  assert.deepEqual((await net('GET', '/v2.0/agents', alice.token)).body.agents, [], 'a list filtered by policy');
  for (const z of (await net('GET', '/v2.0/availability_zones', alice.token)).body.availability_zones) assert.deepEqual(Object.keys(z).sort(), ['name', 'resource', 'state']);

  const sp = await net('POST', '/v2.0/subnetpools', admin, { subnetpool: { name: 'pool', prefixes: ['10.200.0.0/16'], default_prefixlen: 26, shared: true } });
  assert.equal(sp.status, 201, sp.text);
  const a1 = await net('POST', '/v2.0/subnets', bob.token, { subnet: { network_id: (await net('POST', '/v2.0/networks', bob.token, { network: {} })).body.network.id, ip_version: 4, subnetpool_id: sp.body.subnetpool.id } });
  assert.equal(a1.status, 201, a1.text);
  assert.equal(a1.body.subnet.cidr, '10.200.0.0/26');
  const a2 = await net('POST', '/v2.0/subnets', bob.token, { subnet: { network_id: (await net('POST', '/v2.0/networks', bob.token, { network: {} })).body.network.id, ip_version: 4, subnetpool_id: sp.body.subnetpool.id, prefixlen: 24 } });
  assert.equal(a2.body.subnet.cidr, '10.200.1.0/24');
  fault(await net('DELETE', `/v2.0/subnetpools/${sp.body.subnetpool.id}`, admin), 409, 'SubnetPoolInUse');
});

test('bulk creates: all or nothing', async () => {
  const d = await cloud.project('dave');
  const r = await net('POST', '/v2.0/networks', d.token, { networks: [{ name: 'b1' }, { name: 'b2' }] });
  assert.equal(r.status, 201, r.text);
  assert.deepEqual(r.body.networks.map((x: any) => x.name), ['b1', 'b2']);
  const id = r.body.networks[0].id;
  assert.equal((await net('POST', '/v2.0/subnets', d.token, { subnets: [{ network_id: id, ip_version: 4, cidr: '10.3.0.0/24' }] })).status, 201);
  const bad = await net('POST', '/v2.0/ports', d.token, { ports: [{ network_id: id, name: 'ok' }, { network_id: id, fixed_ips: [{ ip_address: '10.4.0.5' }] }] });
  fault(bad, 400, 'InvalidIpForNetwork');
  assert.equal((await net('GET', `/v2.0/ports?network_id=${id}&name=ok`, d.token)).body.ports.length, 0, 'the first port was taken back');
});
