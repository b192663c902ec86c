// The Bus over RabbitMQ (AMQP 0-9-1), laid out as oslo.messaging's rabbit driver does, so that an
// operator who knows `rabbitmqctl list_queues` on an OpenStack controller finds their way here:
//
//   cast/call  publish to the topic exchange `monostack` (non-durable) with routing key = topic.
//              Each consumer of a topic consumes the queue named after the topic (non-durable,
//              auto-delete, bound with the topic as key), so RabbitMQ hands messages to the
//              consumers of a topic in turn (round robin).
//   call       carries replyTo = this process's reply queue `reply_<uuid>` (exclusive, auto-delete)
//              and a correlationId; the answer is {"result": ...} or {"failure": {name, message,
//              kind, detail}}, from which the caller rebuilds the error (types.ts errorFromWire).
//              A call also carries expiration = its timeout, so a request nobody took in time is
//              dropped by the broker instead of running after its caller gave up.
//   fanout     publish to the fanout exchange `<name>_fanout`; each subscriber has its own
//              exclusive auto-delete queue `<name>_fanout_<uuid>` bound to it.
//   messages   JSON (contentType application/json); anything JSON.stringify cannot carry is lost
//              (Dates become strings, undefined becomes null).
//
// NoConsumer: cast and call publish with mandatory=true on a publisher-confirm channel (not a
// passive queue.declare: that would cost a round trip more and race with the publish). RabbitMQ
// sends basic.return for a message no queue took before it acks the publish, so when the ack
// arrives we know whether the topic had a queue. The topic queues are auto-delete, so a topic
// has a queue exactly while someone consumes it: the last consumer leaving deletes the queue (and
// whatever was still waiting in it) and the next cast/call gets NoConsumer, as the in-memory bus.
//
// Reconnection is rabbitmq-client's: the Connection reconnects with exponential backoff (retryLow
// .. retryHigh), every Consumer re-declares its exchange, queue and binding and consumes again,
// and the publisher re-declares the topic exchange on its new channel. A fanout declares its
// exchange before each publish (one round trip), so that fanouts also work on a restarted broker.
// During an outage cast/fanout wait for the connection (up to acquireTimeoutMs) and call waits at
// most its timeout. Right after the broker comes back, the consumers of a topic need a moment to
// re-declare their queue (a few hundred ms here, measured in amqp.test.ts): for reconnectGraceMs
// after a reconnect of this bus, a cast/call that finds no queue retries every 100 ms instead of
// failing with NoConsumer, so requests made during the outage go through once it ends. A consumer whose handler is still running
// when the connection drops re-subscribes only once that handler returns (rabbitmq-client waits so
// that it can ack on the old channel). ready() covers the first subscription only.
//
// Delivery: at least once for consumers. A message is acked after its handler finished (its error
// is logged, never requeued); if the consumer's connection drops mid-handler the broker gives the
// message to another consumer. Non-durable queues lose their messages when the broker restarts.

import { randomUUID } from 'node:crypto';
import { Connection, type AsyncMessage, type ConnectionOptions, type Consumer, type ConsumerProps, type Envelope, type Publisher, type ReturnedMessage } from 'rabbitmq-client';
import { BusTimeout, NoConsumer, errorFromWire, errorToWire, type Bus, type Handler, type WireError } from './types.js';

/** Structured logging, pino's call shape. */
export interface BusLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface AmqpBusOptions {
  /** Prepended to every exchange and queue name (tests use one per run so runs never collide). */
  prefix?: string;
  /** The topic exchange of cast/call. */
  exchange?: string;
  /** Shown in the RabbitMQ management UI / `rabbitmqctl list_connections client_properties`. */
  connectionName?: string;
  /** Messages a consumer handles at once (and its prefetch). */
  concurrency?: number;
  /** Reconnect backoff: first step and ceiling, ms. */
  retryLowMs?: number;
  retryHighMs?: number;
  /** How long a publish waits for a (re)connection before it fails, ms. */
  acquireTimeoutMs?: number;
  /** For this long after a reconnect, a cast/call that finds no consumer retries (every 100 ms)
   *  instead of failing with NoConsumer: the consumers are re-declaring their queues. */
  reconnectGraceMs?: number;
  /** AMQP heartbeat, seconds (a dead peer is noticed after about two). */
  heartbeatS?: number;
  log?: BusLog;
}

interface PendingCall {
  resolve(v: unknown): void;
  reject(e: Error): void;
}

const silent: BusLog = { info() {}, warn() {} };

/** Parses oslo.messaging's transport_url (rabbit://u:p@h1:5672,u:p@h2:5672/vhost?heartbeat=30). */
export function parseTransportUrl(url: string): ConnectionOptions {
  const m = /^(rabbit|amqp|amqps):\/\/([^/?#]*)(\/[^?#]*)?(\?[^#]*)?$/i.exec(url.trim());
  if (!m) throw new Error('transport_url must look like rabbit://user:password@host:5672/vhost');
  const scheme = m[1]!.toLowerCase();
  const hosts: string[] = [];
  let username: string | undefined;
  let password: string | undefined;
  for (const part of m[2]!.split(',')) {
    if (part === '') continue;
    const at = part.lastIndexOf('@');
    const hostPort = at >= 0 ? part.slice(at + 1) : part;
    if (at >= 0 && username === undefined) {
      const cred = part.slice(0, at);
      const colon = cred.indexOf(':');
      username = decodeURIComponent(colon >= 0 ? cred.slice(0, colon) : cred);
      password = colon >= 0 ? decodeURIComponent(cred.slice(colon + 1)) : '';
    }
    if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(hostPort)) throw new Error(`transport_url: bad host ${JSON.stringify(hostPort)} (IPv6 literals are not supported)`);
    hosts.push(hostPort);
  }
  if (hosts.length === 0) hosts.push('localhost');
  const vhostPath = (m[3] ?? '/').slice(1);
  const opts: ConnectionOptions = {
    hosts,
    username: username ?? 'guest',
    password: password ?? 'guest',
    vhost: vhostPath === '' ? '/' : decodeURIComponent(vhostPath),
  };
  if (scheme === 'amqps') opts.tls = true;
  const q = new URLSearchParams(m[4] ?? '');
  if (q.get('ssl') === '1' || q.get('ssl') === 'true') opts.tls = true;
  const hb = Number.parseInt(q.get('heartbeat') ?? '', 10);
  if (Number.isFinite(hb) && hb >= 0) opts.heartbeat = hb;
  return opts;
}

/** The URL without its password, for logs. */
const redact = (url: string) => url.replace(/\/\/[^@/]*@/, '//***@').replace(/,[^,@/]*@/g, ',***@');

function encode(v: unknown): Buffer {
  return Buffer.from(JSON.stringify(v === undefined ? null : v), 'utf8');
}

/** rabbitmq-client parses application/json bodies itself; a Buffer left over means it was not JSON. */
function decode(body: unknown): unknown {
  if (Buffer.isBuffer(body)) return JSON.parse(body.toString('utf8'));
  return body;
}

const JSON_TYPE = 'application/json';

export class AmqpBus implements Bus {
  private readonly conn: Connection;
  private readonly publisher: Publisher;
  private readonly log: BusLog;
  private readonly prefix: string;
  private readonly exchange: string;
  private readonly concurrency: number;
  private readonly replyQueue: string;
  private replyConsumer: Consumer | undefined;
  private replyReady: Promise<void> | undefined;
  private readonly pending = new Map<string, PendingCall>();
  /** messageIds of mandatory publishes waiting for their confirm; true once returned unroutable. */
  private readonly publishing = new Map<string, boolean>();
  private readonly consumers = new Set<Consumer>();
  /** Consumers not yet consuming (resolved on their first 'ready'), and consumers being closed. */
  private readonly starting = new Set<Promise<void>>();
  private readonly stopping = new Set<Promise<void>>();
  private closed = false;
  private readonly reconnectGraceMs: number;
  private reconnectedAt = -Infinity;
  /** Times the connection came up; >1 means it reconnected. */
  connects = 0;

  constructor(url: string, opts: AmqpBusOptions = {}) {
    this.log = opts.log ?? silent;
    this.prefix = opts.prefix ?? '';
    this.exchange = this.prefix + (opts.exchange ?? 'monostack');
    this.concurrency = Math.max(1, opts.concurrency ?? 16);
    this.reconnectGraceMs = opts.reconnectGraceMs ?? 10_000;
    this.replyQueue = `${this.prefix}reply_${randomUUID().replaceAll('-', '')}`;
    this.conn = new Connection({
      ...parseTransportUrl(url),
      connectionName: opts.connectionName ?? `monostack pid ${process.pid}`,
      retryLow: opts.retryLowMs ?? 500,
      retryHigh: opts.retryHighMs ?? 10_000,
      acquireTimeout: opts.acquireTimeoutMs ?? 20_000,
      ...(opts.heartbeatS !== undefined ? { heartbeat: opts.heartbeatS } : {}),
    });
    const where = redact(url);
    this.conn.on('error', (err) => this.log.warn({ err, transport: where }, 'bus: AMQP connection error; reconnecting'));
    this.conn.on('connection', () => {
      this.connects++;
      // The exclusive reply queue died with the old connection: calls from now on wait until its
      // consumer has declared it again, so that no answer is sent to a queue that is not there.
      // (This runs before any channel of the new connection is handed out.)
      if (this.connects > 1) this.reconnectedAt = Date.now();
      if (this.connects > 1 && this.replyConsumer) this.replyReady = this.nextReady(this.replyConsumer);
      this.log.info({ transport: where, connects: this.connects }, this.connects > 1 ? 'bus: reconnected to RabbitMQ' : 'bus: connected to RabbitMQ');
    });
    this.conn.on('connection.blocked', (reason) => this.log.warn({ reason }, 'bus: RabbitMQ blocked publishing (resource alarm)'));
    this.publisher = this.conn.createPublisher({
      confirm: true,
      maxAttempts: 2,
      exchanges: [{ exchange: this.exchange, type: 'topic', durable: false }],
    });
    this.publisher.on('basic.return', (msg: ReturnedMessage) => {
      if (msg.messageId && this.publishing.has(msg.messageId)) this.publishing.set(msg.messageId, true);
    });
  }

  async cast(topic: string, msg: unknown): Promise<void> {
    await this.publishTopic(topic, encode(msg), {});
  }

  async call<T = unknown>(topic: string, msg: unknown, timeoutMs = 60_000): Promise<T> {
    if (this.closed) throw new NoConsumer(`no consumer for topic ${topic}: the bus is closed`);
    const body = encode(msg);
    const correlationId = randomUUID();
    let timer: NodeJS.Timeout | undefined;
    const answer = new Promise<unknown>((resolve, reject) => { this.pending.set(correlationId, { resolve, reject }); });
    answer.catch(() => undefined); // close() may reject it before send() awaits it
    const send = async () => {
      // During an outage, wait for the connection first: the 'connection' event then has renewed
      // replyReady, so the request goes out only once its answer has a queue to land in.
      if (!this.conn.ready) await this.conn.onConnect(0, true); // our own timeout below bounds it
      await this.ensureReplyQueue();
      await this.publishTopic(topic, body, { replyTo: this.replyQueue, correlationId, expiration: String(Math.max(1, Math.ceil(timeoutMs))) });
      return answer;
    };
    try {
      return await Promise.race([
        send(),
        answer, // close() rejects it, even while send() still waits for the broker
        new Promise<never>((_, rej) => { timer = setTimeout(() => rej(new BusTimeout(`call ${topic} timed out after ${timeoutMs} ms`)), timeoutMs); }),
      ]) as T;
    } finally {
      clearTimeout(timer);
      this.pending.delete(correlationId);
    }
  }

  async fanout(exchange: string, msg: unknown): Promise<void> {
    if (this.closed) return;
    const name = this.fanoutExchange(exchange);
    // Declared before every publish (idempotent, one round trip): the exchange may be new, or
    // gone with a restarted broker, and publishing to a missing exchange would close the channel.
    await this.conn.exchangeDeclare({ exchange: name, type: 'fanout', durable: false });
    await this.publisher.send({ exchange: name, routingKey: '', contentType: JSON_TYPE }, encode(msg));
  }

  consume(topic: string, handler: Handler): () => void {
    const queue = this.prefix + topic;
    return this.addConsumer({
      queue,
      queueOptions: { queue, durable: false, autoDelete: true },
      exchanges: [{ exchange: this.exchange, type: 'topic', durable: false }],
      queueBindings: [{ exchange: this.exchange, queue, routingKey: topic }],
    }, handler, `topic ${topic}`);
  }

  subscribe(exchange: string, handler: Handler): () => void {
    const name = this.fanoutExchange(exchange);
    const queue = `${name}_${randomUUID().replaceAll('-', '')}`;
    return this.addConsumer({
      queue,
      queueOptions: { queue, durable: false, exclusive: true, autoDelete: true },
      exchanges: [{ exchange: name, type: 'fanout', durable: false }],
      queueBindings: [{ exchange: name, queue, routingKey: '' }],
    }, handler, `fanout ${exchange}`);
  }

  async ready(timeoutMs = 30_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        (async () => {
          await Promise.all([...this.starting]);
          await Promise.allSettled([...this.stopping]);
        })(),
        new Promise<never>((_, rej) => { timer = setTimeout(() => rej(new BusTimeout(`bus consumers not ready after ${timeoutMs} ms`)), timeoutMs); }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const [id, p] of this.pending) { p.reject(new Error('bus closed before the answer came')); this.pending.delete(id); }
    const closing = [...this.consumers].map((c) => c.close());
    if (this.replyConsumer) closing.push(this.replyConsumer.close());
    closing.push(this.publisher.close(), ...this.stopping);
    await Promise.allSettled(closing);
    this.consumers.clear();
    await this.conn.close();
  }

  // ---------------------------------------------------------------------------------------------

  private fanoutExchange(name: string): string {
    return `${this.prefix}${name}_fanout`;
  }

  /** Publishes to the topic exchange with mandatory=true; NoConsumer if no queue took it. */
  private async publishTopic(topic: string, body: Buffer, extra: Envelope): Promise<void> {
    if (this.closed) throw new NoConsumer(`no consumer for topic ${topic}: the bus is closed`);
    for (;;) {
      const messageId = randomUUID();
      this.publishing.set(messageId, false);
      let returned: boolean | undefined;
      try {
        await this.publisher.send({ ...extra, exchange: this.exchange, routingKey: topic, mandatory: true, messageId, contentType: JSON_TYPE }, body);
        // RabbitMQ sends basic.return before the confirm of an unroutable mandatory message;
        // rabbitmq-client emits it on a setImmediate, so one more turn of the loop sees it.
        await new Promise((r) => setImmediate(r));
        returned = this.publishing.get(messageId);
      } finally {
        this.publishing.delete(messageId);
      }
      if (!returned) return;
      // Just after a reconnect the consumers may not have re-declared their queues yet: retry.
      const graceLeft = this.reconnectedAt + this.reconnectGraceMs - Date.now();
      if (this.closed || graceLeft <= 0) throw new NoConsumer(`no consumer for topic ${topic}`);
      await new Promise((r) => setTimeout(r, Math.min(100, graceLeft)));
    }
  }

  private addConsumer(props: ConsumerProps, handler: Handler, what: string): () => void {
    if (this.closed) throw new Error('bus is closed');
    const consumer = this.conn.createConsumer({
      ...props,
      concurrency: this.concurrency,
      qos: { prefetchCount: this.concurrency },
      requeue: false,
    }, (msg, reply) => this.handle(msg, reply, handler, what));
    this.consumers.add(consumer);
    consumer.on('error', (err) => this.log.warn({ err, consumer: what }, 'bus: consumer error (it re-subscribes by itself)'));
    let first = true;
    const started = new Promise<void>((resolve) => consumer.once('ready', resolve));
    this.starting.add(started);
    void started.then(() => { this.starting.delete(started); });
    consumer.on('ready', () => {
      if (!first) this.log.info({ consumer: what }, 'bus: consumer re-subscribed');
      first = false;
    });
    let stopped = false;
    return () => {
      if (stopped) return;
      stopped = true;
      this.consumers.delete(consumer);
      this.starting.delete(started);
      const closing = consumer.close().catch((err) => this.log.warn({ err, consumer: what }, 'bus: closing a consumer failed'));
      this.stopping.add(closing);
      void closing.finally(() => this.stopping.delete(closing));
    };
  }

  private async handle(msg: AsyncMessage, reply: (body: unknown, envelope?: Envelope) => Promise<void>, handler: Handler, what: string): Promise<void> {
    let input: unknown;
    try {
      input = decode(msg.body);
    } catch (err) {
      this.log.warn({ err, consumer: what, messageId: msg.messageId }, 'bus: dropped a message that is not JSON');
      return;
    }
    if (!msg.replyTo) {
      try {
        await handler(input);
      } catch (err) {
        this.log.warn({ err, consumer: what }, 'bus: cast handler failed');
      }
      return;
    }
    let out: Buffer;
    try {
      const result = await handler(input);
      out = encode(result === undefined ? {} : { result });
    } catch (err) {
      const failure: WireError = errorToWire(err);
      out = encode({ failure });
    }
    try {
      await reply(out, { contentType: JSON_TYPE });
    } catch (err) {
      this.log.warn({ err, consumer: what }, 'bus: could not send a call answer');
    }
  }

  /** Starts this process's reply queue once; waits until it consumes. */
  private ensureReplyQueue(): Promise<void> {
    if (!this.replyReady) {
      const queue = this.replyQueue;
      const consumer = this.conn.createConsumer({
        queue,
        queueOptions: { queue, durable: false, exclusive: true, autoDelete: true },
        noAck: true,
      }, (msg) => { this.onReply(msg); });
      consumer.on('error', (err) => this.log.warn({ err }, 'bus: reply queue consumer error (it re-subscribes by itself)'));
      this.replyConsumer = consumer;
      this.replyReady = this.nextReady(consumer);
    }
    return this.replyReady;
  }

  private nextReady(consumer: Consumer): Promise<void> {
    return new Promise<void>((resolve) => consumer.once('ready', resolve));
  }

  private onReply(msg: AsyncMessage): void {
    const p = msg.correlationId ? this.pending.get(msg.correlationId) : undefined;
    if (!p) return; // the caller timed out or closed
    this.pending.delete(msg.correlationId!);
    let body: { result?: unknown; failure?: WireError };
    try {
      body = decode(msg.body) as typeof body;
    } catch {
      p.reject(new Error('bus: the answer was not JSON'));
      return;
    }
    if (body && typeof body === 'object' && body.failure) p.reject(errorFromWire(body.failure));
    else p.resolve(body && typeof body === 'object' ? body.result : undefined);
  }
}
