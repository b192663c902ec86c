// Password hashing. bcrypt (the native OpenBSD implementation, as fast as Keystone's) is Keystone's default, so hashes moved from a real Keystone verify here;
// scrypt (passlib's `$scrypt$` format) is the memory-hard alternative. Hashing runs on libuv's
// thread pool, never on the event loop.

import bcrypt from 'bcrypt';
import { scrypt, randomBytes, timingSafeEqual } from 'node:crypto';

export type HashAlgorithm = 'bcrypt' | 'scrypt';

// passlib's "ab64": standard base64 with '.' for '+' and no padding.
const ab64 = (b: Buffer) => b.toString('base64').replace(/\+/g, '.').replace(/=+$/, '');
const unab64 = (s: string) => Buffer.from(s.replace(/\./g, '+'), 'base64');

function scryptAsync(pw: Buffer, salt: Buffer, len: number, n: number, r: number, p: number): Promise<Buffer> {
  return new Promise((res, rej) => scrypt(pw, salt, len, { N: n, r, p, maxmem: 256 * n * r + 1024 * 1024 }, (e, k) => (e ? rej(e) : res(k))));
}

/** bcrypt only looks at 72 bytes; Keystone truncates the same way, so long passwords stay compatible. */
const bcryptInput = (pw: string) => Buffer.from(pw, 'utf8').subarray(0, 72);

export async function hashPassword(password: string, algorithm: HashAlgorithm, cost: number): Promise<string> {
  if (algorithm === 'scrypt') {
    const ln = Math.max(10, Math.min(20, cost + 4)); // cost 12 -> N = 2^16
    const salt = randomBytes(16);
    const key = await scryptAsync(Buffer.from(password, 'utf8'), salt, 32, 2 ** ln, 8, 1);
    return `$scrypt$ln=${ln},r=8,p=1$${ab64(salt)}$${ab64(key)}`;
  }
  return bcrypt.hash(bcryptInput(password), cost);
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  if (stored.startsWith('$scrypt$')) {
    const m = /^\$scrypt\$ln=(\d+),r=(\d+),p=(\d+)\$([^$]+)\$([^$]+)$/.exec(stored);
    if (!m) return false;
    const want = unab64(m[5]!);
    const got = await scryptAsync(Buffer.from(password, 'utf8'), unab64(m[4]!), want.length, 2 ** Number(m[1]), Number(m[2]), Number(m[3]));
    return got.length === want.length && timingSafeEqual(got, want);
  }
  if (/^\$2[abxy]\$/.test(stored)) return bcrypt.compare(bcryptInput(password), stored);
  return false;
}
