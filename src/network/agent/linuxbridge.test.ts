// The linuxbridge data plane on real namespaces: two "guests" (test namespaces with a veth on the
// network's bridge) get their addresses from dnsmasq, are filtered by security groups and
// anti-spoofing, reach an "external" test namespace through a router's SNAT and are reachable at
// a floating IP, and read metadata at 169.254.169.254. All traffic stays between our namespaces.
// Root only; skipped with the reason otherwise.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { run } from '../../common/exec.js';
import { type HostNetworkState, type PortSpec, type SecurityGroupRuleSpec } from './driver.js';
import { linkLocalOf } from './addr.js';
import { zoneOf } from './firewall.js';
import { LinuxBridgeDataplane } from './linuxbridge.js';
import { measureRuleChange, PingStream } from './measure.js';
import { lookupFromState, MetadataAgent, signInstanceId } from './metadata.js';
import { bridgeName, dhcpNamespace, vlanName } from './names.js';
import { countResources, type ResourceCounts, type ResourceScope } from './resources.js';
import { findOrphans, removeOrphans } from './orphans.js';

const TEST_PREFIX = 'mst-';
const TABLE = `monostack_t${process.pid}`;

async function skipReason(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'not root';
  for (const [cmd, args] of [['ip', ['netns', 'list']], ['nft', ['list', 'tables']], ['dnsmasq', ['--version']], ['busybox', ['udhcpc', '--help']], ['conntrack', ['--version']]] as const) {
    try { await run(cmd, [...args]); } catch (e) { return `${cmd} unusable: ${(e as Error).message.split('\n')[0]}`; }
  }
  return undefined;
}
const reason = await skipReason();
if (reason) console.log(`# linuxbridge data plane tests skipped: ${reason}`);

const inNs = (ns: string, cmd: string, args: string[], env?: NodeJS.ProcessEnv) => run('ip', ['netns', 'exec', ns, cmd, ...args], env ? { env } : {});
const ping = async (ns: string, dst: string, src?: string): Promise<boolean> => {
  try { await inNs(ns, 'busybox', ['ping', '-c', '1', '-W', '1', ...(src ? ['-I', src] : []), dst]); return true; } catch { return false; }
};
// no reply within 0.5 s (a reply on these veths takes well under a millisecond): keeps the
// expected-blocked checks from costing a second each
const blocked = async (ns: string, dst: string, src?: string): Promise<boolean> => {
  try { await inNs(ns, 'timeout', ['0.5', 'busybox', 'ping', '-c', '1', '-W', '1', ...(src ? ['-I', src] : []), dst]); return false; } catch { return true; }
};

const NET = randomUUID();
const EXT = randomUUID();
const SUB = randomUUID();
const EXTSUB = randomUUID();
const SG = randomUUID();
const RTR = randomUUID();
const INST1 = randomUUID();
const INST2 = randomUUID();
const PROJECT = randomUUID().replace(/-/g, '');
const SECRET = 'metadata-secret';

function port(id: string, network_id: string, mac: string, ip: string, subnet_id: string, extra: Partial<PortSpec> = {}): PortSpec {
  return { id, network_id, mac_address: mac, fixed_ips: [{ subnet_id, ip_address: ip }], project_id: PROJECT, ...extra };
}

const dhcpPort = port(randomUUID(), NET, 'fa:16:3e:00:91:02', '10.91.0.2', SUB, { device_owner: 'network:dhcp' });
const vm1 = port(randomUUID(), NET, 'fa:16:3e:00:91:11', '10.91.0.11', SUB, { device_owner: 'compute:nova', device_id: INST1, tap_name: 'mst-t1', security_groups: [SG] });
const vm2 = port(randomUUID(), NET, 'fa:16:3e:00:91:12', '10.91.0.12', SUB, { device_owner: 'compute:nova', device_id: INST2, tap_name: 'mst-t2', security_groups: [SG] });
const rif = port(randomUUID(), NET, 'fa:16:3e:00:91:01', '10.91.0.1', SUB, { device_owner: 'network:router_interface', device_id: RTR });
const rgw = port(randomUUID(), EXT, 'fa:16:3e:00:fa:0a', '172.31.250.10', EXTSUB, { device_owner: 'network:router_gateway', device_id: RTR });

const egressAll: SecurityGroupRuleSpec[] = [
  { id: randomUUID(), direction: 'egress', ethertype: 'IPv4' }, { id: randomUUID(), direction: 'egress', ethertype: 'IPv6' },
];
const icmpFromGroup: SecurityGroupRuleSpec = { id: randomUUID(), direction: 'ingress', ethertype: 'IPv4', protocol: 'icmp', remote_group_id: SG };
const icmpFromAnywhere: SecurityGroupRuleSpec = { id: randomUUID(), direction: 'ingress', ethertype: 'IPv4', protocol: 'icmp', remote_ip_prefix: '0.0.0.0/0' };

function makeState(rules: SecurityGroupRuleSpec[], opts: { fip?: boolean; vm2Ip?: string; noEgress?: boolean; routes?: { destination: string; nexthop: string }[] } = {}): HostNetworkState {
  const v2 = opts.vm2Ip ? { ...vm2, fixed_ips: [{ subnet_id: SUB, ip_address: opts.vm2Ip }] } : vm2;
  return {
    networks: [{ id: NET, network_type: 'local', mtu: 1450 }, { id: EXT, network_type: 'flat', physical_network: 'public', mtu: 1500 }],
    subnets: [
      { id: SUB, network_id: NET, cidr: '10.91.0.0/24', ip_version: 4, gateway_ip: '10.91.0.1', enable_dhcp: true, dns_nameservers: ['10.91.0.2'] },
      { id: EXTSUB, network_id: EXT, cidr: '172.31.250.0/24', ip_version: 4, gateway_ip: '172.31.250.1', enable_dhcp: false },
    ],
    ports: [dhcpPort, vm1, v2, rif, rgw],
    security_groups: [{ id: SG, rules: [...(opts.noEgress ? [] : egressAll), ...rules] }],
    routers: [{
      id: RTR,
      interfaces: [{ port_id: rif.id, network_id: NET, subnet_id: SUB, ip_address: '10.91.0.1', cidr: '10.91.0.0/24', mac_address: rif.mac_address }],
      external_gateway: { port_id: rgw.id, network_id: EXT, subnet_id: EXTSUB, ip_address: '172.31.250.10', cidr: '172.31.250.0/24', mac_address: rgw.mac_address, gateway_ip: '172.31.250.1', enable_snat: true },
      routes: opts.routes ?? [],
      floating_ips: opts.fip ? [{ id: randomUUID(), floating_ip_address: '172.31.250.20', fixed_ip_address: '10.91.0.11', port_id: vm1.id }] : [],
    }],
  };
}

// busybox udhcpc hands the lease to a script; this one applies it and writes it down
const UDHCPC_SCRIPT = `#!/bin/sh
[ "$1" = bound ] || [ "$1" = renew ] || exit 0
ip addr flush dev "$interface" scope global
ip addr add "$ip/$mask" dev "$interface"
[ -n "$mtu" ] && ip link set dev "$interface" mtu "$mtu"
if [ -n "$staticroutes" ]; then
  set -- $staticroutes
  while [ $# -ge 2 ]; do ip route replace "$1" via "$2" dev "$interface"; shift 2; done
fi
echo "ip=$ip mask=$mask router=$router mtu=$mtu dns=$dns hostname=$hostname staticroutes=$staticroutes" > "$LEASE_OUT"
`;

let tmp = '';
let baseline: ResourceCounts;
let baselineOurs: ResourceCounts;
// this test's objects only: a cloud may be running its own agent on the same host
const scope = (withTestObjects: boolean): ResourceScope => ({
  prefixes: withTestObjects ? [TEST_PREFIX] : [], ids: [NET, EXT, RTR, dhcpPort.id, vm1.id, vm2.id, rif.id, rgw.id], stateDir: tmp, tables: [TABLE],
});
let dp: LinuxBridgeDataplane;
let agent: MetadataAgent;
let current: HostNetworkState;
let novaSeen: IncomingHttpHeaders[] = [];
let nova: ReturnType<typeof createServer>;

async function addGuest(ns: string, hostEnd: string, mac: string): Promise<void> {
  await run('ip', ['netns', 'add', ns]);
  await run('ip', ['link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
  await run('ip', ['-n', ns, 'link', 'set', 'eth0', 'address', mac, 'up']);
  await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
}

async function dhcp(ns: string): Promise<string> {
  const out = join(tmp, `${ns}.lease`);
  await inNs(ns, 'busybox', ['udhcpc', '-i', 'eth0', '-n', '-q', '-f', '-t', '4', '-T', '1', '-O', 'staticroutes', '-O', 'mtu', '-s', join(tmp, 'udhcpc.sh')],
    { ...process.env, LEASE_OUT: out });
  return readFile(out, 'utf8');
}

before(async () => {
  if (reason) return;
  tmp = await mkdtemp('/tmp/mst-dataplane-');
  baseline = await countResources(scope(true));
  baselineOurs = await countResources(scope(false));
  await writeFile(join(tmp, 'udhcpc.sh'), UDHCPC_SCRIPT);
  await chmod(join(tmp, 'udhcpc.sh'), 0o755);
  // the compute metadata API stand-in: answers with the identity headers it was sent
  nova = createServer((req, res) => {
    novaSeen.push(req.headers);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ uuid: req.headers['x-instance-id'], path: req.url }));
  });
  await new Promise<void>((r) => nova.listen(0, '127.0.0.1', () => r()));
  const novaPort = (nova.address() as { port: number }).port;
  current = makeState([]);
  agent = new MetadataAgent({ socketPath: join(tmp, 'metadata.sock'), novaMetadataUrl: `http://127.0.0.1:${novaPort}`, sharedSecret: SECRET, lookup: lookupFromState(() => current) });
  await agent.start();
  dp = new LinuxBridgeDataplane({ stateDir: join(tmp, 'state'), metadataSocket: agent.socketPath, table: TABLE });
  await addGuest('mst-g1', 'mst-t1', vm1.mac_address);
  await addGuest('mst-ext', 'mst-te', 'fa:16:3e:00:fa:01');
  await run('ip', ['-n', 'mst-ext', 'addr', 'add', '172.31.250.1/24', 'dev', 'eth0']);
});

after(async () => {
  if (reason) return;
  await dp?.teardown();
  await agent?.stop();
  await new Promise<void>((r) => (nova ? nova.close(() => r()) : r()));
  for (const ns of ['mst-g1', 'mst-g2', 'mst-g3', 'mst-ext']) await run('ip', ['netns', 'delete', ns]).catch(() => undefined);
  await rm(tmp, { recursive: true, force: true });
  // veths die with their namespace, asynchronously
  for (let i = 0; i < 50 && (await countResources(scope(true))).links !== baseline.links; i++) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(await countResources(scope(true)), baseline, 'nothing of ours left on the host');
});

test('linuxbridge data plane on real namespaces', { skip: reason }, async (t) => {
  await t.test('reconcile builds bridges, DHCP, metadata proxy, router; a late tap is plugged by plugPort', async () => {
    await dp.reconcile(current);
    assert.deepEqual(dp.counts(), { networks: 2, plugged_ports: 1, dhcp_servers: 1, routers: 1, firewalled_ports: 2, metadata_proxies: 2 });
    await addGuest('mst-g2', 'mst-t2', vm2.mac_address);
    await dp.plugPort(vm2, 'mst-t2');
    await dp.plugPort({ id: 'ext-host', network_id: EXT, mac_address: 'fa:16:3e:00:fa:01', fixed_ips: [] }, 'mst-te');
    const r = await countResources(scope(true));
    assert.equal(r.dnsmasq - baseline.dnsmasq, 1);
    assert.equal(r.metadata_proxies - baseline.metadata_proxies, 2, 'the DHCP namespace\'s and the router\'s');
    assert.equal(r.nft_tables - baseline.nft_tables, 2);
  });

  await t.test('guests get their fixed address, MTU and routes from dnsmasq', async () => {
    const l1 = await dhcp('mst-g1');
    assert.match(l1, /ip=10\.91\.0\.11 mask=24 router=10\.91\.0\.1 mtu=1450 dns=10\.91\.0\.2/);
    assert.match(l1, /staticroutes=169\.254\.169\.254\/32 10\.91\.0\.2 0\.0\.0\.0\/0 10\.91\.0\.1/);
    assert.match(l1, new RegExp(`hostname=host-10-91-0-11`));
    assert.match(await dhcp('mst-g2'), /ip=10\.91\.0\.12 /);
    // a MAC that is in no port (a device on the bridge without a port: not filtered) gets nothing
    await addGuest('mst-g3', 'mst-t3', 'fa:16:3e:00:91:33');
    await dp.plugPort({ id: 'no-port', network_id: NET, mac_address: 'fa:16:3e:00:91:33', fixed_ips: [] }, 'mst-t3');
    await assert.rejects(inNs('mst-g3', 'busybox', ['udhcpc', '-i', 'eth0', '-n', '-q', '-f', '-t', '1', '-T', '1', '-s', '/bin/true']), 'no lease outside the hosts file');
    await run('ip', ['netns', 'delete', 'mst-g3']);
  });

  await t.test('ICMP between guests only while a rule allows it', async (tt) => {
    assert.equal(await blocked('mst-g1', '10.91.0.12'), true, 'no ingress rule: blocked');
    const stream = new PingStream('mst-g1', '10.91.0.12');
    try {
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(stream.replies.length, 0);
      current = makeState([icmpFromGroup]);
      const on = await measureRuleChange(dp, current, stream, true);
      await new Promise((r) => setTimeout(r, 100));
      current = makeState([]);
      const off = await measureRuleChange(dp, current, stream, false);
      const msg = `rule add in force after ${on.inForceMs.toFixed(1)} ms, delete after ${off.inForceMs.toFixed(1)} ms (ping every 10 ms; reconcile ${on.reconcileMs.toFixed(1)} ms, nft transaction ${dp.lastFirewallApplyMs.toFixed(1)} ms)`;
      tt.diagnostic(msg);
      assert.ok(on.inForceMs < 1000 && off.inForceMs < 1000);
    } finally { await stream.stop(); }
    assert.equal(await blocked('mst-g2', '10.91.0.11'), true);
    // egress is filtered too: without an egress rule, not even the allowed ICMP leaves the guest
    current = makeState([icmpFromGroup], { noEgress: true });
    await dp.reconcile(current);
    assert.equal(await blocked('mst-g1', '10.91.0.12'), true, 'no egress rule: blocked at the source');
  });

  await t.test('spoofed source IP or MAC from a guest is dropped', async () => {
    current = makeState([icmpFromGroup]);
    await dp.reconcile(current);
    assert.equal(await ping('mst-g1', '10.91.0.12'), true);
    await run('ip', ['-n', 'mst-g1', 'addr', 'add', '10.91.0.99/24', 'dev', 'eth0']);
    assert.equal(await blocked('mst-g1', '10.91.0.12', '10.91.0.99'), true, 'spoofed IP');
    await run('ip', ['-n', 'mst-g1', 'addr', 'del', '10.91.0.99/24', 'dev', 'eth0']);
    await run('ip', ['-n', 'mst-g1', 'link', 'set', 'eth0', 'address', 'fa:16:3e:00:91:99']);
    await run('ip', ['-n', 'mst-g2', 'neigh', 'flush', 'dev', 'eth0']);
    assert.equal(await blocked('mst-g1', '10.91.0.12'), true, 'spoofed MAC');
    await run('ip', ['-n', 'mst-g1', 'link', 'set', 'eth0', 'address', vm1.mac_address]);
    const j = JSON.parse((await run('nft', ['-j', 'list', 'table', 'bridge', TABLE])).stdout) as { nftables: { rule?: { comment?: string; expr: { counter?: { packets: number } }[] } }[] };
    const dropped = j.nftables.find((x) => x.rule?.comment === `port ${vm1.id}: spoofed or not IP/ARP`)?.rule?.expr.find((e) => e.counter)?.counter?.packets ?? 0;
    assert.ok(dropped > 0, 'the anti-spoofing counter saw the frames');
    assert.equal(await ping('mst-g1', '10.91.0.12'), true, 'own MAC and IP again: allowed');
    // IPv6 link-local between the guests: filtered like IPv4, and neighbour discovery passes the
    // advertisement checks
    assert.equal(await blocked('mst-g1', `${linkLocalOf(vm2.mac_address)}%eth0`), true, 'no IPv6 ingress rule: blocked');
    current = makeState([icmpFromGroup, { id: randomUUID(), direction: 'ingress', ethertype: 'IPv6', protocol: 'icmp' }]);
    await dp.reconcile(current);
    assert.equal(await ping('mst-g1', `${linkLocalOf(vm2.mac_address)}%eth0`), true, 'ICMPv6 to the neighbour\'s link-local address');
    current = makeState([icmpFromGroup]);
    await dp.reconcile(current);
  });

  await t.test('router: SNAT to the external network, floating IP reachable from outside, a running flow ends with its association', async (tt) => {
    // mst-ext has no route back to 10.91.0.0/24: a reply only arrives if the router SNATs
    assert.equal(await ping('mst-g2', '172.31.250.1'), true, 'SNAT via the gateway IP');
    assert.equal(await blocked('mst-ext', '172.31.250.20'), true, 'no floating IP yet');
    current = makeState([icmpFromGroup, icmpFromAnywhere], { fip: true });
    await dp.reconcile(current);
    assert.equal(await ping('mst-ext', '172.31.250.20'), true, 'DNAT to the fixed IP');
    assert.equal(await ping('mst-g1', '172.31.250.1'), true, 'the floating IP SNATs its own traffic');
    assert.equal(await ping('mst-g2', '172.31.250.20'), true, 'hairpin: a guest reaches its neighbour\'s floating IP');
    // ... through the router both ways: vm1 saw the router's address, not vm2's (ping alone would
    // accept vm1's direct reply; a TCP client would not)
    const seen = (await run('conntrack', ['-L', '-w', String(zoneOf(NET)), '-p', 'icmp', '-d', '10.91.0.11'])).stdout;
    assert.match(seen, /src=10\.91\.0\.1 dst=10\.91\.0\.11 /);
    assert.doesNotMatch(seen, /src=10\.91\.0\.12 dst=10\.91\.0\.11 /);
    // static routes come and go (tagged proto static; the kernel's own routes stay)
    const routes = async (): Promise<string> => (await run('ip', ['-n', `msrtr-${RTR}`, 'route', 'show', 'proto', 'static'])).stdout;
    await dp.reconcile(makeState([icmpFromGroup, icmpFromAnywhere], { fip: true, routes: [{ destination: '192.0.2.0/24', nexthop: '172.31.250.1' }] }));
    assert.match(await routes(), /^192\.0\.2\.0\/24 via 172\.31\.250\.1 /m);
    await dp.reconcile(current);
    assert.equal((await routes()).trim(), '');
    assert.match((await run('ip', ['-n', `msrtr-${RTR}`, 'route'])).stdout, /^default via 172\.31\.250\.1 /m);
    // disassociation also ends a flow that was running through the floating IP (the router's
    // conntrack entry would otherwise keep translating it), and association starts it again
    const stream = new PingStream('mst-ext', '172.31.250.20', 0.05);
    try {
      for (let i = 0; i < 100 && stream.replies.length < 3; i++) await new Promise((r) => setTimeout(r, 20));
      assert.ok(stream.replies.length >= 3, 'a ping stream through the floating IP');
      const off = await measureRuleChange(dp, makeState([icmpFromGroup, icmpFromAnywhere]), stream, false, { quietMs: 500 });
      const msg = `the stream's last reply ${off.inForceMs.toFixed(0)} ms after reconcile() was called (it took ${off.reconcileMs.toFixed(0)} ms)`;
      tt.diagnostic(msg);
      assert.ok(off.inForceMs <= off.reconcileMs + 100, msg);
      await measureRuleChange(dp, current, stream, true);
    } finally { await stream.stop(); }
  });

  await t.test('metadata at 169.254.169.254 with the identity of the guest\'s port only', async () => {
    novaSeen = [];
    const body = (await inNs('mst-g1', 'busybox', ['wget', '-q', '-O', '-', '--header', `X-Instance-ID: ${INST2}`, 'http://169.254.169.254/openstack/latest/meta_data.json'])).stdout;
    assert.deepEqual(JSON.parse(body), { uuid: INST1, path: '/openstack/latest/meta_data.json' });
    const h = novaSeen[0]!;
    assert.equal(h['x-instance-id'], INST1);
    assert.equal(h['x-tenant-id'], PROJECT);
    assert.equal(h['x-forwarded-for'], '10.91.0.11');
    assert.equal(h['x-instance-id-signature'], signInstanceId(SECRET, INST1));
    const body2 = (await inNs('mst-g2', 'busybox', ['wget', '-q', '-O', '-', 'http://169.254.169.254/latest/meta-data/instance-id'])).stdout;
    assert.equal(JSON.parse(body2).uuid, INST2);
    // through the router instead (a guest whose route to 169.254.169.254 is its default gateway)
    await run('ip', ['-n', 'mst-g2', 'route', 'replace', '169.254.169.254/32', 'via', '10.91.0.1']);
    novaSeen = [];
    const body3 = (await inNs('mst-g2', 'busybox', ['wget', '-q', '-O', '-', '--header', 'X-Neutron-Network-ID: forged', 'http://169.254.169.254/latest/meta-data/instance-id'])).stdout;
    assert.equal(JSON.parse(body3).uuid, INST2);
    assert.equal(novaSeen[0]!['x-forwarded-for'], '10.91.0.12');
    await run('ip', ['-n', 'mst-g2', 'route', 'replace', '169.254.169.254/32', 'via', '10.91.0.2']);
    // the router's proxy port is not reachable from the external network
    // (no HTTP answer at all, not even the agent's 404)
    await assert.rejects(inNs('mst-ext', 'timeout', ['1', 'busybox', 'wget', '-q', '-O', '-', 'http://172.31.250.10:9697/latest/meta-data/instance-id']),
      (e: Error) => !/HTTP\//.test(e.message));
  });

  await t.test('a port change reloads dnsmasq (SIGHUP, same process); a restarted agent adopts it', async () => {
    const pidFile = join(tmp, 'state', dhcpNamespace(NET), 'pid');
    const pid = (await readFile(pidFile, 'utf8')).trim();
    current = makeState([icmpFromGroup, icmpFromAnywhere], { fip: true, vm2Ip: '10.91.0.13' });
    await dp.reconcile(current);
    assert.match(await dhcp('mst-g2'), /ip=10\.91\.0\.13 /);
    assert.equal((await readFile(pidFile, 'utf8')).trim(), pid, 'dnsmasq was not restarted');
    const again = new LinuxBridgeDataplane({ stateDir: join(tmp, 'state'), metadataSocket: agent.socketPath, table: TABLE });
    await again.reconcile(current);
    await again.reconcile(current);
    assert.equal((await readFile(pidFile, 'utf8')).trim(), pid, 'the new agent adopted the running dnsmasq');
    assert.equal(await ping('mst-g1', '10.91.0.13'), true);
    const r = await countResources(scope(true));
    assert.equal(r.dnsmasq - baseline.dnsmasq, 1);
    assert.equal(r.metadata_proxies - baseline.metadata_proxies, 2);
  });

  await t.test('an empty desired state removes every namespace, bridge, process and table', async () => {
    await dp.reconcile({ networks: [], subnets: [], ports: [], security_groups: [], routers: [] });
    // veth host ends go with their namespaces, asynchronously
    for (let i = 0; i < 50 && (await countResources(scope(false))).links !== baselineOurs.links; i++) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(await countResources(scope(false)), baselineOurs);
  });
});

test('uplinks: a mapped physnet\'s interface joins its bridge; a failing VLAN uplink leaves the other networks working', { skip: reason }, async () => {
  // a veth of the test's own stands in for a host interface: no real host interface is touched
  const FLAT = randomUUID();
  const VL = randomUUID();
  const LOC = randomUUID();
  const dir = await mkdtemp('/tmp/mst-dataplane-uplink-');
  const table = `${TABLE}u`;
  const sc: ResourceScope = { prefixes: ['mst-p'], ids: [FLAT, VL, LOC], stateDir: dir, tables: [table] };
  const base = await countResources(sc);
  await run('ip', ['link', 'add', 'mst-p0', 'type', 'veth', 'peer', 'name', 'mst-p1']);
  const dp2 = new LinuxBridgeDataplane({ stateDir: dir, table, physicalInterfaceMappings: { phys: 'mst-p0', vlans: 'mst-p1' } });
  try {
    const st: HostNetworkState = {
      networks: [{ id: FLAT, network_type: 'flat', physical_network: 'phys' }, { id: VL, network_type: 'vlan', physical_network: 'vlans', segmentation_id: 42 },
        { id: LOC, network_type: 'local' }],
      subnets: [], ports: [], security_groups: [], routers: [],
    };
    let err: Error | undefined;
    await dp2.reconcile(st).catch((e: Error) => { err = e; });
    const links = JSON.parse((await run('ip', ['-json', '-details', 'link', 'show'])).stdout) as { ifname: string; master?: string }[];
    assert.equal(links.find((l) => l.ifname === 'mst-p0')?.master, bridgeName(FLAT));
    assert.ok(links.some((l) => l.ifname === bridgeName(LOC)) && links.some((l) => l.ifname === bridgeName(VL)));
    // this kernel may lack 8021q: then only the VLAN uplink fails, and says so
    if (!links.some((l) => l.ifname === vlanName(VL))) assert.match(String(err?.message), new RegExp(`uplink of network ${VL}`));
    else assert.equal(err, undefined);
    assert.equal(dp2.counts().networks, 3);
    await dp2.teardown();
  } finally {
    await run('ip', ['link', 'del', 'mst-p0']).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
  assert.deepEqual(await countResources(sc), base);
});

test('VXLAN between two "hosts" (test namespaces, each running the driver inside): guests on the same VNI reach each other', { skip: reason }, async () => {
  const NETV = randomUUID();
  const dir = await mkdtemp('/tmp/mst-dataplane-vxlan-');
  const cli = new URL('./reconcile-once.js', import.meta.url).pathname;
  const hosts = [{ ns: 'mst-hA', under: '192.168.250.1', guest: 'mst-gA', ip: '10.92.0.11', mac: 'fa:16:3e:00:92:11' },
    { ns: 'mst-hB', under: '192.168.250.2', guest: 'mst-gB', ip: '10.92.0.12', mac: 'fa:16:3e:00:92:12' }];
  const stateFor = (h: typeof hosts[number]): HostNetworkState => ({
    networks: [{ id: NETV, network_type: 'vxlan', segmentation_id: 4242, mtu: 1450 }],
    subnets: [{ id: 'sv', network_id: NETV, cidr: '10.92.0.0/24', ip_version: 4, gateway_ip: null, enable_dhcp: false }],
    ports: hosts.map((x) => ({ id: `port-${x.guest}`, network_id: NETV, mac_address: x.mac, fixed_ips: [{ subnet_id: 'sv', ip_address: x.ip }],
      device_owner: 'compute:nova', security_groups: ['sgv'], ...(x === h ? { tap_name: 'mst-tap' } : {}) })),
    security_groups: [{ id: 'sgv', rules: [{ id: 'e', direction: 'egress', ethertype: 'IPv4' }, { id: 'i', direction: 'ingress', ethertype: 'IPv4', protocol: 'icmp', remote_group_id: 'sgv' }] }],
    routers: [],
  });
  const agent = (h: typeof hosts[number], extra: string[], input?: string) => run('ip', ['netns', 'exec', h.ns, process.execPath, cli,
    '--state-dir', join(dir, h.ns), '--vxlan-local', h.under, '--vxlan-remote', hosts.find((x) => x !== h)!.under, ...extra], input === undefined ? {} : { input });
  try {
    for (const h of hosts) { await run('ip', ['netns', 'add', h.ns]); await run('ip', ['netns', 'add', h.guest]); }
    // the underlay: one veth between the two host namespaces
    await run('ip', ['link', 'add', 'u0', 'netns', 'mst-hA', 'type', 'veth', 'peer', 'name', 'u0', 'netns', 'mst-hB']);
    for (const h of hosts) {
      await run('ip', ['-n', h.ns, 'addr', 'add', `${h.under}/24`, 'dev', 'u0']);
      await run('ip', ['-n', h.ns, 'link', 'set', 'u0', 'up']);
      await run('ip', ['-n', h.ns, 'link', 'set', 'lo', 'up']);
      await run('ip', ['link', 'add', 'mst-tap', 'netns', h.ns, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h.guest]);
      await run('ip', ['-n', h.guest, 'link', 'set', 'eth0', 'address', h.mac, 'mtu', '1450', 'up']);
      await run('ip', ['-n', h.guest, 'addr', 'add', `${h.ip}/24`, 'dev', 'eth0']);
      const out = await agent(h, [], JSON.stringify(stateFor(h)));
      assert.equal(JSON.parse(out.stdout).plugged_ports, 1);
    }
    assert.equal(await ping('mst-gA', '10.92.0.12'), true, 'across the tunnel');
    assert.equal(await ping('mst-gB', '10.92.0.11'), true);
    for (const h of hosts) assert.equal(JSON.parse((await agent(h, ['--teardown'])).stdout).networks, 0);
    const left = (await run('ip', ['-n', 'mst-hA', '-json', 'link'])).stdout;
    assert.ok(!left.includes('msb-') && !left.includes('msx-'), 'teardown removed bridge and VXLAN device');
  } finally {
    for (const h of hosts) { await run('ip', ['netns', 'delete', h.guest]).catch(() => undefined); await run('ip', ['netns', 'delete', h.ns]).catch(() => undefined); }
    await rm(dir, { recursive: true, force: true });
  }
});

test('orphans: a DHCP namespace whose state directory was deleted without teardown is found and removed', { skip: reason }, async () => {
  const NETO = randomUUID();
  const dir = await mkdtemp('/tmp/mst-dataplane-orphan-');
  const sc: ResourceScope = { ids: [NETO], stateDir: dir, tables: [`${TABLE}o`] };
  const base = await countResources(sc);
  const dpo = new LinuxBridgeDataplane({ stateDir: join(dir, 'state'), table: `${TABLE}o` });
  await dpo.reconcile({
    networks: [{ id: NETO, network_type: 'local' }],
    subnets: [{ id: 'so', network_id: NETO, cidr: '10.93.0.0/24', ip_version: 4, gateway_ip: '10.93.0.1', enable_dhcp: true }],
    ports: [{ id: randomUUID(), network_id: NETO, mac_address: 'fa:16:3e:00:93:02', device_owner: 'network:dhcp', fixed_ips: [{ subnet_id: 'so', ip_address: '10.93.0.2' }] }],
    security_groups: [], routers: [],
  });
  assert.deepEqual(await findOrphans([NETO]), [], 'its state directory exists: not an orphan');
  await rm(dir, { recursive: true, force: true });
  const orphans = await findOrphans([NETO]);
  assert.deepEqual(orphans.map((o) => o.namespace), [dhcpNamespace(NETO)]);
  await removeOrphans(orphans);
  for (let i = 0; i < 50 && (await countResources(sc)).links !== base.links; i++) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(await countResources(sc), base);
});

test('hostCheckIntervalMs: a pass that only changes security groups applies the firewall without checking the host; any other change checks it', { skip: reason }, async () => {
  const LOC = randomUUID();
  const PORT = randomUUID();
  const GROUP = randomUUID();
  const dir = await mkdtemp('/tmp/mst-dataplane-fast-');
  const table = `${TABLE}f`;
  const sc: ResourceScope = { prefixes: [], ids: [LOC], stateDir: dir, tables: [table] };
  const base = await countResources(sc);
  const dp3 = new LinuxBridgeDataplane({ stateDir: dir, table, hostCheckIntervalMs: 60_000 });
  const port: PortSpec = { id: PORT, network_id: LOC, mac_address: 'fa:16:3e:00:fb:01', fixed_ips: [], device_owner: 'compute:nova', device_id: 'vm', port_security_enabled: true, security_groups: [GROUP], tap_name: 'mst-fast0' };
  const state = (rules: SecurityGroupRuleSpec[], mtu = 1450): HostNetworkState => ({
    networks: [{ id: LOC, network_type: 'local', mtu }], subnets: [], ports: [port], security_groups: [{ id: GROUP, rules }], routers: [],
  });
  const ruleset = async () => (await run('nft', ['list', 'table', 'inet', table])).stdout;
  try {
    await dp3.reconcile(state([]));
    assert.ok(existsSync(`/sys/class/net/${bridgeName(LOC)}`));
    const before = await ruleset();
    // The bridge disappears behind the agent's back; a rule-only change is still in force at once…
    await run('ip', ['link', 'del', bridgeName(LOC)]);
    await dp3.reconcile(state([{ direction: 'ingress', ethertype: 'IPv4', protocol: 'icmp' } as SecurityGroupRuleSpec]));
    const withRule = await ruleset();
    assert.notEqual(withRule, before, 'the new rule is applied');
    assert.ok(withRule.split('\n').some((l) => /icmp/.test(l) && !before.includes(l)), `an ICMP rule is new in:\n${withRule}`);
    assert.equal(existsSync(`/sys/class/net/${bridgeName(LOC)}`), false, 'the host was not checked on a rule-only pass');
    // …and the next change of anything else (here the MTU) checks the host and repairs it.
    await dp3.reconcile(state([{ direction: 'ingress', ethertype: 'IPv4', protocol: 'icmp' } as SecurityGroupRuleSpec], 1400));
    assert.ok(existsSync(`/sys/class/net/${bridgeName(LOC)}`), 'the bridge is back');
    await dp3.teardown();
  } finally {
    await run('ip', ['link', 'del', bridgeName(LOC)]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
  assert.deepEqual(await countResources(sc), base);
});
