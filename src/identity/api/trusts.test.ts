// OS-TRUST through HTTP: creating trusts, using them for trust-scoped tokens (impersonation,
// implied roles, remaining uses, redelegation), revoking them, and Keystone's 4xx for bad input.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestCloud, type TestCloud } from '../testing.js';
import { assertFault, assertStatus } from '../../common/testing/assert.js';

let cloud: TestCloud;
let admin: string;
let projectId: string;
let trustorId: string;
let trusteeId: string;
let otherId: string;
let delegated: { id: string; name: string };
let notDelegated: { id: string; name: string };
let implied: { id: string; name: string };
let unheld: { id: string; name: string };
let trustorToken: string;

const req = (method: string, path: string, token?: string, body?: unknown) => cloud.request(method, path, { token, body });

async function passwordToken(userId: string, password: string, scope?: unknown) {
  const r = await req('POST', '/v3/auth/tokens', undefined, {
    auth: { identity: { methods: ['password'], password: { user: { id: userId, password } } }, ...(scope ? { scope } : {}) },
  });
  return { ...r, token: r.headers.get('x-subject-token') ?? '' };
}

const trustScope = (id: string) => ({ 'OS-TRUST:trust': { id } });

async function createRole(name: string): Promise<{ id: string; name: string }> {
  const r = await req('POST', '/v3/roles', admin, { role: { name } });
  assertStatus(r, 201);
  return { id: r.body.role.id, name };
}

async function createUser(name: string): Promise<string> {
  const r = await req('POST', '/v3/users', admin, { user: { name, password: `${name}-pw`, domain_id: 'default' } });
  assertStatus(r, 201);
  return r.body.user.id;
}

async function createTrust(body: Record<string, unknown>, token = trustorToken) {
  return req('POST', '/v3/OS-TRUST/trusts', token, {
    trust: { trustor_user_id: trustorId, trustee_user_id: trusteeId, project_id: projectId, impersonation: true, roles: [{ name: delegated.name }], ...body },
  });
}

before(async () => {
  cloud = await startTestCloud();
  admin = await cloud.adminToken();
  const p = await req('POST', '/v3/projects', admin, { project: { name: 'trust-project', domain_id: 'default' } });
  assertStatus(p, 201);
  projectId = p.body.project.id;
  trustorId = await createUser('trustor');
  trusteeId = await createUser('trustee');
  otherId = await createUser('other');
  delegated = await createRole('Delegated');
  notDelegated = await createRole('NotDelegated');
  implied = await createRole('ImpliedByDelegated');
  unheld = await createRole('Unheld');
  assertStatus(await req('PUT', `/v3/roles/${delegated.id}/implies/${implied.id}`, admin), 201);
  for (const r of [delegated, notDelegated]) {
    assertStatus(await req('PUT', `/v3/projects/${projectId}/users/${trustorId}/roles/${r.id}`, admin), 204);
  }
  const t = await passwordToken(trustorId, 'trustor-pw', { project: { id: projectId } });
  assert.equal(t.status, 201, t.text);
  trustorToken = t.token;
});
after(async () => { await cloud?.close(); });

test('create, show, list and inspect the roles of a trust', async () => {
  const c = await createTrust({ remaining_uses: null, expires_at: null, color: 'blue' });
  assertStatus(c, 201);
  const t = c.body.trust;
  assert.equal(t.trustor_user_id, trustorId);
  assert.equal(t.trustee_user_id, trusteeId);
  assert.equal(t.project_id, projectId);
  assert.equal(t.impersonation, true);
  assert.equal(t.expires_at, null);
  assert.equal(t.remaining_uses, null);
  assert.equal(t.color, 'blue', 'extra attributes are kept');
  assert.deepEqual(t.roles.map((r: any) => r.name), [delegated.name]);
  assert.match(t.links.self, new RegExp(`/v3/OS-TRUST/trusts/${t.id}$`));
  assert.match(t.roles_links.self, /\/roles$/);

  const g = await req('GET', `/v3/OS-TRUST/trusts/${t.id}`, trustorToken);
  assertStatus(g, 200);
  assert.equal(g.body.trust.id, t.id);
  assert.equal(g.body.trust.roles[0].id, delegated.id);

  // The trustee may read it too; another user may not.
  const trustee = await passwordToken(trusteeId, 'trustee-pw');
  assertStatus(await req('GET', `/v3/OS-TRUST/trusts/${t.id}`, trustee.token), 200);
  const other = await passwordToken(otherId, 'other-pw');
  assertFault(await req('GET', `/v3/OS-TRUST/trusts/${t.id}`, other.token), 403);

  const byTrustor = await req('GET', `/v3/OS-TRUST/trusts?trustor_user_id=${trustorId}`, trustorToken);
  assertStatus(byTrustor, 200);
  assert.ok(byTrustor.body.trusts.some((x: any) => x.id === t.id));
  assert.equal(byTrustor.body.trusts[0].roles, undefined, 'lists carry no roles');
  assertStatus(await req('GET', `/v3/OS-TRUST/trusts?trustee_user_id=${trusteeId}`, trustee.token), 200);
  // Listing someone else's trusts, or all of them, is for admins.
  assertFault(await req('GET', `/v3/OS-TRUST/trusts?trustor_user_id=${trustorId}`, other.token), 403);
  assertFault(await req('GET', '/v3/OS-TRUST/trusts', trustorToken), 403);
  const all = await req('GET', '/v3/OS-TRUST/trusts', admin);
  assertStatus(all, 200);
  assert.ok(all.body.trusts.some((x: any) => x.id === t.id));

  const roles = await req('GET', `/v3/OS-TRUST/trusts/${t.id}/roles`, trustorToken);
  assertStatus(roles, 200);
  assert.deepEqual(roles.body.roles.map((r: any) => r.id), [delegated.id]);
  const role = await req('GET', `/v3/OS-TRUST/trusts/${t.id}/roles/${delegated.id}`, trustorToken);
  assertStatus(role, 200);
  assert.match(role.body.role.links.self, new RegExp(`/v3/roles/${delegated.id}$`));
  assertStatus(await req('HEAD', `/v3/OS-TRUST/trusts/${t.id}/roles/${delegated.id}`, trustorToken), 200);
  assertFault(await req('GET', `/v3/OS-TRUST/trusts/${t.id}/roles/${notDelegated.id}`, trustorToken), 404);
  assert.equal((await req('HEAD', `/v3/OS-TRUST/trusts/${t.id}/roles/${notDelegated.id}`, trustorToken)).status, 404);

  assert.equal((await req('DELETE', `/v3/OS-TRUST/trusts/${t.id}`, trustorToken)).status, 204);
  assertFault(await req('GET', `/v3/OS-TRUST/trusts/${t.id}`, trustorToken), 404);
});

test('a trust-scoped token: impersonation, implied roles, only the trustee, revoked with the trust', async () => {
  const c = await createTrust({});
  assertStatus(c, 201);
  const id = c.body.trust.id;

  const tok = await passwordToken(trusteeId, 'trustee-pw', trustScope(id));
  assert.equal(tok.status, 201, tok.text);
  const body = tok.body.token;
  assert.equal(body.user.id, trustorId, 'impersonation: the token speaks for the trustor');
  assert.equal(body.project.id, projectId);
  assert.deepEqual(body['OS-TRUST:trust'], { id, impersonation: true, trustor_user: { id: trustorId }, trustee_user: { id: trusteeId } });
  assert.deepEqual(body.roles.map((r: any) => r.name).sort(), [delegated.name, implied.name].sort(), 'the trust roles and what they imply, nothing more');

  const v = await cloud.request('GET', '/v3/auth/tokens', { token: admin, headers: { 'X-Subject-Token': tok.token } });
  assertStatus(v, 200);
  assert.equal(v.body.token['OS-TRUST:trust'].id, id);

  // Only the trustee may use the trust.
  const other = await passwordToken(otherId, 'other-pw', trustScope(id));
  assertFault(other, 403, 'User is not a trustee.');
  // A trust-scoped token cannot be rescoped.
  const rescope = await req('POST', '/v3/auth/tokens', undefined, { auth: { identity: { methods: ['token'], token: { id: tok.token } }, scope: { project: { id: projectId } } } });
  assertFault(rescope, 403);
  // Nor may it create application credentials.
  assertFault(await req('POST', `/v3/users/${trustorId}/application_credentials`, tok.token, { application_credential: { name: 'nope' } }), 403);

  // Deleting the trust revokes its tokens.
  assert.equal((await req('DELETE', `/v3/OS-TRUST/trusts/${id}`, trustorToken)).status, 204);
  assertFault(await cloud.request('GET', '/v3/auth/tokens', { token: admin, headers: { 'X-Subject-Token': tok.token } }), 404);
  assertFault(await req('GET', `/v3/projects/${projectId}`, tok.token), 401);
  assertFault(await req('POST', '/v3/auth/tokens', undefined, { auth: { identity: { methods: ['password'], password: { user: { id: trusteeId, password: 'trustee-pw' } } }, scope: trustScope(id) } }), 401);
});

test('without impersonation the token is the trustee\'s; a token method can scope to the trust', async () => {
  const c = await createTrust({ impersonation: false });
  assertStatus(c, 201);
  const unscoped = await passwordToken(trusteeId, 'trustee-pw');
  const r = await req('POST', '/v3/auth/tokens', undefined, { auth: { identity: { methods: ['token'], token: { id: unscoped.token } }, scope: trustScope(c.body.trust.id) } });
  assertStatus(r, 201);
  assert.equal(r.body.token.user.id, trusteeId);
  assert.equal(r.body.token['OS-TRUST:trust'].impersonation, false);
  assertStatus(await req('DELETE', `/v3/OS-TRUST/trusts/${c.body.trust.id}`, trustorToken), 204);
});

test('remaining_uses are consumed; a used-up trust is gone', async () => {
  const c = await createTrust({ remaining_uses: 1, impersonation: false, expires_at: '2099-01-01T00:00:00Z' });
  assertStatus(c, 201);
  assert.equal(c.body.trust.remaining_uses, 1);
  assert.equal(c.body.trust.expires_at, '2099-01-01T00:00:00.000000Z');
  const first = await passwordToken(trusteeId, 'trustee-pw', trustScope(c.body.trust.id));
  assert.equal(first.status, 201, first.text);
  const second = await passwordToken(trusteeId, 'trustee-pw', trustScope(c.body.trust.id));
  assert.equal(second.status, 401, second.text);
  assertFault(await req('GET', `/v3/OS-TRUST/trusts/${c.body.trust.id}`, trustorToken), 404);
  // The token already issued stays valid.
  assertStatus(await cloud.request('GET', '/v3/auth/tokens', { token: admin, headers: { 'X-Subject-Token': first.token } }), 200);
  assert.equal((await req('DELETE', `/v3/OS-TRUST/trusts/${c.body.trust.id}`, trustorToken)).status, 204);
});

test('an expired trust gives no token and ends the tokens it gave', async () => {
  const c = await createTrust({ impersonation: false, expires_at: '2098-01-01T00:00:00' });
  assertStatus(c, 201);
  const id = c.body.trust.id;
  const tok = await passwordToken(trusteeId, 'trustee-pw', trustScope(id));
  assert.equal(tok.status, 201, tok.text);
  await cloud.database.db.updateTable('trust').set({ expires_at: '2001-01-01T00:00:00.000000' }).where('id', '=', id).execute();
  cloud.identity.ctx.changed();
  const again = await passwordToken(trusteeId, 'trustee-pw', trustScope(id));
  assert.equal(again.status, 401, again.text);
  assertFault(await cloud.request('GET', '/v3/auth/tokens', { token: admin, headers: { 'X-Subject-Token': tok.token } }), 404);
  assertFault(await req('GET', `/v3/OS-TRUST/trusts/${id}`, trustorToken), 404);
  assert.equal((await req('DELETE', `/v3/OS-TRUST/trusts/${id}`, trustorToken)).status, 204);
});

test('a trustor who loses a delegated role breaks the trust', async () => {
  const role = await createRole('Temporary');
  assertStatus(await req('PUT', `/v3/projects/${projectId}/users/${trustorId}/roles/${role.id}`, admin), 204);
  const tt = (await passwordToken(trustorId, 'trustor-pw', { project: { id: projectId } })).token;
  const c = await createTrust({ impersonation: false, roles: [{ id: role.id }] }, tt);
  assertStatus(c, 201);
  const tok = await passwordToken(trusteeId, 'trustee-pw', trustScope(c.body.trust.id));
  assert.equal(tok.status, 201, tok.text);
  assertStatus(await req('DELETE', `/v3/projects/${projectId}/users/${trustorId}/roles/${role.id}`, admin), 204);
  assertFault(await cloud.request('GET', '/v3/auth/tokens', { token: admin, headers: { 'X-Subject-Token': tok.token } }), 404);
  const again = await passwordToken(trusteeId, 'trustee-pw', trustScope(c.body.trust.id));
  assert.equal(again.status, 403, again.text);
  // Deleting the role removes it from the trust, and the now role-less trust goes too.
  assertStatus(await req('DELETE', `/v3/roles/${role.id}`, admin), 204);
  assertFault(await req('GET', `/v3/OS-TRUST/trusts/${c.body.trust.id}`, trustorToken), 404);
});

test('redelegation: a trust-scoped token creates a narrower trust; deleting the first deletes both', async () => {
  const c = await createTrust({ impersonation: false, allow_redelegation: true });
  assertStatus(c, 201);
  assert.equal(c.body.trust.redelegation_count, 3);
  const tok = await passwordToken(trusteeId, 'trustee-pw', trustScope(c.body.trust.id));
  assert.equal(tok.status, 201, tok.text);
  const sub = await req('POST', '/v3/OS-TRUST/trusts', tok.token, {
    trust: { trustor_user_id: trusteeId, trustee_user_id: otherId, project_id: projectId, impersonation: false, roles: [{ id: delegated.id }] },
  });
  assertStatus(sub, 201);
  assert.equal(sub.body.trust.redelegated_trust_id, c.body.trust.id);
  assert.equal(sub.body.trust.redelegation_count, 0);
  // Impersonation cannot be added, roles cannot grow, uses cannot be limited.
  const bad = (extra: Record<string, unknown>) => req('POST', '/v3/OS-TRUST/trusts', tok.token, {
    trust: { trustor_user_id: trusteeId, trustee_user_id: otherId, project_id: projectId, impersonation: false, roles: [{ id: delegated.id }], ...extra },
  });
  assertFault(await bad({ impersonation: true }), 403);
  assertFault(await bad({ roles: [{ id: notDelegated.id }] }), 403);
  assertFault(await bad({ remaining_uses: 2 }), 403);

  // The redelegated trust works for its trustee, with the original trustor's roles.
  const use = await passwordToken(otherId, 'other-pw', trustScope(sub.body.trust.id));
  assert.equal(use.status, 201, use.text);
  assert.deepEqual(use.body.token.roles.map((r: any) => r.id).sort(), [delegated.id, implied.id].sort());

  assert.equal((await req('DELETE', `/v3/OS-TRUST/trusts/${c.body.trust.id}`, trustorToken)).status, 204);
  assertFault(await req('GET', `/v3/OS-TRUST/trusts/${sub.body.trust.id}`, admin), 404);
  assertFault(await cloud.request('GET', '/v3/auth/tokens', { token: admin, headers: { 'X-Subject-Token': use.token } }), 404);
});

test('bad input: Keystone\'s 4xx and nothing stored', async () => {
  const before = (await req('GET', '/v3/OS-TRUST/trusts', admin)).body.trusts.length;
  assertFault(await createTrust({ roles: [{ name: 'no-such-role' }] }), 404, 'Role no-such-role is not defined');
  assertFault(await createTrust({ roles: [{ id: unheld.id }] }), 404, `Could not find role: ${unheld.id}.`);
  assertFault(await createTrust({ trustee_user_id: 'f00dbeef' }), 404, 'Could not find user: f00dbeef.');
  assertFault(await createTrust({ project_id: 'f00dbeef' }), 404, 'Could not find project: f00dbeef.');
  assertFault(await createTrust({ roles: [] }), 403);
  assertFault(await createTrust({ trustor_user_id: otherId }), 403);
  assertFault(await createTrust({ expires_at: 'bad.123Z' }), 400);
  assertFault(await createTrust({ expires_at: '2001-01-01T00:00:00Z' }), 400);
  assertFault(await createTrust({ remaining_uses: 0 }), 400);
  assertFault(await createTrust({ impersonation: 'yes' }), 400);
  assertFault(await createTrust({ roles: [{ id: delegated.id, name: delegated.name }] }), 400);
  assertFault(await createTrust({ allow_redelegation: true, redelegation_count: 9 }), 403);
  assertFault(await req('POST', '/v3/OS-TRUST/trusts', trustorToken, { trust: { trustor_user_id: trustorId, trustee_user_id: trusteeId } }), 400);
  assertFault(await req('POST', '/v3/OS-TRUST/trusts', trustorToken, {}), 403);
  assertFault(await req('POST', '/v3/OS-TRUST/trusts', undefined, { trust: {} }), 401);
  assert.equal((await req('GET', '/v3/OS-TRUST/trusts', admin)).body.trusts.length, before);

  assertFault(await req('GET', '/v3/OS-TRUST/trusts/f00dbeef', admin), 404);
  assertFault(await req('DELETE', '/v3/OS-TRUST/trusts/f00dbeef', admin), 404);
  assertFault(await req('POST', '/v3/auth/tokens', undefined, { auth: { identity: { methods: ['password'], password: { user: { id: trusteeId, password: 'trustee-pw' } } }, scope: trustScope('f00dbeef') } }), 401);
  assertFault(await req('POST', '/v3/auth/tokens', undefined, { auth: { identity: { methods: ['password'], password: { user: { id: trusteeId, password: 'trustee-pw' } } }, scope: { 'OS-TRUST:trust': {} } } }), 400);
});

test('deleting the trustee or the project deletes their trusts', async () => {
  const gone = await createUser('short-lived');
  const c1 = await createTrust({ trustee_user_id: gone, impersonation: false });
  assertStatus(c1, 201);
  assertStatus(await req('DELETE', `/v3/users/${gone}`, admin), 204);
  assertFault(await req('GET', `/v3/OS-TRUST/trusts/${c1.body.trust.id}`, admin), 404);

  const p = await req('POST', '/v3/projects', admin, { project: { name: 'trust-project-2', domain_id: 'default' } });
  const pid = p.body.project.id;
  assertStatus(await req('PUT', `/v3/projects/${pid}/users/${trustorId}/roles/${delegated.id}`, admin), 204);
  const c2 = await createTrust({ project_id: pid, impersonation: false });
  assertStatus(c2, 201);
  assertStatus(await req('PATCH', `/v3/projects/${pid}`, admin, { project: { enabled: false } }), 200);
  assertStatus(await req('DELETE', `/v3/projects/${pid}`, admin), 204);
  assertFault(await req('GET', `/v3/OS-TRUST/trusts/${c2.body.trust.id}`, admin), 404);
});
