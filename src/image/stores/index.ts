// Where image data lives, behind one interface per store type, as glance_store's drivers:
// `file` keeps each image as one file named by its id in a directory (read-write), `http` only
// reads external locations (read-only; never stores anything). Object storage and others can
// be added as further types. Stores are configured as [image] enabled_backends = id:type,...

import { mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { checkExternalUri } from '../urls.js';
import { FileRange } from './file-range.js';

export class StoreNotFound extends Error {}
export class UnknownScheme extends Error {}
export class BadStoreUri extends Error {}

export interface ImageStore {
  readonly id: string;
  readonly type: 'file' | 'http';
  readonly readOnly: boolean;
  /** Whether a location URL belongs to this store's kind (scheme). */
  handles(url: string): boolean;
  /** The data's size, or null when unknown; StoreNotFound when absent. */
  size(url: string): Promise<number | null>;
  /** Bytes [start, end] (end inclusive, default: to the end) of the data at url. */
  read(url: string, start?: number, end?: number): Promise<Readable>;
  delete(url: string): Promise<void>;
}

export class FileStore implements ImageStore {
  readonly type = 'file';
  readonly readOnly = false;
  constructor(readonly id: string, readonly dir: string) {}

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o750 });
    // Upload temp files left by a crash: their image never went active.
    for (const f of await readdir(this.dir)) if (f.endsWith('.part')) await unlink(join(this.dir, f)).catch(() => undefined);
  }

  handles(url: string): boolean { return url.startsWith('file://'); }

  urlFor(imageId: string): string { return pathToFileURL(join(this.dir, imageId)).href; }

  /** The file behind a URL of this store; anything outside the store's directory is refused. */
  pathOf(url: string): string {
    let p: string;
    try { p = fileURLToPath(url); } catch { throw new BadStoreUri(`Invalid file location ${url}`); }
    const full = resolve(p);
    if (!full.startsWith(resolve(this.dir) + '/')) throw new BadStoreUri(`Location ${url} is not in store ${this.id}`);
    return full;
  }

  /** A new temp file path in the store directory, for data on its way in. */
  tempPath(imageId: string): string { return join(this.dir, `.${imageId}.${randomBytes(6).toString('hex')}.part`); }

  /** Moves a fully written (and synced) temp file into place, durably; returns its URL. */
  async commit(tempPath: string, imageId: string): Promise<string> {
    const final = join(this.dir, imageId);
    await rename(tempPath, final);
    const d = await open(this.dir, 'r');
    try { await d.sync(); } finally { await d.close(); }
    return this.urlFor(imageId);
  }

  async size(url: string): Promise<number | null> {
    try {
      return (await stat(this.pathOf(url))).size;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new StoreNotFound(`Image file ${url} not found`);
      throw e;
    }
  }

  async read(url: string, start = 0, end?: number): Promise<Readable> {
    const path = this.pathOf(url);
    const fh = await open(path, 'r').catch((e: NodeJS.ErrnoException) => {
      throw e.code === 'ENOENT' ? new StoreNotFound(`Image file ${url} not found`) : e;
    });
    return new FileRange(fh, start, end);
  }

  async delete(url: string): Promise<void> {
    await unlink(this.pathOf(url)).catch((e: NodeJS.ErrnoException) => { if (e.code !== 'ENOENT') throw e; });
  }
}

/** Read-only external HTTP(S) locations, only on hosts the operator allows. */
export class HttpStore implements ImageStore {
  readonly type = 'http';
  readonly readOnly = true;
  constructor(readonly id: string, private allowedHosts: string[], private allowedPorts: number[]) {}

  handles(url: string): boolean { return /^https?:\/\//i.test(url); }

  private check(url: string): URL {
    const r = checkExternalUri(url, this.allowedHosts, this.allowedPorts);
    if (!r.ok) throw new BadStoreUri(r.reason);
    return r.url;
  }

  async size(url: string): Promise<number | null> {
    const u = this.check(url);
    let res: Response;
    try {
      res = await fetch(u, { method: 'HEAD', redirect: 'manual', signal: AbortSignal.timeout(30_000) });
    } catch (e) {
      throw new StoreNotFound(`HTTP location ${url} unreachable: ${(e as Error).message}`);
    }
    if (res.status === 404) throw new StoreNotFound(`HTTP location ${url} not found`);
    if (res.status >= 400) throw new StoreNotFound(`HTTP location ${url}: ${res.status}`);
    const n = Number(res.headers.get('content-length'));
    return Number.isFinite(n) && n > 0 ? n : null;
  }

  async read(url: string, start = 0, end?: number): Promise<Readable> {
    const u = this.check(url);
    const headers: Record<string, string> = {};
    if (start > 0 || end !== undefined) headers.Range = `bytes=${start}-${end ?? ''}`;
    const res = await fetch(u, { headers, redirect: 'manual', signal: AbortSignal.timeout(300_000) });
    if (!res.ok || !res.body) throw new StoreNotFound(`HTTP location ${url}: ${res.status}`);
    const { Readable: R } = await import('node:stream');
    return R.fromWeb(res.body as import('node:stream/web').ReadableStream);
  }

  async delete(): Promise<void> { /* read-only: external data is not ours to delete */ }
}

export class StoreRegistry {
  readonly stores = new Map<string, ImageStore>();
  constructor(readonly defaultId: string) {}

  add(s: ImageStore): void { this.stores.set(s.id, s); }

  get(id: string): ImageStore | undefined { return this.stores.get(id); }

  get default(): FileStore {
    const s = this.stores.get(this.defaultId);
    if (!(s instanceof FileStore)) throw new Error(`default store ${this.defaultId} is not a file store`);
    return s;
  }

  /** The store a location belongs to: its metadata's store, else the first whose scheme fits. */
  forLocation(url: string, storeId?: unknown): ImageStore {
    if (typeof storeId === 'string') {
      const s = this.stores.get(storeId);
      if (s && s.handles(url)) return s;
    }
    for (const s of this.stores.values()) {
      if (!s.handles(url)) continue;
      if (s instanceof FileStore) { try { s.pathOf(url); } catch { continue; } }
      return s;
    }
    throw new UnknownScheme(`Unknown scheme '${url.split(':')[0]}' found in URI`);
  }

  /** The store id for a new external location URL (glance's get_updated_store_location). */
  idForExternal(url: string): string | undefined {
    for (const s of this.stores.values()) if (s.type === 'http' && s.handles(url)) return s.id;
    return undefined;
  }
}

/** Builds the registry from enabled_backends (id:type) and makes the file stores' directories. */
export async function createStores(o: { enabled: string[]; defaultId: string; storeDir: string; httpHosts: string[]; httpPorts: number[] }): Promise<StoreRegistry> {
  const reg = new StoreRegistry(o.defaultId);
  let firstFile = true;
  for (const spec of o.enabled) {
    const [id, type] = spec.includes(':') ? spec.split(':', 2) as [string, string] : [spec, spec];
    if (!/^[A-Za-z0-9_-]+$/.test(id) || id.startsWith('os_glance_')) throw new Error(`[image] enabled_backends: bad store id "${id}"`);
    if (type === 'file') {
      const s = new FileStore(id, firstFile ? o.storeDir : `${o.storeDir}-${id}`);
      firstFile = false;
      await s.init();
      reg.add(s);
    } else if (type === 'http') {
      reg.add(new HttpStore(id, o.httpHosts, o.httpPorts));
    } else {
      throw new Error(`[image] enabled_backends: unknown store type "${type}" (file, http)`);
    }
  }
  if (!(reg.get(o.defaultId) instanceof FileStore)) throw new Error(`[image] default_backend "${o.defaultId}" must be a file store of enabled_backends`);
  return reg;
}
