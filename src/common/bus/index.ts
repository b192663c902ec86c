// The message bus between services and agents: cast (fire and forget to one consumer of a topic),
// call (request/response with a timeout) and fanout (every subscriber). In-memory within one
// process (`monostack up`); AmqpBus (amqp.ts) carries the same interface over RabbitMQ between
// hosts. createBus() picks one from the transport URL.

import { AmqpBus, type AmqpBusOptions } from './amqp.js';
import { BusTimeout, NoConsumer, type Bus, type Handler } from './types.js';

export { BusTimeout, NoConsumer, RemoteError, type Bus, type Handler, type WireError } from './types.js';
export { AmqpBus, type AmqpBusOptions, type BusLog } from './amqp.js';

/**
 * The bus for a transport URL (the [DEFAULT] transport_url option): '' or 'memory' is the
 * in-process bus; 'rabbit://', 'amqp://' or 'amqps://user:pass@host:port[,user:pass@host2:port]/vhost'
 * is RabbitMQ, as oslo.messaging writes it.
 */
export function createBus(url: string, opts: AmqpBusOptions = {}): Bus {
  const u = url.trim();
  if (u === '' || u === 'memory' || u === 'memory://') return new InMemoryBus();
  if (/^(rabbit|amqps?):\/\//i.test(u)) return new AmqpBus(u, opts);
  throw new Error(`unsupported transport_url ${JSON.stringify(u.replace(/\/\/[^@/]*@/, '//***@'))}: use '' (in-process), rabbit://, amqp:// or amqps://`);
}

export class InMemoryBus implements Bus {
  private consumers = new Map<string, Handler[]>();
  private next = new Map<string, number>();
  private subscribers = new Map<string, Set<Handler>>();

  private pick(topic: string): Handler {
    const list = this.consumers.get(topic);
    if (!list || list.length === 0) throw new NoConsumer(`no consumer for topic ${topic}`);
    const i = (this.next.get(topic) ?? 0) % list.length;
    this.next.set(topic, i + 1);
    return list[i]!;
  }

  async cast(topic: string, msg: unknown): Promise<void> {
    const h = this.pick(topic);
    // Delivered on a later tick, as a broker would: the caster never runs the handler inline.
    setImmediate(() => { void Promise.resolve().then(() => h(structuredClone(msg))).catch(() => undefined); });
  }

  async call<T>(topic: string, msg: unknown, timeoutMs = 60_000): Promise<T> {
    const h = this.pick(topic);
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        Promise.resolve().then(() => h(structuredClone(msg))) as Promise<T>,
        new Promise<never>((_, rej) => { timer = setTimeout(() => rej(new BusTimeout(`call ${topic} timed out after ${timeoutMs} ms`)), timeoutMs); }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  async fanout(exchange: string, msg: unknown): Promise<void> {
    for (const h of this.subscribers.get(exchange) ?? []) {
      setImmediate(() => { void Promise.resolve().then(() => h(structuredClone(msg))).catch(() => undefined); });
    }
  }

  consume(topic: string, handler: Handler): () => void {
    const list = this.consumers.get(topic) ?? [];
    list.push(handler);
    this.consumers.set(topic, list);
    return () => { this.consumers.set(topic, (this.consumers.get(topic) ?? []).filter((h) => h !== handler)); };
  }

  subscribe(exchange: string, handler: Handler): () => void {
    const set = this.subscribers.get(exchange) ?? new Set();
    set.add(handler);
    this.subscribers.set(exchange, set);
    return () => { set.delete(handler); };
  }

  async ready(): Promise<void> {}

  async close(): Promise<void> {
    this.consumers.clear();
    this.subscribers.clear();
  }
}
