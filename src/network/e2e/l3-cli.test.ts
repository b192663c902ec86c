// End to end: routers and floating IPs with Debian's clients (python3-openstackclient's
// `openstack`, python3-neutronclient's `neutron`) against `monostack up` with identity and network:
// an external network, a router with its gateway and an interface, a floating IP on a port behind
// it, the refusals clients print, and the teardown in the order a user does it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { startUp, type UpProcess } from '../../cli/up-process.js';

test('routers and floating IPs with Debian\'s openstack and neutron clients', { timeout: 300_000 }, async (t) => {
  if (!existsSync('/usr/bin/neutron') || !existsSync('/usr/bin/openstack')) return t.skip('python3-neutronclient / python3-openstackclient not installed');
  let up: UpProcess | undefined;
  try {
    // The API and its clients are under test here, not the host's data plane (agent/ has its own tests).
    up = await startUp({ services: ['network'], env: { MONOSTACK_NETWORK_DATAPLANE: 'noop' } });
    const u = up;
    const run = async (cmd: string, ...args: string[]) => {
      const r = await u.cli(cmd, args);
      assert.equal(r.code, 0, `${cmd} ${args.join(' ')}: ${r.stderr}\n${r.stdout}\n--- server log ---\n${u.output().slice(-3000)}`);
      return r.stdout;
    };
    const json = async (...args: string[]) => JSON.parse(await run('openstack', ...args, '-f', 'json'));

    await run('openstack', 'network', 'create', '--external', 'public');
    await run('openstack', 'subnet', 'create', '--network', 'public', '--subnet-range', '172.24.4.0/24', '--no-dhcp', 'public-subnet');
    await run('openstack', 'network', 'create', 'private');
    // The pool leaves out 10.0.0.50, the fixed address asked for below: the DHCP port's address is
    // drawn at random from the pool and once took it (409 in CI).
    await run('openstack', 'subnet', 'create', '--network', 'private', '--subnet-range', '10.0.0.0/24', '--allocation-pool', 'start=10.0.0.100,end=10.0.0.200', 'private-subnet');

    await run('openstack', 'router', 'create', 'r1');
    await run('openstack', 'router', 'set', '--external-gateway', 'public', 'r1');
    await run('openstack', 'router', 'add', 'subnet', 'r1', 'private-subnet');
    const r = await json('router', 'show', 'r1');
    const gw = typeof r.external_gateway_info === 'string' ? JSON.parse(r.external_gateway_info) : r.external_gateway_info;
    assert.equal(gw.enable_snat, true);
    assert.match(gw.external_fixed_ips[0].ip_address, /^172\.24\.4\./);
    const intf = (await json('port', 'list', '--router', 'r1', '--device-owner', 'network:router_interface'));
    assert.equal(intf.length, 1);
    assert.match(JSON.stringify(intf[0]['Fixed IP Addresses']), /10\.0\.0\.1\b/);
    // The same subnet twice: the client prints Neutron's message.
    const dup = await u.cli('openstack', ['router', 'add', 'subnet', 'r1', 'private-subnet']);
    assert.notEqual(dup.code, 0);
    assert.match(dup.stderr, /Router already has a port on subnet/);

    await run('openstack', 'port', 'create', '--network', 'private', '--fixed-ip', 'ip-address=10.0.0.50', 'vm-port');
    const fip = await json('floating', 'ip', 'create', '--port', 'vm-port', 'public');
    assert.match(fip.floating_ip_address, /^172\.24\.4\./);
    assert.equal(fip.fixed_ip_address, '10.0.0.50');
    assert.equal(fip.router_id, r.id);
    const listed = await run('openstack', 'floating', 'ip', 'list');
    assert.match(listed, new RegExp(fip.floating_ip_address.replace(/\./g, '\\.')));
    // The legacy client reads them too.
    assert.match(await run('neutron', 'router-list'), /\| r1 /);
    assert.match(await run('neutron', 'floatingip-list'), /10\.0\.0\.50/);
    // In use: the router with an interface, the interface with a floating IP behind it.
    const busy = await u.cli('openstack', ['router', 'delete', 'r1']);
    assert.notEqual(busy.code, 0);
    const needed = await u.cli('openstack', ['router', 'remove', 'subnet', 'r1', 'private-subnet']);
    assert.notEqual(needed.code, 0);
    assert.match(needed.stderr, /required by one or more floating IPs/);

    await run('openstack', 'floating', 'ip', 'unset', '--port', fip.id);
    assert.equal((await json('floating', 'ip', 'show', fip.id)).port_id, null);
    await run('openstack', 'floating', 'ip', 'delete', fip.id);
    await run('openstack', 'router', 'remove', 'subnet', 'r1', 'private-subnet');
    await run('openstack', 'router', 'unset', '--external-gateway', 'r1');
    await run('openstack', 'router', 'delete', 'r1');
    await run('openstack', 'port', 'delete', 'vm-port');
    await run('openstack', 'network', 'delete', 'private');
    await run('openstack', 'network', 'delete', 'public');
  } finally {
    await up?.close();
  }
});
