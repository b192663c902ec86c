// Placement on the three engines (SQLite, PostgreSQL, MariaDB/MySQL), through the HTTP API:
// providers in a tree, inventories with generation checks, traits, aggregates, allocations with
// capacity checks, usages, candidates, and — the point of this file — concurrent claims that must
// never oversubscribe a provider: N parallel PUT /allocations of 1 VCPU against a provider with
// capacity C < N succeed exactly C times, usage ends at C, and the provider generation grew by C.
// CI starts the servers; MONOSTACK_TEST_SKIP_ENGINES=postgres,mysql (or 1) leaves them out.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startTestCloud, type TestCloud } from '../../identity/testing.js';
import { startPlacementService } from '../testing.js';
import { engineCases, engineSkipped } from '../../common/testing/engines.js';

const ENGINES = engineCases('monostack_placement_test');

let cloud: TestCloud;
before(async () => { cloud = await startTestCloud(); });
after(async () => { await cloud?.close(); });

for (const engine of ENGINES) {
  test(`placement on ${engine.name}: the API and concurrent claims`, { skip: engineSkipped(engine.name) ? `MONOSTACK_TEST_SKIP_ENGINES leaves ${engine.name} out` : false }, async () => {
    await engine.reachable();
    const url = engine.url();
    const svc = await startPlacementService({ identityUrl: cloud.url, adminPassword: cloud.adminPassword, dbUrl: url, register: false });
    try {
      const v = '1.39';
      const a = (m: string, p: string, body?: unknown) => svc.admin(m, p, { version: v, body });
      const root = randomUUID();
      const child = randomUUID();
      assert.equal((await a('POST', '/resource_providers', { uuid: root, name: `cn-${engine.name}` })).status, 200);
      const c = await a('POST', '/resource_providers', { uuid: child, name: `numa-${engine.name}`, parent_provider_uuid: root });
      assert.equal(c.status, 200, c.text);
      assert.equal(c.body.root_provider_uuid, root);
      assert.equal((await a('POST', '/resource_providers', { name: `cn-${engine.name}` })).body.errors[0].code, 'placement.duplicate_name');

      const inv = await a('PUT', `/resource_providers/${root}/inventories`, {
        resource_provider_generation: 0,
        inventories: { VCPU: { total: 8, reserved: 2, allocation_ratio: 2.0 }, MEMORY_MB: { total: 2048, max_unit: 1024, step_size: 256 } },
      });
      assert.equal(inv.status, 200, inv.text);
      assert.equal(inv.body.inventories.VCPU.allocation_ratio, 2);
      const stale = await a('PUT', `/resource_providers/${root}/inventories`, { resource_provider_generation: 0, inventories: {} });
      assert.equal(stale.status, 409);
      assert.equal(stale.body.errors[0].code, 'placement.concurrent_update');

      assert.equal((await a('PUT', '/traits/CUSTOM_FAST')).status, 201);
      const gen = (await a('GET', `/resource_providers/${root}`)).body.generation;
      assert.equal((await a('PUT', `/resource_providers/${root}/traits`, { resource_provider_generation: gen, traits: ['CUSTOM_FAST', 'HW_CPU_X86_AVX2'] })).status, 200);
      const agg = randomUUID();
      assert.equal((await a('PUT', `/resource_providers/${root}/aggregates`, { resource_provider_generation: gen + 1, aggregates: [agg] })).status, 200);
      assert.equal((await a('GET', `/resource_providers?member_of=${agg}&required=CUSTOM_FAST`)).body.resource_providers.length, 1);

      // Capacity: (8 - 2) * 2 = 12 VCPU; memory in steps of 256 up to 1024 at once.
      const bad = await a('PUT', `/allocations/${randomUUID()}`, { allocations: { [root]: { resources: { MEMORY_MB: 300 } } }, project_id: 'p', user_id: 'u', consumer_generation: null, consumer_type: 'INSTANCE' });
      assert.equal(bad.status, 409);
      assert.match(bad.body.errors[0].detail, /violate inventory constraints/);

      const before = (await a('GET', `/resource_providers/${root}`)).body.generation;
      const N = 30;
      const consumers = Array.from({ length: N }, () => randomUUID());
      const results = await Promise.all(consumers.map((cu) => a('PUT', `/allocations/${cu}`, {
        allocations: { [root]: { resources: { VCPU: 1 } } }, project_id: 'proj', user_id: 'user', consumer_generation: null, consumer_type: 'INSTANCE',
      })));
      const ok = results.filter((r) => r.status === 204).length;
      const refused = results.filter((r) => r.status === 409);
      assert.equal(ok, 12, `exactly the capacity is granted: ${results.map((r) => r.status).join(',')}`);
      assert.equal(refused.length, N - 12, results.filter((r) => r.status !== 204 && r.status !== 409).map((r) => r.text).join('\n'));
      for (const r of refused) assert.match(r.body.errors[0].detail, /exceed the capacity/);
      const usage = await a('GET', `/resource_providers/${root}/usages`);
      assert.deepEqual(usage.body.usages, { VCPU: 12, MEMORY_MB: 0 });
      assert.equal(usage.body.resource_provider_generation, before + 12);
      assert.deepEqual((await a('GET', '/usages?project_id=proj')).body.usages, { INSTANCE: { VCPU: 12, consumer_count: 12 } });

      // Concurrent writers of one consumer: one wins, the others get the generation conflict.
      const one = consumers.find((_, i) => results[i]!.status === 204)!;
      const cur = (await a('GET', `/allocations/${one}`)).body.consumer_generation;
      await a('DELETE', `/allocations/${consumers.find((_, i) => results[i]!.status === 204 && consumers[i] !== one)}`);
      const racers = await Promise.all([1, 2, 3, 4].map(() => a('PUT', `/allocations/${one}`, {
        allocations: { [root]: { resources: { VCPU: 2 } } }, project_id: 'proj', user_id: 'user', consumer_generation: cur, consumer_type: 'INSTANCE',
      })));
      assert.equal(racers.filter((r) => r.status === 204).length, 1, racers.map((r) => r.text).join('\n'));
      for (const r of racers.filter((x) => x.status !== 204)) assert.equal(r.body.errors[0].code, 'placement.concurrent_update');

      // Inventory in use cannot go; candidates see the remaining capacity.
      const del = await a('DELETE', `/resource_providers/${root}/inventories/VCPU`);
      assert.equal(del.status, 409);
      const full = await a('GET', '/allocation_candidates?resources=VCPU:1');
      assert.deepEqual(full.body, { allocation_requests: [], provider_summaries: {} }, 'full: no candidates');
      assert.equal((await a('DELETE', `/allocations/${one}`)).status, 204);
      const cands = await a('GET', '/allocation_candidates?resources=VCPU:2&required=CUSTOM_FAST');
      assert.equal(cands.status, 200, cands.text);
      assert.deepEqual(cands.body.allocation_requests, [{ allocations: { [root]: { resources: { VCPU: 2 } } }, mappings: { '': [root] } }]);
      assert.deepEqual(cands.body.provider_summaries[root].resources.VCPU, { capacity: 12, used: 10 });
      assert.ok(child in cands.body.provider_summaries, 'the whole tree is summarised (1.29)');
    } finally {
      await svc.close();
      if (engine.name !== 'sqlite') await engine.drop(url);
    }
  });
}
