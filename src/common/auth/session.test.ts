// The service session against a real identity service and a small HTTP service in its catalog:
// both call paths (JSON over kept-alive node:http, fetch for streams) send the service token, renew
// it once after a 401, and leave a 401 alone when the caller's own token was used.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import { ServiceSession } from './session.js';
import { startTestCloud } from '../../identity/testing.js';
import { testIdentity } from '../testing/identity.js';

test('ServiceSession: JSON and fetch calls carry the service token, renew it once after a 401, not for a caller token', async (t) => {
  const cloud = await startTestCloud();
  t.after(() => cloud.close());
  // The service answers 401 to any token on its refuse list, else echoes what it got.
  const refuse = new Set<string>();
  const seen: Array<{ token: string; body: string; type: string }> = [];
  const svc = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      const token = String(req.headers['x-auth-token']);
      seen.push({ token, body, type: String(req.headers['content-type']) });
      if (refuse.has(token)) { res.writeHead(401, { 'Content-Type': 'application/json' }).end('{"error":"expired"}'); return; }
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ method: req.method, url: req.url, body }));
    });
  });
  await new Promise<void>((r) => svc.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise((r) => svc.close(r)));
  const url = `http://127.0.0.1:${(svc.address() as { port: number }).port}`;
  await testIdentity(cloud.url, cloud.adminPassword).register('echo', 'echo', `${url}/`);

  const session = new ServiceSession({ authUrl: `${cloud.url}/v3`, service: { username: 'admin', password: cloud.adminPassword, projectName: 'admin' } });
  assert.equal(await session.endpoint('echo'), url, 'trailing slash dropped');

  const first = await session.token();
  const r = await session.json('echo', 'POST', '/things?x=1', { body: { a: 1 } });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { method: 'POST', url: '/things?x=1', body: '{"a":1}' });
  assert.equal(seen.at(-1)!.token, first);
  assert.equal(seen.at(-1)!.type, 'application/json');

  // The service refuses the token: one new authentication, the call sent again with the new token.
  refuse.add(first);
  seen.length = 0;
  const again = await session.json('echo', 'GET', '/things');
  assert.equal(again.status, 200);
  assert.equal(seen.length, 2);
  assert.equal(seen[0]!.token, first);
  assert.notEqual(seen[1]!.token, first);
  const second = seen[1]!.token;
  assert.equal(await session.token(), second);

  // The same through fetch (request), with a raw body.
  refuse.add(second);
  seen.length = 0;
  const viaFetch = await session.request('echo', 'PUT', '/raw', { raw: 'bytes', headers: { 'Content-Type': 'text/plain' } });
  assert.equal(viaFetch.status, 200);
  assert.deepEqual(await viaFetch.json(), { method: 'PUT', url: '/raw', body: 'bytes' });
  assert.equal(seen.length, 2);
  assert.equal(seen[0]!.token, second);
  assert.notEqual(seen[1]!.token, second);
  assert.equal(seen[1]!.type, 'text/plain');

  // A caller's own token is the caller's business: its 401 comes back as it is, not retried.
  seen.length = 0;
  refuse.add('caller-token');
  for (const call of [() => session.json('echo', 'GET', '/mine', { token: 'caller-token' }), async () => session.request('echo', 'GET', '/mine', { token: 'caller-token' })]) {
    const res = await call();
    assert.equal(res.status, 401);
  }
  assert.deepEqual(seen.map((s) => s.token), ['caller-token', 'caller-token']);

  // A type the catalog lacks is an error, not a guess.
  await assert.rejects(session.json('nonesuch', 'GET', '/'), /no nonesuch endpoint in the catalog/);
});
