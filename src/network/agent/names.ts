// Every host object the data plane creates carries one of these prefixes, so reconcile can tell
// ours from the host's and teardown/leak checks can find them. Link names are at most 15 chars.

/** Host-side links: bridge, DHCP veth, router internal/gateway veths, VXLAN, VLAN devices. */
export const LINK_PREFIXES = ['msb-', 'msd-', 'msr-', 'msg-', 'msx-', 'msv-'] as const;
export const NS_DHCP = 'msdhcp-';
export const NS_ROUTER = 'msrtr-';
/** nftables tables on the host (table bridge monostack, table inet monostack) */
export const NFT_TABLE = 'monostack';

const short = (id: string): string => id.slice(0, 11);

export const bridgeName = (networkId: string): string => `msb-${short(networkId)}`;
export const vxlanName = (networkId: string): string => `msx-${short(networkId)}`;
export const vlanName = (networkId: string): string => `msv-${short(networkId)}`;
export const dhcpNamespace = (networkId: string): string => `${NS_DHCP}${networkId}`;
export const routerNamespace = (routerId: string): string => `${NS_ROUTER}${routerId}`;
/** the DHCP port's veth: host end on the bridge, namespace end */
export const dhcpHostLink = (networkId: string): string => `msd-${short(networkId)}`;
export const dhcpNsLink = (portId: string): string => `ns-${short(portId)}`;
export const routerIfHostLink = (portId: string): string => `msr-${short(portId)}`;
export const routerIfNsLink = (portId: string): string => `qr-${short(portId)}`;
export const routerGwHostLink = (portId: string): string => `msg-${short(portId)}`;
export const routerGwNsLink = (portId: string): string => `qg-${short(portId)}`;
/** Nova's tap naming, for callers that have no device name of their own */
export const defaultTapName = (portId: string): string => `tap${short(portId)}`;

export const isOurLink = (name: string): boolean => LINK_PREFIXES.some((p) => name.startsWith(p));
export const isOurNamespace = (name: string): boolean => name.startsWith(NS_DHCP) || name.startsWith(NS_ROUTER);
