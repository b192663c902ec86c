// The linuxbridge data plane: a Linux bridge per network, the ports' devices plugged into it,
// dnsmasq + metadata proxy per network in its own namespace, a namespace per router, security
// groups in our own nftables tables. reconcile() converges the host to the desired state and
// removes whatever carries our prefixes and is not desired any more, so it is also the recovery
// path after an agent restart.

import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../../common/exec.js';
import { parseCidr } from './addr.js';
import { dnsmasqConfig, ensureDnsmasq, METADATA_IP, stopDnsmasq } from './dhcp.js';
import {
  DEVICE_OWNER_DHCP, emptyState, type DataplaneCounts, type HostNetworkState, type NetworkDataplane, type NetworkSpec, type PortSpec,
} from './driver.js';
import { applyFirewall, compileFirewall, conntrackCleanup, removeFirewall, runConntrackCleanup, tablesPresent, type AppliedPort } from './firewall.js';
import { deleteNamespace, ensureNamespace, ip, ipBatch, ipWrites, listLinks, listNamespaces, namespacePids, type IpLink } from './iplib.js';
import {
  bridgeName, dhcpHostLink, dhcpNamespace, dhcpNsLink, isOurLink, NFT_TABLE, NS_DHCP, NS_ROUTER, routerGwHostLink, routerIfHostLink, routerNamespace,
  vlanName, vxlanName,
} from './names.js';
import { processAlive, readPid, spawnDaemon, stopProcess } from './proc.js';
import { ensureNsVeth, ensureRouter, ROUTER_METADATA_PORT } from './router.js';

export interface VxlanOptions {
  /** the host's address for VXLAN tunnels (Neutron's [vxlan] local_ip) */
  localIp: string;
  /** multicast group for flooding; without it, `remotes` get unicast copies */
  group?: string;
  /** underlay device (needed with a multicast group) */
  device?: string;
  remotes?: string[];
  port?: number;
}

export interface LinuxBridgeOptions {
  /** dnsmasq's files, pid files, proxy logs */
  stateDir: string;
  /**
   * physnet -> host interface (Neutron's physical_interface_mappings). Empty by default: a
   * physical network is then an isolated bridge, and no host interface is ever touched.
   */
  physicalInterfaceMappings?: Record<string, string>;
  /** VXLAN tunnelling; without it a VXLAN network stays local to this host */
  vxlan?: VxlanOptions;
  /** the MetadataAgent's unix socket; without it no metadata proxy is started */
  metadataSocket?: string;
  /** nftables table name (tests, or a second agent on the host, use their own) */
  table?: string;
  /**
   * Remove everything on the host with our prefixes that is not desired (a host with one agent
   * that lost its state directory). Default: only what this agent's state directory knows it
   * created, so a test beside a running cloud never deletes the cloud's namespaces.
   */
  exclusive?: boolean;
  /**
   * A pass whose desired state differs from the last fully checked one only in security groups
   * applies the firewall and stops, so a rule change is in force without waiting for the host's
   * links, namespaces and daemons to be listed again; the host itself is checked again on the
   * first pass after this many ms. 0 (the default): every pass checks everything.
   */
  hostCheckIntervalMs?: number;
}

interface Known { networks: string[]; routers: string[] }

const PROXY_JS = fileURLToPath(new URL('./metadata-proxy.js', import.meta.url));

export class LinuxBridgeDataplane implements NetworkDataplane {
  readonly name = 'linuxbridge' as const;
  private state: HostNetworkState = emptyState();
  private running: Promise<void> = Promise.resolve();
  private last: DataplaneCounts = { networks: 0, plugged_ports: 0, dhcp_servers: 0, routers: 0, firewalled_ports: 0, metadata_proxies: 0 };
  private applied: AppliedPort[] = [];
  private lastScript = '';
  /** Everything but the security groups of the last fully checked pass, and when it ran. */
  private hostPrint = '';
  private hostCheckedAt = 0;
  /** What the last successful pass built per DHCP namespace / router: unchanged ones are only checked, not redone. */
  private built = new Map<string, string>();
  /** how long the last nftables transaction took (ms) */
  lastFirewallApplyMs = 0;

  constructor(private readonly opts: LinuxBridgeOptions) {}

  /** Calls run one at a time: reconcile and plug may come from different events. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.running.then(fn, fn);
    this.running = p.then(() => undefined, () => undefined);
    return p;
  }

  reconcile(desired: HostNetworkState): Promise<void> {
    return this.serial(() => this.doReconcile(desired));
  }

  plugPort(port: PortSpec, device: string): Promise<void> {
    return this.serial(async () => {
      this.hostPrint = ''; // the host changed outside a pass: the next one checks it
      const net = this.state.networks.find((n) => n.id === port.network_id) ?? { id: port.network_id, network_type: 'local' as const };
      const links = new Map((await listLinks()).map((l) => [l.ifname, l]));
      if (!links.has(bridgeName(net.id))) {
        const k = await this.loadKnown(); // a bridge made here must be known, or it could leak
        if (!k.networks.includes(net.id)) await this.saveKnown({ ...k, networks: [...k.networks, net.id] });
      }
      await this.ensureBridge(net, links);
      await this.plug(device, net, links.get(device));
      await this.attachUplink(net, links).catch(() => undefined); // reconcile reports it
    });
  }

  unplugPort(_port: PortSpec, device: string): Promise<void> {
    return this.serial(async () => {
      this.hostPrint = '';
      try { await ip(['link', 'set', 'dev', device, 'nomaster']); } catch { /* device already gone */ }
    });
  }

  counts(): DataplaneCounts { return { ...this.last }; }

  teardown(): Promise<void> {
    return this.serial(async () => {
      try {
        await this.doReconcile(emptyState());
      } finally {
        await removeFirewall(this.table);
        this.lastScript = '';
        this.hostPrint = '';
        this.applied = [];
        this.built.clear();
      }
    });
  }

  private get table(): string { return this.opts.table ?? NFT_TABLE; }

  private async doReconcile(desired: HostNetworkState): Promise<void> {
    const counts: DataplaneCounts = { networks: 0, plugged_ports: 0, dhcp_servers: 0, routers: 0, firewalled_ports: 0, metadata_proxies: 0 };
    const nets = desired.networks.filter((n) => n.admin_state_up !== false);
    const netById = new Map(nets.map((n) => [n.id, n]));
    // remember what we are about to build before building it: a crash midway leaks nothing
    const before = await this.loadKnown();
    await this.saveKnown({
      networks: [...new Set([...before.networks, ...nets.map((n) => n.id)])],
      routers: [...new Set([...before.routers, ...desired.routers.map((r) => r.id)])],
    });
    // security groups first: a new port is never plugged unfiltered, and a rule change is in
    // force after one nft transaction (rules name devices, which need not exist yet)
    const fw = compileFirewall(desired, this.table, (id) => this.uplinksOf(desired, id));
    if (fw.script !== this.lastScript || !(await tablesPresent(this.table, fw.ports > 0))) {
      this.lastFirewallApplyMs = await applyFirewall(fw);
      await runConntrackCleanup(conntrackCleanup(this.applied, fw.applied));
      this.lastScript = fw.script;
      this.applied = fw.applied;
    }
    counts.firewalled_ports = fw.ports;

    const hostPrint = JSON.stringify([desired.networks, desired.subnets, desired.routers,
      desired.ports.map(({ security_groups: _groups, ...p }) => p), this.opts.metadataSocket ?? '']);
    if (hostPrint === this.hostPrint && Date.now() - this.hostCheckedAt < (this.opts.hostCheckIntervalMs ?? 0)) {
      this.state = desired;
      this.last = { ...this.last, firewalled_ports: fw.ports };
      return;
    }
    this.hostPrint = '';

    let links = new Map((await listLinks()).map((l) => [l.ifname, l]));
    let listedAt = ipWrites();
    const relist = async (force = false) => {
      if (force || ipWrites() !== listedAt) { listedAt = ipWrites(); links = new Map((await listLinks()).map((l) => [l.ifname, l])); }
      return links;
    };

    // L2: bridges and their uplinks, then the ports' devices
    // one broken network (a VLAN without 8021q, a mapped interface that is gone) must not stop the
    // others: failures are collected and thrown together at the end
    const errors: Error[] = [];
    const attempt = async (what: string, fn: () => Promise<unknown>): Promise<boolean> => {
      try { await fn(); return true; } catch (e) { errors.push(new Error(`${what}: ${(e as Error).message}`, { cause: e })); return false; }
    };
    const broken = new Set<string>();
    for (const n of nets) {
      if (!(await attempt(`network ${n.id}`, () => this.ensureBridge(n, links)))) broken.add(n.id);
      // without its uplink a network still works on this host
      else await attempt(`uplink of network ${n.id}`, () => this.attachUplink(n, links));
    }
    // A tap compute made since the first listing is plugged in this pass, not the next one.
    await relist(desired.ports.some((p) => p.tap_name && netById.has(p.network_id) && !links.has(p.tap_name)));
    for (const p of desired.ports) {
      const n = netById.get(p.network_id);
      if (!n || !p.tap_name || !links.has(p.tap_name)) continue; // not on this host (yet)
      if (broken.has(n.id)) continue;
      if (await attempt(`port ${p.id}`, () => this.plug(p.tap_name!, n, links.get(p.tap_name!)))) counts.plugged_ports++;
    }
    counts.networks = nets.length;

    // DHCP (+ metadata) per network
    const wantNs = new Set<string>();
    const liveNs = await listNamespaces();
    for (const n of nets) {
      const subnets = desired.subnets.filter((s) => s.network_id === n.id);
      const dhcpPort = desired.ports.find((p) => p.network_id === n.id && p.device_owner === DEVICE_OWNER_DHCP);
      if (!dhcpPort || !subnets.some((s) => s.enable_dhcp)) continue;
      wantNs.add(dhcpNamespace(n.id));
      if (broken.has(n.id)) continue;
      const ns = dhcpNamespace(n.id);
      const fp = JSON.stringify([n, subnets, desired.ports.filter((p) => p.network_id === n.id), this.opts.metadataSocket ?? '']);
      let hasProxy = !!this.opts.metadataSocket;
      if (this.built.get(ns) !== fp || !liveNs.includes(ns) || !(await this.dhcpAlive(ns, n.id, links))) {
        this.built.delete(ns);
        if (!(await attempt(`DHCP of network ${n.id}`, async () => { hasProxy = await this.ensureDhcp(n, desired, dhcpPort); }))) continue;
        this.built.set(ns, fp);
      }
      counts.dhcp_servers++;
      if (hasProxy) counts.metadata_proxies++;
    }

    // routers
    for (const r of desired.routers.filter((x) => x.admin_state_up !== false)) {
      const nsNets = [...r.interfaces.map((i) => i.network_id), ...(r.external_gateway ? [r.external_gateway.network_id] : [])];
      if (nsNets.some((id) => !netById.has(id))) continue; // wait until its networks are here
      wantNs.add(routerNamespace(r.id));
      if (nsNets.some((id) => broken.has(id))) continue;
      const ns = routerNamespace(r.id);
      const fp = JSON.stringify([r, nsNets.map((id) => netById.get(id)?.mtu)]);
      const veths = [...r.interfaces.map((i) => [routerIfHostLink(i.port_id), i.network_id]), ...(r.external_gateway ? [[routerGwHostLink(r.external_gateway.port_id), r.external_gateway.network_id]] : [])];
      const meta = !!this.opts.metadataSocket;
      const intact = liveNs.includes(ns) && veths.every(([d, net]) => links.get(d!)?.master === bridgeName(net!))
        && (!meta || (await this.proxyAlive(join(this.opts.stateDir, ns))));
      if (this.built.get(ns) !== fp || !intact) {
        this.built.delete(ns);
        const ok = await attempt(`router ${r.id}`, async () => {
          await ensureRouter(r, bridgeName, (id) => netById.get(id)?.mtu, meta);
          // metadata for the router's networks too (guests without a DHCP route to 169.254.169.254)
          if (meta) await this.ensureProxy(ns, join(this.opts.stateDir, ns), ['--router-id', r.id], `0.0.0.0:${ROUTER_METADATA_PORT}`);
        });
        if (!ok) continue;
        this.built.set(ns, fp);
      }
      counts.routers++;
      if (meta) counts.metadata_proxies++;
    }

    // whatever of ours is not desired any more
    const known = await this.loadKnown();
    const staleNs = this.opts.exclusive
      ? liveNs.filter((ns) => (ns.startsWith(NS_DHCP) || ns.startsWith(NS_ROUTER)) && !wantNs.has(ns))
      : [...known.networks.map(dhcpNamespace), ...known.routers.map(routerNamespace)].filter((ns) => liveNs.includes(ns) && !wantNs.has(ns));
    for (const ns of staleNs) {
      this.built.delete(ns);
      if (ns.startsWith(NS_DHCP)) await this.stopDhcpProcesses(ns);
      else for (const p of await namespacePids(ns)) await stopProcess(p);
      await deleteNamespace(ns);
      await rm(join(this.opts.stateDir, ns), { recursive: true, force: true });
    }
    const wantLinks = new Set(nets.flatMap((n) => [bridgeName(n.id), vxlanName(n.id), vlanName(n.id)]));
    const knownLinks = new Set(known.networks.flatMap((id) => [bridgeName(id), vxlanName(id), vlanName(id)]));
    for (const l of [...(await relist()).values()].filter((x) => isOurLink(x.ifname))) {
      // veth host ends go with their namespace; bridges, VXLAN and VLAN devices are deleted here
      if (wantLinks.has(l.ifname) || l.linkinfo?.info_kind === 'veth') continue;
      if (!this.opts.exclusive && !knownLinks.has(l.ifname)) continue;
      try { await ip(['link', 'del', l.ifname]); } catch { /* gone meanwhile */ }
    }
    await this.saveKnown({ networks: nets.map((n) => n.id), routers: [...wantNs].filter((n) => n.startsWith(NS_ROUTER)).map((n) => n.slice(NS_ROUTER.length)) });
    this.state = desired;
    this.last = counts;
    if (!errors.length) { this.hostPrint = hostPrint; this.hostCheckedAt = Date.now(); }
    if (errors.length === 1) throw errors[0]!;
    if (errors.length) throw new AggregateError(errors, `reconcile: ${errors.length} failures: ${errors.map((e) => e.message).join('; ')}`);
  }

  /** dnsmasq and the proxy still run and the namespace's veth is still on the bridge: no need to redo. */
  private async dhcpAlive(ns: string, networkId: string, links: Map<string, IpLink>): Promise<boolean> {
    if (links.get(dhcpHostLink(networkId))?.master !== bridgeName(networkId)) return false;
    const dir = join(this.opts.stateDir, ns);
    const pid = await readPid(join(dir, 'pid'));
    if (pid === undefined || !(await processAlive(pid, dir))) return false;
    return !this.opts.metadataSocket || this.proxyAlive(dir);
  }

  /** Devices other than ports on a network's bridge (for its conntrack zone). */
  private uplinksOf(desired: HostNetworkState, networkId: string): string[] {
    const n = desired.networks.find((x) => x.id === networkId);
    const phys = n?.physical_network ? this.opts.physicalInterfaceMappings?.[n.physical_network] : undefined;
    return [vxlanName(networkId), vlanName(networkId), ...(n?.network_type === 'flat' && phys ? [phys] : [])];
  }

  /** The networks and routers this agent has built (in its state directory: survives a restart). */
  private async loadKnown(): Promise<Known> {
    try { return JSON.parse(await readFile(join(this.opts.stateDir, 'known.json'), 'utf8')) as Known; } catch { return { networks: [], routers: [] }; }
  }

  private async saveKnown(k: Known): Promise<void> {
    await mkdir(this.opts.stateDir, { recursive: true, mode: 0o750 });
    await writeFile(join(this.opts.stateDir, 'known.json'), JSON.stringify(k));
  }

  private async ensureBridge(n: NetworkSpec, links: Map<string, IpLink>): Promise<void> {
    const br = bridgeName(n.id);
    const mtu = n.mtu ? ` mtu ${n.mtu}` : '';
    const have = links.get(br);
    if (have && (have.flags ?? []).includes('UP') && (!n.mtu || have.mtu === n.mtu)) return; // steady state: no exec
    if (!have) {
      // nf_call_ip(6)tables on this bridge only: br_netfilter then hands its IP traffic to the
      // inet hooks where conntrack runs (stateful security groups); no host sysctl is changed
      await ip(['link', 'add', 'name', br, 'type', 'bridge', 'nf_call_iptables', '1', 'nf_call_ip6tables', '1']);
      await ipBatch([`link set dev ${br} addrgenmode none`]);
    }
    await ipBatch([`link set dev ${br}${mtu} up`]);
  }

  private async attachUplink(n: NetworkSpec, links: Map<string, IpLink>): Promise<void> {
    const uplink = await this.ensureUplink(n, links);
    if (uplink && links.get(uplink)?.master === bridgeName(n.id)) return;
    if (uplink) await ipBatch([`link set dev ${uplink} master ${bridgeName(n.id)}${n.mtu ? ` mtu ${n.mtu}` : ''} up`]);
  }

  /** The device connecting a network to the outside, only when the operator mapped one. */
  private async ensureUplink(n: NetworkSpec, links: Map<string, IpLink>): Promise<string | undefined> {
    const phys = n.physical_network ? this.opts.physicalInterfaceMappings?.[n.physical_network] : undefined;
    if (n.network_type === 'flat' && phys) return phys;
    if (n.network_type === 'vlan' && phys && n.segmentation_id) {
      const dev = vlanName(n.id);
      if (!links.has(dev)) await ip(['link', 'add', 'link', phys, 'name', dev, 'type', 'vlan', 'id', String(n.segmentation_id)]);
      return dev;
    }
    const vx = this.opts.vxlan;
    if (n.network_type === 'vxlan' && vx && n.segmentation_id) {
      const dev = vxlanName(n.id);
      if (!links.has(dev)) {
        const args = ['link', 'add', dev, 'type', 'vxlan', 'id', String(n.segmentation_id), 'local', vx.localIp, 'dstport', String(vx.port ?? 4789)];
        if (vx.group) args.push('group', vx.group, ...(vx.device ? ['dev', vx.device] : []));
        await ip(args);
        await ipBatch([`link set dev ${dev} addrgenmode none`]);
        // head-end replication to the other hosts when there is no multicast group
        for (const r of vx.remotes ?? []) await run('bridge', ['fdb', 'append', '00:00:00:00:00:00', 'dev', dev, 'dst', r]);
      }
      return dev;
    }
    return undefined; // flat/vlan without mapping, local: an isolated bridge
  }

  private async plug(device: string, n: NetworkSpec, link: IpLink | undefined): Promise<void> {
    const br = bridgeName(n.id);
    if (link?.master === br && (link.flags ?? []).includes('UP')) return;
    await ipBatch([`link set dev ${device} master ${br}${n.mtu ? ` mtu ${n.mtu}` : ''} up`]);
  }

  /** Returns whether a metadata proxy serves the network. */
  private async ensureDhcp(n: NetworkSpec, desired: HostNetworkState, dhcpPort: PortSpec): Promise<boolean> {
    const ns = dhcpNamespace(n.id);
    const dir = join(this.opts.stateDir, ns);
    await mkdir(dir, { recursive: true, mode: 0o750 });
    await ensureNamespace(ns);
    const subnets = desired.subnets.filter((s) => s.network_id === n.id);
    const addrs = dhcpPort.fixed_ips.flatMap((f) => {
      const s = subnets.find((x) => x.id === f.subnet_id);
      return s ? [`${f.ip_address}/${parseCidr(s.cidr).len}`] : [];
    });
    if (this.opts.metadataSocket) addrs.push(`${METADATA_IP}/32`);
    const nsLinks = new Set((await listLinks(ns)).map((l) => l.ifname));
    const nsName = dhcpNsLink(dhcpPort.id);
    for (const stale of [...nsLinks].filter((l) => l.startsWith('ns-') && l !== nsName)) await ip(['link', 'del', stale], ns);
    await ensureNsVeth(ns, { nsName, hostName: dhcpHostLink(n.id), bridge: bridgeName(n.id), mac: dhcpPort.mac_address, addrs, mtu: n.mtu }, nsLinks);
    const ports = desired.ports.filter((p) => p.network_id === n.id);
    await ensureDnsmasq(ns, dir, dnsmasqConfig(n, subnets, ports, dhcpPort, dir), addrs);
    if (!this.opts.metadataSocket) return false;
    await this.ensureProxy(ns, dir, ['--network-id', n.id], `${METADATA_IP}:80`);
    return true;
  }

  private async proxyAlive(dir: string): Promise<boolean> {
    const pid = await readPid(join(dir, 'metadata.pid'));
    return pid !== undefined && (await processAlive(pid, dir));
  }

  private async ensureProxy(ns: string, dir: string, whereArgs: string[], listen: string): Promise<void> {
    await mkdir(dir, { recursive: true, mode: 0o750 });
    const pidFile = join(dir, 'metadata.pid');
    if (await this.proxyAlive(dir)) return;
    await rm(pidFile, { force: true });
    spawnDaemon('ip', ['netns', 'exec', ns, process.execPath, PROXY_JS, '--listen', listen,
      '--socket', this.opts.metadataSocket!, ...whereArgs, '--pid-file', pidFile], join(dir, 'metadata.log'));
    // the proxy writes its pid file once it listens: reconcile returns with metadata served
    for (let i = 0; i < 250 && (await readPid(pidFile)) === undefined; i++) await new Promise((r) => setTimeout(r, 20));
    if ((await readPid(pidFile)) === undefined) throw new Error(`metadata proxy in ${ns} did not start (see ${join(dir, 'metadata.log')})`);
  }

  private async stopDhcpProcesses(ns: string): Promise<void> {
    const dir = join(this.opts.stateDir, ns);
    await stopDnsmasq(dir);
    const pid = await readPid(join(dir, 'metadata.pid'));
    if (pid !== undefined && (await processAlive(pid, dir))) await stopProcess(pid);
    // and anything else still inside (started with another state directory, before a crash)
    for (const p of await namespacePids(ns)) await stopProcess(p);
  }
}
