// Bad input and races on REAL QEMU guests (issue 5, point 3): every refusal has Nova's status and
// message, and after every race the host is counted — QEMU processes, instance directories and
// Placement allocations — so nothing leaks: two deletes at once, a delete while the server builds,
// a host whose memory runs out (two boots, room for one), a build that fails on the host, a quota
// exceeded, an action in the wrong state.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestCloud, type TestCloud, type Project } from '../../cli/test-cloud.js';
import { killGuestsUnder, qemuPidsMentioning } from '../../cli/up-process.js';
import { testImages } from '../agent/drivers/testing.js';

let c: TestCloud;
let p: Project;
let imageId: string;
let instancesPath: string;
const V = { 'OpenStack-API-Version': 'compute 2.93' };
const skip = !existsSync('/usr/bin/qemu-system-x86_64') ? 'qemu-system-x86 not installed' : false;

const qemuProcesses = (): number => qemuPidsMentioning(instancesPath).length;
const instanceDirs = () => (existsSync(instancesPath) ? readdirSync(instancesPath).filter((d) => /^[0-9a-f-]{36}$/.test(d)).length : 0);
async function allocations(): Promise<number> {
  const admin = await c.adminToken();
  const rps = await c.call('placement', 'GET', '/resource_providers', { token: admin });
  let n = 0;
  for (const rp of rps.body.resource_providers) {
    const a = await c.call('placement', 'GET', `/resource_providers/${rp.uuid}/allocations`, { token: admin });
    n += Object.keys(a.body.allocations).length;
  }
  return n;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function server(id: string): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const r = await c.call('compute', 'GET', `/servers/${id}`, { token: p.token, headers: V });
  return r.status === 404 ? null : r.body.server;
}
async function until(what: string, fn: () => Promise<boolean>, ms = 120_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) { if (await fn()) return; await sleep(200); }
  throw new Error(`timed out: ${what}`);
}
async function create(name: string, extra: Record<string, unknown> = {}) {
  return c.call('compute', 'POST', '/servers', { token: p.token, headers: V, body: { server: { name, imageRef: imageId, flavorRef: '1', networks: 'none', ...extra } } });
}
async function noLeaks(): Promise<void> {
  await until('no QEMU process, instance directory or allocation left', async () => qemuProcesses() === 0 && instanceDirs() === 0 && (await allocations()) === 0, 60_000);
}

before(async () => {
  if (skip) return;
  const imgs = await testImages();
  // Room for exactly one 512 MiB guest: (1024 - 512 reserved) x 1.5 = 768 MiB.
  c = await startTestCloud({ services: ['image', 'placement', 'compute'], config: { compute: { compute_driver: 'qemu', host: 'race-host', memory_mb: 1024, reserved_host_memory_mb: 512, shutdown_timeout: 1 } } });
  instancesPath = join(c.dataDir, 'instances');
  p = await c.project('races');
  const admin = await c.adminToken();
  assert.equal((await c.call('compute', 'POST', '/flavors', { token: admin, body: { flavor: { name: 'm1.tiny', ram: 512, vcpus: 1, disk: 1, id: '1' } } })).status, 200);
  assert.equal((await c.call('compute', 'POST', '/flavors', { token: admin, body: { flavor: { name: 'm1.nano', ram: 64, vcpus: 1, disk: 1, id: '2' } } })).status, 200);
  const img = await c.call('image', 'POST', '/v2/images', { token: p.token, body: { name: 'guest', disk_format: 'qcow2', container_format: 'bare' } });
  imageId = img.body.id;
  const up = await c.call('image', 'PUT', `/v2/images/${imageId}/file`, { token: p.token, raw: readFileSync(imgs.disk), headers: { 'Content-Type': 'application/octet-stream' } });
  assert.equal(up.status, 204, up.text);
});
after(async () => {
  if (!c) return;
  killGuestsUnder(c.dataDir);
  await c.close();
});

test('bad input gets Nova\'s 4xx and writes nothing', { skip }, async () => {
  const bad = async (body: unknown, status: number, re: RegExp) => {
    const r = await c.call('compute', 'POST', '/servers', { token: p.token, headers: V, body });
    assert.equal(r.status, status, r.text);
    assert.match(JSON.stringify(r.body), re);
  };
  const s = (x: Record<string, unknown>) => ({ server: { name: 'x', imageRef: imageId, flavorRef: '1', networks: 'none', ...x } });
  await bad(s({ flavorRef: 'no-such-flavor' }), 400, /Invalid flavorRef provided/);
  await bad(s({ imageRef: '00000000-0000-4000-8000-000000000000' }), 400, /could not be found/);
  await bad(s({ name: 'n'.repeat(300) }), 400, /badRequest/);
  await bad(s({ key_name: 'nope' }), 400, /Invalid key_name provided/);
  await bad(s({ user_data: 'not base64!' }), 400, /valid base 64/);
  await bad({ server: { name: 'x' } }, 400, /flavorRef/);
  await bad('not json at all', 400, /badRequest/);
  // An image that needs more disk than the flavor has.
  const big = await c.call('image', 'POST', '/v2/images', { token: p.token, body: { name: 'big', disk_format: 'qcow2', container_format: 'bare', min_disk: 20 } });
  await c.call('image', 'PUT', `/v2/images/${big.body.id}/file`, { token: p.token, raw: readFileSync((await testImages()).disk), headers: { 'Content-Type': 'application/octet-stream' } });
  await bad(s({ imageRef: big.body.id }), 400, /Flavor's disk is too small/);
  const list = await c.call('compute', 'GET', '/servers', { token: p.token });
  assert.deepEqual(list.body.servers, [], 'nothing was created');
  assert.equal(await allocations(), 0);
});

test('a host that runs out of memory: two boots at once, room for one — one ACTIVE, one ERROR "No valid host", nothing leaked', { skip }, async () => {
  const [a, b] = await Promise.all([create('mem-a'), create('mem-b')]);
  assert.equal(a.status, 202); assert.equal(b.status, 202);
  const ids = [a.body.server.id, b.body.server.id];
  await until('both settled', async () => { const s = await Promise.all(ids.map(server)); return s.every((x) => x && ['ACTIVE', 'ERROR'].includes(x.status)); });
  const states = await Promise.all(ids.map(server));
  assert.deepEqual(states.map((x) => x.status).sort(), ['ACTIVE', 'ERROR']);
  const failed = states.find((x) => x.status === 'ERROR');
  assert.match(failed.fault.message, /No valid host was found/);
  assert.equal(qemuProcesses(), 1);
  assert.equal(await allocations(), 1);
  // Two deletes of the running one at once, one delete of the failed one.
  const dels = await Promise.all([...ids, states.find((x) => x.status === 'ACTIVE').id].map((id) => c.call('compute', 'DELETE', `/servers/${id}`, { token: p.token })));
  for (const d of dels) assert.ok([204, 404].includes(d.status), d.text);
  await until('deleted', async () => (await Promise.all(ids.map(server))).every((x) => x === null));
  await noLeaks();
});

test('delete while building leaves nothing behind', { skip }, async () => {
  const r = await create('short-lived');
  assert.equal(r.status, 202);
  const id = r.body.server.id;
  await sleep(300); // scheduled, probably spawning: the delete queues behind the build on the host
  const d = await c.call('compute', 'DELETE', `/servers/${id}`, { token: p.token });
  assert.equal(d.status, 204, d.text);
  await until('gone', async () => (await server(id)) === null);
  await noLeaks();
});

test('a build that fails on the host ends in ERROR with a fault and frees everything', { skip }, async () => {
  // An AMI whose kernel image does not exist: the host cannot fetch it.
  const ami = await c.call('image', 'POST', '/v2/images', { token: p.token, body: { name: 'broken-ami', disk_format: 'ami', container_format: 'ami', kernel_id: '11111111-2222-4333-8444-555555555555' } });
  await c.call('image', 'PUT', `/v2/images/${ami.body.id}/file`, { token: p.token, raw: readFileSync((await testImages()).machine), headers: { 'Content-Type': 'application/octet-stream' } });
  const r = await create('broken', { imageRef: ami.body.id, flavorRef: '2' });
  assert.equal(r.status, 202, r.text);
  const id = r.body.server.id;
  await until('ERROR', async () => (await server(id))?.status === 'ERROR');
  const s = await server(id);
  assert.equal(s.fault.code, 500);
  assert.ok(s.fault.message.length > 0);
  assert.equal(await allocations(), 0, 'the failed build gave its allocation back');
  assert.equal(qemuProcesses(), 0);
  assert.equal((await c.call('compute', 'DELETE', `/servers/${id}`, { token: p.token })).status, 204);
  await until('gone', async () => (await server(id)) === null);
  await noLeaks();
});

test('quota exceeded and actions in the wrong state', { skip }, async () => {
  const admin = await c.adminToken();
  const q = await c.call('compute', 'PUT', `/os-quota-sets/${p.projectId}`, { token: admin, body: { quota_set: { instances: 1 } } });
  assert.equal(q.status, 200, q.text);
  const r = await create('only-one', { flavorRef: '2' });
  assert.equal(r.status, 202);
  const id = r.body.server.id;
  const over = await create('one-too-many', { flavorRef: '2' });
  assert.equal(over.status, 403, over.text);
  assert.match(over.body.forbidden.message, /Quota exceeded for instances: Requested 1, but already used 1 of 1 instances/);
  await until('ACTIVE', async () => (await server(id))?.status === 'ACTIVE');
  const unpause = await c.call('compute', 'POST', `/servers/${id}/action`, { token: p.token, headers: V, body: { unpause: null } });
  assert.equal(unpause.status, 409);
  assert.match(unpause.body.conflictingRequest.message, /Cannot 'unpause' instance .* while it is in vm_state active/);
  const confirm = await c.call('compute', 'POST', `/servers/${id}/action`, { token: p.token, headers: V, body: { confirmResize: null } });
  assert.equal(confirm.status, 400);
  const unknown = await c.call('compute', 'POST', `/servers/${id}/action`, { token: p.token, headers: V, body: { frobnicate: null } });
  assert.equal(unknown.status, 400);
  await c.call('compute', 'DELETE', `/servers/${id}`, { token: p.token });
  await until('gone', async () => (await server(id)) === null);
  await c.call('compute', 'DELETE', `/os-quota-sets/${p.projectId}`, { token: admin });
  await noLeaks();
});
