// The validation middleware against a real identity service: caching, revocation through the bus
// and through OS-REVOKE polling, and the 401 on a service API.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createApiServer } from '../http/server.js';
import { createLogger } from '../log.js';
import { keystoneFault } from '../errors.js';
import { TokenValidator, InvalidCallerToken, installAuth } from './middleware.js';
import { startTestCloud } from '../../identity/testing.js';

const password = (user: string, pw: string, project = 'admin') => ({
  auth: { identity: { methods: ['password'], password: { user: { name: user, domain: { id: 'default' }, password: pw } } }, scope: { project: { name: project, domain: { id: 'default' } } } },
});

test('validator caches, honours revocation over the bus and by polling, and guards a service API', async (t) => {
  const cloud = await startTestCloud();
  t.after(() => cloud.close());
  const service = { username: 'admin', password: cloud.adminPassword, projectName: 'admin' };

  const issue = async () => {
    const r = await cloud.request('POST', '/v3/auth/tokens', { body: password('admin', cloud.adminPassword) });
    assert.equal(r.status, 201);
    return r.headers.get('x-subject-token')!;
  };

  // Over the bus: identity fans out each revocation; the validator drops its cache at once.
  const viaBus = new TokenValidator({ authUrl: `${cloud.url}/v3`, service, bus: cloud.identity.ctx.bus });
  t.after(() => viaBus.close());
  const user = await issue();
  const caller = await viaBus.validate(user);
  assert.ok(caller.roles.includes('admin'));
  assert.equal(caller.projectName, 'admin');
  assert.equal(await viaBus.validate(user), caller, 'second validation is served from the cache');

  const del = await cloud.request('DELETE', '/v3/auth/tokens', { token: await cloud.adminToken(), headers: { 'X-Subject-Token': user } });
  assert.equal(del.status, 204);
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  await assert.rejects(viaBus.validate(user), InvalidCallerToken);

  // Without the bus: the OS-REVOKE/events poll sees the revocation.
  const polling = new TokenValidator({ authUrl: `${cloud.url}/v3`, service });
  t.after(() => polling.close());
  const user2 = await issue();
  await polling.validate(user2);
  const del2 = await cloud.request('DELETE', '/v3/auth/tokens', { token: await cloud.adminToken(), headers: { 'X-Subject-Token': user2 } });
  assert.equal(del2.status, 204);
  await polling.pollRevocations();
  await assert.rejects(polling.validate(user2), InvalidCallerToken);
  await assert.rejects(polling.validate('not-a-token'), InvalidCallerToken);

  // A service API behind the middleware.
  const app = createApiServer({ name: 'svc', fault: keystoneFault, logger: createLogger('warn') });
  installAuth(app, polling, (req) => req.url === '/');
  app.get('/', async () => ({ ok: true }));
  app.get('/whoami', async (req) => ({ user: req.caller!.userName }));
  const fresh = await issue();
  assert.equal((await app.inject({ method: 'GET', url: '/' })).statusCode, 200);
  const noTok = await app.inject({ method: 'GET', url: '/whoami' });
  assert.equal(noTok.statusCode, 401);
  assert.equal(noTok.json().error.code, 401);
  assert.ok(noTok.headers['x-openstack-request-id']);
  assert.equal((await app.inject({ method: 'GET', url: '/whoami', headers: { 'x-auth-token': 'garbage' } })).statusCode, 401);
  const ok = await app.inject({ method: 'GET', url: '/whoami', headers: { 'x-auth-token': fresh } });
  assert.equal(ok.statusCode, 200);
  assert.deepEqual(ok.json(), { user: 'admin' });
  await app.close();
});
