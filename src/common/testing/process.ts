// Shared by the end-to-end tests: where the checkout is, a free loopback port, the Tempest harness.

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder holding package.json, found from a module's own location (works from src and dist). */
export function projectRoot(fromUrl: string = import.meta.url): string {
  let d = dirname(fileURLToPath(fromUrl));
  while (!existsSync(join(d, 'package.json'))) {
    const up = dirname(d);
    if (up === d) throw new Error(`no package.json above ${fileURLToPath(fromUrl)}`);
    d = up;
  }
  return d;
}

/**
 * A loopback port nobody listens on right now. It is drawn below the kernel's ephemeral range
 * (net.ipv4.ip_local_port_range, 32768-60999 by default): a port the kernel hands out itself can be
 * taken by any outgoing connection (a database client, an HTTP call) between this probe and the
 * caller's listen — the EADDRINUSE flake CI once hit.
 */
export async function freePort(): Promise<number> {
  const [lo, hi] = [20000, ephemeralLow() - 1];
  for (let i = 0; i < 50; i++) {
    const port = lo + Math.floor(Math.random() * (hi - lo + 1));
    // Never the same port twice in one process: a test cloud draws several ports before it listens
    // on any, and two equal draws made one of its services fail with EADDRINUSE in CI.
    if (handedOut.has(port)) continue;
    if (await canListen(port)) { handedOut.add(port); return port; }
  }
  throw new Error(`no free loopback port in ${lo}-${hi}`);
}

const handedOut = new Set<number>();

function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (low > 21000) return low;
  } catch { /* not Linux: the IANA default */ }
  return 32768;
}

function canListen(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once('error', () => res(false));
    s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` every `pollMs` until it returns something truthy (returned) or `ms` have passed (throws, with the last answer or error). */
export async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 120_000, pollMs = 300): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (e) { last = e; }
    await sleep(pollMs);
  }
  throw new Error(`timed out waiting for ${what} (last: ${String(last)})`);
}

/** The folder of the test guest images (.tmp/images), built by scripts/build-test-images.sh on first use. */
export function testImagesDir(): string {
  const root = projectRoot();
  const dir = join(root, '.tmp', 'images');
  if (!existsSync(join(dir, 'disk.qcow2'))) execFileSync('bash', [join(root, 'scripts', 'build-test-images.sh'), dir], { stdio: 'inherit' });
  return dir;
}

/** The shared Tempest harness (tempest.sh): $MONOSTACK_TEMPEST_SH, ../shared beside the checkout, or /work/shared. */
export function tempestHarness(): string | undefined {
  return [process.env.MONOSTACK_TEMPEST_SH, join(projectRoot(), '..', 'shared', 'conformance', 'tempest.sh'), '/work/shared/conformance/tempest.sh']
    .find((p): p is string => !!p && existsSync(p));
}
