// Revocation events, as Keystone keeps them: a token is revoked when an event's set fields all
// match it and it was issued before the event. Events live in the database (they survive a
// restart and are shared by every identity process) and in memory for fast validation; each
// new event is also announced on the bus so services drop their cached validations at once.

import type { IdentityContext } from './context.js';
import { newId } from './context.js';

export interface RevocationEvent {
  id: string;
  domain_id?: string | null; project_id?: string | null; user_id?: string | null; role_id?: string | null;
  trust_id?: string | null; consumer_id?: string | null; access_token_id?: string | null;
  audit_id?: string | null; audit_chain_id?: string | null;
  issued_before: string; expires_at?: string | null; revoked_at: string;
}

export interface TokenFacts {
  userId: string; projectId?: string | null; domainIds: string[]; roleIds: string[];
  trustId?: string | null; trustorId?: string | null; trusteeId?: string | null;
  consumerId?: string | null; accessTokenId?: string | null;
  auditId: string; auditChainId: string; issuedAt: Date; expiresAt: Date;
}

export const REVOCATION_EXCHANGE = 'identity.revocation';

const FIELDS = ['domain_id', 'project_id', 'user_id', 'role_id', 'trust_id', 'consumer_id', 'access_token_id', 'audit_id', 'audit_chain_id'] as const;

export class Revocations {
  private events: RevocationEvent[] = [];
  private lastLoad = 0;

  constructor(private ctx: IdentityContext) {}

  async load(): Promise<void> {
    const rows = await this.ctx.db.selectFrom('revocation_event').selectAll().orderBy('revoked_at').execute();
    this.events = rows as RevocationEvent[];
    this.lastLoad = Date.now();
  }

  list(since?: Date): RevocationEvent[] {
    return since ? this.events.filter((e) => new Date(e.revoked_at) >= since) : [...this.events];
  }

  async revoke(fields: Partial<Omit<RevocationEvent, 'id' | 'revoked_at' | 'issued_before'>> & { issued_before?: string }): Promise<void> {
    const now = new Date().toISOString();
    const ev: RevocationEvent = { id: newId(), ...fields, issued_before: fields.issued_before ?? now, revoked_at: now };
    await this.ctx.db.insertInto('revocation_event').values(ev).execute();
    this.events.push(ev);
    this.ctx.changed();
    await this.ctx.bus.fanout(REVOCATION_EXCHANGE, ev).catch(() => undefined);
  }

  /** Drops events whose tokens have all expired (the purge operators ask for). */
  async purgeExpired(maxTokenLifetimeSec: number): Promise<number> {
    const cutoff = new Date(Date.now() - maxTokenLifetimeSec * 1000).toISOString();
    const r = await this.ctx.db.deleteFrom('revocation_event').where('revoked_at', '<', cutoff).executeTakeFirst();
    await this.load();
    return Number(r.numDeletedRows ?? 0);
  }

  isRevoked(t: TokenFacts): boolean {
    const issued = t.issuedAt.getTime();
    for (const e of this.events) {
      if (new Date(e.issued_before).getTime() < issued) continue; // issued_at is whole seconds, as Keystone's
      if (this.matches(e, t)) return true;
    }
    return false;
  }

  private matches(e: RevocationEvent, t: TokenFacts): boolean {
    for (const f of FIELDS) {
      const v = e[f];
      if (v === null || v === undefined) continue;
      switch (f) {
        case 'user_id': if (v !== t.userId && v !== t.trustorId && v !== t.trusteeId) return false; break;
        case 'project_id': if (v !== t.projectId) return false; break;
        case 'domain_id': if (!t.domainIds.includes(v)) return false; break;
        case 'role_id': if (!t.roleIds.includes(v)) return false; break;
        case 'trust_id': if (v !== t.trustId) return false; break;
        case 'consumer_id': if (v !== t.consumerId) return false; break;
        case 'access_token_id': if (v !== t.accessTokenId) return false; break;
        case 'audit_id': if (v !== t.auditId) return false; break;
        case 'audit_chain_id': if (v !== t.auditChainId) return false; break;
      }
    }
    return true;
  }

  /** Another identity process may have added events: reload at most every `ms`. */
  async refreshIfStale(ms: number): Promise<void> {
    if (Date.now() - this.lastLoad > ms) await this.load();
  }
}
