// GET /v3/OS-REVOKE/events: the revocation events since a time, for services that cache token
// validations on hosts the bus does not reach.

import type { FastifyInstance } from 'fastify';
import { ApiError } from '../../common/errors.js';
import type { IdentityContext } from '../context.js';
import { enforce, isoTime, listLinks, q } from '../context.js';
import type { Revocations } from '../revocations.js';

export function registerRevokeEvents(app: FastifyInstance, ctx: IdentityContext, revocations: Revocations): void {
  app.get('/v3/OS-REVOKE/events', async (req) => {
    enforce(ctx, req, 'identity:list_revoke_events');
    const sinceText = q(req, 'since');
    let since: Date | undefined;
    if (sinceText !== undefined) {
      since = new Date(sinceText);
      if (Number.isNaN(since.getTime())) throw new ApiError('BadRequest', `Invalid time format for 'since': ${sinceText}.`);
    }
    await revocations.refreshIfStale(1000);
    const events = revocations.list(since).map((e) => {
      const out: Record<string, unknown> = { issued_before: isoTime(e.issued_before), revoked_at: isoTime(e.revoked_at) };
      for (const k of ['domain_id', 'project_id', 'user_id', 'role_id', 'trust_id', 'consumer_id', 'access_token_id', 'audit_id', 'audit_chain_id'] as const) {
        if (e[k]) out[k] = e[k];
      }
      if (e.expires_at) out.expires_at = isoTime(e.expires_at);
      return out;
    });
    return { events, links: listLinks(req) };
  });
}
