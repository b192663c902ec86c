// An upload's body read from the socket into one reused buffer, past Node's HTTP parser.
//
// Node's HTTP parser hands every 64 KiB of a request body to JavaScript as a fresh Buffer. V8
// counts their memory as external, and at 300 MB/s that pressure makes it run a full mark-compact
// every 30 MB or so in some server processes (bench/README.md, Image: the upload's two GC modes),
// which costs more CPU than the hashing leaves. A body with a Content-Length needs no parsing: once
// the headers are read, the socket is taken from the parser and read straight into one buffer
// (net.Socket's `onread` mechanism, set on an accepted socket), each read handed on as a view of it.
// The connection is closed after the response, since the parser no longer knows where the request
// ends. Where Node's internals are not as expected (another Node version, TLS, a chunked body, a body
// already read), `takeSocketBody` answers null and the caller reads the request as usual.

import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

const READ_BUFFER = 1 << 20;

interface InternalSocket extends Socket {
  parser?: { unconsume?: () => void } | null;
  _handle?: { useUserBuffer?: (b: Uint8Array) => void; readStop?: () => number; reading?: boolean } | null;
  encrypted?: boolean;
  [k: symbol]: unknown;
}

/**
 * The body of `req` as a stream-like emitter ('data' with views of a reused buffer — valid until
 * the handler returns or, when it pauses, until it resumes —, 'end', 'error', 'close', 'aborted';
 * pause(), resume(), `complete`), or null when the socket cannot be taken over.
 */
export function takeSocketBody(req: IncomingMessage, length: number): SocketBody | null {
  const sock = req.socket as InternalSocket;
  if (req.headers['transfer-encoding'] !== undefined || sock.encrypted || req.complete || !Number.isSafeInteger(length)) return null;
  const handle = sock._handle;
  const parser = sock.parser;
  if (!handle || typeof handle.useUserBuffer !== 'function' || !parser || typeof parser.unconsume !== 'function') return null;
  const syms = Object.getOwnPropertySymbols(sock);
  const kBuffer = syms.find((s) => s.description === 'kBuffer');
  const kBufferCb = syms.find((s) => s.description === 'kBufferCb');
  if (!kBuffer || !kBufferCb || sock[kBuffer] !== null) return null;

  // What the parser already read of the body waits in the request's buffer.
  const early = readBuffered(req, []);
  parser.unconsume();
  for (const l of sock.listeners('data')) sock.removeListener('data', l as (...a: unknown[]) => void);
  for (const l of sock.listeners('end')) sock.removeListener('end', l as (...a: unknown[]) => void);
  return new SocketBody(req, sock, kBuffer, kBufferCb, early, length);
}

/** Moves what the request's own buffer holds (bytes the parser pushed) into `into`. */
function readBuffered(req: IncomingMessage, into: Buffer[]): Buffer[] {
  for (let b = req.read() as Buffer | null; b !== null; b = req.read() as Buffer | null) into.push(b);
  return into;
}

export class SocketBody extends EventEmitter {
  /** True once `length` bytes arrived (as IncomingMessage.complete). */
  complete = false;
  private received = 0;
  private paused = false;
  private ended = false;
  private started = false;
  private readonly buf = Buffer.allocUnsafeSlow(READ_BUFFER);

  constructor(private req: IncomingMessage, private sock: InternalSocket, kBuffer: symbol, kBufferCb: symbol, private early: Buffer[], private length: number) {
    super();
    sock[kBuffer] = this.buf;
    sock[kBufferCb] = (nread: number) => this.onRead(nread);
    sock._handle!.useUserBuffer!(this.buf);
    sock.on('end', () => this.finish());
    sock.on('error', (e: Error) => { if (!this.ended) this.emit('error', e); });
    sock.on('close', () => { if (!this.ended) this.emit('close'); });
    // Stop reading until a consumer is there (the parser may have left the handle reading).
    sock.pause();
    if (sock._handle) { sock._handle.readStop?.(); sock._handle.reading = false; }
    // Like a Readable, nothing flows until someone listens for 'data'.
    this.paused = true;
    this.on('newListener', (event: string | symbol) => {
      if (event === 'data' && this.paused && !this.started) { this.started = true; this.paused = false; setImmediate(() => this.start()); }
    });
  }

  get destroyed(): boolean { return this.sock.destroyed; }

  private start(): void {
    // The bytes the parser had already read first (also those it pushed after the takeover, when
    // that happened inside its own run), then the socket.
    this.drainRequest();
    while (this.early.length && !this.paused && !this.ended) this.deliver(this.early.shift()!);
    if (!this.paused && !this.ended) this.sock.resume();
  }

  /** Bytes the parser pushed into the request come before anything read from the socket since. */
  private drainRequest(): void {
    readBuffered(this.req, this.early);
  }

  private deliver(chunk: Buffer): void {
    const take = Math.min(chunk.length, this.length - this.received);
    if (take <= 0) return;
    this.received += take;
    this.emit('data', take === chunk.length ? chunk : chunk.subarray(0, take));
    if (this.received >= this.length) this.finish();
  }

  /** One read into the buffer; false stops reading (paused, or the body is complete). */
  private onRead(nread: number): boolean {
    if (this.ended) return false;
    this.drainRequest();
    if (this.early.length && !this.paused) { this.early.push(Buffer.from(this.buf.subarray(0, nread))); this.start(); return !this.paused && !this.ended; }
    // A read that lands while nobody takes data (not yet listened to, or paused) is kept, copied:
    // the buffer is about to be reused.
    if (this.paused) { this.early.push(Buffer.from(this.buf.subarray(0, nread))); return false; }
    this.deliver(this.buf.subarray(0, nread));
    return !this.paused && !this.ended;
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.complete = this.received >= this.length;
    this.sock.pause();
    this.emit('end');
  }

  /** Ends the connection (a consumer that gives up on the body). */
  destroy(err?: Error): this {
    this.sock.destroy(err);
    return this;
  }

  pause(): this {
    this.paused = true;
    this.sock.pause();
    return this;
  }

  resume(): this {
    if (!this.paused) return this;
    this.paused = false;
    setImmediate(() => this.start());
    return this;
  }
}
