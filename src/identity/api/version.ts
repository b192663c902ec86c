// Version discovery at / and /v3, as Keystone publishes it.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { baseUrl } from '../context.js';

const UPDATED = '2022-09-07T00:00:00Z';
const MEDIA = [{ base: 'application/json', type: 'application/vnd.openstack.identity-v3+json' }];

function v3(req: FastifyRequest) {
  return { id: 'v3.14', status: 'stable', updated: UPDATED, links: [{ rel: 'self', href: `${baseUrl(req)}/v3/` }], 'media-types': MEDIA };
}

export function registerVersion(app: FastifyInstance): void {
  app.get('/', async (req, reply) => {
    reply.code(300);
    return { versions: { values: [v3(req)] } };
  });
  app.get('/v3', async (req) => ({ version: v3(req) }));
}
