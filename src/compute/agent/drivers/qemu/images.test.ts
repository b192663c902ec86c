// The base image cache: one download for concurrent users, checks before anything is used, and
// nothing half-written left behind.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../../../common/exec.js';
import { FileImageSource, testImages, which, type TestImages } from '../testing.js';
import { BaseImageCache } from './images.js';

const skip = which('qemu-img') ? false : 'qemu-img is not installed (apt-get install qemu-utils)';
if (skip) console.log(`# skipping the base image cache tests: ${skip}`);

let dir: string;
let images: TestImages;
before(async () => { if (!skip) { images = await testImages(); dir = mkdtempSync(join(tmpdir(), 'monostack-base-')); } });
after(async () => { if (dir) await rm(dir, { recursive: true, force: true }); });

const code = (c: string) => (e: Error & { code?: string }) => e.code === c;

test('concurrent requests for one image download it once; the cached copy is reused', { skip }, async () => {
  const src = new FileImageSource(join(dir, 'up'));
  const meta = await src.add(images.disk, 'qcow2');
  const cache = new BaseImageCache(join(dir, 'i1'), 'qemu-img');
  const got = await Promise.all(Array.from({ length: 5 }, () => cache.get(meta.id, src)));
  assert.equal(src.dataCalls.get(meta.id), 1);
  assert.ok(got.every((g) => g.path === got[0].path && g.format === 'qcow2' && g.virtualSize > 0));
  const again = new BaseImageCache(join(dir, 'i1'), 'qemu-img');
  await again.get(meta.id, src);
  assert.equal(src.dataCalls.get(meta.id), 1, 'a new cache object (agent restart) reuses the file');
  assert.deepEqual((await readdir(cache.dir)).sort(), [meta.id, `${meta.id}.json`].sort());
});

test('refused: a raw image that is really qcow2, a qcow2 with a backing file, a bad checksum, an unsupported format', { skip }, async () => {
  const src = new FileImageSource(join(dir, 'up'));
  const cache = new BaseImageCache(join(dir, 'i2'), 'qemu-img');
  const lying = await src.add(images.disk, 'raw');
  await assert.rejects(cache.get(lying.id, src), /disk_format raw but the data is qcow2/);
  const backed = join(dir, 'backed.qcow2');
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', '/etc/passwd', backed, '1M']);
  const b = await src.add(backed, 'qcow2');
  await assert.rejects(cache.get(b.id, src), /backing file/);
  const m = await src.add(images.initrd, 'ari');
  await assert.rejects(cache.get(m.id, src, { ...m, checksum: '0'.repeat(32) }), /checksum mismatch/);
  const iso = join(dir, 'x.iso');
  writeFileSync(iso, Buffer.alloc(4096));
  const i = await src.add(iso, 'iso');
  await assert.rejects(cache.get(i.id, src), code('ImageUnacceptable'));
  await assert.rejects(cache.get('../../etc', src), code('InvalidInput'));
  await assert.rejects(cache.get(randomUUID(), src), /no image/);
  assert.deepEqual(await readdir(cache.dir), [], 'nothing cached, no temporary file left');
  // A good image after the failures still works.
  const ok = await src.add(images.machine, 'ami');
  assert.equal((await cache.get(ok.id, src)).format, 'raw');
});
