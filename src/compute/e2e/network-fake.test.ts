// Servers on networks, end to end on the fake hypervisor: identity, image, placement, network and
// compute started as `up` starts them. The compute service validates the requested networks with
// the caller's token, the agent creates and binds the ports on its host, the server shows them as
// Nova does (addresses, os-interface, os-security-groups, the view's security_groups), interfaces
// attach and detach, security groups are added and removed, and every
// port compute made is gone after the delete while a port the user brought survives it unbound.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestCloud, type TestCloud, type Project } from '../../cli/test-cloud.js';

let c: TestCloud;
let p: Project;
let imageId: string;
let netId: string;
let subnetId: string;
const V = { 'OpenStack-API-Version': 'compute 2.93' };
const HOST = 'fake-net-host';

before(async () => {
  c = await startTestCloud({ services: ['image', 'placement', 'network', 'compute'], config: { compute: { compute_driver: 'fake', host: HOST } } });
  p = await c.project('netfake');
  const admin = await c.adminToken();
  const f = await c.call('compute', 'POST', '/flavors', { token: admin, body: { flavor: { name: 'm1.tiny', ram: 256, vcpus: 1, disk: 1, id: '1' } } });
  assert.equal(f.status, 200, f.text);
  const img = await c.call('image', 'POST', '/v2/images', { token: p.token, body: { name: 'tiny', disk_format: 'raw', container_format: 'bare' } });
  imageId = img.body.id;
  const up = await c.call('image', 'PUT', `/v2/images/${imageId}/file`, { token: p.token, raw: new Uint8Array(64 * 1024), headers: { 'Content-Type': 'application/octet-stream' } });
  assert.equal(up.status, 204, up.text);
  const n = await c.call('network', 'POST', '/v2.0/networks', { token: p.token, body: { network: { name: 'private' } } });
  assert.equal(n.status, 201, n.text);
  netId = n.body.network.id;
  // A /29: six addresses, the gateway takes one, five for ports.
  const s = await c.call('network', 'POST', '/v2.0/subnets', { token: p.token, body: { subnet: { network_id: netId, cidr: '10.9.0.0/29', ip_version: 4, name: 'private-subnet' } } });
  assert.equal(s.status, 201, s.text);
  subnetId = s.body.subnet.id;
});
after(async () => { await c?.close(); });

async function server(id: string): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const r = await c.call('compute', 'GET', `/servers/${id}`, { token: p.token, headers: V });
  return r.status === 200 ? r.body.server : null;
}

async function waitFor(id: string, pred: (s: any) => boolean, what: string, ms = 15000): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const end = Date.now() + ms;
  let last: unknown;
  while (Date.now() < end) {
    const s = await server(id);
    last = s;
    if (what === 'gone' ? s === null : s && pred(s)) return s;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`timed out waiting for ${what}: ${JSON.stringify(last)}`);
}

async function boot(name: string, networks: unknown, extra: Record<string, unknown> = {}) {
  return c.call('compute', 'POST', '/servers', { token: p.token, headers: V, body: { server: { name, imageRef: imageId, flavorRef: '1', networks, ...extra } } });
}

async function portsOf(deviceId: string): Promise<any[]> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const admin = await c.adminToken();
  const r = await c.call('network', 'GET', `/v2.0/ports?device_id=${deviceId}`, { token: admin });
  assert.equal(r.status, 200, r.text);
  return r.body.ports;
}

async function del(id: string) {
  const r = await c.call('compute', 'DELETE', `/servers/${id}`, { token: p.token, headers: V });
  assert.equal(r.status, 204, r.text);
  await waitFor(id, () => false, 'gone');
}

test('a server on a network gets a bound port, Nova addresses and interfaces; its port is deleted with it', async () => {
  const r = await boot('web', [{ uuid: netId }]);
  assert.equal(r.status, 202, r.text);
  const id = r.body.server.id;
  const s = await waitFor(id, (x) => x.status === 'ACTIVE', 'ACTIVE');
  const ports = await portsOf(id);
  assert.equal(ports.length, 1);
  const port = ports[0];
  assert.equal(port.network_id, netId);
  assert.equal(port.device_owner, 'compute:nova');
  assert.equal(port['binding:host_id'], HOST);
  assert.equal(port.project_id, p.projectId);
  const ip = port.fixed_ips[0].ip_address;
  assert.match(ip, /^10\.9\.0\.[1-6]$/);
  assert.deepEqual(s.addresses, { private: [{ version: 4, addr: ip, 'OS-EXT-IPS:type': 'fixed', 'OS-EXT-IPS-MAC:mac_addr': port.mac_address }] });
  // This host's agent (noop data plane here) reports the port plugged: ACTIVE, and the agents are listed.
  const end = Date.now() + 10_000;
  while ((await portsOf(id))[0].status !== 'ACTIVE' && Date.now() < end) await new Promise((res) => setTimeout(res, 50));
  assert.equal((await portsOf(id))[0].status, 'ACTIVE');
  const agents = await c.call('network', 'GET', '/v2.0/agents', { token: await c.adminToken() });
  assert.deepEqual(agents.body.agents.filter((a: { host: string }) => a.host === HOST).map((a: { agent_type: string; alive: boolean }) => `${a.agent_type}:${a.alive}`).sort(),
    ['DHCP agent:true', 'L3 agent:true', 'Linux bridge agent:true', 'Metadata agent:true']);
  const ips = await c.call('compute', 'GET', `/servers/${id}/ips`, { token: p.token, headers: V });
  assert.deepEqual(ips.body.addresses, s.addresses);

  const ifs = await c.call('compute', 'GET', `/servers/${id}/os-interface`, { token: p.token, headers: V });
  assert.equal(ifs.status, 200, ifs.text);
  assert.equal(ifs.body.interfaceAttachments.length, 1);
  assert.equal(ifs.body.interfaceAttachments[0].port_id, port.id);
  assert.equal(ifs.body.interfaceAttachments[0].mac_addr, port.mac_address);
  assert.equal(ifs.body.interfaceAttachments[0].net_id, netId);
  const one = await c.call('compute', 'GET', `/servers/${id}/os-interface/${port.id}`, { token: p.token, headers: V });
  assert.equal(one.status, 200, one.text);
  assert.deepEqual(one.body.interfaceAttachment.fixed_ips, port.fixed_ips);

  // The port has the project's default security group, shown Nova's way.
  const sgs = await c.call('compute', 'GET', `/servers/${id}/os-security-groups`, { token: p.token, headers: V });
  assert.equal(sgs.status, 200, sgs.text);
  assert.deepEqual(sgs.body.security_groups.map((g: { name: string }) => g.name), ['default']);

  await del(id);
  assert.deepEqual(await portsOf(id), [], 'the port compute created is gone');
});

test('a user-made port is used as is and survives the server, unbound', async () => {
  const pr = await c.call('network', 'POST', '/v2.0/ports', { token: p.token, body: { port: { network_id: netId, name: 'mine' } } });
  assert.equal(pr.status, 201, pr.text);
  const portId = pr.body.port.id;
  const r = await boot('byport', [{ port: portId }]);
  assert.equal(r.status, 202, r.text);
  const id = r.body.server.id;
  const s = await waitFor(id, (x) => x.status === 'ACTIVE', 'ACTIVE');
  assert.equal(s.addresses.private[0].addr, pr.body.port.fixed_ips[0].ip_address);
  // In use now: a second server cannot take it.
  const again = await boot('byport2', [{ port: portId }]);
  assert.equal(again.status, 409, again.text);
  assert.match(again.body.conflictingRequest.message, new RegExp(`Port ${portId} is still in use`));
  await del(id);
  const after = await c.call('network', 'GET', `/v2.0/ports/${portId}`, { token: p.token });
  assert.equal(after.status, 200, 'the user-made port is kept');
  assert.equal(after.body.port.device_id, '');
  assert.equal(after.body.port.device_owner, '');
  assert.equal((await c.call('network', 'DELETE', `/v2.0/ports/${portId}`, { token: p.token })).status, 204);
});

test('bad network requests get Nova\'s errors and create nothing', async () => {
  const unknown = '8c4b6a0e-9f7e-4a59-8d0a-0c3c2b1a9f00';
  let r = await boot('x', [{ uuid: unknown }]);
  assert.equal(r.status, 400, r.text);
  assert.equal(r.body.badRequest.message, `Network ${unknown} could not be found.`);
  r = await boot('x', [{ uuid: 'not-a-uuid' }]);
  assert.equal(r.status, 400, r.text);
  assert.match(r.body.badRequest.message, /Bad networks format/);
  r = await boot('x', [{ port: unknown }]);
  assert.equal(r.status, 400, r.text);
  assert.equal(r.body.badRequest.message, `Port id ${unknown} could not be found.`);
  r = await boot('x', [{ uuid: netId }], { security_groups: [{ name: 'no-such-group' }] });
  assert.equal(r.status, 400, r.text);
  assert.match(r.body.badRequest.message, /no-such-group/);
  // Another project's private network is invisible.
  const other = await c.project('netfake-other');
  const on = await c.call('network', 'POST', '/v2.0/networks', { token: other.token, body: { network: { name: 'theirs' } } });
  r = await boot('x', [{ uuid: on.body.network.id }]);
  assert.equal(r.status, 400, r.text);
  assert.match(r.body.badRequest.message, /could not be found/);
  // 'auto' with one network of its own picks it; with two it is ambiguous (409).
  const n2 = await c.call('network', 'POST', '/v2.0/networks', { token: p.token, body: { network: { name: 'second' } } });
  r = await boot('x', 'auto');
  assert.equal(r.status, 409, r.text);
  assert.match(r.body.conflictingRequest.message, /Multiple possible networks found/);
  await c.call('network', 'DELETE', `/v2.0/networks/${n2.body.network.id}`, { token: p.token });
  const list = await c.call('compute', 'GET', '/servers', { token: p.token, headers: V });
  assert.deepEqual(list.body.servers, [], 'no server was created by a refused request');
});

test('an exhausted pool fails the build with Nova\'s fault and leaks no port', async () => {
  // Five addresses on the /29 besides the gateway; the network's DHCP port holds one of them.
  const admin = await c.adminToken();
  const taken = (await c.call('network', 'GET', `/v2.0/ports?network_id=${netId}`, { token: admin })).body.ports.length;
  const free = 5 - taken;
  assert.ok(free >= 2, `only ${free} free addresses`);
  const ids: string[] = [];
  for (let i = 0; i < free + 1; i++) {
    const r = await boot(`fill-${i}`, [{ uuid: netId }]);
    assert.equal(r.status, 202, r.text);
    ids.push(r.body.server.id);
  }
  const states = await Promise.all(ids.map((id) => waitFor(id, (x) => x.status === 'ACTIVE' || x.status === 'ERROR', 'ACTIVE or ERROR')));
  const failed = states.filter((s) => s.status === 'ERROR');
  assert.equal(failed.length, 1, JSON.stringify(states.map((s) => s.status)));
  assert.match(failed[0].fault.message, /No fixed IP addresses available for network/);
  assert.deepEqual(await portsOf(failed[0].id), [], 'the failed build keeps no port');
  const used = new Set(states.filter((s) => s.status === 'ACTIVE').map((s) => s.addresses.private[0].addr));
  assert.equal(used.size, free, 'no address given twice');
  for (const id of ids) await del(id);
  const left = await c.call('network', 'GET', `/v2.0/ports?network_id=${netId}&device_owner=compute:nova`, { token: p.token });
  assert.deepEqual(left.body.ports, []);
});

test('security groups are added and removed on the server\'s ports; interfaces attach and detach', async () => {
  const g = await c.call('network', 'POST', '/v2.0/security-groups', { token: p.token, body: { security_group: { name: 'web' } } });
  assert.equal(g.status, 201, g.text);
  const r = await boot('sg', [{ uuid: netId }]);
  const id = r.body.server.id;
  await waitFor(id, (x) => x.status === 'ACTIVE', 'ACTIVE');
  const act = (body: unknown) => c.call('compute', 'POST', `/servers/${id}/action`, { token: p.token, headers: V, body });
  let a = await act({ addSecurityGroup: { name: 'web' } });
  assert.equal(a.status, 202, a.text);
  let [port] = await portsOf(id);
  assert.ok(port.security_groups.includes(g.body.security_group.id));
  a = await act({ addSecurityGroup: { name: 'nope' } });
  assert.equal(a.status, 404, a.text);
  a = await act({ removeSecurityGroup: { name: 'web' } });
  assert.equal(a.status, 202, a.text);
  [port] = await portsOf(id);
  assert.ok(!port.security_groups.includes(g.body.security_group.id));
  a = await act({ removeSecurityGroup: { name: 'web' } });
  assert.equal(a.status, 404, a.text);
  assert.match(a.body.itemNotFound.message, /not associated with the instance/);

  // A second interface, then detached: its port goes away, the first stays.
  const att = await c.call('compute', 'POST', `/servers/${id}/os-interface`, { token: p.token, headers: V, body: { interfaceAttachment: { net_id: netId } } });
  assert.equal(att.status, 200, att.text);
  const newPort = att.body.interfaceAttachment.port_id;
  assert.equal((await portsOf(id)).length, 2);
  const s = await waitFor(id, (x) => x.addresses.private?.length === 2, 'two addresses');
  assert.equal(s.addresses.private.length, 2);
  const bad = await c.call('compute', 'POST', `/servers/${id}/os-interface`, { token: p.token, headers: V, body: { interfaceAttachment: { net_id: netId, port_id: newPort } } });
  assert.equal(bad.status, 400, bad.text);
  const det = await c.call('compute', 'DELETE', `/servers/${id}/os-interface/${newPort}`, { token: p.token, headers: V });
  assert.equal(det.status, 202, det.text);
  assert.equal((await portsOf(id)).length, 1);
  const det2 = await c.call('compute', 'DELETE', `/servers/${id}/os-interface/${newPort}`, { token: p.token, headers: V });
  assert.equal(det2.status, 404, det2.text);
  await del(id);
  assert.equal((await c.call('network', 'GET', `/v2.0/subnets/${subnetId}`, { token: p.token })).status, 200);
});

/** The names a server view shows in security_groups, or null when the key is absent (as Nova leaves it out). */
function groupNames(s: Record<string, unknown>): string[] | null {
  if (!('security_groups' in s)) return null;
  return (s.security_groups as { name: string }[]).map((g) => g.name).sort();
}

async function detailOf(id: string): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const d = await c.call('compute', 'GET', '/servers/detail', { token: p.token, headers: V });
  assert.equal(d.status, 200, d.text);
  return d.body.servers.find((x: { id: string }) => x.id === id);
}

test('a server\'s security_groups are the groups of its ports: create, show, detail, PUT (2.75), add and remove', async () => {
  const made: string[] = [];
  for (const name of ['app', 'db']) {
    const g = await c.call('network', 'POST', '/v2.0/security-groups', { token: p.token, body: { security_group: { name } } });
    assert.equal(g.status, 201, g.text);
    made.push(g.body.security_group.id);
  }
  const r = await boot('sgview', [{ uuid: netId }], { security_groups: [{ name: 'app' }] });
  assert.equal(r.status, 202, r.text);
  // The 202 shows the request's groups (the ports do not exist yet).
  assert.deepEqual(r.body.server.security_groups, [{ name: 'app' }]);
  const id = r.body.server.id;
  let s = await waitFor(id, (x) => x.status === 'ACTIVE', 'ACTIVE');
  assert.deepEqual(s.security_groups, [{ name: 'app' }], 'only the group asked for, not default');
  assert.deepEqual(groupNames(await detailOf(id)), ['app']);

  const act = (body: unknown) => c.call('compute', 'POST', `/servers/${id}/action`, { token: p.token, headers: V, body });
  assert.equal((await act({ addSecurityGroup: { name: 'db' } })).status, 202);
  assert.deepEqual(groupNames(await server(id)), ['app', 'db']);
  assert.deepEqual(groupNames(await detailOf(id)), ['app', 'db']);
  // PUT answers the whole view from 2.75, security groups included; before, without them.
  let u = await c.call('compute', 'PUT', `/servers/${id}`, { token: p.token, headers: V, body: { server: { name: 'sgview2' } } });
  assert.equal(u.status, 200, u.text);
  assert.deepEqual(groupNames(u.body.server), ['app', 'db']);
  u = await c.call('compute', 'PUT', `/servers/${id}`, { token: p.token, headers: { 'OpenStack-API-Version': 'compute 2.74' }, body: { server: { name: 'sgview' } } });
  assert.equal(u.status, 200, u.text);
  assert.equal(groupNames(u.body.server), null);
  // Any microversion shows them on GET (Nova's view has had them since 2.1).
  const old = await c.call('compute', 'GET', `/servers/${id}`, { token: p.token, headers: { 'OpenStack-API-Version': 'compute 2.1' } });
  assert.deepEqual(groupNames(old.body.server), ['app', 'db']);

  assert.equal((await act({ removeSecurityGroup: { name: 'app' } })).status, 202);
  assert.deepEqual((await server(id)).security_groups, [{ name: 'db' }]);
  // The last group removed: no security_groups key at all (Tempest's test_remove_server_all_security_groups).
  assert.equal((await act({ removeSecurityGroup: { name: 'db' } })).status, 202);
  s = await server(id);
  assert.equal(groupNames(s), null, JSON.stringify(s));
  assert.equal(groupNames(await detailOf(id)), null);
  await del(id);
  for (const g of made) assert.equal((await c.call('network', 'DELETE', `/v2.0/security-groups/${g}`, { token: p.token })).status, 204);
});

test('security_groups without groups: networks none has none; two ports in default show it twice, as Nova', async () => {
  const none = await boot('sg-none', 'none');
  assert.equal(none.status, 202, none.text);
  // Nova's create view says `default` whatever the networks.
  assert.deepEqual(none.body.server.security_groups, [{ name: 'default' }]);
  const two = await boot('sg-two', [{ uuid: netId }, { uuid: netId }]);
  assert.equal(two.status, 202, two.text);
  const [a, b] = [none.body.server.id, two.body.server.id];
  const sa = await waitFor(a, (x) => x.status === 'ACTIVE', 'ACTIVE');
  const sb = await waitFor(b, (x) => x.status === 'ACTIVE', 'ACTIVE');
  assert.equal(groupNames(sa), null, JSON.stringify(sa));
  assert.equal((await portsOf(b)).length, 2);
  // Nova lists each port's groups without de-duplicating them.
  assert.deepEqual(sb.security_groups, [{ name: 'default' }, { name: 'default' }]);
  // One detail call answers for both servers, each with its own groups.
  const d = await c.call('compute', 'GET', '/servers/detail', { token: p.token, headers: V });
  const byId = new Map<string, any>(d.body.servers.map((x: { id: string }) => [x.id, x])); // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.equal(groupNames(byId.get(a)), null);
  assert.deepEqual(byId.get(b).security_groups, [{ name: 'default' }, { name: 'default' }]);
  // An admin (another project, its own token to the network service) sees the same.
  const adminView = await c.call('compute', 'GET', `/servers/${b}`, { token: await c.adminToken(), headers: V });
  assert.deepEqual(adminView.body.server.security_groups, [{ name: 'default' }, { name: 'default' }]);
  await del(a);
  await del(b);
});
