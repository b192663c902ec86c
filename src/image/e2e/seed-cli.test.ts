// End to end: `monostack up` with identity and image, driven by Debian's `openstack` and `glance`
// CLIs through the seed note's image commands — including the test guest images of
// scripts/build-test-images.sh (a bootable qcow2 and an AKI/ARI/AMI triple) and a byte-exact
// download compared by sha512. The seed's `openstack user create ... glance` and service/endpoint
// registration are what `up` already did (monostack registers glance itself), so they are left out.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../../common/exec.js';
import { freePort, projectRoot } from '../../common/testing/process.js';

const here = dirname(fileURLToPath(import.meta.url));
const mainJs = join(here, '..', '..', 'cli', 'main.js');
const repo = projectRoot(import.meta.url);

function which(cmd: string): boolean {
  return (process.env.PATH ?? '').split(':').some((p) => p && existsSync(join(p, cmd)));
}


const missing = ['openstack', 'glance'].filter((c) => !which(c));
const skip = missing.length ? `Debian's ${missing.join(' and ')} CLI is not installed (apt-get install python3-openstackclient python3-glanceclient)` : false;
if (skip) console.log(`# skipping the image CLI e2e test: ${skip}`);

let dir: string;
let images: string;
let up: ChildProcess | undefined;
let env: NodeJS.ProcessEnv;

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'monostack-image-e2e-'));
  images = join(dir, 'test-images');
  await run('bash', [join(repo, 'scripts', 'build-test-images.sh'), images], { timeoutMs: 1_200_000 });
  const [idPort, imgPort] = [await freePort(), await freePort()];
  up = spawn(process.execPath, [mainJs, 'up', '--data-dir', join(dir, 'data'), '--port', String(idPort), '--admin-port', '0', '--admin-password', 'secret'], {
    env: {
      ...process.env, MONOSTACK_DEFAULT_ENABLED_SERVICES: 'identity,image', MONOSTACK_IMAGE_PORT: String(imgPort),
      MONOSTACK_IDENTITY_PASSWORD_HASH_ROUNDS: '4', MONOSTACK_CONFIG: '',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`monostack up did not get ready: ${out}`)), 60_000);
    up!.stdout!.on('data', (b: Buffer) => { out += b.toString(); if (out.includes('monostack ready')) { clearTimeout(t); resolve(); } });
    up!.stderr!.on('data', (b: Buffer) => { out += b.toString(); });
    up!.once('exit', (code) => { clearTimeout(t); reject(new Error(`monostack up exited (${code}): ${out}`)); });
  });
  assert.match(out, new RegExp(`image +http://127\\.0\\.0\\.1:${imgPort}`));
  env = {
    ...process.env, OS_AUTH_URL: `http://127.0.0.1:${idPort}/v3`, OS_USERNAME: 'admin', OS_PASSWORD: 'secret', OS_PROJECT_NAME: 'admin',
    OS_USER_DOMAIN_NAME: 'Default', OS_PROJECT_DOMAIN_NAME: 'Default', OS_IDENTITY_API_VERSION: '3', OS_IMAGE_API_VERSION: '2',
    OS_REGION_NAME: 'RegionOne', OS_INTERFACE: 'public',
  };
});

after(async () => {
  if (up && up.exitCode === null) {
    const exited = new Promise((r) => up!.once('exit', r));
    up.kill('SIGTERM');
    await exited;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const cli = async (cmd: string, args: string[]) => (await run(cmd, args, { env, timeoutMs: 120_000 })).stdout;
const showJson = async (name: string) => JSON.parse(await cli('openstack', ['image', 'show', name, '-f', 'json'])) as Record<string, unknown>;
const sha512File = (p: string) => createHash('sha512').update(readFileSync(p)).digest('hex');

test('the seed note\'s image commands with openstack and glance', { skip }, async () => {
  // glance image-list: empty to begin with.
  assert.match(await cli('glance', ['image-list']), /ID\s+\|\s+Name/);
  // openstack image create "cirros" --file ... --disk-format qcow2 --container-format bare --public
  const disk = join(images, 'disk.qcow2');
  await cli('openstack', ['image', 'create', 'cirros', '--file', disk, '--disk-format', 'qcow2', '--container-format', 'bare', '--public']);
  const list = await cli('openstack', ['image', 'list']);
  assert.match(list, /\|\s+cirros\s+\|\s+active\s+\|/);
  const shown = await showJson('cirros');
  assert.equal(shown.status, 'active');
  assert.equal(shown.visibility, 'public');
  assert.equal(shown.size, readFileSync(disk).length);
  assert.equal(shown.virtual_size, JSON.parse((await run('qemu-img', ['info', '--output=json', disk])).stdout)['virtual-size']);
  assert.equal((shown.properties as Record<string, unknown>).os_hash_value, sha512File(disk));
  // glance image-create --name ... --visibility public --progress
  const created = await cli('glance', ['image-create', '--name', 'cirros-glance', '--file', disk, '--disk-format', 'qcow2',
    '--container-format', 'bare', '--visibility', 'public', '--progress']);
  assert.match(created, /\|\s+status\s+\|\s+active\s+\|/);
  assert.match(created, /\|\s+visibility\s+\|\s+public\s+\|/);
  const glist = await cli('glance', ['image-list']);
  assert.match(glist, /cirros-glance/);
  assert.match(glist, /\|\s+cirros\s+\|/);
});

test('byte-exact download of the test guest image, compared by sha512', { skip }, async () => {
  const out = join(dir, 'downloaded.qcow2');
  await cli('openstack', ['image', 'save', 'cirros', '--file', out]);
  assert.equal(sha512File(out), sha512File(join(images, 'disk.qcow2')));
  const out2 = join(dir, 'downloaded-glance.qcow2');
  const id = String((await showJson('cirros-glance')).id);
  await cli('glance', ['image-download', '--file', out2, id]);
  assert.equal(sha512File(out2), sha512File(join(images, 'disk.qcow2')));
});

test('an AKI/ARI/AMI triple boots together: kernel_id and ramdisk_id on the machine image', { skip }, async () => {
  await cli('openstack', ['image', 'create', 'test-kernel', '--file', join(images, 'vmlinuz'), '--disk-format', 'aki', '--container-format', 'aki', '--public']);
  await cli('openstack', ['image', 'create', 'test-ramdisk', '--file', join(images, 'initrd'), '--disk-format', 'ari', '--container-format', 'ari', '--public']);
  const kernel = String((await showJson('test-kernel')).id);
  const ramdisk = String((await showJson('test-ramdisk')).id);
  await cli('openstack', ['image', 'create', 'test-machine', '--file', join(images, 'machine.img'), '--disk-format', 'ami', '--container-format', 'ami',
    '--property', `kernel_id=${kernel}`, '--property', `ramdisk_id=${ramdisk}`, '--public']);
  const machine = await showJson('test-machine');
  assert.equal(machine.status, 'active');
  const props = machine.properties as Record<string, unknown>;
  assert.equal(props.kernel_id, kernel);
  assert.equal(props.ramdisk_id, ramdisk);
  for (const name of ['test-kernel', 'test-ramdisk', 'test-machine']) assert.equal((await showJson(name)).status, 'active', name);
});

test('the CLIs report Glance\'s refusals: a lying disk_format, a duplicate upload', { skip }, async () => {
  const disk = join(images, 'disk.qcow2');
  // openstack (openstacksdk) deletes the image it created when the upload is refused.
  await assert.rejects(cli('openstack', ['image', 'create', 'liar', '--file', disk, '--disk-format', 'raw', '--container-format', 'bare']), /400/);
  assert.doesNotMatch(await cli('openstack', ['image', 'list']), /\bliar\b/);
  // glance shows Glance's message and leaves the image queued, with no data.
  await assert.rejects(cli('glance', ['image-create', '--name', 'liar2', '--file', disk, '--disk-format', 'raw', '--container-format', 'bare']),
    /HTTP 400 Bad Request: Image content does not match disk_format: image claims raw but is qcow2/);
  const liar = await showJson('liar2');
  assert.equal(liar.status, 'queued');
  assert.equal(liar.size ?? null, null);
  const id = String((await showJson('cirros')).id);
  await assert.rejects(cli('glance', ['image-upload', '--file', join(images, 'initrd'), id]), /409 Conflict/);
  assert.equal(sha512File(join(images, 'disk.qcow2')), (((await showJson('cirros')).properties) as Record<string, unknown>).os_hash_value);
  await cli('openstack', ['image', 'delete', 'liar2']);
  await assert.rejects(cli('openstack', ['image', 'show', 'liar2']), /No Image found for liar2/);
});
