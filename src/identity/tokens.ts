// Token issue and validation. Tokens are Fernet (no token table): validation decrypts, checks
// expiry and revocation events, and rebuilds the token's data (user, scope, roles) from the
// database. The rebuilt data is cached per token until anything that could change it happens
// (ctx.generation), so the hot path of a service validating a token is a map lookup.

import { ApiError } from '../common/errors.js';
import type { IdentityContext } from './context.js';
import { isoTime } from './context.js';
import { effectiveRoles, groupIdsOf, type RoleRef, type Scope } from './assignments.js';
import { buildCatalog, type CatalogEntry } from './catalog.js';
import type { Revocations } from './revocations.js';
import { TokenFormatter, randomAuditId, type TokenPayload } from './token/formatter.js';

export interface NamedRef { id: string; name: string }
export interface DomainRef extends NamedRef { enabled?: boolean }

export interface TokenData {
  id: string;
  userId: string;
  user: { id: string; name: string; domain: NamedRef; password_expires_at: string | null };
  methods: string[];
  auditIds: string[];
  expiresAt: Date;
  issuedAt: Date;
  project?: { id: string; name: string; domain: NamedRef; is_domain?: boolean };
  domain?: NamedRef;
  system?: boolean;
  roles: RoleRef[];
  trust?: { id: string; trustor_user_id: string; trustee_user_id: string; impersonation: boolean; project_id: string | null; remaining_uses?: number | null; expires_at?: string | null };
  appCred?: { id: string; name: string; restricted: boolean; access_rules?: Array<{ id?: string; service: string; path: string; method: string }> };
  oauth?: { accessTokenId: string; consumerId: string };
  federation?: { groups: NamedRef[]; identityProviderId: string; protocolId: string };
  payload: TokenPayload;
  /** ctx.generation this data was computed at. */
  generation: number;
  /** The serialized {"token": ...} body, with and without catalog: built once per cached token. */
  bodyJson?: { withCatalog?: string; noCatalog?: string };
}

/** Extra checks and data of the delegation kinds (trusts, app creds, OAuth1, federation), provided by their modules. */
export interface DelegationResolver {
  /** Fills trust/appCred/oauth data and the roles the delegation allows; throws ApiError('NotFound') when invalid. */
  resolve(ctx: IdentityContext, p: TokenPayload, data: TokenData): Promise<void>;
}

const MAX_CACHE = 20000;

export class TokenService {
  private cache = new Map<string, TokenData>();
  private resolvers: DelegationResolver[] = [];

  constructor(private ctx: IdentityContext, readonly formatter: TokenFormatter, readonly revocations: Revocations) {}

  addResolver(r: DelegationResolver): void { this.resolvers.push(r); }

  /** Issues a token; scope and roles are checked by building its data exactly as validation will. */
  async issue(p: Omit<TokenPayload, 'auditIds' | 'expiresAt'> & { expiresAt?: Date; parentAuditId?: string }): Promise<TokenData> {
    const expiresAt = p.expiresAt ?? new Date(Date.now() + this.ctx.cfg.identity.token_expiration * 1000);
    const auditIds = p.parentAuditId ? [randomAuditId(), p.parentAuditId] : [randomAuditId()];
    const { parentAuditId: _ignored, ...rest } = p;
    const payload: TokenPayload = { ...rest, expiresAt: new Date(Math.floor(expiresAt.getTime() / 1000) * 1000), auditIds };
    const issuedAt = new Date(Math.floor(Date.now() / 1000) * 1000);
    const token = this.formatter.create(payload, issuedAt);
    const data = await this.build(token, payload, issuedAt, 'issue');
    this.remember(token, data);
    return data;
  }

  /**
   * Validates a token: 404 (Keystone's "Could not find token") for anything wrong with it. Callers
   * that authenticate requests turn that into a 401.
   */
  async validate(token: string, opts: { allowExpired?: boolean } = {}): Promise<TokenData> {
    const hit = this.cache.get(token);
    if (hit && hit.generation === this.ctx.generation) {
      this.checkExpiry(hit.expiresAt, opts.allowExpired);
      return hit;
    }
    let payload: TokenPayload;
    let issuedAt: Date;
    try {
      ({ payload, issuedAt } = this.formatter.validateWithIssuedAt(token));
    } catch {
      throw new ApiError('NotFound', 'Could not recognize Fernet token'); // Keystone's words
    }
    this.checkExpiry(payload.expiresAt, opts.allowExpired);
    const data = await this.build(token, payload, issuedAt, 'validate');
    this.remember(token, data);
    return data;
  }

  /** Drops cached validations (after a revocation, or when a test changes the clock). */
  forget(): void { this.cache.clear(); }

  private remember(token: string, data: TokenData): void {
    if (this.cache.size >= MAX_CACHE) this.cache.clear();
    this.cache.set(token, data);
  }

  private checkExpiry(expiresAt: Date, allowExpired?: boolean): void {
    const now = Date.now();
    if (expiresAt.getTime() > now) return;
    if (allowExpired && expiresAt.getTime() + this.ctx.cfg.identity.allow_expired_window * 1000 > now) return;
    throw new ApiError('NotFound', 'Failed to validate token', { detail: { expired: true } });
  }

  /** Everything a token says, from the database; throws for a token that must not be honoured. */
  private async build(token: string, p: TokenPayload, issuedAt: Date, mode: 'issue' | 'validate'): Promise<TokenData> {
    const ctx = this.ctx;
    const generation = ctx.generation;
    const invalid = (why: string) => (mode === 'issue' ? new ApiError('Unauthorized', why) : notFoundToken(token));

    const user = await ctx.db.selectFrom('identity_user').selectAll().where('id', '=', p.userId).executeTakeFirst();
    if (!user && !p.identityProviderId) throw invalid(`Could not find user: ${p.userId}.`);
    if (user && !user.enabled) throw invalid(`User ${p.userId} is disabled.`);
    const userDomain = user ? await this.domainRef(user.domain_id) : undefined;
    if (user && (!userDomain || !userDomain.enabled)) throw invalid(`Domain of user ${p.userId} is disabled.`);

    const data: TokenData = {
      id: token,
      userId: p.userId,
      user: {
        id: p.userId,
        name: user?.name ?? p.userId,
        domain: userDomain ? { id: userDomain.id, name: userDomain.name } : { id: 'Federated', name: 'Federated' },
        password_expires_at: user ? isoTime(await this.passwordExpiry(p.userId)) : null,
      },
      methods: p.methods,
      auditIds: p.auditIds,
      expiresAt: p.expiresAt,
      issuedAt,
      roles: [],
      payload: p,
      generation,
    };
    if (p.identityProviderId) {
      data.federation = { groups: (p.federatedGroupIds ?? []).map((id) => ({ id, name: id })), identityProviderId: p.identityProviderId, protocolId: p.protocolId ?? '' };
    }

    let scope: Scope | undefined;
    if (p.projectId) {
      const proj = await ctx.db.selectFrom('project').select(['id', 'name', 'domain_id', 'enabled', 'is_domain']).where('id', '=', p.projectId).executeTakeFirst();
      if (!proj) throw invalid(`Could not find project: ${p.projectId}.`);
      if (!proj.enabled) throw invalid(`Project ${p.projectId} is disabled.`);
      const pdom = await this.domainRef(proj.domain_id);
      if (!pdom || !pdom.enabled) throw invalid(`Domain of project ${p.projectId} is disabled.`);
      data.project = { id: proj.id, name: proj.name, domain: { id: pdom.id, name: pdom.name } };
      scope = { projectId: proj.id };
    } else if (p.domainId) {
      const dom = await this.domainRef(p.domainId);
      if (!dom) throw invalid(`Could not find domain: ${p.domainId}.`);
      if (!dom.enabled) throw invalid(`Domain ${p.domainId} is disabled.`);
      data.domain = { id: dom.id, name: dom.name };
      scope = { domainId: dom.id };
    } else if (p.systemScope) {
      data.system = true;
      scope = { system: true };
    }

    if (scope) {
      const delegated = p.trustId || p.appCredId || p.accessTokenId;
      if (!delegated) {
        const groups = data.federation ? (p.federatedGroupIds ?? []) : undefined;
        const fedGroups = groups ? [...groups, ...(user ? await groupIdsOf(ctx, p.userId) : [])] : undefined;
        data.roles = await effectiveRoles(ctx, p.userId, scope, fedGroups);
        if (data.roles.length === 0) {
          const what = 'projectId' in scope ? `project ${scope.projectId}` : 'domainId' in scope ? `domain ${scope.domainId}` : 'the system';
          throw invalid(`User ${p.userId} has no access to ${what}.`);
        }
      }
      for (const r of this.resolvers) await r.resolve(ctx, p, data);
      if (delegated && data.roles.length === 0) throw invalid('The delegation grants no roles on its scope.');
    } else {
      for (const r of this.resolvers) await r.resolve(ctx, p, data);
    }

    const domainIds = [data.user.domain.id];
    if (data.project) domainIds.push(data.project.domain.id);
    if (data.domain) domainIds.push(data.domain.id);
    if (mode === 'validate' && this.revocations.isRevoked({
      userId: p.userId, projectId: p.projectId, domainIds, roleIds: data.roles.map((r) => r.id),
      trustId: p.trustId, trustorId: data.trust?.trustor_user_id, trusteeId: data.trust?.trustee_user_id,
      consumerId: data.oauth?.consumerId, accessTokenId: p.accessTokenId,
      auditId: p.auditIds[0]!, auditChainId: p.auditIds[p.auditIds.length - 1]!,
      issuedAt, expiresAt: p.expiresAt,
    })) throw invalid('The token has been revoked.');
    return data;
  }

  private domainCache = new Map<string, { generation: number; ref: DomainRef | undefined }>();

  async domainRef(id: string): Promise<DomainRef | undefined> {
    const c = this.domainCache.get(id);
    if (c && c.generation === this.ctx.generation) return c.ref;
    const generation = this.ctx.generation;
    const d = await this.ctx.db.selectFrom('project').select(['id', 'name', 'enabled']).where('id', '=', id).where('is_domain', '=', 1).executeTakeFirst();
    const ref = d ? { id: d.id, name: d.name, enabled: !!d.enabled } : undefined;
    this.domainCache.set(id, { generation, ref });
    return ref;
  }

  private async passwordExpiry(userId: string): Promise<string | null> {
    const row = await this.ctx.db.selectFrom('password').select(['expires_at']).where('user_id', '=', userId)
      .orderBy('created_at', 'desc').limit(1).executeTakeFirst();
    return row?.expires_at ?? null;
  }

  /** The token body Keystone returns from POST/GET /v3/auth/tokens. */
  async render(d: TokenData, withCatalog: boolean): Promise<Record<string, unknown>> {
    const t: Record<string, unknown> = {
      methods: d.methods,
      user: d.user,
      audit_ids: d.auditIds,
      expires_at: isoTime(d.expiresAt),
      issued_at: isoTime(d.issuedAt),
    };
    if (d.project) {
      t.project = d.project;
      t.is_domain = false;
    } else if (d.domain) {
      t.domain = d.domain;
    } else if (d.system) {
      t.system = { all: true };
    }
    if (d.project || d.domain || d.system) {
      t.roles = d.roles.map((r) => ({ id: r.id, name: r.name }));
      if (withCatalog) t.catalog = await this.catalogFor(d);
    }
    if (d.trust) {
      t['OS-TRUST:trust'] = {
        id: d.trust.id, impersonation: d.trust.impersonation,
        trustor_user: { id: d.trust.trustor_user_id }, trustee_user: { id: d.trust.trustee_user_id },
      };
    }
    if (d.appCred) {
      const ac: Record<string, unknown> = { id: d.appCred.id, name: d.appCred.name, restricted: d.appCred.restricted };
      if (d.appCred.access_rules) ac.access_rules = d.appCred.access_rules;
      t.application_credential = ac;
    }
    if (d.oauth) t['OS-OAUTH1'] = { access_token_id: d.oauth.accessTokenId, consumer_id: d.oauth.consumerId };
    if (d.federation) {
      (t.user as Record<string, unknown>)['OS-FEDERATION'] = {
        groups: d.federation.groups.map((g) => ({ id: g.id })),
        identity_provider: { id: d.federation.identityProviderId },
        protocol: { id: d.federation.protocolId },
      };
    }
    for (const h of this.renderHooks) await h(d, t);
    return t;
  }

  /** Further top-level token fields other modules add (federation's service_providers). */
  readonly renderHooks: Array<(d: TokenData, t: Record<string, unknown>) => Promise<void>> = [];

  /**
   * The JSON text of {"token": ...}. Validation is the hottest call of a cloud (every API request
   * of every service); the body depends only on data cached with the token, so it is serialized once.
   */
  async renderJson(d: TokenData, withCatalog: boolean): Promise<string> {
    const key = withCatalog ? 'withCatalog' : 'noCatalog';
    const cached = d.bodyJson?.[key];
    if (cached) return cached;
    const text = JSON.stringify({ token: await this.render(d, withCatalog) });
    (d.bodyJson ??= {})[key] = text;
    return text;
  }

  /** The catalog a token sees; endpoint filtering (OS-EP-FILTER) plugs in here. */
  catalogFilter?: (ctx: IdentityContext, projectId: string | null | undefined) => Promise<((serviceId: string, endpointId: string) => boolean) | undefined>;

  async catalogFor(d: TokenData): Promise<CatalogEntry[]> {
    const pid = d.project?.id;
    const filter = this.catalogFilter ? await this.catalogFilter(this.ctx, pid) : undefined;
    return buildCatalog(this.ctx, pid, filter);
  }
}

/** Auth methods that prove the user directly (keystone.api._shared.delegation); any other is a delegation. */
export const PRIMARY_AUTH_METHODS: ReadonlySet<string> = new Set(['external', 'kerberos', 'mapped', 'openid', 'password', 'saml2', 'token', 'totp', 'x509']);

/** A token obtained through a delegated method (app credential, OAuth1, ec2credential...), or with no method. */
export function isDelegatedMethod(t: Pick<TokenData, 'methods'>): boolean {
  return t.methods.length === 0 || t.methods.some((m) => !PRIMARY_AUTH_METHODS.has(m));
}

/** Any form of delegation: a delegated auth method or a trust scope. */
export function isDelegatedToken(t: TokenData): boolean {
  return !!t.trust || !!t.payload.trustId || !!t.payload.accessTokenId || isDelegatedMethod(t);
}

export function notFoundToken(token: string): ApiError {
  return new ApiError('NotFound', `Could not find token: ${token}.`);
}

