// The compute service (Nova v2.1 with microversions): migrations, policy, the API routes on one
// Fastify app, and the conductor that turns API requests into work for the compute agents over
// the bus. Callers authenticate with Keystone tokens (common/auth); other services (placement,
// image, network) are reached through the nova service user's session and the catalog.

import type { FastifyInstance } from 'fastify';
import type { Config } from '../common/config.js';
import type { Logger } from '../common/log.js';
import type { Bus } from '../common/bus/index.js';
import { migrateService, type Database } from '../common/db/index.js';
import { createApiServer } from '../common/http/server.js';
import { novaFault } from '../common/errors.js';
import { Enforcer } from '../common/policy/enforcer.js';
import { installAuth, type TokenValidator } from '../common/auth/middleware.js';
import type { ServiceSession } from '../common/auth/session.js';
import { computePolicies } from './policy.js';
import { computeMigrations } from './store/index.js';
import { computeOptions, type ComputeContext } from './context.js';
import { negotiateMicroversion } from './api/microversion.js';
import { isDiscovery, registerVersions } from './api/versions.js';
import { registerApi } from './api/index.js';
import { ComputeAgent } from './agent/manager.js';
import { ImageServiceSource } from './agent/images.js';
import { createDriver } from './agent/drivers/index.js';
import { startConsoleProxy, type ConsoleProxy } from './console/proxy.js';
import { startMetadataServer, type MetadataServer } from './metadata/server.js';
import { configDriveFilesFor, metadataSettings } from './metadata/source.js';
import { resolveConsoleToken } from './console/tokens.js';
import { callAgent } from './conductor.js';
import { getInstance } from './store/instances.js';
import { heartbeat } from './store/services.js';
import type { VncConsole } from './agent/driver.js';

export interface ComputeServiceDeps {
  cfg: Config;
  log: Logger;
  bus: Bus;
  database: Database;
  validator: TokenValidator;
  session: ServiceSession;
}

export interface ComputeService {
  app: FastifyInstance;
  ctx: ComputeContext;
  /** This host's agent, when [compute] run_agent is on. */
  agent: ComputeAgent | null;
  listen(host: string, port: number): Promise<number>;
  close(): Promise<void>;
}

function computeContext(deps: Omit<ComputeServiceDeps, 'validator'>): ComputeContext {
  const { cfg, database } = deps;
  return {
    db: database.db, engine: database.engine, cfg, opts: computeOptions(cfg), log: deps.log.child({ service: 'compute' }), bus: deps.bus,
    policy: new Enforcer(computePolicies, {
      policyFile: cfg.compute.policy_file || undefined,
      enforceScope: cfg.compute.enforce_scope,
      enforceNewDefaults: cfg.compute.enforce_new_defaults,
    }),
    session: deps.session,
    background: new Set(),
  };
}

/** This host's agent with the driver [compute] compute_driver names, started (registered, reconciled, consuming). */
async function startAgent(ctx: ComputeContext, session: ServiceSession): Promise<ComputeAgent> {
  const c = ctx.cfg.compute;
  const settings = metadataSettings(ctx.cfg);
  const driver = createDriver(ctx.opts.driver, {
    instancesPath: ctx.opts.instancesPath, virtType: ctx.opts.virtType as 'auto' | 'kvm' | 'tcg', cleanShutdownTimeoutSec: c.shutdown_timeout,
    resources: { vcpus: c.vcpus, memoryMb: c.memory_mb, diskGb: c.disk_gb }, log: ctx.log.child({ component: 'driver' }),
    // The config drive holds the metadata service's documents, made from the same rows.
    configDriveFiles: (spec) => configDriveFilesFor(ctx.db, spec, settings),
  });
  const agent = new ComputeAgent(ctx, driver, new ImageServiceSource(session), { host: ctx.opts.host });
  await agent.start();
  await ctx.bus.ready(30_000);
  return agent;
}

/**
 * A compute node (nova-compute alone): the agent of this host, on the controller's database and
 * message bus, reaching Placement and the image service through the catalog.
 */
export async function startComputeNode(deps: Omit<ComputeServiceDeps, 'validator'>): Promise<{ agent: ComputeAgent; close(): Promise<void> }> {
  await migrateService(deps.database, 'compute', computeMigrations);
  const ctx = computeContext(deps);
  const agent = await startAgent(ctx, deps.session);
  return { agent, async close() { await agent.stop(); await Promise.allSettled([...ctx.background]); } };
}

export async function createComputeService(deps: ComputeServiceDeps): Promise<ComputeService> {
  const { cfg, database } = deps;
  await migrateService(database, 'compute', computeMigrations);
  const ctx = computeContext(deps);
  const log = ctx.log;
  const metadataDocs = metadataSettings(cfg); // fails at start on a bad vendordata file

  const app = createApiServer({ name: 'compute', fault: novaFault, logger: deps.log, bodyLimit: cfg.DEFAULT.max_request_body_size, untypedBodiesAreJson: true,
    // Legacy URLs with the project id (/v2.1/{project_id}/servers) are the same API.
    rewriteUrl: (url) => url.replace(/^\/v2(?:\.1)?\/[0-9a-f]{32}(?=\/|\?|$)/, '/v2.1'),
  });
  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-compute-request-id', req.id); // Nova sends both request-id headers
    negotiateMicroversion(req, reply);
  });
  installAuth(app, deps.validator, (req) => isDiscovery(req.url));
  registerVersions(app);
  // Every API route lives under /v2.1 (the catalog's URL); modules register paths such as /servers.
  await app.register(async (api) => registerApi(api, ctx), { prefix: '/v2.1' });
  await app.ready();

  // The scheduler and conductor run in this process: they are services of this host, as in Nova.
  const heartbeat = await registerControlServices(ctx);

  let agent: ComputeAgent | null = null;
  if (cfg.compute.run_agent) {
    try {
      agent = await startAgent(ctx, deps.session);
    } catch (e) {
      clearInterval(heartbeat);
      await app.close();
      throw e;
    }
  }

  // The noVNC proxy: a console token names an instance; its agent says where the VNC server is.
  let consoleProxy: ConsoleProxy | null = null;
  let metadata: MetadataServer | null = null;
  const resolveTarget = async (token: string) => {
    const t = await resolveConsoleToken(ctx, token);
    if (!t) return null;
    const inst = await getInstance(ctx.db, t.instanceUuid);
    if (!inst || inst.host !== t.host) return null;
    const vnc = await callAgent<VncConsole>(ctx, inst, 'vnc_console');
    return vnc.path ? { path: vnc.path } : { host: vnc.host, port: vnc.port };
  };

  return {
    app, ctx, agent,
    async listen(host: string, port: number) {
      await app.listen({ host, port });
      const addr = app.server.address();
      if (cfg.compute.novncproxy_port > 0) {
        consoleProxy = await startConsoleProxy({ host, port: cfg.compute.novncproxy_port, log: log.child({ component: 'novncproxy' }), resolve: resolveTarget });
      }
      // The metadata API (nova-api-metadata): same database and context as the API.
      if (cfg.compute.metadata_port > 0) {
        metadata = await startMetadataServer({
          ctx, host: cfg.compute.metadata_listen || host, port: cfg.compute.metadata_port,
          sharedSecret: cfg.compute.metadata_proxy_shared_secret, ...metadataDocs,
        });
      }
      return typeof addr === 'object' && addr ? addr.port : port;
    },
    async close() {
      clearInterval(heartbeat);
      await consoleProxy?.close();
      await metadata?.close();
      await app.close();
      await Promise.allSettled([...ctx.background]);
      await agent?.stop();
    },
  };
}

/** nova-scheduler and nova-conductor rows for this host (internal zone), kept up by a heartbeat. */
async function registerControlServices(ctx: ComputeContext): Promise<NodeJS.Timeout> {
  const beat = async () => {
    for (const binary of ['nova-scheduler', 'nova-conductor']) await heartbeat(ctx.db, ctx.opts.host, binary);
  };
  await beat();
  const t = setInterval(() => { void beat().catch((e) => ctx.log.warn({ err: e }, 'service heartbeat failed')); }, 10_000);
  t.unref();
  return t;
}
