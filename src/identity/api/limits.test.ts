// Unified limits over HTTP: registered limits and project/domain limits with Keystone's validation
// (400 for unknown references, 403 without a registered limit or while limits use it, 409 for
// duplicates, all-or-nothing batches), the flat model, scope-dependent listing and clean-up.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestCloud, type TestCloud } from '../testing.js';
import { assertFault, assertStatus } from '../../common/testing/assert.js';

let cloud: TestCloud;
let admin: string;
let serviceId: string;
let projectId: string;
let adminProjectId: string;

before(async () => {
  cloud = await startTestCloud();
  admin = await cloud.adminToken();
  const s = await req('POST', '/v3/services', { service: { type: 'compute', name: 'nova' } });
  serviceId = s.body.service.id;
  const p = await req('POST', '/v3/projects', { project: { name: 'limited', domain_id: 'default' } });
  projectId = p.body.project.id;
  adminProjectId = (await req('GET', '/v3/projects?name=admin')).body.projects[0].id;
});
after(async () => { await cloud?.close(); });

const req = (method: string, path: string, body?: unknown, token = admin) => cloud.request(method, path, { token, body });

async function token(scope: unknown): Promise<string> {
  const r = await cloud.request('POST', '/v3/auth/tokens', { body: { auth: { identity: { methods: ['password'], password: { user: { name: 'admin', domain: { id: 'default' }, password: cloud.adminPassword } } }, scope } } });
  assertStatus(r, 201);
  return r.headers.get('x-subject-token')!;
}

test('the limit model is flat', async () => {
  const r = await req('GET', '/v3/limits/model');
  assertStatus(r, 200);
  assert.deepEqual(r.body, { model: { name: 'flat', description: 'Limit enforcement and validation does not take project hierarchy into consideration.' } });
});

test('registered limits: validation, duplicates, all-or-nothing', async () => {
  const R = '/v3/registered_limits';
  assertFault(await req('POST', R, { registered_limits: [{ service_id: 'nosuchservice', resource_name: 'cores', default_limit: 10 }] }), 400, /^Expecting to find service_id in registered_limit/);
  assertFault(await req('POST', R, { registered_limits: [{ service_id: serviceId, region_id: 'Nowhere', resource_name: 'cores', default_limit: 10 }] }), 400, /region_id/);
  for (const body of [{}, { registered_limits: [] }, { registered_limits: [{ service_id: serviceId, resource_name: 'cores' }] },
    { registered_limits: [{ service_id: serviceId, resource_name: 'cores', default_limit: -2 }] },
    { registered_limits: [{ service_id: serviceId, resource_name: 'cores', default_limit: 1.5 }] },
    { registered_limits: [{ service_id: serviceId, resource_name: 'cores', default_limit: 1, extra: 1 }] },
    { registered_limits: { service_id: serviceId, resource_name: 'cores', default_limit: 1 } }]) {
    assertFault(await req('POST', R, body), 400);
  }

  const c = await req('POST', R, { registered_limits: [
    { service_id: serviceId, resource_name: 'cores', default_limit: 10, description: 'vCPUs' },
    { service_id: serviceId, region_id: 'RegionOne', resource_name: 'ram', default_limit: 1024 },
  ] });
  assertStatus(c, 201);
  assert.deepEqual(Object.keys(c.body), ['registered_limits']);
  const [cores, ram] = c.body.registered_limits;
  assert.equal(cores.region_id, null);
  assert.equal(cores.default_limit, 10);
  assert.equal(ram.region_id, 'RegionOne');
  assert.match(cores.links.self, new RegExp(`/v3/registered_limits/${cores.id}$`));

  // One duplicate in a batch stores nothing of it.
  assertFault(await req('POST', R, { registered_limits: [
    { service_id: serviceId, resource_name: 'instances', default_limit: 5 },
    { service_id: serviceId, resource_name: 'cores', default_limit: 20 },
  ] }), 409, 'Conflict occurred attempting to store registered_limit - Duplicate entry.');
  assertFault(await req('POST', R, { registered_limits: [
    { service_id: serviceId, resource_name: 'instances', default_limit: 5 },
    { service_id: serviceId, resource_name: 'instances', default_limit: 6 },
  ] }), 409);
  assert.deepEqual((await req('GET', `${R}?resource_name=instances`)).body.registered_limits, []);

  assert.deepEqual((await req('GET', `${R}/${cores.id}`)).body.registered_limit, cores);
  assert.equal((await req('GET', `${R}?service_id=${serviceId}`)).body.registered_limits.length, 2);
  assert.deepEqual((await req('GET', `${R}?region_id=RegionOne`)).body.registered_limits.map((r: { id: string }) => r.id), [ram.id]);
  assertFault(await req('GET', `${R}/nosuchlimit`), 404, 'Could not find registered limit for nosuchlimit.');

  const u = await req('PATCH', `${R}/${ram.id}`, { registered_limit: { default_limit: 2048, region_id: null } });
  assertStatus(u, 200);
  assert.equal(u.body.registered_limit.default_limit, 2048);
  assert.equal(u.body.registered_limit.region_id, null);
  assertFault(await req('PATCH', `${R}/${ram.id}`, { registered_limit: { resource_name: 'cores' } }), 409);
  assertFault(await req('PATCH', `${R}/${ram.id}`, { registered_limit: { service_id: 'nosuchservice' } }), 400);
  assertFault(await req('PATCH', `${R}/${ram.id}`, { registered_limit: { id: 'x' } }), 400);
  assertStatus(await req('DELETE', `${R}/${ram.id}`), 204);
  assertFault(await req('DELETE', `${R}/${ram.id}`), 404);
});

test('limits: a registered limit is needed; project and domain limits; duplicates', async () => {
  const L = '/v3/limits';
  assertFault(await req('POST', L, { limits: [{ project_id: projectId, service_id: serviceId, resource_name: 'gpus', resource_limit: 1 }] }), 403, 'Unable to create a limit that has no corresponding registered limit.');
  assertFault(await req('POST', L, { limits: [{ project_id: 'nosuchproject', service_id: serviceId, resource_name: 'cores', resource_limit: 1 }] }), 400, /project_id/);
  assertFault(await req('POST', L, { limits: [{ domain_id: 'nosuchdomain', service_id: serviceId, resource_name: 'cores', resource_limit: 1 }] }), 400, /domain_id/);
  assertFault(await req('POST', L, { limits: [{ project_id: projectId, domain_id: 'default', service_id: serviceId, resource_name: 'cores', resource_limit: 1 }] }), 400);
  assertFault(await req('POST', L, { limits: [{ project_id: projectId, service_id: serviceId, resource_name: 'cores' }] }), 400);

  const c = await req('POST', L, { limits: [
    { project_id: projectId, service_id: serviceId, resource_name: 'cores', resource_limit: 4 },
    { project_id: adminProjectId, service_id: serviceId, resource_name: 'cores', resource_limit: 40 },
    { domain_id: 'default', service_id: serviceId, resource_name: 'cores', resource_limit: 100, description: 'domain' },
  ] });
  assertStatus(c, 201);
  const [mine, theirs, dom] = c.body.limits;
  assert.equal(mine.project_id, projectId);
  assert.equal(mine.domain_id, null);
  assert.equal(mine.resource_name, 'cores');
  assert.equal(mine.service_id, serviceId);
  assert.equal(mine.region_id, null);
  assert.equal(dom.domain_id, 'default');
  assert.equal(dom.project_id, null);

  // A project acting as a domain makes a domain limit; it is then a duplicate of the one above.
  assertFault(await req('POST', L, { limits: [{ project_id: 'default', service_id: serviceId, resource_name: 'cores', resource_limit: 1 }] }), 409, 'Conflict occurred attempting to store limit - Duplicate entry.');
  assertFault(await req('POST', L, { limits: [{ project_id: projectId, service_id: serviceId, resource_name: 'cores', resource_limit: 1 }] }), 409);

  // Registered limits in use cannot change or go.
  const regId = (await req('GET', '/v3/registered_limits?resource_name=cores')).body.registered_limits[0].id;
  assertFault(await req('PATCH', `/v3/registered_limits/${regId}`, { registered_limit: { default_limit: 1 } }), 403, `Unable to update or delete registered limit ${regId} because there are project limits associated with it.`);
  assertFault(await req('DELETE', `/v3/registered_limits/${regId}`), 403);

  // Listing depends on the token's scope, as in Keystone: a project sees its own limits.
  const asProject = await req('GET', L);
  assertStatus(asProject, 200);
  assert.deepEqual(asProject.body.limits.map((l: { id: string }) => l.id), [theirs.id]);
  const system = await token({ system: { all: true } });
  const all = await req('GET', L, undefined, system);
  assert.deepEqual(all.body.limits.map((l: { id: string }) => l.id).sort(), [mine.id, theirs.id, dom.id].sort());
  assert.deepEqual((await req('GET', `${L}?project_id=${projectId}`, undefined, system)).body.limits.map((l: { id: string }) => l.id), [mine.id]);
  assert.deepEqual((await req('GET', `${L}?domain_id=default`, undefined, system)).body.limits.map((l: { id: string }) => l.id), [dom.id]);

  const g = await req('GET', `${L}/${mine.id}`);
  assertStatus(g, 200);
  assert.deepEqual(g.body.limit, mine);
  assertFault(await req('GET', `${L}/nosuchlimit`), 404, 'Could not find limit for nosuchlimit.');

  assertFault(await req('PATCH', `${L}/${mine.id}`, { limit: { resource_name: 'ram' } }), 400);
  assertFault(await req('PATCH', `${L}/${mine.id}`, { limit: { resource_limit: -5 } }), 400);
  const u = await req('PATCH', `${L}/${mine.id}`, { limit: { resource_limit: 0, description: 'none left' } });
  assertStatus(u, 200);
  assert.equal(u.body.limit.resource_limit, 0);
  assert.equal(u.body.limit.description, 'none left');

  assertStatus(await req('DELETE', `${L}/${theirs.id}`), 204);
  assertFault(await req('DELETE', `${L}/${theirs.id}`), 404);

  // A deleted project takes its limits with it.
  assertStatus(await req('DELETE', `/v3/projects/${projectId}`), 204);
  assertFault(await req('GET', `${L}/${mine.id}`, undefined, system), 404);
  assertStatus(await req('DELETE', `${L}/${dom.id}`), 204);
  assertStatus(await req('DELETE', `/v3/registered_limits/${regId}`), 204);
});

test('a member can read registered limits but not create them', async () => {
  const u = await req('POST', '/v3/users', { user: { name: 'lim-member', password: 'pw-member-1', domain_id: 'default' } });
  const roles = await req('GET', '/v3/roles?name=member');
  assertStatus(await req('PUT', `/v3/projects/${adminProjectId}/users/${u.body.user.id}/roles/${roles.body.roles[0].id}`), 204);
  const t = await cloud.request('POST', '/v3/auth/tokens', { body: { auth: { identity: { methods: ['password'], password: { user: { id: u.body.user.id, password: 'pw-member-1' } } }, scope: { project: { id: adminProjectId } } } } });
  const member = t.headers.get('x-subject-token')!;
  assertStatus(await req('GET', '/v3/registered_limits', undefined, member), 200);
  assertStatus(await req('GET', '/v3/limits/model', undefined, member), 200);
  assertFault(await req('POST', '/v3/registered_limits', { registered_limits: [{ service_id: serviceId, resource_name: 'x', default_limit: 1 }] }, member), 403);
  assertFault(await cloud.request('GET', '/v3/limits'), 401);
});
