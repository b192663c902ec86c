// The qemu hypervisor driver: one daemonised qemu-system-x86_64 per instance, controlled over QMP,
// everything of an instance under <instancesPath>/<uuid>/ (see ../README.md for the layout and
// what each operation does to the process). KVM only after a probe boot proved it works.

import { randomBytes, createHash } from 'node:crypto';
import { constants as fsc, createReadStream, createWriteStream } from 'node:fs';
import { copyFile, mkdir, open, readdir, readFile, rename, rm, rmdir, stat, statfs, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { run } from '../../../../common/exec.js';
import {
  DriverError, PowerState, type HostResources, type HypervisorDriver, type ImageMeta, type ImageSource,
  type InstanceInfo, type InstanceSpec, type Vif, type VncConsole,
} from '../../driver.js';
import { checkSpec, firstHostIp, normUuid, silentLogger, UUID, type CommonDriverOptions, type DriverLogger } from '../options.js';
import { nicIds, qemuArgv, TAP_NAME, type VmConfig, type VmDisk, type VmNic } from './argv.js';
import { BaseImageCache, qemuImgInfo, type BaseImage } from './images.js';
import { kvmDeviceUsable, runBootProbe, type ProbeGuest } from './probe.js';
import { QmpClient, QmpError } from './qmp.js';
import { InstanceMetadata } from '../../../metadata/documents.js';
import { sourceFromSpec } from '../../../metadata/source.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

export interface QemuDriverOptions extends CommonDriverOptions {
  virtType?: 'auto' | 'kvm' | 'tcg';
  qemuBinary?: string;
  qemuImgBinary?: string;
  /** Seconds a clean (ACPI) shutdown may take inside resize, rebuild, rescue and soft reboot. Default 60. */
  cleanShutdownTimeoutSec?: number;
  /** The guest booted by the KVM probe; default a built-in boot sector that prints a marker. */
  probeGuest?: ProbeGuest;
  /** Hard limit of the KVM probe boot. Default 20 s. */
  probeTimeoutMs?: number;
}

/** How the root disk boots: from its own boot sector, or directly with the image's kernel. */
interface BootImage {
  id: string;
  format: 'raw' | 'qcow2';
  diskFormat: string;
  virtualSize: number;
  kernel?: { path: string; initrd?: string; cmdline: string };
}

interface Sizes { vcpus: number; memoryMb: number; rootGb: number; ephemeralGb: number; swapMb: number }

/** <dir>/instance.json: what the driver needs to (re)start the guest without the agent. */
interface InstanceRecord extends Sizes {
  version: 1;
  uuid: string;
  hostname: string;
  image: BootImage;
  nics: VmNic[];
  /** <dir>/disk.config (ISO 9660, label config-2) is attached read-only. */
  configDrive?: boolean;
  /** The acceleration the process was started with (a saved state restores only under the same). */
  accel: 'kvm' | 'tcg';
  suspended: boolean;
  /** The guest was paused when it was suspended (resume restores it paused). */
  pausedAtSuspend?: boolean;
  rescue: { image: BootImage } | null;
  resize: { old: Sizes; hadEphemeral: boolean; hadSwap: boolean; wasRunning: boolean } | null;
}

const QEMU_STATUS: Record<string, PowerState> = {
  running: PowerState.RUNNING,
  shutdown: PowerState.SHUTDOWN,
  'internal-error': PowerState.CRASHED,
  'guest-panicked': PowerState.CRASHED,
};

/** The verdict of the KVM probe, once per QEMU binary for the life of this process. */
const accelVerdicts = new Map<string, Promise<'kvm' | 'tcg'>>();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class QemuDriver implements HypervisorDriver {
  readonly name = 'qemu';
  readonly instancesPath: string;
  private readonly qemu: string;
  private readonly qemuImg: string;
  private readonly log: DriverLogger;
  private readonly cache: BaseImageCache;
  private readonly locks = new Map<string, Promise<unknown>>();
  private accelChoice: 'kvm' | 'tcg' | undefined;
  private versionCache: { text: string; number: number } | undefined;

  constructor(private readonly opts: QemuDriverOptions) {
    if (!opts.instancesPath) throw new Error('qemu driver: instancesPath is required');
    this.instancesPath = opts.instancesPath;
    this.qemu = opts.qemuBinary ?? 'qemu-system-x86_64';
    this.qemuImg = opts.qemuImgBinary ?? 'qemu-img';
    this.log = opts.log ?? silentLogger;
    this.cache = new BaseImageCache(this.instancesPath, this.qemuImg);
  }

  // --- host ----------------------------------------------------------------------------------

  async init(): Promise<void> {
    await mkdir(this.instancesPath, { recursive: true, mode: 0o711 });
    await mkdir(this.cache.dir, { recursive: true });
    await this.version();
    this.accelChoice = await this.chooseAccel();
  }

  /** The driver chooses KVM or TCG itself (virt_type auto), and may fall back to TCG; else the operator's choice holds. */
  private get accelIsAuto(): boolean { return (this.opts.virtType ?? 'auto') === 'auto'; }

  /** Written when a guest hit a KVM internal error: this host then runs TCG for good. */
  private get kvmFailedFile(): string { return join(this.instancesPath, '_probe', 'kvm-failed'); }

  /**
   * The probe boots a real-mode boot sector; a full guest (BIOS, boot loader, protected mode) can
   * still stop with a KVM internal error ("emulation failure") on a host whose nested KVM lacks
   * something. So for the first 30 s of every KVM guest its status is watched; on such an error
   * the host switches to TCG for good and the guest is restarted under TCG.
   */
  private watchKvm(id: string): void {
    const until = Date.now() + 30_000;
    const tick = async (): Promise<void> => {
      if (Date.now() > until || this.accelChoice !== 'kvm') return;
      let status: string | undefined;
      try { status = await this.withQmp(id, async (q) => (await q.execute<{ status: string }>('query-status')).status, 2000); } catch { /* busy, or gone */ }
      if (status === 'internal-error') { await this.kvmFailed(id).catch((e) => this.log.error({ err: e, uuid: id }, 'qemu driver: restart under TCG failed')); return; }
      setTimeout(() => { void tick(); }, 500).unref();
    };
    setTimeout(() => { void tick(); }, 500).unref();
  }

  /** This host runs TCG from now on (and after restarts: the kvm-failed file). */
  private async useTcg(reason: string): Promise<void> {
    this.log.warn({ reason }, 'qemu driver: KVM failed on this host: using TCG from now on');
    this.accelChoice = 'tcg';
    accelVerdicts.set(this.qemu, Promise.resolve('tcg'));
    await mkdir(join(this.instancesPath, '_probe'), { recursive: true });
    await writeFile(this.kvmFailedFile, `${reason} at ${new Date().toISOString()}\n`);
  }

  private async kvmFailed(id: string): Promise<void> {
    await this.useTcg(`KVM internal error in instance ${id}; restarting it under TCG`);
    await this.locked(id, async () => {
      const rec = await this.readRecord(id);
      if (rec.accel !== 'kvm') return;
      await this.stopProcess(id, 0);
      await this.startProcess(rec);
      await this.writeRecord(rec);
    });
  }

  /** 'kvm' or 'tcg', as init() decided. */
  get accel(): 'kvm' | 'tcg' {
    if (!this.accelChoice) throw new Error('qemu driver: init() first');
    return this.accelChoice;
  }

  private chooseAccel(): Promise<'kvm' | 'tcg'> {
    const virtType = this.opts.virtType ?? 'auto';
    if (virtType !== 'auto') return Promise.resolve(virtType);
    let p = accelVerdicts.get(this.qemu);
    if (!p) {
      p = (async () => {
        if (!(await kvmDeviceUsable())) {
          this.log.info({ accel: 'tcg' }, 'qemu driver: /dev/kvm is not usable, using TCG');
          return 'tcg' as const;
        }
        const failed = await readFile(this.kvmFailedFile, 'utf8').catch(() => '');
        if (failed) {
          this.log.info({ accel: 'tcg', reason: failed.trim() }, 'qemu driver: KVM failed a guest on this host before, using TCG');
          return 'tcg' as const;
        }
        const r = await runBootProbe({
          qemu: this.qemu, accel: 'kvm', workDir: join(this.instancesPath, '_probe'),
          timeoutMs: this.opts.probeTimeoutMs ?? 20_000, guest: this.opts.probeGuest,
        });
        this.log.info({ accel: r.ok ? 'kvm' : 'tcg', probeMs: Math.round(r.ms), reason: r.reason }, 'qemu driver: KVM probe');
        return r.ok ? 'kvm' as const : 'tcg' as const;
      })();
      accelVerdicts.set(this.qemu, p);
    }
    return p;
  }

  private async version(): Promise<{ text: string; number: number }> {
    if (this.versionCache) return this.versionCache;
    let out: string;
    try { out = (await run(this.qemu, ['--version'], { timeoutMs: 10_000 })).stdout; } catch (err) {
      throw new DriverError('HypervisorUnavailable', `${this.qemu} --version failed: ${(err as Error).message}`, { cause: err });
    }
    const m = /version (\d+)\.(\d+)(?:\.(\d+))?/.exec(out);
    if (!m) throw new DriverError('HypervisorUnavailable', `cannot read the version of ${this.qemu}: ${out.slice(0, 200)}`);
    this.versionCache = { text: `${m[1]}.${m[2]}.${m[3] ?? 0}`, number: Number(m[1]) * 1_000_000 + Number(m[2]) * 1000 + Number(m[3] ?? 0) };
    return this.versionCache;
  }

  async hostResources(): Promise<HostResources> {
    const o = this.opts.resources ?? {};
    let diskGb = o.diskGb || 0;
    if (!diskGb) {
      const s = await statfs(this.instancesPath);
      diskGb = Math.floor((s.blocks * s.bsize) / GiB);
    }
    const cpuList = cpus();
    let vendor = '', flags: string[] = [];
    try {
      const ci = await readFile('/proc/cpuinfo', 'utf8');
      vendor = /^vendor_id\s*:\s*(.*)$/m.exec(ci)?.[1] ?? '';
      flags = (/^flags\s*:\s*(.*)$/m.exec(ci)?.[1] ?? '').split(/\s+/).filter(Boolean);
    } catch { /* not Linux */ }
    return {
      vcpus: o.vcpus || cpuList.length,
      memoryMb: o.memoryMb || Math.floor(totalmem() / MiB),
      diskGb,
      hypervisorType: 'QEMU',
      hypervisorVersion: (await this.version()).number,
      cpuInfo: {
        arch: process.arch === 'x64' ? 'x86_64' : process.arch,
        model: cpuList[0]?.model ?? 'unknown',
        vendor: vendor === 'GenuineIntel' ? 'Intel' : vendor === 'AuthenticAMD' ? 'AMD' : vendor,
        topology: { cells: 1, sockets: 1, cores: cpuList.length, threads: 1 },
        features: flags,
        accel: this.accelChoice ?? null,
      },
      hostIp: this.opts.hostIp || firstHostIp(),
    };
  }

  async listInstances(): Promise<InstanceInfo[]> {
    let names: string[];
    try { names = await readdir(this.instancesPath); } catch { return []; }
    const out: InstanceInfo[] = [];
    for (const n of names.sort()) {
      if (!UUID.test(n) || n !== n.toLowerCase()) continue;
      try {
        out.push(await this.locked(n, async () => {
          const pid = await this.livePid(n);
          return { uuid: n, powerState: await this.stateOf(n, pid), ...(pid ? { pid } : {}) };
        }));
      } catch (err) {
        if (!(err instanceof DriverError && err.code === 'InstanceNotFound')) throw err;
      }
    }
    return out;
  }

  async powerState(uuid: string): Promise<PowerState> {
    const id = normUuid(uuid);
    return this.locked(id, async () => this.stateOf(id, await this.livePid(id)));
  }

  // --- paths, records, processes -------------------------------------------------------------

  /** <instancesPath>/<uuid>. */
  instanceDir(uuid: string): string { return join(this.instancesPath, normUuid(uuid)); }

  /**
   * Where the instance's unix sockets live: its directory, unless that path is too long for a
   * socket address (108 bytes); then a short directory under the system's tmpdir, derived from
   * instancesPath and the uuid.
   */
  socketDir(uuid: string): string {
    const id = normUuid(uuid);
    const dir = join(this.instancesPath, id);
    if (Buffer.byteLength(join(dir, 'incoming.sock')) <= 100) return dir;
    const h = createHash('sha256').update(this.instancesPath).digest('hex').slice(0, 12);
    return join(tmpdir(), `monostack-qemu-${h}`, id);
  }

  qmpSocketPath(uuid: string): string { return join(this.socketDir(uuid), 'qmp.sock'); }

  private paths(id: string) {
    const dir = join(this.instancesPath, id);
    const sock = this.socketDir(id);
    return {
      dir, sock,
      record: join(dir, 'instance.json'),
      disk: join(dir, 'disk'),
      ephemeral: join(dir, 'disk.eph0'),
      swap: join(dir, 'disk.swap'),
      rescue: join(dir, 'disk.rescue'),
      config: join(dir, 'disk.config'),
      console: join(dir, 'console.log'),
      pid: join(dir, 'qemu.pid'),
      state: join(dir, 'suspend.state'),
      qmp: join(sock, 'qmp.sock'),
      vnc: join(sock, 'vnc.sock'),
      migrate: join(sock, 'migrate.sock'),
      incoming: join(sock, 'incoming.sock'),
    };
  }

  /** Serialises the operations on one instance. */
  private locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.locks.set(id, tail);
    void tail.then(() => { if (this.locks.get(id) === tail) this.locks.delete(id); });
    return next;
  }

  private async readRecord(id: string): Promise<InstanceRecord> {
    let text: string;
    try { text = await readFile(this.paths(id).record, 'utf8'); } catch {
      throw new DriverError('InstanceNotFound', `instance ${id} is not on this host`);
    }
    return JSON.parse(text) as InstanceRecord;
  }

  private async writeRecord(rec: InstanceRecord): Promise<void> {
    const p = this.paths(rec.uuid).record;
    const tmp = `${p}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(tmp, JSON.stringify(rec, null, 1));
    await rename(tmp, p);
  }

  /** The pid of this instance's QEMU if it runs (the pidfile's process, checked through /proc). */
  private async livePid(id: string): Promise<number | undefined> {
    let pid: number;
    try { pid = Number((await readFile(this.paths(id).pid, 'utf8')).trim()); } catch { return undefined; }
    if (!Number.isInteger(pid) || pid <= 1) return undefined;
    return (await isOurQemu(pid, `guest=instance-${id},`)) ? pid : undefined;
  }

  private async stateOf(id: string, pid: number | undefined): Promise<PowerState> {
    if (!pid) {
      let rec: InstanceRecord;
      try { rec = await this.readRecord(id); } catch (err) {
        // A directory without a record: a spawn that died half-way; the agent should destroy it.
        if (await exists(join(this.instancesPath, id))) return PowerState.NOSTATE;
        throw err;
      }
      return rec.suspended && (await exists(this.paths(id).state)) ? PowerState.SUSPENDED : PowerState.SHUTDOWN;
    }
    try {
      const st = await this.withQmp(id, (q) => q.execute<{ status: string; running: boolean }>('query-status'), 3000);
      return QEMU_STATUS[st.status] ?? PowerState.PAUSED;
    } catch (err) {
      this.log.warn({ uuid: id, err: (err as Error).message }, 'qemu driver: query-status failed');
      return (await isOurQemu(pid, `guest=instance-${id},`)) ? PowerState.NOSTATE : PowerState.SHUTDOWN;
    }
  }

  /** One QMP connection for the span of `fn`. */
  private async withQmp<T>(id: string, fn: (q: QmpClient) => Promise<T>, timeoutMs = 5000): Promise<T> {
    const q = await QmpClient.connect(this.paths(id).qmp, { timeoutMs });
    try { return await fn(q); } finally { q.close(); }
  }

  /** Runs one QMP command against a running instance (for diagnostics and tests), in turn with other operations. */
  qmp<T = unknown>(uuid: string, command: string, args?: Record<string, unknown>): Promise<T> {
    const id = normUuid(uuid);
    return this.locked(id, async () => {
      if (!(await this.livePid(id))) throw new DriverError('InstanceInvalidState', `instance ${id} is not running`);
      return this.withQmp(id, (q) => q.execute<T>(command, args));
    });
  }

  private vmConfig(rec: InstanceRecord, incoming = false): VmConfig {
    const p = this.paths(rec.uuid);
    const disks: VmDisk[] = [];
    const boot = rec.rescue ? rec.rescue.image : rec.image;
    if (rec.rescue) disks.push({ path: p.rescue, format: 'qcow2', serial: 'rescue' });
    disks.push({ path: p.disk, format: 'qcow2', serial: 'root' });
    if (rec.ephemeralGb > 0) disks.push({ path: p.ephemeral, format: 'qcow2', serial: 'ephemeral0' });
    if (rec.swapMb > 0) disks.push({ path: p.swap, format: 'qcow2', serial: 'swap' });
    if (rec.configDrive) disks.push({ path: p.config, format: 'raw', serial: 'config-2', readonly: true });
    return {
      uuid: rec.uuid, accel: rec.accel, vcpus: rec.vcpus, memoryMb: rec.memoryMb, disks, nics: rec.nics,
      kernel: boot.kernel, consoleLog: p.console, qmpSocket: p.qmp, vncSocket: p.vnc, pidFile: p.pid, incoming,
    };
  }

  /** Starts the QEMU process of `rec` (daemonised; returns once QEMU initialised) and returns its pid. */
  private async startProcess(rec: InstanceRecord, incoming = false): Promise<number> {
    const p = this.paths(rec.uuid);
    if (p.sock !== p.dir) await mkdir(p.sock, { recursive: true, mode: 0o700 });
    for (const f of [p.qmp, p.vnc, p.pid]) await rm(f, { force: true });
    try { if ((await stat(p.console)).size > 8 * MiB) await rename(p.console, `${p.console}.0`); } catch { /* none yet */ }
    rec.accel = incoming ? rec.accel : this.accel;
    const argv = qemuArgv(this.vmConfig(rec, incoming));
    const t0 = performance.now();
    try {
      await run(this.qemu, argv, { timeoutMs: 60_000 });
    } catch (err) {
      const e = err as Error & { stderr?: string };
      const why = (e.stderr || e.message).trim();
      // A host whose KVM passed the probe may still refuse the guest's CPU at start (seen: nested
      // KVM failing "kvm_buf_set_msrs" for -cpu host): like a KVM internal error later, the host
      // then runs TCG for good, and this guest starts again under it. Only when the driver chose
      // KVM itself (virt_type auto): an operator who asked for kvm gets the error, as from Nova.
      if (rec.accel === 'kvm' && !incoming && this.accelChoice === 'kvm' && this.accelIsAuto && /\bkvm/i.test(why)) {
        await this.useTcg(`QEMU refused to start instance ${rec.uuid} under KVM: ${why.split('\n').pop()}`);
        return this.startProcess(rec, incoming);
      }
      throw new DriverError('HypervisorUnavailable', `instance ${rec.uuid}: qemu did not start: ${why.slice(0, 1000)}`, { cause: err });
    }
    const pid = await this.livePid(rec.uuid);
    if (!pid) throw new DriverError('HypervisorUnavailable', `instance ${rec.uuid}: qemu started but its process is gone`);
    this.log.info({ uuid: rec.uuid, pid, accel: rec.accel, ms: Math.round(performance.now() - t0), incoming }, 'qemu driver: started');
    if (rec.accel === 'kvm' && this.accelIsAuto) this.watchKvm(rec.uuid);
    return pid;
  }

  /**
   * Stops the process: ACPI power button and up to timeoutSec for the guest to power off (QEMU
   * exits then), else QMP quit, else SIGTERM and SIGKILL. Resolves once the process is gone.
   */
  private async stopProcess(id: string, timeoutSec: number): Promise<boolean> {
    const pid = await this.livePid(id);
    if (!pid) return false;
    const marker = `guest=instance-${id},`;
    let clean = false;
    if (timeoutSec > 0) {
      try {
        const st = await this.withQmp(id, async (q) => {
          const s = await q.execute<{ status: string }>('query-status');
          if (s.status === 'running') await q.execute('system_powerdown');
          return s.status;
        });
        if (st === 'running') clean = await waitGone(pid, marker, timeoutSec * 1000);
      } catch (err) {
        this.log.warn({ uuid: id, err: (err as Error).message }, 'qemu driver: system_powerdown failed');
      }
    }
    if (!clean && (await isOurQemu(pid, marker))) {
      try { await this.withQmp(id, (q) => q.execute('quit', undefined, { timeoutMs: 3000 }), 3000); } catch { /* quit closes the socket, or QMP is stuck */ }
      if (!(await waitGone(pid, marker, 5000))) {
        signal(pid, 'SIGTERM');
        if (!(await waitGone(pid, marker, 3000))) {
          signal(pid, 'SIGKILL');
          if (!(await waitGone(pid, marker, 10_000))) throw new Error(`instance ${id}: qemu pid ${pid} does not die`);
        }
      }
    }
    this.log.info({ uuid: id, pid, clean }, 'qemu driver: stopped');
    return true;
  }

  /** Waits until QMP query-status says `want` (or the process dies). */
  private async waitStatus(id: string, pid: number, want: string[], timeoutMs: number): Promise<string> {
    const end = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < end) {
      if (!(await isOurQemu(pid, `guest=instance-${id},`))) throw new DriverError('HypervisorUnavailable', `instance ${id}: qemu exited (last status ${last || 'unknown'})`);
      try {
        last = (await this.withQmp(id, (q) => q.execute<{ status: string }>('query-status'), 3000)).status;
        if (want.includes(last)) return last;
      } catch { /* busy or not up yet */ }
      await sleep(50);
    }
    throw new DriverError('HypervisorUnavailable', `instance ${id}: status ${last || 'unknown'} after ${timeoutMs} ms, wanted ${want.join('/')}`);
  }

  private cleanTimeout(): number { return this.opts.cleanShutdownTimeoutSec ?? 60; }

  // --- disks -----------------------------------------------------------------------------------

  private async bootImage(image: ImageMeta, images: ImageSource): Promise<BootImage> {
    const base = await this.cache.get(image.id, images, image);
    const props = image.properties ?? {};
    const b: BootImage = { id: base.id, format: base.format, diskFormat: base.diskFormat, virtualSize: base.virtualSize };
    const kernelId = props.kernel_id;
    if (kernelId || image.diskFormat === 'ami') {
      if (!kernelId) throw new DriverError('ImageUnacceptable', `image ${image.id}: an AMI needs a kernel_id property`);
      const kernel = await this.cache.get(kernelId, images);
      let initrd: BaseImage | undefined;
      if (props.ramdisk_id) initrd = await this.cache.get(props.ramdisk_id, images);
      const cmdline = props.os_command_line || 'root=/dev/vda console=tty0 console=ttyS0';
      if (cmdline.length > 2048 || /[\0\n]/.test(cmdline)) throw new DriverError('ImageUnacceptable', `image ${image.id}: os_command_line is not usable`);
      b.kernel = { path: kernel.path, ...(initrd ? { initrd: initrd.path } : {}), cmdline };
    } else if (image.diskFormat === 'aki' || image.diskFormat === 'ari') {
      throw new DriverError('ImageUnacceptable', `image ${image.id}: a ${image.diskFormat} image is a kernel or ramdisk, not a bootable disk`);
    }
    return b;
  }

  /** A qcow2 overlay on the base of `b`, `gb` GiB (0: the image's own virtual size). */
  private async createOverlay(path: string, b: BootImage, gb: number): Promise<void> {
    const size = gb > 0 ? gb * GiB : b.virtualSize;
    if (size < b.virtualSize) throw new DriverError('FlavorDiskSmallerThanImage', `the flavor's ${gb} GiB root disk is smaller than image ${b.id} (${b.virtualSize} bytes)`);
    await run(this.qemuImg, ['create', '-q', '-f', 'qcow2', '-F', b.format, '-b', join(this.cache.dir, b.id), path, String(size)]);
  }

  /**
   * The config drive: an ISO 9660 image labelled config-2 (what cloud-init looks for) holding
   * spec.configDriveFiles, else the files of the configDriveFiles option (the metadata service's
   * documents), else the same documents made from the spec alone. Built with genisoimage from a
   * staging directory inside the instance directory.
   */
  private async buildConfigDrive(spec: InstanceSpec, out: string): Promise<void> {
    const files: Record<string, string | Buffer> = spec.configDriveFiles
      ?? (this.opts.configDriveFiles ? await this.opts.configDriveFiles(spec) : new InstanceMetadata(sourceFromSpec(spec)).configDriveFiles());
    const stage = join(join(out, '..'), `config-drive.${randomBytes(4).toString('hex')}`);
    try {
      for (const [rel, content] of Object.entries(files)) {
        if (!/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/.test(rel) || rel.split('/').some((c) => c === '.' || c === '..')) {
          throw new DriverError('InvalidInput', `config drive: bad file name ${JSON.stringify(rel)}`);
        }
        const target = join(stage, rel);
        await mkdir(join(target, '..'), { recursive: true });
        await writeFile(target, content);
      }
      await mkdir(stage, { recursive: true });
      try {
        await run('genisoimage', ['-o', out, '-ldots', '-allow-lowercase', '-allow-multidot', '-l', '-publisher', 'monostack',
          '-quiet', '-J', '-r', '-V', 'config-2', stage], { timeoutMs: 60_000 });
      } catch (err) {
        throw new DriverError('HypervisorUnavailable', `config drive: genisoimage failed (apt-get install genisoimage): ${(err as Error).message}`, { cause: err });
      }
    } finally {
      await rm(stage, { recursive: true, force: true });
    }
  }

  private async createBlank(path: string, bytes: number): Promise<void> {
    await run(this.qemuImg, ['create', '-q', '-f', 'qcow2', path, String(bytes)]);
  }

  private async virtualSize(path: string): Promise<number> {
    return (await qemuImgInfo(this.qemuImg, path, { format: 'qcow2', shared: true }))['virtual-size'];
  }

  // --- lifecycle -------------------------------------------------------------------------------

  async spawn(spec: InstanceSpec, images: ImageSource): Promise<void> {
    const id = checkSpec(spec);
    if (!spec.image) throw new DriverError('InvalidInput', 'the qemu driver cannot boot from a volume yet (no image)');
    const image = spec.image;
    await this.locked(id, async () => {
      const p = this.paths(id);
      if (await exists(p.record)) {
        if (await this.livePid(id)) return; // already spawned (a retried request)
        throw new DriverError('InstanceInvalidState', `instance ${id} already has disks on this host; destroy it first`);
      }
      await rm(p.dir, { recursive: true, force: true });
      await mkdir(p.dir, { recursive: true, mode: 0o700 });
      try {
        const boot = await this.bootImage(image, images);
        await this.createOverlay(p.disk, boot, spec.rootGb);
        if (spec.ephemeralGb > 0) await this.createBlank(p.ephemeral, spec.ephemeralGb * GiB);
        if (spec.swapMb > 0) await this.createBlank(p.swap, spec.swapMb * MiB);
        if (spec.configDrive) await this.buildConfigDrive(spec, p.config);
        const rec: InstanceRecord = {
          version: 1, uuid: id, hostname: spec.hostname, vcpus: spec.vcpus, memoryMb: spec.memoryMb, rootGb: spec.rootGb,
          ephemeralGb: spec.ephemeralGb, swapMb: spec.swapMb, image: boot, nics: nicsOf(spec), accel: this.accel,
          configDrive: spec.configDrive, suspended: false, rescue: null, resize: null,
        };
        await this.writeRecord(rec);
        await this.startProcess(rec);
        await this.writeRecord(rec);
      } catch (err) {
        const pid = await this.livePid(id);
        if (pid) { signal(pid, 'SIGKILL'); await waitGone(pid, `guest=instance-${id},`, 5000); }
        await rm(p.dir, { recursive: true, force: true });
        if (p.sock !== p.dir) await rm(p.sock, { recursive: true, force: true });
        throw err;
      }
    });
  }

  async destroy(uuid: string): Promise<void> {
    const id = normUuid(uuid);
    await this.locked(id, async () => {
      const p = this.paths(id);
      const marker = `guest=instance-${id},`;
      const pids = new Set(await findQemuPids(marker));
      const pid = await this.livePid(id);
      if (pid) pids.add(pid);
      for (const x of pids) signal(x, 'SIGKILL');
      for (const x of pids) {
        if (!(await waitGone(x, marker, 10_000))) throw new Error(`instance ${id}: qemu pid ${x} does not die`);
      }
      await rm(p.dir, { recursive: true, force: true });
      if (p.sock !== p.dir) {
        await rm(p.sock, { recursive: true, force: true });
        await rmdir(join(p.sock, '..')).catch(() => undefined); // the per-instancesPath socket directory, once empty
      }
      if (pids.size) this.log.info({ uuid: id, pids: [...pids] }, 'qemu driver: destroyed');
    });
  }

  async powerOff(uuid: string, timeoutSec: number): Promise<void> {
    const id = normUuid(uuid);
    await this.locked(id, async () => {
      await this.readRecord(id);
      await this.stopProcess(id, Math.max(0, timeoutSec));
    });
  }

  async powerOn(spec: InstanceSpec): Promise<void> {
    const id = checkSpec(spec);
    await this.locked(id, async () => {
      const rec = await this.readRecord(id);
      if (await this.livePid(id)) return;
      if (rec.suspended && (await exists(this.paths(id).state))) { await this.restore(rec); return; }
      this.applySpec(rec, spec);
      rec.suspended = false;
      await this.startProcess(rec);
      await this.writeRecord(rec);
    });
  }

  /** What the agent may change between boots: sizes of the current flavor, NICs, the name. */
  private applySpec(rec: InstanceRecord, spec: InstanceSpec): void {
    rec.vcpus = spec.vcpus;
    rec.memoryMb = spec.memoryMb;
    rec.nics = nicsOf(spec);
    rec.hostname = spec.hostname;
  }

  async reboot(spec: InstanceSpec, hard: boolean): Promise<void> {
    const id = checkSpec(spec);
    await this.locked(id, async () => {
      const rec = await this.readRecord(id);
      const pid = await this.livePid(id);
      if (pid && !hard) {
        const status = await this.withQmp(id, async (q) => (await q.execute<{ status: string }>('query-status')).status);
        if (status === 'running') {
          const t = this.cleanTimeout();
          if (t > 0) {
            await this.withQmp(id, (q) => q.execute('system_powerdown'));
            if (await waitGone(pid, `guest=instance-${id},`, t * 1000)) {
              this.applySpec(rec, spec);
              await this.startProcess(rec);
              await this.writeRecord(rec);
              return;
            }
          }
          // The guest ignored ACPI (or no wait was allowed): reset the machine in place.
          await this.withQmp(id, (q) => q.execute('system_reset'));
          this.log.info({ uuid: id, pid }, 'qemu driver: soft reboot by system_reset');
          return;
        }
      }
      // Hard reboot (or a guest that is not running): a new process from the same disks.
      await this.stopProcess(id, 0);
      if (rec.suspended) { await rm(this.paths(id).state, { force: true }); rec.suspended = false; }
      this.applySpec(rec, spec);
      await this.startProcess(rec);
      await this.writeRecord(rec);
    });
  }

  async pause(uuid: string): Promise<void> {
    await this.runState(uuid, 'stop', 'paused');
  }

  async unpause(uuid: string): Promise<void> {
    await this.runState(uuid, 'cont', 'running');
  }

  /** Pause/unpause: QMP `stop` or `cont` on the running guest, then its status must be `expected`. */
  private async runState(uuid: string, command: 'stop' | 'cont', expected: 'paused' | 'running'): Promise<void> {
    const id = normUuid(uuid);
    await this.locked(id, async () => {
      await this.readRecord(id);
      const pid = await this.livePid(id);
      if (!pid) throw new DriverError('InstanceInvalidState', `instance ${id} is not running`);
      await this.withQmp(id, async (q) => {
        await q.execute(command);
        const s = await q.execute<{ status: string }>('query-status');
        if (s.status !== expected) throw new DriverError('InstanceInvalidState', `instance ${id}: status ${s.status} after ${command}`);
      });
    });
  }

  /**
   * Managed save: pause, migrate the guest's state to a unix socket this process serves and
   * writes to <dir>/suspend.state, then quit QEMU.
   */
  async suspend(uuid: string): Promise<void> {
    const id = normUuid(uuid);
    await this.locked(id, async () => {
      const rec = await this.readRecord(id);
      const pid = await this.livePid(id);
      if (!pid) throw new DriverError('InstanceInvalidState', `instance ${id} is not running`);
      const p = this.paths(id);
      const tmp = `${p.state}.${randomBytes(4).toString('hex')}.part`;
      await rm(p.migrate, { force: true });
      let received: Promise<void> | undefined;
      const server: Server = createServer({ pauseOnConnect: false }, (sock: Socket) => {
        if (received) { sock.destroy(); return; } // one stream only
        received = pipeline(sock, createWriteStream(tmp, { mode: 0o600 }));
        received.catch(() => undefined); // awaited below; a failure must not be an unhandled rejection meanwhile
      });
      await new Promise<void>((res, rej) => { server.once('error', rej); server.listen(p.migrate, () => res()); });
      const t0 = performance.now();
      let wasRunning = false;
      try {
        await this.withQmp(id, async (q) => {
          wasRunning = (await q.execute<{ status: string }>('query-status')).status === 'running';
          if (wasRunning) await q.execute('stop');
          await q.execute('migrate-set-parameters', { 'max-bandwidth': 16 * GiB });
          await q.execute('migrate', { uri: `unix:${p.migrate}` });
          const end = Date.now() + 600_000;
          for (;;) {
            const m = await q.execute<{ status?: string; 'error-desc'?: string }>('query-migrate');
            if (m.status === 'completed') break;
            if (m.status === 'failed' || m.status === 'cancelled') throw new Error(`migration ${m.status}: ${m['error-desc'] ?? ''}`);
            if (Date.now() > end) throw new Error('migration did not complete in 600 s');
            await sleep(20);
          }
        }, 10_000);
        if (!received) throw new Error('QEMU never connected to the migration socket');
        await received;
        await this.stopProcess(id, 0);
        await rename(tmp, p.state);
        rec.suspended = true;
        rec.pausedAtSuspend = !wasRunning;
        await this.writeRecord(rec);
        this.log.info({ uuid: id, ms: Math.round(performance.now() - t0), bytes: (await stat(p.state)).size }, 'qemu driver: suspended');
      } catch (err) {
        await rm(tmp, { force: true });
        if (wasRunning && (await this.livePid(id))) {
          try { await this.withQmp(id, (q) => q.execute('cont')); } catch { /* leave it paused */ }
        }
        throw new DriverError('HypervisorUnavailable', `instance ${id}: suspend failed: ${(err as Error).message}`, { cause: err });
      } finally {
        server.close();
        await rm(p.migrate, { force: true });
      }
    });
  }

  async resume(spec: InstanceSpec): Promise<void> {
    const id = checkSpec(spec);
    await this.locked(id, async () => {
      const rec = await this.readRecord(id);
      if (await this.livePid(id)) return;
      if (!rec.suspended || !(await exists(this.paths(id).state))) throw new DriverError('InstanceInvalidState', `instance ${id} is not suspended`);
      await this.restore(rec);
    });
  }

  /** Starts QEMU with -incoming defer and feeds it <dir>/suspend.state through a unix socket. */
  private async restore(rec: InstanceRecord): Promise<void> {
    const id = rec.uuid;
    const p = this.paths(id);
    const t0 = performance.now();
    const pid = await this.startProcess(rec, true);
    try {
      await this.withQmp(id, async (q) => {
        await rm(p.incoming, { force: true });
        await q.execute('migrate-incoming', { uri: `unix:${p.incoming}` });
      });
      const sock = await connectUnix(p.incoming, 5000);
      await pipeline(createReadStream(p.state), sock);
      // The saved state says "paused" (suspend stops the guest before saving it), so QEMU does
      // not start it by itself once the state is loaded: cont, unless it was paused before.
      const st = await this.waitStatus(id, pid, ['running', 'paused'], 600_000);
      if (st === 'paused' && !rec.pausedAtSuspend) {
        await this.withQmp(id, (q) => q.execute('cont'));
        await this.waitStatus(id, pid, ['running'], 10_000);
      }
    } catch (err) {
      if (await isOurQemu(pid, `guest=instance-${id},`)) { signal(pid, 'SIGKILL'); await waitGone(pid, `guest=instance-${id},`, 5000); }
      throw new DriverError('HypervisorUnavailable', `instance ${id}: resume failed (the saved state is kept): ${(err as Error).message}`, { cause: err });
    }
    await rm(p.state, { force: true });
    await rm(p.incoming, { force: true });
    rec.suspended = false;
    await this.writeRecord(rec);
    this.log.info({ uuid: id, pid, ms: Math.round(performance.now() - t0) }, 'qemu driver: resumed');
  }

  async rescue(spec: InstanceSpec, rescueImage: ImageMeta, images: ImageSource): Promise<void> {
    const id = checkSpec(spec);
    await this.locked(id, async () => {
      const rec = await this.readRecord(id);
      if (rec.rescue) throw new DriverError('InstanceInvalidState', `instance ${id} is already in rescue`);
      const boot = await this.bootImage(rescueImage, images);
      const p = this.paths(id);
      await this.stopProcess(id, this.cleanTimeout());
      if (rec.suspended) { await rm(p.state, { force: true }); rec.suspended = false; }
      await rm(p.rescue, { force: true });
      await this.createOverlay(p.rescue, boot, 0);
      rec.rescue = { image: boot };
      this.applySpec(rec, spec);
      await this.writeRecord(rec);
      await this.startProcess(rec);
      await this.writeRecord(rec);
    });
  }

  async unrescue(spec: InstanceSpec): Promise<void> {
    const id = checkSpec(spec);
    await this.locked(id, async () => {
      const rec = await this.readRecord(id);
      if (!rec.rescue) throw new DriverError('InstanceInvalidState', `instance ${id} is not in rescue`);
      await this.stopProcess(id, 0);
      await rm(this.paths(id).rescue, { force: true });
      rec.rescue = null;
      this.applySpec(rec, spec);
      await this.writeRecord(rec);
      await this.startProcess(rec);
      await this.writeRecord(rec);
    });
  }

  async resize(oldSpec: InstanceSpec, newSpec: InstanceSpec): Promise<void> {
    const id = checkSpec(newSpec);
    if (normUuid(oldSpec.uuid) !== id) throw new DriverError('InvalidInput', 'resize: the two specs name different instances');
    await this.locked(id, async () => {
      const rec = await this.readRecord(id);
      if (rec.resize) throw new DriverError('InstanceInvalidState', `instance ${id} has a resize to confirm or revert`);
      if (rec.rescue) throw new DriverError('InstanceInvalidState', `instance ${id} is in rescue`);
      const p = this.paths(id);
      const current = await this.virtualSize(p.disk);
      if (newSpec.rootGb > 0 && newSpec.rootGb * GiB < current) {
        throw new DriverError('FlavorDiskSmallerThanImage', `instance ${id}: cannot shrink the root disk from ${current} bytes to ${newSpec.rootGb} GiB`);
      }
      if (newSpec.ephemeralGb > 0 && rec.ephemeralGb > newSpec.ephemeralGb) {
        throw new DriverError('FlavorDiskSmallerThanImage', `instance ${id}: cannot shrink the ephemeral disk from ${rec.ephemeralGb} to ${newSpec.ephemeralGb} GiB`);
      }
      const wasRunning = (await this.livePid(id)) !== undefined;
      await this.stopProcess(id, this.cleanTimeout());
      if (rec.suspended) { await rm(p.state, { force: true }); rec.suspended = false; }
      const hadEphemeral = await exists(p.ephemeral);
      const hadSwap = await exists(p.swap);
      // Keep the old disks for revert (a reflink where the file system can, a copy elsewhere).
      await copyFile(p.disk, `${p.disk}.resize-backup`, fsc.COPYFILE_FICLONE);
      if (hadEphemeral) await copyFile(p.ephemeral, `${p.ephemeral}.resize-backup`, fsc.COPYFILE_FICLONE);
      if (hadSwap) await rename(p.swap, `${p.swap}.resize-backup`);
      rec.resize = { old: sizesOf(rec), hadEphemeral, hadSwap, wasRunning };
      await this.writeRecord(rec);
      if (newSpec.rootGb > 0 && newSpec.rootGb * GiB > current) await run(this.qemuImg, ['resize', '-q', '-f', 'qcow2', p.disk, String(newSpec.rootGb * GiB)]);
      if (newSpec.ephemeralGb > 0) {
        if (hadEphemeral) {
          if (newSpec.ephemeralGb > rec.ephemeralGb) await run(this.qemuImg, ['resize', '-q', '-f', 'qcow2', p.ephemeral, String(newSpec.ephemeralGb * GiB)]);
        } else await this.createBlank(p.ephemeral, newSpec.ephemeralGb * GiB);
      } else if (hadEphemeral) await rm(p.ephemeral, { force: true });
      if (newSpec.swapMb > 0) await this.createBlank(p.swap, newSpec.swapMb * MiB);
      Object.assign(rec, sizesOf(newSpec));
      this.applySpec(rec, newSpec);
      await this.writeRecord(rec);
      if (wasRunning) {
        await this.startProcess(rec);
        await this.writeRecord(rec);
      }
    });
  }

  async confirmResize(uuid: string): Promise<void> {
    const id = normUuid(uuid);
    await this.locked(id, async () => {
      const rec = await this.readRecord(id);
      if (!rec.resize) return; // nothing kept (or confirmed already)
      const p = this.paths(id);
      for (const f of [p.disk, p.ephemeral, p.swap]) await rm(`${f}.resize-backup`, { force: true });
      rec.resize = null;
      await this.writeRecord(rec);
    });
  }

  async revertResize(oldSpec: InstanceSpec): Promise<void> {
    const id = checkSpec(oldSpec);
    await this.locked(id, async () => {
      const rec = await this.readRecord(id);
      if (!rec.resize) throw new DriverError('InstanceInvalidState', `instance ${id} has no resize to revert`);
      const p = this.paths(id);
      const { old, hadEphemeral, hadSwap, wasRunning } = rec.resize;
      await this.stopProcess(id, 0);
      if (rec.suspended) { await rm(p.state, { force: true }); rec.suspended = false; }
      await rename(`${p.disk}.resize-backup`, p.disk);
      if (hadEphemeral) await rename(`${p.ephemeral}.resize-backup`, p.ephemeral); else await rm(p.ephemeral, { force: true });
      if (hadSwap) await rename(`${p.swap}.resize-backup`, p.swap); else await rm(p.swap, { force: true });
      Object.assign(rec, old);
      rec.nics = nicsOf(oldSpec);
      rec.resize = null;
      await this.writeRecord(rec);
      if (wasRunning) {
        await this.startProcess(rec);
        await this.writeRecord(rec);
      }
    });
  }

  async rebuild(spec: InstanceSpec, images: ImageSource): Promise<void> {
    const id = checkSpec(spec);
    if (!spec.image) throw new DriverError('InvalidInput', 'rebuild needs an image');
    const image = spec.image;
    await this.locked(id, async () => {
      const rec = await this.readRecord(id);
      if (rec.rescue) throw new DriverError('InstanceInvalidState', `instance ${id} is in rescue`);
      const boot = await this.bootImage(image, images);
      const p = this.paths(id);
      const fresh = `${p.disk}.rebuild`;
      await rm(fresh, { force: true });
      await this.createOverlay(fresh, boot, spec.rootGb);
      // A new config drive too (as Nova's rebuild spawns again): the key and user data may have changed.
      const freshConfig = `${p.config}.rebuild`;
      if (rec.configDrive) await this.buildConfigDrive(spec, freshConfig);
      await this.stopProcess(id, this.cleanTimeout());
      if (rec.suspended) { await rm(p.state, { force: true }); rec.suspended = false; }
      await rename(fresh, p.disk);
      if (rec.configDrive) await rename(freshConfig, p.config);
      rec.image = boot;
      rec.rootGb = spec.rootGb;
      this.applySpec(rec, spec);
      await this.writeRecord(rec);
      await this.startProcess(rec);
      await this.writeRecord(rec);
    });
  }

  /**
   * A standalone qcow2 copy of the root disk, uploaded as image `imageId`. A running guest is
   * paused for the copy (QEMU drains and flushes its block layer on stop), then continued.
   */
  async snapshot(uuid: string, imageId: string, images: ImageSource): Promise<void> {
    const id = normUuid(uuid);
    if (!BaseImageCache.validId(imageId)) throw new DriverError('InvalidInput', `invalid image id ${JSON.stringify(imageId)}`);
    const p = this.paths(id);
    const tmp = join(p.dir, `snapshot-${randomBytes(6).toString('hex')}.qcow2`);
    try {
      await this.locked(id, async () => {
        await this.readRecord(id);
        const pid = await this.livePid(id);
        let paused = false;
        if (pid) {
          await this.withQmp(id, async (q) => {
            if ((await q.execute<{ status: string }>('query-status')).status === 'running') { await q.execute('stop'); paused = true; }
          });
        }
        try {
          await run(this.qemuImg, ['convert', '-U', '-f', 'qcow2', '-O', 'qcow2', p.disk, tmp], { timeoutMs: 3_600_000 });
        } finally {
          if (paused) await this.withQmp(id, (q) => q.execute('cont'));
        }
      });
      // The upload runs outside the instance's lock: the guest is not involved any more.
      await images.upload(imageId, createReadStream(tmp), 'qcow2');
    } finally {
      await rm(tmp, { force: true });
    }
  }

  async consoleOutput(uuid: string, lines?: number): Promise<string> {
    const id = normUuid(uuid);
    await this.readRecord(id);
    const path = this.paths(id).console;
    let text = '';
    try {
      const fh = await open(path, 'r');
      try {
        const { size } = await fh.stat();
        const len = Math.min(size, MiB);
        const buf = Buffer.alloc(len);
        await fh.read(buf, 0, len, size - len);
        text = buf.toString('utf8');
      } finally { await fh.close(); }
    } catch { return ''; }
    if (lines === undefined || lines < 0) return text;
    const all = text.split('\n');
    if (all[all.length - 1] === '') all.pop();
    return all.slice(Math.max(0, all.length - lines)).join('\n') + (lines > 0 && all.length ? '\n' : '');
  }

  /** Waits for the operations in flight; the guests keep running (they are not our children). */
  async close(): Promise<void> {
    await Promise.allSettled([...this.locks.values()]);
  }

  async attachInterface(uuid: string, vif: Vif): Promise<void> {
    const id = normUuid(uuid);
    const nic = nicsOf({ vifs: [vif] } as InstanceSpec)[0]!;
    const ids = nicIds(nic.mac);
    if (nic.tapName !== null && !TAP_NAME.test(nic.tapName)) throw new DriverError('InstanceInvalidState', `invalid tap name ${JSON.stringify(nic.tapName)}`);
    await this.locked(id, async () => {
      const rec = await this.readRecord(id);
      if (rec.nics.some((n) => n.mac.toLowerCase() === nic.mac.toLowerCase())) return;
      if (await this.livePid(id)) {
        await this.withQmp(id, async (q) => {
          await q.execute('netdev_add', nic.tapName !== null
            ? { type: 'tap', id: ids.netdev, ifname: nic.tapName, script: 'no', downscript: 'no' }
            : { type: 'user', id: ids.netdev, restrict: true });
          try {
            await q.execute('device_add', { driver: 'virtio-net-pci', netdev: ids.netdev, mac: nic.mac.toLowerCase(), id: ids.device, ...(nic.mtu ? { host_mtu: nic.mtu } : {}) });
          } catch (e) {
            await q.execute('netdev_del', { id: ids.netdev }).catch(() => undefined);
            throw e;
          }
        });
      }
      rec.nics.push(nic);
      await this.writeRecord(rec);
    });
  }

  async detachInterface(uuid: string, mac: string): Promise<void> {
    const id = normUuid(uuid);
    const ids = nicIds(mac);
    await this.locked(id, async () => {
      const rec = await this.readRecord(id);
      if (await this.livePid(id)) {
        await this.withQmp(id, async (q) => {
          const present = (await q.execute<{ name: string }[]>('qom-list', { path: '/machine/peripheral' })).some((p) => p.name === ids.device);
          if (present) {
            // The guest releases the PCI device (ACPI hot-unplug); QEMU reports DEVICE_DELETED then.
            const gone = q.waitEvent('DEVICE_DELETED', 15_000, (ev) => ev.data?.device === ids.device);
            await q.execute('device_del', { id: ids.device });
            await gone.catch(() => { throw new DriverError('InstanceInvalidState', `instance ${id}: the guest did not release interface ${mac} within 15 s`); });
          }
          await q.execute('netdev_del', { id: ids.netdev }).catch(() => undefined); // absent already: fine
        }, 20_000);
      }
      rec.nics = rec.nics.filter((n) => n.mac.toLowerCase() !== mac.toLowerCase());
      await this.writeRecord(rec);
    });
  }

  async vncConsole(uuid: string): Promise<VncConsole> {
    const id = normUuid(uuid);
    await this.readRecord(id);
    if (!(await this.livePid(id))) throw new DriverError('InstanceInvalidState', `instance ${id} is not running`);
    return { host: '', port: 0, path: this.paths(id).vnc };
  }
}

export function createQemuDriver(opts: QemuDriverOptions): QemuDriver {
  return new QemuDriver(opts);
}

// --- helpers -------------------------------------------------------------------------------------

function nicsOf(spec: InstanceSpec): VmNic[] {
  return (spec.vifs ?? []).map((v) => ({ mac: v.mac, tapName: v.tapName, ...(v.mtu ? { mtu: v.mtu } : {}) }));
}

function sizesOf(s: Sizes): Sizes {
  return { vcpus: s.vcpus, memoryMb: s.memoryMb, rootGb: s.rootGb, ephemeralGb: s.ephemeralGb, swapMb: s.swapMb };
}

async function exists(path: string): Promise<boolean> {
  try { await stat(path); return true; } catch { return false; }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try { process.kill(pid, sig); } catch { /* gone */ }
}

/** The process is alive (not a zombie) and its command line holds `marker`. */
async function isOurQemu(pid: number, marker: string): Promise<boolean> {
  try {
    const st = await readFile(`/proc/${pid}/stat`, 'utf8');
    const state = st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return cmd.split('\0').some((a) => a.includes(marker));
  } catch { return false; }
}

async function waitGone(pid: number, marker: string, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    // A killed process loses its command line before it has exited: wait for both.
    if (!(await isOurQemu(pid, marker)) && !(await stillExiting(pid))) return true;
    if (Date.now() >= end) return false;
    await sleep(20);
  }
}

/** True while the process exists and is not yet a zombie (it may be tearing down after a kill). */
async function stillExiting(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return !/\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}

/** Every live process whose command line holds `marker` (a QEMU whose pidfile was lost). */
async function findQemuPids(marker: string): Promise<number[]> {
  const out: number[] = [];
  let entries: string[];
  try { entries = await readdir('/proc'); } catch { return out; }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (pid !== process.pid && (await isOurQemu(pid, marker))) out.push(pid);
  }
  return out;
}

function connectUnix(path: string, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createConnection({ path });
    const t = setTimeout(() => { s.destroy(); reject(new Error(`connect ${path}: timeout`)); }, timeoutMs);
    s.once('connect', () => { clearTimeout(t); resolve(s); });
    s.once('error', (e) => { clearTimeout(t); reject(e); });
  });
}

export { QmpClient, QmpError };
