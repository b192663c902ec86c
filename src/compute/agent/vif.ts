// Plugging an instance's ports on the host (os-vif's linux_bridge plugin, reduced): a persistent
// tap device per port, named after the port (tap + 11 characters of its id), attached to the
// network's bridge. QEMU then opens the existing tap by name, so the device outlives a hard reboot
// or a QEMU restart; the network agent of the host finds the tap on its bridge and applies the
// port's security groups. `noop` is for the fake hypervisor (no devices at all).

import { run } from '../../common/exec.js';

export interface PlugSpec { tapName: string; bridge: string; mtu?: number | null }

export interface VifPlugger {
  readonly kind: 'linuxbridge' | 'noop';
  plug(v: PlugSpec): Promise<void>;
  unplug(tapName: string): Promise<void>;
}

/** Kernel interface names we create: at most 15 characters, nothing that an `ip` argument could misread. */
const IFNAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;

function checkName(kind: string, name: string): void {
  if (!IFNAME.test(name)) throw new Error(`invalid ${kind} name ${JSON.stringify(name)}`);
}

async function linkExists(name: string): Promise<boolean> {
  try { await run('ip', ['-json', 'link', 'show', 'dev', name]); return true; } catch { return false; }
}

export class LinuxBridgePlugger implements VifPlugger {
  readonly kind = 'linuxbridge' as const;

  async plug(v: PlugSpec): Promise<void> {
    checkName('tap', v.tapName);
    checkName('bridge', v.bridge);
    // The bridge normally exists (the network agent made it); os-vif creates it when it does not,
    // and so do we — an isolated bridge with no uplink, which the network agent adopts.
    if (!(await linkExists(v.bridge))) {
      await run('ip', ['link', 'add', 'name', v.bridge, 'type', 'bridge']).catch(async (e) => { if (!(await linkExists(v.bridge))) throw e; });
      await run('ip', ['link', 'set', 'dev', v.bridge, 'up']);
    }
    if (!(await linkExists(v.tapName))) await run('ip', ['tuntap', 'add', 'dev', v.tapName, 'mode', 'tap']);
    if (v.mtu) await run('ip', ['link', 'set', 'dev', v.tapName, 'mtu', String(v.mtu)]);
    await run('ip', ['link', 'set', 'dev', v.tapName, 'master', v.bridge]);
    await run('ip', ['link', 'set', 'dev', v.tapName, 'up']);
  }

  async unplug(tapName: string): Promise<void> {
    checkName('tap', tapName);
    if (await linkExists(tapName)) await run('ip', ['link', 'del', 'dev', tapName]).catch(async (e) => { if (await linkExists(tapName)) throw e; });
  }
}

export class NoopPlugger implements VifPlugger {
  readonly kind = 'noop' as const;
  readonly plugged = new Set<string>();
  async plug(v: PlugSpec): Promise<void> { checkName('tap', v.tapName); this.plugged.add(v.tapName); }
  async unplug(tapName: string): Promise<void> { this.plugged.delete(tapName); }
}
