// The instance metadata documents, as Nova renders them (nova/api/metadata/base.py, Nova 26): the
// OpenStack layout (/openstack/<version>/meta_data.json, user_data, password, vendor_data.json,
// network_data.json, vendor_data2.json) and the EC2 layout (/<version>/meta-data/..., user-data).
// One builder serves both the metadata API (lookup) and the config drive (configDriveFiles), so a
// guest reads the same documents from either. Pure: no database, no clock beyond today's date, no
// I/O; what it needs comes in a MetadataSource (source.ts fills it from the compute database).

import { randomBytes } from 'node:crypto';

/** EC2 metadata versions (nova.api.metadata.base.VERSIONS). */
export const EC2_VERSIONS = ['1.0', '2007-01-19', '2007-03-01', '2007-08-29', '2007-10-10', '2007-12-15', '2008-02-01', '2008-09-01', '2009-04-04'] as const;

const FOLSOM = '2012-08-10';
const GRIZZLY = '2013-04-04';
const HAVANA = '2013-10-17';
const LIBERTY = '2015-10-15';
const NEWTON_ONE = '2016-06-30';
const NEWTON_TWO = '2016-10-06';
const OCATA = '2017-02-22';
const ROCKY = '2018-08-27';
const VICTORIA = '2020-10-14';
/** OpenStack metadata versions (nova.api.metadata.base.OPENSTACK_VERSIONS). */
export const OPENSTACK_VERSIONS = [FOLSOM, GRIZZLY, HAVANA, LIBERTY, NEWTON_ONE, NEWTON_TWO, OCATA, ROCKY, VICTORIA] as const;

/** Nova's [api] config_drive_skip_versions default: only 2009-04-04 and latest go on the drive. */
const CONFIG_DRIVE_SKIP_VERSIONS = ['1.0', '2007-01-19', '2007-03-01', '2007-08-29', '2007-10-10', '2007-12-15', '2008-02-01', '2008-09-01'];

export const TEXT_PLAIN = 'text/plain';
export const APPLICATION_JSON = 'application/json';

// --- Nova's network model (what instance_info_caches.network_info holds) --------------------------

export interface NetIp { address: string; version?: number; type?: string; floating_ips?: NetIp[] }
export interface NetSubnet {
  cidr?: string | null; version?: number; gateway?: { address?: string | null } | null;
  dns?: { address?: string }[]; ips?: NetIp[]; routes?: { cidr: string; gateway: { address: string } }[];
  meta?: Record<string, unknown>;
}
export interface NetVif {
  id: string; address?: string | null; devname?: string | null; type?: string | null;
  network?: { id?: string; label?: string; subnets?: NetSubnet[]; meta?: Record<string, unknown> } | null;
}

/** Everything the documents are made of, for one instance. */
export interface MetadataSource {
  uuid: string;
  /** The server's display name. */
  name: string | null;
  /** The guest host name without domain (instance.hostname). */
  hostname: string;
  /** Nova's [api] dhcp_domain: appended to the host name when not empty. */
  dhcpDomain: string;
  projectId: string;
  launchIndex: number;
  availabilityZone: string | null;
  reservationId: string | null;
  ec2: { instanceId: string; amiId: string | null; kernelId: string | null; ramdiskId: string | null };
  flavorName: string;
  /** instance.root_device_name, e.g. /dev/vda. */
  rootDeviceName: string | null;
  ephemeralDevice: string | null;
  swapDevice: string | null;
  /** The key pair the server was booted with (a copy: deleting the key pair later does not change it). */
  keypair: { name: string; type: string; publicKey: string } | null;
  keyName: string | null;
  keyData: string | null;
  /** Server metadata (Nova's `meta`). */
  meta: Record<string, string>;
  /** Decoded user data, or null when the server has none. */
  userData: Buffer | null;
  /** The encrypted password the guest posted (system metadata), or null. */
  password: string | null;
  networkInfo: NetVif[];
  securityGroups: string[];
  /** The address the request came from (X-Forwarded-For), the fallback of local-ipv4. */
  address: string | null;
  /** vendordata_jsonfile_path's content (Nova's StaticJSON provider); {} without a file. */
  vendorData: unknown;
  /** Extra meta_data.json keys (the config drive's admin_pass). */
  extraMd?: Record<string, unknown>;
}

// --- Python-compatible rendering ---------------------------------------------------------------

/** JSON exactly as Python's json.dumps writes it (", " and ": " separators, ensure_ascii). */
export function pyJson(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : pyFloat(v);
  if (typeof v === 'string') return pyStr(v);
  if (Buffer.isBuffer(v)) return pyStr(v.toString('utf8'));
  if (Array.isArray(v)) return `[${v.map(pyJson).join(', ')}]`;
  const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
  return `{${entries.map(([k, x]) => `${pyStr(k)}: ${pyJson(x)}`).join(', ')}}`;
}

function pyFloat(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (!Number.isFinite(n)) return n > 0 ? 'Infinity' : '-Infinity';
  return String(n);
}

const SHORT_ESCAPES: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f' };

function pyStr(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    const c = s.charCodeAt(i);
    if (SHORT_ESCAPES[ch]) out += SHORT_ESCAPES[ch];
    else if (c < 0x20 || c > 0x7e) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return out + '"';
}

/** A Python str() of a scalar, for the EC2 text rendering (None, True, numbers). */
function pyText(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  return String(v);
}

/** A directory entry named by `_name` (EC2's "0=keyname" for public-keys/0). */
type Ec2Tree = { [k: string]: Ec2Value | undefined };
type Ec2Value = string | number | null | Buffer | string[] | Ec2Tree;

/**
 * nova.api.metadata.base.ec2_md_print: a directory as its sorted keys, one a line ("key/" for
 * subdirectories, their `_name` when they have one), a list as its items, a value as text.
 */
export function ec2Print(data: Ec2Value): string | Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return data.join('\n');
  if (data !== null && typeof data === 'object') {
    const lines: string[] = [];
    for (const key of Object.keys(data).sort(pySort)) {
      if (key === '_name') continue;
      const v = data[key];
      if (v !== null && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v)) lines.push(v._name !== undefined ? String(v._name) : `${key}/`);
      else lines.push(key);
    }
    return lines.join('\n');
  }
  return pyText(data);
}

/** Python's sort of str keys: by code point (JS's default sort is by UTF-16 unit; same for our keys). */
const pySort = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

// --- errors ------------------------------------------------------------------------------------

/** Nova's InvalidMetadataPath / InvalidMetadataVersion: the handler answers 404. */
export class MetadataNotFound extends Error {
  constructor(path: string) { super(`no metadata at ${path}`); this.name = 'MetadataNotFound'; }
}

/** A lookup's result: a document, or the password resource (GET reads it, POST sets it once). */
export type Lookup =
  | { kind: 'data'; body: string | Buffer; contentType: string }
  | { kind: 'password' };

/** The metadata API's root (/): the EC2 versions, one a line, served before any identification. */
export function rootListing(): string {
  return [...EC2_VERSIONS, 'latest'].join('\n');
}

// --- the builder -------------------------------------------------------------------------------

const LEGACY_EXPOSED_VIF_TYPES = new Set(['bridge', 'dvs', 'hw_veb', 'hyperv', 'ovs', 'tap', 'vhostuser', 'vif']);

export class InstanceMetadata {
  constructor(readonly src: MetadataSource) {}

  /** The host name with Nova's dhcp_domain. */
  hostname(): string {
    return this.src.dhcpDomain ? `${this.src.hostname}.${this.src.dhcpDomain}` : this.src.hostname;
  }

  /** Block device names as nova.block_device.instance_block_mapping gives them (no volumes yet). */
  blockDeviceMapping(): Record<string, string> {
    const root = this.src.rootDeviceName;
    if (!root) return { ami: 'sda1', ephemeral0: 'sda2', root: '/dev/sda1', swap: 'sda3' };
    const m: Record<string, string> = { ami: root.replace(/^\/dev\//, ''), root };
    if (this.src.ephemeralDevice) m.ephemeral0 = this.src.ephemeralDevice;
    if (this.src.swapDevice) m.swap = this.src.swapDevice;
    return m;
  }

  /** IPv4 fixed and floating addresses (nova.virt.netutils.get_ec2_ip_info). */
  ipInfo(): { fixed: string[]; floating: string[] } {
    const fixed: string[] = [];
    const floating: string[] = [];
    for (const vif of this.src.networkInfo) {
      for (const sn of Array.isArray(vif.network?.subnets) ? vif.network.subnets : []) {
        for (const ip of Array.isArray(sn?.ips) ? sn.ips : []) {
          if (typeof ip?.address !== 'string') continue; // a malformed cache entry shows nothing rather than failing
          if (ipVersion(ip, sn) === 4) fixed.push(ip.address);
          for (const f of ip.floating_ips ?? []) if (typeof f?.address === 'string') floating.push(f.address);
        }
      }
    }
    return { fixed, floating };
  }

  /** The EC2 tree of one version: {'meta-data': {...}, 'user-data'?: bytes}. */
  ec2Metadata(version: string): Ec2Tree {
    const v = version === 'latest' ? EC2_VERSIONS[EC2_VERSIONS.length - 1]! : version;
    const idx = (EC2_VERSIONS as readonly string[]).indexOf(v);
    if (idx < 0) throw new MetadataNotFound(version);
    const atLeast = (req: string) => idx >= (EC2_VERSIONS as readonly string[]).indexOf(req);
    const s = this.src;
    const hostname = this.hostname();
    const ip = this.ipInfo();
    const floating = ip.floating[0] ?? '';
    const fixed = ip.fixed[0] ?? '';
    const md: Ec2Tree = {
      'ami-id': s.ec2.amiId,
      'ami-launch-index': s.launchIndex,
      'ami-manifest-path': 'FIXME',
      'instance-id': s.ec2.instanceId,
      hostname,
      'local-ipv4': fixed || s.address,
      'reservation-id': s.reservationId,
      'security-groups': [...s.securityGroups],
    };
    if (s.keyName) md['public-keys'] = { '0': { _name: `0=${s.keyName}`, 'openssh-key': s.keyData } };
    if (atLeast('2007-01-19')) {
      md['local-hostname'] = hostname;
      md['public-hostname'] = hostname;
      md['public-ipv4'] = floating;
    }
    if (atLeast('2007-08-29')) md['instance-type'] = s.flavorName;
    if (atLeast('2007-12-15')) {
      md['block-device-mapping'] = this.blockDeviceMapping();
      if (s.ec2.kernelId) md['kernel-id'] = s.ec2.kernelId;
      if (s.ec2.ramdiskId) md['ramdisk-id'] = s.ec2.ramdiskId;
    }
    if (atLeast('2008-02-01')) md.placement = { 'availability-zone': s.availabilityZone };
    if (atLeast('2008-09-01')) md['instance-action'] = 'none';
    const data: Ec2Tree = { 'meta-data': md };
    if (s.userData !== null) data['user-data'] = s.userData;
    return data;
  }

  /** meta_data.json of an OpenStack version (Python's key order). */
  metaDataJson(version: string): string {
    const s = this.src;
    const at = (req: string) => osAtLeast(version, req);
    const m: Record<string, unknown> = { uuid: s.uuid };
    if (Object.keys(s.meta).length) m.meta = s.meta;
    if (s.extraMd) Object.assign(m, s.extraMd);
    if (s.keyName && s.keypair) {
      m.public_keys = { [s.keypair.name]: s.keypair.publicKey };
      m.keys = [{ name: s.keypair.name, type: s.keypair.type, data: s.keypair.publicKey }];
    }
    m.hostname = this.hostname();
    m.name = s.name;
    m.launch_index = s.launchIndex;
    m.availability_zone = s.availabilityZone;
    if (at(GRIZZLY)) m.random_seed = randomBytes(512).toString('base64');
    if (at(LIBERTY)) m.project_id = s.projectId;
    // Tagged devices (2.32 boot tags) are not recorded: no device is exposed, as Nova without tags.
    if (at(NEWTON_ONE)) m.devices = [];
    // No CPU pinning (hw:cpu_policy=dedicated) in this driver: no dedicated CPUs.
    if (at(VICTORIA)) m.dedicated_cpus = [];
    return pyJson(m);
  }

  /** network_data.json (nova.virt.netutils.get_network_metadata); {} without any network info. */
  networkData(): Record<string, unknown> {
    const nwinfo = this.src.networkInfo;
    if (!nwinfo.length) return {};
    const links: Record<string, unknown>[] = [];
    const networks: Record<string, unknown>[] = [];
    const services: { type: string; address: string | undefined }[] = [];
    const addServices = (list: { type: string; address: string | undefined }[]) => {
      for (const d of list) if (!services.some((x) => x.type === d.type && x.address === d.address)) services.push(d);
    };
    let ifc = -1;
    let net = -1;
    for (const vif of nwinfo) {
      const network = vif.network;
      const subnets = Array.isArray(network?.subnets) ? network.subnets.filter((x) => x !== null && typeof x === 'object') : [];
      if (!network || !subnets.length) continue;
      const v4 = subnets.find((x) => subnetVersion(x) === 4);
      const v6 = subnets.find((x) => subnetVersion(x) === 6);
      ifc++;
      let link: Record<string, unknown> | null = null;
      if (v4 || v6) {
        const mtu = subnets.some((x) => x.meta?.dhcp_server) ? null : (network.meta?.mtu ?? null);
        link = {
          id: vif.devname || `interface${ifc}`, vif_id: vif.id,
          type: vif.type && LEGACY_EXPOSED_VIF_TYPES.has(vif.type) ? vif.type : 'phy',
          mtu, ethernet_mac_address: vif.address ?? null,
        };
        links.push(link);
      }
      for (const [sn, version] of [[v4, 4], [v6, 6]] as const) {
        if (!sn || !Array.isArray(sn.ips) || !sn.ips.length || typeof sn.ips[0]?.address !== 'string') continue;
        net++;
        networks.push(netEntry(vif, sn, version, net, String(link!.id)));
        addServices(dnsServices(sn));
      }
    }
    return { links, networks, services };
  }

  /** The listing of an OpenStack version directory. */
  private versionListing(version: string): string[] {
    const out = ['meta_data.json'];
    if (this.src.userData !== null) out.push('user_data');
    if (osAtLeast(version, GRIZZLY)) out.push('password');
    if (osAtLeast(version, HAVANA)) out.push('vendor_data.json');
    if (osAtLeast(version, LIBERTY)) out.push('network_data.json');
    if (osAtLeast(version, NEWTON_TWO)) out.push('vendor_data2.json');
    return out;
  }

  private openstackItem(tokens: string[], path: string): Lookup {
    // /openstack/content/NNNN holds injected files; personality files are not kept, so none exist.
    if (tokens[0] === 'content') throw new MetadataNotFound(path);
    const version = tokens[0] === 'latest' ? VICTORIA : tokens[0]!;
    if (!(OPENSTACK_VERSIONS as readonly string[]).includes(version)) throw new MetadataNotFound(path);
    const name = tokens.length === 1 ? 'version' : tokens.slice(1).join('/');
    const text = (body: string | Buffer, contentType = TEXT_PLAIN): Lookup => ({ kind: 'data', body, contentType });
    switch (name) {
      case 'version': return text(this.versionListing(version).join('\n'));
      case 'meta_data.json': return text(this.metaDataJson(version), APPLICATION_JSON);
      case 'user_data':
        if (this.src.userData === null) throw new MetadataNotFound(path);
        return text(this.src.userData);
      case 'password':
        if (!osAtLeast(version, GRIZZLY)) throw new MetadataNotFound(path);
        return { kind: 'password' };
      case 'vendor_data.json':
        if (!osAtLeast(version, HAVANA)) throw new MetadataNotFound(path);
        return text(pyJson(this.src.vendorData), APPLICATION_JSON);
      case 'vendor_data2.json':
        if (!osAtLeast(version, NEWTON_TWO)) throw new MetadataNotFound(path);
        return text(pyJson({ static: this.src.vendorData }), APPLICATION_JSON);
      // Nova leaves network_data.json as text/plain (its handler sets no JSON type) at every version.
      case 'network_data.json': return text(pyJson(this.networkData()));
      default: throw new MetadataNotFound(path);
    }
  }

  /**
   * nova.api.metadata.base.InstanceMetadata.lookup: a request path (already URL-decoded) to its
   * document. Paths not under /openstack are EC2 ones (/latest/meta-data is /ec2/latest/meta-data).
   */
  lookup(rawPath: string, today = new Date().toISOString().slice(0, 10)): Lookup {
    const path = normPath(rawPath);
    let tokens = path.split('/').slice(1);
    if (tokens[0] !== 'ec2' && tokens[0] !== 'openstack') tokens = tokens[0] === '' ? ['ec2'] : ['ec2', ...tokens];
    const text = (lines: string[]): Lookup => ({ kind: 'data', body: lines.join('\n'), contentType: TEXT_PLAIN });
    if (tokens.length === 1) {
      // Versions dated in the future are hidden from the listing (but can be asked for).
      if (tokens[0] === 'openstack') return text([...OPENSTACK_VERSIONS.filter((v) => v <= today), 'latest']);
      return text([...EC2_VERSIONS, 'latest']);
    }
    if (tokens[0] === 'openstack') return this.openstackItem(tokens.slice(1), path);
    const data = findPathInTree(this.ec2Metadata(tokens[1]!), tokens.slice(2), path);
    return { kind: 'data', body: ec2Print(data), contentType: TEXT_PLAIN };
  }

  /**
   * The config drive's files (nova.api.metadata.base.metadata_for_config_drive): EC2 2009-04-04 and
   * latest (meta-data.json, user-data), every OpenStack version and latest.
   */
  configDriveFiles(): Record<string, string | Buffer> {
    const files: Record<string, string | Buffer> = {};
    for (const version of [...EC2_VERSIONS, 'latest']) {
      if (CONFIG_DRIVE_SKIP_VERSIONS.includes(version)) continue;
      const data = this.ec2Metadata(version);
      if (data['user-data'] !== undefined) files[`ec2/${version}/user-data`] = data['user-data'] as Buffer;
      // Nova means to drop public-keys/0/_name here but looks for it at the wrong level (a KeyError
      // it ignores), so the drive keeps "_name": "0=<key>"; so do we, byte for byte.
      files[`ec2/${version}/meta-data.json`] = pyJson(data['meta-data']);
    }
    for (const version of [...OPENSTACK_VERSIONS, 'latest']) {
      const doc = (name: string) => {
        const r = this.lookup(`/openstack/${version}/${name}`);
        if (r.kind === 'data') files[`openstack/${version}/${name}`] = r.body;
      };
      doc('meta_data.json');
      if (this.src.userData !== null) doc('user_data');
      if (osAtLeast(version, HAVANA)) doc('vendor_data.json');
      if (osAtLeast(version, LIBERTY)) doc('network_data.json');
      if (osAtLeast(version, NEWTON_TWO)) doc('vendor_data2.json');
    }
    return files;
  }
}

function osAtLeast(version: string, required: string): boolean {
  // Nova compares positions in OPENSTACK_VERSIONS + ['latest'] (the config drive passes 'latest').
  const all: readonly string[] = [...OPENSTACK_VERSIONS, 'latest'];
  const i = all.indexOf(version);
  return i >= 0 && i >= all.indexOf(required);
}

/** posixpath.normpath of "/" + path: no empty or "." parts, ".." resolved, no trailing slash. */
function normPath(p: string): string {
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return `/${out.join('/')}`;
}

/** nova.api.metadata.base.find_path_in_tree, with 404 where Nova would fail on a scalar. */
function findPathInTree(data: Ec2Value, tokens: string[], path: string): Ec2Value {
  let cur = data;
  for (const t of tokens) {
    if (cur === null || typeof cur !== 'object' || Buffer.isBuffer(cur) || Array.isArray(cur) || !Object.hasOwn(cur, t) || t === '_name') {
      throw new MetadataNotFound(path);
    }
    cur = (cur as Ec2Tree)[t]!;
  }
  return cur;
}

// --- network_data.json helpers ----------------------------------------------------------------

function subnetVersion(sn: NetSubnet): number | undefined {
  if (sn.version) return sn.version;
  if (sn.cidr) return sn.cidr.includes(':') ? 6 : 4;
  return undefined;
}

function ipVersion(ip: NetIp, sn: NetSubnet): number | undefined {
  return ip.version ?? (ip.address.includes(':') ? 6 : subnetVersion(sn) ?? 4);
}

function dnsServices(sn: NetSubnet): { type: string; address: string | undefined }[] {
  return (sn.dns ?? []).map((d) => ({ type: 'dns', address: d.address }));
}

function netEntry(vif: NetVif, sn: NetSubnet, version: 4 | 6, num: number, linkId: string): Record<string, unknown> {
  const networkId = vif.network?.id ?? null;
  let type = '';
  if (sn.meta?.ipv6_address_mode !== undefined && sn.meta?.ipv6_address_mode !== null) type = `_${String(sn.meta.ipv6_address_mode)}`;
  else if (sn.meta?.dhcp_server !== undefined && sn.meta?.dhcp_server !== null) {
    return { id: `network${num}`, type: `ipv${version}_dhcp`, link: linkId, network_id: networkId };
  }
  const ip = sn.ips![0]!;
  const prefix = Number((sn.cidr ?? '').split('/')[1] ?? (version === 4 ? 32 : 128));
  const routes: Record<string, unknown>[] = [];
  const gw = sn.gateway?.address;
  if (gw) routes.push(version === 4 ? { network: '0.0.0.0', netmask: '0.0.0.0', gateway: gw } : { network: '::', netmask: '::', gateway: gw });
  for (const r of sn.routes ?? []) {
    const [addr, len] = r.cidr.split('/');
    const v6 = addr!.includes(':');
    const plen = Number(len ?? (v6 ? 128 : 32));
    routes.push({ network: networkAddress(addr!, plen, v6), netmask: netmaskOf(plen, v6), gateway: r.gateway.address });
  }
  return {
    id: `network${num}`, type: `ipv${version}${type}`, link: linkId, ip_address: ip.address,
    netmask: netmaskOf(prefix, version === 6), routes, network_id: networkId, services: dnsServices(sn),
  };
}

/** A prefix length as netaddr writes a netmask: 255.255.255.0, ffff:ffff:ffff:ffff::. */
export function netmaskOf(prefix: number, v6: boolean): string {
  const bits = v6 ? 128 : 32;
  const n = Math.max(0, Math.min(bits, prefix));
  const big = n === 0 ? 0n : ((1n << BigInt(n)) - 1n) << BigInt(bits - n);
  return v6 ? formatV6(big) : formatV4(big);
}

function networkAddress(addr: string, prefix: number, v6: boolean): string {
  const bits = v6 ? 128 : 32;
  const mask = prefix === 0 ? 0n : ((1n << BigInt(prefix)) - 1n) << BigInt(bits - prefix);
  const value = v6 ? parseV6(addr) : parseV4(addr);
  return v6 ? formatV6(value & mask) : formatV4(value & mask);
}

function parseV4(a: string): bigint {
  return a.split('.').reduce((acc, x) => (acc << 8n) + BigInt(Number(x) & 255), 0n);
}

function formatV4(v: bigint): string {
  return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 255n)).join('.');
}

function parseV6(a: string): bigint {
  const [head, tail] = a.includes('::') ? a.split('::') : [a, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined ? (tail ? tail.split(':') : []) : [];
  const groups = tail !== undefined ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  return groups.reduce((acc: bigint, g: string) => (acc << 16n) + BigInt(parseInt(g || '0', 16) & 0xffff), 0n);
}

/** RFC 5952 text (the longest run of zero groups, 2 or more, as ::), as netaddr prints. */
function formatV6(v: bigint): string {
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((v >> BigInt(i * 16)) & 0xffffn));
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}
