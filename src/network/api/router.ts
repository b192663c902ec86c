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
}

const ALL: HTTPMethods[] = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'];

export function registerRoutes(app: FastifyInstance, table: RouteTable): void {
  for (const [path, methods] of Object.entries(table)) {
    const url = path.replace(/\{([\w]+)\}/g, ':$1');
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
