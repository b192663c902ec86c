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
// Prints `{"port":N}` on stdout once listening; exits cleanly on SIGTERM/SIGINT (so --cpu-prof is
// written): the frame is bench/lib/baseline.mjs.

import { serveBaseline } from '../lib/baseline.mjs';

await serveBaseline(async ({ mod, createApiServer, logger }) => {
  const { glanceFault } = await mod('common/errors.js');
  const app = createApiServer({ name: 'image', fault: glanceFault, logger, bodyLimit: 114688 });
  const small = { id: 'c2a3b0a1-e3c1-4a1f-8f0d-2a6b7e9c1d23', name: 'baseline', status: 'queued', visibility: 'shared' };
  app.get('/bench/image', async () => small);
  app.post('/bench/image', async (req, reply) => {
    const body = req.body ?? {};
    reply.code(201);
    return { ...small, name: typeof body.name === 'string' ? body.name : small.name };
  });
  return app;
});
