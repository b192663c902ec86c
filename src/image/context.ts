// What every part of the image service shares (database, configuration, policy, stores, the
// hashing threads) and who is calling (RequestContext, Glance's glance.context.RequestContext).

import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { FastifyRequest } from 'fastify';
import type { Config } from '../common/config.js';
import type { Logger } from '../common/log.js';
import type { Bus } from '../common/bus/index.js';
import type { Engine } from '../common/db/index.js';
import type { Enforcer, Credentials } from '../common/policy/enforcer.js';
import type { StoreRegistry } from './stores/index.js';
import type { HashPool } from './hashing.js';
import type { Readable } from 'node:stream';
export { inBackground, isotime, nowIso, parseJson } from './util.js';
import { bare } from './errors.js';

/** [image] options with the data-directory defaults resolved. */
export interface ImageOptions {
  storeDir: string;
  stagingDir: string;
  cacheDir: string | null;
  /** Seconds between prefetcher runs (cache.ts). */
  cachePrefetchInterval: number;
  imageSizeCap: number;
  /** Seconds an upload may receive nothing before it is dropped (0: no limit). */
  uploadIdleTimeout: number;
  userStorageQuota: number;
  memberQuota: number;
  propertyQuota: number;
  tagQuota: number;
  locationQuota: number;
  showMultipleLocations: boolean;
  showDirectUrl: boolean;
  hashingAlgorithm: string;
  requireFormatMatch: boolean;
  importMethods: string[];
  webDownloadHosts: string[];
  webDownloadPorts: number[];
  limitDefault: number;
  limitMax: number;
  taskTtlHours: number;
  secureRbac: boolean;
  diskFormats: string[];
  containerFormats: string[];
  region: string;
}

export function imageOptions(cfg: Config): ImageOptions {
  const c = cfg.image;
  const dataDir = cfg.DEFAULT.data_dir;
  return {
    storeDir: c.filesystem_store_datadir || join(dataDir, 'images'),
    stagingDir: c.staging_dir || join(dataDir, 'image-staging'),
    cacheDir: c.cache_enabled ? c.cache_dir || join(dataDir, 'image-cache') : null,
    cachePrefetchInterval: c.cache_prefetcher_interval,
    imageSizeCap: c.image_size_cap,
    uploadIdleTimeout: c.upload_idle_timeout,
    userStorageQuota: c.user_storage_quota,
    memberQuota: c.image_member_quota,
    propertyQuota: c.image_property_quota,
    tagQuota: c.image_tag_quota,
    locationQuota: c.image_location_quota,
    showMultipleLocations: c.show_multiple_locations,
    showDirectUrl: c.show_image_direct_url,
    hashingAlgorithm: c.hashing_algorithm,
    requireFormatMatch: c.require_image_format_match,
    importMethods: c.enabled_import_methods,
    webDownloadHosts: c.web_download_allowed_hosts.map((h) => h.toLowerCase().replace(/^\[|\]$/g, '')),
    webDownloadPorts: c.web_download_allowed_ports.map(Number).filter((n) => Number.isInteger(n)),
    limitDefault: c.limit_param_default,
    limitMax: c.api_limit_max,
    taskTtlHours: c.task_time_to_live,
    secureRbac: c.enforce_new_defaults,
    diskFormats: c.disk_formats,
    containerFormats: c.container_formats,
    region: cfg.DEFAULT.region,
  };
}

/** The image cache (cache.ts), as the API and downloads use it. */
export interface ImageCacheApi {
  cachedImages(): Array<Record<string, unknown>>;
  queuedImages(): string[];
  isCached(id: string): boolean;
  queue(id: string): Promise<void>;
  /** One prefetcher run now (it also runs every cache_prefetcher_interval seconds). */
  prefetch(): void;
  read(id: string, start: number, end?: number): Promise<Readable | null>;
  deleteCached(id: string): Promise<void>;
  deleteQueued(id: string): Promise<void>;
  clearCached(): Promise<number>;
  clearQueued(): Promise<number>;
}

export interface ImageContext {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  db: Kysely<any>;
  engine: Engine;
  cfg: Config;
  opts: ImageOptions;
  log: Logger;
  bus: Bus;
  policy: Enforcer;
  stores: StoreRegistry;
  hashers: HashPool;
  /** The image cache, when enabled. */
  cache: ImageCacheApi | null;
  /** Background work (imports, cache fills) still running, so close() can wait for it. */
  background: Set<Promise<unknown>>;
}

/** The caller, as Glance's RequestContext has it. */
export interface RequestContext {
  requestId: string;
  token: string;
  userId: string;
  /** The project the token is scoped to (Glance's context.owner). */
  owner: string | null;
  roles: string[];
  isAdmin: boolean;
  creds: Credentials;
  catalog: unknown[];
}

export function requestContext(ctx: ImageContext, req: FastifyRequest): RequestContext {
  const c = req.caller;
  if (!c) throw bare('Unauthorized');
  const roles = c.roles.map((r) => r.toLowerCase());
  const creds: Credentials = { ...c.credentials, roles, project_id: c.projectId, user_id: c.userId };
  const isAdmin = ctx.policy.check('context_is_admin', { ...creds }, creds);
  return { requestId: req.id, token: c.token, userId: c.userId, owner: c.projectId, roles, isAdmin, creds, catalog: c.catalog };
}

