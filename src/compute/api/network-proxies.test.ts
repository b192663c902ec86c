// Nova's network proxy APIs against a real cloud (identity, image, placement, network, compute on
// the fake driver): security groups and rules in Nova's format with Nova's validation, floating IP
// pools, floating IPs and addFloatingIp/removeFloatingIp through a router, os-networks and
// os-tenant-networks, the 410s of nova-network, the 2.36 (and 2.44) cut-offs, and the answers of a
// cloud without a network service.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestCloud, type TestCloud, type Project } from '../../cli/test-cloud.js';

let c: TestCloud;
let p: Project;
let other: Project;
let admin: string;
let publicId: string;
let netId: string;
const V = (v: string) => ({ 'OpenStack-API-Version': `compute ${v}` });
const HOST = 'proxy-host';

before(async () => {
  c = await startTestCloud({ services: ['image', 'placement', 'network', 'compute'], config: { compute: { compute_driver: 'fake', host: HOST } } });
  p = await c.project('proxies');
  other = await c.project('proxies-other');
  admin = await c.adminToken();
  const pub = await c.call('network', 'POST', '/v2.0/networks', { token: admin, body: { network: { name: 'public', 'router:external': true } } });
  assert.equal(pub.status, 201, pub.text);
  publicId = pub.body.network.id;
  const ps = await c.call('network', 'POST', '/v2.0/subnets', { token: admin, body: { subnet: { network_id: publicId, cidr: '172.24.4.0/29', ip_version: 4, enable_dhcp: false } } });
  assert.equal(ps.status, 201, ps.text);
  const n = await c.call('network', 'POST', '/v2.0/networks', { token: p.token, body: { network: { name: 'private' } } });
  netId = n.body.network.id;
  const s = await c.call('network', 'POST', '/v2.0/subnets', { token: p.token, body: { subnet: { network_id: netId, cidr: '10.20.0.0/24', ip_version: 4 } } });
  assert.equal(s.status, 201, s.text);
  const r = await c.call('network', 'POST', '/v2.0/routers', { token: p.token, body: { router: { name: 'r', external_gateway_info: { network_id: publicId } } } });
  assert.equal(r.status, 201, r.text);
  const ri = await c.call('network', 'PUT', `/v2.0/routers/${r.body.router.id}/add_router_interface`, { token: p.token, body: { subnet_id: s.body.subnet.id } });
  assert.equal(ri.status, 200, ri.text);
});
after(async () => { await c?.close(); });

const nova = (method: string, path: string, o: { token?: string; body?: unknown; v?: string } = {}) =>
  c.call('compute', method, path, { token: o.token ?? p.token, headers: V(o.v ?? '2.1'), ...(o.body !== undefined ? { body: o.body } : {}) });

function fault(r: { status: number; body: any; text: string }, status: number, message?: string | RegExp): void { // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.equal(r.status, status, r.text);
  const name = { 400: 'badRequest', 403: 'forbidden', 404: 'itemNotFound', 409: 'conflictingRequest', 410: 'computeFault', 503: 'serviceUnavailable' }[status]!;
  assert.ok(r.body[name], r.text);
  assert.equal(r.body[name].code, status);
  if (typeof message === 'string') assert.equal(r.body[name].message, message);
  else if (message) assert.match(r.body[name].message, message);
}

test('security groups: create, list (own, all_tenants for admins), show, update, delete in Nova format', async () => {
  const cr = await nova('POST', '/os-security-groups', { body: { security_group: { name: 'web', description: 'web servers' } } });
  assert.equal(cr.status, 200, cr.text);
  const g = cr.body.security_group;
  assert.deepEqual(Object.keys(g), ['id', 'description', 'name', 'tenant_id', 'rules']);
  assert.equal(g.name, 'web');
  assert.equal(g.tenant_id, p.projectId);
  assert.deepEqual(g.rules, []); // Neutron's two egress rules are not Nova's

  const list = await nova('GET', '/os-security-groups');
  assert.equal(list.status, 200, list.text);
  const names = list.body.security_groups.map((x: { name: string }) => x.name);
  assert.deepEqual(names, ['default', 'web']); // sorted by (tenant_id, name); default made on first list
  const def = list.body.security_groups[0];
  // The default group's ingress rules: from the group itself, IPv4 and IPv6, shown as Nova shows them.
  assert.equal(def.rules.length, 2);
  for (const r of def.rules) {
    assert.deepEqual(r.group, { name: 'default', tenant_id: p.projectId });
    assert.deepEqual(r.ip_range, {});
    assert.equal(r.ip_protocol, null);
    assert.equal(r.from_port, null);
    assert.equal(r.parent_group_id, def.id);
  }

  await nova('GET', '/os-security-groups', { token: other.token });
  const mine = await nova('GET', '/os-security-groups', { token: admin });
  assert.ok(mine.body.security_groups.every((x: { tenant_id: string }) => x.tenant_id !== p.projectId));
  const all = await nova('GET', '/os-security-groups?all_tenants=1', { token: admin });
  const tenants = new Set(all.body.security_groups.map((x: { tenant_id: string }) => x.tenant_id));
  assert.ok(tenants.has(p.projectId) && tenants.has(other.projectId));
  const ignored = await nova('GET', '/os-security-groups?all_tenants=1', { token: other.token });
  assert.ok(ignored.body.security_groups.every((x: { tenant_id: string }) => x.tenant_id === other.projectId));
  const page = await nova('GET', '/os-security-groups?limit=1&offset=1');
  assert.equal(page.body.security_groups.length, 1);
  fault(await nova('GET', '/os-security-groups?limit=-1'), 400, "Invalid input for query parameters limit. Value: '-1'. '-1' does not match '^[0-9]*$'");

  const sh = await nova('GET', `/os-security-groups/${g.id}`);
  assert.equal(sh.status, 200, sh.text);
  assert.deepEqual(sh.body.security_group, g);
  fault(await nova('GET', `/os-security-groups/${g.id}`, { token: other.token }), 404);

  const up = await nova('PUT', `/os-security-groups/${g.id}`, { body: { security_group: { name: 'web2', description: 'now' } } });
  assert.equal(up.status, 200, up.text);
  assert.equal(up.body.security_group.name, 'web2');
  assert.equal(up.body.security_group.description, 'now');

  const del = await nova('DELETE', `/os-security-groups/${g.id}`);
  assert.equal(del.status, 202, del.text);
  assert.equal(del.text, '');
  fault(await nova('GET', `/os-security-groups/${g.id}`), 404);
  fault(await nova('DELETE', `/os-security-groups/${def.id}`), 400, /default security group/);
});

test('security groups: Nova validation and messages', async () => {
  fault(await nova('POST', '/os-security-groups', { body: {} }), 400, "The request body can't be empty");
  fault(await nova('POST', '/os-security-groups', { body: { foo: 1 } }), 400, 'Missing parameter security_group');
  fault(await nova('POST', '/os-security-groups', { body: { security_group: { name: 'x' } } }), 400, 'description is not a string or unicode');
  fault(await nova('POST', '/os-security-groups', { body: { security_group: { name: 5, description: '' } } }), 400, 'name is not a string or unicode');
  fault(await nova('POST', '/os-security-groups', { body: { security_group: { name: 'x'.repeat(256), description: '' } } }), 400, 'name has 256 characters, more than 255.');
  fault(await nova('POST', '/os-security-groups', { body: { security_group: { name: 'ok', description: 'd'.repeat(260) } } }), 400, 'description has 260 characters, more than 255.');
  fault(await nova('GET', '/os-security-groups/not-a-uuid'), 400, 'Security group id should be uuid');
  fault(await nova('PUT', '/os-security-groups/not-a-uuid', { body: { security_group: { name: 'a', description: 'b' } } }), 400, 'Security group id should be uuid');
  const missing = '6f2b6d1a-8a53-4b5e-9d0e-7c1c2a3b4d5e';
  fault(await nova('GET', `/os-security-groups/${missing}`), 404);
  fault(await nova('DELETE', `/os-security-groups/${missing}`), 404);
  fault(await nova('PUT', `/os-security-groups/${missing}`, { body: { security_group: { name: 'a', description: 'b' } } }), 404);
  const noId = await nova('DELETE', '/os-security-groups/');
  assert.equal(noId.status, 404, noId.text);
});

test('security group rules: create (cidr, group, defaults), Nova validation, duplicates, delete', async () => {
  const a = (await nova('POST', '/os-security-groups', { body: { security_group: { name: 'ra', description: '' } } })).body.security_group;
  const b = (await nova('POST', '/os-security-groups', { body: { security_group: { name: 'rb', description: '' } } })).body.security_group;
  const rule = (body: Record<string, unknown>, token?: string) => nova('POST', '/os-security-group-rules', { body: { security_group_rule: { parent_group_id: a.id, ...body } }, ...(token ? { token } : {}) });

  const ssh = await rule({ ip_protocol: 'tcp', from_port: 22, to_port: 22, cidr: '10.0.0.0/8' });
  assert.equal(ssh.status, 200, ssh.text);
  assert.deepEqual(ssh.body.security_group_rule, { id: ssh.body.security_group_rule.id, parent_group_id: a.id, ip_protocol: 'tcp', from_port: 22, to_port: 22, group: {}, ip_range: { cidr: '10.0.0.0/8' } });
  const icmp = await rule({ ip_protocol: 'icmp', from_port: -1, to_port: -1 });
  assert.equal(icmp.status, 200, icmp.text);
  assert.deepEqual([icmp.body.security_group_rule.from_port, icmp.body.security_group_rule.to_port, icmp.body.security_group_rule.ip_range], [-1, -1, { cidr: '0.0.0.0/0' }]);
  const fromB = await rule({ ip_protocol: 'udp', group_id: b.id });
  assert.equal(fromB.status, 200, fromB.text);
  assert.deepEqual(fromB.body.security_group_rule.group, { name: 'rb', tenant_id: p.projectId });
  assert.deepEqual(fromB.body.security_group_rule.ip_range, {});
  assert.deepEqual([fromB.body.security_group_rule.from_port, fromB.body.security_group_rule.to_port], [1, 65535]);
  const v6 = await rule({ ip_protocol: 'tcp', from_port: '80', to_port: '81', cidr: '2001:db8::/64' });
  assert.equal(v6.status, 200, v6.text);
  const n = await c.call('network', 'GET', `/v2.0/security-group-rules/${v6.body.security_group_rule.id}`, { token: p.token });
  assert.equal(n.body.security_group_rule.ethertype, 'IPv6');
  assert.equal(n.body.security_group_rule.direction, 'ingress');

  const shown = (await nova('GET', `/os-security-groups/${a.id}`)).body.security_group;
  assert.equal(shown.rules.length, 4);

  fault(await rule({ ip_protocol: 'tcp', from_port: 22, to_port: 22, cidr: '10.0.0.0/8' }), 400, `This rule already exists in group ${a.id}`);
  fault(await rule({ ip_protocol: 'tcp', from_port: 0, to_port: 22 }), 400, 'Invalid port range 0:22. Valid TCP ports should be between 1-65535');
  fault(await rule({ ip_protocol: 'udp', from_port: 1, to_port: 65536 }), 400, 'Invalid port range 1:65536. Valid UDP ports should be between 1-65535');
  fault(await rule({ ip_protocol: 'tcp', from_port: 30, to_port: 20 }), 400, 'Invalid port range 30:20. Former value cannot be greater than the later');
  fault(await rule({ ip_protocol: 'icmp', from_port: 256, to_port: 0 }), 400, 'Invalid port range 256:0. For ICMP, the type:code must be valid');
  fault(await rule({ ip_protocol: 'icmp', from_port: -2, to_port: 0 }), 400, 'Invalid port range -2:0. For ICMP, the type:code must be valid');
  fault(await rule({ ip_protocol: 'tcp', from_port: 'a', to_port: 22 }), 400, 'Invalid input received: To and From ports must be integers');
  fault(await rule({ ip_protocol: 'icmp', from_port: 'a', to_port: 0 }), 400, 'Invalid input received: Type and Code must be integers for ICMP protocol type');
  fault(await rule({ ip_protocol: 'gre', from_port: 1, to_port: 2 }), 400, 'Invalid IP protocol gre.');
  fault(await rule({ ip_protocol: 'tcp', from_port: 1, to_port: 2, cidr: '10.0.0.0/33' }), 400, '10.0.0.0/33 is not a valid IP network.');
  fault(await rule({ ip_protocol: 'tcp', from_port: 1, to_port: 2, cidr: 'bad' }), 400, 'bad is not a valid IP network.');
  fault(await rule({ ip_protocol: 'tcp', from_port: 1, to_port: 2, cidr: '10.0.0.0/0' }), 400, 'Bad prefix for network in cidr 10.0.0.0/0');
  fault(await rule({ cidr: '10.0.0.0/8' }), 400, 'Not enough parameters to build a valid rule.');
  fault(await rule({ ip_protocol: 'tcp', from_port: 1 }), 400, 'Not enough parameters to build a valid rule.');
  fault(await nova('POST', '/os-security-group-rules', { body: { security_group_rule: { parent_group_id: 'x', ip_protocol: 'tcp', from_port: 1, to_port: 2 } } }), 400, 'Security group id should be uuid');
  fault(await nova('POST', '/os-security-group-rules', { body: { security_group_rule: { parent_group_id: '6f2b6d1a-8a53-4b5e-9d0e-7c1c2a3b4d5e', ip_protocol: 'tcp', from_port: 1, to_port: 2 } } }), 404);
  fault(await rule({ ip_protocol: 'tcp', group_id: '6f2b6d1a-8a53-4b5e-9d0e-7c1c2a3b4d5e' }), 404);
  fault(await rule({ ip_protocol: 'tcp', from_port: 5, to_port: 6 }, other.token), 404); // another project's group
  fault(await nova('POST', '/os-security-group-rules', { body: {} }), 400, "The request body can't be empty");
  fault(await nova('POST', '/os-security-group-rules', { body: { x: 1 } }), 400, 'Missing parameter security_group_rule');
  // The same rule with the protocol spelled differently passes Nova's check; Neutron's 409 is Nova's 403.
  fault(await rule({ ip_protocol: 'TCP', from_port: 22, to_port: 22, cidr: '10.0.0.0/8' }), 403);

  const d = await nova('DELETE', `/os-security-group-rules/${ssh.body.security_group_rule.id}`);
  assert.equal(d.status, 202, d.text);
  fault(await nova('DELETE', `/os-security-group-rules/${ssh.body.security_group_rule.id}`), 404);
  fault(await nova('DELETE', '/os-security-group-rules/nope'), 400, 'Security group id should be uuid');
  // A rule whose source group is deleted goes with it; the group's view stays consistent.
  assert.equal((await nova('DELETE', `/os-security-groups/${b.id}`)).status, 202);
  const after = (await nova('GET', `/os-security-groups/${a.id}`)).body.security_group;
  assert.ok(after.rules.every((r: { group: object }) => Object.keys(r.group).length === 0));
});

test('floating IP pools, floating IPs and addFloatingIp/removeFloatingIp through a router', async () => {
  const pools = await nova('GET', '/os-floating-ip-pools');
  assert.equal(pools.status, 200, pools.text);
  assert.deepEqual(pools.body, { floating_ip_pools: [{ name: 'public' }] });

  fault(await nova('POST', '/os-floating-ips', { body: { pool: 'nope' } }), 404, 'Floating IP pool not found.');
  fault(await nova('POST', '/os-floating-ips', { body: {} }), 404, 'Floating IP pool not found.'); // default pool "nova"
  const cr = await nova('POST', '/os-floating-ips', { body: { pool: 'public' } });
  assert.equal(cr.status, 200, cr.text);
  const fip = cr.body.floating_ip;
  assert.deepEqual(Object.keys(fip), ['id', 'ip', 'pool', 'fixed_ip', 'instance_id']);
  assert.equal(fip.pool, 'public');
  assert.equal(fip.fixed_ip, null);
  assert.equal(fip.instance_id, null);
  assert.match(fip.ip, /^172\.24\.4\./);
  const byId = await nova('POST', '/os-floating-ips', { body: { pool: publicId } });
  assert.equal(byId.status, 200, byId.text);

  const list = await nova('GET', '/os-floating-ips');
  assert.equal(list.status, 200, list.text);
  assert.deepEqual(list.body.floating_ips.map((f: { id: string }) => f.id).sort(), [fip.id, byId.body.floating_ip.id].sort());
  assert.deepEqual((await nova('GET', '/os-floating-ips', { token: other.token })).body, { floating_ips: [] });
  assert.deepEqual((await nova('GET', `/os-floating-ips/${fip.id}`)).body.floating_ip, fip);
  fault(await nova('GET', `/os-floating-ips/${fip.id}`, { token: other.token }), 404, `Floating IP not found for ID ${fip.id}`);
  fault(await nova('GET', '/os-floating-ips/123'), 404, 'Floating IP not found for ID 123');

  // A server on the private network, routed to public.
  const f = await nova('POST', '/flavors', { token: admin, body: { flavor: { name: 'tiny', ram: 64, vcpus: 1, disk: 0, id: 'fp1' } } });
  assert.equal(f.status, 200, f.text);
  const img = await c.call('image', 'POST', '/v2/images', { token: p.token, body: { name: 'img', disk_format: 'raw', container_format: 'bare' } });
  await c.call('image', 'PUT', `/v2/images/${img.body.id}/file`, { token: p.token, raw: new Uint8Array(1024), headers: { 'Content-Type': 'application/octet-stream' } });
  const boot = async (name: string) => {
    const r = await nova('POST', '/servers', { v: '2.37', body: { server: { name, imageRef: img.body.id, flavorRef: 'fp1', networks: [{ uuid: netId }] } } });
    assert.equal(r.status, 202, r.text);
    const end = Date.now() + 15000;
    for (;;) {
      const s = (await nova('GET', `/servers/${r.body.server.id}`)).body.server;
      if (s.status === 'ACTIVE' && Object.keys(s.addresses).length) return s;
      assert.ok(Date.now() < end, `server not active: ${JSON.stringify(s)}`);
      await new Promise((res) => setTimeout(res, 100));
    }
  };
  const s1 = await boot('fip1');
  const s2 = await boot('fip2');
  const act = (id: string, body: unknown, v = '2.1', token?: string) => nova('POST', `/servers/${id}/action`, { body, v, ...(token ? { token } : {}) });

  fault(await act(s1.id, { addFloatingIp: { address: 'x' } }), 400, "Invalid input for field/attribute address. Value: 'x'. 'x' is not valid under any of the given schemas");
  fault(await act(s1.id, { addFloatingIp: {} }), 400, /'address' is a required property/);
  fault(await act(s1.id, { addFloatingIp: { address: fip.ip, foo: 1 } }), 400, /Additional properties are not allowed \('foo' was unexpected\)/);
  fault(await act(s1.id, { addFloatingIp: { address: '0.0.0.0' } }), 404, 'floating IP not found');
  fault(await act(s1.id, { addFloatingIp: { address: fip.ip, fixed_address: '10.99.0.1' } }), 400, 'Specified fixed address not assigned to instance');
  fault(await act(s1.id, { addFloatingIp: { address: fip.ip } }, '2.44'), 404, 'The resource could not be found.');

  const add = await act(s1.id, { addFloatingIp: { address: fip.ip } });
  assert.equal(add.status, 202, add.text);
  const shown = (await nova('GET', `/os-floating-ips/${fip.id}`)).body.floating_ip;
  assert.equal(shown.instance_id, s1.id);
  assert.match(shown.fixed_ip, /^10\.20\.0\./);
  // The host refreshes the server's network info: its addresses now carry the floating IP.
  const end = Date.now() + 10000;
  for (;;) {
    const addrs = Object.values((await nova('GET', `/servers/${s1.id}`)).body.server.addresses).flat() as { addr: string; 'OS-EXT-IPS:type'?: string }[];
    if (addrs.some((x) => x.addr === fip.ip && x['OS-EXT-IPS:type'] === 'floating')) break;
    assert.ok(Date.now() < end, `no floating address: ${JSON.stringify(addrs)}`);
    await new Promise((res) => setTimeout(res, 100));
  }
  // A second floating IP on the same fixed IP: Neutron's 409 is Nova's 400.
  fault(await act(s1.id, { addFloatingIp: { address: byId.body.floating_ip.ip } }), 400, /already has a floating IP/);

  // Moving it to another server; the first no longer has it.
  assert.equal((await act(s2.id, { addFloatingIp: { address: fip.ip } })).status, 202);
  assert.equal((await nova('GET', `/os-floating-ips/${fip.id}`)).body.floating_ip.instance_id, s2.id);
  fault(await act(s1.id, { removeFloatingIp: { address: fip.ip } }), 409, `Floating IP ${fip.ip} is not associated with instance ${s1.id}.`);
  fault(await act(s1.id, { removeFloatingIp: { address: '0.0.0.0' } }), 404, 'Floating IP not found for address 0.0.0.0.');
  fault(await act(s2.id, { removeFloatingIp: { address: fip.ip } }, '2.44'), 404);
  fault(await act(s2.id, { removeFloatingIp: { address: fip.ip } }, '2.1', other.token), 404); // not their server
  const rm = await act(s2.id, { removeFloatingIp: { address: fip.ip } });
  assert.equal(rm.status, 202, rm.text);
  assert.equal((await nova('GET', `/os-floating-ips/${fip.id}`)).body.floating_ip.instance_id, null);
  // Not on any server: Nova checks the policy without a project, which only admins pass.
  fault(await act(s2.id, { removeFloatingIp: { address: fip.ip } }), 403, "Policy doesn't allow os_compute_api:os-floating-ips:remove to be performed.");

  // Deleting an associated floating IP disassociates it.
  assert.equal((await act(s1.id, { addFloatingIp: { address: fip.ip } })).status, 202);
  fault(await nova('DELETE', `/os-floating-ips/${fip.id}`, { token: other.token }), 404);
  const del = await nova('DELETE', `/os-floating-ips/${fip.id}`);
  assert.equal(del.status, 202, del.text);
  fault(await nova('GET', `/os-floating-ips/${fip.id}`), 404);
  fault(await nova('DELETE', `/os-floating-ips/${fip.id}`), 404, `Floating IP not found for ID ${fip.id}`);
  assert.equal((await nova('DELETE', `/os-floating-ips/${byId.body.floating_ip.id}`)).status, 202);
  for (const s of [s1, s2]) assert.equal((await nova('DELETE', `/servers/${s.id}`)).status, 204);
});

test('os-networks and os-tenant-networks: list and show from the network service, nova-network writes 410', async () => {
  const l = await nova('GET', '/os-networks');
  assert.equal(l.status, 200, l.text);
  const mine = l.body.networks.find((n: { id: string }) => n.id === netId);
  assert.deepEqual(mine, { id: netId, cidr: null, netmask: null, gateway: null, broadcast: null, dns1: null, dns2: null, cidr_v6: null, gateway_v6: null, label: 'private', netmask_v6: null });
  assert.ok(l.body.networks.some((n: { id: string }) => n.id === publicId)); // external networks are visible
  const adminView = (await nova('GET', `/os-networks/${publicId}`, { token: admin })).body.network;
  assert.equal(Object.keys(adminView).length, 32);
  assert.equal(adminView.label, 'public');
  assert.equal(adminView.project_id, null);
  fault(await nova('GET', `/os-networks/${netId}`, { token: other.token }), 404, 'Network not found');
  fault(await nova('GET', '/os-networks/nope'), 404, 'Network not found');

  const t = await nova('GET', '/os-tenant-networks');
  assert.equal(t.status, 200, t.text);
  assert.deepEqual(t.body.networks.find((n: { id: string }) => n.id === netId), { id: netId, cidr: 'None', label: 'private' });
  assert.deepEqual((await nova('GET', `/os-tenant-networks/${netId}`)).body, { network: { id: netId, cidr: 'None', label: 'private' } });
  fault(await nova('GET', `/os-tenant-networks/${netId}`, { token: other.token }), 404, 'Network not found');

  const goneMsg = 'This resource is no longer available. No forwarding address is given.';
  for (const [m, path, body] of [
    ['POST', '/os-networks', { network: { label: 'x' } }], ['POST', '/os-networks/add', { id: netId }], ['DELETE', `/os-networks/${netId}`, undefined],
    ['POST', `/os-networks/${netId}/action`, { disassociate: null }], ['POST', `/os-networks/${netId}/action`, { associate_host: 'h' }],
    ['POST', '/os-tenant-networks', { network: { label: 'x' } }], ['DELETE', `/os-tenant-networks/${netId}`, undefined],
    ['GET', '/os-security-group-default-rules', undefined], ['GET', '/os-floating-ips-bulk', undefined], ['GET', '/os-floating-ip-dns', undefined],
  ] as const) {
    fault(await nova(m, path, { v: '2.93', ...(body !== undefined ? { body } : {}) }), 410, goneMsg);
  }
  fault(await nova('POST', `/os-networks/${netId}/action`, { body: { foo: null } }), 400, 'There is no such action: foo');
  // The network service still has the network.
  assert.equal((await c.call('network', 'GET', `/v2.0/networks/${netId}`, { token: p.token })).status, 200);
});

test('from microversion 2.36 the proxies are 404; 2.35 still answers', async () => {
  for (const path of ['/os-security-groups', '/os-floating-ip-pools', '/os-floating-ips', '/os-networks', '/os-tenant-networks', `/os-networks/${netId}`, `/os-tenant-networks/${netId}`]) {
    assert.equal((await nova('GET', path, { v: '2.35' })).status, 200, path);
    fault(await nova('GET', path, { v: '2.36' }), 404, 'The resource could not be found.');
  }
  fault(await nova('POST', '/os-security-groups', { v: '2.36', body: { security_group: { name: 'x', description: '' } } }), 404);
  fault(await nova('POST', '/os-security-group-rules', { v: '2.36', body: { security_group_rule: {} } }), 404);
  fault(await nova('POST', '/os-floating-ips', { v: '2.36', body: { pool: 'public' } }), 404);
  fault(await nova('DELETE', '/os-security-group-rules/6f2b6d1a-8a53-4b5e-9d0e-7c1c2a3b4d5e', { v: '2.36' }), 404, 'The resource could not be found.');
});

test('without a network service: empty lists, 404 for single resources', async () => {
  const bare = await startTestCloud({ services: ['compute'] });
  try {
    const q = await bare.project('bare');
    const call = (m: string, path: string, body?: unknown) => bare.call('compute', m, path, { token: q.token, ...(body !== undefined ? { body } : {}) });
    assert.deepEqual((await call('GET', '/os-security-groups')).body, { security_groups: [] });
    assert.deepEqual((await call('GET', '/os-floating-ips')).body, { floating_ips: [] });
    assert.deepEqual((await call('GET', '/os-floating-ip-pools')).body, { floating_ip_pools: [] });
    assert.deepEqual((await call('GET', '/os-networks')).body, { networks: [] });
    assert.deepEqual((await call('GET', '/os-tenant-networks')).body, { networks: [] });
    const id = '6f2b6d1a-8a53-4b5e-9d0e-7c1c2a3b4d5e';
    fault(await call('GET', `/os-security-groups/${id}`), 404, `Security group ${id} not found.`);
    fault(await call('GET', `/os-floating-ips/${id}`), 404, `Floating IP not found for ID ${id}`);
    fault(await call('GET', `/os-networks/${id}`), 404, 'Network not found');
    fault(await call('POST', '/os-floating-ips', { pool: 'public' }), 404, 'Floating IP pool not found.');
    fault(await call('POST', '/os-security-groups', { security_group: { name: 'x', description: '' } }), 503, 'The network service is not available.');
  } finally { await bare.close(); }
});
