// Compute API: limits, quota sets, quota class sets. (Not yet implemented.)

import type { FastifyInstance } from 'fastify';
import type { ComputeContext } from '../context.js';

export function registerLimits(_app: FastifyInstance, _ctx: ComputeContext): void {
  // routes are added here
}
