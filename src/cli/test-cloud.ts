// Test support: a whole cloud in the test process, started exactly as `monostack up` starts it
// (identity bootstrapped, catalog, service users, the chosen services on free loopback ports, a
// temporary data directory), with JSON request helpers per service and per-test projects.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../common/config.js';
import { freePort } from '../common/testing/process.js';
import { http, type Reply, type CallOptions } from '../common/testing/http.js';
import { testIdentity, type TestProject } from '../common/testing/identity.js';
import { startCloud, type RunningCloud } from './commands.js';

export type { Reply, CallOptions };
export { http };

export type Project = TestProject;

export interface TestCloud {
  cfg: Config;
  cloud: RunningCloud;
  dataDir: string;
  /** Base URLs by service name: identity, image, compute, placement, ... */
  urls: Record<string, string>;
  adminToken(): Promise<string>;
  /** A new project with a user holding `role` on it (member by default), and its token. */
  project(name: string, role?: string): Promise<Project>;
  call(service: string, method: string, path: string, opts?: CallOptions): Promise<Reply>;
  close(): Promise<void>;
}


export interface StartOptions {
  services: string[];
  /** Config overrides by section (ports of the listed services are always free ones). */
  config?: Record<string, Record<string, unknown>>;
  dataDir?: string;
}

const PORTS: Record<string, [section: string, option: string, path: string][]> = {
  identity: [['identity', 'port', '']],
  image: [['image', 'port', '']],
  compute: [['compute', 'port', '/v2.1'], ['compute', 'metadata_port', ''], ['compute', 'novncproxy_port', '']],
  placement: [['placement', 'port', '']],
  network: [['network', 'port', '']],
};

export async function startTestCloud(o: StartOptions): Promise<TestCloud> {
  const ownDir = !o.dataDir;
  const dataDir = o.dataDir ?? mkdtempSync(join(tmpdir(), 'monostack-cloud-'));
  const overrides: Record<string, Record<string, unknown>> = {
    DEFAULT: { data_dir: dataDir, log_level: 'warn', enabled_services: ['identity', ...o.services.filter((s) => s !== 'identity')] },
    identity: { password_hash_rounds: 4, admin_port: 0, admin_password: 'secret-admin' },
  };
  for (const svc of ['identity', ...o.services]) {
    for (const [section, option] of PORTS[svc] ?? []) (overrides[section] ??= {})[option] = await freePort();
  }
  // The network's data plane touches the host (bridges, namespaces, dnsmasq): tests ask for it by name.
  if (o.services.includes('network')) (overrides.network ??= {}).dataplane = 'noop';
  // Compute without Placement is an API-only test: no agent (it would register with Placement).
  if (o.services.includes('compute') && !o.services.includes('placement')) (overrides.compute ??= {}).run_agent = false;
  for (const [s, kv] of Object.entries(o.config ?? {})) overrides[s] = { ...(overrides[s] ?? {}), ...kv };
  // The services' URLs, from the ports in force (a caller may pin them, e.g. to restart on the same ones).
  const urls: Record<string, string> = {};
  for (const svc of ['identity', ...o.services]) {
    const [section, , path] = PORTS[svc]?.[0] ?? [];
    if (section) urls[svc] = `http://127.0.0.1:${String(overrides[section]!.port)}${path}`;
  }
  const cfg = loadConfig({ env: {}, overrides });
  let cloud: RunningCloud;
  try {
    cloud = await startCloud(cfg);
  } catch (e) {
    if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    throw e;
  }
  const { adminToken, project } = testIdentity(urls.identity!, cloud.adminPassword);
  return {
    cfg, cloud, dataDir, urls, adminToken, project,
    call: (service, method, path, opts) => {
      const base = urls[service];
      if (!base) throw new Error(`service ${service} is not running in this test cloud`);
      return http(base, method, path, opts);
    },
    async close() {
      await cloud.close();
      if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
