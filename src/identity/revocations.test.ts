// Revocation events: matching rules and the purge of events no live token can match.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestCloud } from './testing.js';
import { Revocations, type TokenFacts } from './revocations.js';

test('events match on every field they set, only tokens issued up to the event, and old events are purged', async (t) => {
  const cloud = await startTestCloud();
  t.after(() => cloud.close());
  const rev = new Revocations(cloud.identity.ctx);
  await rev.load();
  const before = new Date(Date.now() - 5000);
  const facts = (over: Partial<TokenFacts> = {}): TokenFacts => ({
    userId: 'u1', projectId: 'p1', domainIds: ['default'], roleIds: ['r1'], auditId: 'a1', auditChainId: 'c1',
    issuedAt: before, expiresAt: new Date(Date.now() + 3600_000), ...over,
  });
  await rev.revoke({ user_id: 'u1', project_id: 'p1' });
  assert.equal(rev.isRevoked(facts()), true);
  assert.equal(rev.isRevoked(facts({ projectId: 'p2' })), false, 'all set fields must match');
  assert.equal(rev.isRevoked(facts({ userId: 'u2' })), false);
  assert.equal(rev.isRevoked(facts({ issuedAt: new Date(Date.now() + 2000) })), false, 'tokens issued after the event stay valid');
  await rev.revoke({ audit_id: 'a9' });
  assert.equal(rev.isRevoked(facts({ userId: 'x', auditId: 'a9' })), true);

  assert.equal(await rev.purgeExpired(3600), 0, 'events younger than a token lifetime are kept');
  assert.equal(rev.list().length, 2);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(await rev.purgeExpired(0), 2);
  assert.equal(rev.list().length, 0);
  assert.equal(rev.isRevoked(facts()), false);
});
