// Fernet (https://github.com/fernet/spec), compatible with python-cryptography's Fernet and
// MultiFernet, which Keystone uses for its tokens.
//
//   token = base64url( 0x80 | timestamp (u64 BE, seconds) | IV (16) | AES-128-CBC(PKCS7) | HMAC-SHA256 (32) )
//
// The HMAC covers everything before it. A key is 32 bytes, written as urlsafe base64 with
// padding: the first 16 bytes sign, the last 16 encrypt.

import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createSecretKey,
  randomBytes,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto';

const VERSION = 0x80;
const HEADER_LEN = 1 + 8 + 16; // version + timestamp + IV
const HMAC_LEN = 32;
const BLOCK = 16;
// Smallest possible token: one block of ciphertext (PKCS7 always adds at least one byte).
const MIN_TOKEN_LEN = HEADER_LEN + BLOCK + HMAC_LEN;

const KEY_TEXT = /^[A-Za-z0-9_-]{43}=?$/;
const TOKEN_TEXT = /^[A-Za-z0-9_-]+$/;

/** Any malformed, tampered or undecryptable token. The message never says which (no oracle). */
export class InvalidFernetToken extends Error {
  constructor(message = 'Invalid Fernet token') {
    super(message);
    this.name = 'InvalidFernetToken';
  }
}

/** One Fernet key; the derived node:crypto key objects are built once and reused. */
export class FernetKey {
  readonly signingKey: KeyObject;
  readonly encryptionKey: KeyObject;
  readonly #raw: Buffer;

  private constructor(raw: Buffer) {
    this.#raw = Buffer.from(raw); // own copy: callers may reuse their buffer
    this.signingKey = createSecretKey(this.#raw.subarray(0, 16));
    this.encryptionKey = createSecretKey(this.#raw.subarray(16, 32));
  }

  /** From the 32 raw key bytes. */
  static fromBytes(raw: Uint8Array): FernetKey {
    if (raw.length !== 32) throw new Error(`Fernet key must be 32 bytes, got ${raw.length}`);
    return new FernetKey(Buffer.from(raw));
  }

  /** From the text form (urlsafe base64, padding optional, surrounding whitespace ignored). */
  static fromString(text: string): FernetKey {
    const t = text.trim();
    if (!KEY_TEXT.test(t)) throw new Error('Fernet key must be 32 bytes of urlsafe base64');
    const raw = Buffer.from(t.replace(/=$/, ''), 'base64url');
    // Reject non-canonical text (stray low bits in the last character) so one key has one spelling.
    if (raw.length !== 32 || raw.toString('base64url') !== t.replace(/=$/, '')) {
      throw new Error('Fernet key must be 32 bytes of urlsafe base64');
    }
    return new FernetKey(raw);
  }

  static generate(): FernetKey {
    return new FernetKey(randomBytes(32));
  }

  /** The text form python's Fernet.generate_key() writes: urlsafe base64 with `=` padding. */
  toString(): string {
    return this.#raw.toString('base64url') + '=';
  }

  equals(other: FernetKey): boolean {
    return this.#raw.equals(other.#raw);
  }
}

/** A new random key in its text form (what `keystone-manage fernet_setup` writes to a file). */
export function generateKey(): string {
  return FernetKey.generate().toString();
}

/** Remove the `=` padding, as Keystone does before handing a token out (it is not URL-safe). */
export function stripPadding(token: string): string {
  let end = token.length;
  while (end > 0 && token.charCodeAt(end - 1) === 0x3d) end--;
  return token.slice(0, end);
}

/** Put back the padding Keystone stripped (keystone TokenFormatter.restore_padding). */
export function restorePadding(token: string): string {
  const mod = token.length % 4;
  return mod ? token + '='.repeat(4 - mod) : token;
}

/**
 * Base64url text (padded or not) to the token bytes. Strict: only the urlsafe alphabet, at most
 * the right amount of padding, and canonical trailing bits, so a token has exactly one spelling.
 */
export function decodeTokenText(token: string): Buffer {
  const bare = stripPadding(token);
  const padding = token.length - bare.length;
  if (bare.length === 0 || bare.length % 4 === 1 || !TOKEN_TEXT.test(bare)) {
    throw new InvalidFernetToken();
  }
  if (padding !== 0 && (padding > 2 || (bare.length + padding) % 4 !== 0)) throw new InvalidFernetToken();
  const bytes = Buffer.from(bare, 'base64url');
  if (bytes.toString('base64url') !== bare) throw new InvalidFernetToken();
  return bytes;
}

export interface EncryptOptions {
  /** Seconds since the epoch written into the token; defaults to now. */
  timestamp?: number;
  /** For test vectors only: a fixed IV. Never reuse an IV in production. */
  iv?: Uint8Array;
}

/** Encrypt with one key; returns the raw token bytes. */
export function encryptBytes(key: FernetKey, plaintext: Uint8Array, opts: EncryptOptions = {}): Buffer {
  const timestamp = opts.timestamp ?? Math.floor(Date.now() / 1000);
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) throw new Error('Fernet timestamp must be a non-negative integer');
  const iv = opts.iv ? Buffer.from(opts.iv) : randomBytes(BLOCK);
  if (iv.length !== BLOCK) throw new Error('Fernet IV must be 16 bytes');

  const cipher = createCipheriv('aes-128-cbc', key.encryptionKey, iv); // PKCS7 padding is the default
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);

  const out = Buffer.allocUnsafe(HEADER_LEN + ciphertext.length + HMAC_LEN);
  out[0] = VERSION;
  out.writeBigUInt64BE(BigInt(timestamp), 1);
  iv.copy(out, 9);
  ciphertext.copy(out, HEADER_LEN);
  const signedEnd = HEADER_LEN + ciphertext.length;
  createHmac('sha256', key.signingKey).update(out.subarray(0, signedEnd)).digest().copy(out, signedEnd);
  return out;
}

export interface Decrypted {
  plaintext: Buffer;
  /** Seconds since the epoch, from the token header. */
  timestamp: number;
}

/** Structural checks that need no key; returns the header timestamp. */
function checkShape(token: Buffer): number {
  if (token.length < MIN_TOKEN_LEN || token[0] !== VERSION) throw new InvalidFernetToken();
  if ((token.length - HEADER_LEN - HMAC_LEN) % BLOCK !== 0) throw new InvalidFernetToken();
  const ts = token.readBigUInt64BE(1);
  // Beyond 2^53 the value cannot be a real issue time; refuse rather than lose precision.
  if (ts > BigInt(Number.MAX_SAFE_INTEGER)) throw new InvalidFernetToken();
  return Number(ts);
}

/** Decrypt with one key, or undefined when this key did not make the token. */
function tryDecrypt(key: FernetKey, token: Buffer): Buffer | undefined {
  const signedEnd = token.length - HMAC_LEN;
  const expected = createHmac('sha256', key.signingKey).update(token.subarray(0, signedEnd)).digest();
  if (!timingSafeEqual(expected, token.subarray(signedEnd))) return undefined;
  try {
    const decipher = createDecipheriv('aes-128-cbc', key.encryptionKey, token.subarray(9, HEADER_LEN));
    return Buffer.concat([decipher.update(token.subarray(HEADER_LEN, signedEnd)), decipher.final()]);
  } catch {
    return undefined; // bad PKCS7 padding
  }
}

/**
 * Decrypt raw token bytes trying every key in order, as MultiFernet does. No TTL check: token
 * expiry lives in the payload and is the caller's business.
 */
export function decryptBytes(keys: readonly FernetKey[], token: Buffer): Decrypted {
  const timestamp = checkShape(token);
  for (const key of keys) {
    const plaintext = tryDecrypt(key, token);
    if (plaintext) return { plaintext, timestamp };
  }
  throw new InvalidFernetToken();
}

/** python-cryptography's MultiFernet: encrypt with the first key, decrypt with any. */
export class MultiFernet {
  readonly keys: readonly FernetKey[];

  constructor(keys: readonly FernetKey[]) {
    if (keys.length === 0) throw new Error('MultiFernet needs at least one key');
    this.keys = [...keys];
  }

  /** A spec token (padded base64url), made with the primary (first) key. */
  encrypt(plaintext: Uint8Array, opts?: EncryptOptions): string {
    return restorePadding(encryptBytes(this.keys[0]!, plaintext, opts).toString('base64url'));
  }

  /** Accepts the token with or without its `=` padding. */
  decrypt(token: string): Buffer {
    return decryptBytes(this.keys, decodeTokenText(token)).plaintext;
  }

  decryptWithTimestamp(token: string): Decrypted {
    return decryptBytes(this.keys, decodeTokenText(token));
  }
}

/** A single-key Fernet. */
export class Fernet extends MultiFernet {
  constructor(key: FernetKey | string) {
    super([typeof key === 'string' ? FernetKey.fromString(key) : key]);
  }
}
