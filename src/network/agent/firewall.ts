// Security groups and anti-spoofing as one nftables ruleset in the cloud's own two tables, replaced
// atomically (one `nft -f -` transaction: add, delete, define) on every change.
//
// Why two tables: the kernel here (and many) has no nf_conntrack_bridge, so the bridge family cannot
// match `ct state`. Our bridges set their own nf_call_iptables/ip6tables option, which makes
// br_netfilter pass bridged IP traffic through the inet hooks where conntrack runs:
//  - table bridge monostack: stateless anti-spoofing per port in prerouting (MAC, IP, ARP, no
//    DHCP/RA server), and in forward a mark naming the output port (the inet forward hook only sees
//    the bridge as in/out device);
//  - table inet monostack: egress rules in prerouting (iif is the port there), ingress rules in
//    forward (by the mark), both stateful, default drop.
// Host traffic never matches: every rule is keyed on our ports' device names or our bridges.

import { run } from '../../common/exec.js';
import { linkLocalOf, mergeCidrs, parseCidr, type Cidr } from './addr.js';
import type { HostNetworkState, PortSpec, SecurityGroupRuleSpec } from './driver.js';
import { NFT_TABLE } from './names.js';

/** Marks in our own range, so a small mark some host tool sets never selects a port chain. */
const MARK_BASE = 0x4d530000;

const PROTOCOLS: Record<string, number> = {
  hopopt: 0, icmp: 1, igmp: 2, ipip: 4, tcp: 6, egp: 8, udp: 17, dccp: 33, 'ipv6-encap': 41, 'ipv6-route': 43,
  'ipv6-frag': 44, rsvp: 46, gre: 47, esp: 50, ah: 51, icmpv6: 58, 'ipv6-icmp': 58, 'ipv6-nonxt': 59,
  'ipv6-opts': 60, ospf: 89, vrrp: 112, pgm: 113, sctp: 132, udplite: 136,
};
const WITH_PORTS = new Set([6, 17, 33, 132, 136]);

/** The IP protocol number of a rule, or null for any; undefined when the name is unknown. */
export function protocolNumber(rule: SecurityGroupRuleSpec): number | null | undefined {
  const p = rule.protocol;
  if (p === null || p === undefined || p === '' || p === 'any') return null;
  let n: number | undefined;
  if (typeof p === 'number' || /^\d+$/.test(p)) n = Number(p);
  else n = PROTOCOLS[p.toLowerCase()];
  if (n === undefined || n < 0 || n > 255) return undefined;
  // Neutron: "icmp" in an IPv6 rule means ICMPv6
  if (n === 1 && rule.ethertype === 'IPv6') n = 58;
  return n;
}

/** Ports this host filters: plugged here, port security on, not a network:* port. */
export function firewalledPorts(state: HostNetworkState): PortSpec[] {
  return state.ports
    .filter((p) => !!p.tap_name && p.port_security_enabled !== false && !(p.device_owner ?? '').startsWith('network:'))
    .sort((a, b) => a.id.localeCompare(b.id));
}

const q = (s: string): string => JSON.stringify(s);
const setOf = (items: string[]): string => `{ ${items.join(', ')} }`;

function portAddresses(p: PortSpec): { mac: string; cidrs: string[] }[] {
  const byMac = new Map<string, string[]>();
  const add = (mac: string, ip: string): void => { const k = mac.toLowerCase(); byMac.set(k, [...(byMac.get(k) ?? []), ip]); };
  byMac.set(p.mac_address.toLowerCase(), []);
  for (const f of p.fixed_ips) add(p.mac_address, f.ip_address);
  for (const a of p.allowed_address_pairs ?? []) add(a.mac_address ?? p.mac_address, a.ip_address);
  return [...byMac].map(([mac, cidrs]) => ({ mac, cidrs }));
}

/** The IPs a remote group stands for: its members' fixed IPs and allowed address pairs. */
function groupMembers(state: HostNetworkState, groupId: string): Cidr[] {
  const ips: string[] = [];
  for (const p of state.ports) {
    if (!(p.security_groups ?? []).includes(groupId)) continue;
    for (const f of p.fixed_ips) ips.push(f.ip_address);
    for (const a of p.allowed_address_pairs ?? []) ips.push(a.ip_address);
  }
  return mergeCidrs(ips);
}

/** One SG rule as an nft rule body, or null when it can never match (or is malformed: skipped). */
export function ruleToNft(rule: SecurityGroupRuleSpec, groupSet: (groupId: string, v: 4 | 6) => string | null): string | null {
  const v = rule.ethertype === 'IPv6' ? 6 : 4;
  const fam = v === 6 ? 'ip6' : 'ip';
  const peer = rule.direction === 'ingress' ? 'saddr' : 'daddr';
  const parts = [`meta nfproto ${v === 6 ? 'ipv6' : 'ipv4'}`];
  if (rule.remote_ip_prefix) {
    let c: Cidr;
    try { c = parseCidr(rule.remote_ip_prefix); } catch { return null; }
    if (c.version !== v) return null;
    if (c.len > 0) parts.push(`${fam} ${peer} ${c.text}`);
  }
  if (rule.remote_group_id) {
    const set = groupSet(rule.remote_group_id, v);
    if (!set) return null; // an empty group matches nobody
    parts.push(`${fam} ${peer} @${set}`);
  }
  const proto = protocolNumber(rule);
  if (proto === undefined) return null;
  if (proto !== null) {
    parts.push(`meta l4proto ${proto}`);
    const lo = rule.port_range_min ?? null;
    const hi = rule.port_range_max ?? null;
    if (WITH_PORTS.has(proto) && (lo !== null || hi !== null)) {
      const a = lo ?? 1;
      const b = hi ?? 65535;
      parts.push(`th dport ${a === b ? a : `${a}-${b}`}`);
    } else if ((proto === 1 || proto === 58) && lo !== null) {
      const kw = proto === 1 ? 'icmp' : 'icmpv6';
      parts.push(`${kw} type ${lo}`);
      if (hi !== null) parts.push(`${kw} code ${hi}`);
    }
  }
  return `${parts.join(' ')} accept`;
}

export interface CompiledFirewall { script: string; ports: number; rules: number }

/** The whole ruleset for `state` as one nft transaction (tables replaced atomically). */
export function compileFirewall(state: HostNetworkState, table = NFT_TABLE): CompiledFirewall {
  const ports = firewalledPorts(state);
  const lines: string[] = [
    // add-then-delete: the delete never fails, and the whole file is one transaction
    `add table bridge ${table}`, `delete table bridge ${table}`,
    `add table inet ${table}`, `delete table inet ${table}`,
  ];
  if (ports.length === 0) return { script: lines.join('\n') + '\n', ports: 0, rules: 0 };

  const groups = new Map(state.security_groups.map((g) => [g.id, g]));
  const sets = new Map<string, { name: string; v: 4 | 6; elems: string[] }>();
  const groupSet = (gid: string, v: 4 | 6): string | null => {
    const key = `${gid}/${v}`;
    let s = sets.get(key);
    if (!s) {
      const elems = groupMembers(state, gid).filter((c) => c.version === v).map((c) => c.text);
      s = { name: `rg${sets.size}v${v}`, v, elems };
      sets.set(key, s);
    }
    return s.elems.length ? s.name : null;
  };

  const br: string[] = [];
  const inet: string[] = [];
  const spoofMap: string[] = [];
  const markMap: string[] = [];
  const egressMap: string[] = [];
  const ingressMap: string[] = [];
  let ruleCount = 0;

  ports.forEach((p, i) => {
    const dev = q(p.tap_name!);
    const mark = `0x${(MARK_BASE + i + 1).toString(16)}`;
    spoofMap.push(`${dev} : jump sp${i}`);
    markMap.push(`${dev} : ${mark}`);
    egressMap.push(`${dev} : jump eg${i}`);
    ingressMap.push(`${mark} : jump in${i}`);

    // Anti-spoofing: a frame from the port carries one of its MACs and, for that MAC, one of its IPs.
    const sp: string[] = [`ether type ip ip protocol udp udp sport 67 counter drop comment ${q(`port ${p.id}: no DHCP server`)}`,
      'ether type ip6 ip6 nexthdr udp udp sport 547 drop', 'ether type ip6 ip6 nexthdr icmpv6 icmpv6 type nd-router-advert drop'];
    for (const { mac, cidrs } of portAddresses(p)) {
      const all = mergeCidrs(cidrs);
      const v4 = all.filter((c) => c.version === 4).map((c) => c.text);
      const v6 = [...all.filter((c) => c.version === 6).map((c) => c.text), linkLocalOf(mac)];
      sp.push(`ether saddr ${mac} ether type arp arp saddr ether ${mac} arp saddr ip 0.0.0.0 return`);
      if (v4.length) {
        sp.push(`ether saddr ${mac} ether type arp arp saddr ether ${mac} arp saddr ip ${setOf(v4)} return`);
        sp.push(`ether saddr ${mac} ip saddr ${setOf(v4)} return`);
      }
      sp.push(`ether saddr ${mac} ip saddr 0.0.0.0 ip daddr 255.255.255.255 udp sport 68 udp dport 67 return`);
      sp.push(`ether saddr ${mac} ip6 saddr ${setOf(['::', ...v6])} return`);
    }
    sp.push(`counter drop comment ${q(`port ${p.id}: spoofed or not IP/ARP`)}`);
    br.push(`chain sp${i} {`, ...sp.map((l) => `  ${l}`), '}');

    // Security groups: accept what a rule allows, drop the rest (Neutron's default).
    const sgs = (p.security_groups ?? []).map((id) => groups.get(id)).filter((g) => !!g);
    const stateful = sgs.length === 0 || sgs.some((g) => g!.stateful !== false);
    const eg: string[] = [];
    const ing: string[] = [];
    if (stateful) {
      eg.push('ct state established,related accept', 'ct state invalid drop');
      ing.push('ct state established,related accept', 'ct state invalid drop');
    }
    eg.push('meta nfproto ipv4 udp sport 68 udp dport 67 accept', 'meta nfproto ipv6 udp sport 546 udp dport 547 accept',
      'icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert, mld-listener-report, mld2-listener-report } accept');
    ing.push('meta nfproto ipv4 udp sport 67 udp dport 68 accept', 'meta nfproto ipv6 udp sport 547 udp dport 546 accept',
      'icmpv6 type { nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert, mld-listener-query } accept');
    for (const g of sgs) {
      for (const r of g!.rules) {
        const body = ruleToNft(r, groupSet);
        if (!body) continue;
        (r.direction === 'ingress' ? ing : eg).push(`${body} comment ${q(`rule ${r.id}`)}`);
        ruleCount++;
      }
    }
    eg.push(`counter drop comment ${q(`port ${p.id} egress`)}`);
    ing.push(`counter drop comment ${q(`port ${p.id} ingress`)}`);
    inet.push(`chain eg${i} {`, ...eg.map((l) => `  ${l}`), '}', `chain in${i} {`, ...ing.map((l) => `  ${l}`), '}');
  });

  const setDefs: string[] = [];
  for (const s of sets.values()) {
    if (!s.elems.length) continue;
    setDefs.push(`set ${s.name} {`, `  type ${s.v === 4 ? 'ipv4_addr' : 'ipv6_addr'}`, '  flags interval',
      `  elements = ${setOf(s.elems)}`, '}');
  }

  lines.push(`table bridge ${table} {`,
    '  chain prerouting {', '    type filter hook prerouting priority -300; policy accept;',
    `    iifname vmap ${setOf(spoofMap)}`, '  }',
    // runs before br_netfilter's forward hook (priority 0), which hands the packet to inet forward
    '  chain forward {', '    type filter hook forward priority -200; policy accept;',
    `    meta mark set oifname map ${setOf(markMap)}`, '  }',
    ...br.map((l) => `  ${l}`), '}');
  lines.push(`table inet ${table} {`, ...setDefs.map((l) => `  ${l}`),
    // after conntrack (-200): iif is the bridge port itself here
    '  chain prerouting {', '    type filter hook prerouting priority 0; policy accept;',
    `    iifname vmap ${setOf(egressMap)}`, '  }',
    '  chain forward {', '    type filter hook forward priority 0; policy accept;',
    // bridged packets only (iif is the bridge); routed host traffic is not ours
    '    iifname != "msb-*" return',
    `    meta mark vmap ${setOf(ingressMap)}`, '  }',
    ...inet.map((l) => `  ${l}`), '}');
  return { script: lines.join('\n') + '\n', ports: ports.length, rules: ruleCount };
}

/** Apply a compiled ruleset; returns how long the nft transaction took (ms). */
export async function applyFirewall(fw: CompiledFirewall): Promise<number> {
  const t0 = process.hrtime.bigint();
  await run('nft', ['-f', '-'], { input: fw.script });
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

export async function removeFirewall(table = NFT_TABLE): Promise<void> {
  await run('nft', ['-f', '-'], { input: `add table bridge ${table}\ndelete table bridge ${table}\nadd table inet ${table}\ndelete table inet ${table}\n` });
}
