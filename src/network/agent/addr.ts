// Small IP helpers (v4 and v6 as BigInt) for the rule and DHCP generators.

import { isIPv4, isIPv6 } from 'node:net';

export function ipToBig(ip: string): bigint {
  if (isIPv4(ip)) return ip.split('.').reduce((a, o) => (a << 8n) | BigInt(Number(o)), 0n);
  if (!isIPv6(ip)) throw new Error(`not an IP address: ${ip}`);
  let s = ip;
  const v4 = s.match(/(\d+\.\d+\.\d+\.\d+)$/);
  if (v4) { const n = ipToBig(v4[1]!); s = s.slice(0, -v4[1]!.length) + ((n >> 16n).toString(16)) + ':' + ((n & 0xffffn).toString(16)); }
  const [head, tail] = s.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.reduce((a, g) => (a << 16n) | BigInt(parseInt(g || '0', 16)), 0n);
}

export interface Cidr { version: 4 | 6; net: bigint; len: number; text: string }

/** "10.0.0.5" (a host) or "10.0.0.0/24"; the text is normalised to the network address. */
export function parseCidr(s: string): Cidr {
  const [a, l] = s.split('/') as [string, string | undefined];
  const version = isIPv4(a) ? 4 : 6;
  const bits = version === 4 ? 32 : 128;
  const len = l === undefined ? bits : Number(l);
  if (!Number.isInteger(len) || len < 0 || len > bits) throw new Error(`bad prefix: ${s}`);
  const mask = len === 0 ? 0n : ((1n << BigInt(len)) - 1n) << BigInt(bits - len);
  const net = ipToBig(a) & mask;
  const text = len === bits ? a : `${bigToIp(net, version)}/${len}`;
  return { version, net, len, text };
}

export function bigToIp(n: bigint, version: 4 | 6): string {
  if (version === 4) return [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 255n)).join('.');
  const g: string[] = [];
  for (let i = 7; i >= 0; i--) g.push(((n >> BigInt(i * 16)) & 0xffffn).toString(16));
  return g.join(':'); // uncompressed: nft and ip accept it
}

export function contains(outer: Cidr, inner: Cidr): boolean {
  if (outer.version !== inner.version || outer.len > inner.len) return false;
  const bits = outer.version === 4 ? 32 : 128;
  const mask = outer.len === 0 ? 0n : ((1n << BigInt(outer.len)) - 1n) << BigInt(bits - outer.len);
  return (inner.net & mask) === outer.net;
}

/** Drops entries covered by another (nft rejects overlapping intervals in one set). */
export function mergeCidrs(list: string[]): Cidr[] {
  // CIDRs are nested or disjoint: sorted by start (the widest first on a tie), one sweep keeps
  // each range not inside the furthest end seen — O(n log n), where comparing every pair made a
  // rule change on a 1,000-port group cost over 100 ms.
  const cs = [...new Map(list.map((s) => parseCidr(s)).map((c) => [`${c.version}/${c.text}`, c])).values()].map((c) => {
    const bits = c.version === 4 ? 32 : 128;
    return { c, start: c.net, end: c.net + (1n << BigInt(bits - c.len)) - 1n };
  });
  const sweep = [...cs].sort((x, y) => x.c.version - y.c.version || (x.start < y.start ? -1 : x.start > y.start ? 1 : x.c.len - y.c.len));
  const kept = new Set<Cidr>();
  let version = 0;
  let maxEnd = -1n;
  for (const r of sweep) {
    if (r.c.version !== version) { version = r.c.version; maxEnd = -1n; }
    if (r.end <= maxEnd) continue;
    kept.add(r.c);
    maxEnd = r.end;
  }
  // The widest first, otherwise in the order given (stable), as the rules have always been written.
  return cs.map((r) => r.c).sort((x, y) => x.len - y.len).filter((c) => kept.has(c));
}

export const prefixLen = (cidr: string): number => parseCidr(cidr).len;

export function netmask4(len: number): string {
  return bigToIp(len === 0 ? 0n : ((1n << BigInt(len)) - 1n) << BigInt(32 - len), 4);
}

/** The EUI-64 link-local address of a MAC (what a guest's kernel configures on its own). */
export function linkLocalOf(mac: string): string {
  const b = mac.split(':').map((x) => parseInt(x, 16));
  b[0] = b[0]! ^ 2;
  const g = [(b[0] << 8) | b[1]!, (b[2]! << 8) | 0xff, (0xfe << 8) | b[3]!, (b[4]! << 8) | b[5]!];
  return `fe80::${g.map((x) => x.toString(16)).join(':')}`;
}

export const ipVersion = (ip: string): 4 | 6 => (isIPv4(ip.split('/')[0]!) ? 4 : 6);
