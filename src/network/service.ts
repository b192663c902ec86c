// The network service (Neutron v2.0 API, as Neutron 21 / Zed with ML2): networks, subnets, subnet
// pools, ports with IPAM, security groups, quotas, agents, availability zones, tags, RBAC and IP
// availability on one Fastify app. Callers authenticate with Keystone tokens (common/auth); GET /
// (version discovery) needs none. Errors are {"NeutronError": {"type", "message", "detail"}}.
// The data plane (DHCP, L2 wiring) is not here: agents report into neutron_agents.

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
}

export interface NetworkService {
  app: FastifyInstance;
  ctx: NetworkContext;
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
  await app.ready();
  return {
    app, ctx,
    async listen(host: string, port: number) {
      await app.listen({ host, port });
      const addr = app.server.address();
      return typeof addr === 'object' && addr ? addr.port : port;
    },
    async close() { await app.close(); },
  };
}
