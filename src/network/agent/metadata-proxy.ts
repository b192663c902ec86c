// The metadata proxy that runs inside a DHCP namespace (started with `ip netns exec`, as Neutron
// starts haproxy there): it listens on 169.254.169.254:80, which only the network's guests can
// reach, and forwards each request over a unix socket (a file: it crosses namespaces) to the
// agent's MetadataAgent. It stamps the guest's address as seen on the wire and the network id,
// and drops whatever identity headers the guest sent. It imports nothing but node: modules so it
// starts fast and small.
//
//   node metadata-proxy.js --listen 169.254.169.254:80 --socket /run/x.sock --network-id ID --pid-file F
//   node metadata-proxy.js --listen 0.0.0.0:9697 --socket /run/x.sock --router-id ID --pid-file F

import { createServer, request, type IncomingHttpHeaders } from 'node:http';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Headers a guest must never be able to set: identity comes from the wire, not the request. */
export const IDENTITY_HEADERS = ['x-forwarded-for', 'x-instance-id', 'x-tenant-id', 'x-instance-id-signature',
  'x-neutron-network-id', 'x-neutron-router-id', 'x-forwarded-host', 'forwarded'];

/** Hop-by-hop headers (RFC 9110 7.6.1): each leg of the relay has its own connection. */
export const HOP_HEADERS = ['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host'];

export function endToEnd(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const h: IncomingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) if (!HOP_HEADERS.includes(k.toLowerCase())) h[k] = v;
  return h;
}

/** `where`: the network (a DHCP namespace's proxy) or the router (a router namespace's proxy). */
export function proxyHeaders(incoming: IncomingHttpHeaders, remoteIp: string, where: string | { router_id: string }): IncomingHttpHeaders {
  const h: IncomingHttpHeaders = {};
  for (const [k, v] of Object.entries(endToEnd(incoming))) if (!IDENTITY_HEADERS.includes(k.toLowerCase())) h[k] = v;
  h['x-forwarded-for'] = remoteIp;
  if (typeof where === 'string') h['x-neutron-network-id'] = where;
  else h['x-neutron-router-id'] = where.router_id;
  return h;
}

function main(argv: string[]): void {
  const opt = (name: string): string | undefined => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1] : undefined; };
  const arg = (name: string): string => { const v = opt(name); if (!v) throw new Error(`missing --${name}`); return v; };
  const [host, port] = arg('listen').split(':') as [string, string];
  const socketPath = arg('socket');
  const routerId = opt('router-id');
  const where = routerId ? { router_id: routerId } : arg('network-id');
  const server = createServer((req, res) => {
    const remote = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    const up = request({ socketPath, path: req.url, method: req.method, headers: proxyHeaders(req.headers, remote, where) }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, endToEnd(ur.headers));
      ur.pipe(res);
    });
    up.on('error', () => { if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }); res.end('metadata agent unreachable\n'); });
    req.pipe(up);
  });
  server.listen(Number(port), host, () => writeFileSync(arg('pid-file'), `${process.pid}\n`));
  const stop = (): void => { server.close(); process.exit(0); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main(process.argv.slice(2));
