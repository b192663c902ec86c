// A service's own session with the cloud (keystoneauth's Session for a service user): a project-
// scoped token for the service user, renewed before it expires or when a call answers 401, and the
// endpoints of other services read from that token's catalog. Service clients (placement/client.ts,
// image/client.ts, ...) make their calls through it, so no URL is ever hard-coded.

import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { ServiceCredentials } from './middleware.js';

export interface SessionOptions {
  /** The identity API, e.g. http://controller:5000/v3 */
  authUrl: string;
  service: ServiceCredentials;
  region?: string;
  /** Catalog interface to use: internal (default, as OpenStack services do), public or admin. */
  interface?: 'public' | 'internal' | 'admin';
}

export interface SessionRequest {
  /** A JSON body (serialised, Content-Type application/json unless headers say otherwise). */
  body?: unknown;
  /** A raw body (bytes or a stream); streams need `duplex: 'half'`, set here. */
  raw?: string | Uint8Array | ReadableStream<Uint8Array>;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /**
   * The caller's own token instead of the service user's (keystoneauth's per-request auth), so
   * the other service decides what the caller may see; a 401 then is the answer, not retried.
   */
  token?: string;
}

/** An answer read whole: its status and its body parsed as JSON (the text when it is not JSON, undefined when empty). */
export interface JsonReply {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** The body as received. */
  text: string;
}

/** Reads an answer's body whole, parsing JSON where it is JSON. */
export async function readJson(res: Response): Promise<JsonReply> {
  return parseReply(res.status, await res.text());
}

function parseReply(status: number, text: string): JsonReply {
  let body: unknown;
  try { body = text ? JSON.parse(text) : undefined; } catch { body = text; }
  return { status, body, text };
}

// Service-to-service JSON calls go over node:http with kept-alive connections rather than fetch:
// fetch's WHATWG streams and Request/Response objects cost more CPU than the call itself on
// loopback (a boot makes several such calls; measured with bench/compute). Streams still use fetch.
const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 64, maxFreeSockets: 16 });
const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 64, maxFreeSockets: 16 });

/** One JSON (or empty / text) request, read whole. A kept-alive connection the server closed just
 *  as it was reused (ECONNRESET before any answer) is retried once on a new one, as Node advises. */
function callJson(url: string, method: string, headers: Record<string, string>, body: string | Uint8Array | undefined, signal?: AbortSignal, retried = false): Promise<JsonReply> {
  const u = new URL(url);
  const secure = u.protocol === 'https:';
  if (body !== undefined) headers['Content-Length'] = String(typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength);
  return new Promise<JsonReply>((resolve, reject) => {
    const req = (secure ? httpsRequest : httpRequest)(u, { method, headers, agent: secure ? httpsAgent : httpAgent, signal }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(parseReply(res.statusCode ?? 0, chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8'))));
      res.on('error', reject);
    });
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (!retried && req.reusedSocket && e.code === 'ECONNRESET') resolve(callJson(url, method, headers, body, signal, true));
      else reject(e);
    });
    req.end(body);
  });
}

interface CatalogEntry { type: string; endpoints: { interface: string; region_id?: string; region?: string; url: string }[] }

export class ServiceSession {
  private current?: { id: string; expiresAt: number; catalog: CatalogEntry[] };
  private pending?: Promise<{ id: string; expiresAt: number; catalog: CatalogEntry[] }>;
  /** When a missing service type last made us authenticate again (see endpoint). */
  private lastRefresh = 0;

  constructor(private opts: SessionOptions) {}

  get authUrl(): string { return this.opts.authUrl; }

  private async authenticate(): Promise<{ id: string; expiresAt: number; catalog: CatalogEntry[] }> {
    const s = this.opts.service;
    const res = await fetch(`${this.opts.authUrl}/auth/tokens`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ auth: {
        identity: { methods: ['password'], password: { user: { name: s.username, password: s.password, domain: { name: s.userDomainName ?? 'Default' } } } },
        scope: { project: { name: s.projectName, domain: { name: s.projectDomainName ?? 'Default' } } },
      } }),
    });
    if (res.status !== 201) throw new Error(`service authentication as ${s.username} failed: ${res.status} ${await res.text()}`);
    const body = await res.json() as { token: { expires_at: string; catalog?: CatalogEntry[] } };
    return { id: res.headers.get('x-subject-token')!, expiresAt: Date.parse(body.token.expires_at), catalog: body.token.catalog ?? [] };
  }

  private async ensure(): Promise<{ id: string; expiresAt: number; catalog: CatalogEntry[] }> {
    if (this.current && this.current.expiresAt - Date.now() > 60_000) return this.current;
    this.pending ??= this.authenticate().then((t) => { this.current = t; return t; }).finally(() => { this.pending = undefined; });
    return this.pending;
  }

  /** The service user's token. */
  async token(): Promise<string> { return (await this.ensure()).id; }

  /** Drops the token (the next call authenticates again), e.g. after the catalog changed. */
  invalidate(): void { this.current = undefined; }

  /** The URL of a service type from the catalog, without a trailing slash. */
  async endpoint(type: string): Promise<string> {
    let t = await this.ensure();
    let url = this.pick(t.catalog, type);
    // The catalog may have gained the service since our token was issued: authenticate again, but
    // at most once a minute (a password authentication costs a bcrypt hash; "is there a network
    // service?" is asked on every server view).
    if (!url && Date.now() - this.lastRefresh > 60_000) {
      this.lastRefresh = Date.now();
      this.invalidate();
      t = await this.ensure();
      url = this.pick(t.catalog, type);
    }
    if (!url) throw new Error(`no ${type} endpoint in the catalog`);
    return url.replace(/\/+$/, '');
  }

  private pick(catalog: CatalogEntry[], type: string): string | undefined {
    const iface = this.opts.interface ?? 'internal';
    const entry = catalog.find((c) => c.type === type);
    if (!entry) return undefined;
    const inRegion = entry.endpoints.filter((e) => !this.opts.region || (e.region_id ?? e.region) === this.opts.region);
    return (inRegion.find((e) => e.interface === iface) ?? inRegion.find((e) => e.interface === 'public') ?? inRegion[0])?.url;
  }

  /** A call to another service (found by its catalog type) with the service token; one retry after a 401. */
  async request(type: string, method: string, path: string, r: SessionRequest = {}): Promise<Response> {
    return this.send(type, path, r, (url, headers, body) => {
      const init: RequestInit & { duplex?: 'half' } = { method, headers, body: body as RequestInit['body'], signal: r.signal };
      if (body instanceof ReadableStream) init.duplex = 'half';
      return fetch(url, init);
    }, (res) => res.status === 401 && !(r.raw instanceof ReadableStream));
  }

  /** `request`, with the answer read whole and parsed as JSON (see readJson), over kept-alive node:http connections; a streamed body goes through `request`. */
  async json(type: string, method: string, path: string, r: SessionRequest = {}): Promise<JsonReply> {
    if (r.raw instanceof ReadableStream) return readJson(await this.request(type, method, path, r));
    return this.send(type, path, r, (url, headers, body) => callJson(url, method, headers, body as string | Uint8Array | undefined, r.signal),
      (res) => res.status === 401);
  }

  /**
   * Headers and body of a call built once, sent through `transport`; when the service token was
   * used and `unauthorized` says so, the token is renewed and the call sent once more.
   */
  private async send<T>(type: string, path: string, r: SessionRequest,
    transport: (url: string, headers: Record<string, string>, body: SessionRequest['raw']) => Promise<T>,
    unauthorized: (res: T) => boolean): Promise<T> {
    const url = (await this.endpoint(type)) + path;
    const once = async () => {
      const headers: Record<string, string> = { ...(r.headers ?? {}), 'X-Auth-Token': r.token ?? await this.token() };
      let body: SessionRequest['raw'];
      if (r.body !== undefined) { body = JSON.stringify(r.body); headers['Content-Type'] ??= 'application/json'; }
      else body = r.raw;
      return transport(url, headers, body);
    };
    let res = await once();
    if (r.token === undefined && unauthorized(res)) {
      this.invalidate();
      res = await once();
    }
    return res;
  }
}
