// The baseline for bench/image/run.mjs: the HTTP stack the image service runs on
// (createApiServer from src/common/http/server.ts: Fastify, request ids, the access-log hook, the
// fault formatter — Glance's webob faults here; pino logging to DATA_DIR/logs/monostack.log at info,
// as `monostack up` sets it up) with two trivial routes:
//   GET  /bench/image   returns a small JSON object (the counterpart of image-show)
//   POST /bench/image   parses the JSON body and answers 201 with a small JSON object (image-create)
// Whatever an image route costs above this is the route's own work (token check, policy, SQL,
// formatting). No token is checked here.
//
//   node bench/image/baseline-server.mjs --build-dir dist --data-dir /tmp/x [--port 0]
// Prints `{"port":N}` on stdout once listening; exits cleanly on SIGTERM/SIGINT (so --cpu-prof is written).

import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { mkdirSync } from 'node:fs';
import { parseArgs } from 'node:util';

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
const { glanceFault } = await mod('common/errors.js');

const dataDir = resolve(a['data-dir']);
mkdirSync(dataDir, { recursive: true });
const log = createLogger('info', join(dataDir, 'logs', 'monostack.log'));
const app = createApiServer({ name: 'image', fault: glanceFault, logger: log, bodyLimit: 114688 });
const small = { id: 'c2a3b0a1-e3c1-4a1f-8f0d-2a6b7e9c1d23', name: 'baseline', status: 'queued', visibility: 'shared' };
app.get('/bench/image', async () => small);
app.post('/bench/image', async (req, reply) => {
  const body = req.body ?? {};
  reply.code(201);
  return { ...small, name: typeof body.name === 'string' ? body.name : small.name };
});
await app.ready();
await app.listen({ host: a.host, port: Number(a.port) });
const addr = app.server.address();
process.stdout.write(JSON.stringify({ port: typeof addr === 'object' && addr ? addr.port : 0 }) + '\n');

const stop = async () => {
  try { await app.close(); } finally { log.flush?.(); process.exit(0); }
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
