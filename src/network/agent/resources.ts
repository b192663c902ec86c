// What the data plane (and its tests) have on the host, by prefix: the leak check every test runs.

import { run } from '../../common/exec.js';
import { listLinks, listNamespaces } from './iplib.js';
import { isOurLink, isOurNamespace, NFT_TABLE, NS_DHCP, NS_ROUTER } from './names.js';
import { findProcesses } from './proc.js';

export interface ResourceCounts {
  namespaces: number;
  links: number;
  dnsmasq: number;
  metadata_proxies: number;
  nft_tables: number;
}

export interface ResourceScope {
  /** extra name prefixes to count (a test's own namespaces and veths) */
  prefixes?: string[];
  /** only namespaces/links named after these network/router/port ids (another agent's are not counted) */
  ids?: string[];
  /** only processes started for this state directory */
  stateDir?: string;
  /** only these nftables tables (default: every table named monostack*) */
  tables?: string[];
}

/**
 * Our namespaces (msdhcp-, msrtr-), host links with our prefixes, dnsmasq and metadata proxy
 * processes of DHCP namespaces, and nftables tables named monostack*; `scope` narrows to one
 * agent's objects where several share a host (tests beside a running cloud).
 */
export async function countResources(scope: ResourceScope = {}): Promise<ResourceCounts> {
  const extra = (n: string): boolean => (scope.prefixes ?? []).some((p) => n.startsWith(p));
  const idOk = (n: string): boolean => !scope.ids || scope.ids.some((id) => n.includes(id.slice(0, 11)));
  const mine = (n: string, ours: (n: string) => boolean): boolean => extra(n) || (ours(n) && idOk(n));
  const namespaces = (await listNamespaces()).filter((n) => mine(n, isOurNamespace)).length;
  const links = (await listLinks()).filter((l) => mine(l.ifname, isOurLink)).length;
  const markers = scope.stateDir ? [scope.stateDir] : [`/${NS_DHCP}`, `/${NS_ROUTER}`];
  const marked = (a: string[]): boolean => a.some((x) => markers.some((m) => x.includes(m)));
  const dnsmasq = (await findProcesses((a) => a[0]?.endsWith('dnsmasq') === true && marked(a))).length;
  const metadata_proxies = (await findProcesses((a) => a.some((x) => x.endsWith('metadata-proxy.js')) && marked(a))).length;
  let nft_tables = 0;
  try {
    const j = JSON.parse((await run('nft', ['-j', 'list', 'tables'])).stdout) as { nftables: { table?: { name: string } }[] };
    nft_tables = j.nftables.filter((x) => x.table && (scope.tables ? scope.tables.includes(x.table.name) : x.table.name.startsWith(NFT_TABLE))).length;
  } catch { /* no nft: none of ours either */ }
  return { namespaces, links, dnsmasq, metadata_proxies, nft_tables };
}
