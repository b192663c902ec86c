// The KVM probe: /dev/kvm may exist, open, and then hang the first KVM_RUN (nested virtualisation
// gone wrong). So KVM is used only after a real guest booted under it: QEMU runs a probe guest
// with `-accel kvm` under a hard timeout and must print a marker on its serial port. Without a
// configured kernel the guest is a 512-byte boot sector written here (it prints the marker through
// the UART at 0x3f8 and halts), so the probe needs no image on the host.

import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const BOOT_SECTOR_MARKER = 'monostack kvm probe ok';

/** A boot sector that writes BOOT_SECTOR_MARKER + "\n" to COM1 and halts. */
export function probeBootSector(): Buffer {
  const disk = Buffer.alloc(MiB); // SeaBIOS does not boot a disk of a single sector
  bootSector().copy(disk, 0);
  return disk;
}

const MiB = 1024 * 1024;

function bootSector(): Buffer {
  const code = [
    0xfa, 0xfc,             // cli; cld
    0x31, 0xc0,             // xor ax, ax
    0x8e, 0xd8,             // mov ds, ax
    0xbe, 0x17, 0x7c,       // mov si, 0x7c17 (msg)
    0xba, 0xf8, 0x03,       // mov dx, 0x3f8
    0xac,                   // .l: lodsb
    0x84, 0xc0,             // test al, al
    0x74, 0x03,             // jz .h
    0xee,                   // out dx, al
    0xeb, 0xf8,             // jmp .l
    0xf4,                   // .h: hlt
    0xeb, 0xfd,             // jmp .h
  ];
  const sector = Buffer.alloc(512);
  Buffer.from(code).copy(sector, 0);
  Buffer.from(`${BOOT_SECTOR_MARKER}\r\n\0`, 'latin1').copy(sector, code.length);
  sector[510] = 0x55; sector[511] = 0xaa;
  return sector;
}

export interface ProbeGuest { kernel: string; initrd?: string; append?: string; marker: string }

export interface ProbeResult { ok: boolean; ms: number; reason: string }

/**
 * Boots the probe guest once with `accel` and reports whether its marker appeared within
 * timeoutMs. The QEMU process is killed (SIGKILL) in every case before this resolves, or after
 * at most 2 s more if the kernel cannot reap it (a process stuck in a KVM ioctl).
 */
export async function runBootProbe(opts: { qemu: string; accel: 'kvm' | 'tcg'; workDir: string; timeoutMs: number; guest?: ProbeGuest }): Promise<ProbeResult & { pid?: number }> {
  const t0 = performance.now();
  await mkdir(opts.workDir, { recursive: true });
  const args = ['-accel', opts.accel, '-machine', 'q35', '-m', '128', '-smp', '1', '-nodefaults', '-no-user-config',
    '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-no-reboot'];
  let marker: string;
  if (opts.guest) {
    args.push('-kernel', opts.guest.kernel);
    if (opts.guest.initrd) args.push('-initrd', opts.guest.initrd);
    args.push('-append', opts.guest.append ?? 'console=ttyS0 panic=-1 quiet');
    marker = opts.guest.marker;
  } else {
    const img = join(opts.workDir, 'kvm-probe.img');
    await writeFile(img, probeBootSector());
    args.push('-drive', `file=${img},format=raw,if=none,id=probe,readonly=on`, '-device', 'virtio-blk-pci,drive=probe,bootindex=1');
    marker = BOOT_SECTOR_MARKER;
  }
  return new Promise((resolve) => {
    const child = spawn(opts.qemu, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let verdict: ProbeResult | undefined;
    let exited = false;
    const finish = (r: ProbeResult) => {
      if (verdict) return;
      verdict = r;
      clearTimeout(timer);
      if (exited) { resolve({ ...r, pid: child.pid }); return; }
      child.kill('SIGKILL');
      const give = setTimeout(() => resolve({ ...r, pid: child.pid }), 2000);
      child.once('exit', () => { clearTimeout(give); resolve({ ...r, pid: child.pid }); });
    };
    const timer = setTimeout(() => finish({ ok: false, ms: performance.now() - t0, reason: `no boot marker within ${opts.timeoutMs} ms` }), opts.timeoutMs);
    child.stdout.setEncoding('latin1');
    child.stdout.on('data', (s: string) => {
      out = (out + s).slice(-65536);
      if (out.includes(marker)) finish({ ok: true, ms: performance.now() - t0, reason: 'boot marker seen' });
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => { err = (err + s).slice(-4096); });
    child.on('error', (e) => { exited = true; finish({ ok: false, ms: performance.now() - t0, reason: e.message }); });
    child.on('exit', (code, sig) => {
      exited = true;
      finish({ ok: false, ms: performance.now() - t0, reason: `qemu exited (${code ?? sig}) before the marker: ${err.trim().slice(0, 500)}` });
    });
  });
}

/** /dev/kvm exists and this process may open it read-write. */
export async function kvmDeviceUsable(): Promise<boolean> {
  try { await access('/dev/kvm', constants.R_OK | constants.W_OK); return true; } catch { return false; }
}
