// /v2/tasks (deprecated in Glance, admin only by default): list and show the import tasks.
// Creating legacy `import` tasks is not offered: the image import API replaces it.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ImageContext, RequestContext } from '../context.js';
import { requestContext } from '../context.js';
import { isotime } from '../util.js';
import { badRequest, explain, forbidden, notFound } from '../errors.js';
import { getTask, listTasks, type Task } from '../store/tasks.js';
import { queryPairs, requireBody, resource, urlencode } from './http.js';

type Req = FastifyRequest<{ Params: { task_id: string } }>;

function access(ctx: ImageContext, rc: RequestContext): void {
  if (!ctx.policy.check('tasks_api_access', { project_id: rc.owner }, rc.creds)) {
    throw forbidden('You are not authorized to complete tasks_api_access action.');
  }
}

function view(t: Task, full: boolean): Record<string, unknown> {
  const v: Record<string, unknown> = { id: t.id };
  if (full) v.input = t.input;
  Object.assign(v, { type: t.type, status: t.status, owner: t.owner });
  if (full) Object.assign(v, { message: t.message, result: t.result });
  Object.assign(v, { created_at: isotime(t.created_at), updated_at: isotime(t.updated_at), self: `/v2/tasks/${t.id}`, schema: '/v2/schemas/task' });
  if (full) {
    if (t.image_id) v.image_id = t.image_id;
    if (t.request_id) v.request_id = t.request_id;
    if (t.user_id) v.user_id = t.user_id;
  }
  if (t.expires_at) v.expires_at = isotime(t.expires_at);
  return v;
}

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

export function registerTasks(app: FastifyInstance, ctx: ImageContext): void {
  resource(app, '/v2/tasks', {
    GET: async (req) => {
      const rc = requestContext(ctx, req);
      access(ctx, rc);
      const pairs = queryPairs(req);
      const get = (k: string) => pairs.find(([x]) => x === k)?.[1];
      const sortDir = get('sort_dir') ?? 'desc';
      if (sortDir !== 'asc' && sortDir !== 'desc') throw badRequest(`Invalid sort direction: ${sortDir}`);
      const sortKey = get('sort_key') ?? 'created_at';
      if (!['id', 'type', 'status', 'created_at', 'updated_at'].includes(sortKey)) throw badRequest('Sort key supplied was not valid.');
      const status = get('status');
      if (status && !['pending', 'processing', 'success', 'failure'].includes(status)) throw badRequest(`Invalid status value: ${status}`);
      const type = get('type');
      if (type && type !== 'import') throw badRequest(`Invalid type value: ${type}`);
      const markerId = get('marker');
      if (markerId && !UUID.test(markerId)) throw badRequest('Invalid marker format');
      const limitRaw = get('limit');
      let limit = ctx.opts.limitDefault;
      if (limitRaw !== undefined) {
        if (!/^\s*[-+]?\d+\s*$/.test(limitRaw)) throw badRequest('limit param must be an integer');
        limit = Number(limitRaw);
        if (limit < 0) throw badRequest('limit param must be positive');
      }
      limit = Math.min(ctx.opts.limitMax, limit);
      let marker: Task | undefined;
      if (markerId) {
        marker = await getTask(ctx.db, markerId);
        if (!marker) throw badRequest(`Task with the given id ${markerId} was not found`);
      }
      const tasks = limit === 0 ? [] : await listTasks(ctx.db, {
        owner: rc.isAdmin ? undefined : rc.owner, status, type, sortKey, sortDir, limit, marker,
      });
      const rest = pairs.filter(([k]) => k !== 'marker');
      const body: Record<string, unknown> = { tasks: tasks.map((t) => view(t, false)), first: '/v2/tasks', schema: '/v2/schemas/tasks' };
      if (rest.length) body.first = `/v2/tasks?${urlencode(rest)}`;
      if (tasks.length && tasks.length === limit) body.next = `/v2/tasks?${urlencode([...rest, ['marker', tasks[tasks.length - 1]!.id]])}`;
      return body;
    },
    POST: async (req) => {
      const rc = requestContext(ctx, req);
      access(ctx, rc);
      const body = requireBody(req) as Record<string, unknown>;
      for (const p of ['type', 'input']) if (!(p in body)) throw badRequest(`Task '${p}' is required`);
      throw badRequest('Legacy import tasks are not supported here; use the image import API (POST /v2/images/{image_id}/import).');
    },
  });
  resource(app, '/v2/tasks/:task_id', {
    GET: async (req: Req) => {
      const rc = requestContext(ctx, req);
      access(ctx, rc);
      const t = await getTask(ctx.db, req.params.task_id);
      if (!t || (t.expires_at && t.expires_at < new Date().toISOString())) throw notFound(`Task with the given id ${req.params.task_id} was not found`);
      if (!rc.isAdmin && t.owner !== rc.owner) throw forbidden(`Forbidding request, task ${t.id} is not visible`);
      return view(t, true);
    },
    DELETE: async (req: Req) => {
      const rc = requestContext(ctx, req);
      access(ctx, rc);
      throw explain('MethodNotAllowed', 'This operation is currently not permitted on Glance Tasks. They are auto deleted after reaching the time based on their expires_at property.', { Allow: 'GET' });
    },
  });
}
