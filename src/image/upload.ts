// Receiving image data: the bytes stream into a temp file next to their final place while md5
// and the os_hash algorithm run on worker threads over the same shared-memory slots and the
// format inspector reads along; the whole image is never in memory (8 slots of 1 MiB at most).
// At the end the file is fdatasync'd; the caller then checks the inspection, and only then
// renames it into place (FileStore.commit) and marks the image active. Any failure — too big,
// over quota, a client that stops sending, a bad format — removes the temp file.

import { open, unlink, type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { SLOT_SIZE, SLOTS, type HashPool } from './hashing.js';
import { createInspector, type InspectionResult } from './inspect.js';

export class TruncatedUpload extends Error {}

/**
 * Calls onChunk for each chunk of a stream, one at a time (the stream waits while onChunk's
 * promise is pending). A stream that ends early (client gone) rejects with TruncatedUpload; when
 * onChunk throws, the rest of the stream is read and dropped, so a response can still be sent.
 */
export function consume(stream: Readable, onChunk: (b: Buffer) => void | Promise<void>, expected?: number | null): Promise<number> {
  return new Promise((resolve, reject) => {
    let total = 0;
    let settled = false;
    const cleanup = () => {
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
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.on('close', onClose);
    stream.on('aborted', onAborted);
  });
}

async function writeAll(fh: FileHandle, buf: Buffer): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off);
    off += bytesWritten;
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
  const fh = await open(o.tempPath, 'wx', 0o640);
  const job = hashers.begin(['md5', o.hashAlgo]);
  const inspector = o.inspectAs ? await createInspector(o.inspectAs) : null;
  const inflight: Array<Promise<void> | null> = new Array(SLOTS).fill(null);
  let writes: Promise<void> = Promise.resolve();
  let slot = 0;
  let fill = 0;
  let total = 0;
  let failure: Error | undefined;
  let stopped = false;

  const flush = (i: number, len: number) => {
    const buf = job.slot(i).subarray(0, len);
    const hashed = job.submit(i, len);
    writes = writes.then(() => writeAll(fh, buf));
    const both = Promise.all([hashed, writes]).then(() => undefined);
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
    }, o.expectedSize);
    if (fill) flush(slot, fill);
    await Promise.all(inflight.filter(Boolean));
    await writes;
    if (failure) throw failure;
    await fh.datasync();
    await fh.close();
    const [checksum, hashValue] = await job.finish();
    const inspection = inspector ? inspector.finish(total) : null;
    return { size: total, checksum: checksum!, hashAlgo: o.hashAlgo, hashValue: hashValue!, inspection };
  } catch (e) {
    stopped = true;
    // Slots still being hashed or written finish first (a dead worker rejects them), then the
    // hashing is dropped and the file removed.
    await Promise.allSettled(inflight.filter(Boolean) as Promise<void>[]);
    await writes.catch(() => undefined);
    job.abort();
    await fh.close().catch(() => undefined);
    await unlink(o.tempPath).catch(() => undefined);
    throw e;
  }
}

/** Streams a source into a file without hashing (staging), fsync'd; removes it on failure. */
export async function receivePlain(o: { source: Readable; path: string; limit: number; onLimit: (n: number) => Error; expectedSize?: number | null }): Promise<number> {
  const fh = await open(o.path, 'wx', 0o640);
  let total = 0;
  try {
    await consume(o.source, async (chunk) => {
      total += chunk.length;
      if (total > o.limit) throw o.onLimit(total);
      await writeAll(fh, chunk);
    }, o.expectedSize);
    await fh.datasync();
    await fh.close();
    return total;
  } catch (e) {
    await fh.close().catch(() => undefined);
    await unlink(o.path).catch(() => undefined);
    throw e;
  }
}
