// The identity service: database migrations, Fernet keys, policy, token machinery and the
// Keystone v3 routes on one Fastify app, listening on the public port and the legacy admin port.

import { createServer, type Server } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../common/config.js';
import type { Logger } from '../common/log.js';
import type { Bus } from '../common/bus/index.js';
import { migrateService, type Database } from '../common/db/index.js';
import { createApiServer } from '../common/http/server.js';
import { keystoneFault } from '../common/errors.js';
import { Enforcer } from '../common/policy/enforcer.js';
import { identityPolicies } from './policy.js';
import { identityMigrations } from './store/index.js';
import { Hooks, type IdentityContext } from './context.js';
import { KeyRepository, setupKeyRepository } from './token/keys.js';
import { TokenFormatter } from './token/formatter.js';
import { TokenService } from './tokens.js';
import { Revocations } from './revocations.js';
import { Authenticator } from './authenticate.js';
import { registerVersion } from './api/version.js';
import { registerAuth } from './api/auth.js';
import { registerProjects } from './api/projects.js';
import { registerUsers } from './api/users.js';
import { registerRoles } from './api/roles.js';
import { registerCatalog } from './api/catalog.js';
import { registerRevokeEvents } from './api/revoke.js';
import { registerExtensions } from './extensions.js';

export interface IdentityService {
  ctx: IdentityContext;
  app: FastifyInstance;
  tokens: TokenService;
  authn: Authenticator;
  listen(host: string, port: number, adminPort?: number): Promise<void>;
  close(): Promise<void>;
}

export async function createIdentityService(cfg: Config, log: Logger, bus: Bus, database: Database): Promise<IdentityService> {
  await migrateService(database, 'identity', identityMigrations);
  setupKeyRepository(cfg.identity.key_repository, cfg.identity.max_active_keys);
  const keys = new KeyRepository(cfg.identity.key_repository);

  const ctx: IdentityContext = {
    db: database.db,
    engine: database.engine,
    cfg,
    log: log.child({ service: 'identity' }),
    bus,
    policy: new Enforcer(identityPolicies, {
      policyFile: cfg.identity.policy_file || undefined,
      enforceScope: cfg.identity.enforce_scope,
      enforceNewDefaults: cfg.identity.enforce_new_defaults,
    }),
    generation: 0,
    changed() { this.generation++; },
    hooks: new Hooks(),
  };
  const revocations = new Revocations(ctx);
  await revocations.load();
  const formatter = new TokenFormatter(() => keys.keys(), { authMethods: cfg.identity.auth_methods });
  const tokens = new TokenService(ctx, formatter, revocations);
  const authn = new Authenticator(ctx, tokens);

  const app = createApiServer({ name: 'identity', fault: keystoneFault, logger: log, bodyLimit: cfg.DEFAULT.max_request_body_size, headers: { Vary: 'X-Auth-Token' }, untypedBodiesAreJson: true });
  app.addHook('onRequest', async (req, reply) => {
    const tok = req.headers['x-auth-token'];
    if (typeof tok === 'string' && tok) {
      try {
        req.auth = await tokens.validate(tok);
      } catch {
        req.auth = undefined; // routes that need a caller answer 401
      }
    }
    void reply;
  });
  // Keystone advertises where to authenticate on every 401.
  app.addHook('onSend', async (req, reply, payload) => {
    if (reply.statusCode === 401) reply.header('WWW-Authenticate', `Keystone uri="${req.protocol}://${req.host}"`);
    return payload;
  });

  registerVersion(app);
  registerAuth(app, ctx, tokens, authn);
  registerProjects(app, ctx, revocations);
  registerUsers(app, ctx, revocations);
  registerRoles(app, ctx, revocations);
  registerCatalog(app, ctx);
  registerRevokeEvents(app, ctx, revocations);
  await registerExtensions(app, ctx, tokens, authn, revocations);
  await app.ready();

  // Revocation events only matter while a token they could match is alive: drop older ones hourly,
  // so the table (and the in-memory list every validation scans) stays small.
  const purgeTimer = setInterval(() => {
    void revocations.purgeExpired(cfg.identity.token_expiration + cfg.identity.allow_expired_window)
      .catch((err: unknown) => ctx.log.warn({ err }, 'revocation purge failed'));
  }, 3600_000);
  purgeTimer.unref();

  let adminServer: Server | undefined;
  return {
    ctx, app, tokens, authn,
    async listen(host: string, port: number, adminPort?: number) {
      await app.listen({ host, port });
      if (adminPort) {
        adminServer = createServer((req, res) => app.routing(req, res));
        adminServer.keepAliveTimeout = 75_000;
        await new Promise<void>((resolve, reject) => {
          adminServer!.once('error', reject);
          adminServer!.listen(adminPort, host, () => resolve());
        });
      }
    },
    async close() {
      clearInterval(purgeTimer);
      if (adminServer) await new Promise<void>((r) => adminServer!.close(() => r()));
      await app.close();
    },
  };
}
