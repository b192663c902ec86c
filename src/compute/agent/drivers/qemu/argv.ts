// The QEMU command line of an instance, as an argument array (never a shell string). Everything
// in it is derived from the instance record the driver wrote (paths under the instance directory,
// validated numbers, tap names and MACs) — no free text from the API reaches it, except the kernel
// command line of an AMI, which is one argv element.

export interface VmDisk {
  path: string;
  format: 'qcow2' | 'raw';
  /** Serial shown to the guest (/dev/disk/by-id), e.g. the role. */
  serial: string;
  readonly?: boolean;
}

export interface VmNic { mac: string; tapName: string | null; mtu?: number }

export interface VmConfig {
  uuid: string;
  accel: 'kvm' | 'tcg';
  vcpus: number;
  memoryMb: number;
  disks: VmDisk[];
  nics: VmNic[];
  /** Direct kernel boot (AKI/ARI/AMI); undefined boots the first disk. */
  kernel?: { path: string; initrd?: string; cmdline: string };
  consoleLog: string;
  qmpSocket: string;
  vncSocket: string;
  pidFile: string;
  /** Start with `-incoming defer` (resume from a saved state). */
  incoming?: boolean;
}

export const TAP_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;
export const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

/**
 * QEMU ids of a NIC, derived from its MAC (unique within a guest), so that an interface attached
 * at run time and one from the command line are found the same way when they are detached.
 */
export function nicIds(mac: string): { netdev: string; device: string } {
  if (!MAC.test(mac)) throw new Error(`invalid MAC ${JSON.stringify(mac)}`);
  const hex = mac.toLowerCase().replace(/:/g, '');
  return { netdev: `hn${hex}`, device: `nic${hex}` };
}

/** A value inside a QEMU option string: commas are doubled. */
export function optEsc(v: string): string { return v.replaceAll(',', ',,'); }

export function qemuArgv(c: VmConfig): string[] {
  const a: string[] = [
    '-name', `guest=instance-${c.uuid},debug-threads=on`,
    '-uuid', c.uuid,
    '-machine', 'q35',
    '-accel', c.accel,
    ...(c.accel === 'kvm' ? ['-cpu', 'host'] : []),
    '-m', String(c.memoryMb),
    '-smp', String(c.vcpus),
    '-nodefaults', '-no-user-config',
    '-display', 'none',
    '-vga', 'std',
    '-vnc', `unix:${optEsc(c.vncSocket)}`,
    '-chardev', `file,id=serial0,path=${optEsc(c.consoleLog)},append=on`,
    '-serial', 'chardev:serial0',
    '-qmp', `unix:${optEsc(c.qmpSocket)},server=on,wait=off`,
    '-device', 'virtio-rng-pci',
    '-device', 'virtio-balloon-pci',
  ];
  c.disks.forEach((d, i) => {
    a.push('-drive', `file=${optEsc(d.path)},if=none,id=drive${i},format=${d.format},cache=writeback,discard=unmap${d.readonly ? ',readonly=on' : ''}`);
    a.push('-device', `virtio-blk-pci,drive=drive${i},serial=${d.serial}${!c.kernel && i === 0 ? ',bootindex=1' : ''}`);
  });
  if (c.kernel) {
    a.push('-kernel', c.kernel.path);
    if (c.kernel.initrd) a.push('-initrd', c.kernel.initrd);
    a.push('-append', c.kernel.cmdline);
  }
  if (c.nics.length === 0) a.push('-nic', 'none');
  for (const n of c.nics) {
    const ids = nicIds(n.mac);
    if (n.tapName !== null) {
      if (!TAP_NAME.test(n.tapName)) throw new Error(`invalid tap name ${JSON.stringify(n.tapName)}`);
      a.push('-netdev', `tap,id=${ids.netdev},ifname=${n.tapName},script=no,downscript=no`);
    } else {
      // User-mode networking, restricted: DHCP for the guest, no route to the host or beyond.
      a.push('-netdev', `user,id=${ids.netdev},restrict=on`);
    }
    a.push('-device', `virtio-net-pci,netdev=${ids.netdev},mac=${n.mac.toLowerCase()},id=${ids.device}${n.mtu ? `,host_mtu=${n.mtu}` : ''}`);
  }
  if (c.incoming) a.push('-incoming', 'defer');
  // seccomp: no obsolete syscalls, no scheduler/affinity changes. spawn=deny and
  // elevateprivileges=deny would also forbid the fork/setsid of -daemonize, so they stay off.
  a.push('-sandbox', 'on,obsolete=deny,resourcecontrol=deny');
  a.push('-daemonize', '-pidfile', c.pidFile);
  return a;
}
