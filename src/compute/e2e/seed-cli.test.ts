// End to end: the seed note's compute chapter with Debian's clients against `monostack up`, on REAL
// QEMU guests built from Debian packages (scripts/build-test-images.sh). Every power action is
// checked on the QEMU process itself: stop and suspend end it, start and resume start a new one,
// pause keeps it, resize restarts it with the new memory size, delete removes it. Without a network
// service, servers boot with `--nic none` (microversion 2.37+). The seed's `nova secgroup-add-rule`
// and `nova image-list` are gone from novaclient 18: `openstack image list` stands in for the latter;
// security groups come with the network service.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { testImagesDir, until } from '../../common/testing/process.js';
import { qemuPidsMentioning, startUp, tableField, type UpProcess } from '../../cli/up-process.js';


const qemuPids = qemuPidsMentioning;

function qemuArgs(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
}


test('the seed\'s compute commands with Debian\'s clients on real QEMU guests', { timeout: 900_000 }, async (t) => {
  if (!existsSync('/usr/bin/openstack') || !existsSync('/usr/bin/nova')) return t.skip('python3-openstackclient / python3-novaclient not installed');
  if (!existsSync('/usr/bin/qemu-system-x86_64')) return t.skip('qemu-system-x86 not installed');
  const images = testImagesDir();
  let up: UpProcess | undefined;
  try {
    up = await startUp({ services: ['image', 'placement', 'compute'], env: { MONOSTACK_COMPUTE_HOST: 'compute1', MONOSTACK_COMPUTE_SHUTDOWN_TIMEOUT: '2' }, readyTimeoutMs: 120_000 });
    const u = up;
    const osc = async (...args: string[]) => {
      const r = await u.cli('openstack', args);
      assert.equal(r.code, 0, `openstack ${args.join(' ')}: ${r.stderr}\n${r.stdout}\n--- server log ---\n${u.output().slice(-3000)}`);
      return r.stdout;
    };
    const nova = async (...args: string[]) => {
      const r = await u.cli('nova', args);
      assert.equal(r.code, 0, `nova ${args.join(' ')}: ${r.stderr}\n${r.stdout}`);
      return r.stdout;
    };

    // Images (the seed's cirros is our test guest) and flavors.
    await osc('image', 'create', 'cirros', '--file', join(images, 'disk.qcow2'), '--disk-format', 'qcow2', '--container-format', 'bare', '--public');
    assert.match(await osc('image', 'list'), /cirros/); // stands in for `nova image-list`
    await osc('flavor', 'create', '--ram', '512', '--disk', '1', '--vcpus', '1', 'm1.tiny');
    await osc('flavor', 'create', '--ram', '768', '--disk', '2', '--vcpus', '1', 'm1.small');
    assert.match(await nova('flavor-list'), /m1\.tiny/);

    // The key pair, as the seed makes it.
    mkdirSync(join(u.env.HOME!, '.ssh'), { recursive: true });
    execFileSync('ssh-keygen', ['-t', 'rsa', '-P', '', '-q', '-f', join(u.env.HOME!, '.ssh', 'id_rsa')]);
    await nova('keypair-add', '--pub-key', join(u.env.HOME!, '.ssh', 'id_rsa.pub'), 'mykey');
    assert.match(await nova('keypair-list'), /mykey/);
    assert.match(await osc('host', 'list'), /compute1/);

    // Boot.
    const created = await osc('--os-compute-api-version', '2.37', 'server', 'create', '--flavor', 'm1.tiny', '--image', 'cirros', '--key-name', 'mykey', '--nic', 'none', '--wait', 'hello-myinstance');
    const id = tableField(created, 'id')!;
    assert.match(id, /^[0-9a-f-]{36}$/);
    assert.equal(tableField(created, 'status'), 'ACTIVE');
    // Waiting is done on the API directly (a CLI call costs two seconds of Python start-up).
    const token = (await osc('token', 'issue', '-f', 'value', '-c', 'id')).trim();
    const api = `http://127.0.0.1:${u.ports.compute_port}/v2.1`;
    const show = async () => {
      const r = await fetch(`${api}/servers/${id}`, { headers: { 'X-Auth-Token': token } });
      return (await r.json() as { server: Record<string, unknown> }).server;
    };
    const status = async () => (await show()).status as string;
    const power = async () => String((await show())['OS-EXT-STS:power_state']);
    const consoleLog = async () => {
      const r = await fetch(`${api}/servers/${id}/action`, { method: 'POST', headers: { 'X-Auth-Token': token, 'Content-Type': 'application/json' }, body: '{"os-getConsoleOutput": {}}' });
      return r.status === 200 ? (await r.json() as { output: string }).output : '';
    };
    await until('the guest\'s boot marker on the console', async () => (await consoleLog()).includes('monostack test guest booted'));
    const log = await osc('console', 'log', 'show', id);
    assert.match(log, /monostack test guest booted \(kernel \d+\.\d+/); // the guest kernel booted ...
    await until('the guest\'s init to finish', async () => (await consoleLog()).includes('monostack guest ready')); // ... and ran its init
    const [pid1] = qemuPids(id);
    assert.ok(pid1, 'a QEMU process runs the instance');


    // stop: the process ends; start: a new one boots.
    await osc('server', 'stop', id);
    await until('SHUTOFF', async () => (await status()) === 'SHUTOFF');
    assert.deepEqual(qemuPids(id), []);
    await osc('server', 'start', id);
    await until('ACTIVE after start', async () => (await status()) === 'ACTIVE');
    const [pid2] = qemuPids(id);
    assert.ok(pid2 && pid2 !== pid1, 'start ran a new QEMU process');

    // reboot, soft and hard: the guest boots again.
    await osc('server', 'reboot', '--wait', id);
    assert.equal(await status(), 'ACTIVE');
    await osc('server', 'reboot', '--hard', '--wait', id);
    assert.equal(await status(), 'ACTIVE');
    assert.equal(qemuPids(id).length, 1);

    // pause keeps the process, stopped (QMP query-status says paused: that is what power_state reports).
    await osc('server', 'pause', id);
    await until('PAUSED', async () => (await status()) === 'PAUSED');
    assert.equal(await power(), '3'); // PAUSED, as QMP query-status reports it
    assert.equal(qemuPids(id).length, 1);
    await osc('server', 'unpause', id);
    await until('ACTIVE after unpause', async () => (await status()) === 'ACTIVE');

    // suspend saves the guest and ends the process; resume restores it in a new one.
    const before = qemuPids(id)[0];
    await osc('server', 'suspend', id);
    await until('SUSPENDED', async () => (await status()) === 'SUSPENDED');
    assert.deepEqual(qemuPids(id), []);
    await osc('server', 'resume', id);
    await until('ACTIVE after resume', async () => (await status()) === 'ACTIVE');
    assert.notEqual(qemuPids(id)[0], before);

    // resize to m1.small: the guest restarts with 768 MiB; confirm keeps it.
    await osc('server', 'resize', '--flavor', 'm1.small', id);
    await until('VERIFY_RESIZE', async () => (await status()) === 'VERIFY_RESIZE');
    const args = qemuArgs(qemuPids(id)[0]!);
    assert.ok(args.some((a, i) => args[i - 1] === '-m' && /^768(M)?\b/.test(a)), `QEMU runs with -m 768: ${args.join(' ')}`);
    await osc('server', 'resize', 'confirm', id);
    await until('ACTIVE after resize confirm', async () => (await status()) === 'ACTIVE');
    assert.match(await osc('server', 'show', id, '-c', 'flavor'), /m1\.small/);

    // The console URL (noVNC) is handed out for the running guest.
    const url = tableField(await osc('console', 'url', 'show', '--novnc', id), 'url');
    assert.match(String(url), /^http:\/\/.+:\d+\/vnc_auto\.html\?path=%3Ftoken%3D/);
    // ... and it opens a working noVNC session in a real browser (Debian's Chromium, headless).
    if (existsSync('/usr/bin/chromium')) {
      const { chromium } = await import('playwright-core');
      const profile = mkdtempSync(join(u.dataDir, 'chromium-'));
      const browser = await chromium.launchPersistentContext(profile, {
        executablePath: '/usr/bin/chromium', headless: true,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      });
      try {
        const page = await browser.newPage();
        await page.goto(String(url));
        await page.waitForSelector('html[data-state="connected"]', { state: 'attached', timeout: 60_000 });
        assert.match(await page.textContent('#noVNC_status') ?? '', /^Connected to QEMU/);
      } finally {
        await browser.close();
      }
    } else {
      t.diagnostic('chromium not installed: the noVNC session was not opened in a browser');
    }

    // delete: the process and the instance's files go, and Placement has no allocation left.
    await osc('server', 'delete', '--wait', id);
    assert.deepEqual(qemuPids(id), []);
    assert.ok(!existsSync(join(u.stateDir, 'instances', id)), 'the instance directory is removed');
    const list = await osc('server', 'list', '-f', 'value', '-c', 'ID');
    assert.ok(!list.includes(id));
  } finally {
    await up?.close();
  }
});
