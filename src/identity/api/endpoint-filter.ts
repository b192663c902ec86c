// OS-EP-FILTER: endpoints associated with projects, directly or through endpoint groups (filters
// on interface, service_id and region_id), and the catalog filter: a project-scoped token of a
// project with any such endpoints sees only those (services left without endpoints drop out), as
// Keystone's endpoint_filter catalog with return_all_endpoints_if_no_filter = true.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../../common/errors.js';
import { isUniqueViolation } from '../../common/db/index.js';
import { validate } from '../../common/validation.js';
import type { IdentityContext } from '../context.js';
import { baseUrl, enforce, listLinks, newId, parseJson, q, rowOr404 } from '../context.js';
import type { TokenService } from '../tokens.js';
import type { ExtensionDeps } from '../extensions.js';
import { formatEndpoint } from './catalog.js';
import { formatProject } from './projects.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Row = Record<string, any>;

const PREFIX = '/v3/OS-EP-FILTER';
const FILTER_KEYS = ['service_id', 'region_id', 'interface'];

const groupProperties = {
  description: { type: ['string', 'null'] },
  filters: { type: 'object' },
  name: { type: 'string', minLength: 1, maxLength: 255, pattern: '[\\S]+' },
};
const groupCreate = { type: 'object', properties: groupProperties, required: ['name', 'filters'] };
const groupUpdate = { type: 'object', properties: groupProperties, minProperties: 1 };

function bodyMember(body: unknown, key: string): Row {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw new ApiError('BadRequest', 'The request body must be a JSON object.');
  const v = (body as Row)[key];
  if (v === undefined) return {};
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ApiError('BadRequest', `Invalid input for field '${key}': expected an object.`);
  return v as Row;
}

function requireValidFilters(filters: Row): void {
  for (const k of Object.keys(filters)) {
    if (!FILTER_KEYS.includes(k)) {
      throw new ApiError('BadRequest', `Expecting to find ${FILTER_KEYS.join(' or ')} in endpoint_group. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.`);
    }
  }
}

function formatGroup(req: FastifyRequest, g: Row): Row {
  return {
    id: g.id, name: g.name, description: g.description ?? null, filters: parseJson(g.filters, {}),
    links: { self: `${baseUrl(req)}${PREFIX}/endpoint_groups/${g.id}` },
  };
}

/** Endpoints (all of them, enabled or not) an endpoint group's filters select. */
function matches(filters: Row, e: Row): boolean {
  for (const [k, v] of Object.entries(filters)) if (e[k] !== v) return false;
  return true;
}

async function getGroup(ctx: IdentityContext, id: string): Promise<Row> {
  return rowOr404(ctx, 'ep_filter_endpoint_group', id, `Could not find Endpoint Group: ${id}.`);
}

async function getEndpoint(ctx: IdentityContext, id: string): Promise<Row> {
  return rowOr404(ctx, 'endpoint', id, `Could not find endpoint: ${id}.`);
}

async function getProject(ctx: IdentityContext, id: string): Promise<Row> {
  return rowOr404(ctx, 'project', id, `Could not find project: ${id}.`);
}

/** The endpoints a project is associated with, directly or through its endpoint groups, by id. */
export async function endpointsForProject(ctx: IdentityContext, projectId: string): Promise<Map<string, Row>> {
  const out = new Map<string, Row>();
  const direct = await ctx.db.selectFrom('ep_filter_project_endpoint').select('endpoint_id').where('project_id', '=', projectId).execute();
  const groups = await ctx.db.selectFrom('ep_filter_project_endpoint_group')
    .innerJoin('ep_filter_endpoint_group', 'ep_filter_endpoint_group.id', 'ep_filter_project_endpoint_group.endpoint_group_id')
    .select(['ep_filter_endpoint_group.filters as filters'])
    .where('ep_filter_project_endpoint_group.project_id', '=', projectId).execute();
  if (!direct.length && !groups.length) return out;
  const endpoints: Row[] = await ctx.db.selectFrom('endpoint').selectAll().orderBy('id').execute();
  const byId = new Map(endpoints.map((e) => [e.id as string, e]));
  for (const d of direct as Row[]) {
    const e = byId.get(d.endpoint_id);
    if (e) out.set(e.id, e);
  }
  for (const g of groups as Row[]) {
    const filters = parseJson<Row>(g.filters, {});
    for (const e of endpoints) if (!out.has(e.id) && matches(filters, e)) out.set(e.id, e);
  }
  return out;
}

/** The catalog filter for TokenService: cached per project until anything changes. */
function catalogFilter(): NonNullable<TokenService['catalogFilter']> {
  let generation = -1;
  let cache = new Map<string, Set<string> | null>();
  return async (ctx, projectId) => {
    if (!projectId) return undefined;
    if (generation !== ctx.generation) { cache = new Map(); generation = ctx.generation; }
    let ids = cache.get(projectId);
    if (ids === undefined) {
      const gen = ctx.generation;
      const eps = await endpointsForProject(ctx, projectId);
      ids = eps.size ? new Set(eps.keys()) : null;
      if (gen === ctx.generation) cache.set(projectId, ids);
    }
    if (!ids) return undefined;
    const allowed = ids;
    return (_serviceId: string, endpointId: string) => allowed.has(endpointId);
  };
}

export function registerEndpointFilter(app: FastifyInstance, ctx: IdentityContext, tokens: TokenService): void {
  // ---- endpoint groups
  app.post(`${PREFIX}/endpoint_groups`, async (req, reply) => {
    enforce(ctx, req, 'identity:create_endpoint_group');
    const body = validate<Row>(groupCreate, bodyMember(req.body, 'endpoint_group'));
    if (!body.filters || !Object.keys(body.filters).length) throw new ApiError('BadRequest', 'filters field is required and cannot be empty');
    requireValidFilters(body.filters);
    const row = { id: newId(), name: body.name, description: body.description ?? null, filters: JSON.stringify(body.filters) };
    await ctx.db.insertInto('ep_filter_endpoint_group').values(row).execute();
    reply.code(201);
    return { endpoint_group: formatGroup(req, row) };
  });

  app.get(`${PREFIX}/endpoint_groups`, async (req) => {
    enforce(ctx, req, 'identity:list_endpoint_groups');
    let qb: Row = ctx.db.selectFrom('ep_filter_endpoint_group').selectAll();
    const name = q(req, 'name');
    if (name !== undefined) qb = qb.where('name', '=', name);
    const rows: Row[] = await qb.orderBy('id').execute();
    return { endpoint_groups: rows.map((g) => formatGroup(req, g)), links: listLinks(req) };
  });

  app.get<{ Params: { gid: string } }>(`${PREFIX}/endpoint_groups/:gid`, async (req) => {
    enforce(ctx, req, 'identity:get_endpoint_group');
    return { endpoint_group: formatGroup(req, await getGroup(ctx, req.params.gid)) };
  });

  app.patch<{ Params: { gid: string } }>(`${PREFIX}/endpoint_groups/:gid`, async (req) => {
    enforce(ctx, req, 'identity:update_endpoint_group');
    const body = validate<Row>(groupUpdate, bodyMember(req.body, 'endpoint_group'));
    if ('filters' in body) requireValidFilters(body.filters);
    if ('id' in body && body.id !== req.params.gid) throw new ApiError('BadRequest', 'Cannot change ID');
    const g = await getGroup(ctx, req.params.gid);
    const upd: Row = {};
    if ('name' in body) upd.name = body.name;
    if ('description' in body) upd.description = body.description;
    if ('filters' in body) upd.filters = JSON.stringify(body.filters);
    if (Object.keys(upd).length) await ctx.db.updateTable('ep_filter_endpoint_group').set(upd).where('id', '=', g.id).execute();
    ctx.changed();
    return { endpoint_group: formatGroup(req, await getGroup(ctx, g.id)) };
  });

  app.delete<{ Params: { gid: string } }>(`${PREFIX}/endpoint_groups/:gid`, async (req, reply) => {
    enforce(ctx, req, 'identity:delete_endpoint_group');
    const g = await getGroup(ctx, req.params.gid);
    await ctx.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('ep_filter_project_endpoint_group').where('endpoint_group_id', '=', g.id).execute();
      await trx.deleteFrom('ep_filter_endpoint_group').where('id', '=', g.id).execute();
    });
    ctx.changed();
    reply.code(204).send();
  });

  app.get<{ Params: { gid: string } }>(`${PREFIX}/endpoint_groups/:gid/endpoints`, async (req) => {
    enforce(ctx, req, 'identity:list_endpoints_associated_with_endpoint_group');
    const g = await getGroup(ctx, req.params.gid);
    const filters = parseJson<Row>(g.filters, {});
    const endpoints: Row[] = await ctx.db.selectFrom('endpoint').selectAll().orderBy('id').execute();
    return { endpoints: endpoints.filter((e) => matches(filters, e)).map((e) => formatEndpoint(req, e)), links: listLinks(req) };
  });

  app.get<{ Params: { gid: string } }>(`${PREFIX}/endpoint_groups/:gid/projects`, async (req) => {
    enforce(ctx, req, 'identity:list_projects_associated_with_endpoint_group');
    const rows: Row[] = await ctx.db.selectFrom('ep_filter_project_endpoint_group').innerJoin('project', 'project.id', 'ep_filter_project_endpoint_group.project_id')
      .selectAll('project').where('ep_filter_project_endpoint_group.endpoint_group_id', '=', req.params.gid).orderBy('project.id').execute();
    const projects = [];
    for (const p of rows) projects.push(await formatProject(ctx, req, p));
    return { projects, links: listLinks(req) };
  });

  // ---- endpoint group <-> project
  const groupProject = async (req: FastifyRequest<{ Params: { gid: string; pid: string } }>) => {
    await getProject(ctx, req.params.pid);
    await getGroup(ctx, req.params.gid);
  };
  const getGroupInProject = async (gid: string, pid: string) => {
    const r = await ctx.db.selectFrom('ep_filter_project_endpoint_group').selectAll().where('endpoint_group_id', '=', gid).where('project_id', '=', pid).executeTakeFirst();
    if (!r) throw new ApiError('NotFound', 'Endpoint Group Project Association not found');
    return r as Row;
  };
  app.get<{ Params: { gid: string; pid: string } }>(`${PREFIX}/endpoint_groups/:gid/projects/:pid`, async (req) => {
    enforce(ctx, req, 'identity:get_endpoint_group_in_project');
    await groupProject(req);
    const r = await getGroupInProject(req.params.gid, req.params.pid);
    return {
      project_endpoint_group: {
        endpoint_group_id: r.endpoint_group_id, project_id: r.project_id,
        links: { self: `${baseUrl(req)}${PREFIX}/endpoint_groups/${r.endpoint_group_id}/projects/${r.project_id}` },
      },
    };
  });
  app.put<{ Params: { gid: string; pid: string } }>(`${PREFIX}/endpoint_groups/:gid/projects/:pid`, async (req, reply) => {
    enforce(ctx, req, 'identity:add_endpoint_group_to_project');
    await groupProject(req);
    try {
      await ctx.db.insertInto('ep_filter_project_endpoint_group').values({ endpoint_group_id: req.params.gid, project_id: req.params.pid }).execute();
    } catch (e) {
      if (isUniqueViolation(e)) throw new ApiError('Conflict', 'Conflict occurred attempting to store project_endpoint_group - Duplicate entry.');
      throw e;
    }
    ctx.changed();
    reply.code(204).send();
  });
  app.delete<{ Params: { gid: string; pid: string } }>(`${PREFIX}/endpoint_groups/:gid/projects/:pid`, async (req, reply) => {
    enforce(ctx, req, 'identity:remove_endpoint_group_from_project');
    await groupProject(req);
    await getGroupInProject(req.params.gid, req.params.pid);
    await ctx.db.deleteFrom('ep_filter_project_endpoint_group').where('endpoint_group_id', '=', req.params.gid).where('project_id', '=', req.params.pid).execute();
    ctx.changed();
    reply.code(204).send();
  });

  app.get<{ Params: { pid: string } }>(`${PREFIX}/projects/:pid/endpoint_groups`, async (req) => {
    enforce(ctx, req, 'identity:list_endpoint_groups_for_project');
    await getProject(ctx, req.params.pid);
    const rows: Row[] = await ctx.db.selectFrom('ep_filter_project_endpoint_group').innerJoin('ep_filter_endpoint_group', 'ep_filter_endpoint_group.id', 'ep_filter_project_endpoint_group.endpoint_group_id')
      .selectAll('ep_filter_endpoint_group').where('ep_filter_project_endpoint_group.project_id', '=', req.params.pid).orderBy('ep_filter_endpoint_group.id').execute();
    return { endpoint_groups: rows.map((g) => formatGroup(req, g)), links: listLinks(req) };
  });

  // ---- project <-> endpoint
  const getAssoc = async (eid: string, pid: string) => {
    const r = await ctx.db.selectFrom('ep_filter_project_endpoint').select('endpoint_id').where('endpoint_id', '=', eid).where('project_id', '=', pid).executeTakeFirst();
    if (!r) throw new ApiError('NotFound', `Endpoint ${eid} not found in project ${pid}`);
  };
  app.get<{ Params: { pid: string; eid: string } }>(`${PREFIX}/projects/:pid/endpoints/:eid`, async (req, reply) => {
    enforce(ctx, req, 'identity:check_endpoint_in_project');
    await getEndpoint(ctx, req.params.eid);
    await getProject(ctx, req.params.pid);
    await getAssoc(req.params.eid, req.params.pid);
    reply.code(204).send();
  });
  app.put<{ Params: { pid: string; eid: string } }>(`${PREFIX}/projects/:pid/endpoints/:eid`, async (req, reply) => {
    enforce(ctx, req, 'identity:add_endpoint_to_project');
    await getEndpoint(ctx, req.params.eid);
    await getProject(ctx, req.params.pid);
    try {
      await ctx.db.insertInto('ep_filter_project_endpoint').values({ endpoint_id: req.params.eid, project_id: req.params.pid }).execute();
    } catch (e) {
      if (isUniqueViolation(e)) throw new ApiError('Conflict', 'Conflict occurred attempting to store project_endpoint - Duplicate entry.');
      throw e;
    }
    ctx.changed();
    reply.code(204).send();
  });
  app.delete<{ Params: { pid: string; eid: string } }>(`${PREFIX}/projects/:pid/endpoints/:eid`, async (req, reply) => {
    enforce(ctx, req, 'identity:remove_endpoint_from_project');
    await getAssoc(req.params.eid, req.params.pid);
    await ctx.db.deleteFrom('ep_filter_project_endpoint').where('endpoint_id', '=', req.params.eid).where('project_id', '=', req.params.pid).execute();
    ctx.changed();
    reply.code(204).send();
  });
  app.get<{ Params: { pid: string } }>(`${PREFIX}/projects/:pid/endpoints`, async (req) => {
    enforce(ctx, req, 'identity:list_endpoints_for_project');
    await getProject(ctx, req.params.pid);
    const eps = await endpointsForProject(ctx, req.params.pid);
    return { endpoints: [...eps.values()].map((e) => formatEndpoint(req, e)), links: listLinks(req) };
  });
  app.get<{ Params: { eid: string } }>(`${PREFIX}/endpoints/:eid/projects`, async (req) => {
    enforce(ctx, req, 'identity:list_projects_for_endpoint');
    await getEndpoint(ctx, req.params.eid);
    const rows: Row[] = await ctx.db.selectFrom('ep_filter_project_endpoint').innerJoin('project', 'project.id', 'ep_filter_project_endpoint.project_id')
      .selectAll('project').where('ep_filter_project_endpoint.endpoint_id', '=', req.params.eid).orderBy('project.id').execute();
    const projects = [];
    for (const p of rows) projects.push(await formatProject(ctx, req, p));
    return { projects, links: listLinks(req) };
  });

  // Associations go with their project or endpoint.
  ctx.hooks.on('project.deleted', async (ids) => {
    await ctx.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('ep_filter_project_endpoint').where('project_id', 'in', ids).execute();
      await trx.deleteFrom('ep_filter_project_endpoint_group').where('project_id', 'in', ids).execute();
    });
    ctx.changed();
  });
  ctx.hooks.on('endpoint.deleted', async (ids) => {
    await ctx.db.deleteFrom('ep_filter_project_endpoint').where('endpoint_id', 'in', ids).execute();
    ctx.changed();
  });

  tokens.catalogFilter = catalogFilter();
}

export function endpointFilterExtension({ app, ctx, tokens }: ExtensionDeps): void {
  registerEndpointFilter(app, ctx, tokens);
}
