// The HTTP plumbing every API service shares: request ids, the service's fault format for every
// error (including the framework's own: bad JSON, too large, unknown route), and an access log line.

import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { Logger } from '../log.js';
import { ApiError, type ErrorKind, type FaultFormatter } from '../errors.js';

export interface ApiServerOptions {
  /** Service name, for logs. */
  name: string;
  fault: FaultFormatter;
  logger: Logger;
  bodyLimit?: number;
  /** Extra headers on every response (Keystone sends Vary: X-Auth-Token). */
  headers?: Record<string, string>;
  /** Read a body sent without Content-Type as JSON (Keystone does; Python `requests` sends none). */
  untypedBodiesAreJson?: boolean;
  /** Maps a request URL before routing (Nova's legacy /v2.1/{project_id}/... URLs). */
  rewriteUrl?: (url: string) => string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Start time, for the access log. */
    startedAt: bigint;
  }
}

function kindForStatus(status: number): ErrorKind {
  switch (status) {
    case 401: return 'Unauthorized';
    case 403: return 'Forbidden';
    case 404: return 'NotFound';
    case 405: return 'MethodNotAllowed';
    case 406: return 'NotAcceptable';
    case 409: return 'Conflict';
    case 413: return 'PayloadTooLarge';
    case 415: return 'UnsupportedMediaType';
    default: return 'BadRequest';
  }
}

export function createApiServer(opts: ApiServerOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: opts.logger.child({ service: opts.name }),
    // Our own access line (onResponse) replaces Fastify's two lines per request.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: () => `req-${randomUUID()}`,
    requestIdHeader: false,
    bodyLimit: opts.bodyLimit ?? 114688,
    keepAliveTimeout: 75_000,
    routerOptions: { maxParamLength: 500, ignoreTrailingSlash: true, ignoreDuplicateSlashes: true },
    ...(opts.rewriteUrl ? { rewriteUrl: (req: { url?: string }) => opts.rewriteUrl!(req.url ?? '/') } : {}),
  });
  const extra = opts.headers ?? {};

  app.decorateRequest('startedAt', 0n);
  app.addHook('onRequest', async (req, reply) => {
    req.startedAt = process.hrtime.bigint();
    reply.header('x-openstack-request-id', req.id);
    for (const [k, v] of Object.entries(extra)) reply.header(k, v);
  });
  app.addHook('onResponse', async (req, reply) => {
    const ms = Number(process.hrtime.bigint() - req.startedAt) / 1e6;
    req.log.info({ method: req.method, url: req.url, status: reply.statusCode, ms: Math.round(ms * 10) / 10 }, 'request');
  });

  // Bodies: JSON only, parsed by us so a syntax error becomes the service's 400. An empty body on a
  // JSON request is treated as no body; the handler decides whether it needs one.
  app.removeAllContentTypeParsers();
  const parseJsonBody = (text: string, done: (err: Error | null, body?: unknown) => void) => {
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch (e) {
      done(new ApiError('BadRequest', `Malformed request body: ${(e as Error).message}`), undefined);
    }
  };
  app.addContentTypeParser(/^application\/([a-z0-9.+-]*\+)?json/, { parseAs: 'string' }, (_req, body, done) => parseJsonBody(body as string, done));
  // Anything else is read as text so a handler can reject it with a proper fault.
  app.addContentTypeParser('*', { parseAs: 'string' }, (req, body, done) => {
    if (opts.untypedBodiesAreJson && !req.headers['content-type']) return parseJsonBody(body as string, done);
    done(null, body === '' ? undefined : body);
  });

  const send = (req: FastifyRequest, reply: FastifyReply, err: ApiError) => {
    for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
    reply.header('x-openstack-request-id', req.id);
    for (const [k, v] of Object.entries(extra)) reply.header(k, v);
    reply.code(err.status).type('application/json').send(opts.fault(err));
  };

  app.setErrorHandler((error, req, reply) => {
    if (error instanceof ApiError) return send(req, reply, error);
    const status = (error as { statusCode?: number }).statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      const msg = status === 413 ? 'Request Entity Too Large' : (error as Error).message;
      return send(req, reply, new ApiError(kindForStatus(status), msg));
    }
    req.log.error({ err: error, reqId: req.id }, 'unhandled error');
    reply.header('x-openstack-request-id', req.id);
    reply.code(500).type('application/json').send(
      opts.fault(new ApiError('InternalServerError', 'An unexpected error prevented the server from fulfilling your request.')),
    );
  });
  app.setNotFoundHandler((req, reply) => send(req, reply, new ApiError('NotFound', 'The resource could not be found.')));
  return app as unknown as FastifyInstance;
}
