// The seed's two-host layout with the same code: a controller (`monostack up` with every API and
// no local agent) and a compute node (`monostack compute-node`), sharing PostgreSQL and RabbitMQ.
// A server booted through the controller lands on the compute node, and survives a restart of the
// compute node process (the agent reconciles; the guest — fake driver here — keeps its state).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startUp, UP_ENTRY } from '../../cli/up-process.js';
import { http } from '../../cli/test-cloud.js';
import { engineCases } from '../../common/testing/engines.js';

const reachable = (port: number) => new Promise<boolean>((res) => {
  const s = connect(port, '127.0.0.1');
  s.once('connect', () => { s.destroy(); res(true); });
  s.once('error', () => res(false));
});

function startNode(env: Record<string, string>): Promise<{ stop(): Promise<void>; out(): string }> {
  const child = spawn(process.execPath, [UP_ENTRY, 'compute-node'], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env } });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return new Promise((res, rej) => {
    const t = setTimeout(() => rej(new Error(`compute-node not ready:\n${out}`)), 60_000);
    child.stdout.on('data', () => {
      if (out.includes('monostack compute node ready')) { clearTimeout(t); res({ async stop() { child.kill('SIGTERM'); await exited; }, out: () => out }); }
    });
    void exited.then(() => { clearTimeout(t); rej(new Error(`compute-node exited:\n${out}`)); });
  });
}

test('controller + compute node over PostgreSQL and RabbitMQ', { timeout: 300_000 }, async (t) => {
  if (!(await reachable(5672))) return t.skip('RabbitMQ is not running on 127.0.0.1:5672');
  if (!(await reachable(5432))) return t.skip('PostgreSQL is not running on 127.0.0.1:5432');
  const db = `postgres://postgres@127.0.0.1:5432/monostack_mn_${randomBytes(4).toString('hex')}`;
  const shared = { MONOSTACK_DATABASE_URL: db, MONOSTACK_DEFAULT_TRANSPORT_URL: 'rabbit://guest:guest@127.0.0.1:5672/', MONOSTACK_COMPUTE_COMPUTE_DRIVER: 'fake' };
  const ctl = await startUp({ services: ['image', 'placement', 'compute'], env: { ...shared, MONOSTACK_COMPUTE_RUN_AGENT: 'false', MONOSTACK_COMPUTE_HOST: 'controller' } });
  const nodeDir = mkdtempSync(join(tmpdir(), 'monostack-node-'));
  const users = JSON.parse(readFileSync(join(ctl.stateDir, 'service-users.json'), 'utf8')) as Record<string, string>;
  const nodeEnv = {
    ...shared, MONOSTACK_DEFAULT_DATA_DIR: nodeDir, MONOSTACK_COMPUTE_HOST: 'compute2',
    MONOSTACK_COMPUTE_AUTH_URL: ctl.env.OS_AUTH_URL!, MONOSTACK_COMPUTE_SERVICE_PASSWORD: users.nova!,
  };
  let node = await startNode(nodeEnv);
  try {
    const identity = ctl.env.OS_AUTH_URL!.replace(/\/v3$/, '');
    const tok = await http(identity, 'POST', '/v3/auth/tokens', { body: { auth: {
      identity: { methods: ['password'], password: { user: { name: 'admin', domain: { id: 'default' }, password: ctl.env.OS_PASSWORD } } },
      scope: { project: { name: 'admin', domain: { id: 'default' } } },
    } } });
    const token = tok.headers.get('x-subject-token')!;
    const compute = `http://127.0.0.1:${ctl.ports.compute_port}/v2.1`;
    const image = `http://127.0.0.1:${ctl.ports.image_port}`;
    const V = { 'OpenStack-API-Version': 'compute 2.93' };
    assert.equal((await http(compute, 'POST', '/flavors', { token, body: { flavor: { name: 'm1.tiny', ram: 512, vcpus: 1, disk: 1, id: '1' } } })).status, 200);
    const img = await http(image, 'POST', '/v2/images', { token, body: { name: 'tiny', disk_format: 'raw', container_format: 'bare' } });
    await http(image, 'PUT', `/v2/images/${img.body.id}/file`, { token, raw: new Uint8Array(65536), headers: { 'Content-Type': 'application/octet-stream' } });

    const hosts = await http(compute, 'GET', '/os-services?binary=nova-compute', { token });
    assert.deepEqual(hosts.body.services.map((s: { host: string; state: string }) => [s.host, s.state]), [['compute2', 'up']]);

    const r = await http(compute, 'POST', '/servers', { token, headers: V, body: { server: { name: 'remote', imageRef: img.body.id, flavorRef: '1', networks: 'none' } } });
    assert.equal(r.status, 202, r.text);
    const id = r.body.server.id;
    const wait = async (pred: (s: Record<string, unknown>) => boolean) => {
      for (let i = 0; i < 300; i++) {
        const s = await http(compute, 'GET', `/servers/${id}`, { token, headers: V });
        if (s.status === 200 && pred(s.body.server)) return s.body.server;
        await new Promise((res) => setTimeout(res, 100));
      }
      throw new Error('timed out');
    };
    const s = await wait((x) => x.status === 'ACTIVE');
    assert.equal(s['OS-EXT-SRV-ATTR:host'], 'compute2');

    // The compute node restarts; its guest is still there and the server stays ACTIVE and manageable.
    await node.stop();
    node = await startNode(nodeEnv);
    const stop = await http(compute, 'POST', `/servers/${id}/action`, { token, headers: V, body: { 'os-stop': null } });
    assert.equal(stop.status, 202, stop.text);
    await wait((x) => x.status === 'SHUTOFF');
    assert.equal((await http(compute, 'DELETE', `/servers/${id}`, { token })).status, 204);
    for (let i = 0; i < 100 && (await http(compute, 'GET', `/servers/${id}`, { token })).status !== 404; i++) await new Promise((res) => setTimeout(res, 100));
    assert.equal((await http(compute, 'GET', `/servers/${id}`, { token })).status, 404);
  } finally {
    await node.stop().catch(() => undefined);
    await ctl.close();
    rmSync(nodeDir, { recursive: true, force: true });
    const pgEngine = engineCases('x').find((x) => x.name === 'postgres')!;
    await pgEngine.drop(db).catch(() => undefined);
  }
});
