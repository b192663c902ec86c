// Domain-specific configuration over HTTP: Keystone's whitelisted identity/ldap options, the
// sensitive ldap.password stored but never returned, group/option level reads and writes, the
// defaults, and Keystone's status codes (403 for unsupported options, 404 for what is not set).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestCloud, type TestCloud } from '../testing.js';
import { assertFault, assertStatus } from '../../common/testing/assert.js';

let cloud: TestCloud;
let admin: string;
let domainId: string;

before(async () => {
  cloud = await startTestCloud({ identity: { password_regex: '^.{8,}$', password_regex_description: 'eight or more' } });
  admin = await cloud.adminToken();
  const d = await req('POST', '/v3/domains', { domain: { name: 'ldap-domain' } });
  assertStatus(d, 201);
  domainId = d.body.domain.id;
});
after(async () => { await cloud?.close(); });

const req = (method: string, path: string, body?: unknown, token = admin) => cloud.request(method, path, { token, body });

const CONFIG = {
  identity: { driver: 'ldap' },
  ldap: { url: 'ldap://myldap.com:389/', user_tree_dn: 'ou=Users,dc=my_new_root,dc=org' },
};

test('defaults: whitelisted identity and ldap options with Keystone defaults, never the password', async () => {
  const all = await req('GET', '/v3/domains/config/default');
  assertStatus(all, 200);
  assert.deepEqual(Object.keys(all.body.config).sort(), ['identity', 'ldap']);
  assert.deepEqual(all.body.config.identity, { driver: 'sql', list_limit: null });
  assert.equal(all.body.config.ldap.url, 'ldap://localhost');
  assert.equal(all.body.config.ldap.page_size, 0);
  assert.ok(!('password' in all.body.config.ldap));

  const g = await req('GET', '/v3/domains/config/ldap/default');
  assertStatus(g, 200);
  assert.deepEqual(g.body.config, { ldap: all.body.config.ldap });
  const o = await req('GET', '/v3/domains/config/ldap/user_objectclass/default');
  assertStatus(o, 200);
  assert.deepEqual(o.body.config, { user_objectclass: 'inetOrgPerson' });

  assertFault(await req('GET', '/v3/domains/config/ldap/password/default'), 403, /Reading the default for option password in group ldap is not supported/);
  assertFault(await req('GET', '/v3/domains/config/assignment/default'), 403, /Group assignment is not supported/);
  assertFault(await req('GET', '/v3/domains/config/ldap/nonsense/default'), 403);
});

test('create, read by group and option; sensitive options are stored but never returned', async () => {
  assertFault(await req('GET', `/v3/domains/${domainId}/config`), 404, `Could not find any options in domain configuration for domain ${domainId}.`);

  const c = await req('PUT', `/v3/domains/${domainId}/config`, { config: { ...CONFIG, ldap: { ...CONFIG.ldap, password: 's3cret' } } });
  assertStatus(c, 201);
  assert.deepEqual(c.body.config, CONFIG);
  assert.ok(!c.text.includes('s3cret'));

  assert.deepEqual((await req('GET', `/v3/domains/${domainId}/config`)).body.config, CONFIG);
  assert.deepEqual((await req('GET', `/v3/domains/${domainId}/config/ldap`)).body.config, { ldap: CONFIG.ldap });
  assert.deepEqual((await req('GET', `/v3/domains/${domainId}/config/ldap/url`)).body.config, { url: CONFIG.ldap.url });
  assertFault(await req('GET', `/v3/domains/${domainId}/config/ldap/password`), 404);
  assertFault(await req('GET', `/v3/domains/${domainId}/config/ldap/suffix`), 404, `Could not find option suffix in group ldap in domain configuration for domain ${domainId}.`);
  assertFault(await req('GET', `/v3/domains/${domainId}/config/ldap/bogus`), 403);
  assertFault(await req('GET', `/v3/domains/${domainId}/config/catalog`), 403);
  const stored = await cloud.database.db.selectFrom('domain_config_option').selectAll().where('domain_id', '=', domainId).where('option_name', '=', 'password').executeTakeFirst();
  assert.equal(stored?.sensitive, 1);

  // A second PUT replaces the whole config and answers 200.
  const again = await req('PUT', `/v3/domains/${domainId}/config`, { config: CONFIG });
  assertStatus(again, 200);
  assert.deepEqual(again.body.config, CONFIG);
  const pw = await cloud.database.db.selectFrom('domain_config_option').selectAll().where('domain_id', '=', domainId).where('option_name', '=', 'password').executeTakeFirst();
  assert.equal(pw, undefined);
});

test('invalid configurations are refused (403) and change nothing; unknown domains are a 404', async () => {
  for (const config of [{}, { identity: {} }, { identity: 'ldap' }, { catalog: { driver: 'sql' } }, { ldap: { url: 'ldap://x', nonsense: 1 } }]) {
    assertFault(await req('PUT', `/v3/domains/${domainId}/config`, { config }), 403, /^Invalid domain specific configuration: /);
  }
  assertFault(await req('PUT', `/v3/domains/${domainId}/config`, { config: 'x' }), 400);
  assertFault(await req('PUT', `/v3/domains/${domainId}/config`, {}), 403);
  assert.deepEqual((await req('GET', `/v3/domains/${domainId}/config`)).body.config, CONFIG);

  assertFault(await req('PUT', '/v3/domains/nosuchdomain/config', { config: CONFIG }), 404, 'Could not find domain: nosuchdomain.');
  assertFault(await req('GET', '/v3/domains/nosuchdomain/config'), 404, 'Could not find domain: nosuchdomain.');
  assertFault(await req('PATCH', '/v3/domains/nosuchdomain/config', { config: CONFIG }), 404);
  assertFault(await req('DELETE', '/v3/domains/nosuchdomain/config'), 404);
});

test('update the whole config, a group, an option', async () => {
  const u = await req('PATCH', `/v3/domains/${domainId}/config`, { config: { ldap: { url: 'ldap://new:389/', page_size: 50 } } });
  assertStatus(u, 200);
  assert.deepEqual(u.body.config, { identity: { driver: 'ldap' }, ldap: { ...CONFIG.ldap, url: 'ldap://new:389/', page_size: 50 } });

  const g = await req('PATCH', `/v3/domains/${domainId}/config/identity`, { config: { identity: { driver: 'sql', list_limit: 42 } } });
  assertStatus(g, 200);
  assert.deepEqual(g.body.config.identity, { driver: 'sql', list_limit: 42 });

  const o = await req('PATCH', `/v3/domains/${domainId}/config/identity/driver`, { config: { driver: 'ldap' } });
  assertStatus(o, 200);
  assert.equal(o.body.config.identity.driver, 'ldap');
  assert.equal(o.body.config.identity.list_limit, 42);

  // A group path takes only that group; an option path only that option; both must be set already.
  assertFault(await req('PATCH', `/v3/domains/${domainId}/config/identity`, { config: { ldap: { url: 'x:y' } } }), 403, /request to update group identity/);
  assertFault(await req('PATCH', `/v3/domains/${domainId}/config/identity`, { config: { identity: { driver: 'x' }, ldap: { url: 'x:y' } } }), 403);
  assertFault(await req('PATCH', `/v3/domains/${domainId}/config/identity/driver`, { config: { driver: 'x', list_limit: 1 } }), 403);
  assertFault(await req('PATCH', `/v3/domains/${domainId}/config/identity/driver`, { config: { list_limit: 1 } }), 403);
  assertFault(await req('PATCH', `/v3/domains/${domainId}/config/ldap/suffix`, { config: { suffix: 'dc=x' } }), 404);
  assertFault(await req('PATCH', `/v3/domains/${domainId}/config/ldap/bogus`, { config: { bogus: 1 } }), 403);
  assertFault(await req('PATCH', `/v3/domains/${domainId}/config`, { config: {} }), 403);
  assert.equal((await req('GET', `/v3/domains/${domainId}/config/identity/driver`)).body.config.driver, 'ldap');
});

test('delete an option, a group, everything', async () => {
  assertStatus(await req('DELETE', `/v3/domains/${domainId}/config/identity/driver`), 204);
  assertFault(await req('GET', `/v3/domains/${domainId}/config/identity/driver`), 404);
  assertFault(await req('DELETE', `/v3/domains/${domainId}/config/identity/driver`), 404);
  assert.deepEqual((await req('GET', `/v3/domains/${domainId}/config/identity`)).body.config, { identity: { list_limit: 42 } });

  assertStatus(await req('DELETE', `/v3/domains/${domainId}/config/identity`), 204);
  assertFault(await req('GET', `/v3/domains/${domainId}/config/identity`), 404, `Could not find group identity in domain configuration for domain ${domainId}.`);
  assertFault(await req('DELETE', `/v3/domains/${domainId}/config/identity`), 404);
  assertFault(await req('DELETE', `/v3/domains/${domainId}/config/bogus`), 403);

  assertStatus(await req('DELETE', `/v3/domains/${domainId}/config`), 204);
  assertFault(await req('GET', `/v3/domains/${domainId}/config`), 404);
});

test('security_compliance: the default domain\'s password rules', async () => {
  const r = await req('GET', '/v3/domains/default/config/security_compliance');
  assertStatus(r, 200);
  assert.deepEqual(r.body.config, { security_compliance: { password_regex: '^.{8,}$', password_regex_description: 'eight or more' } });
  const o = await req('GET', '/v3/domains/default/config/security_compliance/password_regex');
  assert.deepEqual(o.body.config, { password_regex: '^.{8,}$' });
  assertFault(await req('GET', '/v3/domains/default/config/security_compliance/lockout_duration'), 403);
  assertFault(await req('GET', `/v3/domains/${domainId}/config/security_compliance`), 403);
});

test('a deleted domain takes its configuration with it; calls need a token', async () => {
  const d = await req('POST', '/v3/domains', { domain: { name: 'short-lived' } });
  const id = d.body.domain.id;
  assertStatus(await req('PUT', `/v3/domains/${id}/config`, { config: CONFIG }), 201);
  assertStatus(await req('PATCH', `/v3/domains/${id}`, { domain: { enabled: false } }), 200);
  assertStatus(await req('DELETE', `/v3/domains/${id}`), 204);
  const rows = await cloud.database.db.selectFrom('domain_config_option').selectAll().where('domain_id', '=', id).execute();
  assert.deepEqual(rows, []);

  assertFault(await cloud.request('GET', '/v3/domains/config/default'), 401);
  assertFault(await cloud.request('GET', `/v3/domains/${domainId}/config`), 401);
});
