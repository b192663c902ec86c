// Bad input gets Keystone's 4xx, never a 500, with Keystone's body ({"error": {code, message,
// title}}) and a request id; and a request that fails leaves nothing half-written behind.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestCloud, type TestCloud } from '../testing.js';
import { assertFault, assertStatus } from '../../common/testing/assert.js';

let cloud: TestCloud;
let admin: string;

/** Every status this file saw, to check that none was a 500. */
const seen: Array<[number, string]> = [];

function recording(c: TestCloud): TestCloud {
  const inner = c.request;
  c.request = async (method, path, o) => {
    const r = await inner(method, path, o);
    seen.push([r.status, `${method} ${path}`]);
    return r;
  };
  return c;
}

before(async () => {
  cloud = recording(await startTestCloud());
  admin = await cloud.adminToken();
});
after(async () => { await cloud?.close(); });

const post = (path: string, body: unknown, token = admin) => cloud.request('POST', path, { token, body });
const raw = (method: string, path: string, text: string, contentType = 'application/json') =>
  cloud.request(method, path, { token: admin, raw: text, headers: { 'Content-Type': contentType } });
const passwordAuth = (user: Record<string, unknown>, password: string, scope?: unknown) => ({
  auth: { identity: { methods: ['password'], password: { user: { ...user, password } } }, ...(scope ? { scope } : {}) },
});
const UNAUTH = 'The request you have made requires authentication.';

/** One character changed in the middle of a token (a different base64url character). */
function tamper(token: string): string {
  const i = Math.floor(token.length / 2);
  const c = token[i] === 'A' ? 'B' : 'A';
  return token.slice(0, i) + c + token.slice(i + 1);
}

async function makeUser(name: string, password: string, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await post('/v3/users', { user: { name, password, domain_id: 'default', ...extra } });
  assertStatus(r, 201);
  return r.body.user.id;
}

test('malformed JSON bodies: 400', { timeout: 30_000 }, async () => {
  assertFault(await raw('POST', '/v3/projects', '{"project": {"name": "x"'), 400);
  assertFault(await raw('POST', '/v3/projects', '{"project": {"name": "x",}}'), 400);
  assertFault(await raw('POST', '/v3/auth/tokens', '{auth: 1}'), 400);
  assertFault(await raw('PATCH', '/v3/users/whatever', '{"user": '), 400);
  // Valid JSON that is not an object.
  assertFault(await raw('POST', '/v3/projects', '[1, 2]'), 400);
  assertFault(await raw('POST', '/v3/projects', '"project"'), 400);
  assertFault(await raw('POST', '/v3/projects', 'null'), 400);
  assertFault(await raw('POST', '/v3/auth/tokens', '[]'), 400);
  // Not JSON at all.
  assertFault(await raw('POST', '/v3/projects', 'name=x', 'application/x-www-form-urlencoded'), 400);
  assertFault(await raw('POST', '/v3/projects', '{"project": {"name": "x"}}', 'text/plain'), 400);
  // No body where one is needed.
  assertFault(await cloud.request('POST', '/v3/projects', { token: admin }), 400);
  assertFault(await raw('POST', '/v3/roles', ''), 400);
  // The wrapper key missing or of the wrong type.
  assertFault(await post('/v3/projects', { name: 'x' }), 400);
  assertFault(await post('/v3/projects', { project: 'x' }), 400);
  assertFault(await post('/v3/projects', { project: ['x'] }), 400);
  // Nothing was created by any of these.
  const r = await cloud.request('GET', '/v3/projects?name=x', { token: admin });
  assert.deepEqual(r.body.projects, []);
});

test('wrong types and values: 400', { timeout: 30_000 }, async () => {
  const cases: Array<[string, unknown]> = [
    ['/v3/projects', { project: { name: 123 } }],
    ['/v3/projects', { project: { name: '' } }],
    ['/v3/projects', { project: { name: 'x'.repeat(65) } }],
    ['/v3/projects', { project: { name: 'ok', enabled: 'yes' } }],
    ['/v3/projects', { project: { name: 'ok', tags: 'a' } }],
    ['/v3/projects', { project: { name: 'ok', tags: ['a/b'] } }],
    ['/v3/projects', { project: { name: 'ok', is_domain: 'no' } }],
    ['/v3/projects', { project: { description: 'no name' } }],
    ['/v3/users', { user: { name: 123 } }],
    ['/v3/users', { user: { name: 'ok', enabled: 1 } }],
    ['/v3/users', { user: { name: 'ok', password: 42 } }],
    ['/v3/users', { user: { name: 'ok', options: { no_such_option: true } } }],
    ['/v3/groups', { group: { name: ['g'] } }],
    ['/v3/roles', { role: { name: { n: 1 } } }],
    ['/v3/roles', { role: { name: 'ok', options: { immutable: 'yes' } } }],
    ['/v3/domains', { domain: { name: 'ok', enabled: 'true' } }],
    ['/v3/domains', { domain: { name: 7 } }],
    ['/v3/regions', { region: { description: 5 } }],
    ['/v3/services', { service: { type: 1 } }],
    ['/v3/services', { service: { name: 'no type' } }],
    ['/v3/endpoints', { endpoint: { interface: 'bogus', service_id: 'x', url: 'http://127.0.0.1/' } }],
    ['/v3/endpoints', { endpoint: { interface: 'public', service_id: 'x', url: 'not a url' } }],
    ['/v3/endpoints', { endpoint: { interface: 'public', url: 'http://127.0.0.1/' } }],
  ];
  for (const [path, body] of cases) {
    const r = await post(path, body);
    assert.equal(r.status, 400, `${path} ${JSON.stringify(body)}: ${r.status} ${r.text}`);
    assertFault(r, 400);
  }
  // Updates too.
  const users = await cloud.request('GET', '/v3/users?name=admin', { token: admin });
  const adminId = users.body.users[0].id;
  assertFault(await cloud.request('PATCH', `/v3/users/${adminId}`, { token: admin, body: { user: { enabled: 'false' } } }), 400);
  assertFault(await cloud.request('PATCH', `/v3/users/${adminId}`, { token: admin, body: { user: {} } }), 400);
  assertFault(await cloud.request('PATCH', '/v3/domains/default', { token: admin, body: { domain: { name: 12 } } }), 400);
  // The admin is untouched.
  const me = await cloud.request('GET', `/v3/users/${adminId}`, { token: admin });
  assert.equal(me.body.user.enabled, true);
  assert.equal(me.body.user.name, 'admin');
});

test('fields Keystone rejects: 400', { timeout: 30_000 }, async () => {
  const uid = await makeUser('pw-changer', 'old-password');
  // Self-service password change: exactly password and original_password.
  assertFault(await cloud.request('POST', `/v3/users/${uid}/password`, { body: { user: { password: 'new-password', original_password: 'old-password', extra: 1 } } }), 400,
    /Additional properties are not allowed \('extra' was unexpected\)/);
  assertFault(await cloud.request('POST', `/v3/users/${uid}/password`, { body: { user: { password: 'new-password' } } }), 400);
  assertFault(await cloud.request('POST', `/v3/users/${uid}/password`, { body: { user: { password: 5, original_password: 'old-password' } } }), 400);
  // The password did not change.
  assertStatus(await post('/v3/auth/tokens', passwordAuth({ id: uid }, 'old-password'), ''), 201);

  // Auth bodies: identity.methods must be a list of names; each method needs its object.
  const pw = { user: { name: 'admin', domain: { id: 'default' }, password: cloud.adminPassword } };
  for (const identity of [
    { methods: 'password', password: pw },
    { methods: [], password: pw },
    { methods: [1], password: pw },
    { methods: ['password'] },
    { methods: ['password'], password: 'admin' },
    { methods: ['password'], password: { user: 'admin' } },
    { methods: ['password'], password: { user: { name: 'admin', domain: { id: 'default' }, password: 12345 } } },
  ]) {
    const r = await cloud.request('POST', '/v3/auth/tokens', { body: { auth: { identity } } });
    assert.equal(r.status, 400, `${JSON.stringify(identity)}: ${r.status} ${r.text}`);
    assertFault(r, 400);
  }
  assertFault(await cloud.request('POST', '/v3/auth/tokens', { body: { auth: {} } }), 400);
  assertFault(await cloud.request('POST', '/v3/auth/tokens', { body: { auth: { identity: [] } } }), 400);
  assertFault(await cloud.request('POST', '/v3/auth/tokens', { body: { auth: { identity: { methods: ['password'], password: pw }, scope: { project: 'admin' } } } }), 400);
  // A method the server does not offer: 401, as Keystone.
  assertFault(await cloud.request('POST', '/v3/auth/tokens', { body: { auth: { identity: { methods: ['kerberos'], kerberos: {} } } } }), 401);
});

test('oversized body: 413', { timeout: 30_000 }, async () => {
  const big = JSON.stringify({ project: { name: 'big', description: 'x'.repeat(120_000) } });
  assert.ok(big.length > 114688);
  const r = await raw('POST', '/v3/projects', big);
  assertFault(r, 413);
  assert.equal(r.body.error.title, 'Request Entity Too Large');
  // Sent without a Content-Length (chunked), the limit still holds.
  const enc = new TextEncoder().encode(big);
  const stream = new ReadableStream({
    start(c) { for (let i = 0; i < enc.length; i += 16384) c.enqueue(enc.subarray(i, i + 16384)); c.close(); },
  });
  const res = await fetch(`${cloud.url}/v3/projects`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Auth-Token': admin }, body: stream, duplex: 'half',
  } as RequestInit);
  const text = await res.text();
  assertFault({ status: res.status, headers: res.headers, body: JSON.parse(text), text }, 413);
  // Just below the limit is fine (and a 400 for the too-long description is not what we get).
  const ok = JSON.stringify({ project: { name: 'big-ok', description: 'x'.repeat(100_000) } });
  assertStatus(await raw('POST', '/v3/projects', ok), 201);
  const list = await cloud.request('GET', '/v3/projects?name=big', { token: admin });
  assert.deepEqual(list.body.projects, []);
});

test('unknown ids: 404 with Keystone\'s message', { timeout: 30_000 }, async () => {
  const id = 'f'.repeat(32);
  for (const [kind, path] of [
    ['project', 'projects'], ['user', 'users'], ['role', 'roles'], ['group', 'groups'], ['domain', 'domains'],
    ['region', 'regions'], ['service', 'services'], ['endpoint', 'endpoints'],
  ] as const) {
    assertFault(await cloud.request('GET', `/v3/${path}/${id}`, { token: admin }), 404, `Could not find ${kind}: ${id}.`);
    assertFault(await cloud.request('DELETE', `/v3/${path}/${id}`, { token: admin }), 404, `Could not find ${kind}: ${id}.`);
    const patchBody = { [kind]: kind === 'endpoint' ? { url: 'http://127.0.0.1/' } : kind === 'service' ? { type: 'x' } : { description: 'x' } };
    assertFault(await cloud.request('PATCH', `/v3/${path}/${id}`, { token: admin, body: patchBody }), 404, `Could not find ${kind}: ${id}.`);
  }
  // A project id is not a domain id, and the other way round.
  const p = (await post('/v3/projects', { project: { name: 'not-a-domain' } })).body.project.id;
  assertFault(await cloud.request('GET', `/v3/domains/${p}`, { token: admin }), 404, `Could not find domain: ${p}.`);
  // Grants naming unknown things.
  const users = await cloud.request('GET', '/v3/users?name=admin', { token: admin });
  const adminId = users.body.users[0].id;
  const roles = await cloud.request('GET', '/v3/roles?name=admin', { token: admin });
  const roleId = roles.body.roles[0].id;
  assertFault(await cloud.request('PUT', `/v3/projects/${id}/users/${adminId}/roles/${roleId}`, { token: admin }), 404, `Could not find project: ${id}.`);
  assertFault(await cloud.request('PUT', `/v3/projects/${p}/users/${id}/roles/${roleId}`, { token: admin }), 404, `Could not find user: ${id}.`);
  assertFault(await cloud.request('PUT', `/v3/projects/${p}/users/${adminId}/roles/${id}`, { token: admin }), 404, `Could not find role: ${id}.`);
  assertFault(await cloud.request('PUT', `/v3/groups/${id}/users/${adminId}`, { token: admin }), 404, `Could not find group: ${id}.`);
  assertFault(await cloud.request('GET', `/v3/projects/${p}/users/${adminId}/roles/${roleId}`, { token: admin }), 404);
  // A parent or domain that does not exist.
  assertFault(await post('/v3/projects', { project: { name: 'orphan', parent_id: id } }), 404);
  assertFault(await post('/v3/projects', { project: { name: 'orphan', domain_id: id } }), 404);
  assertFault(await cloud.request('GET', '/v3/no-such-thing', { token: admin }), 404, 'The resource could not be found.');
  const list = await cloud.request('GET', '/v3/projects?name=orphan', { token: admin });
  assert.deepEqual(list.body.projects, []);
});

test('duplicate names: 409, the original intact', { timeout: 30_000 }, async () => {
  const d = (await post('/v3/domains', { domain: { name: 'dup-domain', description: 'first' } })).body.domain;
  const p = (await post('/v3/projects', { project: { name: 'dup-project', domain_id: d.id, description: 'first' } })).body.project;
  const u = (await post('/v3/users', { user: { name: 'dup-user', domain_id: d.id, password: 'first-pw', email: 'first' } })).body.user;
  const g = (await post('/v3/groups', { group: { name: 'dup-group', domain_id: d.id, description: 'first' } })).body.group;
  const r = (await post('/v3/roles', { role: { name: 'dup-role', description: 'first' } })).body.role;

  assertFault(await post('/v3/domains', { domain: { name: 'dup-domain', description: 'second' } }), 409,
    'Conflict occurred attempting to store project - it is not permitted to have two projects acting as domains with the same name: dup-domain.');
  assertFault(await post('/v3/projects', { project: { name: 'dup-project', domain_id: d.id, description: 'second' } }), 409,
    /^Conflict occurred attempting to store project - it is not permitted to have two projects with either the same name or same id in the same domain: name is dup-project, project id [0-9a-f]{32}\.$/);
  assertFault(await post('/v3/users', { user: { name: 'dup-user', domain_id: d.id, password: 'second-pw', email: 'second' } }), 409,
    `Conflict occurred attempting to store user - Duplicate entry found with name dup-user at domain ID ${d.id}.`);
  assertFault(await post('/v3/groups', { group: { name: 'dup-group', domain_id: d.id, description: 'second' } }), 409,
    `Conflict occurred attempting to store group - Duplicate entry found with name dup-group at domain ID ${d.id}.`);
  assertFault(await post('/v3/roles', { role: { name: 'dup-role', description: 'second' } }), 409,
    'Conflict occurred attempting to store role - Duplicate entry found with name dup-role.');

  const get = async (path: string) => (await cloud.request('GET', path, { token: admin })).body;
  assert.equal((await get(`/v3/domains?name=dup-domain`)).domains.length, 1);
  assert.equal((await get(`/v3/domains/${d.id}`)).domain.description, 'first');
  const ps = (await get(`/v3/projects?name=dup-project&domain_id=${d.id}`)).projects;
  assert.deepEqual(ps.map((x: { id: string; description: string }) => [x.id, x.description]), [[p.id, 'first']]);
  const us = (await get(`/v3/users?name=dup-user&domain_id=${d.id}`)).users;
  assert.deepEqual(us.map((x: { id: string; email: string }) => [x.id, x.email]), [[u.id, 'first']]);
  const gs = (await get(`/v3/groups?name=dup-group&domain_id=${d.id}`)).groups;
  assert.deepEqual(gs.map((x: { id: string; description: string }) => [x.id, x.description]), [[g.id, 'first']]);
  const rs = (await get('/v3/roles?name=dup-role')).roles;
  assert.deepEqual(rs.map((x: { id: string; description: string }) => [x.id, x.description]), [[r.id, 'first']]);
  // The original user's password is still the first one; the failed create set none.
  assertStatus(await post('/v3/auth/tokens', passwordAuth({ id: u.id }, 'first-pw'), ''), 201);
  assertFault(await post('/v3/auth/tokens', passwordAuth({ id: u.id }, 'second-pw'), ''), 401, UNAUTH);
});

test('tokens: none, tampered, revoked, wrong password, disabled user', { timeout: 30_000 }, async () => {
  // No token.
  const none = await cloud.request('GET', '/v3/users');
  assertFault(none, 401, UNAUTH);
  assert.match(none.headers.get('www-authenticate') ?? '', /^Keystone uri="http:\/\/127\.0\.0\.1:\d+/);
  // A tampered caller token: 401 with WWW-Authenticate.
  const bad = await cloud.request('GET', '/v3/users', { token: tamper(admin) });
  assertFault(bad, 401, UNAUTH);
  assert.match(bad.headers.get('www-authenticate') ?? '', /^Keystone uri="/);
  assertFault(await cloud.request('GET', '/v3/users', { token: 'not-a-token' }), 401, UNAUTH);
  // A tampered subject token: 404.
  assertFault(await cloud.request('GET', '/v3/auth/tokens', { token: admin, headers: { 'X-Subject-Token': tamper(admin) } }), 404, 'Could not recognize Fernet token');
  const head = await cloud.request('HEAD', '/v3/auth/tokens', { token: admin, headers: { 'X-Subject-Token': tamper(admin) } });
  assert.equal(head.status, 404);
  assert.match(head.headers.get('x-openstack-request-id') ?? '', /^req-/);
  assertFault(await cloud.request('GET', '/v3/auth/tokens', { token: admin }), 404);
  // A tampered token given to the token auth method: 404 (TokenNotFound), as Keystone.
  assertFault(await cloud.request('POST', '/v3/auth/tokens', { body: { auth: { identity: { methods: ['token'], token: { id: tamper(admin) } } } } }), 404, 'Could not recognize Fernet token');

  // Wrong password, unknown user, unknown domain.
  const uid = await makeUser('token-tester', 'right-password');
  assertFault(await post('/v3/auth/tokens', passwordAuth({ id: uid }, 'wrong-password'), ''), 401, UNAUTH);
  assertFault(await post('/v3/auth/tokens', passwordAuth({ name: 'token-tester', domain: { id: 'default' } }, 'wrong-password'), ''), 401, UNAUTH);
  assertFault(await post('/v3/auth/tokens', passwordAuth({ name: 'nobody', domain: { id: 'default' } }, 'right-password'), ''), 401, UNAUTH);
  assertFault(await post('/v3/auth/tokens', passwordAuth({ id: 'f'.repeat(32) }, 'right-password'), ''), 401, UNAUTH);
  assertFault(await post('/v3/auth/tokens', passwordAuth({ name: 'token-tester', domain: { name: 'NoSuchDomain' } }, 'right-password'), ''), 401);
  // Right password: a token, which a revocation kills.
  const ok = await post('/v3/auth/tokens', passwordAuth({ id: uid }, 'right-password'), '');
  assertStatus(ok, 201);
  const tok = ok.headers.get('x-subject-token')!;
  assertStatus(await cloud.request('GET', '/v3/auth/tokens', { token: tok, headers: { 'X-Subject-Token': tok } }), 200);
  assertStatus(await cloud.request('DELETE', '/v3/auth/tokens', { token: admin, headers: { 'X-Subject-Token': tok } }), 204);
  assertFault(await cloud.request('GET', '/v3/auth/tokens', { token: admin, headers: { 'X-Subject-Token': tok } }), 404);
  assertFault(await cloud.request('GET', '/v3/auth/projects', { token: tok }), 401, UNAUTH);

  // A disabled user: no token (the same 401 with or without the right password), and its existing tokens die.
  const ok2 = await post('/v3/auth/tokens', passwordAuth({ id: uid }, 'right-password'), '');
  const tok2 = ok2.headers.get('x-subject-token')!;
  assertStatus(await cloud.request('PATCH', `/v3/users/${uid}`, { token: admin, body: { user: { enabled: false } } }), 200);
  assertFault(await post('/v3/auth/tokens', passwordAuth({ id: uid }, 'right-password'), ''), 401, UNAUTH);
  assertFault(await post('/v3/auth/tokens', passwordAuth({ id: uid }, 'wrong-password'), ''), 401, UNAUTH);
  assertFault(await cloud.request('GET', '/v3/auth/tokens', { token: admin, headers: { 'X-Subject-Token': tok2 } }), 404);
  // A user in a disabled domain cannot authenticate either.
  const d = (await post('/v3/domains', { domain: { name: 'soon-disabled' } })).body.domain.id;
  const du = (await post('/v3/users', { user: { name: 'in-domain', domain_id: d, password: 'pw' } })).body.user.id;
  assertStatus(await post('/v3/auth/tokens', passwordAuth({ id: du }, 'pw'), ''), 201);
  assertStatus(await cloud.request('PATCH', `/v3/domains/${d}`, { token: admin, body: { domain: { enabled: false } } }), 200);
  assertFault(await post('/v3/auth/tokens', passwordAuth({ id: du }, 'pw'), ''), 401, UNAUTH);
});

test('a member token on admin APIs: 403', { timeout: 30_000 }, async () => {
  const project = (await post('/v3/projects', { project: { name: 'member-project' } })).body.project.id;
  const uid = await makeUser('just-a-member', 'member-pw');
  const member = (await cloud.request('GET', '/v3/roles?name=member', { token: admin })).body.roles[0].id;
  assertStatus(await cloud.request('PUT', `/v3/projects/${project}/users/${uid}/roles/${member}`, { token: admin }), 204);
  const t = await post('/v3/auth/tokens', passwordAuth({ id: uid }, 'member-pw', { project: { id: project } }), '');
  assertStatus(t, 201);
  const tok = t.headers.get('x-subject-token')!;
  assert.deepEqual(t.body.token.roles.map((r: { name: string }) => r.name).sort(), ['member', 'reader']);

  const denied = (action: string) => new RegExp(`^You are not authorized to perform the requested action: ${action.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.$`);
  assertFault(await post('/v3/users', { user: { name: 'by-member' } }, tok), 403, denied('identity:create_user'));
  assertFault(await post('/v3/projects', { project: { name: 'by-member' } }, tok), 403, denied('identity:create_project'));
  assertFault(await post('/v3/domains', { domain: { name: 'by-member' } }, tok), 403, denied('identity:create_domain'));
  assertFault(await post('/v3/roles', { role: { name: 'by-member' } }, tok), 403, denied('identity:create_role'));
  assertFault(await cloud.request('PUT', `/v3/projects/${project}/users/${uid}/roles/${member}`, { token: tok }), 403, denied('identity:create_grant'));
  assertFault(await cloud.request('GET', '/v3/users', { token: tok }), 403, denied('identity:list_users'));
  assertFault(await cloud.request('DELETE', `/v3/projects/${project}`, { token: tok }), 403, denied('identity:delete_project'));
  assertFault(await post('/v3/services', { service: { type: 'by-member' } }, tok), 403, denied('identity:create_service'));
  // Its own things it may see.
  assertStatus(await cloud.request('GET', `/v3/users/${uid}`, { token: tok }), 200);
  assertStatus(await cloud.request('GET', `/v3/projects/${project}`, { token: tok }), 200);
  // Nothing was created.
  for (const [path, key] of [['/v3/users?name=by-member', 'users'], ['/v3/projects?name=by-member', 'projects'], ['/v3/roles?name=by-member', 'roles'], ['/v3/domains?name=by-member', 'domains']]) {
    const r = await cloud.request('GET', path!, { token: admin });
    assert.deepEqual(r.body[key!], [], path);
  }
});

test('deleting an enabled domain or a project with children: 403', { timeout: 30_000 }, async () => {
  const d = (await post('/v3/domains', { domain: { name: 'enabled-domain' } })).body.domain.id;
  const inside = (await post('/v3/projects', { project: { name: 'inside', domain_id: d } })).body.project.id;
  assertFault(await cloud.request('DELETE', `/v3/domains/${d}`, { token: admin }), 403, 'Cannot delete a domain that is enabled, please disable it first.');
  assertStatus(await cloud.request('GET', `/v3/projects/${inside}`, { token: admin }), 200);
  assertFault(await cloud.request('DELETE', '/v3/domains/default', { token: admin }), 403);

  const parent = (await post('/v3/projects', { project: { name: 'parent' } })).body.project.id;
  const child = (await post('/v3/projects', { project: { name: 'child', parent_id: parent } })).body.project.id;
  assertFault(await cloud.request('DELETE', `/v3/projects/${parent}`, { token: admin }), 403,
    `Cannot delete the project ${parent} since it is not a leaf in the hierarchy. Use the cascade option if you want to delete a whole subtree.`);
  assertFault(await cloud.request('DELETE', `/v3/projects/${parent}?cascade`, { token: admin }), 403,
    `Cannot delete project ${parent} since its subtree contains enabled projects.`);
  // Disabling a parent with an enabled child is refused too.
  assertFault(await cloud.request('PATCH', `/v3/projects/${parent}`, { token: admin, body: { project: { enabled: false } } }), 403);
  for (const id of [parent, child]) {
    const r = await cloud.request('GET', `/v3/projects/${id}`, { token: admin });
    assertStatus(r, 200);
    assert.equal(r.body.project.enabled, true);
  }
  // Changing a parent is not allowed.
  assertFault(await cloud.request('PATCH', `/v3/projects/${child}`, { token: admin, body: { project: { parent_id: 'default' } } }), 403);
  // An immutable role cannot be deleted.
  const role = (await post('/v3/roles', { role: { name: 'immutable-role', options: { immutable: true } } })).body.role.id;
  assertFault(await cloud.request('DELETE', `/v3/roles/${role}`, { token: admin }), 403);
  assertStatus(await cloud.request('GET', `/v3/roles/${role}`, { token: admin }), 200);
});

test('a password failing password_regex leaves no user behind', { timeout: 30_000 }, async () => {
  // (The bootstrap admin's password, secret-admin, must pass the rules too.)
  const strict = recording(await startTestCloud({ identity: { password_regex: '^(?=.*[-\\d]).{8,}$', password_regex_description: 'at least 8 characters and a digit or dash' } }));
  try {
    const tok = await strict.adminToken();
    const r = await strict.request('POST', '/v3/users', { token: tok, body: { user: { name: 'weak', password: 'short', domain_id: 'default' } } });
    assertFault(r, 400, 'The password does not match the requirements: at least 8 characters and a digit or dash.');
    const list = await strict.request('GET', '/v3/users?name=weak', { token: tok });
    assert.deepEqual(list.body.users, []);
    // Keystone uses re.match: the pattern is anchored at the start, not searched for.
    const anchored = recording(await startTestCloud({ identity: { password_regex: '[a-z]{4}' } }));
    try {
      const at = await anchored.adminToken();
      assertFault(await anchored.request('POST', '/v3/users', { token: at, body: { user: { name: 'late-letters', password: '1234abcd' } } }), 400);
      assertStatus(await anchored.request('POST', '/v3/users', { token: at, body: { user: { name: 'early-letters', password: 'abcd1234' } } }), 201);
      const l = await anchored.request('GET', '/v3/users?name=late-letters', { token: at });
      assert.deepEqual(l.body.users, []);
    } finally { await anchored.close(); }
    // A good one works; changing it to a weak one fails and keeps the old password.
    const ok = await strict.request('POST', '/v3/users', { token: tok, body: { user: { name: 'strong', password: 'longer-1-password', domain_id: 'default' } } });
    assertStatus(ok, 201);
    const id = ok.body.user.id;
    assertFault(await strict.request('PATCH', `/v3/users/${id}`, { token: tok, body: { user: { password: 'weak', email: 'changed' } } }), 400);
    const u = await strict.request('GET', `/v3/users/${id}`, { token: tok });
    assert.equal(u.body.user.email, undefined, 'the failed update changed nothing');
    assertStatus(await strict.request('POST', '/v3/auth/tokens', { body: passwordAuth({ id }, 'longer-1-password') }), 201);
    assertFault(await strict.request('POST', `/v3/users/${id}/password`, { body: { user: { original_password: 'longer-1-password', password: 'weak' } } }), 400);
    assertStatus(await strict.request('POST', '/v3/auth/tokens', { body: passwordAuth({ id }, 'longer-1-password') }), 201);
  } finally {
    await strict.close();
  }
});

test('expired tokens: 401 as a caller, 404 as a subject, allowed with allow_expired', { timeout: 30_000 }, async () => {
  const short = recording(await startTestCloud({ identity: { token_expiration: 1 } }));
  try {
    const auth = () => short.request('POST', '/v3/auth/tokens', { body: passwordAuth({ name: 'admin', domain: { id: 'default' } }, short.adminPassword, { project: { name: 'admin', domain: { id: 'default' } } }) });
    const first = await auth();
    assertStatus(first, 201);
    const old = first.headers.get('x-subject-token')!;
    await new Promise((r) => setTimeout(r, 2100));
    const expired = await short.request('GET', '/v3/users', { token: old });
    assertFault(expired, 401, UNAUTH);
    assert.match(expired.headers.get('www-authenticate') ?? '', /^Keystone uri="/);
    const fresh = (await auth()).headers.get('x-subject-token')!;
    assertFault(await short.request('GET', '/v3/auth/tokens', { token: fresh, headers: { 'X-Subject-Token': old } }), 404, 'Failed to validate token');
    const allowed = await short.request('GET', '/v3/auth/tokens?allow_expired=1', { token: fresh, headers: { 'X-Subject-Token': old } });
    assertStatus(allowed, 200);
    assert.ok(new Date(allowed.body.token.expires_at).getTime() < Date.now());
    // An expired token cannot be exchanged for a new one (TokenNotFound, as Keystone).
    assertFault(await short.request('POST', '/v3/auth/tokens', { body: { auth: { identity: { methods: ['token'], token: { id: old } } } } }), 404, 'Failed to validate token');
  } finally {
    await short.close();
  }
});

test('no 500 anywhere above', { timeout: 30_000 }, () => {
  assert.ok(seen.length > 100, `requests recorded: ${seen.length}`);
  assert.deepEqual(seen.filter(([status]) => status >= 500), []);
});
