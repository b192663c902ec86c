// The behaviour every Bus implementation shares, as a table of tests: bus.test.ts runs it on the
// in-memory bus, amqp.test.ts on RabbitMQ. `make` gives a fresh bus in a namespace of its own.

import assert from 'node:assert/strict';
import { ApiError, notFound } from '../errors.js';
import { BusTimeout, NoConsumer, type Bus } from './types.js';

export type MakeBus = () => Bus | Promise<Bus>;

const tick = () => new Promise((r) => setImmediate(r));

export async function until(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what} not met after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

class NoValidHost extends Error {
  override name = 'NoValidHost';
}

export const busBehaviours: Array<{ name: string; run(make: MakeBus): Promise<void> }> = [
  {
    name: 'cast: one consumer gets it, later, round robin, as a copy',
    async run(make) {
      const bus = await make();
      const a: number[] = []; const b: number[] = [];
      bus.consume('compute', (m) => { a.push((m as { n: number }).n); (m as { n: number }).n = -1; });
      bus.consume('compute', (m) => { b.push((m as { n: number }).n); (m as { n: number }).n = -1; });
      await bus.ready();
      const msg = { n: 1 };
      await bus.cast('compute', msg);
      assert.equal(a.length + b.length, 0, 'a cast is never delivered inline');
      await until(() => a.length + b.length === 1);
      assert.deepEqual(msg, { n: 1 }, 'the consumer got a copy');
      for (let i = 2; i <= 5; i++) await bus.cast('compute', { n: i });
      await until(() => a.length + b.length === 5);
      await tick();
      assert.equal(a.length + b.length, 5, 'each cast reaches exactly one consumer');
      const [first, second] = a[0] === 1 ? [a, b] : [b, a];
      assert.deepEqual({ first, second }, { first: [1, 3, 5], second: [2, 4] }, 'round robin');
      await bus.close();
    },
  },
  {
    name: 'cast: a failing consumer does not hurt the caster; no consumer is an error',
    async run(make) {
      const bus = await make();
      let calls = 0;
      bus.consume('t', () => { calls++; throw new Error('boom'); });
      await bus.ready();
      await bus.cast('t', {});
      await bus.cast('t', {});
      await until(() => calls === 2, 5000, 'the failing consumer keeps consuming');
      await assert.rejects(bus.cast('nobody', {}), NoConsumer);
      await assert.rejects(bus.cast('nobody', {}), /no consumer for topic nobody/);
      await bus.close();
    },
  },
  {
    name: 'call: the answer, typed errors, round robin, and a timeout',
    async run(make) {
      const bus = await make();
      const stop1 = bus.consume('scheduler', async (m) => ({ host: 'one', got: m }));
      bus.consume('scheduler', (m) => ({ host: 'two', got: m }));
      bus.consume('fails', async () => { throw new NoValidHost('no valid host: 3 hosts rejected'); });
      bus.consume('missing', () => { throw notFound('Instance abc could not be found.'); });
      bus.consume('slow', () => new Promise((r) => setTimeout(() => r('late'), 500)));
      bus.consume('fast', () => 1);
      bus.consume('nothing', () => undefined);
      await bus.ready();
      const r1 = await bus.call<{ host: string; got: unknown }>('scheduler', { x: 1 });
      const r2 = await bus.call<{ host: string; got: unknown }>('scheduler', { x: 2 });
      assert.deepEqual(r1.got, { x: 1 });
      assert.deepEqual(r2.got, { x: 2 });
      assert.deepEqual([r1.host, r2.host].sort(), ['one', 'two'], 'round robin');
      stop1();
      await bus.ready();
      for (let i = 0; i < 3; i++) assert.equal((await bus.call<{ host: string }>('scheduler', {})).host, 'two');
      await assert.rejects(bus.call('fails', {}), (e: unknown) => e instanceof Error && e.name === 'NoValidHost' && /no valid host: 3 hosts rejected/.test(e.message));
      await assert.rejects(bus.call('missing', {}), (e: unknown) => e instanceof ApiError && e.kind === 'NotFound' && e.status === 404 && e.message === 'Instance abc could not be found.');
      const t0 = Date.now();
      await assert.rejects(bus.call('slow', {}, 50), (e: unknown) => e instanceof BusTimeout && /call slow timed out after 50 ms/.test((e as Error).message));
      assert.ok(Date.now() - t0 < 400);
      await assert.rejects(bus.call('nobody', {}), NoConsumer);
      assert.equal(await bus.call('nothing', {}), undefined);
      // A fast answer leaves no timer behind (the test process would otherwise wait 60 s).
      assert.equal(await bus.call('fast', {}), 1);
      await bus.close();
    },
  },
  {
    name: 'fanout: every subscriber, copies, failures isolated, unsubscribe',
    async run(make) {
      const bus = await make();
      const got: string[] = [];
      const off1 = bus.subscribe('revocations', (m) => { got.push(`1:${(m as { id: string }).id}`); (m as { id: string }).id = 'x'; });
      bus.subscribe('revocations', () => { throw new Error('bad subscriber'); });
      bus.subscribe('revocations', (m) => { got.push(`3:${(m as { id: string }).id}`); });
      await bus.ready();
      // Never delivered inside the call. (Checked before awaiting it: over AMQP the copy may come
      // back from the broker before the publisher's confirm resolves the promise.)
      const sent = bus.fanout('revocations', { id: 'a' });
      assert.deepEqual(got, []);
      await sent;
      await until(() => got.length === 2);
      assert.deepEqual(got.sort(), ['1:a', '3:a']);
      off1();
      await bus.ready();
      await bus.fanout('revocations', { id: 'b' });
      await until(() => got.length === 3);
      await tick();
      assert.deepEqual(got.slice(2), ['3:b']);
      await bus.fanout('nobody-listens', { id: 'c' }); // not an error
      await bus.close();
      await bus.fanout('revocations', { id: 'd' });
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(got.length, 3, 'nothing after close');
      await assert.rejects(bus.cast('anything', {}), NoConsumer);
    },
  },
];
