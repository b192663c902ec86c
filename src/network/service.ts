// The network service (Neutron v2.0 API, as Neutron 21 / Zed with ML2): networks, subnets, subnet
// pools, ports with IPAM, security groups, quotas, agents, availability zones, tags, RBAC and IP
// availability on one Fastify app. Callers authenticate with Keystone tokens (common/auth); GET /
// (version discovery) needs none. Errors are {"NeutronError": {"type", "message", "detail"}}.
// The data plane is the agents' (agent/): every write that succeeds tells them to sync
// (agents-rpc.ts), and this process runs its own host's agent unless [network] run_agent is off.

import type { FastifyInstance } from 'fastify';
import type { Config } from '../common/config.js';
import type { Logger } from '../common/log.js';
import type { Bus } from '../common/bus/index.js';
import { migrateService, type Database } from '../common/db/index.js';
import { createApiServer } from '../common/http/server.js';
import { Enforcer } from '../common/policy/enforcer.js';
import { installAuth, type TokenValidator } from '../common/auth/middleware.js';
import { networkPolicies } from './policy.js';
import { networkMigrations } from './store/index.js';
import type { NetworkContext } from './context.js';
import { neutronFault } from './api/http.js';
import { registerRoutes, type ApiModule } from './api/router.js';
import { API_MODULES, withRoot } from './api/modules.js';
import type { ServiceSession } from '../common/auth/session.js';
import { AgentsRpc } from './agents-rpc.js';
import { routerSource } from './l3-rpc.js';
import { createServicePort } from './api/ports.js';
import { NetworkAgent } from './agent/manager.js';
import { createDataplane } from './agent/index.js';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';

export interface NetworkServiceDeps {
  cfg: Config;
  log: Logger;
  bus: Bus;
  database: Database;
  validator: TokenValidator;
  /** The identity API (http://host:5000/v3), advertised in WWW-Authenticate. */
  authUrl: string;
  /** API modules to serve (default: all of API_MODULES). */
  modules?: ApiModule[];
  /** The neutron service user's session (external events to compute); none: no events sent. */
  session?: ServiceSession;
}

export interface NetworkService {
  app: FastifyInstance;
  ctx: NetworkContext;
  rpc: AgentsRpc;
  /** This host's agent, when [network] run_agent. */
  agent?: NetworkAgent;
  listen(host: string, port: number): Promise<number>;
  close(): Promise<void>;
}

export async function createNetworkService(deps: NetworkServiceDeps): Promise<NetworkService> {
  const { cfg, database } = deps;
  const log = deps.log.child({ service: 'network' });
  await migrateService(database, 'network', networkMigrations);
  const ctx: NetworkContext = {
    db: database.db, engine: database.engine, cfg, log,
    policy: new Enforcer(networkPolicies, {
      policyFile: cfg.network.policy_file || undefined,
      enforceScope: cfg.network.enforce_scope,
      enforceNewDefaults: cfg.network.enforce_new_defaults,
    }),
  };
  const app = createApiServer({ name: 'network', fault: neutronFault, logger: deps.log, bodyLimit: cfg.DEFAULT.max_request_body_size, untypedBodiesAreJson: true });
  const identityRoot = deps.authUrl.replace(/\/v3\/?$/, '');
  installAuth(app, deps.validator, (req) => req.method === 'GET' && (req.url === '/' || req.url.startsWith('/?')));
  app.addHook('onSend', async (req, reply) => {
    if (reply.statusCode === 401) reply.header('WWW-Authenticate', `Keystone uri="${identityRoot}"`);
  });
  for (const m of withRoot(deps.modules ?? API_MODULES)) registerRoutes(app, m.routes(ctx));
  // Agents converge on every successful write.
  const rpc = new AgentsRpc(ctx, deps.bus, { session: deps.session, routers: routerSource });
  rpc.createPort = async (p) => { await createServicePort(ctx, p); };
  app.addHook('onResponse', async (req, reply) => {
    if (req.method !== 'GET' && req.method !== 'HEAD' && reply.statusCode < 400) rpc.changed();
  });
  rpc.start();
  await app.ready();
  const agent = cfg.network.run_agent ? await startAgent(deps, log) : undefined;
  return {
    app, ctx, rpc, agent,
    async listen(host: string, port: number) {
      await app.listen({ host, port });
      const addr = app.server.address();
      return typeof addr === 'object' && addr ? addr.port : port;
    },
    async close() {
      await agent?.stop();
      rpc.stop();
      await app.close();
    },
  };
}

/** The data-plane driver in force: as configured, else linuxbridge for root and noop otherwise. */
export function dataplaneKind(cfg: Config): 'linuxbridge' | 'noop' {
  const k = cfg.network.dataplane;
  if (k === 'linuxbridge' || k === 'noop') return k;
  if (k) throw new Error(`[network] dataplane must be linuxbridge or noop, not ${JSON.stringify(k)}`);
  return process.getuid?.() === 0 ? 'linuxbridge' : 'noop';
}

/** This host's network agent (the same one `monostack compute-node` runs, without DHCP and routers there). */
export async function startAgent(deps: { cfg: Config; bus: Bus }, log: Logger, opts: { networkNode?: boolean } = {}): Promise<NetworkAgent> {
  const { cfg } = deps;
  const kind = dataplaneKind(cfg);
  const stateDir = join(cfg.DEFAULT.data_dir, 'network');
  const networkNode = opts.networkNode ?? cfg.network.network_node;
  const mappings = Object.fromEntries(cfg.network.physical_interface_mappings.map((m) => m.split(':') as [string, string]));
  const metadataSocket = join(stateDir, 'metadata.sock');
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const secret = cfg.compute.metadata_proxy_shared_secret;
  const withMetadata = networkNode && kind === 'linuxbridge' && !!secret;
  // A security-group change is applied without re-listing the host (links, namespaces, daemons),
  // which is checked again at least every 10 s and on every other change.
  const dataplane = createDataplane(kind, { stateDir, physicalInterfaceMappings: mappings, hostCheckIntervalMs: 10_000, ...(withMetadata ? { metadataSocket } : {}) });
  const metadataHost = cfg.compute.metadata_listen || (cfg.DEFAULT.host === '0.0.0.0' ? '127.0.0.1' : cfg.DEFAULT.host);
  const agent = new NetworkAgent(deps.bus, dataplane, log.child({ component: 'network-agent' }), {
    host: cfg.compute.host || hostname(), networkNode, resyncSec: cfg.network.agent_resync_interval,
    ...(withMetadata ? { metadata: { socketPath: metadataSocket, novaMetadataUrl: `http://${metadataHost}:${cfg.compute.metadata_port}`, sharedSecret: secret } } : {}),
  });
  await agent.start();
  log.info({ dataplane: kind, host: cfg.compute.host || hostname(), networkNode, metadata: withMetadata }, 'network agent started');
  return agent;
}
