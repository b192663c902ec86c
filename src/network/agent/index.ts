// The network data plane's entry point for the agent side.

import type { NetworkDataplane } from './driver.js';
import { LinuxBridgeDataplane, type LinuxBridgeOptions } from './linuxbridge.js';
import { NoopDataplane } from './noop.js';

export * from './driver.js';
export { LinuxBridgeDataplane, type LinuxBridgeOptions, type VxlanOptions } from './linuxbridge.js';
export { NoopDataplane } from './noop.js';
export { MetadataAgent, lookupFromState, signInstanceId, type MetadataAgentOptions, type MetadataLookup } from './metadata.js';
export { countResources, type ResourceCounts, type ResourceScope } from './resources.js';
export { findOrphans, removeOrphans, type Orphan } from './orphans.js';
export { measureRuleChange, PingStream, type RuleChangeTiming } from './measure.js';

export function createDataplane(kind: 'noop' | 'linuxbridge', opts: LinuxBridgeOptions): NetworkDataplane {
  return kind === 'linuxbridge' ? new LinuxBridgeDataplane(opts) : new NoopDataplane();
}
