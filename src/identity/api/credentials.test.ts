// /v3/credentials, OS-EC2 and /v3/ec2tokens through HTTP against a real service: CRUD, the
// per-user isolation of Keystone's policy, encryption at rest, Debian's blob-only PATCH, delegated
// tokens kept away from credentials, and bad input answered with Keystone's 4xx.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { startTestCloud, type TestCloud } from '../testing.js';

let cloud: TestCloud;
let admin: string;
let projectId: string;
let memberRole: string;
const users: Record<string, { id: string; token: string }> = {};

const req = (method: string, path: string, token: string | undefined, body?: unknown) => cloud.request(method, path, { token, body });

async function makeUser(name: string): Promise<{ id: string; token: string }> {
  const u = await req('POST', '/v3/users', admin, { user: { name, password: 'pw-' + name, domain_id: 'default' } });
  assert.equal(u.status, 201, u.text);
  const a = await req('PUT', `/v3/projects/${projectId}/users/${u.body.user.id}/roles/${memberRole}`, admin);
  assert.equal(a.status, 204, a.text);
  const t = await req('POST', '/v3/auth/tokens', undefined, {
    auth: { identity: { methods: ['password'], password: { user: { id: u.body.user.id, password: 'pw-' + name } } }, scope: { project: { id: projectId } } },
  });
  assert.equal(t.status, 201, t.text);
  return { id: u.body.user.id, token: t.headers.get('x-subject-token')! };
}

before(async () => {
  cloud = await startTestCloud();
  admin = await cloud.adminToken();
  const p = await req('POST', '/v3/projects', admin, { project: { name: 'credproj', domain_id: 'default' } });
  projectId = p.body.project.id;
  memberRole = (await req('GET', '/v3/roles?name=member', admin)).body.roles[0].id;
  users.alice = await makeUser('alice');
  users.bob = await makeUser('bob');
});
after(async () => { await cloud?.close(); });

test('credential create, show, list, blob update and delete', async () => {
  const c = await req('POST', '/v3/credentials', admin, { credential: { user_id: users.alice!.id, type: 'cert', blob: 'seed-1', note: 'extra kept' } });
  assert.equal(c.status, 201, c.text);
  const cred = c.body.credential;
  assert.match(cred.id, /^[0-9a-f]{32}$/);
  assert.deepEqual({ ...cred, links: undefined }, { id: cred.id, user_id: users.alice!.id, project_id: null, type: 'cert', blob: 'seed-1', note: 'extra kept', links: undefined });
  assert.equal(cred.links.self, `${cloud.url}/v3/credentials/${cred.id}`);

  const got = await req('GET', `/v3/credentials/${cred.id}`, admin);
  assert.equal(got.status, 200);
  assert.deepEqual(got.body.credential, cred);

  const upd = await req('PATCH', `/v3/credentials/${cred.id}`, admin, { credential: { blob: 'seed-2' } });
  assert.equal(upd.status, 200, upd.text);
  assert.equal(upd.body.credential.blob, 'seed-2');
  assert.equal((await req('GET', `/v3/credentials/${cred.id}`, admin)).body.credential.blob, 'seed-2');

  // Debian's fix for LP#2159643: PATCH changes the blob only (Tempest's update test sends more).
  for (const body of [{ blob: 'x', project_id: projectId }, { blob: 'x', user_id: users.bob!.id }, { blob: 'x', type: 'ec2' }, { type: 'totp' }, {}]) {
    const r = await req('PATCH', `/v3/credentials/${cred.id}`, admin, { credential: body });
    assert.equal(r.status, 400, JSON.stringify(body));
  }
  const after = (await req('GET', `/v3/credentials/${cred.id}`, admin)).body.credential;
  assert.equal(after.blob, 'seed-2');
  assert.equal(after.user_id, users.alice!.id);

  const listed = await req('GET', '/v3/credentials?type=cert', admin);
  assert.ok(listed.body.credentials.some((x: { id: string }) => x.id === cred.id));
  assert.ok(listed.body.credentials.every((x: { type: string }) => x.type === 'cert'));
  assert.equal((await req('GET', `/v3/credentials?user_id=${users.bob!.id}`, admin)).body.credentials.length, 0);

  assert.equal((await req('DELETE', `/v3/credentials/${cred.id}`, admin)).status, 204);
  assert.equal((await req('GET', `/v3/credentials/${cred.id}`, admin)).status, 404);
  assert.equal((await req('DELETE', `/v3/credentials/${cred.id}`, admin)).status, 404);
});

test('an ec2 credential is identified by the SHA-256 of its access key; bad ec2 blobs are 400', async () => {
  const blob = JSON.stringify({ access: 'AKIAEXAMPLE', secret: 's3cr3t' });
  const c = await req('POST', '/v3/credentials', admin, { credential: { user_id: users.alice!.id, project_id: projectId, type: 'ec2', blob } });
  assert.equal(c.status, 201, c.text);
  assert.equal(c.body.credential.id, createHash('sha256').update('AKIAEXAMPLE').digest('hex'));
  assert.equal(c.body.credential.blob, blob);
  const dup = await req('POST', '/v3/credentials', admin, { credential: { user_id: users.alice!.id, project_id: projectId, type: 'ec2', blob } });
  assert.equal(dup.status, 409);

  const bad = async (credential: unknown, msg: RegExp) => {
    const r = await req('POST', '/v3/credentials', admin, { credential });
    assert.equal(r.status, 400, r.text);
    assert.match(r.body.error.message, msg);
  };
  await bad({ user_id: users.alice!.id, type: 'ec2', blob }, /./); // ec2 needs project_id
  await bad({ user_id: users.alice!.id, project_id: projectId, type: 'ec2', blob: '{not json' }, /Invalid blob in credential/);
  await bad({ user_id: users.alice!.id, project_id: projectId, type: 'ec2', blob: '{}' }, /Expecting to find blob/);
  await bad({ user_id: users.alice!.id, project_id: projectId, type: 'ec2', blob: '{"secret":"x"}' }, /Expecting to find access/);
  await bad({ user_id: users.alice!.id, type: 'cert' }, /./); // no blob
  await bad({ user_id: users.alice!.id, type: 'cert', blob: 42 }, /./);
  await bad('not-an-object', /./);
  const none = await req('POST', '/v3/credentials', admin, {});
  assert.equal(none.status, 400);

  // An ec2 credential's scope markers cannot be changed through PATCH.
  const id = c.body.credential.id;
  const r = await req('PATCH', `/v3/credentials/${id}`, admin, { credential: { blob: JSON.stringify({ access: 'AKIAEXAMPLE', secret: 'x', trust_id: 'abc' }) } });
  assert.equal(r.status, 400);
  assert.match(r.body.error.message, /trust_id can not be updated for credential/);
  const ok = await req('PATCH', `/v3/credentials/${id}`, admin, { credential: { blob: JSON.stringify({ access: 'AKIAEXAMPLE', secret: 'rotated' }) } });
  assert.equal(ok.status, 200, ok.text);
  assert.equal((await req('DELETE', `/v3/credentials/${id}`, admin)).status, 204);
});

test('blobs are encrypted at rest with the credential key repository', async () => {
  const c = await req('POST', '/v3/credentials', admin, { credential: { user_id: users.alice!.id, type: 'totp', blob: 'TOPSECRETSEED' } });
  const row = await cloud.database.db.selectFrom('credential').selectAll().where('id', '=', c.body.credential.id).executeTakeFirst();
  assert.ok(row);
  assert.ok(!String(row.encrypted_blob).includes('TOPSECRETSEED'));
  assert.match(String(row.encrypted_blob), /^gAAAAA/); // a Fernet token
  assert.match(String(row.key_hash), /^[0-9a-f]{40}$/);
  await req('DELETE', `/v3/credentials/${c.body.credential.id}`, admin);
});

test('a user sees, changes and deletes only its own credentials', async () => {
  const alice = users.alice!; const bob = users.bob!;
  const mine = await req('POST', '/v3/credentials', alice.token, { credential: { user_id: alice.id, type: 'cert', blob: 'alice-secret' } });
  assert.equal(mine.status, 201, mine.text);
  const id = mine.body.credential.id;
  // Not for somebody else.
  assert.equal((await req('POST', '/v3/credentials', alice.token, { credential: { user_id: bob.id, type: 'cert', blob: 'x' } })).status, 403);
  assert.equal((await req('POST', '/v3/credentials', alice.token, { credential: { type: 'cert', blob: 'x' } })).status, 403);

  const bobList = await req('GET', '/v3/credentials', bob.token);
  assert.equal(bobList.status, 200);
  assert.deepEqual(bobList.body.credentials, []);
  assert.equal((await req('GET', `/v3/credentials?user_id=${alice.id}`, bob.token)).body.credentials.length, 0);
  assert.equal((await req('GET', `/v3/credentials/${id}`, bob.token)).status, 403);
  assert.equal((await req('PATCH', `/v3/credentials/${id}`, bob.token, { credential: { blob: 'stolen' } })).status, 403);
  assert.equal((await req('DELETE', `/v3/credentials/${id}`, bob.token)).status, 403);

  const aliceList = await req('GET', '/v3/credentials', alice.token);
  assert.deepEqual(aliceList.body.credentials.map((c: { id: string }) => c.id), [id]);
  assert.equal((await req('GET', `/v3/credentials/${id}`, alice.token)).body.credential.blob, 'alice-secret');
  assert.equal((await req('PATCH', `/v3/credentials/${id}`, alice.token, { credential: { blob: 'rotated' } })).status, 200);
  // The admin sees everybody's.
  assert.ok((await req('GET', '/v3/credentials', admin)).body.credentials.some((c: { id: string }) => c.id === id));
  assert.equal((await req('DELETE', `/v3/credentials/${id}`, alice.token)).status, 204);
  assert.equal((await req('GET', '/v3/credentials', undefined)).status, 401);
});

test('OS-EC2: create, list, show, delete, and only for oneself', async () => {
  const alice = users.alice!; const bob = users.bob!;
  const base = `/v3/users/${alice.id}/credentials/OS-EC2`;
  const c = await req('POST', base, alice.token, { tenant_id: projectId });
  assert.equal(c.status, 201, c.text);
  const ec2 = c.body.credential;
  assert.equal(ec2.user_id, alice.id);
  assert.equal(ec2.tenant_id, projectId);
  assert.match(ec2.access, /^[0-9a-f]{32}$/);
  assert.match(ec2.secret, /^[0-9a-f]{32}$/);
  assert.equal(ec2.trust_id, null);
  assert.equal(ec2.links.self, `${cloud.url}${base}/${ec2.access}`);

  // Visible through /v3/credentials as an ec2 credential with Keystone's blob.
  const v3 = await req('GET', `/v3/credentials/${createHash('sha256').update(ec2.access).digest('hex')}`, alice.token);
  assert.equal(v3.status, 200);
  assert.deepEqual(JSON.parse(v3.body.credential.blob), { access: ec2.access, secret: ec2.secret, trust_id: null });

  const list = await req('GET', base, alice.token);
  assert.equal(list.status, 200);
  assert.deepEqual(list.body.credentials.map((x: { access: string }) => x.access), [ec2.access]);
  const shown = await req('GET', `${base}/${ec2.access}`, alice.token);
  assert.equal(shown.status, 200);
  for (const k of ['access', 'secret', 'user_id', 'tenant_id']) assert.equal(shown.body.credential[k], ec2[k]);

  // Bob cannot list, read, delete or create Alice's.
  assert.equal((await req('GET', base, bob.token)).status, 403);
  assert.equal((await req('GET', `${base}/${ec2.access}`, bob.token)).status, 403);
  assert.equal((await req('GET', `/v3/users/${bob.id}/credentials/OS-EC2/${ec2.access}`, bob.token)).status, 403);
  assert.equal((await req('DELETE', `/v3/users/${bob.id}/credentials/OS-EC2/${ec2.access}`, bob.token)).status, 403);
  assert.equal((await req('POST', base, bob.token, { tenant_id: projectId })).status, 403);

  // Bad input.
  assert.equal((await req('POST', base, alice.token, {})).status, 404); // no tenant_id: Keystone's "Could not find project: None."
  assert.equal((await req('POST', base, alice.token, { tenant_id: 'nope' })).status, 404);
  assert.equal((await req('POST', base, alice.token, { tenant_id: 'default' })).status, 404); // a domain
  assert.equal((await req('POST', base, alice.token, ['x'])).status, 400);
  assert.equal((await req('POST', '/v3/users/nope/credentials/OS-EC2', admin, { tenant_id: projectId })).status, 404);
  assert.equal((await req('GET', `${base}/unknown-access`, alice.token)).status, 404);

  assert.equal((await req('DELETE', `${base}/${ec2.access}`, alice.token)).status, 204);
  assert.equal((await req('GET', `${base}/${ec2.access}`, alice.token)).status, 404);
  assert.deepEqual((await req('GET', base, alice.token)).body.credentials, []);
});

/** AWS signature version 2 as keystoneclient's Ec2Signer computes it. */
function signV2(secret: string, verb: string, host: string, path: string, params: Record<string, string>): string {
  const q = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
  const all = { ...params, SignatureMethod: 'HmacSHA256' };
  const qs = Object.keys(all).sort().map((k) => `${q(k)}=${q(all[k as keyof typeof all]!)}`).join('&');
  return createHmac('sha256', secret).update(`${verb}\n${host}\n${path}\n${qs}`).digest('base64');
}

test('POST /v3/ec2tokens turns a signed EC2 request into a project token that cannot touch credentials', async () => {
  const alice = users.alice!;
  const ec2 = (await req('POST', `/v3/users/${alice.id}/credentials/OS-EC2`, alice.token, { tenant_id: projectId })).body.credential;
  const params = { SignatureVersion: '2', AWSAccessKeyId: ec2.access, Action: 'DescribeInstances', Timestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z') };
  const creds = { access: ec2.access, host: 'ec2.example:8773', verb: 'GET', path: '/', params, signature: signV2(ec2.secret, 'GET', 'ec2.example:8773', '/', params) };

  // Only services and admins may validate EC2 signatures.
  assert.equal((await req('POST', '/v3/ec2tokens', alice.token, { credentials: creds })).status, 403);
  const r = await req('POST', '/v3/ec2tokens', admin, { credentials: creds });
  assert.equal(r.status, 200, r.text);
  const ec2Token = r.headers.get('x-subject-token')!;
  assert.deepEqual(r.body.token.methods, ['ec2credential']);
  assert.equal(r.body.token.user.id, alice.id);
  assert.equal(r.body.token.project.id, projectId);
  assert.ok(r.body.token.roles.some((x: { name: string }) => x.name === 'member'));
  // Some clients sign without the port.
  const noPort = await req('POST', '/v3/ec2tokens', admin, { ec2Credentials: { ...creds, signature: signV2(ec2.secret, 'GET', 'ec2.example', '/', params) } });
  assert.equal(noPort.status, 200, noPort.text);

  assert.equal((await req('POST', '/v3/ec2tokens', admin, { credentials: { ...creds, signature: 'bad' } })).status, 401);
  assert.equal((await req('POST', '/v3/ec2tokens', admin, { credentials: { ...creds, signature: undefined } })).status, 401);
  assert.equal((await req('POST', '/v3/ec2tokens', admin, { credentials: { signature: 'x' } })).status, 401);
  assert.equal((await req('POST', '/v3/ec2tokens', admin, { credentials: { ...creds, params: { ...params, SignatureVersion: '9' } } })).status, 401);
  assert.equal((await req('POST', '/v3/ec2tokens', admin, {})).status, 400);
  const stale = { ...params, Timestamp: '2001-01-01T00:00:00Z' };
  assert.equal((await req('POST', '/v3/ec2tokens', admin, { credentials: { ...creds, params: stale, signature: signV2(ec2.secret, 'GET', 'ec2.example:8773', '/', stale) } })).status, 401);

  // A token from an EC2 credential is delegated: no credentials, no exchanging it for another token.
  assert.deepEqual((await req('GET', '/v3/credentials', ec2Token)).body.credentials, []);
  assert.equal((await req('GET', `/v3/users/${alice.id}/credentials/OS-EC2`, ec2Token)).status, 403);
  assert.equal((await req('POST', `/v3/users/${alice.id}/credentials/OS-EC2`, ec2Token, { tenant_id: projectId })).status, 403);
  assert.equal((await req('POST', '/v3/credentials', ec2Token, { credential: { user_id: alice.id, type: 'cert', blob: 'x' } })).status, 403);
  const rescope = await req('POST', '/v3/auth/tokens', undefined, { auth: { identity: { methods: ['token'], token: { id: ec2Token } } } });
  assert.equal(rescope.status, 403);
  // POST /v3/s3tokens: the base64 string-to-sign, signed v1 (HMAC-SHA1) or v4.
  const sts1 = 'GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/bucket/key';
  const s3v1 = { access: ec2.access, token: Buffer.from(sts1).toString('base64url'), signature: createHmac('sha1', ec2.secret).update(sts1).digest('base64') };
  const s3 = await req('POST', '/v3/s3tokens', admin, { credentials: s3v1 });
  assert.equal(s3.status, 200, s3.text);
  assert.equal(s3.body.token.user.id, alice.id);
  const day = new Date().toISOString().slice(0, 10).replace(/-/g, '');
  const sts4 = `AWS4-HMAC-SHA256\n${day}T000000Z\n${day}/RegionOne/s3/aws4_request\n${'ab'.repeat(32)}`;
  const k = (key: Buffer | string, m: string) => createHmac('sha256', key).update(m).digest();
  const sk = k(k(k(k('AWS4' + ec2.secret, day), 'RegionOne'), 's3'), 'aws4_request');
  const s3v4 = { access: ec2.access, token: Buffer.from(sts4).toString('base64url'), signature: createHmac('sha256', sk).update(sts4).digest('hex') };
  assert.equal((await req('POST', '/v3/s3tokens', admin, { credentials: s3v4 })).status, 200);
  assert.equal((await req('POST', '/v3/s3tokens', admin, { credentials: { ...s3v4, token: Buffer.from(sts4.replace('/s3/', '/ec2/')).toString('base64url') } })).status, 401);
  assert.equal((await req('POST', '/v3/s3tokens', admin, { credentials: { ...s3v1, signature: 'bad' } })).status, 401);
  assert.equal((await req('POST', '/v3/s3tokens', admin, { credentials: { access: ec2.access } })).status, 401);
  assert.equal((await req('POST', '/v3/s3tokens', alice.token, { credentials: s3v1 })).status, 403);
  await req('DELETE', `/v3/users/${alice.id}/credentials/OS-EC2/${ec2.access}`, alice.token);
});

test("deleting a user deletes the user's credentials", async () => {
  const carol = await makeUser('carol');
  const c = await req('POST', '/v3/credentials', admin, { credential: { user_id: carol.id, type: 'cert', blob: 'x' } });
  assert.equal(c.status, 201);
  assert.equal((await req('DELETE', `/v3/users/${carol.id}`, admin)).status, 204);
  assert.equal((await req('GET', `/v3/credentials/${c.body.credential.id}`, admin)).status, 404);
});
