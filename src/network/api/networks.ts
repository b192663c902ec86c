// /v2.0/networks (Neutron's ML2 core plugin, one segment per network): provider attributes with
// ML2's type-driver validation (flat, vlan, vxlan, local), automatic VXLAN VNI allocation for
// project networks, MTU per type, shared and router:external through RBAC rows, project isolation,
// and delete refusing networks with ports in use (DHCP ports go with the network).

import type { FastifyRequest } from 'fastify';
import type { NetworkContext, Caller } from '../context.js';
import { caller, enforce, stripByPolicy, target } from '../context.js';
import { isUniqueViolation } from '../../common/db/index.js';
import { writeTx, type Tx, type Db } from '../store/tx.js';
import { prepared } from '../../common/db/prepared.js';
import { b, bump, deleteTags, newId, parse, rbacGranted, tagsOf, json } from '../store/common.js';
import { checkRevision, checkString, conflict, invalidInput, nerr, notFound, pyRepr, resourceBody, stamp, toBoolean } from './http.js';
import { checkAttrs, ownerOf } from './attrs.js';
import { checkQuota } from './quota.js';
import { fieldsOf, listResponse, project, type Obj } from './list.js';
import type { ApiModule } from './router.js';
import { checkNoGatewayPorts, deleteDisassociatedFloatingIps } from './l3-network.js';

type Row = Record<string, unknown>;

const KNOWN = ['id', 'name', 'description', 'tenant_id', 'project_id', 'admin_state_up', 'shared', 'mtu', 'port_security_enabled',
  'router:external', 'provider:network_type', 'provider:physical_network', 'provider:segmentation_id', 'availability_zone_hints',
  'status', 'subnets', 'availability_zones', 'created_at', 'updated_at', 'revision_number', 'tags', 'ipv4_address_scope',
  'ipv6_address_scope', 'l2_adjacency', 'is_default', 'dns_domain', 'qos_policy_id', 'segments', 'vlan_transparent'];
const POST = ['name', 'description', 'tenant_id', 'project_id', 'admin_state_up', 'shared', 'mtu', 'port_security_enabled',
  'router:external', 'provider:network_type', 'provider:physical_network', 'provider:segmentation_id', 'availability_zone_hints', 'dns_domain', 'is_default'];
const PUT = ['name', 'description', 'admin_state_up', 'shared', 'mtu', 'port_security_enabled', 'router:external',
  'provider:network_type', 'provider:physical_network', 'provider:segmentation_id', 'dns_domain', 'is_default'];
const PROVIDER = ['provider:network_type', 'provider:physical_network', 'provider:segmentation_id'];

/** What the caller's project may see through RBAC: shared and external networks. */
export interface NetAccess { shared: Set<string>; external: Set<string> }

export async function netAccess(db: Db | Tx, c: Caller): Promise<NetAccess> {
  return { shared: await rbacGranted(db, 'network', 'access_as_shared', c.projectId), external: await rbacGranted(db, 'network', 'access_as_external', c.projectId) };
}

export function canSeeNetwork(c: Caller, row: Row, acc: NetAccess): boolean {
  return c.isAdmin || c.isAdvsvc || row.project_id === c.projectId || acc.shared.has(row.id as string) || acc.external.has(row.id as string);
}

const NETWORK_COLUMNS = ['n.id', 'n.name', 'n.project_id', 'n.description', 'n.revision_number', 'n.created_at', 'n.updated_at', 'n.admin_state_up',
  'n.status', 'n.mtu', 'n.port_security_enabled', 'n.external', 'n.is_default', 'n.availability_zone_hints', 'n.dns_domain',
  's.network_type', 's.physical_network', 's.segmentation_id'] as const;

export async function loadNetworkRows(db: Db | Tx, ids?: string[]): Promise<Row[]> {
  let q = db.selectFrom('neutron_networks as n').leftJoin('neutron_segments as s', 's.network_id', 'n.id').select(NETWORK_COLUMNS);
  if (ids) { if (!ids.length) return []; q = q.where('n.id', 'in', ids); }
  return (await q.execute()) as Row[];
}

// The port create's hot path (prepared.ts).
const networkRow = prepared((db, id: string) => db.selectFrom('neutron_networks as n').leftJoin('neutron_segments as s', 's.network_id', 'n.id')
  .select(NETWORK_COLUMNS).where('n.id', '=', id));
const networkGrants = prepared<[string, string], { action: string }>((db, id, project) => db.selectFrom('neutron_rbac_policies').select('action')
  .where('object_type', '=', 'network').where('object_id', '=', id).where('target_project', 'in', ['*', project]));

/** The API dicts of network rows as the caller sees them (shared is per caller, as Neutron's). */
export async function networkDicts(db: Db | Tx, c: Caller, rows: Row[], acc: NetAccess): Promise<Obj[]> {
  const ids = rows.map((r) => r.id as string);
  const subnets = new Map<string, string[]>();
  if (ids.length) {
    const q = ids.length > 500 ? db.selectFrom('neutron_subnets').select(['id', 'network_id'])
      : db.selectFrom('neutron_subnets').select(['id', 'network_id']).where('network_id', 'in', ids);
    for (const s of (await q.orderBy('created_at').orderBy('id').execute()) as { id: string; network_id: string }[]) {
      (subnets.get(s.network_id) ?? subnets.set(s.network_id, []).get(s.network_id)!).push(s.id);
    }
  }
  const tags = await tagsOf(db, 'networks', ids);
  return rows.map((r) => {
    const id = r.id as string;
    const st = r.segmentation_id === null || r.segmentation_id === undefined || r.network_type === 'flat' ? null : Number(r.segmentation_id);
    return {
      id, name: r.name, tenant_id: r.project_id, project_id: r.project_id, admin_state_up: Boolean(Number(r.admin_state_up)),
      mtu: Number(r.mtu), status: r.status, subnets: subnets.get(id) ?? [], shared: acc.shared.has(id),
      availability_zone_hints: parse<string[]>(r.availability_zone_hints, []), availability_zones: [],
      ipv4_address_scope: null, ipv6_address_scope: null, 'router:external': Boolean(Number(r.external)),
      description: r.description, port_security_enabled: Boolean(Number(r.port_security_enabled)), is_default: Boolean(Number(r.is_default)),
      l2_adjacency: true, tags: tags.get(id) ?? [], created_at: r.created_at, updated_at: r.updated_at, revision_number: Number(r.revision_number),
      'provider:network_type': r.network_type ?? null, 'provider:physical_network': r.physical_network ? r.physical_network : null,
      'provider:segmentation_id': st,
    };
  });
}

function netTarget(d: Obj): Obj { return target(d); }

function shown(ctx: NetworkContext, c: Caller, d: Obj): Obj { return stripByPolicy(ctx, c, 'network', d, netTarget(d)); }

/** A network the caller may see, or 404 NetworkNotFound. */
/**
 * What a port create needs of its network: the row and whether it is shared with the caller, in
 * two statements (the network, its RBAC grants to the caller) instead of the whole API dict.
 */
export async function networkForPort(db: Db | Tx, c: Caller, id: string): Promise<{ row: Row; shared: boolean }> {
  const [row] = (await networkRow(db, id)).rows;
  const grants = row ? (await networkGrants(db, id, c.projectId)).rows.map((g) => g.action) : [];
  const shared = grants.includes('access_as_shared');
  if (!row || !(c.isAdmin || c.isAdvsvc || row.project_id === c.projectId || shared || grants.includes('access_as_external'))) {
    throw notFound('NetworkNotFound', `Network ${id} could not be found.`);
  }
  return { row, shared };
}

export async function visibleNetwork(ctx: NetworkContext, db: Db | Tx, c: Caller, id: string): Promise<{ row: Row; dict: Obj; acc: NetAccess }> {
  const [row] = await loadNetworkRows(db, [id]);
  const acc = await netAccess(db, c);
  if (!row || !canSeeNetwork(c, row, acc)) throw notFound('NetworkNotFound', `Network ${id} could not be found.`);
  const [dict] = await networkDicts(db, c, [row], acc);
  return { row, dict: dict!, acc };
}

// ---- segments (ML2 type drivers) -------------------------------------------------------------

interface Segment { network_type: string; physical_network: string; segmentation_id: number | null }

function parseRanges(list: string[]): [number, number][] {
  return list.map((r) => r.split(':').map(Number)).filter((p) => p.length === 2 && p.every(Number.isInteger)) as [number, number][];
}

function vlanPhysnets(ctx: NetworkContext): Map<string, [number, number][]> {
  const m = new Map<string, [number, number][]>();
  for (const e of ctx.cfg.network.network_vlan_ranges) {
    const [p, lo, hi] = e.split(':');
    if (!p) continue;
    const list = m.get(p) ?? m.set(p, []).get(p)!;
    if (lo !== undefined && hi !== undefined) list.push([Number(lo), Number(hi)]);
  }
  return m;
}

function isSet(v: unknown): boolean { return v !== undefined && v !== null && v !== ''; }

/** ML2's validate_provider_segment for one type, with its messages. */
function validateSegment(ctx: NetworkContext, body: Obj): Segment | undefined {
  const type = body['provider:network_type']; const phys = body['provider:physical_network']; const seg = body['provider:segmentation_id'];
  if (!isSet(type) && !isSet(phys) && !isSet(seg)) return undefined;
  if (!isSet(type)) throw invalidInput('network_type required');
  if (typeof type !== 'string') throw invalidInput(`network_type value '${pyRepr(type)}' not supported`);
  let segId: number | null = null;
  if (isSet(seg)) {
    const n = typeof seg === 'string' && /^-?\d+$/.test(seg) ? Number(seg) : seg;
    if (typeof n !== 'number' || !Number.isInteger(n)) throw invalidInput(`'${pyRepr(seg)}' is not an integer`);
    segId = n;
  }
  if (isSet(phys) && typeof phys !== 'string') throw invalidInput(`'${pyRepr(phys)}' is not a valid string`);
  const physnet = (phys as string | undefined) ?? '';
  switch (type) {
    case 'flat': {
      if (!physnet) throw invalidInput('physical_network required for flat provider network');
      const flat = ctx.cfg.network.flat_networks;
      if (!flat.includes('*') && !flat.includes(physnet)) throw invalidInput(`physical_network '${physnet}' unknown for flat provider network`);
      if (segId !== null) throw invalidInput('segmentation_id specified for flat provider network');
      return { network_type: 'flat', physical_network: physnet, segmentation_id: 0 };
    }
    case 'vlan': {
      const nets = vlanPhysnets(ctx);
      if (physnet && !nets.has(physnet)) throw invalidInput(`physical_network '${physnet}' unknown for VLAN provider network`);
      if (segId !== null) {
        if (!physnet) throw invalidInput('segmentation_id requires physical_network for VLAN provider network');
        if (segId < 1 || segId > 4094) throw invalidInput('segmentation_id out of range (1 through 4094)');
      }
      return { network_type: 'vlan', physical_network: physnet, segmentation_id: segId };
    }
    case 'vxlan': {
      if (physnet) throw invalidInput('provider:physical_network specified for VXLAN network');
      if (segId !== null && (segId < 1 || segId > 16777215)) throw invalidInput(`${segId} is not a valid VXLAN VNI, valid range is 1..16777215`.replace(/^/, ''));
      return { network_type: 'vxlan', physical_network: '', segmentation_id: segId };
    }
    case 'local': {
      if (physnet) throw invalidInput('provider:physical_network specified for local network');
      if (segId !== null) throw invalidInput('provider:segmentation_id specified for local network');
      return { network_type: 'local', physical_network: '', segmentation_id: null };
    }
    default:
      throw invalidInput(`network_type value '${type}' not supported`);
  }
}

/** Inserts the network's segment, allocating a free VLAN / VNI when none was asked for. */
async function allocateSegment(ctx: NetworkContext, trx: Tx, networkId: string, seg: Segment | undefined): Promise<Segment> {
  if (!seg) {
    const types = ctx.cfg.network.tenant_network_types;
    for (const t of types) {
      if (t === 'local') { seg = { network_type: 'local', physical_network: '', segmentation_id: null }; break; }
      if (t === 'vxlan' && parseRanges(ctx.cfg.network.vni_ranges).length) { seg = { network_type: 'vxlan', physical_network: '', segmentation_id: null }; break; }
      if (t === 'vlan') {
        const nets = [...vlanPhysnets(ctx)].find(([, r]) => r.length);
        if (nets) { seg = { network_type: 'vlan', physical_network: nets[0], segmentation_id: null }; break; }
      }
    }
    if (!seg) throw nerr('ServiceUnavailable', 'NoNetworkAvailable', 'Unable to create the network. No tenant network is available for allocation.');
  }
  if (seg.network_type === 'local') {
    await trx.insertInto('neutron_segments').values({ network_id: networkId, ...seg }).execute();
    return seg;
  }
  if (seg.segmentation_id !== null || seg.network_type === 'flat') {
    const taken = await trx.selectFrom('neutron_segments').select('network_id').where('network_type', '=', seg.network_type)
      .where('physical_network', '=', seg.physical_network).where('segmentation_id', '=', seg.segmentation_id ?? 0).executeTakeFirst();
    if (taken) throw segmentInUse(seg);
    await trx.insertInto('neutron_segments').values({ network_id: networkId, ...seg }).execute();
    return seg;
  }
  // Lowest free id in the configured ranges; a concurrent winner makes the unique index fail and
  // the whole transaction is retried (see create), so two networks never share a VNI or VLAN.
  const ranges = seg.network_type === 'vxlan' ? parseRanges(ctx.cfg.network.vni_ranges) : (vlanPhysnets(ctx).get(seg.physical_network) ?? []);
  const used = new Set(((await trx.selectFrom('neutron_segments').select('segmentation_id').where('network_type', '=', seg.network_type)
    .where('physical_network', '=', seg.physical_network).execute()) as { segmentation_id: number }[]).map((r) => Number(r.segmentation_id)));
  for (const [lo, hi] of ranges) {
    for (let i = lo; i <= hi; i++) {
      if (used.has(i)) continue;
      const s = { ...seg, segmentation_id: i };
      await trx.insertInto('neutron_segments').values({ network_id: networkId, ...s }).execute();
      return s;
    }
  }
  throw nerr('ServiceUnavailable', 'NoNetworkAvailable', 'Unable to create the network. No tenant network is available for allocation.');
}

function segmentInUse(seg: Segment) {
  if (seg.network_type === 'flat') return conflict('FlatNetworkInUse', `Unable to create the flat network. Physical network ${seg.physical_network} is in use.`);
  if (seg.network_type === 'vlan') return conflict('VlanIdInUse', `Unable to create the network. The VLAN ${seg.segmentation_id} on physical network ${seg.physical_network} is in use.`);
  return conflict('TunnelIdInUse', `Unable to create the network. The tunnel ID ${seg.segmentation_id} is in use.`);
}

function maxMtu(ctx: NetworkContext, type: string): number {
  const g = ctx.cfg.network.global_physnet_mtu;
  return type === 'vxlan' ? g - 50 : g;
}

function checkMtu(v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw invalidInput(`'${pyRepr(v)}' is not an integer`);
  if (v < 68) throw invalidInput(`'${v}' is too small - must be at least '68'`);
  return v;
}

function checkAzHints(v: unknown): string[] {
  if (!Array.isArray(v)) throw invalidInput(`'${pyRepr(v)}' is not a list`);
  for (const h of v) {
    if (typeof h !== 'string') throw invalidInput(`'${pyRepr(h)}' is not a valid string`);
    if (h.length > 255) throw invalidInput(`'${h}' exceeds maximum length of 255`);
  }
  return v as string[];
}

// ---- handlers ---------------------------------------------------------------------------------

const LIST = {
  collection: 'networks',
  filters: ['id', 'name', 'tenant_id', 'project_id', 'admin_state_up', 'status', 'shared', 'mtu', 'router:external', 'description',
    'port_security_enabled', 'provider:network_type', 'provider:physical_network', 'provider:segmentation_id', 'revision_number',
    'availability_zone_hints', 'created_at', 'updated_at', 'is_default', 'subnets'],
  sorts: ['id', 'name', 'tenant_id', 'project_id', 'admin_state_up', 'status', 'mtu', 'description', 'created_at', 'updated_at', 'revision_number',
    'shared', 'router:external', 'availability_zone_hints', 'port_security_enabled'],
  booleans: ['admin_state_up', 'shared', 'router:external', 'port_security_enabled', 'is_default'],
};

async function list(ctx: NetworkContext, req: FastifyRequest): Promise<Obj> {
  const c = caller(ctx, req);
  const acc = await netAccess(ctx.db, c);
  let rows = await loadNetworkRows(ctx.db);
  rows = rows.filter((r) => canSeeNetwork(c, r, acc));
  const dicts = (await networkDicts(ctx.db, c, rows, acc)).filter((d) => ctx.policy.check('get_network', netTarget(d), c.creds) || c.isAdvsvc)
    .map((d) => shown(ctx, c, d));
  return listResponse(req, { ...LIST, maxLimit: ctx.cfg.network.pagination_max_limit }, dicts);
}

async function show(ctx: NetworkContext, req: FastifyRequest): Promise<Obj> {
  const c = caller(ctx, req);
  const { dict } = await visibleNetwork(ctx, ctx.db, c, (req.params as { id: string }).id);
  if (!ctx.policy.check('get_network', netTarget(dict), c.creds)) throw notFound('NetworkNotFound', `Network ${dict.id} could not be found.`);
  return { network: project(shown(ctx, c, dict), fieldsOf(req)) };
}

async function create(ctx: NetworkContext, req: FastifyRequest, reply: { code(n: number): unknown }): Promise<Obj> {
  const c = caller(ctx, req);
  const raw = resourceBody(req, 'network');
  const body = { ...raw };
  checkAttrs(body, KNOWN, POST, 'POST');
  const owner = ownerOf(body, c);
  const name = body.name === undefined ? '' : checkString('name', body.name, 255);
  const description = body.description === undefined ? '' : checkString('description', body.description, 255);
  const adminUp = body.admin_state_up === undefined ? true : toBoolean(body.admin_state_up);
  const shared = body.shared === undefined ? false : toBoolean(body.shared);
  const external = body['router:external'] === undefined ? false : toBoolean(body['router:external']);
  const portSec = body.port_security_enabled === undefined ? true : toBoolean(body.port_security_enabled);
  const azHints = body.availability_zone_hints === undefined ? ctx.cfg.network.default_availability_zones : checkAzHints(body.availability_zone_hints);
  const seg = validateSegment(ctx, body);
  const tgt = target({ ...body, project_id: owner, shared, 'router:external': external });
  const attrs = Object.keys(raw).filter((k) => k !== 'tenant_id' && k !== 'project_id' && !(k === 'shared' && !shared) && !(k === 'router:external' && !external));
  enforce(ctx, c, 'create_network', tgt, attrs);
  for (const az of azHints) {
    const known = await ctx.db.selectFrom('neutron_agents').select('id').where('availability_zone', '=', az).executeTakeFirst();
    if (!known && az !== 'nova') throw notFound('AvailabilityZoneNotFound', `AvailabilityZone ${az} could not be found.`);
  }
  const id = newId();
  const now = stamp();
  for (let attempt = 0; ; attempt++) {
    try {
      await writeTx(ctx, async (trx) => {
        await checkQuota(ctx, trx, owner, 'network');
        await trx.insertInto('neutron_networks').values({
          id, name, project_id: owner, description, revision_number: 0, created_at: now, updated_at: now,
          admin_state_up: b(adminUp), status: 'ACTIVE', mtu: 0, port_security_enabled: b(portSec), external: b(external),
          is_default: 0, availability_zone_hints: json(azHints), dns_domain: '',
        }).execute();
        await allocateSegment(ctx, trx, id, seg);
        const s = await trx.selectFrom('neutron_segments').select('network_type').where('network_id', '=', id).executeTakeFirstOrThrow() as { network_type: string };
        const max = maxMtu(ctx, s.network_type);
        let mtu = max;
        if (body.mtu !== undefined) {
          mtu = checkMtu(body.mtu);
          if (mtu > max) throw invalidInput(`Requested MTU is too big, maximum is ${max}`);
        }
        await trx.updateTable('neutron_networks').set({ mtu }).where('id', '=', id).execute();
        if (shared) await trx.insertInto('neutron_rbac_policies').values({ id: newId(), project_id: owner, object_type: 'network', object_id: id, target_project: '*', action: 'access_as_shared' }).execute();
        if (external) await trx.insertInto('neutron_rbac_policies').values({ id: newId(), project_id: owner, object_type: 'network', object_id: id, target_project: '*', action: 'access_as_external' }).execute();
      });
      break;
    } catch (e) {
      // The segment index: a concurrent create took the same VNI/VLAN; a fresh pick is retried, a named one is taken.
      if (isUniqueViolation(e)) {
        if (seg && (seg.segmentation_id !== null || seg.network_type === 'flat')) throw segmentInUse(seg);
        if (attempt < 20) continue;
      }
      throw e;
    }
  }
  const { dict } = await visibleNetwork(ctx, ctx.db, c, id);
  reply.code(201);
  return { network: shown(ctx, c, dict) };
}

async function update(ctx: NetworkContext, req: FastifyRequest): Promise<Obj> {
  const c = caller(ctx, req);
  const id = (req.params as { id: string }).id;
  const raw = resourceBody(req, 'network');
  checkAttrs(raw, KNOWN, PUT, 'PUT');
  const { row, dict } = await visibleNetwork(ctx, ctx.db, c, id);
  if (!ctx.policy.check('get_network', netTarget(dict), c.creds)) throw notFound('NetworkNotFound', `Network ${id} could not be found.`);
  enforce(ctx, c, 'update_network', target({ ...dict, ...raw }), Object.keys(raw));
  checkRevision(req, Number(row.revision_number));
  const set: Row = {};
  if (raw.name !== undefined) set.name = checkString('name', raw.name, 255);
  if (raw.description !== undefined) set.description = checkString('description', raw.description, 255);
  if (raw.admin_state_up !== undefined) set.admin_state_up = b(toBoolean(raw.admin_state_up));
  if (raw.port_security_enabled !== undefined) set.port_security_enabled = b(toBoolean(raw.port_security_enabled));
  if (raw.mtu !== undefined) {
    const mtu = checkMtu(raw.mtu);
    const max = maxMtu(ctx, String(row.network_type ?? 'local'));
    if (mtu > max) throw invalidInput(`Requested MTU is too big, maximum is ${max}`);
    set.mtu = mtu;
  }
  for (const p of PROVIDER) {
    if (raw[p] !== undefined && raw[p] !== dict[p]) throw invalidInput('Plugin does not support updating the following provider network attributes: ' + p);
  }
  const shared = raw.shared === undefined ? undefined : toBoolean(raw.shared);
  const external = raw['router:external'] === undefined ? undefined : toBoolean(raw['router:external']);
  const now = stamp();
  await writeTx(ctx, async (trx) => {
    if (Object.keys(set).length) await trx.updateTable('neutron_networks').set(set).where('id', '=', id).execute();
    if (shared === true && !dict.shared) {
      await trx.insertInto('neutron_rbac_policies').values({ id: newId(), project_id: row.project_id, object_type: 'network', object_id: id, target_project: '*', action: 'access_as_shared' }).execute()
        .catch((e) => { if (!isUniqueViolation(e)) throw e; });
    }
    if (shared === false) {
      // Neutron refuses to unshare a network other projects have ports on, unless an RBAC entry
      // of their own still grants it (InvalidSharedSetting).
      const granted = new Set(((await trx.selectFrom('neutron_rbac_policies').select('target_project').where('object_type', '=', 'network').where('object_id', '=', id)
        .where('action', '=', 'access_as_shared').where('target_project', '!=', '*').execute()) as { target_project: string }[]).map((g) => g.target_project));
      const users = (await trx.selectFrom('neutron_ports').select('project_id').distinct().where('network_id', '=', id).execute()) as { project_id: string }[];
      if (users.some((u) => u.project_id !== row.project_id && !granted.has(u.project_id))) {
        throw conflict('InvalidSharedSetting', `Unable to reconfigure sharing settings for network ${id}. Multiple tenants are using it.`);
      }
      await trx.deleteFrom('neutron_rbac_policies').where('object_type', '=', 'network').where('object_id', '=', id).where('action', '=', 'access_as_shared').where('target_project', '=', '*').execute();
    }
    if (external !== undefined && external !== Boolean(Number(row.external))) {
      await trx.updateTable('neutron_networks').set({ external: b(external) }).where('id', '=', id).execute();
      if (external) {
        await trx.insertInto('neutron_rbac_policies').values({ id: newId(), project_id: row.project_id, object_type: 'network', object_id: id, target_project: '*', action: 'access_as_external' }).execute()
          .catch((e) => { if (!isUniqueViolation(e)) throw e; });
      } else {
        await checkNoGatewayPorts(trx, id);
        await trx.deleteFrom('neutron_rbac_policies').where('object_type', '=', 'network').where('object_id', '=', id).where('action', '=', 'access_as_external').execute();
      }
    }
    await bump(trx, 'neutron_networks', id, now);
  });
  const after = await visibleNetwork(ctx, ctx.db, c, id);
  return { network: shown(ctx, c, after.dict) };
}

async function remove(ctx: NetworkContext, req: FastifyRequest, reply: { code(n: number): unknown }): Promise<void> {
  const c = caller(ctx, req);
  const id = (req.params as { id: string }).id;
  const { row, dict } = await visibleNetwork(ctx, ctx.db, c, id);
  if (!ctx.policy.check('get_network', netTarget(dict), c.creds)) throw notFound('NetworkNotFound', `Network ${id} could not be found.`);
  enforce(ctx, c, 'delete_network', netTarget(dict));
  checkRevision(req, Number(row.revision_number));
  await writeTx(ctx, async (trx) => {
    await deleteDisassociatedFloatingIps(trx, id);
    const inUse = await trx.selectFrom('neutron_ports').select('id').where('network_id', '=', id).where('device_owner', '!=', 'network:dhcp').executeTakeFirst();
    if (inUse) throw conflict('NetworkInUse', `Unable to complete operation on network ${id}. There are one or more ports still in use on the network.`);
    await trx.deleteFrom('neutron_ports').where('network_id', '=', id).execute();
    const subnets = (await trx.selectFrom('neutron_subnets').select('id').where('network_id', '=', id).execute()) as { id: string }[];
    for (const s of subnets) await deleteTags(trx, 'subnets', s.id);
    await trx.deleteFrom('neutron_ipallocations').where('network_id', '=', id).execute();
    await trx.deleteFrom('neutron_subnets').where('network_id', '=', id).execute();
    await trx.deleteFrom('neutron_rbac_policies').where('object_type', '=', 'network').where('object_id', '=', id).execute();
    await deleteTags(trx, 'networks', id);
    await trx.deleteFrom('neutron_segments').where('network_id', '=', id).execute();
    await trx.deleteFrom('neutron_networks').where('id', '=', id).execute();
  });
  reply.code(204);
}

export const networksModule: ApiModule = {
  name: 'networks',
  extensions: [
    { alias: 'external-net', name: 'Neutron external network', description: 'Adds external network attribute to network resource.', updated: '2013-01-14T10:00:00-00:00' },
    { alias: 'provider', name: 'Provider Network', description: 'Expose mapping of virtual networks to physical networks', updated: '2012-09-07T10:00:00-00:00' },
    { alias: 'net-mtu', name: 'Network MTU', description: 'Provides MTU attribute for a network resource.', updated: '2015-03-25T10:00:00-00:00' },
    { alias: 'net-mtu-writable', name: 'Network MTU (writable)', description: 'Provides a writable MTU attribute for a network resource.', updated: '2017-07-12T00:00:00-00:00' },
    { alias: 'port-security', name: 'Port Security', description: 'Provides port security', updated: '2012-07-23T10:00:00-00:00' },
    { alias: 'network_availability_zone', name: 'Network Availability Zone', description: 'Availability zone support for network.', updated: '2015-01-01T10:00:00-00:00' },
    { alias: 'l2_adjacency', name: 'L2 Adjacency', description: 'Display L2 Adjacency for Neutron Networks.', updated: '2016-04-12T16:00:00-00:00' },
  ],
  routes: (ctx) => ({
    '/v2.0/networks': { GET: (req) => list(ctx, req), POST: (req, reply) => create(ctx, req, reply) },
    '/v2.0/networks/{id}': { GET: (req) => show(ctx, req), PUT: (req) => update(ctx, req), DELETE: (req, reply) => remove(ctx, req, reply) },
  }),
};

