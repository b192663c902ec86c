// /v2/cache (API 2.14+): list, queue, remove and clear cached images — Glance's CacheController.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ImageCacheApi, ImageContext, RequestContext } from '../context.js';
import { requestContext } from '../context.js';
import { bare, badRequest, explain, notFound } from '../errors.js';
import { loadImage, isImageVisible, type Image } from '../store/images.js';
import { imageTarget } from '../authz.js';
import { resource } from './http.js';

type Req = FastifyRequest<{ Params: { image_id: string } }>;

/** CacheController._enforce: the rule (403 with no text), then 404 when caching is off. */
function enforce(ctx: ImageContext, rc: RequestContext, rule: string, image?: Image): ImageCacheApi {
  const target = image ? imageTarget(rc, image) : {};
  if (!ctx.policy.check(rule, target, rc.creds)) throw bare('Forbidden');
  if (!ctx.cache) throw notFound('Caching via API is not supported at this site.');
  return ctx.cache;
}

async function visibleImage(ctx: ImageContext, rc: RequestContext, id: string): Promise<Image | undefined> {
  const image = await loadImage(ctx.db, id);
  return image && (await isImageVisible(ctx.db, rc, image)) ? image : undefined;
}

export function registerCache(app: FastifyInstance, ctx: ImageContext): void {
  resource(app, '/v2/cache', {
    GET: [async (req) => {
      const rc = requestContext(ctx, req);
      const cache = enforce(ctx, rc, 'cache_list');
      return { cached_images: cache.cachedImages(), queued_images: cache.queuedImages() };
    }, { bodyReject: true }],
    DELETE: async (req, reply) => {
      const rc = requestContext(ctx, req);
      const cache = enforce(ctx, rc, 'cache_delete');
      const target = String(req.headers['x-image-cache-clear-target'] ?? '').toLowerCase();
      if (target === '') { await cache.clearCached(); await cache.clearQueued(); }
      else if (target === 'cache') await cache.clearCached();
      else if (target === 'queue') await cache.clearQueued();
      else throw badRequest("If provided 'x-image-cache-clear-target' must be 'cache', 'queue' or empty string.");
      reply.code(204);
    },
  });
  resource(app, '/v2/cache/:image_id', {
    PUT: async (req: Req, reply: FastifyReply) => {
      const rc = requestContext(ctx, req);
      const id = req.params.image_id;
      const image = await visibleImage(ctx, rc, id);
      if (!image) throw notFound(`Image ${id} not found.`);
      const cache = enforce(ctx, rc, 'cache_image', image);
      if (image.status !== 'active') throw badRequest('Only images with status active can be targeted for queueing');
      await cache.queue(id);
      reply.code(202);
      return '';
    },
    DELETE: async (req: Req, reply: FastifyReply) => {
      const rc = requestContext(ctx, req);
      const id = req.params.image_id;
      const image = await visibleImage(ctx, rc, id);
      if (!image && !(ctx.cache && (ctx.cache.isCached(id) || ctx.cache.queuedImages().includes(id)))) {
        throw notFound(`Image ${id} not found.`);
      }
      const cache = enforce(ctx, rc, 'cache_delete', image);
      await cache.deleteCached(id);
      await cache.deleteQueued(id);
      reply.code(204);
    },
  }, 'DELETE, PUT');
}

export { explain };
