// Small helpers for reading on-disk structures.

/** Unsigned 64-bit big-endian as a number (exact up to 2^53; larger values are approximate and flagged by callers). */
export function u64be(b: Buffer, off: number): number {
  return Number(b.readBigUInt64BE(off));
}

export function u64le(b: Buffer, off: number): number {
  return Number(b.readBigUInt64LE(off));
}

/** Microsoft GUID (first three fields little-endian) as the usual upper-case string. */
export function msGuid(b: Buffer, off: number): string {
  const h = (x: number, w: number): string => x.toString(16).toUpperCase().padStart(w, '0');
  const d1 = h(b.readUInt32LE(off), 8);
  const d2 = h(b.readUInt16LE(off + 4), 4);
  const d3 = h(b.readUInt16LE(off + 6), 4);
  const rest = b.subarray(off + 8, off + 16).toString('hex').toUpperCase();
  return `${d1}-${d2}-${d3}-${rest.slice(0, 4)}-${rest.slice(4)}`;
}

export function isZero(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

export function startsWith(b: Buffer, magic: string | Buffer, off = 0): boolean {
  const m = typeof magic === 'string' ? Buffer.from(magic, 'latin1') : magic;
  return b.length >= off + m.length && b.subarray(off, off + m.length).equals(m);
}

/** A value safe to show in an issue message: printable ASCII, bounded. */
export function printable(s: string, max = 200): string {
  const clean = s.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}...` : clean;
}

export const MAX_SAFE = Number.MAX_SAFE_INTEGER;
