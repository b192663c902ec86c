// IPv4/IPv6 addresses and prefixes as BigInts (netaddr's behaviour where Neutron relies on it):
// strict parsing, canonical text (RFC 5952 compression for IPv6), containment, overlap, ranges,
// and EUI-64 addresses from MACs for SLAAC subnets.

export interface Ip { version: 4 | 6; value: bigint }
export interface Cidr { version: 4 | 6; net: bigint; prefix: number }

const V4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function parseIp(s: unknown): Ip | undefined {
  if (typeof s !== 'string') return undefined;
  if (V4.test(s)) {
    const v = s.split('.').reduce((a, p) => (a << 8n) | BigInt(Number(p)), 0n);
    return { version: 4, value: v };
  }
  if (!s.includes(':') || !/^[0-9a-fA-F:.]+$/.test(s)) return undefined;
  let text = s;
  const lastColon = text.lastIndexOf(':');
  const tailStr = text.slice(lastColon + 1);
  if (tailStr.includes('.')) {
    // An IPv4 tail (::ffff:1.2.3.4) is two 16-bit groups.
    if (!V4.test(tailStr)) return undefined;
    const p = tailStr.split('.').map(Number);
    text = `${text.slice(0, lastColon + 1)}${((p[0]! << 8) | p[1]!).toString(16)}:${((p[2]! << 8) | p[3]!).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parse = (h: string) => (h === '' ? [] : h.split(':'));
  const head = parse(halves[0]!); const rest = halves.length === 2 ? parse(halves[1]!) : [];
  if ([...head, ...rest].some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  const groups = [...head.map((g) => BigInt(parseInt(g, 16)))];
  const restG = rest.map((g) => BigInt(parseInt(g, 16)));
  const total = groups.length + restG.length;
  if (halves.length === 1 && total !== 8) return undefined;
  if (halves.length === 2 && total > 7) return undefined;
  const all = [...groups, ...Array(8 - total).fill(0n), ...restG];
  return { version: 6, value: all.reduce((a, g) => (a << 16n) | g, 0n) };
}

export function formatIp(ip: Ip): string {
  if (ip.version === 4) return [24n, 16n, 8n, 0n].map((sh) => String((ip.value >> sh) & 255n)).join('.');
  // IPv4-mapped addresses keep their dotted tail, as netaddr prints them (::ffff:1.2.3.4).
  if (ip.value >> 32n === 0xffffn) return `::ffff:${formatIp({ version: 4, value: ip.value & 0xffffffffn })}`;
  const g: number[] = [];
  for (let i = 7; i >= 0; i--) g.push(Number((ip.value >> BigInt(i * 16)) & 0xffffn));
  let best = -1; let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i; while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i > 1) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

export const bits = (v: 4 | 6): number => (v === 4 ? 32 : 128);

export function parseCidr(s: unknown): Cidr | undefined {
  if (typeof s !== 'string') return undefined;
  const [a, p, extra] = s.split('/');
  if (extra !== undefined) return undefined;
  const ip = parseIp(a);
  if (!ip) return undefined;
  const prefix = p === undefined ? bits(ip.version) : /^\d+$/.test(p) ? Number(p) : NaN;
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > bits(ip.version)) return undefined;
  return { version: ip.version, net: ip.value & mask(ip.version, prefix), prefix };
}

export function mask(version: 4 | 6, prefix: number): bigint {
  const n = BigInt(bits(version));
  return ((1n << n) - 1n) ^ ((1n << (n - BigInt(prefix))) - 1n);
}

export const size = (c: Cidr): bigint => 1n << BigInt(bits(c.version) - c.prefix);
export const first = (c: Cidr): bigint => c.net;
export const last = (c: Cidr): bigint => c.net + size(c) - 1n;
export const cidrText = (c: Cidr): string => `${formatIp({ version: c.version, value: c.net })}/${c.prefix}`;
export const contains = (c: Cidr, ip: Ip): boolean => ip.version === c.version && ip.value >= first(c) && ip.value <= last(c);
export const overlaps = (a: Cidr, b: Cidr): boolean => a.version === b.version && first(a) <= last(b) && first(b) <= last(a);
export const ipText = (version: 4 | 6, value: bigint): string => formatIp({ version, value });

/** Canonical text of an address string (what Neutron stores and returns). */
export function canonicalIp(s: string): string | undefined {
  const ip = parseIp(s);
  return ip ? formatIp(ip) : undefined;
}

/** EUI-64 address of a MAC in a /64 (SLAAC): netaddr's EUI(mac).ipv6(prefix). */
export function eui64(c: Cidr, mac: string): string {
  const o = mac.split(':').map((x) => parseInt(x, 16));
  const iid = [o[0]! ^ 2, o[1]!, o[2]!, 0xff, 0xfe, o[3]!, o[4]!, o[5]!].reduce((a, x) => (a << 8n) | BigInt(x), 0n);
  return formatIp({ version: 6, value: c.net | iid });
}
