// The QEMU command line: an argument array in which only validated values appear.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { qemuArgv, optEsc, type VmConfig } from './argv.js';

const base: VmConfig = {
  uuid: '0b4c5a7e-52b1-4c55-9d0e-7a7f7d1e2f30', accel: 'tcg', vcpus: 2, memoryMb: 512,
  disks: [{ path: '/srv/i,x/disk', format: 'qcow2', serial: 'root' }], nics: [],
  consoleLog: '/srv/c.log', qmpSocket: '/srv/q.sock', vncSocket: '/srv/v.sock', pidFile: '/srv/p',
};

test('argv: daemonised, QMP/VNC on unix sockets, serial to a file, no NIC without vifs, commas escaped', () => {
  const a = qemuArgv(base);
  const after = (flag: string) => a[a.indexOf(flag) + 1];
  assert.equal(after('-accel'), 'tcg');
  assert.equal(after('-m'), '512');
  assert.equal(after('-smp'), '2');
  assert.equal(after('-qmp'), 'unix:/srv/q.sock,server=on,wait=off');
  assert.equal(after('-vnc'), 'unix:/srv/v.sock');
  assert.equal(after('-nic'), 'none');
  assert.equal(after('-pidfile'), '/srv/p');
  assert.ok(a.includes('-daemonize'));
  assert.match(after('-drive'), /^file=\/srv\/i,,x\/disk,/);
  assert.equal(optEsc('a,b'), 'a,,b');
  assert.ok(!a.includes('-cpu'), 'TCG keeps the default CPU model');
  assert.equal(qemuArgv({ ...base, accel: 'kvm' })[qemuArgv({ ...base, accel: 'kvm' }).indexOf('-cpu') + 1], 'host');
});

test('argv: taps and MACs are validated; user-mode NICs are restricted', () => {
  const a = qemuArgv({ ...base, nics: [{ mac: '52:54:00:AA:bb:01', tapName: 'tap1234', mtu: 1450 }, { mac: '52:54:00:aa:bb:02', tapName: null }] });
  assert.ok(a.includes('tap,id=hn525400aabb01,ifname=tap1234,script=no,downscript=no'));
  assert.ok(a.includes('virtio-net-pci,netdev=hn525400aabb01,mac=52:54:00:aa:bb:01,id=nic525400aabb01,host_mtu=1450'));
  assert.ok(a.includes('user,id=hn525400aabb02,restrict=on'));
  assert.ok(!a.includes('-nic'));
  assert.throws(() => qemuArgv({ ...base, nics: [{ mac: '52:54:00:aa:bb:01', tapName: 'tap0,script=/bin/sh' }] }), /invalid tap name/);
  assert.throws(() => qemuArgv({ ...base, nics: [{ mac: '52:54:00:aa:bb:01,x', tapName: 'tap0' }] }), /invalid MAC/);
});

test('argv: direct kernel boot and deferred incoming migration', () => {
  const a = qemuArgv({ ...base, kernel: { path: '/b/k', initrd: '/b/r', cmdline: 'root=/dev/vda console=ttyS0' }, incoming: true });
  assert.equal(a[a.indexOf('-kernel') + 1], '/b/k');
  assert.equal(a[a.indexOf('-initrd') + 1], '/b/r');
  assert.equal(a[a.indexOf('-append') + 1], 'root=/dev/vda console=ttyS0');
  assert.equal(a[a.indexOf('-incoming') + 1], 'defer');
  assert.ok(!a.some((x) => x.includes('bootindex')), 'the kernel boots, not the disk');
});
