import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiError } from '../../common/errors.js';
import { FernetKey, MultiFernet, stripPadding } from './fernet.js';
import { InvalidToken, randomAuditId, TokenFormatter, type TokenPayload } from './formatter.js';
import { KeyRepository, rotateKeys, setupKeyRepository } from './keys.js';
import {
  AuthMethodCodec,
  encodePayload,
  Float64,
  packMsgpack,
  PAYLOAD_VERSION,
  payloadKind,
  TokenPayloadError,
  unpackMsgpack,
} from './payload.js';
import { CASES } from './testdata/cases.js';

function repoDir(t: { after: (fn: () => void) => void }): string {
  const base = mkdtempSync(join(tmpdir(), 'fernet-fmt-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const dir = join(base, 'keys');
  setupKeyRepository(dir);
  return dir;
}

function formatterWithKeys(...keys: FernetKey[]): TokenFormatter {
  return new TokenFormatter(() => keys);
}

const BASE: TokenPayload = {
  userId: '2f9b3a6b1c8e4d0f9a7b6c5d4e3f2a1b',
  methods: ['password'],
  expiresAt: new Date('2030-01-02T03:04:05Z'),
  auditIds: ['kSvZ8o4BSNGcPjRY9D1Glg'],
};

test('every payload kind round-trips and picks the Keystone payload version', () => {
  const f = formatterWithKeys(FernetKey.generate());
  for (const c of CASES) {
    assert.equal(payloadKind(c.payload), c.kind, c.name);
    const token = f.create(c.payload);
    assert.match(token, /^[A-Za-z0-9_-]+$/, `${c.name}: urlsafe, no padding`);
    assert.deepEqual(f.validate(token), c.payload, c.name);
    const version = (unpackMsgpack(encodePayload(c.payload)) as unknown[])[0];
    assert.equal(version, PAYLOAD_VERSION[c.kind], c.name);
  }
});

test('a token with its padding restored still validates (keystone restore_padding)', () => {
  const f = formatterWithKeys(FernetKey.generate());
  for (const c of CASES) {
    const token = f.create(c.payload);
    const padded = token + '='.repeat((4 - (token.length % 4)) % 4);
    assert.deepEqual(f.validate(padded), c.payload, c.name);
    assert.equal(stripPadding(padded), token);
  }
});

test('createdAt is the Fernet timestamp (issue time, whole seconds)', () => {
  const f = formatterWithKeys(FernetKey.generate());
  const token = f.create(BASE, new Date('2029-05-06T07:08:09.999Z'));
  assert.equal(f.createdAt(token).toISOString(), '2029-05-06T07:08:09.000Z');
  assert.equal(f.validateWithIssuedAt(token).issuedAt.toISOString(), '2029-05-06T07:08:09.000Z');
  const now = Date.now();
  const fresh = f.createdAt(f.create(BASE)).getTime();
  assert.ok(Math.abs(fresh - now) < 2000);
});

test('validate does not check expiry', () => {
  const f = formatterWithKeys(FernetKey.generate());
  const expired = { ...BASE, expiresAt: new Date('2001-01-01T00:00:00Z') };
  assert.deepEqual(f.validate(f.create(expired)), expired);
});

test('tampered tokens are rejected with InvalidToken (an ApiError 401)', () => {
  const f = formatterWithKeys(FernetKey.generate());
  const token = f.create(BASE);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  for (let i = 0; i < token.length - 1; i++) {
    const c = token[i]!;
    const swapped = alphabet[(alphabet.indexOf(c) + 1) % 64]!;
    const bad = token.slice(0, i) + swapped + token.slice(i + 1);
    assert.throws(() => f.validate(bad), InvalidToken, `char ${i}`);
  }
  for (const bad of ['', 'garbage', token.slice(0, -4), token + 'A', token + '===', `${token.slice(0, 20)}*${token.slice(21)}`]) {
    assert.throws(() => f.validate(bad), InvalidToken);
  }
  try {
    f.validate('garbage');
  } catch (err) {
    assert.ok(err instanceof ApiError);
    assert.equal(err.status, 401);
  }
});

test('a token made with another key repository is rejected', () => {
  const ours = formatterWithKeys(FernetKey.generate());
  const theirs = formatterWithKeys(FernetKey.generate());
  assert.throws(() => ours.validate(theirs.create(BASE)), InvalidToken);
});

test('rotation: secondary keys still validate, a rotated-out key does not', (t) => {
  const dir = repoDir(t);
  const repo = new KeyRepository(dir, { recheckIntervalMs: 0 });
  const f = new TokenFormatter(() => repo.keys());
  const beforeRotation = f.create(BASE);

  rotateKeys(dir, 3); // key 1 becomes a secondary
  assert.deepEqual(f.validate(beforeRotation), BASE);
  const afterOne = f.create(BASE);
  assert.deepEqual(f.validate(afterOne), BASE);

  rotateKeys(dir, 3); // key 1 is purged
  assert.throws(() => f.validate(beforeRotation), InvalidToken);
  assert.deepEqual(f.validate(afterOne), BASE);
});

test('tokens made with the staged key validate everywhere before it is promoted', (t) => {
  // What makes rotation safe across nodes: a node that already rotated encrypts with the
  // (old) staged key 0, which the other nodes still hold as their staged key.
  const dir = repoDir(t);
  const staged = new KeyRepository(dir).keys().at(-1)!;
  const rotatedNode = formatterWithKeys(staged);
  const f = new TokenFormatter(() => new KeyRepository(dir).keys());
  assert.deepEqual(f.validate(rotatedNode.create(BASE)), BASE);
});

test('inconsistent payloads are refused at creation', () => {
  const f = formatterWithKeys(FernetKey.generate());
  const bad: Array<[string, TokenPayload]> = [
    ['two scopes', { ...BASE, projectId: 'p', domainId: 'default' }],
    ['project and system', { ...BASE, projectId: 'p', systemScope: 'all' }],
    ['domain and system', { ...BASE, domainId: 'default', systemScope: 'all' }],
    ['unknown system scope', { ...BASE, systemScope: 'everything' }],
    ['non-uuid, non-default domain', { ...BASE, domainId: 'mydomain' }],
    ['upper-case uuid domain', { ...BASE, domainId: '0A1B2C3D4E5F46778899AABBCCDDEEFF' }],
    ['trust without project', { ...BASE, trustId: '9e8d7c6b5a4f43218fedcba987654321' }],
    ['non-uuid trust id', { ...BASE, projectId: 'p', trustId: 'trust-1' }],
    ['trust and app cred', { ...BASE, projectId: 'p', trustId: '9e8d7c6b5a4f43218fedcba987654321', appCredId: 'a' }],
    ['oauth without project', { ...BASE, accessTokenId: 'a' }],
    ['app cred without project', { ...BASE, appCredId: 'a' }],
    ['federated without protocol', { ...BASE, identityProviderId: 'idp', federatedGroupIds: [] }],
    ['federated without groups', { ...BASE, identityProviderId: 'idp', protocolId: 'saml2' }],
    ['groups without idp', { ...BASE, federatedGroupIds: [] }],
    ['federated system', { ...BASE, identityProviderId: 'idp', protocolId: 'saml2', federatedGroupIds: [], systemScope: 'all' }],
    ['unknown auth method', { ...BASE, methods: ['totp'] }],
    ['no audit id', { ...BASE, auditIds: [] }],
    ['three audit ids', { ...BASE, auditIds: [randomAuditId(), randomAuditId(), randomAuditId()] }],
    ['padded audit id', { ...BASE, auditIds: ['kSvZ8o4BSNGcPjRY9D1Glg=='] }],
    ['non-base64 audit id', { ...BASE, auditIds: ['not an audit id!'] }],
    ['empty user id', { ...BASE, userId: '' }],
    ['empty project id', { ...BASE, projectId: '' }],
    ['invalid expiry', { ...BASE, expiresAt: new Date('nope') }],
  ];
  for (const [name, p] of bad) assert.throws(() => f.create(p), TokenPayloadError, name);
});

test('payloads that decrypt but are not Keystone payloads are InvalidToken', () => {
  const key = FernetKey.generate();
  const f = formatterWithKeys(key);
  const raw = (bytes: Buffer): string => stripPadding(new MultiFernet([key]).encrypt(bytes));
  const exp = new Float64(1.9e9);
  const audit = [Buffer.alloc(16)];
  const user = [true, Buffer.alloc(16)];
  const cases: Array<[string, Buffer]> = [
    ['not msgpack', Buffer.from([0xc1])],
    ['not a list', packMsgpack('hello')],
    ['unknown version', packMsgpack([42, user, 2, exp, audit])],
    ['too short', packMsgpack([0, user, 2, exp])],
    ['uuid flag with 15 bytes', packMsgpack([0, [true, Buffer.alloc(15)], 2, exp, audit])],
    ['domain not uuid nor default', packMsgpack([1, user, 2, 'other', exp, audit])],
    ['trust id as text', packMsgpack([3, user, 2, [false, 'p'], exp, audit, 'trust'])],
    ['expiry as text', packMsgpack([0, user, 2, 'tomorrow', audit])],
  ];
  for (const [name, bytes] of cases) assert.throws(() => f.validate(raw(bytes)), InvalidToken, name);
  // sanity: the same helper with a good payload validates
  assert.equal(f.validate(raw(packMsgpack([0, user, 2, exp, audit]))).userId, '0'.repeat(32));
});

test('payload bytes equal what Keystone 22 produced (recorded from keystone.token.token_formatters)', () => {
  // create_token('admin', '2030-01-02T03:04:05.000000Z', ['AAAAAAAAAAAAAAAAAAAAAA'], DomainScopedPayload,
  //              methods=['password', 'ec2credential'], domain_id='default')
  const p: TokenPayload = {
    userId: 'admin',
    methods: ['ec2credential', 'password'],
    expiresAt: new Date('2030-01-02T03:04:05Z'),
    auditIds: ['AAAAAAAAAAAAAAAAAAAAAA'],
    domainId: 'default',
  };
  const keystoneHex = '960192c2a561646d696ecf0000000100000002a764656661756c74cb41dc37554940000091c41000000000000000000000000000000000';
  assert.equal(encodePayload(p).toString('hex'), keystoneHex);
  const f = formatterWithKeys(FernetKey.generate());
  assert.deepEqual(f.validate(f.create(p)), p);
});

test('msgpack writer matches python msgpack.packb byte for byte', () => {
  // expected values printed by python3-msgpack 1.0.3
  const hex = (v: Parameters<typeof packMsgpack>[0]): string => packMsgpack(v).toString('hex');
  assert.equal(hex([1, new Float64(2), 2 ** 32, 'ab', Buffer.from([1]), true, null]), '9701cb4000000000000000cf0000000100000000a26162c40101c3c0');
  assert.equal(hex([...Array(15).keys()]), '9f000102030405060708090a0b0c0d0e');
  assert.equal(hex([...Array(16).keys()]), 'dc0010000102030405060708090a0b0c0d0e0f');
  assert.equal(
    hex([127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 33 + 6, -1, -32, -33, -128, -129, -32768, -32769, -(2 ** 31), -(2 ** 31) - 1]),
    'dc00127fcc80ccffcd0100cdffffce00010000ceffffffffcf0000000100000000cf0000000200000006ffe0d0dfd080d1ff7fd18000d2ffff7fffd280000000d3ffffffff7fffffff',
  );
  assert.equal(hex([new Float64(1893553445), 1893553445.123, 0.5]), '93cb41dc375549400000cb41dc37554947df3bcb3fe0000000000000');
  const sha = (v: Parameters<typeof packMsgpack>[0]): string => createHash('sha256').update(packMsgpack(v)).digest('hex');
  const a = (n: number): string => 'a'.repeat(n);
  assert.equal(sha([a(31), a(32), a(255), a(256), a(65536)]), '29aad8346bf215af3826b92ff71addb4c0bf392bfce669dea888f41d0307f4e6');
  const x = (n: number): Buffer => Buffer.alloc(n, 'x');
  assert.equal(sha([x(255), x(256), x(65536)]), 'f832d959377a1dff4f1cd7efbd504cff631845ac97081e88253245a1efe5cdae');
  assert.equal(sha([...Array(65536).keys()]), '659da62605120aecab3feb7ceb9f912947719200e22ea46c7705c99cb10cacfa');
});

test('auth method bits follow the configured [auth] methods list', () => {
  const codec = new AuthMethodCodec();
  const bits = ['external', 'password', 'token', 'oauth1', 'mapped', 'application_credential'].map((m) => codec.encode([m]));
  assert.deepEqual(bits, [1, 2, 4, 8, 16, 32]);
  assert.equal(codec.encode(['ec2credential']), 2 ** 32);
  assert.equal(codec.encode(['oauth2_credential']), 2 ** 33);
  assert.equal(codec.encode(['password', 'password']), 2, 'duplicates do not corrupt the sum');
  assert.deepEqual(codec.decode(2 ** 33 + 2 ** 32 + 6), ['oauth2_credential', 'ec2credential', 'token', 'password']);
  assert.deepEqual(codec.decode(0), []);
  assert.deepEqual(codec.decode(64), [], 'unknown bits are dropped, as keystone does');

  const custom = new AuthMethodCodec(['password', 'token', 'totp']);
  assert.equal(custom.encode(['totp', 'password']), 5);
  assert.deepEqual(custom.decode(5), ['totp', 'password']);
  const key = FernetKey.generate();
  const g = new TokenFormatter(() => [key], { authMethods: ['password', 'token', 'totp'] });
  assert.deepEqual(g.validate(g.create({ ...BASE, methods: ['totp', 'password'] })).methods, ['totp', 'password']);
  assert.throws(() => g.create({ ...BASE, methods: ['external'] }), TokenPayloadError, 'not configured');
});

test('the default domain id is configurable', () => {
  const key = FernetKey.generate();
  const f = new TokenFormatter(() => [key], { defaultDomainId: 'dflt' });
  assert.deepEqual(f.validate(f.create({ ...BASE, domainId: 'dflt' })).domainId, 'dflt');
  assert.throws(() => f.create({ ...BASE, domainId: 'default' }), TokenPayloadError);
  // a token for 'default' made elsewhere is not accepted under a different default domain id
  const other = formatterWithKeys(key);
  assert.throws(() => f.validate(other.create({ ...BASE, domainId: 'default' })), InvalidToken);
});

test('randomAuditId: 22 urlsafe chars = 16 bytes, unique', () => {
  const ids = new Set(Array.from({ length: 1000 }, randomAuditId));
  assert.equal(ids.size, 1000);
  for (const id of ids) {
    assert.match(id, /^[A-Za-z0-9_-]{22}$/);
    assert.equal(Buffer.from(id, 'base64url').length, 16);
  }
});

test('validation is fast enough for the hot path', (t) => {
  const dir = repoDir(t);
  rotateKeys(dir, 3);
  const repo = new KeyRepository(dir);
  const f = new TokenFormatter(() => repo.keys());
  // worst case: the token was made with the oldest key, so every key's HMAC is tried
  const oldest = formatterWithKeys(repo.keys().at(-1)!).create(CASES[3]!.payload);
  const n = 20000;
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) f.validate(oldest);
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  t.diagnostic(`${Math.round((n / ms) * 1000)} validations/s (3 keys, worst case)`);
  assert.ok(ms < 10000, `${n} validations took ${ms} ms`);
});
