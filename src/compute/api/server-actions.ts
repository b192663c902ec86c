// Compute API: POST /servers/{id}/action. (Not yet implemented.)

import type { FastifyInstance } from 'fastify';
import type { ComputeContext } from '../context.js';

export function registerServerActions(_app: FastifyInstance, _ctx: ComputeContext): void {
  // routes are added here
}
