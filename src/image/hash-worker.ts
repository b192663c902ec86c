// A hashing thread: keeps one hash per upload job and hashes the slices of the job's shared ring
// buffer it is told about, acknowledging each so the main thread can reuse the slot.

import { createHash, type Hash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';

export type HashRequest =
  | { op: 'begin'; job: number; algo: string; sab: SharedArrayBuffer }
  | { op: 'chunk'; job: number; slot: number; off: number; len: number }
  | { op: 'end'; job: number }
  | { op: 'abort'; job: number };

export type HashReply =
  | { job: number; slot: number }
  | { job: number; digest: string }
  | { job: number; error: string };

const jobs = new Map<number, { hash: Hash; buf: Uint8Array }>();
const port = parentPort!;

port.on('message', (m: HashRequest) => {
  try {
    switch (m.op) {
      case 'begin':
        jobs.set(m.job, { hash: createHash(m.algo), buf: new Uint8Array(m.sab) });
        break;
      case 'chunk': {
        const j = jobs.get(m.job);
        if (!j) break;
        j.hash.update(j.buf.subarray(m.off, m.off + m.len));
        port.postMessage({ job: m.job, slot: m.slot } satisfies HashReply);
        break;
      }
      case 'end': {
        const j = jobs.get(m.job);
        jobs.delete(m.job);
        if (j) port.postMessage({ job: m.job, digest: j.hash.digest('hex') } satisfies HashReply);
        break;
      }
      case 'abort':
        jobs.delete(m.job);
        break;
    }
  } catch (e) {
    jobs.delete(m.job);
    port.postMessage({ job: m.job, error: (e as Error).message } satisfies HashReply);
  }
});
