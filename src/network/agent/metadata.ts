// The agent half of the metadata service (neutron-metadata-agent): listens on a unix socket that
// the per-namespace proxies forward to, finds the port from (network, source IP), and forwards to
// the compute metadata API with the instance id signed by the shared secret, as Nova expects.
// A guest gets only its own instance's data: the source IP is anti-spoofed on the bridge, and the
// proxy overwrites any identity header the guest sent.

import { createHmac } from 'node:crypto';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { chmod, rm } from 'node:fs/promises';
import type { HostNetworkState } from './driver.js';
import { endToEnd } from './metadata-proxy.js';

export interface MetadataIdentity { instance_id: string; project_id: string }
/** Where the request came in: a network's DHCP namespace, or a router's namespace (then any of its networks). */
export type MetadataSource = { network_id: string } | { router_id: string };
export type MetadataLookup = (from: MetadataSource, ip: string) => MetadataIdentity | undefined | Promise<MetadataIdentity | undefined>;

export interface MetadataAgentOptions {
  socketPath: string;
  /** nova's metadata API, e.g. http://127.0.0.1:8775 */
  novaMetadataUrl: string;
  /** [neutron]metadata_proxy_shared_secret, the same on the nova side */
  sharedSecret: string;
  lookup: MetadataLookup;
}

/** X-Instance-ID-Signature: hex HMAC-SHA256(secret, instance id), as neutron-metadata-agent signs. */
export function signInstanceId(secret: string, instanceId: string): string {
  return createHmac('sha256', secret).update(instanceId).digest('hex');
}

/**
 * A lookup over a HostNetworkState: the compute port holding that fixed IP on that network, or on
 * one of the router's internal networks (Neutron's metadata agent does the same with router ids).
 */
export function lookupFromState(getState: () => HostNetworkState): MetadataLookup {
  return (from, ip) => {
    const st = getState();
    const nets = 'network_id' in from ? [from.network_id] : (st.routers.find((r) => r.id === from.router_id)?.interfaces ?? []).map((i) => i.network_id);
    const found = st.ports.filter((x) => nets.includes(x.network_id) && (x.device_owner ?? '').startsWith('compute:')
      && !!x.device_id && x.fixed_ips.some((f) => f.ip_address === ip));
    // the same IP on two of a router's networks cannot be told apart: answer nobody
    if (found.length !== 1) return undefined;
    return { instance_id: found[0]!.device_id!, project_id: found[0]!.project_id ?? '' };
  };
}

export class MetadataAgent {
  private server?: Server;
  constructor(private readonly opts: MetadataAgentOptions) {}

  get socketPath(): string { return this.opts.socketPath; }

  async start(): Promise<void> {
    await rm(this.opts.socketPath, { force: true });
    const server = createServer((req, res) => { void this.handle(req, res); });
    await new Promise<void>((res, rej) => { server.once('error', rej); server.listen(this.opts.socketPath, () => res()); });
    await chmod(this.opts.socketPath, 0o600); // root's proxies only
    this.server = server;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) { s.closeAllConnections(); await new Promise<void>((r) => s.close(() => r())); }
    await rm(this.opts.socketPath, { force: true });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const text = (code: number, body: string): void => { res.writeHead(code, { 'content-type': 'text/plain' }); res.end(body); };
    try {
      const ip = String(req.headers['x-forwarded-for'] ?? '');
      const networkId = req.headers['x-neutron-network-id'];
      const routerId = req.headers['x-neutron-router-id'];
      const from: MetadataSource | undefined = typeof networkId === 'string' && networkId ? { network_id: networkId }
        : typeof routerId === 'string' && routerId ? { router_id: routerId } : undefined;
      if (!ip || !from) return text(400, 'X-Forwarded-For and X-Neutron-Network-ID or X-Neutron-Router-ID are required\n');
      const who = await this.opts.lookup(from, ip);
      if (!who) return text(404, 'Not Found\n');
      const headers: Record<string, string> = {
        'x-forwarded-for': ip,
        'x-instance-id': who.instance_id,
        'x-tenant-id': who.project_id,
        'x-instance-id-signature': signInstanceId(this.opts.sharedSecret, who.instance_id),
      };
      for (const k of ['accept', 'content-type', 'content-length', 'user-agent']) {
        const v = req.headers[k];
        if (typeof v === 'string') headers[k] = v;
      }
      const url = new URL(req.url ?? '/', this.opts.novaMetadataUrl);
      const up = request(url, { method: req.method, headers }, (ur) => {
        res.writeHead(ur.statusCode ?? 502, endToEnd(ur.headers));
        ur.pipe(res);
      });
      up.on('error', () => { if (!res.headersSent) text(502, 'metadata service unreachable\n'); else res.destroy(); });
      req.pipe(up);
    } catch {
      if (!res.headersSent) text(500, 'metadata agent error\n');
    }
  }
}
