// /v2/images: list, create, show, update (JSON patch), delete, data upload/download, staging,
// import, the image's tasks, deactivate/reactivate and tags — Glance's images, image_data,
// image_actions and image_tags controllers.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { unlink } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { takeSocketBody } from '../socket-body.js';
import type { ImageContext } from '../context.js';
import { requestContext } from '../context.js';
import { bare, badRequest, conflict, detail, explain, forbidden, GlanceError, notFound } from '../errors.js';
import { ApiError } from '../../common/errors.js';
import {
  checkQuotas, formatImage, getImage, newImage, setStatus, splitCreateBody, DISALLOWED_ON_CREATE,
} from '../images.js';
import { cloneImage, deleteImageRow, insertImage, listImages, loadImage, saveImage, SORT_KEYS, type ImageFilter } from '../store/images.js';
import { ImagePolicy } from '../authz.js';
import { validateSchema } from '../schema.js';
import { applyChanges, parseChanges, PATCH_TYPES } from '../patch.js';
import { downloadImageData, stageImageData, stagingPath, uploadImageData } from '../data.js';
import { FileRange } from '../stores/file-range.js';
import { importImage, taskRecord, validateImportBody } from '../import.js';
import { tasksOfImage } from '../store/tasks.js';
import { bodyStream, contentLength, queryPairs, rejectBody, requireBody, resource, urlencode } from './http.js';

type Req = FastifyRequest<{ Params: { image_id: string; tag_value: string } }>;

/** Maps Glance domain errors to the status the controller gives them. */
function mapDomain(e: unknown, map: Partial<Record<GlanceError['type'], (m: string) => ApiError>>): never {
  if (e instanceof GlanceError) {
    const f = map[e.type];
    if (f) throw f(e.message);
  }
  throw e;
}

const FILTER_OPS: Record<string, '>=' | '<=' | '>' | '<' | '=' | '<>'> = { gt: '>', gte: '>=', lt: '<', lte: '<=', eq: '=', neq: '<>' };

function parseIsoTime(s: string): Date | null {
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/i.test(s.trim())) return null;
  const d = new Date(s.trim().replace(' ', 'T'));
  return Number.isNaN(d.getTime()) ? null : d;
}

function splitFilterOp(expr: string): [string, string] {
  const i = expr.indexOf(':');
  if (i < 0) return ['eq', expr];
  if (parseIsoTime(expr)) return ['eq', expr];
  return [expr.slice(0, i), expr.slice(i + 1)];
}

function splitQuoted(value: string): string[] {
  let open = true;
  for (let i = 0; i < value.length; i++) {
    if (value[i] !== '"' || (i && value[i - 1] === '\\')) continue;
    if (open && i && value[i - 1] !== ',') throw badRequest(`Invalid filter value ${value}. There is no comma before opening quotation mark.`);
    if (!open && i + 1 !== value.length && value[i + 1] !== ',') throw badRequest(`Invalid filter value ${value}. There is no comma after closing quotation mark.`);
    open = !open;
  }
  if (!open) throw badRequest(`Invalid filter value ${value}. The quote is not closed.`);
  const out: string[] = [];
  const re = /"([^"\\]*(?:\\.[^"\\]*)*)",?|([^,]+),?|,/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(value))) out.push(m[1] ?? m[2] ?? '');
  return out;
}

const COLUMNS = new Set(['id', 'name', 'size', 'virtual_size', 'status', 'visibility', 'checksum', 'os_hash_algo', 'os_hash_value', 'owner',
  'disk_format', 'container_format', 'min_disk', 'min_ram', 'protected', 'os_hidden', 'created_at', 'updated_at']);

/** Builds the filter of a list from the query's remaining parameters (_make_conditions_from_filters). */
function buildFilter(params: Map<string, string>, tags: string[]): ImageFilter {
  const f: ImageFilter = { eq: [], in: [], range: [], properties: [], tags, os_hidden: false };
  const visibility = params.get('visibility');
  if (visibility !== undefined && visibility !== '') {
    if (!['community', 'public', 'private', 'shared', 'all'].includes(visibility)) throw badRequest(`Invalid visibility value: ${visibility}`);
    f.visibility = visibility;
  }
  if (params.get('changes-since')) throw badRequest('The "changes-since" filter is no longer available on v2.');
  const osHidden = (params.get('os_hidden') ?? 'false').toLowerCase();
  if (osHidden !== 'true' && osHidden !== 'false') {
    throw badRequest(`Invalid value '${osHidden}' for 'os_hidden' filter. Valid values are 'true' or 'false'.`);
  }
  f.os_hidden = osHidden === 'true';
  const prot = params.get('protected');
  if (prot !== undefined) {
    if (prot !== 'true' && prot !== 'false') throw badRequest(`Invalid value '${prot}' for 'protected' filter. Valid values are 'true' or 'false'.`);
    f.protected = prot === 'true';
  }
  for (const [k, v] of params) {
    if (['visibility', 'changes-since', 'os_hidden', 'protected', 'deleted', 'deleted_at', 'is_public'].includes(k)) continue;
    if (k.endsWith('_min') || k.endsWith('_max')) {
      const key = k.slice(0, -4);
      if (!/^-?\d+$/.test(v.trim())) throw badRequest('Unable to filter on a range with a non-numeric value.');
      if (!COLUMNS.has(key)) throw badRequest(`Unable to filter on a range on unknown attribute '${key}'.`);
      f.range.push({ key, op: k.endsWith('_min') ? '>=' : '<=', value: Number(v) });
    } else if (k === 'created_at' || k === 'updated_at') {
      const [op, t] = splitFilterOp(v);
      const d = parseIsoTime(t);
      if (!d) throw badRequest(`Bad "${k}" query filter format. Use ISO 8601 DateTime notation.`);
      const sqlOp = FILTER_OPS[op];
      if (!sqlOp) throw badRequest('Unable to filter on a unknown operator.');
      f.range.push({ key: k, op: sqlOp, value: d.toISOString() });
    } else if (['name', 'id', 'status', 'container_format', 'disk_format'].includes(k)) {
      const [op, val] = splitFilterOp(v);
      if (op === 'in') f.in.push({ key: k, values: splitQuoted(val) });
      else if (op === 'eq') f.eq.push({ key: k, value: val });
      else throw badRequest(`Unable to filter by unknown operator '${op}'.`);
    } else if (COLUMNS.has(k)) {
      f.eq.push({ key: k, value: v });
    } else {
      f.properties.push({ name: k, value: v });
    }
  }
  return f;
}

export function registerImages(app: FastifyInstance, ctx: ImageContext): void {
  // ---- collection ----------------------------------------------------------------------------
  resource(app, '/v2/images', {
    GET: async (req) => {
      const rc = requestContext(ctx, req);
      const pairs = queryPairs(req);
      const first = (k: string) => { const i = pairs.findIndex(([x]) => x === k); return i < 0 ? undefined : pairs.splice(i, 1)[0]![1]; };
      const limitRaw = first('limit');
      const marker = first('marker');
      const memberStatus = first('member_status') ?? 'accepted';
      const tags: string[] = [];
      for (let t = first('tag'); t !== undefined; t = first('tag')) tags.push(t.trim());
      // sorting
      const sortKeys: string[] = [];
      const sortDirs: Array<'asc' | 'desc'> = [];
      const checkKey = (k: string) => {
        if (!SORT_KEYS.includes(k)) throw badRequest(`Invalid sort key: ${k}. It must be one of the following: ${SORT_KEYS.join(', ')}.`);
        return k;
      };
      const checkDir = (d: string) => {
        if (d !== 'asc' && d !== 'desc') throw badRequest(`Invalid sort direction: ${d}`);
        return d;
      };
      const params = new Map<string, string>();
      for (const [k, v] of pairs) params.set(k, v);
      const visibility = params.get('visibility');
      if (visibility && !['community', 'public', 'private', 'shared', 'all'].includes(visibility)) throw badRequest(`Invalid visibility value: ${visibility}`);
      if (params.get('changes-since')) throw badRequest('The "changes-since" filter is no longer available on v2.');
      if (!['pending', 'accepted', 'rejected', 'all'].includes(memberStatus)) throw badRequest(`Invalid status: ${memberStatus}`);
      let limit: number | undefined;
      if (limitRaw !== undefined) {
        if (!/^\s*[-+]?\d+\s*$/.test(limitRaw)) throw badRequest('limit param must be an integer');
        limit = Number(limitRaw);
        if (limit < 0) throw badRequest('limit param must be positive');
      }
      if (pairs.some(([k]) => k === 'sort')) {
        if (pairs.some(([k]) => k === 'sort_key' || k === 'sort_dir')) throw badRequest('Old and new sorting syntax cannot be combined');
        for (const part of first('sort')!.trim().split(',')) {
          const [key, dir] = part.includes(':') ? [part.slice(0, part.indexOf(':')), part.slice(part.indexOf(':') + 1)] : [part, ''];
          sortKeys.push(checkKey(key.trim()));
          sortDirs.push(checkDir((dir || 'desc').trim()) as 'asc' | 'desc');
        }
      } else {
        for (let k = first('sort_key'); k !== undefined; k = first('sort_key')) sortKeys.push(checkKey(k.trim()));
        for (let d = first('sort_dir'); d !== undefined; d = first('sort_dir')) sortDirs.push(checkDir(d.trim()) as 'asc' | 'desc');
        if (sortDirs.length > 1 && sortDirs.length !== sortKeys.length) throw badRequest('Number of sort dirs does not match the number of sort keys');
      }
      if (!sortKeys.length) sortKeys.push('created_at');
      if (!sortDirs.length) sortDirs.push('desc');
      const rest = new Map<string, string>();
      for (const [k, v] of pairs) rest.set(k, v);
      const filter = buildFilter(rest, tags);
      const pageLimit = Math.min(ctx.opts.limitMax, limit ?? ctx.opts.limitDefault);

      if (!ctx.policy.check('get_images', { project_id: rc.owner }, rc.creds)) throw forbidden('You are not authorized to complete get_images action.');
      let markerImage;
      if (marker !== undefined) {
        markerImage = await loadImage(ctx.db, marker);
        if (!markerImage) throw badRequest(`No image found with ID ${marker}`);
        const visible = (await import('../store/images.js')).isImageVisible;
        if (!(await visible(ctx.db, rc, markerImage))) throw forbidden(`Forbidding request, image ${marker} not visible`);
      }
      const images = pageLimit === 0 ? [] : await listImages(ctx.db, {
        viewer: rc, filter, memberStatus, sortKeys, sortDirs, limit: pageLimit, marker: markerImage,
      });
      const shown = images.filter((i) => new ImagePolicy(ctx, rc, i).check('get_image'));
      // next/first links: the query as given, marker replaced (ResponseSerializer.index).
      const dict: Array<[string, string]> = [];
      for (const [k, v] of queryPairs(req)) {
        const at = dict.findIndex(([x]) => x === k);
        if (at >= 0) dict[at] = [k, v]; else dict.push([k, v]);
      }
      const noMarker = dict.filter(([k]) => k !== 'marker');
      const body: Record<string, unknown> = { images: shown.map((i) => formatImage(ctx, rc, i)), first: '/v2/images', schema: '/v2/schemas/images' };
      if (noMarker.length) body.first = `/v2/images?${urlencode(noMarker)}`;
      if (shown.length && images.length === pageLimit) {
        const withMarker: Array<[string, string]> = [...noMarker, ['marker', shown[shown.length - 1]!.id]];
        body.next = `/v2/images?${urlencode(withMarker)}`;
      }
      return body;
    },
    POST: async (req, reply) => {
      const rc = requestContext(ctx, req);
      const body = requireBody(req) as Record<string, unknown>;
      if (Array.isArray(body)) throw badRequest("Provided object does not match schema 'image': the body must be a JSON object");
      for (const k of DISALLOWED_ON_CREATE) if (k in body) throw forbidden(`Attribute '${k}' is read-only.`);
      try {
        validateSchema('image', body);
      } catch (e) {
        mapDomain(e, { Invalid: badRequest });
      }
      let parts;
      try {
        parts = splitCreateBody(body);
      } catch (e) {
        mapDomain(e, { Invalid: badRequest, ReservedProperty: (m) => detail('Forbidden', m) });
      }
      const attrs = parts.attrs;
      if (!('owner' in attrs)) attrs.owner = rc.owner;
      try {
        new ImagePolicy(ctx, rc, { owner: attrs.owner as string | null, visibility: attrs.visibility as string | undefined }).addImage();
        const image = newImage(attrs, parts.properties, parts.tags);
        checkQuotas(ctx, image);
        await insertImage(ctx.db, image);
        reply.code(201).header('Location', `/v2/images/${image.id}`);
        if (ctx.opts.importMethods.length) reply.header('OpenStack-image-import-methods', ctx.opts.importMethods.join(','));
        reply.header('OpenStack-image-store-ids', [...ctx.stores.stores.keys()].join(','));
        return formatImage(ctx, rc, image);
      } catch (e) {
        mapDomain(e, {
          Invalid: badRequest, DuplicateLocation: badRequest, ReservedProperty: forbidden, ReadonlyProperty: forbidden,
          Forbidden: forbidden, LimitExceeded: (m) => explain('PayloadTooLarge', m), Duplicate: conflict, ValueError: badRequest,
        });
      }
    },
  });

  // ---- one image -----------------------------------------------------------------------------
  resource(app, '/v2/images/:image_id', {
    GET: [async (req: Req) => {
      const rc = requestContext(ctx, req);
      const image = await getImage(ctx, rc, req.params.image_id);
      new ImagePolicy(ctx, rc, image).getImage();
      return formatImage(ctx, rc, image);
    }, { bodyReject: true }],
    PATCH: async (req: Req) => {
      const rc = requestContext(ctx, req);
      const ct = String(req.headers['content-type'] ?? '').split(';')[0]!.trim();
      const draft = PATCH_TYPES[ct];
      if (!draft) throw bare('UnsupportedMediaType', { 'Accept-Patch': Object.keys(PATCH_TYPES).sort().join(', ') });
      const changes = parseChanges(requireBody(req), draft);
      const image = await getImage(ctx, rc, req.params.image_id);
      const before = cloneImage(image);
      const pol = new ImagePolicy(ctx, rc, image);
      const removed = await applyChanges(ctx, rc, image, pol, changes);
      if (changes.length) {
        try {
          checkQuotas(ctx, image, before);
          await saveImage(ctx.db, before, image);
        } catch (e) {
          mapDomain(e, {
            NotFound: notFound, Invalid: badRequest, Forbidden: forbidden, LimitExceeded: (m) => explain('PayloadTooLarge', m),
            Conflict: conflict,
          });
        }
        for (const loc of removed) {
          try {
            await ctx.stores.forLocation(loc.url, loc.metadata.store).delete(loc.url);
          } catch (e) {
            ctx.log.warn({ err: e, image: image.id }, 'could not delete removed location data');
          }
        }
      }
      return formatImage(ctx, rc, image);
    },
    DELETE: [async (req: Req, reply: FastifyReply) => {
      const rc = requestContext(ctx, req);
      const id = req.params.image_id;
      const image = await getImage(ctx, rc, id, (i) => `Failed to find image ${i} to delete`);
      try {
        new ImagePolicy(ctx, rc, image).deleteImage();
        if (image.protected) throw new GlanceError('Forbidden', `Image ${id} is protected and cannot be deleted.`);
        setStatus(image, 'deleted');
      } catch (e) {
        mapDomain(e, { Forbidden: forbidden, InvalidImageStatusTransition: badRequest });
      }
      await unlink(stagingPath(ctx, id)).catch(() => undefined);
      await deleteImageRow(ctx.db, id);
      if (ctx.cache) {
        await ctx.cache.deleteQueued(id);
        await ctx.cache.deleteCached(id);
      }
      for (const loc of image.locations) {
        try {
          await ctx.stores.forLocation(loc.url, loc.metadata.store).delete(loc.url);
        } catch (e) {
          ctx.log.warn({ err: e, image: id }, 'could not delete image data');
        }
      }
      reply.code(204);
    }, { bodyReject: true }],
  }, 'GET, PATCH, DELETE');

  // ---- data ----------------------------------------------------------------------------------
  const octetStream = (req: FastifyRequest) => {
    const ct = req.headers['content-type'];
    if (ct === undefined) throw explain('UnsupportedMediaType', 'Invalid content type None');
    const mime = String(ct).split(';')[0]!.trim();
    if (mime !== 'application/octet-stream') throw explain('UnsupportedMediaType', `Invalid content type ${mime}`);
  };
  resource(app, '/v2/images/:image_id/file', {
    GET: [async (req: Req, reply: FastifyReply) => {
      const rc = requestContext(ctx, req);
      const d = await downloadImageData(ctx, rc, req.params.image_id, req.headers.range, req.headers['content-range'] as string | undefined);
      reply.code(d.status).headers(d.headers);
      if (d.status === 204) return reply.send();
      if (d.stream instanceof FileRange) {
        // The file store's fast path: written straight to the socket from reused buffers.
        reply.hijack();
        reply.raw.writeHead(d.status, reply.getHeaders() as import("node:http").OutgoingHttpHeaders);
        await d.stream.sendTo(reply.raw).catch((err: Error) => reply.raw.destroy(err));
        return reply;
      }
      return reply.send(d.stream);
    }, { bodyReject: true }],
    PUT: [async (req: Req, reply: FastifyReply) => {
      const rc = requestContext(ctx, req);
      octetStream(req);
      const length = contentLength(req) || null;
      // A sized body is read from the socket into one reused buffer (see socket-body.ts); the
      // connection then closes after the answer.
      const direct = length !== null && (req.body === undefined || req.body === req.raw) ? takeSocketBody(req.raw, length) : null;
      if (direct) reply.header('Connection', 'close');
      await uploadImageData(ctx, rc, req.params.image_id, {
        stream: direct ? (direct as unknown as Readable) : bodyStream(req), contentLength: length,
        storeHeader: req.headers['x-image-meta-store'] as string | undefined,
      });
      reply.code(204);
    }, { raw: true }],
  });

  resource(app, '/v2/images/:image_id/stage', {
    PUT: [async (req: Req, reply: FastifyReply) => {
      const rc = requestContext(ctx, req);
      if (!ctx.opts.importMethods.includes('glance-direct')) throw notFound("'glance-direct' method is not available at this site.");
      octetStream(req);
      await stageImageData(ctx, rc, req.params.image_id, { stream: bodyStream(req), contentLength: contentLength(req) || null });
      reply.code(204);
    }, { raw: true }],
  });

  resource(app, '/v2/images/:image_id/import', {
    POST: async (req: Req, reply: FastifyReply) => {
      const rc = requestContext(ctx, req);
      const body = validateImportBody(ctx, requireBody(req));
      await importImage(ctx, rc, req.params.image_id, body, req.headers['x-image-meta-store'] as string | undefined);
      reply.code(202);
      return '';
    },
  });

  resource(app, '/v2/images/:image_id/tasks', {
    GET: [async (req: Req) => {
      const rc = requestContext(ctx, req);
      let image;
      try {
        image = await getImage(ctx, rc, req.params.image_id);
        new ImagePolicy(ctx, rc, image).getImage();
      } catch {
        throw bare('NotFound');
      }
      const tasks = (await tasksOfImage(ctx.db, image.id)).filter((t) => rc.isAdmin || t.owner === rc.owner || image.owner === rc.owner);
      return { tasks: tasks.map(taskRecord) };
    }, { bodyReject: true }],
  });

  // ---- actions -------------------------------------------------------------------------------
  const action = (kind: 'deactivate' | 'reactivate') => async (req: Req, reply: FastifyReply) => {
    const rc = requestContext(ctx, req);
    const image = await getImage(ctx, rc, req.params.image_id);
    const before = cloneImage(image);
    try {
      const pol = new ImagePolicy(ctx, rc, image);
      if (kind === 'deactivate') pol.deactivateImage(); else pol.reactivateImage();
      const from = kind === 'deactivate' ? 'active' : 'deactivated';
      const to = kind === 'deactivate' ? 'deactivated' : 'active';
      if (image.status === from) {
        setStatus(image, to);
        await saveImage(ctx.db, before, image, from);
      } else if (image.status !== to) {
        throw new GlanceError('Forbidden', `Not allowed to ${kind} image in status '${image.status}'`);
      }
    } catch (e) {
      mapDomain(e, { NotFound: notFound, Forbidden: forbidden, InvalidImageStatusTransition: badRequest, Conflict: conflict });
    }
    reply.code(204);
  };
  resource(app, '/v2/images/:image_id/actions/deactivate', { POST: [action('deactivate'), { bodyReject: true }] });
  resource(app, '/v2/images/:image_id/actions/reactivate', { POST: [action('reactivate'), { bodyReject: true }] });

  // ---- tags ----------------------------------------------------------------------------------
  resource(app, '/v2/images/:image_id/tags/:tag_value', {
    PUT: [async (req: Req, reply: FastifyReply) => {
      const rc = requestContext(ctx, req);
      try {
        validateSchema('image', { tags: [req.params.tag_value] });
      } catch (e) {
        mapDomain(e, { Invalid: badRequest });
      }
      const id = req.params.image_id;
      let image;
      try {
        image = await getImage(ctx, rc, id);
      } catch {
        throw notFound(`Image ${id} not found.`);
      }
      const before = cloneImage(image);
      try {
        new ImagePolicy(ctx, rc, image).modifyImage();
        if (!image.tags.includes(req.params.tag_value)) image.tags.push(req.params.tag_value);
        checkQuotas(ctx, image, before);
        await saveImage(ctx.db, before, image);
      } catch (e) {
        if (e instanceof ApiError && e.status === 403) throw forbidden(`Not allowed to update tags for image ${id}.`);
        mapDomain(e, {
          Forbidden: () => forbidden(`Not allowed to update tags for image ${id}.`), NotFound: () => notFound(`Image ${id} not found.`),
          Invalid: (m) => badRequest(`Could not update image: ${m}`),
          LimitExceeded: (m) => explain('PayloadTooLarge', `Image tag limit exceeded for image ${id}: ${m}:`),
        });
      }
      reply.code(204);
    }, { bodyReject: true }],
    DELETE: [async (req: Req, reply: FastifyReply) => {
      const rc = requestContext(ctx, req);
      const id = req.params.image_id;
      let image;
      try {
        image = await getImage(ctx, rc, id);
      } catch {
        throw notFound(`Image ${id} not found.`);
      }
      const before = cloneImage(image);
      try {
        new ImagePolicy(ctx, rc, image).modifyImage();
        if (!image.tags.includes(req.params.tag_value)) throw bare('NotFound');
        image.tags = image.tags.filter((t) => t !== req.params.tag_value);
        await saveImage(ctx.db, before, image);
      } catch (e) {
        if (e instanceof ApiError && e.status === 403) throw forbidden(`Not allowed to delete tags for image ${id}.`);
        mapDomain(e, { Forbidden: () => forbidden(`Not allowed to delete tags for image ${id}.`), NotFound: () => notFound(`Image ${id} not found.`) });
      }
      reply.code(204);
    }, { bodyReject: true }],
  });
}

export { rejectBody };
