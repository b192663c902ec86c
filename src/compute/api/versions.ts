// Version discovery (no token needed): GET / lists v2.0 and v2.1, GET /v2.1 describes v2.1 with its
// microversion range. Hrefs use the host the client called, as Nova's do.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { MAX_VERSION, MIN_VERSION } from './microversion.js';

function base(req: FastifyRequest): string {
  const host = req.headers['x-forwarded-host'] ?? req.headers.host ?? '127.0.0.1';
  return `http://${String(host)}`;
}

function v21(req: FastifyRequest) {
  return {
    id: 'v2.1', status: 'CURRENT', version: MAX_VERSION, min_version: MIN_VERSION, updated: '2013-07-23T11:33:21Z',
    links: [{ rel: 'self', href: `${base(req)}/v2.1/` }],
  };
}

function v20(req: FastifyRequest) {
  return {
    id: 'v2.0', status: 'SUPPORTED', version: '', min_version: '', updated: '2011-01-21T11:33:21Z',
    links: [{ rel: 'self', href: `${base(req)}/v2/` }],
  };
}

/** Paths answered without a token. */
export function isDiscovery(url: string): boolean {
  const p = url.split('?')[0]!.replace(/\/+$/, '');
  return p === '' || p === '/v2.1' || p === '/v2';
}

export function registerVersions(app: FastifyInstance): void {
  app.get('/', async (req) => ({ versions: [v20(req), v21(req)] }));
  const one = async (req: FastifyRequest) => ({
    version: {
      ...v21(req),
      links: [...v21(req).links, { rel: 'describedby', type: 'text/html', href: 'http://docs.openstack.org/' }],
      'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.compute+json;version=2.1' }],
    },
  });
  app.get('/v2.1', one);
  // The legacy v2.0 endpoint's document (v2.0 is the same API without microversions).
  app.get('/v2', async (req: FastifyRequest) => ({
    version: {
      ...v20(req),
      links: [...v20(req).links, { rel: 'describedby', type: 'text/html', href: 'http://docs.openstack.org/' }],
      'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.compute+json;version=2' }],
    },
  }));
}
