// The frame every bench's baseline-server.mjs shares: its command line, the build's modules, the
// logger `monostack up` sets up (pino to DATA_DIR/logs/monostack.log at info), the listen, the
// `{"port":N}` line the benchmark waits for, and a clean exit on SIGTERM/SIGINT (so --cpu-prof is
// written). What differs per service — createApiServer's options and the trivial routes — is `setup`.
//
//   node bench/<service>/baseline-server.mjs --build-dir dist --data-dir /tmp/x [--port 0] [--host 127.0.0.1]

import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { mkdirSync } from 'node:fs';
import { parseArgs } from 'node:util';

/**
 * Runs a baseline server. `setup({ mod, createApiServer, logger })` returns the Fastify app with its
 * routes; `mod(path)` imports a module of the build directory (e.g. 'common/errors.js').
 */
export async function serveBaseline(setup) {
  const { values: a } = parseArgs({
    options: {
      'build-dir': { type: 'string', default: 'dist' },
      'data-dir': { type: 'string' },
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' },
    },
  });
  if (!a['data-dir']) throw new Error('--data-dir is required');
  const build = resolve(a['build-dir']);
  const mod = (p) => import(pathToFileURL(join(build, p)).href);

  const { createApiServer } = await mod('common/http/server.js');
  const { createLogger } = await mod('common/log.js');

  const dataDir = resolve(a['data-dir']);
  mkdirSync(dataDir, { recursive: true });
  const logger = createLogger('info', join(dataDir, 'logs', 'monostack.log'));
  const app = await setup({ mod, createApiServer, logger });
  await app.ready();
  await app.listen({ host: a.host, port: Number(a.port) });
  const addr = app.server.address();
  process.stdout.write(JSON.stringify({ port: typeof addr === 'object' && addr ? addr.port : 0 }) + '\n');

  const stop = async () => {
    try { await app.close(); } finally { logger.flush?.(); process.exit(0); }
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}
