// The config drive of a real QEMU guest booted through the API holds the metadata API's documents:
// the agent's driver builds the ISO (config-2) from the instance's rows at spawn, and every
// OpenStack document on it is what the metadata API serves for the same server (random_seed aside,
// and the build's admin_pass, which only the drive carries, as in Nova).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { startTestCloud, type TestCloud } from '../../cli/test-cloud.js';
import { killGuestsUnder, qemuPidsMentioning } from '../../cli/up-process.js';
import { testImages, which } from '../agent/drivers/testing.js';
import { signInstanceId } from '../metadata/server.js';

const SECRET = 'config-drive-e2e';
const V = { 'OpenStack-API-Version': 'compute 2.93' };
const skip = !existsSync('/usr/bin/qemu-system-x86_64') ? 'qemu-system-x86 not installed' : !which('isoinfo') || !which('genisoimage') ? 'genisoimage/isoinfo not installed' : false;

test('a QEMU guest booted with config_drive gets the metadata API documents on its config-2 ISO, and new ones when rebuilt', { skip, timeout: 300_000 }, async () => {
  const imgs = await testImages();
  let c: TestCloud | undefined;
  try {
    c = await startTestCloud({ services: ['image', 'placement', 'compute'], config: { compute: { compute_driver: 'qemu', host: 'cd-host', shutdown_timeout: 1, metadata_proxy_shared_secret: SECRET } } });
    const p = await c.project('cdrive');
    const admin = await c.adminToken();
    await c.call('compute', 'POST', '/flavors', { token: admin, body: { flavor: { name: 'cd.tiny', ram: 256, vcpus: 1, disk: 1, id: 'cd1' } } });
    const img = await c.call('image', 'POST', '/v2/images', { token: p.token, body: { name: 'guest', disk_format: 'qcow2', container_format: 'bare' } });
    await c.call('image', 'PUT', `/v2/images/${img.body.id}/file`, { token: p.token, raw: readFileSync(imgs.disk), headers: { 'Content-Type': 'application/octet-stream' } });
    const kp = await c.call('compute', 'POST', '/os-keypairs', { token: p.token, body: { keypair: { name: 'cdkey' } } });
    assert.equal(kp.status, 200, kp.text);
    const userData = Buffer.from('#cloud-config\nhostname: from-user-data\n');
    const r = await c.call('compute', 'POST', '/servers', { token: p.token, headers: V, body: { server: {
      name: 'cd-guest', imageRef: img.body.id, flavorRef: 'cd1', networks: 'none', key_name: 'cdkey', config_drive: true,
      metadata: { purpose: 'config drive' }, user_data: userData.toString('base64'),
    } } });
    assert.equal(r.status, 202, r.text);
    const id = r.body.server.id as string;
    let s: Record<string, unknown> = {};
    for (let i = 0; i < 600 && s.status !== 'ACTIVE'; i++) {
      s = (await c.call('compute', 'GET', `/servers/${id}`, { token: p.token, headers: V })).body.server;
      assert.notEqual(s.status, 'ERROR', JSON.stringify(s));
      if (s.status !== 'ACTIVE') await new Promise((res) => setTimeout(res, 100));
    }
    assert.equal(s.status, 'ACTIVE');
    assert.equal(qemuPidsMentioning(id).length, 1, 'one QEMU process runs the guest');

    const iso = join(c.dataDir, 'instances', id, 'disk.config');
    const listing = execFileSync('isoinfo', ['-i', iso, '-J', '-f'], { encoding: 'utf8' }).split('\n').filter(Boolean).sort();
    const read = (path: string) => execFileSync('isoinfo', ['-i', iso, '-J', '-x', path]);
    assert.ok(listing.includes('/openstack/latest/meta_data.json') && listing.includes('/ec2/latest/meta-data.json'), listing.join(' '));
    const files = listing.filter((f) => /\/(meta_data\.json|user_data|vendor_data2?\.json|network_data\.json)$/.test(f));
    assert.equal(files.length, 40, 'every OpenStack version, as Nova writes them');

    const base = `http://127.0.0.1:${c.cfg.compute.metadata_port}`;
    const headers = { 'X-Instance-ID': id, 'X-Tenant-ID': p.projectId, 'X-Instance-ID-Signature': signInstanceId(SECRET, id) };
    const seedless = (t: string) => t.replace(/"random_seed": "[^"]*"/, '"random_seed": ""');
    // The drive's meta_data.json also has the build's admin_pass, which the API never shows (as Nova).
    const driveDoc = (f: string, pass: string) => {
      const t = read(f).toString('utf8');
      if (!f.endsWith('/meta_data.json')) return t;
      assert.ok(t.includes(`, "admin_pass": ${JSON.stringify(pass)}, `), `${f} has admin_pass`);
      return t.replace(`, "admin_pass": ${JSON.stringify(pass)}`, '');
    };
    for (const f of files) {
      const api = await fetch(base + f, { headers });
      assert.equal(api.status, 200, f);
      const text = await api.text();
      assert.ok(!text.includes('admin_pass'), f);
      assert.equal(seedless(driveDoc(f, r.body.server.adminPass)), seedless(text), f);
    }
    const meta = JSON.parse(read('/openstack/latest/meta_data.json').toString('utf8'));
    assert.equal(meta.uuid, id);
    assert.equal(meta.admin_pass, r.body.server.adminPass);
    assert.equal(meta.hostname, 'cd-guest.novalocal');
    assert.deepEqual(meta.meta, { purpose: 'config drive' });
    assert.deepEqual(meta.public_keys, { cdkey: kp.body.keypair.public_key });
    assert.deepEqual(read('/openstack/latest/user_data'), userData);
    assert.deepEqual(read('/ec2/latest/user-data'), userData);
    const ec2 = JSON.parse(read('/ec2/latest/meta-data.json').toString('utf8'));
    assert.equal(ec2['instance-id'], await (await fetch(`${base}/latest/meta-data/instance-id`, { headers })).text());
    assert.equal(ec2['public-keys']['0']['openssh-key'], kp.body.keypair.public_key);

    // Rebuild with another key and user data (2.54, 2.57): a new drive, again the API's documents.
    const kp2 = await c.call('compute', 'POST', '/os-keypairs', { token: p.token, body: { keypair: { name: 'cdkey2' } } });
    assert.equal(kp2.status, 200, kp2.text);
    const userData2 = Buffer.from('#!/bin/sh\necho rebuilt\n');
    const rb = await c.call('compute', 'POST', `/servers/${id}/action`, { token: p.token, headers: V, body: { rebuild: { imageRef: img.body.id, key_name: 'cdkey2', user_data: userData2.toString('base64') } } });
    assert.equal(rb.status, 202, rb.text);
    s = {};
    for (let i = 0; i < 600 && !(s.status === 'ACTIVE' && !s['OS-EXT-STS:task_state']); i++) {
      await new Promise((res) => setTimeout(res, 100));
      s = (await c.call('compute', 'GET', `/servers/${id}`, { token: p.token, headers: V })).body.server;
      assert.notEqual(s.status, 'ERROR', JSON.stringify(s));
    }
    assert.deepEqual(read('/openstack/latest/user_data'), userData2);
    const rebuilt = JSON.parse(read('/openstack/latest/meta_data.json').toString('utf8'));
    assert.deepEqual(rebuilt.public_keys, { cdkey2: kp2.body.keypair.public_key });
    assert.equal(rebuilt.admin_pass, rb.body.server.adminPass, 'the rebuild\'s admin password');
    assert.notEqual(rb.body.server.adminPass, r.body.server.adminPass);
    for (const f of ['/openstack/latest/meta_data.json', '/openstack/latest/user_data', '/openstack/2013-04-04/meta_data.json']) {
      assert.equal(seedless(driveDoc(f, rb.body.server.adminPass)), seedless(await (await fetch(base + f, { headers })).text()), f);
    }
    assert.ok(!existsSync(`${iso}.rebuild`));

    const d = await c.call('compute', 'DELETE', `/servers/${id}`, { token: p.token, headers: V });
    assert.equal(d.status, 204, d.text);
    for (let i = 0; i < 300 && qemuPidsMentioning(id).length; i++) await new Promise((res) => setTimeout(res, 100));
    assert.deepEqual(qemuPidsMentioning(id), []);
  } finally {
    if (c) {
      const dir = c.dataDir;
      await c.close();
      killGuestsUnder(dir);
    }
  }
});
