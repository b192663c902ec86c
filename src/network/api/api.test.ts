// The network API over HTTP on SQLite, in a real test cloud (identity + network): discovery,
// errors, each resource, project isolation, policy, the list language, and bad input with
// Neutron's status and error type.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestCloud, type TestCloud, type Project } from '../../cli/test-cloud.js';

let cloud: TestCloud;
let admin: string;
let alice: Project;
let bob: Project;
const net = (method: string, path: string, token: string | undefined, body?: unknown, headers?: Record<string, string>) =>
  cloud.call('network', method, path, { token, body, headers });

function fault(r: { status: number; body: any }, status: number, type: string): void {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.equal(r.body?.NeutronError?.type, type, JSON.stringify(r.body));
  assert.equal(r.body.NeutronError.detail, '');
}

before(async () => {
  cloud = await startTestCloud({ services: ['network'] });
  admin = await cloud.adminToken();
  alice = await cloud.project('alice');
  bob = await cloud.project('bob');
});
after(async () => { await cloud?.close(); });

test('discovery, extensions and errors', async () => {
  const root = await net('GET', '/', undefined);
  assert.equal(root.status, 200);
  assert.equal(root.body.versions[0].id, 'v2.0');
  assert.equal((await net('GET', '/v2.0/networks', undefined)).status, 401);
  const v2 = await net('GET', '/v2.0', alice.token);
  assert.ok(v2.body.resources.some((r: any) => r.collection === 'networks'));
  const ext = await net('GET', '/v2.0/extensions', alice.token);
  const aliases = ext.body.extensions.map((e: any) => e.alias);
  for (const a of ['security-group', 'quotas', 'binding', 'provider', 'external-net', 'standard-attr-tag', 'rbac-policies']) assert.ok(aliases.includes(a), a);
  assert.ok(!aliases.includes('router'));
  fault(await net('GET', '/v2.0/extensions/router', alice.token), 404, 'HTTPNotFound');
  fault(await net('GET', '/v2.0/networks/00000000-0000-0000-0000-000000000000', alice.token), 404, 'NetworkNotFound');
  fault(await net('POST', '/v2.0/networks', alice.token, { network: { bogus: 1 } }), 400, 'HTTPBadRequest');
  fault(await net('POST', '/v2.0/networks', alice.token, { network: { shared: true } }), 403, 'PolicyNotAuthorized');
  fault(await net('POST', '/v2.0/networks', alice.token, { network: { 'provider:network_type': 'flat', 'provider:physical_network': 'x' } }), 403, 'PolicyNotAuthorized');
});

test('networks: provider types, VNI allocation, isolation, shared, If-Match, in use', async () => {
  const a = await net('POST', '/v2.0/networks', alice.token, { network: { name: 'a-net' } });
  assert.equal(a.status, 201, a.text);
  const n = a.body.network;
  assert.equal(n.status, 'ACTIVE');
  assert.equal(n.mtu, 1450);
  assert.equal(n.project_id, alice.projectId);
  assert.equal(n.revision_number, 0);
  assert.ok(!('provider:network_type' in n), 'provider attributes are admin-only');
  const seen = await net('GET', `/v2.0/networks/${n.id}`, admin);
  assert.equal(seen.body.network['provider:network_type'], 'vxlan');
  assert.ok(seen.body.network['provider:segmentation_id'] >= 1);
  // Another project sees nothing of it.
  fault(await net('GET', `/v2.0/networks/${n.id}`, bob.token), 404, 'NetworkNotFound');
  assert.equal((await net('GET', '/v2.0/networks', bob.token)).body.networks.length, 0);
  // Flat: one network per physnet; VLAN ids validated and exclusive.
  const flat = await net('POST', '/v2.0/networks', admin, { network: { name: 'flat', shared: true, 'provider:network_type': 'flat', 'provider:physical_network': 'physnet1' } });
  assert.equal(flat.status, 201, flat.text);
  assert.equal(flat.body.network.mtu, 1500);
  assert.equal(flat.body.network['provider:segmentation_id'], null);
  fault(await net('POST', '/v2.0/networks', admin, { network: { 'provider:network_type': 'flat', 'provider:physical_network': 'physnet1' } }), 409, 'FlatNetworkInUse');
  fault(await net('POST', '/v2.0/networks', admin, { network: { 'provider:network_type': 'flat' } }), 400, 'InvalidInput');
  fault(await net('POST', '/v2.0/networks', admin, { network: { 'provider:network_type': 'vlan', 'provider:physical_network': 'physnet1', 'provider:segmentation_id': 5000 } }), 400, 'InvalidInput');
  const v = await net('POST', '/v2.0/networks', admin, { network: { 'provider:network_type': 'vlan', 'provider:physical_network': 'physnet1', 'provider:segmentation_id': 100 } });
  assert.equal(v.status, 201, v.text);
  fault(await net('POST', '/v2.0/networks', admin, { network: { 'provider:network_type': 'vlan', 'provider:physical_network': 'physnet1', 'provider:segmentation_id': 100 } }), 409, 'VlanIdInUse');
  fault(await net('POST', '/v2.0/networks', admin, { network: { 'provider:network_type': 'geneve' } }), 400, 'InvalidInput');
  fault(await net('POST', '/v2.0/networks', admin, { network: { mtu: 9000 } }), 400, 'InvalidInput');
  // The shared network is visible (shared: true) to bob.
  const bobList = await net('GET', '/v2.0/networks', bob.token);
  assert.deepEqual(bobList.body.networks.map((x: any) => x.id), [flat.body.network.id]);
  assert.equal(bobList.body.networks[0].shared, true);
  // If-Match revision checks and revision bumps.
  fault(await net('PUT', `/v2.0/networks/${n.id}`, alice.token, { network: { name: 'x' } }, { 'If-Match': 'revision_number=7' }), 412, 'RevisionNumberConstraintFailed');
  const up = await net('PUT', `/v2.0/networks/${n.id}`, alice.token, { network: { name: 'x' } }, { 'If-Match': 'revision_number=0' });
  assert.equal(up.status, 200, up.text);
  assert.equal(up.body.network.revision_number, 1);
  // Bob cannot update or delete alice's network (404, not 403).
  fault(await net('DELETE', `/v2.0/networks/${n.id}`, bob.token), 404, 'NetworkNotFound');
});

test('list language: fields, filters, sort, pagination links, tags', async () => {
  for (const name of ['p1', 'p2', 'p3']) assert.equal((await net('POST', '/v2.0/networks', bob.token, { network: { name } })).status, 201);
  const mine = (await net('GET', '/v2.0/networks?name=p1&name=p2&fields=name&fields=id', bob.token)).body.networks;
  assert.deepEqual(mine.map((x: any) => x.name).sort(), ['p1', 'p2']);
  assert.deepEqual(Object.keys(mine[0]).sort(), ['id', 'name']);
  fault(await net('GET', '/v2.0/networks?bogus=1', bob.token), 400, 'HTTPBadRequest');
  fault(await net('GET', '/v2.0/networks?sort_key=bogus&sort_dir=asc', bob.token), 400, 'HTTPBadRequest');
  const sorted = (await net('GET', '/v2.0/networks?sort_key=name&sort_dir=desc&shared=false', bob.token)).body.networks.map((x: any) => x.name);
  assert.deepEqual(sorted, ['p3', 'p2', 'p1']);
  const page1 = await net('GET', '/v2.0/networks?sort_key=name&sort_dir=asc&limit=2&shared=false', bob.token);
  assert.deepEqual(page1.body.networks.map((x: any) => x.name), ['p1', 'p2']);
  const next = page1.body.networks_links.find((l: any) => l.rel === 'next').href as string;
  const page2 = await net('GET', next.slice(next.indexOf('/v2.0')), bob.token);
  assert.deepEqual(page2.body.networks.map((x: any) => x.name), ['p3']);
  assert.ok(page2.body.networks_links.some((l: any) => l.rel === 'previous'));
  const id = page1.body.networks[0].id;
  assert.equal((await net('PUT', `/v2.0/networks/${id}/tags`, bob.token, { tags: ['red', 'blue'] })).status, 200);
  assert.equal((await net('PUT', `/v2.0/networks/${id}/tags/green`, bob.token)).status, 201);
  assert.equal((await net('GET', `/v2.0/networks/${id}/tags/green`, bob.token)).status, 204);
  fault(await net('GET', `/v2.0/networks/${id}/tags/nope`, bob.token), 404, 'TagNotFound');
  const tagged = (await net('GET', '/v2.0/networks?tags=red,green', bob.token)).body.networks;
  assert.deepEqual(tagged.map((x: any) => x.id), [id]);
  assert.deepEqual(tagged[0].tags, ['blue', 'green', 'red']);
  assert.equal((await net('GET', '/v2.0/networks?not-tags-any=red', bob.token)).body.networks.filter((x: any) => x.id === id).length, 0);
});
