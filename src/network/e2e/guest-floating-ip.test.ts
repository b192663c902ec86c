// End to end on a real QEMU guest and real namespaces, issue 6's "a guest on a tenant network behind
// a router is reachable through its floating IP", with Debian's `openstack` client against
// `monostack up` (linuxbridge data plane). An external flat network (203.0.113.0/24, TEST-NET-3, no
// DHCP) whose bridge is isolated — its only other member is a test namespace standing for the
// outside world (the external subnet's gateway, 203.0.113.1); a project network 10.0.0.0/24 behind a
// router with its gateway on the external network; a guest booted on the project network gets its
// address by DHCP. Its floating IP answers ping from the external namespace only while associated,
// and the replies come from the guest through the router (TTL one less than the guest's; none once
// the guest's security group stops allowing ICMP — the router itself would still answer for an
// address it holds). All traffic stays between the guest, the router and the test's own namespace.
// Afterwards no namespace, bridge, veth, tap or dnsmasq of the test is left.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { startUp } from '../../cli/up-process.js';
import { testImagesDir, until } from '../../common/testing/process.js';
import { countResources } from '../agent/resources.js';
import { bridgeName, routerNamespace } from '../agent/names.js';
import { PingStream } from '../agent/measure.js';
import {
  attachTestHost, closeGuestCloud, detachTestHost, guestCloud, guestLease, guestSkipReason, guestUpOptions, pingTtl, pings, type GuestCloud,
} from './guest-helpers.js';

test('a guest on a project network behind a router answers on its floating IP from the external network, only while associated', { timeout: 600_000 }, async (t) => {
  const skip = guestSkipReason();
  if (skip) return t.skip(skip);
  const images = testImagesDir();
  const tag = randomBytes(3).toString('hex');
  const extNs = `mstf-${tag}`;
  const extEnd = `mstfv${tag}`;
  let c: GuestCloud | undefined;
  const ids: string[] = []; // networks, router, ports: what the leak check and the clean-up look for
  try {
    c = await guestCloud(await startUp(guestUpOptions(tag)), images);
    const { cli, json } = c;

    // The external network: flat on its own physnet (an isolated bridge), no DHCP; the project
    // network; the ICMP rule of the project's default group (independent: created side by side).
    const [ext, priv, icmp] = await Promise.all([
      (async () => {
        const n = await json('network', 'create', '--external', '--provider-network-type', 'flat', '--provider-physical-network', 'physext', 'public');
        await cli('openstack', 'subnet', 'create', '--network', 'public', '--subnet-range', '203.0.113.0/24', '--no-dhcp', '--gateway', '203.0.113.1',
          '--allocation-pool', 'start=203.0.113.100,end=203.0.113.199', 'public-subnet');
        return n;
      })(),
      (async () => {
        const n = await json('network', 'create', 'private');
        await cli('openstack', 'subnet', 'create', '--network', 'private', '--subnet-range', '10.0.0.0/24', 'private-subnet');
        return n;
      })(),
      json('security', 'group', 'rule', 'create', '--proto', 'icmp', 'default').then((r) => r.id as string),
    ]);
    ids.push(ext.id, priv.id);
    // A router between the two: gateway on the external network, an interface on the project subnet.
    const router = await json('router', 'create', 'r1');
    ids.push(router.id);
    await cli('openstack', 'router', 'set', '--external-gateway', 'public', 'r1');
    await cli('openstack', 'router', 'add', 'subnet', 'r1', 'private-subnet');
    const routerPorts = await json('port', 'list', '--router', 'r1');
    for (const p of routerPorts) ids.push(p.ID);
    const gwIp: string = routerPorts.flatMap((p: any) => p['Fixed IP Addresses']).map((a: any) => a.ip_address).find((a: string) => a.startsWith('203.0.113.')); // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.ok(gwIp, `the router's gateway port has an external address: ${JSON.stringify(routerPorts)}`);

    const server = await json('server', 'create', '--flavor', 'm1.tiny', '--image', 'cirros', '--nic', `net-id=${priv.id}`, '--wait', 'fip-vm');
    assert.equal(server.status, 'ACTIVE');
    const port = (await json('port', 'list', '--server', server.id))[0];
    ids.push(port.ID);
    const fixed: string = port['Fixed IP Addresses'][0].ip_address;
    assert.match(fixed, /^10\.0\.0\.\d+$/);
    assert.equal(await guestLease(c, 'fip-vm'), `${fixed}/24`, 'the guest configured the address its port holds');

    // The outside world: a namespace on the external network's bridge, holding its gateway address.
    const bridge = bridgeName(ext.id);
    await until(`the router namespace and the external bridge ${bridge}`, async () =>
      existsSync(`/sys/class/net/${bridge}`) && existsSync(`/run/netns/${routerNamespace(router.id)}`), 30_000);
    await attachTestHost(extNs, extEnd, bridge, '203.0.113.1/24');
    const routerTtl = await until(`ping of the router's gateway address ${gwIp}`, () => pingTtl(extNs, gwIp), 30_000);

    // A floating IP, not yet associated: nobody answers on it.
    const fip = await json('floating', 'ip', 'create', 'public');
    const fipIp: string = fip.floating_ip_address;
    assert.match(fipIp, /^203\.0\.113\.1\d\d$/);
    assert.equal(await pings(extNs, fipIp), false, 'an unassociated floating IP does not answer');

    // Associated: the guest answers on it, one hop behind the router.
    await cli('openstack', 'server', 'add', 'floating', 'ip', 'fip-vm', fipIp);
    const shown = await json('floating', 'ip', 'show', fipIp);
    assert.deepEqual([shown.port_id, shown.fixed_ip_address, shown.status], [port.ID, fixed, 'ACTIVE']);
    const ttl = await until(`ping of the floating IP ${fipIp}`, () => pingTtl(extNs, fipIp), 30_000);
    assert.equal(ttl, routerTtl - 1, `the reply crossed the router (ttl ${ttl}, the router's own replies ${routerTtl})`);

    // The guest's security group still decides: without the ICMP rule, no replies on the floating IP.
    await cli('openstack', 'security', 'group', 'rule', 'delete', icmp);
    await until('ping of the floating IP refused without the ICMP rule', async () => !(await pings(extNs, fipIp)), 15_000);
    await cli('openstack', 'security', 'group', 'rule', 'create', '--proto', 'icmp', 'default');
    await until('ping of the floating IP with the rule back', () => pings(extNs, fipIp), 15_000);

    // Disassociated: no more replies — to new pings, and to a ping stream that was already flowing
    // (its conntrack entry in the router must not keep the old translation alive) — while the
    // router's gateway still answers.
    const stream = new PingStream(extNs, fipIp, 0.2);
    try {
      await until('a ping stream through the floating IP', async () => stream.replies.length >= 3, 15_000);
      await cli('openstack', 'server', 'remove', 'floating', 'ip', 'fip-vm', fipIp);
      const removed = performance.now();
      await until('the ping stream to end after the disassociation', async () => performance.now() - Math.max(stream.lastReply(), removed) > 2000, 15_000);
    } finally {
      await stream.stop();
    }
    assert.equal(await pings(extNs, fipIp), false, 'no reply to a new ping either');
    assert.ok(await pings(extNs, gwIp), 'the router is still there');
    const after = await json('floating', 'ip', 'show', fipIp);
    assert.deepEqual([after.port_id, after.status], [null, 'DOWN']);

    // Everything deleted through the API: the data plane follows.
    await detachTestHost(extNs, extEnd);
    await cli('openstack', 'server', 'delete', '--wait', 'fip-vm');
    assert.equal(existsSync(`/sys/class/net/tap${String(port.ID).slice(0, 11)}`), false, 'the tap is gone with the server');
    await cli('openstack', 'floating', 'ip', 'delete', fipIp);
    await cli('openstack', 'router', 'remove', 'subnet', 'r1', 'private-subnet');
    await cli('openstack', 'router', 'delete', 'r1'); // its gateway port goes with it
    await cli('openstack', 'network', 'delete', 'private', 'public');
    const dataDir = c.up.dataDir;
    await until('the router namespace, bridges, veths and dnsmasq gone', async () => {
      const n = await countResources({ ids, stateDir: dataDir });
      return n.namespaces === 0 && n.links === 0 && n.dnsmasq === 0 && n.metadata_proxies === 0 ? n : undefined;
    }, 30_000);
  } finally {
    await detachTestHost(extNs, extEnd);
    await closeGuestCloud(c, ids);
  }
});
