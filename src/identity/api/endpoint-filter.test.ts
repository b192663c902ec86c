// OS-EP-FILTER over HTTP: project <-> endpoint associations, endpoint groups and their project
// associations, the filtered catalog a project-scoped token gets, and clean-up when a project or
// an endpoint goes away.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestCloud, type TestCloud } from '../testing.js';
import { assertFault, assertStatus } from '../../common/testing/assert.js';

let cloud: TestCloud;
let admin: string;
const E = '/v3/OS-EP-FILTER';

let adminUserId: string;
let adminRoleId: string;
let computeId: string;
let computePublic: string;
let computeInternal: string;
let imagePublic: string;
let projectId: string;

before(async () => {
  cloud = await startTestCloud();
  admin = await cloud.adminToken();
  const t = await req('GET', '/v3/auth/tokens', undefined, admin, { 'X-Subject-Token': admin });
  adminUserId = t.body.token.user.id;
  adminRoleId = t.body.token.roles.find((r: { name: string }) => r.name === 'admin').id;
  const svc = async (type: string, name: string) => {
    const r = await req('POST', '/v3/services', { service: { type, name } });
    assertStatus(r, 201);
    return r.body.service.id as string;
  };
  const ep = async (service_id: string, iface: string, url: string) => {
    const r = await req('POST', '/v3/endpoints', { endpoint: { service_id, interface: iface, url, region_id: 'RegionOne' } });
    assertStatus(r, 201);
    return r.body.endpoint.id as string;
  };
  computeId = await svc('compute', 'nova');
  computePublic = await ep(computeId, 'public', 'http://compute.example/v2.1');
  computeInternal = await ep(computeId, 'internal', 'http://compute.internal/v2.1');
  const imageId = await svc('image', 'glance');
  imagePublic = await ep(imageId, 'public', 'http://image.example');
  const p = await req('POST', '/v3/projects', { project: { name: 'epf-proj', domain_id: 'default' } });
  assertStatus(p, 201);
  projectId = p.body.project.id;
  assertStatus(await req('PUT', `/v3/projects/${projectId}/users/${adminUserId}/roles/${adminRoleId}`), 204);
});
after(async () => { await cloud?.close(); });

function req(method: string, path: string, body?: unknown, token = admin, headers?: Record<string, string>) {
  return cloud.request(method, path, { token, body, headers });
}

/** The catalog of a fresh token scoped to the project: service type -> endpoint ids. */
async function catalog(pid = projectId): Promise<Record<string, string[]>> {
  const r = await cloud.request('POST', '/v3/auth/tokens', { body: { auth: { identity: { methods: ['password'], password: { user: { id: adminUserId, password: cloud.adminPassword } } }, scope: { project: { id: pid } } } } });
  assertStatus(r, 201);
  const c = await cloud.request('GET', '/v3/auth/catalog', { token: r.headers.get('x-subject-token')! });
  assertStatus(c, 200);
  assert.deepEqual(c.body.catalog, r.body.token.catalog, 'the token and /v3/auth/catalog agree');
  return Object.fromEntries(r.body.token.catalog.map((s: { type: string; endpoints: Array<{ id: string }> }) => [s.type, s.endpoints.map((e) => e.id).sort()]));
}

test('a project without associations sees the whole catalog', async () => {
  const c = await catalog();
  assert.deepEqual(c.compute, [computePublic, computeInternal].sort());
  assert.deepEqual(c.image, [imagePublic]);
  assert.equal(c.identity?.length, 3);
});

test('project <-> endpoint associations and the filtered catalog', async () => {
  const path = `${E}/projects/${projectId}/endpoints/${computePublic}`;
  assertFault(await req('GET', path), 404, `Endpoint ${computePublic} not found in project ${projectId}`);
  assertStatus(await req('PUT', path), 204);
  assertFault(await req('PUT', path), 409);
  assertStatus(await req('GET', path), 204);
  assertStatus(await req('HEAD', path), 204);

  assertFault(await req('PUT', `${E}/projects/${projectId}/endpoints/nosuchendpoint`), 404, 'Could not find endpoint: nosuchendpoint.');
  assertFault(await req('PUT', `${E}/projects/nosuchproject/endpoints/${computePublic}`), 404, 'Could not find project: nosuchproject.');
  assertFault(await req('GET', `${E}/projects/nosuchproject/endpoints`), 404);
  assertFault(await req('GET', `${E}/endpoints/nosuchendpoint/projects`), 404);

  const l = await req('GET', `${E}/projects/${projectId}/endpoints`);
  assertStatus(l, 200);
  assert.deepEqual(l.body.endpoints.map((e: { id: string }) => e.id), [computePublic]);
  assert.equal(l.body.endpoints[0].url, 'http://compute.example/v2.1');
  const pl = await req('GET', `${E}/endpoints/${computePublic}/projects`);
  assertStatus(pl, 200);
  assert.deepEqual(pl.body.projects.map((p: { id: string }) => p.id), [projectId]);
  assert.equal(pl.body.projects[0].name, 'epf-proj');

  // Only the associated endpoint; services left without endpoints drop out, as in Keystone.
  assert.deepEqual(await catalog(), { compute: [computePublic] });
  // Other projects are not affected.
  const admins = await req('GET', '/v3/projects?name=admin');
  assert.equal((await catalog(admins.body.projects[0].id)).image?.length, 1);

  assertStatus(await req('DELETE', path), 204);
  assertFault(await req('DELETE', path), 404);
  assert.equal((await catalog()).image?.length, 1, 'whole catalog again');
});

test('endpoint groups: validation, CRUD, project associations, catalog', async () => {
  const G = `${E}/endpoint_groups`;
  assertFault(await req('POST', G, { endpoint_group: { name: 'g', filters: { url: 'x' } } }), 400, /service_id or region_id or interface/);
  assertFault(await req('POST', G, { endpoint_group: { name: 'g', filters: {} } }), 400, 'filters field is required and cannot be empty');
  assertFault(await req('POST', G, { endpoint_group: { filters: { interface: 'public' } } }), 400);
  assertFault(await req('POST', G, { endpoint_group: { name: 'g', filters: 'interface=public' } }), 400);
  assertFault(await req('POST', G, { endpoint_group: { name: '', filters: { interface: 'public' } } }), 400);

  const c = await req('POST', G, { endpoint_group: { name: 'compute-only', description: 'nova', filters: { service_id: computeId } } });
  assertStatus(c, 201);
  const g = c.body.endpoint_group;
  assert.deepEqual(g.filters, { service_id: computeId });
  assert.match(g.links.self, new RegExp(`/v3/OS-EP-FILTER/endpoint_groups/${g.id}$`));
  const c2 = await req('POST', G, { endpoint_group: { name: 'public', filters: { interface: 'public' } } });
  assertStatus(c2, 201);
  assert.equal(c2.body.endpoint_group.description, null);

  const l = await req('GET', G);
  assertStatus(l, 200);
  assert.deepEqual(l.body.endpoint_groups.find((x: { id: string }) => x.id === g.id), g, 'listed exactly as created');
  assert.deepEqual((await req('GET', `${G}?name=public`)).body.endpoint_groups.map((x: { id: string }) => x.id), [c2.body.endpoint_group.id]);
  assert.deepEqual((await req('GET', `${G}/${g.id}`)).body.endpoint_group, g);
  assertFault(await req('GET', `${G}/nosuchgroup`), 404, 'Could not find Endpoint Group: nosuchgroup.');

  const eps = await req('GET', `${G}/${g.id}/endpoints`);
  assertStatus(eps, 200);
  assert.deepEqual(eps.body.endpoints.map((e: { id: string }) => e.id).sort(), [computePublic, computeInternal].sort());

  // Associate with the project: the catalog is the group's endpoints plus direct ones.
  const GP = `${G}/${g.id}/projects/${projectId}`;
  assertFault(await req('GET', GP), 404, 'Endpoint Group Project Association not found');
  assertStatus(await req('PUT', GP), 204);
  assertFault(await req('PUT', GP), 409);
  const a = await req('GET', GP);
  assertStatus(a, 200);
  assert.equal(a.body.project_endpoint_group.endpoint_group_id, g.id);
  assert.equal(a.body.project_endpoint_group.project_id, projectId);
  assertFault(await req('PUT', `${G}/${g.id}/projects/nosuchproject`), 404);
  assertFault(await req('PUT', `${G}/nosuchgroup/projects/${projectId}`), 404);

  assert.deepEqual(await catalog(), { compute: [computePublic, computeInternal].sort() });
  assertStatus(await req('PUT', `${E}/projects/${projectId}/endpoints/${imagePublic}`), 204);
  assert.deepEqual(await catalog(), { compute: [computePublic, computeInternal].sort(), image: [imagePublic] });
  const pe = await req('GET', `${E}/projects/${projectId}/endpoints`);
  assert.deepEqual(pe.body.endpoints.map((e: { id: string }) => e.id).sort(), [computePublic, computeInternal, imagePublic].sort());

  const pg = await req('GET', `${E}/projects/${projectId}/endpoint_groups`);
  assertStatus(pg, 200);
  assert.deepEqual(pg.body.endpoint_groups.map((x: { id: string }) => x.id), [g.id]);
  const gp = await req('GET', `${G}/${g.id}/projects`);
  assert.deepEqual(gp.body.projects.map((p: { id: string }) => p.id), [projectId]);

  // Changing the group's filters changes the catalog.
  assertFault(await req('PATCH', `${G}/${g.id}`, { endpoint_group: { filters: { enabled: true } } }), 400);
  assertFault(await req('PATCH', `${G}/${g.id}`, { endpoint_group: {} }), 400);
  const u = await req('PATCH', `${G}/${g.id}`, { endpoint_group: { name: 'compute-public', filters: { service_id: computeId, interface: 'public' } } });
  assertStatus(u, 200);
  assert.equal(u.body.endpoint_group.name, 'compute-public');
  assert.equal(u.body.endpoint_group.description, 'nova');
  assert.deepEqual(await catalog(), { compute: [computePublic], image: [imagePublic] });

  assertStatus(await req('DELETE', GP), 204);
  assertFault(await req('DELETE', GP), 404);
  assert.deepEqual(await catalog(), { image: [imagePublic] });

  // Deleting a group removes its associations.
  assertStatus(await req('PUT', GP), 204);
  assertStatus(await req('DELETE', `${G}/${g.id}`), 204);
  assertFault(await req('DELETE', `${G}/${g.id}`), 404);
  assert.deepEqual((await req('GET', `${E}/projects/${projectId}/endpoint_groups`)).body.endpoint_groups, []);
  assertStatus(await req('DELETE', `${E}/projects/${projectId}/endpoints/${imagePublic}`), 204);
  assertStatus(await req('DELETE', `${G}/${c2.body.endpoint_group.id}`), 204);
});

test('deleting an endpoint or a project removes its associations', async () => {
  const ep = await req('POST', '/v3/endpoints', { endpoint: { service_id: computeId, interface: 'admin', url: 'http://compute.admin/v2.1' } });
  assertStatus(ep, 201);
  const eid = ep.body.endpoint.id;
  assertStatus(await req('PUT', `${E}/projects/${projectId}/endpoints/${eid}`), 204);
  assertStatus(await req('PUT', `${E}/projects/${projectId}/endpoints/${computePublic}`), 204);
  assertStatus(await req('DELETE', `/v3/endpoints/${eid}`), 204);
  const l = await req('GET', `${E}/projects/${projectId}/endpoints`);
  assert.deepEqual(l.body.endpoints.map((e: { id: string }) => e.id), [computePublic]);

  const p = await req('POST', '/v3/projects', { project: { name: 'epf-doomed', domain_id: 'default' } });
  const pid = p.body.project.id;
  assertStatus(await req('PUT', `${E}/projects/${pid}/endpoints/${computePublic}`), 204);
  const g = await req('POST', `${E}/endpoint_groups`, { endpoint_group: { name: 'x', filters: { interface: 'internal' } } });
  assertStatus(await req('PUT', `${E}/endpoint_groups/${g.body.endpoint_group.id}/projects/${pid}`), 204);
  assertStatus(await req('DELETE', `/v3/projects/${pid}`), 204);
  const pl = await req('GET', `${E}/endpoints/${computePublic}/projects`);
  assert.deepEqual(pl.body.projects.map((x: { id: string }) => x.id), [projectId]);
  assert.deepEqual((await req('GET', `${E}/endpoint_groups/${g.body.endpoint_group.id}/projects`)).body.projects, []);
  const rows = await cloud.database.db.selectFrom('ep_filter_project_endpoint_group').selectAll().where('project_id', '=', pid).execute();
  assert.deepEqual(rows, []);
});

test('endpoint filter routes need an admin', async () => {
  assertFault(await cloud.request('GET', `${E}/endpoint_groups`), 401);
  assertFault(await cloud.request('PUT', `${E}/projects/${projectId}/endpoints/${computePublic}`), 401);
});
