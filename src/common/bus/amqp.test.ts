// AmqpBus against the real RabbitMQ on 127.0.0.1:5672 (guest/guest; MONOSTACK_TEST_AMQP_URL
// overrides): the behaviour table every bus shares, then a controller (this process) and compute
// nodes in separate processes, then a broker restart (rabbitmqctl stop_app / start_app) after which
// the same buses work again. Every name carries a per-run prefix so parallel runs don't collide
// (the restart test does affect every user of the broker).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { Connection } from 'rabbitmq-client';
import { ApiError } from '../errors.js';
import { run } from '../exec.js';
import { AmqpBus, BusTimeout, NoConsumer, RemoteError, createBus, type Bus } from './index.js';
import { parseTransportUrl } from './amqp.js';
import { busBehaviours, until } from './testing.js';

const URL = process.env.MONOSTACK_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const RUN = `test.${randomBytes(4).toString('hex')}.`;
let n = 0;
const makeBus = (prefix = `${RUN}${n++}.`) => new AmqpBus(URL, { prefix, retryHighMs: 1000 });

function reachable(): Promise<boolean> {
  const { hosts } = parseTransportUrl(URL);
  const [host, port] = (hosts![0] as string).split(':');
  return new Promise((resolve) => {
    const s = connect({ host, port: Number(port ?? 5672) });
    s.setTimeout(2000);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
    s.once('timeout', () => { s.destroy(); resolve(false); });
  });
}

let skip: string | false = false;
let ctlSkip: string | false = false;
before(async () => {
  if (!(await reachable())) {
    skip = `RabbitMQ is not reachable at ${URL.replace(/\/\/[^@/]*@/, '//***@')} (start it: rabbitmq-server -detached, then retry rabbitmqctl -q await_startup until it succeeds)`;
    console.log(`# SKIP amqp tests: ${skip}`);
    return;
  }
  try {
    await run('rabbitmqctl', ['-q', 'status'], { timeoutMs: 30_000 });
  } catch (e) {
    ctlSkip = `rabbitmqctl cannot drive the local broker: ${(e as Error).message.split('\n')[0]}`;
    console.log(`# SKIP broker restart test: ${ctlSkip}`);
  }
});

// Exchanges are non-durable but not auto-delete (as oslo.messaging's): remove this run's.
after(async () => {
  if (skip || ctlSkip) return;
  const { stdout } = await run('rabbitmqctl', ['-q', 'list_exchanges', 'name'], { timeoutMs: 30_000 });
  const mine = stdout.split('\n').map((l) => l.trim()).filter((l) => l.startsWith(RUN));
  if (mine.length === 0) return;
  const conn = new Connection(URL);
  for (const exchange of mine) await conn.exchangeDelete({ exchange });
  await conn.close();
});

/** Runs fn with a bus factory; every bus made is closed afterwards, even when fn failed. */
async function withBuses(fn: (make: (prefix?: string) => AmqpBus) => Promise<void>): Promise<void> {
  const made: Bus[] = [];
  try {
    await fn((prefix) => { const b = makeBus(prefix); made.push(b); return b; });
  } finally {
    await Promise.allSettled(made.map((b) => b.close()));
  }
}

for (const b of busBehaviours) {
  test(`amqp ${b.name}`, async (t) => {
    if (skip) return t.skip(skip);
    await withBuses((m) => b.run(() => m()));
  });
}

test('amqp: createBus takes oslo.messaging transport URLs', async (t) => {
  assert.deepEqual(parseTransportUrl('rabbit://openstack:s%40cret@ctl1:5672,openstack:s%40cret@ctl2/nova?heartbeat=30'),
    { hosts: ['ctl1:5672', 'ctl2'], username: 'openstack', password: 's@cret', vhost: 'nova', heartbeat: 30 });
  assert.deepEqual(parseTransportUrl('amqps://u:p@h/'), { hosts: ['h'], username: 'u', password: 'p', vhost: '/', tls: true });
  assert.throws(() => parseTransportUrl('rabbit://u:p@[::1]:5672/'), /IPv6/);
  if (skip) return t.skip(skip);
  const bus = createBus(URL.replace(/^amqp:/, 'rabbit:'), { prefix: `${RUN}url.` });
  try {
    bus.consume('echo', (m) => m);
    await bus.ready();
    assert.deepEqual(await bus.call('echo', { a: [1, 'two', null] }), { a: [1, 'two', null] });
  } finally {
    await bus.close();
  }
});

// A compute node in a process of its own: its own AmqpBus, consuming its host topic, the shared
// `compute` and `scheduler` topics and the `revocations` fanout; it reports casts and fanouts back
// to the controller with a cast to `conductor`.
const NODE = `
const [url, prefix, host] = process.argv.slice(1);
const { AmqpBus } = await import(${JSON.stringify(new globalThis.URL('./index.js', import.meta.url).href)});
const { notFound } = await import(${JSON.stringify(new globalThis.URL('../errors.js', import.meta.url).href)});
const bus = new AmqpBus(url, { prefix, retryHighMs: 1000, connectionName: 'compute ' + host });
class HypervisorError extends Error { name = 'HypervisorError'; kind = 'Conflict'; }
bus.consume('compute.' + host, async (m) => {
  if (m.op === 'whoami') return { host, pid: process.pid, connects: bus.connects };
  if (m.op === 'fail') throw new HypervisorError('qemu refused on ' + host);
  if (m.op === 'missing') throw notFound('Instance ' + m.id + ' could not be found.');
  if (m.op === 'sleep') { await new Promise((r) => setTimeout(r, m.ms)); return 'slept'; }
  throw new Error('unknown op ' + m.op);
});
const report = (what) => bus.cast('conductor', { host, ...what }).catch((e) => process.stderr.write('report failed: ' + e.message + '\\n'));
bus.consume('compute', (m) => report({ cast: m }));
bus.consume('scheduler', () => ({ host, pid: process.pid }));
bus.subscribe('revocations', (m) => report({ fanout: m }));
await bus.ready();
process.stdout.write('ready\\n');
process.on('SIGTERM', () => { bus.close().then(() => process.exit(0)); });
`;

interface Node { host: string; child: ChildProcess; exited: Promise<number | null> }

async function startNode(prefix: string, host: string): Promise<Node> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', NODE, URL, prefix, host], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => { err += String(d); });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`compute node ${host} not ready after 15 s: ${err}`)), 15_000);
    child.stdout!.on('data', (d) => { if (String(d).includes('ready')) { clearTimeout(timer); resolve(); } });
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`compute node ${host} exited ${code}: ${err}`)); });
  });
  return { host, child, exited };
}

async function stopNode(node: Node): Promise<void> {
  if (node.child.exitCode !== null) return;
  node.child.kill('SIGTERM');
  const t = setTimeout(() => node.child.kill('SIGKILL'), 5000);
  await node.exited;
  clearTimeout(t);
}

interface Report { host: string; cast?: { n: number }; fanout?: { id: string } }

test('amqp: a controller and two compute nodes in separate processes', async (t) => {
  if (skip) return t.skip(skip);
  const prefix = `${RUN}nodes.`;
  const nodes: Node[] = [];
  await withBuses(async (make) => {
    const ctl = make(prefix);
    const reports: Report[] = [];
    ctl.consume('conductor', (m) => { reports.push(m as Report); });
    await ctl.ready();
    nodes.push(await startNode(prefix, 'host1'), await startNode(prefix, 'host2'));

    // call, to a given host, answered by another process
    const w1 = await ctl.call<{ host: string; pid: number }>('compute.host1', { op: 'whoami' });
    const w2 = await ctl.call<{ host: string; pid: number }>('compute.host2', { op: 'whoami' });
    assert.deepEqual([w1.host, w2.host], ['host1', 'host2']);
    assert.notEqual(w1.pid, process.pid);
    assert.notEqual(w1.pid, w2.pid);

    // errors thrown over there come back typed
    await assert.rejects(ctl.call('compute.host1', { op: 'fail' }),
      (e: unknown) => e instanceof RemoteError && e.name === 'HypervisorError' && e.kind === 'Conflict' && e.message === 'qemu refused on host1');
    await assert.rejects(ctl.call('compute.host2', { op: 'missing', id: 'abc' }),
      (e: unknown) => e instanceof ApiError && e.kind === 'NotFound' && e.status === 404 && e.message === 'Instance abc could not be found.');

    // a timeout, while the node is busy; the node stays usable
    const t0 = Date.now();
    await assert.rejects(ctl.call('compute.host1', { op: 'sleep', ms: 1500 }, 200),
      (e: unknown) => e instanceof BusTimeout && /call compute.host1 timed out after 200 ms/.test((e as Error).message));
    assert.ok(Date.now() - t0 < 1000, `timed out after ${Date.now() - t0} ms`);
    assert.equal(await ctl.call('compute.host1', { op: 'sleep', ms: 1 }), 'slept');

    // round robin between the two processes, for calls and casts
    const hosts: string[] = [];
    for (let i = 0; i < 4; i++) hosts.push((await ctl.call<{ host: string }>('scheduler', {})).host);
    assert.deepEqual([hosts[0] !== hosts[1], hosts[0] === hosts[2], hosts[1] === hosts[3]], [true, true, true], `alternates: ${hosts}`);
    assert.deepEqual([...hosts].sort(), ['host1', 'host1', 'host2', 'host2']);
    for (let i = 1; i <= 4; i++) await ctl.cast('compute', { n: i });
    await until(() => reports.filter((r) => r.cast).length === 4, 5000, 'four casts reported');
    const byHost = (h: string) => reports.filter((r) => r.cast && r.host === h).map((r) => r.cast!.n).sort();
    assert.equal(byHost('host1').length, 2);
    assert.equal(byHost('host2').length, 2);
    assert.deepEqual([...byHost('host1'), ...byHost('host2')].sort(), [1, 2, 3, 4]);

    // fanout reaches every node
    await ctl.fanout('revocations', { id: 'tok1' });
    await until(() => reports.filter((r) => r.fanout).length === 2, 5000, 'fanout reported by both nodes');
    assert.deepEqual(reports.filter((r) => r.fanout).map((r) => `${r.host}:${r.fanout!.id}`).sort(), ['host1:tok1', 'host2:tok1']);

    // a host nobody serves, and a host that went away
    await assert.rejects(ctl.call('compute.host3', { op: 'whoami' }), NoConsumer);
    await stopNode(nodes[1]!);
    await assert.rejects(ctl.call('compute.host2', { op: 'whoami' }), (e: unknown) => e instanceof NoConsumer && /no consumer for topic compute.host2/.test((e as Error).message));
    assert.equal((await ctl.call<{ host: string }>('scheduler', {})).host, 'host1');
  }).finally(() => Promise.all(nodes.map(stopNode)));
});

/** Retries op until it succeeds (NoConsumer and BusTimeout are expected while things reconnect). */
async function eventually<T>(what: string, op: () => Promise<T>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await op();
    } catch (e) {
      if (!(e instanceof NoConsumer || e instanceof BusTimeout) || Date.now() > end) throw new Error(`${what}: ${(e as Error).message}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

test('amqp: after a broker restart the same buses cast, call and fanout again', async (t) => {
  if (skip) return t.skip(skip);
  if (ctlSkip) return t.skip(ctlSkip);
  const prefix = `${RUN}restart.`;
  let node: Node | undefined;
  let stopped = false;
  await withBuses(async (make) => {
    const ctl = make(prefix);
    const reports: Report[] = [];
    ctl.consume('conductor', (m) => { reports.push(m as Report); });
    await ctl.ready();
    node = await startNode(prefix, 'host1');
    assert.equal((await ctl.call<{ connects: number }>('compute.host1', { op: 'whoami' })).connects, 1);

    stopped = true;
    await run('rabbitmqctl', ['-q', 'stop_app'], { timeoutMs: 60_000 });
    // While the broker is down a call fails by its timeout, not later and not with anything else.
    const t0 = Date.now();
    await assert.rejects(ctl.call('compute.host1', { op: 'whoami' }, 300), BusTimeout);
    assert.ok(Date.now() - t0 < 1000);
    // A call and a cast made during the outage wait for the broker and go through after it.
    const during = ctl.call<{ connects: number; pid: number }>('compute.host1', { op: 'whoami' }, 30_000);
    const castDuring = ctl.cast('compute', { n: 100 });
    await run('rabbitmqctl', ['-q', 'start_app'], { timeoutMs: 60_000 });
    stopped = false;
    const up = Date.now();
    const w = await during;
    const callBack = Date.now() - up;
    await castDuring;
    assert.ok(w.connects >= 2, 'the compute node reconnected');
    assert.ok(ctl.connects >= 2, 'the controller reconnected');
    assert.equal(w.pid, node.child.pid, 'the same process, not a new one');
    await until(() => reports.some((r) => r.cast?.n === 100), 5000, 'the cast made during the outage reported');

    // after the restart, without retries by the caller
    assert.equal((await ctl.call<{ host: string }>('compute.host1', { op: 'whoami' }, 5000)).host, 'host1');
    await ctl.cast('compute', { n: 101 });
    await until(() => reports.some((r) => r.cast?.n === 101), 5000, 'cast reported');
    // fanout has no NoConsumer to wait on: retry until the node's re-declared queue is bound
    let j = 0;
    await eventually('fanout after restart', async () => {
      const id = `after${++j}`;
      await ctl.fanout('revocations', { id });
      await until(() => reports.some((r) => r.fanout?.id === id), 1000, 'fanout reported').catch(() => { throw new BusTimeout('not reported yet'); });
    });
    const allBack = Date.now() - up;
    // an error still comes back typed over the new connection
    await assert.rejects(ctl.call('compute.host1', { op: 'fail' }), (e: unknown) => e instanceof RemoteError && e.name === 'HypervisorError');
    console.log(`# broker restart: the call made during the outage answered ${callBack} ms, a fanout arrived ${allBack} ms after start_app returned`);
  }).finally(async () => {
    if (stopped) await run('rabbitmqctl', ['-q', 'start_app'], { timeoutMs: 60_000 });
    if (node) await stopNode(node);
  });
});
