// VHD (qemu's "vpc") and VHDX.
//
// VHD: a 512-byte big-endian footer "conectix": 16 data_offset u64, 28 creator_app, 40 original
// size, 48 current size, 56 cylinders u16, 58 heads, 59 sectors/track, 60 disk type (2 fixed,
// 3 dynamic, 4 differencing). Dynamic and differencing disks start with a copy of the footer and
// have a "cxsparse" dynamic header at data_offset; a fixed disk has the footer only at the end
// (qemu's probe then calls it raw, and so do we unless the image claims to be vhd). The virtual
// size follows qemu: CHS geometry, except for creators that use current_size.
//
// VHDX: "vhdxfile" at 0, region tables at 192 KiB (and 256 KiB) listing the BAT and metadata
// regions by GUID; the metadata region has a table of items, among them the virtual disk size and
// the file parameters (whose HasParent flag marks a differencing disk).

import { isZero, msGuid, printable, startsWith } from './bytes.js';
import { answer, need, notMine, type ByteSource, type Probe, type ProbeResult, type ProbeStep } from './types.js';

const VHD_COOKIE = 'conectix';
const VHD_MAX_GEOMETRY = 65535 * 16 * 255;
const VHD_FIXED = 2;
const VHD_DYNAMIC = 3;
const VHD_DIFFERENCING = 4;

/** Parse a VHD footer as qemu does (block/vpc.c). */
function vhdFooter(f: Buffer): { type: number; virtualSize: number; details: Record<string, string | number | boolean> } {
  const creator = f.toString('latin1', 28, 32);
  const currentSize = Number(f.readBigUInt64BE(48));
  const chs = f.readUInt16BE(56) * f[58]! * f[59]!;
  const type = f.readUInt32BE(60);
  const useChs = !['win ', 'qem2', 'd2v ', 'CTXS', 'tap\0'].includes(creator);
  const sectors = !useChs || chs === VHD_MAX_GEOMETRY ? Math.floor(currentSize / 512) : chs;
  return {
    type,
    virtualSize: sectors * 512,
    details: { creator: printable(creator.replace(/\0/g, '')), diskType: type },
  };
}

export const vhdProbe: Probe = {
  name: 'vhd',
  kind: 'head',
  step(src: ByteSource): ProbeStep {
    const c = src.read(0, 8);
    if (!c) return need(0, 8);
    if (c.toString('latin1') !== VHD_COOKIE) return notMine;
    const f = src.read(0, 512);
    if (!f) return need(0, 512, 'vhd');
    const { type, virtualSize, details } = vhdFooter(f);
    const issues: string[] = [];
    if (type === VHD_DIFFERENCING) issues.push('vhd is a differencing disk (it has a parent)');
    else if (type !== VHD_FIXED && type !== VHD_DYNAMIC) issues.push(`unsupported vhd disk type ${type}`);
    if (type === VHD_DYNAMIC || type === VHD_DIFFERENCING) {
      const dataOffset = f.readBigUInt64BE(16);
      if (dataOffset < 512n || dataOffset > BigInt(Number.MAX_SAFE_INTEGER)) {
        issues.push('vhd dynamic header offset is invalid');
      } else {
        const off = Number(dataOffset);
        const d = src.read(off, 1024);
        if (!d) return need(off, 1024, 'vhd');
        if (!startsWith(d, 'cxsparse')) issues.push('vhd dynamic header is missing');
        else details.blockSize = d.readUInt32BE(32);
        // Parent locators (8 x 24 bytes at 0x240): only differencing disks may use them.
        if (type === VHD_DYNAMIC && startsWith(d, 'cxsparse') && !isZero(d.subarray(0x240, 0x240 + 8 * 24))) {
          issues.push('vhd has parent locators');
        }
      }
    }
    details.subformat = type === VHD_FIXED ? 'fixed' : type === VHD_DYNAMIC ? 'dynamic' : 'other';
    return answer({ format: 'vhd', virtualSize, issues, details });
  },
};

/** A fixed VHD: raw data followed by the footer. Only reported when nothing else matched and the image claims vhd. */
export const vhdFixedProbe: Probe = {
  name: 'vhd-fixed',
  kind: 'tail',
  step(src: ByteSource): ProbeStep {
    if (!src.eof) return { needEof: true };
    const f = src.tail(512);
    if (!f || !startsWith(f, VHD_COOKIE)) return notMine;
    const { type, virtualSize, details } = vhdFooter(f);
    if (type !== VHD_FIXED) return notMine;
    const issues: string[] = [];
    if (virtualSize > src.position - 512) issues.push('vhd is truncated: its data is shorter than its virtual size');
    return answer({ format: 'vhd', virtualSize, issues, details: { ...details, subformat: 'fixed' } });
  },
};

const REGION_TABLE = 0x30000; // 192 KiB; a second copy at 256 KiB
const REGION_METADATA = '8B7CA206-4790-4B9A-B8FE-575F050F886E';
const REGION_BAT = '2DC27766-F623-4200-9D64-115E9BFD4A08';
const META_FILE_PARAMETERS = 'CAA16737-FA36-4D43-B3B6-33F0AA44E76B';
const META_VIRTUAL_DISK_SIZE = '2FA54224-CD1B-4876-B211-5DBED83BF4B8';
const META_PAGE83 = 'BECA12AB-B2E6-4523-93EF-C309E000C746';
const META_LOGICAL_SECTOR = '8141BF1D-A96F-4709-BA47-F233A8FAAB5F';
const META_PHYSICAL_SECTOR = 'CDA348C7-445D-4471-9CC9-E9885251C556';
const META_PARENT_LOCATOR = 'A8D35F2D-B30B-454D-ABF7-D3D84834AB0C';
const KNOWN_META = new Set([
  META_FILE_PARAMETERS, META_VIRTUAL_DISK_SIZE, META_PAGE83, META_LOGICAL_SECTOR, META_PHYSICAL_SECTOR, META_PARENT_LOCATOR,
]);
const MAX_ENTRIES = 2047;
const META_CAPTURE = 1 << 20; // the metadata region (table + items) we keep: qemu makes it 1 MiB

export const vhdxProbe: Probe = {
  name: 'vhdx',
  kind: 'head',
  step(src: ByteSource): ProbeStep {
    const id = src.read(0, 8);
    if (!id) return need(0, 8);
    if (id.toString('latin1') !== 'vhdxfile') return notMine;
    const fail = (issue: string, details?: ProbeResult['details']): ProbeStep =>
      answer({ format: 'vhdx', virtualSize: null, issues: [issue], ...(details ? { details } : {}) });

    const rh = src.read(REGION_TABLE, 16);
    if (!rh) return need(REGION_TABLE, 16, 'vhdx');
    if (rh.toString('latin1', 0, 4) !== 'regi') return fail('vhdx region table signature is missing');
    const count = rh.readUInt32LE(8);
    if (count > MAX_ENTRIES) return fail(`vhdx region table has too many entries (${count})`);
    const rt = src.read(REGION_TABLE, 16 + count * 32);
    if (!rt) return need(REGION_TABLE, 16 + count * 32, 'vhdx');
    const issues: string[] = [];
    let meta: { offset: number; length: number } | null = null;
    for (let i = 0; i < count; i++) {
      const e = 16 + i * 32;
      const guid = msGuid(rt, e);
      const offset = Number(rt.readBigUInt64LE(e + 16));
      const length = rt.readUInt32LE(e + 24);
      const required = (rt.readUInt32LE(e + 28) & 1) !== 0;
      if (guid === REGION_METADATA) meta = { offset, length };
      else if (guid !== REGION_BAT && required) issues.push(`vhdx has an unknown required region ${guid}`);
    }
    if (!meta) return fail('vhdx has no metadata region');
    if (meta.offset < 1 << 20 || meta.offset % (1 << 20) !== 0 || meta.length < 64 * 1024) {
      return fail('vhdx metadata region is invalid');
    }
    const capture = Math.min(meta.length, META_CAPTURE);
    const m = src.read(meta.offset, capture);
    if (!m) return need(meta.offset, capture, 'vhdx');
    if (m.toString('latin1', 0, 8) !== 'metadata') return fail('vhdx metadata signature is missing');
    const entries = m.readUInt16LE(10);
    if (entries > MAX_ENTRIES) return fail(`vhdx metadata table has too many entries (${entries})`);
    let virtualSize: number | null = null;
    const details: Record<string, string | number | boolean> = {};
    for (let i = 0; i < entries; i++) {
      const e = 32 + i * 32;
      const guid = msGuid(m, e);
      const off = m.readUInt32LE(e + 16);
      const len = m.readUInt32LE(e + 20);
      const flags = m.readUInt32LE(e + 24);
      const isUser = (flags & 1) !== 0;
      const isRequired = (flags & 4) !== 0;
      const item = (n: number): Buffer | null => (len >= n && off + n <= m.length ? m.subarray(off, off + n) : null);
      if (guid === META_VIRTUAL_DISK_SIZE) {
        const v = item(8);
        if (!v) issues.push('vhdx virtual disk size item lies outside the metadata region');
        else virtualSize = Number(v.readBigUInt64LE(0));
      } else if (guid === META_FILE_PARAMETERS) {
        const v = item(8);
        if (!v) issues.push('vhdx file parameters item lies outside the metadata region');
        else {
          details.blockSize = v.readUInt32LE(0);
          if (v.readUInt32LE(4) & 2) issues.push('vhdx is a differencing disk (it has a parent)');
        }
      } else if (guid === META_PARENT_LOCATOR) {
        issues.push('vhdx has a parent locator');
      } else if (!KNOWN_META.has(guid) && isRequired && !isUser) {
        issues.push(`vhdx has an unknown required metadata item ${guid}`);
      }
    }
    if (virtualSize === null && !issues.some((i) => i.includes('virtual disk size'))) {
      issues.push('vhdx has no virtual disk size');
    }
    return answer({ format: 'vhdx', virtualSize, issues: [...new Set(issues)], details });
  },
};
