// OS-OAUTH1 through HTTP against a real service: consumers, the three-legged flow with requests
// signed here with HMAC-SHA1 exactly as Tempest's OAuth client signs them, the oauth1 auth method
// and its tokens, access-token management, revocation, and bad input.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { startTestCloud, type TestCloud } from '../testing.js';

let cloud: TestCloud;
let admin: string;
let adminUserId: string;
let adminProjectId: string;
let roles: Record<string, string>;

const req = (method: string, path: string, token: string | undefined, body?: unknown) => cloud.request(method, path, { token, body });

// --- an OAuth1 client, written from RFC 5849 as Tempest's oauth_token_client.py --------------------

const esc = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());

function oauthHeader(o: { method: string; url: string; key: string; secret: string; token?: string; tokenSecret?: string; callback?: string; verifier?: string; timestamp?: number }): string {
  const ts = String(o.timestamp ?? Math.floor(Date.now() / 1000));
  const params: Array<[string, string]> = [
    ['oauth_nonce', String(BigInt('0x' + randomBytes(8).toString('hex'))) + ts],
    ['oauth_timestamp', ts],
    ['oauth_version', '1.0'],
    ['oauth_signature_method', 'HMAC-SHA1'],
    ['oauth_consumer_key', o.key],
  ];
  if (o.token) params.push(['oauth_token', o.token]);
  if (o.callback) params.push(['oauth_callback', o.callback]);
  if (o.verifier) params.push(['oauth_verifier', o.verifier]);
  const normalized = params.map(([k, v]) => [esc(k), esc(v)]).sort((a, b) => (a[0]! < b[0]! ? -1 : a[0]! > b[0]! ? 1 : 0)).map(([k, v]) => `${k}=${v}`).join('&');
  const u = new URL(o.url);
  const base = `${esc(o.method.toUpperCase())}&${esc(`${u.protocol}//${u.host.toLowerCase()}${u.pathname}`)}&${esc(normalized)}`;
  const sig = createHmac('sha1', `${esc(o.secret)}&${esc(o.tokenSecret ?? '')}`).update(base).digest('base64');
  params.push(['oauth_signature', sig]);
  return 'OAuth ' + params.map(([k, v]) => `${esc(k)}="${esc(v)}"`).join(', ');
}

const form = (text: string) => Object.fromEntries(text.split('&').map((kv) => kv.split('=') as [string, string]));

async function newConsumer(): Promise<{ id: string; secret: string }> {
  const c = await req('POST', '/v3/OS-OAUTH1/consumers', admin, { consumer: { description: 'test consumer' } });
  assert.equal(c.status, 201, c.text);
  return c.body.consumer;
}

async function requestToken(consumer: { id: string; secret: string }, projectId = adminProjectId) {
  const url = `${cloud.url}/v3/OS-OAUTH1/request_token`;
  const r = await cloud.request('POST', '/v3/OS-OAUTH1/request_token', { headers: { 'Requested-Project-Id': projectId, Authorization: oauthHeader({ method: 'POST', url, key: consumer.id, secret: consumer.secret, callback: 'oob' }) } });
  return r;
}

async function accessToken(consumer: { id: string; secret: string }, rt: { oauth_token: string; oauth_token_secret: string }, verifier: string) {
  const url = `${cloud.url}/v3/OS-OAUTH1/access_token`;
  return cloud.request('POST', '/v3/OS-OAUTH1/access_token', { headers: { Authorization: oauthHeader({ method: 'POST', url, key: consumer.id, secret: consumer.secret, token: rt.oauth_token, tokenSecret: rt.oauth_token_secret, verifier }) } });
}

async function fullFlow(roleIds: string[]) {
  const consumer = await newConsumer();
  const rt = form((await requestToken(consumer)).text) as { oauth_token: string; oauth_token_secret: string };
  const auth = await req('PUT', `/v3/OS-OAUTH1/authorize/${rt.oauth_token}`, admin, { roles: roleIds.map((id) => ({ id })) });
  assert.equal(auth.status, 200, auth.text);
  const at = await accessToken(consumer, rt, auth.body.token.oauth_verifier);
  assert.equal(at.status, 201, at.text);
  return { consumer, access: form(at.text) as { oauth_token: string; oauth_token_secret: string; oauth_expires_at: string } };
}

async function oauthToken(consumer: { id: string; secret: string }, access: { oauth_token: string; oauth_token_secret: string }, secret = consumer.secret) {
  const url = `${cloud.url}/v3/auth/tokens`;
  return cloud.request('POST', '/v3/auth/tokens', {
    body: { auth: { identity: { methods: ['oauth1'], oauth1: {} } } },
    headers: { Authorization: oauthHeader({ method: 'POST', url, key: consumer.id, secret, token: access.oauth_token, tokenSecret: access.oauth_token_secret }) },
  });
}

before(async () => {
  cloud = await startTestCloud();
  admin = await cloud.adminToken();
  const v = await cloud.request('GET', '/v3/auth/tokens', { token: admin, headers: { 'X-Subject-Token': admin } });
  adminUserId = v.body.token.user.id;
  adminProjectId = v.body.token.project.id;
  roles = Object.fromEntries((await req('GET', '/v3/roles', admin)).body.roles.map((r: { id: string; name: string }) => [r.name, r.id]));
});
after(async () => { await cloud?.close(); });

test('consumers: create shows the secret once; show, list, update, delete', async () => {
  const c = await req('POST', '/v3/OS-OAUTH1/consumers', admin, { consumer: { description: 'my app', color: 'blue' } });
  assert.equal(c.status, 201, c.text);
  const consumer = c.body.consumer;
  assert.match(consumer.id, /^[0-9a-f]{32}$/);
  assert.match(consumer.secret, /^[0-9a-f]{32}$/);
  assert.equal(consumer.description, 'my app');
  assert.equal(consumer.color, 'blue');
  assert.equal(consumer.links.self, `${cloud.url}/v3/OS-OAUTH1/consumers/${consumer.id}`);

  const shown = await req('GET', `/v3/OS-OAUTH1/consumers/${consumer.id}`, admin);
  assert.equal(shown.status, 200);
  assert.equal(shown.body.consumer.secret, undefined);
  for (const k of ['id', 'description', 'links', 'color']) assert.deepEqual(shown.body.consumer[k], consumer[k]);
  const list = await req('GET', '/v3/OS-OAUTH1/consumers', admin);
  const mine = list.body.consumers.find((x: { id: string }) => x.id === consumer.id);
  assert.ok(mine && mine.secret === undefined);

  const upd = await req('PATCH', `/v3/OS-OAUTH1/consumers/${consumer.id}`, admin, { consumer: { description: 'renamed' } });
  assert.equal(upd.status, 200, upd.text);
  assert.equal(upd.body.consumer.description, 'renamed');
  assert.equal(upd.body.consumer.color, 'blue');
  assert.equal((await req('GET', `/v3/OS-OAUTH1/consumers/${consumer.id}`, admin)).body.consumer.description, 'renamed');
  // The secret cannot be set, an update must change something, and the id cannot change.
  assert.equal((await req('PATCH', `/v3/OS-OAUTH1/consumers/${consumer.id}`, admin, { consumer: { secret: 'x' } })).status, 400);
  assert.equal((await req('PATCH', `/v3/OS-OAUTH1/consumers/${consumer.id}`, admin, { consumer: {} })).status, 400);
  assert.equal((await req('PATCH', `/v3/OS-OAUTH1/consumers/${consumer.id}`, admin, {})).status, 400);
  assert.equal((await req('PATCH', `/v3/OS-OAUTH1/consumers/${consumer.id}`, admin, { consumer: { id: 'other' } })).status, 400);
  assert.equal((await req('PATCH', `/v3/OS-OAUTH1/consumers/${consumer.id}`, admin, { consumer: { description: 5 } })).status, 400);
  assert.equal((await req('POST', '/v3/OS-OAUTH1/consumers', admin, { consumer: { description: ['x'] } })).status, 400);

  assert.equal((await req('DELETE', `/v3/OS-OAUTH1/consumers/${consumer.id}`, admin)).status, 204);
  assert.equal((await req('GET', `/v3/OS-OAUTH1/consumers/${consumer.id}`, admin)).status, 404);
  assert.equal((await req('DELETE', `/v3/OS-OAUTH1/consumers/${consumer.id}`, admin)).status, 404);
  assert.equal((await req('GET', '/v3/OS-OAUTH1/consumers', undefined)).status, 401);
});

test('the three-legged flow and an oauth1 token carrying the authorized roles', async () => {
  const consumer = await newConsumer();
  const r = await requestToken(consumer);
  assert.equal(r.status, 201, r.text);
  assert.equal(r.headers.get('content-type'), 'application/x-www-form-urlencoded');
  const rt = form(r.text);
  assert.match(rt.oauth_token!, /^[0-9a-f]{32}$/);
  assert.match(rt.oauth_token_secret!, /^[0-9a-f]{32}$/);
  assert.match(rt.oauth_expires_at!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);

  const auth = await req('PUT', `/v3/OS-OAUTH1/authorize/${rt.oauth_token}`, admin, { roles: [{ name: 'member' }] });
  assert.equal(auth.status, 200, auth.text);
  const verifier = auth.body.token.oauth_verifier;
  assert.match(verifier, /^[a-zA-Z0-9]{8}$/);

  const a = await accessToken(consumer, rt as { oauth_token: string; oauth_token_secret: string }, verifier);
  assert.equal(a.status, 201, a.text);
  const at = form(a.text) as { oauth_token: string; oauth_token_secret: string; oauth_expires_at: string };
  // The request token is spent.
  assert.equal((await accessToken(consumer, rt as { oauth_token: string; oauth_token_secret: string }, verifier)).status, 404);

  const shown = await req('GET', `/v3/users/${adminUserId}/OS-OAUTH1/access_tokens/${at.oauth_token}`, admin);
  assert.equal(shown.status, 200, shown.text);
  assert.deepEqual({ ...shown.body.access_token, links: undefined }, {
    id: at.oauth_token, authorizing_user_id: adminUserId, project_id: adminProjectId, consumer_id: consumer.id, expires_at: at.oauth_expires_at, links: undefined,
  });
  const base = `${cloud.url}/v3/users/${adminUserId}/OS-OAUTH1/access_tokens/${at.oauth_token}`;
  assert.deepEqual(shown.body.access_token.links, { roles: `${base}/roles`, self: base });
  const list = await req('GET', `/v3/users/${adminUserId}/OS-OAUTH1/access_tokens`, admin);
  assert.ok(list.body.access_tokens.some((x: { id: string }) => x.id === at.oauth_token));
  const rl = await req('GET', `/v3/users/${adminUserId}/OS-OAUTH1/access_tokens/${at.oauth_token}/roles`, admin);
  assert.deepEqual(rl.body.roles.map((x: { id: string }) => x.id), [roles.member]);
  assert.equal((await req('GET', `/v3/users/${adminUserId}/OS-OAUTH1/access_tokens/${at.oauth_token}/roles/${roles.member}`, admin)).body.role.name, 'member');
  assert.equal((await req('GET', `/v3/users/${adminUserId}/OS-OAUTH1/access_tokens/${at.oauth_token}/roles/${roles.admin}`, admin)).status, 404);

  // Authenticate with the access token.
  const t = await oauthToken(consumer, at);
  assert.equal(t.status, 201, t.text);
  const token = t.body.token;
  assert.deepEqual(token.methods, ['oauth1']);
  assert.equal(token.user.id, adminUserId);
  assert.equal(token.project.id, adminProjectId);
  assert.deepEqual(token['OS-OAUTH1'], { access_token_id: at.oauth_token, consumer_id: consumer.id });
  // member and what it implies, never admin (which the user holds but did not delegate).
  const names = token.roles.map((x: { name: string }) => x.name).sort();
  assert.ok(names.includes('member') && !names.includes('admin'), names.join(','));
  const oauthTok = t.headers.get('x-subject-token')!;
  const v = await cloud.request('GET', '/v3/auth/tokens', { token: admin, headers: { 'X-Subject-Token': oauthTok } });
  assert.equal(v.status, 200);
  assert.deepEqual(v.body.token['OS-OAUTH1'], token['OS-OAUTH1']);

  // An OAuth token cannot be exchanged, nor manage access tokens or authorize request tokens.
  assert.equal((await req('POST', '/v3/auth/tokens', undefined, { auth: { identity: { methods: ['token'], token: { id: oauthTok } } } })).status, 403);
  assert.equal((await req('GET', `/v3/users/${adminUserId}/OS-OAUTH1/access_tokens`, oauthTok)).status, 403);

  // A bad signature on the auth request, a wrong consumer secret.
  assert.equal((await oauthToken(consumer, at, 'f'.repeat(32))).status, 401);
  assert.equal((await oauthToken(consumer, { ...at, oauth_token_secret: 'bad' })).status, 401);

  // Deleting the access token revokes the token made from it.
  assert.equal((await req('DELETE', `/v3/users/${adminUserId}/OS-OAUTH1/access_tokens/${at.oauth_token}`, admin)).status, 204);
  assert.equal((await cloud.request('GET', '/v3/auth/tokens', { token: admin, headers: { 'X-Subject-Token': oauthTok } })).status, 404);
  assert.equal((await req('GET', `/v3/users/${adminUserId}/OS-OAUTH1/access_tokens/${at.oauth_token}`, admin)).status, 404);
  assert.equal((await oauthToken(consumer, at)).status, 404);
});

test('deleting a consumer deletes its access tokens and revokes their tokens', async () => {
  const { consumer, access } = await fullFlow([roles.member!]);
  const t = await oauthToken(consumer, access);
  assert.equal(t.status, 201, t.text);
  const tok = t.headers.get('x-subject-token')!;
  assert.equal((await req('DELETE', `/v3/OS-OAUTH1/consumers/${consumer.id}`, admin)).status, 204);
  assert.equal((await cloud.request('GET', '/v3/auth/tokens', { token: admin, headers: { 'X-Subject-Token': tok } })).status, 404);
  assert.equal((await req('GET', `/v3/users/${adminUserId}/OS-OAUTH1/access_tokens/${access.oauth_token}`, admin)).status, 404);
});

test('bad input on the signed endpoints gets 4xx', async () => {
  const consumer = await newConsumer();
  const url = `${cloud.url}/v3/OS-OAUTH1/request_token`;
  const post = (headers: Record<string, string>) => cloud.request('POST', '/v3/OS-OAUTH1/request_token', { headers });
  const sign = (o: Partial<Parameters<typeof oauthHeader>[0]> = {}) => oauthHeader({ method: 'POST', url, key: consumer.id, secret: consumer.secret, callback: 'oob', ...o });

  assert.equal((await post({ 'Requested-Project-Id': adminProjectId })).status, 400); // no Authorization
  assert.equal((await post({ 'Requested-Project-Id': adminProjectId, Authorization: 'Basic Zm9vOmJhcg==' })).status, 400);
  assert.equal((await post({ Authorization: sign() })).status, 400); // no Requested-Project-Id
  assert.equal((await post({ 'Requested-Project-Id': 'nope', Authorization: sign() })).status, 404);
  assert.equal((await post({ 'Requested-Project-Id': adminProjectId, Authorization: sign({ key: 'a'.repeat(32) }) })).status, 404);
  const badSig = await post({ 'Requested-Project-Id': adminProjectId, Authorization: sign({ secret: 'wrong' }) });
  assert.equal(badSig.status, 401);
  assert.equal(badSig.body.error.message, 'Invalid signature');
  const noCallback = await post({ 'Requested-Project-Id': adminProjectId, Authorization: sign({ callback: undefined }) });
  assert.equal(noCallback.status, 400);
  assert.match(noCallback.body.error.message, /invalid_request.*Missing callback URI/);
  const stale = await post({ 'Requested-Project-Id': adminProjectId, Authorization: sign({ timestamp: Math.floor(Date.now() / 1000) - 3600 }) });
  assert.equal(stale.status, 400);
  assert.match(stale.body.error.message, /Timestamp given is invalid/);
  assert.equal((await cloud.request('GET', '/v3/OS-OAUTH1/request_token', {})).status, 405);

  // Authorize: admin only, roles the user holds, well-formed.
  const rt = form((await requestToken(consumer)).text) as { oauth_token: string; oauth_token_secret: string };
  assert.equal((await req('PUT', `/v3/OS-OAUTH1/authorize/${rt.oauth_token}`, undefined, { roles: [{ id: roles.member }] })).status, 401);
  assert.equal((await req('PUT', `/v3/OS-OAUTH1/authorize/${'0'.repeat(32)}`, admin, { roles: [{ id: roles.member }] })).status, 404);
  assert.equal((await req('PUT', `/v3/OS-OAUTH1/authorize/${rt.oauth_token}`, admin, { roles: [{ id: roles.member, name: 'member' }] })).status, 400);
  assert.equal((await req('PUT', `/v3/OS-OAUTH1/authorize/${rt.oauth_token}`, admin, { roles: 'member' })).status, 400);
  assert.equal((await req('PUT', `/v3/OS-OAUTH1/authorize/${rt.oauth_token}`, admin, { roles: [{ name: 'no-such-role' }] })).status, 404);
  const other = await req('POST', '/v3/roles', admin, { role: { name: 'not-held' } });
  const notHeld = await req('PUT', `/v3/OS-OAUTH1/authorize/${rt.oauth_token}`, admin, { roles: [{ id: other.body.role.id }] });
  assert.equal(notHeld.status, 401);
  assert.match(notHeld.body.error.message, /authorizing user does not have role required/);

  // Access token: not before authorization, the right verifier, the right consumer.
  assert.equal((await accessToken(consumer, rt, 'abcdefgh')).status, 401);
  const verifier = (await req('PUT', `/v3/OS-OAUTH1/authorize/${rt.oauth_token}`, admin, { roles: [{ id: roles.member }] })).body.token.oauth_verifier;
  const wrongVerifier = await accessToken(consumer, rt, verifier === 'abcdefgh' ? 'hgfedcba' : 'abcdefgh');
  assert.equal(wrongVerifier.status, 401);
  assert.match(wrongVerifier.body.error.message, /verifier does not match/);
  assert.equal((await accessToken(consumer, rt, 'short')).status, 400);
  const other2 = await newConsumer();
  const wrongConsumer = await accessToken(other2, rt, verifier);
  assert.equal(wrongConsumer.status, 401);
  assert.equal((await accessToken(consumer, { ...rt, oauth_token_secret: 'bad' }, verifier)).status, 401);
  assert.equal((await cloud.request('POST', '/v3/OS-OAUTH1/access_token', {})).status, 400);
  assert.equal((await accessToken(consumer, rt, verifier)).status, 201);

  // The oauth1 auth method without a signed request.
  assert.equal((await req('POST', '/v3/auth/tokens', undefined, { auth: { identity: { methods: ['oauth1'], oauth1: {} } } })).status, 400);
  // Access token management is admin-only.
  const user = await req('POST', '/v3/users', admin, { user: { name: 'plain', password: 'pw', domain_id: 'default' } });
  await req('PUT', `/v3/projects/${adminProjectId}/users/${user.body.user.id}/roles/${roles.member}`, admin);
  const ut = await req('POST', '/v3/auth/tokens', undefined, { auth: { identity: { methods: ['password'], password: { user: { id: user.body.user.id, password: 'pw' } } }, scope: { project: { id: adminProjectId } } } });
  const plain = ut.headers.get('x-subject-token')!;
  assert.equal((await req('GET', `/v3/users/${user.body.user.id}/OS-OAUTH1/access_tokens`, plain)).status, 403);
  assert.equal((await req('POST', '/v3/OS-OAUTH1/consumers', plain, { consumer: {} })).status, 403);
});
