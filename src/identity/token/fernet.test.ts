import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createHmac } from 'node:crypto';
import {
  decodeTokenText,
  Fernet,
  FernetKey,
  generateKey,
  InvalidFernetToken,
  MultiFernet,
  restorePadding,
  stripPadding,
} from './fernet.js';

// From the Fernet spec's generate.json (also reproduced with python-cryptography's
// Fernet._encrypt_from_parts(b"hello", 499162800, bytes(range(16)))).
const SPEC = {
  secret: 'cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=',
  src: 'hello',
  now: 499162800, // 1985-10-26T01:20:00-07:00
  iv: Buffer.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]),
  token: 'gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA==',
};

test('spec vector: encryption is byte-exact', () => {
  const f = new Fernet(SPEC.secret);
  assert.equal(f.encrypt(Buffer.from(SPEC.src), { timestamp: SPEC.now, iv: SPEC.iv }), SPEC.token);
});

test('spec vector: decrypts, padded or not, and reports the timestamp', () => {
  const f = new Fernet(SPEC.secret);
  assert.equal(f.decrypt(SPEC.token).toString(), 'hello');
  assert.equal(f.decrypt(stripPadding(SPEC.token)).toString(), 'hello');
  assert.equal(f.decryptWithTimestamp(SPEC.token).timestamp, SPEC.now);
});

test('round trip of random data of every length around block boundaries', () => {
  const f = new Fernet(FernetKey.generate());
  for (let n = 0; n <= 40; n++) {
    const data = Buffer.alloc(n, n);
    const token = f.encrypt(data);
    assert.deepEqual(f.decrypt(token), data);
    assert.equal(token.length % 4, 0, 'encrypt returns the padded spec form');
  }
});

test('key text: generated keys are 44 chars with padding and parse back', () => {
  const text = generateKey();
  assert.match(text, /^[A-Za-z0-9_-]{43}=$/);
  assert.equal(FernetKey.fromString(text).toString(), text);
  assert.equal(FernetKey.fromString(text + '\n').toString(), text, 'trailing newline tolerated');
  assert.equal(FernetKey.fromString(text.slice(0, 43)).toString(), text, 'padding optional');
  assert.throws(() => FernetKey.fromString('short'));
  assert.throws(() => FernetKey.fromString(text.slice(0, 42) + '+='), 'standard-alphabet char refused');
  assert.throws(() => FernetKey.fromBytes(Buffer.alloc(31)));
});

test('the key halves: first 16 bytes sign, last 16 encrypt', () => {
  const raw = Buffer.from(SPEC.secret, 'base64url');
  const bytes = Buffer.from(SPEC.token, 'base64url');
  const mac = createHmac('sha256', raw.subarray(0, 16)).update(bytes.subarray(0, -32)).digest();
  assert.deepEqual(mac, bytes.subarray(-32));
  const c = createCipheriv('aes-128-cbc', raw.subarray(16), SPEC.iv);
  assert.deepEqual(Buffer.concat([c.update('hello'), c.final()]), bytes.subarray(25, -32));
});

function reencode(bytes: Buffer): string {
  return bytes.toString('base64url');
}

test('tampering with any byte is rejected', () => {
  const f = new Fernet(SPEC.secret);
  const bytes = Buffer.from(SPEC.token, 'base64url');
  for (let i = 0; i < bytes.length; i++) {
    const t = Buffer.from(bytes);
    t[i] ^= 0x01;
    assert.throws(() => f.decrypt(reencode(t)), InvalidFernetToken, `byte ${i}`);
  }
});

test('malformed tokens are rejected', () => {
  const f = new Fernet(SPEC.secret);
  const bytes = Buffer.from(SPEC.token, 'base64url');
  const cases: Record<string, string> = {
    empty: '',
    'too short': reencode(bytes.subarray(0, 72)),
    'not base64url': SPEC.token.replace('_', '/'),
    'stray character': SPEC.token.slice(0, 10) + '.' + SPEC.token.slice(10),
    'length % 4 == 1': stripPadding(SPEC.token) + 'A',
    'too much padding': SPEC.token + '=',
    'ciphertext not a block multiple': reencode(Buffer.concat([bytes.subarray(0, -32), Buffer.alloc(1), bytes.subarray(-32)])),
  };
  for (const [name, token] of Object.entries(cases)) {
    assert.throws(() => f.decrypt(token), InvalidFernetToken, name);
  }
});

test('non-canonical base64 (stray low bits in the last char) is rejected', () => {
  const bare = stripPadding(SPEC.token); // ends in 'DA': the last char carries 4 unused bits
  const last = bare.at(-1)!;
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const twisted = bare.slice(0, -1) + alphabet[alphabet.indexOf(last) + 1];
  assert.deepEqual(Buffer.from(twisted, 'base64url'), Buffer.from(bare, 'base64url'), 'node would decode both alike');
  assert.throws(() => decodeTokenText(twisted), InvalidFernetToken);
});

test('wrong version byte is rejected even with a valid MAC', () => {
  const raw = Buffer.from(SPEC.secret, 'base64url');
  const bytes = Buffer.from(SPEC.token, 'base64url');
  bytes[0] = 0x81;
  createHmac('sha256', raw.subarray(0, 16)).update(bytes.subarray(0, -32)).digest().copy(bytes, bytes.length - 32);
  assert.throws(() => new Fernet(SPEC.secret).decrypt(reencode(bytes)), InvalidFernetToken);
});

test('bad PKCS7 padding is rejected even with a valid MAC', () => {
  const raw = Buffer.from(SPEC.secret, 'base64url');
  const iv = Buffer.alloc(16, 7);
  const c = createCipheriv('aes-128-cbc', raw.subarray(16), iv);
  c.setAutoPadding(false);
  const ct = Buffer.concat([c.update(Buffer.alloc(16, 0x11)), c.final()]); // last byte 0x11 > 16
  const body = Buffer.concat([Buffer.from([0x80]), Buffer.alloc(8), iv, ct]);
  const token = Buffer.concat([body, createHmac('sha256', raw.subarray(0, 16)).update(body).digest()]);
  assert.throws(() => new Fernet(SPEC.secret).decrypt(reencode(token)), InvalidFernetToken);
});

test('MultiFernet encrypts with the first key and decrypts with any', () => {
  const [k1, k2, k3] = [FernetKey.generate(), FernetKey.generate(), FernetKey.generate()];
  const multi = new MultiFernet([k1, k2]);
  const token = multi.encrypt(Buffer.from('x'));
  assert.equal(new Fernet(k1).decrypt(token).toString(), 'x');
  assert.throws(() => new Fernet(k2).decrypt(token), InvalidFernetToken);
  assert.equal(multi.decrypt(new Fernet(k2).encrypt(Buffer.from('y'))).toString(), 'y');
  assert.throws(() => multi.decrypt(new Fernet(k3).encrypt(Buffer.from('z'))), InvalidFernetToken);
  assert.throws(() => new MultiFernet([]));
});

test('padding helpers match keystone restore_padding', () => {
  assert.equal(restorePadding('abcd'), 'abcd');
  assert.equal(restorePadding('abcde'), 'abcde===');
  assert.equal(restorePadding('abcdef'), 'abcdef==');
  assert.equal(restorePadding('abcdefg'), 'abcdefg=');
  assert.equal(stripPadding(SPEC.token), SPEC.token.slice(0, -2));
  assert.equal(restorePadding(stripPadding(SPEC.token)), SPEC.token);
});
