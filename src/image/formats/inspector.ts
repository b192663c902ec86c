// The streaming format inspector: feed() the chunks of an upload as they pass, finish() at the end.
//
// Every probe (one per format) runs on the same stream; the engine keeps only what the probes ask
// for: the first HEAD_LIMIT bytes, regions further on that a header points at (captured as they
// stream by), and the last TAIL_KEEP bytes. A region that lies before data already streamed and
// outside the head cannot be read, and the probe that needed it reports the image as unsafe.
// feed() copies what it keeps, so the caller may reuse its buffer.

import { open } from 'node:fs/promises';
import { qcow2Probe, qedProbe } from './qcow2.js';
import { rawProbe } from './raw.js';
import { isoProbe, ploopProbe, refusedProbe, vdiProbe } from './others.js';
import { vhdFixedProbe, vhdProbe, vhdxProbe } from './vhd.js';
import { vmdkProbe } from './vmdk.js';
import {
  HEAD_LIMIT, MAX_REGION, RAW_FAMILY, TAIL_KEEP,
  type ByteSource, type DiskFormat, type InspectionResult, type Probe, type ProbeResult,
} from './types.js';

const PROBES: readonly Probe[] = [
  qcow2Probe, qedProbe, vmdkProbe, vhdProbe, vhdxProbe, vdiProbe, isoProbe, ploopProbe, refusedProbe, vhdFixedProbe, rawProbe,
];
const MAX_REGIONS = 16;
const MAX_REGION_BYTES = 8 << 20;

interface Region {
  offset: number;
  length: number;
  buf: Buffer;
  filled: number; // contiguous bytes captured from offset
}

type Wait =
  | { kind: 'none' }
  | { kind: 'pos'; until: number }
  | { kind: 'region'; region: Region }
  | { kind: 'eof' };

interface ProbeState {
  probe: Probe;
  done: boolean;
  result: ProbeResult | null;
  wait: Wait;
}

export class FormatInspector {
  readonly claimed: string;
  private position = 0;
  private eof = false;
  private head: Buffer = Buffer.alloc(0);
  private headFilled = 0;
  private readonly regions: Region[] = [];
  private regionBytes = 0;
  private readonly tailBuf = Buffer.alloc(TAIL_KEEP);
  private tailIdx = 0;
  private tailValid = 0;
  private readonly states: ProbeState[];
  private nextWake = 0;
  private regionWake = false;
  private result: InspectionResult | null = null;
  private readonly src: ByteSource;

  /**
   * claimed: the image's disk_format. A value outside DiskFormat (an operator may configure more)
   * is accepted and matches only data of exactly that format.
   */
  constructor(claimed: DiskFormat | (string & {})) {
    if (typeof claimed !== 'string' || !claimed) throw new TypeError(`invalid disk format: ${String(claimed)}`);
    this.claimed = claimed;
    this.states = PROBES.map((probe) => ({ probe, done: false, result: null, wait: { kind: 'none' } }));
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    this.src = {
      read: (offset, length) => this.read(offset, length),
      available: (offset, max) => this.available(offset, max),
      get position() { return self.position; },
      get eof() { return self.eof; },
      tail: (length) => this.tail(length),
    };
  }

  /** Bytes fed so far. */
  get bytesSeen(): number {
    return this.position;
  }

  /** Present the next chunk of the image. Only what the probes need is copied: the caller may reuse the chunk. */
  feed(data: Buffer | Uint8Array): void {
    if (this.result) throw new Error('FormatInspector: feed() after finish()');
    if (data.length === 0) return;
    const chunk = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const start = this.position;
    const end = start + chunk.length;
    this.position = end;

    if (this.headFilled === start && start < HEAD_LIMIT) {
      const n = Math.min(chunk.length, HEAD_LIMIT - start);
      if (this.head.length < start + n) {
        let size = Math.max(this.head.length * 2, 64 * 1024);
        while (size < start + n) size *= 2;
        const grown = Buffer.allocUnsafe(Math.min(size, HEAD_LIMIT));
        this.head.copy(grown, 0, 0, this.headFilled);
        this.head = grown;
      }
      chunk.copy(this.head, start, 0, n);
      this.headFilled = start + n;
    }

    for (const r of this.regions) {
      if (r.filled === r.length) continue;
      const want = r.offset + r.filled;
      if (want >= start && want < end) {
        const n = Math.min(end, r.offset + r.length) - want;
        chunk.copy(r.buf, r.filled, want - start, want - start + n);
        r.filled += n;
        if (r.filled === r.length) this.regionWake = true;
      }
    }

    this.writeTail(chunk);
    if (end >= this.nextWake || this.regionWake) this.run(chunk, start);
  }

  /**
   * True when no probe needs any byte before the last TAIL_KEEP of the stream: a reader that can
   * seek (inspectFile) may then skipTo(size - TAIL_KEEP).
   */
  get wantsOnlyTail(): boolean {
    return this.states.every((s) => s.done || s.wait.kind === 'eof') && this.regions.every((r) => r.filled === r.length);
  }

  /** Advance to `offset` without data; only valid while wantsOnlyTail. The last TAIL_KEEP bytes must still be fed. */
  skipTo(offset: number): void {
    if (!this.wantsOnlyTail) throw new Error('FormatInspector: skipTo() while probes still need data');
    if (offset <= this.position) return;
    this.position = offset;
    this.tailValid = 0;
  }

  /** The stream is complete; totalSize is the image size (defaults to the bytes fed). */
  finish(totalSize: number = this.position): InspectionResult {
    if (this.result) return this.result;
    this.eof = true;
    for (const st of this.states) if (!st.done) this.advance(st, null, this.position);
    this.result = this.decide(totalSize);
    return this.result;
  }

  // ---- engine ----

  private run(chunk: Buffer, chunkStart: number): void {
    this.regionWake = false;
    let next = Infinity;
    for (const st of this.states) {
      if (st.done) continue;
      if (this.ready(st)) this.advance(st, chunk, chunkStart);
      if (!st.done && st.wait.kind === 'pos') next = Math.min(next, st.wait.until);
    }
    this.nextWake = next;
  }

  private ready(st: ProbeState): boolean {
    switch (st.wait.kind) {
      case 'none': return true;
      case 'pos': return this.position >= st.wait.until;
      case 'region': return st.wait.region.filled === st.wait.region.length;
      case 'eof': return this.eof;
    }
  }

  private advance(st: ProbeState, chunk: Buffer | null, chunkStart: number): void {
    const settle = (result: ProbeResult | null): void => {
      st.done = true;
      st.result = result;
      st.wait = { kind: 'none' };
    };
    for (let guard = 0; guard < 10_000; guard++) {
      let step;
      try {
        step = st.probe.step(this.src);
      } catch (e) {
        // A probe must never break an upload; a parse error in a format whose magic matched is a refusal.
        settle({ format: st.probe.name, virtualSize: null, issues: [`${st.probe.name} header could not be parsed (${(e as Error).message})`] });
        return;
      }
      if ('result' in step) return settle(step.result);
      const matched = step.matched;
      if ('needEof' in step) {
        if (this.eof) return settle(matched ? { format: matched, virtualSize: null, issues: [`${matched} image is truncated`] } : null);
        st.wait = { kind: 'eof' };
        return;
      }
      const { offset, length } = step.need;
      if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length <= 0 || length > MAX_REGION) {
        return settle(matched ? { format: matched, virtualSize: null, issues: [`${matched} structure at offset ${offset} is out of range`] } : null);
      }
      if (this.read(offset, length)) continue;
      if (this.eof) {
        return settle(matched ? { format: matched, virtualSize: null, issues: [`${matched} image is truncated`] } : null);
      }
      if (offset + length <= HEAD_LIMIT) {
        st.wait = { kind: 'pos', until: offset + length };
        return;
      }
      const region = this.region(offset, length, chunk, chunkStart);
      if (!region) {
        return settle(matched
          ? { format: matched, virtualSize: null, issues: [`${matched} structure at offset ${offset} lies outside what can be inspected`] }
          : null);
      }
      if (region.filled === region.length) continue;
      st.wait = { kind: 'region', region };
      return;
    }
    settle({ format: st.probe.name, virtualSize: null, issues: [`${st.probe.name} structure is too complex to inspect`] });
  }

  /** Start capturing [offset, offset+length); null if bytes of it have already gone by uncaptured. */
  private region(offset: number, length: number, chunk: Buffer | null, chunkStart: number): Region | null {
    const existing = this.regions.find((r) => r.offset === offset && r.length === length);
    if (existing) return existing;
    if (this.regions.length >= MAX_REGIONS || this.regionBytes + length > MAX_REGION_BYTES) return null;
    const buf = Buffer.alloc(length);
    let filled = 0;
    if (offset < this.headFilled) {
      filled = Math.min(offset + length, this.headFilled) - offset;
      this.head.copy(buf, 0, offset, offset + filled);
    }
    for (const r of this.regions) {
      // An overlapping region may already hold the next bytes.
      const want = offset + filled;
      if (filled < length && want >= r.offset && want < r.offset + r.filled) {
        const n = Math.min(offset + length, r.offset + r.filled) - want;
        r.buf.copy(buf, filled, want - r.offset, want - r.offset + n);
        filled += n;
      }
    }
    if (chunk) {
      const want = offset + filled;
      const chunkEnd = chunkStart + chunk.length;
      if (filled < length && want >= chunkStart && want < chunkEnd) {
        const n = Math.min(offset + length, chunkEnd) - want;
        chunk.copy(buf, filled, want - chunkStart, want - chunkStart + n);
        filled += n;
      }
    }
    if (offset + filled < Math.min(offset + length, this.position)) return null;
    const r: Region = { offset, length, buf, filled };
    this.regions.push(r);
    this.regionBytes += length;
    return r;
  }

  private read(offset: number, length: number): Buffer | null {
    if (offset + length <= this.headFilled) return this.head.subarray(offset, offset + length);
    for (const r of this.regions) {
      if (offset >= r.offset && offset + length <= r.offset + r.filled) {
        return r.buf.subarray(offset - r.offset, offset - r.offset + length);
      }
    }
    if (this.eof) {
      const keep = Math.min(this.tailValid, TAIL_KEEP);
      if (offset >= this.position - keep && offset + length <= this.position) {
        const t = this.tail(keep);
        if (t) return t.subarray(offset - (this.position - keep), offset - (this.position - keep) + length);
      }
    }
    return null;
  }

  private available(offset: number, max: number): Buffer {
    if (offset < this.headFilled) return this.head.subarray(offset, Math.min(offset + max, this.headFilled));
    for (const r of this.regions) {
      if (offset >= r.offset && offset < r.offset + r.filled) {
        return r.buf.subarray(offset - r.offset, Math.min(offset - r.offset + max, r.filled));
      }
    }
    return Buffer.alloc(0);
  }

  private writeTail(chunk: Buffer): void {
    this.tailValid += chunk.length;
    if (chunk.length >= TAIL_KEEP) {
      chunk.copy(this.tailBuf, 0, chunk.length - TAIL_KEEP);
      this.tailIdx = 0;
      return;
    }
    const first = Math.min(chunk.length, TAIL_KEEP - this.tailIdx);
    chunk.copy(this.tailBuf, this.tailIdx, 0, first);
    if (first < chunk.length) chunk.copy(this.tailBuf, 0, first);
    this.tailIdx = (this.tailIdx + chunk.length) % TAIL_KEEP;
  }

  private tail(length: number): Buffer | null {
    if (!this.eof || length > TAIL_KEEP || length > this.tailValid) return null;
    const out = Buffer.allocUnsafe(length);
    // The newest byte is at tailIdx-1; copy backwards from there.
    let end = this.tailIdx;
    let remaining = length;
    while (remaining > 0) {
      const n = Math.min(remaining, end === 0 ? TAIL_KEEP : end);
      const from = (end === 0 ? TAIL_KEEP : end) - n;
      this.tailBuf.copy(out, remaining - n, from, from + n);
      remaining -= n;
      end = from;
    }
    return out;
  }

  // ---- decision ----

  private decide(totalSize: number): InspectionResult {
    const results = (kind: Probe['kind']): ProbeResult[] =>
      this.states.filter((s) => s.probe.kind === kind && s.result).map((s) => s.result as ProbeResult);
    const heads = results('head');
    const tails = results('tail');
    const raw = results('raw')[0] ?? { format: 'raw', virtualSize: null, issues: [] };
    const issues: string[] = [];
    let detected: ProbeResult;

    if (heads.length === 0) {
      const fixedVhd = tails.find((t) => t.format === 'vhd');
      detected = this.claimed === 'vhd' && fixedVhd ? fixedVhd : { ...raw, virtualSize: totalSize };
    } else if (heads.length === 1) {
      detected = heads[0]!;
    } else {
      // One header hidden in another: refuse whatever was claimed (as oslo's InspectWrapper does).
      detected = heads.find((h) => h.format === this.claimed) ?? heads[0]!;
      issues.push(`multiple formats detected: ${heads.map((h) => h.format).join(', ')}`);
      for (const h of heads) if (h !== detected) issues.push(...h.issues);
    }

    const compatible = RAW_FAMILY.has(this.claimed) ? RAW_FAMILY.has(detected.format) : detected.format === this.claimed;
    if (!compatible) issues.unshift(`image claims ${this.claimed} but is ${detected.format}`);
    issues.push(...detected.issues);
    if (totalSize !== this.position) issues.push(`inspected ${this.position} bytes but the image size is ${totalSize}`);

    const unique = [...new Set(issues)];
    return {
      format: detected.format,
      virtualSize: detected.virtualSize,
      safe: unique.length === 0,
      issues: unique,
      details: { ...(detected.details ?? {}) },
    };
  }
}

/** Inspect a file on disk (reads the headers and the tail, not the whole file). */
export async function inspectFile(path: string, claimed: DiskFormat | (string & {})): Promise<InspectionResult> {
  const inspector = new FormatInspector(claimed);
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const buf = Buffer.allocUnsafe(1 << 20);
    let pos = 0;
    while (pos < size) {
      if (inspector.wantsOnlyTail && pos < size - TAIL_KEEP) {
        inspector.skipTo(size - TAIL_KEEP);
        pos = size - TAIL_KEEP;
      }
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - pos), pos);
      if (bytesRead === 0) break;
      inspector.feed(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
    return inspector.finish(size);
  } finally {
    await fh.close();
  }
}
