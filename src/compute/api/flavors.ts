// Compute API: flavors, extra specs, flavor access. (Not yet implemented.)

import type { FastifyInstance } from 'fastify';
import type { ComputeContext } from '../context.js';

export function registerFlavors(_app: FastifyInstance, _ctx: ComputeContext): void {
  // routes are added here
}
