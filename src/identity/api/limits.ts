// Unified limits (flat enforcement model): /v3/registered_limits (a service's default for a
// resource, optionally per region), /v3/limits (a project's or domain's own value for a registered
// limit) and /v3/limits/model. As in Keystone, a limit's service, region and resource name are
// those of its registered limit, and creation is all-or-nothing per request.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../../common/errors.js';
import { validate } from '../../common/validation.js';
import type { IdentityContext } from '../context.js';
import { enforce, listLinks, newId, q, selfLink, rowOr404 } from '../context.js';
import type { ExtensionDeps } from '../extensions.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Row = Record<string, any>;

const ID_STRING = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[a-zA-Z0-9-]+$' };
const RESOURCE_NAME = { type: 'string', minLength: 1, maxLength: 255 };
const LIMIT_VALUE = { type: 'integer', minimum: -1, maximum: 0x7fffffff };
const DESCRIPTION = { type: ['string', 'null'] };

const registeredLimitProperties = { service_id: ID_STRING, region_id: { type: ['null', 'string'] }, resource_name: RESOURCE_NAME, default_limit: LIMIT_VALUE, description: DESCRIPTION };
const registeredLimitCreate = {
  type: 'array', minItems: 1,
  items: { type: 'object', properties: registeredLimitProperties, additionalProperties: false, required: ['service_id', 'resource_name', 'default_limit'] },
};
const registeredLimitUpdate = { type: 'object', properties: registeredLimitProperties, additionalProperties: false };

const limitCommon = { service_id: ID_STRING, region_id: { type: 'string' }, resource_name: RESOURCE_NAME, resource_limit: LIMIT_VALUE, description: DESCRIPTION };
const limitCreate = {
  type: 'array', minItems: 1,
  items: {
    type: 'object',
    oneOf: [
      { properties: { project_id: ID_STRING, ...limitCommon }, required: ['project_id', 'service_id', 'resource_name', 'resource_limit'], additionalProperties: false },
      { properties: { domain_id: ID_STRING, ...limitCommon }, required: ['domain_id', 'service_id', 'resource_name', 'resource_limit'], additionalProperties: false },
    ],
  },
};
const limitUpdate = { type: 'object', properties: { resource_limit: LIMIT_VALUE, description: DESCRIPTION }, additionalProperties: false };

const MODEL = { name: 'flat', description: 'Limit enforcement and validation does not take project hierarchy into consideration.' };

const notValid = (attr: string, target: string) => new ApiError('BadRequest', `Expecting to find ${attr} in ${target}. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.`);

/** `body[key]` as Keystone reads it (absent: {}), for the array members of create. */
function bodyValue(body: unknown, key: string): unknown {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw new ApiError('BadRequest', 'The request body must be a JSON object.');
  return (body as Row)[key] ?? {};
}

function formatRegistered(req: FastifyRequest, r: Row): Row {
  return {
    id: r.id, service_id: r.service_id, region_id: r.region_id ?? null, resource_name: r.resource_name,
    default_limit: Number(r.default_limit), description: r.description ?? null, links: selfLink(req, `registered_limits/${r.id}`),
  };
}

function formatLimit(req: FastifyRequest, l: Row): Row {
  return {
    id: l.id, project_id: l.project_id ?? null, domain_id: l.domain_id ?? null, service_id: l.service_id, region_id: l.region_id ?? null,
    resource_name: l.resource_name, resource_limit: Number(l.resource_limit), description: l.description ?? null,
    links: selfLink(req, `limits/${l.id}`),
  };
}

function limitsQuery(ctx: IdentityContext): Row {
  return ctx.db.selectFrom('unified_limit').innerJoin('unified_registered_limit', 'unified_registered_limit.id', 'unified_limit.registered_limit_id')
    .select([
      'unified_limit.id as id', 'unified_limit.project_id as project_id', 'unified_limit.domain_id as domain_id',
      'unified_limit.resource_limit as resource_limit', 'unified_limit.description as description',
      'unified_registered_limit.service_id as service_id', 'unified_registered_limit.region_id as region_id',
      'unified_registered_limit.resource_name as resource_name',
    ]);
}

async function getRegistered(ctx: IdentityContext, id: string): Promise<Row> {
  return rowOr404(ctx, 'unified_registered_limit', id, `Could not find registered limit for ${id}.`);
}

async function findLimit(ctx: IdentityContext, id: string): Promise<Row | undefined> {
  return limitsQuery(ctx).where('unified_limit.id', '=', id).executeTakeFirst();
}

async function getLimit(ctx: IdentityContext, id: string): Promise<Row> {
  const l = await findLimit(ctx, id);
  if (!l) throw new ApiError('NotFound', `Could not find limit for ${id}.`);
  return l;
}

/** Keystone's _assert_resource_exist: unknown references are a 400 naming the field. A project acting as a domain makes a domain limit. */
async function assertResourcesExist(ctx: IdentityContext, l: Row, target: string): Promise<void> {
  if (l.service_id !== undefined && l.service_id !== null) {
    if (!(await ctx.db.selectFrom('service').select('id').where('id', '=', l.service_id).executeTakeFirst())) throw notValid('service_id', target);
  }
  if (l.region_id !== undefined && l.region_id !== null) {
    if (!(await ctx.db.selectFrom('region').select('id').where('id', '=', l.region_id).executeTakeFirst())) throw notValid('region_id', target);
  }
  if (l.project_id !== undefined && l.project_id !== null) {
    const p = await ctx.db.selectFrom('project').select(['id', 'is_domain']).where('id', '=', l.project_id).executeTakeFirst();
    if (!p) throw notValid('project_id', target);
    if (p.is_domain) { l.domain_id = l.project_id; delete l.project_id; }
  }
  if (l.domain_id !== undefined && l.domain_id !== null) {
    const d = await ctx.db.selectFrom('project').select('id').where('id', '=', l.domain_id).where('is_domain', '=', 1).executeTakeFirst();
    if (!d) throw notValid('domain_id', target);
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function whereRegion(qb: any, region: string | null | undefined): any {
  return region === undefined || region === null ? qb.where('region_id', 'is', null) : qb.where('region_id', '=', region);
}

const duplicate = (type: string) => new ApiError('Conflict', `Conflict occurred attempting to store ${type} - Duplicate entry.`);

export function registerLimits(app: FastifyInstance, ctx: IdentityContext): void {
  // ---- registered limits
  app.post('/v3/registered_limits', async (req, reply) => {
    enforce(ctx, req, 'identity:create_registered_limits');
    const items = validate<Row[]>(registeredLimitCreate, bodyValue(req.body, 'registered_limits'));
    for (const r of items) await assertResourcesExist(ctx, r, 'registered_limit');
    const rows = items.map((r) => ({
      id: newId(), service_id: r.service_id, region_id: r.region_id ?? null, resource_name: r.resource_name,
      default_limit: r.default_limit, description: r.description ?? null,
    }));
    const keys = new Set<string>();
    for (const r of rows) {
      const k = JSON.stringify([r.service_id, r.region_id, r.resource_name]);
      if (keys.has(k)) throw duplicate('registered_limit');
      keys.add(k);
      const clash = await whereRegion(ctx.db.selectFrom('unified_registered_limit').select('id')
        .where('service_id', '=', r.service_id).where('resource_name', '=', r.resource_name), r.region_id).executeTakeFirst();
      if (clash) throw duplicate('registered_limit');
    }
    await ctx.db.transaction().execute(async (trx) => {
      for (const r of rows) await trx.insertInto('unified_registered_limit').values(r).execute();
    });
    reply.code(201);
    return { registered_limits: rows.map((r) => formatRegistered(req, r)) };
  });

  app.get('/v3/registered_limits', async (req) => {
    enforce(ctx, req, 'identity:list_registered_limits');
    let qb: Row = ctx.db.selectFrom('unified_registered_limit').selectAll();
    for (const k of ['service_id', 'region_id', 'resource_name']) {
      const v = q(req, k);
      if (v !== undefined) qb = qb.where(k, '=', v);
    }
    const rows: Row[] = await qb.orderBy('id').execute();
    return { registered_limits: rows.map((r) => formatRegistered(req, r)), links: listLinks(req) };
  });

  app.get<{ Params: { id: string } }>('/v3/registered_limits/:id', async (req) => {
    enforce(ctx, req, 'identity:get_registered_limit');
    return { registered_limit: formatRegistered(req, await getRegistered(ctx, req.params.id)) };
  });

  app.patch<{ Params: { id: string } }>('/v3/registered_limits/:id', async (req) => {
    enforce(ctx, req, 'identity:update_registered_limit');
    const body = validate<Row>(registeredLimitUpdate, bodyValue(req.body, 'registered_limit'));
    await assertResourcesExist(ctx, body, 'registered_limit');
    const r = await getRegistered(ctx, req.params.id);
    const used = await ctx.db.selectFrom('unified_limit').select('id').where('registered_limit_id', '=', r.id).executeTakeFirst();
    if (used) throw new ApiError('Forbidden', `Unable to update or delete registered limit ${r.id} because there are project limits associated with it.`);
    const next = { ...r, ...body };
    if (body.service_id || 'region_id' in body || body.resource_name) {
      const clash = await whereRegion(ctx.db.selectFrom('unified_registered_limit').select('id')
        .where('service_id', '=', next.service_id).where('resource_name', '=', next.resource_name).where('id', '!=', r.id), next.region_id).executeTakeFirst();
      if (clash) throw duplicate('registered_limit');
    }
    const upd: Row = {};
    for (const k of ['service_id', 'region_id', 'resource_name', 'default_limit', 'description']) if (k in body) upd[k] = body[k];
    if (Object.keys(upd).length) await ctx.db.updateTable('unified_registered_limit').set(upd).where('id', '=', r.id).execute();
    return { registered_limit: formatRegistered(req, await getRegistered(ctx, r.id)) };
  });

  app.delete<{ Params: { id: string } }>('/v3/registered_limits/:id', async (req, reply) => {
    enforce(ctx, req, 'identity:delete_registered_limit');
    const r = await getRegistered(ctx, req.params.id);
    const used = await ctx.db.selectFrom('unified_limit').select('id').where('registered_limit_id', '=', r.id).executeTakeFirst();
    if (used) throw new ApiError('Forbidden', `Unable to update or delete registered limit ${r.id} because there are project limits associated with it.`);
    await ctx.db.deleteFrom('unified_registered_limit').where('id', '=', r.id).execute();
    reply.code(204).send();
  });

  // ---- limits
  app.get('/v3/limits/model', async (req) => {
    enforce(ctx, req, 'identity:get_limit_model');
    return { model: MODEL };
  });

  app.post('/v3/limits', async (req, reply) => {
    enforce(ctx, req, 'identity:create_limits');
    const items = validate<Row[]>(limitCreate, bodyValue(req.body, 'limits'));
    for (const l of items) await assertResourcesExist(ctx, l, 'limit');
    const rows: Row[] = [];
    const out: Row[] = [];
    const keys = new Set<string>();
    for (const l of items) {
      const reg = await whereRegion(ctx.db.selectFrom('unified_registered_limit').select('id')
        .where('service_id', '=', l.service_id).where('resource_name', '=', l.resource_name), l.region_id).executeTakeFirst();
      if (!reg) throw new ApiError('Forbidden', 'Unable to create a limit that has no corresponding registered limit.');
      const owner = l.project_id ? ['project_id', l.project_id] : ['domain_id', l.domain_id];
      const k = JSON.stringify([reg.id, ...owner]);
      if (keys.has(k)) throw duplicate('limit');
      keys.add(k);
      const clash = await ctx.db.selectFrom('unified_limit').select('id').where('registered_limit_id', '=', reg.id).where(owner[0], '=', owner[1]).executeTakeFirst();
      if (clash) throw duplicate('limit');
      const row = {
        id: newId(), registered_limit_id: reg.id, project_id: l.project_id ?? null, domain_id: l.domain_id ?? null,
        resource_limit: l.resource_limit, description: l.description ?? null,
      };
      rows.push(row);
      out.push({ ...row, service_id: l.service_id, region_id: l.region_id ?? null, resource_name: l.resource_name });
    }
    await ctx.db.transaction().execute(async (trx) => {
      for (const r of rows) await trx.insertInto('unified_limit').values(r).execute();
    });
    reply.code(201);
    return { limits: out.map((l) => formatLimit(req, l)) };
  });

  app.get('/v3/limits', async (req) => {
    const t = enforce(ctx, req, 'identity:list_limits');
    let qb = limitsQuery(ctx);
    const col: Row = {
      service_id: 'unified_registered_limit.service_id', region_id: 'unified_registered_limit.region_id',
      resource_name: 'unified_registered_limit.resource_name', project_id: 'unified_limit.project_id', domain_id: 'unified_limit.domain_id',
    };
    for (const k of Object.keys(col)) {
      const v = q(req, k);
      if (v !== undefined) qb = qb.where(col[k], '=', v);
    }
    // What a caller sees depends on its token's scope, as in Keystone.
    let rows: Row[] = [];
    if (t.system) {
      rows = await qb.orderBy('unified_limit.id').execute();
    } else if (t.domain) {
      const domainId = t.domain.id;
      const projects = await ctx.db.selectFrom('project').select('id').where('domain_id', '=', domainId).where('is_domain', '=', 0).execute();
      const pids = new Set((projects as Row[]).map((p) => p.id));
      rows = ((await qb.orderBy('unified_limit.id').execute()) as Row[])
        .filter((l) => (l.project_id ? pids.has(l.project_id) : l.domain_id === domainId));
    } else if (t.project) {
      rows = await qb.where('unified_limit.project_id', '=', t.project.id).orderBy('unified_limit.id').execute();
    }
    return { limits: rows.map((l) => formatLimit(req, l)), links: listLinks(req) };
  });

  app.get<{ Params: { id: string } }>('/v3/limits/:id', async (req) => {
    const l = await findLimit(ctx, req.params.id);
    const target: Row = {};
    if (l) {
      target['target.limit.id'] = l.id;
      target['target.limit.project_id'] = l.project_id ?? null;
      target['target.limit.domain_id'] = l.domain_id ?? null;
      if (l.project_id) {
        const p = await ctx.db.selectFrom('project').select(['id', 'domain_id']).where('id', '=', l.project_id).executeTakeFirst();
        if (p) { target['target.limit.project.id'] = p.id; target['target.limit.project.domain_id'] = p.domain_id; }
      } else if (l.domain_id) {
        target['target.limit.domain.id'] = l.domain_id;
      }
    }
    enforce(ctx, req, 'identity:get_limit', target);
    if (!l) throw new ApiError('NotFound', `Could not find limit for ${req.params.id}.`);
    return { limit: formatLimit(req, l) };
  });

  app.patch<{ Params: { id: string } }>('/v3/limits/:id', async (req) => {
    enforce(ctx, req, 'identity:update_limit');
    const body = validate<Row>(limitUpdate, bodyValue(req.body, 'limit'));
    const l = await getLimit(ctx, req.params.id);
    const upd: Row = {};
    if (body.resource_limit !== undefined) upd.resource_limit = body.resource_limit;
    if ('description' in body) upd.description = body.description;
    if (Object.keys(upd).length) await ctx.db.updateTable('unified_limit').set(upd).where('id', '=', l.id).execute();
    return { limit: formatLimit(req, await getLimit(ctx, l.id)) };
  });

  app.delete<{ Params: { id: string } }>('/v3/limits/:id', async (req, reply) => {
    enforce(ctx, req, 'identity:delete_limit');
    const l = await getLimit(ctx, req.params.id);
    await ctx.db.deleteFrom('unified_limit').where('id', '=', l.id).execute();
    reply.code(204).send();
  });

  // Limits go with their project or domain; registered limits (and their limits) with their service or region.
  ctx.hooks.on('project.deleted', async (ids) => {
    await ctx.db.deleteFrom('unified_limit').where((eb) => eb.or([eb('project_id', 'in', ids), eb('domain_id', 'in', ids)])).execute();
  });
  const dropRegistered = (col: 'service_id' | 'region_id') => async (ids: string[]) => {
    const regs = await ctx.db.selectFrom('unified_registered_limit').select('id').where(col, 'in', ids).execute();
    const rids = (regs as Row[]).map((r) => r.id);
    if (!rids.length) return;
    await ctx.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('unified_limit').where('registered_limit_id', 'in', rids).execute();
      await trx.deleteFrom('unified_registered_limit').where('id', 'in', rids).execute();
    });
  };
  ctx.hooks.on('service.deleted', dropRegistered('service_id'));
  ctx.hooks.on('region.deleted', dropRegistered('region_id'));
}

export function limitsExtension({ app, ctx }: ExtensionDeps): void {
  registerLimits(app, ctx);
}
