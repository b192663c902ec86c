// A small QMP (QEMU Machine Protocol) client on node:net. QMP is line-delimited JSON over a
// stream socket: the server greets with {"QMP": {...}}, the client must send qmp_capabilities,
// then every command {"execute", "arguments", "id"} gets exactly one {"return"|"error", "id"}
// reply, and asynchronous {"event", "data", "timestamp"} messages may arrive at any time.
// A `-qmp unix:...,server=on,wait=off` monitor serves one client at a time, so the driver opens a
// connection per operation and closes it afterwards.

import { EventEmitter } from 'node:events';
import { createConnection, type Socket } from 'node:net';

export interface QmpEvent { event: string; data?: Record<string, unknown>; timestamp?: { seconds: number; microseconds: number } }

/** A command QEMU answered with {"error": {"class", "desc"}}. */
export class QmpError extends Error {
  constructor(readonly command: string, readonly errorClass: string, desc: string) {
    super(`QMP ${command}: ${errorClass}: ${desc}`);
    this.name = 'QmpError';
  }
}

interface Pending { command: string; resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }

export class QmpClient extends EventEmitter {
  /** QEMU's version as the greeting told it ({major, minor, micro}). */
  version: { major: number; minor: number; micro: number } | undefined;
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();
  private buf = '';
  private closed = false;
  private closeError: Error | undefined;
  private greeting: { resolve: () => void; reject: (e: Error) => void } | undefined;

  private constructor(private readonly sock: Socket) {
    super();
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => this.onData(chunk));
    sock.on('error', (err) => this.shutdown(err));
    sock.on('close', () => this.shutdown(new Error('QMP connection closed')));
  }

  /** Connects to a QMP unix socket, waits for the greeting and negotiates capabilities. */
  static async connect(path: string, opts: { timeoutMs?: number } = {}): Promise<QmpClient> {
    const timeoutMs = opts.timeoutMs ?? 5000;
    const sock = createConnection({ path });
    const client = new QmpClient(sock);
    const timer = setTimeout(() => client.shutdown(new Error(`QMP ${path}: no greeting within ${timeoutMs} ms`)), timeoutMs);
    try {
      await new Promise<void>((resolve, reject) => {
        client.greeting = { resolve, reject };
        if (client.closed) reject(client.closeError!);
      });
      clearTimeout(timer);
      await client.execute('qmp_capabilities', undefined, { timeoutMs });
      return client;
    } catch (err) {
      clearTimeout(timer);
      client.close();
      throw err;
    }
  }

  /** Runs one command; resolves with its "return" value, rejects with a QmpError on "error". */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, opts: { timeoutMs?: number } = {}): Promise<T> {
    if (this.closed) return Promise.reject(this.closeError ?? new Error('QMP connection closed'));
    const id = `ms-${this.nextId++}`;
    const timeoutMs = opts.timeoutMs ?? 30_000;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`QMP ${command}: no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject, timer });
      const msg: Record<string, unknown> = { execute: command, id };
      if (args) msg.arguments = args;
      this.sock.write(JSON.stringify(msg) + '\n');
    });
  }

  /** Resolves with the first event named `name` (and matching `filter`), or rejects after timeoutMs. */
  waitEvent(name: string, timeoutMs: number, filter?: (ev: QmpEvent) => boolean): Promise<QmpEvent> {
    return new Promise((resolve, reject) => {
      const onEvent = (ev: QmpEvent) => {
        if (ev.event !== name || (filter && !filter(ev))) return;
        done(); resolve(ev);
      };
      const onClose = (err: Error) => { done(); reject(err); };
      const timer = setTimeout(() => { done(); reject(new Error(`QMP: no ${name} event within ${timeoutMs} ms`)); }, timeoutMs);
      const done = () => { clearTimeout(timer); this.off('event', onEvent); this.off('close', onClose); };
      this.on('event', onEvent);
      this.on('close', onClose);
    });
  }

  get isClosed(): boolean { return this.closed; }

  close(): void {
    if (!this.closed) this.sock.destroy();
    this.shutdown(new Error('QMP connection closed'));
  }

  private onData(chunk: string): void {
    this.buf += chunk;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (!line) continue;
      let msg: Record<string, unknown>;
      try { msg = JSON.parse(line) as Record<string, unknown>; } catch {
        this.shutdown(new Error(`QMP: unparsable message: ${line.slice(0, 200)}`));
        this.sock.destroy();
        return;
      }
      this.onMessage(msg);
    }
    if (this.buf.length > 16 * 1024 * 1024) { this.shutdown(new Error('QMP: message too long')); this.sock.destroy(); }
  }

  private onMessage(msg: Record<string, unknown>): void {
    if ('QMP' in msg) {
      const v = (msg.QMP as { version?: { qemu?: { major: number; minor: number; micro: number } } }).version?.qemu;
      this.version = v;
      this.greeting?.resolve();
      this.greeting = undefined;
      return;
    }
    if (typeof msg.event === 'string') { this.emit('event', msg as unknown as QmpEvent); return; }
    const id = typeof msg.id === 'string' ? msg.id : undefined;
    const p = id ? this.pending.get(id) : undefined;
    if (!p) return; // a reply to a command that timed out, or one sent without an id
    this.pending.delete(id!);
    clearTimeout(p.timer);
    if ('error' in msg) {
      const e = msg.error as { class?: string; desc?: string };
      p.reject(new QmpError(p.command, e.class ?? 'GenericError', e.desc ?? 'unknown error'));
    } else p.resolve(msg.return);
  }

  private shutdown(err: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.closeError = err;
    this.greeting?.reject(err);
    this.greeting = undefined;
    for (const p of this.pending.values()) { clearTimeout(p.timer); p.reject(err); }
    this.pending.clear();
    this.emit('close', err);
  }
}
