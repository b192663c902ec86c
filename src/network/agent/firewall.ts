// Security groups and anti-spoofing as one nftables ruleset in the cloud's own two tables, replaced
// atomically (one `nft -f -` transaction: add, delete, define) on every change.
//
// Why two tables: the kernel here (and many) has no nf_conntrack_bridge, so the bridge family cannot
// match `ct state`. Our bridges set their own nf_call_iptables/ip6tables option, which makes
// br_netfilter pass bridged IP traffic through the inet hooks where conntrack runs:
//  - table bridge monostack: in prerouting a mark naming the input port and stateless
//    anti-spoofing per port (MAC, IP, ARP, no DHCP/RA server); in forward a mark naming the output
//    port (br_netfilter shows the inet hooks only the bridge as in/out device);
//  - table inet monostack: the network's conntrack zone (raw), egress rules in prerouting by the
//    input mark, ingress rules in forward by the output mark, both stateful, default drop.
// Host traffic never matches: every inet chain first returns unless the packet is on one of this
// table's bridges, and the bridge chains only know our devices.

import { run } from '../../common/exec.js';
import { linkLocalOf, mergeCidrs, parseCidr, type Cidr } from './addr.js';
import { DEVICE_OWNER_DHCP, type HostNetworkState, type PortSpec, type SecurityGroupRuleSpec } from './driver.js';
import { bridgeName, dhcpHostLink, NFT_TABLE, routerGwHostLink, routerIfHostLink } from './names.js';

/**
 * Marks in our own range (upper 16 bits: 0x4d53 "MS" for the default table, a hash of the name for
 * another), so neither a host tool's small marks nor a second table's ports select a port chain.
 */
export function markBase(table: string): number {
  if (table === NFT_TABLE) return 0x4d530000;
  let h = 0x811c9dc5;
  for (const c of table) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return (((h >>> 16) ^ (h & 0xffff)) | 0x100) << 16 >>> 0;
}

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

/** A rule as applied to one port, for the conntrack clean-up when it goes away. */
export interface AppliedRule { key: string; direction: 'ingress' | 'egress'; v: 4 | 6; proto: number | null }
export interface AppliedPort { id: string; zone: number; ips: string[]; rules: AppliedRule[] }
export interface CompiledFirewall { script: string; ports: number; rules: number; applied: AppliedPort[] }

/** A network's conntrack zone (1..65535, stable across restarts): overlapping tenant IPs never share entries. */
export function zoneOf(networkId: string): number {
  let h = 0x811c9dc5;
  for (const c of networkId) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return (h % 65535) + 1;
}

/** Every host device plugged into each network's bridge, for the zone map. */
function bridgePorts(state: HostNetworkState, uplinkOf: (networkId: string) => string[]): Map<string, string> {
  const dev = new Map<string, string>(); // device -> network id
  for (const p of state.ports) if (p.tap_name) dev.set(p.tap_name, p.network_id);
  for (const n of state.networks) {
    for (const u of uplinkOf(n.id)) dev.set(u, n.id);
    if (state.ports.some((p) => p.network_id === n.id && p.device_owner === DEVICE_OWNER_DHCP)) dev.set(dhcpHostLink(n.id), n.id);
  }
  for (const r of state.routers) {
    for (const i of r.interfaces) dev.set(routerIfHostLink(i.port_id), i.network_id);
    if (r.external_gateway) dev.set(routerGwHostLink(r.external_gateway.port_id), r.external_gateway.network_id);
  }
  return dev;
}

/** The whole ruleset for `state` as one nft transaction (tables replaced atomically). */
export function compileFirewall(state: HostNetworkState, table = NFT_TABLE, uplinkOf: (networkId: string) => string[] = () => []): CompiledFirewall {
  const ports = firewalledPorts(state);
  const lines: string[] = [
    // add-then-delete: the delete never fails, and the whole file is one transaction
    `add table bridge ${table}`, `delete table bridge ${table}`,
    `add table inet ${table}`, `delete table inet ${table}`,
  ];
  if (ports.length === 0) return { script: lines.join('\n') + '\n', ports: 0, rules: 0, applied: [] };
  const applied: AppliedPort[] = [];

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

  // every device on our bridges gets a mark: the input port's in prerouting, the output port's in
  // forward (the inet hooks only see the bridge as device)
  const base = markBase(table);
  const devices = bridgePorts(state, uplinkOf);
  for (const p of ports) devices.set(p.tap_name!, p.network_id);
  const devList = [...devices.keys()].sort();
  const markOf = new Map(devList.map((d, i) => [d, `0x${(base + i + 1).toString(16)}`]));
  for (const d of devList) markMap.push(`${q(d)} : ${markOf.get(d)}`);
  const bridges = [...new Set(state.networks.map((n) => q(bridgeName(n.id))))];
  // The zone goes by the bridge (the inet hooks see it as the input device), not by the port's
  // mark: a device on the bridge that is no port (a router's or a test host's veth, an uplink)
  // must land in the same zone, or the replies to its traffic would find no connection.
  const zones = [...new Map(state.networks.map((n) => [q(bridgeName(n.id)), zoneOf(n.id)])).entries()].map(([b, z]) => `${b} : ${z}`);
  ports.forEach((p, i) => {
    const dev = q(p.tap_name!);
    const mark = markOf.get(p.tap_name!)!;
    spoofMap.push(`${dev} : jump sp${i}`);
    egressMap.push(`${mark} : jump eg${i}`);
    ingressMap.push(`${mark} : jump in${i}`);

    // Anti-spoofing: a frame from the port carries one of its MACs and, for that MAC, one of its IPs.
    const sp: string[] = [`ether type ip ip protocol udp udp sport 67 counter drop comment ${q(`port ${p.id}: no DHCP server`)}`,
      'ether type ip6 ip6 nexthdr udp udp sport 547 drop', 'ether type ip6 ip6 nexthdr icmpv6 icmpv6 type nd-router-advert drop'];
    // a neighbor advertisement may only claim the port's own IPv6 addresses (no v6 ARP spoofing);
    // the target is matched as raw payload (ICMPv6 bytes 8..23), addresses as 128-bit numbers
    const targets: string[] = [];
    for (const { mac, cidrs } of portAddresses(p)) {
      for (const c of [...mergeCidrs(cidrs).filter((x) => x.version === 6), parseCidr(linkLocalOf(mac))]) {
        const hex = (n: bigint): string => `0x${n.toString(16)}`;
        targets.push(c.len === 128 ? hex(c.net) : `${hex(c.net)}-${hex(c.net | ((1n << BigInt(128 - c.len)) - 1n))}`);
      }
    }
    sp.push(`ether type ip6 ip6 nexthdr icmpv6 icmpv6 type nd-neighbor-advert @th,64,128 != ${setOf(targets)} counter drop`);
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
    const ap: AppliedPort = { id: p.id, zone: zoneOf(p.network_id), rules: [],
      ips: [...p.fixed_ips.map((f) => f.ip_address), ...(p.allowed_address_pairs ?? []).map((a) => a.ip_address).filter((x) => !x.includes('/'))] };
    for (const g of sgs) {
      for (const r of g!.rules) {
        const body = ruleToNft(r, groupSet);
        if (!body) continue;
        (r.direction === 'ingress' ? ing : eg).push(`${body} comment ${q(`rule ${r.id}`)}`);
        ruleCount++;
        const v = r.ethertype === 'IPv6' ? 6 : 4;
        const members = r.remote_group_id ? sets.get(`${r.remote_group_id}/${v}`)?.elems.join(',') ?? '' : '';
        ap.rules.push({ key: `${r.direction} ${body} ${members}`, direction: r.direction, v, proto: protocolNumber(r) ?? null });
      }
    }
    applied.push(ap);
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
    // before br_netfilter (priority 0) hands IP packets to the inet hooks
    '  chain prerouting {', '    type filter hook prerouting priority -300; policy accept;',
    `    meta mark set iifname map ${setOf(markMap)}`,
    `    iifname vmap ${setOf(spoofMap)}`, '  }',
    // runs before br_netfilter's forward hook (priority 0), which hands the packet to inet forward
    '  chain forward {', '    type filter hook forward priority -200; policy accept;',
    `    meta mark set oifname map ${setOf(markMap)}`, '  }',
    ...br.map((l) => `  ${l}`), '}');
  // bridged packets of this table's bridges only (the inet hooks see the bridge as device)
  const guard = `    iifname != ${setOf(bridges.length ? bridges : ['"msb-none"'])} return`;
  lines.push(`table inet ${table} {`, ...setDefs.map((l) => `  ${l}`),
    // one conntrack zone per network, set before conntrack (-200) sees the packet
    '  chain raw {', '    type filter hook prerouting priority raw; policy accept;',
    guard, `    ct zone set iifname map ${setOf(zones.length ? zones : ['"msb-none" : 1'])}`, '  }',
    // after conntrack (-200): iif is the bridge port itself here
    '  chain prerouting {', '    type filter hook prerouting priority 0; policy accept;',
    guard, `    meta mark vmap ${setOf(egressMap)}`, '  }',
    '  chain forward {', '    type filter hook forward priority 0; policy accept;',
    guard,
    `    meta mark vmap ${setOf(ingressMap)}`, '  }',
    ...inet.map((l) => `  ${l}`), '}');
  return { script: lines.join('\n') + '\n', ports: ports.length, rules: ruleCount, applied };
}

const CT_PROTO: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 33: 'dccp', 47: 'gre', 58: 'icmpv6', 132: 'sctp', 136: 'udplite' };

/**
 * conntrack deletions for rules that went away (as Neutron does): an established flow a removed
 * rule admitted must not outlive the rule. Per port, its zone, its addresses, the rule's protocol.
 */
export function conntrackCleanup(before: AppliedPort[], after: AppliedPort[]): string[][] {
  const now = new Map(after.map((p) => [p.id, new Set(p.rules.map((r) => r.key))]));
  const cmds = new Map<string, string[]>();
  for (const p of before) {
    const keep = now.get(p.id);
    if (!keep) continue; // the port is gone from this host
    for (const r of p.rules) {
      if (keep.has(r.key)) continue;
      for (const ip of p.ips.filter((x) => (x.includes(':') ? 6 : 4) === r.v)) {
        const proto = r.proto === null ? [] : CT_PROTO[r.proto] ? ['-p', CT_PROTO[r.proto]!] : [];
        const args = ['-D', '-w', String(p.zone), '-f', r.v === 6 ? 'ipv6' : 'ipv4', ...proto, r.direction === 'ingress' ? '-d' : '-s', ip];
        cmds.set(args.join(' '), args);
      }
    }
  }
  return [...cmds.values()];
}

export async function runConntrackCleanup(cmds: string[][]): Promise<void> {
  for (const args of cmds) {
    try { await run('conntrack', args); } catch { /* nothing matched, or no conntrack tool: rules still apply to new flows */ }
  }
}

/** Apply a compiled ruleset; returns how long the nft transaction took (ms). */
export async function applyFirewall(fw: CompiledFirewall): Promise<number> {
  const t0 = process.hrtime.bigint();
  await run('nft', ['-f', '-'], { input: fw.script });
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** Whether our tables are on the host as expected (someone may have flushed the ruleset). */
export async function tablesPresent(table: string, expected: boolean): Promise<boolean> {
  try {
    const j = JSON.parse((await run('nft', ['-j', 'list', 'tables'])).stdout) as { nftables: { table?: { family: string; name: string } }[] };
    const n = j.nftables.filter((x) => x.table?.name === table && (x.table.family === 'bridge' || x.table.family === 'inet')).length;
    return expected ? n === 2 : n === 0;
  } catch { return false; }
}

export async function removeFirewall(table = NFT_TABLE): Promise<void> {
  await run('nft', ['-f', '-'], { input: `add table bridge ${table}\ndelete table bridge ${table}\nadd table inet ${table}\ndelete table inet ${table}\n` });
}
