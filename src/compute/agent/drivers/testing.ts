// Test helpers for the drivers (and the compute agent's tests): the test guest images of
// scripts/build-test-images.sh, built once into <repo>/.tmp/images, and an ImageSource backed by
// files, which counts downloads and keeps uploads.

import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { run } from '../../../common/exec.js';
import { projectRoot } from '../../../common/testing/process.js';
import type { ImageMeta, ImageSource } from '../driver.js';

export const BOOT_MARKER = 'monostack test guest booted';
export const READY_MARKER = 'monostack guest ready';

export interface TestImages { dir: string; vmlinuz: string; initrd: string; disk: string; machine: string }

/** The test guest images, built on first use (about 10 s) and cached under <repo>/.tmp/images. */
export async function testImages(): Promise<TestImages> {
  const repo = projectRoot(import.meta.url);
  const dir = join(repo, '.tmp', 'images');
  const files = (d: string): TestImages => ({ dir: d, vmlinuz: join(d, 'vmlinuz'), initrd: join(d, 'initrd'), disk: join(d, 'disk.qcow2'), machine: join(d, 'machine.img') });
  if (existsSync(join(dir, 'SHA256SUMS'))) return files(dir);
  const tmp = `${dir}.building-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await run('bash', [join(repo, 'scripts', 'build-test-images.sh'), tmp], { timeoutMs: 1_200_000 });
  try { await rename(tmp, dir); } catch {
    await rm(tmp, { recursive: true, force: true }); // someone else finished first
  }
  if (!existsSync(join(dir, 'SHA256SUMS'))) throw new Error(`test images not found in ${dir}`);
  return files(dir);
}

/** True when `cmd` is on PATH. */
export function which(cmd: string): boolean {
  return (process.env.PATH ?? '').split(':').some((p) => p && existsSync(join(p, cmd)));
}

/** An ImageSource over local files. Uploads land in `uploadDir`/<image id>. */
export class FileImageSource implements ImageSource {
  readonly dataCalls = new Map<string, number>();
  private readonly images = new Map<string, { meta: ImageMeta; path: string }>();

  constructor(readonly uploadDir: string) {}

  /** Registers a file as an image and returns its metadata. */
  async add(path: string, diskFormat: string, properties: Record<string, string> = {}, id: string = randomUUID()): Promise<ImageMeta> {
    const bytes = await readFile(path);
    const meta: ImageMeta = {
      id, diskFormat, containerFormat: ['aki', 'ari', 'ami'].includes(diskFormat) ? diskFormat : 'bare', size: bytes.length,
      minDisk: 0, minRam: 0, checksum: createHash('md5').update(bytes).digest('hex'), properties,
    };
    this.images.set(id, { meta, path });
    return meta;
  }

  async meta(imageId: string): Promise<ImageMeta> {
    const i = this.images.get(imageId);
    if (!i) throw new Error(`no image ${imageId}`);
    return i.meta;
  }

  async data(imageId: string): Promise<Readable> {
    const i = this.images.get(imageId);
    if (!i) throw new Error(`no image ${imageId}`);
    this.dataCalls.set(imageId, (this.dataCalls.get(imageId) ?? 0) + 1);
    return createReadStream(i.path);
  }

  async upload(imageId: string, data: Readable, diskFormat: string): Promise<void> {
    await mkdir(this.uploadDir, { recursive: true });
    const path = join(this.uploadDir, imageId);
    await pipeline(data, createWriteStream(path));
    await this.add(path, diskFormat, {}, imageId);
  }

  uploadedPath(imageId: string): string { return join(this.uploadDir, imageId); }
}

/** Kills every process whose command line mentions `needle` (a test's instancesPath) — leak cleanup. */
export async function killProcessesMentioning(needle: string): Promise<number[]> {
  const killed: number[] = [];
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const cmd = await readFile(`/proc/${e}/cmdline`, 'utf8');
      if (cmd.includes(needle)) { process.kill(Number(e), 'SIGKILL'); killed.push(Number(e)); }
    } catch { /* gone */ }
  }
  return killed;
}

/** The size of a file, or -1. */
export async function fileSize(path: string): Promise<number> {
  try { return (await stat(path)).size; } catch { return -1; }
}
