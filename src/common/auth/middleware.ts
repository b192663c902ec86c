// Token validation for every service other than identity (keystonemiddleware's auth_token):
// validates X-Auth-Token against the identity API with a service token, caches the result,
// and drops cached validations when identity announces a revocation (bus fanout) or when the
// periodic poll of /v3/OS-REVOKE/events sees one (services on hosts without the shared bus).

import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Bus } from '../bus/index.js';
import { ApiError } from '../errors.js';
import type { Credentials } from '../policy/enforcer.js';

export interface ServiceCredentials {
  username: string; password: string; projectName: string;
  userDomainName?: string; projectDomainName?: string;
}

export interface ValidatorOptions {
  /** The identity API, e.g. http://controller:5000/v3 */
  authUrl: string;
  service: ServiceCredentials;
  /** Seconds a validation is kept (bounded by the token's own expiry). */
  cacheTtl?: number;
  maxEntries?: number;
  bus?: Bus;
  /** Seconds between polls of OS-REVOKE/events; 0 disables (the bus is enough in one process). */
  revocationPollSec?: number;
}

/** What a service knows about its caller after validation. */
export interface CallerContext {
  token: string;
  userId: string; userName: string; userDomainId: string;
  projectId: string | null; projectName: string | null; projectDomainId: string | null;
  domainId: string | null; system: boolean;
  roles: string[];
  expiresAt: Date;
  auditIds: string[];
  catalog: unknown[];
  /** Policy credentials for the common Enforcer. */
  credentials: Credentials;
}

interface Entry { ctx: CallerContext; until: number }

export class InvalidCallerToken extends Error {}

export const REVOCATION_EXCHANGE = 'identity.revocation';

export class TokenValidator {
  private cache = new Map<string, Entry>();
  private serviceToken?: { id: string; expiresAt: number };
  private pollTimer?: NodeJS.Timeout;
  private lastPoll = new Date();
  private unsubscribe?: () => void;
  private readonly ttlMs: number;
  private readonly max: number;

  constructor(private opts: ValidatorOptions) {
    this.ttlMs = (opts.cacheTtl ?? 300) * 1000;
    this.max = opts.maxEntries ?? 10000;
    if (opts.bus) this.unsubscribe = opts.bus.subscribe(REVOCATION_EXCHANGE, () => { this.cache.clear(); });
    if (opts.revocationPollSec) {
      this.pollTimer = setInterval(() => { void this.pollRevocations().catch(() => undefined); }, opts.revocationPollSec * 1000);
      this.pollTimer.unref();
    }
  }

  close(): void {
    this.unsubscribe?.();
    if (this.pollTimer) clearInterval(this.pollTimer);
  }

  private async getServiceToken(): Promise<string> {
    if (this.serviceToken && this.serviceToken.expiresAt - Date.now() > 60_000) return this.serviceToken.id;
    const s = this.opts.service;
    const res = await fetch(`${this.opts.authUrl}/auth/tokens?nocatalog`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ auth: {
        identity: { methods: ['password'], password: { user: { name: s.username, password: s.password, domain: { name: s.userDomainName ?? 'Default' } } } },
        scope: { project: { name: s.projectName, domain: { name: s.projectDomainName ?? 'Default' } } },
      } }),
    });
    if (res.status !== 201) throw new Error(`service authentication failed: ${res.status} ${await res.text()}`);
    const body = await res.json() as { token: { expires_at: string } };
    this.serviceToken = { id: res.headers.get('x-subject-token')!, expiresAt: Date.parse(body.token.expires_at) };
    return this.serviceToken.id;
  }

  /** The caller behind a token, or InvalidCallerToken. */
  async validate(token: string): Promise<CallerContext> {
    const now = Date.now();
    const hit = this.cache.get(token);
    if (hit && hit.until > now) return hit.ctx;
    if (hit) this.cache.delete(token);
    let res = await this.ask(token, await this.getServiceToken());
    if (res.status === 401) { // our own service token went stale: renew once
      this.serviceToken = undefined;
      res = await this.ask(token, await this.getServiceToken());
    }
    if (res.status === 404 || res.status === 401) throw new InvalidCallerToken('invalid token');
    if (res.status !== 200) throw new Error(`token validation failed: ${res.status}`);
    const t = (await res.json() as { token: Record<string, any> }).token; // eslint-disable-line @typescript-eslint/no-explicit-any
    const ctx: CallerContext = {
      token,
      userId: t.user.id, userName: t.user.name, userDomainId: t.user.domain?.id,
      projectId: t.project?.id ?? null, projectName: t.project?.name ?? null, projectDomainId: t.project?.domain?.id ?? null,
      domainId: t.domain?.id ?? null, system: !!t.system,
      roles: (t.roles ?? []).map((r: { name: string }) => r.name),
      expiresAt: new Date(t.expires_at), auditIds: t.audit_ids ?? [], catalog: t.catalog ?? [],
      credentials: {
        user_id: t.user.id, user_domain_id: t.user.domain?.id, project_id: t.project?.id ?? null,
        project_domain_id: t.project?.domain?.id ?? null, domain_id: t.domain?.id ?? null,
        system_scope: t.system ? 'all' : null, roles: (t.roles ?? []).map((r: { name: string }) => r.name),
      },
    };
    if (this.cache.size >= this.max) this.cache.clear();
    this.cache.set(token, { ctx, until: Math.min(now + this.ttlMs, ctx.expiresAt.getTime()) });
    return ctx;
  }

  private ask(token: string, serviceToken: string): Promise<Response> {
    return fetch(`${this.opts.authUrl}/auth/tokens`, { headers: { 'X-Auth-Token': serviceToken, 'X-Subject-Token': token } });
  }

  /** Any revocation since the last poll empties the cache (the next call re-validates). */
  async pollRevocations(): Promise<void> {
    const since = this.lastPoll.toISOString();
    const res = await fetch(`${this.opts.authUrl}/OS-REVOKE/events?since=${encodeURIComponent(since)}`, { headers: { 'X-Auth-Token': await this.getServiceToken() } });
    if (res.status !== 200) return;
    const body = await res.json() as { events: unknown[] };
    this.lastPoll = new Date(Date.now() - 1000);
    if (body.events.length) this.cache.clear();
  }

  /** Drops every cached validation. */
  forget(): void { this.cache.clear(); }
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The validated caller (services other than identity). */
    caller?: CallerContext;
  }
}

/**
 * Installs validation on an API server: requests carrying X-Auth-Token get `req.caller`; a bad
 * token or a missing one on a non-public path is a 401 in the service's fault format.
 */
export function installAuth(app: FastifyInstance, validator: TokenValidator, isPublic: (req: FastifyRequest) => boolean = () => false): void {
  app.addHook('onRequest', async (req) => {
    const tok = req.headers['x-auth-token'];
    if (typeof tok === 'string' && tok) {
      try {
        req.caller = await validator.validate(tok);
        return;
      } catch (e) {
        if (!(e instanceof InvalidCallerToken)) throw e;
      }
    }
    if (!isPublic(req)) throw new ApiError('Unauthorized', 'The request you have made requires authentication.');
  });
}
