import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestCloud, type TestCloud } from '../../cli/test-cloud.js';

let c: TestCloud;
before(async () => { c = await startTestCloud({ services: ['compute'] }); });
after(async () => { await c?.close(); });

const root = () => c.urls.compute!.replace(/\/v2\.1$/, '');

test('version discovery needs no token and names the microversion range', async () => {
  const r = await fetch(root() + '/');
  assert.equal(r.status, 200);
  const body = await r.json() as { versions: { id: string; version: string; min_version: string }[] };
  const v21 = body.versions.find((v) => v.id === 'v2.1')!;
  assert.equal(v21.min_version, '2.1');
  assert.equal(v21.version, '2.93');
  const one = await fetch(root() + '/v2.1/');
  assert.equal(one.status, 200);
  assert.equal(((await one.json()) as { version: { id: string } }).version.id, 'v2.1');
  const v2 = await fetch(root() + '/v2/');
  assert.equal(v2.status, 200);
  assert.equal(((await v2.json()) as { version: { id: string } }).version.id, 'v2.0');
});

test('microversion negotiation: header echoed, 406 out of range, 400 malformed', async () => {
  const tok = await c.adminToken();
  const ok = await c.call('compute', 'GET', '/flavors', { token: tok, headers: { 'OpenStack-API-Version': 'compute 2.60' } });
  assert.equal(ok.headers.get('openstack-api-version'), 'compute 2.60');
  const latest = await c.call('compute', 'GET', '/flavors', { token: tok, headers: { 'OpenStack-API-Version': 'compute latest' } });
  assert.equal(latest.headers.get('openstack-api-version'), 'compute 2.93');
  const tooNew = await c.call('compute', 'GET', '/flavors', { token: tok, headers: { 'OpenStack-API-Version': 'compute 2.200' } });
  assert.equal(tooNew.status, 406);
  const bad = await c.call('compute', 'GET', '/flavors', { token: tok, headers: { 'X-OpenStack-Nova-API-Version': '2.x' } });
  assert.equal(bad.status, 400);
  assert.ok(bad.body.badRequest.message.includes('invalid format'));
});

test('no token is 401 in keystonemiddleware\'s format; unknown routes are itemNotFound', async () => {
  const r = await c.call('compute', 'GET', '/servers');
  assert.equal(r.status, 401);
  assert.equal(r.body.error.code, 401);
  const nf = await c.call('compute', 'GET', '/no-such-thing', { token: await c.adminToken() });
  assert.equal(nf.status, 404);
  assert.equal(nf.body.itemNotFound.code, 404);
});
