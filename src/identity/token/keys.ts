// The Fernet key repository, laid out and rotated exactly as `keystone-manage fernet_setup` /
// `fernet_rotate` do (keystone/common/fernet_utils.py), so a repository can be shared with, or
// migrated from, a real Keystone:
//
//   - one file per key, named by an integer, holding the key's urlsafe base64 text;
//   - `0` is the staged key (the next primary; already accepted for decryption so that a
//     rotation can reach every node before any node encrypts with it);
//   - the highest number is the primary (encrypts); all others are secondaries (decrypt only).

import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { FernetKey, generateKey } from './fernet.js';

export const STAGED_KEY_INDEX = 0;
/** Keystone's default `[fernet_tokens] max_active_keys`. */
export const DEFAULT_MAX_ACTIVE_KEYS = 3;

const KEY_FILE_NAME = /^[0-9]+$/;
const TMP_NAME = '0.tmp'; // the name keystone uses, so a half-done rotation looks the same

/** Numbered, non-empty key files: index -> text. Like keystone, other names and empty files are ignored. */
export function readKeyFiles(dir: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!KEY_FILE_NAME.test(entry.name)) continue;
    const path = join(dir, entry.name);
    // isFile() on the dirent does not follow symlinks; keystone's os.path.isfile does.
    if (!(entry.isFile() || (entry.isSymbolicLink() && statSync(path).isFile()))) continue;
    const text = readFileSync(path, 'utf8');
    if (text.length === 0) continue;
    out.set(Number.parseInt(entry.name, 10), text);
  }
  return out;
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Write a fresh key to `0.tmp` (mode 0600, flushed to disk); the caller renames it into place. */
function writeTmpKey(dir: string): string {
  const tmp = join(dir, TMP_NAME);
  rmSync(tmp, { force: true }); // a leftover from a crashed run may have other permissions
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, generateKey());
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return tmp;
}

function checkMaxActiveKeys(maxActiveKeys: number): void {
  // keystone's option has min=1
  if (!Number.isSafeInteger(maxActiveKeys) || maxActiveKeys < 1) {
    throw new Error(`max_active_keys must be an integer >= 1, got ${maxActiveKeys}`);
  }
}

export interface RotationResult {
  /** The number the staged key was promoted to. */
  primary: number;
  /** Key numbers deleted because they exceeded max_active_keys. */
  purged: number[];
}

/**
 * `keystone-manage fernet_rotate`: the staged key 0 becomes the primary under the next number, a
 * new staged key 0 is written, and the oldest keys beyond `maxActiveKeys` (which counts the
 * staged key) are deleted. Same order of file operations as keystone.
 */
export function rotateKeys(dir: string, maxActiveKeys: number = DEFAULT_MAX_ACTIVE_KEYS): RotationResult {
  checkMaxActiveKeys(maxActiveKeys);
  const indexes = [...readKeyFiles(dir).keys()];
  if (!indexes.includes(STAGED_KEY_INDEX)) {
    throw new Error(`Fernet key repository ${dir} has no staged key 0; run the key setup first`);
  }
  const tmp = writeTmpKey(dir);
  const primary = Math.max(...indexes) + 1;
  renameSync(join(dir, String(STAGED_KEY_INDEX)), join(dir, String(primary)));
  renameSync(tmp, join(dir, String(STAGED_KEY_INDEX)));

  // The new staged key does not count here, hence max - 1 (keystone: `max_active_keys - 1`).
  // Note that with max_active_keys=1 this purges even the new primary, as keystone does.
  const active = indexes.filter((i) => i !== STAGED_KEY_INDEX).concat(primary).sort((a, b) => b - a);
  const purged: number[] = [];
  while (active.length > maxActiveKeys - 1) {
    const oldest = active.pop()!;
    rmSync(join(dir, String(oldest)));
    purged.push(oldest);
  }
  fsyncDir(dir);
  return { primary, purged };
}

/**
 * `keystone-manage fernet_setup`: create the directory (mode 0700) and bootstrap keys 0 (staged)
 * and 1 (primary). Idempotent as keystone's: if a staged key 0 already exists nothing is touched.
 * Returns whether keys were created.
 */
export function setupKeyRepository(dir: string, maxActiveKeys: number = DEFAULT_MAX_ACTIVE_KEYS): boolean {
  checkMaxActiveKeys(maxActiveKeys);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // keystone tests only that the file exists
  if (existsSync(join(dir, String(STAGED_KEY_INDEX)))) return false;
  renameSync(writeTmpKey(dir), join(dir, String(STAGED_KEY_INDEX)));
  rotateKeys(dir, maxActiveKeys);
  return true;
}

function readFilesOf(dir: string): Map<number, string> {
  try {
    const files = readKeyFiles(dir);
    if (files.size === 0) throw new Error('no key files');
    return files;
  } catch (err) {
    throw new Error(`Cannot load Fernet keys from ${dir} (run the key setup first?): ${(err as Error).message}`);
  }
}

function parseKeys(dir: string, files: Map<number, string>): Array<{ index: number; key: FernetKey }> {
  return [...files.entries()]
    .sort((a, b) => b[0] - a[0])
    .map(([index, text]) => {
      try {
        return { index, key: FernetKey.fromString(text) };
      } catch (err) {
        throw new Error(`Invalid Fernet key file ${join(dir, String(index))}: ${(err as Error).message}`);
      }
    });
}

/** Keys with their numbers, primary first, then descending, the staged key 0 last. */
export function loadNumberedKeys(dir: string): Array<{ index: number; key: FernetKey }> {
  return parseKeys(dir, readFilesOf(dir));
}

/** The keys in keystone's order: primary (encrypts) first, then the others descending, staged 0 last. */
export function loadKeys(dir: string): FernetKey[] {
  return loadNumberedKeys(dir).map((k) => k.key);
}

/** Keystone warns when the repository is readable or searchable by others; so do we. */
export function keyRepositoryWarnings(dir: string): string[] {
  const mode = statSync(dir).mode;
  return mode & 0o005 ? [`Fernet key repository ${dir} is world readable`] : [];
}

export interface KeyRepositoryOptions {
  /**
   * How often keys() re-reads the directory to notice a rotation done by another process or
   * synced from another node. Keystone re-reads on every token; once a second is plenty.
   */
  recheckIntervalMs?: number;
  now?: () => number;
}

/**
 * A cached view of a key repository for the token hot path: keys() returns the same array (so
 * derived keys are reused) until the files change.
 */
export class KeyRepository {
  readonly dir: string;
  readonly #interval: number;
  readonly #now: () => number;
  #keys: readonly FernetKey[] = [];
  #signature = '';
  #checkedAt = -Infinity;

  constructor(dir: string, opts: KeyRepositoryOptions = {}) {
    this.dir = dir;
    this.#interval = opts.recheckIntervalMs ?? 1000;
    this.#now = opts.now ?? Date.now;
    this.reload();
  }

  /** Current keys, primary first. */
  keys(): readonly FernetKey[] {
    if (this.#now() - this.#checkedAt >= this.#interval) {
      try {
        this.reload();
      } catch (err) {
        // A sync tool may be mid-way through replacing files: keep serving the keys we have.
        if (this.#keys.length === 0) throw err;
      }
    }
    return this.#keys;
  }

  /** Re-read the directory now. Keeps the same array when nothing changed. */
  reload(): void {
    this.#checkedAt = this.#now();
    const files = readFilesOf(this.dir);
    const signature = [...files.entries()].map(([i, text]) => `${i}:${text.trim()}`).sort().join(',');
    if (signature === this.#signature) return; // unchanged: keep the derived keys
    this.#keys = Object.freeze(parseKeys(this.dir, files).map((k) => k.key));
    this.#signature = signature;
  }
}
