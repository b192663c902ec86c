// /v3/projects and /v3/domains. Domains are projects that act as domains (is_domain), as in
// Keystone, so both share one table and one set of rules about names, hierarchy and enabling.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../../common/errors.js';
import { isUniqueViolation } from '../../common/db/index.js';
import type { IdentityContext } from '../context.js';
import { DEFAULT_DOMAIN_ID, ROOT_DOMAIN_ID, baseUrl, enforce, listLinks, member, newId, parseJson, q, qBool, selfLink } from '../context.js';
import { ancestorsOf, subtreeIds } from '../assignments.js';
import type { Revocations } from '../revocations.js';
import { validate } from '../../common/validation.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Row = Record<string, any>;

const MAX_DEPTH = 5 + 1; // Keystone's max_project_tree_depth, counting the domain
const TAG = { type: 'string', minLength: 1, maxLength: 255, pattern: '^[^,/]*$' };
const NAME = { type: 'string', minLength: 1, maxLength: 64 };
const OPTIONS = { type: 'object', properties: { immutable: { type: ['boolean', 'null'] } }, additionalProperties: false };

const projectCreate = {
  type: 'object',
  properties: {
    name: NAME, description: { type: ['string', 'null'] }, enabled: { type: 'boolean' },
    domain_id: { type: ['string', 'null'], minLength: 1, maxLength: 64 }, parent_id: { type: ['string', 'null'], minLength: 1, maxLength: 64 },
    is_domain: { type: 'boolean' }, tags: { type: 'array', items: TAG, maxItems: 80, uniqueItems: true }, options: OPTIONS,
  },
  required: ['name'],
  additionalProperties: true,
};
const projectUpdate = {
  type: 'object',
  properties: {
    name: NAME, description: { type: ['string', 'null'] }, enabled: { type: 'boolean' },
    domain_id: { type: ['string', 'null'] }, parent_id: { type: ['string', 'null'] }, is_domain: { type: 'boolean' },
    tags: { type: 'array', items: TAG, maxItems: 80, uniqueItems: true }, options: OPTIONS,
  },
  minProperties: 1,
  additionalProperties: true,
};
const domainCreate = {
  type: 'object',
  properties: {
    name: NAME, description: { type: ['string', 'null'] }, enabled: { type: 'boolean' },
    tags: { type: 'array', items: TAG, maxItems: 80, uniqueItems: true }, options: OPTIONS, explicit_domain_id: { type: 'string', minLength: 1, maxLength: 64 },
  },
  required: ['name'],
  additionalProperties: true,
};
const domainUpdate = { ...domainCreate, required: [], minProperties: 1 };

const CORE = new Set(['id', 'name', 'domain_id', 'parent_id', 'is_domain', 'enabled', 'description', 'tags', 'options', 'links', 'explicit_domain_id']);
const extraOf = (body: Row): Row => Object.fromEntries(Object.entries(body).filter(([k]) => !CORE.has(k)));

async function tagsOf(ctx: IdentityContext, id: string): Promise<string[]> {
  const rows = await ctx.db.selectFrom('project_tag').select('name').where('project_id', '=', id).orderBy('name').execute();
  return rows.map((r: { name: string }) => r.name);
}

export async function formatProject(ctx: IdentityContext, req: FastifyRequest, p: Row, tags?: string[]): Promise<Row> {
  return {
    ...parseJson(p.extra, {}),
    id: p.id, name: p.name, domain_id: p.domain_id === ROOT_DOMAIN_ID ? null : p.domain_id,
    description: p.description ?? '', enabled: !!p.enabled,
    parent_id: p.parent_id, is_domain: !!p.is_domain,
    tags: tags ?? (await tagsOf(ctx, p.id)), options: parseJson(p.options, {}),
    links: selfLink(req, `projects/${p.id}`),
  };
}

export async function formatDomain(ctx: IdentityContext, req: FastifyRequest, d: Row, tags?: string[]): Promise<Row> {
  return {
    ...parseJson(d.extra, {}),
    id: d.id, name: d.name, description: d.description ?? '', enabled: !!d.enabled,
    tags: tags ?? (await tagsOf(ctx, d.id)), options: parseJson(d.options, {}),
    links: selfLink(req, `domains/${d.id}`),
  };
}

export async function getProjectRow(ctx: IdentityContext, id: string, kind: 'project' | 'domain' = 'project'): Promise<Row> {
  const p = await ctx.db.selectFrom('project').selectAll().where('id', '=', id).executeTakeFirst();
  if (!p || (kind === 'domain' && !p.is_domain)) throw new ApiError('NotFound', `Could not find ${kind}: ${id}.`);
  return p;
}

async function setTags(ctx: IdentityContext, id: string, tags: string[]): Promise<void> {
  await ctx.db.transaction().execute(async (trx) => {
    await trx.deleteFrom('project_tag').where('project_id', '=', id).execute();
    if (tags.length) await trx.insertInto('project_tag').values(tags.map((name) => ({ project_id: id, name }))).execute();
  });
  ctx.changed();
}

function immutable(p: Row): boolean {
  return !!parseJson<Row>(p.options, {}).immutable;
}

/** Creates a project or (is_domain) a domain, enforcing Keystone's hierarchy rules. */
async function createProject(ctx: IdentityContext, req: FastifyRequest, body: Row, asDomain: boolean): Promise<Row> {
  const id = (asDomain && typeof body.explicit_domain_id === 'string') ? body.explicit_domain_id : newId();
  let domainId: string;
  let parentId: string | null;
  if (asDomain) {
    if (body.parent_id) throw new ApiError('BadRequest', 'only root projects are allowed to act as domains.');
    domainId = ROOT_DOMAIN_ID;
    parentId = null;
  } else {
    domainId = body.domain_id ?? req.auth?.domain?.id ?? req.auth?.project?.domain.id ?? DEFAULT_DOMAIN_ID;
    parentId = body.parent_id ?? null;
    if (parentId) {
      const parent = await ctx.db.selectFrom('project').selectAll().where('id', '=', parentId).executeTakeFirst();
      if (!parent) throw new ApiError('NotFound', `Could not find project: ${parentId}.`);
      if (body.domain_id === undefined || body.domain_id === null) domainId = parent.is_domain ? parent.id : parent.domain_id;
      const parentDomain = parent.is_domain ? parent.id : parent.domain_id;
      if (parentDomain !== domainId) {
        throw new ApiError('BadRequest', `Cannot create project, since it specifies its domain_id ${domainId}, but specifies a parent in a different domain (${parentDomain}).`);
      }
      const chain = parent.is_domain ? [] : [parent, ...(await ancestorsOf(ctx, parent.id))];
      for (const a of chain) {
        const full = await ctx.db.selectFrom('project').select(['id', 'enabled']).where('id', '=', a.id).executeTakeFirst();
        if (full && !full.enabled) throw new ApiError('BadRequest', `cannot create a project in a branch containing a disabled project: ${a.id}`);
      }
      if (chain.length + 2 > MAX_DEPTH) throw new ApiError('Forbidden', `Max hierarchy depth reached for ${parentId} branch.`);
      if (parent.is_domain) parentId = parent.id;
    } else {
      parentId = domainId;
    }
    const dom = await ctx.db.selectFrom('project').select(['id']).where('id', '=', domainId).where('is_domain', '=', 1).executeTakeFirst();
    if (!dom) throw new ApiError('NotFound', `Could not find domain: ${domainId}.`);
  }
  const row = {
    id, name: String(body.name).trim(), domain_id: domainId, parent_id: parentId, is_domain: asDomain ? 1 : 0,
    enabled: body.enabled === false ? 0 : 1, description: body.description ?? '',
    extra: JSON.stringify(extraOf(body)), options: JSON.stringify(body.options ?? {}),
  };
  try {
    await ctx.db.transaction().execute(async (trx) => {
      await trx.insertInto('project').values(row).execute();
      const tags = (body.tags ?? []) as string[];
      if (tags.length) await trx.insertInto('project_tag').values(tags.map((name) => ({ project_id: id, name }))).execute();
    });
  } catch (e) {
    if (isUniqueViolation(e)) {
      throw new ApiError('Conflict', asDomain
        ? `Conflict occurred attempting to store project - it is not permitted to have two projects acting as domains with the same name: ${row.name}.`
        : `Conflict occurred attempting to store project - it is not permitted to have two projects with either the same name or same id in the same domain: name is ${row.name}, project id ${row.id}.`);
    }
    throw e;
  }
  ctx.changed();
  return row;
}

async function updateProject(ctx: IdentityContext, orig: Row, body: Row, revocations: Revocations): Promise<Row> {
  const isDomain = !!orig.is_domain;
  if (immutable(orig) && !(Object.keys(body).length === 1 && body.options && body.options.immutable === false)) {
    throw new ApiError('Forbidden', `Cannot update immutable ${isDomain ? 'domain' : 'project'} ${orig.id}.`);
  }
  if (!isDomain && 'domain_id' in body && body.domain_id !== orig.domain_id) throw new ApiError('BadRequest', 'Cannot change Domain ID');
  if ('parent_id' in body && body.parent_id !== orig.parent_id) throw new ApiError('Forbidden', 'Update of `parent_id` is not allowed.');
  if ('is_domain' in body && body.is_domain !== !!orig.is_domain) throw new ApiError('BadRequest', 'Update of `is_domain` is not allowed.');
  const wasEnabled = !!orig.enabled;
  const enabled = body.enabled === undefined ? wasEnabled : !!body.enabled;
  if (!isDomain && !wasEnabled && enabled) {
    for (const a of await ancestorsOf(ctx, orig.id)) {
      const full = await ctx.db.selectFrom('project').select('enabled').where('id', '=', a.id).executeTakeFirst();
      if (full && !full.enabled) throw new ApiError('Forbidden', `Cannot enable project ${orig.id} since it has disabled parents`);
    }
  }
  if (!isDomain && wasEnabled && !enabled) {
    const sub = await subtreeIds(ctx, orig.id);
    if (sub.length) {
      const on = await ctx.db.selectFrom('project').select('id').where('id', 'in', sub).where('enabled', '=', 1).executeTakeFirst();
      if (on) throw new ApiError('Forbidden', `Cannot disable project ${orig.id} since its subtree contains enabled projects.`);
    }
  }
  const extra = { ...parseJson<Row>(orig.extra, {}), ...extraOf(body) };
  const upd: Row = { extra: JSON.stringify(extra), enabled: enabled ? 1 : 0 };
  if (body.name !== undefined) upd.name = String(body.name).trim();
  if ('description' in body) upd.description = body.description ?? '';
  if (body.options) upd.options = JSON.stringify({ ...parseJson<Row>(orig.options, {}), ...body.options });
  try {
    await ctx.db.transaction().execute(async (trx) => {
      await trx.updateTable('project').set(upd).where('id', '=', orig.id).execute();
      if (Array.isArray(body.tags)) {
        await trx.deleteFrom('project_tag').where('project_id', '=', orig.id).execute();
        if (body.tags.length) await trx.insertInto('project_tag').values((body.tags as string[]).map((name) => ({ project_id: orig.id, name }))).execute();
      }
    });
  } catch (e) {
    if (isUniqueViolation(e)) throw new ApiError('Conflict', isDomain
      ? `Conflict occurred attempting to store project - it is not permitted to have two projects acting as domains with the same name: ${upd.name}.`
      : `Conflict occurred attempting to store project - it is not permitted to have two projects with either the same name or same id in the same domain: name is ${upd.name}, project id ${orig.id}.`);
    throw e;
  }
  // Disabling needs no revocation event: validation refuses tokens of disabled projects/domains.
  ctx.changed();
  void revocations;
  return (await ctx.db.selectFrom('project').selectAll().where('id', '=', orig.id).executeTakeFirst())!;
}

/** Removes a project (and, with cascade, its subtree) with everything that points at it. */
async function deleteProjects(ctx: IdentityContext, ids: string[], revocations: Revocations): Promise<void> {
  await ctx.db.transaction().execute(async (trx) => {
    await trx.deleteFrom('assignment').where('target_id', 'in', ids).execute();
    await trx.deleteFrom('project_tag').where('project_id', 'in', ids).execute();
    await trx.updateTable('identity_user').set({ default_project_id: null }).where('default_project_id', 'in', ids).execute();
    await trx.deleteFrom('project').where('id', 'in', ids).execute();
  });
  ctx.changed();
  for (const id of ids) await revocations.revoke({ project_id: id });
  await ctx.hooks.run('project.deleted', ids);
}

/** Deletes a disabled domain and everything in it: projects, users, groups, domain roles. */
async function deleteDomain(ctx: IdentityContext, d: Row, revocations: Revocations): Promise<void> {
  const projects = await ctx.db.selectFrom('project').select('id').where('domain_id', '=', d.id).where('is_domain', '=', 0).execute();
  const pids = projects.map((p: { id: string }) => p.id);
  const users = await ctx.db.selectFrom('identity_user').select('id').where('domain_id', '=', d.id).execute();
  const uids = users.map((u: { id: string }) => u.id);
  const groups = await ctx.db.selectFrom('identity_group').select('id').where('domain_id', '=', d.id).execute();
  const gids = groups.map((g: { id: string }) => g.id);
  const roles = await ctx.db.selectFrom('role').select('id').where('domain_id', '=', d.id).execute();
  const rids = roles.map((r: { id: string }) => r.id);
  await ctx.hooks.run('user.deleted', uids);
  await ctx.db.transaction().execute(async (trx) => {
    const targets = [...pids, d.id];
    await trx.deleteFrom('assignment').where('target_id', 'in', targets).execute();
    if (uids.length || gids.length) await trx.deleteFrom('assignment').where('actor_id', 'in', [...uids, ...gids]).execute();
    if (rids.length) {
      await trx.deleteFrom('assignment').where('role_id', 'in', rids).execute();
      await trx.deleteFrom('role').where('id', 'in', rids).execute();
    }
    if (pids.length) await trx.deleteFrom('project_tag').where('project_id', 'in', pids).execute();
    if (uids.length) await trx.deleteFrom('identity_user').where('id', 'in', uids).execute();
    if (gids.length) await trx.deleteFrom('identity_group').where('id', 'in', gids).execute();
    // Children before parents (foreign keys are logical, but keep the order anyway).
    if (pids.length) await trx.deleteFrom('project').where('id', 'in', pids).execute();
    await trx.deleteFrom('project_tag').where('project_id', '=', d.id).execute();
    await trx.deleteFrom('project').where('id', '=', d.id).execute();
  });
  ctx.changed();
  for (const id of pids) await revocations.revoke({ project_id: id });
  for (const id of uids) await revocations.revoke({ user_id: id });
  await ctx.hooks.run('project.deleted', [...pids, d.id]);
}

function applyTagFilters(query: Row, req: FastifyRequest): Row {
  let qb = query;
  const list = (name: string) => q(req, name)?.split(',').map((s) => s.trim()).filter(Boolean);
  const tags = list('tags'); const any = list('tags-any'); const notTags = list('not-tags'); const notAny = list('not-tags-any');
  const has = (t: string) => (eb: Row) => eb.exists(eb.selectFrom('project_tag').select('project_tag.name').whereRef('project_tag.project_id', '=', 'project.id').where('project_tag.name', '=', t));
  if (tags) for (const t of tags) qb = qb.where(has(t));
  if (any) qb = qb.where((eb: Row) => eb.or(any.map((t) => has(t)(eb))));
  if (notTags) qb = qb.where((eb: Row) => eb.not(eb.and(notTags.map((t) => has(t)(eb)))));
  if (notAny) for (const t of notAny) qb = qb.where((eb: Row) => eb.not(has(t)(eb)));
  return qb;
}

async function withTags(ctx: IdentityContext, rows: Row[]): Promise<Map<string, string[]>> {
  const m = new Map<string, string[]>();
  if (!rows.length) return m;
  const ids = rows.map((r) => r.id);
  for (let i = 0; i < ids.length; i += 500) {
    const tags = await ctx.db.selectFrom('project_tag').select(['project_id', 'name']).where('project_id', 'in', ids.slice(i, i + 500)).orderBy('name').execute();
    for (const t of tags as Array<{ project_id: string; name: string }>) {
      const l = m.get(t.project_id) ?? [];
      l.push(t.name);
      m.set(t.project_id, l);
    }
  }
  return m;
}

export function registerProjects(app: FastifyInstance, ctx: IdentityContext, revocations: Revocations): void {
  // GET /v3/projects bodies by URL, valid while nothing changed (ctx.generation): a cloud lists its
  // projects far more often than it changes them, and a 1,000-project body is ~300 KB of JSON.
  const listCache = new Map<string, { generation: number; body: string }>();
  // ---- projects
  app.post('/v3/projects', async (req, reply) => {
    const body = validate<Row>(projectCreate, member(req.body, 'project'));
    const asDomain = body.is_domain === true;
    enforce(ctx, req, 'identity:create_project', { 'target.project.domain_id': body.domain_id ?? req.auth?.domain?.id ?? req.auth?.project?.domain.id ?? DEFAULT_DOMAIN_ID, project: body });
    const row = await createProject(ctx, req, body, asDomain);
    reply.code(201);
    return { project: await formatProject(ctx, req, row, ((body.tags ?? []) as string[]).slice().sort()) };
  });

  app.get('/v3/projects', async (req, reply) => {
    const filters: Row = {};
    for (const k of ['domain_id', 'name', 'parent_id']) if (q(req, k) !== undefined) filters[k] = q(req, k);
    enforce(ctx, req, 'identity:list_projects', { 'target.domain_id': filters.domain_id, domain_id: filters.domain_id });
    const cacheKey = `${baseUrl(req)}${req.url}`;
    const hit = listCache.get(cacheKey);
    reply.type('application/json; charset=utf-8');
    if (hit && hit.generation === ctx.generation) return hit.body;
    const generation = ctx.generation;
    let qb: Row = ctx.db.selectFrom('project').selectAll();
    const isDomain = qBool(req, 'is_domain');
    qb = qb.where('is_domain', '=', isDomain ? 1 : 0);
    for (const [k, v] of Object.entries(filters)) qb = qb.where(k, '=', v);
    const enabled = qBool(req, 'enabled');
    if (enabled !== undefined) qb = qb.where('enabled', '=', enabled ? 1 : 0);
    qb = applyTagFilters(qb, req);
    const rows: Row[] = await qb.orderBy('name').orderBy('id').execute();
    const tags = await withTags(ctx, rows);
    const projects = [];
    for (const p of rows) projects.push(await formatProject(ctx, req, p, tags.get(p.id) ?? []));
    const body = JSON.stringify({ projects, links: listLinks(req) });
    if (listCache.size >= 256) listCache.clear();
    listCache.set(cacheKey, { generation, body });
    return body;
  });

  app.get<{ Params: { id: string } }>('/v3/projects/:id', async (req) => {
    const p = await getProjectRow(ctx, req.params.id);
    if (p.is_domain) throw new ApiError('NotFound', `Could not find project: ${req.params.id}.`);
    enforce(ctx, req, 'identity:get_project', { 'target.project.id': p.id, 'target.project.domain_id': p.domain_id, project: { id: p.id, domain_id: p.domain_id } });
    const out = await formatProject(ctx, req, p);
    const ancestors = await ancestorsOf(ctx, p.id);
    if (qBool(req, 'parents_as_list')) {
      const list = [];
      for (const a of ancestors) list.push({ project: await formatProject(ctx, req, (await getProjectRow(ctx, a.id))) });
      out.parents = list;
    } else if (qBool(req, 'parents_as_ids')) {
      let tree: Row | null = null;
      for (const a of [...ancestors].reverse()) tree = { [a.id]: tree };
      out.parents = tree;
    }
    if (qBool(req, 'subtree_as_list')) {
      const list = [];
      for (const id of await subtreeIds(ctx, p.id)) list.push({ project: await formatProject(ctx, req, await getProjectRow(ctx, id)) });
      out.subtree = list;
    } else if (qBool(req, 'subtree_as_ids')) {
      const build = async (id: string): Promise<Row | null> => {
        const kids = await ctx.db.selectFrom('project').select('id').where('parent_id', '=', id).execute();
        if (!kids.length) return null;
        const o: Row = {};
        for (const k of kids) o[k.id] = await build(k.id);
        return o;
      };
      out.subtree = await build(p.id);
    }
    return { project: out };
  });

  app.patch<{ Params: { id: string } }>('/v3/projects/:id', async (req) => {
    const body = validate<Row>(projectUpdate, member(req.body, 'project'));
    const p = await getProjectRow(ctx, req.params.id);
    enforce(ctx, req, 'identity:update_project', { 'target.project.id': p.id, 'target.project.domain_id': p.domain_id, project: { id: p.id, domain_id: p.domain_id } });
    const row = await updateProject(ctx, p, body, revocations);
    return { project: p.is_domain ? await formatProject(ctx, req, row) : await formatProject(ctx, req, row) };
  });

  app.delete<{ Params: { id: string } }>('/v3/projects/:id', async (req, reply) => {
    const p = await getProjectRow(ctx, req.params.id);
    enforce(ctx, req, 'identity:delete_project', { 'target.project.id': p.id, 'target.project.domain_id': p.domain_id, project: { id: p.id, domain_id: p.domain_id } });
    if (immutable(p)) throw new ApiError('Forbidden', `Cannot delete immutable project ${p.id}.`);
    if (p.is_domain) {
      if (p.enabled) throw new ApiError('BadRequest', `cannot delete an enabled project acting as a domain. Please disable the project ${p.id} first.`);
      await deleteDomain(ctx, p, revocations);
      return reply.code(204).send();
    }
    const sub = await subtreeIds(ctx, p.id);
    const cascade = qBool(req, 'cascade');
    if (sub.length && !cascade) throw new ApiError('Forbidden', `Cannot delete the project ${p.id} since it is not a leaf in the hierarchy. Use the cascade option if you want to delete a whole subtree.`);
    if (sub.length) {
      const on = await ctx.db.selectFrom('project').select('id').where('id', 'in', sub).where('enabled', '=', 1).executeTakeFirst();
      if (on) throw new ApiError('Forbidden', `Cannot delete project ${p.id} since its subtree contains enabled projects.`);
    }
    await deleteProjects(ctx, [...sub.reverse(), p.id], revocations);
    reply.code(204).send();
  });

  // ---- project tags
  const tagTarget = (p: Row) => ({ 'target.project.id': p.id, 'target.project.domain_id': p.domain_id, project: { id: p.id, domain_id: p.domain_id } });
  app.get<{ Params: { id: string } }>('/v3/projects/:id/tags', async (req) => {
    const p = await getProjectRow(ctx, req.params.id);
    enforce(ctx, req, 'identity:list_project_tags', tagTarget(p));
    return { tags: await tagsOf(ctx, p.id), links: listLinks(req) };
  });
  app.put<{ Params: { id: string } }>('/v3/projects/:id/tags', async (req) => {
    const p = await getProjectRow(ctx, req.params.id);
    enforce(ctx, req, 'identity:update_project_tags', tagTarget(p));
    const body = validate<{ tags: string[] }>({ type: 'object', properties: { tags: { type: 'array', items: TAG, maxItems: 80 } }, required: ['tags'] }, req.body);
    const tags = [...new Set(body.tags)];
    await setTags(ctx, p.id, tags);
    return { tags: tags.sort(), links: listLinks(req) };
  });
  app.delete<{ Params: { id: string } }>('/v3/projects/:id/tags', async (req, reply) => {
    const p = await getProjectRow(ctx, req.params.id);
    enforce(ctx, req, 'identity:delete_project_tags', tagTarget(p));
    await setTags(ctx, p.id, []);
    reply.code(204).send();
  });
  app.get<{ Params: { id: string; tag: string } }>('/v3/projects/:id/tags/:tag', async (req, reply) => {
    const p = await getProjectRow(ctx, req.params.id);
    enforce(ctx, req, 'identity:get_project_tag', tagTarget(p));
    if (!(await tagsOf(ctx, p.id)).includes(req.params.tag)) throw new ApiError('NotFound', `Could not find project tag: ${req.params.tag}.`);
    reply.code(204).send();
  });
  app.put<{ Params: { id: string; tag: string } }>('/v3/projects/:id/tags/:tag', async (req, reply) => {
    const p = await getProjectRow(ctx, req.params.id);
    enforce(ctx, req, 'identity:create_project_tag', tagTarget(p));
    validate(TAG, req.params.tag, 'tag');
    const tags = await tagsOf(ctx, p.id);
    if (!tags.includes(req.params.tag)) {
      if (tags.length >= 80) throw new ApiError('BadRequest', 'A project may not have more than 80 tags.');
      await ctx.db.insertInto('project_tag').values({ project_id: p.id, name: req.params.tag }).execute();
      ctx.changed();
    }
    reply.code(201).header('Location', `${req.protocol}://${req.host}${req.url}`).send();
  });
  app.delete<{ Params: { id: string; tag: string } }>('/v3/projects/:id/tags/:tag', async (req, reply) => {
    const p = await getProjectRow(ctx, req.params.id);
    enforce(ctx, req, 'identity:delete_project_tag', tagTarget(p));
    const r = await ctx.db.deleteFrom('project_tag').where('project_id', '=', p.id).where('name', '=', req.params.tag).executeTakeFirst();
    if (!Number(r.numDeletedRows)) throw new ApiError('NotFound', `Could not find project tag: ${req.params.tag}.`);
    ctx.changed();
    reply.code(204).send();
  });

  // ---- domains
  app.post('/v3/domains', async (req, reply) => {
    const body = validate<Row>(domainCreate, member(req.body, 'domain'));
    enforce(ctx, req, 'identity:create_domain', { domain: body });
    const row = await createProject(ctx, req, body, true);
    reply.code(201);
    return { domain: await formatDomain(ctx, req, row, ((body.tags ?? []) as string[]).slice().sort()) };
  });
  app.get('/v3/domains', async (req) => {
    enforce(ctx, req, 'identity:list_domains');
    let qb: Row = ctx.db.selectFrom('project').selectAll().where('is_domain', '=', 1);
    if (q(req, 'name') !== undefined) qb = qb.where('name', '=', q(req, 'name'));
    const enabled = qBool(req, 'enabled');
    if (enabled !== undefined) qb = qb.where('enabled', '=', enabled ? 1 : 0);
    const rows: Row[] = await qb.orderBy('name').execute();
    const tags = await withTags(ctx, rows);
    const domains = [];
    for (const d of rows) domains.push(await formatDomain(ctx, req, d, tags.get(d.id) ?? []));
    return { domains, links: listLinks(req) };
  });
  app.get<{ Params: { id: string } }>('/v3/domains/:id', async (req) => {
    const d = await getProjectRow(ctx, req.params.id, 'domain');
    enforce(ctx, req, 'identity:get_domain', { 'target.domain.id': d.id, domain: { id: d.id } });
    return { domain: await formatDomain(ctx, req, d) };
  });
  app.patch<{ Params: { id: string } }>('/v3/domains/:id', async (req) => {
    const body = validate<Row>(domainUpdate, member(req.body, 'domain'));
    const d = await getProjectRow(ctx, req.params.id, 'domain');
    enforce(ctx, req, 'identity:update_domain', { 'target.domain.id': d.id, domain: { id: d.id } });
    if (d.id === DEFAULT_DOMAIN_ID && body.enabled === false) {
      // Keystone allows it, but it locks everyone out of the default domain: keep Keystone's behaviour.
    }
    const row = await updateProject(ctx, d, body, revocations);
    return { domain: await formatDomain(ctx, req, row) };
  });
  app.delete<{ Params: { id: string } }>('/v3/domains/:id', async (req, reply) => {
    const d = await getProjectRow(ctx, req.params.id, 'domain');
    enforce(ctx, req, 'identity:delete_domain', { 'target.domain.id': d.id, domain: { id: d.id } });
    if (immutable(d)) throw new ApiError('Forbidden', `Cannot delete immutable domain ${d.id}.`);
    if (d.enabled) throw new ApiError('Forbidden', 'Cannot delete a domain that is enabled, please disable it first.');
    await deleteDomain(ctx, d, revocations);
    reply.code(204).send();
  });
}
