// What raw data looks like: a partitioned disk (MBR or GPT, with oslo's sanity checks of the
// partition table), a Linux kernel (bzImage: "HdrS" at 0x202), an initramfs (cpio, or
// gzip/zstd/xz/lz4/bzip2 compressed), a bare filesystem (FAT, ext2/3/4). None of this changes
// whether raw data is accepted, except an MBR that fails oslo's checks, which Glance refuses too.
// The format stays 'raw' (as oslo and Glance call it); details.kind says what the data looks like
// and details.suggests names the Glance kind it fits ('aki' for a kernel, 'ari' for an initramfs).

import { printable, startsWith } from './bytes.js';
import { answer, need, type ByteSource, type Probe, type ProbeResult, type ProbeStep } from './types.js';

const MBR_SIGNATURE = 0xaa55;
const MBR_PTE_START = 446;
const GPT_PROTECTIVE = 0xee;

function isFatVbr(b: Buffer): boolean {
  // oslo: a FAT volume boot record carries the MBR signature too; two FATs on a fixed disk tell it apart.
  return b[0x10] === 2 && b[0x15] === 0xf8;
}

function isBzImage(b: Buffer): boolean {
  return b.length >= 0x206 && b.readUInt16LE(0x1fe) === MBR_SIGNATURE && b.toString('latin1', 0x202, 0x206) === 'HdrS';
}

/** oslo's GPTInspector.check_mbr_partitions. */
function checkMbr(b: Buffer): { table: 'mbr' | 'gpt'; issues: string[] } {
  const issues: string[] = [];
  const valid: number[] = [];
  let gpt = false;
  for (let i = 0; i < 4; i++) {
    const p = MBR_PTE_START + 16 * i;
    const boot = b[p]!;
    const type = b[p + 4]!;
    if (boot !== 0x00 && boot !== 0x80) issues.push(`MBR partition ${i} has an invalid boot flag`);
    if (type !== 0) valid.push(i);
    if (type === GPT_PROTECTIVE) {
      gpt = true;
      if (b[p + 1] !== 0x00 || b[p + 2] !== 0x02 || b[p + 3] !== 0x00) issues.push('GPT protective MBR has an invalid start CHS');
      if (b.readUInt32LE(p + 8) !== 1) issues.push('GPT protective MBR has an invalid start LBA');
    }
  }
  if (gpt && (valid.length !== 1 || valid[0] !== 0)) issues.push('GPT protective MBR defines extra partitions');
  if (valid.length === 0) issues.push('MBR has no partitions defined');
  return { table: gpt ? 'gpt' : 'mbr', issues };
}

function compression(b: Buffer): string | null {
  if (startsWith(b, Buffer.from([0x1f, 0x8b]))) return 'gzip';
  if (startsWith(b, Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))) return 'zstd';
  if (startsWith(b, Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  if (startsWith(b, Buffer.from([0x02, 0x21, 0x4c, 0x18]))) return 'lz4';
  if (startsWith(b, 'BZh') && b.length > 3 && b[3]! >= 0x31 && b[3]! <= 0x39) return 'bzip2';
  return null;
}

export const rawProbe: Probe = {
  name: 'raw',
  kind: 'raw',
  step(src: ByteSource): ProbeStep {
    const b = src.read(0, 1024) ?? (src.eof ? src.available(0, 1024) : null);
    if (!b) return need(0, 1024);
    const result = (format: string, kind: string, extra: Partial<ProbeResult> = {}): ProbeStep =>
      answer({ format, virtualSize: null, issues: extra.issues ?? [], details: { kind, ...(extra.details ?? {}) } });

    if (isBzImage(b)) {
      // The setup header's kernel_version points (relative to 0x200) at a NUL-terminated string.
      const kv = b.readUInt16LE(0x20e);
      const details: Record<string, string | number | boolean> = {};
      if (kv !== 0) {
        const s = src.read(0x200 + kv, 128) ?? (src.eof ? src.available(0x200 + kv, 128) : null);
        if (!s) return need(0x200 + kv, 128);
        const end = s.indexOf(0);
        const text = s.toString('latin1', 0, end >= 0 ? end : s.length).split(' ')[0] ?? '';
        if (text) details.kernelVersion = printable(text, 64);
      }
      return result('raw', 'bzImage', { details: { ...details, suggests: 'aki' } });
    }
    if (startsWith(b, '070701') || startsWith(b, '070702') || startsWith(b, '070707')) {
      return result('raw', 'cpio', { details: { suggests: 'ari' } });
    }
    const comp = compression(b);
    if (comp) return result('raw', comp, { details: { suggests: 'ari' } });

    if (b.length >= 512 && b.readUInt16LE(510) === MBR_SIGNATURE) {
      if (isFatVbr(b)) return result('raw', 'fat');
      const { table, issues } = checkMbr(b);
      return result('raw', table, { issues, details: { partitionTable: table } });
    }
    // ext2/3/4: superblock at 1024, magic 0xEF53 at offset 56 of it.
    const sb = src.read(1024 + 56, 2) ?? (src.eof ? src.available(1024 + 56, 2) : null);
    if (!sb) return need(1024 + 56, 2);
    if (sb.length === 2 && sb.readUInt16LE(0) === 0xef53) return result('raw', 'ext');
    return result('raw', 'data');
  },
};
