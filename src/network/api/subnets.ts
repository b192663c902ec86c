// /v2.0/subnets (neutron/db/db_base_plugin_v2.py and ipam): IPv4 and IPv6 subnets with
// neutron-lib's validation of cidr, gateway_ip, allocation_pools, dns_nameservers, host_routes and
// the IPv6 modes; no two subnets of a network overlap; a subnet may take its prefix from a subnet
// pool (subnetpools.ts); deleting a subnet with addresses in use (other than DHCP) is 409 SubnetInUse.

import type { FastifyRequest } from 'fastify';
import type { NetworkContext, Caller } from '../context.js';
import { caller, enforce, stripByPolicy, target } from '../context.js';
import { writeTx, type Db, type Tx } from '../store/tx.js';
import { b, bump, deleteTags, json, newId, parse, tagsOf } from '../store/common.js';
import { badRequest, checkRevision, checkString, conflict, invalidInput, notFound, pyRepr, resourceBody, stamp, toBoolean, isUuidLike } from './http.js';
import { checkAttrs, ownerOf } from './attrs.js';
import { checkQuota } from './quota.js';
import { fieldsOf, listResponse, project, type Obj } from './list.js';
import { canSeeNetwork, loadNetworkRows, netAccess, visibleNetwork } from './networks.js';
import { cidrText, contains, first, ipText, last, overlaps, parseCidr, parseIp, formatIp, type Cidr } from '../ipaddr.js';
import { allocateFromPool } from './subnetpools.js';
import type { ApiModule } from './router.js';

type Row = Record<string, unknown>;
export interface Pool { start: string; end: string }

const KNOWN = ['id', 'name', 'description', 'tenant_id', 'project_id', 'network_id', 'ip_version', 'cidr', 'gateway_ip', 'enable_dhcp',
  'ipv6_ra_mode', 'ipv6_address_mode', 'subnetpool_id', 'allocation_pools', 'dns_nameservers', 'host_routes', 'prefixlen',
  'use_default_subnetpool', 'created_at', 'updated_at', 'revision_number', 'tags', 'service_types', 'segment_id', 'dns_publish_fixed_ip'];
const POST = ['name', 'description', 'tenant_id', 'project_id', 'network_id', 'ip_version', 'cidr', 'gateway_ip', 'enable_dhcp',
  'ipv6_ra_mode', 'ipv6_address_mode', 'subnetpool_id', 'allocation_pools', 'dns_nameservers', 'host_routes', 'prefixlen', 'use_default_subnetpool', 'service_types', 'segment_id'];
const PUT = ['name', 'description', 'gateway_ip', 'enable_dhcp', 'allocation_pools', 'dns_nameservers', 'host_routes', 'service_types', 'segment_id'];
const MODES = ['slaac', 'dhcpv6-stateful', 'dhcpv6-stateless'];

export function subnetDict(r: Row, tags: string[]): Obj {
  return {
    id: r.id, name: r.name, tenant_id: r.project_id, project_id: r.project_id, network_id: r.network_id, ip_version: Number(r.ip_version),
    subnetpool_id: r.subnetpool_id ?? null, enable_dhcp: Boolean(Number(r.enable_dhcp)), ipv6_ra_mode: r.ipv6_ra_mode ?? null,
    ipv6_address_mode: r.ipv6_address_mode ?? null, gateway_ip: r.gateway_ip ?? null, cidr: r.cidr,
    allocation_pools: parse<Pool[]>(r.allocation_pools, []), host_routes: parse<unknown[]>(r.host_routes, []),
    dns_nameservers: parse<string[]>(r.dns_nameservers, []), description: r.description, service_types: [], segment_id: null,
    tags, created_at: r.created_at, updated_at: r.updated_at, revision_number: Number(r.revision_number),
  };
}

/** True when addresses of this subnet are derived from MACs (SLAAC / DHCPv6-stateless). */
export function isAutoAddress(s: Record<string, unknown>): boolean {
  return Number(s.ip_version) === 6 && (s.ipv6_address_mode === 'slaac' || s.ipv6_address_mode === 'dhcpv6-stateless');
}

async function visibleSubnets(ctx: NetworkContext, db: Db | Tx, c: Caller, ids?: string[]): Promise<{ dict: Obj; net: Row }[]> {
  let q = db.selectFrom('neutron_subnets').selectAll();
  if (ids) { if (!ids.length) return []; q = q.where('id', 'in', ids); }
  const rows = (await q.execute()) as Row[];
  const acc = await netAccess(db, c);
  const nets = new Map((await loadNetworkRows(db, [...new Set(rows.map((r) => r.network_id as string))])).map((n) => [n.id as string, n]));
  const tags = await tagsOf(db, 'subnets', rows.map((r) => r.id as string));
  const out: { dict: Obj; net: Row }[] = [];
  for (const r of rows) {
    const net = nets.get(r.network_id as string);
    if (!net) continue;
    // A subnet is visible with its network (owner, shared, external) or to its own project.
    if (!(canSeeNetwork(c, net, acc) || r.project_id === c.projectId)) continue;
    out.push({ dict: subnetDict(r, tags.get(r.id as string) ?? []), net: { ...net, shared: acc.shared.has(net.id as string) } });
  }
  return out;
}

function subnetTarget(d: Obj, net: Row): Obj {
  return target(d, { 'network:tenant_id': net.project_id, 'network:project_id': net.project_id, shared: net.shared, 'router:external': Boolean(Number(net.external)) });
}

async function getSubnet(ctx: NetworkContext, c: Caller, id: string): Promise<{ dict: Obj; net: Row }> {
  const [s] = await visibleSubnets(ctx, ctx.db, c, [id]);
  if (!s || !ctx.policy.check('get_subnet', subnetTarget(s.dict, s.net), c.creds)) throw notFound('SubnetNotFound', `Subnet ${id} could not be found.`);
  return s;
}

// ---- validation ------------------------------------------------------------------------------

function checkIp(v: unknown, version?: number): string {
  const ip = parseIp(v);
  if (!ip) throw invalidInput(`'${pyRepr(v)}' is not a valid IP address`);
  if (version !== undefined && ip.version !== version) throw invalidInput(`'${pyRepr(v)}' is not a valid IP address`);
  return formatIp(ip);
}

function checkCidr(v: unknown): Cidr {
  const c = parseCidr(v);
  if (!c || typeof v !== 'string' || !v.includes('/')) throw invalidInput(`'${pyRepr(v)}' is not a valid IP subnet`);
  const canonical = cidrText(c);
  const given = parseIp(v.split('/')[0]);
  if (given && given.value !== c.net) throw invalidInput(`'${v}' isn't a recommended CIDR, '${canonical}' is recommended`);
  return c;
}

function checkDns(v: unknown, max: number, version: number): string[] {
  if (!Array.isArray(v)) throw invalidInput(`'${pyRepr(v)}' is not a list`);
  const out: string[] = [];
  for (const d of v) {
    const ip = checkIp(d);
    if (out.includes(ip)) throw invalidInput(`Duplicate nameserver '${pyRepr(d)}'`);
    out.push(ip);
    void version;
  }
  if (out.length > max) throw badRequest(`Unable to complete operation for subnet. The number of DNS nameservers exceeds the limit ${max}.`, 'DNSNameServersExhausted');
  return out;
}

function checkRoutes(v: unknown, max: number, version: number): { destination: string; nexthop: string }[] {
  if (!Array.isArray(v)) throw invalidInput(`'${pyRepr(v)}' is not a list`);
  const out: { destination: string; nexthop: string }[] = [];
  for (const r of v) {
    if (typeof r !== 'object' || r === null || Array.isArray(r)) throw invalidInput(`Invalid data format for hostroute: '${pyRepr(r)}'`);
    const { destination, nexthop, ...rest } = r as Record<string, unknown>;
    if (Object.keys(rest).length || destination === undefined || nexthop === undefined) throw invalidInput(`Invalid data format for hostroute: '${pyRepr(r)}'`);
    const d = checkCidr(destination); const n = checkIp(nexthop);
    if (d.version !== version || parseIp(n)!.version !== version) throw invalidInput(`Invalid route: ${pyRepr(r)}`);
    const e = { destination: cidrText(d), nexthop: n };
    if (out.some((x) => x.destination === e.destination && x.nexthop === e.nexthop)) throw invalidInput(`Duplicate hostroute '${pyRepr(r)}'`);
    out.push(e);
  }
  if (out.length > max) throw badRequest(`Unable to complete operation for subnet. The number of host routes exceeds the limit ${max}.`, 'HostRoutesExhausted');
  return out;
}

/** The default pools: the subnet's host range without network/broadcast (IPv4) and gateway. */
function defaultPools(c: Cidr, gateway: string | null): Pool[] {
  let lo = first(c); let hi = last(c);
  if (c.version === 4 && c.prefix < 31) { lo += 1n; hi -= 1n; }
  else if (c.version === 6 && c.prefix < 127) lo += 1n;
  const gw = gateway ? parseIp(gateway)!.value : undefined;
  const ranges: [bigint, bigint][] = [];
  if (gw !== undefined && gw >= lo && gw <= hi) {
    if (gw > lo) ranges.push([lo, gw - 1n]);
    if (gw < hi) ranges.push([gw + 1n, hi]);
  } else if (lo <= hi) ranges.push([lo, hi]);
  return ranges.map(([a, z]) => ({ start: ipText(c.version, a), end: ipText(c.version, z) }));
}

function checkPools(v: unknown, c: Cidr, gateway: string | null): Pool[] {
  if (!Array.isArray(v)) throw invalidInput(`'${pyRepr(v)}' is not a list`);
  const pools: { start: bigint; end: bigint; text: string }[] = [];
  for (const p of v) {
    if (typeof p !== 'object' || p === null) throw badRequest(`The allocation pool ${pyRepr(p)} is not valid.`, 'InvalidAllocationPool');
    const { start, end } = p as Record<string, unknown>;
    const s = parseIp(start); const e = parseIp(end);
    if (!s || !e || s.version !== c.version || e.version !== c.version || s.value > e.value) {
      throw badRequest(`The allocation pool ${pyRepr(start)}-${pyRepr(end)} is not valid.`, 'InvalidAllocationPool');
    }
    let lo = first(c); let hi = last(c);
    if (c.version === 4 && c.prefix < 31) { lo += 1n; hi -= 1n; }
    if (s.value < lo || e.value > hi) throw badRequest(`The allocation pool ${formatIp(s)}-${formatIp(e)} spans beyond the subnet cidr ${cidrText(c)}.`, 'OutOfBoundsAllocationPool');
    pools.push({ start: s.value, end: e.value, text: `${formatIp(s)}-${formatIp(e)}` });
  }
  for (let i = 0; i < pools.length; i++) {
    for (let j = i + 1; j < pools.length; j++) {
      const a = pools[i]!; const z = pools[j]!;
      if (a.start <= z.end && z.start <= a.end) throw badRequest(`Found overlapping allocation pools: ${a.text} and ${z.text} for subnet ${cidrText(c)}.`, 'OverlappingAllocationPools');
    }
  }
  if (gateway) {
    const g = parseIp(gateway)!.value;
    const hit = pools.find((p) => g >= p.start && g <= p.end);
    if (hit) throw conflict('GatewayConflictWithAllocationPools', `Gateway ip ${gateway} conflicts with allocation pool ${hit.text}`);
  }
  return pools.map((p) => ({ start: ipText(c.version, p.start), end: ipText(c.version, p.end) }));
}

function checkModes(version: number, ra: unknown, addr: unknown, c: Cidr | undefined, dhcp: boolean): void {
  for (const [name, v] of [['ipv6_ra_mode', ra], ['ipv6_address_mode', addr]] as const) {
    if (v === undefined || v === null) continue;
    if (!MODES.includes(v as string)) throw invalidInput(`'${pyRepr(v)}' is not in [${MODES.map((m) => `'${m}'`).join(', ')}]`);
    if (version === 4) throw invalidInput(`${name} is not valid when ip_version is 4`);
  }
  if (ra && addr && ra !== addr) {
    throw invalidInput(`ipv6_ra_mode set to '${String(ra)}' with ipv6_address_mode set to '${String(addr)}' is not valid. If both attributes are set, they must be the same value`);
  }
  if ((ra || addr) && !dhcp) throw invalidInput('ipv6_ra_mode or ipv6_address_mode cannot be set when enable_dhcp is set to False');
  if (c && version === 6 && (addr === 'slaac' || addr === 'dhcpv6-stateless' || ra === 'slaac' || ra === 'dhcpv6-stateless') && c.prefix !== 64) {
    throw invalidInput(`Invalid CIDR ${cidrText(c)} for IPv6 address mode. OpenStack uses the EUI-64 address format, which requires the prefix to be /64`);
  }
}

// ---- handlers --------------------------------------------------------------------------------

const LIST = {
  collection: 'subnets',
  filters: ['id', 'name', 'tenant_id', 'project_id', 'network_id', 'ip_version', 'cidr', 'gateway_ip', 'enable_dhcp', 'ipv6_ra_mode',
    'ipv6_address_mode', 'subnetpool_id', 'description', 'revision_number', 'created_at', 'updated_at', 'segment_id', 'shared'],
  sorts: ['id', 'name', 'tenant_id', 'project_id', 'network_id', 'ip_version', 'cidr', 'gateway_ip', 'enable_dhcp', 'ipv6_ra_mode',
    'ipv6_address_mode', 'subnetpool_id', 'description', 'revision_number', 'created_at', 'updated_at'],
  booleans: ['enable_dhcp', 'shared'],
};

async function list(ctx: NetworkContext, req: FastifyRequest): Promise<Obj> {
  const c = caller(ctx, req);
  const all = await visibleSubnets(ctx, ctx.db, c);
  // `shared` filters on the subnet's network (Neutron's subnet `shared` filter).
  const sharedOf = new Map(all.map((s) => [s.dict.id as string, Boolean(s.net.shared)]));
  const dicts = all.filter((s) => ctx.policy.check('get_subnet', subnetTarget(s.dict, s.net), c.creds))
    .map((s) => stripByPolicy(ctx, c, 'subnet', s.dict, subnetTarget(s.dict, s.net)));
  return listResponse(req, {
    ...LIST, maxLimit: ctx.cfg.network.pagination_max_limit,
    matchers: { shared: (item, vals) => vals.map((v) => toBoolean(v)).includes(Boolean(sharedOf.get(item.id as string))) },
  }, dicts);
}

async function show(ctx: NetworkContext, req: FastifyRequest): Promise<Obj> {
  const c = caller(ctx, req);
  const s = await getSubnet(ctx, c, (req.params as { id: string }).id);
  return { subnet: project(stripByPolicy(ctx, c, 'subnet', s.dict, subnetTarget(s.dict, s.net)), fieldsOf(req)) };
}

async function create(ctx: NetworkContext, req: FastifyRequest, reply: { code(n: number): unknown }): Promise<Obj> {
  const c = caller(ctx, req);
  const raw = resourceBody(req, 'subnet');
  const body = { ...raw };
  checkAttrs(body, KNOWN, POST, 'POST');
  const owner = ownerOf(body, c);
  if (body.network_id === undefined) throw badRequest("Failed to parse request. Required attribute 'network_id' not specified");
  if (!isUuidLike(body.network_id)) throw invalidInput(`'${pyRepr(body.network_id)}' is not a valid UUID`);
  if (body.ip_version === undefined) throw badRequest("Failed to parse request. Required attribute 'ip_version' not specified");
  const version = typeof body.ip_version === 'string' && /^\d+$/.test(body.ip_version) ? Number(body.ip_version) : body.ip_version;
  if (version !== 4 && version !== 6) throw invalidInput(`${pyRepr(body.ip_version)} is not in [4, 6]`);
  const net = await visibleNetwork(ctx, ctx.db, c, body.network_id);
  const tgt = target({ ...body, project_id: owner }, { 'network:tenant_id': net.row.project_id, 'network:project_id': net.row.project_id, shared: net.dict.shared });
  enforce(ctx, c, 'create_subnet', tgt, Object.keys(raw).filter((k) => k !== 'tenant_id' && k !== 'project_id'));
  const name = body.name === undefined ? '' : checkString('name', body.name, 255);
  const description = body.description === undefined ? '' : checkString('description', body.description, 255);
  const dhcp = body.enable_dhcp === undefined ? true : toBoolean(body.enable_dhcp);
  const ra = body.ipv6_ra_mode ?? null; const am = body.ipv6_address_mode ?? null;
  let cidr: Cidr | undefined;
  let subnetpoolId: string | null = null;
  if (body.cidr !== undefined && body.cidr !== null) {
    cidr = checkCidr(body.cidr);
    if (cidr.version !== version) throw invalidInput(`cidr '${pyRepr(body.cidr)}' does not match the ip_version '${version}'`);
    if (cidr.version === 4 && cidr.prefix === 0 || cidr.version === 6 && cidr.prefix === 0) throw invalidInput(`0 is not allowed as CIDR prefix length`);
  }
  if (body.subnetpool_id !== undefined && body.subnetpool_id !== null) subnetpoolId = String(body.subnetpool_id);
  else if (body.use_default_subnetpool !== undefined && toBoolean(body.use_default_subnetpool)) {
    const def = await ctx.db.selectFrom('neutron_subnetpools').select('id').where('is_default', '=', 1).where('ip_version', '=', version).executeTakeFirst();
    if (!def) throw badRequest(`Bad subnets request: No default subnetpool found for IPv${version}.`, 'BadRequest');
    subnetpoolId = (def as { id: string }).id;
  }
  if (!cidr && !subnetpoolId) throw badRequest('Bad subnets request: a subnetpool must be specified in the absence of a cidr.', 'BadRequest');
  checkModes(version, ra, am, cidr, dhcp);
  const dns = body.dns_nameservers === undefined || body.dns_nameservers === null ? [] : checkDns(body.dns_nameservers, ctx.cfg.network.max_dns_nameservers, version);
  const routes = body.host_routes === undefined || body.host_routes === null ? [] : checkRoutes(body.host_routes, ctx.cfg.network.max_subnet_host_routes, version);
  const id = newId();
  const now = stamp();
  await writeTx(ctx, async (trx) => {
    await checkQuota(ctx, trx, owner, 'subnet');
    let cd = cidr;
    if (subnetpoolId) {
      const prefixlen = body.prefixlen === undefined || body.prefixlen === null ? undefined : Number(body.prefixlen);
      if (prefixlen !== undefined && !Number.isInteger(prefixlen)) throw invalidInput(`'${pyRepr(body.prefixlen)}' is not an integer`);
      cd = await allocateFromPool(ctx, trx, c, subnetpoolId, version, cd, prefixlen);
      checkModes(version, ra, am, cd, dhcp);
    }
    const cdr = cd!;
    let gateway: string | null;
    if (body.gateway_ip === undefined) {
      gateway = cdr.version === 4 && cdr.prefix >= 31 || cdr.version === 6 && cdr.prefix >= 127 ? null : ipText(cdr.version, first(cdr) + 1n);
    } else if (body.gateway_ip === null) gateway = null;
    else {
      gateway = checkIp(body.gateway_ip);
      const g = parseIp(gateway)!;
      if (g.version !== cdr.version) throw invalidInput(`Gateway IP version inconsistent with allocation pool version`);
      if (contains(cdr, g) && cdr.version === 4 && (g.value === first(cdr) || g.value === last(cdr)) && cdr.prefix < 31) {
        throw invalidInput(`Gateway is not valid on subnet`);
      }
    }
    const pools = body.allocation_pools === undefined || body.allocation_pools === null ? defaultPools(cdr, gateway) : checkPools(body.allocation_pools, cdr, gateway);
    // No two subnets of a network overlap (allow_overlapping_ips: other networks may).
    const siblings = (await trx.selectFrom('neutron_subnets').select(['id', 'cidr']).where('network_id', '=', net.row.id as string).execute()) as { id: string; cidr: string }[];
    for (const s of siblings) {
      const o = parseCidr(s.cidr)!;
      if (overlaps(o, cdr)) throw invalidInput(`Requested subnet with cidr: ${cidrText(cdr)} for network: ${String(net.row.id)} overlaps with another subnet`);
    }
    await trx.insertInto('neutron_subnets').values({
      id, name, project_id: owner, description, revision_number: 0, created_at: now, updated_at: now, network_id: net.row.id,
      ip_version: version, cidr: cidrText(cdr), gateway_ip: gateway, enable_dhcp: b(dhcp), ipv6_ra_mode: ra, ipv6_address_mode: am,
      subnetpool_id: subnetpoolId, allocation_pools: json(pools), dns_nameservers: json(dns), host_routes: json(routes),
    }).execute();
    await bump(trx, 'neutron_networks', net.row.id as string, now);
  });
  const s = await getSubnet(ctx, c, id);
  reply.code(201);
  return { subnet: stripByPolicy(ctx, c, 'subnet', s.dict, subnetTarget(s.dict, s.net)) };
}

async function update(ctx: NetworkContext, req: FastifyRequest): Promise<Obj> {
  const c = caller(ctx, req);
  const id = (req.params as { id: string }).id;
  const raw = resourceBody(req, 'subnet');
  checkAttrs(raw, KNOWN, PUT, 'PUT');
  const s = await getSubnet(ctx, c, id);
  enforce(ctx, c, 'update_subnet', subnetTarget({ ...s.dict, ...raw }, s.net), Object.keys(raw));
  checkRevision(req, Number(s.dict.revision_number));
  const cidr = parseCidr(s.dict.cidr)!;
  const version = Number(s.dict.ip_version);
  const set: Row = {};
  if (raw.name !== undefined) set.name = checkString('name', raw.name, 255);
  if (raw.description !== undefined) set.description = checkString('description', raw.description, 255);
  if (raw.enable_dhcp !== undefined) {
    const dhcp = toBoolean(raw.enable_dhcp);
    checkModes(version, s.dict.ipv6_ra_mode, s.dict.ipv6_address_mode, cidr, dhcp);
    set.enable_dhcp = b(dhcp);
  }
  if (raw.dns_nameservers !== undefined) set.dns_nameservers = json(raw.dns_nameservers === null ? [] : checkDns(raw.dns_nameservers, ctx.cfg.network.max_dns_nameservers, version));
  if (raw.host_routes !== undefined) set.host_routes = json(raw.host_routes === null ? [] : checkRoutes(raw.host_routes, ctx.cfg.network.max_subnet_host_routes, version));
  let gateway = s.dict.gateway_ip as string | null;
  if (raw.gateway_ip !== undefined) {
    gateway = raw.gateway_ip === null ? null : checkIp(raw.gateway_ip, version);
    set.gateway_ip = gateway;
  }
  const pools = raw.allocation_pools !== undefined
    ? (raw.allocation_pools === null ? defaultPools(cidr, gateway) : checkPools(raw.allocation_pools, cidr, gateway))
    : undefined;
  if (pools) set.allocation_pools = json(pools);
  else if (raw.gateway_ip !== undefined && gateway) {
    const g = parseIp(gateway)!.value;
    const hit = (s.dict.allocation_pools as Pool[]).find((p) => g >= parseIp(p.start)!.value && g <= parseIp(p.end)!.value);
    if (hit) throw conflict('GatewayConflictWithAllocationPools', `Gateway ip ${gateway} conflicts with allocation pool ${hit.start}-${hit.end}`);
  }
  if (raw.gateway_ip !== undefined && gateway) {
    const used = await ctx.db.selectFrom('neutron_ipallocations as a').innerJoin('neutron_ports as p', 'p.id', 'a.port_id').select(['p.device_owner'])
      .where('a.subnet_id', '=', id).where('a.ip_address', '=', gateway).executeTakeFirst();
    if (used && !String((used as { device_owner: string }).device_owner).startsWith('network:router')) {
      throw conflict('GatewayIpInUse', `Current gateway ip ${gateway} already in use by port. Unable to update.`);
    }
  }
  const now = stamp();
  await writeTx(ctx, async (trx) => {
    if (Object.keys(set).length) await trx.updateTable('neutron_subnets').set(set).where('id', '=', id).execute();
    await bump(trx, 'neutron_subnets', id, now);
  });
  const after = await getSubnet(ctx, c, id);
  return { subnet: stripByPolicy(ctx, c, 'subnet', after.dict, subnetTarget(after.dict, after.net)) };
}

async function remove(ctx: NetworkContext, req: FastifyRequest, reply: { code(n: number): unknown }): Promise<void> {
  const c = caller(ctx, req);
  const id = (req.params as { id: string }).id;
  const s = await getSubnet(ctx, c, id);
  enforce(ctx, c, 'delete_subnet', subnetTarget(s.dict, s.net));
  checkRevision(req, Number(s.dict.revision_number));
  await writeTx(ctx, async (trx) => {
    const used = (await trx.selectFrom('neutron_ipallocations as a').innerJoin('neutron_ports as p', 'p.id', 'a.port_id')
      .select(['p.id', 'p.device_owner']).where('a.subnet_id', '=', id).execute()) as { id: string; device_owner: string }[];
    // Addresses of DHCP ports and auto-addresses (SLAAC) go with the subnet; others keep it in use.
    const blocking = used.filter((u) => u.device_owner !== 'network:dhcp' && !isAutoAddress(s.dict));
    if (blocking.length) {
      throw conflict('SubnetInUse', `Unable to complete operation on subnet ${id}: One or more ports have an IP allocation from this subnet.`);
    }
    await trx.deleteFrom('neutron_ipallocations').where('subnet_id', '=', id).execute();
    await deleteTags(trx, 'subnets', id);
    await trx.deleteFrom('neutron_subnets').where('id', '=', id).execute();
    await bump(trx, 'neutron_networks', s.dict.network_id as string, stamp());
  });
  reply.code(204);
}

export const subnetsModule: ApiModule = {
  name: 'subnets',
  extensions: [],
  routes: (ctx) => ({
    '/v2.0/subnets': { GET: (req) => list(ctx, req), POST: (req, reply) => create(ctx, req, reply) },
    '/v2.0/subnets/{id}': { GET: (req) => show(ctx, req), PUT: (req) => update(ctx, req), DELETE: (req, reply) => remove(ctx, req, reply) },
  }),
};

