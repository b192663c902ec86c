import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startTestCloud, type TestCloud, type Project } from '../../cli/test-cloud.js';
import { checkQuota, QUOTA_DEFAULTS } from '../quotas.js';
import { openDatabase, type Database } from '../../common/db/index.js';

let c: TestCloud;
let admin: string;
let p: Project;
let q: Project;
let database: Database;
before(async () => {
  c = await startTestCloud({ services: ['compute', 'placement'] });
  database = await openDatabase(c.cfg.database.url, c.dataDir);
  admin = await c.adminToken();
  p = await c.project('quota-p');
  q = await c.project('quota-q');
});
after(async () => { await database?.close(); await c?.close(); });

const call = (method: string, path: string, token: string, body?: unknown, v = '2.1') =>
  c.call('compute', method, path, { token, headers: { 'OpenStack-API-Version': `compute ${v}` }, ...(body !== undefined ? { body } : {}) });

/** A live instance row as the servers code writes it (only the columns quota and usage read). */
async function addInstance(projectId: string, userId: string, vcpus: number, ram: number, extra: Record<string, unknown> = {}): Promise<string> {
  const uuid = randomUUID();
  const now = new Date().toISOString();
  await database.db.insertInto('instances').values({
    uuid, display_name: `vm-${uuid.slice(0, 4)}`, project_id: projectId, user_id: userId, vcpus, memory_mb: ram, root_gb: 1, ephemeral_gb: 0,
    vm_state: 'active', flavor: JSON.stringify({ cur: { name: 'm1.test', vcpus, memory_mb: ram, root_gb: 1, ephemeral_gb: 0 } }), created_at: now,
    launched_at: new Date(Date.now() - 3600_000).toISOString(), ...extra,
  }).execute();
  return uuid;
}

test('defaults, show, detail with usage, update (settable range, force), delete; fields by microversion', async () => {
  const d = await call('GET', `/os-quota-sets/${p.projectId}/defaults`, p.token);
  assert.equal(d.status, 200, d.text);
  assert.equal(d.body.quota_set.id, p.projectId);
  assert.equal(d.body.quota_set.instances, 10);
  assert.equal(d.body.quota_set.cores, 20);
  assert.equal(d.body.quota_set.ram, 51200);
  assert.equal(d.body.quota_set.fixed_ips, -1);
  assert.equal(d.body.quota_set.injected_files, 5);
  const d236 = await call('GET', `/os-quota-sets/${p.projectId}`, p.token, undefined, '2.36');
  assert.equal(d236.body.quota_set.fixed_ips, undefined);
  assert.equal(d236.body.quota_set.injected_files, 5);
  const d257 = await call('GET', `/os-quota-sets/${p.projectId}`, p.token, undefined, '2.57');
  assert.equal(d257.body.quota_set.injected_files, undefined);
  assert.deepEqual(Object.keys(d257.body.quota_set).sort(), ['cores', 'id', 'instances', 'key_pairs', 'metadata_items', 'ram', 'server_group_members', 'server_groups']);

  await addInstance(p.projectId, p.userId, 4, 2048);
  const det = await call('GET', `/os-quota-sets/${p.projectId}/detail`, p.token);
  assert.deepEqual(det.body.quota_set.cores, { limit: 20, in_use: 4, reserved: 0 });
  assert.deepEqual(det.body.quota_set.instances, { limit: 10, in_use: 1, reserved: 0 });

  const tooLow = await call('PUT', `/os-quota-sets/${p.projectId}`, admin, { quota_set: { cores: 2 } });
  assert.equal(tooLow.status, 400);
  assert.equal(tooLow.body.badRequest.message, 'Quota limit 2 for cores must be greater than or equal to already used and reserved 4.');
  const forced = await call('PUT', `/os-quota-sets/${p.projectId}`, admin, { quota_set: { cores: 2, force: true } });
  assert.equal(forced.status, 200);
  assert.equal(forced.body.quota_set.cores, 2);
  assert.equal(forced.body.quota_set.id, undefined);
  assert.equal((await call('PUT', `/os-quota-sets/${p.projectId}`, admin, { quota_set: { cores: 'many' } })).status, 400);
  assert.equal((await call('PUT', `/os-quota-sets/${p.projectId}`, admin, { quota_set: { cores: -2 } })).status, 400);
  assert.equal((await call('PUT', `/os-quota-sets/${p.projectId}`, admin, { quota_set: { floating_ips: 3 } }, '2.36')).status, 400);
  assert.equal((await call('PUT', `/os-quota-sets/${p.projectId}`, admin, { quota_set: { networks: 3 } })).body.badRequest.message, 'The networks quota has been removed');
  assert.equal((await call('PUT', `/os-quota-sets/${p.projectId}`, p.token, { quota_set: { cores: 50 } })).status, 403);

  // A user's own limits within the project.
  const u = await call('PUT', `/os-quota-sets/${p.projectId}?user_id=${p.userId}`, admin, { quota_set: { instances: 3, force: true } });
  assert.equal(u.status, 200, u.text);
  assert.equal((await call('GET', `/os-quota-sets/${p.projectId}?user_id=${p.userId}`, admin)).body.quota_set.instances, 3);
  assert.equal((await call('GET', `/os-quota-sets/${p.projectId}`, admin)).body.quota_set.instances, 10);

  assert.equal((await call('DELETE', `/os-quota-sets/${p.projectId}`, admin)).status, 202);
  assert.equal((await call('GET', `/os-quota-sets/${p.projectId}`, admin)).body.quota_set.cores, 20);
  assert.equal((await call('GET', `/os-quota-sets/${p.projectId}?user_id=${p.userId}`, admin)).body.quota_set.instances, 10);
});

test('project isolation and unknown projects', async () => {
  assert.equal((await call('GET', `/os-quota-sets/${q.projectId}`, p.token)).status, 403);
  assert.equal((await call('GET', `/os-quota-sets/no-such-project`, admin)).body.badRequest.message, 'Project ID no-such-project is not a valid project.');
  assert.equal((await call('GET', `/os-quota-sets/${p.projectId}?foo=1`, p.token, undefined, '2.75')).status, 400);
});

test('quota classes: default class changes every project\'s defaults', async () => {
  const show = await call('GET', '/os-quota-class-sets/default', admin);
  assert.equal(show.body.quota_class_set.id, 'default');
  assert.equal(show.body.quota_class_set.server_groups, undefined); // before 2.50
  assert.equal((await call('GET', '/os-quota-class-sets/default', admin, undefined, '2.50')).body.quota_class_set.server_groups, 10);
  const upd = await call('PUT', '/os-quota-class-sets/default', admin, { quota_class_set: { metadata_items: 200 } });
  assert.equal(upd.status, 200);
  assert.equal(upd.body.quota_class_set.metadata_items, 200);
  assert.equal((await call('GET', `/os-quota-sets/${q.projectId}/defaults`, q.token)).body.quota_set.metadata_items, 200);
  assert.equal((await call('GET', `/os-quota-sets/${q.projectId}`, q.token)).body.quota_set.metadata_items, 200);
  assert.equal((await call('PUT', '/os-quota-class-sets/default', q.token, { quota_class_set: { metadata_items: 1 } })).status, 403);
  await call('PUT', '/os-quota-class-sets/default', admin, { quota_class_set: { metadata_items: QUOTA_DEFAULTS.metadata_items } });
});

test('limits: absolute limits with usage; rate limits empty; 2.36/2.39/2.57 removals; tenant_id for admins', async () => {
  const mine = await c.project('quota-limits');
  await addInstance(mine.projectId, mine.userId, 2, 1024);
  const l = await call('GET', '/limits', mine.token);
  assert.equal(l.status, 200);
  assert.deepEqual(l.body.limits.rate, []);
  const a = l.body.limits.absolute;
  assert.equal(a.maxTotalCores, 20);
  assert.equal(a.totalCoresUsed, 2);
  assert.equal(a.totalRAMUsed, 1024);
  assert.equal(a.totalInstancesUsed, 1);
  assert.equal(a.maxImageMeta, 128);
  assert.equal(a.maxTotalFloatingIps, -1);
  const l236 = (await call('GET', '/limits', mine.token, undefined, '2.36')).body.limits.absolute;
  assert.equal(l236.maxTotalFloatingIps, undefined);
  assert.equal(l236.maxImageMeta, 128);
  assert.equal((await call('GET', '/limits', mine.token, undefined, '2.39')).body.limits.absolute.maxImageMeta, undefined);
  const l257 = (await call('GET', '/limits', mine.token, undefined, '2.57')).body.limits.absolute;
  assert.equal(l257.maxPersonality, undefined);
  assert.equal(l257.maxServerGroups, 10);
  assert.equal((await call('GET', `/limits?tenant_id=${mine.projectId}`, admin)).body.limits.absolute.totalCoresUsed, 2);
  assert.equal((await call('GET', `/limits?tenant_id=${q.projectId}`, mine.token)).status, 403);
});

test('checkQuota: Nova\'s messages for instances/cores/ram, metadata, user-scoped limits', async () => {
  const r = await c.project('quota-check');
  const ctx = { db: database.db };
  for (let i = 0; i < 4; i++) await addInstance(r.projectId, r.userId, 4, 1024);
  await assert.doesNotReject(checkQuota(ctx, r.projectId, r.userId, { instances: 1, cores: 4, ram: 1024 }));
  await assert.rejects(checkQuota(ctx, r.projectId, r.userId, { instances: 1, cores: 5, ram: 1024 }),
    (e: Error & { status?: number }) => e.status === 403 && e.message === 'Quota exceeded for cores: Requested 5, but already used 16 of 20 cores');
  await assert.rejects(checkQuota(ctx, r.projectId, r.userId, { instances: 7, cores: 1, ram: 50000 }),
    (e: Error) => e.message === 'Quota exceeded for instances, ram: Requested 7, 50000, but already used 4, 4096 of 10, 51200 instances, ram');
  await assert.rejects(checkQuota(ctx, r.projectId, r.userId, { metadata_items: 129 }, true), (e: Error) => e.message === 'Maximum number of metadata items exceeds 128');
  await assert.doesNotReject(checkQuota(ctx, r.projectId, r.userId, { metadata_items: 128 }, true));
  // Unlimited.
  await call('PUT', `/os-quota-sets/${r.projectId}`, admin, { quota_set: { cores: -1 } });
  await assert.doesNotReject(checkQuota(ctx, r.projectId, r.userId, { instances: 1, cores: 1000, ram: 1 }));
  // A user limit below the project's.
  await call('PUT', `/os-quota-sets/${r.projectId}?user_id=${r.userId}`, admin, { quota_set: { instances: 4, force: true } });
  await assert.rejects(checkQuota(ctx, r.projectId, r.userId, { instances: 1, cores: 1, ram: 1 }), (e: Error) => /^Quota exceeded for instances: Requested 1, but already used 4 of 4 instances$/.test(e.message));
  // Deleted and soft-deleted instances do not count.
  await addInstance(r.projectId, r.userId, 4, 1024, { deleted: 1 });
  await addInstance(r.projectId, r.userId, 4, 1024, { vm_state: 'soft-delete' });
  const det = await call('GET', `/os-quota-sets/${r.projectId}/detail`, admin);
  assert.equal(det.body.quota_set.instances.in_use, 4);
});
