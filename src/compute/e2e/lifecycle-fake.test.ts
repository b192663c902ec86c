// The server lifecycle end to end on the fake driver: identity, image, placement and compute
// started as `up` starts them; a server is created from a real uploaded image, scheduled through
// Placement, built by the agent, driven through its actions and deleted, and nothing is left
// behind (no allocation, no driver instance).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestCloud, type TestCloud, type Project } from '../../cli/test-cloud.js';

let c: TestCloud;
let p: Project;
let imageId: string;
const V = { 'OpenStack-API-Version': 'compute 2.93' };

before(async () => {
  c = await startTestCloud({ services: ['image', 'placement', 'compute'], config: { compute: { compute_driver: 'fake', host: 'fake-host-1' } } });
  p = await c.project('life');
  const admin = await c.adminToken();
  const f = await c.call('compute', 'POST', '/flavors', { token: admin, body: { flavor: { name: 'm1.tiny', ram: 512, vcpus: 1, disk: 1, id: '1' } } });
  assert.equal(f.status, 200, f.text);
  const img = await c.call('image', 'POST', '/v2/images', { token: p.token, body: { name: 'tiny', disk_format: 'raw', container_format: 'bare' } });
  assert.equal(img.status, 201, img.text);
  imageId = img.body.id;
  const up = await c.call('image', 'PUT', `/v2/images/${imageId}/file`, { token: p.token, raw: new Uint8Array(1024 * 1024), headers: { 'Content-Type': 'application/octet-stream' } });
  assert.equal(up.status, 204, up.text);
});
after(async () => { await c?.close(); });

async function waitFor(id: string, pred: (s: any) => boolean, what: string, ms = 15000): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const end = Date.now() + ms;
  let last: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  while (Date.now() < end) {
    const r = await c.call('compute', 'GET', `/servers/${id}`, { token: p.token, headers: V });
    last = r.body?.server ?? r.status;
    if (r.status === 200 && pred(r.body.server)) return r.body.server;
    if (r.status === 404 && what === 'gone') return null;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`timed out waiting for ${what}: ${JSON.stringify(last)}`);
}

async function action(id: string, body: unknown, status = 202) {
  const r = await c.call('compute', 'POST', `/servers/${id}/action`, { token: p.token, body, headers: V });
  assert.equal(r.status, status, `${JSON.stringify(body)}: ${r.text}`);
  return r;
}

test('a server boots to ACTIVE through placement and the agent, moves through its actions, and is deleted without leftovers', async () => {
  const r = await c.call('compute', 'POST', '/servers', { token: p.token, headers: V, body: { server: { name: 'hello', imageRef: imageId, flavorRef: '1', networks: 'none' } } });
  assert.equal(r.status, 202, r.text);
  const id = r.body.server.id;
  assert.ok(r.body.server.adminPass);
  let s = await waitFor(id, (x) => x.status === 'ACTIVE', 'ACTIVE');
  assert.equal(s['OS-EXT-STS:power_state'], 1);
  assert.equal(s['OS-EXT-SRV-ATTR:hostname'], 'hello');
  assert.equal(s.flavor.original_name, 'm1.tiny');
  // Nova's create view names the request's groups, else `default`; with no ports (no network
  // service here) the server view has no security_groups at all.
  assert.deepEqual(r.body.server.security_groups, [{ name: 'default' }]);
  assert.ok(!('security_groups' in s), JSON.stringify(s));
  const detail = await c.call('compute', 'GET', '/servers/detail', { token: p.token, headers: V });
  assert.ok(!('security_groups' in detail.body.servers.find((x: { id: string }) => x.id === id)));

  // Placement holds the instance's allocation on the host's provider.
  const admin = await c.adminToken();
  const alloc = await c.call('placement', 'GET', `/allocations/${id}`, { token: admin });
  assert.deepEqual(Object.values(alloc.body.allocations).map((a: any) => a.resources), [{ VCPU: 1, MEMORY_MB: 512, DISK_GB: 1 }]); // eslint-disable-line @typescript-eslint/no-explicit-any

  await action(id, { 'os-stop': null });
  s = await waitFor(id, (x) => x.status === 'SHUTOFF', 'SHUTOFF');
  assert.equal(s['OS-EXT-STS:power_state'], 4);
  const again = await action(id, { 'os-stop': null }, 409);
  assert.match(again.body.conflictingRequest.message, /while it is in vm_state stopped/);
  await action(id, { 'os-start': null });
  await waitFor(id, (x) => x.status === 'ACTIVE', 'ACTIVE after start');
  await action(id, { pause: null });
  await waitFor(id, (x) => x.status === 'PAUSED', 'PAUSED');
  await action(id, { unpause: null });
  await waitFor(id, (x) => x.status === 'ACTIVE', 'ACTIVE after unpause');
  await action(id, { suspend: null });
  await waitFor(id, (x) => x.status === 'SUSPENDED', 'SUSPENDED');
  await action(id, { resume: null });
  await waitFor(id, (x) => x.status === 'ACTIVE', 'ACTIVE after resume');
  await action(id, { reboot: { type: 'HARD' } });
  await waitFor(id, (x) => x.status === 'ACTIVE' && !x['OS-EXT-STS:task_state'], 'ACTIVE after reboot');

  const acts = await c.call('compute', 'GET', `/servers/${id}/os-instance-actions`, { token: p.token, headers: V });
  assert.deepEqual(acts.body.instanceActions.map((a: { action: string }) => a.action).reverse(), ['create', 'stop', 'start', 'pause', 'unpause', 'suspend', 'resume', 'reboot']);

  const del = await c.call('compute', 'DELETE', `/servers/${id}`, { token: p.token });
  assert.equal(del.status, 204);
  await waitFor(id, () => false, 'gone');
  const after = await c.call('placement', 'GET', `/allocations/${id}`, { token: admin });
  assert.deepEqual(after.body.allocations, {});
  const agent = (c.cloud as unknown as { services?: unknown });
  void agent;
});

test('bad input: unknown flavor or image, bad name, missing networks at 2.37+, another project\'s server', async () => {
  const bad = async (server: Record<string, unknown>, re: RegExp, headers = V) => {
    const r = await c.call('compute', 'POST', '/servers', { token: p.token, headers, body: { server: { name: 'x', imageRef: imageId, flavorRef: '1', networks: 'none', ...server } } });
    assert.equal(r.status, 400, r.text);
    assert.match(r.body.badRequest.message, re);
  };
  await bad({ flavorRef: '999' }, /Invalid flavorRef/);
  await bad({ imageRef: '6b3a5b0e-0000-4000-8000-000000000000' }, /Image .* could not be found/);
  await bad({ name: 'x'.repeat(300) }, /.+/);
  await bad({ name: ' padded ' }, /name/);
  await bad({ networks: undefined }, /networks/);
  const other = await c.project('other');
  const r = await c.call('compute', 'POST', '/servers', { token: p.token, headers: V, body: { server: { name: 'mine', imageRef: imageId, flavorRef: '1', networks: 'none' } } });
  const id = r.body.server.id;
  const peek = await c.call('compute', 'GET', `/servers/${id}`, { token: other.token });
  assert.equal(peek.status, 404);
  const del = await c.call('compute', 'DELETE', `/servers/${id}`, { token: other.token });
  assert.equal(del.status, 404);
  await c.call('compute', 'DELETE', `/servers/${id}`, { token: p.token });
});

test('the image proxy (until 2.35): list, show, metadata through the image service with the caller\'s token', async () => {
  const H = { 'OpenStack-API-Version': 'compute 2.35' };
  const list = await c.call('compute', 'GET', '/images/detail', { token: p.token, headers: H });
  assert.equal(list.status, 200, list.text);
  const img = list.body.images.find((i: { id: string }) => i.id === imageId);
  assert.equal(img.status, 'ACTIVE');
  assert.equal(img.progress, 100);
  const set = await c.call('compute', 'POST', `/images/${imageId}/metadata`, { token: p.token, headers: H, body: { metadata: { os_distro: 'busybox' } } });
  assert.equal(set.status, 200, set.text);
  assert.equal(set.body.metadata.os_distro, 'busybox');
  const one = await c.call('compute', 'GET', `/images/${imageId}/metadata/os_distro`, { token: p.token, headers: H });
  assert.deepEqual(one.body, { meta: { os_distro: 'busybox' } });
  assert.equal((await c.call('compute', 'DELETE', `/images/${imageId}/metadata/os_distro`, { token: p.token, headers: H })).status, 204);
  const other = await c.project('peeker');
  assert.equal((await c.call('compute', 'GET', `/images/${imageId}`, { token: other.token, headers: H })).status, 404);
  assert.equal((await c.call('compute', 'GET', '/images', { token: p.token, headers: V })).status, 404, 'gone at 2.36+');
});

test('resize of a stopped server keeps it stopped through confirm; a smaller disk is refused', async () => {
  const admin = await c.adminToken();
  await c.call('compute', 'POST', '/flavors', { token: admin, body: { flavor: { name: 'm1.small', ram: 1024, vcpus: 2, disk: 2, id: '2' } } });
  const r = await c.call('compute', 'POST', '/servers', { token: p.token, headers: V, body: { server: { name: 'rs', imageRef: imageId, flavorRef: '1', networks: 'none' } } });
  const id = r.body.server.id;
  await waitFor(id, (x) => x.status === 'ACTIVE', 'ACTIVE');
  await action(id, { 'os-stop': null });
  await waitFor(id, (x) => x.status === 'SHUTOFF', 'SHUTOFF');
  await action(id, { resize: { flavorRef: '2' } });
  let s = await waitFor(id, (x) => x.status === 'VERIFY_RESIZE', 'VERIFY_RESIZE');
  assert.equal(s['OS-EXT-STS:power_state'], 4);
  assert.equal(s.flavor.original_name, 'm1.small');
  await action(id, { confirmResize: null }, 204);
  s = await waitFor(id, (x) => x.status === 'SHUTOFF' && !x['OS-EXT-STS:task_state'], 'SHUTOFF after confirm');
  await action(id, { 'os-start': null });
  await waitFor(id, (x) => x.status === 'ACTIVE', 'ACTIVE');
  await action(id, { resize: { flavorRef: '1' } }, 400); // disk cannot shrink
  await c.call('compute', 'DELETE', `/servers/${id}`, { token: p.token });
  await waitFor(id, () => false, 'gone');
});

test('shelve offloads (no allocation), unshelve reschedules, and the shelve snapshot is deleted afterwards', async () => {
  const admin = await c.adminToken();
  const r = await c.call('compute', 'POST', '/servers', { token: p.token, headers: V, body: { server: { name: 'sh', imageRef: imageId, flavorRef: '1', networks: 'none' } } });
  const id = r.body.server.id;
  await waitFor(id, (x) => x.status === 'ACTIVE', 'ACTIVE');
  await action(id, { shelve: null });
  await waitFor(id, (x) => x.status === 'SHELVED_OFFLOADED' && !x['OS-EXT-STS:task_state'], 'SHELVED_OFFLOADED');
  assert.deepEqual((await c.call('placement', 'GET', `/allocations/${id}`, { token: admin })).body.allocations, {});
  const snaps = await c.call('image', 'GET', `/v2/images?name=sh-shelved`, { token: p.token });
  assert.equal(snaps.body.images.length, 1);
  assert.equal(snaps.body.images[0].status, 'active');
  await action(id, { unshelve: null });
  await waitFor(id, (x) => x.status === 'ACTIVE' && !x['OS-EXT-STS:task_state'], 'ACTIVE after unshelve');
  assert.equal(Object.keys((await c.call('placement', 'GET', `/allocations/${id}`, { token: admin })).body.allocations).length, 1);
  for (let i = 0; i < 50 && (await c.call('image', 'GET', `/v2/images/${snaps.body.images[0].id}`, { token: p.token })).status !== 404; i++) await new Promise((res) => setTimeout(res, 100));
  assert.equal((await c.call('image', 'GET', `/v2/images/${snaps.body.images[0].id}`, { token: p.token })).status, 404);
  await c.call('compute', 'DELETE', `/servers/${id}`, { token: p.token });
  await waitFor(id, () => false, 'gone');
});

test('deferred delete is off (Nova\'s default): restore finds nothing to restore, forceDelete deletes', async () => {
  const r = await c.call('compute', 'POST', '/servers', { token: p.token, headers: V, body: { server: { name: 'fd', imageRef: imageId, flavorRef: '1', networks: 'none' } } });
  const id = r.body.server.id;
  await waitFor(id, (x) => x.status === 'ACTIVE', 'ACTIVE');
  const restore = await action(id, { restore: null }, 409);
  assert.match(restore.body.conflictingRequest.message, /Cannot 'restore' instance .* while it is in vm_state active/);
  assert.equal((await c.call('compute', 'POST', '/servers/00000000-0000-4000-8000-000000000000/action', { token: p.token, body: { forceDelete: null } })).status, 404);
  await action(id, { forceDelete: null });
  await waitFor(id, () => false, 'gone');
});

test('server groups: anti-affinity keeps a second member off the only host; affinity puts members together', async () => {
  const mk = async (policy: string) => (await c.call('compute', 'POST', '/os-server-groups', { token: p.token, headers: V, body: { server_group: { name: `g-${policy}`, policy } } })).body.server_group.id;
  const boot = async (name: string, group: string) => (await c.call('compute', 'POST', '/servers', { token: p.token, headers: V, body: { server: { name, imageRef: imageId, flavorRef: '1', networks: 'none' }, 'os:scheduler_hints': { group } } })).body.server.id;
  const anti = await mk('anti-affinity');
  const a1 = await boot('anti-1', anti);
  await waitFor(a1, (x) => x.status === 'ACTIVE', 'first member ACTIVE');
  const a2 = await boot('anti-2', anti);
  const s2 = await waitFor(a2, (x) => x.status === 'ERROR', 'second member refused');
  assert.match(s2.fault.message, /No valid host was found/);
  const g = await c.call('compute', 'GET', `/os-server-groups/${anti}`, { token: p.token, headers: V });
  assert.deepEqual(g.body.server_group.members.sort(), [a1, a2].sort());
  const aff = await mk('affinity');
  const b1 = await boot('aff-1', aff);
  const b2 = await boot('aff-2', aff);
  const [h1, h2] = await Promise.all([b1, b2].map((id) => waitFor(id, (x) => x.status === 'ACTIVE', 'affinity member ACTIVE')));
  assert.equal(h1.hostId, h2.hostId);
  for (const id of [a1, a2, b1, b2]) await c.call('compute', 'DELETE', `/servers/${id}`, { token: p.token });
  for (const id of [a1, a2, b1, b2]) await waitFor(id, () => false, 'gone');
});
