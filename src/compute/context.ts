// What every part of the compute service shares (database, configuration, policy, the bus, the
// clients of placement and image) and who is calling (Nova's RequestContext).

import { join } from 'node:path';
import { hostname } from 'node:os';
import type { Kysely } from 'kysely';
import type { FastifyRequest } from 'fastify';
import type { Config } from '../common/config.js';
import type { Logger } from '../common/log.js';
import type { Bus } from '../common/bus/index.js';
import type { Engine } from '../common/db/index.js';
import type { Enforcer, Credentials } from '../common/policy/enforcer.js';
import type { ServiceSession } from '../common/auth/session.js';
import { ApiError } from '../common/errors.js';

/** [compute] options with the data-directory defaults resolved. */
export interface ComputeOptions {
  host: string;
  instancesPath: string;
  driver: string;
  virtType: string;
  maxLimit: number;
  allowResizeToSameHost: boolean;
}

export function computeOptions(cfg: Config): ComputeOptions {
  const c = cfg.compute;
  return {
    host: c.host || hostname(),
    instancesPath: c.instances_path || join(cfg.DEFAULT.data_dir, 'instances'),
    driver: c.compute_driver,
    virtType: c.virt_type,
    maxLimit: c.max_list_limit,
    allowResizeToSameHost: c.allow_resize_to_same_host,
  };
}

export interface ComputeContext {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  db: Kysely<any>;
  engine: Engine;
  cfg: Config;
  opts: ComputeOptions;
  log: Logger;
  bus: Bus;
  policy: Enforcer;
  /** The nova service user's session: placement, image and network calls go through it. */
  session: ServiceSession;
  /** Work started by a request that outlives it (builds, actions), so close() can wait. */
  background: Set<Promise<unknown>>;
}

/** The caller, as Nova's RequestContext has it. */
export interface RequestContext {
  requestId: string;
  token: string;
  userId: string;
  projectId: string;
  roles: string[];
  isAdmin: boolean;
  creds: Credentials;
}

export function requestContext(ctx: ComputeContext, req: FastifyRequest): RequestContext {
  const c = req.caller;
  if (!c) throw new ApiError('Unauthorized', 'The request you have made requires authentication.');
  const roles = c.roles.map((r) => r.toLowerCase());
  const creds: Credentials = { ...c.credentials, roles, project_id: c.projectId, user_id: c.userId };
  creds.is_admin = ctx.policy.check('context_is_admin', { ...creds }, creds);
  return { requestId: req.id, token: c.token, userId: c.userId, projectId: c.projectId ?? '', roles, isAdmin: !!creds.is_admin, creds };
}

/** Nova's policy refusal: 403 "Policy doesn't allow X to be performed." */
export function authorize(ctx: ComputeContext, rc: RequestContext, action: string, target: Record<string, unknown> = {}): void {
  const t = { project_id: rc.projectId, user_id: rc.userId, ...target };
  if (!ctx.policy.check(action, t, rc.creds)) {
    throw new ApiError('Forbidden', `Policy doesn't allow ${action} to be performed.`);
  }
}

/** True when the rule allows it (for optional response fields such as OS-EXT-SRV-ATTR). */
export function allowed(ctx: ComputeContext, rc: RequestContext, action: string, target: Record<string, unknown> = {}): boolean {
  return ctx.policy.check(action, { project_id: rc.projectId, user_id: rc.userId, ...target }, rc.creds);
}

/** Nova's timestamps: ISO 8601 without fractions, with Z. */
export function isotime(d: Date | string | null | undefined): string | null {
  if (!d) return null;
  const s = typeof d === 'string' ? d : d.toISOString();
  return s.replace(/\.\d+Z$/, 'Z');
}

export const nowIso = (): string => new Date().toISOString();

export function parseJson<T>(s: string | null | undefined, fallback: T): T {
  if (!s) return fallback;
  try { return JSON.parse(s) as T; } catch { return fallback; }
}
