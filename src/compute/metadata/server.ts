// The metadata API (Nova's nova-api-metadata, nova/api/metadata/handler.py) on [compute]
// metadata_port. Instances reach it through the network service's metadata proxy, which names the
// instance in X-Instance-ID / X-Tenant-ID and signs the id with the shared secret
// (X-Instance-ID-Signature: hex HMAC-SHA256). Bodies and errors are rendered as Nova's webob app
// renders them (plain text listings, webob's error pages chosen by Accept).

import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import type { ComputeContext } from '../context.js';
import { InstanceMetadata, MetadataNotFound, TEXT_PLAIN, pyJson, rootListing } from './documents.js';
import { loadMetadataSource, setPasswordOnce, DEFAULT_DHCP_DOMAIN } from './source.js';

/** Nova's password limit: 4 system-metadata chunks of 255 characters. */
const PASSWORD_MAX = 4 * 255;

export interface MetadataServerOptions {
  ctx: ComputeContext;
  host: string;
  port: number;
  /** The secret the metadata proxy signs instance ids with; empty refuses every request. */
  sharedSecret: string;
  dhcpDomain?: string;
  vendorData?: unknown;
}

export interface MetadataServer {
  app: FastifyInstance;
  port: number;
  close(): Promise<void>;
}

/** HMAC-SHA256 of the instance id, hex: what the proxy sends as X-Instance-ID-Signature. */
export function signInstanceId(secret: string, instanceId: string): string {
  return createHmac('sha256', secret).update(instanceId, 'utf8').digest('hex');
}

// --- webob's error pages -------------------------------------------------------------------------

const TITLES: Record<number, string> = { 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 409: 'Conflict', 500: 'Internal Server Error' };

class HttpError extends Error {
  constructor(readonly status: number, readonly explanation: string, readonly headers: Record<string, string> = {}) { super(explanation); }
}

const notFound = () => new HttpError(404, 'The resource could not be found.');
const badRequest = (msg: string) => new HttpError(400, msg);

/** The q-value an Accept header gives a media type (most specific range wins); null when it names none. */
function qualityOf(ranges: { type: string; q: number }[], offer: string): number | null {
  const [t] = offer.split('/');
  let best: { spec: number; q: number } | null = null;
  for (const r of ranges) {
    const spec = r.type === offer ? 3 : r.type === `${t}/*` ? 2 : r.type === '*/*' ? 1 : 0;
    if (spec && (!best || spec > best.spec)) best = { spec, q: r.q };
  }
  return best ? best.q : null;
}

/** webob's choice of error format: the better of text/html and application/json, else plain text. */
function errorFormat(accept: string | undefined): 'html' | 'json' | 'plain' {
  if (!accept?.trim()) return 'plain';
  const ranges = accept.split(',').map((part) => {
    const [type, ...params] = part.trim().split(';').map((s) => s.trim());
    const q = params.find((p) => p.startsWith('q='));
    return { type: (type ?? '').toLowerCase(), q: q ? Number(q.slice(2)) : 1 };
  });
  const offers = (['text/html', 'application/json'] as const)
    .map((o) => ({ o, q: qualityOf(ranges, o) }))
    .filter((x): x is { o: 'text/html' | 'application/json'; q: number } => x.q !== null && x.q > 0);
  if (!offers.length) return 'plain';
  const top = offers.reduce((a, b) => (b.q > a.q ? b : a));
  return top.o === 'text/html' ? 'html' : 'json';
}

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function sendError(req: FastifyRequest, reply: FastifyReply, e: HttpError): FastifyReply {
  const status = `${e.status} ${TITLES[e.status] ?? 'Error'}`;
  // webob's body template: explanation, <br /><br />, detail and comment lines (405 has no comment line).
  const tail = e.status === 405 ? '' : '\n\n';
  const body = (esc: (s: string) => string) => `${esc(e.explanation)}<br /><br />\n${tail}`;
  for (const [k, v] of Object.entries(e.headers)) reply.header(k, v);
  reply.code(e.status);
  switch (errorFormat(req.headers.accept)) {
    case 'html':
      return reply.type('text/html; charset=UTF-8').send(`<html>\n <head>\n  <title>${status}</title>\n </head>\n <body>\n  <h1>${status}</h1>\n  ${body(escapeHtml)}\n </body>\n</html>`);
    case 'json':
      // A Buffer: Fastify would add '; charset=utf-8' to a JSON string's type, which webob does not send.
      return reply.header('content-type', 'application/json').send(Buffer.from(pyJson({ message: body((s) => s), code: status, title: TITLES[e.status] ?? 'Error' })));
    default: {
      // webob's strip_tags: newlines become spaces, then each <br /> a newline.
      const plain = body((s) => s).replace(/\r/g, '').replace(/\n/g, ' ').replace(/<br \/>/g, '\n');
      return reply.type('text/plain; charset=UTF-8').send(`${status}\n\n${plain}`);
    }
  }
}

// --- the handler -----------------------------------------------------------------------------------

/** One value of a header the proxy sets; 'multiple' when it came more than once. */
function single(req: FastifyRequest, name: string): string | undefined | 'multiple' {
  // From the raw header lines: Node joins repeated custom headers with ", " in req.headers.
  const raw = req.raw.rawHeaders;
  const all: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) all.push(raw[i + 1]!);
  if (all.length === 0) return undefined;
  return all.length > 1 ? 'multiple' : all[0];
}

function constantTimeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  // Compare equal lengths only (timingSafeEqual throws otherwise); the length is not secret.
  return x.length === y.length && timingSafeEqual(x, y);
}

function requestPath(url: string): string {
  const raw = url.split('?')[0] ?? '/';
  try { return decodeURIComponent(raw); } catch { throw notFound(); }
}

const isRoot = (path: string) => path.split('/').every((p) => p === '' || p === '.');

export function createMetadataApp(o: MetadataServerOptions): FastifyInstance {
  const { ctx } = o;
  const log = ctx.log.child({ component: 'metadata' });
  const app = Fastify({
    loggerInstance: log,
    logController: new LogController({ disableRequestLogging: true }),
    // A path that does not decode names no document.
    frameworkErrors: (err, req, reply) => {
      sendError(req, reply, err.code === 'FST_ERR_BAD_URL' ? notFound() : badRequest(err.message));
    },
    genReqId: () => `req-${randomUUID()}`,
    requestIdHeader: false,
    bodyLimit: 64 * 1024,
    routerOptions: { maxParamLength: 2000 },
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  app.addHook('onRequest', async (req, reply) => { reply.header('x-openstack-request-id', req.id); });
  app.addHook('onResponse', async (req, reply) => {
    req.log.info({ method: req.method, url: req.url, status: reply.statusCode }, 'metadata request');
  });

  const ensureRead = (req: FastifyRequest) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      throw new HttpError(405, `The method ${req.method} is not allowed for this resource. `, { allow: 'GET, HEAD' });
    }
  };

  const identify = async (req: FastifyRequest) => {
    const instanceId = single(req, 'x-instance-id');
    const tenantId = single(req, 'x-tenant-id');
    const signature = single(req, 'x-instance-id-signature');
    if (instanceId === undefined) throw badRequest('X-Instance-ID header is missing from request.');
    if (signature === undefined) throw badRequest('X-Instance-ID-Signature header is missing from request.');
    if (tenantId === undefined) throw badRequest('X-Tenant-ID header is missing from request.');
    if (instanceId === 'multiple') throw badRequest('Multiple X-Instance-ID headers found within request.');
    if (tenantId === 'multiple') throw badRequest('Multiple X-Tenant-ID headers found within request.');
    // Without a secret nothing proves the headers came from our proxy: refuse rather than serve
    // any instance's data to whoever names it (Nova would accept an HMAC keyed with '').
    const expected = o.sharedSecret ? signInstanceId(o.sharedSecret, instanceId) : null;
    if (!expected || signature === 'multiple' || !signature || !constantTimeEqual(expected, signature)) {
      log.warn({ instanceId, from: req.headers['x-forwarded-for'] ?? null, secretConfigured: !!o.sharedSecret }, 'X-Instance-ID-Signature does not match the expected value');
      throw new HttpError(403, 'Invalid proxy request signature.');
    }
    const forwarded = req.headers['x-forwarded-for'];
    const loaded = await loadMetadataSource(ctx.db, instanceId, {
      dhcpDomain: o.dhcpDomain ?? DEFAULT_DHCP_DOMAIN, vendorData: o.vendorData ?? {},
      address: Array.isArray(forwarded) ? forwarded.join(', ') : forwarded ?? null,
    });
    if (!loaded) {
      log.error({ instanceId }, 'Failed to get metadata for instance id');
      throw notFound();
    }
    if (loaded.inst.project_id !== tenantId) {
      log.warn({ instanceId, tenantId }, 'Tenant_id does not match tenant_id of instance');
      throw notFound();
    }
    return loaded;
  };

  const handler = async (req: FastifyRequest, reply: FastifyReply) => {
    const path = requestPath(req.url);
    if (isRoot(path)) {
      ensureRead(req);
      return reply.type('text/plain; charset=UTF-8').send(rootListing());
    }
    const { source } = await identify(req);
    const md = new InstanceMetadata(source);
    let found;
    try {
      found = md.lookup(path);
    } catch (e) {
      if (e instanceof MetadataNotFound) throw notFound();
      throw e;
    }
    if (found.kind === 'password') {
      if (req.method === 'GET' || req.method === 'HEAD') return reply.type('text/html; charset=UTF-8').send(source.password ?? '');
      if (req.method !== 'POST') throw badRequest('GET and POST only are supported.');
      if (source.password) throw new HttpError(409, 'There was a conflict when trying to complete your request.');
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const declared = Number(req.headers['content-length'] ?? 0);
      if (declared > PASSWORD_MAX || body.length > PASSWORD_MAX) throw badRequest('Request is too large.');
      const r = await setPasswordOnce(ctx.db, source.uuid, body.toString('utf8').slice(0, PASSWORD_MAX));
      if (r === 'conflict') throw new HttpError(409, 'There was a conflict when trying to complete your request.');
      if (r === 'gone') throw badRequest(`Instance ${source.uuid} could not be found.`);
      return reply.type('text/html; charset=UTF-8').send('');
    }
    ensureRead(req);
    return reply.header('content-type', found.contentType === TEXT_PLAIN ? 'text/plain; charset=UTF-8' : found.contentType).send(Buffer.from(found.body));
  };

  app.route({ method: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'], url: '/*', exposeHeadRoute: false, handler });
  app.route({ method: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'], url: '/', exposeHeadRoute: false, handler });

  app.setErrorHandler((error, req, reply) => {
    if (error instanceof HttpError) return sendError(req, reply, error);
    const code = (error as { code?: string }).code;
    const status = (error as { statusCode?: number }).statusCode;
    if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') return sendError(req, reply, badRequest('Request is too large.'));
    if (typeof status === 'number' && status >= 400 && status < 500) return sendError(req, reply, badRequest((error as Error).message));
    req.log.error({ err: error, reqId: req.id }, 'metadata request failed');
    return sendError(req, reply, new HttpError(500, 'An unknown error has occurred. Please try your request again.'));
  });
  app.setNotFoundHandler((req, reply) => sendError(req, reply, notFound()));
  return app as unknown as FastifyInstance;
}

/** Starts the metadata API; port 0 picks a free one. */
export async function startMetadataServer(o: MetadataServerOptions): Promise<MetadataServer> {
  if (!o.sharedSecret) o.ctx.log.warn('[compute] metadata_proxy_shared_secret is not set: the metadata API refuses every request (403)');
  const app = createMetadataApp(o);
  await app.listen({ host: o.host, port: o.port });
  const addr = app.server.address();
  return { app, port: typeof addr === 'object' && addr ? addr.port : o.port, close: () => app.close() };
}
