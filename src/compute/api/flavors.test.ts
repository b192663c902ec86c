import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestCloud, type TestCloud, type Project } from '../../cli/test-cloud.js';

let c: TestCloud;
let admin: string;
let member: Project;
let other: Project;
before(async () => {
  c = await startTestCloud({ services: ['compute', 'placement'] });
  admin = await c.adminToken();
  member = await c.project('flv-member');
  other = await c.project('flv-other');
});
after(async () => { await c?.close(); });

const mv = (v: string) => ({ 'OpenStack-API-Version': `compute ${v}` });
const call = (method: string, path: string, token: string, body?: unknown, v = '2.1') =>
  c.call('compute', method, path, { token, headers: mv(v), ...(body !== undefined ? { body } : {}) });

test('create, show, list and delete a flavor with Nova\'s fields per microversion', async () => {
  const r = await call('POST', '/flavors', admin, { flavor: { name: 'f.small', ram: 512, vcpus: 1, disk: 1, id: 'small-1' } });
  assert.equal(r.status, 200, r.text);
  const f = r.body.flavor;
  assert.equal(f.id, 'small-1');
  assert.equal(f.ram, 512);
  assert.equal(f.swap, '');
  assert.equal(f['OS-FLV-EXT-DATA:ephemeral'], 0);
  assert.equal(f['OS-FLV-DISABLED:disabled'], false);
  assert.equal(f['os-flavor-access:is_public'], true);
  assert.equal(f.rxtx_factor, 1);
  assert.equal(f.description, undefined);
  assert.equal(f.extra_specs, undefined);
  assert.match(f.links[0].href, /\/v2\.1\/flavors\/small-1$/);
  assert.match(f.links[1].href, /:\d+\/flavors\/small-1$/);

  const s75 = await call('GET', '/flavors/small-1', member.token, undefined, '2.75');
  assert.equal(s75.body.flavor.swap, 0);
  assert.equal(s75.body.flavor.description, null);
  assert.deepEqual(s75.body.flavor.extra_specs, {});

  const auto = await call('POST', '/flavors', admin, { flavor: { name: 'f.auto', ram: '256', vcpus: '2', disk: 0, swap: 128, rxtx_factor: 2.5, description: 'd' } }, '2.55');
  assert.equal(auto.status, 200, auto.text);
  assert.match(auto.body.flavor.id, /^[0-9a-f-]{36}$/);
  assert.equal(auto.body.flavor.swap, 128);
  assert.equal(auto.body.flavor.description, 'd');
  assert.equal(auto.body.flavor.rxtx_factor, 2.5);

  const list = await call('GET', '/flavors', member.token);
  assert.ok(list.body.flavors.some((x: { id: string }) => x.id === 'small-1'));
  assert.deepEqual(Object.keys(list.body.flavors[0]).sort(), ['id', 'links', 'name']);
  const detail = await call('GET', '/flavors/detail?minRam=300', member.token);
  assert.deepEqual(detail.body.flavors.map((x: { id: string }) => x.id), ['small-1']);

  const upd = await call('PUT', '/flavors/small-1', admin, { flavor: { description: 'new' } }, '2.55');
  assert.equal(upd.status, 200);
  assert.equal(upd.body.flavor.description, 'new');
  assert.equal((await call('PUT', '/flavors/small-1', admin, { flavor: { description: 'x' } }, '2.54')).status, 404);

  assert.equal((await call('DELETE', '/flavors/' + auto.body.flavor.id, admin)).status, 202);
  assert.equal((await call('GET', '/flavors/' + auto.body.flavor.id, admin)).status, 404);
});

test('duplicates are 409, bad input 400 with Nova\'s messages, members 403', async () => {
  await call('POST', '/flavors', admin, { flavor: { name: 'dup', ram: 64, vcpus: 1, disk: 0, id: 'dup' } });
  const byName = await call('POST', '/flavors', admin, { flavor: { name: 'dup', ram: 64, vcpus: 1, disk: 0 } });
  assert.equal(byName.status, 409);
  assert.equal(byName.body.conflictingRequest.message, 'Flavor with name dup already exists.');
  const byId = await call('POST', '/flavors', admin, { flavor: { name: 'dup2', ram: 64, vcpus: 1, disk: 0, id: 'dup' } });
  assert.equal(byId.body.conflictingRequest.message, 'Flavor with ID dup already exists.');

  const zero = await call('POST', '/flavors', admin, { flavor: { name: 'z', ram: 0, vcpus: 1, disk: 0 } });
  assert.equal(zero.status, 400);
  assert.equal(zero.body.badRequest.message, 'Invalid input for field/attribute ram. Value: 0. 0 is less than the minimum of 1');
  const missing = await call('POST', '/flavors', admin, { flavor: { name: 'z', ram: 1, vcpus: 1 } });
  assert.equal(missing.body.badRequest.message, "Invalid input for field/attribute flavor. Value: {'name': 'z', 'ram': 1, 'vcpus': 1}. 'disk' is a required property");
  const spaces = await call('POST', '/flavors', admin, { flavor: { name: ' z', ram: 1, vcpus: 1, disk: 0 } });
  assert.equal(spaces.body.badRequest.message, "An invalid 'name' value was provided. The name must be: printable characters. Can not start or end with whitespace.");
  const extra = await call('POST', '/flavors', admin, { flavor: { name: 'q', ram: 1, vcpus: 1, disk: 0, description: 'x' } }, '2.54');
  assert.equal(extra.status, 400);
  assert.match(extra.body.badRequest.message, /Additional properties are not allowed \('description' was unexpected\)/);
  assert.equal((await call('POST', '/flavors', admin)).status, 400);
  assert.equal((await call('GET', '/flavors?sort_key=bogus', admin)).status, 400);
  assert.equal((await call('GET', '/flavors?bogus=1', admin, undefined, '2.75')).status, 400);
  assert.equal((await call('GET', '/flavors?bogus=1', admin, undefined, '2.74')).status, 200);
  assert.equal((await call('GET', '/flavors?minRam=abc', admin)).body.badRequest.message, 'Invalid minRam filter [abc]');
  assert.equal((await call('GET', '/flavors?marker=nope', admin)).body.badRequest.message, 'marker [nope] not found');

  const denied = await call('POST', '/flavors', member.token, { flavor: { name: 'm', ram: 1, vcpus: 1, disk: 0 } });
  assert.equal(denied.status, 403);
  assert.equal(denied.body.forbidden.message, "Policy doesn't allow os_compute_api:os-flavor-manage:create to be performed.");
  assert.equal((await call('DELETE', '/flavors/dup', member.token)).status, 403);
});

test('private flavors: access list, visibility per project, is_public filter', async () => {
  const p = await call('POST', '/flavors', admin, { flavor: { name: 'priv', ram: 64, vcpus: 1, disk: 0, id: 'priv', 'os-flavor-access:is_public': false } });
  assert.equal(p.body.flavor['os-flavor-access:is_public'], false);
  assert.equal((await call('GET', '/flavors/priv', member.token)).status, 404);
  const add = await call('POST', '/flavors/priv/action', admin, { addTenantAccess: { tenant: member.projectId } });
  assert.equal(add.status, 200, add.text);
  assert.deepEqual(add.body.flavor_access, [{ flavor_id: 'priv', tenant_id: member.projectId }]);
  assert.equal((await call('POST', '/flavors/priv/action', admin, { addTenantAccess: { tenant: member.projectId } })).status, 409);
  assert.equal((await call('POST', '/flavors/priv/action', admin, { addTenantAccess: { tenant: 'no-such-project' } })).status, 400);
  assert.equal((await call('GET', '/flavors/priv', member.token)).status, 200);
  assert.ok((await call('GET', '/flavors', member.token)).body.flavors.some((f: { id: string }) => f.id === 'priv'));
  assert.ok(!(await call('GET', '/flavors', other.token)).body.flavors.some((f: { id: string }) => f.id === 'priv'));
  assert.equal((await call('GET', '/flavors/priv', other.token)).status, 404);
  const onlyPrivate = await call('GET', '/flavors?is_public=false', admin);
  assert.ok(onlyPrivate.body.flavors.every((f: { id: string }) => f.id === 'priv'));
  assert.equal((await call('GET', '/flavors?is_public=maybe', admin)).body.badRequest.message, 'Invalid is_public filter [maybe]');
  const acc = await call('GET', '/flavors/priv/os-flavor-access', admin);
  assert.equal(acc.body.flavor_access.length, 1);
  // Nova 26 keeps the deprecated admin_or_owner rule: a project may read the list, but only of flavors it can see.
  assert.equal((await call('GET', '/flavors/priv/os-flavor-access', other.token)).status, 404);
  await call('POST', '/flavors', admin, { flavor: { name: 'pub', ram: 64, vcpus: 1, disk: 0, id: 'pub' } });
  assert.equal((await call('GET', '/flavors/pub/os-flavor-access', admin)).status, 404);
  assert.equal((await call('POST', '/flavors/pub/action', admin, { addTenantAccess: { tenant: member.projectId } }, '2.7')).status, 409);
  const rm = await call('POST', '/flavors/priv/action', admin, { removeTenantAccess: { tenant: member.projectId } });
  assert.deepEqual(rm.body.flavor_access, []);
  assert.equal((await call('POST', '/flavors/priv/action', admin, { removeTenantAccess: { tenant: member.projectId } })).status, 404);
  assert.equal((await call('GET', '/flavors/priv', member.token)).status, 404);
});

test('extra specs: CRUD, 2.61 in flavor bodies, 2.86 validation', async () => {
  await call('POST', '/flavors', admin, { flavor: { name: 'es', ram: 64, vcpus: 1, disk: 0, id: 'es' } });
  const cr = await call('POST', '/flavors/es/os-extra_specs', admin, { extra_specs: { 'hw:cpu_policy': 'dedicated', custom: 5 } });
  assert.equal(cr.status, 200);
  assert.deepEqual(cr.body, { extra_specs: { 'hw:cpu_policy': 'dedicated', custom: 5 } });
  assert.deepEqual((await call('GET', '/flavors/es/os-extra_specs', member.token)).body.extra_specs, { 'hw:cpu_policy': 'dedicated', custom: '5' });
  assert.deepEqual((await call('GET', '/flavors/es/os-extra_specs/custom', member.token)).body, { custom: '5' });
  assert.equal((await call('GET', '/flavors/es/os-extra_specs/none', member.token)).body.itemNotFound.message, 'Flavor es has no extra specs with key none.');
  assert.equal((await call('PUT', '/flavors/es/os-extra_specs/custom', admin, { custom: 'six' })).status, 200);
  assert.equal((await call('PUT', '/flavors/es/os-extra_specs/custom', admin, { other: 'six' })).body.badRequest.message, 'Request body and URI mismatch');
  assert.equal((await call('POST', '/flavors/es/os-extra_specs', member.token, { extra_specs: { a: 'b' } })).status, 403);
  const bad = await call('POST', '/flavors/es/os-extra_specs', admin, { extra_specs: { 'hw:cpu_policy': 'bogus' } }, '2.86');
  assert.equal(bad.status, 400);
  assert.equal(bad.body.badRequest.message, "Validation failed; 'bogus' is not one of: dedicated, shared, mixed.");
  assert.equal((await call('POST', '/flavors/es/os-extra_specs', admin, { extra_specs: { 'hw:nope': '1' } }, '2.86')).body.badRequest.message,
    "Validation failed; extra spec 'hw:nope' does not appear to be a valid extra spec.");
  assert.equal((await call('POST', '/flavors/es/os-extra_specs', admin, { extra_specs: { 'hw:nope': '1' } }, '2.85')).status, 200);
  const shown = await call('GET', '/flavors/es', member.token, undefined, '2.61');
  assert.equal(shown.body.flavor.extra_specs.custom, 'six');
  assert.equal((await call('DELETE', '/flavors/es/os-extra_specs/custom', admin)).status, 200);
  assert.equal((await call('DELETE', '/flavors/es/os-extra_specs/custom', admin)).status, 404);
});

test('pagination: limit, marker, sort and next links', async () => {
  for (const n of ['pa', 'pb', 'pc']) await call('POST', '/flavors', admin, { flavor: { name: `page-${n}`, ram: 8, vcpus: 1, disk: 0, id: `page-${n}` } });
  const one = await call('GET', '/flavors?limit=1&marker=page-pa&sort_key=flavorid', member.token);
  assert.deepEqual(one.body.flavors.map((f: { id: string }) => f.id), ['page-pb']);
  assert.equal(one.body.flavors_links[0].rel, 'next');
  assert.match(one.body.flavors_links[0].href, /\/v2\.1\/flavors\?limit=1&marker=page-pb&sort_key=flavorid$/);
  const desc = await call('GET', '/flavors/detail?sort_key=name&sort_dir=desc&limit=2', admin);
  const names = desc.body.flavors.map((f: { name: string }) => f.name);
  assert.deepEqual(names, [...names].sort().reverse());
  assert.equal((await call('GET', '/flavors?limit=-1', admin)).status, 400);
});
