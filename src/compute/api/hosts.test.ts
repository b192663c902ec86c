import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startTestCloud, type TestCloud, type Project } from '../../cli/test-cloud.js';
import { openDatabase, type Database } from '../../common/db/index.js';
import { heartbeat, isUp, upsertComputeNode, upsertService } from '../store/services.js';

let c: TestCloud;
let admin: string;
let p: Project;
let database: Database;
before(async () => {
  c = await startTestCloud({ services: ['compute', 'placement'] });
  database = await openDatabase(c.cfg.database.url, c.dataDir);
  admin = await c.adminToken();
  p = await c.project('hosts-p');
  // A second compute host and a control service, as other processes would register them.
  await upsertService(database.db, 'node-b', 'nova-compute');
  await heartbeat(database.db, 'node-b', 'nova-compute');
  await upsertComputeNode(database.db, { host: 'node-b', hypervisor_hostname: 'node-b.example', hypervisor_type: 'QEMU', hypervisor_version: 7002000, vcpus: 8, memory_mb: 16384, local_gb: 100, cpu_info: { arch: 'x86_64' } });
  await upsertService(database.db, 'ctl', 'nova-scheduler');
});
after(async () => { await database?.close(); await c?.close(); });

const call = (method: string, path: string, token: string, body?: unknown, v = '2.1') =>
  c.call('compute', method, path, { token, headers: { 'OpenStack-API-Version': `compute ${v}` }, ...(body !== undefined ? { body } : {}) });

test('isUp: 60 s since the last report, forced down is down', () => {
  const now = Date.now();
  assert.equal(isUp({ last_seen_up: new Date(now - 59_000).toISOString(), forced_down: 0, updated_at: null, created_at: '' }, now), true);
  assert.equal(isUp({ last_seen_up: new Date(now - 61_000).toISOString(), forced_down: 0, updated_at: null, created_at: '' }, now), false);
  assert.equal(isUp({ last_seen_up: new Date(now).toISOString(), forced_down: 1, updated_at: null, created_at: '' }, now), false);
});

test('os-services: list, disable/enable (pre-2.53 and uuid 2.53), force-down, delete; admin only', async () => {
  const l = await call('GET', '/os-services', admin);
  assert.equal(l.status, 200);
  const b = l.body.services.find((s: { host: string }) => s.host === 'node-b');
  assert.equal(b.state, 'up');
  assert.equal(b.status, 'enabled');
  assert.equal(b.zone, 'nova');
  assert.equal(typeof b.id, 'number');
  assert.equal(l.body.services.find((s: { binary: string }) => s.binary === 'nova-scheduler').zone, 'internal');
  assert.equal((await call('GET', '/os-services?binary=nova-scheduler&host=ctl', admin)).body.services.length, 1);
  assert.equal((await call('GET', '/os-services', p.token)).status, 403);

  const dis = await call('PUT', '/os-services/disable-log-reason', admin, { host: 'node-b', binary: 'nova-compute', disabled_reason: 'maint' });
  assert.deepEqual(dis.body, { service: { host: 'node-b', binary: 'nova-compute', status: 'disabled', disabled_reason: 'maint' } });
  assert.equal((await call('PUT', '/os-services/enable', admin, { host: 'nowhere', binary: 'nova-compute' })).status, 404);
  assert.equal((await call('PUT', '/os-services/enable', admin, { host: 'ctl', binary: 'nova-scheduler' })).status, 400);
  assert.equal((await call('PUT', '/os-services/bogus', admin, { host: 'node-b', binary: 'nova-compute' })).status, 404);
  const fd = await call('PUT', '/os-services/force-down', admin, { host: 'node-b', binary: 'nova-compute', forced_down: true }, '2.11');
  assert.deepEqual(fd.body.service, { host: 'node-b', binary: 'nova-compute', forced_down: true });
  const l253 = await call('GET', '/os-services?host=node-b', admin, undefined, '2.53');
  const s = l253.body.services[0];
  assert.match(s.id, /^[0-9a-f-]{36}$/);
  assert.equal(s.state, 'down');
  assert.equal(s.forced_down, true);
  assert.equal(s.disabled_reason, 'maint');
  const up = await call('PUT', `/os-services/${s.id}`, admin, { status: 'enabled', forced_down: false }, '2.53');
  assert.equal(up.status, 200, up.text);
  assert.equal(up.body.service.status, 'enabled');
  assert.equal(up.body.service.state, 'up');
  assert.equal((await call('PUT', `/os-services/${s.id}`, admin, {}, '2.53')).status, 400);
  assert.equal((await call('PUT', '/os-services/not-a-uuid', admin, { status: 'enabled' }, '2.53')).status, 400);
  assert.equal((await call('PUT', `/os-services/${randomUUID()}`, admin, { status: 'enabled' }, '2.53')).status, 404);
  const sched = (await call('GET', '/os-services?binary=nova-scheduler', admin, undefined, '2.53')).body.services[0];
  assert.equal((await call('DELETE', `/os-services/${sched.id}`, admin, undefined, '2.53')).status, 204);
  assert.equal((await call('DELETE', '/os-services/abc', admin)).status, 400);
  assert.equal((await call('DELETE', '/os-services/99999', admin)).status, 404);
});

test('os-hypervisors: list/detail/show/statistics/search/servers/uptime by microversion', async () => {
  const l = await call('GET', '/os-hypervisors', admin);
  const nb = l.body.hypervisors.find((h: { hypervisor_hostname: string }) => h.hypervisor_hostname === 'node-b.example');
  assert.deepEqual(Object.keys(nb).sort(), ['hypervisor_hostname', 'id', 'state', 'status']);
  const d = await call('GET', '/os-hypervisors/detail', admin);
  const db = d.body.hypervisors.find((h: { hypervisor_hostname: string }) => h.hypervisor_hostname === 'node-b.example');
  assert.equal(db.vcpus, 8);
  assert.equal(db.memory_mb_used, 0);
  assert.equal(db.free_ram_mb, 16384);
  assert.equal(typeof db.cpu_info, 'string');
  assert.equal(db.service.host, 'node-b');
  const d228 = (await call('GET', `/os-hypervisors/${nb.id}`, admin, undefined, '2.28')).body.hypervisor;
  assert.deepEqual(d228.cpu_info, { arch: 'x86_64' });
  const d288 = (await call('GET', '/os-hypervisors/detail', admin, undefined, '2.88')).body.hypervisors.find((h: { hypervisor_hostname: string }) => h.hypervisor_hostname === 'node-b.example');
  assert.equal(d288.vcpus, undefined);
  assert.ok('uptime' in d288);
  assert.match(d288.id, /^[0-9a-f-]{36}$/);
  const st = await call('GET', '/os-hypervisors/statistics', admin);
  assert.ok(st.body.hypervisor_statistics.count >= 1);
  assert.ok(st.body.hypervisor_statistics.vcpus >= 8);
  assert.equal((await call('GET', '/os-hypervisors/statistics', admin, undefined, '2.88')).status, 404);
  assert.equal((await call('GET', '/os-hypervisors/node-b/search', admin)).body.hypervisors.length, 1);
  assert.equal((await call('GET', '/os-hypervisors/zzz/search', admin)).status, 404);
  assert.deepEqual((await call('GET', '/os-hypervisors/node-b/servers', admin)).body.hypervisors[0].servers, undefined);
  assert.equal((await call('GET', '/os-hypervisors/node-b/search', admin, undefined, '2.53')).status, 404);
  const pat = await call('GET', '/os-hypervisors?hypervisor_hostname_pattern=node-b&with_servers=true', admin, undefined, '2.75');
  assert.deepEqual(pat.body.hypervisors[0].servers, []);
  assert.equal((await call('GET', '/os-hypervisors/abc', admin)).status, 404);
  assert.equal((await call('GET', '/os-hypervisors/abc', admin, undefined, '2.53')).status, 400);
  assert.equal((await call('GET', '/os-hypervisors', p.token)).status, 403);
  const page = await call('GET', '/os-hypervisors?limit=1', admin, undefined, '2.33');
  assert.equal(page.body.hypervisors.length, 1);
  assert.ok(page.body.hypervisors_links[0].href.includes('marker='));
});

test('availability zones, os-hosts and aggregates with an availability zone', async () => {
  const az = await call('GET', '/os-availability-zone', p.token);
  assert.deepEqual(az.body.availabilityZoneInfo.map((z: { zoneName: string }) => z.zoneName), ['nova']);
  assert.equal(az.body.availabilityZoneInfo[0].hosts, null);
  assert.equal((await call('GET', '/os-availability-zone/detail', p.token)).status, 403);
  const det = await call('GET', '/os-availability-zone/detail', admin);
  assert.ok(det.body.availabilityZoneInfo.find((z: { zoneName: string }) => z.zoneName === 'nova').hosts['node-b']['nova-compute'].available);

  const hosts = await call('GET', '/os-hosts', admin);
  assert.ok(hosts.body.hosts.some((h: { host_name: string; service: string }) => h.host_name === 'node-b' && h.service === 'compute'));
  assert.equal((await call('GET', '/os-hosts', admin, undefined, '2.43')).status, 404);
  const hb = await call('GET', '/os-hosts/node-b', admin);
  assert.deepEqual(hb.body.host[0].resource, { host: 'node-b', project: '(total)', cpu: 8, memory_mb: 16384, disk_gb: 100 });
  assert.equal((await call('GET', '/os-hosts/nowhere', admin)).status, 404);

  const a = await call('POST', '/os-aggregates', admin, { aggregate: { name: 'agg1', availability_zone: 'zone-b' } });
  assert.equal(a.status, 200, a.text);
  assert.equal(a.body.aggregate.hosts, undefined);
  assert.equal(a.body.aggregate.availability_zone, 'zone-b');
  assert.equal(a.body.aggregate.uuid, undefined);
  const id = a.body.aggregate.id;
  assert.equal((await call('POST', '/os-aggregates', admin, { aggregate: { name: 'agg1' } })).status, 409);
  assert.equal((await call('POST', '/os-aggregates', admin, { aggregate: { name: 'x', availability_zone: 'a:b' } })).status, 400);
  assert.equal((await call('POST', '/os-aggregates', p.token, { aggregate: { name: 'mine' } })).status, 403);
  const added = await call('POST', `/os-aggregates/${id}/action`, admin, { add_host: { host: 'node-b' } }, '2.41');
  assert.deepEqual(added.body.aggregate.hosts, ['node-b']);
  assert.match(added.body.aggregate.uuid, /^[0-9a-f-]{36}$/);
  assert.equal((await call('POST', `/os-aggregates/${id}/action`, admin, { add_host: { host: 'node-b' } })).status, 409);
  assert.equal((await call('POST', `/os-aggregates/${id}/action`, admin, { add_host: { host: 'nowhere' } })).status, 404);
  const zones = await call('GET', '/os-availability-zone', p.token);
  assert.ok(zones.body.availabilityZoneInfo.some((z: { zoneName: string }) => z.zoneName === 'zone-b'));
  const md = await call('POST', `/os-aggregates/${id}/action`, admin, { set_metadata: { metadata: { ssd: 'true', none: null } } });
  assert.deepEqual(md.body.aggregate.metadata, { availability_zone: 'zone-b', ssd: 'true' });
  const md2 = await call('POST', `/os-aggregates/${id}/action`, admin, { set_metadata: { metadata: { ssd: null } } });
  assert.deepEqual(md2.body.aggregate.metadata, { availability_zone: 'zone-b' });
  const upd = await call('PUT', `/os-aggregates/${id}`, admin, { aggregate: { name: 'agg1-renamed' } });
  assert.equal(upd.body.aggregate.name, 'agg1-renamed');
  assert.equal((await call('PUT', `/os-aggregates/${id}`, admin, { aggregate: {} })).status, 400);
  assert.equal((await call('DELETE', `/os-aggregates/${id}`, admin)).status, 400);
  assert.equal((await call('POST', `/os-aggregates/${id}/action`, admin, { remove_host: { host: 'node-b' } })).body.aggregate.hosts.length, 0);
  assert.equal((await call('POST', `/os-aggregates/${id}/action`, admin, { remove_host: { host: 'node-b' } })).status, 404);
  assert.equal((await call('DELETE', `/os-aggregates/${id}`, admin)).status, 200);
  assert.equal((await call('GET', `/os-aggregates/${id}`, admin)).status, 404);
  assert.equal((await call('GET', '/os-aggregates/abc', admin)).status, 404);
});

test('simple tenant usage and migrations', async () => {
  const now = Date.now();
  const uuid = randomUUID();
  await database.db.insertInto('instances').values({ uuid, display_name: 'u1', project_id: p.projectId, user_id: p.userId, vcpus: 2, memory_mb: 512, root_gb: 1, ephemeral_gb: 1,
    vm_state: 'active', flavor: JSON.stringify({ cur: { name: 'm1.u', vcpus: 2, memory_mb: 512, root_gb: 1, ephemeral_gb: 1 } }),
    created_at: new Date(now - 7200_000).toISOString(), launched_at: new Date(now - 7200_000).toISOString() }).execute();
  const start = new Date(now - 3600_000).toISOString().slice(0, 19);
  const end = new Date(now + 3600_000).toISOString().slice(0, 19);
  const u = await call('GET', `/os-simple-tenant-usage/${p.projectId}?start=${start}&end=${end}`, p.token);
  assert.equal(u.status, 200, u.text);
  const t = u.body.tenant_usage;
  assert.equal(t.server_usages.length, 1);
  assert.equal(t.server_usages[0].flavor, 'm1.u');
  assert.equal(t.server_usages[0].local_gb, 2);
  assert.ok(Math.abs(t.total_hours - 1) < 0.01, String(t.total_hours));
  assert.ok(Math.abs(t.total_vcpus_usage - 2) < 0.02);
  const all = await call('GET', `/os-simple-tenant-usage?start=${start}&end=${end}&detailed=1`, admin);
  assert.ok(all.body.tenant_usages.some((x: { tenant_id: string }) => x.tenant_id === p.projectId));
  assert.equal((await call('GET', `/os-simple-tenant-usage?start=${start}&end=${end}`, p.token)).status, 403);
  assert.equal((await call('GET', `/os-simple-tenant-usage/${p.projectId}?start=bad`, p.token)).status, 400);
  assert.equal((await call('GET', `/os-simple-tenant-usage/${p.projectId}?start=${end}&end=${start}`, p.token)).status, 400);
  const paged = await call('GET', `/os-simple-tenant-usage/${p.projectId}?start=${start}&end=${end}&limit=1`, p.token, undefined, '2.40');
  assert.ok(paged.body.tenant_usage_links[0].href.includes(`marker=${uuid}`));

  await database.db.insertInto('migrations').values({ uuid: randomUUID(), instance_uuid: uuid, source_compute: 'node-b', dest_compute: 'node-b', migration_type: 'resize',
    status: 'finished', project_id: p.projectId, user_id: p.userId, created_at: new Date().toISOString() }).execute();
  const m = await call('GET', '/os-migrations', admin);
  assert.equal(m.body.migrations[0].instance_uuid, uuid);
  assert.equal(m.body.migrations[0].migration_type, undefined);
  const m280 = (await call('GET', '/os-migrations', admin, undefined, '2.80')).body.migrations[0];
  assert.equal(m280.migration_type, 'resize');
  assert.match(m280.uuid, /^[0-9a-f-]{36}$/);
  assert.equal(m280.project_id, p.projectId);
  assert.equal((await call('GET', '/os-migrations?migration_type=bogus', admin)).status, 400);
  assert.equal((await call('GET', '/os-migrations', p.token)).status, 403);
});

test('extensions: Nova\'s static list and show by alias', async () => {
  const l = await call('GET', '/extensions', p.token);
  assert.ok(l.body.extensions.length > 50);
  assert.ok(l.body.extensions.some((e: { alias: string }) => e.alias === 'os-keypairs'));
  const s = await call('GET', '/extensions/os-keypairs', p.token);
  assert.equal(s.body.extension.name, 'Keypairs');
  assert.equal((await call('GET', '/extensions/nope', p.token)).status, 404);
});
