// iproute2 through the one exec runner: JSON reads, batched writes, commands inside a namespace.

import { readdir } from 'node:fs/promises';
import { run } from '../../common/exec.js';

// Starting a process costs 5-10 ms here (fork of a large server process): a reconcile pass asks
// for the host's links again only when it changed some, and lists namespaces without `ip`.
let writes = 0;
/** How many changing `ip` commands this process has run: a caller re-reads links only when it moved. */
export const ipWrites = (): number => writes;

export interface IpLink { ifname: string; ifindex: number; master?: string; address?: string; operstate?: string; mtu?: number; flags?: string[]; linkinfo?: { info_kind?: string } }

const nsArgs = (ns?: string): string[] => (ns ? ['-n', ns] : []);

export async function ip(args: string[], ns?: string): Promise<string> {
  writes++;
  return (await run('ip', [...nsArgs(ns), ...args])).stdout;
}

export async function ipJson<T>(args: string[], ns?: string): Promise<T[]> {
  const out = (await run('ip', [...nsArgs(ns), '-json', ...args])).stdout.trim();
  return out ? (JSON.parse(out) as T[]) : [];
}

/** Many changes in one process; stops at the first failing line (the error names it). */
export async function ipBatch(lines: string[], ns?: string): Promise<void> {
  if (lines.length === 0) return;
  writes++;
  await run('ip', [...nsArgs(ns), '-batch', '-'], { input: lines.join('\n') + '\n' });
}

export async function nsExec(ns: string, cmd: string, args: string[], input?: string): Promise<string> {
  return (await run('ip', ['netns', 'exec', ns, cmd, ...args], input === undefined ? {} : { input })).stdout;
}

/** Named namespaces: the entries of /run/netns, which is all `ip netns list` reads. */
export async function listNamespaces(): Promise<string[]> {
  try {
    return (await readdir('/run/netns')).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

export async function listLinks(ns?: string): Promise<IpLink[]> {
  return ipJson<IpLink>(['-details', 'link', 'show'], ns);
}

export async function linkExists(name: string, ns?: string): Promise<boolean> {
  try { await run('ip', [...nsArgs(ns), 'link', 'show', 'dev', name]); return true; } catch { return false; }
}

/** A namespace we own: created if missing, loopback up. */
export async function ensureNamespace(ns: string): Promise<void> {
  if (!(await listNamespaces()).includes(ns)) await ip(['netns', 'add', ns]);
  await ip(['link', 'set', 'lo', 'up'], ns);
}

export async function deleteNamespace(ns: string): Promise<void> {
  try { await ip(['netns', 'delete', ns]); } catch { /* already gone */ }
}

/** Processes living in a namespace (`ip netns pids`). */
export async function namespacePids(ns: string): Promise<number[]> {
  try { return (await ip(['netns', 'pids', ns])).split(/\s+/).filter(Boolean).map(Number); } catch { return []; }
}
