// /v2.0/ports (ML2's port handling, reduced): MACs from base_mac unique per network, fixed IPs by
// subnet and/or address through ipam.ts (in one transaction, retried when a concurrent create took
// the same address or MAC), device_owner/device_id, port bindings (binding:host_id binds the port
// with the bridge VIF; binding:* are admin-only by policy), allowed address pairs, extra DHCP
// options, port security and security groups (the project's default group unless told otherwise).

import type { FastifyRequest } from 'fastify';
import { randomInt } from 'node:crypto';
import type { NetworkContext, Caller } from '../context.js';
import { caller, enforce, stripByPolicy, target } from '../context.js';
import { isUniqueViolation } from '../../common/db/index.js';
import { writeTx, type Db, type Tx } from '../store/tx.js';
import { prepared } from '../../common/db/prepared.js';
import { b, bump, deleteTags, json, newId, parse, tagsOf } from '../store/common.js';
import { queryLists, badRequest, checkRevision, checkString, conflict, invalidInput, nerr, notFound, pyRepr, resourceBody, stamp, toBoolean, isUuidLike } from './http.js';
import { checkAttrs, ownerOf } from './attrs.js';
import { checkQuota } from './quota.js';
import { fieldsOf, listResponse, project, type Obj } from './list.js';
import { loadNetworkRows, netAccess, networkForPort } from './networks.js';
import { ensureDefaultSg, getGroup } from './securitygroups.js';
import { allocate, compareFixedIps, parseFixedIps, type FixedIp, type IpRequest } from '../ipam.js';
import { parseCidr, parseIp } from '../ipaddr.js';
import type { ApiModule } from './router.js';
import { bridgeName } from '../agent/names.js';

type Row = Record<string, unknown>;

const KNOWN = ['id', 'name', 'description', 'tenant_id', 'project_id', 'network_id', 'mac_address', 'admin_state_up', 'status', 'device_id', 'device_owner',
  'fixed_ips', 'security_groups', 'allowed_address_pairs', 'extra_dhcp_opts', 'port_security_enabled', 'binding:host_id', 'binding:vif_type',
  'binding:vif_details', 'binding:vnic_type', 'binding:profile', 'tags', 'created_at', 'updated_at', 'revision_number', 'dns_name', 'dns_assignment',
  'qos_policy_id', 'propagate_uplink_status', 'ip_allocation', 'resource_request', 'data_plane_status'];
const POST = ['name', 'description', 'tenant_id', 'project_id', 'network_id', 'mac_address', 'admin_state_up', 'device_id', 'device_owner', 'fixed_ips',
  'security_groups', 'allowed_address_pairs', 'extra_dhcp_opts', 'port_security_enabled', 'binding:host_id', 'binding:vnic_type', 'binding:profile'];
const PUT = ['name', 'description', 'mac_address', 'admin_state_up', 'device_id', 'device_owner', 'fixed_ips', 'security_groups', 'allowed_address_pairs',
  'extra_dhcp_opts', 'port_security_enabled', 'binding:host_id', 'binding:vnic_type', 'binding:profile'];
const VNIC_TYPES = ['normal', 'direct', 'macvtap', 'baremetal', 'direct-physical', 'virtio-forwarder', 'smart-nic', 'vdpa', 'accelerator-direct', 'accelerator-direct-physical', 'remote-managed'];

// The port create's statements, prepared (common/db/prepared.ts): they run on every create.
const PORT_COLUMNS = ['id', 'name', 'project_id', 'description', 'revision_number', 'created_at', 'updated_at', 'network_id', 'mac_address', 'admin_state_up',
  'status', 'device_id', 'device_owner', 'binding_host_id', 'binding_vif_type', 'binding_vif_details', 'binding_vnic_type', 'binding_profile',
  'port_security_enabled', 'allowed_address_pairs', 'extra_dhcp_opts', 'dns_name'] as const;
const insertPort = prepared((db, ...values: unknown[]) => db.insertInto('neutron_ports').values(Object.fromEntries(PORT_COLUMNS.map((c, i) => [c, values[i]]))));
const insertPortGroup = prepared((db, port_id: string, security_group_id: string) => db.insertInto('neutron_port_security_groups').values({ port_id, security_group_id }));
const macOnNetwork = prepared((db, networkId: string, mac: string) => db.selectFrom('neutron_ports').select('id').where('network_id', '=', networkId).where('mac_address', '=', mac));

/** The VIF a bound port gets: the Linux bridge mechanism driver's. */
const BRIDGE_VIF = { type: 'bridge', details: { port_filter: true, connectivity: 'l2' } };

export interface PortBits { fixed: Map<string, FixedIp[]>; sgs: Map<string, string[]>; tags: Map<string, string[]> }

async function portBits(db: Db | Tx, ids: string[]): Promise<PortBits> {
  const fixed = new Map<string, FixedIp[]>(); const sgs = new Map<string, string[]>();
  if (ids.length) {
    const big = ids.length > 500;
    let q1 = db.selectFrom('neutron_ipallocations as a').innerJoin('neutron_subnets as s', 's.id', 'a.subnet_id').select(['a.port_id', 'a.subnet_id', 'a.ip_address', 's.ip_version', 's.created_at']);
    if (!big) q1 = q1.where('a.port_id', 'in', ids);
    const rows = (await q1.execute()) as { port_id: string; subnet_id: string; ip_address: string; ip_version: number; created_at: string }[];
    rows.sort(compareFixedIps);
    for (const r of rows) (fixed.get(r.port_id) ?? fixed.set(r.port_id, []).get(r.port_id)!).push({ subnet_id: r.subnet_id, ip_address: r.ip_address });
    let q2 = db.selectFrom('neutron_port_security_groups').select(['port_id', 'security_group_id']);
    if (!big) q2 = q2.where('port_id', 'in', ids);
    for (const r of (await q2.execute()) as { port_id: string; security_group_id: string }[]) (sgs.get(r.port_id) ?? sgs.set(r.port_id, []).get(r.port_id)!).push(r.security_group_id);
  }
  return { fixed, sgs, tags: await tagsOf(db, 'ports', ids) };
}

export function portDict(r: Row, bits: PortBits): Obj {
  const id = r.id as string;
  const pairs = parse<{ ip_address: string; mac_address?: string }[]>(r.allowed_address_pairs, []).map((p) => ({ ip_address: p.ip_address, mac_address: p.mac_address ?? r.mac_address }));
  return {
    id, name: r.name, network_id: r.network_id, tenant_id: r.project_id, project_id: r.project_id, mac_address: r.mac_address,
    admin_state_up: Boolean(Number(r.admin_state_up)), status: r.status, device_id: r.device_id, device_owner: r.device_owner,
    fixed_ips: bits.fixed.get(id) ?? [], allowed_address_pairs: pairs, extra_dhcp_opts: parse<unknown[]>(r.extra_dhcp_opts, []),
    security_groups: (bits.sgs.get(id) ?? []).sort(), description: r.description,
    'binding:host_id': r.binding_host_id, 'binding:vif_type': r.binding_vif_type, 'binding:vif_details': parse<Obj>(r.binding_vif_details, {}),
    'binding:vnic_type': r.binding_vnic_type, 'binding:profile': parse<Obj>(r.binding_profile, {}),
    port_security_enabled: Boolean(Number(r.port_security_enabled)), tags: bits.tags.get(id) ?? [],
    created_at: r.created_at, updated_at: r.updated_at, revision_number: Number(r.revision_number),
  };
}

function portTarget(d: Obj, net: Row | undefined): Obj {
  return target(d, {
    'network:tenant_id': net?.project_id, 'network:project_id': net?.project_id, shared: net?.shared,
    device_owner_network: typeof d.device_owner === 'string' && d.device_owner.startsWith('network:'),
  });
}

/** Query filters that are plain columns: applied in SQL first (compute's ?device_id= lookups), then again in memory. */
const PUSHDOWN: Record<string, string> = { id: 'id', network_id: 'network_id', device_id: 'device_id', device_owner: 'device_owner', mac_address: 'mac_address',
  project_id: 'project_id', tenant_id: 'project_id', 'binding:host_id': 'binding_host_id', name: 'name' };

async function visiblePorts(ctx: NetworkContext, db: Db | Tx, c: Caller, ids?: string[], where: Map<string, string[]> = new Map()): Promise<{ dict: Obj; net: Row }[]> {
  let q = db.selectFrom('neutron_ports').selectAll();
  if (ids) { if (!ids.length) return []; q = q.where('id', 'in', ids); }
  for (const [k, vals] of where) if (PUSHDOWN[k] && vals.length && vals.every((v) => v !== '')) q = q.where(PUSHDOWN[k]!, 'in', vals);
  const rows = (await q.execute()) as Row[];
  const acc = await netAccess(db, c);
  const nets = new Map<string, Row>((await loadNetworkRows(db, [...new Set(rows.map((r) => r.network_id as string))])).map((n) => [n.id as string, { ...n, shared: acc.shared.has(n.id as string) }]));
  // Neutron's port query: the caller's ports and the ports on the caller's networks.
  const mine = rows.filter((r) => c.isAdmin || c.isAdvsvc || r.project_id === c.projectId || nets.get(r.network_id as string)?.project_id === c.projectId);
  const bits = await portBits(db, mine.map((r) => r.id as string));
  return mine.map((r) => ({ dict: portDict(r, bits), net: nets.get(r.network_id as string)! }));
}

async function getPort(ctx: NetworkContext, c: Caller, id: string): Promise<{ dict: Obj; net: Row }> {
  const [p] = await visiblePorts(ctx, ctx.db, c, [id]);
  if (!p || !ctx.policy.check('get_port', portTarget(p.dict, p.net), c.creds)) throw notFound('PortNotFound', `Port ${id} could not be found.`);
  return p;
}

const shown = (ctx: NetworkContext, c: Caller, p: { dict: Obj; net: Row }) => stripByPolicy(ctx, c, 'port', p.dict, portTarget(p.dict, p.net));

// ---- validation ------------------------------------------------------------------------------

function randomMac(base: string): string {
  const parts = base.split(':');
  // randomInt draws from Node's cached random pool; randomBytes(6) costs a system call each time.
  const r = randomInt(0x1000000);
  const mac = [0, 1, 2].map((i) => parseInt(parts[i]!, 16));
  mac.push(parts[3] && parts[3] !== '00' ? parseInt(parts[3], 16) : r >> 16, (r >> 8) & 0xff, r & 0xff);
  return mac.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

function checkMac(v: unknown): string {
  if (typeof v !== 'string') throw invalidInput(`'${pyRepr(v)}' is not a valid MAC address`);
  const m = /^([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})$/.exec(v);
  if (!m) throw invalidInput(`'${v}' is not a valid MAC address`);
  const mac = m.slice(1).join(':').toLowerCase();
  if (mac === '00:00:00:00:00:00' || (parseInt(m[1]!, 16) & 1)) throw invalidInput(`'${v}' is not a valid MAC address`);
  return mac;
}

function checkPairs(v: unknown, max: number): { ip_address: string; mac_address?: string }[] {
  if (!Array.isArray(v)) throw invalidInput(`'${pyRepr(v)}' is not a list`);
  if (v.length > max) throw nerr('BadRequest', 'AllowedAddressPairExhausted', `The number of allowed address pair exceeds the maximum ${max}.`);
  const out: { ip_address: string; mac_address?: string }[] = [];
  for (const p of v) {
    if (typeof p !== 'object' || p === null || Array.isArray(p)) throw invalidInput(`'${pyRepr(p)}' is not a dictionary`);
    const { ip_address, mac_address, ...rest } = p as Record<string, unknown>;
    if (Object.keys(rest).length) throw invalidInput(`Unrecognized attribute(s) '${Object.keys(rest).join(', ')}'`);
    if (ip_address === undefined) throw nerr('BadRequest', 'AllowedAddressPairsMissingIP', 'AllowedAddressPair must contain ip_address');
    const ip = parseIp(ip_address); const cd = parseCidr(ip_address);
    if (!ip && !cd) throw invalidInput(`'${pyRepr(ip_address)}' is not a valid IP address`);
    const e: { ip_address: string; mac_address?: string } = { ip_address: String(ip_address) };
    if (mac_address !== undefined && mac_address !== null) e.mac_address = checkMac(mac_address);
    if (out.some((o) => o.ip_address === e.ip_address && o.mac_address === e.mac_address)) {
      throw nerr('BadRequest', 'DuplicateAddressPairInRequest', `Request contains duplicate address pair: mac_address ${e.mac_address ?? 'None'} ip_address ${e.ip_address}.`);
    }
    out.push(e);
  }
  return out;
}

function checkDhcpOpts(v: unknown): unknown[] {
  if (!Array.isArray(v)) throw invalidInput(`'${pyRepr(v)}' is not a list`);
  return v.map((o) => {
    if (typeof o !== 'object' || o === null) throw invalidInput(`'${pyRepr(o)}' is not a dictionary`);
    const { opt_name, opt_value, ip_version } = o as Record<string, unknown>;
    if (typeof opt_name !== 'string' || !opt_name) throw invalidInput(`'${pyRepr(opt_name)}' is not a valid string`);
    const ver = ip_version === undefined || ip_version === null ? 4 : Number(ip_version);
    if (ver !== 4 && ver !== 6) throw invalidInput(`${pyRepr(ip_version)} is not in [4, 6]`);
    return { opt_name, opt_value: opt_value === undefined ? null : opt_value, ip_version: ver };
  });
}

function checkDict(v: unknown): Obj {
  if (v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw invalidInput(`'${pyRepr(v)}' is not a dictionary`);
  return v as Obj;
}

async function checkSecurityGroups(ctx: NetworkContext, c: Caller, owner: string, v: unknown): Promise<string[]> {
  if (!Array.isArray(v)) throw invalidInput(`'${pyRepr(v)}' is not a list`);
  const ids = [...new Set(v.map((x) => { if (!isUuidLike(x)) throw invalidInput(`'${pyRepr(x)}' is not a valid UUID`); return x; }))];
  for (const id of ids) {
    const g = await getGroup(ctx, ctx.db, c, id).catch(() => undefined);
    // An admin may put another project's group on a port only of that project (Neutron's check).
    if (!g || (g.project_id !== owner && !c.isAdmin)) throw notFound('SecurityGroupNotFound', `Security group ${id} does not exist`);
  }
  return ids;
}

function portSecurityChecks(ps: boolean, sgs: string[], pairs: unknown[]): void {
  if (!ps && sgs.length) throw nerr('Conflict', 'PortSecurityAndIPRequiredForSecurityGroups', 'Port security must be enabled and port must have an IP address in order to use security groups.');
  if (!ps && pairs.length) throw nerr('Conflict', 'AddressPairAndPortSecurityRequired', 'Port Security must be enabled in order to have allowed address pairs on a port.');
}

/**
 * A binding as the Linux bridge mechanism driver makes it; vif_details names the network's bridge
 * so that compute plugs the tap where the host's agent expects it. A bound port is DOWN until that
 * agent reports its device up (agents-rpc.ts), as ML2 does.
 */
function binding(host: string, vnic: string, networkId: string): { vif_type: string; vif_details: Obj } {
  if (!host) return { vif_type: 'unbound', vif_details: {} };
  if (vnic !== 'normal') return { vif_type: 'binding_failed', vif_details: {} };
  return { vif_type: BRIDGE_VIF.type, vif_details: { ...BRIDGE_VIF.details, bridge_name: bridgeName(networkId) } };
}

/** Explicitly set attributes whose sub-rules Neutron checks (fixed_ips:ip_address, allowed_address_pairs:mac_address...). */
function policyAttrs(action: 'create_port' | 'update_port', raw: Obj): string[] {
  const attrs = Object.keys(raw).filter((k) => k !== 'tenant_id' && k !== 'project_id');
  if (Array.isArray(raw.fixed_ips)) {
    if (raw.fixed_ips.some((f) => f && typeof f === 'object' && 'ip_address' in f)) attrs.push('fixed_ips:ip_address');
    if (raw.fixed_ips.some((f) => f && typeof f === 'object' && 'subnet_id' in f)) attrs.push('fixed_ips:subnet_id');
  }
  if (Array.isArray(raw.allowed_address_pairs)) {
    if (raw.allowed_address_pairs.some((f) => f && typeof f === 'object' && 'mac_address' in f)) attrs.push('allowed_address_pairs:mac_address');
    if (raw.allowed_address_pairs.some((f) => f && typeof f === 'object' && 'ip_address' in f)) attrs.push('allowed_address_pairs:ip_address');
  }
  void action;
  return attrs;
}

// ---- handlers --------------------------------------------------------------------------------

const LIST = {
  collection: 'ports',
  filters: ['id', 'name', 'network_id', 'tenant_id', 'project_id', 'mac_address', 'admin_state_up', 'status', 'device_id', 'device_owner',
    'description', 'binding:host_id', 'binding:vif_type', 'binding:vnic_type', 'port_security_enabled', 'revision_number', 'created_at', 'updated_at', 'security_groups'],
  sorts: ['id', 'name', 'network_id', 'tenant_id', 'project_id', 'mac_address', 'admin_state_up', 'status', 'device_id', 'device_owner', 'description',
    'revision_number', 'created_at', 'updated_at', 'binding:host_id', 'binding:vnic_type'],
  booleans: ['admin_state_up', 'port_security_enabled'],
  matchers: {
    // fixed_ips=ip_address=10.0.0.5 / fixed_ips=subnet_id=... (Neutron's fixed_ips filter).
    fixed_ips: (item: Obj, vals: string[]) => {
      const ips = item.fixed_ips as FixedIp[];
      return vals.every((v) => {
        const [k, x] = [v.slice(0, v.indexOf('=')), v.slice(v.indexOf('=') + 1)];
        if (k === 'ip_address') return ips.some((f) => f.ip_address === x);
        if (k === 'subnet_id') return ips.some((f) => f.subnet_id === x);
        if (k === 'ip_address_substr') return ips.some((f) => f.ip_address.includes(x));
        return false;
      });
    },
  },
};

async function list(ctx: NetworkContext, req: FastifyRequest): Promise<Obj> {
  const c = caller(ctx, req);
  const all = await visiblePorts(ctx, ctx.db, c, undefined, queryLists(req));
  const dicts = all.filter((p) => ctx.policy.check('get_port', portTarget(p.dict, p.net), c.creds)).map((p) => shown(ctx, c, p));
  return listResponse(req, { ...LIST, maxLimit: ctx.cfg.network.pagination_max_limit }, dicts);
}

async function create(ctx: NetworkContext, req: FastifyRequest, reply: { code(n: number): unknown }): Promise<Obj> {
  const c = caller(ctx, req);
  const raw = resourceBody(req, 'port');
  const body = { ...raw };
  checkAttrs(body, KNOWN, POST, 'POST');
  const owner = ownerOf(body, c);
  if (body.network_id === undefined) throw badRequest("Failed to parse request. Required attribute 'network_id' not specified");
  if (!isUuidLike(body.network_id)) throw invalidInput(`'${pyRepr(body.network_id)}' is not a valid UUID`);
  const net = await networkForPort(ctx.db, c, body.network_id);
  const deviceOwner = body.device_owner === undefined || body.device_owner === null ? '' : checkString('device_owner', body.device_owner, 255);
  const tgt = target({ ...body, project_id: owner, device_owner: deviceOwner }, {
    'network:tenant_id': net.row.project_id, 'network:project_id': net.row.project_id, shared: net.shared,
    device_owner_network: deviceOwner.startsWith('network:'),
  });
  enforce(ctx, c, 'create_port', tgt, policyAttrs('create_port', raw));
  const name = body.name === undefined ? '' : checkString('name', body.name, 255);
  const description = body.description === undefined ? '' : checkString('description', body.description, 255);
  const deviceId = body.device_id === undefined || body.device_id === null ? '' : checkString('device_id', body.device_id, 255);
  const adminUp = body.admin_state_up === undefined ? true : toBoolean(body.admin_state_up);
  const mac = body.mac_address === undefined || body.mac_address === null ? undefined : checkMac(body.mac_address);
  const requests: IpRequest[] | undefined = body.fixed_ips === undefined || body.fixed_ips === null ? undefined : parseFixedIps(body.fixed_ips);
  const ps = body.port_security_enabled === undefined ? Boolean(Number(net.row.port_security_enabled)) : toBoolean(body.port_security_enabled);
  const pairs = body.allowed_address_pairs === undefined || body.allowed_address_pairs === null ? [] : checkPairs(body.allowed_address_pairs, ctx.cfg.network.max_allowed_address_pair);
  const dhcpOpts = body.extra_dhcp_opts === undefined || body.extra_dhcp_opts === null ? [] : checkDhcpOpts(body.extra_dhcp_opts);
  const host = body['binding:host_id'] === undefined || body['binding:host_id'] === null ? '' : checkString('binding:host_id', body['binding:host_id'], 255);
  const vnic = body['binding:vnic_type'] === undefined ? 'normal' : String(body['binding:vnic_type']);
  if (!VNIC_TYPES.includes(vnic)) throw invalidInput(`${pyRepr(body['binding:vnic_type'])} is not in [${VNIC_TYPES.map((v) => `'${v}'`).join(', ')}]`);
  const profile = body['binding:profile'] === undefined ? {} : checkDict(body['binding:profile']);
  let sgs: string[];
  if (body.security_groups !== undefined && body.security_groups !== null) sgs = await checkSecurityGroups(ctx, c, owner, body.security_groups);
  else if (ps && !deviceOwner.startsWith('network:')) sgs = [await ensureDefaultSg(ctx, owner)];
  else sgs = [];
  portSecurityChecks(ps, sgs, pairs);
  const bind = binding(host, vnic, net.row.id as string);
  const id = newId();
  const now = stamp();
  let row: Row = {};
  let fixed: FixedIp[] = [];
  for (let attempt = 0; ; attempt++) {
    const macNow = mac ?? randomMac(ctx.cfg.network.base_mac);
    try {
      await writeTx(ctx, async (trx) => {
        await checkQuota(ctx, trx, owner, 'port');
        if (mac) {
          const [used] = (await macOnNetwork(trx, net.row.id as string, mac)).rows;
          if (used) throw conflict('MacAddressInUse', `Unable to complete operation for network ${String(net.row.id)}. The mac address ${mac} is in use.`);
        }
        row = {
          id, name, project_id: owner, description, revision_number: 0, created_at: now, updated_at: now, network_id: net.row.id,
          mac_address: macNow, admin_state_up: b(adminUp), status: 'DOWN', device_id: deviceId, device_owner: deviceOwner,
          binding_host_id: host, binding_vif_type: bind.vif_type, binding_vif_details: json(bind.vif_details), binding_vnic_type: vnic,
          binding_profile: json(profile), port_security_enabled: b(ps), allowed_address_pairs: json(pairs), extra_dhcp_opts: json(dhcpOpts), dns_name: '',
        };
        await insertPort(trx, ...PORT_COLUMNS.map((c) => row[c]));
        fixed = await allocate(trx, net.row.id as string, id, macNow, requests, deviceOwner.startsWith('network:router'));
        for (const sg of sgs) await insertPortGroup(trx, id, sg);
      });
      break;
    } catch (e) {
      // Another transaction took the chosen address or MAC first: choose again.
      if (isUniqueViolation(e) && attempt < 60) { await new Promise((r) => setTimeout(r, Math.random() * 5 * Math.min(attempt + 1, 10))); continue; }
      if (isUniqueViolation(e) && !mac) throw nerr('ServiceUnavailable', 'MacAddressGenerationFailure', `Unable to generate unique mac on network ${String(net.row.id)}.`);
      throw e;
    }
  }
  reply.code(201);
  // The response is the row just written (a new port has no tags yet), not a read-back: six
  // statements fewer per create. A caller may create a port it could not read back (a network
  // owner's port for another project); it is shown what it wrote, as Neutron does.
  const p = { dict: portDict(row, { fixed: new Map([[id, fixed]]), sgs: new Map([[id, sgs]]), tags: new Map() }), net: { ...net.row, shared: net.shared } };
  return { port: shown(ctx, c, p) };
}

async function update(ctx: NetworkContext, req: FastifyRequest): Promise<Obj> {
  const c = caller(ctx, req);
  const id = (req.params as { id: string }).id;
  const raw = resourceBody(req, 'port');
  checkAttrs(raw, KNOWN, PUT, 'PUT');
  const cur = await getPort(ctx, c, id);
  const merged = { ...cur.dict, ...raw };
  enforce(ctx, c, 'update_port', portTarget(merged, cur.net), policyAttrs('update_port', raw));
  checkRevision(req, Number(cur.dict.revision_number));
  const set: Row = {};
  if (raw.name !== undefined) set.name = checkString('name', raw.name, 255);
  if (raw.description !== undefined) set.description = checkString('description', raw.description, 255);
  if (raw.admin_state_up !== undefined) set.admin_state_up = b(toBoolean(raw.admin_state_up));
  if (raw.device_id !== undefined) set.device_id = raw.device_id === null ? '' : checkString('device_id', raw.device_id, 255);
  if (raw.device_owner !== undefined) set.device_owner = raw.device_owner === null ? '' : checkString('device_owner', raw.device_owner, 255);
  let mac = cur.dict.mac_address as string;
  if (raw.mac_address !== undefined) {
    mac = checkMac(raw.mac_address);
    if (mac !== cur.dict.mac_address) {
      if (cur.dict['binding:vif_type'] !== 'unbound' && cur.dict['binding:vif_type'] !== 'binding_failed') throw conflict('PortBound', `Unable to complete operation on port ${id}, port is already bound, port type: ${String(cur.dict['binding:vif_type'])}, old_mac ${String(cur.dict.mac_address)}, new_mac ${mac}.`);
      set.mac_address = mac;
    }
  }
  const ps = raw.port_security_enabled === undefined ? Boolean(cur.dict.port_security_enabled) : toBoolean(raw.port_security_enabled);
  if (raw.port_security_enabled !== undefined) set.port_security_enabled = b(ps);
  let pairs = (cur.dict.allowed_address_pairs as unknown[]);
  if (raw.allowed_address_pairs !== undefined) { pairs = raw.allowed_address_pairs === null ? [] : checkPairs(raw.allowed_address_pairs, ctx.cfg.network.max_allowed_address_pair); set.allowed_address_pairs = json(pairs); }
  if (raw.extra_dhcp_opts !== undefined) set.extra_dhcp_opts = json(raw.extra_dhcp_opts === null ? [] : checkDhcpOpts(raw.extra_dhcp_opts));
  let sgs = cur.dict.security_groups as string[];
  if (raw.security_groups !== undefined) sgs = raw.security_groups === null ? [] : await checkSecurityGroups(ctx, c, cur.dict.project_id as string, raw.security_groups);
  if (raw.port_security_enabled !== undefined && !ps && raw.security_groups === undefined && sgs.length) {
    throw conflict('PortSecurityPortHasSecurityGroup', 'Port has security group associated. Cannot disable port security or ip address until security group is removed');
  }
  if (!ps && raw.allowed_address_pairs === undefined && pairs.length) throw conflict('AddressPairAndPortSecurityRequired', 'Port Security must be enabled in order to have allowed address pairs on a port.');
  portSecurityChecks(ps, sgs, raw.allowed_address_pairs === undefined ? [] : pairs);
  const host = raw['binding:host_id'] === undefined ? cur.dict['binding:host_id'] as string : (raw['binding:host_id'] === null ? '' : checkString('binding:host_id', raw['binding:host_id'], 255));
  const vnic = raw['binding:vnic_type'] === undefined ? cur.dict['binding:vnic_type'] as string : String(raw['binding:vnic_type']);
  if (!VNIC_TYPES.includes(vnic)) throw invalidInput(`${pyRepr(raw['binding:vnic_type'])} is not in [${VNIC_TYPES.map((v) => `'${v}'`).join(', ')}]`);
  if (raw['binding:profile'] !== undefined) set.binding_profile = json(checkDict(raw['binding:profile']));
  if (raw['binding:host_id'] !== undefined || raw['binding:vnic_type'] !== undefined) {
    const bd = binding(host, vnic, cur.dict.network_id as string);
    const rebound = host !== cur.dict['binding:host_id'];
    Object.assign(set, { binding_host_id: host, binding_vnic_type: vnic, binding_vif_type: bd.vif_type, binding_vif_details: json(bd.vif_details), ...(rebound ? { status: 'DOWN' } : {}) });
  }
  const requests = raw.fixed_ips === undefined ? undefined : (raw.fixed_ips === null ? [] : parseFixedIps(raw.fixed_ips));
  const networkId = cur.dict.network_id as string;
  for (let attempt = 0; ; attempt++) {
    try {
      await writeTx(ctx, async (trx) => {
        if (set.mac_address) {
          const used = await trx.selectFrom('neutron_ports').select('id').where('network_id', '=', networkId).where('mac_address', '=', mac).where('id', '!=', id).executeTakeFirst();
          if (used) throw conflict('MacAddressInUse', `Unable to complete operation for network ${networkId}. The mac address ${mac} is in use.`);
        }
        if (Object.keys(set).length) await trx.updateTable('neutron_ports').set(set).where('id', '=', id).execute();
        if (requests !== undefined) {
          // Keep the addresses the request repeats, release the others, allocate the new ones.
          const old = cur.dict.fixed_ips as FixedIp[];
          const keep = old.filter((o) => requests.some((r) => r.ip_address === o.ip_address && (!r.subnet_id || r.subnet_id === o.subnet_id)));
          const fresh = requests.filter((r) => !keep.some((k) => k.ip_address === r.ip_address && (!r.subnet_id || r.subnet_id === k.subnet_id)));
          for (const o of old) if (!keep.includes(o)) await trx.deleteFrom('neutron_ipallocations').where('subnet_id', '=', o.subnet_id).where('ip_address', '=', o.ip_address).execute();
          await allocate(trx, networkId, id, mac, fresh, String(set.device_owner ?? cur.dict.device_owner).startsWith('network:router'));
        }
        if (raw.security_groups !== undefined || (raw.port_security_enabled !== undefined && !ps)) {
          await trx.deleteFrom('neutron_port_security_groups').where('port_id', '=', id).execute();
          for (const sg of sgs) await trx.insertInto('neutron_port_security_groups').values({ port_id: id, security_group_id: sg }).execute();
        }
        await bump(trx, 'neutron_ports', id, stamp());
      });
      break;
    } catch (e) {
      if (isUniqueViolation(e) && attempt < 60) continue;
      throw e;
    }
  }
  const p = await getPort(ctx, c, id);
  return { port: shown(ctx, c, p) };
}

async function remove(ctx: NetworkContext, req: FastifyRequest, reply: { code(n: number): unknown }): Promise<void> {
  const c = caller(ctx, req);
  const id = (req.params as { id: string }).id;
  const p = await getPort(ctx, c, id);
  enforce(ctx, c, 'delete_port', portTarget(p.dict, p.net));
  checkRevision(req, Number(p.dict.revision_number));
  const owner = String(p.dict.device_owner);
  if (owner === 'network:router_interface' || owner === 'network:router_gateway' || owner === 'network:floatingip' || owner === 'network:router_interface_distributed' || owner === 'network:ha_router_replicated_interface') {
    throw conflict('ServicePortInUse', `Port ${id} cannot be deleted directly via the port API: has device owner ${owner}.`);
  }
  await deletePortRows(ctx, id);
  reply.code(204);
}

/** Removes a port and everything hanging off it (also used by the L3 area for its own ports). */
/**
 * A port the service makes for itself (neutron-dhcp-agent's DHCP port): no caller, no quota, no
 * security groups; the MAC and addresses come from the same allocation as every port's.
 */
export async function createServicePort(ctx: NetworkContext, p: { network_id: string; device_owner: string; device_id: string; host: string; fixed_ips: IpRequest[] }): Promise<string> {
  const net = await ctx.db.selectFrom('neutron_networks').select(['id', 'project_id']).where('id', '=', p.network_id).executeTakeFirst() as Row | undefined;
  if (!net) throw notFound('Network', p.network_id);
  const id = newId();
  const now = stamp();
  const bind = binding(p.host, 'normal', p.network_id);
  for (let attempt = 0; ; attempt++) {
    const mac = randomMac(ctx.cfg.network.base_mac);
    try {
      await writeTx(ctx, async (trx) => {
        await trx.insertInto('neutron_ports').values({
          id, name: '', project_id: net.project_id, description: '', revision_number: 0, created_at: now, updated_at: now, network_id: p.network_id,
          mac_address: mac, admin_state_up: 1, status: 'ACTIVE', device_id: p.device_id, device_owner: p.device_owner,
          binding_host_id: p.host, binding_vif_type: bind.vif_type, binding_vif_details: json(bind.vif_details), binding_vnic_type: 'normal',
          binding_profile: json({}), port_security_enabled: 0, allowed_address_pairs: json([]), extra_dhcp_opts: json([]), dns_name: '',
        }).execute();
        await allocate(trx, p.network_id, id, mac, p.fixed_ips, false);
      });
      return id;
    } catch (e) {
      if (isUniqueViolation(e) && attempt < 60) continue;
      throw e;
    }
  }
}

export async function deletePortRows(ctx: NetworkContext, id: string): Promise<void> {
  await writeTx(ctx, async (trx) => {
    await trx.deleteFrom('neutron_ipallocations').where('port_id', '=', id).execute();
    await trx.deleteFrom('neutron_port_security_groups').where('port_id', '=', id).execute();
    await deleteTags(trx, 'ports', id);
    await trx.deleteFrom('neutron_ports').where('id', '=', id).execute();
  });
}

export const portsModule: ApiModule = {
  name: 'ports',
  extensions: [
    { alias: 'binding', name: 'Port Binding', description: 'Expose port bindings of a virtual port to external application', updated: '2014-02-03T10:00:00-00:00' },
    { alias: 'allowed-address-pairs', name: 'Allowed Address Pairs', description: 'Provides allowed address pairs', updated: '2013-07-23T10:00:00-00:00' },
    { alias: 'extra_dhcp_opt', name: 'Neutron Extra DHCP options', description: 'Extra options configuration for DHCP. For example PXE boot options to DHCP clients can be specified (e.g. tftp-server, server-ip-address, bootfile-name)', updated: '2013-03-17T12:00:00-00:00' },
  ],
  routes: (ctx) => ({
    '/v2.0/ports': { GET: (req) => list(ctx, req), POST: (req, reply) => create(ctx, req, reply) },
    '/v2.0/ports/{id}': {
      GET: async (req) => { const c = caller(ctx, req); const p = await getPort(ctx, c, (req.params as { id: string }).id); return { port: project(shown(ctx, c, p), fieldsOf(req)) }; },
      PUT: (req) => update(ctx, req), DELETE: (req, reply) => remove(ctx, req, reply),
    },
  }),
};

