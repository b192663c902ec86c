// The data plane's generators without touching the host: nftables rules, dnsmasq files, router
// NAT, conntrack clean-up, metadata signing and header hygiene, the noop driver. When root and
// nft are there, the generated rulesets are also checked by nft itself (`nft -c`, nothing applied).

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { run } from '../../common/exec.js';
import { linkLocalOf, mergeCidrs, parseCidr } from './addr.js';
import { dnsmasqConfig } from './dhcp.js';
import type { HostNetworkState, PortSpec, SecurityGroupRuleSpec } from './driver.js';
import { compileFirewall, conntrackCleanup, markBase, protocolNumber, ruleToNft, zoneOf } from './firewall.js';
import { lookupFromState, signInstanceId } from './metadata.js';
import { proxyHeaders } from './metadata-proxy.js';
import { bridgeName, dhcpHostLink, routerIfHostLink } from './names.js';
import { NoopDataplane } from './noop.js';
import { compileRouterNat, floatingIpConntrackCleanup, parseDnat, staleFloatingIps } from './router.js';

const NET = '3f1c0a52-7d1e-4a57-9a55-0c3c2f5e9b10';
const SUB = 'a1d4f6b2-0000-4000-8000-000000000001';

function vm(id: string, ip: string, mac: string, extra: Partial<PortSpec> = {}): PortSpec {
  return { id, network_id: NET, mac_address: mac, fixed_ips: [{ subnet_id: SUB, ip_address: ip }], device_owner: 'compute:nova', device_id: `inst-${id}`, project_id: 'proj', tap_name: `tap${id.slice(0, 11)}`, security_groups: ['sg'], ...extra };
}

function state(rules: SecurityGroupRuleSpec[], ports: PortSpec[]): HostNetworkState {
  return {
    networks: [{ id: NET, network_type: 'vxlan', segmentation_id: 100, mtu: 1450 }],
    subnets: [{ id: SUB, network_id: NET, cidr: '10.0.0.0/24', ip_version: 4, gateway_ip: '10.0.0.1', enable_dhcp: true, dns_nameservers: ['192.0.2.53'], host_routes: [{ destination: '192.168.0.0/16', nexthop: '10.0.0.254' }] }],
    ports, security_groups: [{ id: 'sg', rules }], routers: [],
  };
}

const a = vm('aaaaaaaa-1111', '10.0.0.5', 'fa:16:3e:00:00:05', { allowed_address_pairs: [{ ip_address: '10.0.0.128/25' }, { ip_address: '10.9.9.9', mac_address: 'fa:16:3e:00:00:99' }] });
const b = vm('bbbbbbbb-2222', '10.0.0.6', 'fa:16:3e:00:00:06');
const dhcpPort: PortSpec = { id: 'dddddddd-3333', network_id: NET, mac_address: 'fa:16:3e:00:00:02', fixed_ips: [{ subnet_id: SUB, ip_address: '10.0.0.2' }], device_owner: 'network:dhcp' };

test('security group rules become nft matches (protocols by name and number, ranges, ICMP type/code, v4/v6)', () => {
  const none = (): string | null => null;
  const r = (x: Partial<SecurityGroupRuleSpec>): SecurityGroupRuleSpec => ({ id: 'r', direction: 'ingress', ethertype: 'IPv4', ...x });
  assert.equal(ruleToNft(r({ protocol: 'tcp', port_range_min: 22, port_range_max: 22, remote_ip_prefix: '192.0.2.0/24' }), none),
    'meta nfproto ipv4 ip saddr 192.0.2.0/24 meta l4proto 6 th dport 22 accept');
  assert.equal(ruleToNft(r({ direction: 'egress', protocol: 'udp', port_range_min: 1000, port_range_max: 2000 }), none),
    'meta nfproto ipv4 meta l4proto 17 th dport 1000-2000 accept');
  assert.equal(ruleToNft(r({ protocol: 'icmp', port_range_min: 8, port_range_max: 0 }), none), 'meta nfproto ipv4 meta l4proto 1 icmp type 8 icmp code 0 accept');
  assert.equal(ruleToNft(r({ ethertype: 'IPv6', protocol: 'icmp' }), none), 'meta nfproto ipv6 meta l4proto 58 accept');
  assert.equal(ruleToNft(r({ protocol: '112' }), none), 'meta nfproto ipv4 meta l4proto 112 accept');
  assert.equal(ruleToNft(r({ remote_ip_prefix: '0.0.0.0/0' }), none), 'meta nfproto ipv4 accept');
  assert.equal(ruleToNft(r({ remote_ip_prefix: '2001:db8::/32' }), none), null, 'a v6 prefix in a v4 rule never matches');
  assert.equal(ruleToNft(r({ remote_group_id: 'empty' }), none), null, 'an empty remote group matches nobody');
  assert.equal(protocolNumber(r({ protocol: 'bogus' })), undefined);
});

test('the firewall: anti-spoofing per MAC, remote groups as sets, default drop, zones and marks of our own', () => {
  const fw = compileFirewall(state([
    { id: 'in-icmp', direction: 'ingress', ethertype: 'IPv4', protocol: 'icmp', remote_group_id: 'sg' },
    { id: 'eg-all', direction: 'egress', ethertype: 'IPv4' },
  ], [a, b, dhcpPort]));
  assert.equal(fw.ports, 2);
  const s = fw.script;
  assert.match(s, /^add table bridge monostack\ndelete table bridge monostack\nadd table inet monostack\ndelete table inet monostack\n/);
  // a: its own MAC with its fixed IP and the /25 pair; the pair's own MAC with only that pair's IP
  assert.match(s, /ether saddr fa:16:3e:00:00:05 ip saddr \{ 10\.0\.0\.128\/25, 10\.0\.0\.5 \} return/);
  assert.match(s, /ether saddr fa:16:3e:00:00:99 ip saddr \{ 10\.9\.9\.9 \} return/);
  assert.match(s, new RegExp(`ether saddr fa:16:3e:00:00:05 ip6 saddr \\{ ::, ${linkLocalOf('fa:16:3e:00:00:05')} \\} return`));
  assert.match(s, /ether type ip ip protocol udp udp sport 67 counter drop/);
  // the remote group: members' IPs and pairs, merged (nft refuses overlapping intervals)
  assert.match(s, /elements = \{ 10\.0\.0\.128\/25, 10\.0\.0\.5, 10\.9\.9\.9, 10\.0\.0\.6 \}/);
  assert.match(s, /ip saddr @rg0v4 meta l4proto 1 accept comment "rule in-icmp"/);
  assert.equal(s.match(/counter drop comment "port [^"]+ (ingress|egress)"/g)?.length, 4);
  // every packet on the bridge gets the network's zone, whatever device it came from (ports, the
  // DHCP namespace's veth, a router's or a test host's veth)
  const mark = (d: string): string => s.match(new RegExp(`"${d}" : (0x[0-9a-f]+)`))![1]!;
  assert.ok(mark(dhcpHostLink(NET)), 'the DHCP veth has a mark');
  assert.match(s, new RegExp(`ct zone set iifname map \\{ "${bridgeName(NET)}" : ${zoneOf(NET)} \\}`));
  assert.match(s, new RegExp(`iifname != \\{ "${bridgeName(NET)}" \\} return`));
  assert.equal(Number(mark(a.tap_name!)) >>> 16, markBase('monostack') >>> 16);
  assert.notEqual(markBase('monostack') >>> 16, markBase('monostack_t1') >>> 16);
  // no firewalled port: both tables simply go away
  assert.equal(compileFirewall(state([], [dhcpPort])).script.includes('table inet monostack {'), false);
});

test('conntrack clean-up only for rules that went away, in the port\'s zone and protocol', () => {
  const icmp: SecurityGroupRuleSpec = { id: 'i', direction: 'ingress', ethertype: 'IPv4', protocol: 'icmp' };
  const ssh: SecurityGroupRuleSpec = { id: 's', direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', port_range_min: 22, port_range_max: 22 };
  const before = compileFirewall(state([icmp, ssh], [b])).applied;
  assert.deepEqual(conntrackCleanup(before, compileFirewall(state([icmp, ssh], [b])).applied), []);
  assert.deepEqual(conntrackCleanup(before, compileFirewall(state([ssh], [b])).applied),
    [['-D', '-w', String(zoneOf(NET)), '-f', 'ipv4', '-p', 'icmp', '-d', '10.0.0.6']]);
  assert.deepEqual(conntrackCleanup(before, []), [], 'a port gone from the host needs no clean-up');
});

test('dnsmasq: static leases from the port table, options per subnet, never outside the namespace interface', () => {
  const st = state([], [a, b, dhcpPort]);
  const cfg = dnsmasqConfig(st.networks[0]!, st.subnets, st.ports, dhcpPort, '/run/x');
  assert.ok(cfg.args.includes('--no-resolv') && cfg.args.includes('--bind-interfaces') && cfg.args.includes('--interface=ns-dddddddd-33'));
  assert.ok(cfg.args.includes('--dhcp-range=set:tag0,10.0.0.0,static,255.255.255.0,86400s'));
  assert.match(cfg.hosts, /^fa:16:3e:00:00:05,host-10-0-0-5\.openstacklocal,10\.0\.0\.5$/m);
  assert.match(cfg.opts, /^tag:tag0,option:router,10\.0\.0\.1$/m);
  assert.match(cfg.opts, /^tag:tag0,option:dns-server,192\.0\.2\.53$/m);
  assert.match(cfg.opts, /^tag:tag0,option:classless-static-route,169\.254\.169\.254\/32,10\.0\.0\.2,192\.168\.0\.0\/16,10\.0\.0\.254,0\.0\.0\.0\/0,10\.0\.0\.1$/m);
  assert.match(cfg.opts, /^tag:tag0,option:mtu,1450$/m);
});

test('router NAT: floating IPs DNAT+SNAT, default SNAT only out of the gateway', () => {
  const nat = compileRouterNat({
    id: 'r', interfaces: [{ port_id: 'p-int-000000', network_id: NET, subnet_id: SUB, ip_address: '10.0.0.1', cidr: '10.0.0.0/24', mac_address: 'fa:16:3e:00:00:01' }],
    external_gateway: { port_id: 'p-ext-000000', network_id: 'ext', subnet_id: 'es', ip_address: '203.0.113.10', cidr: '203.0.113.0/24', mac_address: 'fa:16:3e:00:00:0a', gateway_ip: '203.0.113.1', enable_snat: true },
    floating_ips: [{ id: 'f', floating_ip_address: '203.0.113.20', fixed_ip_address: '10.0.0.5' }],
  });
  assert.match(nat, /ip daddr 203\.0\.113\.20 dnat to 10\.0\.0\.5/);
  assert.match(nat, /oifname "qg-p-ext-00000" ip saddr 10\.0\.0\.5 snat to 203\.0\.113\.20\n[^]*oifname "qg-p-ext-00000" ip saddr \{ 10\.0\.0\.0\/24 \} snat to 203\.0\.113\.10/);
  assert.equal(compileRouterNat({ id: 'r', interfaces: [] }), 'add table ip monostack\ndelete table ip monostack\n');
  assert.match(compileRouterNat({ id: 'r', interfaces: [] }, true), /iifname "qr-\*" ip daddr 169\.254\.169\.254 tcp dport 80 redirect to :9697/);
  assert.equal(routerIfHostLink('p-int-000000').length <= 15, true);
});

test('router: a floating IP disassociated or moved loses its conntrack entries', () => {
  const listed = 'table ip monostack {\n\tchain prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n'
    + '\t\tiifname "qr-*" ip daddr 169.254.169.254 tcp dport 80 redirect to :9697\n\t\tip daddr 203.0.113.20 dnat to 10.0.0.5\n'
    + '\t\tip daddr 203.0.113.21 dnat to 10.0.0.6\n\t\tip daddr 203.0.113.22 dnat ip to 10.0.0.7\n\t}\n}\n';
  const before = parseDnat(listed);
  assert.deepEqual([...before], [['203.0.113.20', '10.0.0.5'], ['203.0.113.21', '10.0.0.6'], ['203.0.113.22', '10.0.0.7']]);
  const gw = { port_id: 'g', network_id: 'ext', subnet_id: 'es', ip_address: '203.0.113.10', cidr: '203.0.113.0/24', mac_address: 'fa:16:3e:00:00:0a', gateway_ip: '203.0.113.1', enable_snat: true };
  const r = { id: 'r', interfaces: [], external_gateway: gw, floating_ips: [
    { id: 'a', floating_ip_address: '203.0.113.20', fixed_ip_address: '10.0.0.5' }, // unchanged
    { id: 'b', floating_ip_address: '203.0.113.21', fixed_ip_address: '10.0.0.9' }, // moved
    { id: 'c', floating_ip_address: '203.0.113.23', fixed_ip_address: '10.0.0.8' }, // new
  ] }; // 203.0.113.22: disassociated
  assert.deepEqual(staleFloatingIps(before, r), ['203.0.113.21', '203.0.113.22']);
  assert.deepEqual(staleFloatingIps(before, { ...r, external_gateway: null }), ['203.0.113.20', '203.0.113.21', '203.0.113.22'], 'no gateway: none is translated any more');
  assert.deepEqual(staleFloatingIps(parseDnat(compileRouterNat(r)), r), [], 'the compiled table parses back to the same translations');
  assert.deepEqual(floatingIpConntrackCleanup(['203.0.113.22']), [['-D', '-f', 'ipv4', '-d', '203.0.113.22'], ['-D', '-f', 'ipv4', '-q', '203.0.113.22']]);
});

test('metadata: the signature is neutron-metadata-agent\'s, identity headers from the guest are dropped', () => {
  assert.equal(signInstanceId('secret', 'i-1'), createHmac('sha256', 'secret').update('i-1').digest('hex'));
  const h = proxyHeaders({ 'x-instance-id': 'other', 'x-forwarded-for': '6.6.6.6', 'x-tenant-id': 't', connection: 'close', accept: '*/*' }, '10.0.0.5', NET);
  assert.deepEqual(h, { accept: '*/*', 'x-forwarded-for': '10.0.0.5', 'x-neutron-network-id': NET });
  const lookup = lookupFromState(() => state([], [a, b, dhcpPort]));
  assert.deepEqual(lookup({ network_id: NET }, '10.0.0.6'), { instance_id: 'inst-bbbbbbbb-2222', project_id: 'proj' });
  assert.equal(lookup({ network_id: NET }, '10.0.0.2'), undefined, 'the DHCP port is no instance');
  assert.equal(lookup({ network_id: 'other-net' }, '10.0.0.6'), undefined);
  const withRouter = (): HostNetworkState => ({ ...state([], [a, b]), routers: [{ id: 'r1', interfaces: [{ port_id: 'x', network_id: NET, subnet_id: SUB, ip_address: '10.0.0.1', cidr: '10.0.0.0/24', mac_address: 'fa:16:3e:00:00:01' }] }] });
  assert.deepEqual(lookupFromState(withRouter)({ router_id: 'r1' }, '10.0.0.5'), { instance_id: 'inst-aaaaaaaa-1111', project_id: 'proj' });
  assert.equal(lookupFromState(withRouter)({ router_id: 'r2' }, '10.0.0.5'), undefined);
  assert.deepEqual(proxyHeaders({ 'x-neutron-network-id': 'forged' }, '10.0.0.5', { router_id: 'r1' }), { 'x-forwarded-for': '10.0.0.5', 'x-neutron-router-id': 'r1' });
});

test('address helpers', () => {
  assert.equal(parseCidr('10.1.2.3/8').text, '10.0.0.0/8');
  assert.deepEqual(mergeCidrs(['10.0.0.5', '10.0.0.0/24', '10.0.0.0/24', '2001:db8::1']).map((c) => c.text), ['10.0.0.0/24', '2001:db8::1']);
  assert.equal(linkLocalOf('fa:16:3e:00:00:05'), 'fe80::f816:3eff:fe00:5');
});

test('the noop driver records the desired state and counts from it', async () => {
  const n = new NoopDataplane();
  await n.reconcile(state([], [a, b, dhcpPort]));
  await n.plugPort(b, 'tap-extra');
  assert.deepEqual(n.counts(), { networks: 1, plugged_ports: 3, dhcp_servers: 1, routers: 0, firewalled_ports: 2, metadata_proxies: 0 });
  await n.teardown();
  assert.equal(n.counts().networks, 0);
});

test('nft accepts the generated rulesets (nft -c: checked, not applied)', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('not root: nft -c needs CAP_NET_ADMIN');
  try { await run('nft', ['--version']); } catch { return t.skip('no nft'); }
  const fw = compileFirewall(state([
    { id: '1', direction: 'ingress', ethertype: 'IPv4', protocol: 'icmp', remote_group_id: 'sg' },
    { id: '2', direction: 'ingress', ethertype: 'IPv6', protocol: 'tcp', port_range_min: 80, port_range_max: 443, remote_ip_prefix: '2001:db8::/64' },
    { id: '3', direction: 'egress', ethertype: 'IPv6', protocol: 'ipv6-icmp', port_range_min: 128 },
  ], [a, b, dhcpPort]), 'monostack_check');
  await run('nft', ['-c', '-f', '-'], { input: fw.script });
});
