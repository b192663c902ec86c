// The fake driver: the contract's state machine without processes, persisted for restarts, and
// fast enough for scale tests. Also createDriver's choice.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PowerState, type ImageMeta, type InstanceSpec } from '../driver.js';
import { createDriver, FakeDriver, QemuDriver } from './index.js';
import { createFakeDriver } from './fake.js';
import { FileImageSource } from './testing.js';

const image: ImageMeta = { id: randomUUID(), diskFormat: 'qcow2', containerFormat: 'bare', size: 1, minDisk: 1, minRam: 0, properties: {} };

function spec(uuid: string, over: Partial<InstanceSpec> = {}): InstanceSpec {
  return {
    uuid, hostname: 'h', vcpus: 1, memoryMb: 512, rootGb: 1, ephemeralGb: 0, swapMb: 0, image,
    userData: null, metadata: {}, keyName: null, keyData: null, configDrive: false, vifs: [], ...over,
  };
}

async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'monostack-fake-'));
  try { return await fn(dir); } finally { await rm(dir, { recursive: true, force: true }); }
}

const isCode = (code: string) => (e: Error & { code?: string }) => e.code === code;

test('createDriver picks qemu or fake, and refuses other names', () => {
  assert.ok(createDriver('fake', { instancesPath: '/nonexistent' }) instanceof FakeDriver);
  assert.ok(createDriver('qemu', { instancesPath: '/nonexistent' }) instanceof QemuDriver);
  assert.equal(createDriver('fake', { instancesPath: '/x' }).name, 'fake');
  assert.throws(() => createDriver('xen', { instancesPath: '/x' }), /unknown compute_driver "xen"/);
});

test('fake: host resources are large by default and follow overrides', () => withDir(async (dir) => {
  const d = createFakeDriver({ instancesPath: dir });
  await d.init();
  const r = await d.hostResources();
  assert.deepEqual([r.vcpus, r.memoryMb, r.diskGb, r.hypervisorType], [1000, 1024 * 1024, 100_000, 'fake']);
  const o = createFakeDriver({ instancesPath: dir, resources: { vcpus: 8, memoryMb: 0, diskGb: 50 } });
  const r2 = await o.hostResources();
  assert.deepEqual([r2.vcpus, r2.memoryMb, r2.diskGb], [8, 1024 * 1024, 50]);
}));

test('fake: the power state machine of the contract', () => withDir(async (dir) => {
  const d = createFakeDriver({ instancesPath: dir });
  await d.init();
  const src = new FileImageSource(join(dir, 'uploads'));
  const u = randomUUID();
  await assert.rejects(d.powerState(u), isCode('InstanceNotFound'));
  await d.spawn(spec(u), src);
  await d.spawn(spec(u), src); // a retried spawn of a running instance is a no-op
  assert.equal(await d.powerState(u), PowerState.RUNNING);
  await assert.rejects(d.unpause(u), isCode('InstanceInvalidState'));
  await d.pause(u);
  assert.equal(await d.powerState(u), PowerState.PAUSED);
  await d.unpause(u);
  await d.suspend(u);
  assert.equal(await d.powerState(u), PowerState.SUSPENDED);
  await d.resume(spec(u));
  assert.equal(await d.powerState(u), PowerState.RUNNING);
  await d.powerOff(u, 0);
  assert.equal(await d.powerState(u), PowerState.SHUTDOWN);
  await assert.rejects(d.vncConsole(u), isCode('InstanceInvalidState'));
  await d.powerOn(spec(u));
  await d.reboot(spec(u), true);
  assert.equal(await d.powerState(u), PowerState.RUNNING);
  assert.equal((await d.vncConsole(u)).host, '127.0.0.1');

  await d.rescue(spec(u), image, src);
  await assert.rejects(d.rescue(spec(u), image, src), isCode('InstanceInvalidState'));
  await d.unrescue(spec(u));

  await d.resize(spec(u), spec(u, { vcpus: 4, rootGb: 5 }));
  await assert.rejects(d.resize(spec(u), spec(u, { vcpus: 4, rootGb: 5 })), isCode('InstanceInvalidState'));
  await d.revertResize(spec(u));
  await assert.rejects(d.revertResize(spec(u)), isCode('InstanceInvalidState'));
  await d.resize(spec(u), spec(u, { vcpus: 4, rootGb: 5 }));
  await d.confirmResize(u);
  await assert.rejects(d.resize(spec(u, { rootGb: 5 }), spec(u, { rootGb: 2 })), isCode('FlavorDiskSmallerThanImage'));

  await d.rebuild(spec(u), src);
  const snap = randomUUID();
  await d.snapshot(u, snap, src);
  const head = (await readFile(src.uploadedPath(snap))).subarray(0, 4);
  assert.deepEqual([...head], [0x51, 0x46, 0x49, 0xfb], 'a qcow2 header');
  assert.equal((await src.meta(snap)).diskFormat, 'qcow2');

  const log = await d.consoleOutput(u);
  assert.match(log, /booted/);
  assert.match(log, /resize reverted/);
  assert.equal((await d.consoleOutput(u, 2)).trimEnd().split('\n').length, 2);

  await assert.rejects(d.spawn(spec('../../etc/passwd'), src), isCode('InvalidInput'));
  await assert.rejects(d.spawn(spec(randomUUID(), { memoryMb: -1 }), src), isCode('InvalidInput'));
  await d.destroy(u);
  await d.destroy(u);
  assert.deepEqual(await d.listInstances(), []);
}));

test('fake: 1,000 boots take well under a second and the state file is written a few times, not per boot', () => withDir(async (dir) => {
  const d = createFakeDriver({ instancesPath: dir });
  await d.init();
  const src = new FileImageSource(join(dir, 'uploads'));
  const ids = Array.from({ length: 1000 }, () => randomUUID());
  const t0 = performance.now();
  for (const u of ids) await d.spawn(spec(u), src);
  await Promise.all(ids.slice(0, 500).map((u) => d.powerOff(u, 60)));
  await d.flush();
  const ms = performance.now() - t0;
  console.log(`# fake: 1,000 spawns + 500 power-offs + flush in ${ms.toFixed(0)} ms, ${d.writes} state file write(s)`);
  assert.ok(ms < 3000, `${ms} ms`);
  assert.ok(d.writes >= 1 && d.writes < 50, `${d.writes} writes`);
  const list = await d.listInstances();
  assert.equal(list.length, 1000);
  assert.equal(list.filter((i) => i.powerState === PowerState.SHUTDOWN).length, 500);
}));

test('fake: a driver re-created over the same instancesPath finds the instances (agent restart)', () => withDir(async (dir) => {
  const d = createFakeDriver({ instancesPath: dir });
  await d.init();
  const src = new FileImageSource(join(dir, 'uploads'));
  const [u1, u2] = [randomUUID(), randomUUID()];
  await d.spawn(spec(u1), src);
  await d.spawn(spec(u2), src);
  await d.pause(u2);
  await d.close();
  const again = createFakeDriver({ instancesPath: dir });
  await again.init();
  const list = (await again.listInstances()).sort((x, y) => x.uuid.localeCompare(y.uuid));
  assert.deepEqual(list, [{ uuid: u1, powerState: PowerState.RUNNING }, { uuid: u2, powerState: PowerState.PAUSED }].sort((x, y) => x.uuid.localeCompare(y.uuid)));
  // Its VNC ports do not collide with the old ones.
  const u3 = randomUUID();
  await again.spawn(spec(u3), src);
  const ports = await Promise.all([u1, u3].map(async (u) => (await again.vncConsole(u)).port));
  assert.notEqual(ports[0], ports[1]);
  await again.destroy(u1);
  await again.flush();
  const third = createFakeDriver({ instancesPath: dir });
  await third.init();
  assert.deepEqual((await third.listInstances()).map((i) => i.uuid).sort(), [u2, u3].sort());
}));
