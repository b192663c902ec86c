// End to end: Debian's `openstack` and `nova` clients against a test cloud for the flavor, keypair,
// quota, availability zone and hypervisor commands.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestCloud, type TestCloud } from '../../cli/test-cloud.js';

let c: TestCloud | undefined;
let dir: string;
before(async () => {
  if (!existsSync('/usr/bin/openstack')) return;
  c = await startTestCloud({ services: ['compute', 'placement'] });
  dir = mkdtempSync(join(tmpdir(), 'compute-cli-'));
});
after(async () => { await c?.close(); if (dir) rmSync(dir, { recursive: true, force: true }); });

function cli(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  const env = {
    PATH: '/usr/bin:/bin', HOME: dir, OS_AUTH_URL: c!.urls.identity + '/v3', OS_USERNAME: 'admin', OS_PASSWORD: c!.cloud.adminPassword,
    OS_PROJECT_NAME: 'admin', OS_USER_DOMAIN_NAME: 'Default', OS_PROJECT_DOMAIN_NAME: 'Default', OS_IDENTITY_API_VERSION: '3', OS_REGION_NAME: c!.cfg.DEFAULT.region,
  };
  return new Promise((resolve) => {
    execFile(cmd, args, { env, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: stdout + stderr });
    });
  });
}

test('openstack and nova clients: flavors, keypairs, quota, zones, hypervisors', { timeout: 600_000 }, async (t) => {
  if (!c) return t.skip('python3-openstackclient not installed');
  const fc = await cli('/usr/bin/openstack', ['flavor', 'create', '--ram', '512', '--disk', '1', '--vcpus', '1', 'm1.tiny']);
  assert.equal(fc.code, 0, fc.out);
  assert.match(fc.out, /\|\s*name\s*\|\s*m1\.tiny\s*\|/);
  const nl = await cli('/usr/bin/nova', ['flavor-list']);
  assert.equal(nl.code, 0, nl.out);
  assert.match(nl.out, /m1\.tiny\s*\|\s*512\s*\|\s*1\s*\|/);
  const ol = await cli('/usr/bin/openstack', ['flavor', 'list', '-f', 'value', '-c', 'Name', '-c', 'RAM']);
  assert.equal(ol.code, 0, ol.out);
  assert.match(ol.out, /^m1\.tiny 512$/m);

  const gen = await cli('/usr/bin/openstack', ['keypair', 'create', 'genkey']);
  assert.equal(gen.code, 0, gen.out);
  assert.match(gen.out, /BEGIN RSA PRIVATE KEY/);
  const pub = join(dir, 'k.pub');
  const shown = await cli('/usr/bin/openstack', ['keypair', 'show', '--public-key', 'genkey']);
  writeFileSync(pub, shown.out.trim() + '\n');
  const add = await cli('/usr/bin/nova', ['keypair-add', '--pub-key', pub, 'mykey']);
  assert.equal(add.code, 0, add.out);
  const kl = await cli('/usr/bin/openstack', ['keypair', 'list', '-f', 'value', '-c', 'Name']);
  assert.equal(kl.code, 0, kl.out);
  assert.deepEqual(kl.out.trim().split('\n').sort(), ['genkey', 'mykey']);

  const q = await cli('/usr/bin/openstack', ['quota', 'show']);
  assert.equal(q.code, 0, q.out);
  assert.match(q.out, /cores\s*\|\s*20/);
  const az = await cli('/usr/bin/openstack', ['availability', 'zone', 'list', '--compute', '-f', 'value']);
  assert.equal(az.code, 0, az.out);
  assert.match(az.out, /^nova available/m);
  const hv = await cli('/usr/bin/openstack', ['hypervisor', 'list', '-f', 'value', '-c', 'State']);
  assert.equal(hv.code, 0, hv.out);
  assert.match(hv.out, /^up$/m);
});
