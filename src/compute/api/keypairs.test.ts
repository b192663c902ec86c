import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestCloud, type TestCloud, type Project } from '../../cli/test-cloud.js';

let c: TestCloud;
let admin: string;
let alice: Project;
let bob: Project;
before(async () => {
  c = await startTestCloud({ services: ['compute', 'placement'] });
  admin = await c.adminToken();
  alice = await c.project('kp-alice');
  bob = await c.project('kp-bob');
});
after(async () => { await c?.close(); });

const call = (method: string, path: string, token: string, body?: unknown, v = '2.1') =>
  c.call('compute', method, path, { token, headers: { 'OpenStack-API-Version': `compute ${v}` }, ...(body !== undefined ? { body } : {}) });

/** md5 fingerprint of an OpenSSH public key line, computed independently of the server. */
const md5fp = (line: string) => createHash('md5').update(Buffer.from(line.split(' ')[1]!, 'base64')).digest('hex').match(/../g)!.join(':');

test('generate (before 2.92): private key returned once, public key and fingerprint match it', async () => {
  const r = await call('POST', '/os-keypairs', alice.token, { keypair: { name: 'gen' } });
  assert.equal(r.status, 200, r.text);
  const k = r.body.keypair;
  assert.match(k.private_key, /^-----BEGIN RSA PRIVATE KEY-----/);
  assert.match(k.public_key, /^ssh-rsa \S+ Generated-by-Nova$/);
  assert.equal(k.fingerprint, md5fp(k.public_key));
  assert.equal(k.user_id, alice.userId);
  // The public key is the private key's.
  const pub = createPublicKey(k.private_key).export({ format: 'jwk' });
  const blob = Buffer.from(k.public_key.split(' ')[1], 'base64');
  assert.ok(blob.includes(Buffer.from(pub.n!, 'base64url')));
  const shown = await call('GET', '/os-keypairs/gen', alice.token);
  assert.equal(shown.body.keypair.private_key, undefined);
  assert.equal(shown.body.keypair.deleted, false);
  assert.equal(shown.body.keypair.type, undefined);
  assert.equal((await call('GET', '/os-keypairs/gen', alice.token, undefined, '2.2')).body.keypair.type, 'ssh');
  const r292 = await call('POST', '/os-keypairs', alice.token, { keypair: { name: 'gen2' } }, '2.92');
  assert.equal(r292.status, 400);
  assert.match(r292.body.badRequest.message, /'public_key' is a required property/);
});

test('import: ssh (fingerprint as ssh-keygen -E md5), x509 (sha1), invalid data, duplicates, names', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kp-'));
  try {
    let pubLine: string;
    let expected: string;
    if (existsSync('/usr/bin/ssh-keygen')) {
      execFileSync('/usr/bin/ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'k')]);
      pubLine = readFileSync(join(dir, 'k.pub'), 'utf8').trim();
      expected = execFileSync('/usr/bin/ssh-keygen', ['-l', '-E', 'md5', '-f', join(dir, 'k.pub')], { encoding: 'utf8' }).split(' ')[1]!.replace(/^MD5:/, '');
    } else {
      t.diagnostic('ssh-keygen missing: using a generated key');
      const g = await call('POST', '/os-keypairs', alice.token, { keypair: { name: 'tmp' } });
      pubLine = g.body.keypair.public_key;
      expected = md5fp(pubLine);
    }
    const r = await call('POST', '/os-keypairs', alice.token, { keypair: { name: 'imported', public_key: pubLine } }, '2.2');
    assert.equal(r.status, 201, r.text);
    assert.equal(r.body.keypair.fingerprint, expected);
    assert.equal(r.body.keypair.private_key, undefined);
    assert.equal(r.body.keypair.type, 'ssh');
    const dup = await call('POST', '/os-keypairs', alice.token, { keypair: { name: 'imported', public_key: pubLine } });
    assert.equal(dup.status, 409);
    assert.equal(dup.body.conflictingRequest.message, "Key pair 'imported' already exists.");
    // Another user may use the same name.
    assert.equal((await call('POST', '/os-keypairs', bob.token, { keypair: { name: 'imported', public_key: pubLine } })).status, 200);

    const bad = await call('POST', '/os-keypairs', alice.token, { keypair: { name: 'bad', public_key: 'ssh-rsa AAAAnotakey' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.badRequest.message, 'Keypair data is invalid: failed to generate fingerprint');
    const badName = await call('POST', '/os-keypairs', alice.token, { keypair: { name: 'a/b', public_key: pubLine } });
    assert.equal(badName.body.badRequest.message, "An invalid 'name' value was provided. The name must be: Only expected characters: [_- 0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ]");
    assert.equal((await call('POST', '/os-keypairs', alice.token, { keypair: { name: 'a@b.c', public_key: pubLine } }, '2.92')).status, 201);
    assert.equal((await call('POST', '/os-keypairs', alice.token, { keypair: { name: 'x'.repeat(256), public_key: pubLine } })).status, 400);
    assert.equal((await call('POST', '/os-keypairs', alice.token, { keypair: { name: 'ok', type: 'x509' } })).status, 400); // type needs 2.2

    if (existsSync('/usr/bin/openssl')) {
      execFileSync('/usr/bin/openssl', ['req', '-x509', '-nodes', '-newkey', 'rsa:2048', '-keyout', join(dir, 'c.key'), '-out', join(dir, 'c.pem'), '-days', '1', '-subj', '/CN=test']);
      const pem = readFileSync(join(dir, 'c.pem'), 'utf8');
      const fp = execFileSync('/usr/bin/openssl', ['x509', '-noout', '-fingerprint', '-sha1', '-in', join(dir, 'c.pem')], { encoding: 'utf8' }).split('=')[1]!.trim().toLowerCase();
      const x = await call('POST', '/os-keypairs', alice.token, { keypair: { name: 'cert', type: 'x509', public_key: pem } }, '2.2');
      assert.equal(x.status, 201, x.text);
      assert.equal(x.body.keypair.fingerprint, fp);
      assert.equal(x.body.keypair.type, 'x509');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('per-user isolation, admin user_id (2.10), pagination (2.35), delete status by version', async () => {
  const pub = (await call('POST', '/os-keypairs', bob.token, { keypair: { name: 'bobkey' } })).body.keypair.public_key;
  assert.ok(pub);
  assert.ok(!(await call('GET', '/os-keypairs', alice.token)).body.keypairs.some((k: { keypair: { name: string } }) => k.keypair.name === 'bobkey'));
  assert.equal((await call('GET', '/os-keypairs/bobkey', alice.token)).status, 404);
  assert.equal((await call('GET', `/os-keypairs/bobkey?user_id=${bob.userId}`, alice.token, undefined, '2.10')).status, 403);
  const asAdmin = await call('GET', `/os-keypairs/bobkey?user_id=${bob.userId}`, admin, undefined, '2.10');
  assert.equal(asAdmin.status, 200);
  assert.equal(asAdmin.body.keypair.user_id, bob.userId);
  const forBob = await call('POST', '/os-keypairs', admin, { keypair: { name: 'made-by-admin', user_id: bob.userId, public_key: pub } }, '2.10');
  assert.equal(forBob.status, 201);
  assert.equal(forBob.body.keypair.user_id, bob.userId);
  assert.equal((await call('POST', '/os-keypairs', alice.token, { keypair: { name: 'sneaky', user_id: bob.userId, public_key: pub } }, '2.10')).status, 403);

  for (const n of ['p1', 'p2', 'p3']) await call('POST', '/os-keypairs', bob.token, { keypair: { name: n, public_key: pub } });
  const page = await call('GET', '/os-keypairs?limit=2&marker=made-by-admin', bob.token, undefined, '2.35');
  assert.deepEqual(page.body.keypairs.map((k: { keypair: { name: string } }) => k.keypair.name), ['p1', 'p2']);
  assert.match(page.body.keypairs_links[0].href, /os-keypairs\?limit=2&marker=p2$/);
  assert.equal((await call('GET', '/os-keypairs?marker=nope', bob.token, undefined, '2.35')).status, 400);
  assert.equal((await call('GET', '/os-keypairs?limit=1', bob.token, undefined, '2.34')).body.keypairs.length, 6); // no paging before 2.35 (imported, bobkey, made-by-admin, p1-p3)
  assert.equal((await call('GET', '/os-keypairs?bogus=1', bob.token, undefined, '2.75')).status, 400);

  assert.equal((await call('DELETE', '/os-keypairs/p1', bob.token)).status, 202);
  assert.equal((await call('DELETE', '/os-keypairs/p2', bob.token, undefined, '2.2')).status, 204);
  const gone = await call('DELETE', '/os-keypairs/p2', bob.token);
  assert.equal(gone.status, 404);
  assert.equal(gone.body.itemNotFound.message, `Keypair p2 not found for user ${bob.userId}`);
});

test('key_pairs quota: 403 with Nova\'s message', async () => {
  const carol = await c.project('kp-carol');
  const set = await call('PUT', `/os-quota-sets/${carol.projectId}`, admin, { quota_set: { key_pairs: 1 } });
  assert.equal(set.status, 200, set.text);
  assert.equal((await call('POST', '/os-keypairs', carol.token, { keypair: { name: 'one' } })).status, 200);
  const over = await call('POST', '/os-keypairs', carol.token, { keypair: { name: 'two' } });
  assert.equal(over.status, 403);
  assert.equal(over.body.forbidden.message, 'Quota exceeded, too many key pairs.');
});
