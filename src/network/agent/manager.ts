// The network agent of one host (neutron's linuxbridge, DHCP, L3 and metadata agents in one loop).
// It asks the network server over the bus for the host's whole desired state, converges the host
// to it through the data-plane driver, and reports which of the host's compute ports are plugged
// (their taps exist) so the server marks them ACTIVE and tells compute. It syncs when the server
// says something changed (a fanout), every `resyncSec` in any case, and at start — so after a
// restart or a lost message it converges again by itself.

import { existsSync } from 'node:fs';
import type { Bus } from '../../common/bus/index.js';
import type { Logger } from '../../common/log.js';
import type { HostNetworkState, NetworkDataplane } from './driver.js';
import { emptyState } from './driver.js';
import { MetadataAgent, lookupFromState } from './metadata.js';
import type { AgentReport, AgentRequest } from '../agents-rpc.js';
import { AGENTS_FANOUT, SERVER_TOPIC } from '../agents-rpc.js';

export interface NetworkAgentOptions {
  host: string;
  /** A network node also serves DHCP, routers and metadata; a compute node only wires its ports. */
  networkNode: boolean;
  /** Seconds between full resyncs and heartbeats. */
  resyncSec?: number;
  /** The metadata agent (network nodes with the linuxbridge driver). */
  metadata?: { socketPath: string; novaMetadataUrl: string; sharedSecret: string };
  availabilityZone?: string;
}

export class NetworkAgent {
  private state: HostNetworkState = emptyState();
  private running?: Promise<void>;
  private again = false;
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private unsubscribe?: () => void;
  private metadata?: MetadataAgent;
  private reportedUp = new Set<string>();
  /** Completed syncs, for tests and the status log. */
  syncs = 0;
  lastError: Error | undefined;

  constructor(private bus: Bus, readonly dataplane: NetworkDataplane, private log: Logger, private o: NetworkAgentOptions) {}

  async start(): Promise<void> {
    if (this.o.metadata) {
      this.metadata = new MetadataAgent({ ...this.o.metadata, lookup: lookupFromState(() => this.state) });
      await this.metadata.start();
    }
    this.unsubscribe = this.bus.subscribe(AGENTS_FANOUT, () => { void this.sync(); });
    await this.bus.ready().catch(() => undefined);
    // The first pass runs in the background: a compute node must come up even while the network
    // server is unreachable (it converges once the server answers).
    void this.sync().then(() => this.beat());
    this.timer = setInterval(() => { void this.sync(); void this.beat(); }, (this.o.resyncSec ?? 30) * 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.timer) clearInterval(this.timer);
    await this.running?.catch(() => undefined);
    await this.metadata?.stop();
  }

  /** Converges the host now; concurrent requests coalesce into one more pass. */
  sync(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running) { this.again = true; return this.running; }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.pass();
          this.lastError = undefined;
        } catch (e) {
          this.lastError = e as Error;
          this.log.warn({ err: e }, 'network agent: sync failed (retried at the next change or resync)');
        }
      } while (this.again && !this.stopped);
    })().finally(() => { this.running = undefined; });
    return this.running;
  }

  private async pass(): Promise<void> {
    const desired = await this.bus.call<HostNetworkState>(SERVER_TOPIC, { op: 'host_state', host: this.o.host, network_node: this.o.networkNode } satisfies AgentRequest, 30_000);
    await this.dataplane.reconcile(desired);
    this.state = desired;
    this.syncs++;
    // A compute port is up once its tap exists (the driver has then plugged it into the bridge).
    const local = desired.ports.filter((p) => p.tap_name);
    const up = local.filter((p) => this.dataplane.name === 'noop' || existsSync(`/sys/class/net/${p.tap_name}`)).map((p) => p.id);
    const down = local.map((p) => p.id).filter((id) => !up.includes(id) && this.reportedUp.has(id));
    const newlyUp = up.filter((id) => !this.reportedUp.has(id));
    if (newlyUp.length || down.length) {
      await this.bus.call(SERVER_TOPIC, { op: 'ports_up', host: this.o.host, up: newlyUp, down } satisfies AgentRequest, 30_000);
      for (const id of newlyUp) this.reportedUp.add(id);
      for (const id of down) this.reportedUp.delete(id);
    }
    // Ports that left the host are forgotten, so that they are reported again if they come back.
    const ids = new Set(local.map((p) => p.id));
    for (const id of this.reportedUp) if (!ids.has(id)) this.reportedUp.delete(id);
  }

  private async beat(): Promise<void> {
    const counts = this.dataplane.counts();
    const az = this.o.availabilityZone ?? 'nova';
    const agents: AgentReport[] = [{
      agent_type: 'Linux bridge agent', binary: 'neutron-linuxbridge-agent', topic: 'N/A',
      configurations: { driver: this.dataplane.name, devices: counts.plugged_ports, interface_mappings: {}, bridge_mappings: {} },
    }];
    if (this.o.networkNode) {
      agents.push(
        { agent_type: 'DHCP agent', binary: 'neutron-dhcp-agent', topic: 'dhcp_agent', availability_zone: az, configurations: { dhcp_driver: 'dnsmasq', networks: counts.dhcp_servers } },
        { agent_type: 'L3 agent', binary: 'neutron-l3-agent', topic: 'l3_agent', availability_zone: az, configurations: { agent_mode: 'legacy', routers: counts.routers } },
        { agent_type: 'Metadata agent', binary: 'neutron-metadata-agent', topic: 'N/A', configurations: { metadata_proxy_socket: this.o.metadata?.socketPath ?? '' } },
      );
    }
    try {
      await this.bus.call(SERVER_TOPIC, { op: 'heartbeat', host: this.o.host, agents } satisfies AgentRequest, 10_000);
    } catch (e) {
      this.log.warn({ err: e }, 'network agent: heartbeat failed');
    }
  }
}
