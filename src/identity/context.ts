// What every part of the identity service shares: the database, configuration, policy, tokens,
// and small helpers for Keystone's JSON shapes (ids, links, "extra" attributes).

import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { FastifyRequest } from 'fastify';
import type { Config } from '../common/config.js';
import type { Logger } from '../common/log.js';
import type { Bus } from '../common/bus/index.js';
import type { Engine } from '../common/db/index.js';
import type { Enforcer, Credentials } from '../common/policy/enforcer.js';
import { ApiError } from '../common/errors.js';
import type { TokenData } from './tokens.js';

export interface IdentityContext {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  db: Kysely<any>;
  engine: Engine;
  cfg: Config;
  log: Logger;
  bus: Bus;
  policy: Enforcer;
  /** Bumped on every change that can alter a token's rendered data (roles, names, catalog). */
  generation: number;
  changed(): void;
  /** Clean-up hooks other identity areas register (app creds, credentials, trusts...). */
  hooks: Hooks;
}

export type HookEvent = 'project.deleted' | 'user.deleted' | 'group.deleted' | 'role.deleted' | 'endpoint.deleted' | 'service.deleted' | 'region.deleted';

/** Lets one area of the service clean up its rows when another deletes what they point at. */
export class Hooks {
  private handlers = new Map<HookEvent, Array<(ids: string[]) => Promise<void>>>();
  on(ev: HookEvent, fn: (ids: string[]) => Promise<void>): void {
    this.handlers.set(ev, [...(this.handlers.get(ev) ?? []), fn]);
  }
  async run(ev: HookEvent, ids: string[]): Promise<void> {
    if (!ids.length) return;
    for (const fn of this.handlers.get(ev) ?? []) await fn(ids);
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller's validated token, when it sent one. */
    auth?: TokenData;
  }
}

export const DEFAULT_DOMAIN_ID = 'default';
/** Keystone's parent of every domain, and the domain_id of global roles. */
export const ROOT_DOMAIN_ID = '<<keystone.domain.root>>';
export const NULL_DOMAIN_ID = '<<null>>';

/** Keystone ids: uuid4 hex without dashes. */
export const newId = (): string => randomUUID().replace(/-/g, '');

export function parseJson<T = Record<string, unknown>>(s: string | null | undefined, dflt: T): T {
  if (!s) return dflt;
  try { return JSON.parse(s) as T; } catch { return dflt; }
}

/** The base URL the caller used, for "links". */
export function baseUrl(req: FastifyRequest): string {
  return `${req.protocol}://${req.host}`;
}

export function selfLink(req: FastifyRequest, path: string): { self: string } {
  return { self: `${baseUrl(req)}/v3/${path}` };
}

export function listLinks(req: FastifyRequest): { self: string; previous: null; next: null } {
  return { self: `${baseUrl(req)}${req.url}`, previous: null, next: null };
}

/** Keystone's timestamp format: microseconds and a Z. */
export function isoTime(d: Date | string | null | undefined): string | null {
  if (!d) return null;
  const dt = typeof d === 'string' ? new Date(d) : d;
  return dt.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** Policy credentials from a validated token. */
export function credentialsOf(t: TokenData | undefined): Credentials {
  if (!t) return { roles: [] };
  return {
    user_id: t.userId,
    user_domain_id: t.user.domain.id,
    project_id: t.project?.id ?? null,
    project_domain_id: t.project?.domain.id ?? null,
    domain_id: t.domain?.id ?? null,
    system_scope: t.system ? 'all' : null,
    roles: t.roles.map((r) => r.name),
    is_admin: false,
    trust_id: t.trust?.id ?? null,
    // Rules such as identity:get_domain read the token's own shape (token.project.domain.id).
    token: {
      user: { id: t.userId, domain: { id: t.user.domain.id } },
      ...(t.project ? { project: { id: t.project.id, domain: { id: t.project.domain.id } } } : {}),
      ...(t.domain ? { domain: { id: t.domain.id } } : {}),
    },
  };
}

/** Refuses unauthenticated callers (401) and callers the policy refuses (403). */
export function enforce(ctx: IdentityContext, req: FastifyRequest, action: string, target: Record<string, unknown> = {}): TokenData {
  if (!req.auth) throw new ApiError('Unauthorized', 'The request you have made requires authentication.');
  ctx.policy.authorize(action, target, credentialsOf(req.auth));
  return req.auth;
}

/** The row of `table` with this id, or Keystone's 404 with `message`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function rowOr404(ctx: IdentityContext, table: string, id: string, message: string): Promise<Record<string, any>> {
  const row = await ctx.db.selectFrom(table).selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw new ApiError('NotFound', message);
  return row;
}

/** Query string values may arrive as arrays when repeated; take the last, as Keystone (webob) does. */
export function q(req: FastifyRequest, name: string): string | undefined {
  const v = (req.query as Record<string, unknown>)[name];
  if (Array.isArray(v)) return String(v[v.length - 1]);
  return v === undefined ? undefined : String(v);
}

/** Keystone's boolean query values: "0"/"false"/"no"/"off" are false, anything else true. */
export function qBool(req: FastifyRequest, name: string): boolean | undefined {
  const v = q(req, name);
  if (v === undefined) return undefined;
  return !['0', 'false', 'no', 'off', 'f', 'n'].includes(v.toLowerCase());
}

/** A request body that must be a JSON object holding `key` as an object. */
export function member(body: unknown, key: string): Record<string, unknown> {
  if (body === undefined || body === null) throw new ApiError('BadRequest', `Expecting to find ${key} in request body. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.`);
  if (typeof body !== 'object' || Array.isArray(body)) throw new ApiError('BadRequest', 'The request body must be a JSON object.');
  const v = (body as Record<string, unknown>)[key];
  if (v === undefined || v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new ApiError('BadRequest', `Invalid input for field '${key}': expected an object. Expecting to find ${key} in request body.`);
  }
  return v as Record<string, unknown>;
}
