// Helpers for the format inspector's tests: running host tools (argument arrays only) and
// installing the Debian packages that provide them when they are missing.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { FormatInspector } from './inspector.js';
import type { DiskFormat, InspectionResult } from './types.js';

const execFileP = promisify(execFile);

export async function run(cmd: string, args: string[], timeoutMs = 300_000): Promise<{ stdout: string; stderr: string }> {
  return execFileP(cmd, args, { maxBuffer: 64 << 20, timeout: timeoutMs, encoding: 'utf8' });
}

/** Run with `input` on stdin. */
export function runWithInput(cmd: string, args: string[], input: string, timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} failed: ${err.message} ${stderr}`));
      else resolve(stdout);
    });
    child.stdin?.end(input);
  });
}

export async function have(cmd: string, args: string[] = ['--version']): Promise<boolean> {
  try {
    await execFileP(cmd, args, { timeout: 30_000 });
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ENOENT' && typeof (e as { code?: unknown }).code === 'number';
  }
}

let aptUpdated = false;

/** Make sure `cmd` exists, installing Debian package `pkg` as root if not. Returns null when available, else why not. */
export async function ensureTool(cmd: string, pkg: string, probeArgs: string[] = ['--version']): Promise<string | null> {
  if (await have(cmd, probeArgs)) return null;
  if (process.getuid?.() !== 0) return `${cmd} is missing and installing ${pkg} needs root`;
  if (!(await have('apt-get', ['--version']))) return `${cmd} is missing and apt-get is unavailable`;
  const install = (): Promise<unknown> =>
    run('apt-get', ['install', '-y', '-q', '--no-install-recommends', pkg], 900_000);
  try {
    await install();
  } catch {
    try {
      if (!aptUpdated) await run('apt-get', ['update', '-q'], 900_000);
      aptUpdated = true;
      await install();
    } catch (e) {
      return `${cmd} is missing and apt-get install ${pkg} failed: ${(e as Error).message.split('\n')[0]}`;
    }
  }
  return (await have(cmd, probeArgs)) ? null : `${cmd} is still missing after installing ${pkg}`;
}

export interface QemuInfo {
  'virtual-size': number;
  format: string;
  'backing-filename'?: string;
}

export async function qemuInfo(path: string, format?: string): Promise<QemuInfo> {
  const args = ['info', '--output=json', ...(format ? ['-f', format] : []), path];
  const { stdout } = await run('qemu-img', args);
  return JSON.parse(stdout) as QemuInfo;
}

/** Feed a whole buffer in chunks of `chunkSize` bytes. */
export function inspectBuffer(data: Buffer, claimed: DiskFormat | (string & {}), chunkSize = 65536): InspectionResult {
  const inspector = new FormatInspector(claimed);
  for (let i = 0; i < data.length; i += chunkSize) inspector.feed(data.subarray(i, i + chunkSize));
  return inspector.finish(data.length);
}
