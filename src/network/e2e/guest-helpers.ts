// Shared by the end-to-end tests on real QEMU guests (guest-network.test.ts, guest-floating-ip.test.ts):
// the options of `monostack up` with the linuxbridge data plane and the qemu driver, Debian's CLIs
// against it, the test guest image, test host namespaces plugged into a network's bridge, and a
// clean-up scoped to the test's own ids when something failed half-way. The tests start the cloud
// themselves (cli/up-process.ts: a service module must not import the cli layer).

import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { until } from '../../common/testing/process.js';
import { run } from '../../common/exec.js';


/** Why these tests cannot run here (printed as the skip reason), or undefined. */
export function guestSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (bridges, namespaces, nftables)';
  for (const [bin, pkg] of [['/usr/bin/openstack', 'python3-openstackclient'], ['/usr/bin/nova', 'python3-novaclient'], ['/usr/bin/neutron', 'python3-neutronclient'],
    ['/usr/bin/qemu-system-x86_64', 'qemu-system-x86'], ['/usr/sbin/dnsmasq', 'dnsmasq-base'], ['/usr/sbin/nft', 'nftables'], ['/bin/busybox', 'busybox-static']] as const) {
    if (!existsSync(bin)) return `${pkg} is not installed`;
  }
  return undefined;
}

/** Ping from a test namespace (busybox ping: one packet, 1 s): the reply's TTL, or undefined without a reply. */
export async function pingTtl(ns: string, ip: string): Promise<number | undefined> {
  try {
    const r = await run('ip', ['netns', 'exec', ns, 'busybox', 'ping', '-c', '1', '-W', '1', ip], { timeoutMs: 5000 });
    const ttl = /ttl=(\d+)/.exec(r.stdout)?.[1];
    return ttl === undefined ? undefined : Number(ttl);
  } catch { return undefined; }
}

/** Whether `ip` answers a ping from a test namespace. */
export async function pings(ns: string, ip: string): Promise<boolean> {
  return (await pingTtl(ns, ip)) !== undefined;
}

/** What these helpers use of cli/up-process.ts's UpProcess. */
export interface CloudProcess {
  dataDir: string;
  output(): string;
  cli(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  stop(): Promise<void>;
  close(): Promise<void>;
}

export interface GuestCloud<P extends CloudProcess = CloudProcess> {
  up: P;
  /** Runs a CLI with the cloud's credentials and asserts it succeeded (the server's log on failure). */
  cli(cmd: string, ...args: string[]): Promise<string>;
  /** `openstack <args> -f json`, parsed. */
  json(...args: string[]): Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** `startUp` options: identity, image, placement, network, compute; linuxbridge data plane, real QEMU guests. */
export function guestUpOptions(tag: string): { services: string[]; env: Record<string, string>; readyTimeoutMs: number } {
  return {
    services: ['image', 'placement', 'network', 'compute'],
    env: { MONOSTACK_COMPUTE_HOST: `netnode-${tag}`, MONOSTACK_COMPUTE_SHUTDOWN_TIMEOUT: '2', MONOSTACK_NETWORK_DATAPLANE: 'linuxbridge', MONOSTACK_COMPUTE_VIF_PLUGGING_TIMEOUT: '60' },
    readyTimeoutMs: 120_000,
  };
}

/** The CLI helpers for a cloud started with guestUpOptions, after uploading the test guest as image `cirros` and a flavor `m1.tiny` (closes the cloud if that fails). */
export async function guestCloud<P extends CloudProcess>(up: P, images: string): Promise<GuestCloud<P>> {
  const cli = async (cmd: string, ...args: string[]) => {
    const r = await up.cli(cmd, args);
    assert.equal(r.code, 0, `${cmd} ${args.join(' ')}: ${r.stderr}\n${r.stdout}\n--- server log ---\n${up.output().slice(-3000)}`);
    return r.stdout;
  };
  const json = async (...args: string[]) => JSON.parse(await cli('openstack', ...args, '-f', 'json'));
  try {
    await Promise.all([
      cli('openstack', 'image', 'create', 'cirros', '--file', join(images, 'disk.qcow2'), '--disk-format', 'qcow2', '--container-format', 'bare', '--public'),
      cli('openstack', 'flavor', 'create', '--ram', '256', '--disk', '1', '--vcpus', '1', 'm1.tiny'),
    ]);
  } catch (e) {
    await up.close().catch(() => undefined);
    throw e;
  }
  return { up, cli, json };
}

/** Waits for a server to be ACTIVE (fails at once on ERROR) and returns `server show`. */
export function serverActive(c: GuestCloud, name: string): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return until(`${name} ACTIVE`, async () => {
    const s = await c.json('server', 'show', name);
    if (s.status === 'ERROR') throw new Error(`server in ERROR: ${JSON.stringify(s.fault)}`);
    return s.status === 'ACTIVE' ? s : undefined;
  });
}

/** The address/len the test guest printed on its console once its DHCP lease was configured. */
export function guestLease(c: GuestCloud, name: string): Promise<string> {
  return until(`${name}'s DHCP lease`, async () => /monostack guest network: eth0 (\S+)/.exec(await c.cli('openstack', 'console', 'log', 'show', name))?.[1], 180_000);
}

/** A test host: namespace `ns` with a veth (`hostEnd` on the host, eth0 inside) into `bridge`, holding `cidr`. */
export async function attachTestHost(ns: string, hostEnd: string, bridge: string, cidr: string): Promise<void> {
  await run('ip', ['netns', 'add', ns]);
  await run('ip', ['link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
  await run('ip', ['link', 'set', hostEnd, 'master', bridge, 'up']);
  await run('ip', ['-n', ns, 'addr', 'add', cidr, 'dev', 'eth0']);
  await run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
}

/** Removes a test host (never fails). */
export async function detachTestHost(ns: string, hostEnd: string): Promise<void> {
  await run('ip', ['netns', 'del', ns]).catch(() => undefined);
  await run('ip', ['link', 'del', hostEnd]).catch(() => undefined);
}

/**
 * The end of every guest test: stops the cloud, kills the processes it left (QEMU guests — they
 * outlive `up` by design —, dnsmasq and metadata proxies: those whose command line names its data
 * directory), and removes whatever of the test's objects a failure left on the host: taps,
 * namespaces and links named after `ids` (network, router, port ids).
 */
export async function closeGuestCloud(c: GuestCloud | undefined, ids: string[]): Promise<void> {
  if (!c) return;
  const dir = c.up.dataDir;
  await c.up.stop().catch(() => undefined);
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes(dir) && (cmd.includes('qemu-system') || cmd.includes('dnsmasq') || cmd.includes('metadata-proxy'))) process.kill(Number(pid), 'SIGKILL');
    } catch { /* gone */ }
  }
  const shorts = ids.filter(Boolean).map((id) => id.slice(0, 11));
  if (shorts.length) {
    const ns = (await run('ip', ['netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0]!).filter((n) => /^ms(dhcp|rtr)-/.test(n) && shorts.some((s) => n.includes(s)));
    for (const n of ns) await run('ip', ['netns', 'del', n]).catch(() => undefined);
    const links = JSON.parse((await run('ip', ['-json', 'link', 'show'])).stdout) as { ifname: string }[];
    for (const l of links.filter((x) => (x.ifname.startsWith('ms') || x.ifname.startsWith('tap')) && shorts.some((s) => x.ifname.includes(s)))) {
      await run('ip', ['link', 'del', l.ifname]).catch(() => undefined);
    }
  }
  await c.up.close().catch(() => undefined);
}
