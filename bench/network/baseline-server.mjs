// The baseline for bench/network/run.mjs: the HTTP stack the network service runs on
// (createApiServer from src/common/http/server.ts: Fastify, request ids, the access-log hook,
// Neutron's fault format and JSON for untyped bodies, as src/network/service.ts sets it up; pino
// logging to DATA_DIR/logs/monostack.log at info, as `monostack up` sets it up) with two trivial routes:
//   GET  /v2.0/bench   returns a small JSON object (the counterpart of a port show or list)
//   POST /v2.0/bench   parses the JSON body and answers 201 with a small JSON object (a port create)
// Whatever a network route costs above this is the route's own work (token check, policy, SQL,
// IPAM, the agent's syncs). No token is checked here.
//
//   node bench/network/baseline-server.mjs --build-dir dist --data-dir /tmp/x [--port 0]
// Prints `{"port":N}` on stdout once listening; exits cleanly on SIGTERM/SIGINT (so --cpu-prof is
// written): the frame is bench/lib/baseline.mjs.

import { serveBaseline } from '../lib/baseline.mjs';

await serveBaseline(async ({ mod, createApiServer, logger }) => {
  const { neutronFault } = await mod('network/api/http.js');
  const app = createApiServer({ name: 'network', fault: neutronFault, logger, bodyLimit: 114688, untypedBodiesAreJson: true });
  const small = {
    id: '5f0d2a6b-7e9c-4d23-a1e3-c2a3b0a1c1d2', network_id: '0b5e6a1c-3d2f-4e8a-9b7c-1a2b3c4d5e6f', mac_address: 'fa:16:3e:12:34:56',
    fixed_ips: [{ subnet_id: '7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f', ip_address: '10.0.0.5' }], status: 'DOWN',
  };
  app.get('/v2.0/bench', async () => ({ port: small }));
  app.post('/v2.0/bench', async (req, reply) => {
    const body = req.body ?? {};
    reply.code(201);
    return { port: { ...small, name: typeof body.port?.name === 'string' ? body.port.name.slice(0, 64) : '' } };
  });
  return app;
});
