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
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { projectRoot } from '../../common/testing/process.js';
import { killGuestsUnder, startUp, type UpProcess } from '../../cli/up-process.js';
import { countResources } from '../agent/resources.js';
import { run } from '../../common/exec.js';

const root = projectRoot(import.meta.url);
const IMAGES = join(root, '.tmp', 'images');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function testImages(): string {
  if (!existsSync(join(IMAGES, 'disk.qcow2'))) execFileSync('bash', [join(root, 'scripts', 'build-test-images.sh'), IMAGES], { stdio: 'inherit' });
  return IMAGES;
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 120_000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (e) { last = e; }
    await sleep(300);
  }
  throw new Error(`timed out waiting for ${what} (last: ${String(last)})`);
}

function why(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (bridges, namespaces, nftables)';
  for (const [bin, pkg] of [['/usr/bin/openstack', 'python3-openstackclient'], ['/usr/bin/nova', 'python3-novaclient'], ['/usr/bin/neutron', 'python3-neutronclient'],
    ['/usr/bin/qemu-system-x86_64', 'qemu-system-x86'], ['/usr/sbin/dnsmasq', 'dnsmasq-base'], ['/usr/sbin/nft', 'nftables'], ['/bin/busybox', 'busybox-static']] as const) {
    if (!existsSync(bin)) return `${pkg} is not installed`;
  }
  return undefined;
}

/** Ping from the test namespace (busybox ping: one packet, 1 s). */
async function pings(ns: string, ip: string): Promise<boolean> {
  try { await run('ip', ['netns', 'exec', ns, 'busybox', 'ping', '-c', '1', '-W', '1', ip], { timeoutMs: 5000 }); return true; } catch { return false; }
}

test('a guest on the seed\'s flat network: DHCP from the pool, its key from metadata, ping only while ICMP is allowed', { timeout: 900_000 }, async (t) => {
  const skip = why();
  if (skip) return t.skip(skip);
  const images = testImages();
  const tag = randomBytes(3).toString('hex');
  const testNs = `mst-${tag}`;
  const hostEnd = `mstv${tag}`;
  let up: UpProcess | undefined;
  let netId = '';
  let tap = '';
  try {
    up = await startUp({
      services: ['image', 'placement', 'network', 'compute'],
      env: { MONOSTACK_COMPUTE_HOST: `netnode-${tag}`, MONOSTACK_COMPUTE_SHUTDOWN_TIMEOUT: '2', MONOSTACK_NETWORK_DATAPLANE: 'linuxbridge', MONOSTACK_COMPUTE_VIF_PLUGGING_TIMEOUT: '60' },
      readyTimeoutMs: 120_000,
    });
    const u = up;
    const cli = async (cmd: string, ...args: string[]) => {
      const r = await u.cli(cmd, args);
      assert.equal(r.code, 0, `${cmd} ${args.join(' ')}: ${r.stderr}\n${r.stdout}\n--- server log ---\n${u.output().slice(-3000)}`);
      return r.stdout;
    };
    const json = async (...args: string[]) => JSON.parse(await cli('openstack', ...args, '-f', 'json'));

    await cli('openstack', 'image', 'create', 'cirros', '--file', join(images, 'disk.qcow2'), '--disk-format', 'qcow2', '--container-format', 'bare', '--public');
    await cli('openstack', 'flavor', 'create', '--ram', '256', '--disk', '1', '--vcpus', '1', 'm1.tiny');
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
    const server = await until('ACTIVE', async () => {
      const s = await json('server', 'show', 'hello-myinstance');
      if (s.status === 'ERROR') throw new Error(`server in ERROR: ${JSON.stringify(s.fault)}`);
      return s.status === 'ACTIVE' ? s : undefined;
    });
    const port = (await json('port', 'list', '--server', server.id))[0];
    tap = `tap${String(port.ID).slice(0, 11)}`;
    const ip: string = port['Fixed IP Addresses'][0].ip_address;
    const last = Number(ip.split('.')[3]);
    assert.ok(ip.startsWith('192.168.1.') && last >= 140 && last <= 200, `address ${ip} from the pool`);

    // The guest's console: its DHCP lease and its metadata (with our key).
    const consoleLog = () => cli('openstack', 'console', 'log', 'show', 'hello-myinstance');
    const lease = await until('the guest\'s DHCP lease', async () => /monostack guest network: eth0 (\S+)/.exec(await consoleLog())?.[1], 180_000);
    assert.equal(lease, `${ip}/24`, 'the guest configured the address the port holds');
    const md = await until('the guest\'s metadata line', async () => /monostack guest metadata: (.*)/.exec(await consoleLog())?.[1], 60_000);
    assert.notEqual(md.trim(), 'unreachable', 'the metadata service answered the guest');
    const doc = JSON.parse(md);
    assert.equal(doc.uuid, server.id);
    assert.ok(String(doc.public_keys?.mykey).includes(pubKey), 'the guest read its own public key');

    // A test host on the flat network: a namespace with a veth into the network's bridge.
    const bridge = String((await json('port', 'show', port.ID))['binding_vif_details']?.bridge_name ?? '');
    assert.ok(bridge.startsWith('msb-'), `bridge name ${bridge}`);
    await run('ip', ['netns', 'add', testNs]);
    await run('ip', ['link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', testNs]);
    await run('ip', ['link', 'set', hostEnd, 'master', bridge, 'up']);
    await run('ip', ['-n', testNs, 'addr', 'add', '192.168.1.50/24', 'dev', 'eth0']);
    await run('ip', ['-n', testNs, 'link', 'set', 'eth0', 'up']);
    await until('ping with the ICMP rule', () => pings(testNs, ip), 30_000);

    // Rule removed: no more replies; put back: replies again (each within seconds).
    await cli('openstack', 'security', 'group', 'rule', 'delete', icmp);
    await until('ping refused without the ICMP rule', async () => !(await pings(testNs, ip)), 15_000);
    await sleep(1500);
    assert.equal(await pings(testNs, ip), false, 'still refused');
    await cli('openstack', 'security', 'group', 'rule', 'create', '--proto', 'icmp', 'default');
    await until('ping again with the rule back', () => pings(testNs, ip), 15_000);

    // Delete everything through the API: the data plane follows.
    await run('ip', ['netns', 'del', testNs]).catch(() => undefined);
    await cli('openstack', 'server', 'delete', '--wait', 'hello-myinstance');
    assert.equal(existsSync(`/sys/class/net/tap${port.ID.slice(0, 11)}`), false, 'the tap is gone with the server');
    await cli('openstack', 'network', 'delete', 'flat');
    await until('the network\'s bridge, namespace and dnsmasq gone', async () => {
      const c = await countResources({ ids: [netId], stateDir: u.dataDir });
      return c.namespaces === 0 && c.links === 0 && c.dnsmasq === 0 && c.metadata_proxies === 0 ? c : undefined;
    }, 30_000);
  } finally {
    await run('ip', ['netns', 'del', testNs]).catch(() => undefined);
    await run('ip', ['link', 'del', hostEnd]).catch(() => undefined);
    if (up) {
      const dir = up.dataDir;
      await up.stop().catch(() => undefined);
      killGuestsUnder(dir);
      if (tap) await run('ip', ['link', 'del', tap]).catch(() => undefined); // the guest's tap, when the test stopped before its delete
      await scopedCleanup(netId, dir);
      await up.close().catch(() => undefined);
    }
  }
});

/** After a failure: whatever of this test's network is still on the host (by its id), and its dnsmasq. */
async function scopedCleanup(netId: string, dataDir: string): Promise<void> {
  if (!netId) return;
  const short = netId.slice(0, 11);
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes(dataDir) && (cmd.includes('dnsmasq') || cmd.includes('metadata-proxy'))) process.kill(Number(pid), 'SIGKILL');
    } catch { /* gone */ }
  }
  const ns = (await run('ip', ['netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.includes(netId));
  for (const n of ns) await run('ip', ['netns', 'del', n]).catch(() => undefined);
  const links = JSON.parse((await run('ip', ['-json', 'link', 'show'])).stdout) as { ifname: string }[];
  for (const l of links.filter((x) => x.ifname.startsWith('ms') && x.ifname.includes(short))) await run('ip', ['link', 'del', l.ifname]).catch(() => undefined);
}
