// End to end: the seed note's network commands with Debian's clients (python3-neutronclient's
// `neutron`, python3-openstackclient's `openstack`) against `monostack up` with identity and
// network: a shared flat provider network, its subnet with a pool, DNS server and gateway, the
// lists, and the default security group's ICMP, SSH and HTTP rules.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { startUp, type UpProcess } from '../../cli/up-process.js';

test('the seed\'s network commands with Debian\'s neutron and openstack clients', { timeout: 300_000 }, async (t) => {
  if (!existsSync('/usr/bin/neutron') || !existsSync('/usr/bin/openstack')) return t.skip('python3-neutronclient / python3-openstackclient not installed');
  let up: UpProcess | undefined;
  try {
    up = await startUp({ services: ['network'] });
    const u = up;
    const run = async (cmd: string, ...args: string[]) => {
      const r = await u.cli(cmd, args);
      assert.equal(r.code, 0, `${cmd} ${args.join(' ')}: ${r.stderr}\n${r.stdout}\n--- server log ---\n${u.output().slice(-3000)}`);
      return r.stdout;
    };
    const json = async (...args: string[]) => JSON.parse(await run('openstack', ...args, '-f', 'json'));

    await run('neutron', 'net-create', 'flat', '--shared', '--provider:physical_network', 'physnet1', '--provider:network_type', 'flat');
    await run('neutron', 'subnet-create', 'flat', '192.168.1.0/24', '--name', 'flat-subnet', '--allocation-pool', 'start=192.168.1.140,end=192.168.1.200',
      '--dns-nameserver', '192.168.1.1', '--gateway', '192.168.1.1');
    const nets = await run('neutron', 'net-list');
    assert.match(nets, /\| flat /);
    assert.match(nets, /192\.168\.1\.0\/24/);
    const subs = await run('neutron', 'subnet-list');
    assert.match(subs, /flat-subnet/);
    assert.match(subs, /192\.168\.1\.0\/24/);

    const net = await json('network', 'show', 'flat');
    assert.equal(net.shared, true);
    assert.equal(net['provider:network_type'], 'flat');
    assert.equal(net['provider:physical_network'], 'physnet1');
    const sub = await json('subnet', 'show', 'flat-subnet');
    assert.deepEqual(sub.allocation_pools, [{ start: '192.168.1.140', end: '192.168.1.200' }]);
    assert.deepEqual(sub.dns_nameservers, ['192.168.1.1']);
    assert.equal(sub.gateway_ip, '192.168.1.1');

    await run('openstack', 'security', 'group', 'rule', 'create', '--proto', 'icmp', 'default');
    await run('openstack', 'security', 'group', 'rule', 'create', '--proto', 'tcp', '--dst-port', '22', 'default');
    await run('openstack', 'security', 'group', 'rule', 'create', '--proto', 'tcp', '--dst-port', '80', 'default');
    const rules = await json('security', 'group', 'rule', 'list', 'default');
    const ingress = rules.filter((r: Record<string, unknown>) => r.Direction === 'ingress' && r['IP Protocol']);
    assert.deepEqual(ingress.map((r: Record<string, unknown>) => `${String(r['IP Protocol'])}:${String(r['Port Range'])}`).sort(), ['icmp:', 'tcp:22:22', 'tcp:80:80']);
    // The same rule twice is Neutron's 409.
    const dup = await u.cli('openstack', ['security', 'group', 'rule', 'create', '--proto', 'tcp', '--dst-port', '22', 'default']);
    assert.notEqual(dup.code, 0);
    assert.match(dup.stderr, /already exists/);

    const port = await json('port', 'create', '--network', 'flat', 'p1');
    assert.match(port.fixed_ips[0]?.ip_address ?? JSON.stringify(port.fixed_ips), /192\.168\.1\.(1[4-9]\d|200)/);
    await run('openstack', 'port', 'delete', 'p1');
    await run('neutron', 'subnet-delete', 'flat-subnet');
    await run('neutron', 'net-delete', 'flat');
  } finally {
    await up?.close();
  }
});
