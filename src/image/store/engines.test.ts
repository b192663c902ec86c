// The image store on the three engines: one scenario through the HTTP API against SQLite,
// PostgreSQL and MariaDB/MySQL — images with properties, tags, members, locations and data,
// filtered, sorted and paged lists (keyset pagination over nullable columns), an import task,
// metadefs — then a restart of the image service on the same database finds it all again.
// As in identity's engine test: CI starts the servers; MONOSTACK_TEST_SKIP_ENGINES=postgres,mysql
// (or 1) leaves them out, MONOSTACK_TEST_POSTGRES_URL / MONOSTACK_TEST_MYSQL_URL point elsewhere.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestCloud, type TestCloud } from '../../identity/testing.js';
import { startImageService, type ImageTestService } from '../testing.js';
import { engineCases, engineSkipped } from '../../common/testing/engines.js';

const suffix = `${process.pid}_${randomBytes(4).toString('hex')}`;
const ENGINES = engineCases('monostack_image_test');
const skipped = engineSkipped;

let cloud: TestCloud;
before(async () => { cloud = await startTestCloud(); });
after(async () => { await cloud?.close(); });

async function waitFor(cond: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail('condition not met in time');
}

/** Requests with bad input of every kind: each must get a 4xx on every engine, never a 500. */
async function malformed(svc: ImageTestService, token: string, admin: string): Promise<Array<[number, string]>> {
  const seen: Array<[number, string]> = [];
  const go = async (m: string, path: string, o: Parameters<ImageTestService['request']>[2] = {}) => {
    const r = await svc.request(m, path, { token, ...o });
    seen.push([r.status, `${m} ${path} ${o.raw ?? JSON.stringify(o.body ?? '')}`.slice(0, 200)]);
    return r;
  };
  const long = 'x'.repeat(300);
  const img = (await go('POST', '/v2/images', { body: { name: 'm', disk_format: 'raw', container_format: 'bare', visibility: 'shared' } })).body.id as string;
  for (const body of [[], { name: 5 }, { min_ram: 'a' }, { min_ram: 1e20 }, { min_disk: -1 }, { id: 'nope' }, { tags: 'x' }, { tags: [long] },
    { protected: 'yes' }, { visibility: 'bogus' }, { [long]: 'v' }, { prop: null }, { prop: 5 }, { owner: long }, { name: long }, { locations: [] },
    { disk_format: 'floppy' }, { kernel_id: 'not-a-uuid' }, { cinder_encryption_key_deletion_policy: 'sometimes' }]) {
    await go('POST', '/v2/images', { body });
  }
  await go('POST', '/v2/images', { raw: '{"name": "x"', headers: { 'Content-Type': 'application/json' } });
  await go('POST', '/v2/images', { raw: '"just a string"', headers: { 'Content-Type': 'application/json' } });
  const patchT = { 'Content-Type': 'application/openstack-images-v2.1-json-patch' };
  for (const ops of [{}, [1], [{ op: 'add' }], [{ op: 'add', path: `/${long}`, value: 'v' }], [{ op: 'add', path: '/x', value: 1 }],
    [{ op: 'replace', path: '/tags', value: 'x' }], [{ op: 'add', path: '/locations/abc', value: { url: 'http://127.0.0.1/', metadata: {} } }],
    [{ op: 'replace', path: '/min_ram', value: 2 ** 40 }], [{ op: 'add', path: '/a/b', value: 'c' }], [{ op: 'remove', path: '/nope' }],
    [{ op: 'replace', path: '/owner', value: 'someone' }], [{ op: 'add', path: '/~2x', value: 'v' }]]) {
    await go('PATCH', `/v2/images/${img}`, { raw: JSON.stringify(ops), headers: patchT });
  }
  for (const q of ['limit=99999999999999999999', 'marker=' + long, 'size_min=1e3', 'created_at=lt:2020-13-45T00:00:00Z', 'sort=size:sideways',
    'min_ram=abc', 'id=in:"a,b', 'member_status=x', 'name=in:' + long]) {
    await go('GET', `/v2/images?${q}`);
  }
  await go('PUT', `/v2/images/${img}/file`, { raw: 'some data', headers: { 'Content-Type': 'application/octet-stream' } });
  for (const range of ['bytes=99999999999999999999-', 'bytes=a-b', 'bytes=5-1', 'bytes=0-1,3-4']) {
    await go('GET', `/v2/images/${img}/file`, { headers: { Range: range } });
  }
  await go('PUT', `/v2/images/${img}/file`, { raw: 'x', headers: { 'Content-Type': 'application/json' } });
  await go('PUT', `/v2/images/${img}/file`, { raw: 'x', headers: { 'Content-Type': 'application/octet-stream', 'x-image-meta-store': 'nowhere' } });
  for (const body of [{}, { member: 5 }, { member: long }, { member: '' }, []]) await go('POST', `/v2/images/${img}/members`, { body });
  await go('PUT', `/v2/images/${img}/members/${long}`, { body: { status: 'accepted' } });
  await go('PUT', `/v2/images/${img}/tags/${long}`);
  for (const body of [{}, { method: 'glance-direct' }, { method: { name: 'nope' } }, { method: { name: 'glance-direct' }, stores: 'file' },
    { method: { name: 'glance-direct' }, all_stores: 'yes' }, { method: { name: 'web-download', uri: 'file:///etc/passwd' } },
    { method: { name: 'glance-download', glance_image_id: 'x', glance_region: 'RegionOne' } }, { method: { name: 'copy-image' }, stores: ['nowhere'] }]) {
    await go('POST', `/v2/images/${img}/import`, { body });
  }
  await go('GET', `/v2/images/${long}`);
  await go('DELETE', `/v2/images/${long}`);
  const ad = (m: string, path: string, body?: unknown) => go(m, path, { token: admin, body });
  for (const body of [{}, { namespace: 'n'.repeat(100) }, { namespace: 5 }, { namespace: 'ok-ns', display_name: 'd'.repeat(100) },
    { namespace: 'ok-ns2', resource_type_associations: [{ name: 'r'.repeat(100) }] }, { namespace: 'ok-ns3', properties: { p: { type: 'string' } } }]) {
    await ad('POST', '/v2/metadefs/namespaces', body);
  }
  await ad('POST', '/v2/metadefs/namespaces', { namespace: 'mal-ns', visibility: 'public' });
  await ad('POST', '/v2/metadefs/namespaces/mal-ns/objects', { name: 'o'.repeat(100) });
  await ad('POST', '/v2/metadefs/namespaces/mal-ns/properties', { name: 'p', title: 'P' });
  await ad('POST', '/v2/metadefs/namespaces/mal-ns/tags', { tags: [{ name: 't' }, { name: 'T' }] });
  await ad('POST', `/v2/metadefs/namespaces/mal-ns/tags/${'t'.repeat(100)}`);
  await ad('PUT', '/v2/metadefs/namespaces/mal-ns', { namespace: 'n'.repeat(100) });
  await ad('GET', '/v2/cache?x=1');
  await go('DELETE', '/v2/cache', { token: admin, headers: { 'x-image-cache-clear-target': 'everything' } });
  return seen;
}

for (const engine of ENGINES) {
  test(`malformed requests on ${engine.name} get 4xx, never 5xx`, { skip: skipped(engine.name) ? 'MONOSTACK_TEST_SKIP_ENGINES' : false }, async () => {
    await engine.reachable();
    const url = engine.url().replace(/image_test_/, 'image_bad_').replace(/image\.sqlite$/, 'bad.sqlite');
    const svc = await startImageService({ identityUrl: cloud.url, adminPassword: cloud.adminPassword, dbUrl: url });
    try {
      const p = await svc.project(`bad-${engine.name}-${suffix}`);
      const seen = await malformed(svc, p.token, await svc.adminToken());
      assert.ok(seen.filter(([s]) => s >= 400 && s < 500).length >= 70, 'the malformed requests were refused');
      assert.deepEqual(seen.filter(([s]) => s >= 500), [], 'no request got a 5xx');
    } finally {
      await svc.close();
      await engine.drop(url);
    }
  });
}

for (const engine of ENGINES) {
  test(`image store on ${engine.name}: everything survives a restart`, { skip: skipped(engine.name) ? 'MONOSTACK_TEST_SKIP_ENGINES' : false }, async () => {
    await engine.reachable();
    const url = engine.url();
    const dataDir = mkdtempSync(join(tmpdir(), `monostack-image-engine-${engine.name}-`));
    let svc: ImageTestService | undefined = await startImageService({ identityUrl: cloud.url, adminPassword: cloud.adminPassword, dbUrl: url, dataDir });
    try {
      const p = await svc.project(`eng-${engine.name}-${suffix}`);
      const other = await svc.project(`eng2-${engine.name}-${suffix}`);
      const req = (m: string, path: string, o: Parameters<ImageTestService['request']>[2] = {}) => svc!.request(m, path, { token: p.token, ...o });
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) {
        const body: Record<string, unknown> = { name: i === 3 ? null : `img-${i}`, container_format: 'bare', disk_format: 'raw', min_disk: i % 3, tags: [`t${i % 2}`], visibility: 'private', note: `n${i}` };
        const r = await req('POST', '/v2/images', { body });
        assert.equal(r.status, 201, r.text);
        ids.push(r.body.id);
      }
      const data = randomBytes(70_000);
      assert.equal((await req('PUT', `/v2/images/${ids[0]}/file`, { raw: data, headers: { 'Content-Type': 'application/octet-stream' } })).status, 204);
      assert.equal((await req('PUT', `/v2/images/${ids[1]}/file`, { raw: randomBytes(10), headers: { 'Content-Type': 'application/octet-stream' } })).status, 204);
      // Sorting by a nullable column (size, name) with keyset paging, both directions.
      const pageAll = async (q: string) => {
        const out: string[] = [];
        let next: string | undefined = `/v2/images?visibility=private&limit=2&${q}`;
        while (next) {
          const r = await req('GET', next);
          assert.equal(r.status, 200, r.text);
          out.push(...r.body.images.map((i: { id: string }) => i.id));
          next = r.body.next;
        }
        return out;
      };
      for (const q of ['sort=size:desc', 'sort=size:asc,name:desc', 'sort_key=name&sort_dir=asc', 'sort=status:asc']) {
        const all = await pageAll(q);
        assert.equal(all.length, 6, q);
        assert.deepEqual([...all].sort(), [...ids].sort(), q);
      }
      const bySize = await pageAll('sort=size:desc');
      assert.deepEqual(bySize.slice(0, 2), [ids[0], ids[1]]);
      let r = await req('GET', '/v2/images?visibility=private&tag=t1&note=n3');
      assert.deepEqual(r.body.images.map((i: { id: string }) => i.id), [ids[3]]);
      r = await req('GET', '/v2/images?visibility=private&size_min=1000');
      assert.deepEqual(r.body.images.map((i: { id: string }) => i.id), [ids[0]]);
      r = await req('GET', '/v2/images?visibility=private&status=in:active,killed');
      assert.equal(r.body.images.length, 2);
      // Sharing.
      assert.equal((await req('PATCH', `/v2/images/${ids[2]}`, { raw: JSON.stringify([{ op: 'replace', path: '/visibility', value: 'shared' }]), headers: { 'Content-Type': 'application/openstack-images-v2.1-json-patch' } })).status, 200);
      assert.equal((await req('POST', `/v2/images/${ids[2]}/members`, { body: { member: other.projectId } })).status, 200);
      assert.equal((await svc.request('PUT', `/v2/images/${ids[2]}/members/${other.projectId}`, { token: other.token, body: { status: 'accepted' } })).status, 200);
      // An import and its task.
      assert.equal((await req('PUT', `/v2/images/${ids[4]}/stage`, { raw: randomBytes(5000), headers: { 'Content-Type': 'application/octet-stream' } })).status, 204);
      assert.equal((await req('POST', `/v2/images/${ids[4]}/import`, { body: { method: { name: 'glance-direct' } } })).status, 202);
      await waitFor(async () => (await req('GET', `/v2/images/${ids[4]}`)).body.status === 'active');
      // Metadefs (admin).
      const admin = await svc.adminToken();
      const ns = `ns-${engine.name}-${suffix}`;
      assert.equal((await svc.request('POST', '/v2/metadefs/namespaces', { token: admin, body: { namespace: ns, visibility: 'public', resource_type_associations: [{ name: 'OS::Glance::Image', prefix: 'hw_' }] } })).status, 201);
      assert.equal((await svc.request('POST', `/v2/metadefs/namespaces/${ns}/tags`, { token: admin, body: { tags: [{ name: 'a' }, { name: 'b' }] } })).status, 201);
      assert.equal((await svc.request('POST', `/v2/metadefs/namespaces/${ns}/properties`, { token: admin, body: { name: 'cpu', title: 'CPU', type: 'integer', minimum: 1 } })).status, 201);

      // Restart on the same database.
      await svc.close();
      svc = await startImageService({ identityUrl: cloud.url, adminPassword: cloud.adminPassword, dbUrl: url, dataDir });
      const after = async (id: string) => (await svc!.request('GET', `/v2/images/${id}`, { token: p.token })).body;
      const a0 = await after(ids[0]!);
      assert.equal(a0.status, 'active');
      assert.equal(a0.checksum, createHash('md5').update(data).digest('hex'));
      const down = await svc.request('GET', `/v2/images/${ids[0]}/file`, { token: p.token });
      assert.deepEqual(down.bytes, data);
      const a3 = await after(ids[3]!);
      assert.equal(a3.name, null);
      assert.deepEqual(a3.tags, ['t1']);
      assert.equal(a3.note, 'n3');
      assert.equal((await svc.request('GET', `/v2/images/${ids[2]}`, { token: other.token })).status, 200);
      const tasks = await svc.request('GET', `/v2/images/${ids[4]}/tasks`, { token: p.token });
      assert.equal(tasks.body.tasks[0].status, 'success');
      const nsr = await svc.request('GET', `/v2/metadefs/namespaces/${ns}`, { token: admin });
      assert.deepEqual(nsr.body.tags.map((t: { name: string }) => t.name).sort(), ['a', 'b']);
      assert.equal(nsr.body.properties.cpu.minimum, 1);
      assert.equal(nsr.body.resource_type_associations[0].prefix, 'hw_');
    } finally {
      await svc?.close();
      await engine.drop(url);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
}
