// Every area of the compute API, one module each (as nova/api/openstack/compute/).

import type { FastifyInstance } from 'fastify';
import type { ComputeContext } from '../context.js';
import { registerFlavors } from './flavors.js';
import { registerKeypairs } from './keypairs.js';
import { registerLimits } from './limits.js';
import { registerHosts } from './hosts.js';
import { registerServerGroups } from './server-groups.js';
import { registerExtensions } from './extensions.js';
import { registerServers } from './servers.js';
import { registerServerActions } from './server-actions.js';
import { registerServerResources } from './server-resources.js';
import { registerServerNetwork } from './server-network.js';
import { registerImages } from './images.js';
import { registerAdmin } from './admin.js';
import { registerNetworkProxies } from './network-proxies.js';

export function registerApi(app: FastifyInstance, ctx: ComputeContext): void {
  registerFlavors(app, ctx);
  registerKeypairs(app, ctx);
  registerLimits(app, ctx);
  registerHosts(app, ctx);
  registerServerGroups(app, ctx);
  registerExtensions(app, ctx);
  registerServers(app, ctx);
  registerServerActions(app, ctx);
  registerServerResources(app, ctx);
  registerServerNetwork(app, ctx);
  registerImages(app, ctx);
  registerAdmin(app, ctx);
  registerNetworkProxies(app, ctx);
}
