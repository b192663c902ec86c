// /v3/roles, implied roles, grants (project, domain, system, OS-INHERIT) and /v3/role_assignments.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../common/errors.js';
import { isUniqueViolation } from '../../common/db/index.js';
import { validate } from '../../common/validation.js';
import type { IdentityContext } from '../context.js';
import { NULL_DOMAIN_ID, baseUrl, enforce, listLinks, member, newId, parseJson, q, qBool, selfLink, rowOr404 } from '../context.js';
import { SYSTEM_TARGET, expandImplied, subtreeIds, type AssignmentType } from '../assignments.js';
import type { Revocations } from '../revocations.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Row = Record<string, any>;

const roleCreate = {
  type: 'object',
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 255 },
    domain_id: { type: ['string', 'null'] },
    description: { type: ['string', 'null'] },
    options: { type: 'object', properties: { immutable: { type: ['boolean', 'null'] } }, additionalProperties: false },
  },
  required: ['name'],
  additionalProperties: true,
};
const roleUpdate = { ...roleCreate, required: [], minProperties: 1 };
const ROLE_CORE = new Set(['id', 'name', 'domain_id', 'description', 'options', 'links']);

export function formatRole(req: FastifyRequest, r: Row): Row {
  return {
    ...parseJson(r.extra, {}),
    id: r.id, name: r.name, domain_id: r.domain_id === NULL_DOMAIN_ID ? null : r.domain_id,
    description: r.description ?? null, options: parseJson(r.options, {}), links: selfLink(req, `roles/${r.id}`),
  };
}

export async function getRole(ctx: IdentityContext, id: string): Promise<Row> {
  return rowOr404(ctx, 'role', id, `Could not find role: ${id}.`);
}

const roleTarget = (r: Row) => ({ 'target.role.id': r.id, 'target.role.domain_id': r.domain_id === NULL_DOMAIN_ID ? null : r.domain_id, role: { id: r.id, domain_id: r.domain_id === NULL_DOMAIN_ID ? null : r.domain_id } });

function immutable(r: Row): boolean { return !!parseJson<Row>(r.options, {}).immutable; }

async function findActor(ctx: IdentityContext, kind: 'users' | 'groups', id: string): Promise<Row> {
  const table = kind === 'users' ? 'identity_user' : 'identity_group';
  const a = await ctx.db.selectFrom(table).select(['id', 'domain_id']).where('id', '=', id).executeTakeFirst();
  if (!a) throw new ApiError('NotFound', `Could not find ${kind === 'users' ? 'user' : 'group'}: ${id}.`);
  return a;
}

async function findTarget(ctx: IdentityContext, kind: 'projects' | 'domains', id: string): Promise<Row> {
  const p = await ctx.db.selectFrom('project').select(['id', 'domain_id', 'is_domain']).where('id', '=', id).executeTakeFirst();
  const want = kind === 'domains';
  if (!p || !!p.is_domain !== want) throw new ApiError('NotFound', `Could not find ${want ? 'domain' : 'project'}: ${id}.`);
  return p;
}

export function registerRoles(app: FastifyInstance, ctx: IdentityContext, revocations: Revocations): void {
  void revocations; // grants change no revocation events (see below)
  // ---- roles
  app.post('/v3/roles', async (req, reply) => {
    const body = validate<Row>(roleCreate, member(req.body, 'role'));
    enforce(ctx, req, body.domain_id ? 'identity:create_domain_role' : 'identity:create_role', { 'target.role.domain_id': body.domain_id ?? null, role: body });
    if (body.domain_id) {
      const d = await ctx.db.selectFrom('project').select('id').where('id', '=', body.domain_id).where('is_domain', '=', 1).executeTakeFirst();
      if (!d) throw new ApiError('NotFound', `Could not find domain: ${body.domain_id}.`);
    }
    const row = {
      id: newId(), name: body.name, domain_id: body.domain_id ?? NULL_DOMAIN_ID, description: body.description ?? null,
      extra: JSON.stringify(Object.fromEntries(Object.entries(body).filter(([k]) => !ROLE_CORE.has(k)))), options: JSON.stringify(body.options ?? {}),
    };
    try {
      await ctx.db.insertInto('role').values(row).execute();
    } catch (e) {
      if (isUniqueViolation(e)) throw new ApiError('Conflict', `Conflict occurred attempting to store role - Duplicate entry found with name ${body.name}${body.domain_id ? ` at domain ID ${body.domain_id}` : ''}.`);
      throw e;
    }
    reply.code(201);
    return { role: formatRole(req, row) };
  });

  app.get('/v3/roles', async (req) => {
    const domainId = q(req, 'domain_id');
    enforce(ctx, req, domainId ? 'identity:list_domain_roles' : 'identity:list_roles', { 'target.role.domain_id': domainId ?? null });
    let qb: Row = ctx.db.selectFrom('role').selectAll().where('domain_id', '=', domainId ?? NULL_DOMAIN_ID);
    if (q(req, 'name') !== undefined) qb = qb.where('name', '=', q(req, 'name'));
    const rows: Row[] = await qb.orderBy('name').execute();
    return { roles: rows.map((r) => formatRole(req, r)), links: listLinks(req) };
  });

  app.get<{ Params: { id: string } }>('/v3/roles/:id', async (req) => {
    const r = await getRole(ctx, req.params.id);
    enforce(ctx, req, r.domain_id !== NULL_DOMAIN_ID ? 'identity:get_domain_role' : 'identity:get_role', roleTarget(r));
    return { role: formatRole(req, r) };
  });

  app.patch<{ Params: { id: string } }>('/v3/roles/:id', async (req) => {
    const body = validate<Row>(roleUpdate, member(req.body, 'role'));
    const r = await getRole(ctx, req.params.id);
    enforce(ctx, req, r.domain_id !== NULL_DOMAIN_ID ? 'identity:update_domain_role' : 'identity:update_role', roleTarget(r));
    if (immutable(r) && !(body.options && body.options.immutable === false && Object.keys(body).length === 1)) {
      throw new ApiError('Forbidden', `Cannot update immutable role ${r.id}.`);
    }
    if ('domain_id' in body && (body.domain_id ?? NULL_DOMAIN_ID) !== r.domain_id) throw new ApiError('BadRequest', 'Cannot change Domain ID');
    const upd: Row = { extra: JSON.stringify({ ...parseJson(r.extra, {}), ...Object.fromEntries(Object.entries(body).filter(([k]) => !ROLE_CORE.has(k))) }) };
    if (body.name !== undefined) upd.name = body.name;
    if ('description' in body) upd.description = body.description;
    if (body.options) {
      const o = { ...parseJson<Row>(r.options, {}), ...body.options };
      for (const [k, v] of Object.entries(o)) if (v === null) delete o[k];
      upd.options = JSON.stringify(o);
    }
    try {
      await ctx.db.updateTable('role').set(upd).where('id', '=', r.id).execute();
    } catch (e) {
      if (isUniqueViolation(e)) throw new ApiError('Conflict', `Conflict occurred attempting to store role - Duplicate entry found with name ${body.name}${body.domain_id ? ` at domain ID ${body.domain_id}` : ''}.`);
      throw e;
    }
    ctx.changed();
    return { role: formatRole(req, await getRole(ctx, r.id)) };
  });

  app.delete<{ Params: { id: string } }>('/v3/roles/:id', async (req, reply) => {
    const r = await getRole(ctx, req.params.id);
    enforce(ctx, req, r.domain_id !== NULL_DOMAIN_ID ? 'identity:delete_domain_role' : 'identity:delete_role', roleTarget(r));
    if (immutable(r)) throw new ApiError('Forbidden', `Cannot delete immutable role ${r.id}.`);
    await ctx.hooks.run('role.deleted', [r.id]);
    await ctx.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('assignment').where('role_id', '=', r.id).execute();
      await trx.deleteFrom('implied_role').where((eb) => eb.or([eb('prior_role_id', '=', r.id), eb('implied_role_id', '=', r.id)])).execute();
      await trx.deleteFrom('role').where('id', '=', r.id).execute();
    });
    ctx.changed(); // tokens holding it are re-validated without it
    reply.code(204).send();
  });

  // ---- implied roles
  const inferenceRef = (req: FastifyRequest, r: Row) => ({ id: r.id, name: r.name, links: selfLink(req, `roles/${r.id}`) });
  const pair = async (req: FastifyRequest<{ Params: { prior: string; implied: string } }>, action: string) => {
    const prior = await getRole(ctx, req.params.prior);
    const implied = await getRole(ctx, req.params.implied);
    enforce(ctx, req, action, { 'target.prior_role.id': prior.id, 'target.implied_role.id': implied.id });
    return { prior, implied };
  };
  const getInference = async (req: FastifyRequest<{ Params: { prior: string; implied: string } }>, action: string) => {
    const { prior, implied } = await pair(req, action);
    const row = await ctx.db.selectFrom('implied_role').selectAll().where('prior_role_id', '=', prior.id).where('implied_role_id', '=', implied.id).executeTakeFirst();
    if (!row) throw new ApiError('NotFound', `${prior.id} does not imply ${implied.id}.`);
    return { prior, implied };
  };
  app.put<{ Params: { prior: string; implied: string } }>('/v3/roles/:prior/implies/:implied', async (req, reply) => {
    const { prior, implied } = await pair(req, 'identity:create_implied_role');
    if (implied.domain_id !== NULL_DOMAIN_ID && prior.domain_id === NULL_DOMAIN_ID) {
      throw new ApiError('Forbidden', `Cannot create an implied role from the global role ${prior.id} to the domain-specific role ${implied.id}.`);
    }
    // Refuse cycles: the implied role (or anything it implies) must not imply the prior one.
    if ((await expandImplied(ctx, [implied.id])).has(prior.id)) {
      throw new ApiError('Forbidden', `Implied role ${implied.id} would create a cycle with ${prior.id}.`);
    }
    const exists = await ctx.db.selectFrom('implied_role').selectAll().where('prior_role_id', '=', prior.id).where('implied_role_id', '=', implied.id).executeTakeFirst();
    if (!exists) await ctx.db.insertInto('implied_role').values({ prior_role_id: prior.id, implied_role_id: implied.id }).execute();
    ctx.changed();
    reply.code(201);
    return { role_inference: { prior_role: inferenceRef(req, prior), implies: inferenceRef(req, implied) }, links: { self: `${baseUrl(req)}/v3/roles/${prior.id}/implies/${implied.id}` } };
  });
  app.head<{ Params: { prior: string; implied: string } }>('/v3/roles/:prior/implies/:implied', async (req, reply) => {
    await getInference(req, 'identity:check_implied_role');
    reply.code(204).send();
  });
  app.get<{ Params: { prior: string; implied: string } }>('/v3/roles/:prior/implies/:implied', async (req) => {
    const { prior, implied } = await getInference(req, 'identity:get_implied_role');
    return { role_inference: { prior_role: inferenceRef(req, prior), implies: inferenceRef(req, implied) }, links: { self: `${baseUrl(req)}/v3/roles/${prior.id}/implies/${implied.id}` } };
  });
  app.delete<{ Params: { prior: string; implied: string } }>('/v3/roles/:prior/implies/:implied', async (req, reply) => {
    const { prior, implied } = await getInference(req, 'identity:delete_implied_role');
    await ctx.db.deleteFrom('implied_role').where('prior_role_id', '=', prior.id).where('implied_role_id', '=', implied.id).execute();
    ctx.changed();
    reply.code(204).send();
  });
  app.get<{ Params: { prior: string } }>('/v3/roles/:prior/implies', async (req) => {
    const prior = await getRole(ctx, req.params.prior);
    enforce(ctx, req, 'identity:list_implied_roles', { 'target.prior_role.id': prior.id });
    const rows = await ctx.db.selectFrom('implied_role').innerJoin('role', 'role.id', 'implied_role.implied_role_id').select(['role.id', 'role.name']).where('implied_role.prior_role_id', '=', prior.id).execute();
    return { role_inference: { prior_role: inferenceRef(req, prior), implies: rows.map((r: Row) => inferenceRef(req, r)) }, links: { self: `${baseUrl(req)}/v3/roles/${prior.id}/implies` } };
  });
  app.get('/v3/role_inferences', async (req) => {
    enforce(ctx, req, 'identity:list_role_inference_rules');
    const rows: Row[] = await ctx.db.selectFrom('implied_role').selectAll().execute();
    const roles = new Map<string, Row>();
    for (const r of await ctx.db.selectFrom('role').select(['id', 'name']).execute()) roles.set(r.id, r);
    const byPrior = new Map<string, Row[]>();
    for (const r of rows) byPrior.set(r.prior_role_id, [...(byPrior.get(r.prior_role_id) ?? []), inferenceRef(req, roles.get(r.implied_role_id)!)]);
    return {
      role_inferences: [...byPrior.entries()].map(([p, implies]) => ({ prior_role: inferenceRef(req, roles.get(p)!), implies })),
      links: listLinks(req),
    };
  });

  // ---- grants
  type GrantParams = { tkind: 'projects' | 'domains'; tid: string; akind: 'users' | 'groups'; aid: string; rid: string };
  const typeOf = (akind: string, tkind: string): AssignmentType =>
    `${akind === 'users' ? 'User' : 'Group'}${tkind === 'projects' ? 'Project' : tkind === 'domains' ? 'Domain' : 'System'}` as AssignmentType;

  const grantTarget = (t: Row | null, a: Row, akind: string, r: Row | null) => {
    const tg: Row = {};
    if (t) {
      if (t.is_domain) { tg['target.domain.id'] = t.id; tg.domain_id = t.id; }
      else { tg['target.project.id'] = t.id; tg['target.project.domain_id'] = t.domain_id; tg.project_id = t.id; }
    }
    if (akind === 'users') { tg['target.user.id'] = a.id; tg['target.user.domain_id'] = a.domain_id; tg.user_id = a.id; }
    else { tg['target.group.id'] = a.id; tg['target.group.domain_id'] = a.domain_id; tg.group_id = a.id; }
    if (r) { tg['target.role.id'] = r.id; tg['target.role.domain_id'] = r.domain_id === NULL_DOMAIN_ID ? null : r.domain_id; tg.role_id = r.id; }
    return tg;
  };

  const checkRoleUsable = (r: Row, t: Row | null) => {
    if (r.domain_id === NULL_DOMAIN_ID || !t) return;
    const targetDomain = t.is_domain ? t.id : t.domain_id;
    if (r.domain_id !== targetDomain) {
      throw new ApiError('Forbidden', `Domain specific role ${r.id} does not belong to the domain ${targetDomain} of the target.`);
    }
  };

  const grant = async (p: GrantParams, inherited: boolean, req: FastifyRequest, reply: FastifyReply, action: 'create' | 'check' | 'revoke') => {
    const t = await findTarget(ctx, p.tkind, p.tid);
    const a = await findActor(ctx, p.akind, p.aid);
    const r = await getRole(ctx, p.rid);
    const policyName = action === 'create' ? 'identity:create_grant' : action === 'check' ? 'identity:check_grant' : 'identity:revoke_grant';
    enforce(ctx, req, policyName, grantTarget(t, a, p.akind, r));
    const key = { type: typeOf(p.akind, p.tkind), actor_id: a.id, target_id: t.id, role_id: r.id, inherited: inherited ? 1 : 0 };
    const find = () => ctx.db.selectFrom('assignment').selectAll().where('type', '=', key.type).where('actor_id', '=', key.actor_id)
      .where('target_id', '=', key.target_id).where('role_id', '=', key.role_id).where('inherited', '=', key.inherited).executeTakeFirst();
    if (action === 'create') {
      checkRoleUsable(r, t);
      if (!(await find())) {
        try { await ctx.db.insertInto('assignment').values(key).execute(); } catch (e) { if (!isUniqueViolation(e)) throw e; }
      }
      ctx.changed();
      return reply.code(204).send();
    }
    const row = await find();
    if (!row) throw new ApiError('NotFound', `Could not find role assignment with role: ${r.id}, ${p.akind === 'users' ? 'user or group' : 'user or group'}: ${a.id}, project, domain, or system: ${t.id}.`);
    if (action === 'revoke') {
      await ctx.db.deleteFrom('assignment').where('type', '=', key.type).where('actor_id', '=', key.actor_id)
        .where('target_id', '=', key.target_id).where('role_id', '=', key.role_id).where('inherited', '=', key.inherited).execute();
      // As Keystone: no revocation event; cached token data is rebuilt and a token left
      // without any role on its scope stops validating.
      ctx.changed();
    }
    return reply.code(204).send();
  };
  const listGrants = async (p: Omit<GrantParams, 'rid'>, inherited: boolean, req: FastifyRequest) => {
    const t = await findTarget(ctx, p.tkind, p.tid);
    const a = await findActor(ctx, p.akind, p.aid);
    enforce(ctx, req, 'identity:list_grants', grantTarget(t, a, p.akind, null));
    const rows: Row[] = await ctx.db.selectFrom('assignment').innerJoin('role', 'role.id', 'assignment.role_id').selectAll('role')
      .where('assignment.type', '=', typeOf(p.akind, p.tkind)).where('assignment.actor_id', '=', a.id).where('assignment.target_id', '=', t.id)
      .where('assignment.inherited', '=', inherited ? 1 : 0).orderBy('role.name').execute();
    return { roles: rows.map((r) => formatRole(req, r)), links: listLinks(req) };
  };

  for (const tkind of ['projects', 'domains'] as const) {
    for (const akind of ['users', 'groups'] as const) {
      const path = `/v3/${tkind}/:tid/${akind}/:aid/roles`;
      app.get<{ Params: { tid: string; aid: string } }>(path, (req) => listGrants({ tkind, akind, ...req.params }, false, req));
      app.put<{ Params: { tid: string; aid: string; rid: string } }>(`${path}/:rid`, (req, reply) => grant({ tkind, akind, ...req.params }, false, req, reply, 'create'));
      app.head<{ Params: { tid: string; aid: string; rid: string } }>(`${path}/:rid`, (req, reply) => grant({ tkind, akind, ...req.params }, false, req, reply, 'check'));
      app.get<{ Params: { tid: string; aid: string; rid: string } }>(`${path}/:rid`, (req, reply) => grant({ tkind, akind, ...req.params }, false, req, reply, 'check'));
      app.delete<{ Params: { tid: string; aid: string; rid: string } }>(`${path}/:rid`, (req, reply) => grant({ tkind, akind, ...req.params }, false, req, reply, 'revoke'));
      const ipath = `/v3/OS-INHERIT/${tkind}/:tid/${akind}/:aid/roles`;
      app.get<{ Params: { tid: string; aid: string } }>(`${ipath}/inherited_to_projects`, (req) => listGrants({ tkind, akind, ...req.params }, true, req));
      app.put<{ Params: { tid: string; aid: string; rid: string } }>(`${ipath}/:rid/inherited_to_projects`, (req, reply) => grant({ tkind, akind, ...req.params }, true, req, reply, 'create'));
      app.head<{ Params: { tid: string; aid: string; rid: string } }>(`${ipath}/:rid/inherited_to_projects`, (req, reply) => grant({ tkind, akind, ...req.params }, true, req, reply, 'check'));
      app.get<{ Params: { tid: string; aid: string; rid: string } }>(`${ipath}/:rid/inherited_to_projects`, (req, reply) => grant({ tkind, akind, ...req.params }, true, req, reply, 'check'));
      app.delete<{ Params: { tid: string; aid: string; rid: string } }>(`${ipath}/:rid/inherited_to_projects`, (req, reply) => grant({ tkind, akind, ...req.params }, true, req, reply, 'revoke'));
    }
  }

  // ---- system grants
  for (const akind of ['users', 'groups'] as const) {
    const type = akind === 'users' ? 'UserSystem' : 'GroupSystem';
    const pre = akind === 'users' ? 'identity:' : 'identity:';
    const sys = akind === 'users' ? 'system_grant_for_user' : 'system_grant_for_group';
    app.get<{ Params: { aid: string } }>(`/v3/system/${akind}/:aid/roles`, async (req) => {
      const a = await findActor(ctx, akind, req.params.aid);
      enforce(ctx, req, `${pre}list_${akind === 'users' ? 'system_grants_for_user' : 'system_grants_for_group'}`, grantTarget(null, a, akind, null));
      const rows: Row[] = await ctx.db.selectFrom('assignment').innerJoin('role', 'role.id', 'assignment.role_id').selectAll('role')
        .where('assignment.type', '=', type).where('assignment.actor_id', '=', a.id).where('assignment.target_id', '=', SYSTEM_TARGET).orderBy('role.name').execute();
      return { roles: rows.map((r) => formatRole(req, r)), links: listLinks(req) };
    });
    const one = async (req: FastifyRequest<{ Params: { aid: string; rid: string } }>, reply: FastifyReply, action: 'create' | 'check' | 'revoke') => {
      const a = await findActor(ctx, akind, req.params.aid);
      const r = await getRole(ctx, req.params.rid);
      enforce(ctx, req, `${pre}${action}_${sys}`, grantTarget(null, a, akind, r));
      const key = { type, actor_id: a.id, target_id: SYSTEM_TARGET, role_id: r.id, inherited: 0 };
      const exists = await ctx.db.selectFrom('assignment').selectAll().where('type', '=', type).where('actor_id', '=', a.id).where('target_id', '=', SYSTEM_TARGET).where('role_id', '=', r.id).executeTakeFirst();
      if (action === 'create') {
        if (r.domain_id !== NULL_DOMAIN_ID) throw new ApiError('BadRequest', 'Domain-specific roles cannot be granted on the system.');
        if (!exists) await ctx.db.insertInto('assignment').values(key).execute();
        ctx.changed();
        return reply.code(204).send();
      }
      if (!exists) throw new ApiError('NotFound', `Could not find role assignment with role: ${r.id}, user or group: ${a.id}, project, domain, or system: system.`);
      if (action === 'revoke') {
        await ctx.db.deleteFrom('assignment').where('type', '=', type).where('actor_id', '=', a.id).where('target_id', '=', SYSTEM_TARGET).where('role_id', '=', r.id).execute();
        ctx.changed();
      }
      return reply.code(204).send();
    };
    app.put<{ Params: { aid: string; rid: string } }>(`/v3/system/${akind}/:aid/roles/:rid`, (req, reply) => one(req, reply, 'create'));
    app.head<{ Params: { aid: string; rid: string } }>(`/v3/system/${akind}/:aid/roles/:rid`, (req, reply) => one(req, reply, 'check'));
    app.get<{ Params: { aid: string; rid: string } }>(`/v3/system/${akind}/:aid/roles/:rid`, (req, reply) => one(req, reply, 'check'));
    app.delete<{ Params: { aid: string; rid: string } }>(`/v3/system/${akind}/:aid/roles/:rid`, (req, reply) => one(req, reply, 'revoke'));
  }

  // ---- role assignments
  app.get('/v3/role_assignments', async (req) => listRoleAssignments(ctx, req));
}

/** GET /v3/role_assignments with Keystone's filters, `effective`, `include_names` and `include_subtree`. */
async function listRoleAssignments(ctx: IdentityContext, req: FastifyRequest): Promise<Row> {
  const f = {
    userId: q(req, 'user.id'), groupId: q(req, 'group.id'), roleId: q(req, 'role.id'),
    projectId: q(req, 'scope.project.id'), domainId: q(req, 'scope.domain.id'), system: q(req, 'scope.system'),
    inherited: q(req, 'scope.OS-INHERIT:inherited_to'),
  };
  const effective = (req.query as Row).effective !== undefined && qBool(req, 'effective') !== false;
  const includeNames = (req.query as Row).include_names !== undefined && qBool(req, 'include_names') !== false;
  const includeSubtree = (req.query as Row).include_subtree !== undefined && qBool(req, 'include_subtree') !== false;
  if (f.userId && f.groupId) throw new ApiError('BadRequest', 'Specify a user or group, not both');
  if ([f.projectId, f.domainId, f.system].filter(Boolean).length > 1) throw new ApiError('BadRequest', 'Specify one of domain, project or system');
  if (effective && f.groupId) throw new ApiError('BadRequest', 'Combining effective and group filter will always result in an empty list.');
  if (includeSubtree && !f.projectId) throw new ApiError('BadRequest', 'scope.project.id needs to be specified if include_subtree is also specified');
  const target: Row = {};
  if (f.projectId) {
    const p = await ctx.db.selectFrom('project').select(['id', 'domain_id']).where('id', '=', f.projectId).executeTakeFirst();
    target['target.project.domain_id'] = p?.domain_id; target['target.project.id'] = f.projectId;
  }
  if (f.domainId) target['target.domain.id'] = f.domainId;
  if (f.userId) target['target.user.id'] = f.userId;
  if (f.groupId) target['target.group.id'] = f.groupId;
  enforce(ctx, req, includeSubtree ? 'identity:list_role_assignments_for_tree' : 'identity:list_role_assignments', target);

  type A = { type: string; actor_id: string; target_id: string; role_id: string; inherited: number; via?: Row };
  const raw = (await ctx.db.selectFrom('assignment').selectAll().execute()) as A[];

  let projectScope: string[] | undefined;
  if (f.projectId) projectScope = includeSubtree ? [f.projectId, ...(await subtreeIds(ctx, f.projectId))] : [f.projectId];

  let results: A[] = [];
  if (!effective) {
    results = raw;
  } else {
    // Expand group assignments to users and inherited assignments to the projects below them.
    const members: Row[] = await ctx.db.selectFrom('group_membership').selectAll().execute();
    const expanded: A[] = [];
    for (const a of raw) {
      const actors = a.type.startsWith('Group')
        ? members.filter((m) => m.group_id === a.actor_id).map((m) => ({ id: m.user_id, via: { group: { id: a.actor_id } } }))
        : [{ id: a.actor_id, via: undefined as Row | undefined }];
      const userType = a.type.replace('Group', 'User');
      for (const actor of actors) {
        if (a.inherited) {
          const projects = await subtreeIds(ctx, a.target_id, a.type.endsWith('Domain'));
          for (const pid of projects) {
            const via: Row = { ...(actor.via ?? {}), ...(a.type.endsWith('Domain') ? { domain: { id: a.target_id } } : { project: { id: a.target_id } }) };
            expanded.push({ type: userType.replace('Domain', 'Project'), actor_id: actor.id, target_id: pid, role_id: a.role_id, inherited: 0, via: { ...via, inherited: true, role_id: a.role_id } });
          }
        } else {
          expanded.push({ type: userType, actor_id: actor.id, target_id: a.target_id, role_id: a.role_id, inherited: 0, via: actor.via });
        }
      }
    }
    // Implied roles become assignments of their own, pointing back at the prior role.
    const implied: Row[] = await ctx.db.selectFrom('implied_role').selectAll().execute();
    const withImplied: A[] = [];
    for (const a of expanded) {
      withImplied.push(a);
      const seen = new Set([a.role_id]);
      let frontier = [a.role_id];
      while (frontier.length) {
        const next: string[] = [];
        for (const rid of frontier) {
          for (const i of implied.filter((x) => x.prior_role_id === rid)) {
            if (seen.has(i.implied_role_id)) continue;
            seen.add(i.implied_role_id);
            next.push(i.implied_role_id);
            withImplied.push({ ...a, role_id: i.implied_role_id, via: { ...(a.via ?? {}), prior_role: a.role_id } });
          }
        }
        frontier = next;
      }
    }
    // Domain-specific roles never reach a token, so they are not effective (what they imply is).
    const domainRoles = new Set((await ctx.db.selectFrom('role').select('id').where('domain_id', '!=', NULL_DOMAIN_ID).execute()).map((r: Row) => r.id));
    results = withImplied.filter((a) => !domainRoles.has(a.role_id));
  }

  results = results.filter((a) => {
    if (f.userId && !(a.type.startsWith('User') && a.actor_id === f.userId)) return false;
    if (f.groupId && !(a.type.startsWith('Group') && a.actor_id === f.groupId)) return false;
    if (f.roleId && a.role_id !== f.roleId) return false;
    if (projectScope && !(a.type.endsWith('Project') && projectScope.includes(a.target_id))) return false;
    if (f.domainId && !(a.type.endsWith('Domain') && a.target_id === f.domainId)) return false;
    if (f.system && !a.type.endsWith('System')) return false;
    if (f.inherited === 'projects' && !a.inherited) return false;
    return true;
  });

  // Names, looked up once.
  const names = async (table: string, ids: string[]) => {
    const m = new Map<string, Row>();
    const uniq = [...new Set(ids)];
    if (uniq.length) for (const r of await ctx.db.selectFrom(table).selectAll().where('id', 'in', uniq).execute()) m.set(r.id, r);
    return m;
  };
  const roles = await names('role', results.map((a) => a.role_id));
  const users = includeNames ? await names('identity_user', results.filter((a) => a.type.startsWith('User')).map((a) => a.actor_id)) : new Map();
  const groups = includeNames ? await names('identity_group', results.filter((a) => a.type.startsWith('Group')).map((a) => a.actor_id)) : new Map();
  const projects = await names('project', results.filter((a) => !a.type.endsWith('System')).map((a) => a.target_id));
  const domainNames = includeNames ? await names('project', [...users.values(), ...groups.values(), ...projects.values(), ...roles.values()].map((x) => x.domain_id)) : new Map();
  const dref = (id: string) => (includeNames ? { id, name: domainNames.get(id)?.name } : { id });

  const base = baseUrl(req);
  const role_assignments = results.map((a) => {
    const out: Row = {};
    const role = roles.get(a.role_id);
    out.role = { id: a.role_id };
    if (includeNames && role) {
      out.role.name = role.name;
      if (role.domain_id !== NULL_DOMAIN_ID) out.role.domain = dref(role.domain_id);
    }
    if (a.type.startsWith('User')) {
      out.user = { id: a.actor_id };
      const u = users.get(a.actor_id);
      if (includeNames && u) { out.user.name = u.name; out.user.domain = dref(u.domain_id); }
    } else {
      out.group = { id: a.actor_id };
      const g = groups.get(a.actor_id);
      if (includeNames && g) { out.group.name = g.name; out.group.domain = dref(g.domain_id); }
    }
    if (a.type.endsWith('System')) out.scope = { system: { all: true } };
    else if (a.type.endsWith('Domain')) {
      out.scope = { domain: { id: a.target_id } };
      if (includeNames) out.scope.domain.name = projects.get(a.target_id)?.name;
    } else {
      out.scope = { project: { id: a.target_id } };
      const p = projects.get(a.target_id);
      if (includeNames && p) { out.scope.project.name = p.name; out.scope.project.domain = dref(p.domain_id); }
    }
    if (a.inherited) out.scope['OS-INHERIT:inherited_to'] = 'projects';
    // Links: the grant itself, or for effective rows the assignment they come from.
    const actorPath = a.type.startsWith('User') ? `users/${a.actor_id}` : `groups/${a.actor_id}`;
    let assignment: string;
    if (a.type.endsWith('System')) assignment = `${base}/v3/system/${actorPath}/roles/${a.role_id}`;
    else {
      const tpath = a.type.endsWith('Domain') ? `domains/${a.target_id}` : `projects/${a.target_id}`;
      assignment = a.inherited ? `${base}/v3/OS-INHERIT/${tpath}/${actorPath}/roles/${a.role_id}/inherited_to_projects` : `${base}/v3/${tpath}/${actorPath}/roles/${a.role_id}`;
    }
    out.links = { assignment };
    if (a.via) {
      const v = a.via;
      const rid = v.prior_role ?? a.role_id;
      const actor = v.group ? `groups/${v.group.id}` : `users/${a.actor_id}`;
      if (v.inherited) {
        const t = v.domain ? `domains/${v.domain.id}` : `projects/${v.project.id}`;
        out.links.assignment = `${base}/v3/OS-INHERIT/${t}/${actor}/roles/${v.role_id ?? rid}/inherited_to_projects`;
      } else {
        const tpath = a.type.endsWith('System') ? 'system' : a.type.endsWith('Domain') ? `domains/${a.target_id}` : `projects/${a.target_id}`;
        out.links.assignment = `${base}/v3/${tpath}/${actor}/roles/${rid}`;
      }
      if (v.group) out.links.membership = `${base}/v3/groups/${v.group.id}/users/${a.actor_id}`;
      if (v.prior_role) out.links.prior_role = `${base}/v3/roles/${v.prior_role}`;
    }
    return out;
  });
  return { role_assignments, links: listLinks(req) };
}
