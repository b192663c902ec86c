// The placement API against a real server (identity from identity/testing.ts): version discovery
// and microversions, auth and policy, each resource area, Placement's error bodies, and the typed
// client through a ServiceSession that finds placement in the catalog.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startTestCloud, type TestCloud } from '../../identity/testing.js';
import { startPlacementService, type PlacementTestService, type Response } from '../testing.js';
import { ServiceSession } from '../../common/auth/session.js';
import { PlacementClient, ConsumerConflict } from '../client.js';

let cloud: TestCloud;
let svc: PlacementTestService;
before(async () => {
  cloud = await startTestCloud();
  svc = await startPlacementService({ identityUrl: cloud.url, adminPassword: cloud.adminPassword });
});
after(async () => { await svc?.close(); await cloud?.close(); });

const a = (m: string, p: string, body?: unknown, version = '1.39') => svc.admin(m, p, { version, body });

function assertError(r: Response, status: number, code: string | null, detail?: RegExp): void {
  assert.equal(r.status, status, r.text);
  assert.match(r.headers.get('x-openstack-request-id') ?? '', /^req-/);
  const e = r.body.errors[0];
  assert.equal(e.status, status);
  assert.equal(typeof e.title, 'string');
  assert.equal(e.request_id, r.headers.get('x-openstack-request-id'));
  if (code === null) assert.ok(!('code' in e));
  else assert.equal(e.code, code);
  if (detail) assert.match(e.detail, detail);
}

test('version discovery and microversion negotiation', async () => {
  const r = await svc.request('GET', '/');
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { versions: [{ id: 'v1.0', max_version: '1.39', min_version: '1.0', status: 'CURRENT', links: [{ rel: 'self', href: '' }] }] });
  assert.equal(r.headers.get('openstack-api-version'), 'placement 1.0');
  assert.equal(r.headers.get('vary'), 'openstack-api-version');
  assert.equal((await svc.request('GET', '/', { version: 'latest' })).headers.get('openstack-api-version'), 'placement 1.39');
  const r406 = await svc.request('GET', '/', { version: '1.40' });
  assert.equal(r406.status, 406);
  assert.equal(r406.body.errors[0].max_version, '1.39');
  assertError(await svc.request('GET', '/', { version: 'one.two' }), 400, null, /invalid version string/);
  // A feature outside its version range is a 404 (resource classes came in 1.2).
  assertError(await a('GET', '/resource_classes', undefined, '1.1'), 404, null);
  assert.equal((await a('GET', '/resource_classes', undefined, '1.2')).status, 200);
  // Codes appear from 1.23.
  const r22 = await a('GET', `/resource_providers/${randomUUID()}`, undefined, '1.22');
  assert.ok(!('code' in r22.body.errors[0]));
});

test('authentication and policy', async () => {
  const r = await svc.request('GET', '/resource_providers');
  assert.equal(r.status, 401);
  assert.match(r.headers.get('www-authenticate') ?? '', /^Keystone uri=/);
  const member = await svc.project(`member-${randomUUID().slice(0, 6)}`);
  const f = await svc.request('GET', '/resource_providers', { token: member.token, version: '1.39' });
  assertError(f, 403, 'placement.undefined_code', /Policy does not allow placement:resource_providers:list to be performed/);
  // A project reader may read its own project's usages, not another's.
  assert.equal((await svc.request('GET', `/usages?project_id=${member.projectId}`, { token: member.token, version: '1.39' })).status, 200);
  assert.equal((await svc.request('GET', `/usages?project_id=${randomUUID()}`, { token: member.token, version: '1.39' })).status, 403);
});

test('resource providers: create, show, list filters, update, delete, errors', async () => {
  const uuid = randomUUID();
  const old = await a('POST', '/resource_providers', { name: `rp-${uuid}`, uuid }, '1.19');
  assert.equal(old.status, 201);
  assert.match(old.headers.get('location') ?? '', new RegExp(`/resource_providers/${uuid}$`));
  const child = await a('POST', '/resource_providers', { name: `child-${uuid}`, parent_provider_uuid: uuid });
  assert.equal(child.status, 200);
  assert.equal(child.body.parent_provider_uuid, uuid);
  assert.deepEqual(child.body.links.map((l: { rel: string }) => l.rel), ['self', 'inventories', 'usages', 'aggregates', 'traits', 'allocations']);
  const show = await a('GET', `/resource_providers/${uuid}`);
  assert.equal(show.body.generation, 0);
  assert.equal(show.headers.get('cache-control'), 'no-cache');
  assert.ok(show.headers.get('last-modified'));
  assert.equal((await a('GET', `/resource_providers?in_tree=${child.body.uuid}`)).body.resource_providers.length, 2);
  assert.equal((await a('GET', `/resource_providers?name=rp-${uuid}`)).body.resource_providers[0].uuid, uuid);
  assertError(await a('GET', '/resource_providers?bogus=1'), 400, 'placement.undefined_code', /Additional properties are not allowed \('bogus' was unexpected\)/);
  assertError(await a('POST', '/resource_providers', { name: `rp-${uuid}` }), 409, 'placement.duplicate_name', /Conflicting resource provider name: rp-/);
  assertError(await a('POST', '/resource_providers', {}), 400, 'placement.undefined_code', /JSON does not validate: 'name' is a required property/);
  assertError(await a('POST', '/resource_providers', { name: 'x', parent_provider_uuid: randomUUID() }), 400, 'placement.undefined_code', /parent provider UUID does not exist/);
  const raw = await svc.admin('POST', '/resource_providers', { version: '1.39', raw: '{"name": ', headers: { 'Content-Type': 'application/json' } });
  assertError(raw, 400, 'placement.undefined_code', /Malformed JSON/);
  const noType = await svc.admin('POST', '/resource_providers', { version: '1.39', raw: '{"name":"x"}', headers: { 'Content-Type': 'text/plain' } });
  assertError(noType, 415, 'placement.undefined_code', /The media type text\/plain is not supported, use application\/json/);
  const renamed = await a('PUT', `/resource_providers/${uuid}`, { name: `renamed-${uuid}` });
  assert.equal(renamed.body.name, `renamed-${uuid}`);
  assertError(await a('PATCH', `/resource_providers/${uuid}`), 405, 'placement.undefined_code');
  assert.equal((await a('PATCH', `/resource_providers/${uuid}`)).headers.get('allow'), 'GET, DELETE, PUT');
  assertError(await a('DELETE', `/resource_providers/${uuid}`), 409, 'placement.resource_provider.cannot_delete_parent');
  assert.equal((await a('DELETE', `/resource_providers/${child.body.uuid}`)).status, 204);
  assert.equal((await a('DELETE', `/resource_providers/${uuid}`)).status, 204);
  assertError(await a('GET', `/resource_providers/${uuid}`), 404, 'placement.undefined_code', /No resource provider with uuid/);
});

test('inventories, resource classes, traits and aggregates', async () => {
  const rp = (await a('POST', '/resource_providers', { name: `inv-${randomUUID()}` })).body.uuid;
  assert.equal((await a('POST', '/resource_classes', { name: 'CUSTOM_GOLD' })).status, 201);
  assertError(await a('POST', '/resource_classes', { name: 'CUSTOM_GOLD' }), 409, 'placement.duplicate_name');
  assertError(await a('POST', '/resource_classes', { name: 'GOLD' }), 400, 'placement.undefined_code', /does not match/);
  assert.equal((await a('PUT', '/resource_classes/CUSTOM_SILVER')).status, 201);
  assert.equal((await a('PUT', '/resource_classes/CUSTOM_SILVER')).status, 204);
  const names = (await a('GET', '/resource_classes')).body.resource_classes.map((c: { name: string }) => c.name);
  assert.deepEqual(names.slice(0, 3), ['VCPU', 'MEMORY_MB', 'DISK_GB']);
  assert.ok(names.includes('CUSTOM_GOLD'));
  assertError(await a('DELETE', '/resource_classes/VCPU'), 400, 'placement.undefined_code', /Cannot delete standard resource class VCPU/);

  const put = await a('PUT', `/resource_providers/${rp}/inventories`, { resource_provider_generation: 0, inventories: { VCPU: { total: 4 }, CUSTOM_GOLD: { total: 10, reserved: 10 } } });
  assert.equal(put.status, 200, put.text);
  assert.equal(put.body.resource_provider_generation, 1);
  // reserved == total is accepted from 1.26 only.
  assertError(await a('PUT', `/resource_providers/${rp}/inventories`, { resource_provider_generation: 1, inventories: { VCPU: { total: 4, reserved: 4 } } }, '1.25'), 400, 'placement.undefined_code', /reserved value is greater than or equal to total/);
  assertError(await a('PUT', `/resource_providers/${rp}/inventories`, { resource_provider_generation: 0, inventories: {} }), 409, 'placement.concurrent_update', /resource provider generation conflict/);
  assertError(await a('PUT', `/resource_providers/${rp}/inventories`, { resource_provider_generation: 1, inventories: { CUSTOM_NOPE: { total: 1 } } }), 400, 'placement.undefined_code', /No such resource class CUSTOM_NOPE/);
  const one = await a('PUT', `/resource_providers/${rp}/inventories/VCPU`, { resource_provider_generation: 1, total: 8, allocation_ratio: 16.0 });
  assert.equal(one.status, 200, one.text);
  assert.equal(one.body.resource_provider_generation, 2);
  assert.equal((await a('GET', `/resource_providers/${rp}/inventories/VCPU`)).body.allocation_ratio, 16);
  assertError(await a('GET', `/resource_providers/${rp}/inventories/DISK_GB`), 404, 'placement.undefined_code');
  assertError(await a('DELETE', '/resource_classes/CUSTOM_GOLD'), 409, 'placement.undefined_code', /in use in inventory/);
  assertError(await a('DELETE', `/resource_providers/${rp}/inventories`, undefined, '1.4'), 405, null);

  assert.equal((await a('PUT', '/traits/CUSTOM_SSD')).status, 201);
  assertError(await a('PUT', '/traits/SSD'), 400, 'placement.undefined_code', /The trait is invalid/);
  assert.ok((await a('GET', '/traits?name=startswith:HW_CPU_X86_AVX')).body.traits.includes('HW_CPU_X86_AVX2'));
  const t = await a('PUT', `/resource_providers/${rp}/traits`, { resource_provider_generation: 2, traits: ['CUSTOM_SSD', 'COMPUTE_NODE'] });
  assert.equal(t.status, 200, t.text);
  assert.deepEqual(t.body, { traits: ['COMPUTE_NODE', 'CUSTOM_SSD'], resource_provider_generation: 3 });
  assertError(await a('PUT', `/resource_providers/${rp}/traits`, { resource_provider_generation: 3, traits: ['CUSTOM_NOPE'] }), 400, 'placement.undefined_code', /No such trait CUSTOM_NOPE/);
  assertError(await a('DELETE', '/traits/CUSTOM_SSD'), 409, 'placement.undefined_code', /in use/);
  assert.deepEqual((await a('GET', '/traits?associated=true&name=in:CUSTOM_SSD,CUSTOM_X')).body.traits, ['CUSTOM_SSD']);
  assert.equal((await a('GET', '/resource_providers?required=!CUSTOM_SSD')).body.resource_providers.some((p: { uuid: string }) => p.uuid === rp), false);

  const agg = randomUUID();
  const old = await a('PUT', `/resource_providers/${rp}/aggregates`, [agg], '1.1');
  assert.deepEqual(old.body, { aggregates: [agg] });
  assertError(await a('PUT', `/resource_providers/${rp}/aggregates`, { aggregates: [], resource_provider_generation: 99 }), 409, 'placement.concurrent_update');
  const ag = await a('GET', `/resource_providers/${rp}/aggregates`);
  assert.deepEqual(ag.body, { aggregates: [agg], resource_provider_generation: 3 });
  assert.equal((await a('GET', `/resource_providers?member_of=in:${agg},${randomUUID()}`)).body.resource_providers.length, 1);
});

test('allocations, usages and allocation candidates', async () => {
  const cn = (await a('POST', '/resource_providers', { name: `cn-${randomUUID()}` })).body.uuid;
  const numa = (await a('POST', '/resource_providers', { name: `numa-${randomUUID()}`, parent_provider_uuid: cn })).body.uuid;
  await a('PUT', `/resource_providers/${cn}/inventories`, { resource_provider_generation: 0, inventories: { DISK_GB: { total: 100 } } });
  await a('PUT', `/resource_providers/${numa}/inventories`, { resource_provider_generation: 0, inventories: { VCPU: { total: 4 }, MEMORY_MB: { total: 1024 } } });
  const project = randomUUID();
  const inst = randomUUID();
  const alloc = { allocations: { [numa]: { resources: { VCPU: 2, MEMORY_MB: 512 } }, [cn]: { resources: { DISK_GB: 10 } } }, project_id: project, user_id: 'u1', consumer_generation: null, consumer_type: 'INSTANCE' };
  assert.equal((await a('PUT', `/allocations/${inst}`, alloc)).status, 204);
  assertError(await a('PUT', `/allocations/${inst}`, alloc), 409, 'placement.concurrent_update', /consumer generation conflict - expected 1 but got None/);
  const got = await a('GET', `/allocations/${inst}`);
  assert.equal(got.body.consumer_generation, 1);
  assert.equal(got.body.consumer_type, 'INSTANCE');
  assert.deepEqual(got.body.allocations[numa].resources, { VCPU: 2, MEMORY_MB: 512 });
  const old = await a('GET', `/allocations/${inst}`, undefined, '1.11');
  assert.deepEqual(Object.keys(old.body), ['allocations']);
  assertError(await a('PUT', `/allocations/${randomUUID()}`, { ...alloc, allocations: { [numa]: { resources: { VCPU: 3 } } } }), 409, 'placement.undefined_code', /exceed the capacity/);
  assertError(await a('PUT', `/allocations/${randomUUID()}`, { ...alloc, allocations: { [randomUUID()]: { resources: { VCPU: 1 } } } }), 400, 'placement.undefined_code', /that does not exist/);
  assertError(await a('PUT', '/allocations/not-a-uuid', alloc), 400, 'placement.undefined_code', /Malformed consumer_uuid/);
  assert.deepEqual((await a('GET', `/resource_providers/${numa}/usages`)).body.usages, { VCPU: 2, MEMORY_MB: 512 });
  assert.deepEqual((await a('GET', `/usages?project_id=${project}`, undefined, '1.37')).body.usages, { VCPU: 2, MEMORY_MB: 512, DISK_GB: 10 });
  const rpAllocs = await a('GET', `/resource_providers/${numa}/allocations`);
  assert.deepEqual(rpAllocs.body.allocations[inst], { resources: { VCPU: 2, MEMORY_MB: 512 }, consumer_generation: 1 });
  assertError(await a('DELETE', `/resource_providers/${numa}/inventories/VCPU`), 409, 'placement.concurrent_update', /in use/);
  assertError(await a('DELETE', `/resource_providers/${numa}`), 409, 'placement.resource_provider.inuse');

  // Candidates: nested (1.29+) spreads the unsuffixed group over the tree; before 1.29 only roots count.
  const c = await a('GET', '/allocation_candidates?resources=VCPU:1,DISK_GB:5&limit=5');
  assert.equal(c.status, 200, c.text);
  const req = c.body.allocation_requests.find((x: { allocations: Record<string, unknown> }) => numa in x.allocations);
  assert.deepEqual(req, { allocations: { [numa]: { resources: { VCPU: 1 } }, [cn]: { resources: { DISK_GB: 5 } } }, mappings: { '': [numa, cn] } });
  assert.deepEqual(c.body.provider_summaries[numa].resources.VCPU, { capacity: 4, used: 2 });
  assert.equal(c.body.provider_summaries[numa].parent_provider_uuid, cn);
  const flat = await a('GET', '/allocation_candidates?resources=VCPU:1,DISK_GB:5', undefined, '1.28');
  assert.ok(!flat.body.allocation_requests.some((x: { allocations: Record<string, unknown> }) => numa in x.allocations));
  const granular = await a('GET', `/allocation_candidates?resources1=VCPU:1&resources2=DISK_GB:1&group_policy=isolate&in_tree=${cn}`);
  assert.equal(granular.status, 200, granular.text);
  assert.deepEqual(granular.body.allocation_requests[0].mappings, { 1: [numa], 2: [cn] });
  assertError(await a('GET', '/allocation_candidates?resources1=VCPU:1&resources2=DISK_GB:1'), 400, 'placement.undefined_code', /group_policy/);
  assertError(await a('GET', '/allocation_candidates?resources=VCPU:0'), 400, 'placement.undefined_code', /requires amount >= 1/);
  assertError(await a('GET', '/allocation_candidates?resources=CUSTOM_NOPE:1'), 400, 'placement.undefined_code', /No such resource class CUSTOM_NOPE/);

  // POST /allocations moves allocations between consumers atomically (a resize's migration record).
  const migration = randomUUID();
  const move = await a('POST', '/allocations', {
    [inst]: { allocations: {}, project_id: project, user_id: 'u1', consumer_generation: 1, consumer_type: 'INSTANCE' },
    [migration]: { allocations: { [numa]: { resources: { VCPU: 2, MEMORY_MB: 512 } } }, project_id: project, user_id: 'u1', consumer_generation: null, consumer_type: 'MIGRATION' },
  });
  assert.equal(move.status, 204, move.text);
  assert.deepEqual((await a('GET', `/allocations/${inst}`)).body, { allocations: {} });
  assert.deepEqual((await a('GET', `/usages?project_id=${project}`)).body.usages, { MIGRATION: { VCPU: 2, MEMORY_MB: 512, consumer_count: 1 } });
  assert.equal((await a('DELETE', `/allocations/${migration}`)).status, 204);
  assertError(await a('DELETE', `/allocations/${migration}`), 404, 'placement.undefined_code', /No allocations for consumer/);
});

test('the typed client through the catalog', async () => {
  const session = new ServiceSession({ authUrl: `${cloud.url}/v3`, service: { username: 'admin', password: cloud.adminPassword, projectName: 'admin' } });
  const pc = new PlacementClient(session);
  const cn = randomUUID();
  const p = await pc.ensureProvider(cn, `client-${cn}`);
  assert.equal(p.uuid, cn);
  assert.equal((await pc.ensureProvider(cn, `client-${cn}`)).uuid, cn, 'idempotent');
  // Concurrent inventory writers each retry on the fresh generation and all succeed.
  await Promise.all([1, 2, 3, 4].map((i) => pc.setInventory(cn, { VCPU: { total: 4 + i }, MEMORY_MB: { total: 2048 } })));
  await pc.setTraits(cn, ['CUSTOM_CLIENT', 'COMPUTE_NODE']);
  const agg = randomUUID();
  await pc.setAggregates(cn, [agg]);
  const cands = await pc.allocationCandidates({ resources: { VCPU: 2, MEMORY_MB: 512 }, required: ['CUSTOM_CLIENT'], member_of: [agg], limit: 1 });
  assert.equal(cands.allocation_requests.length, 1);
  assert.ok(cn in cands.allocation_requests[0]!.allocations);
  const inst = randomUUID();
  const project = randomUUID();
  assert.equal(await pc.claim(inst, { [cn]: { VCPU: 2, MEMORY_MB: 512 } }, project, 'u', null), true);
  assert.equal(await pc.claim(randomUUID(), { [cn]: { VCPU: 100 } }, project, 'u', null), false, 'does not fit');
  await assert.rejects(pc.claim(inst, { [cn]: { VCPU: 1 } }, project, 'u', null), ConsumerConflict);
  const got = await pc.getAllocations(inst);
  assert.equal(got.consumer_generation, 1);
  const migration = randomUUID();
  assert.equal(await pc.moveAllocations(inst, migration), true);
  assert.deepEqual((await pc.getAllocations(migration)).allocations[cn]!.resources, { VCPU: 2, MEMORY_MB: 512 });
  assert.deepEqual(await pc.usages(project), { MIGRATION: { VCPU: 2, MEMORY_MB: 512, consumer_count: 1 } });
  assert.equal(await pc.deleteAllocations(migration), true);
  assert.equal(await pc.deleteAllocations(migration), false);
  assert.equal(await pc.deleteProvider(cn), true);
});
