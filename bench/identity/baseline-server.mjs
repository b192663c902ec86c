// The baseline for bench/identity/run.mjs: the same HTTP stack the identity service runs on
// (createApiServer from src/common/http/server.ts: Fastify, request ids, the access-log hook, the
// fault formatter, Keystone's Vary header; pino logging to DATA_DIR/logs/monostack.log at info, as
// `monostack up` sets it up) with one trivial GET route returning a small JSON. Whatever an identity
// route costs above this is the route's own work.
//
//   node bench/identity/baseline-server.mjs --build-dir dist --data-dir /tmp/x [--port 0]
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
const { keystoneFault } = await mod('common/errors.js');

const dataDir = resolve(a['data-dir']);
mkdirSync(dataDir, { recursive: true });
const log = createLogger('info', join(dataDir, 'logs', 'monostack.log'));
const app = createApiServer({ name: 'baseline', fault: keystoneFault, logger: log, bodyLimit: 114688, headers: { Vary: 'X-Auth-Token' } });
app.get('/bench/hello', async () => ({ hello: { id: 'c2a3b0a1e3c14a1f8f0d2a6b7e9c1d23', name: 'baseline', enabled: true } }));
await app.ready();
await app.listen({ host: a.host, port: Number(a.port) });
const addr = app.server.address();
process.stdout.write(JSON.stringify({ port: typeof addr === 'object' && addr ? addr.port : 0 }) + '\n');

const stop = async () => {
  try { await app.close(); } finally { log.flush?.(); process.exit(0); }
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
