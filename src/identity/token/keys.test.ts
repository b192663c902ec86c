import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FernetKey, generateKey } from './fernet.js';
import {
  KeyRepository,
  keyRepositoryWarnings,
  loadKeys,
  loadNumberedKeys,
  rotateKeys,
  setupKeyRepository,
} from './keys.js';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const base = mkdtempSync(join(tmpdir(), 'fernet-keys-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  return base;
}

const names = (dir: string): string[] => readdirSync(dir).sort((a, b) => Number(a) - Number(b));
const keyText = (dir: string, n: number): string => readFileSync(join(dir, String(n)), 'utf8');

test('setup creates a 0700 directory with staged key 0 and primary 1, mode 0600', (t) => {
  const dir = join(tempDir(t), 'fernet-keys');
  assert.equal(setupKeyRepository(dir), true);
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  assert.deepEqual(names(dir), ['0', '1']);
  for (const n of [0, 1]) {
    assert.equal(statSync(join(dir, String(n))).mode & 0o777, 0o600);
    assert.match(keyText(dir, n), /^[A-Za-z0-9_-]{43}=$/, 'keystone writes the padded text, no newline');
  }
  assert.notEqual(keyText(dir, 0), keyText(dir, 1));
  assert.deepEqual(keyRepositoryWarnings(dir), []);
});

test('setup is idempotent: existing keys are kept', (t) => {
  const dir = join(tempDir(t), 'k');
  setupKeyRepository(dir);
  const before = [keyText(dir, 0), keyText(dir, 1)];
  assert.equal(setupKeyRepository(dir), false);
  assert.deepEqual(names(dir), ['0', '1']);
  assert.deepEqual([keyText(dir, 0), keyText(dir, 1)], before);
});

test('rotation numbering and purge with max_active_keys=3', (t) => {
  const dir = join(tempDir(t), 'k');
  setupKeyRepository(dir);
  let staged = keyText(dir, 0);

  let r = rotateKeys(dir, 3);
  assert.deepEqual(r, { primary: 2, purged: [] });
  assert.deepEqual(names(dir), ['0', '1', '2']);
  assert.equal(keyText(dir, 2), staged, 'the staged key became the primary');
  assert.notEqual(keyText(dir, 0), staged, 'a new staged key was made');
  staged = keyText(dir, 0);

  r = rotateKeys(dir, 3);
  assert.deepEqual(r, { primary: 3, purged: [1] });
  assert.deepEqual(names(dir), ['0', '2', '3']);
  assert.equal(keyText(dir, 3), staged);

  r = rotateKeys(dir, 3);
  assert.deepEqual(r, { primary: 4, purged: [2] });
  assert.deepEqual(names(dir), ['0', '3', '4']);
  assert.equal(statSync(join(dir, '4')).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, '0')).mode & 0o777, 0o600);
  assert.ok(!readdirSync(dir).includes('0.tmp'), 'no temporary file left behind');
});

test('a larger max_active_keys keeps more secondaries; a smaller one purges several at once', (t) => {
  const dir = join(tempDir(t), 'k');
  setupKeyRepository(dir);
  for (let i = 0; i < 4; i++) rotateKeys(dir, 5);
  assert.deepEqual(names(dir), ['0', '2', '3', '4', '5']);
  assert.deepEqual(rotateKeys(dir, 2), { primary: 6, purged: [2, 3, 4, 5] });
  assert.deepEqual(names(dir), ['0', '6']);
});

test('max_active_keys=1 behaves as keystone: only the staged key survives', (t) => {
  const dir = join(tempDir(t), 'k');
  setupKeyRepository(dir);
  const staged = keyText(dir, 0);
  assert.deepEqual(rotateKeys(dir, 1), { primary: 2, purged: [1, 2] });
  assert.deepEqual(names(dir), ['0']);
  assert.notEqual(keyText(dir, 0), staged);
  assert.throws(() => rotateKeys(dir, 0), /max_active_keys/);
});

test('rotation without a staged key fails cleanly', (t) => {
  const dir = tempDir(t);
  assert.throws(() => rotateKeys(dir, 3), /staged key 0/);
});

test('loadKeys: primary (highest) first, then descending, staged 0 last', (t) => {
  const dir = join(tempDir(t), 'k');
  setupKeyRepository(dir);
  rotateKeys(dir, 3);
  rotateKeys(dir, 3); // files 0, 2, 3
  const numbered = loadNumberedKeys(dir);
  assert.deepEqual(numbered.map((k) => k.index), [3, 2, 0]);
  const keys = loadKeys(dir);
  assert.deepEqual(keys.map((k) => k.toString()), [keyText(dir, 3), keyText(dir, 2), keyText(dir, 0)]);
});

test('loadKeys ignores non-numeric names and empty files, refuses garbage keys', (t) => {
  const dir = join(tempDir(t), 'k');
  setupKeyRepository(dir);
  writeFileSync(join(dir, 'README'), 'not a key');
  writeFileSync(join(dir, '0.tmp'), generateKey());
  writeFileSync(join(dir, '7'), '');
  assert.deepEqual(loadNumberedKeys(dir).map((k) => k.index), [1, 0]);
  writeFileSync(join(dir, '9'), 'garbage');
  assert.throws(() => loadKeys(dir), /Invalid Fernet key file .*9/);
});

test('loadKeys on a missing or empty repository throws', (t) => {
  const dir = tempDir(t);
  assert.throws(() => loadKeys(dir), /Cannot load Fernet keys/);
  assert.throws(() => loadKeys(join(dir, 'nope')), /Cannot load Fernet keys/);
});

test('world-readable repository produces a warning', (t) => {
  const dir = join(tempDir(t), 'k');
  setupKeyRepository(dir);
  chmodSync(dir, 0o755);
  assert.equal(keyRepositoryWarnings(dir).length, 1);
});

test('KeyRepository caches, and picks up a rotation after the recheck interval', (t) => {
  const dir = join(tempDir(t), 'k');
  setupKeyRepository(dir);
  let now = 0;
  const repo = new KeyRepository(dir, { recheckIntervalMs: 1000, now: () => now });
  const first = repo.keys();
  assert.equal(first[0]!.toString(), keyText(dir, 1));
  now = 2000;
  assert.equal(repo.keys(), first, 'unchanged files: the very same array (derived keys reused)');

  rotateKeys(dir, 3);
  now = 2500;
  assert.equal(repo.keys(), first, 'within the interval: cached');
  now = 3000;
  const second = repo.keys();
  assert.notEqual(second, first);
  assert.equal(second[0]!.toString(), keyText(dir, 2));
  assert.ok(second[0] instanceof FernetKey);

  // An in-place edit of a key file (no rename, directory mtime untouched) is noticed too.
  writeFileSync(join(dir, '2'), generateKey());
  now = 5000;
  assert.equal(repo.keys()[0]!.toString(), keyText(dir, 2));

  // A transient failure keeps serving the last good keys.
  const good = repo.keys();
  rmSync(dir, { recursive: true });
  now = 7000;
  assert.equal(repo.keys(), good);
});
