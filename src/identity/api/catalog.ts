// /v3/regions, /v3/services, /v3/endpoints: the catalog's contents.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../../common/errors.js';
import { isUniqueViolation } from '../../common/db/index.js';
import { validate } from '../../common/validation.js';
import type { IdentityContext } from '../context.js';
import { enforce, listLinks, member, newId, parseJson, q, qBool, selfLink, rowOr404 } from '../context.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Row = Record<string, any>;

const regionSchema = {
  type: 'object',
  properties: { id: { type: 'string', minLength: 1, maxLength: 255 }, description: { type: ['string', 'null'] }, parent_region_id: { type: ['string', 'null'] } },
  additionalProperties: true,
};
const serviceCreate = {
  type: 'object',
  properties: { type: { type: 'string', minLength: 1, maxLength: 255 }, enabled: { type: 'boolean' }, name: { type: ['string', 'null'] }, description: { type: ['string', 'null'] } },
  required: ['type'],
  additionalProperties: true,
};
const serviceUpdate = { ...serviceCreate, required: [], minProperties: 1 };
const endpointCreate = {
  type: 'object',
  properties: {
    interface: { type: 'string', enum: ['public', 'internal', 'admin'] },
    service_id: { type: 'string', minLength: 1, maxLength: 64 },
    url: { type: 'string', minLength: 1, maxLength: 225, pattern: '^[a-zA-Z0-9+.-]+:.+' },
    region_id: { type: ['string', 'null'] }, region: { type: ['string', 'null'] }, enabled: { type: 'boolean' },
  },
  required: ['interface', 'service_id', 'url'],
  additionalProperties: true,
};
const endpointUpdate = { ...endpointCreate, required: [], minProperties: 1 };

export function formatRegion(req: FastifyRequest, r: Row): Row {
  return { ...parseJson(r.extra, {}), id: r.id, description: r.description ?? '', parent_region_id: r.parent_region_id ?? null, links: selfLink(req, `regions/${r.id}`) };
}
export function formatService(req: FastifyRequest, s: Row): Row {
  return { ...parseJson(s.extra, {}), id: s.id, type: s.type, enabled: !!s.enabled, links: selfLink(req, `services/${s.id}`) };
}
export function formatEndpoint(req: FastifyRequest, e: Row): Row {
  return {
    ...parseJson(e.extra, {}), id: e.id, interface: e.interface, service_id: e.service_id, url: e.url,
    region: e.region_id ?? null, region_id: e.region_id ?? null, enabled: !!e.enabled, links: selfLink(req, `endpoints/${e.id}`),
  };
}

async function getRegion(ctx: IdentityContext, id: string): Promise<Row> {
  return rowOr404(ctx, 'region', id, `Could not find region: ${id}.`);
}

async function checkParentRegion(ctx: IdentityContext, id: string, parent: string | null | undefined): Promise<void> {
  if (!parent) return;
  const seen = new Set([id]);
  let cur: string | null = parent;
  while (cur) {
    if (seen.has(cur)) throw new ApiError('BadRequest', `Circular reference in the region hierarchy: ${id}.`);
    seen.add(cur);
    const r: Row | undefined = await ctx.db.selectFrom('region').select(['id', 'parent_region_id']).where('id', '=', cur).executeTakeFirst();
    if (!r) throw new ApiError('BadRequest', `Could not find region: ${cur}.`);
    cur = r.parent_region_id;
  }
}

const pickExtra = (body: Row, core: string[]) => Object.fromEntries(Object.entries(body).filter(([k]) => !core.includes(k) && k !== 'links'));

export function registerCatalog(app: FastifyInstance, ctx: IdentityContext): void {
  // ---- regions
  const createRegion = async (req: FastifyRequest, id: string, body: Row) => {
    await checkParentRegion(ctx, id, body.parent_region_id);
    const row = { id, description: body.description ?? '', parent_region_id: body.parent_region_id ?? null, extra: JSON.stringify(pickExtra(body, ['id', 'description', 'parent_region_id'])) };
    try {
      await ctx.db.insertInto('region').values(row).execute();
    } catch (e) {
      if (isUniqueViolation(e)) throw new ApiError('Conflict', `Conflict occurred attempting to store region - Duplicate ID, ${id}.`);
      throw e;
    }
    ctx.changed();
    return formatRegion(req, row);
  };
  app.post('/v3/regions', async (req, reply) => {
    const body = validate<Row>(regionSchema, member(req.body, 'region'));
    enforce(ctx, req, 'identity:create_region');
    reply.code(201);
    return { region: await createRegion(req, body.id ?? newId(), body) };
  });
  app.put<{ Params: { id: string } }>('/v3/regions/:id', async (req, reply) => {
    const body = validate<Row>(regionSchema, member(req.body, 'region'));
    enforce(ctx, req, 'identity:create_region');
    if (body.id !== undefined && body.id !== req.params.id) throw new ApiError('BadRequest', 'Conflicting region IDs specified: the request path and body disagree.');
    reply.code(201);
    return { region: await createRegion(req, req.params.id, body) };
  });
  app.get('/v3/regions', async (req) => {
    enforce(ctx, req, 'identity:list_regions');
    let qb: Row = ctx.db.selectFrom('region').selectAll();
    if (q(req, 'parent_region_id') !== undefined) qb = qb.where('parent_region_id', '=', q(req, 'parent_region_id'));
    const rows: Row[] = await qb.orderBy('id').execute();
    return { regions: rows.map((r) => formatRegion(req, r)), links: listLinks(req) };
  });
  app.get<{ Params: { id: string } }>('/v3/regions/:id', async (req) => {
    enforce(ctx, req, 'identity:get_region');
    return { region: formatRegion(req, await getRegion(ctx, req.params.id)) };
  });
  app.patch<{ Params: { id: string } }>('/v3/regions/:id', async (req) => {
    const body = validate<Row>({ ...regionSchema, minProperties: 1 }, member(req.body, 'region'));
    enforce(ctx, req, 'identity:update_region');
    const r = await getRegion(ctx, req.params.id);
    if (body.id !== undefined && body.id !== r.id) throw new ApiError('BadRequest', 'Cannot change region ID');
    if ('parent_region_id' in body) await checkParentRegion(ctx, r.id, body.parent_region_id);
    const upd: Row = { extra: JSON.stringify({ ...parseJson(r.extra, {}), ...pickExtra(body, ['id', 'description', 'parent_region_id']) }) };
    if ('description' in body) upd.description = body.description ?? '';
    if ('parent_region_id' in body) upd.parent_region_id = body.parent_region_id;
    await ctx.db.updateTable('region').set(upd).where('id', '=', r.id).execute();
    ctx.changed();
    return { region: formatRegion(req, await getRegion(ctx, r.id)) };
  });
  app.delete<{ Params: { id: string } }>('/v3/regions/:id', async (req, reply) => {
    enforce(ctx, req, 'identity:delete_region');
    const r = await getRegion(ctx, req.params.id);
    const child = await ctx.db.selectFrom('region').select('id').where('parent_region_id', '=', r.id).executeTakeFirst();
    if (child) throw new ApiError('Forbidden', `Unable to delete region ${r.id} because it or its child regions have associated endpoints.`);
    const ep = await ctx.db.selectFrom('endpoint').select('id').where('region_id', '=', r.id).executeTakeFirst();
    if (ep) throw new ApiError('Forbidden', `Unable to delete region ${r.id} because it or its child regions have associated endpoints.`);
    await ctx.hooks.run('region.deleted', [r.id]);
    await ctx.db.deleteFrom('region').where('id', '=', r.id).execute();
    ctx.changed();
    reply.code(204).send();
  });

  // ---- services
  const getService = async (id: string) => {
    return rowOr404(ctx, 'service', id, `Could not find service: ${id}.`);
  };
  app.post('/v3/services', async (req, reply) => {
    const body = validate<Row>(serviceCreate, member(req.body, 'service'));
    enforce(ctx, req, 'identity:create_service');
    const row = { id: newId(), type: body.type, enabled: body.enabled === false ? 0 : 1, extra: JSON.stringify(pickExtra(body, ['id', 'type', 'enabled'])) };
    await ctx.db.insertInto('service').values(row).execute();
    ctx.changed();
    reply.code(201);
    return { service: formatService(req, row) };
  });
  app.get('/v3/services', async (req) => {
    enforce(ctx, req, 'identity:list_services');
    let qb: Row = ctx.db.selectFrom('service').selectAll();
    if (q(req, 'type') !== undefined) qb = qb.where('type', '=', q(req, 'type'));
    let rows: Row[] = await qb.orderBy('id').execute();
    const name = q(req, 'name');
    if (name !== undefined) rows = rows.filter((s) => parseJson<Row>(s.extra, {}).name === name);
    return { services: rows.map((s) => formatService(req, s)), links: listLinks(req) };
  });
  app.get<{ Params: { id: string } }>('/v3/services/:id', async (req) => {
    enforce(ctx, req, 'identity:get_service');
    return { service: formatService(req, await getService(req.params.id)) };
  });
  app.patch<{ Params: { id: string } }>('/v3/services/:id', async (req) => {
    const body = validate<Row>(serviceUpdate, member(req.body, 'service'));
    enforce(ctx, req, 'identity:update_service');
    const s = await getService(req.params.id);
    const upd: Row = { extra: JSON.stringify({ ...parseJson(s.extra, {}), ...pickExtra(body, ['id', 'type', 'enabled']) }) };
    if (body.type !== undefined) upd.type = body.type;
    if (body.enabled !== undefined) upd.enabled = body.enabled ? 1 : 0;
    await ctx.db.updateTable('service').set(upd).where('id', '=', s.id).execute();
    ctx.changed();
    return { service: formatService(req, await getService(s.id)) };
  });
  app.delete<{ Params: { id: string } }>('/v3/services/:id', async (req, reply) => {
    enforce(ctx, req, 'identity:delete_service');
    const s = await getService(req.params.id);
    const eps = await ctx.db.selectFrom('endpoint').select('id').where('service_id', '=', s.id).execute();
    await ctx.hooks.run('endpoint.deleted', eps.map((e: Row) => e.id));
    await ctx.hooks.run('service.deleted', [s.id]);
    await ctx.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('endpoint').where('service_id', '=', s.id).execute();
      await trx.deleteFrom('service').where('id', '=', s.id).execute();
    });
    ctx.changed();
    reply.code(204).send();
  });

  // ---- endpoints
  const getEndpoint = async (id: string) => {
    return rowOr404(ctx, 'endpoint', id, `Could not find endpoint: ${id}.`);
  };
  const checkRefs = async (body: Row) => {
    if (body.service_id !== undefined) {
      const s = await ctx.db.selectFrom('service').select('id').where('id', '=', body.service_id).executeTakeFirst();
      if (!s) throw new ApiError('BadRequest', `Could not find service: ${body.service_id}.`);
    }
    // Keystone creates a region an endpoint names when it does not exist yet.
    const region = body.region_id ?? body.region;
    if (region) {
      const r = await ctx.db.selectFrom('region').select('id').where('id', '=', region).executeTakeFirst();
      if (!r) {
        try {
          await ctx.db.insertInto('region').values({ id: region, description: '', parent_region_id: null, extra: '{}' }).execute();
        } catch (e) { if (!isUniqueViolation(e)) throw e; }
      }
    }
  };
  app.post('/v3/endpoints', async (req, reply) => {
    const body = validate<Row>(endpointCreate, member(req.body, 'endpoint'));
    enforce(ctx, req, 'identity:create_endpoint');
    await checkRefs(body);
    const row = {
      id: newId(), interface: body.interface, service_id: body.service_id, url: body.url, region_id: body.region_id ?? body.region ?? null,
      enabled: body.enabled === false ? 0 : 1, extra: JSON.stringify(pickExtra(body, ['id', 'interface', 'service_id', 'url', 'region_id', 'region', 'enabled'])),
    };
    await ctx.db.insertInto('endpoint').values(row).execute();
    ctx.changed();
    reply.code(201);
    return { endpoint: formatEndpoint(req, row) };
  });
  app.get('/v3/endpoints', async (req) => {
    enforce(ctx, req, 'identity:list_endpoints');
    let qb: Row = ctx.db.selectFrom('endpoint').selectAll();
    for (const k of ['interface', 'service_id', 'region_id']) if (q(req, k) !== undefined) qb = qb.where(k, '=', q(req, k));
    const enabled = qBool(req, 'enabled');
    if (enabled !== undefined) qb = qb.where('enabled', '=', enabled ? 1 : 0);
    const rows: Row[] = await qb.orderBy('id').execute();
    return { endpoints: rows.map((e) => formatEndpoint(req, e)), links: listLinks(req) };
  });
  app.get<{ Params: { id: string } }>('/v3/endpoints/:id', async (req) => {
    enforce(ctx, req, 'identity:get_endpoint');
    return { endpoint: formatEndpoint(req, await getEndpoint(req.params.id)) };
  });
  app.patch<{ Params: { id: string } }>('/v3/endpoints/:id', async (req) => {
    const body = validate<Row>(endpointUpdate, member(req.body, 'endpoint'));
    enforce(ctx, req, 'identity:update_endpoint');
    const e = await getEndpoint(req.params.id);
    await checkRefs(body);
    const upd: Row = { extra: JSON.stringify({ ...parseJson(e.extra, {}), ...pickExtra(body, ['id', 'interface', 'service_id', 'url', 'region_id', 'region', 'enabled']) }) };
    for (const k of ['interface', 'service_id', 'url']) if (body[k] !== undefined) upd[k] = body[k];
    if ('region_id' in body || 'region' in body) upd.region_id = body.region_id ?? body.region ?? null;
    if (body.enabled !== undefined) upd.enabled = body.enabled ? 1 : 0;
    await ctx.db.updateTable('endpoint').set(upd).where('id', '=', e.id).execute();
    ctx.changed();
    return { endpoint: formatEndpoint(req, await getEndpoint(e.id)) };
  });
  app.delete<{ Params: { id: string } }>('/v3/endpoints/:id', async (req, reply) => {
    enforce(ctx, req, 'identity:delete_endpoint');
    const e = await getEndpoint(req.params.id);
    await ctx.hooks.run('endpoint.deleted', [e.id]);
    await ctx.db.deleteFrom('endpoint').where('id', '=', e.id).execute();
    ctx.changed();
    reply.code(204).send();
  });
}
