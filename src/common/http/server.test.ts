import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { createApiServer } from './server.js';
import { ApiError, keystoneFault, type FaultFormatter } from '../errors.js';

const REQ_ID = /^req-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const silent = pino({ level: 'silent' });
let app: FastifyInstance;

before(async () => {
  app = createApiServer({ name: 'test', fault: keystoneFault, logger: silent, bodyLimit: 1024, headers: { Vary: 'X-Auth-Token' } });
  app.get('/ok', async () => ({ ok: true }));
  app.post('/echo', async (req) => ({ got: req.body ?? null }));
  app.get('/conflict', async () => { throw new ApiError('Conflict', 'Conflict occurred attempting to store thing.', { headers: { 'Retry-After': '1' } }); });
  app.get('/bug', async () => { throw new Error('secret internals'); });
  await app.ready();
});
after(async () => { await app.close(); });

function fault(r: { statusCode: number; headers: Record<string, unknown>; body: string }, status: number, message?: string) {
  assert.equal(r.statusCode, status, r.body);
  assert.match(String(r.headers['content-type']), /^application\/json/);
  assert.match(String(r.headers['x-openstack-request-id']), REQ_ID);
  assert.equal(r.headers.vary, 'X-Auth-Token');
  const body = JSON.parse(r.body);
  assert.deepEqual(Object.keys(body), ['error']);
  assert.equal(body.error.code, status);
  if (message !== undefined) assert.equal(body.error.message, message);
  return body.error;
}

test('request id and service headers on success, a new id every time, the client\'s ignored', async () => {
  const a = await app.inject({ method: 'GET', url: '/ok' });
  const b = await app.inject({ method: 'GET', url: '/ok', headers: { 'x-openstack-request-id': 'req-spoofed' } });
  assert.equal(a.statusCode, 200);
  assert.deepEqual(a.json(), { ok: true });
  assert.match(String(a.headers['x-openstack-request-id']), REQ_ID);
  assert.match(String(b.headers['x-openstack-request-id']), REQ_ID);
  assert.notEqual(a.headers['x-openstack-request-id'], b.headers['x-openstack-request-id']);
  assert.equal(a.headers.vary, 'X-Auth-Token');
  // Routes match with a trailing slash or doubled slashes, as Keystone's do.
  assert.equal((await app.inject({ method: 'GET', url: '/ok/' })).statusCode, 200);
  assert.equal((await app.inject({ method: 'GET', url: '//ok' })).statusCode, 200);
});

test('errors: the service\'s fault body with the request id', async () => {
  const c = await app.inject({ method: 'GET', url: '/conflict' });
  assert.deepEqual(fault(c, 409, 'Conflict occurred attempting to store thing.'), { code: 409, message: 'Conflict occurred attempting to store thing.', title: 'Conflict' });
  assert.equal(c.headers['retry-after'], '1');
  const bug = await app.inject({ method: 'GET', url: '/bug' });
  const e = fault(bug, 500, 'An unexpected error prevented the server from fulfilling your request.');
  assert.equal(e.title, 'Internal Server Error');
  assert.doesNotMatch(bug.body, /secret internals/);
});

test('unknown route and method: 404 with Keystone\'s body', async () => {
  assert.deepEqual(fault(await app.inject({ method: 'GET', url: '/v3/nothing-here' }), 404), { code: 404, message: 'The resource could not be found.', title: 'Not Found' });
  fault(await app.inject({ method: 'DELETE', url: '/ok' }), 404, 'The resource could not be found.');
});

test('bodies: JSON parsed, malformed JSON 400, empty is no body, other types left to the handler', async () => {
  const ok = await app.inject({ method: 'POST', url: '/echo', payload: '{"a": [1, "x"]}', headers: { 'content-type': 'application/json; charset=utf-8' } });
  assert.deepEqual(ok.json(), { got: { a: [1, 'x'] } });
  const vnd = await app.inject({ method: 'POST', url: '/echo', payload: '{"b": 1}', headers: { 'content-type': 'application/vnd.openstack.identity-v3+json' } });
  assert.deepEqual(vnd.json(), { got: { b: 1 } });
  const bad = await app.inject({ method: 'POST', url: '/echo', payload: '{"a": ', headers: { 'content-type': 'application/json' } });
  assert.match(fault(bad, 400).message, /^Malformed request body: /);
  assert.equal(fault(bad, 400).title, 'Bad Request');
  const empty = await app.inject({ method: 'POST', url: '/echo', payload: '  ', headers: { 'content-type': 'application/json' } });
  assert.deepEqual(empty.json(), { got: null });
  const text = await app.inject({ method: 'POST', url: '/echo', payload: 'plain words', headers: { 'content-type': 'text/plain' } });
  assert.deepEqual(text.json(), { got: 'plain words' });
});

test('a body over the limit: 413 in the fault format', async () => {
  const big = JSON.stringify({ a: 'x'.repeat(2000) });
  const r = await app.inject({ method: 'POST', url: '/echo', payload: big, headers: { 'content-type': 'application/json' } });
  assert.deepEqual(fault(r, 413), { code: 413, message: 'Request Entity Too Large', title: 'Request Entity Too Large' });
  const edge = JSON.stringify({ a: 'x'.repeat(1024 - 8) });
  assert.equal(edge.length, 1024);
  assert.equal((await app.inject({ method: 'POST', url: '/echo', payload: edge, headers: { 'content-type': 'application/json' } })).statusCode, 200);
});

test('another service\'s fault format plugs in the same way', async () => {
  const nova: FaultFormatter = (e) => ({ [e.status === 404 ? 'itemNotFound' : 'badRequest']: { code: e.status, message: e.message } });
  const other = createApiServer({ name: 'compute', fault: nova, logger: silent });
  other.get('/x', async () => { throw new ApiError('BadRequest', 'Invalid flavorRef provided.'); });
  await other.ready();
  try {
    const r = await other.inject({ method: 'GET', url: '/x' });
    assert.equal(r.statusCode, 400);
    assert.deepEqual(r.json(), { badRequest: { code: 400, message: 'Invalid flavorRef provided.' } });
    assert.match(String(r.headers['x-openstack-request-id']), REQ_ID);
    assert.deepEqual((await other.inject({ method: 'GET', url: '/nope' })).json(), { itemNotFound: { code: 404, message: 'The resource could not be found.' } });
  } finally {
    await other.close();
  }
});

test('untypedBodiesAreJson: a body without Content-Type is JSON for services that opt in (Keystone), text otherwise', async () => {
  const keystoneLike = createApiServer({ name: 'k', fault: keystoneFault, logger: silent, headers: { Vary: 'X-Auth-Token' }, untypedBodiesAreJson: true });
  keystoneLike.post('/echo', async (req) => ({ got: req.body ?? null }));
  await keystoneLike.ready();
  try {
    const json = await keystoneLike.inject({ method: 'POST', url: '/echo', payload: '{"auth": {"x": 1}}' });
    assert.deepEqual(json.json(), { got: { auth: { x: 1 } } });
    const bad = await keystoneLike.inject({ method: 'POST', url: '/echo', payload: '{"auth": ' });
    assert.match(fault(bad, 400).message, /^Malformed request body: /);
    const typed = await keystoneLike.inject({ method: 'POST', url: '/echo', payload: 'words', headers: { 'content-type': 'text/plain' } });
    assert.deepEqual(typed.json(), { got: 'words' }, 'an explicit non-JSON type is left to the handler');
  } finally {
    await keystoneLike.close();
  }
  const plain = await app.inject({ method: 'POST', url: '/echo', payload: '{"a": 1}' });
  assert.deepEqual(plain.json(), { got: '{"a": 1}' }, 'services that do not opt in get the raw text');
});
