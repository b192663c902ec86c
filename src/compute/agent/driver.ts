// The hypervisor driver interface (Nova's nova/virt/driver.py, reduced to what the compute agent
// uses). Every implementation ships beside its fake: `qemu` (real QEMU processes over QMP) and
// `fake` (no processes; for scale tests and machines without QEMU). The agent owns the database
// and the state machine; a driver only touches the host, and everything it creates is derived from
// the instance uuid, never from user-supplied names.

import type { Readable } from 'node:stream';

/** Nova's power_state values (nova/compute/power_state.py). */
export const PowerState = {
  NOSTATE: 0,
  RUNNING: 1,
  PAUSED: 3,
  SHUTDOWN: 4,
  CRASHED: 6,
  SUSPENDED: 7,
} as const;
export type PowerState = (typeof PowerState)[keyof typeof PowerState];

/** What the host offers, reported to Placement as inventory and shown as the hypervisor. */
export interface HostResources {
  vcpus: number;
  memoryMb: number;
  diskGb: number;
  hypervisorType: string;      // 'QEMU' | 'fake'
  hypervisorVersion: number;   // e.g. 7002000 for 7.2.0, as libvirt reports it
  cpuInfo: Record<string, unknown>;
  hostIp: string;
}

/** Image metadata as the image service shows it (the subset a driver needs). */
export interface ImageMeta {
  id: string;
  diskFormat: string;          // qcow2, raw, aki, ari, ami, iso, ...
  containerFormat: string;
  size: number;
  minDisk: number;
  minRam: number;
  checksum?: string | null;
  /** Image properties, e.g. kernel_id/ramdisk_id for AMIs, os_command_line, hw_* . */
  properties: Record<string, string>;
}

/** Fetches image data from the image service; the driver's base-image cache calls it once per image. */
export interface ImageSource {
  meta(imageId: string): Promise<ImageMeta>;
  /** The image's bytes. */
  data(imageId: string): Promise<Readable>;
  /** Creates nothing: uploads `data` as the bytes of an existing, queued image (snapshots). */
  upload(imageId: string, data: Readable, diskFormat: string): Promise<void>;
  /** Deletes an image the compute service made (a shelved server's snapshot, once unshelved). Optional. */
  delete?(imageId: string): Promise<void>;
}

/** A network interface of the instance (filled once the network service exists). */
export interface Vif {
  portId: string;
  mac: string;
  /** Host device to plug into (a tap name the network agent created), or null for user-mode. */
  tapName: string | null;
  mtu?: number;
}

export interface InstanceSpec {
  uuid: string;
  /** The guest's host name (from the server name, sanitised by the API). */
  hostname: string;
  vcpus: number;
  memoryMb: number;
  rootGb: number;
  ephemeralGb: number;
  swapMb: number;
  /** The boot image, or null when booting from a volume. */
  image: ImageMeta | null;
  /** base64 user data as the API received it. */
  userData: string | null;
  metadata: Record<string, string>;
  keyName: string | null;
  keyData: string | null;
  configDrive: boolean;
  /** The OpenStack metadata of the instance for the config drive (meta_data.json content etc.). */
  configDriveFiles?: Record<string, string | Buffer>;
  /** The admin password of this build or rebuild, for the config drive's admin_pass (never stored, as in Nova). */
  adminPass?: string | null;
  vifs: Vif[];
}

export interface InstanceInfo {
  uuid: string;
  powerState: PowerState;
  /** Present for real processes (the qemu driver), for the leak tests. */
  pid?: number;
}

/**
 * Where a VNC server listens. The qemu driver serves VNC on a unix socket inside the instance's
 * directory (`path`; host '' and port 0): no port allocation, nothing reachable from other local
 * users, and the same path after an agent restart. A console proxy connects with
 * `net.connect({ path })` when `path` is set, else `net.connect(port, host)` (loopback).
 */
export interface VncConsole { host: string; port: number; path?: string }

/**
 * Expected failures a driver reports (Nova's exception classes of the same meaning); anything else
 * a driver throws is a bug or a host failure. The agent maps these to the instance's fault.
 */
export type DriverErrorCode =
  | 'InstanceNotFound'        // nothing of this uuid on the host
  | 'InstanceInvalidState'    // e.g. unpause of a running guest, confirm without a resize
  | 'InvalidInput'            // a malformed uuid, tap name, MAC, size
  | 'ImageUnacceptable'       // bad format, backing file, checksum mismatch, missing kernel
  | 'FlavorDiskSmallerThanImage'
  | 'HypervisorUnavailable';  // the hypervisor binary is missing or failed to start the guest

export class DriverError extends Error {
  constructor(readonly code: DriverErrorCode, message: string, opts?: { cause?: unknown }) {
    super(message, opts);
    this.name = 'DriverError';
  }
}

export interface HypervisorDriver {
  /** 'qemu' | 'fake'. */
  readonly name: string;
  /** Prepares the host (directories, probes such as the KVM boot probe). Idempotent. */
  init(): Promise<void>;
  hostResources(): Promise<HostResources>;
  /** Every instance this driver knows on the host (running or not), for reconciliation after a restart. */
  listInstances(): Promise<InstanceInfo[]>;
  powerState(uuid: string): Promise<PowerState>;

  /** Creates disks from the (cached) image and starts the guest; resolves once the VM runs. */
  spawn(spec: InstanceSpec, images: ImageSource): Promise<void>;
  /** Stops the guest if running and removes everything the instance had on the host. Idempotent. */
  destroy(uuid: string): Promise<void>;

  /** Clean shutdown (ACPI) within timeoutSec, then forced. The disks stay. */
  powerOff(uuid: string, timeoutSec: number): Promise<void>;
  /** Starts a stopped instance again from its existing disks. */
  powerOn(spec: InstanceSpec): Promise<void>;
  reboot(spec: InstanceSpec, hard: boolean): Promise<void>;
  pause(uuid: string): Promise<void>;
  unpause(uuid: string): Promise<void>;
  /** Saves the guest's memory to disk and stops the process (libvirt managed save). */
  suspend(uuid: string): Promise<void>;
  resume(spec: InstanceSpec): Promise<void>;

  /** Boots the rescue image with the instance's disk attached second; unrescue restores it. */
  rescue(spec: InstanceSpec, rescueImage: ImageMeta, images: ImageSource): Promise<void>;
  unrescue(spec: InstanceSpec): Promise<void>;

  /**
   * Resize on this host: keeps the old disk for revert, grows the root disk to the new flavor and
   * restarts the guest with the new vCPUs/memory. confirm drops the backup, revert restores it.
   */
  resize(oldSpec: InstanceSpec, newSpec: InstanceSpec): Promise<void>;
  confirmResize(uuid: string): Promise<void>;
  revertResize(oldSpec: InstanceSpec): Promise<void>;

  /** Rebuild: new root disk from `spec.image`, same uuid. */
  rebuild(spec: InstanceSpec, images: ImageSource): Promise<void>;

  /** Uploads a copy of the root disk (qcow2) as the bytes of image `imageId`. */
  snapshot(uuid: string, imageId: string, images: ImageSource): Promise<void>;

  /** The serial console log, the last `lines` lines when given. */
  consoleOutput(uuid: string, lines?: number): Promise<string>;
  /** Where the instance's VNC server listens (loopback); the console proxy connects there. */
  vncConsole(uuid: string): Promise<VncConsole>;
  /** Adds a NIC: hot-plugged into a running guest, and part of the guest from now on. */
  attachInterface(uuid: string, vif: Vif): Promise<void>;
  /** Removes the NIC with this MAC (the guest is asked to release it when it runs). */
  detachInterface(uuid: string, mac: string): Promise<void>;

  /**
   * Optional: called when the agent stops. Finishes pending writes (the fake driver's state file)
   * and waits for operations in flight; guests keep running.
   */
  close?(): Promise<void>;
}
