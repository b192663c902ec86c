// The KVM boot probe: the marker decides, a guest that never prints it is killed at the timeout,
// and a missing /dev/kvm fails fast. Runs the probe guests under TCG (which always works) to prove
// the mechanism; the KVM verdict itself is what the driver logs at init.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BOOT_MARKER, testImages, which } from '../testing.js';
import { BOOT_SECTOR_MARKER, kvmDeviceUsable, probeBootSector, runBootProbe } from './probe.js';

const skip = which('qemu-system-x86_64') ? false : 'qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)';
if (skip) console.log(`# skipping the KVM probe tests: ${skip}`);
const qemu = 'qemu-system-x86_64';

function gone(pid: number | undefined): boolean {
  if (!pid) return true;
  try { return /\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); } catch { return true; }
}

test('the probe boot sector is a valid MBR carrying the marker', () => {
  const disk = probeBootSector();
  assert.equal(disk.length, 1024 * 1024);
  const s = disk.subarray(0, 512);
  assert.deepEqual([s[510], s[511]], [0x55, 0xaa]);
  // mov si, imm16 points at the message inside the sector (loaded at 0x7c00).
  const msgAt = s.readUInt16LE(7) - 0x7c00;
  assert.equal(s.subarray(msgAt, msgAt + BOOT_SECTOR_MARKER.length).toString('latin1'), BOOT_SECTOR_MARKER);
});

test('probe: the built-in boot sector prints its marker (TCG)', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'monostack-probe-'));
  try {
    const r = await runBootProbe({ qemu, accel: 'tcg', workDir: dir, timeoutMs: 20_000 });
    console.log(`# boot-sector probe under TCG: ${r.ms.toFixed(0)} ms`);
    assert.equal(r.ok, true, r.reason);
    assert.ok(gone(r.pid), 'the probe process is killed');
  } finally { await rm(dir, { recursive: true, force: true }); }
});

test('probe: the test kernel + initrd reach the boot marker (TCG); a short timeout kills the guest', { skip }, async () => {
  const images = await testImages();
  const dir = mkdtempSync(join(tmpdir(), 'monostack-probe-'));
  try {
    const guest = { kernel: images.vmlinuz, initrd: images.initrd, marker: BOOT_MARKER };
    const r = await runBootProbe({ qemu, accel: 'tcg', workDir: dir, timeoutMs: 60_000, guest });
    console.log(`# kernel+initrd probe under TCG: ${r.ms.toFixed(0)} ms`);
    assert.equal(r.ok, true, r.reason);
    assert.ok(gone(r.pid));
    const t0 = performance.now();
    const slow = await runBootProbe({ qemu, accel: 'tcg', workDir: dir, timeoutMs: 300, guest });
    assert.equal(slow.ok, false);
    assert.match(slow.reason, /no boot marker within 300 ms/);
    assert.ok(performance.now() - t0 < 3000, 'gave up at the timeout');
    assert.ok(gone(slow.pid), 'the hung guest is killed');
  } finally { await rm(dir, { recursive: true, force: true }); }
});

test('probe: KVM without a usable /dev/kvm fails (fast), so the driver falls back to TCG', { skip }, async (t) => {
  if (await kvmDeviceUsable()) { t.skip('/dev/kvm is usable here; the driver probes it at init'); return; }
  const dir = mkdtempSync(join(tmpdir(), 'monostack-probe-'));
  try {
    const r = await runBootProbe({ qemu, accel: 'kvm', workDir: dir, timeoutMs: 20_000 });
    assert.equal(r.ok, false);
    assert.ok(r.ms < 10_000);
    assert.match(r.reason, /exited/);
  } finally { await rm(dir, { recursive: true, force: true }); }
});
