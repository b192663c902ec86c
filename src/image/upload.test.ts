// The upload pipeline on its own: digests equal node:crypto's for any chunking (slot boundaries,
// tiny and odd chunks), the file holds exactly the bytes, and every failure — over the limit
// with slots in flight, a source that errors, a truncated stream — rejects promptly and leaves
// no file behind.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomFillSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { HashPool, SLOT_SIZE } from './hashing.js';
import { receiveData, TruncatedUpload, UploadFile } from './upload.js';

const pool = new HashPool(2);
const dir = mkdtempSync(join(tmpdir(), 'image-upload-test-'));
after(async () => { await pool.close(); rmSync(dir, { recursive: true, force: true }); });

function chunked(data: Buffer, sizes: number[]): Readable {
  let off = 0;
  let i = 0;
  return new Readable({
    read() {
      if (off >= data.length) { this.push(null); return; }
      const n = sizes[i++ % sizes.length]!;
      this.push(data.subarray(off, off + n));
      off += n;
    },
  });
}

let seq = 0;
const path = () => join(dir, `f${seq++}`);

for (const [label, size, sizes] of [
  ['empty', 0, [1]],
  ['one byte chunks', 5000, [1]],
  ['odd chunks across slots', 3 * SLOT_SIZE + 12345, [65536, 7, 100_003]],
  ['exactly one slot', SLOT_SIZE, [SLOT_SIZE]],
  ['many slots (ring wraps)', 20 * SLOT_SIZE + 1, [4 * SLOT_SIZE + 3]],
] as Array<[string, number, number[]]>) {
  test(`digests and bytes are exact: ${label}`, async () => {
    const data = randomBytes(size);
    const p = path();
    const r = await receiveData(pool, { source: chunked(data, sizes), tempPath: p, limit: Infinity, onLimit: () => new Error('limit'), hashAlgo: 'sha512', inspectAs: null });
    assert.equal(r.size, size);
    assert.equal(r.checksum, createHash('md5').update(data).digest('hex'));
    assert.equal(r.hashValue, createHash('sha512').update(data).digest('hex'));
    assert.ok(readFileSync(p).equals(data));
  });
}

test('over the limit with slots in flight: rejects with the limit error, no file left', { timeout: 10_000 }, async () => {
  const p = path();
  const err = new Error('too big');
  await assert.rejects(receiveData(pool, { source: chunked(randomBytes(12 * SLOT_SIZE), [3 * SLOT_SIZE]), tempPath: p, limit: 7 * SLOT_SIZE + 5, onLimit: () => err, hashAlgo: 'sha512', inspectAs: null }), (e) => e === err);
  assert.equal(existsSync(p), false);
});

test('a source that fails midway, or ends before its declared size: rejects, no file left', { timeout: 10_000 }, async () => {
  const p1 = path();
  let n = 0;
  const failing = new Readable({
    read() {
      if (n++ < 5) this.push(randomBytes(SLOT_SIZE));
      else this.destroy(new Error('connection reset'));
    },
  });
  await assert.rejects(receiveData(pool, { source: failing, tempPath: p1, limit: Infinity, onLimit: () => new Error('limit'), hashAlgo: 'sha512', inspectAs: null }), /connection reset/);
  assert.equal(existsSync(p1), false);
  const p2 = path();
  await assert.rejects(receiveData(pool, { source: chunked(randomBytes(1000), [100]), tempPath: p2, limit: Infinity, expectedSize: 2000, onLimit: () => new Error('limit'), hashAlgo: 'sha512', inspectAs: null }), TruncatedUpload);
  assert.equal(existsSync(p2), false);
});

test('a source that stalls: dropped after the idle timeout as truncated, destroyed, no file left', { timeout: 10_000 }, async () => {
  const p = path();
  let sent = false;
  const stalled = new Readable({ read() { if (!sent) { sent = true; this.push(randomBytes(1000)); } } });
  const t0 = Date.now();
  await assert.rejects(receiveData(pool, { source: stalled, tempPath: p, limit: Infinity, expectedSize: 5000, idleTimeoutMs: 300, onLimit: () => new Error('limit'), hashAlgo: 'sha512', inspectAs: null }),
    (e) => e instanceof TruncatedUpload && /no data received for 0.3 s/.test(e.message));
  assert.ok(Date.now() - t0 >= 290, 'not before the idle time');
  assert.ok(stalled.destroyed);
  assert.equal(existsSync(p), false);
  // A source that keeps delivering, slowly, within the idle time is not dropped.
  const slow = new Readable({ read() { /* pushed below */ } });
  const all = randomBytes(4000);
  let i = 0;
  const tick = setInterval(() => { if (i < 4) slow.push(all.subarray(i * 1000, ++i * 1000)); else { slow.push(null); clearInterval(tick); } }, 150);
  const r = await receiveData(pool, { source: slow, tempPath: path(), limit: Infinity, expectedSize: 4000, idleTimeoutMs: 300, onLimit: () => new Error('limit'), hashAlgo: 'sha512', inspectAs: null });
  assert.equal(r.checksum, createHash('md5').update(all).digest('hex'));
});

test('inspection rides along: a qcow2 header is seen, its virtual size read', async () => {
  // A minimal qcow2 v3 header: magic, version 3, cluster_bits 16, size 1 GiB.
  const h = Buffer.alloc(1 << 16);
  h.write('QFI\xfb', 0, 'latin1');
  h.writeUInt32BE(3, 4);
  h.writeUInt32BE(16, 20);
  h.writeBigUInt64BE(1n << 30n, 24);
  h.writeUInt32BE(1, 36); // l1_size
  h.writeBigUInt64BE(0x30000n, 40); // l1_table_offset
  h.writeBigUInt64BE(0x10000n, 48); // refcount_table_offset
  h.writeUInt32BE(1, 56); // refcount_table_clusters
  h.writeUInt32BE(4, 96); // refcount_order
  h.writeUInt32BE(104, 100); // header_length
  const data = Buffer.concat([h, Buffer.alloc(3 << 16)]);
  const r = await receiveData(pool, { source: chunked(data, [1000]), tempPath: path(), limit: Infinity, onLimit: () => new Error('limit'), hashAlgo: 'sha512', inspectAs: 'qcow2' });
  assert.equal(r.inspection?.format, 'qcow2');
  assert.equal(r.inspection?.virtualSize, 1 << 30);
});

test('direct I/O: full slots go through O_DIRECT where the filesystem takes it; off, the bytes are the same', async () => {
  const data = randomBytes(3 * SLOT_SIZE + 4097);
  for (const directIo of [true, false]) {
    const p = path();
    const r = await receiveData(pool, { source: chunked(data, [65536]), tempPath: p, limit: Infinity, onLimit: () => new Error('limit'), hashAlgo: 'sha512', inspectAs: null, directIo });
    assert.equal(r.checksum, createHash('md5').update(data).digest('hex'));
    assert.ok(readFileSync(p).equals(data), `directIo ${directIo}`);
  }
  const probe = await UploadFile.create(path());
  if (!probe.isDirect) console.log(`# ${dir}: this filesystem refuses O_DIRECT; uploads are written buffered here`);
  await probe.close();
});

test('direct I/O: a buffer the device refuses (EINVAL: memory not aligned) is written buffered, and so is the rest', async () => {
  const p = path();
  const f = await UploadFile.create(p);
  // Memory from malloc, not the page-aligned ring: O_DIRECT refuses it unless it happens to be aligned.
  const a = Buffer.allocUnsafeSlow(SLOT_SIZE + 512).subarray(0, SLOT_SIZE);
  randomFillSync(a);
  const b = randomBytes(SLOT_SIZE);
  await f.write(a, 0);
  await f.write(b, SLOT_SIZE);
  await f.finish();
  assert.ok(readFileSync(p).equals(Buffer.concat([a, b])));
});
