// DHCP for one network: a dnsmasq inside the network's own namespace (msdhcp-<id>), reached through
// a veth on the bridge, answering only the MAC -> IP pairs of the port table (static ranges, no
// pool), never forwarding DNS upstream. Port changes rewrite its files and SIGHUP it; only a change
// of its command line (subnets, interface) restarts it.

import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../common/exec.js';
import { netmask4, parseCidr } from './addr.js';
import type { NetworkSpec, PortSpec, SubnetSpec } from './driver.js';
import { dhcpNsLink } from './names.js';
import { processAlive, readPid, stopProcess } from './proc.js';

export const METADATA_IP = '169.254.169.254';
const LEASE_TIME = '86400s';

export interface DhcpFiles { args: string[]; hosts: string; opts: string; addnHosts: string }

/** Neutron's hostname for a port without dns_name: host-10-0-0-5 */
export function hostnameFor(port: PortSpec, ip: string): string {
  return port.dns_name || `host-${ip.replace(/[.:]/g, '-')}`;
}

/**
 * dnsmasq's command line and files for a network's DHCP-enabled subnets. `dhcpPort` is the
 * network:dhcp port whose IPs the namespace carries (the DNS server, the metadata next hop).
 */
export function dnsmasqConfig(net: NetworkSpec, subnets: SubnetSpec[], ports: PortSpec[], dhcpPort: PortSpec, dir: string): DhcpFiles {
  const dhcpSubnets = subnets.filter((s) => s.enable_dhcp).sort((a, b) => a.id.localeCompare(b.id));
  const tag = new Map(dhcpSubnets.map((s, i) => [s.id, `tag${i}`]));
  const args = [
    '--no-hosts', '--no-resolv', '--conf-file=/dev/null',
    `--pid-file=${join(dir, 'pid')}`, `--dhcp-hostsfile=${join(dir, 'host')}`, `--addn-hosts=${join(dir, 'addn_hosts')}`,
    `--dhcp-optsfile=${join(dir, 'opts')}`, `--dhcp-leasefile=${join(dir, 'leases')}`,
    // only the namespace's own interface, and only addresses of the port table
    '--bind-interfaces', `--interface=${dhcpNsLink(dhcpPort.id)}`, '--except-interface=lo',
    // root inside its own namespace: it writes its lease file into our state directory
    '--domain=openstacklocal', '--dhcp-authoritative', '--user=root', '--group=root',
  ];
  let hostsMax = 0;
  for (const s of dhcpSubnets) {
    const c = parseCidr(s.cidr);
    const base = c.text.split('/')[0]!;
    args.push(s.ip_version === 4
      ? `--dhcp-range=set:${tag.get(s.id)},${base},static,${netmask4(c.len)},${LEASE_TIME}`
      : `--dhcp-range=set:${tag.get(s.id)},${base},static,${c.len},${LEASE_TIME}`);
    hostsMax += 2 ** Math.min(16, (s.ip_version === 4 ? 32 : 128) - c.len);
  }
  args.push(`--dhcp-lease-max=${Math.max(16, hostsMax)}`);

  const hosts: string[] = [];
  const addn: string[] = [];
  for (const p of [...ports].sort((a, b) => a.id.localeCompare(b.id))) {
    for (const f of p.fixed_ips) {
      if (!tag.has(f.subnet_id)) continue;
      const name = hostnameFor(p, f.ip_address);
      const ipText = f.ip_address.includes(':') ? `[${f.ip_address}]` : f.ip_address;
      hosts.push(`${p.mac_address.toLowerCase()},${name}.openstacklocal,${ipText}`);
      addn.push(`${f.ip_address}\t${name}.openstacklocal ${name}`);
    }
  }

  const opts: string[] = [];
  const dhcpIp4 = dhcpPort.fixed_ips.map((f) => f.ip_address).find((ip) => !ip.includes(':'));
  for (const s of dhcpSubnets) {
    const t = `tag:${tag.get(s.id)}`;
    if (s.ip_version === 6) {
      if (s.dns_nameservers?.length) opts.push(`${t},option6:dns-server,${s.dns_nameservers.map((d) => `[${d}]`).join(',')}`);
      continue;
    }
    if (s.dns_nameservers?.length) opts.push(`${t},option:dns-server,${s.dns_nameservers.join(',')}`);
    // classless static routes (121, and 249 for old Windows): with them a client ignores option 3,
    // so the default route is repeated there; the metadata address goes via this namespace.
    const routes: string[] = [];
    const ownIp = dhcpPort.fixed_ips.find((f) => f.subnet_id === s.id)?.ip_address ?? dhcpIp4;
    if (ownIp) routes.push(`${METADATA_IP}/32,${ownIp}`);
    for (const r of s.host_routes ?? []) if (!r.destination.includes(':')) routes.push(`${r.destination},${r.nexthop}`);
    if (s.gateway_ip) {
      opts.push(`${t},option:router,${s.gateway_ip}`);
      if (!(s.host_routes ?? []).some((r) => r.destination === '0.0.0.0/0')) routes.push(`0.0.0.0/0,${s.gateway_ip}`);
    } else {
      opts.push(`${t},option:router`); // no gateway: send an empty router option, as Neutron
    }
    opts.push(`${t},option:classless-static-route,${routes.join(',')}`, `${t},249,${routes.join(',')}`);
    if (net.mtu) opts.push(`${t},option:mtu,${net.mtu}`);
  }
  return { args, hosts: hosts.join('\n') + '\n', opts: opts.join('\n') + '\n', addnHosts: addn.join('\n') + '\n' };
}

async function readText(path: string): Promise<string | undefined> {
  try { return await readFile(path, 'utf8'); } catch { return undefined; }
}

/** Start dnsmasq in `ns` or bring a running one up to date: files + SIGHUP, restart on new args. */
export async function ensureDnsmasq(ns: string, dir: string, cfg: DhcpFiles, addresses: string[] = []): Promise<'started' | 'reloaded' | 'unchanged'> {
  await mkdir(dir, { recursive: true, mode: 0o750 });
  const pidFile = join(dir, 'pid');
  const argsFile = join(dir, 'args.json');
  // the interface's addresses too: with --bind-interfaces its DNS sockets are bound at start
  const argsJson = JSON.stringify({ args: cfg.args, addresses: [...addresses].sort() });
  const files: [string, string][] = [[join(dir, 'host'), cfg.hosts], [join(dir, 'opts'), cfg.opts], [join(dir, 'addn_hosts'), cfg.addnHosts]];
  let changed = false;
  for (const [path, text] of files) {
    if ((await readText(path)) !== text) { await writeFile(path, text); changed = true; }
  }
  const pid = await readPid(pidFile);
  const alive = pid !== undefined && (await processAlive(pid, dir));
  if (alive && (await readText(argsFile)) === argsJson) {
    if (!changed) return 'unchanged';
    process.kill(pid!, 'SIGHUP'); // re-reads hosts, opts and addn-hosts files
    return 'reloaded';
  }
  if (alive) await stopProcess(pid!);
  await rm(pidFile, { force: true });
  await writeFile(argsFile, argsJson);
  // dnsmasq forks into the background once it has bound its sockets; the runner returns then
  await run('ip', ['netns', 'exec', ns, 'dnsmasq', ...cfg.args]);
  return 'started';
}

export async function stopDnsmasq(dir: string): Promise<void> {
  const pid = await readPid(join(dir, 'pid'));
  if (pid !== undefined && (await processAlive(pid, dir))) await stopProcess(pid);
}
