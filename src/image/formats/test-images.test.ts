// The test guest images (scripts/build-test-images.sh) are what they claim to be, pass the format
// inspector, and really boot under QEMU: disk.qcow2 by itself, and vmlinuz + initrd (+ machine.img)
// by direct kernel boot, each up to the marker line on the serial console, with DHCP on a virtio
// NIC and the metadata fetched from 169.254.169.254 (a loopback HTTP server behind QEMU's
// user-mode network, which is restricted: the guest reaches nothing else).

import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { access, constants, mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { inspectFile } from './index.js';
import { ensureTool, have, qemuInfo, run } from './testing.js';

const MARKER = 'monostack test guest booted';
const BOOT_TIMEOUT_MS = 240_000;

async function findRepoRoot(): Promise<string> {
  let d = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    try {
      await access(join(d, 'scripts', 'build-test-images.sh'));
      return d;
    } catch {
      d = dirname(d);
    }
  }
  return process.cwd();
}

async function skipReason(): Promise<string | null> {
  if (process.platform !== 'linux' || process.arch !== 'x64') return `needs linux/x64 (this is ${process.platform}/${process.arch})`;
  if (!(await have('apt-get')) && !(await have('qemu-img'))) return 'neither apt-get nor qemu-img is available';
  const qemu = await ensureTool('qemu-system-x86_64', 'qemu-system-x86');
  if (qemu) return qemu;
  return ensureTool('qemu-img', 'qemu-utils');
}

const reason = await skipReason();
if (reason) console.log(`skipping test guest image tests: ${reason}`);

interface Boot {
  seconds: number; // until the first pattern (the marker line) appeared
  output: string;
}

/** Start QEMU, wait until every pattern has appeared on the serial console, then stop it. */
function boot(args: string[], patterns: RegExp[], timeoutMs = BOOT_TIMEOUT_MS): Promise<Boot> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let markerAt = 0;
    let output = '';
    let settled = false;
    const child: ChildProcess = execFile('qemu-system-x86_64', args, { maxBuffer: 64 << 20, encoding: 'utf8' }, () => {
      if (!settled) finish(new Error(`qemu exited before the guest was up:\n${output.slice(-3000)}`));
    });
    const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms waiting for ${patterns.find((p) => !p.test(output))}:\n${output.slice(-3000)}`)), timeoutMs);
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      if (err) reject(err);
      else resolve({ seconds: (markerAt - started) / 1000, output });
    };
    const onData = (d: string | Buffer): void => {
      output += d.toString().replace(/\r/g, '');
      if (!markerAt && patterns[0]!.test(output)) markerAt = performance.now();
      if (markerAt && patterns.every((p) => p.test(output))) finish();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.stdin?.end();
  });
}

/** KVM only if it really runs a kernel: /dev/kvm can exist where KVM cannot run a guest. */
async function kvmWorks(kernel: string): Promise<boolean> {
  try {
    await access('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return false;
  }
  try {
    const b = await boot(
      ['-accel', 'kvm', '-nographic', '-m', '256', '-no-reboot', '-nic', 'none', '-kernel', kernel,
        '-append', 'console=ttyS0 earlyprintk=serial panic=-1'],
      [/Linux version/],
      8_000,
    );
    console.log(`KVM probe: kernel started in ${b.seconds.toFixed(1)} s`);
    return true;
  } catch (e) {
    console.log(`KVM probe failed, using TCG: ${(e as Error).message.split('\n')[0]}`);
    return false;
  }
}

describe('test guest images', { skip: reason ?? false }, () => {
  let out = '';
  let metadata: Server;
  let metadataPort = 0;
  let accel: string[] = ['-accel', 'tcg'];
  let accelName = 'tcg';
  const uuid = '5c5a9c3e-7d76-4bde-9e8a-0a4ad3a2b7a1';

  before(async () => {
    out = await mkdtemp(join(tmpdir(), 'monostack-images-'));
    metadata = createServer((req, res) => {
      if (req.url === '/openstack/latest/meta_data.json') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ uuid, name: 'monostack-test', hostname: 'monostack-test' }));
      } else {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise<void>((r) => metadata.listen(0, '127.0.0.1', r));
    metadataPort = (metadata.address() as AddressInfo).port;
  });
  after(async () => {
    metadata?.closeAllConnections();
    await new Promise<void>((r) => (metadata ? metadata.close(() => r()) : r()));
    if (out) await rm(out, { recursive: true, force: true });
  });

  // The guest's only network: restricted user-mode networking on 169.254.169.0/24, where
  // 169.254.169.254:80 is forwarded to the loopback metadata server and nothing else is reachable.
  const nic = (): string[] => [
    '-nic',
    `user,model=virtio-net-pci,restrict=on,net=169.254.169.0/24,host=169.254.169.1,dhcpstart=169.254.169.15,` +
      `guestfwd=tcp:169.254.169.254:80-tcp:127.0.0.1:${metadataPort}`,
  ];
  const guestUp = [
    new RegExp(MARKER),
    /monostack guest network: eth0 169\.254\.169\.\d+\/24/,
    new RegExp(`monostack guest metadata: .*${uuid}`),
    /monostack guest ready/,
  ];

  test('build-test-images.sh builds all four artefacts, each a few MiB', async () => {
    const root = await findRepoRoot();
    const t0 = performance.now();
    await run('bash', [join(root, 'scripts', 'build-test-images.sh'), out], 1_200_000);
    console.log(`build-test-images.sh took ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    for (const name of ['vmlinuz', 'initrd', 'disk.qcow2', 'machine.img']) {
      const { size } = await stat(join(out, name));
      console.log(`${name}: ${(size / 1048576).toFixed(1)} MiB`);
      assert.ok(size > 0 && size < 64 << 20, `${name} is ${size} bytes`);
    }
  });

  test('the inspector sees each artefact for what it is', async () => {
    const kernel = await inspectFile(join(out, 'vmlinuz'), 'aki');
    assert.equal(kernel.format, 'raw');
    assert.equal(kernel.safe, true, JSON.stringify(kernel));
    assert.deepEqual([kernel.details.kind, kernel.details.suggests], ['bzImage', 'aki']);
    assert.match(String(kernel.details.kernelVersion), /^\d+\.\d+/);

    const initrd = await inspectFile(join(out, 'initrd'), 'ari');
    assert.deepEqual([initrd.format, initrd.safe, initrd.details.kind, initrd.details.suggests], ['raw', true, 'gzip', 'ari']);

    const disk = await inspectFile(join(out, 'disk.qcow2'), 'qcow2');
    assert.deepEqual([disk.format, disk.safe, disk.issues], ['qcow2', true, []]);
    assert.equal(disk.virtualSize, (await qemuInfo(join(out, 'disk.qcow2'), 'qcow2'))['virtual-size']);
    assert.deepEqual((await inspectFile(join(out, 'disk.qcow2'), 'raw')).issues, ['image claims raw but is qcow2']);

    const machine = await inspectFile(join(out, 'machine.img'), 'ami');
    assert.deepEqual([machine.format, machine.safe, machine.details.kind], ['raw', true, 'ext']);
    assert.equal(machine.virtualSize, (await stat(join(out, 'machine.img'))).size);
  });

  test('choose the accelerator: KVM only if a quick probe boots a kernel, else TCG', async () => {
    if (await kvmWorks(join(out, 'vmlinuz'))) {
      accel = ['-enable-kvm'];
      accelName = 'kvm';
    }
    console.log(`accelerator: ${accelName}`);
  });

  test('disk.qcow2 boots by itself to the marker line, with DHCP and metadata', async () => {
    const b = await boot(
      [...accel, '-nographic', '-m', '256', '-no-reboot', '-snapshot',
        '-drive', `file=${join(out, 'disk.qcow2')},format=qcow2,if=virtio`, ...nic()],
      guestUp,
    );
    console.log(`disk.qcow2 (${accelName}) reached "${MARKER}" in ${b.seconds.toFixed(1)} s`);
    assert.match(b.output, /SYSLINUX/);
  });

  test('vmlinuz + initrd (AKI + ARI) boot directly, with machine.img (AMI) as the root disk', async () => {
    const b = await boot(
      [...accel, '-nographic', '-m', '256', '-no-reboot', '-snapshot',
        '-kernel', join(out, 'vmlinuz'), '-initrd', join(out, 'initrd'),
        '-append', 'console=ttyS0 root=/dev/vda panic=-1 quiet',
        '-drive', `file=${join(out, 'machine.img')},format=raw,if=virtio`, ...nic()],
      [...guestUp, /monostack guest root: \/dev\/vda monostack test machine image \(AMI\)/],
    );
    console.log(`vmlinuz + initrd (${accelName}) reached "${MARKER}" in ${b.seconds.toFixed(1)} s`);
  });
});
