// OS-FEDERATION over HTTP: identity providers (auto-created domains, remote id uniqueness),
// mappings (Keystone's rule schema), protocols (the mapping must exist) and service providers
// (URL validation, listed in tokens when enabled). Bad input gets Keystone's 4xx, nothing half-written.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestCloud, type TestCloud } from '../testing.js';
import { assertFault, assertStatus } from '../../common/testing/assert.js';

let cloud: TestCloud;
let admin: string;
const F = '/v3/OS-FEDERATION';

before(async () => {
  cloud = await startTestCloud();
  admin = await cloud.adminToken();
});
after(async () => { await cloud?.close(); });

const req = (method: string, path: string, body?: unknown, token = admin) => cloud.request(method, path, { token, body });

const RULES = [{
  local: [{ user: { name: '{0}' } }, { group_ids: '{1}' }],
  remote: [{ type: 'openstack_username' }, { type: 'group_ids', whitelist: ['abc', '123'] }],
}];

async function domainCount(): Promise<number> {
  const r = await req('GET', '/v3/domains');
  assertStatus(r, 200);
  return r.body.domains.length;
}

test('an identity provider without a domain gets one of its own; defaults as Keystone', async () => {
  const r = await req('PUT', `${F}/identity_providers/idp-a`, { identity_provider: { description: 'A' } });
  assertStatus(r, 201);
  const idp = r.body.identity_provider;
  assert.equal(idp.id, 'idp-a');
  assert.equal(idp.enabled, false);
  assert.deepEqual(idp.remote_ids, []);
  assert.equal(idp.description, 'A');
  assert.equal(idp.authorization_ttl, null);
  assert.match(idp.links.self, /\/v3\/OS-FEDERATION\/identity_providers\/idp-a$/);
  assert.match(idp.links.protocols, /\/identity_providers\/idp-a\/protocols$/);
  const d = await req('GET', `/v3/domains/${idp.domain_id}`);
  assertStatus(d, 200);
  assert.equal(d.body.domain.description, 'Auto generated federated domain for Identity Provider: idp-a');

  const g = await req('GET', `${F}/identity_providers/idp-a`);
  assertStatus(g, 200);
  assert.deepEqual(g.body.identity_provider, idp);
});

test('remote ids are unique across identity providers (409), and a refused create leaves nothing behind', async () => {
  const r = await req('PUT', `${F}/identity_providers/idp-b`, { identity_provider: { enabled: true, remote_ids: ['https://b.example/idp', 'urn:b'], authorization_ttl: 60 } });
  assertStatus(r, 201);
  assert.deepEqual(r.body.identity_provider.remote_ids.sort(), ['https://b.example/idp', 'urn:b']);
  assert.equal(r.body.identity_provider.authorization_ttl, 60);

  const before = await domainCount();
  const dup = await req('PUT', `${F}/identity_providers/idp-c`, { identity_provider: { remote_ids: ['urn:c', 'urn:b'] } });
  assertFault(dup, 409, /Duplicate remote ID: urn:b/);
  assertFault(await req('GET', `${F}/identity_providers/idp-c`), 404, 'Could not find Identity Provider: idp-c.');
  assert.equal(await domainCount(), before, 'no domain created for the refused identity provider');

  // urn:c is still free: the refused request stored none of its remote ids.
  assertStatus(await req('PUT', `${F}/identity_providers/idp-c`, { identity_provider: { remote_ids: ['urn:c'] } }), 201);
  // Updating another provider to take a remote id in use is refused too.
  assertFault(await req('PATCH', `${F}/identity_providers/idp-c`, { identity_provider: { remote_ids: ['urn:b'] } }), 409, /Duplicate remote ID/);
  const c = await req('GET', `${F}/identity_providers/idp-c`);
  assert.deepEqual(c.body.identity_provider.remote_ids, ['urn:c']);

  assertFault(await req('PUT', `${F}/identity_providers/idp-b`, { identity_provider: {} }), 409);
});

test('an identity provider in an existing domain; an unknown domain is a 404', async () => {
  const d = await req('POST', '/v3/domains', { domain: { name: 'fed-dom' } });
  assertStatus(d, 201);
  const r = await req('PUT', `${F}/identity_providers/idp-d`, { identity_provider: { domain_id: d.body.domain.id } });
  assertStatus(r, 201);
  assert.equal(r.body.identity_provider.domain_id, d.body.domain.id);

  assertFault(await req('PUT', `${F}/identity_providers/idp-e`, { identity_provider: { domain_id: 'nosuchdomain' } }), 404, 'Could not find domain: nosuchdomain.');
  assertFault(await req('GET', `${F}/identity_providers/idp-e`), 404);

  // Deleting the domain deletes its identity providers (Keystone's DOMAIN_DELETED callback).
  assertStatus(await req('PATCH', `/v3/domains/${d.body.domain.id}`, { domain: { enabled: false } }), 200);
  assertStatus(await req('DELETE', `/v3/domains/${d.body.domain.id}`), 204);
  assertFault(await req('GET', `${F}/identity_providers/idp-d`), 404);
});

test('identity provider bad input is a 400', async () => {
  for (const body of [
    { identity_provider: { bogus: 1 } },
    { identity_provider: { enabled: 'yes' } },
    { identity_provider: { remote_ids: 'urn:x' } },
    { identity_provider: { remote_ids: ['a', 'a'] } },
    { identity_provider: { authorization_ttl: -1 } },
    { identity_provider: { domain_id: 'not a valid id!' } },
    { identity_provider: 'x' },
  ]) {
    assertFault(await req('PUT', `${F}/identity_providers/idp-bad`, body), 400);
  }
  assertFault(await req('PUT', `${F}/identity_providers/${'x'.repeat(65)}`, { identity_provider: {} }), 400);
  assertFault(await req('PATCH', `${F}/identity_providers/idp-a`, { identity_provider: {} }), 400);
  assertFault(await req('PATCH', `${F}/identity_providers/idp-a`, { identity_provider: { domain_id: 'default' } }), 400);
  assertFault(await req('GET', `${F}/identity_providers/idp-bad`), 404);
});

test('identity providers: update, list with filters, delete', async () => {
  const u = await req('PATCH', `${F}/identity_providers/idp-a`, { identity_provider: { enabled: true, description: null, remote_ids: ['urn:a2', 'urn:a1'] } });
  assertStatus(u, 200);
  assert.equal(u.body.identity_provider.enabled, true);
  assert.equal(u.body.identity_provider.description, null);
  assert.deepEqual(u.body.identity_provider.remote_ids, ['urn:a1', 'urn:a2']);

  const all = await req('GET', `${F}/identity_providers`);
  assertStatus(all, 200);
  const ids = all.body.identity_providers.map((i: { id: string }) => i.id);
  assert.ok(ids.includes('idp-a') && ids.includes('idp-b') && ids.includes('idp-c'));
  const enabled = await req('GET', `${F}/identity_providers?enabled=true`);
  assert.ok(enabled.body.identity_providers.every((i: { enabled: boolean }) => i.enabled));
  assert.ok(!enabled.body.identity_providers.some((i: { id: string }) => i.id === 'idp-c'));
  const one = await req('GET', `${F}/identity_providers?id=idp-c`);
  assert.deepEqual(one.body.identity_providers.map((i: { id: string }) => i.id), ['idp-c']);

  assertStatus(await req('DELETE', `${F}/identity_providers/idp-c`), 204);
  assertFault(await req('DELETE', `${F}/identity_providers/idp-c`), 404);
  // Its remote id is free again.
  assertStatus(await req('PATCH', `${F}/identity_providers/idp-a`, { identity_provider: { remote_ids: ['urn:c'] } }), 200);
});

test('mappings: Keystone rule schema, CRUD', async () => {
  const c = await req('PUT', `${F}/mappings/map-1`, { mapping: { rules: RULES } });
  assertStatus(c, 201);
  assert.deepEqual(c.body.mapping.rules, RULES);
  assert.equal(c.body.mapping.id, 'map-1');
  assert.match(c.body.mapping.links.self, /\/v3\/OS-FEDERATION\/mappings\/map-1$/);

  const bad = [
    {},
    { rules: [] },
    { rules: [{ local: [{ user: { name: 'x' } }] }] },
    { rules: [{ local: [{ user: { name: 'x' } }], remote: [] }] },
    { rules: [{ local: [{ nickname: 'x' }], remote: [{ type: 'a' }] }] },
    { rules: [{ local: [{ user: { type: 'other' } }], remote: [{ type: 'a' }] }] },
    { rules: [{ local: [{ group: { name: 'g' } }], remote: [{ type: 'a' }] }] },
    { rules: [{ local: [], remote: [{ type: 'a', any_one_of: ['x'], not_any_of: ['y'] }] }] },
    { rules: [{ local: [], remote: [{ whitelist: ['x'] }] }] },
    { rules: 'nope' },
  ];
  for (const mapping of bad) {
    assertFault(await req('PUT', `${F}/mappings/map-bad`, { mapping }), 400);
  }
  assertFault(await req('GET', `${F}/mappings/map-bad`), 404, 'Could not find mapping: map-bad.');
  assertFault(await req('PUT', `${F}/mappings/map-1`, { mapping: { rules: RULES } }), 409);

  const newRules = [{ local: [{ group: { id: 'abc' } }], remote: [{ type: 'REMOTE_USER', any_one_of: ['x'], regex: true }] }];
  const u = await req('PATCH', `${F}/mappings/map-1`, { mapping: { rules: newRules } });
  assertStatus(u, 200);
  assert.deepEqual(u.body.mapping.rules, newRules);
  assertFault(await req('PATCH', `${F}/mappings/map-1`, { mapping: { rules: [] } }), 400);
  assert.deepEqual((await req('GET', `${F}/mappings/map-1`)).body.mapping.rules, newRules);

  const l = await req('GET', `${F}/mappings`);
  assertStatus(l, 200);
  assert.ok(l.body.mappings.some((m: { id: string }) => m.id === 'map-1'));

  assertStatus(await req('PUT', `${F}/mappings/map-2`, { mapping: { rules: RULES } }), 201);
  assertStatus(await req('DELETE', `${F}/mappings/map-2`), 204);
  assertFault(await req('DELETE', `${F}/mappings/map-2`), 404);
});

test('protocols: the mapping must exist (400), the identity provider too (404)', async () => {
  const P = `${F}/identity_providers/idp-b/protocols`;
  assertFault(await req('PUT', `${P}/saml2`, { protocol: { mapping_id: 'no-such-mapping' } }), 400, 'Invalid mapping id: no-such-mapping');
  assertFault(await req('PUT', `${F}/identity_providers/nosuchidp/protocols/saml2`, { protocol: { mapping_id: 'map-1' } }), 404, 'Could not find Identity Provider: nosuchidp.');
  assertFault(await req('PUT', `${P}/saml2`, { protocol: {} }), 400);
  assertFault(await req('PUT', `${P}/saml2`, { protocol: { mapping_id: 'map-1', extra: 1 } }), 400);

  const c = await req('PUT', `${P}/saml2`, { protocol: { mapping_id: 'map-1' } });
  assertStatus(c, 201);
  assert.equal(c.body.protocol.id, 'saml2');
  assert.equal(c.body.protocol.mapping_id, 'map-1');
  assert.match(c.body.protocol.links.self, /\/identity_providers\/idp-b\/protocols\/saml2$/);
  assert.match(c.body.protocol.links.identity_provider, /\/identity_providers\/idp-b$/);
  assertFault(await req('PUT', `${P}/saml2`, { protocol: { mapping_id: 'map-1' } }), 409);
  assertStatus(await req('PUT', `${P}/oidc`, { protocol: { mapping_id: 'map-1', remote_id_attribute: 'HTTP_OIDC_ISS' } }), 201);

  const l = await req('GET', P);
  assertStatus(l, 200);
  assert.deepEqual(l.body.protocols.map((p: { id: string }) => p.id), ['oidc', 'saml2']);

  assertStatus(await req('PUT', `${F}/mappings/map-3`, { mapping: { rules: RULES } }), 201);
  assertFault(await req('PATCH', `${P}/saml2`, { protocol: { mapping_id: 'nope' } }), 400);
  const u = await req('PATCH', `${P}/saml2`, { protocol: { mapping_id: 'map-3' } });
  assertStatus(u, 200);
  assert.equal(u.body.protocol.mapping_id, 'map-3');
  assert.equal((await req('GET', `${P}/saml2`)).body.protocol.mapping_id, 'map-3');
  assertFault(await req('GET', `${P}/nope`), 404, 'Could not find federated protocol nope for Identity Provider: idp-b.');

  assertStatus(await req('DELETE', `${P}/oidc`), 204);
  assertFault(await req('DELETE', `${P}/oidc`), 404);

  // Deleting the identity provider takes its protocols with it.
  assertStatus(await req('DELETE', `${F}/identity_providers/idp-b`), 204);
  assertStatus(await req('PUT', `${F}/identity_providers/idp-b`, { identity_provider: {} }), 201);
  assert.deepEqual((await req('GET', P)).body.protocols, []);
});

test('service providers: URLs validated, defaults, listed in tokens when enabled', async () => {
  const S = `${F}/service_providers`;
  const ok = { auth_url: 'https://sp.example/v3/OS-FEDERATION/identity_providers/x/protocols/saml2/auth', sp_url: 'https://sp.example/Shibboleth.sso/SAML2/ECP' };
  assertFault(await req('PUT', `${S}/sp-bad`, { service_provider: { ...ok, auth_url: 'not-a-url' } }), 400);
  assertFault(await req('PUT', `${S}/sp-bad`, { service_provider: { ...ok, sp_url: 'nourl' } }), 400);
  assertFault(await req('PUT', `${S}/sp-bad`, { service_provider: { auth_url: ok.auth_url } }), 400);
  assertFault(await req('PUT', `${S}/sp-bad`, {}), 400);
  assertFault(await req('PUT', `${S}/sp-bad`, { service_provider: { ...ok, other: 1 } }), 400);
  assertFault(await req('GET', `${S}/sp-bad`), 404, 'Could not find Service Provider: sp-bad.');

  const c = await req('PUT', `${S}/sp-1`, { service_provider: ok });
  assertStatus(c, 201);
  assert.equal(c.body.service_provider.enabled, false);
  assert.equal(c.body.service_provider.relay_state_prefix, 'ss:mem:');
  assert.equal(c.body.service_provider.description, null);
  assert.equal(c.body.service_provider.auth_url, ok.auth_url);
  assertFault(await req('PUT', `${S}/sp-1`, { service_provider: ok }), 409);
  const c2 = await req('PUT', `${S}/sp-2`, { service_provider: { ...ok, enabled: true, relay_state_prefix: 'rs:' } });
  assertStatus(c2, 201);
  assert.equal(c2.body.service_provider.relay_state_prefix, 'rs:');

  const tokenSps = async () => {
    const t = await cloud.request('POST', '/v3/auth/tokens', { body: { auth: { identity: { methods: ['password'], password: { user: { name: 'admin', domain: { id: 'default' }, password: cloud.adminPassword } } } } } });
    assertStatus(t, 201);
    return (t.body.token.service_providers ?? []) as Array<{ id: string; auth_url: string; sp_url: string }>;
  };
  assert.deepEqual(await tokenSps(), [{ auth_url: ok.auth_url, id: 'sp-2', sp_url: ok.sp_url }]);

  assertFault(await req('PATCH', `${S}/sp-1`, { service_provider: { auth_url: 'bad' } }), 400);
  assertFault(await req('PATCH', `${S}/sp-1`, { service_provider: {} }), 400);
  const u = await req('PATCH', `${S}/sp-1`, { service_provider: { enabled: true, description: 'one' } });
  assertStatus(u, 200);
  assert.equal(u.body.service_provider.enabled, true);
  assert.deepEqual((await tokenSps()).map((s) => s.id), ['sp-1', 'sp-2']);

  const l = await req('GET', `${S}?enabled=false`);
  assertStatus(l, 200);
  assert.deepEqual(l.body.service_providers, []);

  assertStatus(await req('DELETE', `${S}/sp-1`), 204);
  assertStatus(await req('DELETE', `${S}/sp-2`), 204);
  assertFault(await req('DELETE', `${S}/sp-2`), 404);
  assert.deepEqual(await tokenSps(), []);
});

test('federation routes are admin-only and need a token', async () => {
  // A member of a project, not an admin.
  const u = await req('POST', '/v3/users', { user: { name: 'fed-member', password: 'pw-member-1', domain_id: 'default' } });
  assertStatus(u, 201);
  const p = await req('POST', '/v3/projects', { project: { name: 'fed-proj', domain_id: 'default' } });
  assertStatus(p, 201);
  const roles = await req('GET', '/v3/roles?name=member');
  assertStatus(await req('PUT', `/v3/projects/${p.body.project.id}/users/${u.body.user.id}/roles/${roles.body.roles[0].id}`), 204);
  const t = await cloud.request('POST', '/v3/auth/tokens', { body: { auth: { identity: { methods: ['password'], password: { user: { id: u.body.user.id, password: 'pw-member-1' } } }, scope: { project: { id: p.body.project.id } } } } });
  assertStatus(t, 201);
  const member = t.headers.get('x-subject-token')!;

  assertFault(await req('PUT', `${F}/identity_providers/idp-m`, { identity_provider: {} }, member), 403);
  assertFault(await req('GET', `${F}/identity_providers`, undefined, member), 403);
  assertFault(await req('PUT', `${F}/mappings/map-m`, { mapping: { rules: RULES } }, member), 403);
  assertFault(await req('GET', `${F}/service_providers`, undefined, member), 403);
  assertFault(await cloud.request('GET', `${F}/mappings`), 401);
});
