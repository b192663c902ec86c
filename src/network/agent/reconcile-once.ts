// Converge the host (or the namespace it runs in) to a state file once, or tear it down:
//   node reconcile-once.js --state-dir DIR [--table T] [--vxlan-local IP --vxlan-remote IP ...]
//     [--map physnet=iface ...] [--teardown] < state.json
// For operators (inspect what a state does without the bus) and for tests that need a second
// "host": run under `ip netns exec`, every ip/nft call lands in that namespace.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { HostNetworkState } from './driver.js';
import { LinuxBridgeDataplane, type LinuxBridgeOptions } from './linuxbridge.js';

export function parseArgs(argv: string[]): { opts: LinuxBridgeOptions; teardown: boolean } {
  const all = (name: string): string[] => argv.flatMap((a, i) => (a === `--${name}` && argv[i + 1] ? [argv[i + 1]!] : []));
  const one = (name: string): string | undefined => all(name)[0];
  const stateDir = one('state-dir');
  if (!stateDir) throw new Error('--state-dir is required');
  const opts: LinuxBridgeOptions = { stateDir };
  const table = one('table');
  if (table) opts.table = table;
  const local = one('vxlan-local');
  if (local) opts.vxlan = { localIp: local, remotes: all('vxlan-remote') };
  const maps = all('map');
  if (maps.length) opts.physicalInterfaceMappings = Object.fromEntries(maps.map((m) => m.split('=', 2) as [string, string]));
  return { opts, teardown: argv.includes('--teardown') };
}

async function main(): Promise<void> {
  const { opts, teardown } = parseArgs(process.argv.slice(2));
  const dp = new LinuxBridgeDataplane(opts);
  if (teardown) await dp.teardown();
  else await dp.reconcile(JSON.parse(readFileSync(0, 'utf8')) as HostNetworkState);
  process.stdout.write(JSON.stringify(dp.counts()) + '\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((e: Error) => { process.stderr.write(`${e.message}\n`); process.exit(1); });
}
