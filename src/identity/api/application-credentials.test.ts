// Application credentials and access rules through HTTP: create (secret shown once), authenticate
// by id or name, what the token carries, restrictions, deletion revoking tokens, clean-up, and
// Keystone's 4xx for bad input.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestCloud, type TestCloud } from '../testing.js';
import { assertFault, assertStatus } from '../../common/testing/assert.js';

let cloud: TestCloud;
let admin: string;
let projectId: string;
let userId: string;
let userToken: string;
let memberRole: { id: string; name: string };
let extraRole: { id: string; name: string };
let unheldRole: { id: string; name: string };

const req = (method: string, path: string, token?: string, body?: unknown) => cloud.request(method, path, { token, body });
const base = () => `/v3/users/${userId}/application_credentials`;

async function createRole(name: string): Promise<{ id: string; name: string }> {
  const r = await req('POST', '/v3/roles', admin, { role: { name } });
  assertStatus(r, 201);
  return { id: r.body.role.id, name };
}

async function appCredAuth(cred: Record<string, unknown>) {
  const r = await req('POST', '/v3/auth/tokens', undefined, { auth: { identity: { methods: ['application_credential'], application_credential: cred } } });
  return { ...r, token: r.headers.get('x-subject-token') ?? '' };
}

const validate = (token: string) => cloud.request('GET', '/v3/auth/tokens', { token: admin, headers: { 'X-Subject-Token': token } });

before(async () => {
  cloud = await startTestCloud();
  admin = await cloud.adminToken();
  const p = await req('POST', '/v3/projects', admin, { project: { name: 'ac-project', domain_id: 'default' } });
  projectId = p.body.project.id;
  const u = await req('POST', '/v3/users', admin, { user: { name: 'ac-user', password: 'ac-pw', domain_id: 'default' } });
  userId = u.body.user.id;
  memberRole = await createRole('ac-member');
  extraRole = await createRole('ac-extra');
  unheldRole = await createRole('ac-unheld');
  for (const r of [memberRole, extraRole]) assertStatus(await req('PUT', `/v3/projects/${projectId}/users/${userId}/roles/${r.id}`, admin), 204);
  const t = await req('POST', '/v3/auth/tokens', undefined, {
    auth: { identity: { methods: ['password'], password: { user: { id: userId, password: 'ac-pw' } } }, scope: { project: { id: projectId } } },
  });
  assertStatus(t, 201);
  userToken = t.headers.get('x-subject-token')!;
});
after(async () => { await cloud?.close(); });

test('create (secret once), show, list, authenticate by id and by name, delete revokes', async () => {
  const c = await req('POST', base(), userToken, { application_credential: { name: 'one', description: 'first', roles: [{ name: memberRole.name }] } });
  assertStatus(c, 201);
  const ac = c.body.application_credential;
  assert.equal(typeof ac.secret, 'string');
  assert.ok(ac.secret.length >= 80, 'a generated 64-byte secret');
  assert.equal(ac.project_id, projectId);
  assert.equal(ac.user_id, userId);
  assert.equal(ac.unrestricted, false);
  assert.equal(ac.expires_at, null);
  assert.deepEqual(ac.roles.map((r: any) => r.id), [memberRole.id]);
  assert.match(ac.links.self, new RegExp(`/v3/users/${userId}/application_credentials/${ac.id}$`));

  const shown = await req('GET', `${base()}/${ac.id}`, userToken);
  assertStatus(shown, 200);
  assert.equal(shown.body.application_credential.secret, undefined, 'the secret is never shown again');
  const stored = await cloud.database.db.selectFrom('application_credential').select('secret_hash').where('id', '=', ac.id).executeTakeFirst();
  assert.ok(stored && stored.secret_hash !== ac.secret && stored.secret_hash.startsWith('$2'), 'stored as a bcrypt hash');

  const byId = await appCredAuth({ id: ac.id, secret: ac.secret });
  assertStatus(byId, 201);
  const tok = byId.body.token;
  assert.deepEqual(tok.methods, ['application_credential']);
  assert.equal(tok.user.id, userId);
  assert.equal(tok.project.id, projectId);
  assert.deepEqual(tok.roles.map((r: any) => r.id), [memberRole.id], 'only the credential\'s roles');
  assert.deepEqual(tok.application_credential, { id: ac.id, name: 'one', restricted: true });
  assertStatus(await validate(byId.token), 200);

  const byName = await appCredAuth({ name: 'one', secret: ac.secret, user: { id: userId } });
  assertStatus(byName, 201);
  const byUserName = await appCredAuth({ name: 'one', secret: ac.secret, user: { name: 'ac-user', domain: { name: 'Default' } } });
  assertStatus(byUserName, 201);

  // A restricted credential's token cannot make or delete credentials, nor manage trusts.
  assertFault(await req('POST', base(), byId.token, { application_credential: { name: 'child' } }), 403);
  assertFault(await req('DELETE', `${base()}/${ac.id}`, byId.token), 403);
  assertFault(await req('POST', '/v3/OS-TRUST/trusts', byId.token, {
    trust: { trustor_user_id: userId, trustee_user_id: userId, project_id: projectId, impersonation: false, roles: [{ id: memberRole.id }] },
  }), 403);
  // Nor rescope itself.
  assertFault(await req('POST', '/v3/auth/tokens', undefined, { auth: { identity: { methods: ['token'], token: { id: byId.token } }, scope: { project: { id: projectId } } } }), 403);

  const list = await req('GET', base(), userToken);
  assertStatus(list, 200);
  assert.deepEqual(list.body.application_credentials.map((x: any) => x.name), ['one']);
  assert.equal((await req('GET', `${base()}?name=one`, userToken)).body.application_credentials.length, 1);
  assert.equal((await req('GET', `${base()}?name=two`, userToken)).body.application_credentials.length, 0);

  assert.equal((await req('DELETE', `${base()}/${ac.id}`, userToken)).status, 204);
  assertFault(await validate(byId.token), 404);
  assertFault(await req('GET', `/v3/projects/${projectId}`, byName.token), 401);
  assertFault(await appCredAuth({ id: ac.id, secret: ac.secret }), 401);
  assertFault(await req('GET', `${base()}/${ac.id}`, userToken), 404);
});

test('unrestricted credentials, given secrets, expiry and the token\'s lifetime', async () => {
  const expires = new Date(Date.now() + 3600_000).toISOString().replace('Z', '').replace(/\.(\d{3})$/, '.$1456');
  const c = await req('POST', base(), userToken, { application_credential: { name: 'mine', secret: 'my-secret', unrestricted: true, expires_at: expires } });
  assertStatus(c, 201);
  const ac = c.body.application_credential;
  assert.equal(ac.secret, 'my-secret');
  assert.equal(ac.expires_at, expires, 'microseconds kept, no zone, as Keystone');
  assert.deepEqual(ac.roles.map((r: any) => r.id).sort(), [memberRole.id, extraRole.id].sort(), 'all the token\'s roles by default');

  const t = await appCredAuth({ id: ac.id, secret: 'my-secret' });
  assertStatus(t, 201);
  assert.ok(new Date(t.body.token.expires_at).getTime() <= new Date(`${expires}Z`).getTime() + 1000, 'the token ends with the credential');
  assert.equal(t.body.token.application_credential.restricted, false);
  // An unrestricted credential may create another.
  const child = await req('POST', base(), t.token, { application_credential: { name: 'child' } });
  assertStatus(child, 201);

  // Expired: no more tokens, and the ones it gave end.
  await cloud.database.db.updateTable('application_credential').set({ expires_at: '2001-01-01T00:00:00.000000' }).where('id', '=', ac.id).execute();
  cloud.identity.ctx.changed();
  assertFault(await appCredAuth({ id: ac.id, secret: 'my-secret' }), 401);
  assertFault(await validate(t.token), 404);

  for (const id of [ac.id, child.body.application_credential.id]) assert.equal((await req('DELETE', `${base()}/${id}`, userToken)).status, 204);
});

test('a user who loses a role loses it from the credential\'s tokens', async () => {
  const c = await req('POST', base(), userToken, { application_credential: { name: 'roles' } });
  assertStatus(c, 201);
  const ac = c.body.application_credential;
  assertStatus(await req('DELETE', `/v3/projects/${projectId}/users/${userId}/roles/${extraRole.id}`, admin), 204);
  const t = await appCredAuth({ id: ac.id, secret: ac.secret });
  assertStatus(t, 201);
  assert.deepEqual(t.body.token.roles.map((r: any) => r.id), [memberRole.id]);
  assertStatus(await req('PUT', `/v3/projects/${projectId}/users/${userId}/roles/${extraRole.id}`, admin), 204);
  userToken = (await req('POST', '/v3/auth/tokens', undefined, {
    auth: { identity: { methods: ['password'], password: { user: { id: userId, password: 'ac-pw' } } }, scope: { project: { id: projectId } } },
  })).headers.get('x-subject-token')!;
  assert.equal((await req('DELETE', `${base()}/${ac.id}`, userToken)).status, 204);
});

test('access rules: shared per user, carried by the token, not deletable while used', async () => {
  const rules = [{ path: '/v2.1/servers/*/ips', method: 'GET', service: 'compute' }];
  const c = await req('POST', base(), userToken, { application_credential: { name: 'ruled', access_rules: rules } });
  assertStatus(c, 201);
  const ac = c.body.application_credential;
  const { id: ruleId, ...rest } = ac.access_rules[0];
  assert.deepEqual(rest, rules[0]);
  // A second credential with the same rule shares it.
  const c2 = await req('POST', base(), userToken, { application_credential: { name: 'ruled2', access_rules: rules } });
  assertStatus(c2, 201);
  assert.equal(c2.body.application_credential.access_rules[0].id, ruleId);

  const t = await appCredAuth({ id: ac.id, secret: ac.secret });
  assertStatus(t, 201);
  assert.deepEqual(t.body.token.application_credential.access_rules, [{ id: ruleId, ...rules[0] }]);

  const list = await req('GET', `/v3/users/${userId}/access_rules`, userToken);
  assertStatus(list, 200);
  assert.deepEqual(list.body.access_rules.map((r: any) => r.id), [ruleId]);
  assert.equal((await req('GET', `/v3/users/${userId}/access_rules?service=image`, userToken)).body.access_rules.length, 0);
  const one = await req('GET', `/v3/users/${userId}/access_rules/${ruleId}`, userToken);
  assertStatus(one, 200);
  assert.equal(one.body.access_rule.path, rules[0].path);

  assertFault(await req('DELETE', `/v3/users/${userId}/access_rules/${ruleId}`, userToken), 403, 'May not delete access rule in use');
  for (const x of [ac.id, c2.body.application_credential.id]) assert.equal((await req('DELETE', `${base()}/${x}`, userToken)).status, 204);
  assert.equal((await req('GET', `/v3/users/${userId}/access_rules`, userToken)).body.access_rules.length, 1, 'rules outlive their credentials');
  assert.equal((await req('DELETE', `/v3/users/${userId}/access_rules/${ruleId}`, userToken)).status, 204);
  assertFault(await req('GET', `/v3/users/${userId}/access_rules/${ruleId}`, userToken), 404);
});

test('bad input: Keystone\'s 4xx and nothing stored', async () => {
  const post = (body: unknown, token = userToken, user = userId) => req('POST', `/v3/users/${user}/application_credentials`, token, body);
  assertFault(await post({ application_credential: { name: 'x', roles: [{ id: unheldRole.id }] } }), 400, 'Invalid application credential: Cannot create an application credential with unassigned role');
  assertFault(await post({ application_credential: { name: 'x', roles: [{ name: 'no-such-role' }] } }), 404);
  assertFault(await post({ application_credential: { name: 'x', expires_at: 'soon' } }), 400);
  assertFault(await post({ application_credential: { name: 'x', expires_at: '2001-01-01T00:00:00' } }), 400);
  assertFault(await post({ application_credential: { name: 'x', unrestricted: 'yes' } }), 400);
  assertFault(await post({ application_credential: { name: 'x', access_rules: [{ path: 'no-slash', method: 'GET', service: 'compute' }] } }), 400);
  assertFault(await post({ application_credential: { name: 'x', access_rules: [{ path: '/x', method: 'FETCH', service: 'compute' }] } }), 400);
  assertFault(await post({ application_credential: {} }), 400);
  assertFault(await post({ application_credential: { name: 'x' } }, admin), 403, /another user|not authorized/);
  assertFault(await post({ application_credential: { name: 'x' } }, ''), 401);
  assert.equal((await req('GET', base(), userToken)).body.application_credentials.length, 0);
  assert.equal((await req('GET', `/v3/users/${userId}/access_rules`, userToken)).body.access_rules.length, 0);

  const ok = await post({ application_credential: { name: 'dup' } });
  assertStatus(ok, 201);
  assertFault(await post({ application_credential: { name: 'dup' } }), 409);

  const secret = ok.body.application_credential.secret;
  const id = ok.body.application_credential.id;
  assertFault(await appCredAuth({ id, secret: 'wrong' }), 401);
  assertFault(await appCredAuth({ id }), 401);
  assertFault(await appCredAuth({ id: 'f00dbeef', secret }), 401);
  assertFault(await appCredAuth({ name: 'dup', secret: 'wrong', user: { id: userId } }), 401);
  assertFault(await appCredAuth({ name: 'nope', secret, user: { id: userId } }), 401);
  assertFault(await appCredAuth({ name: 'dup', secret }), 400);
  assertFault(await appCredAuth({ secret }), 400);

  // Another user cannot read or delete it, even through its own path.
  const o = await req('POST', '/v3/users', admin, { user: { name: 'ac-other', password: 'o-pw', domain_id: 'default' } });
  const oid = o.body.user.id;
  assertStatus(await req('PUT', `/v3/projects/${projectId}/users/${oid}/roles/${memberRole.id}`, admin), 204);
  const otok = (await req('POST', '/v3/auth/tokens', undefined, {
    auth: { identity: { methods: ['password'], password: { user: { id: oid, password: 'o-pw' } } }, scope: { project: { id: projectId } } },
  })).headers.get('x-subject-token')!;
  assertFault(await req('GET', `/v3/users/${oid}/application_credentials/${id}`, otok), 403);
  assertFault(await req('DELETE', `/v3/users/${oid}/application_credentials/${id}`, otok), 403);
  assertFault(await req('GET', `/v3/users/${userId}/access_rules`, otok), 403);
  assertFault(await req('GET', `${base()}/f00dbeef`, userToken), 404);
  assertFault(await req('DELETE', `${base()}/f00dbeef`, userToken), 404);
  assertFault(await req('DELETE', `/v3/users/${userId}/access_rules/f00dbeef`, userToken), 404);
  assert.equal((await req('DELETE', `${base()}/${id}`, userToken)).status, 204);
});

test('credentials go with their user and their project', async () => {
  const u = await req('POST', '/v3/users', admin, { user: { name: 'ac-temp', password: 't-pw', domain_id: 'default' } });
  const uid = u.body.user.id;
  const p = await req('POST', '/v3/projects', admin, { project: { name: 'ac-temp-project', domain_id: 'default' } });
  const pid = p.body.project.id;
  for (const proj of [projectId, pid]) assertStatus(await req('PUT', `/v3/projects/${proj}/users/${uid}/roles/${memberRole.id}`, admin), 204);
  const tokenOn = async (proj: string) => (await req('POST', '/v3/auth/tokens', undefined, {
    auth: { identity: { methods: ['password'], password: { user: { id: uid, password: 't-pw' } } }, scope: { project: { id: proj } } },
  })).headers.get('x-subject-token')!;

  const onTemp = await req('POST', `/v3/users/${uid}/application_credentials`, await tokenOn(pid), { application_credential: { name: 'on-temp' } });
  assertStatus(onTemp, 201);
  const onMain = await req('POST', `/v3/users/${uid}/application_credentials`, await tokenOn(projectId), { application_credential: { name: 'on-main', access_rules: [{ path: '/x', method: 'GET', service: 'image' }] } });
  assertStatus(onMain, 201);

  assertStatus(await req('PATCH', `/v3/projects/${pid}`, admin, { project: { enabled: false } }), 200);
  assertStatus(await req('DELETE', `/v3/projects/${pid}`, admin), 204);
  assertFault(await req('GET', `/v3/users/${uid}/application_credentials/${onTemp.body.application_credential.id}`, admin), 404);
  assertStatus(await req('GET', `/v3/users/${uid}/application_credentials/${onMain.body.application_credential.id}`, admin), 200);

  assertStatus(await req('DELETE', `/v3/users/${uid}`, admin), 204);
  assertFault(await req('GET', `/v3/users/${uid}/application_credentials/${onMain.body.application_credential.id}`, admin), 404);
  const left = await cloud.database.db.selectFrom('access_rule').select('id').where('user_id', '=', uid).execute();
  assert.equal(left.length, 0);
});
