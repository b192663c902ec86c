// Objects of an agent whose state directory is gone (a test or a cloud removed its data directory
// without tearing the data plane down): no agent will ever remove them, since each removes only
// what its own state directory records. Found by the state directory their processes name.

import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { deleteNamespace, ip, listLinks, listNamespaces, namespacePids } from './iplib.js';
import { bridgeName, dhcpHostLink, NS_DHCP, NS_ROUTER } from './names.js';
import { cmdline, stopProcess } from './proc.js';

export interface Orphan { namespace: string; pids: number[]; stateDir: string }

/** The file paths a process was started with (--pid-file=X, --pid-file X). */
function paths(argv: string[]): string[] {
  return argv.flatMap((a, i) => (a.startsWith('--pid-file=') ? [a.slice(11)] : a === '--pid-file' && argv[i + 1] ? [argv[i + 1]!] : []));
}

/**
 * DHCP and router namespaces whose processes all point into a state directory that no longer
 * exists. A namespace without processes (a router without metadata) cannot be attributed and is
 * never reported. `ids` narrows to namespaces of these network/router ids.
 */
export async function findOrphans(ids?: string[]): Promise<Orphan[]> {
  const out: Orphan[] = [];
  for (const ns of await listNamespaces()) {
    if (!ns.startsWith(NS_DHCP) && !ns.startsWith(NS_ROUTER)) continue;
    if (ids && !ids.some((id) => ns.endsWith(id))) continue;
    const pids = await namespacePids(ns);
    const dirs = new Set<string>();
    for (const p of pids) for (const f of paths((await cmdline(p)) ?? [])) dirs.add(dirname(dirname(f)));
    if (pids.length === 0 || dirs.size !== 1) continue;
    const [stateDir] = [...dirs];
    if (!existsSync(stateDir!)) out.push({ namespace: ns, pids, stateDir: stateDir! });
  }
  return out;
}

/** Stops the orphans' processes, deletes their namespaces and their networks' bridges. */
export async function removeOrphans(orphans: Orphan[]): Promise<void> {
  const links = new Set((await listLinks()).map((l) => l.ifname));
  for (const o of orphans) {
    for (const p of o.pids) await stopProcess(p);
    await deleteNamespace(o.namespace);
    if (o.namespace.startsWith(NS_DHCP)) {
      const net = o.namespace.slice(NS_DHCP.length);
      for (const l of [dhcpHostLink(net), bridgeName(net)]) if (links.has(l)) await ip(['link', 'del', l]).catch(() => undefined);
    }
  }
}
