// Picks the hypervisor driver named by [compute] compute_driver.

import type { HypervisorDriver } from '../driver.js';
import { createFakeDriver, type FakeDriverOptions } from './fake.js';
import type { CommonDriverOptions } from './options.js';
import { createQemuDriver, type QemuDriverOptions } from './qemu/driver.js';

export type DriverName = 'qemu' | 'fake';
export const DRIVER_NAMES: readonly DriverName[] = ['qemu', 'fake'];

/** Options of either driver; each takes what it knows and ignores the rest. */
export type DriverOptions = CommonDriverOptions & Partial<Omit<QemuDriverOptions, keyof CommonDriverOptions>> & Partial<Omit<FakeDriverOptions, keyof CommonDriverOptions>>;

export function createDriver(name: string, opts: DriverOptions): HypervisorDriver {
  switch (name) {
    case 'qemu': return createQemuDriver(opts);
    case 'fake': return createFakeDriver(opts);
    default: throw new Error(`unknown compute_driver ${JSON.stringify(name)} (one of: ${DRIVER_NAMES.join(', ')})`);
  }
}

export { FakeDriver, createFakeDriver, type FakeDriverOptions } from './fake.js';
export { QemuDriver, createQemuDriver, type QemuDriverOptions } from './qemu/driver.js';
export type { CommonDriverOptions, DriverLogger, ResourceOverrides } from './options.js';
