// The long-lived helpers the data plane starts (dnsmasq, metadata proxies): found again after an
// agent restart through their pid files, identified by a marker in their command line (a pid
// file can outlive its process and the pid be reused).

import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';

export async function readPid(pidFile: string): Promise<number | undefined> {
  try {
    const n = Number((await readFile(pidFile, 'utf8')).trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch { return undefined; }
}

export async function cmdline(pid: number): Promise<string[] | undefined> {
  try { return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean); } catch { return undefined; }
}

/** The process exists and its command line mentions `marker` (our state directory). */
export async function processAlive(pid: number, marker: string): Promise<boolean> {
  const c = await cmdline(pid);
  if (!c) return false;
  try { if ((await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.startsWith('Z')) return false; } catch { return false; }
  return c.some((a) => a.includes(marker));
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export async function stopProcess(pid: number, graceMs = 2000): Promise<void> {
  const gone = async (): Promise<boolean> => {
    try { const st = await readFile(`/proc/${pid}/stat`, 'utf8'); return st.split(') ')[1]?.startsWith('Z') ?? true; } catch { return true; }
  };
  try { process.kill(pid, 'SIGTERM'); } catch { return; }
  const t0 = Date.now();
  while (!(await gone())) {
    if (Date.now() - t0 > graceMs) { try { process.kill(pid, 'SIGKILL'); } catch { return; } }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Processes whose command line satisfies `pred` (leak checks, adoption after a restart). */
export async function findProcesses(pred: (argv: string[]) => boolean): Promise<number[]> {
  const out: number[] = [];
  for (const d of await readdir('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const c = await cmdline(Number(d));
    if (c && pred(c)) out.push(Number(d));
  }
  return out;
}

/**
 * Start a daemon that must outlive the agent (the runner in common/exec.ts waits for its child):
 * an argument array as everywhere, detached, output to a log file.
 */
export function spawnDaemon(cmd: string, args: string[], logFile: string): number {
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(cmd, args, { detached: true, stdio: ['ignore', fd, fd] });
    child.unref();
    if (child.pid === undefined) throw new Error(`${cmd} did not start`);
    return child.pid;
  } finally { closeSync(fd); }
}
