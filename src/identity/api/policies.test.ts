// /v3/policies and OS-ENDPOINT-POLICY over HTTP: CRUD with validation, associations with an
// endpoint, a service, a service in a region (found through parent regions), and clean-up.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestCloud, type TestCloud } from '../testing.js';
import { assertFault, assertStatus } from '../../common/testing/assert.js';

let cloud: TestCloud;
let admin: string;

before(async () => {
  cloud = await startTestCloud();
  admin = await cloud.adminToken();
});
after(async () => { await cloud?.close(); });

const req = (method: string, path: string, body?: unknown, token = admin) => cloud.request(method, path, { token, body });

async function createPolicy(type = 'application/json', blob = '{"default": ""}'): Promise<string> {
  const r = await req('POST', '/v3/policies', { policy: { type, blob } });
  assertStatus(r, 201);
  return r.body.policy.id;
}

test('policies: validation and CRUD', async () => {
  for (const policy of [{ type: 'x' }, { blob: 'x' }, { blob: 1, type: 'x' }, { blob: 'x', type: 'y'.repeat(256) }]) {
    assertFault(await req('POST', '/v3/policies', { policy }), 400);
  }
  assertFault(await req('POST', '/v3/policies', {}), 400);

  const c = await req('POST', '/v3/policies', { policy: { type: 'application/json', blob: '{"a": 1}', owner: 'ops' } });
  assertStatus(c, 201);
  const p = c.body.policy;
  assert.equal(p.type, 'application/json');
  assert.equal(p.blob, '{"a": 1}');
  assert.equal(p.owner, 'ops', 'extra attributes are kept, as Keystone');
  assert.match(p.links.self, new RegExp(`/v3/policies/${p.id}$`));
  assert.deepEqual((await req('GET', `/v3/policies/${p.id}`)).body.policy, p);

  const other = await createPolicy('text/yaml', 'a: 1');
  assert.deepEqual((await req('GET', '/v3/policies?type=text/yaml')).body.policies.map((x: { id: string }) => x.id), [other]);
  assert.equal((await req('GET', '/v3/policies')).body.policies.length, 2);

  assertFault(await req('PATCH', `/v3/policies/${p.id}`, { policy: {} }), 400);
  assertFault(await req('PATCH', `/v3/policies/${p.id}`, { policy: { id: 'other' } }), 400, 'Cannot change policy ID');
  const u = await req('PATCH', `/v3/policies/${p.id}`, { policy: { type: 'application/yaml' } });
  assertStatus(u, 200);
  assert.equal(u.body.policy.type, 'application/yaml');
  assert.equal(u.body.policy.blob, '{"a": 1}');

  assertStatus(await req('DELETE', `/v3/policies/${p.id}`), 204);
  assertFault(await req('GET', `/v3/policies/${p.id}`), 404, `Could not find policy: ${p.id}.`);
  assertFault(await req('DELETE', `/v3/policies/${p.id}`), 404);
  assertFault(await cloud.request('GET', '/v3/policies'), 401);
});

test('OS-ENDPOINT-POLICY: endpoint, service and region+service associations', async () => {
  const svc = await req('POST', '/v3/services', { service: { type: 'compute', name: 'nova' } });
  const sid = svc.body.service.id;
  assertStatus(await req('POST', '/v3/regions', { region: { id: 'Parent' } }), 201);
  assertStatus(await req('POST', '/v3/regions', { region: { id: 'Child', parent_region_id: 'Parent' } }), 201);
  const mk = async (region_id: string | null, iface: string) => {
    const r = await req('POST', '/v3/endpoints', { endpoint: { service_id: sid, interface: iface, url: `http://nova/${iface}`, region_id } });
    assertStatus(r, 201);
    return r.body.endpoint.id as string;
  };
  const epChild = await mk('Child', 'public');
  const epParent = await mk('Parent', 'internal');
  const epNone = await mk(null, 'admin');

  const pEndpoint = await createPolicy('endpoint');
  const pRegion = await createPolicy('region');
  const pService = await createPolicy('service');
  const base = (pid: string) => `/v3/policies/${pid}/OS-ENDPOINT-POLICY`;
  const policyFor = async (eid: string) => {
    const r = await req('GET', `/v3/endpoints/${eid}/OS-ENDPOINT-POLICY/policy`);
    return r.status === 200 ? r.body.policy.id : r.status;
  };

  assertFault(await req('GET', `/v3/endpoints/${epChild}/OS-ENDPOINT-POLICY/policy`), 404, `No policy is associated with endpoint ${epChild}.`);
  assertFault(await req('PUT', `${base(pEndpoint)}/endpoints/nosuchendpoint`), 404, 'Could not find endpoint: nosuchendpoint.');
  assertFault(await req('PUT', `${base('nosuchpolicy')}/endpoints/${epChild}`), 404, 'Could not find policy: nosuchpolicy.');
  assertFault(await req('PUT', `${base(pRegion)}/services/${sid}/regions/nosuchregion`), 404);

  assertStatus(await req('PUT', `${base(pService)}/services/${sid}`), 204);
  assertStatus(await req('GET', `${base(pService)}/services/${sid}`), 204);
  assert.equal(await policyFor(epChild), pService);
  assert.equal(await policyFor(epNone), pService);

  // The region association is found through the endpoint's parent region.
  assertStatus(await req('PUT', `${base(pRegion)}/services/${sid}/regions/Parent`), 204);
  assert.equal(await policyFor(epChild), pRegion);
  assert.equal(await policyFor(epParent), pRegion);
  assert.equal(await policyFor(epNone), pService);

  assertStatus(await req('PUT', `${base(pEndpoint)}/endpoints/${epChild}`), 204);
  assertStatus(await req('HEAD', `${base(pEndpoint)}/endpoints/${epChild}`), 204);
  assertFault(await req('GET', `${base(pService)}/endpoints/${epChild}`), 404, 'Could not find policy association.');
  assert.equal(await policyFor(epChild), pEndpoint);

  const listed = async (pid: string) => (await req('GET', `${base(pid)}/endpoints`)).body.endpoints.map((e: { id: string }) => e.id).sort();
  assert.deepEqual(await listed(pEndpoint), [epChild]);
  assert.deepEqual(await listed(pRegion), [epChild, epParent].sort());
  assert.deepEqual(await listed(pService), [epChild, epParent, epNone].sort());

  // A new association for the same endpoint replaces the old one.
  assertStatus(await req('PUT', `${base(pService)}/endpoints/${epChild}`), 204);
  assert.equal(await policyFor(epChild), pService);
  assertFault(await req('GET', `${base(pEndpoint)}/endpoints/${epChild}`), 404);

  assertStatus(await req('DELETE', `${base(pRegion)}/services/${sid}/regions/Parent`), 204);
  assertFault(await req('GET', `${base(pRegion)}/services/${sid}/regions/Parent`), 404);
  assert.equal(await policyFor(epParent), pService);

  // Deleting the policy or the endpoint removes their associations.
  assertStatus(await req('DELETE', `/v3/endpoints/${epChild}`), 204);
  assert.deepEqual(await listed(pService), [epParent, epNone].sort());
  assertStatus(await req('DELETE', `/v3/policies/${pService}`), 204);
  assertFault(await req('GET', `/v3/endpoints/${epParent}/OS-ENDPOINT-POLICY/policy`), 404);
  const rows = await cloud.database.db.selectFrom('identity_policy_association').selectAll().execute();
  assert.deepEqual(rows, []);
});
