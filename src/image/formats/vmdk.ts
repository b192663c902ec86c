// VMDK, after VMware's "Virtual Disk Format 5.0" and qemu's block/vmdk.c.
//
// Only the single-file subformats are safe, as oslo.utils decides: monolithicSparse and
// streamOptimized, whose one extent is the file itself. Everything else (a plain-text descriptor
// file, monolithicFlat, twoGbMaxExtent*, vmfs...) names other files as extents, which qemu would
// open on the host. The sparse header (little-endian): 0 "KDMV", 4 version, 8 flags,
// 12 capacity u64 (sectors), 20 grain size, 28 descriptor offset u64 (sectors), 36 descriptor size,
// 44 GTEs per GT, 48 redundant GD offset, 56 GD offset (~0 = footer at the end: streamOptimized),
// 64 overhead. The embedded descriptor is text: header fields, extent lines, ddb lines.
//
// Stricter than oslo: exactly one extent, of type SPARSE, without a path; no parentFileNameHint
// (qemu would open the named parent as a backing file); a non-zero capacity (with capacity 0 qemu
// reads the extents from the descriptor instead of using the file itself).

import { printable } from './bytes.js';
import { answer, need, notMine, type ByteSource, type Probe, type ProbeStep, type ProbeResult } from './types.js';

const SPARSE_MAGIC = 'KDMV';
const COWD_MAGIC = 'COWD'; // VMDK3, ESX 2.x
const DESC_OFFSET_SECTORS = 1n;
const DESC_MAX = (1 << 20) - 1; // qemu's limit
const GD_AT_END = 0xffffffffffffffffn;
const MARKER_EOS = 0;
const MARKER_FOOTER = 3;
const TEXT_PROBE = 2048; // qemu probes the first 2 KiB for a text descriptor
const TEXT_DESC_MAX = 64 * 1024;

interface SparseHeader {
  magic: string;
  version: number;
  capacity: bigint;
  descOffset: bigint;
  descSize: bigint;
  gdOffset: bigint;
}

function parseSparse(b: Buffer, off: number): SparseHeader {
  return {
    magic: b.toString('latin1', off, off + 4),
    version: b.readUInt32LE(off + 4),
    capacity: b.readBigUInt64LE(off + 12),
    descOffset: b.readBigUInt64LE(off + 28),
    descSize: b.readBigUInt64LE(off + 36),
    gdOffset: b.readBigUInt64LE(off + 56),
  };
}

interface Descriptor {
  createType: string | null; // lower-cased
  extents: { line: string; access: string; sectors: number; type: string; file: string | null; offset: number | null }[];
  issues: string[];
  parentHint: string | null;
}

/** Parse a descriptor cautiously: every line must be something we understand (as oslo does). */
export function parseDescriptor(text: string): Descriptor {
  const issues: string[] = [];
  const extents: Descriptor['extents'] = [];
  let createType: string | null = null;
  let parentHint: string | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const lower = line.toLowerCase();
    if (!line || line.startsWith('#')) continue;
    if (lower.startsWith('ddb')) continue;
    const eq = line.indexOf('=');
    if (eq > 0 && !line.slice(0, eq).includes(' ')) {
      const key = lower.slice(0, eq).trim();
      const value = line.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
      if (key === 'createtype') createType = value.toLowerCase();
      if (key === 'parentfilenamehint') parentHint = value;
      continue;
    }
    const m = /^(rw|rdonly|noaccess)\s+(\d+)\s+(\w+)(?:\s+"([^"]*)"(?:\s+(\d+))?)?$/i.exec(line);
    if (m) {
      extents.push({
        line: printable(line),
        access: m[1]!.toLowerCase(),
        sectors: Number(m[2]),
        type: m[3]!.toLowerCase(),
        file: m[4] ?? null,
        offset: m[5] !== undefined ? Number(m[5]) : null,
      });
      continue;
    }
    if (/^(rw|rdonly|noaccess)\s/i.test(line)) {
      extents.push({ line: printable(line), access: '?', sectors: 0, type: '?', file: null, offset: null });
      issues.push(`vmdk descriptor has a malformed extent line: ${printable(line)}`);
      continue;
    }
    issues.push(`vmdk descriptor has an unsupported line: ${printable(line, 80)}`);
  }
  return { createType, extents, issues, parentHint };
}

function descriptorText(b: Buffer): string {
  const nul = b.indexOf(0);
  return (nul >= 0 ? b.subarray(0, nul) : b).toString('latin1');
}

/** qemu's vmdk_probe for text descriptors: comments and blank lines, then "version=1|2|3". */
function qemuTextProbe(b: Buffer): boolean {
  let p = 0;
  const end = b.length;
  while (p < end) {
    if (b[p] === 0x23 /* # */) {
      while (p < end && b[p] !== 0x0a) p++;
      p++;
      continue;
    }
    if (b[p] === 0x20) {
      while (p < end && b[p] === 0x20) p++;
      if (p < end && b[p] === 0x0d) p++;
      if (p === end || b[p] !== 0x0a) return false;
      p++;
      continue;
    }
    const rest = b.toString('latin1', p, Math.min(end, p + 11));
    return /^version=[123]\r?\n/.test(rest);
  }
  return false;
}

function looksLikeTextDescriptor(b: Buffer): boolean {
  if (b.length === 0) return false;
  if (qemuTextProbe(b)) return true;
  // oslo's rule: printable ASCII throughout, with a createType= line.
  for (const c of b) {
    if (c === 0) break;
    if (!(c === 0x09 || c === 0x0a || c === 0x0d || (c >= 0x20 && c < 0x7f))) return false;
  }
  return /createtype\s*=/i.test(descriptorText(b));
}

export const vmdkProbe: Probe = {
  name: 'vmdk',
  kind: 'head',
  step(src: ByteSource): ProbeStep {
    const magic = src.read(0, 4);
    if (magic && magic.toString('latin1') === SPARSE_MAGIC) return sparse(src);
    if (magic && magic.toString('latin1') === COWD_MAGIC) {
      return answer({ format: 'vmdk', virtualSize: null, issues: ['vmdk version 3 (COWD) images are not supported'] });
    }
    const first = src.read(0, TEXT_PROBE) ?? (src.eof ? src.available(0, TEXT_PROBE) : null);
    if (!first) return need(0, TEXT_PROBE);
    if (!looksLikeTextDescriptor(first)) return notMine;
    return textDescriptor(src);
  },
};

function textDescriptor(src: ByteSource): ProbeStep {
  const b = src.read(0, TEXT_DESC_MAX) ?? (src.eof ? src.available(0, TEXT_DESC_MAX) : null);
  if (!b) return need(0, TEXT_DESC_MAX, 'vmdk');
  const desc = parseDescriptor(descriptorText(b));
  const issues = [...desc.issues];
  const details: Record<string, string | number | boolean> = { subformat: desc.createType ?? 'unknown', descriptorOnly: true };
  if (desc.createType === null) issues.push('vmdk descriptor has no createType');
  else if (desc.createType !== 'monolithicsparse' && desc.createType !== 'streamoptimized') {
    issues.push(`vmdk subformat "${printable(desc.createType, 40)}" is not allowed (only monolithicSparse and streamOptimized)`);
  }
  // A descriptor file has no data of its own: every extent is another file.
  for (const e of desc.extents) issues.push(`vmdk extent points outside the image: ${e.line}`);
  if (desc.extents.length === 0) issues.push('vmdk descriptor has no extents');
  if (desc.parentHint !== null) issues.push(`vmdk has a parent ("${printable(desc.parentHint)}")`);
  const sectors = desc.extents.reduce((s, e) => s + e.sectors, 0);
  return answer({ format: 'vmdk', virtualSize: sectors > 0 ? sectors * 512 : null, issues, details });
}

function sparse(src: ByteSource): ProbeStep {
  const hb = src.read(0, 64);
  if (!hb) return need(0, 64, 'vmdk');
  const h = parseSparse(hb, 0);
  const issues: string[] = [];
  const details: Record<string, string | number | boolean> = { version: h.version };
  if (h.version < 1 || h.version > 3) {
    return answer({ format: 'vmdk', virtualSize: null, issues: [`unsupported vmdk version ${h.version}`], details });
  }
  const capacityBytes = h.capacity * 512n;
  let virtualSize: number | null = capacityBytes <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(capacityBytes) : null;
  if (virtualSize === null) issues.push('vmdk capacity is out of range');
  if (h.capacity === 0n) issues.push('vmdk sparse header has zero capacity (its extents would come from the descriptor)');

  if (h.descOffset !== DESC_OFFSET_SECTORS || h.descSize === 0n) {
    issues.push(h.descOffset === 0n || h.descSize === 0n
      ? 'vmdk has no embedded descriptor'
      : `vmdk descriptor is at an unexpected location (sector ${h.descOffset})`);
    return answer({ format: 'vmdk', virtualSize, issues, details });
  }
  const descLen = Number(h.descSize * 512n > BigInt(DESC_MAX) ? BigInt(DESC_MAX) : h.descSize * 512n);
  const db = src.read(512, descLen);
  if (!db) return need(512, descLen, 'vmdk');
  const desc = parseDescriptor(descriptorText(db));
  issues.push(...desc.issues);
  const sub = desc.createType;
  details.subformat = sub ?? 'unknown';
  if (sub === null) issues.push('vmdk descriptor has no createType');
  else if (sub !== 'monolithicsparse' && sub !== 'streamoptimized') {
    issues.push(`vmdk subformat "${printable(sub, 40)}" is not allowed (only monolithicSparse and streamOptimized)`);
  }
  if (desc.extents.length === 0) issues.push('vmdk descriptor has no extents');
  if (desc.extents.length > 1) issues.push(`vmdk has ${desc.extents.length} extents (only one, inside the image, is allowed)`);
  for (const e of desc.extents) {
    if (e.file !== null && /[/\\]/.test(e.file)) issues.push(`vmdk extent points outside the image: ${e.line}`);
    else if (e.type !== 'sparse' || e.offset !== null) issues.push(`vmdk extent is not the image itself: ${e.line}`);
  }
  if (desc.parentHint !== null) issues.push(`vmdk has a parent ("${printable(desc.parentHint)}")`);

  if (h.gdOffset === GD_AT_END) {
    details.footer = true;
    if (!src.eof) return { needEof: true, matched: 'vmdk' };
    const f = checkFooter(src, h);
    issues.push(...f.issues);
    if (f.virtualSize !== undefined) virtualSize = f.virtualSize;
  }
  return answer({ format: 'vmdk', virtualSize, issues, details });
}

/** streamOptimized images written by VMware keep the real header in a footer before the end-of-stream marker. */
function checkFooter(src: ByteSource, h: SparseHeader): Pick<ProbeResult, 'issues'> & { virtualSize?: number | null } {
  const t = src.tail(1536);
  if (!t) return { issues: ['vmdk footer is missing (image is truncated)'] };
  const issues: string[] = [];
  const f = parseSparse(t, 512);
  if (f.magic !== h.magic) issues.push('vmdk header and footer signatures differ');
  if (f.version !== h.version) issues.push('vmdk header and footer versions differ');
  if (f.descOffset !== h.descOffset || f.descSize !== h.descSize) issues.push('vmdk footer names a different descriptor than the header');
  if (f.gdOffset === GD_AT_END) issues.push('vmdk footer points at another footer');
  if (f.capacity !== h.capacity) issues.push('vmdk header and footer capacities differ');
  const marker = (off: number, type: number, valueZero: boolean): boolean => {
    if (valueZero && t.readBigUInt64LE(off) !== 0n) return false;
    if (t.readUInt32LE(off + 8) !== 0 || t.readUInt32LE(off + 12) !== type) return false;
    for (let i = off + 16; i < off + 512; i++) if (t[i] !== 0) return false;
    return true;
  };
  if (!marker(0, MARKER_FOOTER, false)) issues.push('vmdk footer marker is invalid');
  if (!marker(1024, MARKER_EOS, true)) issues.push('vmdk end-of-stream marker is invalid');
  const bytes = f.capacity * 512n;
  return { issues, virtualSize: bytes <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(bytes) : null };
}
