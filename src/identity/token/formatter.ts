// Keystone-compatible Fernet tokens: the msgpack payload (payload.ts) encrypted with the key
// repository's keys (fernet.ts, keys.ts), `=` padding stripped as Keystone does. Tokens made here
// validate in Keystone 22 and the other way round, given the same key repository.

import { randomBytes } from 'node:crypto';
import { ApiError } from '../../common/errors.js';
import {
  decodeTokenText,
  decryptBytes,
  encryptBytes,
  InvalidFernetToken,
  type FernetKey,
} from './fernet.js';
import {
  AuthMethodCodec,
  DEFAULT_AUTH_METHODS,
  decodePayload,
  encodePayload,
  MalformedPayload,
  type PayloadOptions,
  type TokenPayload,
} from './payload.js';

export type { TokenPayload } from './payload.js';
export { TokenPayloadError, DEFAULT_AUTH_METHODS, PAYLOAD_VERSION } from './payload.js';

/**
 * A token that is malformed, tampered with, made with a key we no longer hold, or carries a
 * payload we cannot read. 401 by default (X-Auth-Token); validating an X-Subject-Token should
 * answer 404 as Keystone does (TokenNotFound).
 */
export class InvalidToken extends ApiError {
  constructor(message = 'Could not recognize Fernet token') {
    super('Unauthorized', message);
    this.name = 'InvalidToken';
  }
}

/** Returns the current keys, primary first (e.g. `() => repo.keys()` of a KeyRepository). */
export type KeySource = () => readonly FernetKey[];

export interface TokenFormatterOptions {
  /** `[auth] methods`: the order gives each method its bit. Defaults to Keystone's default list. */
  authMethods?: readonly string[];
  /** `[identity] default_domain_id`. */
  defaultDomainId?: string;
}

export interface ValidatedToken {
  payload: TokenPayload;
  /** The Fernet timestamp: when the token was issued (whole seconds). */
  issuedAt: Date;
}

export class TokenFormatter {
  readonly #keys: KeySource;
  readonly #opts: PayloadOptions;

  constructor(keys: KeySource, options: TokenFormatterOptions = {}) {
    this.#keys = keys;
    this.#opts = {
      methods: new AuthMethodCodec(options.authMethods ?? DEFAULT_AUTH_METHODS),
      defaultDomainId: options.defaultDomainId ?? 'default',
    };
  }

  #currentKeys(): readonly FernetKey[] {
    const keys = this.#keys();
    if (keys.length === 0) throw new Error('No Fernet keys available'); // keystone: KeysNotFound
    return keys;
  }

  /**
   * A new token (no padding). Throws TokenPayloadError if the payload is inconsistent (e.g. two
   * scopes, an unknown auth method, a non-UUID trust id). `issuedAt` defaults to now.
   */
  create(p: TokenPayload, issuedAt: Date = new Date()): string {
    const plaintext = encodePayload(p, this.#opts);
    const key = this.#currentKeys()[0]!;
    const token = encryptBytes(key, plaintext, { timestamp: Math.floor(issuedAt.getTime() / 1000) });
    return token.toString('base64url'); // node writes no `=` padding: exactly Keystone's rstrip
  }

  /**
   * The payload of a genuine token, or InvalidToken. Expiry is NOT checked here: the caller
   * compares `expiresAt` (and revocations) itself.
   */
  validate(token: string): TokenPayload {
    return this.validateWithIssuedAt(token).payload;
  }

  /** validate() plus the issue time, from a single decryption. */
  validateWithIssuedAt(token: string): ValidatedToken {
    let plaintext: Buffer;
    let timestamp: number;
    try {
      ({ plaintext, timestamp } = decryptBytes(this.#currentKeys(), decodeTokenText(token)));
    } catch (err) {
      if (err instanceof InvalidFernetToken) throw new InvalidToken();
      throw err;
    }
    try {
      return { payload: decodePayload(plaintext, this.#opts), issuedAt: new Date(timestamp * 1000) };
    } catch (err) {
      if (err instanceof MalformedPayload) throw new InvalidToken(err.message);
      throw err;
    }
  }

  /** When the token was issued (its Fernet timestamp). The token is authenticated first. */
  createdAt(token: string): Date {
    return this.validateWithIssuedAt(token).issuedAt;
  }
}

/** A new audit id as Keystone makes them: 16 random bytes, urlsafe base64 without padding. */
export function randomAuditId(): string {
  return randomBytes(16).toString('base64url');
}
