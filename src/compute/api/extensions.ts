// Compute API: the legacy /extensions list. (Not yet implemented.)

import type { FastifyInstance } from 'fastify';
import type { ComputeContext } from '../context.js';

export function registerExtensions(_app: FastifyInstance, _ctx: ComputeContext): void {
  // routes are added here
}
