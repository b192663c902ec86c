// Request plumbing shared by the image API routes, as Glance's wsgi layer behaves: bodies are
// JSON whatever their Content-Type (JSONRequestDeserializer), routes that take no body refuse
// one, other methods on a known path get 405 with Allow, and data uploads get the raw stream.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { badRequest, bare } from '../errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The handler reads the body as a stream (image data). */
    raw?: boolean;
  }
}

const ALL_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
type Method = (typeof ALL_METHODS)[number];

/** Replaces the server's body parsers: raw streams for data routes, text (up to limit) otherwise. */
export function installBodyParsing(app: FastifyInstance, limit: number): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (req, payload, done) => {
    if (req.routeOptions.config?.raw) { done(null, payload); return; }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    payload.on('data', (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > limit) {
        failed = true;
        done(Object.assign(new Error('Request Entity Too Large'), { statusCode: 413 }), undefined);
        return;
      }
      chunks.push(c);
    });
    payload.on('end', () => { if (!failed) done(null, Buffer.concat(chunks).toString('utf8')); });
    payload.on('error', (e) => { if (!failed) { failed = true; done(e, undefined); } });
  });
}

/** Whether the request carries a body (JSONRequestDeserializer.has_body). */
export function hasBody(req: FastifyRequest): boolean {
  const te = String(req.headers['transfer-encoding'] ?? '').toLowerCase();
  if (['chunked', 'compress', 'deflate', 'gzip', 'identity'].includes(te) && ['POST', 'PUT', 'PATCH'].includes(req.method)) return true;
  const cl = Number(req.headers['content-length'] ?? 0);
  return cl > 0;
}

/** The JSON body, or undefined without one; Glance's 400s for anything else. */
export function jsonBody(req: FastifyRequest): unknown {
  if (!hasBody(req)) return undefined;
  const raw = req.body;
  const text = typeof raw === 'string' ? raw : raw === undefined || raw === null ? '' : String(raw);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw badRequest('Malformed JSON in request body.');
  }
  if (data === null || typeof data !== 'object') throw badRequest('Unexpected body type. Expected list/dict.');
  return data;
}

/** _get_request_body: a body is required. */
export function requireBody(req: FastifyRequest): unknown {
  const b = jsonBody(req);
  if (b === undefined) throw badRequest('Body expected in request.');
  return b;
}

export function rejectBody(req: FastifyRequest): void {
  if (hasBody(req)) throw badRequest('A body is not expected with this request.');
}

/** A route handler; its request type names the route's params. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Handler = (req: FastifyRequest<any>, reply: FastifyReply) => unknown;

export interface RouteSpec {
  bodyReject?: boolean;
  raw?: boolean;
}

/** A handler that set a status but returned nothing sends an empty body. */
function finish(reply: FastifyReply, r: unknown): unknown {
  if (r === undefined && !reply.sent) return reply.send();
  return r;
}

/** A path's routes; every other method answers 405 with Allow, as Glance's reject routes. */
export function resource(app: FastifyInstance, url: string, routes: Partial<Record<Method, Handler | [Handler, RouteSpec]>>, allow?: string): void {
  const allowed = Object.keys(routes) as Method[];
  for (const m of allowed) {
    const r = routes[m]!;
    const [handler, spec] = Array.isArray(r) ? r : [r, {} as RouteSpec];
    app.route({
      method: m, url, config: { raw: !!spec.raw },
      handler: spec.bodyReject
        ? async (req: FastifyRequest, reply: FastifyReply) => { rejectBody(req); return finish(reply, await handler(req, reply)); }
        : async (req: FastifyRequest, reply: FastifyReply) => finish(reply, await handler(req, reply)),
    });
  }
  const others = ALL_METHODS.filter((m) => !allowed.includes(m));
  if (others.length) {
    const allowHeader = allow ?? allowed.join(', ');
    app.route({ method: others as unknown as Method[], url, handler: async () => { throw bare('MethodNotAllowed', { Allow: allowHeader }); } });
  }
}

/** Query parameters as an ordered list of pairs (webob's MultiDict). */
export function queryPairs(req: FastifyRequest): Array<[string, string]> {
  const i = req.url.indexOf('?');
  if (i < 0) return [];
  return [...new URLSearchParams(req.url.slice(i + 1))];
}

/** Python's urllib.parse.urlencode of pairs (quote_plus). */
export function urlencode(pairs: Array<[string, string]>): string {
  const q = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).replace(/%20/g, '+');
  return pairs.map(([k, v]) => `${q(k)}=${q(v)}`).join('&');
}

export function contentLength(req: FastifyRequest): number | null {
  const v = req.headers['content-length'];
  if (v === undefined) return null;
  const n = Number(v);
  return Number.isInteger(n) && n >= 0 ? n : null;
}

/** The raw body stream of a data route. */
export function bodyStream(req: FastifyRequest): Readable {
  return (req.body as Readable | undefined) ?? req.raw;
}
