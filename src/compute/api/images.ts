// Compute API: the image proxy (/images, deprecated, until microversion 2.35) — Glance's images as
// Nova shows them, fetched and changed with the caller's own token, so the image service decides
// what the caller may see and do. From 2.36 on these routes are 404, as in Nova.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../../common/errors.js';
import { validate } from '../../common/validation.js';
import type { ComputeContext } from '../context.js';
import { isotime, requestContext } from '../context.js';
import { requireVersion } from './microversion.js';
import { query } from './common.js';
import { hostUrl } from './views.js';
import { ImageClient, ImageClientError, imageProperties, type GlanceImage } from '../../image/client.js';

const STATUS: Record<string, string> = { active: 'ACTIVE', queued: 'SAVING', saving: 'SAVING', deleted: 'DELETED', pending_delete: 'DELETED', killed: 'ERROR' };
const PROGRESS: Record<string, number> = { queued: 25, saving: 50, active: 100 };

function links(req: FastifyRequest, glance: string, id: string) {
  const h = hostUrl(req);
  return [
    { rel: 'self', href: `${h}/v2.1/images/${id}` },
    { rel: 'bookmark', href: `${h}/images/${id}` },
    { rel: 'alternate', type: 'application/vnd.openstack.image', href: `${glance}/images/${id}` },
  ];
}

function view(req: FastifyRequest, glance: string, img: GlanceImage): Record<string, unknown> {
  const props = imageProperties(img);
  const v: Record<string, unknown> = {
    id: img.id, name: img.name, minRam: Number(img.min_ram ?? 0), minDisk: Number(img.min_disk ?? 0), metadata: props,
    created: isotime(img.created_at), updated: isotime(img.updated_at), status: STATUS[img.status] ?? 'UNKNOWN',
    progress: PROGRESS[img.status] ?? 0, 'OS-EXT-IMG-SIZE:size': img.size, links: links(req, glance, img.id),
  };
  if (props.instance_uuid) {
    const h = hostUrl(req);
    v.server = { id: props.instance_uuid, links: [{ rel: 'self', href: `${h}/v2.1/servers/${props.instance_uuid}` }, { rel: 'bookmark', href: `${h}/servers/${props.instance_uuid}` }] };
  }
  if (props.auto_disk_config !== undefined) v['OS-DCF:diskConfig'] = ['1', 'true', 'yes', 'on', 't', 'y'].includes(props.auto_disk_config.toLowerCase()) ? 'AUTO' : 'MANUAL';
  return v;
}

const notFound = (id: string) => new ApiError('NotFound', `Image ${id} could not be found.`);

export function registerImages(app: FastifyInstance, ctx: ComputeContext): void {
  const images = new ImageClient(ctx.session);
  const glanceBase = async () => (await ctx.session.endpoint('image')).replace(/\/v2\/?$/, '');
  type P = { Params: { id: string; key: string } };

  const get = async (req: FastifyRequest, id: string) => {
    const rc = requestContext(ctx, req);
    const img = await images.get(id, rc.token);
    if (!img) throw notFound(id);
    return { rc, img };
  };

  const list = async (req: FastifyRequest, detail: boolean) => {
    requireVersion(req, '2.1', '2.35');
    const rc = requestContext(ctx, req);
    const q = query(req);
    const g: Record<string, string> = {};
    const one = (k: string) => q[k]?.[q[k]!.length - 1];
    if (one('limit') !== undefined) g.limit = one('limit')!;
    if (one('marker') !== undefined) g.marker = one('marker')!;
    if (one('name') !== undefined) g.name = one('name')!;
    if (one('status') !== undefined) {
      const st = one('status')!.toUpperCase();
      g.status = ({ ACTIVE: 'active', SAVING: 'saving', DELETED: 'deleted', ERROR: 'killed' } as Record<string, string>)[st] ?? one('status')!.toLowerCase();
    }
    if (one('changes-since') !== undefined) g['updated_at'] = `gte:${one('changes-since')}`;
    if (one('server') !== undefined) g.instance_uuid = one('server')!.replace(/^.*\/servers\//, '');
    if (one('type') !== undefined) g.image_type = one('type')!;
    let res;
    try {
      res = await images.list(g, rc.token);
    } catch (e) {
      if (e instanceof ImageClientError && e.status === 400) throw new ApiError('BadRequest', 'Invalid image list query.');
      throw e;
    }
    let rows = res.images;
    const minRam = one('minRam'), minDisk = one('minDisk');
    if (minRam !== undefined) rows = rows.filter((i) => Number(i.min_ram ?? 0) >= Number(minRam));
    if (minDisk !== undefined) rows = rows.filter((i) => Number(i.min_disk ?? 0) >= Number(minDisk));
    const glance = await glanceBase();
    const out: Record<string, unknown> = {
      images: rows.map((i) => (detail ? view(req, glance, i) : { id: i.id, name: i.name, links: links(req, glance, i.id) })),
    };
    if (res.next && rows.length) {
      const u = new URL(req.url, 'http://x');
      u.searchParams.set('marker', rows[rows.length - 1]!.id);
      out.images_links = [{ rel: 'next', href: `${hostUrl(req)}/v2.1/images${detail ? '/detail' : ''}?${u.searchParams.toString()}` }];
    }
    return out;
  };

  app.get('/images', (req) => list(req, false));
  app.get('/images/detail', (req) => list(req, true));
  app.get<P>('/images/:id', async (req) => {
    requireVersion(req, '2.1', '2.35');
    const { img } = await get(req, req.params.id);
    return { image: view(req, await glanceBase(), img) };
  });
  app.delete<P>('/images/:id', async (req, reply) => {
    requireVersion(req, '2.1', '2.35');
    const { rc, img } = await get(req, req.params.id);
    try {
      await images.delete(img.id, rc.token);
    } catch (e) {
      if (e instanceof ImageClientError && e.status === 403) throw new ApiError('Forbidden', `You are not allowed to delete the image.`);
      throw e;
    }
    reply.code(204).send();
  });

  // Image metadata = the image's extra properties.
  const BASE = new Set(['id', 'name', 'status', 'visibility', 'owner', 'disk_format', 'container_format', 'size', 'virtual_size', 'min_disk', 'min_ram', 'checksum', 'protected', 'created_at', 'updated_at', 'tags', 'os_hidden', 'os_hash_algo', 'os_hash_value', 'self', 'file', 'schema', 'direct_url', 'locations', 'stores']);
  const setMeta = async (req: FastifyRequest, id: string, md: Record<string, string>, replace: boolean) => {
    const { rc, img } = await get(req, id);
    const current = imageProperties(img);
    const ops: { op: string; path: string; value?: unknown }[] = [];
    if (replace) for (const k of Object.keys(current)) if (!(k in md)) ops.push({ op: 'remove', path: `/${k}` });
    for (const [k, v] of Object.entries(md)) {
      if (BASE.has(k)) throw new ApiError('BadRequest', `Invalid image metadata key: ${k}`);
      ops.push({ op: k in current ? 'replace' : 'add', path: `/${k}`, value: String(v) });
    }
    try {
      return imageProperties(await images.patch(img.id, ops, rc.token));
    } catch (e) {
      if (e instanceof ImageClientError && e.status === 403) throw new ApiError('Forbidden', 'You are not allowed to change this image.');
      if (e instanceof ImageClientError && e.status === 413) throw new ApiError('Forbidden', 'Maximum number of metadata items exceeds 128');
      if (e instanceof ImageClientError && e.status === 400) throw new ApiError('BadRequest', 'Invalid image metadata.');
      throw e;
    }
  };
  const MD = { type: 'object', properties: { metadata: { type: 'object', additionalProperties: { type: 'string', maxLength: 255 } } }, required: ['metadata'], additionalProperties: false };
  const META = { type: 'object', properties: { meta: { type: 'object', additionalProperties: { type: 'string', maxLength: 255 }, minProperties: 1, maxProperties: 1 } }, required: ['meta'], additionalProperties: false };
  app.get<P>('/images/:id/metadata', async (req) => {
    requireVersion(req, '2.1', '2.35');
    const { img } = await get(req, req.params.id);
    return { metadata: imageProperties(img) };
  });
  app.post<P>('/images/:id/metadata', async (req) => {
    requireVersion(req, '2.1', '2.35');
    const b = validate<{ metadata: Record<string, string> }>(MD, req.body);
    return { metadata: await setMeta(req, req.params.id, b.metadata, false) };
  });
  app.put<P>('/images/:id/metadata', async (req) => {
    requireVersion(req, '2.1', '2.35');
    const b = validate<{ metadata: Record<string, string> }>(MD, req.body);
    return { metadata: await setMeta(req, req.params.id, b.metadata, true) };
  });
  app.get<P>('/images/:id/metadata/:key', async (req) => {
    requireVersion(req, '2.1', '2.35');
    const { img } = await get(req, req.params.id);
    const props = imageProperties(img);
    if (!(req.params.key in props)) throw new ApiError('NotFound', 'Invalid metadata key');
    return { meta: { [req.params.key]: props[req.params.key] } };
  });
  app.put<P>('/images/:id/metadata/:key', async (req) => {
    requireVersion(req, '2.1', '2.35');
    const b = validate<{ meta: Record<string, string> }>(META, req.body);
    if (!(req.params.key in b.meta)) throw new ApiError('BadRequest', 'Request body and URI mismatch');
    await setMeta(req, req.params.id, b.meta, false);
    return { meta: b.meta };
  });
  app.delete<P>('/images/:id/metadata/:key', async (req, reply) => {
    requireVersion(req, '2.1', '2.35');
    const { rc, img } = await get(req, req.params.id);
    const props = imageProperties(img);
    if (!(req.params.key in props)) throw new ApiError('NotFound', 'Invalid metadata key');
    try {
      await images.patch(img.id, [{ op: 'remove', path: `/${req.params.key}` }], rc.token);
    } catch (e) {
      if (e instanceof ImageClientError && e.status === 403) throw new ApiError('Forbidden', 'You are not allowed to change this image.');
      throw e;
    }
    reply.code(204).send();
  });
}
