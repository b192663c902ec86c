// The API services `monostack up` can run besides identity. Each entry says how the service is
// registered in the catalog, which service user it authenticates as (the seed note's glance,
// nova, neutron... users in the `service` project), and how to start it. A service validates its
// callers' tokens through common/auth's TokenValidator against the identity API, and finds other
// services through the catalog, so the same module runs on another host unchanged.

import type { Config } from '../common/config.js';
import type { Logger } from '../common/log.js';
import type { Bus } from '../common/bus/index.js';
import type { Database } from '../common/db/index.js';
import type { TokenValidator } from '../common/auth/middleware.js';
import { createImageService } from '../image/service.js';
import { createComputeService } from '../compute/service.js';
import { createPlacementService } from '../placement/service.js';
import { createNetworkService } from '../network/service.js';
import { ServiceSession } from '../common/auth/session.js';

export interface ServiceDeps {
  cfg: Config; log: Logger; bus: Bus; database: Database; validator: TokenValidator;
  /** The identity API (http://host:5000/v3), for service-to-service calls through the catalog. */
  authUrl: string;
  service: { username: string; password: string; projectName: string };
}

export interface RunningService { close(): Promise<void> }

export interface ServiceModule {
  /** The name in [DEFAULT] enabled_services. */
  name: string;
  /** The service user of the seed note (glance, nova, ...). */
  user: string;
  catalog: { type: string; name: string; description: string; port: (c: Config) => number; path: string };
  start(deps: ServiceDeps, host: string): Promise<RunningService>;
}

/**
 * A service whose listen failed (a port taken) is closed before the error goes up: its timers,
 * servers already bound and background work would otherwise keep the process alive for ever.
 */
async function listening<S extends RunningService>(svc: S, listen: () => Promise<unknown>): Promise<S> {
  try {
    await listen();
  } catch (e) {
    await svc.close().catch(() => undefined);
    throw e;
  }
  return svc;
}

/** Every service module, in start order. Identity is started by `up` itself, before these. */
export const SERVICE_MODULES: ServiceModule[] = [
  {
    name: 'image',
    user: 'glance',
    catalog: { type: 'image', name: 'glance', description: 'OpenStack Image (monostack)', port: (c) => c.image.port, path: '' },
    async start(deps, host) {
      const svc = await createImageService({ cfg: deps.cfg, log: deps.log, bus: deps.bus, database: deps.database, validator: deps.validator, authUrl: deps.authUrl });
      return listening(svc, () => svc.listen(host, deps.cfg.image.port));
    },
  },
  {
    name: 'placement',
    user: 'placement',
    catalog: { type: 'placement', name: 'placement', description: 'OpenStack Placement (monostack)', port: (c) => c.placement.port, path: '' },
    async start(deps, host) {
      const svc = await createPlacementService({ cfg: deps.cfg, log: deps.log, bus: deps.bus, database: deps.database, validator: deps.validator, authUrl: deps.authUrl });
      return listening(svc, () => svc.listen(host, deps.cfg.placement.port));
    },
  },
  {
    name: 'network',
    user: 'neutron',
    catalog: { type: 'network', name: 'neutron', description: 'OpenStack Networking (monostack)', port: (c) => c.network.port, path: '' },
    async start(deps, host) {
      const session = new ServiceSession({ authUrl: deps.authUrl, service: deps.service, region: deps.cfg.DEFAULT.region });
      const svc = await createNetworkService({ cfg: deps.cfg, log: deps.log, bus: deps.bus, database: deps.database, validator: deps.validator, authUrl: deps.authUrl, session });
      return listening(svc, () => svc.listen(host, deps.cfg.network.port));
    },
  },
  {
    name: 'compute',
    user: 'nova',
    catalog: { type: 'compute', name: 'nova', description: 'OpenStack Compute (monostack)', port: (c) => c.compute.port, path: '/v2.1' },
    async start(deps, host) {
      const session = new ServiceSession({ authUrl: deps.authUrl, service: deps.service, region: deps.cfg.DEFAULT.region });
      const svc = await createComputeService({ cfg: deps.cfg, log: deps.log, bus: deps.bus, database: deps.database, validator: deps.validator, session });
      return listening(svc, () => svc.listen(host, deps.cfg.compute.port));
    },
  },
];
