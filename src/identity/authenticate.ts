// POST /v3/auth/tokens: the auth methods (password and token here; application credentials,
// OAuth1 and federation register theirs) and the requested scope, turned into a token.

import { ApiError } from '../common/errors.js';
import type { FastifyRequest } from 'fastify';
import type { IdentityContext } from './context.js';
import { isDelegatedMethod, type TokenData, type TokenService } from './tokens.js';
import { checkLoginPassword, type UserRow } from './users.js';
import { effectiveRoles } from './assignments.js';
import type { TokenPayload } from './token/formatter.js';

/** What an auth method establishes. */
export interface AuthResult {
  userId: string;
  /** Method names this method contributes (defaults to its own name). */
  methods?: string[];
  expiresAt?: Date;
  parentAuditId?: string;
  /** Set when the method fixes the scope itself (app credentials, OAuth1 access tokens). */
  fixedScope?: Partial<Pick<TokenPayload, 'projectId' | 'domainId' | 'systemScope'>>;
  appCredId?: string;
  accessTokenId?: string;
  trustId?: string;
  federation?: { groupIds: string[]; identityProviderId: string; protocolId: string };
  /** The token this method was given (token method), for rescope rules. */
  fromToken?: TokenData;
}

export type AuthMethod = (ctx: IdentityContext, data: Record<string, unknown>, req: FastifyRequest, body: Record<string, unknown>) => Promise<AuthResult>;

/** A scope kind besides project/domain/system (OS-TRUST:trust). */
export type ScopeHandler = (ctx: IdentityContext, value: unknown, auth: AuthResult) => Promise<Partial<TokenPayload>>;

export class Authenticator {
  private methods = new Map<string, AuthMethod>();
  private scopes = new Map<string, ScopeHandler>();

  constructor(private ctx: IdentityContext, private tokens: TokenService) {
    this.methods.set('password', (c, d) => passwordMethod(c, d));
    this.methods.set('token', (c, d, req, body) => tokenMethod(c, this.tokens, d, body));
  }

  registerMethod(name: string, m: AuthMethod): void { this.methods.set(name, m); }
  registerScope(key: string, h: ScopeHandler): void { this.scopes.set(key, h); }

  async authenticate(req: FastifyRequest, body: unknown): Promise<TokenData> {
    const auth = asObject(asObject(body, 'request body').auth, 'auth');
    const identity = asObject(auth.identity, 'auth.identity');
    const methodNames = identity.methods;
    if (!Array.isArray(methodNames) || methodNames.length === 0 || !methodNames.every((m) => typeof m === 'string')) {
      throw new ApiError('BadRequest', "Invalid input for field 'identity/methods': expected a non-empty list of method names.");
    }
    let result: AuthResult | undefined;
    const methods: string[] = [];
    for (const name of methodNames as string[]) {
      const m = this.methods.get(name);
      if (!m || !this.ctx.cfg.identity.auth_methods.includes(name) && !this.methods.has(name)) {
        throw new ApiError('Unauthorized', `Attempted to authenticate with an unsupported method.`);
      }
      const data = identity[name];
      if (data === undefined || data === null || typeof data !== 'object') {
        throw new ApiError('BadRequest', `Invalid input for field 'identity/${name}': expected an object.`);
      }
      const r = await m(this.ctx, data as Record<string, unknown>, req, auth);
      if (result && result.userId !== r.userId) throw new ApiError('Unauthorized', 'User IDs of the auth methods do not match.');
      result = { ...result, ...r };
      methods.push(...(r.methods ?? [name]));
    }
    const res = result!;

    // Scope: explicit, fixed by the method, or the user's default project.
    let scope: Partial<TokenPayload> = {};
    const rawScope = auth.scope;
    if (res.fixedScope) {
      scope = res.fixedScope;
      if (rawScope !== undefined && rawScope !== 'unscoped') await this.checkSameScope(rawScope, scope);
    } else if (rawScope === 'unscoped') {
      scope = {};
    } else if (rawScope !== undefined) {
      scope = await this.resolveScope(rawScope, res);
    } else if (!res.fromToken && !res.federation) {
      scope = await this.defaultScope(res.userId);
    }
    if (res.fromToken) this.checkRescope(res.fromToken, scope);

    return this.tokens.issue({
      userId: res.userId,
      methods: [...new Set(methods)],
      expiresAt: res.expiresAt,
      parentAuditId: res.parentAuditId,
      appCredId: res.appCredId,
      accessTokenId: res.accessTokenId,
      trustId: res.trustId ?? scope.trustId,
      federatedGroupIds: res.federation?.groupIds,
      identityProviderId: res.federation?.identityProviderId,
      protocolId: res.federation?.protocolId,
      ...scope,
    });
  }

  private async resolveScope(raw: unknown, res: AuthResult): Promise<Partial<TokenPayload>> {
    const s = asObject(raw, 'auth.scope');
    const keys = Object.keys(s);
    if (keys.length !== 1) throw new ApiError('BadRequest', 'Specify one of project, domain, system or OS-TRUST:trust as the scope.');
    const kind = keys[0]!;
    if (kind === 'project') return { projectId: await this.findProject(asObject(s.project, 'scope.project')) };
    if (kind === 'domain') return { domainId: await this.findDomain(asObject(s.domain, 'scope.domain'), true) };
    if (kind === 'system') {
      const sys = asObject(s.system, 'scope.system');
      if (sys.all !== true) throw new ApiError('BadRequest', "Invalid input for field 'scope/system': only {\"all\": true} is supported.");
      return { systemScope: 'all' };
    }
    const h = this.scopes.get(kind);
    if (!h) throw new ApiError('BadRequest', `Unknown scope ${kind}.`);
    return h(this.ctx, s[kind], res);
  }

  private async checkSameScope(raw: unknown, fixed: Partial<TokenPayload>): Promise<void> {
    const s = await this.resolveScope(raw, { userId: '' });
    if ((s.projectId ?? null) !== (fixed.projectId ?? null) || (s.domainId ?? null) !== (fixed.domainId ?? null) || (s.systemScope ?? null) !== (fixed.systemScope ?? null)) {
      throw new ApiError('Unauthorized', 'Requested scope does not match the scope of the credential.');
    }
  }

  private checkRescope(from: TokenData, to: Partial<TokenPayload>): void {
    const p = from.payload;
    if (p.accessTokenId) throw new ApiError('Forbidden', 'You are not authorized to perform the requested action: Using OAuth-scoped token to create another token. Create a new OAuth-scoped token instead.');
    if (p.trustId) throw new ApiError('Forbidden', 'You are not authorized to perform the requested action: Using trust-scoped token to create another token. Create a new trust-scoped token instead.');
    if (p.systemScope && (to.projectId || to.domainId)) throw new ApiError('Forbidden', 'You are not authorized to perform the requested action: Using a system-scoped token to create a project-scoped or domain-scoped token is not allowed.');
    // Keystone (Debian's fix for CVE-2026-80182): any token of a non-primary method (application
    // credential, OAuth1, ec2credential...) or with no methods is delegated and cannot be exchanged.
    if (p.appCredId || isDelegatedMethod(from)) throw new ApiError('Forbidden', 'You are not authorized to perform the requested action: Using a delegated token to create another token is not allowed.');
    if (!this.ctx.cfg.identity.allow_rescope_scoped_token && (p.projectId || p.domainId)) {
      throw new ApiError('Forbidden', 'You are not authorized to perform the requested action: rescope a scoped token.');
    }
  }

  private async defaultScope(userId: string): Promise<Partial<TokenPayload>> {
    const u = await this.ctx.db.selectFrom('identity_user').select('default_project_id').where('id', '=', userId).executeTakeFirst();
    const pid = u?.default_project_id as string | null | undefined;
    if (!pid) return {};
    const p = await this.ctx.db.selectFrom('project').select(['id', 'enabled']).where('id', '=', pid).where('is_domain', '=', 0).executeTakeFirst();
    if (!p || !p.enabled) return {};
    const roles = await effectiveRoles(this.ctx, userId, { projectId: pid });
    return roles.length ? { projectId: pid } : {};
  }

  async findDomain(ref: Record<string, unknown>, forScope: boolean): Promise<string> {
    const err = (m: string) => new ApiError(forScope ? 'Unauthorized' : 'NotFound', m);
    let row;
    if (typeof ref.id === 'string') {
      row = await this.ctx.db.selectFrom('project').select(['id', 'enabled']).where('id', '=', ref.id).where('is_domain', '=', 1).executeTakeFirst();
      if (!row) throw err(`Could not find domain: ${ref.id}.`);
    } else if (typeof ref.name === 'string') {
      row = await this.ctx.db.selectFrom('project').select(['id', 'enabled']).where('name', '=', ref.name).where('is_domain', '=', 1).executeTakeFirst();
      if (!row) throw err(`Could not find domain: ${ref.name}.`);
    } else {
      throw new ApiError('BadRequest', 'A domain must be given by id or name.');
    }
    if (forScope && !row.enabled) throw err(`Domain ${row.id} is disabled.`);
    return row.id as string;
  }

  private async findProject(ref: Record<string, unknown>): Promise<string> {
    let row;
    if (typeof ref.id === 'string') {
      row = await this.ctx.db.selectFrom('project').select(['id', 'enabled']).where('id', '=', ref.id).where('is_domain', '=', 0).executeTakeFirst();
      if (!row) throw new ApiError('Unauthorized', `Could not find project: ${ref.id}.`);
    } else if (typeof ref.name === 'string') {
      if (!ref.domain || typeof ref.domain !== 'object') throw new ApiError('BadRequest', 'A project given by name needs its domain.');
      const did = await this.findDomain(ref.domain as Record<string, unknown>, true);
      row = await this.ctx.db.selectFrom('project').select(['id', 'enabled']).where('name', '=', ref.name).where('domain_id', '=', did).where('is_domain', '=', 0).executeTakeFirst();
      if (!row) throw new ApiError('Unauthorized', `Could not find project: ${ref.name}.`);
    } else {
      throw new ApiError('BadRequest', 'A project must be given by id or name.');
    }
    if (!row.enabled) throw new ApiError('Unauthorized', `Project ${row.id} is disabled.`);
    return row.id as string;
  }
}

function asObject(v: unknown, what: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ApiError('BadRequest', `Invalid input for field '${what}': expected an object.`);
  return v as Record<string, unknown>;
}

/** Finds a user by id, or by name within a domain given by id or name; 401 when unknown. */
export async function findUserForAuth(ctx: IdentityContext, u: Record<string, unknown>): Promise<UserRow> {
  let row;
  if (typeof u.id === 'string') {
    row = await ctx.db.selectFrom('identity_user').selectAll().where('id', '=', u.id).executeTakeFirst();
  } else if (typeof u.name === 'string') {
    const d = u.domain as Record<string, unknown> | undefined;
    if (!d || typeof d !== 'object') throw new ApiError('BadRequest', 'A user given by name needs its domain.');
    let domainId: string | undefined;
    if (typeof d.id === 'string') domainId = d.id;
    else if (typeof d.name === 'string') {
      const dom = await ctx.db.selectFrom('project').select('id').where('name', '=', d.name).where('is_domain', '=', 1).executeTakeFirst();
      domainId = dom?.id;
    } else throw new ApiError('BadRequest', 'A domain must be given by id or name.');
    if (domainId) row = await ctx.db.selectFrom('identity_user').selectAll().where('name', '=', u.name).where('domain_id', '=', domainId).executeTakeFirst();
  } else {
    throw new ApiError('BadRequest', 'A user must be given by id or name.');
  }
  if (!row) throw new ApiError('Unauthorized', 'The request you have made requires authentication.');
  const dom = await ctx.db.selectFrom('project').select('enabled').where('id', '=', row.domain_id).executeTakeFirst();
  if (!dom?.enabled) throw new ApiError('Unauthorized', 'The request you have made requires authentication.');
  return row as UserRow;
}

async function passwordMethod(ctx: IdentityContext, data: Record<string, unknown>): Promise<AuthResult> {
  const u = data.user;
  if (!u || typeof u !== 'object') throw new ApiError('BadRequest', "Invalid input for field 'identity/password/user': expected an object.");
  const pw = (u as Record<string, unknown>).password;
  if (typeof pw !== 'string') throw new ApiError('BadRequest', "Invalid input for field 'identity/password/user/password': expected a string.");
  const user = await findUserForAuth(ctx, u as Record<string, unknown>);
  await checkLoginPassword(ctx, user, pw);
  return { userId: user.id };
}

async function tokenMethod(ctx: IdentityContext, tokens: TokenService, data: Record<string, unknown>, _auth: Record<string, unknown>): Promise<AuthResult> {
  if (typeof data.id !== 'string') throw new ApiError('BadRequest', "Invalid input for field 'identity/token/id': expected a string.");
  // An invalid, expired or revoked token answers 404 (TokenNotFound), exactly as Keystone does.
  const t = await tokens.validate(data.id);
  void ctx;
  return {
    userId: t.userId,
    // The new token keeps the methods that proved the identity in the first place.
    methods: ['token', ...t.methods],
    expiresAt: t.expiresAt,
    parentAuditId: t.auditIds[t.auditIds.length - 1],
    fromToken: t,
    federation: t.federation ? { groupIds: t.federation.groups.map((g) => g.id), identityProviderId: t.federation.identityProviderId, protocolId: t.federation.protocolId } : undefined,
  };
}
