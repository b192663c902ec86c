// What the network API handlers share: the database, configuration, and Neutron's policy
// enforcement (neutron/policy.py): an action's rule AND the rules of the attributes the request
// sets (create_network:shared, create_port:fixed_ips:ip_address...), evaluated against a target
// that carries the resource's attributes, its owner as tenant_id/project_id, and the parent
// network's owner as network:tenant_id. Reads hide the attributes whose get_<res>:<attr> rule
// refuses (binding:*, provider:* for non-admins).

import type { FastifyRequest } from 'fastify';
import type { Config } from '../common/config.js';
import type { Logger } from '../common/log.js';
import type { Enforcer, Credentials } from '../common/policy/enforcer.js';
import { nerr } from './api/http.js';
import type { StoreDb } from './store/tx.js';

export interface NetworkContext extends StoreDb {
  cfg: Config;
  log: Logger;
  policy: Enforcer;
}

export interface Caller {
  projectId: string;
  userId: string;
  isAdmin: boolean;
  isAdvsvc: boolean;
  creds: Credentials;
}

export function caller(ctx: NetworkContext, req: FastifyRequest): Caller {
  const c = req.caller;
  if (!c) throw nerr('Unauthorized', 'HTTPUnauthorized', 'The request you have made requires authentication.');
  const creds: Credentials = { ...c.credentials, tenant_id: c.credentials.project_id, project_id: c.credentials.project_id };
  const isAdmin = ctx.policy.check('context_is_admin', {}, creds);
  const isAdvsvc = ctx.policy.check('context_is_advsvc', {}, creds);
  return { projectId: c.projectId ?? '', userId: c.userId, isAdmin, isAdvsvc, creds: { ...creds, is_admin: isAdmin } };
}

/** A policy target: the resource's attributes with tenant_id mirrored from project_id. */
export function target(obj: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const t: Record<string, unknown> = { ...obj, ...extra };
  if (t.project_id !== undefined) t.tenant_id = t.project_id;
  return t;
}

/**
 * True when `action` and the rules of every attribute in `attrs` that has a registered
 * `<action>:<attr>` rule pass.
 */
export function allowed(ctx: NetworkContext, c: Caller, action: string, tgt: Record<string, unknown>, attrs: string[] = []): string | undefined {
  const failed: string[] = [];
  const rules = [action, ...attrs.map((a) => `${action}:${a}`).filter((r) => ctx.policy.isRegistered(r))];
  let ok = true;
  for (const r of rules) if (!ctx.policy.check(r, tgt, c.creds)) { ok = false; failed.push(r); }
  if (ok) return undefined;
  return rules.length === 1 ? `rule:${action}` : `(${rules.map((r) => `rule:${r}`).join(' and ')})`;
}

/** Enforce or 403 PolicyNotAuthorized with oslo.policy's "X is disallowed by policy". */
export function enforce(ctx: NetworkContext, c: Caller, action: string, tgt: Record<string, unknown>, attrs: string[] = []): void {
  const rule = allowed(ctx, c, action, tgt, attrs);
  if (rule) throw nerr('Forbidden', 'PolicyNotAuthorized', `${rule} is disallowed by policy`);
}

/** Removes the attributes whose get_<resource>:<attr> rule refuses the caller. */
export function stripByPolicy(ctx: NetworkContext, c: Caller, resource: string, obj: Record<string, unknown>, tgt: Record<string, unknown>): Record<string, unknown> {
  if (c.isAdmin) return obj;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    const rule = `get_${resource}:${k}`;
    if (ctx.policy.isRegistered(rule) && !ctx.policy.check(rule, tgt, c.creds)) continue;
    out[k] = v;
  }
  return out;
}
