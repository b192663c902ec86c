// Compute API: keypairs. (Not yet implemented.)

import type { FastifyInstance } from 'fastify';
import type { ComputeContext } from '../context.js';

export function registerKeypairs(_app: FastifyInstance, _ctx: ComputeContext): void {
  // routes are added here
}
