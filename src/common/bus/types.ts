// The bus interface and its errors, shared by the in-memory (index.ts) and AMQP (amqp.ts)
// implementations. Import them from index.ts.

import { ApiError, ERROR_STATUS, type ErrorKind } from '../errors.js';

export type Handler = (msg: unknown) => unknown | Promise<unknown>;

export interface Bus {
  /** Delivers to one consumer of the topic (round robin); never waits for the result. */
  cast(topic: string, msg: unknown): Promise<void>;
  /** Delivers to one consumer and waits for its answer. */
  call<T = unknown>(topic: string, msg: unknown, timeoutMs?: number): Promise<T>;
  /** Delivers to every subscriber of the exchange. */
  fanout(exchange: string, msg: unknown): Promise<void>;
  /** Consumes a topic (cast/call). Returns an unsubscribe function. */
  consume(topic: string, handler: Handler): () => void;
  /** Subscribes to a fanout exchange. Returns an unsubscribe function. */
  subscribe(exchange: string, handler: Handler): () => void;
  /**
   * Resolves once every consume/subscribe made so far receives messages and every unsubscribe is
   * done (over AMQP they take a round trip to the broker). An agent awaits it before it reports
   * itself up; rejects with BusTimeout after timeoutMs.
   */
  ready(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export class BusTimeout extends Error {
  override name = 'BusTimeout';
}

export class NoConsumer extends Error {
  override name = 'NoConsumer';
}

/** An error a remote handler threw that has no local class: its name, message and kind survive. */
export class RemoteError extends Error {
  readonly kind: string | undefined;
  readonly detail: Record<string, unknown> | undefined;
  constructor(name: string, message: string, kind?: string, detail?: Record<string, unknown>) {
    super(message);
    this.name = name;
    this.kind = kind;
    this.detail = detail;
  }
}

/** What a handler's error becomes on the wire (JSON). */
export interface WireError {
  name: string;
  message: string;
  kind?: string;
  detail?: Record<string, unknown>;
}

export function errorToWire(err: unknown): WireError {
  if (err instanceof Error) {
    const e = err as Error & { kind?: unknown; detail?: unknown };
    const out: WireError = { name: e.name || 'Error', message: e.message };
    if (typeof e.kind === 'string') out.kind = e.kind;
    if (e.detail && typeof e.detail === 'object' && !Array.isArray(e.detail)) out.detail = e.detail as Record<string, unknown>;
    return out;
  }
  return { name: 'Error', message: String(err) };
}

/** Rebuilds the typed error a remote handler threw: ApiError (by kind), BusTimeout, NoConsumer, else RemoteError. */
export function errorFromWire(w: WireError): Error {
  const name = typeof w?.name === 'string' ? w.name : 'Error';
  const message = typeof w?.message === 'string' ? w.message : 'remote error';
  if (name === 'ApiError' && typeof w.kind === 'string' && Object.hasOwn(ERROR_STATUS, w.kind)) {
    return new ApiError(w.kind as ErrorKind, message, w.detail ? { detail: w.detail } : {});
  }
  if (name === 'BusTimeout') return new BusTimeout(message);
  if (name === 'NoConsumer') return new NoConsumer(message);
  return new RemoteError(name, message, w.kind, w.detail);
}
