// A running VM survives a restart of the control plane (issue 5, the agent's reconciliation): the
// whole cloud stops — identity, image, placement, compute and its agent — while a real QEMU guest
// runs; a new cloud on the same data directory finds the same QEMU process, shows the server
// ACTIVE and can still manage it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestCloud, type TestCloud } from '../../cli/test-cloud.js';
import { killGuestsUnder, qemuPidsMentioning } from '../../cli/up-process.js';
import { freePort } from '../../common/testing/process.js';
import { testImages } from '../agent/drivers/testing.js';

const qemuPids = qemuPidsMentioning;

test('a running guest survives a restart of the whole control plane', { skip: existsSync('/usr/bin/qemu-system-x86_64') ? false : 'qemu-system-x86 not installed', timeout: 300_000 }, async () => {
  const imgs = await testImages();
  const dataDir = mkdtempSync(join(tmpdir(), 'monostack-restart-'));
  const ports = {
    identity: { port: await freePort(), admin_port: 0 }, image: { port: await freePort() }, placement: { port: await freePort() },
    compute: { port: await freePort(), metadata_port: await freePort(), novncproxy_port: await freePort(), compute_driver: 'qemu', host: 'restart-host', shutdown_timeout: 1 },
  };
  const start = () => startTestCloud({ services: ['image', 'placement', 'compute'], dataDir, config: ports });
  let c: TestCloud | undefined = await start();
  try {
    const p = await c.project('restart');
    const admin = await c.adminToken();
    await c.call('compute', 'POST', '/flavors', { token: admin, body: { flavor: { name: 'm1.tiny', ram: 256, vcpus: 1, disk: 1, id: '1' } } });
    const img = await c.call('image', 'POST', '/v2/images', { token: p.token, body: { name: 'guest', disk_format: 'qcow2', container_format: 'bare' } });
    await c.call('image', 'PUT', `/v2/images/${img.body.id}/file`, { token: p.token, raw: readFileSync(imgs.disk), headers: { 'Content-Type': 'application/octet-stream' } });
    const V = { 'OpenStack-API-Version': 'compute 2.93' };
    const r = await c.call('compute', 'POST', '/servers', { token: p.token, headers: V, body: { server: { name: 'survivor', imageRef: img.body.id, flavorRef: '1', networks: 'none' } } });
    const id = r.body.server.id;
    const waitStatus = async (cloud: TestCloud, token: string, status: string) => {
      for (let i = 0; i < 600; i++) {
        const s = await cloud.call('compute', 'GET', `/servers/${id}`, { token, headers: V });
        if (s.body?.server?.status === status && !s.body.server['OS-EXT-STS:task_state']) return s.body.server;
        await new Promise((res) => setTimeout(res, 100));
      }
      throw new Error(`server never reached ${status}`);
    };
    await waitStatus(c, p.token, 'ACTIVE');
    const [pid] = qemuPids(id);
    assert.ok(pid, 'a QEMU process runs the guest');

    await c.close();
    c = undefined;
    assert.deepEqual(qemuPids(id), [pid], 'the guest keeps running while the control plane is down');

    c = await start();
    // The user's token from before the restart is still valid (Fernet keys persist).
    const s = await waitStatus(c, p.token, 'ACTIVE');
    assert.equal(s['OS-EXT-STS:power_state'], 1);
    assert.deepEqual(qemuPids(id), [pid], 'the same process, found again by the agent');
    const stop = await c.call('compute', 'POST', `/servers/${id}/action`, { token: p.token, headers: V, body: { 'os-stop': null } });
    assert.equal(stop.status, 202, stop.text);
    await waitStatus(c, p.token, 'SHUTOFF');
    assert.deepEqual(qemuPids(id), []);
    assert.equal((await c.call('compute', 'DELETE', `/servers/${id}`, { token: p.token })).status, 204);
  } finally {
    await c?.close();
    killGuestsUnder(dataDir);
    rmSync(dataDir, { recursive: true, force: true });
  }
});
