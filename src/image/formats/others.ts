// VDI, ISO 9660, ploop (Parallels), and formats that are recognised only to be refused
// (LUKS, bochs, cloop): anything qemu could auto-detect must never pass as raw.

import { isZero, startsWith } from './bytes.js';
import { answer, need, notMine, type ByteSource, type Probe, type ProbeStep } from './types.js';

// VDI (VirtualBox), little-endian: 0x40 signature 0xbeda107f, 0x44 version, 0x4c image type
// (1 dynamic, 2 fixed, 3 undo, 4 differencing), 0x170 disk size u64, 0x1a8 link UUID,
// 0x1b8 parent UUID. qemu opens only dynamic and fixed images without link or parent.
export const vdiProbe: Probe = {
  name: 'vdi',
  kind: 'head',
  step(src: ByteSource): ProbeStep {
    const s = src.read(0x40, 4);
    if (!s) return need(0x40, 4);
    if (s.readUInt32LE(0) !== 0xbeda107f) return notMine;
    const h = src.read(0, 0x1c8);
    if (!h) return need(0, 0x1c8, 'vdi');
    const issues: string[] = [];
    const version = h.readUInt32LE(0x44);
    const type = h.readUInt32LE(0x4c);
    if (version >>> 16 !== 1) issues.push(`unsupported vdi version ${version >>> 16}.${version & 0xffff}`);
    if (type !== 1 && type !== 2) issues.push(`unsupported vdi image type ${type} (only dynamic and fixed)`);
    if (!isZero(h.subarray(0x1a8, 0x1b8)) || !isZero(h.subarray(0x1b8, 0x1c8))) issues.push('vdi has a parent image');
    const virtualSize = Number(h.readBigUInt64LE(0x170));
    return answer({ format: 'vdi', virtualSize, issues, details: { subformat: type === 2 ? 'fixed' : 'dynamic' } });
  },
};

// ISO 9660: volume descriptors from sector 16 (0x8000), 2 KiB each: type, "CD001", version.
// The primary volume descriptor (type 1) holds the volume space size (both-endian u32 at 80) and
// the logical block size (both-endian u16 at 128). UDF (BEA01/NSR0x) is recognised too.
const ISO_START = 0x8000;
const ISO_SECTOR = 2048;
const ISO_MAX_DESCRIPTORS = 32;

export const isoProbe: Probe = {
  name: 'iso',
  kind: 'head',
  step(src: ByteSource): ProbeStep {
    let udf = false;
    let iso = false;
    for (let i = 0; i < ISO_MAX_DESCRIPTORS; i++) {
      const off = ISO_START + i * ISO_SECTOR;
      const d = src.read(off, ISO_SECTOR);
      if (!d) {
        if (src.eof) break;
        return need(off, ISO_SECTOR, iso || udf ? 'iso' : undefined);
      }
      const id = d.toString('latin1', 1, 6);
      if (id === 'CD001') {
        iso = true;
        const type = d[0];
        if (type === 1) {
          const blocks = d.readUInt32LE(80);
          const blockSize = d.readUInt16LE(128);
          return answer({ format: 'iso', virtualSize: blocks * blockSize, issues: [], details: { filesystem: 'iso9660' } });
        }
        if (type === 255) break;
        continue;
      }
      if (['BEA01', 'NSR02', 'NSR03', 'TEA01', 'BOOT2'].includes(id)) {
        if (id.startsWith('NSR')) udf = true;
        continue;
      }
      break;
    }
    if (udf) return answer({ format: 'iso', virtualSize: null, issues: [], details: { filesystem: 'udf' } });
    if (iso) return answer({ format: 'iso', virtualSize: null, issues: ['iso has no primary volume descriptor'] });
    return notMine;
  },
};

// ploop / Parallels, little-endian: 0 magic "WithoutFreeSpace" (v1) or "WithouFreSpacExt",
// 16 version (2), 28 tracks (cluster size in sectors), 32 BAT entries, 36 nb_sectors u64.
export const ploopProbe: Probe = {
  name: 'ploop',
  kind: 'head',
  step(src: ByteSource): ProbeStep {
    const m = src.read(0, 16);
    if (!m) return need(0, 16);
    const magic = m.toString('latin1');
    if (magic !== 'WithoutFreeSpace' && magic !== 'WithouFreSpacExt') return notMine;
    const h = src.read(0, 64);
    if (!h) return need(0, 64, 'ploop');
    const issues: string[] = [];
    const version = h.readUInt32LE(16);
    if (version !== 2) issues.push(`unsupported ploop version ${version}`);
    let sectors = h.readBigUInt64LE(36);
    if (magic === 'WithoutFreeSpace') sectors &= 0xffffffffn;
    return answer({ format: 'ploop', virtualSize: Number(sectors * 512n), issues });
  },
};

const CLOOP_MAGIC = '#!/bin/sh\n#V2.0 Format\nmodprobe cloop file=$0 && mount -r -t iso9660 /dev/cloop $1\n';

/** Formats qemu can open or probe but that no Glance disk_format names: always refused. */
export const refusedProbe: Probe = {
  name: 'refused',
  kind: 'head',
  step(src: ByteSource): ProbeStep {
    const b = src.read(0, 128) ?? (src.eof ? src.available(0, 128) : null);
    if (!b) return need(0, 128);
    if (startsWith(b, Buffer.from([0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe]))) {
      return answer({ format: 'luks', virtualSize: null, issues: ['LUKS-encrypted images are not supported'] });
    }
    if (startsWith(b, 'Bochs Virtual HD Image')) {
      return answer({ format: 'bochs', virtualSize: null, issues: ['bochs images are not supported'] });
    }
    if (startsWith(b, CLOOP_MAGIC)) {
      return answer({ format: 'cloop', virtualSize: null, issues: ['cloop images are not supported'] });
    }
    return notMine;
  },
};
