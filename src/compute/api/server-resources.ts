// Compute API: server metadata, tags, instance actions, console output, remote consoles, ips. (Not yet implemented.)

import type { FastifyInstance } from 'fastify';
import type { ComputeContext } from '../context.js';

export function registerServerResources(_app: FastifyInstance, _ctx: ComputeContext): void {
  // routes are added here
}
