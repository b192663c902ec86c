// Compute API: os-services, os-hypervisors, os-hosts, os-availability-zone, os-aggregates, os-simple-tenant-usage, os-migrations. (Not yet implemented.)

import type { FastifyInstance } from 'fastify';
import type { ComputeContext } from '../context.js';

export function registerHosts(_app: FastifyInstance, _ctx: ComputeContext): void {
  // routes are added here
}
