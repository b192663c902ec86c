// The base image cache: <instancesPath>/_base/<image id>, fetched once through ImageSource and
// shared read-only by every instance's qcow2 overlay. Concurrent requests for one image share one
// download; data goes to a temporary file that is checked (size, md5 checksum, the format qemu-img
// detects, no backing or external data file) and only then renamed into place, so a half-written
// or unsafe file is never used.

import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { run } from '../../../../common/exec.js';
import { DriverError, type ImageMeta, type ImageSource } from '../../driver.js';

/** Glance image ids are uuids; anything else never becomes a path. */
const IMAGE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** disk_format → the format qemu-img must detect in the bytes. */
const QEMU_FORMAT: Record<string, 'raw' | 'qcow2'> = { raw: 'raw', qcow2: 'qcow2', ami: 'raw', aki: 'raw', ari: 'raw' };

export interface BaseImage {
  id: string;
  path: string;
  /** 'raw' or 'qcow2', as qemu-img detected it. */
  format: 'raw' | 'qcow2';
  diskFormat: string;
  virtualSize: number;
}

export interface QemuImgInfo {
  format: string;
  'virtual-size': number;
  'backing-filename'?: string;
  'full-backing-filename'?: string;
  'format-specific'?: { type?: string; data?: Record<string, unknown> };
}

export async function qemuImgInfo(qemuImg: string, path: string, opts: { format?: string; shared?: boolean } = {}): Promise<QemuImgInfo> {
  const args = ['info', '--output=json'];
  if (opts.shared) args.push('-U');
  if (opts.format) args.push('-f', opts.format);
  args.push(path);
  const { stdout } = await run(qemuImg, args, { timeoutMs: 30_000 });
  return JSON.parse(stdout) as QemuImgInfo;
}

export class BaseImageCache {
  readonly dir: string;
  private readonly inflight = new Map<string, Promise<BaseImage>>();

  constructor(instancesPath: string, private readonly qemuImg: string) {
    this.dir = join(instancesPath, '_base');
  }

  static validId(id: string): boolean { return IMAGE_ID.test(id); }

  /** The cached base of `imageId`, downloading and checking it first if needed. */
  get(imageId: string, images: ImageSource, meta?: ImageMeta): Promise<BaseImage> {
    if (!IMAGE_ID.test(imageId)) return Promise.reject(new DriverError('InvalidInput', `invalid image id ${JSON.stringify(imageId)}`));
    const key = imageId.toLowerCase();
    let p = this.inflight.get(key);
    if (!p) {
      p = this.load(key, images, meta).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }

  private async load(id: string, images: ImageSource, known?: ImageMeta): Promise<BaseImage> {
    const path = join(this.dir, id);
    const infoPath = `${path}.json`;
    try {
      await stat(path);
      return JSON.parse(await readFile(infoPath, 'utf8')) as BaseImage;
    } catch { /* not cached yet (the data file is renamed into place after its .json) */ }

    const meta = known && known.id.toLowerCase() === id ? known : await images.meta(id);
    const want = QEMU_FORMAT[meta.diskFormat];
    if (!want) throw new DriverError('ImageUnacceptable', `image ${id}: disk_format ${meta.diskFormat} is not supported by the qemu driver (raw, qcow2, ami, aki, ari)`);
    await mkdir(this.dir, { recursive: true });
    const tmp = join(this.dir, `.${id}.${randomBytes(6).toString('hex')}.part`);
    try {
      const md5 = createHash('md5');
      let size = 0;
      const count = new Transform({ transform(chunk: Buffer, _enc, cb) { md5.update(chunk); size += chunk.length; cb(null, chunk); } });
      await pipeline(await images.data(id), count, createWriteStream(tmp, { mode: 0o644 }));
      if (meta.size > 0 && size !== meta.size) throw new DriverError('ImageUnacceptable', `image ${id}: got ${size} bytes, the image service says ${meta.size}`);
      if (meta.checksum && meta.checksum !== md5.digest('hex')) throw new DriverError('ImageUnacceptable', `image ${id}: checksum mismatch`);
      // Let qemu-img probe the format: it must be the declared one (a "raw" image that is really
      // a qcow2 pointing at a host file is the classic attack).
      const info = await qemuImgInfo(this.qemuImg, tmp);
      if (info.format !== want) throw new DriverError('ImageUnacceptable', `image ${id}: disk_format ${meta.diskFormat} but the data is ${info.format}`);
      if (info['backing-filename'] || info['full-backing-filename']) throw new DriverError('ImageUnacceptable', `image ${id}: has a backing file`);
      const data = info['format-specific']?.data ?? {};
      if (data['data-file'] !== undefined) throw new DriverError('ImageUnacceptable', `image ${id}: has an external data file`);
      const base: BaseImage = { id, path, format: want, diskFormat: meta.diskFormat, virtualSize: info['virtual-size'] };
      await writeFile(`${tmp}.json`, JSON.stringify(base));
      await rename(`${tmp}.json`, infoPath);
      await rename(tmp, path);
      return base;
    } catch (err) {
      await rm(tmp, { force: true });
      await rm(`${tmp}.json`, { force: true });
      if (err instanceof DriverError) throw err;
      throw new DriverError('ImageUnacceptable', `image ${id}: ${(err as Error).message}`, { cause: err });
    }
  }
}
