// Hashing off the event loop: a small pool of worker threads, each algorithm of an upload on its
// own thread, reading the bytes from a ring of shared-memory slots the main thread fills (no
// per-chunk copies between threads, one message per 4 MiB slot). md5 and sha512 of an upload
// then run in parallel with each other and with the file writes.

import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import type { HashReply, HashRequest } from './hash-worker.js';

export const SLOT_SIZE = 4 << 20;
export const SLOTS = 6;

// WebAssembly's types are not in this project's libs (ES2023, no DOM): the one constructor used.
declare const WebAssembly: { Memory: new (d: { initial: number; maximum: number; shared: boolean }) => { buffer: SharedArrayBuffer } };

/**
 * Shared memory for a ring, page-aligned: a shared WebAssembly memory is mapped by V8 on page
 * boundaries (a plain SharedArrayBuffer comes from malloc, 16 bytes past a page), so every slot
 * can be written to the file with O_DIRECT, which wants aligned buffers (upload.ts).
 */
export function alignedShared(bytes: number): SharedArrayBuffer {
  const pages = Math.ceil(bytes / 65536);
  try {
    return new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true }).buffer;
  } catch {
    return new SharedArrayBuffer(bytes);
  }
}

interface Pending {
  onAck: (slot: number) => void;
  onDigest: (hex: string) => void;
  onError: (e: Error) => void;
}

export class HashPool {
  private workers: Worker[] = [];
  private rr = 0;
  private seq = 0;
  private pending = new Map<number, Pending>();
  private freeRings: SharedArrayBuffer[] = [];
  private closed = false;

  constructor(private readonly size = Math.max(2, Math.min(4, availableParallelism()))) {
    primeMalloc();
  }

  private worker(i: number): Worker {
    let w = this.workers[i];
    if (!w) {
      w = new Worker(new URL('./hash-worker.js', import.meta.url));
      w.unref();
      w.on('message', (r: HashReply) => {
        const p = this.pending.get(r.job);
        if (!p) return;
        if ('slot' in r) p.onAck(r.slot);
        else if ('digest' in r) { this.pending.delete(r.job); p.onDigest(r.digest); }
        else { this.pending.delete(r.job); p.onError(new Error(`hashing failed: ${r.error}`)); }
      });
      const fail = (e: Error) => {
        this.workers[i] = undefined as unknown as Worker;
        for (const [id, p] of this.pending) if ((p as Pending & { worker?: number }).worker === i) { this.pending.delete(id); p.onError(e); }
      };
      w.on('error', fail);
      w.on('exit', (code) => { if (!this.closed) fail(new Error(`hash worker exited (${code})`)); });
      this.workers[i] = w;
    }
    return w;
  }

  /** Starts hashing one stream of bytes with each algorithm (md5, sha512...). */
  begin(algos: string[]): HashJob {
    if (this.closed) throw new Error('hash pool closed');
    const sab = this.freeRings.pop() ?? alignedShared(SLOT_SIZE * SLOTS);
    const first = this.rr++;
    const parts = algos.map((algo, k) => {
      const wi = (first + k) % this.size;
      return { algo, wi, job: ++this.seq, worker: this.worker(wi) };
    });
    return new HashJob(this, sab, parts);
  }

  /** @internal */
  register(job: number, wi: number, p: Pending): void { this.pending.set(job, Object.assign(p, { worker: wi })); }
  /** @internal */
  unregister(job: number): void { this.pending.delete(job); }
  /** @internal */
  release(sab: SharedArrayBuffer): void { if (this.freeRings.length < 4) this.freeRings.push(sab); }

  async close(): Promise<void> {
    this.closed = true;
    const ws = this.workers.filter(Boolean);
    this.workers = [];
    for (const [, p] of this.pending) p.onError(new Error('hash pool closed'));
    this.pending.clear();
    await Promise.all(ws.map((w) => w.terminate()));
  }
}

let primed = false;

/**
 * Raises glibc malloc's trim threshold for this process, as glibc itself does once a large
 * mmap'd block is freed (mallopt(3), "dynamic mmap threshold": the mmap threshold becomes that
 * block's size, at most 32 MiB, and the trim threshold twice it). Node copies every 64 KiB of a
 * request body into a fresh malloc'd Buffer; with the default 128 KiB trim threshold, each batch
 * the garbage collector frees is handed back to the kernel and the next batch faults its pages in
 * again: 50-110k minor faults and about 1 CPU-second per uploaded GiB on this machine
 * (bench/image), against 1-15k with the threshold raised. A throwaway worker allocates one block
 * just under 32 MiB and exits, which frees it; elsewhere than glibc this does nothing.
 */
export function primeMalloc(): void {
  if (primed) return;
  primed = true;
  try {
    const w = new Worker('Buffer.allocUnsafeSlow((32 << 20) - (64 << 10)).fill(1);', { eval: true });
    w.unref();
    w.on('error', () => undefined);
  } catch { /* best effort */ }
}

/** One upload's hashing: submit() each filled slot, then finish() for the hex digests. */
export class HashJob {
  readonly ring: Buffer;
  private acks: number[];
  private waiters = new Map<number, Array<{ resolve: () => void; reject: (e: Error) => void }>>();
  private digests: Array<Promise<string>>;
  private failed?: Error;
  private done = false;

  constructor(private pool: HashPool, private sab: SharedArrayBuffer, private parts: Array<{ algo: string; wi: number; job: number; worker: Worker }>) {
    this.ring = Buffer.from(sab);
    this.acks = new Array(SLOTS).fill(0);
    this.digests = parts.map((p) => new Promise<string>((resolve, reject) => {
      pool.register(p.job, p.wi, {
        onAck: (slot) => this.ack(slot),
        onDigest: resolve,
        onError: (e) => { this.fail(e); reject(e); },
      });
    }));
    for (const d of this.digests) d.catch(() => undefined);
    for (const p of parts) p.worker.postMessage({ op: 'begin', job: p.job, algo: p.algo, sab } satisfies HashRequest);
  }

  /** The bytes of slot i. */
  slot(i: number): Buffer { return this.ring.subarray(i * SLOT_SIZE, (i + 1) * SLOT_SIZE); }

  private ack(slot: number): void {
    if (--this.acks[slot]! > 0) return;
    const ws = this.waiters.get(slot);
    this.waiters.delete(slot);
    for (const w of ws ?? []) w.resolve();
  }

  private fail(e: Error): void {
    this.failed ??= e;
    for (const [, ws] of this.waiters) for (const w of ws) w.reject(e);
    this.waiters.clear();
  }

  /** Hashes the first len bytes of slot i; resolves when every algorithm is done with it. */
  submit(i: number, len: number): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    this.acks[i] = this.parts.length;
    const p = new Promise<void>((resolve, reject) => {
      const ws = this.waiters.get(i) ?? [];
      ws.push({ resolve, reject });
      this.waiters.set(i, ws);
    });
    for (const part of this.parts) part.worker.postMessage({ op: 'chunk', job: part.job, slot: i, off: i * SLOT_SIZE, len } satisfies HashRequest);
    return p;
  }

  /** The digests, in the order of the algorithms given to begin(). */
  async finish(): Promise<string[]> {
    if (this.failed) throw this.failed;
    for (const part of this.parts) part.worker.postMessage({ op: 'end', job: part.job } satisfies HashRequest);
    try {
      return await Promise.all(this.digests);
    } finally {
      this.done = true;
      this.pool.release(this.sab);
    }
  }

  abort(): void {
    if (this.done) return;
    this.done = true;
    for (const part of this.parts) {
      part.worker.postMessage({ op: 'abort', job: part.job } satisfies HashRequest);
      this.pool.unregister(part.job);
    }
    // The ring may still be read by a worker finishing a slot: do not reuse it.
  }
}
