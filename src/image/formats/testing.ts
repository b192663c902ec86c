// Helpers for the format inspector's tests: running host tools (argument arrays only) and
// installing the Debian packages that provide them when they are missing.

import { run as exec, type RunResult } from '../../common/exec.js';
import { FormatInspector } from './inspector.js';
import type { DiskFormat, InspectionResult } from './types.js';

export function run(cmd: string, args: string[], timeoutMs = 300_000): Promise<RunResult> {
  return exec(cmd, args, { timeoutMs });
}

/** Run with `input` on stdin. */
export async function runWithInput(cmd: string, args: string[], input: string, timeoutMs = 60_000): Promise<string> {
  return (await exec(cmd, args, { input, timeoutMs })).stdout;
}

/** The command exists (it ran, whatever its exit status). */
export async function have(cmd: string, args: string[] = ['--version']): Promise<boolean> {
  try {
    await exec(cmd, args, { timeoutMs: 30_000 });
    return true;
  } catch (e) {
    const cause = (e as { cause?: { code?: unknown } }).cause;
    return typeof cause?.code === 'number';
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
