import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AmqpBus, InMemoryBus, createBus } from './index.js';
import { busBehaviours } from './testing.js';

// The behaviour every bus shares (amqp.test.ts runs the same table on RabbitMQ).
for (const b of busBehaviours) test(`memory ${b.name}`, () => b.run(() => new InMemoryBus()));

test('memory: strict round robin in registration order, a cast is delivered on a later tick', async () => {
  const bus = new InMemoryBus();
  const a: number[] = []; const b: number[] = [];
  bus.consume('compute', (m) => { a.push((m as { n: number }).n); });
  bus.consume('compute', (m) => { b.push((m as { n: number }).n); });
  for (let i = 1; i <= 5; i++) await bus.cast('compute', { n: i });
  assert.equal(a.length + b.length, 0);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual([a, b], [[1, 3, 5], [2, 4]]);
  await bus.close();
});

test('createBus: memory by default, AMQP by URL, anything else refused without echoing a password', async () => {
  assert.ok(createBus('') instanceof InMemoryBus);
  assert.ok(createBus('memory') instanceof InMemoryBus);
  // Port 1 refuses at once; the bus keeps retrying in the background until closed.
  const amqp = createBus('rabbit://guest:guest@127.0.0.1:1/');
  assert.ok(amqp instanceof AmqpBus);
  await amqp.close();
  assert.throws(() => createBus('kafka://u:secret@h:9092'), (e: unknown) => e instanceof Error && /unsupported transport_url/.test(e.message) && !/secret/.test(e.message));
});
