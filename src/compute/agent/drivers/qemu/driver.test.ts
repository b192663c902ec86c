// The qemu driver against real QEMU guests (the test images of scripts/build-test-images.sh):
// boots from a qcow2 disk and from an AKI/ARI/AMI triple, and every operation checked on the real
// process (pid, QMP query-status, query-memory-size-summary, query-cpus-fast, query-block) and on
// the files it leaves. Runs under TCG when /dev/kvm is absent or does not pass the probe.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../../../common/exec.js';
import { PowerState, type ImageMeta, type InstanceSpec } from '../../driver.js';
import { BOOT_MARKER, READY_MARKER, FileImageSource, killProcessesMentioning, testImages, which, type TestImages } from '../testing.js';
import { createQemuDriver, QmpClient, type QemuDriver } from './driver.js';

const skip = which('qemu-system-x86_64') && which('qemu-img') ? false : 'qemu-system-x86_64 or qemu-img is not installed (apt-get install qemu-system-x86 qemu-utils)';
if (skip) console.log(`# skipping the qemu driver tests: ${skip}`);

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

let work: string;
let instancesPath: string;
let images: TestImages;
let src: FileImageSource;
let driver: QemuDriver;
let diskImage: ImageMeta;
let amiImage: ImageMeta;
const uuids: string[] = [];

function spec(uuid: string, image: ImageMeta | null, over: Partial<InstanceSpec> = {}): InstanceSpec {
  return {
    uuid, hostname: 'guest', vcpus: 1, memoryMb: 256, rootGb: 1, ephemeralGb: 0, swapMb: 0, image,
    userData: null, metadata: {}, keyName: null, keyData: null, configDrive: false, vifs: [], ...over,
  };
}

function count(text: string, needle: string): number { return text.split(needle).length - 1; }

/** Waits until the console holds `n` copies of `marker`; returns the milliseconds waited. */
async function waitConsole(uuid: string, marker: string, n = 1, timeoutMs = 120_000): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const c = await driver.consoleOutput(uuid);
    if (count(c, marker) >= n) return performance.now() - t0;
    if (performance.now() - t0 > timeoutMs) assert.fail(`no ${n}x "${marker}" after ${timeoutMs} ms; console:\n${c.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); } catch { return false; }
  try {
    // A zombie waiting for its reaper is gone for our purposes.
    return !/\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch { return false; }
}

async function pidOf(uuid: string): Promise<number> {
  const i = (await driver.listInstances()).find((x) => x.uuid === uuid);
  assert.ok(i?.pid, `instance ${uuid} has no running process`);
  return i.pid;
}

before(async () => {
  if (skip) return;
  images = await testImages();
  work = mkdtempSync(join(tmpdir(), 'monostack-qemu-'));
  instancesPath = join(work, 'instances');
  src = new FileImageSource(join(work, 'uploads'));
  diskImage = await src.add(images.disk, 'qcow2');
  const kernel = await src.add(images.vmlinuz, 'aki');
  const ramdisk = await src.add(images.initrd, 'ari');
  amiImage = await src.add(images.machine, 'ami', { kernel_id: kernel.id, ramdisk_id: ramdisk.id });
  driver = createQemuDriver({ instancesPath, virtType: 'auto', cleanShutdownTimeoutSec: 1, probeGuest: { kernel: images.vmlinuz, initrd: images.initrd, marker: BOOT_MARKER } });
  await driver.init();
  console.log(`# qemu driver accel: ${driver.accel}`);
});

after(async () => {
  if (skip) return;
  for (const u of uuids) await driver.destroy(u).catch(() => undefined);
  const leaked = await killProcessesMentioning(instancesPath);
  await rm(work, { recursive: true, force: true });
  assert.deepEqual(leaked, [], 'QEMU processes left behind');
});

const a = randomUUID();
const b = randomUUID();

test('spawn boots a qcow2 disk and an AKI/ARI/AMI triple (direct kernel boot)', { skip }, async () => {
  uuids.push(a, b);
  const t0 = performance.now();
  const userData = Buffer.from('#!/bin/sh\necho hello\n').toString('base64');
  await Promise.all([
    driver.spawn(spec(a, diskImage), src),
    driver.spawn(spec(b, amiImage, { configDrive: true, userData, keyName: 'k1', keyData: 'ssh-ed25519 AAAA test', ephemeralGb: 1, swapMb: 64 }), src),
  ]);
  const spawnMs = performance.now() - t0;
  const bootA = (await waitConsole(a, BOOT_MARKER)) + spawnMs;
  console.log(`# spawn ${spawnMs.toFixed(0)} ms; spawn call to "${BOOT_MARKER}" ${bootA.toFixed(0)} ms (${driver.accel}, two guests booting at once)`);
  await waitConsole(b, READY_MARKER);
  assert.match(await driver.consoleOutput(b), /monostack guest root: \/dev\/vda monostack test machine image \(AMI\)/);
  // Each image was fetched once, checked and cached under _base.
  for (const id of [diskImage.id, amiImage.id, amiImage.properties.kernel_id!, amiImage.properties.ramdisk_id!]) {
    assert.equal(src.dataCalls.get(id), 1, `image ${id} downloaded once`);
    assert.ok(existsSync(join(instancesPath, '_base', id)));
  }
  const info = JSON.parse((await run('qemu-img', ['info', '-U', '--output=json', join(instancesPath, a, 'disk')])).stdout);
  assert.equal(info.format, 'qcow2');
  assert.equal(info['virtual-size'], 1 * GiB);
  assert.equal(info['backing-filename'], join(instancesPath, '_base', diskImage.id));
  const list = await driver.listInstances();
  assert.deepEqual(list.map((i) => [i.uuid, i.powerState]).sort(), [[a, PowerState.RUNNING], [b, PowerState.RUNNING]].sort());
  const argv = readFileSync(`/proc/${await pidOf(b)}/cmdline`, 'utf8').split('\0');
  assert.ok(argv.includes('-kernel') && argv.includes('-initrd') && argv.includes('-nic') && argv.includes('none'));
  assert.match(argv[argv.indexOf('-append') + 1], /console=ttyS0/);
  // The config drive: ISO 9660 labelled config-2, attached read-only, with the metadata and user data.
  const iso = readFileSync(join(instancesPath, b, 'disk.config'));
  assert.equal(iso.subarray(0x8001, 0x8006).toString('latin1'), 'CD001');
  assert.equal(iso.subarray(0x8028, 0x8030).toString('latin1'), 'config-2');
  if (which('isoinfo')) {
    const meta = JSON.parse((await run('isoinfo', ['-i', join(instancesPath, b, 'disk.config'), '-J', '-x', '/openstack/latest/meta_data.json'])).stdout);
    assert.equal(meta.uuid, b);
    assert.deepEqual(meta.public_keys, { k1: 'ssh-ed25519 AAAA test' });
    assert.equal((await run('isoinfo', ['-i', join(instancesPath, b, 'disk.config'), '-J', '-x', '/openstack/latest/user_data'])).stdout, '#!/bin/sh\necho hello\n');
  }
  const blocksB = await driver.qmp<Array<{ inserted?: { file: string; ro: boolean } }>>(b, 'query-block');
  assert.deepEqual(blocksB.filter((x) => x.inserted).map((x) => [x.inserted!.file.split('/').pop(), x.inserted!.ro]), [['disk', false], ['disk.eph0', false], ['disk.swap', false], ['disk.config', true]]);
  const vsizeOf = async (f: string) => JSON.parse((await run('qemu-img', ['info', '-U', '--output=json', join(instancesPath, b, f)])).stdout)['virtual-size'] as number;
  assert.equal(await vsizeOf('disk.eph0'), 1 * GiB);
  assert.equal(await vsizeOf('disk.swap'), 64 * MiB);
  // The last N lines.
  const last2 = await driver.consoleOutput(b, 2);
  assert.equal(last2.trimEnd().split('\n').length, 2);
});

test('a driver re-created over the same instancesPath finds the running VMs (agent restart)', { skip }, async () => {
  const pidA = await pidOf(a);
  const again = createQemuDriver({ instancesPath, virtType: 'auto' });
  await again.init();
  const list = await again.listInstances();
  assert.deepEqual(list.find((i) => i.uuid === a), { uuid: a, powerState: PowerState.RUNNING, pid: pidA });
  assert.equal(await again.powerState(b), PowerState.RUNNING);
  assert.equal(await again.accel, driver.accel);
});

test('QMP client: greeting, commands with ids, errors; VNC answers on its unix socket', { skip }, async () => {
  const q = await QmpClient.connect(driver.qmpSocketPath(a));
  try {
    assert.equal(q.version?.major, Number((await run('qemu-system-x86_64', ['--version'])).stdout.match(/version (\d+)/)![1]));
    const [s, n] = await Promise.all([q.execute<{ status: string }>('query-status'), q.execute<{ name: string }>('query-name')]);
    assert.equal(s.status, 'running');
    assert.equal(n.name, `instance-${a}`);
    await assert.rejects(q.execute('no-such-command'), /CommandNotFound/);
    // Events arrive between replies: STOP after stop, RESUME after cont.
    const stopped = q.waitEvent('STOP', 5000);
    await q.execute('stop');
    assert.equal((await stopped).event, 'STOP');
    const resumed = q.waitEvent('RESUME', 5000);
    await q.execute('cont');
    assert.ok((await resumed).timestamp!.seconds > 0);
    await assert.rejects(q.waitEvent('SHUTDOWN', 100), /no SHUTDOWN event within 100 ms/);
  } finally { q.close(); }
  await assert.rejects(q.execute('query-status'), /closed/);
  const vnc = await driver.vncConsole(a);
  assert.ok(vnc.path);
  const greeting = await new Promise<string>((res, rej) => {
    const s = createConnection({ path: vnc.path! });
    s.once('data', (d) => { res(d.toString('latin1')); s.destroy(); });
    s.once('error', rej);
  });
  assert.match(greeting, /^RFB 003\.00\d\n/);
});

test('pause and unpause change query-status', { skip }, async () => {
  await driver.pause(a);
  assert.equal((await driver.qmp<{ status: string }>(a, 'query-status')).status, 'paused');
  assert.equal(await driver.powerState(a), PowerState.PAUSED);
  await driver.unpause(a);
  assert.equal((await driver.qmp<{ status: string }>(a, 'query-status')).status, 'running');
  assert.equal(await driver.powerState(a), PowerState.RUNNING);
});

test('suspend saves the RAM to suspend.state and ends the process; resume continues the same guest', { skip }, async () => {
  const pid = await pidOf(a);
  const t0 = performance.now();
  await driver.suspend(a);
  const suspendMs = performance.now() - t0;
  assert.equal(alive(pid), false, 'the QEMU process is gone');
  const state = join(instancesPath, a, 'suspend.state');
  const size = statSync(state).size;
  assert.ok(size > 1 * MiB, `state file of ${size} bytes`);
  assert.equal(await driver.powerState(a), PowerState.SUSPENDED);
  const boots = count(await driver.consoleOutput(a), BOOT_MARKER);
  // Resumed by a driver created afresh (the agent restarted while the guest was suspended).
  const fresh = createQemuDriver({ instancesPath, virtType: 'auto' });
  await fresh.init();
  assert.deepEqual((await fresh.listInstances()).find((i) => i.uuid === a), { uuid: a, powerState: PowerState.SUSPENDED });
  const t1 = performance.now();
  await fresh.resume(spec(a, diskImage));
  console.log(`# suspend ${suspendMs.toFixed(0)} ms (${(size / MiB).toFixed(0)} MiB state), resume ${(performance.now() - t1).toFixed(0)} ms`);
  const pid2 = await pidOf(a);
  assert.notEqual(pid2, pid);
  assert.equal((await driver.qmp<{ status: string }>(a, 'query-status')).status, 'running');
  assert.equal(existsSync(state), false, 'the state file is consumed');
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(count(await driver.consoleOutput(a), BOOT_MARKER), boots, 'resumed, not rebooted');
  assert.equal((await driver.qmp<{ 'base-memory': number }>(a, 'query-memory-size-summary'))['base-memory'], 256 * MiB);
});

test('soft reboot: the guest shuts down cleanly on ACPI and boots again; hard reboot is a new process', { skip }, async () => {
  const pid = await pidOf(a);
  const boots = count(await driver.consoleOutput(a), BOOT_MARKER);
  const t0 = performance.now();
  await driver.reboot(spec(a, diskImage), false);
  assert.equal(await driver.powerState(a), PowerState.RUNNING);
  const ms = await waitConsole(a, BOOT_MARKER, boots + 1);
  console.log(`# soft reboot: marker again after ${(performance.now() - t0).toFixed(0)} ms (${ms.toFixed(0)} ms after the call returned)`);
  const pid1 = await pidOf(a);
  await driver.reboot(spec(a, diskImage), true);
  const pid2 = await pidOf(a);
  assert.notEqual(pid2, pid1);
  assert.equal(alive(pid1), false);
  if (pid1 !== pid) assert.equal(alive(pid), false);
  assert.equal(await driver.powerState(a), PowerState.RUNNING);
});

test('powerOff ends the process (ACPI ignored: quit after the timeout); powerOn starts a new one from the same disk', { skip }, async () => {
  const pid = await pidOf(a);
  const t0 = performance.now();
  await driver.powerOff(a, 1);
  const ms = performance.now() - t0;
  assert.ok(ms >= 1000 && ms < 8000, `powerOff took ${ms} ms`);
  assert.equal(alive(pid), false);
  assert.equal(await driver.powerState(a), PowerState.SHUTDOWN);
  assert.deepEqual((await driver.listInstances()).find((i) => i.uuid === a), { uuid: a, powerState: PowerState.SHUTDOWN });
  await driver.powerOff(a, 0); // already off: nothing to do
  await assert.rejects(driver.vncConsole(a), /not running/);
  await driver.powerOn(spec(a, diskImage));
  const pid2 = await pidOf(a);
  assert.notEqual(pid2, pid);
  assert.equal(await driver.powerState(a), PowerState.RUNNING);
  const t1 = performance.now();
  await driver.powerOff(a, 0);
  assert.ok(performance.now() - t1 < 2000, 'timeout 0 stops at once');
  assert.equal(alive(pid2), false);
  await driver.powerOn(spec(a, diskImage));
});

test('resize restarts with the new vCPUs/RAM and a grown disk; revert restores, confirm drops the backup', { skip }, async () => {
  const disk = join(instancesPath, a, 'disk');
  const vsize = async () => JSON.parse((await run('qemu-img', ['info', '-U', '--output=json', disk])).stdout)['virtual-size'] as number;
  const memory = async () => (await driver.qmp<{ 'base-memory': number }>(a, 'query-memory-size-summary'))['base-memory'];
  const cpus = async () => (await driver.qmp<unknown[]>(a, 'query-cpus-fast')).length;
  const old = spec(a, diskImage);
  const big = spec(a, diskImage, { vcpus: 2, memoryMb: 384, rootGb: 2 });
  await driver.resize(old, big);
  assert.equal(await memory(), 384 * MiB);
  assert.equal(await cpus(), 2);
  assert.equal(await vsize(), 2 * GiB);
  assert.ok(existsSync(`${disk}.resize-backup`));
  await assert.rejects(driver.resize(old, big), /confirm or revert/);
  await driver.revertResize(old);
  assert.equal(await memory(), 256 * MiB);
  assert.equal(await cpus(), 1);
  assert.equal(await vsize(), 1 * GiB);
  assert.equal(existsSync(`${disk}.resize-backup`), false);
  await driver.resize(old, big);
  await driver.confirmResize(a);
  assert.equal(existsSync(`${disk}.resize-backup`), false);
  assert.equal(await cpus(), 2);
  await assert.rejects(driver.resize(big, spec(a, diskImage, { rootGb: 1 })), /shrink/);
});

test('snapshot uploads a standalone qcow2 that boots (rebuild from it)', { skip }, async () => {
  const snapId = randomUUID();
  const t0 = performance.now();
  await driver.snapshot(a, snapId, src);
  console.log(`# snapshot of a running guest: ${(performance.now() - t0).toFixed(0)} ms`);
  assert.equal((await driver.qmp<{ status: string }>(a, 'query-status')).status, 'running', 'continued after the copy');
  const info = JSON.parse((await run('qemu-img', ['info', '--output=json', src.uploadedPath(snapId)])).stdout);
  assert.equal(info.format, 'qcow2');
  assert.equal(info['backing-filename'], undefined);
  assert.equal(info['virtual-size'], 2 * GiB);
  assert.deepEqual((await readdir(join(instancesPath, a))).filter((f) => f.startsWith('snapshot-')), [], 'no temporary copy left');
  const snap = await src.meta(snapId);
  const pid = await pidOf(a);
  const boots = count(await driver.consoleOutput(a), BOOT_MARKER);
  const t1 = performance.now();
  await driver.rebuild(spec(a, snap, { vcpus: 2, memoryMb: 384, rootGb: 2 }), src);
  assert.notEqual(await pidOf(a), pid);
  // The rebuilt guest's disk is an overlay of the snapshot, and it boots.
  const disk = JSON.parse((await run('qemu-img', ['info', '-U', '--output=json', join(instancesPath, a, 'disk')])).stdout);
  assert.equal(disk['backing-filename'], join(instancesPath, '_base', snapId));
  await waitConsole(a, BOOT_MARKER, boots + 1);
  console.log(`# rebuild from the snapshot to boot marker: ${(performance.now() - t1).toFixed(0)} ms`);
});

test('rescue boots the rescue image with the instance disk second; unrescue restores', { skip }, async () => {
  const blocks = async () => (await driver.qmp<Array<{ device: string; inserted?: { file: string } }>>(a, 'query-block'))
    .filter((x) => x.inserted).map((x) => x.inserted!.file.split('/').pop());
  const s = spec(a, diskImage, { vcpus: 2, memoryMb: 384, rootGb: 2 });
  await driver.rescue(s, diskImage, src);
  assert.deepEqual(await blocks(), ['disk.rescue', 'disk']);
  await assert.rejects(driver.rescue(s, diskImage, src), /already in rescue/);
  await driver.unrescue(s);
  assert.deepEqual(await blocks(), ['disk']);
  assert.equal(existsSync(join(instancesPath, a, 'disk.rescue')), false);
});

test('destroy leaves no process and no directory, and is idempotent', { skip }, async () => {
  const pids = [await pidOf(a), await pidOf(b)];
  await Promise.all([driver.destroy(a), driver.destroy(b)]);
  for (const p of pids) assert.equal(alive(p), false);
  assert.equal(existsSync(join(instancesPath, a)), false);
  assert.equal(existsSync(join(instancesPath, b)), false);
  await driver.destroy(a);
  assert.deepEqual(await driver.listInstances(), []);
  await assert.rejects(driver.powerState(a), (e: Error & { code?: string }) => e.code === 'InstanceNotFound');
  assert.deepEqual(await killProcessesMentioning(instancesPath), []);
});

test('an instancesPath too long for unix socket addresses puts the sockets under tmpdir', { skip }, async () => {
  const long = join(work, 'a-rather-long-directory-name-for-instances', 'and-one-more-level-below-it');
  const d = createQemuDriver({ instancesPath: long, virtType: 'tcg' });
  await d.init();
  const u = randomUUID();
  uuids.push(u);
  assert.ok(Buffer.byteLength(join(long, u, 'qmp.sock')) > 107);
  const sock = d.qmpSocketPath(u);
  assert.ok(sock.startsWith(join(tmpdir(), 'monostack-qemu-')) && Buffer.byteLength(sock) < 100, sock);
  await d.spawn(spec(u, diskImage), src);
  assert.equal((await d.qmp<{ status: string }>(u, 'query-status')).status, 'running');
  assert.equal(await d.powerState(u), PowerState.RUNNING);
  await d.destroy(u);
  assert.equal(existsSync(join(sock, '..')), false, 'the socket directory is removed');
  assert.equal(existsSync(join(sock, '..', '..')), false, 'and its parent, now empty');
  assert.deepEqual(await killProcessesMentioning(long), []);
});

test('a QEMU that cannot start the guest (virtType kvm without a usable /dev/kvm) fails the spawn and leaves nothing', { skip }, async (t) => {
  if (existsSync('/dev/kvm')) { t.skip('/dev/kvm exists here'); return; }
  const d = createQemuDriver({ instancesPath: join(work, 'kvm-only'), virtType: 'kvm' });
  await d.init();
  const u = randomUUID();
  await assert.rejects(d.spawn(spec(u, diskImage), src), (e: Error & { code?: string }) => e.code === 'HypervisorUnavailable' && /qemu did not start/.test(e.message));
  assert.equal(existsSync(join(work, 'kvm-only', u)), false);
  assert.deepEqual(await d.listInstances(), []);
});

test('a host whose KVM passes the probe but refuses a guest at start switches to TCG for good and boots the guest', { skip }, async (t) => {
  if (!existsSync('/dev/kvm')) { t.skip('no /dev/kvm here: the KVM path is not taken'); return; }
  // A QEMU that fails every guest (`-name guest=instance-...`) under KVM as a nested KVM host did
  // (kvm_buf_set_msrs), and is the real QEMU otherwise (the probe, guests under TCG).
  const wrapper = join(work, 'qemu-kvm-refuses');
  writeFileSync(wrapper, `#!/bin/bash
case " $* " in *" -accel kvm "*guest=instance-*) echo "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69" >&2; echo "qemu-system-x86_64: ../../target/i386/kvm/kvm.c:3183: kvm_buf_set_msrs: Assertion failed." >&2; exit 1;; esac
exec qemu-system-x86_64 "$@"
`, { mode: 0o755 });
  const dir = join(work, 'kvm-refuses');
  // The default probe (a real-mode boot sector), as `monostack up` runs it: it passes where a full
  // guest under KVM may not.
  const d = createQemuDriver({ instancesPath: dir, virtType: 'auto', qemuBinary: wrapper, cleanShutdownTimeoutSec: 1 });
  await d.init();
  if (d.accel !== 'kvm') { t.skip('the KVM probe does not pass on this host'); return; }
  const u = randomUUID();
  try {
    await d.spawn(spec(u, diskImage), src);
    assert.equal(d.accel, 'tcg', 'the host runs TCG from now on');
    assert.match(readFileSync(join(dir, '_probe', 'kvm-failed'), 'utf8'), /refused to start .* under KVM: .*kvm_buf_set_msrs/);
    const c0 = performance.now();
    for (;;) {
      if ((await d.consoleOutput(u)).includes(BOOT_MARKER)) break;
      assert.ok(performance.now() - c0 < 120_000, 'the guest boots under TCG');
      await new Promise((r) => setTimeout(r, 100));
    }
    // A new driver over the same directory starts on TCG without probing again.
    const again = createQemuDriver({ instancesPath: dir, virtType: 'auto', qemuBinary: `${wrapper}` });
    await again.init();
    assert.equal(again.accel, 'tcg');
  } finally {
    await d.destroy(u);
  }
  assert.deepEqual(await killProcessesMentioning(dir), []);
});

test('bad input never reaches the host', { skip }, async () => {
  await assert.rejects(driver.spawn(spec('../../etc', diskImage), src), /invalid instance uuid/);
  await assert.rejects(driver.spawn(spec(randomUUID(), diskImage, { vifs: [{ portId: 'p', mac: '52:54:00:12:34:56', tapName: 'tap0,script=/x' }] }), src), /invalid tap name/);
  await assert.rejects(driver.spawn(spec(randomUUID(), diskImage, { vcpus: 0 }), src), /vcpus/);
  const u = randomUUID();
  await assert.rejects(driver.spawn(spec(u, { ...diskImage, id: '../x' }), src), /invalid image id/);
  assert.equal(existsSync(join(instancesPath, u)), false, 'a failed spawn leaves nothing');
  const kernel = await src.meta(amiImage.properties.kernel_id!);
  await assert.rejects(driver.spawn(spec(u, kernel), src), (e: Error & { code?: string }) => e.code === 'ImageUnacceptable');
  assert.equal(existsSync(join(instancesPath, u)), false);
});
