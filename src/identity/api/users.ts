// /v3/users, /v3/groups and membership, the user's own projects and password change.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../../common/errors.js';
import { isUniqueViolation } from '../../common/db/index.js';
import { validate } from '../../common/validation.js';
import type { IdentityContext } from '../context.js';
import { DEFAULT_DOMAIN_ID, enforce, listLinks, member, newId, parseJson, q, qBool, selfLink, rowOr404 } from '../context.js';
import { formatUser, getUser, setPassword, USER_OPTIONS, checkLoginPassword, type UserRow } from '../users.js';
import { projectIdsForUser } from '../assignments.js';
import { formatProject } from './projects.js';
import type { Revocations } from '../revocations.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Row = Record<string, any>;

const userCreate = {
  type: 'object',
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 255 },
    domain_id: { type: 'string', minLength: 1, maxLength: 64 },
    default_project_id: { type: ['string', 'null'], minLength: 1, maxLength: 64 },
    enabled: { type: 'boolean' },
    password: { type: ['string', 'null'] },
    description: { type: ['string', 'null'] },
    email: { type: ['string', 'null'] },
    options: { type: 'object' },
    federated: { type: 'array' },
  },
  required: ['name'],
  additionalProperties: true,
};
const userUpdate = { ...userCreate, required: [], minProperties: 1 };
const groupCreate = {
  type: 'object',
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 64 },
    domain_id: { type: 'string', minLength: 1, maxLength: 64 },
    description: { type: ['string', 'null'] },
  },
  required: ['name'],
  additionalProperties: true,
};
const groupUpdate = { ...groupCreate, required: [], minProperties: 1 };

const USER_CORE = new Set(['id', 'name', 'domain_id', 'default_project_id', 'enabled', 'password', 'options', 'links', 'password_expires_at', 'federated']);
const GROUP_CORE = new Set(['id', 'name', 'domain_id', 'description', 'links']);
const pick = (body: Row, core: Set<string>) => Object.fromEntries(Object.entries(body).filter(([k]) => !core.has(k)));

function checkOptions(opts: unknown): Row {
  if (opts === undefined) return {};
  for (const k of Object.keys(opts as Row)) {
    if (!USER_OPTIONS.has(k)) throw new ApiError('BadRequest', `Invalid input for field 'options': '${k}' is not a valid option.`);
  }
  return opts as Row;
}

async function checkDomain(ctx: IdentityContext, id: string): Promise<void> {
  const d = await ctx.db.selectFrom('project').select('id').where('id', '=', id).where('is_domain', '=', 1).executeTakeFirst();
  if (!d) throw new ApiError('NotFound', `Could not find domain: ${id}.`);
}

async function checkDefaultProject(ctx: IdentityContext, id: string | null | undefined): Promise<void> {
  if (!id) return;
  const p = await ctx.db.selectFrom('project').select(['id', 'is_domain']).where('id', '=', id).executeTakeFirst();
  if (p?.is_domain) throw new ApiError('BadRequest', 'Domains cannot be a default project.');
  // Keystone accepts an unknown project id here; so do we.
}

function formatGroup(req: FastifyRequest, g: Row): Row {
  return { ...parseJson(g.extra, {}), id: g.id, name: g.name, domain_id: g.domain_id, description: g.description ?? '', links: selfLink(req, `groups/${g.id}`) };
}

async function getGroup(ctx: IdentityContext, id: string): Promise<Row> {
  return rowOr404(ctx, 'identity_group', id, `Could not find group: ${id}.`);
}

const userTarget = (u: Row) => ({ 'target.user.id': u.id, 'target.user.domain_id': u.domain_id, user: { id: u.id, domain_id: u.domain_id }, user_id: u.id });
const groupTarget = (g: Row) => ({ 'target.group.id': g.id, 'target.group.domain_id': g.domain_id, group: { id: g.id, domain_id: g.domain_id }, group_id: g.id });

async function filterUsersByPasswordExpiry(ctx: IdentityContext, rows: Row[], expr: string | undefined): Promise<Row[]> {
  if (!expr) return rows;
  const m = /^(lt|lte|gt|gte|eq|neq):(.+)$/.exec(expr);
  const op = m ? m[1]! : 'eq';
  const when = new Date(m ? m[2]! : expr);
  if (Number.isNaN(when.getTime())) throw new ApiError('BadRequest', `Invalid password_expires_at filter: ${expr}.`);
  const out = [];
  for (const r of rows) {
    const pw = await ctx.db.selectFrom('password').select('expires_at').where('user_id', '=', r.id).orderBy('created_at', 'desc').limit(1).executeTakeFirst();
    if (!pw?.expires_at) continue;
    const t = new Date(pw.expires_at).getTime(); const w = when.getTime();
    const ok = op === 'lt' ? t < w : op === 'lte' ? t <= w : op === 'gt' ? t > w : op === 'gte' ? t >= w : op === 'neq' ? t !== w : Math.floor(t / 1000) === Math.floor(w / 1000);
    if (ok) out.push(r);
  }
  return out;
}

export function registerUsers(app: FastifyInstance, ctx: IdentityContext, revocations: Revocations): void {
  app.post('/v3/users', async (req, reply) => {
    const body = validate<Row>(userCreate, member(req.body, 'user'));
    const domainId = body.domain_id ?? req.auth?.domain?.id ?? DEFAULT_DOMAIN_ID;
    enforce(ctx, req, 'identity:create_user', { 'target.user.domain_id': domainId, user: { domain_id: domainId } });
    await checkDomain(ctx, domainId);
    await checkDefaultProject(ctx, body.default_project_id);
    const options = checkOptions(body.options);
    const row: UserRow = {
      id: newId(), domain_id: domainId, name: body.name, enabled: body.enabled === false ? 0 : 1,
      default_project_id: body.default_project_id ?? null, extra: JSON.stringify(pick(body, USER_CORE)),
      options: JSON.stringify(options), created_at: new Date().toISOString(), last_active_at: null, failed_auth_count: 0, failed_auth_at: null,
    };
    try {
      await ctx.db.insertInto('identity_user').values(row).execute();
    } catch (e) {
      if (isUniqueViolation(e)) throw new ApiError('Conflict', `Conflict occurred attempting to store user - Duplicate entry found with name ${body.name} at domain ID ${domainId}.`);
      throw e;
    }
    if (typeof body.password === 'string') {
      try {
        await setPassword(ctx, row, body.password, false);
      } catch (e) {
        await ctx.db.deleteFrom('identity_user').where('id', '=', row.id).execute(); // nothing half-written
        throw e;
      }
    }
    reply.code(201);
    return { user: await formatUser(ctx, req, row) };
  });

  app.get('/v3/users', async (req) => {
    const domainId = q(req, 'domain_id');
    enforce(ctx, req, 'identity:list_users', { 'target.domain_id': domainId, domain_id: domainId });
    let qb: Row = ctx.db.selectFrom('identity_user').selectAll();
    if (domainId !== undefined) qb = qb.where('domain_id', '=', domainId);
    const name = q(req, 'name');
    if (name !== undefined) qb = qb.where('name', '=', name);
    const enabled = qBool(req, 'enabled');
    if (enabled !== undefined) qb = qb.where('enabled', '=', enabled ? 1 : 0);
    let rows: Row[] = await qb.orderBy('name').orderBy('id').execute();
    rows = await filterUsersByPasswordExpiry(ctx, rows, q(req, 'password_expires_at'));
    if (q(req, 'idp_id') || q(req, 'protocol_id') || q(req, 'unique_id')) rows = []; // no federated shadow users yet
    const users = [];
    for (const u of rows) users.push(await formatUser(ctx, req, u as UserRow));
    return { users, links: listLinks(req) };
  });

  app.get<{ Params: { id: string } }>('/v3/users/:id', async (req) => {
    const u = await getUser(ctx, req.params.id);
    enforce(ctx, req, 'identity:get_user', userTarget(u));
    return { user: await formatUser(ctx, req, u) };
  });

  app.patch<{ Params: { id: string } }>('/v3/users/:id', async (req) => {
    const body = validate<Row>(userUpdate, member(req.body, 'user'));
    const u = await getUser(ctx, req.params.id);
    enforce(ctx, req, 'identity:update_user', userTarget(u));
    if (body.domain_id !== undefined && body.domain_id !== u.domain_id) throw new ApiError('BadRequest', 'Cannot change Domain ID');
    if (body.id !== undefined && body.id !== u.id) throw new ApiError('BadRequest', 'Cannot change user ID');
    await checkDefaultProject(ctx, body.default_project_id);
    const upd: Row = { extra: JSON.stringify({ ...parseJson(u.extra, {}), ...pick(body, USER_CORE) }) };
    if (body.name !== undefined) upd.name = body.name;
    if (body.enabled !== undefined) upd.enabled = body.enabled ? 1 : 0;
    if ('default_project_id' in body) upd.default_project_id = body.default_project_id;
    if (body.options !== undefined) {
      const merged = { ...parseJson<Row>(u.options, {}), ...checkOptions(body.options) };
      for (const [k, v] of Object.entries(merged)) if (v === null) delete merged[k];
      upd.options = JSON.stringify(merged);
    }
    if (typeof body.password === 'string') await setPassword(ctx, { ...u, options: upd.options ?? u.options }, body.password, false);
    try {
      await ctx.db.updateTable('identity_user').set(upd).where('id', '=', u.id).execute();
    } catch (e) {
      if (isUniqueViolation(e)) throw new ApiError('Conflict', `Conflict occurred attempting to store user - Duplicate entry found with name ${body.name} at domain ID ${u.domain_id}.`);
      throw e;
    }
    ctx.changed();
    if (body.enabled === false || typeof body.password === 'string') await revocations.revoke({ user_id: u.id });
    return { user: await formatUser(ctx, req, await getUser(ctx, u.id)) };
  });

  app.delete<{ Params: { id: string } }>('/v3/users/:id', async (req, reply) => {
    const u = await getUser(ctx, req.params.id);
    enforce(ctx, req, 'identity:delete_user', userTarget(u));
    await ctx.hooks.run('user.deleted', [u.id]);
    await ctx.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('assignment').where('actor_id', '=', u.id).execute();
      await trx.deleteFrom('group_membership').where('user_id', '=', u.id).execute();
      await trx.deleteFrom('password').where('user_id', '=', u.id).execute();
      await trx.deleteFrom('identity_user').where('id', '=', u.id).execute();
    });
    ctx.changed();
    await revocations.revoke({ user_id: u.id });
    reply.code(204).send();
  });

  // Self-service password change: no token needed (an expired password cannot get one); the
  // original password is the proof, as in Keystone.
  app.post<{ Params: { id: string } }>('/v3/users/:id/password', async (req, reply) => {
    const body = validate<Row>({
      type: 'object', properties: { password: { type: 'string' }, original_password: { type: 'string' } },
      required: ['password', 'original_password'], additionalProperties: false,
    }, member(req.body, 'user'));
    const u = await ctx.db.selectFrom('identity_user').selectAll().where('id', '=', req.params.id).executeTakeFirst() as UserRow | undefined;
    if (!u) throw new ApiError('Unauthorized', 'The request you have made requires authentication.');
    try {
      await checkLoginPassword(ctx, u, body.original_password);
    } catch (e) {
      // An expired password is exactly what this call exists to replace.
      if (!(e instanceof ApiError && /password is expired/.test(e.message))) throw e;
    }
    if (parseJson<Row>(u.options, {}).lock_password) throw new ApiError('BadRequest', `You cannot change your password at this time due to password policy disallowing password changes. Please contact your administrator to reset your password.`);
    await setPassword(ctx, u, body.password, true);
    ctx.changed();
    await revocations.revoke({ user_id: u.id });
    reply.code(204).send();
  });

  app.get<{ Params: { id: string } }>('/v3/users/:id/projects', async (req) => {
    const u = await getUser(ctx, req.params.id);
    enforce(ctx, req, 'identity:list_user_projects', userTarget(u));
    const ids = [...(await projectIdsForUser(ctx, u.id))];
    let qb: Row = ctx.db.selectFrom('project').selectAll().where('id', 'in', ids.length ? ids : ['']).where('is_domain', '=', 0);
    const enabled = qBool(req, 'enabled');
    if (enabled !== undefined) qb = qb.where('enabled', '=', enabled ? 1 : 0);
    if (q(req, 'name') !== undefined) qb = qb.where('name', '=', q(req, 'name'));
    if (q(req, 'domain_id') !== undefined) qb = qb.where('domain_id', '=', q(req, 'domain_id'));
    const rows: Row[] = await qb.orderBy('name').execute();
    const projects = [];
    for (const p of rows) projects.push(await formatProject(ctx, req, p));
    return { projects, links: listLinks(req) };
  });

  app.get<{ Params: { id: string } }>('/v3/users/:id/groups', async (req) => {
    const u = await getUser(ctx, req.params.id);
    enforce(ctx, req, 'identity:list_groups_for_user', userTarget(u));
    const rows: Row[] = await ctx.db.selectFrom('identity_group').innerJoin('group_membership', 'group_membership.group_id', 'identity_group.id')
      .selectAll('identity_group').where('group_membership.user_id', '=', u.id).orderBy('identity_group.name').execute();
    return { groups: rows.map((g) => formatGroup(req, g)), links: listLinks(req) };
  });

  // ---- groups
  app.post('/v3/groups', async (req, reply) => {
    const body = validate<Row>(groupCreate, member(req.body, 'group'));
    const domainId = body.domain_id ?? req.auth?.domain?.id ?? DEFAULT_DOMAIN_ID;
    enforce(ctx, req, 'identity:create_group', { 'target.group.domain_id': domainId, group: { domain_id: domainId } });
    await checkDomain(ctx, domainId);
    const row = { id: newId(), domain_id: domainId, name: body.name, description: body.description ?? '', extra: JSON.stringify(pick(body, GROUP_CORE)) };
    try {
      await ctx.db.insertInto('identity_group').values(row).execute();
    } catch (e) {
      if (isUniqueViolation(e)) throw new ApiError('Conflict', `Conflict occurred attempting to store group - Duplicate entry found with name ${body.name} at domain ID ${domainId}.`);
      throw e;
    }
    reply.code(201);
    return { group: formatGroup(req, row) };
  });
  app.get('/v3/groups', async (req) => {
    const domainId = q(req, 'domain_id');
    enforce(ctx, req, 'identity:list_groups', { 'target.domain_id': domainId, domain_id: domainId });
    let qb: Row = ctx.db.selectFrom('identity_group').selectAll();
    if (domainId !== undefined) qb = qb.where('domain_id', '=', domainId);
    if (q(req, 'name') !== undefined) qb = qb.where('name', '=', q(req, 'name'));
    const rows: Row[] = await qb.orderBy('name').execute();
    return { groups: rows.map((g) => formatGroup(req, g)), links: listLinks(req) };
  });
  app.get<{ Params: { id: string } }>('/v3/groups/:id', async (req) => {
    const g = await getGroup(ctx, req.params.id);
    enforce(ctx, req, 'identity:get_group', groupTarget(g));
    return { group: formatGroup(req, g) };
  });
  app.patch<{ Params: { id: string } }>('/v3/groups/:id', async (req) => {
    const body = validate<Row>(groupUpdate, member(req.body, 'group'));
    const g = await getGroup(ctx, req.params.id);
    enforce(ctx, req, 'identity:update_group', groupTarget(g));
    if (body.domain_id !== undefined && body.domain_id !== g.domain_id) throw new ApiError('BadRequest', 'Cannot change Domain ID');
    const upd: Row = { extra: JSON.stringify({ ...parseJson(g.extra, {}), ...pick(body, GROUP_CORE) }) };
    if (body.name !== undefined) upd.name = body.name;
    if ('description' in body) upd.description = body.description ?? '';
    try {
      await ctx.db.updateTable('identity_group').set(upd).where('id', '=', g.id).execute();
    } catch (e) {
      if (isUniqueViolation(e)) throw new ApiError('Conflict', `Conflict occurred attempting to store group - Duplicate entry found with name ${body.name}.`);
      throw e;
    }
    return { group: formatGroup(req, await getGroup(ctx, g.id)) };
  });
  app.delete<{ Params: { id: string } }>('/v3/groups/:id', async (req, reply) => {
    const g = await getGroup(ctx, req.params.id);
    enforce(ctx, req, 'identity:delete_group', groupTarget(g));
    const members = await ctx.db.selectFrom('group_membership').select('user_id').where('group_id', '=', g.id).execute();
    const heldRoles = await ctx.db.selectFrom('assignment').select('role_id').where('actor_id', '=', g.id).executeTakeFirst();
    await ctx.hooks.run('group.deleted', [g.id]);
    await ctx.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('assignment').where('actor_id', '=', g.id).execute();
      await trx.deleteFrom('group_membership').where('group_id', '=', g.id).execute();
      await trx.deleteFrom('identity_group').where('id', '=', g.id).execute();
    });
    ctx.changed();
    if (heldRoles) for (const m of members as Array<{ user_id: string }>) await revocations.revoke({ user_id: m.user_id });
    reply.code(204).send();
  });
  app.get<{ Params: { id: string } }>('/v3/groups/:id/users', async (req) => {
    const g = await getGroup(ctx, req.params.id);
    enforce(ctx, req, 'identity:list_users_in_group', groupTarget(g));
    let rows: Row[] = await ctx.db.selectFrom('identity_user').innerJoin('group_membership', 'group_membership.user_id', 'identity_user.id')
      .selectAll('identity_user').where('group_membership.group_id', '=', g.id).orderBy('identity_user.name').execute();
    rows = await filterUsersByPasswordExpiry(ctx, rows, q(req, 'password_expires_at'));
    const users = [];
    for (const u of rows) users.push(await formatUser(ctx, req, u as UserRow));
    return { users, links: listLinks(req) };
  });
  const membership = async (req: FastifyRequest<{ Params: { gid: string; uid: string } }>, action: string) => {
    const g = await getGroup(ctx, req.params.gid);
    const u = await getUser(ctx, req.params.uid);
    enforce(ctx, req, action, { ...groupTarget(g), ...userTarget(u) });
    return { g, u };
  };
  app.put<{ Params: { gid: string; uid: string } }>('/v3/groups/:gid/users/:uid', async (req, reply) => {
    const { g, u } = await membership(req, 'identity:add_user_to_group');
    const exists = await ctx.db.selectFrom('group_membership').select('user_id').where('group_id', '=', g.id).where('user_id', '=', u.id).executeTakeFirst();
    if (!exists) {
      try { await ctx.db.insertInto('group_membership').values({ group_id: g.id, user_id: u.id }).execute(); } catch (e) { if (!isUniqueViolation(e)) throw e; }
    }
    ctx.changed();
    reply.code(204).send();
  });
  const checkMember = async (req: FastifyRequest<{ Params: { gid: string; uid: string } }>, reply: { code(n: number): { send(): void } }) => {
    const { g, u } = await membership(req, 'identity:check_user_in_group');
    const exists = await ctx.db.selectFrom('group_membership').select('user_id').where('group_id', '=', g.id).where('user_id', '=', u.id).executeTakeFirst();
    if (!exists) throw new ApiError('NotFound', `User '${u.id}' not found in group '${g.id}'`);
    reply.code(204).send();
  };
  app.head<{ Params: { gid: string; uid: string } }>('/v3/groups/:gid/users/:uid', checkMember);
  app.get<{ Params: { gid: string; uid: string } }>('/v3/groups/:gid/users/:uid', checkMember);
  app.delete<{ Params: { gid: string; uid: string } }>('/v3/groups/:gid/users/:uid', async (req, reply) => {
    const { g, u } = await membership(req, 'identity:remove_user_from_group');
    const r = await ctx.db.deleteFrom('group_membership').where('group_id', '=', g.id).where('user_id', '=', u.id).executeTakeFirst();
    if (!Number(r.numDeletedRows)) throw new ApiError('NotFound', `User '${u.id}' not found in group '${g.id}'`);
    ctx.changed();
    await revocations.revoke({ user_id: u.id });
    reply.code(204).send();
  });
}
