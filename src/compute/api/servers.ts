// Compute API: servers: create, list, show, update, delete. (Not yet implemented.)

import type { FastifyInstance } from 'fastify';
import type { ComputeContext } from '../context.js';

export function registerServers(_app: FastifyInstance, _ctx: ComputeContext): void {
  // routes are added here
}
