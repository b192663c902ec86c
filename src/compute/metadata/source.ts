// What the metadata documents are made of, read from the compute database (Nova's
// get_metadata_by_instance_id with its expected_attrs): the instance row, its server metadata, key
// pair, flavor copy, network info and EC2 ids; and the guest's password (set once by the guest).

import { readFileSync } from 'node:fs';
import type { Kysely } from 'kysely';
import type { Config } from '../../common/config.js';
import { isUniqueViolation, insertId } from '../../common/db/index.js';
import { parseJson, nowIso } from '../context.js';
import { flavorsOf, getInstance, systemMetadataOf, type InstanceRow } from '../store/instances.js';
import { keypairByName } from '../store/keypairs.js';
import type { InstanceSpec } from '../agent/driver.js';
import { InstanceMetadata, type MetadataSource, type NetVif } from './documents.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Db = Kysely<any>;

export interface SourceOptions {
  /** Nova's [api] dhcp_domain (default novalocal). */
  dhcpDomain: string;
  /** The StaticJSON vendor data. */
  vendorData: unknown;
  /** The requester's address (X-Forwarded-For), the fallback of local-ipv4. */
  address?: string | null;
}

/** Nova's default [api] dhcp_domain. */
export const DEFAULT_DHCP_DOMAIN = 'novalocal';

/**
 * The documents' settings from [compute]: dhcp_domain and the vendordata_jsonfile_path file, read
 * once (a missing or malformed file stops the service at start, as Nova's StaticJSON provider).
 */
export function metadataSettings(cfg: Config): SourceOptions {
  const path = cfg.compute.vendordata_jsonfile_path;
  let vendorData: unknown = {};
  if (path) {
    try {
      vendorData = JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      throw new Error(`[compute] vendordata_jsonfile_path ${path}: ${(e as Error).message}`, { cause: e });
    }
  }
  return { dhcpDomain: cfg.compute.dhcp_domain, vendorData };
}

/** An EC2 id: template % int (nova.objects.ec2.id_to_ec2_id). */
const ec2Id = (prefix: string, n: number): string => `${prefix}-${n.toString(16).padStart(8, '0')}`;

/** The small integer of an image uuid, made on first use (Nova's S3ImageMapping). */
export async function s3ImageId(db: Db, uuid: string): Promise<number> {
  const find = async () => (await db.selectFrom('s3_images').select('id').where('uuid', '=', uuid).executeTakeFirst())?.id as number | undefined;
  const have = await find();
  if (have !== undefined) return Number(have);
  try {
    return await insertId(db, 's3_images', { uuid, created_at: nowIso() });
  } catch (e) {
    if (!isUniqueViolation(e)) throw e;
    return Number(await find()); // another request made it first
  }
}

/** Device names of the ephemeral and swap disks as the qemu driver attaches them (vdb, vdc after vda). */
function extraDevices(root: string | null, ephemeralGb: number, swapMb: number): { ephemeral: string | null; swap: string | null } {
  const m = /^(\/dev\/[a-z]*?d)([a-z])$/.exec(root ?? '');
  if (!m) return { ephemeral: null, swap: null };
  let next = m[2]!.charCodeAt(0) + 1;
  const ephemeral = ephemeralGb > 0 ? `${m[1]}${String.fromCharCode(next++)}` : null;
  const swap = swapMb > 0 ? `${m[1]}${String.fromCharCode(next)}` : null;
  return { ephemeral, swap };
}

/** The key pair's type: the user's key pair of that name when it still exists, else from the key itself. */
function keyTypeOf(data: string): string {
  return data.startsWith('-----BEGIN CERTIFICATE-----') ? 'x509' : 'ssh';
}

/** The guest-posted password kept in system metadata (`password`, as os-server-password reads it). */
export function passwordOf(inst: InstanceRow): string | null {
  return systemMetadataOf(inst).password || null;
}

/**
 * Nova's network info marks a subnet served by DHCP with meta.dhcp_server (the DHCP port's address,
 * else the gateway); a cache that only says enable_dhcp gets the same mark, so network_data.json
 * shows such networks as ipv4_dhcp / ipv6_dhcp, as Nova does.
 */
function withDhcpServer(vif: NetVif): NetVif {
  if (!vif.network?.subnets?.some((sn) => sn.meta?.enable_dhcp === true && sn.meta.dhcp_server === undefined)) return vif;
  return {
    ...vif,
    network: {
      ...vif.network,
      subnets: vif.network.subnets.map((sn) => (sn.meta?.enable_dhcp === true && sn.meta.dhcp_server === undefined
        ? { ...sn, meta: { ...sn.meta, dhcp_server: sn.gateway?.address ?? '' } } : sn)),
    },
  };
}

/** The security group names the server was created with (system metadata), 'default' when none were named. */
function securityGroupsOf(inst: InstanceRow): string[] {
  const named = parseJson<unknown>(systemMetadataOf(inst).security_groups, null);
  return Array.isArray(named) && named.length ? named.map(String) : ['default'];
}

/** The documents' source for a live (not deleted) instance, or null when there is none. */
export async function loadMetadataSource(db: Db, uuid: string, o: SourceOptions): Promise<{ inst: InstanceRow; source: MetadataSource } | null> {
  const inst = await getInstance(db, uuid);
  if (!inst) return null;
  const md = await db.selectFrom('instance_metadata').select(['key', 'value']).where('instance_uuid', '=', inst.uuid).execute();
  let keypair: MetadataSource['keypair'] = null;
  if (inst.key_name) {
    const kp = await keypairByName(db, inst.user_id, inst.key_name);
    // The instance keeps the key as it was at boot (Nova's instance.keypairs copy).
    const data = inst.key_data ?? kp?.public_key ?? null;
    if (data !== null) keypair = { name: inst.key_name, type: kp && kp.public_key === data ? kp.type : keyTypeOf(data), publicKey: data };
  }
  const f = flavorsOf(inst).cur;
  const dev = extraDevices(inst.root_device_name, f?.ephemeral_gb ?? inst.ephemeral_gb, f?.swap ?? 0);
  const image = inst.image_ref ? ec2Id('ami', await s3ImageId(db, inst.image_ref)) : null;
  const kernel = inst.kernel_id ? ec2Id('aki', await s3ImageId(db, inst.kernel_id)) : null;
  const ramdisk = inst.ramdisk_id ? ec2Id('ari', await s3ImageId(db, inst.ramdisk_id)) : null;
  const nw = parseJson<unknown>(inst.network_info, []);
  const networkInfo = Array.isArray(nw) ? (nw as NetVif[]).filter((v) => v !== null && typeof v === 'object').map(withDhcpServer) : [];
  const source: MetadataSource = {
    uuid: inst.uuid, name: inst.display_name, hostname: inst.hostname ?? '', dhcpDomain: o.dhcpDomain,
    projectId: inst.project_id, launchIndex: inst.launch_index ?? 0, availabilityZone: inst.availability_zone,
    reservationId: inst.reservation_id,
    ec2: { instanceId: ec2Id('i', Number(inst.id)), amiId: image, kernelId: kernel, ramdiskId: ramdisk },
    flavorName: f?.name ?? '', rootDeviceName: inst.root_device_name, ephemeralDevice: dev.ephemeral, swapDevice: dev.swap,
    keypair, keyName: inst.key_name, keyData: inst.key_data,
    meta: Object.fromEntries(md.map((r) => [String(r.key), String(r.value ?? '')])),
    userData: inst.user_data !== null && inst.user_data !== undefined ? Buffer.from(inst.user_data, 'base64') : null,
    password: passwordOf(inst),
    networkInfo,
    // Nova asks the network service for the groups of the instance's ports: none without ports;
    // with ports, the groups the server was created with (its ports get them), else 'default'.
    securityGroups: networkInfo.length ? securityGroupsOf(inst) : [],
    address: o.address ?? null, vendorData: o.vendorData,
  };
  return { inst, source };
}

/**
 * A source from the driver's instance spec alone, for a config drive built without the database
 * (a driver used directly, as in its own tests). The agent passes database-made files instead.
 */
export function sourceFromSpec(spec: InstanceSpec): MetadataSource {
  const dev = extraDevices('/dev/vda', spec.ephemeralGb, spec.swapMb);
  return {
    uuid: spec.uuid, name: spec.hostname, hostname: spec.hostname, dhcpDomain: DEFAULT_DHCP_DOMAIN, projectId: '',
    launchIndex: 0, availabilityZone: null, reservationId: null,
    ec2: { instanceId: 'i-00000000', amiId: null, kernelId: null, ramdiskId: null },
    flavorName: '', rootDeviceName: '/dev/vda', ephemeralDevice: dev.ephemeral, swapDevice: dev.swap,
    keypair: spec.keyName && spec.keyData ? { name: spec.keyName, type: keyTypeOf(spec.keyData), publicKey: spec.keyData } : null,
    keyName: spec.keyName, keyData: spec.keyData, meta: spec.metadata ?? {},
    userData: spec.userData ? Buffer.from(spec.userData, 'base64') : null, password: null,
    networkInfo: [], securityGroups: [], address: null, vendorData: {},
    ...(spec.adminPass ? { extraMd: { admin_pass: spec.adminPass } } : {}),
  };
}

export type PasswordResult = 'set' | 'conflict' | 'gone';

/**
 * Sets the guest's password once (Nova: 409 once one is set). Compare-and-set on the system
 * metadata text, so a concurrent update of the row is not lost and two posts cannot both win.
 */
export async function setPasswordOnce(db: Db, uuid: string, password: string): Promise<PasswordResult> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const inst = await getInstance(db, uuid);
    if (!inst) return 'gone';
    if (passwordOf(inst)) return 'conflict';
    const sm = systemMetadataOf(inst);
    sm.password = password;
    let q = db.updateTable('instances').set({ system_metadata: JSON.stringify(sm), updated_at: nowIso() })
      .where('uuid', '=', uuid).where('deleted', '=', 0);
    q = inst.system_metadata === null ? q.where('system_metadata', 'is', null) : q.where('system_metadata', '=', inst.system_metadata);
    const r = await q.executeTakeFirst();
    if (Number(r.numUpdatedRows) > 0) return 'set';
  }
  return 'conflict';
}

/** The config drive's files of an instance: the metadata documents from its rows (from the spec when the row is gone). */
export async function configDriveFilesFor(db: Db, spec: InstanceSpec, o: SourceOptions): Promise<Record<string, string | Buffer>> {
  const loaded = await loadMetadataSource(db, spec.uuid, o);
  const source = loaded?.source ?? sourceFromSpec(spec);
  // The build's admin password goes on the drive only (Nova's extra_md; the API never shows it).
  if (spec.adminPass) source.extraMd = { admin_pass: spec.adminPass };
  return new InstanceMetadata(source).configDriveFiles();
}
