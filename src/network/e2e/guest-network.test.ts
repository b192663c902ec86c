// End to end on real QEMU guests and real namespaces: the seed's network chapter with Debian's
// clients against `monostack up` (identity, image, placement, network, compute; linuxbridge data
// plane). The seed's flat network on physnet1 — an isolated bridge, no host interface — its subnet
// with a pool, the default group's ICMP/SSH/HTTP rules, then `nova boot --nic net-id=...
// --security-group default --key-name mykey`. The guest must get an address from the pool by
// DHCP, read its own public key from the metadata service (169.254.169.254, through the DHCP
// namespace's proxy and the compute metadata API), and answer ping from a test host namespace on
// the flat network only while the ICMP rule exists. All traffic stays between the guest and the
// test's own namespace. Afterwards no tap, bridge, namespace or dnsmasq of the test is left.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startUp, type UpProcess } from '../../cli/up-process.js';
import { sleep, testImagesDir, until } from '../../common/testing/process.js';
import { countResources } from '../agent/resources.js';
import {
  attachTestHost, closeGuestCloud, detachTestHost, guestCloud, guestLease, guestSkipReason, guestUpOptions, pings, serverActive, type GuestCloud,
} from './guest-helpers.js';

test('a guest on the seed\'s flat network: DHCP from the pool, its key from metadata, ping only while ICMP is allowed', { timeout: 900_000 }, async (t) => {
  const skip = guestSkipReason();
  if (skip) return t.skip(skip);
  const images = testImagesDir();
  const tag = randomBytes(3).toString('hex');
  const testNs = `mst-${tag}`;
  const hostEnd = `mstv${tag}`;
  let c: GuestCloud<UpProcess> | undefined;
  let netId = '';
  let portId = '';
  try {
    c = await guestCloud(await startUp(guestUpOptions(tag)), images);
    const { cli, json } = c;
    const u = c.up;
    mkdirSync(join(u.env.HOME!, '.ssh'), { recursive: true });
    execFileSync('ssh-keygen', ['-t', 'rsa', '-P', '', '-q', '-f', join(u.env.HOME!, '.ssh', 'id_rsa')]);
    await cli('nova', 'keypair-add', '--pub-key', join(u.env.HOME!, '.ssh', 'id_rsa.pub'), 'mykey');
    const pubKey = readFileSync(join(u.env.HOME!, '.ssh', 'id_rsa.pub'), 'utf8').trim().split(' ')[1]!;

    // The seed's network, subnet and rules.
    await cli('neutron', 'net-create', 'flat', '--shared', '--provider:physical_network', 'physnet1', '--provider:network_type', 'flat');
    await cli('neutron', 'subnet-create', 'flat', '192.168.1.0/24', '--name', 'flat-subnet', '--allocation-pool', 'start=192.168.1.140,end=192.168.1.200',
      '--dns-nameserver', '192.168.1.1', '--gateway', '192.168.1.1');
    netId = (await json('network', 'show', 'flat')).id;
    const icmp = (await json('security', 'group', 'rule', 'create', '--proto', 'icmp', 'default')).id;
    await cli('openstack', 'security', 'group', 'rule', 'create', '--proto', 'tcp', '--dst-port', '22', 'default');
    await cli('openstack', 'security', 'group', 'rule', 'create', '--proto', 'tcp', '--dst-port', '80', 'default');

    await cli('nova', 'boot', '--flavor', 'm1.tiny', '--image', 'cirros', '--nic', `net-id=${netId}`, '--security-group', 'default', '--key-name', 'mykey', 'hello-myinstance');
    const server = await serverActive(c, 'hello-myinstance');
    const port = (await json('port', 'list', '--server', server.id))[0];
    portId = port.ID;
    const ip: string = port['Fixed IP Addresses'][0].ip_address;
    const last = Number(ip.split('.')[3]);
    assert.ok(ip.startsWith('192.168.1.') && last >= 140 && last <= 200, `address ${ip} from the pool`);

    // The guest's console: its DHCP lease and its metadata (with our key).
    const consoleLog = () => cli('openstack', 'console', 'log', 'show', 'hello-myinstance');
    const lease = await guestLease(c, 'hello-myinstance');
    assert.equal(lease, `${ip}/24`, 'the guest configured the address the port holds');
    const md = await until('the guest\'s metadata line', async () => /monostack guest metadata: (.*)/.exec(await consoleLog())?.[1], 60_000);
    assert.notEqual(md.trim(), 'unreachable', 'the metadata service answered the guest');
    const doc = JSON.parse(md);
    assert.equal(doc.uuid, server.id);
    assert.ok(String(doc.public_keys?.mykey).includes(pubKey), 'the guest read its own public key');

    // A test host on the flat network: a namespace with a veth into the network's bridge.
    const bridge = String((await json('port', 'show', port.ID))['binding_vif_details']?.bridge_name ?? '');
    assert.ok(bridge.startsWith('msb-'), `bridge name ${bridge}`);
    await attachTestHost(testNs, hostEnd, bridge, '192.168.1.50/24');
    await until('ping with the ICMP rule', () => pings(testNs, ip), 30_000);

    // Rule removed: no more replies; put back: replies again (each within seconds).
    await cli('openstack', 'security', 'group', 'rule', 'delete', icmp);
    await until('ping refused without the ICMP rule', async () => !(await pings(testNs, ip)), 15_000);
    await sleep(1500);
    assert.equal(await pings(testNs, ip), false, 'still refused');
    await cli('openstack', 'security', 'group', 'rule', 'create', '--proto', 'icmp', 'default');
    await until('ping again with the rule back', () => pings(testNs, ip), 15_000);

    // Delete everything through the API: the data plane follows.
    await detachTestHost(testNs, hostEnd);
    await cli('openstack', 'server', 'delete', '--wait', 'hello-myinstance');
    assert.equal(existsSync(`/sys/class/net/tap${port.ID.slice(0, 11)}`), false, 'the tap is gone with the server');
    await cli('openstack', 'network', 'delete', 'flat');
    await until('the network\'s bridge, namespace and dnsmasq gone', async () => {
      const n = await countResources({ ids: [netId], stateDir: u.dataDir });
      return n.namespaces === 0 && n.links === 0 && n.dnsmasq === 0 && n.metadata_proxies === 0 ? n : undefined;
    }, 30_000);
  } finally {
    await detachTestHost(testNs, hostEnd);
    await closeGuestCloud(c, [netId, portId]);
  }
});
