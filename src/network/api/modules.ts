// Every API module of the network service, in one place. An area adds its module here (the L3
// area: routers, floating IPs), and its extensions appear in /v2.0/extensions with it.

import { applyBulk, type ApiModule, type BulkSpec, type Extension } from './router.js';
import type { NetworkContext } from '../context.js';
import { writeTx } from '../store/tx.js';
import { deletePortRows } from './ports.js';
import { rootModule, GENERIC_EXTENSIONS, quotasModule, agentsModule, tagsModule, rbacModule, ipAvailabilityModule, serviceProvidersModule } from './misc.js';
import { networksModule } from './networks.js';
import { subnetsModule } from './subnets.js';
import { subnetpoolsModule } from './subnetpools.js';
import { portsModule } from './ports.js';
import { securityGroupsModule } from './securitygroups.js';
import { routersModule } from './routers.js';
import { floatingIpsModule } from './floatingips.js';

/** Bulk creates of the core collections, with how to take back what a failed bulk made. */
const coreBulk: ApiModule = {
  name: 'bulk',
  extensions: [],
  routes: () => ({}),
  bulk: (ctx: NetworkContext): Record<string, BulkSpec> => ({
    '/v2.0/networks': { singular: 'network', plural: 'networks', rollback: (id) => writeTx(ctx, async (trx) => {
      await trx.deleteFrom('neutron_rbac_policies').where('object_type', '=', 'network').where('object_id', '=', id).execute();
      await trx.deleteFrom('neutron_tags').where('resource_type', '=', 'networks').where('resource_id', '=', id).execute();
      await trx.deleteFrom('neutron_segments').where('network_id', '=', id).execute();
      await trx.deleteFrom('neutron_networks').where('id', '=', id).execute();
    }) },
    '/v2.0/subnets': { singular: 'subnet', plural: 'subnets', rollback: (id) => writeTx(ctx, async (trx) => {
      await trx.deleteFrom('neutron_ipallocations').where('subnet_id', '=', id).execute();
      await trx.deleteFrom('neutron_subnets').where('id', '=', id).execute();
    }) },
    '/v2.0/ports': { singular: 'port', plural: 'ports', rollback: (id) => deletePortRows(ctx, id) },
    '/v2.0/security-group-rules': { singular: 'security_group_rule', plural: 'security_group_rules', rollback: async (id) => {
      await ctx.db.deleteFrom('neutron_sg_rules').where('id', '=', id).execute();
    } },
  }),
};

export const API_MODULES: ApiModule[] = [
  coreBulk, networksModule, subnetsModule, subnetpoolsModule, portsModule, securityGroupsModule,
  quotasModule, agentsModule, tagsModule(), rbacModule, ipAvailabilityModule, serviceProvidersModule,
  routersModule, floatingIpsModule,
];

export function allExtensions(modules: ApiModule[] = API_MODULES): Extension[] {
  return [...GENERIC_EXTENSIONS, ...modules.flatMap((m) => m.extensions)].sort((a, z) => a.alias.localeCompare(z.alias));
}

/** The modules served, with the root module first and bulk creates wired to their collections. */
export function withRoot(modules: ApiModule[] = API_MODULES): ApiModule[] {
  return [rootModule(() => allExtensions(modules)), ...modules].map((m) => ({
    ...m,
    routes: (ctx: NetworkContext) => {
      const bulk = Object.assign({}, ...modules.map((x) => x.bulk?.(ctx) ?? {})) as Record<string, BulkSpec>;
      return applyBulk(m.routes(ctx), bulk);
    },
  }));
}
