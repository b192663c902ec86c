// Receiving image data: the bytes stream into a temp file next to their final place while md5
// and the os_hash algorithm run on worker threads over the same shared-memory slots and the
// format inspector reads along; the whole image is never in memory (6 slots of 4 MiB at most).
// Full slots go to the file with O_DIRECT where the filesystem allows it (the ring is
// page-aligned): buffered writes of a fresh file cost this machine's kernel 2-2.6 CPU-seconds per
// GiB (page-cache allocation and writeback), direct writes about 0.15; a background fdatasync
// every SYNC_EVERY bytes keeps the final one short. At the end the file is fdatasync'd; the caller
// then checks the inspection, and only then renames it into place (FileStore.commit) and marks
// the image active. Any failure — too big, over quota, a client that stops sending, a bad format —
// removes the temp file.

import { open, unlink, type FileHandle } from 'node:fs/promises';
import { constants } from 'node:fs';
import type { Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { SLOT_SIZE, SLOTS, type HashPool } from './hashing.js';
import { createInspector, type InspectionResult } from './inspect.js';

export class TruncatedUpload extends Error {}

/**
 * Calls onChunk for each chunk of a stream, one at a time (the stream waits while onChunk's
 * promise is pending). A stream that ends early (client gone) rejects with TruncatedUpload; when
 * onChunk throws, the rest of the stream is read and dropped, so a response can still be sent.
 * With idleMs, a stream that delivers nothing for that long (while nothing of ours is pending) is
 * destroyed and rejects with TruncatedUpload: a stalled client must not hold an image in `saving`
 * and its partial file for ever.
 */
export function consume(stream: Readable, onChunk: (b: Buffer) => void | Promise<void>, expected?: number | null, idleMs = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    let total = 0;
    let settled = false;
    const idle = idleMs > 0 ? setTimeout(() => onIdle(), idleMs) : null;
    const cleanup = () => {
      if (idle) clearTimeout(idle);
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.off('close', onClose);
      stream.off('aborted', onAborted);
    };
    const fail = (e: Error, drain: boolean) => {
      if (settled) return;
      settled = true;
      cleanup();
      if (drain && !stream.destroyed) { stream.on('error', () => undefined); stream.resume(); }
      reject(e);
    };
    // The chunk being processed asynchronously: 'end' can come while the stream is paused for
    // it, and must wait until it is done.
    let pending: Promise<void> | null = null;
    const onData = (chunk: Buffer) => {
      idle?.refresh();
      total += chunk.length;
      let r: void | Promise<void>;
      try { r = onChunk(chunk); } catch (e) { fail(e as Error, true); return; }
      if (r && typeof (r as Promise<void>).then === 'function') {
        stream.pause();
        const p: Promise<void> = (r as Promise<void>).then(() => {
          if (pending === p) pending = null;
          if (!settled) stream.resume();
        }, (e: Error) => { if (pending === p) pending = null; fail(e, true); });
        pending = p;
      }
    };
    let ended = false;
    const onEnd = () => {
      ended = true;
      if (settled) return;
      if (pending) { void pending.then(onEnd); return; }
      const req = stream as Partial<IncomingMessage>;
      if (req.complete === false || (expected != null && total !== expected)) {
        fail(new TruncatedUpload(`image data ended after ${total} of ${expected ?? '?'} bytes`), false);
        return;
      }
      settled = true;
      cleanup();
      resolve(total);
    };
    const onError = (e: Error) => fail(e.message === 'aborted' ? new TruncatedUpload('client aborted the upload') : e, false);
    const onAborted = () => fail(new TruncatedUpload('client aborted the upload'), false);
    const onClose = () => { if (!settled && !ended) setImmediate(() => { if (!settled && !ended) fail(new TruncatedUpload('connection closed during the upload'), false); }); };
    const onIdle = () => {
      if (settled) return;
      if (pending) { idle!.refresh(); return; } // our own writes or hashes hold the stream, not the client
      fail(new TruncatedUpload(`no data received for ${idleMs / 1000} s`), false);
      stream.destroy();
    };
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.on('close', onClose);
    stream.on('aborted', onAborted);
  });
}

async function writeAll(fh: FileHandle, buf: Buffer, pos: number | null = null): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off, pos === null ? null : pos + off);
    off += bytesWritten;
  }
}

/** Bytes written between two background fdatasyncs of an upload. */
const SYNC_EVERY = 128 << 20;
const DIRECT_ALIGN = 4096;

/**
 * The temp file an upload goes into: created exclusively; aligned blocks are written through a
 * second, O_DIRECT descriptor when the filesystem takes one (not tmpfs), the rest — and all of it
 * when direct I/O is refused (EINVAL) — through the ordinary one. Writes are positional, so
 * several can be in flight. fdatasync covers both (it is per file).
 */
export class UploadFile {
  private syncing: Promise<void> | null = null;
  private sinceSync = 0;
  private constructor(private fh: FileHandle, private direct: FileHandle | null) {}

  static async create(path: string, directIo = true): Promise<UploadFile> {
    const fh = await open(path, 'wx', 0o640);
    let direct: FileHandle | null = null;
    if (directIo && constants.O_DIRECT) {
      direct = await open(path, constants.O_WRONLY | constants.O_DIRECT).catch(() => null);
    }
    return new UploadFile(fh, direct);
  }

  get isDirect(): boolean { return this.direct !== null; }

  /** Writes buf at pos (buffered when it is not block-aligned or direct I/O fails with EINVAL). */
  async write(buf: Buffer, pos: number): Promise<void> {
    const d = this.direct;
    if (d && buf.length % DIRECT_ALIGN === 0 && pos % DIRECT_ALIGN === 0 && buf.byteOffset % DIRECT_ALIGN === 0) {
      let done = 0;
      try {
        const { bytesWritten } = await d.write(buf, 0, buf.length, pos);
        done = bytesWritten;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EINVAL') throw e;
        // The buffer's memory is not aligned as the device wants: no more direct writes.
        if (this.direct === d) { this.direct = null; await d.close().catch(() => undefined); }
      }
      if (done < buf.length) await writeAll(this.fh, buf.subarray(done), pos + done);
    } else {
      await writeAll(this.fh, buf, pos);
    }
    this.sinceSync += buf.length;
    // Flush what is written so far in the background, so the last fdatasync has little left.
    if (this.sinceSync >= SYNC_EVERY && !this.syncing) {
      this.sinceSync = 0;
      const s: Promise<void> = this.fh.datasync().finally(() => { if (this.syncing === s) this.syncing = null; });
      this.syncing = s;
      s.catch(() => undefined);
    }
  }

  /** Waits for a background flush, then fdatasyncs the whole file and closes it. */
  async finish(): Promise<void> {
    if (this.syncing) await this.syncing;
    await this.fh.datasync();
    await this.close();
  }

  async close(): Promise<void> {
    await this.syncing?.catch(() => undefined);
    await Promise.all([this.fh.close().catch(() => undefined), this.direct?.close().catch(() => undefined)]);
    this.direct = null;
  }
}

export interface ReceiveOptions {
  source: Readable;
  /** Where the bytes go (created; must not exist). */
  tempPath: string;
  /** Bytes accepted at most; beyond, onLimit's error. */
  limit: number;
  onLimit: (received: number) => Error;
  /** Content-Length, when the client gave one: fewer bytes is a truncated upload. */
  expectedSize?: number | null;
  hashAlgo: string;
  /** The claimed disk_format to inspect against, or null for no inspection. */
  inspectAs: string | null;
  /** Write full slots with O_DIRECT when the filesystem allows it (default true). */
  directIo?: boolean;
  /** Milliseconds the source may deliver nothing before the upload is dropped (0: no limit). */
  idleTimeoutMs?: number;
}

export interface Received {
  size: number;
  checksum: string;
  hashAlgo: string;
  hashValue: string;
  inspection: InspectionResult | null;
}

/** Streams a source into tempPath, hashing and inspecting on the way; removes the file on failure. */
export async function receiveData(hashers: HashPool, o: ReceiveOptions): Promise<Received> {
  const file = await UploadFile.create(o.tempPath, o.directIo ?? true);
  const job = hashers.begin(['md5', o.hashAlgo]);
  const inspector = o.inspectAs ? await createInspector(o.inspectAs).catch(async (e: Error) => {
    job.abort();
    await file.close();
    await unlink(o.tempPath).catch(() => undefined);
    throw e;
  }) : null;
  const inflight: Array<Promise<void> | null> = new Array(SLOTS).fill(null);
  let slot = 0;
  let fill = 0;
  let total = 0;
  let written = 0; // file position of the next slot
  let failure: Error | undefined;
  let stopped = false;

  // A full (or the last) slot: hashed on the workers and written at its place in the file, at
  // once; the slot is free again when all of them are done with it.
  const flush = (i: number, len: number) => {
    const hashed = job.submit(i, len);
    const w = file.write(job.slot(i).subarray(0, len), written);
    written += len;
    const both = Promise.all([hashed, w]).then(() => undefined);
    both.catch((e: Error) => { failure ??= e; });
    inflight[i] = both;
  };

  try {
    // Copies a chunk into the ring; returns a promise only when it must wait for a free slot,
    // so the request stream is paused only then.
    const place = (chunk: Buffer, off: number): void | Promise<void> => {
      while (off < chunk.length && !stopped) {
        const busy = fill === 0 ? inflight[slot] : null;
        if (busy) return busy.then(() => { inflight[slot] = null; return place(chunk, off); });
        const n = Math.min(SLOT_SIZE - fill, chunk.length - off);
        chunk.copy(job.slot(slot), fill, off, off + n);
        fill += n;
        off += n;
        if (fill === SLOT_SIZE) {
          flush(slot, fill);
          slot = (slot + 1) % SLOTS;
          fill = 0;
        }
      }
    };
    await consume(o.source, (chunk) => {
      if (failure) throw failure;
      total += chunk.length;
      if (total > o.limit) throw o.onLimit(total);
      inspector?.feed(chunk);
      return place(chunk, 0);
    }, o.expectedSize, o.idleTimeoutMs);
    if (fill) flush(slot, fill);
    await Promise.all(inflight.filter(Boolean));
    if (failure) throw failure;
    await file.finish();
    const [checksum, hashValue] = await job.finish();
    const inspection = inspector ? inspector.finish(total) : null;
    return { size: total, checksum: checksum!, hashAlgo: o.hashAlgo, hashValue: hashValue!, inspection };
  } catch (e) {
    stopped = true;
    // Slots still being hashed or written finish first (a dead worker rejects them), then the
    // hashing is dropped and the file removed.
    await Promise.allSettled(inflight.filter(Boolean) as Promise<void>[]);
    job.abort();
    await file.close();
    await unlink(o.tempPath).catch(() => undefined);
    throw e;
  }
}

/** Streams a source into a file without hashing (staging), fsync'd; removes it on failure. */
export async function receivePlain(o: { source: Readable; path: string; limit: number; onLimit: (n: number) => Error; expectedSize?: number | null; idleTimeoutMs?: number }): Promise<number> {
  const fh = await open(o.path, 'wx', 0o640);
  let total = 0;
  try {
    await consume(o.source, async (chunk) => {
      total += chunk.length;
      if (total > o.limit) throw o.onLimit(total);
      await writeAll(fh, chunk);
    }, o.expectedSize, o.idleTimeoutMs);
    await fh.datasync();
    await fh.close();
    return total;
  } catch (e) {
    await fh.close().catch(() => undefined);
    await unlink(o.path).catch(() => undefined);
    throw e;
  }
}
