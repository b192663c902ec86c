// Every API module of the network service, in one place. An area adds its module here (the L3
// area: routers, floating IPs), and its extensions appear in /v2.0/extensions with it.

import type { ApiModule, Extension } from './router.js';
import { rootModule, GENERIC_EXTENSIONS, quotasModule, agentsModule, tagsModule, rbacModule, ipAvailabilityModule } from './misc.js';
import { networksModule } from './networks.js';
import { subnetsModule } from './subnets.js';
import { subnetpoolsModule } from './subnetpools.js';
import { portsModule } from './ports.js';
import { securityGroupsModule } from './securitygroups.js';

export const API_MODULES: ApiModule[] = [
  networksModule, subnetsModule, subnetpoolsModule, portsModule, securityGroupsModule,
  quotasModule, agentsModule, tagsModule(), rbacModule, ipAvailabilityModule,
];

export function allExtensions(modules: ApiModule[] = API_MODULES): Extension[] {
  return [...GENERIC_EXTENSIONS, ...modules.flatMap((m) => m.extensions)].sort((a, z) => a.alias.localeCompare(z.alias));
}

export function withRoot(modules: ApiModule[] = API_MODULES): ApiModule[] {
  return [rootModule(() => allExtensions(modules)), ...modules];
}
