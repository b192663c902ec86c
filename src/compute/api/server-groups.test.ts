import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startTestCloud, type TestCloud, type Project } from '../../cli/test-cloud.js';
import { openDatabase, type Database } from '../../common/db/index.js';
import { addMember, groupHosts, serverGroupByUuid, serverGroupOf } from '../store/server-groups.js';
import { checkQuota } from '../quotas.js';

let c: TestCloud;
let admin: string;
let p: Project;
let other: Project;
let database: Database;
before(async () => {
  c = await startTestCloud({ services: ['compute', 'placement'] });
  database = await openDatabase(c.cfg.database.url, c.dataDir);
  admin = await c.adminToken();
  p = await c.project('sg-p');
  other = await c.project('sg-other');
});
after(async () => { await database?.close(); await c?.close(); });

const call = (method: string, path: string, token: string, body?: unknown, v = '2.1') =>
  c.call('compute', method, path, { token, headers: { 'OpenStack-API-Version': `compute ${v}` }, ...(body !== undefined ? { body } : {}) });

test('create/show/list/delete with the body of each microversion', async () => {
  const a = await call('POST', '/os-server-groups', p.token, { server_group: { name: 'g1', policies: ['affinity'] } });
  assert.equal(a.status, 200, a.text);
  assert.deepEqual(Object.keys(a.body.server_group).sort(), ['id', 'members', 'metadata', 'name', 'policies']);
  assert.deepEqual(a.body.server_group.policies, ['affinity']);
  const v213 = await call('GET', `/os-server-groups/${a.body.server_group.id}`, p.token, undefined, '2.13');
  assert.equal(v213.body.server_group.project_id, p.projectId);
  assert.equal(v213.body.server_group.user_id, p.userId);
  assert.equal((await call('POST', '/os-server-groups', p.token, { server_group: { name: 'g', policies: ['soft-affinity'] } }, '2.14')).status, 400);
  assert.equal((await call('POST', '/os-server-groups', p.token, { server_group: { name: 'g2', policies: ['soft-anti-affinity'] } }, '2.15')).status, 200);
  const n = await call('POST', '/os-server-groups', p.token, { server_group: { name: 'g3', policy: 'anti-affinity', rules: { max_server_per_host: 2 } } }, '2.64');
  assert.equal(n.status, 200, n.text);
  assert.equal(n.body.server_group.policy, 'anti-affinity');
  assert.deepEqual(n.body.server_group.rules, { max_server_per_host: 2 });
  assert.equal(n.body.server_group.policies, undefined);
  const bad = await call('POST', '/os-server-groups', p.token, { server_group: { name: 'g4', policy: 'affinity', rules: { max_server_per_host: 2 } } }, '2.64');
  assert.equal(bad.body.badRequest.message, 'Only anti-affinity policy supports rules.');
  assert.equal((await call('POST', '/os-server-groups', p.token, { server_group: { name: 'g5', policies: ['affinity'] } }, '2.64')).status, 400);
  assert.equal((await call('POST', '/os-server-groups', p.token, { server_group: { name: 'g6', policies: ['affinity', 'anti-affinity'] } })).status, 400);
  assert.equal((await call('POST', '/os-server-groups', p.token, { server_group: { name: '', policies: ['affinity'] } })).status, 400);

  const list = await call('GET', '/os-server-groups', p.token);
  assert.equal(list.body.server_groups.length, 3);
  assert.equal((await call('GET', '/os-server-groups?limit=1&offset=1', p.token)).body.server_groups.length, 1);
  assert.equal((await call('GET', '/os-server-groups', other.token)).body.server_groups.length, 0);
  assert.equal((await call('GET', `/os-server-groups/${a.body.server_group.id}`, other.token)).status, 403);
  assert.ok((await call('GET', '/os-server-groups?all_projects=1', admin)).body.server_groups.length >= 3);
  assert.equal((await call('DELETE', `/os-server-groups/${a.body.server_group.id}`, other.token)).status, 403);
  assert.equal((await call('DELETE', `/os-server-groups/${a.body.server_group.id}`, p.token)).status, 204);
  const gone = await call('GET', `/os-server-groups/${a.body.server_group.id}`, p.token);
  assert.equal(gone.body.itemNotFound.message, `Instance group ${a.body.server_group.id} could not be found.`);
});

test('members, hosts and member quota for the scheduler; server_groups quota', async () => {
  const g = (await call('POST', '/os-server-groups', p.token, { server_group: { name: 'm', policy: 'anti-affinity' } }, '2.64')).body.server_group;
  const row = (await serverGroupByUuid(database.db, g.id))!;
  const now = new Date().toISOString();
  const uuids: string[] = [];
  for (const host of ['h1', 'h1', 'h2']) {
    const uuid = randomUUID();
    uuids.push(uuid);
    await database.db.insertInto('instances').values({ uuid, project_id: p.projectId, user_id: p.userId, vcpus: 1, memory_mb: 64, root_gb: 1, ephemeral_gb: 0,
      vm_state: 'active', flavor: '{}', host, created_at: now }).execute();
    await addMember(database.db, row.id, uuid);
  }
  await addMember(database.db, row.id, uuids[0]!); // idempotent
  assert.equal((await serverGroupOf(database.db, uuids[2]!))?.uuid, g.id);
  assert.deepEqual([...(await groupHosts(database.db, row.id)).entries()].sort(), [['h1', 2], ['h2', 1]]);
  const shown = await call('GET', `/os-server-groups/${g.id}`, p.token);
  assert.deepEqual(shown.body.server_group.members.sort(), [...uuids].sort());
  await database.db.updateTable('instances').set({ deleted: 1 }).where('uuid', '=', uuids[0]!).execute();
  assert.equal((await call('GET', `/os-server-groups/${g.id}`, p.token)).body.server_group.members.length, 2);
  await call('PUT', `/os-quota-sets/${p.projectId}`, admin, { quota_set: { server_group_members: 2, server_groups: 5 } });
  await assert.rejects(checkQuota({ db: database.db }, p.projectId, p.userId, { server_group_members: 1 }, { groupId: row.id }),
    (e: Error) => e.message === 'Quota exceeded, too many servers in group');
  // server_groups quota: the project already has groups from the first test plus this one.
  const have = (await call('GET', '/os-server-groups', p.token)).body.server_groups.length;
  await call('PUT', `/os-quota-sets/${p.projectId}`, admin, { quota_set: { server_groups: have } });
  const over = await call('POST', '/os-server-groups', p.token, { server_group: { name: 'x', policies: ['affinity'] } });
  assert.equal(over.status, 403);
  assert.equal(over.body.forbidden.message, 'Quota exceeded, too many server groups.');
});
