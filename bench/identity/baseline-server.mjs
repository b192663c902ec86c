// The baseline for bench/identity/run.mjs: the same HTTP stack the identity service runs on
// (createApiServer from src/common/http/server.ts: Fastify, request ids, the access-log hook, the
// fault formatter, Keystone's Vary header; pino logging to DATA_DIR/logs/monostack.log at info, as
// `monostack up` sets it up) with one trivial GET route returning a small JSON. Whatever an identity
// route costs above this is the route's own work.
//
//   node bench/identity/baseline-server.mjs --build-dir dist --data-dir /tmp/x [--port 0]
// Prints `{"port":N}` on stdout once listening; exits cleanly on SIGTERM/SIGINT (so --cpu-prof is
// written): the frame is bench/lib/baseline.mjs.

import { serveBaseline } from '../lib/baseline.mjs';

await serveBaseline(async ({ mod, createApiServer, logger }) => {
  const { keystoneFault } = await mod('common/errors.js');
  const app = createApiServer({ name: 'baseline', fault: keystoneFault, logger, bodyLimit: 114688, headers: { Vary: 'X-Auth-Token' } });
  app.get('/bench/hello', async () => ({ hello: { id: 'c2a3b0a1e3c14a1f8f0d2a6b7e9c1d23', name: 'baseline', enabled: true } }));
  return app;
});
