// The images API against real identity and image services: Glance's 4xx for bad input (never a
// 500), webob's error bodies by Accept, sharing between projects and who may do what.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestCloud, type TestCloud } from '../../identity/testing.js';
import { startImageService, type ImageTestService, type Project, type Response } from '../testing.js';

let cloud: TestCloud;
let svc: ImageTestService;
let admin: string;
let alice: Project;
let bob: Project;
const statuses: Array<[number, string]> = [];

before(async () => {
  cloud = await startTestCloud();
  svc = await startImageService({ identityUrl: cloud.url, adminPassword: cloud.adminPassword, image: { cache_prefetcher_interval: 3600 } });
  const inner = svc.request;
  svc.request = async (method, path, o) => {
    const r = await inner(method, path, o);
    statuses.push([r.status, `${method} ${path}`]);
    return r;
  };
  admin = await svc.adminToken();
  alice = await svc.project('alice');
  bob = await svc.project('bob');
});
after(async () => {
  await svc?.close();
  await cloud?.close();
});

const json = { Accept: 'application/json' };
const patch = (id: string, ops: unknown[], token: string) =>
  svc.request('PATCH', `/v2/images/${id}`, { token, raw: JSON.stringify(ops), headers: { ...json, 'Content-Type': 'application/openstack-images-v2.1-json-patch' } });

/** webob's JSON fault: {"message": "<text><br /><br />...", "code": "403 Forbidden", "title": "Forbidden"}. */
function assertGlanceFault(r: Response, status: number, message?: RegExp): void {
  assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${r.text}`);
  assert.match(r.headers.get('x-openstack-request-id') ?? '', /^req-/);
  assert.deepEqual(Object.keys(r.body).sort(), ['code', 'message', 'title']);
  assert.match(r.body.code, new RegExp(`^${status} `));
  if (message) assert.match(r.body.message, message);
}

async function newImage(token: string, body: Record<string, unknown> = {}): Promise<string> {
  const r = await svc.request('POST', '/v2/images', { token, headers: json, body: { name: 'i', container_format: 'bare', disk_format: 'raw', ...body } });
  assert.equal(r.status, 201, r.text);
  return r.body.id;
}

test('create answers 201 with Location and Glance\'s import/store headers and body', async () => {
  const r = await svc.request('POST', '/v2/images', { token: alice.token, body: { name: 'n', container_format: 'bare', disk_format: 'qcow2', tags: ['a', 'a', 'b'], os_distro: 'debian' } });
  assert.equal(r.status, 201);
  assert.equal(r.headers.get('location'), `/v2/images/${r.body.id}`);
  assert.equal(r.headers.get('openstack-image-import-methods'), 'glance-direct,web-download,copy-image,glance-download');
  assert.equal(r.headers.get('openstack-image-store-ids'), 'file,http');
  assert.equal(r.body.status, 'queued');
  assert.equal(r.body.visibility, 'shared');
  assert.equal(r.body.owner, alice.projectId);
  assert.deepEqual(r.body.tags.sort(), ['a', 'b']);
  assert.equal(r.body.os_distro, 'debian');
  assert.equal(r.body.self, `/v2/images/${r.body.id}`);
  assert.equal(r.body.schema, '/v2/schemas/image');
  assert.match(r.body.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
});

test('reserved and read-only properties: 403 on create and on PATCH', async () => {
  let r = await svc.request('POST', '/v2/images', { token: alice.token, headers: json, body: { name: 'x', os_glance_foo: 'bar' } });
  assertGlanceFault(r, 403, /Attribute 'os_glance_foo' is reserved\./);
  r = await svc.request('POST', '/v2/images', { token: alice.token, headers: json, body: { name: 'x', status: 'active' } });
  assertGlanceFault(r, 403, /Attribute 'status' is read-only\./);
  r = await svc.request('POST', '/v2/images', { token: alice.token, headers: json, body: { name: 'x', self: '/x' } });
  assertGlanceFault(r, 403, /Attribute 'self' is read-only\./);
  const id = await newImage(alice.token);
  r = await patch(id, [{ op: 'add', path: '/os_glance_foo', value: 'bar' }], alice.token);
  assertGlanceFault(r, 403, /Attribute 'os_glance_foo' is reserved\./);
  r = await patch(id, [{ op: 'replace', path: '/checksum', value: '0'.repeat(32) }], alice.token);
  assertGlanceFault(r, 403, /Attribute 'checksum' is read-only\./);
  r = await patch(id, [{ op: 'remove', path: '/name' }], alice.token);
  assertGlanceFault(r, 403, /Property name may not be removed\./);
  const img = await svc.request('GET', `/v2/images/${id}`, { token: alice.token });
  assert.equal(img.body.os_glance_foo, undefined);
});

test('PATCH: both JSON-patch media types, properties add/replace/remove, 409 for a missing property, 415 otherwise', async () => {
  const id = await newImage(alice.token);
  let r = await patch(id, [{ op: 'add', path: '/hw_disk_bus', value: 'scsi' }, { op: 'replace', path: '/name', value: 'renamed' }, { op: 'replace', path: '/min_ram', value: 512 }], alice.token);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.hw_disk_bus, 'scsi');
  assert.equal(r.body.name, 'renamed');
  assert.equal(r.body.min_ram, 512);
  r = await svc.request('PATCH', `/v2/images/${id}`, { token: alice.token, raw: JSON.stringify([{ remove: '/hw_disk_bus' }]), headers: { 'Content-Type': 'application/openstack-images-v2.0-json-patch' } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.hw_disk_bus, undefined);
  r = await patch(id, [{ op: 'replace', path: '/nope', value: 'x' }], alice.token);
  assertGlanceFault(r, 409, /Property nope does not exist\./);
  r = await patch(id, [{ op: 'add', path: '/min_ram', value: -1 }], alice.token);
  assertGlanceFault(r, 400);
  r = await patch(id, [{ op: 'add', path: '/hw_cpu_cores', value: 5 }], alice.token);
  assertGlanceFault(r, 400, /5 is not of type 'string'/);
  r = await patch(id, [{ op: 'add', path: '/visibility', value: 'public' }], alice.token);
  assertGlanceFault(r, 403, /publicize_image/);
  r = await patch(id, [{ op: 'move', path: '/name' }], alice.token);
  assertGlanceFault(r, 400, /Invalid operation: `move`/);
  r = await patch(id, [{ op: 'add', path: 'name', value: 'x' }], alice.token);
  assertGlanceFault(r, 400, /does not start with "\/"/);
  r = await svc.request('PATCH', `/v2/images/${id}`, { token: alice.token, headers: json, body: [{ op: 'add', path: '/a', value: 'b' }] });
  assertGlanceFault(r, 415);
  assert.equal(r.headers.get('accept-patch'), 'application/openstack-images-v2.0-json-patch, application/openstack-images-v2.1-json-patch');
});

test('sharing: a member sees a shared image once accepted, but cannot change, delete or share it', async () => {
  const id = await newImage(alice.token, { visibility: 'shared' });
  const listIds = async (token: string, q = '') => (await svc.request('GET', `/v2/images${q}`, { token })).body.images.map((i: { id: string }) => i.id);
  assert.ok(!(await listIds(bob.token)).includes(id));
  assertGlanceFault(await svc.request('GET', `/v2/images/${id}`, { token: bob.token, headers: json }), 404, /No image found with ID/);
  let r = await svc.request('POST', `/v2/images/${id}/members`, { token: alice.token, body: { member: bob.projectId } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.status, 'pending');
  assert.equal(r.body.schema, '/v2/schemas/member');
  assert.ok((await listIds(bob.token, '?member_status=pending&visibility=shared')).includes(id));
  assert.ok(!(await listIds(bob.token)).includes(id));
  // The owner cannot accept for the member; the member can.
  r = await svc.request('PUT', `/v2/images/${id}/members/${bob.projectId}`, { token: alice.token, headers: json, body: { status: 'accepted' } });
  assertGlanceFault(r, 403);
  r = await svc.request('PUT', `/v2/images/${id}/members/${bob.projectId}`, { token: bob.token, headers: json, body: { status: 'maybe' } });
  assertGlanceFault(r, 400, /Status must be "pending", "accepted" or "rejected"/);
  r = await svc.request('PUT', `/v2/images/${id}/members/${bob.projectId}`, { token: bob.token, body: { status: 'accepted' } });
  assert.equal(r.status, 200, r.text);
  assert.ok((await listIds(bob.token)).includes(id));
  // The member may read but not delete, change or share the image.
  assert.equal((await svc.request('GET', `/v2/images/${id}`, { token: bob.token })).status, 200);
  assertGlanceFault(await svc.request('DELETE', `/v2/images/${id}`, { token: bob.token, headers: json }), 403, /You do not own this image/);
  assertGlanceFault(await patch(id, [{ op: 'replace', path: '/name', value: 'mine' }], bob.token), 403, /You do not own this image/);
  assertGlanceFault(await svc.request('POST', `/v2/images/${id}/members`, { token: bob.token, headers: json, body: { member: bob.projectId } }), 403);
  assertGlanceFault(await svc.request('DELETE', `/v2/images/${id}/members/${bob.projectId}`, { token: bob.token, headers: json }), 403);
  assert.equal((await svc.request('GET', `/v2/images/${id}`, { token: alice.token })).body.name, 'i');
  // The owner removes the member; the image is gone from the member's view.
  assert.equal((await svc.request('DELETE', `/v2/images/${id}/members/${bob.projectId}`, { token: alice.token })).status, 204);
  assert.equal((await svc.request('GET', `/v2/images/${id}`, { token: bob.token })).status, 404);
  // Members only on shared images; duplicates 409.
  const priv = await newImage(alice.token, { visibility: 'private' });
  assertGlanceFault(await svc.request('POST', `/v2/images/${priv}/members`, { token: alice.token, headers: json, body: { member: bob.projectId } }), 403);
  await svc.request('POST', `/v2/images/${id}/members`, { token: alice.token, body: { member: 'p2' } });
  assertGlanceFault(await svc.request('POST', `/v2/images/${id}/members`, { token: alice.token, headers: json, body: { member: 'p2' } }), 409);
});

test('protected images cannot be deleted; deleted images are gone (404 on show and delete)', async () => {
  const id = await newImage(alice.token, { protected: true });
  assertGlanceFault(await svc.request('DELETE', `/v2/images/${id}`, { token: alice.token, headers: json }), 403, /is protected and cannot be deleted/);
  assert.equal((await patch(id, [{ op: 'replace', path: '/protected', value: false }], alice.token)).status, 200);
  assert.equal((await svc.request('DELETE', `/v2/images/${id}`, { token: alice.token })).status, 204);
  assert.equal((await svc.request('GET', `/v2/images/${id}`, { token: alice.token })).status, 404);
  assertGlanceFault(await svc.request('DELETE', `/v2/images/${id}`, { token: alice.token, headers: json }), 404, /Failed to find image/);
});

test('visibility: private images stay in their project, public ones need an admin, community ones are listed only on request', async () => {
  const priv = await newImage(alice.token, { visibility: 'private' });
  const comm = await newImage(alice.token, { visibility: 'community' });
  assertGlanceFault(await svc.request('POST', '/v2/images', { token: alice.token, headers: json, body: { visibility: 'public' } }), 403, /publicize_image/);
  const pub = await newImage(admin, { visibility: 'public' });
  const ids = async (q = '') => (await svc.request('GET', `/v2/images${q}`, { token: bob.token })).body.images.map((i: { id: string }) => i.id);
  const seen = await ids();
  assert.ok(seen.includes(pub));
  assert.ok(!seen.includes(priv));
  assert.ok(!seen.includes(comm));
  assert.ok((await ids('?visibility=community')).includes(comm));
  assert.equal((await svc.request('GET', `/v2/images/${comm}`, { token: bob.token })).status, 200);
  assert.equal((await svc.request('GET', `/v2/images/${priv}`, { token: bob.token })).status, 404);
  const hidden = await newImage(alice.token, { os_hidden: true });
  const mine = async (q = '') => (await svc.request('GET', `/v2/images${q}`, { token: alice.token })).body.images.map((i: { id: string }) => i.id);
  assert.ok(!(await mine()).includes(hidden));
  assert.ok((await mine('?os_hidden=true')).includes(hidden));
});

test('lists: filters, sorting, limit and next links', async () => {
  const p = await svc.project('lister');
  const made: string[] = [];
  for (let i = 0; i < 5; i++) made.push(await newImage(p.token, { name: `l${i}`, min_ram: i, visibility: 'private', tags: i % 2 ? ['odd'] : ['even'] }));
  let r = await svc.request('GET', '/v2/images?visibility=private&limit=2&sort=name:asc', { token: p.token });
  assert.deepEqual(r.body.images.map((i: { name: string }) => i.name), ['l0', 'l1']);
  assert.equal(r.body.first, '/v2/images?visibility=private&limit=2&sort=name%3Aasc');
  assert.equal(r.body.next, `/v2/images?visibility=private&limit=2&sort=name%3Aasc&marker=${made[1]}`);
  r = await svc.request('GET', r.body.next, { token: p.token });
  assert.deepEqual(r.body.images.map((i: { name: string }) => i.name), ['l2', 'l3']);
  r = await svc.request('GET', '/v2/images?visibility=private&tag=odd', { token: p.token });
  assert.deepEqual(r.body.images.map((i: { name: string }) => i.name).sort(), ['l1', 'l3']);
  r = await svc.request('GET', '/v2/images?name=in:l1,l4&sort_key=name&sort_dir=desc', { token: p.token });
  assert.deepEqual(r.body.images.map((i: { name: string }) => i.name), ['l4', 'l1']);
  r = await svc.request('GET', '/v2/images?visibility=private&min_ram=3', { token: p.token });
  assert.deepEqual(r.body.images.map((i: { name: string }) => i.name), ['l3']);
  for (const [q, msg] of [
    ['limit=x', /limit param must be an integer/], ['limit=-1', /limit param must be positive/],
    ['sort_key=nope', /Invalid sort key: nope/], ['sort_dir=up', /Invalid sort direction: up/],
    ['sort=name&sort_key=name', /Old and new sorting syntax cannot be combined/], ['visibility=everyone', /Invalid visibility value/],
    ['member_status=maybe', /Invalid status: maybe/], ['size_min=big', /non-numeric/], ['os_hidden=maybe', /os_hidden/],
    ['created_at=gt:yesterday', /ISO 8601/], ['name=like:x', /unknown operator 'like'/], ['changes-since=2020-01-01', /no longer available/],
    ['marker=00000000-0000-0000-0000-000000000000', /No image found/],
  ] as Array<[string, RegExp]>) {
    assertGlanceFault(await svc.request('GET', `/v2/images?${q}`, { token: p.token, headers: json }), 400, msg);
  }
});

test('webob error bodies: plain text without Accept, HTML for */*, JSON for application/json; 401 names Keystone', async () => {
  const missing = '/v2/images/00000000-0000-0000-0000-000000000000';
  let r = await svc.request('GET', missing, { token: alice.token, headers: { Accept: '' } });
  assert.equal(r.status, 404);
  assert.match(r.headers.get('content-type') ?? '', /^text\/plain/);
  assert.equal(r.text, '404 Not Found\n\nNo image found with ID 00000000-0000-0000-0000-000000000000\n\n   ');
  r = await svc.request('GET', missing, { token: alice.token, headers: { Accept: '*/*' } });
  assert.match(r.headers.get('content-type') ?? '', /^text\/html/);
  assert.match(r.text, /<h1>404 Not Found<\/h1>\n  No image found with ID/);
  r = await svc.request('GET', missing, { token: alice.token, headers: json });
  assert.deepEqual(r.body, { message: 'No image found with ID 00000000-0000-0000-0000-000000000000<br /><br />\n\n\n', code: '404 Not Found', title: 'Not Found' });
  r = await svc.request('GET', '/v2/images', { headers: json });
  assertGlanceFault(r, 401);
  assert.equal(r.headers.get('www-authenticate'), `Keystone uri="${cloud.url}"`);
  r = await svc.request('GET', '/v2/images', { token: 'not-a-token', headers: json });
  assert.equal(r.status, 401);
});

test('routing: version documents need no token, trailing slashes and unknown paths 404, wrong methods 405 with Allow', async () => {
  let r = await svc.request('GET', '/');
  assert.equal(r.status, 300);
  assert.equal(r.body.versions[0].id, 'v2.16');
  assert.equal((await svc.request('GET', '/versions')).status, 200);
  assert.equal((await svc.request('GET', '/v1/images')).status, 300);
  assert.equal((await svc.request('GET', '/v2/images/', { token: alice.token })).status, 404);
  assert.equal((await svc.request('DELETE', '/v2/images/', { token: alice.token })).status, 404);
  assert.equal((await svc.request('GET', '/v2/nothing', { token: alice.token })).status, 404);
  r = await svc.request('PUT', '/v2/images', { token: alice.token, headers: json });
  assertGlanceFault(r, 405);
  assert.equal(r.headers.get('allow'), 'GET, POST');
  r = await svc.request('POST', '/v2/images', { token: alice.token, headers: { ...json, 'Content-Type': 'application/json' }, raw: '{"name": ' });
  assertGlanceFault(r, 400, /Malformed JSON in request body\./);
  r = await svc.request('POST', '/v2/images', { token: alice.token, headers: json });
  assertGlanceFault(r, 400, /Body expected in request\./);
  r = await svc.request('GET', '/v2/schemas/image', { token: alice.token });
  assert.equal(r.body.name, 'image');
  assert.ok(r.body.properties.kernel_id);
  for (const s of ['images', 'member', 'members', 'metadefs/namespace', 'metadefs/tags']) {
    assert.equal((await svc.request('GET', `/v2/schemas/${s}`, { token: alice.token })).status, 200, s);
  }
});

test('deactivate/reactivate: a deactivated image cannot be downloaded by its owner (403)', async () => {
  const id = await newImage(alice.token);
  assert.equal((await svc.request('PUT', `/v2/images/${id}/file`, { token: alice.token, raw: 'data', headers: { 'Content-Type': 'application/octet-stream' } })).status, 204);
  assert.equal((await svc.request('POST', `/v2/images/${id}/actions/deactivate`, { token: alice.token })).status, 204);
  assert.equal((await svc.request('GET', `/v2/images/${id}`, { token: alice.token })).body.status, 'deactivated');
  assertGlanceFault(await svc.request('GET', `/v2/images/${id}/file`, { token: alice.token, headers: json }), 403, /deactivated/);
  assert.equal((await svc.request('POST', `/v2/images/${id}/actions/reactivate`, { token: alice.token })).status, 204);
  assert.equal((await svc.request('GET', `/v2/images/${id}/file`, { token: alice.token })).text, 'data');
  const queued = await newImage(alice.token);
  assertGlanceFault(await svc.request('POST', `/v2/images/${queued}/actions/deactivate`, { token: alice.token, headers: json }), 403, /Not allowed to deactivate image in status 'queued'/);
});

test('tags: add, idempotent re-add, delete, 404 for a missing tag or image', async () => {
  const id = await newImage(alice.token);
  assert.equal((await svc.request('PUT', `/v2/images/${id}/tags/blue`, { token: alice.token })).status, 204);
  assert.equal((await svc.request('PUT', `/v2/images/${id}/tags/blue`, { token: alice.token })).status, 204);
  assert.deepEqual((await svc.request('GET', `/v2/images/${id}`, { token: alice.token })).body.tags, ['blue']);
  assert.equal((await svc.request('DELETE', `/v2/images/${id}/tags/blue`, { token: alice.token })).status, 204);
  assert.equal((await svc.request('DELETE', `/v2/images/${id}/tags/blue`, { token: alice.token })).status, 404);
  assert.equal((await svc.request('PUT', '/v2/images/00000000-0000-0000-0000-000000000000/tags/x', { token: alice.token })).status, 404);
  assert.equal((await svc.request('PUT', `/v2/images/${id}/tags/${'x'.repeat(300)}`, { token: alice.token })).status, 400);
});


test('image cache: admins queue an active image, it stays queued until the prefetcher runs, is then cached and served from the cache; deleting the image drops it', async () => {
  const id = await newImage(admin, { visibility: 'public' });
  assert.equal((await svc.request('PUT', `/v2/images/${id}/file`, { token: admin, raw: 'cached bytes', headers: { 'Content-Type': 'application/octet-stream' } })).status, 204);
  assertGlanceFault(await svc.request('GET', '/v2/cache', { token: alice.token, headers: json }), 403);
  assertGlanceFault(await svc.request('PUT', '/v2/cache/not-an-image', { token: admin, headers: json }), 404, /Image not-an-image not found/);
  const queuedOnly = await newImage(admin);
  assertGlanceFault(await svc.request('PUT', `/v2/cache/${queuedOnly}`, { token: admin, headers: json }), 400, /Only images with status active/);
  assert.equal((await svc.request('PUT', `/v2/cache/${id}`, { token: admin })).status, 202);
  let state: { cached_images: Array<{ image_id: string; hits: number }>; queued_images: string[] } | undefined;
  // Queued, not cached, until the prefetcher's run (this service's interval is an hour; Tempest's
  // cache test asserts exactly this between queueing and waiting).
  state = (await svc.request('GET', '/v2/cache', { token: admin })).body;
  assert.deepEqual(state!.queued_images, [id]);
  assert.ok(!state!.cached_images.some((c) => c.image_id === id));
  svc.service.ctx.cache!.prefetch();
  for (let i = 0; i < 100; i++) {
    state = (await svc.request('GET', '/v2/cache', { token: admin })).body;
    if (state!.cached_images.some((c) => c.image_id === id)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(state!.cached_images.some((c) => c.image_id === id), JSON.stringify(state));
  assert.equal((await svc.request('GET', `/v2/images/${id}/file`, { token: alice.token })).text, 'cached bytes');
  state = (await svc.request('GET', '/v2/cache', { token: admin })).body;
  assert.equal(state!.cached_images.find((c) => c.image_id === id)!.hits, 1);
  assertGlanceFault(await svc.request('DELETE', '/v2/cache', { token: admin, headers: { ...json, 'x-image-cache-clear-target': 'all' } }), 400);
  assert.equal((await svc.request('DELETE', `/v2/images/${id}`, { token: admin })).status, 204);
  state = (await svc.request('GET', '/v2/cache', { token: admin })).body;
  assert.ok(!state!.cached_images.some((c) => c.image_id === id));
});

test('no request in this file got a 500', () => {
  const bad = statuses.filter(([s]) => s >= 500);
  assert.deepEqual(bad, []);
});
