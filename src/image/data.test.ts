// Image data through HTTP against real identity and image services: byte-exact round trips,
// Range, inspection refusals (lying disk_format, qcow2 with a backing file), truncated and
// oversized uploads, a second upload, quotas — and in every failure the image stays queued and
// no bytes are left behind in the store.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestCloud, type TestCloud } from '../identity/testing.js';
import { startImageService, type ImageTestService } from './testing.js';
import { run } from '../common/exec.js';
import { sendfileAddon, sendfileStats, setSendfileMode } from './stores/sendfile.js';

let cloud: TestCloud;
let svc: ImageTestService;
let quotaSvc: ImageTestService;
let admin: string;
let work: string;

before(async () => {
  cloud = await startTestCloud();
  svc = await startImageService({ identityUrl: cloud.url, adminPassword: cloud.adminPassword });
  quotaSvc = await startImageService({ identityUrl: cloud.url, adminPassword: cloud.adminPassword, image: { user_storage_quota: 3 << 20, image_size_cap: 8 << 20, upload_idle_timeout: 1 } });
  admin = await svc.adminToken();
  work = mkdtempSync(join(tmpdir(), 'image-data-test-'));
});
after(async () => {
  await quotaSvc?.close();
  await svc?.close();
  await cloud?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

const sha512 = (b: Uint8Array) => createHash('sha512').update(b).digest('hex');
const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');

async function create(s: ImageTestService, body: Record<string, unknown>, token = admin): Promise<string> {
  const r = await s.request('POST', '/v2/images', { token, body: { container_format: 'bare', disk_format: 'raw', ...body } });
  assert.equal(r.status, 201, r.text);
  return r.body.id;
}

const upload = (s: ImageTestService, id: string, data: Uint8Array, token = admin) =>
  s.request('PUT', `/v2/images/${id}/file`, { token, raw: data, headers: { 'Content-Type': 'application/octet-stream' } });

const show = async (s: ImageTestService, id: string) => (await s.request('GET', `/v2/images/${id}`, { token: admin })).body;

/** Files of the store directory (the data of active images, and any leftovers). */
const storeFiles = (s: ImageTestService) => readdirSync(join(s.dataDir, 'images'));

async function waitFor(cond: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail('condition not met in time');
}

test('upload and byte-exact download: size, md5 and sha512 recorded and served', async () => {
  const data = randomBytes(21 * (1 << 20) + 12345); // wraps the ring of 1 MiB hashing slots twice
  const id = await create(svc, { name: 'roundtrip' });
  const up = await upload(svc, id, data);
  assert.equal(up.status, 204, up.text);
  const img = await show(svc, id);
  assert.equal(img.status, 'active');
  assert.equal(img.size, data.length);
  assert.equal(img.checksum, md5(data));
  assert.equal(img.os_hash_algo, 'sha512');
  assert.equal(img.os_hash_value, sha512(data));
  assert.equal(img.virtual_size, data.length);
  assert.equal(img.stores, 'file');
  const down = await svc.request('GET', `/v2/images/${id}/file`, { token: admin });
  assert.equal(down.status, 200);
  assert.equal(down.headers.get('content-md5'), md5(data));
  assert.equal(down.headers.get('content-type'), 'application/octet-stream');
  assert.equal(sha512(down.bytes), sha512(data));
  assert.deepEqual(storeFiles(svc).filter((f) => f === id), [id]);
});

test('downloads go through sendfile(2) where the addon is built: byte-exact with and without Range, as the copy path', async () => {
  assert.ok(sendfileAddon(), 'the monostack-sendfile addon is built (npm ci builds native/sendfile)');
  setSendfileMode('always'); // these clients are on loopback, which the default (auto) serves by copies
  const data = randomBytes((9 << 20) + 777);
  const id = await create(svc, { name: 'sendfile' });
  assert.equal((await upload(svc, id, data)).status, 204);
  const get = (range?: string) => svc.request('GET', `/v2/images/${id}/file`, { token: admin, headers: range ? { Range: range } : {} });
  const check = async () => {
    let r = await get();
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-length'), String(data.length));
    assert.equal(r.headers.get('content-md5'), md5(data));
    assert.equal(sha512(r.bytes), sha512(data));
    for (const [range, start, end] of [['bytes=100-8000000', 100, 8000001], ['bytes=-5000000', data.length - 5000000, data.length], ['bytes=65536-', 65536, data.length]] as const) {
      r = await get(range);
      assert.equal(r.status, 206, range);
      assert.equal(r.headers.get('content-range'), `bytes ${start}-${end - 1}/${data.length}`);
      assert.equal(r.headers.get('content-md5'), md5(data));
      assert.equal(sha512(r.bytes), sha512(data.subarray(start, end)), range);
    }
  };
  const before = sendfileStats.bytes;
  await check();
  await waitFor(async () => sendfileStats.bytes - before === 4 * -(64 << 10) + data.length + (8000001 - 100) + 5000000 + (data.length - 65536));
  setSendfileMode('never');
  try {
    const n = sendfileStats.transfers;
    await check();
    assert.equal(sendfileStats.transfers, n);
  } finally {
    setSendfileMode('always');
  }
});

test('a queued image has no data: 204; Range gives 206 with Content-Range, bad ranges 416/400', async () => {
  const data = randomBytes(1000);
  const id = await create(svc, { name: 'ranges' });
  const empty = await svc.request('GET', `/v2/images/${id}/file`, { token: admin });
  assert.equal(empty.status, 204);
  assert.equal(empty.bytes.length, 0);
  assert.equal((await upload(svc, id, data)).status, 204);
  const get = (range: string) => svc.request('GET', `/v2/images/${id}/file`, { token: admin, headers: { Range: range } });
  let r = await get('bytes=10-19');
  assert.equal(r.status, 206);
  assert.equal(r.headers.get('content-range'), 'bytes 10-19/1000');
  assert.deepEqual(r.bytes, data.subarray(10, 20));
  r = await get('bytes=-100');
  assert.equal(r.status, 206);
  assert.equal(r.headers.get('content-range'), 'bytes 900-999/1000');
  assert.deepEqual(r.bytes, data.subarray(900));
  r = await get('bytes=990-');
  assert.equal(r.status, 206);
  assert.deepEqual(r.bytes, data.subarray(990));
  r = await get('bytes=995-5000');
  assert.equal(r.status, 206);
  assert.equal(r.headers.get('content-range'), 'bytes 995-999/1000');
  assert.deepEqual(r.bytes, data.subarray(995));
  assert.equal((await get('bytes=1000-')).status, 416);
  assert.equal((await get('bytes=20-10')).status, 416);
  assert.equal((await get('chars=1-2')).status, 416);
  assert.equal((await get('bytes=1-2,5-6')).status, 400);
});

test('data that is not what disk_format says is refused (400): the image stays queued, nothing stored', async () => {
  const qcow = join(work, 'lying.qcow2');
  await run('qemu-img', ['create', '-f', 'qcow2', qcow, '16M']);
  const id = await create(svc, { name: 'liar', disk_format: 'raw' });
  const before = storeFiles(svc);
  const r = await upload(svc, id, readFileSync(qcow));
  assert.equal(r.status, 400, r.text);
  assert.match(r.text, /does not match disk_format: image claims raw but is qcow2/);
  const img = await show(svc, id);
  assert.equal(img.status, 'queued');
  assert.equal(img.size, null);
  assert.equal(img.checksum, null);
  assert.deepEqual(storeFiles(svc), before);
  // The same data as qcow2 is fine, and its virtual size is the disk's.
  const ok = await create(svc, { name: 'honest', disk_format: 'qcow2' });
  assert.equal((await upload(svc, ok, readFileSync(qcow))).status, 204);
  assert.equal((await show(svc, ok)).virtual_size, 16 << 20);
});

test('a qcow2 with a backing file is refused whatever its container (the format-inspector CVE class)', async () => {
  const base = join(work, 'base.raw');
  const child = join(work, 'child.qcow2');
  await run('qemu-img', ['create', '-f', 'raw', base, '1M']);
  await run('qemu-img', ['create', '-f', 'qcow2', '-b', base, '-F', 'raw', child]);
  for (const container of ['bare', 'ovf']) {
    const id = await create(svc, { name: `backing-${container}`, disk_format: 'qcow2', container_format: container });
    const before = storeFiles(svc);
    const r = await upload(svc, id, readFileSync(child));
    assert.equal(r.status, 400, r.text);
    assert.match(r.text, /unsafe.*backing file/);
    assert.equal((await show(svc, id)).status, 'queued');
    assert.deepEqual(storeFiles(svc), before);
  }
});

test('a truncated upload (client gone before Content-Length) leaves the image queued and no temp file', async () => {
  const id = await create(svc, { name: 'truncated' });
  const before = storeFiles(svc);
  await new Promise<void>((resolve) => {
    const req = httpRequest(`${svc.imageUrl}/v2/images/${id}/file`, {
      method: 'PUT', headers: { 'X-Auth-Token': admin, 'Content-Type': 'application/octet-stream', 'Content-Length': String(4 << 20) },
    });
    req.on('error', () => resolve());
    req.write(randomBytes(3 << 20), () => setTimeout(() => { req.destroy(); resolve(); }, 200));
  });
  await waitFor(async () => (await show(svc, id)).status === 'queued' && storeFiles(svc).length === before.length);
  assert.deepEqual(storeFiles(svc), before);
  assert.equal((await show(svc, id)).size, null);
  // And the image still takes a complete upload afterwards.
  assert.equal((await upload(svc, id, randomBytes(100))).status, 204);
});

test('a client that stops sending mid-upload is dropped after upload_idle_timeout: connection closed, image queued, no temp file', async () => {
  const id = await create(quotaSvc, { name: 'stalled' });
  const before = storeFiles(quotaSvc);
  const t0 = Date.now();
  const closedAfter = await new Promise<number>((resolve) => {
    const req = httpRequest(`${quotaSvc.imageUrl}/v2/images/${id}/file`, {
      method: 'PUT', headers: { 'X-Auth-Token': admin, 'Content-Type': 'application/octet-stream', 'Content-Length': String(1 << 20) },
    });
    req.on('error', () => resolve(Date.now() - t0));
    req.on('response', (res) => { res.resume(); res.on('close', () => resolve(Date.now() - t0)); });
    req.write(randomBytes(1000)); // and then nothing more
  });
  assert.ok(closedAfter >= 900 && closedAfter < 4000, `closed after ${closedAfter} ms (idle timeout 1 s)`);
  await waitFor(async () => (await show(quotaSvc, id)).status === 'queued' && storeFiles(quotaSvc).length === before.length);
  assert.deepEqual(storeFiles(quotaSvc), before);
  assert.equal((await upload(quotaSvc, id, randomBytes(100))).status, 204);
});

test('a second upload to an active image is 409 and does not touch its data', async () => {
  const data = randomBytes(2048);
  const id = await create(svc, { name: 'twice' });
  assert.equal((await upload(svc, id, data)).status, 204);
  const r = await upload(svc, id, randomBytes(10));
  assert.equal(r.status, 409, r.text);
  assert.match(r.text, /Image status transition from active to saving is not allowed/);
  const down = await svc.request('GET', `/v2/images/${id}/file`, { token: admin });
  assert.equal(sha512(down.bytes), sha512(data));
});

test('uploads need application/octet-stream (415) and both formats set (400)', async () => {
  const id = await create(svc, { name: 'ctype' });
  const r = await svc.request('PUT', `/v2/images/${id}/file`, { token: admin, raw: 'x', headers: { 'Content-Type': 'text/plain' } });
  assert.equal(r.status, 415);
  const noFormat = (await svc.request('POST', '/v2/images', { token: admin, body: { name: 'noformat' } })).body.id;
  const r2 = await upload(svc, noFormat, randomBytes(10));
  assert.equal(r2.status, 400);
  assert.match(r2.text, /Properties disk_format, container_format must be set prior to saving data/);
  assert.equal((await show(svc, noFormat)).status, 'queued');
});

test('image_size_cap and the per-project storage quota answer 413; the image stays queued', async () => {
  const t = await quotaSvc.adminToken();
  // Declared too large: refused before reading.
  const a = await create(quotaSvc, { name: 'cap' }, t);
  const big = randomBytes(9 << 20);
  let r = await upload(quotaSvc, a, big, t);
  assert.equal(r.status, 413, r.text);
  assert.equal((await quotaSvc.request('GET', `/v2/images/${a}`, { token: t })).body.status, 'queued');
  // Within the cap but over what the project has left (3 MiB quota).
  const b = await create(quotaSvc, { name: 'q1' }, t);
  assert.equal((await upload(quotaSvc, b, randomBytes(2 << 20), t)).status, 204);
  const c = await create(quotaSvc, { name: 'q2' }, t);
  r = await upload(quotaSvc, c, randomBytes(2 << 20), t);
  assert.equal(r.status, 413, r.text);
  assert.match(r.text, /storage quota/);
  assert.equal((await quotaSvc.request('GET', `/v2/images/${c}`, { token: t })).body.status, 'queued');
  // A chunked upload (no Content-Length) is cut off at the quota while streaming.
  const d = await create(quotaSvc, { name: 'q3' }, t);
  const res = await new Promise<number>((resolve, reject) => {
    const req = httpRequest(`${quotaSvc.imageUrl}/v2/images/${d}/file`, { method: 'PUT', headers: { 'X-Auth-Token': t, 'Content-Type': 'application/octet-stream' } }, (res) => { res.resume(); resolve(res.statusCode!); });
    req.on('error', reject);
    req.end(randomBytes(2 << 20));
  });
  assert.equal(res, 413);
  assert.equal((await quotaSvc.request('GET', `/v2/images/${d}`, { token: t })).body.status, 'queued');
  assert.equal(readdirSync(join(quotaSvc.dataDir, 'images')).filter((f) => f.endsWith('.part')).length, 0);
});

test('stage and glance-direct import hash, inspect and activate the image; a task records it', async () => {
  const data = randomBytes(300_000);
  const id = await create(svc, { name: 'staged' });
  const st = await svc.request('PUT', `/v2/images/${id}/stage`, { token: admin, raw: data, headers: { 'Content-Type': 'application/octet-stream' } });
  assert.equal(st.status, 204, st.text);
  assert.equal((await show(svc, id)).status, 'uploading');
  const imp = await svc.request('POST', `/v2/images/${id}/import`, { token: admin, body: { method: { name: 'glance-direct' } } });
  assert.equal(imp.status, 202, imp.text);
  await waitFor(async () => (await show(svc, id)).status === 'active');
  const img = await show(svc, id);
  assert.equal(img.os_hash_value, sha512(data));
  assert.equal(img.os_glance_importing_to_stores, '');
  const tasks = await svc.request('GET', `/v2/images/${id}/tasks`, { token: admin });
  assert.equal(tasks.body.tasks.length, 1);
  assert.equal(tasks.body.tasks[0].status, 'success');
  assert.equal(tasks.body.tasks[0].request_id, imp.headers.get('x-openstack-request-id'));
  const down = await svc.request('GET', `/v2/images/${id}/file`, { token: admin });
  assert.equal(sha512(down.bytes), sha512(data));
});

test('web-download fetches only from allowed hosts: anything else is 400 at once', async () => {
  const id = await create(svc, { name: 'web' });
  const r = await svc.request('POST', `/v2/images/${id}/import`, { token: admin, body: { method: { name: 'web-download', uri: 'http://169.254.169.254/latest/meta-data' } } });
  assert.equal(r.status, 400);
  assert.match(r.text, /does not pass filtering/);
  assert.equal((await show(svc, id)).status, 'queued');
});

test('after a crash mid-upload, a restart puts the image back to queued and removes the partial data', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'image-crash-'));
  const dbUrl = `sqlite:${join(dir, 'image.sqlite')}`;
  let s = await startImageService({ identityUrl: cloud.url, adminPassword: cloud.adminPassword, dataDir: dir, dbUrl });
  try {
    const keep = await create(s, { name: 'keep' });
    const data = randomBytes(50_000);
    assert.equal((await upload(s, keep, data)).status, 204);
    const id = await create(s, { name: 'crashed' });
    // What a crash in the middle of an upload leaves: the row in `saving`, a temp file in the store.
    await s.database.db.updateTable('images').set({ status: 'saving' }).where('id', '=', id).execute();
    writeFileSync(join(dir, 'images', `.${id}.abcdef.part`), randomBytes(1000));
    await s.close();
    s = await startImageService({ identityUrl: cloud.url, adminPassword: cloud.adminPassword, dataDir: dir, dbUrl });
    const img = (await s.request('GET', `/v2/images/${id}`, { token: admin })).body;
    assert.equal(img.status, 'queued');
    assert.deepEqual(readdirSync(join(dir, 'images')), [keep]);
    const down = await s.request('GET', `/v2/images/${keep}/file`, { token: admin });
    assert.equal(sha512(down.bytes), sha512(data));
    assert.equal((await upload(s, id, randomBytes(10))).status, 204);
  } finally {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
