// The baseline for bench/compute/run.mjs: the HTTP stack the compute service runs on
// (createApiServer from src/common/http/server.ts: Fastify, request ids, the access-log hook, Nova's
// fault format, JSON for untyped bodies and the /v2.1/{project_id} URL rewrite, as
// src/compute/service.ts sets it up; pino logging to DATA_DIR/logs/monostack.log at info, as
// `monostack up` sets it up) with two trivial routes:
//   GET  /v2.1/bench   returns a small JSON object (the counterpart of a server list or show)
//   POST /v2.1/bench   parses the JSON body and answers 202 with a small JSON object (server create)
// Whatever a compute route costs above this is the route's own work (token check, microversion,
// policy, SQL, the image lookup, scheduling, the agent). No token is checked here.
//
//   node bench/compute/baseline-server.mjs --build-dir dist --data-dir /tmp/x [--port 0]
// Prints `{"port":N}` on stdout once listening; exits cleanly on SIGTERM/SIGINT (so --cpu-prof is
// written): the frame is bench/lib/baseline.mjs.

import { serveBaseline } from '../lib/baseline.mjs';

await serveBaseline(async ({ mod, createApiServer, logger }) => {
  const { novaFault } = await mod('common/errors.js');
  const app = createApiServer({
    name: 'compute', fault: novaFault, logger, bodyLimit: 114688, untypedBodiesAreJson: true,
    rewriteUrl: (url) => url.replace(/^\/v2(?:\.1)?\/[0-9a-f]{32}(?=\/|\?|$)/, '/v2.1'),
  });
  const small = { id: 'c2a3b0a1-e3c1-4a1f-8f0d-2a6b7e9c1d23', links: [{ rel: 'self', href: 'http://127.0.0.1/v2.1/servers/c2a3b0a1-e3c1-4a1f-8f0d-2a6b7e9c1d23' }], 'OS-DCF:diskConfig': 'MANUAL' };
  app.get('/v2.1/bench', async () => ({ server: small }));
  app.post('/v2.1/bench', async (req, reply) => {
    const body = req.body ?? {};
    reply.code(202);
    return { server: { ...small, adminPass: typeof body.server?.name === 'string' ? body.server.name.slice(0, 12) : 'x' } };
  });
  return app;
});
