// What the placement API handlers share: the database, the policy enforcer, configuration, and
// Placement's context.can(): policy with the caller's {project_id, user_id} as default target.

import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../common/config.js';
import type { Logger } from '../common/log.js';
import type { Enforcer } from '../common/policy/enforcer.js';
import { perr } from './api/http.js';
import type { StoreDb } from '../common/db/tx.js';

export interface PlacementContext extends StoreDb {
  cfg: Config;
  log: Logger;
  policy: Enforcer;
  /** Project and user recorded for consumers written before 1.8 (Placement's incomplete_consumer_*). */
  incompleteProject: string;
  incompleteUser: string;
}

export type Handler = (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

/** context.can(action, target): 403 "Policy does not allow X to be performed." when refused. */
export function can(ctx: PlacementContext, req: FastifyRequest, action: string, target?: Record<string, unknown>): void {
  const caller = req.caller;
  if (!caller) throw perr('Forbidden', `Policy does not allow ${action} to be performed.`);
  const t = target ?? { project_id: caller.projectId, user_id: caller.userId };
  if (!ctx.policy.check(action, t, caller.credentials)) throw perr('Forbidden', `Policy does not allow ${action} to be performed.`);
}
