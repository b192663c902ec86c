// Options every hypervisor driver takes (the agent fills them from the [compute] config section),
// and the checks both drivers apply to what reaches the host.

import { networkInterfaces } from 'node:os';
import { DriverError, type InstanceSpec } from '../driver.js';

/** The pino-compatible subset a driver logs through. */
export interface DriverLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLogger: DriverLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** What the host reports; 0 (or absent) means "detect" (qemu) or the driver's default (fake). */
export interface ResourceOverrides { vcpus?: number; memoryMb?: number; diskGb?: number }

export interface CommonDriverOptions {
  /** Where instance directories, disks and the base image cache live. */
  instancesPath: string;
  resources?: ResourceOverrides;
  log?: DriverLogger;
  /** The address reported as the hypervisor's host_ip; default the first non-loopback IPv4. */
  hostIp?: string;
  /**
   * The config drive's files for an instance (the agent passes the metadata service's documents,
   * compute/metadata). Without it a driver builds them from the spec alone.
   */
  configDriveFiles?: (spec: InstanceSpec) => Promise<Record<string, string | Buffer>>;
}

/** Instance uuids are the only names that become paths. */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The uuid in the one spelling used for paths, or a DriverError for anything else. */
export function normUuid(uuid: string): string {
  if (typeof uuid !== 'string' || !UUID.test(uuid)) throw new DriverError('InvalidInput', `invalid instance uuid ${JSON.stringify(uuid)}`);
  return uuid.toLowerCase();
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
const TAP = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;

/** Checks the numbers and names of a spec that reach the host (both drivers refuse the same things). */
export function checkSpec(spec: InstanceSpec): string {
  const uuid = normUuid(spec.uuid);
  const int = (v: unknown, name: string, min: number, max: number) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new DriverError('InvalidInput', `${name} must be an integer in [${min}, ${max}], got ${String(v)}`);
  };
  int(spec.vcpus, 'vcpus', 1, 1024);
  int(spec.memoryMb, 'memoryMb', 16, 16 * 1024 * 1024);
  int(spec.rootGb, 'rootGb', 0, 1024 * 1024);
  int(spec.ephemeralGb, 'ephemeralGb', 0, 1024 * 1024);
  int(spec.swapMb, 'swapMb', 0, 1024 * 1024 * 1024);
  for (const v of spec.vifs ?? []) {
    if (!MAC.test(v.mac)) throw new DriverError('InvalidInput', `invalid MAC ${JSON.stringify(v.mac)}`);
    if (v.tapName !== null && !TAP.test(v.tapName)) throw new DriverError('InvalidInput', `invalid tap name ${JSON.stringify(v.tapName)}`);
    if (v.mtu !== undefined) int(v.mtu, 'mtu', 68, 65535);
  }
  return uuid;
}

/** The first non-internal IPv4 address of the machine, else 127.0.0.1. */
export function firstHostIp(): string {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}
