// Compute API: server groups (/os-server-groups) — list (own project; all_projects for admins),
// show, create (policies list before 2.64, policy + rules from 2.64; soft-* from 2.15; quota
// server_groups), delete. Members are the group's live servers. Nova's server_groups controller.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import { authorize, requestContext, type ComputeContext, type RequestContext } from '../context.js';
import { ApiError } from '../../common/errors.js';
import { T, validateBody, validateQuery, type Schema } from './nova-schema.js';
import { checkQuota } from '../quotas.js';
import { deleteServerGroup, insertServerGroup, listServerGroups, liveMembers, serverGroupByUuid, type ServerGroupRow } from '../store/server-groups.js';

type Req = FastifyRequest<{ Params: { id: string } }>;

function createSchema(req: FastifyRequest): Schema {
  const mv = req.computeVersion;
  const props: Schema = { name: T.name };
  const required = ['name'];
  if (mv.atLeast('2.64')) {
    props.policy = { type: 'string', enum: ['anti-affinity', 'affinity', 'soft-anti-affinity', 'soft-affinity'] };
    props.rules = { type: 'object', properties: { max_server_per_host: T.positiveInteger }, additionalProperties: false };
    required.push('policy');
  } else {
    const names = mv.atLeast('2.15') ? ['anti-affinity', 'affinity', 'soft-anti-affinity', 'soft-affinity'] : ['anti-affinity', 'affinity'];
    props.policies = { type: 'array', items: [{ type: 'string', enum: names }], uniqueItems: true, minItems: 1, maxItems: 1, additionalItems: false };
    required.push('policies');
  }
  return { type: 'object', properties: { server_group: { type: 'object', properties: props, required, additionalProperties: false } }, required: ['server_group'], additionalProperties: false };
}

const indexQuery = (strict: boolean): Schema => ({
  type: 'object', additionalProperties: !strict,
  properties: { all_projects: T.multi({ type: 'string' }), limit: T.multi(T.nonNegativeInteger), offset: T.multi(T.nonNegativeInteger) },
});

async function view(ctx: ComputeContext, req: FastifyRequest, g: ServerGroupRow): Promise<Record<string, unknown>> {
  const v: Record<string, unknown> = { id: g.uuid, name: g.name };
  if (req.computeVersion.atLeast('2.64')) { v.policy = g.policy; v.rules = g.rules; }
  else { v.policies = [g.policy]; v.metadata = {}; }
  v.members = await liveMembers(ctx.db, g.id);
  if (req.computeVersion.atLeast('2.13')) { v.project_id = g.project_id; v.user_id = g.user_id; }
  return v;
}

async function load(ctx: ComputeContext, rc: RequestContext, id: string, action: string): Promise<ServerGroupRow> {
  const g = await serverGroupByUuid(ctx.db, id);
  if (!g) throw new ApiError('NotFound', `Instance group ${id} could not be found.`);
  authorize(ctx, rc, action, { project_id: g.project_id });
  return g;
}

/** Nova's common.limited(): offset and limit (capped at max_limit) over a list. */
function limited<X>(items: X[], q: Record<string, string[]>, maxLimit: number): X[] {
  const num = (k: string): number | undefined => {
    const v = q[k]?.[q[k]!.length - 1];
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n)) throw new ApiError('BadRequest', `${k} param must be an integer`);
    if (n < 0) throw new ApiError('BadRequest', `${k} param must be positive`);
    return n;
  };
  const offset = num('offset') ?? 0;
  const limit = Math.min(num('limit') ?? maxLimit, maxLimit);
  return items.slice(offset, offset + limit);
}

export function registerServerGroups(app: FastifyInstance, ctx: ComputeContext): void {
  app.get('/os-server-groups', async (req) => {
    const rc = requestContext(ctx, req);
    const q = validateQuery(indexQuery(req.computeVersion.atLeast('2.75')), req);
    authorize(ctx, rc, 'os_compute_api:os-server-groups:index', { project_id: rc.projectId });
    let groups: ServerGroupRow[];
    if ('all_projects' in q && rc.isAdmin) {
      authorize(ctx, rc, 'os_compute_api:os-server-groups:index:all_projects', { project_id: rc.projectId });
      groups = await listServerGroups(ctx.db);
    } else groups = await listServerGroups(ctx.db, rc.projectId);
    const out = [];
    for (const g of limited(groups, q, ctx.opts.maxLimit)) out.push(await view(ctx, req, g));
    return { server_groups: out };
  });

  app.get('/os-server-groups/:id', async (req: Req) => {
    const rc = requestContext(ctx, req);
    const g = await load(ctx, rc, req.params.id, 'os_compute_api:os-server-groups:show');
    return { server_group: await view(ctx, req, g) };
  });

  app.post('/os-server-groups', async (req) => {
    const rc = requestContext(ctx, req);
    const body = validateBody<{ server_group: { name: string; policies?: string[]; policy?: string; rules?: Record<string, unknown> } }>(createSchema(req), req.body);
    authorize(ctx, rc, 'os_compute_api:os-server-groups:create', { project_id: rc.projectId });
    try {
      await checkQuota(ctx, rc.projectId, rc.userId, { server_groups: 1 });
    } catch (e) {
      if (e instanceof ApiError && e.status === 403) throw new ApiError('Forbidden', 'Quota exceeded, too many server groups.');
      throw e;
    }
    const v = body.server_group;
    let policy: string;
    let rules: Record<string, number> = {};
    if (req.computeVersion.atLeast('2.64')) {
      policy = v.policy!;
      const r = v.rules ?? {};
      if (policy !== 'anti-affinity' && Object.keys(r).length) throw new ApiError('BadRequest', 'Only anti-affinity policy supports rules.');
      if (r.max_server_per_host !== undefined) rules = { max_server_per_host: Number(r.max_server_per_host) };
    } else policy = v.policies![0]!;
    const g = await insertServerGroup(ctx.db, { uuid: randomUUID(), name: v.name, project_id: rc.projectId, user_id: rc.userId, policy, rules });
    return { server_group: await view(ctx, req, g) };
  });

  app.delete('/os-server-groups/:id', async (req: Req, reply) => {
    const rc = requestContext(ctx, req);
    const g = await load(ctx, rc, req.params.id, 'os_compute_api:os-server-groups:delete');
    await deleteServerGroup(ctx.db, g.id);
    reply.code(204);
    return '';
  });
}
