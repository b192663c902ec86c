// qcow2 (and its predecessor qcow v1), after qemu's docs/interop/qcow2.txt.
//
// Header (big-endian): 0 magic "QFI\xfb", 4 version, 8 backing_file_offset u64, 16 backing_file_size,
// 20 cluster_bits, 24 size u64, 32 crypt_method, ... v3 adds 72 incompatible_features u64,
// 80 compatible_features, 88 autoclear_features, 96 refcount_order, 100 header_length.
// Header extensions follow the header (v2: at 72, v3: at header_length) up to the end of the first
// cluster: {type u32, length u32, data padded to 8}, ended by type 0.
//
// Refused, as oslo.utils does: a backing file (the guest would read a host file), an external data
// file (incompatible bit 2, or the data-file extension), unknown incompatible features, versions
// other than 2 and 3. Also refused here: an image marked corrupt, malformed headers.

import { printable, u64be } from './bytes.js';
import { answer, need, notMine, type ByteSource, type Probe, type ProbeStep } from './types.js';

const MAGIC = 0x514649fb;
const EXT_END = 0x00000000;
const EXT_BACKING_FORMAT = 0xe2792aca;
const EXT_DATA_FILE = 0x44415441; // "DATA"

const INCOMPAT_DIRTY = 1n << 0n;
const INCOMPAT_CORRUPT = 1n << 1n;
const INCOMPAT_DATA_FILE = 1n << 2n;
const INCOMPAT_COMPRESSION = 1n << 3n;
const INCOMPAT_EXTENDED_L2 = 1n << 4n;
const INCOMPAT_KNOWN =
  INCOMPAT_DIRTY | INCOMPAT_CORRUPT | INCOMPAT_DATA_FILE | INCOMPAT_COMPRESSION | INCOMPAT_EXTENDED_L2;

const NAME_MAX = 1023; // qemu's limit for backing and data file names

export const qcow2Probe: Probe = {
  name: 'qcow2',
  kind: 'head',
  step(src: ByteSource): ProbeStep {
    const magic = src.read(0, 4);
    if (!magic) return need(0, 4);
    if (magic.readUInt32BE(0) !== MAGIC) return notMine;
    const h = src.read(0, 72);
    if (!h) return need(0, 72, 'qcow2');

    const version = h.readUInt32BE(4);
    const backingOffset = h.readBigUInt64BE(8);
    const backingSize = h.readUInt32BE(16);
    const clusterBits = h.readUInt32BE(20);
    const sizeBig = h.readBigUInt64BE(24);
    const cryptMethod = h.readUInt32BE(32);
    const issues: string[] = [];
    const details: Record<string, string | number | boolean> = { version };
    const virtualSize = sizeBig <= BigInt(Number.MAX_SAFE_INTEGER) ? u64be(h, 24) : null;
    if (virtualSize === null) issues.push('qcow2 virtual size is out of range');
    if (cryptMethod !== 0) details.encrypted = true;

    if (version !== 2 && version !== 3) {
      issues.push(`unsupported qcow2 version ${version}`);
      if (backingOffset !== 0n) issues.push('qcow2 has a backing file');
      return answer({ format: 'qcow2', virtualSize, issues, details });
    }
    if (clusterBits < 9 || clusterBits > 21) {
      issues.push(`qcow2 has an invalid cluster size (2^${clusterBits})`);
      if (backingOffset !== 0n) issues.push('qcow2 has a backing file');
      return answer({ format: 'qcow2', virtualSize, issues, details });
    }
    const clusterSize = 2 ** clusterBits;
    details.clusterSize = clusterSize;

    let incompat = 0n;
    let headerLength = 72;
    if (version === 3) {
      const h3 = src.read(0, 104);
      if (!h3) return need(0, 104, 'qcow2');
      incompat = h3.readBigUInt64BE(72);
      headerLength = h3.readUInt32BE(100);
      if (headerLength < 104 || headerLength > clusterSize || headerLength % 8 !== 0) {
        issues.push(`qcow2 header length ${headerLength} is invalid`);
        headerLength = -1;
      }
    }

    // Header extensions, within the first cluster.
    let dataFileExt: string | null = null;
    let backingFormat: string | null = null;
    if (headerLength > 0) {
      let off = headerLength;
      for (let n = 0; ; n++) {
        if (off + 8 > clusterSize) {
          issues.push('qcow2 header extensions overrun the first cluster');
          break;
        }
        const eh = src.read(off, 8);
        if (!eh) return need(off, 8, 'qcow2');
        const type = eh.readUInt32BE(0);
        const len = eh.readUInt32BE(4);
        if (type === EXT_END) break;
        if (off + 8 + len > clusterSize || n > 4096) {
          issues.push('qcow2 header extensions overrun the first cluster');
          break;
        }
        if (type === EXT_DATA_FILE || type === EXT_BACKING_FORMAT) {
          const data = src.read(off + 8, Math.min(len, NAME_MAX));
          if (!data) return need(off + 8, Math.min(len, NAME_MAX), 'qcow2');
          const text = printable(data.toString('latin1').replace(/\0+$/, ''));
          if (type === EXT_DATA_FILE) dataFileExt = text;
          else backingFormat = text;
        }
        off += 8 + Math.ceil(len / 8) * 8;
      }
    }

    if (backingOffset !== 0n) {
      let name = '';
      const bo = Number(backingOffset);
      const bl = Math.min(backingSize, NAME_MAX);
      if (backingOffset + BigInt(bl) <= BigInt(clusterSize) && bl > 0) {
        const b = src.read(bo, bl);
        if (!b) return need(bo, bl, 'qcow2');
        name = printable(b.toString('latin1'));
        details.backingFile = name;
      }
      if (backingFormat) details.backingFormat = backingFormat;
      issues.push(name ? `qcow2 has a backing file ("${name}")` : 'qcow2 has a backing file');
    }
    if (incompat & INCOMPAT_DATA_FILE) {
      issues.push(dataFileExt ? `qcow2 has an external data file ("${dataFileExt}")` : 'qcow2 has an external data file');
    } else if (dataFileExt !== null) {
      issues.push(`qcow2 has an external data file header extension ("${dataFileExt}")`);
    }
    if (dataFileExt !== null) details.dataFile = dataFileExt;
    const unknown = incompat & ~INCOMPAT_KNOWN;
    if (unknown) issues.push(`qcow2 has unknown incompatible features (0x${unknown.toString(16)})`);
    if (incompat & INCOMPAT_CORRUPT) issues.push('qcow2 is marked corrupt');
    if (incompat & INCOMPAT_DIRTY) details.dirty = true;
    if (incompat & INCOMPAT_EXTENDED_L2) details.extendedL2 = true;
    return answer({ format: 'qcow2', virtualSize, issues, details });
  },
};

/** qed: recognised so that it is never mistaken for raw, and always refused (as oslo bans it). */
export const qedProbe: Probe = {
  name: 'qed',
  kind: 'head',
  step(src) {
    const h = src.read(0, 4);
    if (!h) return need(0, 4);
    if (!h.equals(Buffer.from('QED\0', 'latin1'))) return notMine;
    const full = src.read(0, 64);
    if (!full) return need(0, 64, 'qed');
    const virtualSize = Number(full.readBigUInt64LE(48));
    return answer({ format: 'qed', virtualSize, issues: ['qed images are not supported'] });
  },
};
