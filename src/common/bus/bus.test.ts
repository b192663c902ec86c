import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InMemoryBus, BusTimeout, NoConsumer } from './index.js';

const tick = () => new Promise((r) => setImmediate(r));
const until = async (cond: () => boolean, ms = 1000) => {
  const end = Date.now() + ms;
  while (!cond()) { if (Date.now() > end) throw new Error('condition not met'); await tick(); }
};

test('cast: one consumer gets it, later, round robin, as a copy', async () => {
  const bus = new InMemoryBus();
  const a: unknown[] = []; const b: unknown[] = [];
  bus.consume('compute', (m) => { a.push(m); (m as { n: number }).n = -1; });
  bus.consume('compute', (m) => { b.push(m); });
  const msg = { n: 1 };
  await bus.cast('compute', msg);
  assert.equal(a.length + b.length, 0, 'a cast is never delivered inline');
  await until(() => a.length === 1);
  assert.deepEqual(a, [{ n: -1 }]);
  assert.deepEqual(msg, { n: 1 }, 'the consumer got a copy');
  for (let i = 2; i <= 5; i++) await bus.cast('compute', { n: i });
  await until(() => a.length + b.length === 5);
  assert.deepEqual(b, [{ n: 2 }, { n: 4 }]);
  assert.equal(a.length, 3);
  await bus.close();
});

test('cast: a failing consumer does not hurt the caster; no consumer is an error', async () => {
  const bus = new InMemoryBus();
  bus.consume('t', () => { throw new Error('boom'); });
  await bus.cast('t', {});
  await tick(); await tick();
  await assert.rejects(bus.cast('nobody', {}), NoConsumer);
  await assert.rejects(bus.cast('nobody', {}), /no consumer for topic nobody/);
});

test('call: the answer, the error, round robin, and a timeout', async () => {
  const bus = new InMemoryBus();
  const stop1 = bus.consume('scheduler', async (m) => ({ host: 'one', got: m }));
  bus.consume('scheduler', (m) => ({ host: 'two', got: m }));
  assert.deepEqual(await bus.call('scheduler', { x: 1 }), { host: 'one', got: { x: 1 } });
  assert.deepEqual(await bus.call('scheduler', { x: 2 }), { host: 'two', got: { x: 2 } });
  stop1();
  assert.equal((await bus.call<{ host: string }>('scheduler', {})).host, 'two');
  bus.consume('fails', async () => { throw new Error('no valid host'); });
  await assert.rejects(bus.call('fails', {}), /no valid host/);
  bus.consume('slow', () => new Promise((r) => setTimeout(() => r('late'), 500)));
  const t0 = Date.now();
  await assert.rejects(bus.call('slow', {}, 50), (e: unknown) => e instanceof BusTimeout && /call slow timed out after 50 ms/.test((e as Error).message));
  assert.ok(Date.now() - t0 < 400);
  await assert.rejects(bus.call('nobody', {}), NoConsumer);
  // A fast answer leaves no timer behind (the test process would otherwise wait 60 s).
  bus.consume('fast', () => 1);
  assert.equal(await bus.call('fast', {}), 1);
});

test('fanout: every subscriber, copies, failures isolated, unsubscribe', async () => {
  const bus = new InMemoryBus();
  const got: string[] = [];
  const off1 = bus.subscribe('revocations', (m) => { got.push(`1:${(m as { id: string }).id}`); });
  bus.subscribe('revocations', () => { throw new Error('bad subscriber'); });
  bus.subscribe('revocations', (m) => { got.push(`3:${(m as { id: string }).id}`); });
  await bus.fanout('revocations', { id: 'a' });
  assert.deepEqual(got, []);
  await until(() => got.length === 2);
  assert.deepEqual(got.sort(), ['1:a', '3:a']);
  off1();
  await bus.fanout('revocations', { id: 'b' });
  await until(() => got.length === 3);
  assert.deepEqual(got.slice(2), ['3:b']);
  await bus.fanout('nobody-listens', { id: 'c' }); // not an error
  await bus.close();
  await bus.fanout('revocations', { id: 'd' });
  await tick(); await tick();
  assert.equal(got.length, 3, 'nothing after close');
  await assert.rejects(bus.cast('anything', {}), NoConsumer);
});
