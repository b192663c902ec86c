// What the CLI commands do. Kept apart from argument parsing so tests can call them.

import { mkdirSync, writeFileSync, readFileSync, existsSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadConfig, advertisedHost, type Config } from '../common/config.js';
import { createLogger } from '../common/log.js';
import { InMemoryBus, createBus } from '../common/bus/index.js';
import { openDatabase } from '../common/db/index.js';
import { createIdentityService } from '../identity/service.js';
import { bootstrap } from '../identity/bootstrap.js';
import { rotateKeys, setupKeyRepository } from '../identity/token/keys.js';
import { TokenValidator } from '../common/auth/middleware.js';
import { SERVICE_MODULES, type RunningService } from './services.js';
import { startComputeNode } from '../compute/service.js';
import { startAgent as startNetworkAgent } from '../network/service.js';
import { ServiceSession } from '../common/auth/session.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Opts = Record<string, any>;

const int = (v: unknown) => (v === undefined ? undefined : Number(v));

export function configFrom(o: Opts): Config {
  return loadConfig({
    configFile: o.config,
    overrides: {
      DEFAULT: { data_dir: o.dataDir, host: o.host, public_host: o.publicHost },
      database: { url: o.db },
      identity: { admin_password: o.adminPassword, port: int(o.port), admin_port: int(o.adminPort) },
    },
  });
}

/** A random secret kept in `file` (0600), made on first use. */
function localSecret(file: string): string {
  if (existsSync(file)) {
    const v = readFileSync(file, 'utf8').trim();
    if (v) return v;
  }
  const v = randomBytes(24).toString('base64url');
  writeFileSync(file, v + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  return v;
}

function readOpenrcPassword(file: string): string | undefined {
  if (!existsSync(file)) return undefined;
  const m = /^export OS_PASSWORD='((?:[^']|'\\'')*)'$/m.exec(readFileSync(file, 'utf8'));
  return m ? m[1]!.replace(/'\\''/g, "'") : undefined;
}

const shq = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;

export function writeOpenrc(file: string, c: Config, password: string): void {
  const url = `http://${advertisedHost(c)}:${c.identity.port}/v3`;
  const lines = [
    '# monostack admin credentials: `source` this file, then use the openstack CLI.',
    `export OS_USERNAME=${shq(c.identity.admin_user)}`,
    `export OS_PASSWORD=${shq(password)}`,
    `export OS_PROJECT_NAME=${shq(c.identity.admin_project)}`,
    'export OS_USER_DOMAIN_NAME=Default',
    'export OS_PROJECT_DOMAIN_NAME=Default',
    `export OS_AUTH_URL=${url}`,
    'export OS_IDENTITY_API_VERSION=3',
    `export OS_REGION_NAME=${shq(c.DEFAULT.region)}`,
    '',
  ];
  writeFileSync(file, lines.join('\n'), { mode: 0o600 });
  chmodSync(file, 0o600);
}

/** The catalog entries of the services this process runs. */
export function catalogServices(c: Config) {
  const host = advertisedHost(c);
  const out = [];
  if (c.DEFAULT.enabled_services.includes('identity')) {
    const url = `http://${host}:${c.identity.port}/v3/`;
    out.push({ type: 'identity', name: 'keystone', description: 'OpenStack Identity (monostack)', urls: { public: url, internal: url, admin: url } });
  }
  for (const m of enabledModules(c)) {
    const url = `http://${host}:${m.catalog.port(c)}${m.catalog.path}`;
    out.push({ type: m.catalog.type, name: m.catalog.name, description: m.catalog.description, urls: { public: url, internal: url, admin: url } });
  }
  return out;
}

const enabledModules = (c: Config) => SERVICE_MODULES.filter((m) => c.DEFAULT.enabled_services.includes(m.name));

/** Service users' passwords: generated once, kept in DATA_DIR/service-users.json (mode 0600). */
function serviceUserPasswords(c: Config): Record<string, string> {
  const file = join(c.DEFAULT.data_dir, 'service-users.json');
  const known: Record<string, string> = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  let changed = false;
  for (const m of enabledModules(c)) {
    if (!known[m.user]) { known[m.user] = randomBytes(18).toString('base64url'); changed = true; }
  }
  if (changed) writeFileSync(file, JSON.stringify(known, null, 2), { mode: 0o600 });
  return known;
}

/** A running cloud: identity plus the enabled service modules, as `up` starts them. */
export interface RunningCloud {
  cfg: Config;
  authUrl: string;
  adminPassword: string;
  openrc: string;
  close(): Promise<void>;
}

/**
 * Starts identity (bootstrapped: admin, catalog, service users) and every enabled service module
 * with the given configuration. `say` gets one line per service. Used by `up` and by tests.
 */
export async function startCloud(c: Config, say: (line: string) => void = () => undefined): Promise<RunningCloud> {
  mkdirSync(c.DEFAULT.data_dir, { recursive: true, mode: 0o700 });
  const log = createLogger(c.DEFAULT.log_level, join(c.DEFAULT.data_dir, 'logs', 'monostack.log'));
  const bus = createBus(c.DEFAULT.transport_url);
  await bus.ready(30_000);
  const database = await openDatabase(c.database.url, c.DEFAULT.data_dir);
  const openrc = join(c.DEFAULT.data_dir, 'openrc');
  const password = c.identity.admin_password || readOpenrcPassword(openrc) || randomBytes(12).toString('base64url');
  // The metadata proxy (network) signs instance ids that the metadata API (compute) checks: one
  // machine needs no configuration for it, so a secret is made once and kept in the data directory.
  if (!c.compute.metadata_proxy_shared_secret) c.compute.metadata_proxy_shared_secret = localSecret(join(c.DEFAULT.data_dir, 'metadata-proxy-secret'));

  const identity = await createIdentityService(c, log, bus, database);
  const passwords = serviceUserPasswords(c);
  const modules = enabledModules(c);
  try {
    await bootstrap(identity.ctx, {
      adminUser: c.identity.admin_user, adminPassword: password, adminProject: c.identity.admin_project,
      adminRole: c.identity.admin_role, region: c.DEFAULT.region, services: catalogServices(c),
      serviceUsers: modules.map((m) => ({ name: m.user, password: passwords[m.user]! })),
    });
    await identity.listen(c.DEFAULT.host, c.identity.port, c.identity.admin_port || undefined);
  } catch (e) {
    // Nothing may outlive a failed start (a taken port): it would keep the process alive.
    await identity.close().catch(() => undefined);
    await bus.close().catch(() => undefined);
    await database.close().catch(() => undefined);
    throw e;
  }
  writeOpenrc(openrc, c, password);

  const host = advertisedHost(c);
  say(`database  ${database.display}`);
  say(`bus       ${c.DEFAULT.transport_url ? c.DEFAULT.transport_url.replace(/\/\/[^@/]*@/, '//***@') : 'in-process'}`);
  say(`identity  http://${host}:${c.identity.port}/v3` + (c.identity.admin_port ? `  (admin port ${c.identity.admin_port})` : ''));

  const authUrl = `http://${host}:${c.identity.port}/v3`;
  const running: RunningService[] = [];
  const validators: TokenValidator[] = [];
  const close = async () => {
    for (const r of running.reverse()) await r.close();
    for (const v of validators) v.close();
    await identity.close();
    await bus.close();
    await database.close();
    log.flush?.();
  };
  try {
    for (const m of modules) {
      const service = { username: m.user, password: passwords[m.user]!, projectName: 'service' };
      const validator = new TokenValidator({ authUrl, service, bus, cacheTtl: c.auth_cache.ttl, maxEntries: c.auth_cache.max_entries });
      validators.push(validator);
      running.push(await m.start({ cfg: c, log, bus, database, validator, authUrl, service }, c.DEFAULT.host));
      say(`${m.name.padEnd(9)} http://${host}:${m.catalog.port(c)}${m.catalog.path}`);
    }
  } catch (e) {
    await close().catch(() => undefined);
    throw e;
  }
  return { cfg: c, authUrl, adminPassword: password, openrc, close };
}

export async function upCommand(o: Opts): Promise<void> {
  const c = configFrom(o);
  const out = (s: string) => process.stdout.write(s + '\n');
  const cloud = await startCloud(c, out);
  out(`monostack ready: source ${cloud.openrc} and use the openstack CLI`);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    try {
      await cloud.close();
    } finally {
      out('monostack stopped');
      process.exit(0);
    }
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

export async function bootstrapCommand(o: Opts): Promise<void> {
  const c = configFrom(o);
  mkdirSync(c.DEFAULT.data_dir, { recursive: true, mode: 0o700 });
  const log = createLogger('warn');
  const database = await openDatabase(c.database.url, c.DEFAULT.data_dir);
  const identity = await createIdentityService(c, log, new InMemoryBus(), database);
  const services = catalogServices(c);
  const idSvc = services.find((s) => s.type === 'identity');
  if (idSvc) {
    idSvc.urls.public = o.bootstrapPublicUrl ?? idSvc.urls.public;
    idSvc.urls.internal = o.bootstrapInternalUrl ?? o.bootstrapPublicUrl ?? idSvc.urls.internal;
    idSvc.urls.admin = o.bootstrapAdminUrl ?? o.bootstrapPublicUrl ?? idSvc.urls.admin;
  }
  await bootstrap(identity.ctx, {
    adminUser: o.bootstrapUsername, adminPassword: o.bootstrapPassword, adminProject: o.bootstrapProjectName,
    adminRole: o.bootstrapRoleName, region: o.bootstrapRegionId, services,
  });
  await identity.close();
  await database.close();
  process.stdout.write('bootstrap complete\n');
}

export async function fernetCommand(action: 'setup' | 'rotate', o: Opts): Promise<void> {
  const c = configFrom(o);
  const dir = c.identity.key_repository;
  if (action === 'setup') {
    const created = setupKeyRepository(dir, c.identity.max_active_keys);
    process.stdout.write(created ? `created key repository ${dir}\n` : `key repository ${dir} already set up\n`);
  } else {
    setupKeyRepository(dir, c.identity.max_active_keys);
    const r = rotateKeys(dir, c.identity.max_active_keys);
    process.stdout.write(`rotated ${dir}: primary key is now ${r.primary}${r.purged.length ? `, purged ${r.purged.join(', ')}` : ''}\n`);
  }
}

/**
 * `monostack compute-node`: this host as a compute node of a controller elsewhere — only the
 * compute agent, on the controller's database ([database] url) and RabbitMQ ([DEFAULT]
 * transport_url), authenticating as the nova service user against [compute] auth_url.
 */
export async function computeNodeCommand(o: Opts): Promise<void> {
  const c = loadConfig({
    configFile: o.config,
    overrides: { DEFAULT: { data_dir: o.dataDir }, database: { url: o.db }, compute: { host: o.computeHost, auth_url: o.authUrl } },
  });
  mkdirSync(c.DEFAULT.data_dir, { recursive: true, mode: 0o700 });
  const out = (s: string) => process.stdout.write(s + '\n');
  if (!c.DEFAULT.transport_url) out('warning: [DEFAULT] transport_url is empty: an in-process bus reaches no controller');
  const log = createLogger(c.DEFAULT.log_level, join(c.DEFAULT.data_dir, 'logs', 'compute-node.log'));
  const bus = createBus(c.DEFAULT.transport_url);
  await bus.ready(30_000);
  const database = await openDatabase(c.database.url, c.DEFAULT.data_dir);
  const authUrl = c.compute.auth_url || `http://${advertisedHost(c)}:${c.identity.port}/v3`;
  let password = c.compute.service_password;
  if (!password) {
    const file = join(c.DEFAULT.data_dir, 'service-users.json');
    password = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>)[c.compute.service_user] ?? '' : '';
  }
  if (!password) throw new Error('no password for the compute service user: set [compute] service_password');
  const session = new ServiceSession({ authUrl, service: { username: c.compute.service_user, password, projectName: 'service' }, region: c.DEFAULT.region });
  const node = await startComputeNode({ cfg: c, log, bus, database, session });
  // The host's network agent wires this node's ports (L2 and security groups; DHCP and routers
  // stay on the network node), as neutron-linuxbridge-agent does on a compute node.
  const networkAgent = c.network.run_agent ? await startNetworkAgent({ cfg: c, bus }, log, { networkNode: false }) : undefined;
  out(`compute-node ${node.agent.host} (${c.compute.compute_driver}) on ${database.display}, identity ${authUrl}` + (networkAgent ? `, network agent (${networkAgent.dataplane.name})` : ''));
  out('monostack compute node ready');
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    try {
      await networkAgent?.stop();
      await node.close();
      await bus.close();
      await database.close();
      log.flush?.();
    } finally {
      out('monostack compute node stopped');
      process.exit(0);
    }
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}
