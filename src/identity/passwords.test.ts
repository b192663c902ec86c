// Password hashes move between Keystone and monostack in both directions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { hashPassword, verifyPassword } from './passwords.js';

function python(code: string, ...args: string[]): string | undefined {
  try {
    return execFileSync('/usr/bin/python3', ['-c', code, ...args], { encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}

test('bcrypt: our hashes verify, wrong passwords do not, long passwords truncate at 72 bytes as Keystone', async () => {
  const h = await hashPassword('s3cret', 'bcrypt', 4);
  assert.match(h, /^\$2[aby]\$04\$/);
  assert.equal(await verifyPassword('s3cret', h), true);
  assert.equal(await verifyPassword('s3cret!', h), false);
  const long = 'x'.repeat(72);
  const hl = await hashPassword(long + 'tail-a', 'bcrypt', 4);
  assert.equal(await verifyPassword(long + 'tail-b', hl), true);
});

test('scrypt: passlib format, verifies and refuses', async () => {
  const h = await hashPassword('s3cret', 'scrypt', 0);
  assert.match(h, /^\$scrypt\$ln=\d+,r=8,p=1\$/);
  assert.equal(await verifyPassword('s3cret', h), true);
  assert.equal(await verifyPassword('nope', h), false);
  assert.equal(await verifyPassword('s3cret', '$unknown$abc'), false);
});

test('bcrypt hashes made by Python (Keystone) verify here, and ours verify there', async (t) => {
  const theirs = python('import bcrypt,sys; print(bcrypt.hashpw(sys.argv[1].encode(), bcrypt.gensalt(4)).decode())', 'from-keystone');
  if (!theirs) return t.skip('python3-bcrypt not installed (Debian python3-bcrypt, a python3-keystone dependency)');
  assert.equal(await verifyPassword('from-keystone', theirs), true);
  assert.equal(await verifyPassword('other', theirs), false);
  const ours = await hashPassword('from-monostack', 'bcrypt', 4);
  assert.equal(python('import bcrypt,sys; print(bcrypt.checkpw(sys.argv[1].encode(), sys.argv[2].encode()))', 'from-monostack', ours), 'True');
});
