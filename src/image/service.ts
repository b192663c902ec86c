// The image service (Glance v2): migrations, stores, hashing threads, the cache, policy and the
// API routes on one Fastify app. Callers authenticate with Keystone tokens (common/auth), errors
// are webob's as Glance gives them, and version discovery at / and /versions needs no token.

import { mkdir } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../common/config.js';
import type { Logger } from '../common/log.js';
import type { Bus } from '../common/bus/index.js';
import { migrateService, type Database } from '../common/db/index.js';
import { createApiServer } from '../common/http/server.js';
import { glanceFault } from '../common/errors.js';
import { Enforcer } from '../common/policy/enforcer.js';
import { installAuth, type TokenValidator } from '../common/auth/middleware.js';
import { imagePolicies } from './policy.js';
import { imageMigrations } from './store/index.js';
import { imageOptions, type ImageContext } from './context.js';
import { createStores } from './stores/index.js';
import { downloadPath, SENDFILE_MODES, setSendfileMode, type SendfileMode } from './stores/sendfile.js';
import { HashPool } from './hashing.js';
import { ImageCache } from './cache.js';
import { GLANCE_SCHEMAS } from './api/schemas/glance-schemas.js';
import { bare } from './errors.js';
import { installGlanceFaults } from './api/faults.js';
import { installBodyParsing } from './api/http.js';
import { negotiateVersion, registerDiscovery } from './api/discovery.js';
import { registerImages } from './api/images.js';
import { registerMembers } from './api/members.js';
import { registerCache } from './api/cache.js';
import { registerTasks } from './api/tasks.js';
import { registerMetadefs } from './api/metadefs.js';
import { recoverInterrupted } from './recovery.js';
import { purgeExpiredTasks } from './store/tasks.js';

export interface ImageServiceDeps {
  cfg: Config;
  log: Logger;
  bus: Bus;
  database: Database;
  validator: TokenValidator;
  /** The identity API (http://host:5000/v3), advertised in WWW-Authenticate. */
  authUrl: string;
}

export interface ImageService {
  app: FastifyInstance;
  ctx: ImageContext;
  listen(host: string, port: number): Promise<number>;
  close(): Promise<void>;
}

/** The image schema's format enums follow [image] disk_formats / container_formats. */
function configureSchemas(diskFormats: string[], containerFormats: string[]): void {
  for (const name of ['image', 'images']) {
    const s = GLANCE_SCHEMAS[name];
    const props = name === 'image' ? s.properties : s.properties.images.items.properties;
    props.disk_format.enum = [null, ...diskFormats];
    props.container_format.enum = [null, ...containerFormats];
  }
}

export async function createImageService(deps: ImageServiceDeps): Promise<ImageService> {
  const { cfg, database } = deps;
  const log = deps.log.child({ service: 'image' });
  await migrateService(database, 'image', imageMigrations);
  const opts = imageOptions(cfg);
  configureSchemas(opts.diskFormats, opts.containerFormats);
  await mkdir(opts.stagingDir, { recursive: true, mode: 0o750 });
  const stores = await createStores({
    enabled: cfg.image.enabled_backends, defaultId: cfg.image.default_backend, storeDir: opts.storeDir,
    httpHosts: opts.webDownloadHosts, httpPorts: opts.webDownloadPorts,
  });
  const ctx: ImageContext = {
    db: database.db, engine: database.engine, cfg, opts, log, bus: deps.bus,
    policy: new Enforcer(imagePolicies, {
      policyFile: cfg.image.policy_file || undefined,
      enforceScope: cfg.image.enforce_scope,
      enforceNewDefaults: cfg.image.enforce_new_defaults,
    }),
    stores, hashers: new HashPool(), cache: null, background: new Set(),
  };
  const sendfileMode = cfg.image.download_sendfile as SendfileMode;
  if (!SENDFILE_MODES.includes(sendfileMode)) throw new Error(`[image] download_sendfile must be one of ${SENDFILE_MODES.join(', ')}, not '${cfg.image.download_sendfile}'`);
  setSendfileMode(sendfileMode);
  await recoverInterrupted(ctx);
  await purgeExpiredTasks(ctx.db);
  let cache: ImageCache | null = null;
  if (opts.cacheDir) {
    cache = new ImageCache(ctx, opts.cacheDir, opts.cachePrefetchInterval);
    await cache.init();
    ctx.cache = cache;
  }

  const app = createApiServer({ name: 'image', fault: glanceFault, logger: deps.log, bodyLimit: cfg.DEFAULT.max_request_body_size });
  installBodyParsing(app, cfg.DEFAULT.max_request_body_size);
  const identityRoot = deps.authUrl.replace(/\/v3\/?$/, '');
  installGlanceFaults(app, () => `Keystone uri="${identityRoot}"`);
  // Version negotiation comes before authentication, as in Glance's paste pipeline.
  app.addHook('onRequest', async (req, reply) => {
    if (negotiateVersion(ctx, req, reply)) return reply;
  });
  installAuth(app, deps.validator, () => false);
  // Glance's routes do not match a trailing slash (GET /v2/images/ is 404, not the list).
  app.addHook('onRequest', async (req) => {
    const path = req.url.split('?')[0]!;
    if (path.length > 1 && path.endsWith('/')) throw bare('NotFound');
  });

  registerDiscovery(app, ctx);
  registerImages(app, ctx);
  registerMembers(app, ctx);
  registerTasks(app, ctx);
  registerCache(app, ctx);
  registerMetadefs(app, ctx);
  await app.ready();

  const purge = setInterval(() => { void purgeExpiredTasks(ctx.db).catch(() => undefined); }, 3600_000);
  purge.unref();

  return {
    app, ctx,
    async listen(host: string, port: number) {
      await app.listen({ host, port });
      log.info(`image downloads from the file store: ${downloadPath()}`);
      const addr = app.server.address();
      return typeof addr === 'object' && addr ? addr.port : port;
    },
    async close() {
      clearInterval(purge);
      cache?.stop();
      await app.close();
      await Promise.allSettled([...ctx.background]);
      await ctx.hashers.close();
    },
  };
}
