// Version discovery (placement/handlers/root.py): GET / needs no token.

import type { FastifyReply, FastifyRequest } from 'fastify';
import { MAX_VERSION, MIN_VERSION } from './http.js';
import type { RouteTable } from './router.js';

export function rootRoutes(): RouteTable {
  const home = async (req: FastifyRequest, reply: FastifyReply) => {
    if (req.placementVersion!.matches(15)) reply.header('cache-control', 'no-cache').header('last-modified', new Date().toUTCString());
    return reply.code(200).type('application/json').send(JSON.stringify({
      versions: [{ id: `v${MIN_VERSION}`, max_version: MAX_VERSION, min_version: MIN_VERSION, status: 'CURRENT', links: [{ rel: 'self', href: '' }] }],
    }));
  };
  return { '/': { GET: home } };
}
