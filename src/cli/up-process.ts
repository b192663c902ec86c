// Test support: `monostack up` as a child process on free ports with its own data directory, the
// way an operator runs it, plus Debian's CLIs (openstack, nova, glance) run against it with only
// the openrc's environment. Used by the end-to-end tests of every service.

import { spawn, execFile, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, projectRoot } from '../common/testing/process.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = projectRoot(import.meta.url);
/** bin/monostack.js when running from dist/ (npm test), else the main.js compiled beside this file. */
export const UP_ENTRY = here.startsWith(join(root, 'dist') + sep) ? join(root, 'bin', 'monostack.js') : join(here, 'main.js');

/** `export NAME=value` lines of an openrc, with the shell's single quoting undone. */
export function parseOpenrc(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^export ([A-Z_]+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    let v = m[2]!;
    if (v.startsWith("'")) v = v.slice(1, -1).replace(/'\\''/g, "'");
    env[m[1]!] = v;
  }
  return env;
}

export interface CliRun { code: number; stdout: string; stderr: string }

export interface UpProcess {
  dataDir: string;
  stateDir: string;
  ports: Record<string, number>;
  /** The openrc's variables plus PATH and a private HOME. */
  env: Record<string, string>;
  output(): string;
  /** Runs a CLI (openstack, nova, glance, ...) with the cloud's credentials. */
  cli(cmd: string, args: string[], opts?: { env?: Record<string, string>; timeoutMs?: number }): Promise<CliRun>;
  /** Stops the process (SIGTERM) and waits for it. */
  stop(): Promise<void>;
  /** Stops it and removes the data directory. */
  close(): Promise<void>;
}

export interface UpOptions {
  services: string[];
  /** Extra MONOSTACK_* variables. */
  env?: Record<string, string>;
  /** Reuse a data directory (a restart); default a new temporary one. */
  dataDir?: string;
  readyTimeoutMs?: number;
}

const PORT_VARS: Record<string, string[]> = {
  identity: ['MONOSTACK_IDENTITY_PORT', 'MONOSTACK_IDENTITY_ADMIN_PORT'],
  image: ['MONOSTACK_IMAGE_PORT'],
  placement: ['MONOSTACK_PLACEMENT_PORT'],
  network: ['MONOSTACK_NETWORK_PORT'],
  compute: ['MONOSTACK_COMPUTE_PORT', 'MONOSTACK_COMPUTE_METADATA_PORT', 'MONOSTACK_COMPUTE_NOVNCPROXY_PORT'],
};

export async function startUp(o: UpOptions): Promise<UpProcess> {
  if (!existsSync(UP_ENTRY)) throw new Error(`monostack entry point not built: ${UP_ENTRY}`);
  const dataDir = o.dataDir ?? mkdtempSync(join(tmpdir(), 'monostack-up-'));
  const stateDir = join(dataDir, 'state');
  const home = join(dataDir, 'home');
  mkdirSync(home, { recursive: true });
  const services = ['identity', ...o.services.filter((s) => s !== 'identity')];
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home,
    MONOSTACK_IDENTITY_PASSWORD_HASH_ROUNDS: '4', MONOSTACK_DEFAULT_ENABLED_SERVICES: services.join(','),
    MONOSTACK_DEFAULT_DATA_DIR: stateDir, MONOSTACK_IDENTITY_ADMIN_PASSWORD: 'e2e-admin-pass',
    // The network's data plane touches the host (bridges, namespaces, dnsmasq): a test asks for
    // linuxbridge by name (MONOSTACK_NETWORK_DATAPLANE) and cleans up after itself.
    MONOSTACK_NETWORK_DATAPLANE: 'noop',
    ...(o.env ?? {}),
  };
  const ports: Record<string, number> = {};
  for (const s of services) {
    for (const v of PORT_VARS[s] ?? []) {
      const p = env[v] ? Number(env[v]) : await freePort();
      env[v] = String(p);
      ports[v.replace(/^MONOSTACK_/, '').toLowerCase()] = p;
    }
  }
  let out = '';
  let child: ChildProcessWithoutNullStreams | null = null;
  let exited: Promise<number | null> = Promise.resolve(null);
  const launch = async () => {
    out = '';
    child = spawn(process.execPath, [UP_ENTRY, 'up'], { env });
    const c = child;
    c.stdout.on('data', (d) => { out += d; });
    c.stderr.on('data', (d) => { out += d; });
    exited = new Promise((r) => c.once('exit', (code) => r(code)));
    await new Promise<void>((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`monostack up did not get ready in time:\n${out}`)), o.readyTimeoutMs ?? 60_000);
      const check = () => { if (out.includes('monostack ready')) { clearTimeout(timer); res(); } };
      c.stdout.on('data', check);
      void exited.then((code) => { clearTimeout(timer); rej(new Error(`monostack up exited ${code}:\n${out}`)); });
      check();
    });
  };
  await launch();
  const openrc = parseOpenrc(readFileSync(join(stateDir, 'openrc'), 'utf8'));
  const cliEnv = { PATH: env.PATH!, HOME: home, ...openrc };
  const stop = async () => {
    if (!child) return;
    child.kill('SIGTERM');
    await exited;
    child = null;
  };
  return {
    dataDir, stateDir, ports, env: cliEnv, output: () => out,
    cli: (cmd, args, opts = {}) => new Promise((res) => {
      execFile(cmd, args, { env: { ...cliEnv, ...(opts.env ?? {}) }, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
        res({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, stdout: String(stdout), stderr: String(stderr) });
      });
    }),
    stop,
    async close() {
      await stop();
      // Guests outlive `up` by design (a VM survives a control-plane restart); a test's must not.
      killGuestsUnder(stateDir);
      if (!o.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Pids of the QEMU processes whose command line contains `needle` (an instance uuid, a data directory). */
export function qemuPidsMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (cmd.includes('qemu-system') && cmd.includes(needle)) out.push(Number(d));
    } catch { /* gone */ }
  }
  return out;
}

/** Kills the QEMU processes whose command line names a path under `dir` (a test's leftovers). */
export function killGuestsUnder(dir: string): number {
  const pids = qemuPidsMentioning(dir);
  for (const pid of pids) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  return pids.length;
}

/** A `| field | value |` row of a CLI table. */
export function tableField(out: string, name: string): string | undefined {
  const m = new RegExp(`^\\|\\s*${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*\\|\\s*(.*?)\\s*\\|\\s*$`, 'm').exec(out);
  return m?.[1];
}
