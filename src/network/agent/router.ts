// A router: its own namespace (msrtr-<id>) with a veth into each internal network's bridge (qr-,
// carrying the subnet's gateway IP) and one into the external network's bridge (qg-, carrying the
// gateway IP and the floating IPs). Forwarding is switched on inside that namespace only; SNAT,
// and DNAT+SNAT for floating IPs, are an nftables table inside it.

import { parseCidr } from './addr.js';
import type { RouterInterfaceSpec, RouterSpec } from './driver.js';
import { ensureNamespace, ip, ipBatch, ipJson, listLinks, nsExec } from './iplib.js';
import { routerGwHostLink, routerGwNsLink, routerIfHostLink, routerIfNsLink, routerNamespace } from './names.js';

const q = (s: string): string => JSON.stringify(s);

/** Where the router namespace's metadata proxy listens; 169.254.169.254:80 from qr- is redirected there (as Neutron's L3 agent). */
export const ROUTER_METADATA_PORT = 9697;

/** The router namespace's NAT table (replaced atomically, like the host firewall). */
export function compileRouterNat(r: RouterSpec, metadata = false): string {
  const lines = ['add table ip monostack', 'delete table ip monostack'];
  const gw = r.external_gateway;
  if (!gw && !metadata) return lines.join('\n') + '\n';
  const internal = r.interfaces.filter((i) => !i.ip_address.includes(':')).map((i) => parseCidr(i.cidr).text);
  const fips = gw ? (r.floating_ips ?? []).filter((f) => !f.floating_ip_address.includes(':')) : [];
  const pre: string[] = [];
  const post: string[] = [];
  if (metadata) pre.push(`iifname "qr-*" ip daddr 169.254.169.254 tcp dport 80 redirect to :${ROUTER_METADATA_PORT}`);
  if (gw) {
    const qg = q(routerGwNsLink(gw.port_id));
    for (const f of fips) {
      pre.push(`ip daddr ${f.floating_ip_address} dnat to ${f.fixed_ip_address}`);
      post.push(`oifname ${qg} ip saddr ${f.fixed_ip_address} snat to ${f.floating_ip_address}`);
    }
    // hairpin: a guest reaching another guest's floating IP through this router gets the router's
    // address as source, so the reply comes back through the router (and is un-NATed) too
    if (fips.length && internal.length) {
      for (const i of r.interfaces.filter((x) => !x.ip_address.includes(':'))) {
        post.push(`oifname ${q(routerIfNsLink(i.port_id))} ip saddr { ${internal.join(', ')} } ct status dnat masquerade`);
      }
    }
    // the default SNAT: only traffic leaving by the gateway, never between internal networks
    if (gw.enable_snat && internal.length) post.push(`oifname ${qg} ip saddr { ${internal.join(', ')} } snat to ${gw.ip_address}`);
  }
  const outPre = pre.filter((l) => !l.startsWith('iifname'));
  lines.push('table ip monostack {',
    '  chain prerouting {', '    type nat hook prerouting priority dstnat; policy accept;', ...pre.map((l) => `    ${l}`), '  }',
    // the router's own connections to a floating IP (and ping from inside for checks)
    '  chain output {', '    type nat hook output priority -100; policy accept;', ...outPre.map((l) => `    ${l}`), '  }',
    '  chain postrouting {', '    type nat hook postrouting priority srcnat; policy accept;', ...post.map((l) => `    ${l}`), '  }',
    // the proxy's port is for redirected guest requests only, never reachable from the external side
    ...(metadata ? ['  chain input {', '    type filter hook input priority 0; policy accept;',
      `    tcp dport ${ROUTER_METADATA_PORT} iifname != "qr-*" drop`, '  }'] : []),
    '}');
  return lines.join('\n') + '\n';
}

/** The floating IP translations (floating → fixed) a router namespace's NAT table holds, from `nft list chain ip monostack prerouting`. */
export function parseDnat(nftText: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of nftText.matchAll(/ip daddr (\S+) dnat (?:ip )?to (\S+)/g)) out.set(m[1]!, m[2]!);
  return out;
}

/**
 * Floating IPs whose translation went away or now points elsewhere. Their conntrack entries in the
 * router namespace must go (as Neutron's delete_conntrack_state): NAT is decided when a flow starts,
 * so a flow that was running (a ping stream, a TCP session) would otherwise keep reaching the old
 * fixed address through the router long after the floating IP was disassociated.
 */
export function staleFloatingIps(before: Map<string, string>, r: RouterSpec): string[] {
  const now = new Map(r.external_gateway ? (r.floating_ips ?? []).map((f) => [f.floating_ip_address, f.fixed_ip_address]) : []);
  return [...before].filter(([fip, fixed]) => now.get(fip) !== fixed).map(([fip]) => fip);
}

/** conntrack deletions for stale floating IPs: flows to them (original destination) and from them (SNATed: reply destination). */
export function floatingIpConntrackCleanup(fips: string[]): string[][] {
  return fips.flatMap((f) => [['-D', '-f', 'ipv4', '-d', f], ['-D', '-f', 'ipv4', '-q', f]]);
}

interface WantLink { nsName: string; hostName: string; bridge: string; mac: string; addrs: string[]; mtu?: number }

async function syncAddresses(ns: string, dev: string, want: string[]): Promise<void> {
  const rows = await ipJson<{ addr_info?: { local: string; prefixlen: number; scope: string }[] }>(['addr', 'show', 'dev', dev], ns);
  const have = (rows[0]?.addr_info ?? []).filter((a) => a.scope !== 'link' && a.scope !== 'host').map((a) => `${a.local}/${a.prefixlen}`);
  const lines = [
    ...want.filter((a) => !have.includes(a)).map((a) => `addr add ${a} dev ${dev}`),
    ...have.filter((a) => !want.includes(a)).map((a) => `addr del ${a} dev ${dev}`),
  ];
  await ipBatch(lines, ns);
}

/** A veth from a namespace into a bridge: created once, re-plugged if its bridge was recreated. */
export async function ensureNsVeth(ns: string, w: WantLink, nsLinks: Set<string>): Promise<void> {
  if (!nsLinks.has(w.nsName)) {
    try { await ip(['link', 'del', w.hostName]); } catch { /* no stale host end */ }
    await ip(['link', 'add', w.hostName, 'type', 'veth', 'peer', 'name', w.nsName, 'netns', ns]);
  }
  const mtu = w.mtu ? ['mtu', String(w.mtu)] : [];
  // no IPv6 link-local address on the host end: the host takes no part in these networks
  await ipBatch([`link set dev ${w.hostName} addrgenmode none`, `link set dev ${w.hostName} master ${w.bridge} ${mtu.join(' ')} up`]);
  await ipBatch([`link set dev ${w.nsName} address ${w.mac} ${mtu.join(' ')} up`], ns);
  await syncAddresses(ns, w.nsName, w.addrs);
}

const withLen = (i: RouterInterfaceSpec): string => `${i.ip_address}/${parseCidr(i.cidr).len}`;

export async function ensureRouter(r: RouterSpec, bridgeOf: (networkId: string) => string, mtuOf: (networkId: string) => number | undefined, metadata = false): Promise<void> {
  const ns = routerNamespace(r.id);
  await ensureNamespace(ns);
  // this namespace's own sysctls, never the host's
  await nsExec(ns, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
  const want: WantLink[] = r.interfaces.map((i) => ({
    nsName: routerIfNsLink(i.port_id), hostName: routerIfHostLink(i.port_id), bridge: bridgeOf(i.network_id),
    mac: i.mac_address, addrs: [withLen(i)], mtu: mtuOf(i.network_id),
  }));
  const gw = r.external_gateway;
  if (gw) {
    want.push({
      nsName: routerGwNsLink(gw.port_id), hostName: routerGwHostLink(gw.port_id), bridge: bridgeOf(gw.network_id), mac: gw.mac_address,
      addrs: [withLen(gw), ...(r.floating_ips ?? []).map((f) => `${f.floating_ip_address}/${f.floating_ip_address.includes(':') ? 128 : 32}`)],
      mtu: mtuOf(gw.network_id),
    });
  }
  const nsLinks = new Set((await listLinks(ns)).map((l) => l.ifname));
  for (const w of want) await ensureNsVeth(ns, w, nsLinks);
  const stale = [...nsLinks].filter((n) => (n.startsWith('qr-') || n.startsWith('qg-')) && !want.some((w) => w.nsName === n));
  await ipBatch(stale.map((n) => `link del ${n}`), ns);

  // routes: the default via the external subnet's gateway, the router's static routes tagged
  // `proto static` so that the stale ones can be told from the kernel's own
  const routeLines: string[] = [];
  if (gw?.gateway_ip) routeLines.push(`route replace default via ${gw.gateway_ip} dev ${routerGwNsLink(gw.port_id)}`);
  else routeLines.push('route del default');
  const wantStatic = (r.routes ?? []).filter((x) => !x.destination.includes(':'));
  for (const x of wantStatic) routeLines.push(`route replace ${parseCidr(x.destination).text} via ${x.nexthop} proto static`);
  const haveStatic = await ipJson<{ dst: string }>(['route', 'show', 'proto', 'static'], ns);
  for (const h of haveStatic) {
    if (!wantStatic.some((x) => parseCidr(x.destination).text === (h.dst === 'default' ? '0.0.0.0/0' : h.dst))) routeLines.push(`route del ${h.dst} proto static`);
  }
  for (const l of routeLines) {
    try { await ipBatch([l], ns); } catch (e) { if (!l.startsWith('route del')) throw e; }
  }
  let before = new Map<string, string>();
  try { before = parseDnat(await nsExec(ns, 'nft', ['list', 'chain', 'ip', 'monostack', 'prerouting'])); } catch { /* no table yet */ }
  await nsExec(ns, 'nft', ['-f', '-'], compileRouterNat(r, metadata));
  for (const args of floatingIpConntrackCleanup(staleFloatingIps(before, r))) {
    try { await nsExec(ns, 'conntrack', args); } catch { /* nothing matched (exit 1) */ }
  }
}
