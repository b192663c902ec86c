// The image cache (Glance's image_cache with the cache API of v2.14+): an operator queues active
// images, the prefetcher copies their data into the cache directory on its next periodic run
// (cache_prefetcher_interval, as Glance's; until then the image is listed as queued), and
// downloads are then served from the cached copy (counted as hits). State is the directory itself plus a small index file,
// written atomically, so it survives restarts. On one machine with a file store this mostly
// matters for stores that are remote; the API and its semantics are Glance's.

import { mkdir, readFile, rename, unlink, writeFile, stat } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { ImageCacheApi, ImageContext } from './context.js';
import { inBackground } from './util.js';
import { loadImage } from './store/images.js';
import { receiveData } from './upload.js';

interface CachedEntry { hits: number; last_accessed: number; last_modified: number; size: number }
interface Index { cached: Record<string, CachedEntry>; queued: string[] }

export class ImageCache implements ImageCacheApi {
  private index: Index = { cached: {}, queued: [] };
  private writing: Promise<void> = Promise.resolve();
  private busy = new Set<string>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private ctx: ImageContext, readonly dir: string, private prefetchIntervalSec = 300) {}

  private get indexPath(): string { return join(this.dir, 'index.json'); }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o750 });
    try {
      this.index = JSON.parse(await readFile(this.indexPath, 'utf8')) as Index;
    } catch {
      this.index = { cached: {}, queued: [] };
    }
    for (const id of Object.keys(this.index.cached)) {
      try { await stat(join(this.dir, id)); } catch { delete this.index.cached[id]; }
    }
    // Images queued before a restart are fetched on the prefetcher's first run.
    this.timer = setInterval(() => this.prefetch(), Math.max(1, this.prefetchIntervalSec) * 1000);
    this.timer.unref();
  }

  /** Stops the prefetcher (fills already running finish in the background set). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One prefetcher run: starts a fill for every queued image not already being filled. */
  prefetch(): void {
    for (const id of this.index.queued) this.fetch(id);
  }

  private save(): Promise<void> {
    const snapshot = JSON.stringify(this.index);
    this.writing = this.writing.then(async () => {
      const tmp = `${this.indexPath}.tmp`;
      await writeFile(tmp, snapshot, { mode: 0o640 });
      await rename(tmp, this.indexPath);
    }).catch((e: unknown) => this.ctx.log.error({ err: e }, 'image cache index write failed'));
    return this.writing;
  }

  cachedImages(): Array<Record<string, unknown>> {
    return Object.entries(this.index.cached).map(([id, e]) => ({
      image_id: id, hits: e.hits, last_accessed: e.last_accessed, last_modified: e.last_modified, size: e.size,
    }));
  }

  queuedImages(): string[] { return [...this.index.queued]; }

  isCached(id: string): boolean { return id in this.index.cached; }

  async queue(id: string): Promise<void> {
    if (this.isCached(id) || this.index.queued.includes(id)) return;
    this.index.queued.push(id);
    await this.save();
  }

  /** The prefetcher: copies the image's data into the cache, verified against its checksum. */
  private fetch(id: string): void {
    if (this.busy.has(id)) return;
    this.busy.add(id);
    inBackground(this.ctx, async () => {
      const tmp = join(this.dir, `.${id}.part`);
      try {
        const image = await loadImage(this.ctx.db, id);
        const loc = image?.locations[0];
        if (!image || image.status !== 'active' || !loc) throw new Error(`image ${id} has no active data to cache`);
        const src = await this.ctx.stores.forLocation(loc.url, loc.metadata.store).read(loc.url);
        await unlink(tmp).catch(() => undefined);
        const r = await receiveData(this.ctx.hashers, {
          source: src, tempPath: tmp, limit: Number.MAX_SAFE_INTEGER, onLimit: () => new Error('too large'),
          expectedSize: image.size, hashAlgo: image.os_hash_algo ?? 'sha512', inspectAs: null,
        });
        if (image.checksum && r.checksum !== image.checksum) throw new Error(`cached copy of ${id} has checksum ${r.checksum}, not ${image.checksum}`);
        if (!this.index.queued.includes(id)) { await unlink(tmp).catch(() => undefined); return; } // dequeued meanwhile
        await rename(tmp, join(this.dir, id));
        const now = Date.now() / 1000;
        this.index.cached[id] = { hits: 0, last_accessed: now, last_modified: now, size: r.size };
        this.index.queued = this.index.queued.filter((q) => q !== id);
        await this.save();
      } catch (e) {
        await unlink(tmp).catch(() => undefined);
        this.index.queued = this.index.queued.filter((q) => q !== id);
        await this.save();
        throw e;
      } finally {
        this.busy.delete(id);
      }
    });
  }

  /** The cached copy's data, counting a hit; null when not cached. */
  async read(id: string, start: number, end?: number): Promise<Readable | null> {
    const e = this.index.cached[id];
    if (!e) return null;
    try {
      await stat(join(this.dir, id));
    } catch {
      delete this.index.cached[id];
      await this.save();
      return null;
    }
    e.hits++;
    e.last_accessed = Date.now() / 1000;
    void this.save();
    return createReadStream(join(this.dir, id), { start, end, highWaterMark: 1 << 20 });
  }

  async deleteCached(id: string): Promise<void> {
    if (!(id in this.index.cached)) return;
    delete this.index.cached[id];
    await unlink(join(this.dir, id)).catch(() => undefined);
    await this.save();
  }

  async deleteQueued(id: string): Promise<void> {
    this.index.queued = this.index.queued.filter((q) => q !== id);
    await this.save();
  }

  async clearCached(): Promise<number> {
    const ids = Object.keys(this.index.cached);
    for (const id of ids) await unlink(join(this.dir, id)).catch(() => undefined);
    this.index.cached = {};
    await this.save();
    return ids.length;
  }

  async clearQueued(): Promise<number> {
    const n = this.index.queued.length;
    this.index.queued = [];
    await this.save();
    return n;
  }
}
