// /v3/auth/*: issue, validate, check and revoke tokens; what a token may scope to; its catalog.

import type { FastifyInstance } from 'fastify';
import { ApiError } from '../../common/errors.js';
import type { IdentityContext } from '../context.js';
import { enforce, listLinks, qBool, selfLink } from '../context.js';
import type { TokenService } from '../tokens.js';
import type { Authenticator } from '../authenticate.js';
import { domainIdsForUser, projectIdsForUser, assignedRoleIds } from '../assignments.js';
import { formatProject } from './projects.js';

export function registerAuth(app: FastifyInstance, ctx: IdentityContext, tokens: TokenService, authn: Authenticator): void {
  app.post('/v3/auth/tokens', async (req, reply) => {
    const data = await authn.authenticate(req, req.body);
    const nocatalog = (req.query as Record<string, unknown>).nocatalog !== undefined;
    reply.code(201).header('X-Subject-Token', data.id);
    return { token: await tokens.render(data, !nocatalog) };
  });

  const subject = async (headers: Record<string, unknown>, allowExpired: boolean) => {
    const st = headers['x-subject-token'];
    if (typeof st !== 'string' || !st) throw new ApiError('NotFound', 'Could not find token: (no X-Subject-Token given).');
    return tokens.validate(st, { allowExpired });
  };

  app.head('/v3/auth/tokens', async (req, reply) => {
    if (!req.auth) throw new ApiError('Unauthorized', 'The request you have made requires authentication.');
    const sub = await subject(req.headers, !!qBool(req, 'allow_expired'));
    enforce(ctx, req, 'identity:check_token', { 'target.token.user_id': sub.userId, token: { user_id: sub.userId } });
    reply.header('X-Subject-Token', sub.id).code(200).send();
  });

  app.get('/v3/auth/tokens', async (req, reply) => {
    const caller = req.auth;
    if (!caller) throw new ApiError('Unauthorized', 'The request you have made requires authentication.');
    const sub = await subject(req.headers, !!qBool(req, 'allow_expired'));
    enforce(ctx, req, 'identity:validate_token', { 'target.token.user_id': sub.userId, token: { user_id: sub.userId } });
    const nocatalog = (req.query as Record<string, unknown>).nocatalog !== undefined;
    reply.header('X-Subject-Token', sub.id).type('application/json; charset=utf-8');
    return tokens.renderJson(sub, !nocatalog);
  });

  app.delete('/v3/auth/tokens', async (req, reply) => {
    if (!req.auth) throw new ApiError('Unauthorized', 'The request you have made requires authentication.');
    const sub = await subject(req.headers, false);
    enforce(ctx, req, 'identity:revoke_token', { 'target.token.user_id': sub.userId, token: { user_id: sub.userId } });
    await tokens.revocations.revoke({ audit_id: sub.auditIds[0]!, expires_at: sub.expiresAt.toISOString() });
    tokens.forget();
    reply.code(204).send();
  });

  app.get('/v3/auth/catalog', async (req) => {
    const t = enforce(ctx, req, 'identity:get_auth_catalog');
    if (!t.project && !t.domain && !t.system) throw new ApiError('Forbidden', 'Cannot get a catalog with an unscoped token.');
    return { catalog: await tokens.catalogFor(t), links: listLinks(req) };
  });

  app.get('/v3/auth/projects', async (req) => {
    const t = enforce(ctx, req, 'identity:get_auth_projects');
    const ids = [...(await projectIdsForUser(ctx, t.userId))];
    const rows = ids.length ? await ctx.db.selectFrom('project').selectAll().where('id', 'in', ids).where('enabled', '=', 1).where('is_domain', '=', 0).orderBy('name').execute() : [];
    const projects = [];
    for (const p of rows) projects.push(await formatProject(ctx, req, p));
    return { projects, links: listLinks(req) };
  });

  app.get('/v3/auth/domains', async (req) => {
    const t = enforce(ctx, req, 'identity:get_auth_domains');
    const ids = [...(await domainIdsForUser(ctx, t.userId))];
    const rows = ids.length ? await ctx.db.selectFrom('project').selectAll().where('id', 'in', ids).where('enabled', '=', 1).where('is_domain', '=', 1).orderBy('name').execute() : [];
    return {
      domains: rows.map((d: Record<string, unknown>) => ({ id: d.id, name: d.name, description: d.description ?? '', enabled: true, tags: [], options: {}, links: selfLink(req, `domains/${d.id}`) })),
      links: listLinks(req),
    };
  });

  app.get('/v3/auth/system', async (req) => {
    const t = enforce(ctx, req, 'identity:get_auth_system');
    const roles = await assignedRoleIds(ctx, t.userId, { system: true });
    return { system: roles.size ? [{ all: true }] : [], links: listLinks(req) };
  });
}
