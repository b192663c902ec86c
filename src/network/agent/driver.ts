// The network data plane behind one interface: plain data describing what a host must carry
// (networks, subnets, ports, security groups, routers) and a driver that converges the host to it.
// The API side builds a HostNetworkState from its tables and calls reconcile(); after an agent
// restart it just calls reconcile() again. Field names follow Neutron's API attributes so the
// mapping from a Neutron resource is a copy.

export type NetworkType = 'flat' | 'vlan' | 'vxlan' | 'local';

export interface NetworkSpec {
  id: string;
  /** provider:network_type */
  network_type: NetworkType;
  /** provider:physical_network (flat, vlan) */
  physical_network?: string | null;
  /** provider:segmentation_id (VLAN id, VXLAN VNI) */
  segmentation_id?: number | null;
  mtu?: number;
  admin_state_up?: boolean;
}

export interface HostRoute { destination: string; nexthop: string }
export interface AllocationPool { start: string; end: string }

export interface SubnetSpec {
  id: string;
  network_id: string;
  cidr: string;
  ip_version: 4 | 6;
  gateway_ip?: string | null;
  enable_dhcp: boolean;
  dns_nameservers?: string[];
  host_routes?: HostRoute[];
  allocation_pools?: AllocationPool[];
}

export interface FixedIp { subnet_id: string; ip_address: string }
export interface AllowedAddressPair { ip_address: string; mac_address?: string }

export interface PortSpec {
  id: string;
  network_id: string;
  mac_address: string;
  fixed_ips: FixedIp[];
  /** compute:nova, network:dhcp, network:router_interface, network:router_gateway, ... */
  device_owner?: string;
  device_id?: string;
  project_id?: string;
  /**
   * The host device of the port when it is plugged on this host (QEMU's tap, "tap" + id[:11] by
   * convention). Ports without one belong to another host: they still count for remote groups.
   */
  tap_name?: string | null;
  port_security_enabled?: boolean;
  allowed_address_pairs?: AllowedAddressPair[];
  security_groups?: string[];
  /** dns_name, or a name derived from the IP when empty (Neutron's host-10-0-0-5) */
  dns_name?: string;
  admin_state_up?: boolean;
}

export interface SecurityGroupRuleSpec {
  id: string;
  direction: 'ingress' | 'egress';
  ethertype: 'IPv4' | 'IPv6';
  /** null/undefined: any; a name (tcp, udp, icmp, icmpv6, ipv6-icmp, sctp, ...) or an IP protocol number as a string */
  protocol?: string | number | null;
  /** TCP/UDP/SCTP: the destination port range; ICMP: min = type, max = code */
  port_range_min?: number | null;
  port_range_max?: number | null;
  remote_ip_prefix?: string | null;
  remote_group_id?: string | null;
}

export interface SecurityGroupSpec {
  id: string;
  rules: SecurityGroupRuleSpec[];
  /** Neutron's stateful attribute; false: no connection tracking, replies need their own rules */
  stateful?: boolean;
}

export interface RouterInterfaceSpec {
  port_id: string;
  network_id: string;
  subnet_id: string;
  /** this router's address on the subnet (the subnet's gateway_ip for an internal interface) */
  ip_address: string;
  /** the subnet's CIDR, e.g. 10.0.0.0/24 */
  cidr: string;
  mac_address: string;
}

export interface RouterGatewaySpec extends RouterInterfaceSpec {
  /** the external subnet's gateway: the router's default route */
  gateway_ip?: string | null;
  enable_snat: boolean;
}

export interface FloatingIpSpec {
  id: string;
  floating_ip_address: string;
  fixed_ip_address: string;
  port_id?: string;
}

export interface RouterSpec {
  id: string;
  admin_state_up?: boolean;
  interfaces: RouterInterfaceSpec[];
  external_gateway?: RouterGatewaySpec | null;
  routes?: HostRoute[];
  floating_ips?: FloatingIpSpec[];
}

/** Everything this host must carry; whatever of ours is on the host and not in here is removed. */
export interface HostNetworkState {
  networks: NetworkSpec[];
  subnets: SubnetSpec[];
  /** All ports of the networks above (other hosts' too: remote groups and DHCP need them). */
  ports: PortSpec[];
  security_groups: SecurityGroupSpec[];
  routers: RouterSpec[];
}

/** What a driver has on the host, for tests and status pages. */
export interface DataplaneCounts {
  networks: number;
  plugged_ports: number;
  dhcp_servers: number;
  routers: number;
  firewalled_ports: number;
  metadata_proxies: number;
}

export interface NetworkDataplane {
  readonly name: 'noop' | 'linuxbridge';
  /** Converge the host to `desired`: create what is missing, fix what differs, delete what is extra. Idempotent. */
  reconcile(desired: HostNetworkState): Promise<void>;
  /**
   * Plug a device (QEMU's tap, or a veth in tests) of a port into its network's bridge now, without
   * waiting for the next reconcile; the port's firewall applies once reconcile has seen the port.
   */
  plugPort(port: PortSpec, deviceName: string): Promise<void>;
  /** Detach a port's device from its bridge (the device itself belongs to whoever created it). */
  unplugPort(port: PortSpec, deviceName: string): Promise<void>;
  /** What reconcile last applied. */
  counts(): DataplaneCounts;
  /** Remove everything this driver created on the host (bridges, namespaces, dnsmasq, nft tables). */
  teardown(): Promise<void>;
}

export const DEVICE_OWNER_DHCP = 'network:dhcp';
export const DEVICE_OWNER_ROUTER_INTERFACE = 'network:router_interface';
export const DEVICE_OWNER_ROUTER_GATEWAY = 'network:router_gateway';
export const DEVICE_OWNER_FLOATINGIP = 'network:floatingip';

export function emptyState(): HostNetworkState {
  return { networks: [], subnets: [], ports: [], security_groups: [], routers: [] };
}
