// The fake hypervisor driver (Nova's nova/virt/fake.py): the same interface, no processes and no
// disks. Instances live in memory and in <instancesPath>/fake-instances.json, so listInstances
// survives a restart of the agent. Writes are coalesced (one write per burst of operations, never
// one per operation) so a thousand boots take milliseconds; flush() waits for the file.

import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  DriverError, PowerState, type HostResources, type HypervisorDriver, type ImageMeta, type ImageSource,
  type InstanceInfo, type InstanceSpec, type Vif, type VncConsole,
} from '../driver.js';
import { checkSpec, firstHostIp, normUuid, silentLogger, type CommonDriverOptions, type DriverLogger } from './options.js';

export interface FakeDriverOptions extends CommonDriverOptions {
  /** Milliseconds a change may wait before the state file is written. Default 20. */
  writeDelayMs?: number;
}

interface Sizes { vcpus: number; memoryMb: number; rootGb: number; ephemeralGb: number; swapMb: number }

interface FakeInstance extends Sizes {
  uuid: string;
  powerState: PowerState;
  imageId: string | null;
  rescueImageId: string | null;
  resizeBackup: Sizes | null;
  /** Synthetic serial console lines. */
  console: string[];
  vncPort: number;
  /** MACs of the NICs (attached at boot or later). */
  macs?: string[];
}

const FILE = 'fake-instances.json';

export class FakeDriver implements HypervisorDriver {
  readonly name = 'fake';
  private readonly instances = new Map<string, FakeInstance>();
  private readonly file: string;
  private readonly log: DriverLogger;
  private loaded = false;
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private nextVnc = 5900;
  /** How many times the state file was written (for the tests of write coalescing). */
  writes = 0;

  constructor(private readonly opts: FakeDriverOptions) {
    if (!opts.instancesPath) throw new Error('fake driver: instancesPath is required');
    this.file = join(opts.instancesPath, FILE);
    this.log = opts.log ?? silentLogger;
  }

  async init(): Promise<void> {
    if (this.loaded) return;
    await mkdir(this.opts.instancesPath, { recursive: true });
    try {
      const saved = JSON.parse(await readFile(this.file, 'utf8')) as { instances: FakeInstance[] };
      for (const i of saved.instances) {
        this.instances.set(i.uuid, i);
        this.nextVnc = Math.max(this.nextVnc, i.vncPort + 1);
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log.warn({ err: (err as Error).message }, 'fake driver: state file unreadable, starting empty');
    }
    this.loaded = true;
  }

  async hostResources(): Promise<HostResources> {
    const o = this.opts.resources ?? {};
    return {
      vcpus: o.vcpus || 1000,
      memoryMb: o.memoryMb || 1024 * 1024,
      diskGb: o.diskGb || 100_000,
      hypervisorType: 'fake',
      hypervisorVersion: 1000,
      cpuInfo: { arch: 'x86_64', model: 'fake', vendor: 'fake', topology: { cells: 1, sockets: 1, cores: 1000, threads: 1 }, features: [] },
      hostIp: this.opts.hostIp || firstHostIp(),
    };
  }

  async listInstances(): Promise<InstanceInfo[]> {
    return [...this.instances.values()].map((i) => ({ uuid: i.uuid, powerState: i.powerState }));
  }

  async powerState(uuid: string): Promise<PowerState> { return this.get(uuid).powerState; }

  async spawn(spec: InstanceSpec, images: ImageSource): Promise<void> {
    const uuid = checkSpec(spec);
    const existing = this.instances.get(uuid);
    if (existing) {
      if (existing.powerState === PowerState.RUNNING) return;
      throw new DriverError('InstanceInvalidState', `instance ${uuid} already exists on this host; destroy it first`);
    }
    if (spec.image) {
      if (spec.rootGb > 0 && spec.image.minDisk > spec.rootGb) {
        throw new DriverError('FlavorDiskSmallerThanImage', `image ${spec.image.id} needs ${spec.image.minDisk} GiB, the flavor has ${spec.rootGb}`);
      }
      void images; // nothing is downloaded
    }
    this.instances.set(uuid, {
      uuid, ...sizesOf(spec), powerState: PowerState.RUNNING, imageId: spec.image?.id ?? null,
      rescueImageId: null, resizeBackup: null, console: fakeBootLog(uuid, spec), vncPort: this.nextVnc++,
    });
    this.changed();
  }

  async destroy(uuid: string): Promise<void> {
    if (this.instances.delete(normUuid(uuid))) this.changed();
  }

  async powerOff(uuid: string, _timeoutSec: number): Promise<void> {
    const i = this.get(uuid);
    if (i.powerState === PowerState.SUSPENDED) return;
    this.set(i, PowerState.SHUTDOWN, 'powered off');
  }

  async powerOn(spec: InstanceSpec): Promise<void> {
    const i = this.get(checkSpec(spec));
    if (i.powerState === PowerState.RUNNING) return;
    Object.assign(i, { vcpus: spec.vcpus, memoryMb: spec.memoryMb });
    this.set(i, PowerState.RUNNING, 'powered on');
  }

  async reboot(spec: InstanceSpec, hard: boolean): Promise<void> {
    const i = this.get(checkSpec(spec));
    this.set(i, PowerState.RUNNING, hard ? 'hard reboot' : 'soft reboot');
  }

  async pause(uuid: string): Promise<void> {
    const i = this.get(uuid);
    this.need(i, PowerState.RUNNING, 'pause');
    this.set(i, PowerState.PAUSED, 'paused');
  }

  async unpause(uuid: string): Promise<void> {
    const i = this.get(uuid);
    this.need(i, PowerState.PAUSED, 'unpause');
    this.set(i, PowerState.RUNNING, 'unpaused');
  }

  async suspend(uuid: string): Promise<void> {
    const i = this.get(uuid);
    if (i.powerState !== PowerState.RUNNING && i.powerState !== PowerState.PAUSED) this.need(i, PowerState.RUNNING, 'suspend');
    this.set(i, PowerState.SUSPENDED, 'suspended');
  }

  async resume(spec: InstanceSpec): Promise<void> {
    const i = this.get(checkSpec(spec));
    if (i.powerState === PowerState.RUNNING) return;
    this.need(i, PowerState.SUSPENDED, 'resume');
    this.set(i, PowerState.RUNNING, 'resumed');
  }

  async rescue(spec: InstanceSpec, rescueImage: ImageMeta, _images: ImageSource): Promise<void> {
    const i = this.get(checkSpec(spec));
    if (i.rescueImageId) throw new DriverError('InstanceInvalidState', `instance ${i.uuid} is already in rescue`);
    i.rescueImageId = rescueImage.id;
    this.set(i, PowerState.RUNNING, `rescue from ${rescueImage.id}`);
  }

  async unrescue(spec: InstanceSpec): Promise<void> {
    const i = this.get(checkSpec(spec));
    if (!i.rescueImageId) throw new DriverError('InstanceInvalidState', `instance ${i.uuid} is not in rescue`);
    i.rescueImageId = null;
    this.set(i, PowerState.RUNNING, 'unrescued');
  }

  async resize(oldSpec: InstanceSpec, newSpec: InstanceSpec): Promise<void> {
    const uuid = checkSpec(newSpec);
    if (normUuid(oldSpec.uuid) !== uuid) throw new DriverError('InvalidInput', 'resize: the two specs name different instances');
    const i = this.get(uuid);
    if (i.resizeBackup) throw new DriverError('InstanceInvalidState', `instance ${uuid} has a resize to confirm or revert`);
    if (newSpec.rootGb > 0 && newSpec.rootGb < i.rootGb) throw new DriverError('FlavorDiskSmallerThanImage', `instance ${uuid}: cannot shrink the root disk`);
    const wasOn = i.powerState === PowerState.RUNNING || i.powerState === PowerState.PAUSED;
    i.resizeBackup = sizesOf(i);
    Object.assign(i, sizesOf(newSpec));
    this.set(i, wasOn ? PowerState.RUNNING : PowerState.SHUTDOWN, `resized to ${newSpec.vcpus} vCPUs, ${newSpec.memoryMb} MiB`);
  }

  async confirmResize(uuid: string): Promise<void> {
    const i = this.get(uuid);
    if (!i.resizeBackup) return;
    i.resizeBackup = null;
    this.changed();
  }

  async revertResize(oldSpec: InstanceSpec): Promise<void> {
    const i = this.get(checkSpec(oldSpec));
    if (!i.resizeBackup) throw new DriverError('InstanceInvalidState', `instance ${i.uuid} has no resize to revert`);
    Object.assign(i, i.resizeBackup);
    i.resizeBackup = null;
    this.set(i, i.powerState === PowerState.SHUTDOWN ? PowerState.SHUTDOWN : PowerState.RUNNING, 'resize reverted');
  }

  async rebuild(spec: InstanceSpec, _images: ImageSource): Promise<void> {
    const i = this.get(checkSpec(spec));
    i.imageId = spec.image?.id ?? null;
    i.rootGb = spec.rootGb;
    this.set(i, PowerState.RUNNING, `rebuilt from ${i.imageId}`);
  }

  async snapshot(uuid: string, imageId: string, images: ImageSource): Promise<void> {
    const i = this.get(uuid);
    // A tiny but valid qcow2 header (version 3, 1 GiB, no backing file) so the upload is a qcow2.
    const h = Buffer.alloc(512);
    h.write('QFI\xfb', 0, 'latin1');
    h.writeUInt32BE(3, 4);            // version
    h.writeUInt32BE(16, 20);          // cluster_bits
    h.writeBigUInt64BE(BigInt(Math.max(1, i.rootGb)) * 1024n ** 3n, 24); // size
    h.writeUInt32BE(4, 96);           // refcount_order
    h.writeUInt32BE(104, 100);        // header_length
    await images.upload(imageId, Readable.from([h]), 'qcow2');
  }

  async consoleOutput(uuid: string, lines?: number): Promise<string> {
    const all = this.get(uuid).console;
    const sel = lines === undefined || lines < 0 ? all : all.slice(Math.max(0, all.length - lines));
    return sel.length ? sel.join('\n') + '\n' : '';
  }

  async vncConsole(uuid: string): Promise<VncConsole> {
    const i = this.get(uuid);
    if (i.powerState !== PowerState.RUNNING && i.powerState !== PowerState.PAUSED) throw new DriverError('InstanceInvalidState', `instance ${i.uuid} is not running`);
    return { host: '127.0.0.1', port: i.vncPort };
  }

  async attachInterface(uuid: string, vif: Vif): Promise<void> {
    const i = this.get(uuid);
    const macs = (i.macs ??= []);
    if (!macs.includes(vif.mac.toLowerCase())) macs.push(vif.mac.toLowerCase());
    this.changed();
  }

  async detachInterface(uuid: string, mac: string): Promise<void> {
    const i = this.get(uuid);
    i.macs = (i.macs ?? []).filter((m) => m !== mac.toLowerCase());
    this.changed();
  }

  async close(): Promise<void> { await this.flush(); }

  /** Resolves once every change so far is in the state file. */
  async flush(): Promise<void> {
    if (this.timer) { clearTimeout(this.timer); this.timer = undefined; }
    while (this.dirty || this.writing) {
      if (this.writing) await this.writing;
      else await this.write();
    }
  }

  // --- internals -----------------------------------------------------------------------------

  private get(uuid: string): FakeInstance {
    const id = normUuid(uuid);
    const i = this.instances.get(id);
    if (!i) throw new DriverError('InstanceNotFound', `instance ${id} is not on this host`);
    return i;
  }

  private need(i: FakeInstance, state: PowerState, op: string): void {
    if (i.powerState !== state) throw new DriverError('InstanceInvalidState', `cannot ${op} instance ${i.uuid} in power state ${i.powerState}`);
  }

  private set(i: FakeInstance, state: PowerState, what: string): void {
    i.powerState = state;
    i.console.push(`fake guest ${i.uuid}: ${what}`);
    if (i.console.length > 50) i.console.splice(0, i.console.length - 50);
    this.changed();
  }

  private changed(): void {
    this.dirty = true;
    if (!this.timer && !this.writing) {
      this.timer = setTimeout(() => { this.timer = undefined; void this.write().catch(() => undefined); }, this.opts.writeDelayMs ?? 20);
      this.timer.unref();
    }
  }

  private write(): Promise<void> {
    this.dirty = false;
    const body = JSON.stringify({ version: 1, instances: [...this.instances.values()] });
    const tmp = `${this.file}.${randomBytes(4).toString('hex')}.tmp`;
    this.writing = (async () => {
      try {
        await writeFile(tmp, body);
        await rename(tmp, this.file);
        this.writes++;
      } catch (err) {
        this.dirty = true;
        this.log.error({ err: (err as Error).message }, 'fake driver: cannot write the state file');
        throw err;
      } finally {
        this.writing = undefined;
        if (this.dirty && !this.timer) this.changed();
      }
    })();
    return this.writing;
  }
}

function sizesOf(s: Sizes): Sizes {
  return { vcpus: s.vcpus, memoryMb: s.memoryMb, rootGb: s.rootGb, ephemeralGb: s.ephemeralGb, swapMb: s.swapMb };
}

export function createFakeDriver(opts: FakeDriverOptions): FakeDriver {
  return new FakeDriver(opts);
}

/** What a fake guest "prints" when it boots: a few lines shaped like a real serial log. */
function fakeBootLog(uuid: string, spec: InstanceSpec): string[] {
  return [
    `fake firmware: booting instance ${uuid}`,
    `fake kernel: ${spec.vcpus} vCPU, ${spec.memoryMb} MiB RAM, root disk ${spec.rootGb} GiB`,
    `fake init: hostname ${spec.hostname}`,
    `fake guest ${uuid} (${spec.hostname}) booted`,
    `${spec.hostname} login:`,
  ];
}
