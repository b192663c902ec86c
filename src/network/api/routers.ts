// /v2.0/routers (neutron/db/l3_db.py, l3_gwmode_db.py, extraroute_db.py): routers with an external
// gateway (a port owned network:router_gateway on a router:external network, enable_snat), extra
// routes whose nexthops must be on a connected subnet, and interfaces added by subnet (a new port
// with the subnet's gateway_ip) or by port (an existing port of the caller's, taken over). A
// router's ports are ordinary rows of neutron_ports with device_id = the router, allocated by the
// same IPAM in the same transaction as the checks, so network/subnet deletes see them as in use.

import type { FastifyRequest } from 'fastify';
import { randomBytes } from 'node:crypto';
import type { NetworkContext, Caller } from '../context.js';
import { caller, enforce, stripByPolicy, target } from '../context.js';
import { isUniqueViolation } from '../../common/db/index.js';
import { writeTx, type Db, type Tx } from '../store/tx.js';
import { b, bump, deleteTags, json, newId, parse, tagsOf } from '../store/common.js';
import { badResource, checkRevision, checkString, conflict, invalidInput, isUuidLike, nerr, notFound, pyRepr, resourceBody, stamp, toBoolean, badRequest } from './http.js';
import { checkAttrs, ownerOf } from './attrs.js';
import { checkQuota } from './quota.js';
import { fieldsOf, listResponse, project, type Obj } from './list.js';
import { allocate, parseFixedIps, type FixedIp, type IpRequest } from '../ipam.js';
import { cidrText, contains, formatIp, overlaps, parseCidr, parseIp } from '../ipaddr.js';
import { loadNetworkRows, netAccess, canSeeNetwork } from './networks.js';
import type { ApiModule } from './router.js';

type Row = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export const OWNER_INTF = 'network:router_interface';
export const OWNER_GW = 'network:router_gateway';
export const OWNER_FIP = 'network:floatingip';

const KNOWN = ['id', 'name', 'description', 'tenant_id', 'project_id', 'admin_state_up', 'status', 'external_gateway_info', 'routes', 'distributed', 'ha',
  'availability_zone_hints', 'availability_zones', 'flavor_id', 'tags', 'created_at', 'updated_at', 'revision_number', 'service_type_id'];
const POST = ['name', 'description', 'tenant_id', 'project_id', 'admin_state_up', 'external_gateway_info', 'distributed', 'ha', 'availability_zone_hints', 'flavor_id'];
const PUT = ['name', 'description', 'admin_state_up', 'external_gateway_info', 'routes', 'distributed', 'ha'];
/** Neutron's max_routes default. */
const MAX_ROUTES = 30;
/** Neutron's enable_snat_by_default. */
const SNAT_BY_DEFAULT = true;

export const routerNotFound = (id: string) => notFound('RouterNotFound', `Router ${id} could not be found`);

// ---- ports owned by routers and floating IPs ---------------------------------------------------

function randomMac(base: string): string {
  const parts = base.split(':');
  const rnd = randomBytes(6);
  const mac = [0, 1, 2].map((i) => parseInt(parts[i]!, 16));
  mac.push(parts[3] && parts[3] !== '00' ? parseInt(parts[3], 16) : rnd[3]!, rnd[4]!, rnd[5]!);
  return mac.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/**
 * Inserts a port the L3 service owns (as Neutron's plugin_utils.create_port: no quota, no security
 * groups) inside the caller's transaction; a unique-key hit (address or MAC taken meanwhile) makes
 * the caller's retry loop (l3Tx) run the whole transaction again.
 */
export async function insertL3Port(ctx: NetworkContext, trx: Tx, p: { project_id: string; network_id: string; device_owner: string; device_id: string; status: string; requests: IpRequest[] | undefined }): Promise<{ id: string; fixed: FixedIp[]; mac: string }> {
  const id = newId();
  const now = stamp();
  const mac = randomMac(ctx.cfg.network.base_mac);
  await trx.insertInto('neutron_ports').values({
    id, name: '', project_id: p.project_id, description: '', revision_number: 0, created_at: now, updated_at: now, network_id: p.network_id,
    mac_address: mac, admin_state_up: 1, status: p.status, device_id: p.device_id, device_owner: p.device_owner,
    binding_host_id: '', binding_vif_type: 'unbound', binding_vif_details: json({}), binding_vnic_type: 'normal',
    binding_profile: json({}), port_security_enabled: 0, allowed_address_pairs: json([]), extra_dhcp_opts: json([]), dns_name: '',
  }).execute();
  const fixed = await allocate(trx, p.network_id, id, mac, p.requests, p.device_owner !== OWNER_FIP);
  return { id, fixed, mac };
}

export async function deleteL3Port(trx: Tx, id: string): Promise<void> {
  await trx.deleteFrom('neutron_ipallocations').where('port_id', '=', id).execute();
  await trx.deleteFrom('neutron_port_security_groups').where('port_id', '=', id).execute();
  await deleteTags(trx, 'ports', id);
  await trx.deleteFrom('neutron_ports').where('id', '=', id).execute();
}

/** A write transaction retried when a concurrent one took the same address or MAC. */
export async function l3Tx<T>(ctx: NetworkContext, fn: (trx: Tx) => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await writeTx(ctx, fn);
    } catch (e) {
      if (isUniqueViolation(e) && attempt < 30) { await new Promise((r) => setTimeout(r, Math.random() * 5 * Math.min(attempt + 1, 10))); continue; }
      throw e;
    }
  }
}

async function fixedIpsOf(db: Db | Tx, portIds: string[]): Promise<Map<string, FixedIp[]>> {
  const m = new Map<string, FixedIp[]>();
  if (!portIds.length) return m;
  const rows = (await db.selectFrom('neutron_ipallocations').select(['port_id', 'subnet_id', 'ip_address']).where('port_id', 'in', portIds).execute()) as Row[];
  for (const r of rows) (m.get(r.port_id) ?? m.set(r.port_id, []).get(r.port_id)!).push({ subnet_id: r.subnet_id, ip_address: r.ip_address });
  for (const v of m.values()) v.sort((a, z) => (a.ip_address.includes(':') ? 1 : 0) - (z.ip_address.includes(':') ? 1 : 0));
  return m;
}

// ---- dicts ----------------------------------------------------------------------------------------

async function routerDicts(db: Db | Tx, rows: Row[]): Promise<Obj[]> {
  const gwIds = rows.map((r) => r.gw_port_id as string | null).filter((x): x is string => !!x);
  const gwPorts = gwIds.length ? (await db.selectFrom('neutron_ports').select(['id', 'network_id']).where('id', 'in', gwIds).execute()) as Row[] : [];
  const ips = await fixedIpsOf(db, gwIds);
  const tags = await tagsOf(db, 'routers', rows.map((r) => r.id));
  return rows.map((r) => {
    const gw = gwPorts.find((p) => p.id === r.gw_port_id);
    return {
      id: r.id, name: r.name, tenant_id: r.project_id, project_id: r.project_id, admin_state_up: Boolean(Number(r.admin_state_up)), status: r.status,
      external_gateway_info: gw ? { network_id: gw.network_id, enable_snat: Boolean(Number(r.enable_snat)), external_fixed_ips: ips.get(gw.id) ?? [] } : null,
      description: r.description, availability_zone_hints: parse<string[]>(r.availability_zone_hints, []), availability_zones: [],
      distributed: false, ha: false, flavor_id: null, routes: parse<unknown[]>(r.routes, []),
      tags: tags.get(r.id) ?? [], created_at: r.created_at, updated_at: r.updated_at, revision_number: Number(r.revision_number),
    };
  });
}

const shown = (ctx: NetworkContext, c: Caller, d: Obj): Obj => stripByPolicy(ctx, c, 'router', d, target(d));

/** The router row if the caller may see it (admins: all; others: their project's), else 404. */
export async function getRouterRow(ctx: NetworkContext, db: Db | Tx, c: Caller, id: string): Promise<Row> {
  const r = (await db.selectFrom('neutron_routers').selectAll().where('id', '=', id).executeTakeFirst()) as Row | undefined;
  if (!r || !ctx.policy.check('get_router', target({ ...r }), c.creds)) throw routerNotFound(id);
  return r;
}

async function showRouter(ctx: NetworkContext, c: Caller, id: string): Promise<Obj> {
  const r = await getRouterRow(ctx, ctx.db, c, id);
  return shown(ctx, c, (await routerDicts(ctx.db, [r]))[0]!);
}

// ---- validation ----------------------------------------------------------------------------------

function checkAzHints(v: unknown): string[] {
  if (!Array.isArray(v)) throw invalidInput(`'${pyRepr(v)}' is not a list`);
  for (const h of v) {
    if (typeof h !== 'string') throw invalidInput(`'${pyRepr(h)}' is not a valid string`);
    if (h.length > 255) throw invalidInput(`'${h}' exceeds maximum length of 255`);
  }
  return v as string[];
}

interface GwInfo { network_id: string; enable_snat?: boolean; external_fixed_ips?: IpRequest[] }

/** external_gateway_info as neutron-lib validates it (type:dict_or_nodata with network_id required). */
function parseGwInfo(v: unknown): GwInfo | null {
  if (v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v)) throw invalidInput(`'${pyRepr(v)}' is not a dictionary`);
  const o = v as Record<string, unknown>;
  if (!Object.keys(o).length) return null;
  const extra = Object.keys(o).filter((k) => !['network_id', 'enable_snat', 'external_fixed_ips', 'qos_policy_id'].includes(k));
  if (extra.length) throw invalidInput(`Validation of dictionary's keys failed. Expected keys: {'network_id'} Provided keys: {${Object.keys(o).map((k) => `'${k}'`).join(', ')}}`);
  if (o.network_id === undefined) throw invalidInput(`Validation of dictionary's keys failed. Expected keys: {'network_id'} Provided keys: {${Object.keys(o).map((k) => `'${k}'`).join(', ')}}`);
  if (!isUuidLike(o.network_id)) throw invalidInput(`'${pyRepr(o.network_id)}' is not a valid UUID`);
  const out: GwInfo = { network_id: o.network_id };
  if (o.enable_snat !== undefined) out.enable_snat = toBoolean(o.enable_snat);
  if (o.external_fixed_ips !== undefined) out.external_fixed_ips = parseFixedIps(o.external_fixed_ips);
  return out;
}

/** The policy attributes a gateway body sets (create_router:external_gateway_info:enable_snat...). */
function gwPolicyAttrs(v: unknown): string[] {
  if (v === undefined) return [];
  const out = ['external_gateway_info'];
  if (v && typeof v === 'object') for (const k of ['network_id', 'enable_snat', 'external_fixed_ips']) if (k in (v as object)) out.push(`external_gateway_info:${k}`);
  return out;
}

function checkRoutesShape(v: unknown): { destination: string; nexthop: string }[] {
  if (v === null) return [];
  if (!Array.isArray(v)) throw invalidInput(`'${pyRepr(v)}' is not a list`);
  const out: { destination: string; nexthop: string }[] = [];
  for (const r of v) {
    if (typeof r !== 'object' || r === null || Array.isArray(r)) throw invalidInput(`Invalid data format for hostroute: '${pyRepr(r)}'`);
    const { destination, nexthop, ...rest } = r as Record<string, unknown>;
    if (Object.keys(rest).length || destination === undefined || nexthop === undefined) throw invalidInput(`Invalid data format for hostroute: '${pyRepr(r)}'`);
    const d = parseCidr(destination);
    if (!d || typeof destination !== 'string' || !destination.includes('/')) throw invalidInput(`'${pyRepr(destination)}' is not a valid IP subnet`);
    const given = parseIp(destination.split('/')[0]);
    if (given && given.value !== d.net) throw invalidInput(`'${destination}' is not a recognized CIDR, '${cidrText(d)}' is recommended`);
    const n = parseIp(nexthop);
    if (!n) throw invalidInput(`'${pyRepr(nexthop)}' is not a valid IP address`);
    const e = { destination: cidrText(d), nexthop: formatIp(n) };
    if (out.some((x) => x.destination === e.destination && x.nexthop === e.nexthop)) throw invalidInput(`Duplicate hostroute '${pyRepr(r)}'`);
    out.push(e);
  }
  return out;
}

/** The CIDRs and addresses of every port of a router (extraroute_db._validate_routes). */
async function routerConnected(trx: Db | Tx, routerId: string, skipPort?: string): Promise<{ cidrs: string[]; ips: string[] }> {
  const rows = (await trx.selectFrom('neutron_ports as p').innerJoin('neutron_ipallocations as a', 'a.port_id', 'p.id').innerJoin('neutron_subnets as s', 's.id', 'a.subnet_id')
    .select(['p.id as port_id', 'a.ip_address', 's.cidr']).where('p.device_id', '=', routerId).where('p.device_owner', 'in', [OWNER_INTF, OWNER_GW]).execute()) as Row[];
  const r = rows.filter((x) => x.port_id !== skipPort);
  return { cidrs: r.map((x) => x.cidr), ips: r.map((x) => x.ip_address) };
}

function validateRoutes(routerId: string, routes: { destination: string; nexthop: string }[], conn: { cidrs: string[]; ips: string[] }): void {
  if (routes.length > MAX_ROUTES) throw nerr('BadRequest', 'RoutesExhausted', `Unable to complete operation for ${routerId}. The number of routes exceeds the maximum ${MAX_ROUTES}.`);
  for (const r of routes) {
    const ip = parseIp(r.nexthop)!;
    const bad = (reason: string) => nerr('BadRequest', 'InvalidRoutes', `Invalid input for operation: Invalid format for routes: ${pyRepr(routes)}, ${reason}.`);
    if (!conn.cidrs.some((c) => contains(parseCidr(c)!, ip))) throw bad('the nexthop is not connected with router');
    if (conn.ips.includes(r.nexthop)) throw bad('the nexthop is used by router');
  }
}

/** An external network the caller may use for a gateway or floating IP, or 404/400 as Neutron. */
export async function externalNetwork(ctx: NetworkContext, db: Db | Tx, c: Caller, id: string, resource: 'router' | 'floatingip'): Promise<Row> {
  const [n] = await loadNetworkRows(db, [id]);
  if (!n || !canSeeNetwork(c, n, await netAccess(db, c))) throw notFound('NetworkNotFound', `Network ${id} could not be found.`);
  if (!Number(n.external)) {
    throw badResource(resource, resource === 'router' ? `Network ${id} is not an external network` : `Network ${id} is not a valid external network`);
  }
  return n;
}

/** Subnets of every port of the router (the gateway's: all of its network's), for the overlap check. */
async function attachedSubnets(trx: Tx, routerId: string): Promise<{ id: string; cidr: string; subnetIds: string[] }[]> {
  const ports = (await trx.selectFrom('neutron_ports').select(['id', 'network_id', 'device_owner']).where('device_id', '=', routerId).where('device_owner', 'in', [OWNER_INTF, OWNER_GW]).execute()) as Row[];
  const out: { id: string; cidr: string; subnetIds: string[] }[] = [];
  const ips = await fixedIpsOf(trx, ports.map((p) => p.id));
  for (const p of ports) {
    const ids = p.device_owner === OWNER_GW
      ? ((await trx.selectFrom('neutron_subnets').select('id').where('network_id', '=', p.network_id).execute()) as Row[]).map((s) => s.id as string)
      : (ips.get(p.id) ?? []).map((f) => f.subnet_id);
    const own = (ips.get(p.id) ?? []).map((f) => f.subnet_id);
    if (!ids.length) continue;
    const subs = (await trx.selectFrom('neutron_subnets').select(['id', 'cidr']).where('id', 'in', ids).execute()) as Row[];
    for (const s of subs) out.push({ id: s.id, cidr: s.cidr, subnetIds: own });
  }
  return out;
}

/** _check_for_dup_router_subnets: the same subnet twice, or overlapping CIDRs on one router. */
async function checkDupSubnets(trx: Tx, routerId: string, fresh: { id: string; cidr: string }[]): Promise<void> {
  const have = await attachedSubnets(trx, routerId);
  for (const h of have) {
    for (const s of fresh) if (h.subnetIds.includes(s.id)) throw badResource('router', `Router already has a port on subnet ${s.id}`);
  }
  for (const h of have) {
    for (const s of fresh) {
      if (overlaps(parseCidr(h.cidr)!, parseCidr(s.cidr)!)) {
        throw badResource('router', `Cidr ${s.cidr} of subnet ${s.id} overlaps with cidr ${h.cidr} of subnet ${h.id}`);
      }
    }
  }
}

// ---- gateway -------------------------------------------------------------------------------------

async function fipsUsingGateway(trx: Db | Tx, routerId: string, netId: string): Promise<boolean> {
  const rows = (await trx.selectFrom('neutron_floatingips as f').innerJoin('neutron_ports as p', 'p.id', 'f.fixed_port_id')
    .select('f.id').where('f.router_id', '=', routerId).where('f.floating_network_id', '=', netId).execute()) as Row[];
  return rows.length > 0;
}

/** Sets, changes or clears a router's gateway in `trx` (l3_db._update_router_gw_info). */
async function applyGateway(ctx: NetworkContext, trx: Tx, router: Row, info: GwInfo | null): Promise<void> {
  const id = router.id as string;
  const cur = router.gw_port_id ? (await trx.selectFrom('neutron_ports').select(['id', 'network_id']).where('id', '=', router.gw_port_id).executeTakeFirst()) as Row | undefined : undefined;
  const snat = info?.enable_snat ?? (cur && info && cur.network_id === info.network_id ? Boolean(Number(router.enable_snat)) : SNAT_BY_DEFAULT);
  if (cur && info && cur.network_id === info.network_id && info.external_fixed_ips === undefined) {
    await trx.updateTable('neutron_routers').set({ enable_snat: b(snat) }).where('id', '=', id).execute();
    return;
  }
  if (cur) {
    if (await fipsUsingGateway(trx, id, cur.network_id) && (!info || info.network_id !== cur.network_id)) {
      throw conflict('RouterExternalGatewayInUseByFloatingIp', `Gateway cannot be updated for router ${id}, since a gateway to external network ${String(cur.network_id)} is required by one or more floating IPs.`);
    }
    await deleteL3Port(trx, cur.id);
    await trx.updateTable('neutron_routers').set({ gw_port_id: null }).where('id', '=', id).execute();
  }
  if (!info) return;
  const subnets = (await trx.selectFrom('neutron_subnets').select(['id', 'cidr', 'gateway_ip', 'ip_version']).where('network_id', '=', info.network_id).execute()) as Row[];
  for (const f of info.external_fixed_ips ?? []) {
    if (f.ip_address && subnets.some((s) => s.gateway_ip === f.ip_address)) throw badResource('router', `External IP ${f.ip_address} is the same as the gateway IP`);
  }
  // The gateway's subnets may not overlap the router's interfaces.
  await checkDupSubnets(trx, id, subnets.map((s) => ({ id: s.id, cidr: s.cidr })));
  const routes = parse<{ destination: string; nexthop: string }[]>(router.routes, []);
  const port = await insertL3Port(ctx, trx, { project_id: '', network_id: info.network_id, device_owner: OWNER_GW, device_id: id, status: 'ACTIVE',
    requests: info.external_fixed_ips && info.external_fixed_ips.length ? info.external_fixed_ips : undefined });
  // (A network without subnets still gets its gateway port, without addresses, as in Neutron.)
  if (routes.length) validateRoutes(id, routes, await routerConnected(trx, id));
  await trx.updateTable('neutron_routers').set({ gw_port_id: port.id, enable_snat: b(snat) }).where('id', '=', id).execute();
}

// ---- handlers ------------------------------------------------------------------------------------

const LIST = {
  collection: 'routers',
  filters: ['id', 'name', 'tenant_id', 'project_id', 'admin_state_up', 'status', 'description', 'revision_number', 'created_at', 'updated_at', 'distributed', 'ha', 'flavor_id'],
  sorts: ['id', 'name', 'tenant_id', 'project_id', 'admin_state_up', 'status', 'description', 'revision_number', 'created_at', 'updated_at'],
  booleans: ['admin_state_up', 'distributed', 'ha'],
  matchers: {
    // external_gateway_info:network_id style filters are not Neutron's; it filters on the dict as a whole, which clients do not use.
  },
};

async function list(ctx: NetworkContext, req: FastifyRequest): Promise<Obj> {
  const c = caller(ctx, req);
  let q = ctx.db.selectFrom('neutron_routers').selectAll();
  if (!c.isAdmin) q = q.where('project_id', '=', c.projectId);
  const rows = ((await q.execute()) as Row[]).filter((r) => ctx.policy.check('get_router', target({ ...r }), c.creds));
  const dicts = (await routerDicts(ctx.db, rows)).map((d) => shown(ctx, c, d));
  return listResponse(req, { ...LIST, maxLimit: ctx.cfg.network.pagination_max_limit }, dicts);
}

function checkNoDvrHa(body: Obj): void {
  for (const k of ['distributed', 'ha'] as const) {
    if (body[k] !== undefined && body[k] !== null && toBoolean(body[k])) {
      throw badResource('router', `${k === 'ha' ? 'HA' : 'Distributed'} routers are not supported by this deployment`);
    }
  }
}

async function create(ctx: NetworkContext, req: FastifyRequest, reply: { code(n: number): unknown }): Promise<Obj> {
  const c = caller(ctx, req);
  const raw = resourceBody(req, 'router');
  const body = { ...raw };
  checkAttrs(body, KNOWN, POST, 'POST');
  const owner = ownerOf(body, c);
  const attrs = [...Object.keys(raw).filter((k) => !['tenant_id', 'project_id', 'external_gateway_info'].includes(k)), ...gwPolicyAttrs(raw.external_gateway_info)];
  enforce(ctx, c, 'create_router', target({ ...body, project_id: owner }), attrs);
  const name = body.name === undefined ? '' : checkString('name', body.name, 255);
  const description = body.description === undefined ? '' : checkString('description', body.description, 255);
  const adminUp = body.admin_state_up === undefined ? true : toBoolean(body.admin_state_up);
  checkNoDvrHa(body);
  if (body.flavor_id !== undefined && body.flavor_id !== null) throw notFound('FlavorNotFound', `Flavor ${String(body.flavor_id)} could not be found.`);
  const azHints = body.availability_zone_hints === undefined ? [] : checkAzHints(body.availability_zone_hints);
  for (const az of azHints) {
    const known = await ctx.db.selectFrom('neutron_agents').select('id').where('availability_zone', '=', az).executeTakeFirst();
    if (!known && az !== 'nova') throw notFound('AvailabilityZoneNotFound', `AvailabilityZone ${az} could not be found.`);
  }
  const gw = body.external_gateway_info === undefined ? null : parseGwInfo(body.external_gateway_info);
  if (gw) await externalNetwork(ctx, ctx.db, c, gw.network_id, 'router');
  const id = newId();
  const now = stamp();
  await l3Tx(ctx, async (trx) => {
    await checkQuota(ctx, trx, owner, 'router');
    const row = { id, name, project_id: owner, description, revision_number: 0, created_at: now, updated_at: now, admin_state_up: b(adminUp), status: 'ACTIVE',
      gw_port_id: null, enable_snat: b(SNAT_BY_DEFAULT), routes: json([]), availability_zone_hints: json(azHints) };
    await trx.insertInto('neutron_routers').values(row).execute();
    if (gw) await applyGateway(ctx, trx, row, gw);
  });
  reply.code(201);
  return { router: await showRouter(ctx, c, id) };
}

async function update(ctx: NetworkContext, req: FastifyRequest): Promise<Obj> {
  const c = caller(ctx, req);
  const id = (req.params as { id: string }).id;
  const raw = resourceBody(req, 'router');
  checkAttrs(raw, KNOWN, PUT, 'PUT');
  const cur = await getRouterRow(ctx, ctx.db, c, id);
  const attrs = [...Object.keys(raw).filter((k) => k !== 'external_gateway_info'), ...gwPolicyAttrs(raw.external_gateway_info)];
  enforce(ctx, c, 'update_router', target({ ...cur, ...raw }), attrs);
  checkRevision(req, Number(cur.revision_number));
  const set: Row = {};
  if (raw.name !== undefined) set.name = checkString('name', raw.name, 255);
  if (raw.description !== undefined) set.description = checkString('description', raw.description, 255);
  if (raw.admin_state_up !== undefined) set.admin_state_up = b(toBoolean(raw.admin_state_up));
  checkNoDvrHa(raw);
  const gw = raw.external_gateway_info === undefined ? undefined : parseGwInfo(raw.external_gateway_info);
  if (gw) await externalNetwork(ctx, ctx.db, c, gw.network_id, 'router');
  const routes = raw.routes === undefined ? undefined : checkRoutesShape(raw.routes);
  await l3Tx(ctx, async (trx) => {
    const row = (await trx.selectFrom('neutron_routers').selectAll().where('id', '=', id).executeTakeFirst()) as Row | undefined;
    if (!row) throw routerNotFound(id);
    if (routes !== undefined) {
      validateRoutes(id, routes, await routerConnected(trx, id));
      set.routes = json(routes);
    }
    if (Object.keys(set).length) await trx.updateTable('neutron_routers').set(set).where('id', '=', id).execute();
    if (gw !== undefined) await applyGateway(ctx, trx, { ...row, ...set }, gw);
    await bump(trx, 'neutron_routers', id, stamp());
  });
  return { router: await showRouter(ctx, c, id) };
}

async function remove(ctx: NetworkContext, req: FastifyRequest, reply: { code(n: number): unknown }): Promise<void> {
  const c = caller(ctx, req);
  const id = (req.params as { id: string }).id;
  const r = await getRouterRow(ctx, ctx.db, c, id);
  enforce(ctx, c, 'delete_router', target({ ...r }));
  checkRevision(req, Number(r.revision_number));
  await l3Tx(ctx, async (trx) => {
    const intf = await trx.selectFrom('neutron_ports').select('id').where('device_id', '=', id).where('device_owner', '=', OWNER_INTF).executeTakeFirst();
    if (intf) throw conflict('RouterInUse', `Router ${id} still has ports`);
    const row = (await trx.selectFrom('neutron_routers').selectAll().where('id', '=', id).executeTakeFirst()) as Row | undefined;
    if (!row) throw routerNotFound(id);
    await applyGateway(ctx, trx, row, null);
    await trx.updateTable('neutron_floatingips').set({ router_id: null, fixed_port_id: null, fixed_ip_address: null, status: 'DOWN' }).where('router_id', '=', id).execute();
    await deleteTags(trx, 'routers', id);
    await trx.deleteFrom('neutron_routers').where('id', '=', id).execute();
  });
  reply.code(204);
}

// ---- interfaces ----------------------------------------------------------------------------------

function interfaceInfo(body: unknown, forRemoval: boolean): { port_id?: string; subnet_id?: string } {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) throw badResource('router', 'Either subnet_id or port_id must be specified');
  const o = body as Record<string, unknown>;
  const hasPort = 'port_id' in o; const hasSub = 'subnet_id' in o;
  if (!hasPort && !hasSub) throw badResource('router', 'Either subnet_id or port_id must be specified');
  for (const k of ['port_id', 'subnet_id']) if (k in o && !isUuidLike(o[k])) throw badResource('router', `'${pyRepr(o[k])}' is not a valid UUID`);
  if (!forRemoval && hasPort && hasSub) throw badResource('router', 'Cannot specify both subnet-id and port-id');
  return { port_id: o.port_id as string | undefined, subnet_id: o.subnet_id as string | undefined };
}

function infoDict(router: Row, port: Row, subnetIds: string[]): Obj {
  return { id: router.id, tenant_id: port.project_id, project_id: port.project_id, port_id: port.id, network_id: port.network_id, subnet_id: subnetIds[subnetIds.length - 1], subnet_ids: subnetIds };
}

async function subnetRow(db: Db | Tx, id: string): Promise<Row | undefined> {
  return (await db.selectFrom('neutron_subnets').selectAll().where('id', '=', id).executeTakeFirst()) as Row | undefined;
}

/** A subnet the caller may see (its network is visible to it), else 404 SubnetNotFound. */
async function visibleSubnet(ctx: NetworkContext, c: Caller, id: string): Promise<Row> {
  const s = await subnetRow(ctx.db, id);
  if (s) {
    const [n] = await loadNetworkRows(ctx.db, [s.network_id]);
    if (n && canSeeNetwork(c, n, await netAccess(ctx.db, c))) return s;
  }
  throw notFound('SubnetNotFound', `Subnet ${id} could not be found.`);
}

function checkAddressMode(s: Row): void {
  if (Number(s.ip_version) === 6 && !s.ipv6_ra_mode && s.ipv6_address_mode) {
    throw badResource('router', `IPv6 subnet ${String(s.id)} configured to receive RAs from an external router cannot be added to Neutron Router.`);
  }
}

async function addInterface(ctx: NetworkContext, req: FastifyRequest): Promise<Obj> {
  const c = caller(ctx, req);
  const id = (req.params as { id: string }).id;
  const router = await getRouterRow(ctx, ctx.db, c, id);
  enforce(ctx, c, 'add_router_interface', target({ ...router }));
  const info = interfaceInfo(req.body, false);
  if (info.subnet_id) {
    const s = await visibleSubnet(ctx, c, info.subnet_id);
    if (!s.gateway_ip) throw badResource('router', 'Subnet for router interface must have a gateway IP');
    if (s.project_id !== c.projectId && !c.isAdmin) {
      // Only a subnet shared with this very project through RBAC (not a globally shared one: LP-1757482).
      const rbac = await ctx.db.selectFrom('neutron_rbac_policies').select('id').where('object_type', '=', 'network').where('object_id', '=', s.network_id)
        .where('action', '=', 'access_as_shared').where('target_project', '=', c.projectId).executeTakeFirst();
      if (!rbac) throw badResource('router', `Cannot add interface to router because subnet ${info.subnet_id} is not owned by project making the request`);
    }
    checkAddressMode(s);
    const port = await l3Tx(ctx, async (trx) => {
      await checkDupSubnets(trx, id, [{ id: s.id, cidr: s.cidr }]);
      if (Number(s.ip_version) === 6) {
        // Another IPv6 prefix on a network the router already has an IPv6 port on: the address is
        // added to that port (Neutron's multi-prefix router port).
        const v6 = (await trx.selectFrom('neutron_ports as p').innerJoin('neutron_ipallocations as a', 'a.port_id', 'p.id').select(['p.id', 'p.project_id', 'a.ip_address'])
          .where('p.device_id', '=', id).where('p.device_owner', '=', OWNER_INTF).where('p.network_id', '=', s.network_id).execute()) as Row[];
        const host = v6.find((x) => String(x.ip_address).includes(':'));
        if (host) {
          const taken = await trx.selectFrom('neutron_ipallocations').select('port_id').where('subnet_id', '=', s.id).where('ip_address', '=', s.gateway_ip).executeTakeFirst();
          if (taken) throw conflict('IpAddressAlreadyAllocated', `IP address ${String(s.gateway_ip)} already allocated in subnet ${String(s.id)}`);
          await trx.insertInto('neutron_ipallocations').values({ subnet_id: s.id, ip_address: s.gateway_ip, port_id: host.id, network_id: s.network_id }).execute();
          await bump(trx, 'neutron_ports', host.id, stamp());
          await bump(trx, 'neutron_routers', id, stamp());
          return { id: host.id, project_id: host.project_id, network_id: s.network_id };
        }
      }
      const p = await insertL3Port(ctx, trx, { project_id: router.project_id, network_id: s.network_id, device_owner: OWNER_INTF, device_id: id, status: 'ACTIVE',
        requests: [{ subnet_id: s.id, ip_address: s.gateway_ip }] });
      await bump(trx, 'neutron_routers', id, stamp());
      return { id: p.id, project_id: router.project_id, network_id: s.network_id };
    }).catch((e: unknown) => {
      if ((e as { detail?: { type?: string } }).detail?.type === 'IpAddressAlreadyAllocated') {
        throw conflict('IpAddressInUse', `Unable to complete operation for network ${String(s.network_id)}. The IP address ${String(s.gateway_ip)} is in use.`);
      }
      throw e;
    });
    return infoDict(router, port, [s.id]);
  }
  const portId = info.port_id!;
  const result = await l3Tx(ctx, async (trx) => {
    const p = (await trx.selectFrom('neutron_ports').selectAll().where('id', '=', portId).executeTakeFirst()) as Row | undefined;
    if (!p || !(c.isAdmin || p.project_id === c.projectId)) throw notFound('PortNotFound', `Port ${portId} could not be found.`);
    if (p.device_id !== '') {
      throw conflict('PortInUse', `Unable to complete operation on port ${portId} for network ${String(p.network_id)}. Port already has an attached device ${String(p.device_id)}.`);
    }
    const fixed = (await fixedIpsOf(trx, [portId])).get(portId) ?? [];
    if (!fixed.length) throw badResource('router', 'Router port must have at least one fixed IP');
    const subs = (await trx.selectFrom('neutron_subnets').selectAll().where('id', 'in', fixed.map((f) => f.subnet_id)).execute()) as Row[];
    for (const s of subs) checkAddressMode(s);
    await checkDupSubnets(trx, id, subs.map((s) => ({ id: s.id, cidr: s.cidr })));
    if (subs.filter((s) => Number(s.ip_version) === 4).length > 1) throw badResource('router', 'Cannot have multiple IPv4 subnets on router port');
    if (fixed.some((f) => f.ip_address.includes(':'))) {
      const other = (await trx.selectFrom('neutron_ports as p').innerJoin('neutron_ipallocations as a', 'a.port_id', 'p.id').select(['p.id', 'a.ip_address'])
        .where('p.device_id', '=', id).where('p.device_owner', '=', OWNER_INTF).where('p.network_id', '=', p.network_id).execute()) as Row[];
      const v6 = other.find((x) => String(x.ip_address).includes(':'));
      if (v6) throw badResource('router', `Cannot have multiple router ports with the same network id if both contain IPv6 subnets. Existing port ${String(v6.id)} has IPv6 subnet(s) and network id ${String(p.network_id)}`);
    }
    // _validate_port_in_range_or_admin: outside the pools only on the caller's own subnets.
    if (!c.isAdmin) {
      for (const f of fixed) {
        const sub = subs.find((x) => x.id === f.subnet_id)!;
        const ip = parseIp(f.ip_address)!.value;
        const inPool = parse<{ start: string; end: string }[]>(sub.allocation_pools, []).some((r) => ip >= parseIp(r.start)!.value && ip <= parseIp(r.end)!.value);
        if (!inPool && sub.project_id !== c.projectId) {
          throw badResource('router', `Cannot add interface to router because specified port ${portId} has an IP address out of the allocation pool of subnet ${f.subnet_id}, which is not owned by the project making the request`);
        }
      }
    }
    await trx.updateTable('neutron_ports').set({ device_id: id, device_owner: OWNER_INTF, status: 'ACTIVE' }).where('id', '=', portId).execute();
    await bump(trx, 'neutron_ports', portId, stamp());
    await bump(trx, 'neutron_routers', id, stamp());
    return { port: p, subnetIds: fixed.map((f) => f.subnet_id) };
  });
  return infoDict(router, result.port, result.subnetIds);
}

/** _confirm_router_interface_not_in_use: floating IPs through the interface and routes via it. */
async function confirmNotInUse(trx: Tx, router: Row, subnet: Row): Promise<void> {
  const cidr = parseCidr(subnet.cidr)!;
  const fips = (await trx.selectFrom('neutron_floatingips as f').innerJoin('neutron_ipallocations as a', (j) => j.onRef('a.port_id', '=', 'f.fixed_port_id').onRef('a.ip_address', '=', 'f.fixed_ip_address'))
    .select(['f.id', 'f.fixed_ip_address', 'a.subnet_id']).where('f.router_id', '=', router.id).execute()) as Row[];
  if (fips.some((f) => f.subnet_id === subnet.id && contains(cidr, parseIp(f.fixed_ip_address)!))) {
    throw conflict('RouterInterfaceInUseByFloatingIP', `Router interface for subnet ${String(subnet.id)} on router ${String(router.id)} cannot be deleted, as it is required by one or more floating IPs.`);
  }
  for (const r of parse<{ nexthop: string }[]>(router.routes, [])) {
    if (contains(cidr, parseIp(r.nexthop)!)) {
      throw conflict('RouterInterfaceInUseByRoute', `Router interface for subnet ${String(subnet.id)} on router ${String(router.id)} cannot be deleted, as it is required by one or more routes.`);
    }
  }
}

async function removeInterface(ctx: NetworkContext, req: FastifyRequest): Promise<Obj> {
  const c = caller(ctx, req);
  const id = (req.params as { id: string }).id;
  const router = await getRouterRow(ctx, ctx.db, c, id);
  enforce(ctx, c, 'remove_router_interface', target({ ...router }));
  const info = interfaceInfo(req.body, true);
  if (info.subnet_id && !info.port_id) await visibleSubnet(ctx, c, info.subnet_id);
  return l3Tx(ctx, async (trx) => {
    const row = (await trx.selectFrom('neutron_routers').selectAll().where('id', '=', id).executeTakeFirst()) as Row | undefined;
    if (!row) throw routerNotFound(id);
    const ports = (await trx.selectFrom('neutron_ports').selectAll().where('device_id', '=', id).where('device_owner', '=', OWNER_INTF).execute()) as Row[];
    const ips = await fixedIpsOf(trx, ports.map((p) => p.id));
    let port: Row | undefined;
    let removed: string[];
    if (info.port_id) {
      port = ports.find((p) => p.id === info.port_id);
      if (!port) throw notFound('RouterInterfaceNotFound', `Router ${id} does not have an interface with id ${info.port_id}`);
      const subs = (ips.get(port.id) ?? []).map((f) => f.subnet_id);
      if (info.subnet_id && !subs.includes(info.subnet_id)) throw conflict('SubnetMismatchForPort', `Subnet on port ${info.port_id} does not match the requested subnet ${info.subnet_id}.`);
      removed = subs;
    } else {
      port = ports.find((p) => (ips.get(p.id) ?? []).some((f) => f.subnet_id === info.subnet_id));
      if (!port) throw notFound('RouterInterfaceNotFoundForSubnet', `Router ${id} has no interface on subnet ${info.subnet_id}`);
      removed = [info.subnet_id!];
    }
    for (const sid of removed) {
      const s = await subnetRow(trx, sid);
      if (s) await confirmNotInUse(trx, row, s);
    }
    const left = (ips.get(port.id) ?? []).filter((f) => !removed.includes(f.subnet_id));
    if (left.length) {
      // A multi-prefix (IPv6) port loses only the subnet's address.
      for (const sid of removed) await trx.deleteFrom('neutron_ipallocations').where('port_id', '=', port.id).where('subnet_id', '=', sid).execute();
    } else {
      await deleteL3Port(trx, port.id);
    }
    await bump(trx, 'neutron_routers', id, stamp());
    return infoDict(row, port, removed);
  });
}

/** add_extraroutes / remove_extraroutes (extraroute-atomic): the router's routes plus or minus these. */
async function editRoutes(ctx: NetworkContext, req: FastifyRequest, add: boolean): Promise<Obj> {
  const c = caller(ctx, req);
  const id = (req.params as { id: string }).id;
  const router = await getRouterRow(ctx, ctx.db, c, id);
  enforce(ctx, c, add ? 'add_extraroutes' : 'remove_extraroutes', target({ ...router }));
  const body = req.body as Record<string, unknown> | undefined;
  const r = body && typeof body === 'object' ? body.router as Record<string, unknown> | undefined : undefined;
  if (!r || typeof r !== 'object') throw badRequest("Unable to find 'router' in request body");
  const extra = Object.keys(r).filter((k) => k !== 'routes');
  if (extra.length) throw badRequest(`Unrecognized attribute(s) '${extra.join(', ')}'`);
  if (r.routes === undefined) throw badRequest("Failed to parse request. Required attribute 'routes' not specified");
  const want = checkRoutesShape(r.routes);
  await l3Tx(ctx, async (trx) => {
    const row = (await trx.selectFrom('neutron_routers').selectAll().where('id', '=', id).executeTakeFirst()) as Row | undefined;
    if (!row) throw routerNotFound(id);
    const old = parse<{ destination: string; nexthop: string }[]>(row.routes, []);
    const same = (x: { destination: string; nexthop: string }, y: { destination: string; nexthop: string }) => x.destination === y.destination && x.nexthop === y.nexthop;
    const next = add ? [...old, ...want.filter((w) => !old.some((o) => same(o, w)))] : old.filter((o) => !want.some((w) => same(o, w)));
    if (add) validateRoutes(id, next, await routerConnected(trx, id));
    await trx.updateTable('neutron_routers').set({ routes: json(next) }).where('id', '=', id).execute();
    await bump(trx, 'neutron_routers', id, stamp());
  });
  // These two answer with the router's id and routes only (extraroute-atomic).
  const after = await getRouterRow(ctx, ctx.db, c, id);
  return { router: { id, routes: parse<unknown[]>(after.routes, []) } };
}

export const routersModule: ApiModule = {
  name: 'routers',
  extensions: [
    { alias: 'router', name: 'Neutron L3 Router', description: 'Router abstraction for basic L3 forwarding between L2 Neutron networks and access to external networks via a NAT gateway.', updated: '2012-07-20T10:00:00-00:00' },
    { alias: 'ext-gw-mode', name: 'Neutron L3 Configurable external gateway mode', description: 'Extension of the router abstraction for specifying whether SNAT should occur on the external gateway', updated: '2013-03-28T10:00:00-00:00' },
    { alias: 'extraroute', name: 'Neutron Extra Route', description: 'Extra routes configuration for L3 router', updated: '2013-02-01T10:00:00-00:00' },
    { alias: 'extraroute-atomic', name: 'Atomically add/remove extra routes', description: 'Edit extra routes of a router on server side by atomically adding/removing extra routes', updated: '2019-07-10T00:00:00+00:00' },
    { alias: 'router_availability_zone', name: 'Router Availability Zone', description: 'Availability zone support for router.', updated: '2015-01-01T10:00:00-00:00' },
  ],
  routes: (ctx) => ({
    '/v2.0/routers': { GET: (req) => list(ctx, req), POST: (req, reply) => create(ctx, req, reply) },
    '/v2.0/routers/{id}': {
      GET: async (req) => { const c = caller(ctx, req); return { router: project(await showRouter(ctx, c, (req.params as { id: string }).id), fieldsOf(req)) }; },
      PUT: (req) => update(ctx, req), DELETE: (req, reply) => remove(ctx, req, reply),
    },
    '/v2.0/routers/{id}/add_router_interface': { PUT: (req) => addInterface(ctx, req) },
    '/v2.0/routers/{id}/remove_router_interface': { PUT: (req) => removeInterface(ctx, req) },
    '/v2.0/routers/{id}/add_extraroutes': { PUT: (req) => editRoutes(ctx, req, true) },
    '/v2.0/routers/{id}/remove_extraroutes': { PUT: (req) => editRoutes(ctx, req, false) },
  }),
};
