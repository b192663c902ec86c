// Routing for the network API. Each area is a module that contributes routes and the API
// extensions it implements (GET /v2.0/extensions lists exactly those). modules.ts lists them in
// one place, so an area (L3: routers, floating IPs) plugs in by adding its module there.

import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import type { NetworkContext } from '../context.js';
import { nerr } from './http.js';

export type Handler = (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
export type RouteTable = Record<string, Partial<Record<'GET' | 'POST' | 'PUT' | 'DELETE', Handler>>>;

/** An API extension as GET /v2.0/extensions shows it. */
export interface Extension { alias: string; name: string; description: string; updated: string; links?: unknown[] }

export interface ApiModule {
  name: string;
  extensions: Extension[];
  routes(ctx: NetworkContext): RouteTable;
  /** Collections of this module that take bulk creates, by path. */
  bulk?(ctx: NetworkContext): Record<string, BulkSpec>;
}

const ALL: HTTPMethods[] = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'];

/** A collection that accepts Neutron's bulk create ({"<plural>": [...]}) on its POST. */
export interface BulkSpec { singular: string; plural: string; rollback(id: string): Promise<void> }

/**
 * Neutron's emulated bulk create (base.py _emulate_bulk_create): each item goes through the single
 * create in order; when one fails, the ones already made are removed and the error is the answer.
 */
export function withBulk(create: Handler, spec: BulkSpec): Handler {
  return async (req, reply) => {
    const body = req.body as Record<string, unknown> | undefined;
    const items = body && typeof body === 'object' ? body[spec.plural] : undefined;
    if (!Array.isArray(items)) return create(req, reply);
    if (!items.length) throw nerr('BadRequest', 'HTTPBadRequest', 'Resources required');
    const made: Record<string, unknown>[] = [];
    const ignore = { code: () => ignore } as unknown as FastifyReply;
    try {
      for (const item of items) {
        // The same request with one item as its body (headers, caller, params are inherited).
        const one = Object.create(req, { body: { value: { [spec.singular]: item } } }) as FastifyRequest;
        const r = (await create(one, ignore)) as Record<string, unknown>;
        made.push(r[spec.singular] as Record<string, unknown>);
      }
    } catch (e) {
      for (const m of made.reverse()) await spec.rollback(String(m.id)).catch(() => undefined);
      throw e;
    }
    reply.code(201);
    return { [spec.plural]: made };
  };
}

/** The table with the POST of every bulk collection wrapped by withBulk. */
export function applyBulk(table: RouteTable, bulk: Record<string, BulkSpec>): RouteTable {
  const out: RouteTable = {};
  for (const [path, methods] of Object.entries(table)) {
    out[path] = methods.POST && bulk[path] ? { ...methods, POST: withBulk(methods.POST, bulk[path]!) } : methods;
  }
  return out;
}

export function registerRoutes(app: FastifyInstance, table: RouteTable): void {
  for (const [path, methods] of Object.entries(table)) {
    // Neutron's routes take a format suffix (/v2.0/networks.json, .../details.json), as its clients send.
    const base = path.replace(/\{([\w]+)\}/g, ':$1');
    for (const url of base === '/' ? [base] : [base, `${base}.json`]) {
    for (const [method, handler] of Object.entries(methods)) {
      app.route({ method: method as HTTPMethods, url, handler: handler! });
    }
    const others = ALL.filter((m) => !(m in methods));
    if (others.length) {
      app.route({
        method: others, url,
        handler: async () => { throw nerr('MethodNotAllowed', 'HTTPMethodNotAllowed', 'The server could not comply with the request since it is either malformed or otherwise incorrect.'); },
      });
    }
    }
  }
}
