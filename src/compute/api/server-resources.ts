// Compute API: what hangs off a server — metadata, tags (2.26), instance actions and their events,
// ips, remote consoles (2.6), the server password, and the (empty without a network service)
// security group and interface lists.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../../common/errors.js';
import { validate } from '../../common/validation.js';
import type { ComputeContext } from '../context.js';
import { authorize, isotime, requestContext } from '../context.js';
import { loadServer, query, intParam } from './common.js';
import { requireVersion } from './microversion.js';
import { addressesOf, hostId } from './views.js';
import { updateInstance, type InstanceRow } from '../store/instances.js';
import { addServerAction } from './server-actions.js';
import { createConsoleToken } from '../console/tokens.js';
import { advertisedHost } from '../../common/config.js';
import { VM } from '../states.js';

const MD_KEY = '^[a-zA-Z0-9-_:. /]{1,255}$';
const MD_SCHEMA = { type: 'object', properties: { metadata: { type: 'object', patternProperties: { [MD_KEY]: { type: 'string', maxLength: 255 } }, additionalProperties: false } }, required: ['metadata'], additionalProperties: false };
const META_ITEM_SCHEMA = { type: 'object', properties: { meta: { type: 'object', patternProperties: { [MD_KEY]: { type: 'string', maxLength: 255 } }, additionalProperties: false, minProperties: 1, maxProperties: 1 } }, required: ['meta'], additionalProperties: false };

async function metadataMap(ctx: ComputeContext, uuid: string): Promise<Record<string, string>> {
  const rows = await ctx.db.selectFrom('instance_metadata').select(['key', 'value']).where('instance_uuid', '=', uuid).orderBy('key').execute();
  return Object.fromEntries(rows.map((r) => [r.key as string, (r.value ?? '') as string]));
}

async function checkMdQuota(ctx: ComputeContext, projectId: string, userId: string, count: number): Promise<void> {
  const { checkQuota } = await import('../quotas.js');
  await checkQuota(ctx, projectId, userId, { metadata_items: count }, true);
}

async function writeMetadata(ctx: ComputeContext, inst: InstanceRow, md: Record<string, string>, replace: boolean): Promise<Record<string, string>> {
  const current = await metadataMap(ctx, inst.uuid);
  const next = replace ? { ...md } : { ...current, ...md };
  await checkMdQuota(ctx, inst.project_id, inst.user_id, Object.keys(next).length);
  await ctx.db.transaction().execute(async (tx) => {
    if (replace) await tx.deleteFrom('instance_metadata').where('instance_uuid', '=', inst.uuid).execute();
    for (const [key, value] of Object.entries(md)) {
      await tx.deleteFrom('instance_metadata').where('instance_uuid', '=', inst.uuid).where('key', '=', key).execute();
      await tx.insertInto('instance_metadata').values({ instance_uuid: inst.uuid, key, value }).execute();
    }
  });
  await updateInstance(ctx.db, inst.uuid, {});
  return next;
}

function registerMetadata(app: FastifyInstance, ctx: ComputeContext): void {
  type P = { Params: { id: string; key: string } };
  app.get<P>('/servers/:id/metadata', async (req) => {
    const rc = requestContext(ctx, req);
    const inst = await loadServer(ctx, rc, req.params.id);
    authorize(ctx, rc, 'os_compute_api:server-metadata:index', { project_id: inst.project_id });
    return { metadata: await metadataMap(ctx, inst.uuid) };
  });
  const setAll = (replace: boolean) => async (req: FastifyRequest<P>) => {
    const rc = requestContext(ctx, req);
    const b = validate<{ metadata: Record<string, string> }>(MD_SCHEMA, req.body);
    const inst = await loadServer(ctx, rc, req.params.id);
    authorize(ctx, rc, replace ? 'os_compute_api:server-metadata:update_all' : 'os_compute_api:server-metadata:create', { project_id: inst.project_id });
    if (inst.locked && !rc.isAdmin) throw new ApiError('Conflict', `Instance ${inst.uuid} is locked`);
    return { metadata: await writeMetadata(ctx, inst, b.metadata, replace) };
  };
  app.put<P>('/servers/:id/metadata', setAll(true));
  app.post<P>('/servers/:id/metadata', setAll(false));
  app.get<P>('/servers/:id/metadata/:key', async (req) => {
    const rc = requestContext(ctx, req);
    const inst = await loadServer(ctx, rc, req.params.id);
    authorize(ctx, rc, 'os_compute_api:server-metadata:show', { project_id: inst.project_id });
    const md = await metadataMap(ctx, inst.uuid);
    if (!(req.params.key in md)) throw new ApiError('NotFound', 'Metadata item was not found');
    return { meta: { [req.params.key]: md[req.params.key] } };
  });
  app.put<P>('/servers/:id/metadata/:key', async (req) => {
    const rc = requestContext(ctx, req);
    const b = validate<{ meta: Record<string, string> }>(META_ITEM_SCHEMA, req.body);
    const inst = await loadServer(ctx, rc, req.params.id);
    authorize(ctx, rc, 'os_compute_api:server-metadata:update', { project_id: inst.project_id });
    if (!(req.params.key in b.meta)) throw new ApiError('BadRequest', 'Request body and URI mismatch');
    if (inst.locked && !rc.isAdmin) throw new ApiError('Conflict', `Instance ${inst.uuid} is locked`);
    await writeMetadata(ctx, inst, b.meta, false);
    return { meta: b.meta };
  });
  app.delete<P>('/servers/:id/metadata/:key', async (req, reply) => {
    const rc = requestContext(ctx, req);
    const inst = await loadServer(ctx, rc, req.params.id);
    authorize(ctx, rc, 'os_compute_api:server-metadata:delete', { project_id: inst.project_id });
    if (inst.locked && !rc.isAdmin) throw new ApiError('Conflict', `Instance ${inst.uuid} is locked`);
    const r = await ctx.db.deleteFrom('instance_metadata').where('instance_uuid', '=', inst.uuid).where('key', '=', req.params.key).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw new ApiError('NotFound', 'Metadata item was not found');
    await updateInstance(ctx.db, inst.uuid, {});
    reply.code(204).send();
  });
}

// --- tags (2.26) --------------------------------------------------------------------------------

const TAG_RE = /^[^,/]{1,60}$/;
const MAX_TAGS = 50;

function registerTags(app: FastifyInstance, ctx: ComputeContext): void {
  type P = { Params: { id: string; tag: string } };
  const load = async (req: FastifyRequest<P>, policy: string) => {
    requireVersion(req, '2.26');
    const rc = requestContext(ctx, req);
    const inst = await loadServer(ctx, rc, req.params.id);
    authorize(ctx, rc, policy, { project_id: inst.project_id });
    return { rc, inst };
  };
  const tagsOf = async (uuid: string) => (await ctx.db.selectFrom('instance_tags').select('tag').where('instance_uuid', '=', uuid).orderBy('tag').execute()).map((r) => r.tag as string);
  const notBuilding = (inst: InstanceRow, action: string) => {
    if (inst.vm_state === VM.BUILDING) throw new ApiError('Conflict', `Cannot '${action}' instance ${inst.uuid} while it is in vm_state building`);
  };
  app.get<P>('/servers/:id/tags', async (req) => { const { inst } = await load(req, 'os_compute_api:os-server-tags:index'); return { tags: await tagsOf(inst.uuid) }; });
  app.put<P>('/servers/:id/tags', async (req) => {
    const { inst } = await load(req, 'os_compute_api:os-server-tags:update_all');
    const b = validate<{ tags: string[] }>({ type: 'object', properties: { tags: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 60, pattern: '^[^,/]*$' }, maxItems: MAX_TAGS } }, required: ['tags'], additionalProperties: false }, req.body);
    notBuilding(inst, 'update tags');
    const tags = [...new Set(b.tags)];
    await ctx.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('instance_tags').where('instance_uuid', '=', inst.uuid).execute();
      if (tags.length) await tx.insertInto('instance_tags').values(tags.map((tag) => ({ instance_uuid: inst.uuid, tag }))).execute();
    });
    await updateInstance(ctx.db, inst.uuid, {});
    return { tags: await tagsOf(inst.uuid) };
  });
  app.delete<P>('/servers/:id/tags', async (req, reply) => {
    const { inst } = await load(req, 'os_compute_api:os-server-tags:delete_all');
    notBuilding(inst, 'delete tags');
    await ctx.db.deleteFrom('instance_tags').where('instance_uuid', '=', inst.uuid).execute();
    await updateInstance(ctx.db, inst.uuid, {});
    reply.code(204).send();
  });
  app.get<P>('/servers/:id/tags/:tag', async (req, reply) => {
    const { inst } = await load(req, 'os_compute_api:os-server-tags:show');
    const r = await ctx.db.selectFrom('instance_tags').select('tag').where('instance_uuid', '=', inst.uuid).where('tag', '=', req.params.tag).executeTakeFirst();
    if (!r) throw new ApiError('NotFound', `Tag ${req.params.tag} could not be found.`);
    reply.code(204).send();
  });
  app.put<P>('/servers/:id/tags/:tag', async (req, reply) => {
    const { inst } = await load(req, 'os_compute_api:os-server-tags:update');
    if (!TAG_RE.test(req.params.tag)) throw new ApiError('BadRequest', `Tag '${req.params.tag}' is invalid. It must be a string of 1-60 characters without ',' or '/'.`);
    notBuilding(inst, 'update tag');
    const have = await tagsOf(inst.uuid);
    if (have.includes(req.params.tag)) { reply.code(204).send(); return; }
    if (have.length >= MAX_TAGS) throw new ApiError('BadRequest', `The number of tags exceeded the per-server limit ${MAX_TAGS}`);
    await ctx.db.insertInto('instance_tags').values({ instance_uuid: inst.uuid, tag: req.params.tag }).execute();
    await updateInstance(ctx.db, inst.uuid, {});
    reply.code(201).header('Location', `http://${String(req.headers.host)}/v2.1/servers/${inst.uuid}/tags/${encodeURIComponent(req.params.tag)}`).send();
  });
  app.delete<P>('/servers/:id/tags/:tag', async (req, reply) => {
    const { inst } = await load(req, 'os_compute_api:os-server-tags:delete');
    notBuilding(inst, 'delete tag');
    const r = await ctx.db.deleteFrom('instance_tags').where('instance_uuid', '=', inst.uuid).where('tag', '=', req.params.tag).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw new ApiError('NotFound', `Tag ${req.params.tag} could not be found.`);
    await updateInstance(ctx.db, inst.uuid, {});
    reply.code(204).send();
  });
}

// --- instance actions ---------------------------------------------------------------------------

function registerInstanceActions(app: FastifyInstance, ctx: ComputeContext): void {
  type P = { Params: { id: string; rid: string } };
  const load = async (req: FastifyRequest<P>) => {
    const rc = requestContext(ctx, req);
    // 2.21: the actions of deleted servers stay visible.
    const inst = await loadServer(ctx, rc, req.params.id, req.computeVersion.atLeast('2.21'));
    return { rc, inst };
  };
  const actionView = (req: FastifyRequest, a: Record<string, unknown>) => {
    const v: Record<string, unknown> = {
      action: a.action, instance_uuid: a.instance_uuid, request_id: a.request_id, user_id: a.user_id, project_id: a.project_id,
      start_time: isotime(a.start_time as string), message: a.message ?? null,
    };
    if (req.computeVersion.atLeast('2.58')) v.updated_at = isotime((a.updated_at ?? a.start_time) as string);
    return v;
  };
  app.get<P>('/servers/:id/os-instance-actions', async (req) => {
    const { rc, inst } = await load(req);
    authorize(ctx, rc, 'os_compute_api:os-instance-actions:list', { project_id: inst.project_id });
    const q = query(req);
    let rows = await ctx.db.selectFrom('instance_actions').selectAll().where('instance_uuid', '=', inst.uuid).orderBy('id', 'desc').execute();
    if (req.computeVersion.atLeast('2.58')) {
      const since = q['changes-since']?.[0];
      const before = req.computeVersion.atLeast('2.66') ? q['changes-before']?.[0] : undefined;
      if (since) { if (Number.isNaN(Date.parse(since))) throw new ApiError('BadRequest', `Invalid input for query parameters changes-since. Value: ${since}.`); rows = rows.filter((r) => (r.updated_at ?? r.start_time) >= new Date(since).toISOString()); }
      if (before) { if (Number.isNaN(Date.parse(before))) throw new ApiError('BadRequest', `Invalid input for query parameters changes-before. Value: ${before}.`); rows = rows.filter((r) => (r.updated_at ?? r.start_time) <= new Date(before).toISOString()); }
      const marker = q.marker?.[0];
      if (marker) {
        const i = rows.findIndex((r) => r.request_id === marker);
        if (i < 0) throw new ApiError('BadRequest', `Marker ${marker} could not be found.`);
        rows = rows.slice(i + 1);
      }
      const limit = intParam(q.limit?.[0], 'limit');
      if (limit !== undefined) rows = rows.slice(0, limit);
    }
    return { instanceActions: rows.map((r) => actionView(req, r)) };
  });
  app.get<P>('/servers/:id/os-instance-actions/:rid', async (req) => {
    const { rc, inst } = await load(req);
    authorize(ctx, rc, 'os_compute_api:os-instance-actions:show', { project_id: inst.project_id });
    const a = await ctx.db.selectFrom('instance_actions').selectAll().where('instance_uuid', '=', inst.uuid).where('request_id', '=', req.params.rid).orderBy('id', 'desc').executeTakeFirst();
    if (!a) throw new ApiError('NotFound', `Action for request_id ${req.params.rid} on instance ${inst.uuid} not found`);
    const view = actionView(req, a);
    // Events: to those the events rule allows, and from 2.51 to everyone (without the traceback).
    const admin = ctx.policy.check('os_compute_api:os-instance-actions:events', { project_id: inst.project_id }, rc.creds);
    if (admin || req.computeVersion.atLeast('2.51')) {
      const evs = await ctx.db.selectFrom('instance_action_events').selectAll().where('action_id', '=', a.id).orderBy('id').execute();
      view.events = evs.map((e) => {
        const ev: Record<string, unknown> = { event: e.event, start_time: isotime(e.start_time), finish_time: isotime(e.finish_time), result: e.result ?? null };
        if (admin) ev.traceback = e.traceback ?? null;
        if (req.computeVersion.atLeast('2.62')) {
          ev.hostId = hostId(e.host, inst.project_id);
          if (admin) ev.host = e.host ?? '';
        }
        if (req.computeVersion.atLeast('2.84') && admin) ev.details = e.details ?? null;
        return ev;
      });
    }
    return { instanceAction: view };
  });
}

// --- ips, consoles, password, network-less lists ------------------------------------------------

function registerMisc(app: FastifyInstance, ctx: ComputeContext): void {
  type P = { Params: { id: string; net: string } };
  app.get<P>('/servers/:id/ips', async (req) => {
    const rc = requestContext(ctx, req);
    const inst = await loadServer(ctx, rc, req.params.id);
    authorize(ctx, rc, 'os_compute_api:ips:index', { project_id: inst.project_id });
    return { addresses: addressesOf(inst) };
  });
  app.get<P>('/servers/:id/ips/:net', async (req) => {
    const rc = requestContext(ctx, req);
    const inst = await loadServer(ctx, rc, req.params.id);
    authorize(ctx, rc, 'os_compute_api:ips:show', { project_id: inst.project_id });
    const a = addressesOf(inst);
    if (!(req.params.net in a)) throw new ApiError('NotFound', 'Instance is not a member of specified network');
    return { [req.params.net]: a[req.params.net] };
  });

  app.post<P>('/servers/:id/remote-consoles', async (req) => {
    requireVersion(req, '2.6');
    const rc = requestContext(ctx, req);
    const b = validate<{ remote_console: { protocol: string; type: string } }>({
      type: 'object', properties: { remote_console: { type: 'object', properties: { protocol: { enum: ['vnc', 'spice', 'rdp', 'serial', 'mks'] }, type: { enum: ['novnc', 'xvpvnc', 'rdp-html5', 'spice-html5', 'serial', 'webmks'] } }, required: ['protocol', 'type'], additionalProperties: false } },
      required: ['remote_console'], additionalProperties: false,
    }, req.body);
    const inst = await loadServer(ctx, rc, req.params.id);
    authorize(ctx, rc, 'os_compute_api:os-remote-consoles', { project_id: inst.project_id });
    const { protocol, type } = b.remote_console;
    if (protocol !== 'vnc' || type !== 'novnc') throw new ApiError('BadRequest', `Unavailable console type ${type}.`);
    return { remote_console: { protocol, type, url: await consoleUrl(ctx, req, inst, type) } };
  });
  // The pre-2.6 action form, os-getVNCConsole, is registered with the other actions.
  addServerAction('os-getVNCConsole', async (a) => {
      if (a.req.computeVersion.atLeast('2.6')) throw new ApiError('NotFound', 'The resource could not be found.');
      const t = validate<{ type: string }>({ type: 'object', properties: { type: { type: 'string' } }, required: ['type'], additionalProperties: false }, a.arg);
      authorize(ctx, a.rc, 'os_compute_api:os-remote-consoles', { project_id: a.inst.project_id });
      if (t.type !== 'novnc') throw new ApiError('BadRequest', `Unavailable console type ${t.type}.`);
      a.reply.code(200);
      return { console: { type: 'novnc', url: await consoleUrl(ctx, a.req, a.inst, 'novnc') } };
  });

  app.get<P>('/servers/:id/os-server-password', async (req) => {
    const rc = requestContext(ctx, req);
    const inst = await loadServer(ctx, rc, req.params.id);
    authorize(ctx, rc, 'os_compute_api:os-server-password:show', { project_id: inst.project_id });
    const sm = JSON.parse(inst.system_metadata ?? '{}') as Record<string, string>;
    return { password: sm.password ?? '' };
  });
  app.delete<P>('/servers/:id/os-server-password', async (req, reply) => {
    const rc = requestContext(ctx, req);
    const inst = await loadServer(ctx, rc, req.params.id);
    authorize(ctx, rc, 'os_compute_api:os-server-password:clear', { project_id: inst.project_id });
    const sm = JSON.parse(inst.system_metadata ?? '{}') as Record<string, string>;
    delete sm.password;
    await updateInstance(ctx.db, inst.uuid, { system_metadata: JSON.stringify(sm) });
    reply.code(204).send();
  });
}

async function consoleUrl(ctx: ComputeContext, req: FastifyRequest, inst: InstanceRow, type: string): Promise<string> {
  if (!inst.host || inst.vm_state === VM.BUILDING) throw new ApiError('Conflict', `Instance ${inst.uuid} is not ready yet.`);
  const { token } = await createConsoleToken(ctx, inst.uuid, inst.host, type);
  const host = ctx.cfg.DEFAULT.public_host || String(req.headers.host ?? '').replace(/:\d+$/, '') || advertisedHost(ctx.cfg);
  return `http://${host}:${ctx.cfg.compute.novncproxy_port}/vnc_auto.html?path=%3Ftoken%3D${token}`;
}

export function registerServerResources(app: FastifyInstance, ctx: ComputeContext): void {
  registerMetadata(app, ctx);
  registerTags(app, ctx);
  registerInstanceActions(app, ctx);
  registerMisc(app, ctx);
}
