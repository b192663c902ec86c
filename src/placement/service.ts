// The placement service (Placement 1.x, as Placement 8 / Zed): resource providers, inventories,
// resource classes, traits, aggregates, allocations, usages and allocation candidates on one
// Fastify app. Callers authenticate with Keystone tokens (common/auth); GET / (version discovery)
// needs none. Microversions 1.0-1.39 are negotiated per request; errors are Placement's
// {"errors": [...]} bodies with codes from 1.23.

import type { FastifyInstance } from 'fastify';
import type { Config } from '../common/config.js';
import type { Logger } from '../common/log.js';
import type { Bus } from '../common/bus/index.js';
import { migrateService, type Database } from '../common/db/index.js';
import { createApiServer } from '../common/http/server.js';
import { Enforcer } from '../common/policy/enforcer.js';
import { installAuth, type TokenValidator } from '../common/auth/middleware.js';
import { placementPolicies } from './policy.js';
import { placementMigrations } from './store/index.js';
import type { PlacementContext } from './context.js';
import { badRequest, installPlacementHttp, parseVersionHeader } from './api/http.js';
import { registerRoutes } from './api/router.js';
import { rootRoutes } from './api/root.js';
import { providerRoutes } from './api/providers.js';
import { classRoutes } from './api/classes.js';
import { allocationRoutes } from './api/allocations.js';
import { candidateRoutes } from './api/candidates.js';

export interface PlacementServiceDeps {
  cfg: Config;
  log: Logger;
  bus: Bus;
  database: Database;
  validator: TokenValidator;
  /** The identity API (http://host:5000/v3), advertised in WWW-Authenticate. */
  authUrl: string;
}

export interface PlacementService {
  app: FastifyInstance;
  ctx: PlacementContext;
  listen(host: string, port: number): Promise<number>;
  close(): Promise<void>;
}

/** Placement's [placement] incomplete_consumer_project_id / _user_id defaults (consumers written before 1.8). */
const INCOMPLETE_CONSUMER = '00000000-0000-0000-0000-000000000000';

export async function createPlacementService(deps: PlacementServiceDeps): Promise<PlacementService> {
  const { cfg, database } = deps;
  const log = deps.log.child({ service: 'placement' });
  await migrateService(database, 'placement', placementMigrations);
  const ctx: PlacementContext = {
    db: database.db, engine: database.engine, cfg, log,
    policy: new Enforcer(placementPolicies, {
      policyFile: cfg.placement.policy_file || undefined,
      enforceScope: cfg.placement.enforce_scope,
      enforceNewDefaults: cfg.placement.enforce_new_defaults,
    }),
    incompleteProject: INCOMPLETE_CONSUMER,
    incompleteUser: INCOMPLETE_CONSUMER,
  };

  // The fault formatter's body is replaced by installPlacementHttp's renderer (it needs the request).
  const app = createApiServer({ name: 'placement', fault: () => ({}), logger: deps.log, bodyLimit: cfg.DEFAULT.max_request_body_size });
  const identityRoot = deps.authUrl.replace(/\/v3\/?$/, '');
  installPlacementHttp(app, () => `Keystone uri="${identityRoot}"`);
  // keystonemiddleware first (GET / is public), then microversion_parse, then Placement's checks.
  installAuth(app, deps.validator, (req) => req.method === 'GET' && (req.url === '/' || req.url.startsWith('/?')));
  app.addHook('onRequest', async (req) => {
    req.placementVersion = parseVersionHeader(req.headers['openstack-api-version']);
    const clen = req.headers['content-length'];
    if (clen !== undefined) {
      if (!/^\d+$/.test(clen)) throw badRequest('content-length header must be an integer');
      if (Number(clen) > 0 && !req.headers['content-type']) throw badRequest('content-type header required when content-length > 0');
    }
  });

  registerRoutes(app, { ...rootRoutes(), ...providerRoutes(ctx), ...classRoutes(ctx), ...allocationRoutes(ctx), ...candidateRoutes(ctx) });
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
