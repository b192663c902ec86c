// Placement's routing (placement/handler.py): each path declares its methods, each method its
// microversion range; a version outside the range is a 404 (or the status the handler names, e.g.
// 405 for DELETE /resource_providers/{uuid}/inventories before 1.5), a method the path does not
// have is a 405 with an Allow header.

import type { FastifyInstance, HTTPMethods } from 'fastify';
import type { Handler } from '../context.js';
import { perr } from './http.js';

export interface Versioned { min?: number; max?: number; status?: 404 | 405; handler: Handler }
export type RouteTable = Record<string, Partial<Record<'GET' | 'POST' | 'PUT' | 'DELETE', Versioned[] | Handler>>>;

const ALL: HTTPMethods[] = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'];

export function registerRoutes(app: FastifyInstance, table: RouteTable): void {
  for (const [path, methods] of Object.entries(table)) {
    const url = path.replace(/\{(\w+)\}/g, ':$1');
    const allow = Object.keys(methods).join(', ');
    for (const [method, spec] of Object.entries(methods)) {
      const list: Versioned[] = typeof spec === 'function' ? [{ handler: spec }] : spec!;
      app.route({
        method: method as HTTPMethods, url,
        handler: async (req, reply) => {
          const mv = req.placementVersion!;
          const hit = list.find((v) => mv.matches(v.min ?? 0, v.max));
          if (!hit) {
            const status = list[0]?.status ?? 404;
            throw status === 405 ? perr('MethodNotAllowed', 'The method specified is not allowed for this resource.')
              : perr('NotFound', '');
          }
          return hit.handler(req, reply);
        },
      });
    }
    const others = ALL.filter((m) => !(m in methods));
    app.route({
      method: others, url,
      handler: async () => { throw perr('MethodNotAllowed', 'The method specified is not allowed for this resource.', undefined, { allow }); },
    });
  }
}
