// /v2.0/floatingips (neutron/db/l3_db.py): an address of a router:external network's IPv4 subnet,
// held by a port owned network:floatingip (project '', device_id = the floating IP, never shown to
// the project as its own), associated with one fixed IPv4 address of a port whose subnet is an
// interface of a router with its gateway on that external network (else 404
// ExternalGatewayForFloatingIPNotFound). Status: ACTIVE while associated, DOWN otherwise. A fixed
// port deleted through the port API leaves the floating IP disassociated (the association is read
// through a join with the live port, and cleared on the next write).

import type { FastifyRequest } from 'fastify';
import type { NetworkContext, Caller } from '../context.js';
import { caller, enforce, stripByPolicy, target } from '../context.js';
import { isUniqueViolation } from '../../common/db/index.js';
import type { Db, Tx } from '../store/tx.js';
import { bump, deleteTags, newId, tagsOf } from '../store/common.js';
import { badRequest, badResource, checkRevision, checkString, conflict, invalidInput, isUuidLike, notFound, pyRepr, resourceBody, stamp } from './http.js';
import { checkAttrs, ownerOf } from './attrs.js';
import { checkQuota } from './quota.js';
import { fieldsOf, listResponse, project, type Obj } from './list.js';
import { formatIp, parseIp } from '../ipaddr.js';
import { deleteL3Port, externalNetwork, insertL3Port, l3Tx, OWNER_FIP, OWNER_GW, OWNER_INTF } from './routers.js';
import type { ApiModule } from './router.js';
import type { IpRequest } from '../ipam.js';
import { canSeeNetwork, loadNetworkRows, netAccess } from './networks.js';

type Row = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const KNOWN = ['id', 'tenant_id', 'project_id', 'description', 'floating_ip_address', 'floating_network_id', 'router_id', 'port_id', 'fixed_ip_address',
  'status', 'subnet_id', 'tags', 'created_at', 'updated_at', 'revision_number', 'dns_name', 'dns_domain', 'qos_policy_id', 'port_details', 'port_forwardings'];
const POST = ['tenant_id', 'project_id', 'description', 'floating_ip_address', 'floating_network_id', 'port_id', 'fixed_ip_address', 'subnet_id'];
const PUT = ['description', 'port_id', 'fixed_ip_address'];

const fipNotFound = (id: string) => notFound('FloatingIPNotFound', `Floating IP ${id} could not be found`);

/** Rows with the association as it stands: a fixed port that no longer exists means none. */
async function loadRows(db: Db | Tx, where?: { ids?: string[]; project?: string }): Promise<Row[]> {
  let q = db.selectFrom('neutron_floatingips as f').leftJoin('neutron_ports as p', 'p.id', 'f.fixed_port_id').selectAll('f')
    .select(['p.id as live_port', 'p.name as p_name', 'p.network_id as p_network_id', 'p.mac_address as p_mac', 'p.admin_state_up as p_up', 'p.status as p_status', 'p.device_id as p_device_id', 'p.device_owner as p_device_owner']);
  if (where?.ids) { if (!where.ids.length) return []; q = q.where('f.id', 'in', where.ids); }
  if (where?.project !== undefined) q = q.where('f.project_id', '=', where.project);
  const rows = (await q.execute()) as Row[];
  for (const r of rows) {
    if (r.fixed_port_id && !r.live_port) Object.assign(r, { stale: true, fixed_port_id: null, fixed_ip_address: null, router_id: null, status: 'DOWN' });
  }
  return rows;
}

async function fipDicts(db: Db | Tx, rows: Row[]): Promise<Obj[]> {
  const tags = await tagsOf(db, 'floatingips', rows.map((r) => r.id));
  return rows.map((r) => ({
    id: r.id, tenant_id: r.project_id, project_id: r.project_id, floating_ip_address: r.floating_ip_address, floating_network_id: r.floating_network_id,
    router_id: r.router_id ?? null, port_id: r.fixed_port_id ?? null, fixed_ip_address: r.fixed_ip_address ?? null, status: r.status,
    // fip-port-details: the associated port's summary.
    port_details: r.fixed_port_id ? { name: r.p_name, network_id: r.p_network_id, mac_address: r.p_mac, admin_state_up: Boolean(Number(r.p_up)), status: r.p_status, device_id: r.p_device_id, device_owner: r.p_device_owner } : null,
    description: r.description, tags: tags.get(r.id) ?? [], created_at: r.created_at, updated_at: r.updated_at, revision_number: Number(r.revision_number),
  }));
}

const shown = (ctx: NetworkContext, c: Caller, d: Obj): Obj => stripByPolicy(ctx, c, 'floatingip', d, target(d));

async function getRow(ctx: NetworkContext, db: Db | Tx, c: Caller, id: string): Promise<Row> {
  const [r] = await loadRows(db, { ids: [id] });
  if (!r || !ctx.policy.check('get_floatingip', target({ ...r }), c.creds)) throw fipNotFound(id);
  return r;
}

async function showFip(ctx: NetworkContext, c: Caller, id: string): Promise<Obj> {
  return shown(ctx, c, (await fipDicts(ctx.db, [await getRow(ctx, ctx.db, c, id)]))[0]!);
}

interface Assoc { port_id: string | null; fixed_ip_address: string | null; router_id: string | null }

/**
 * _check_and_get_fip_assoc: the internal port (the caller's, or any for an admin), its one IPv4
 * address or the one asked for, and the router that joins its subnet to the floating network.
 */
async function association(trx: Tx, c: Caller, fip: { id: string; project_id: string; floating_network_id: string; floating_ip_address: string | null; current_port?: string | null }, portId: unknown, fixedIp: unknown): Promise<Assoc> {
  if (fixedIp !== undefined && fixedIp !== null && (portId === undefined || portId === null)) throw badResource('floatingip', 'fixed_ip_address cannot be specified without a port_id');
  if (portId === undefined || portId === null) return { port_id: null, fixed_ip_address: null, router_id: null };
  if (!isUuidLike(portId)) throw invalidInput(`'${pyRepr(portId)}' is not a valid UUID`);
  let wantIp: string | undefined;
  if (fixedIp !== undefined && fixedIp !== null) {
    const ip = parseIp(fixedIp);
    if (!ip) throw invalidInput(`'${pyRepr(fixedIp)}' is not a valid IP address`);
    wantIp = formatIp(ip);
  }
  const port = (await trx.selectFrom('neutron_ports').selectAll().where('id', '=', portId).executeTakeFirst()) as Row | undefined;
  if (!port) throw notFound('PortNotFound', `Port ${portId} could not be found.`);
  if (!c.isAdmin && port.project_id !== c.projectId) {
    // A port of a network the caller owns is visible to it (Neutron's port query); any other is not found.
    const net = await trx.selectFrom('neutron_networks').select('project_id').where('id', '=', port.network_id).executeTakeFirst() as Row | undefined;
    if (net?.project_id !== c.projectId) throw notFound('PortNotFound', `Port ${portId} could not be found.`);
  }
  if (port.project_id !== fip.project_id && !c.isAdmin) {
    throw badResource('floatingip', `Cannot process floating IP association with Port ${portId}, since that port is owned by a different tenant`);
  }
  if (String(port.device_owner).startsWith('network:')) throw badResource('floatingip', `Port ${portId} is unable to be assigned a floating IP`);
  const fixed = (await trx.selectFrom('neutron_ipallocations').select(['subnet_id', 'ip_address']).where('port_id', '=', portId).execute()) as Row[];
  let chosen: Row | undefined;
  if (wantIp) {
    if (wantIp.includes(':')) throw badResource('floatingip', `Cannot process floating IP association with ${wantIp}, since that is not an IPv4 address`);
    chosen = fixed.find((f) => f.ip_address === wantIp);
    if (!chosen) throw badResource('floatingip', `Port ${portId} does not have fixed ip ${wantIp}`);
  } else {
    const v4 = fixed.filter((f) => !String(f.ip_address).includes(':'));
    if (!v4.length) throw badResource('floatingip', `Cannot add floating IP to port ${portId} that has no fixed IPv4 addresses`);
    if (v4.length > 1) throw badResource('floatingip', `Port ${portId} has multiple fixed IPv4 addresses.  Must provide a specific IPv4 address when assigning a floating IP`);
    chosen = v4[0];
  }
  // get_router_for_floatingip: routers with an interface on the subnet and a gateway on the
  // floating network; the one whose interface is the subnet's gateway wins, else the first.
  const cands = (await trx.selectFrom('neutron_ports as i').innerJoin('neutron_ipallocations as a', 'a.port_id', 'i.id')
    .innerJoin('neutron_ports as g', 'g.device_id', 'i.device_id')
    .select(['i.device_id as router_id', 'a.ip_address']).where('i.device_owner', '=', OWNER_INTF).where('i.network_id', '=', port.network_id)
    .where('a.subnet_id', '=', chosen!.subnet_id).where('g.device_owner', '=', OWNER_GW).where('g.network_id', '=', fip.floating_network_id)
    .orderBy('i.created_at').execute()) as Row[];
  if (!cands.length) {
    throw notFound('ExternalGatewayForFloatingIPNotFound', `External network ${fip.floating_network_id} is not reachable from subnet ${String(chosen!.subnet_id)}.  Therefore, cannot associate Port ${portId} with a Floating IP.`);
  }
  const subnet = await trx.selectFrom('neutron_subnets').select('gateway_ip').where('id', '=', chosen!.subnet_id).executeTakeFirst() as Row | undefined;
  const router = cands.find((x) => x.ip_address === subnet?.gateway_ip) ?? cands[0]!;
  if (portId !== fip.current_port) {
    const other = (await trx.selectFrom('neutron_floatingips').select('id').where('fixed_port_id', '=', portId).where('floating_network_id', '=', fip.floating_network_id)
      .where('fixed_ip_address', '=', chosen!.ip_address).where('id', '!=', fip.id).executeTakeFirst()) as Row | undefined;
    if (other) throw alreadyAssociated(fip, portId, chosen!.ip_address);
  }
  return { port_id: portId, fixed_ip_address: chosen!.ip_address, router_id: router.router_id };
}

function alreadyAssociated(fip: { id: string; floating_network_id: string; floating_ip_address: string | null }, portId: string, fixedIp: string) {
  return conflict('FloatingIPPortAlreadyAssociated', `Cannot associate floating IP ${fip.floating_ip_address ?? 'None'} (${fip.id}) with port ${portId} using fixed IP ${fixedIp}, as that fixed IP already has a floating IP on external network ${fip.floating_network_id}.`);
}

// ---- handlers ------------------------------------------------------------------------------------

const LIST = {
  collection: 'floatingips',
  filters: ['id', 'tenant_id', 'project_id', 'description', 'floating_ip_address', 'floating_network_id', 'router_id', 'port_id', 'fixed_ip_address', 'status',
    'revision_number', 'created_at', 'updated_at'],
  sorts: ['id', 'tenant_id', 'project_id', 'description', 'floating_ip_address', 'floating_network_id', 'router_id', 'port_id', 'fixed_ip_address', 'status',
    'revision_number', 'created_at', 'updated_at'],
};

async function list(ctx: NetworkContext, req: FastifyRequest): Promise<Obj> {
  const c = caller(ctx, req);
  const rows = (await loadRows(ctx.db, c.isAdmin ? {} : { project: c.projectId })).filter((r) => ctx.policy.check('get_floatingip', target({ ...r }), c.creds));
  const dicts = (await fipDicts(ctx.db, rows)).map((d) => shown(ctx, c, d));
  return listResponse(req, { ...LIST, maxLimit: ctx.cfg.network.pagination_max_limit }, dicts);
}

async function create(ctx: NetworkContext, req: FastifyRequest, reply: { code(n: number): unknown }): Promise<Obj> {
  const c = caller(ctx, req);
  const raw = resourceBody(req, 'floatingip');
  const body = { ...raw };
  checkAttrs(body, KNOWN, POST, 'POST');
  const owner = ownerOf(body, c);
  if (body.floating_network_id === undefined) throw badRequest("Failed to parse request. Required attribute 'floating_network_id' not specified");
  if (!isUuidLike(body.floating_network_id)) throw invalidInput(`'${pyRepr(body.floating_network_id)}' is not a valid UUID`);
  const attrs = Object.keys(raw).filter((k) => k !== 'tenant_id' && k !== 'project_id');
  enforce(ctx, c, 'create_floatingip', target({ ...body, project_id: owner }), attrs);
  const description = body.description === undefined ? '' : checkString('description', body.description, 255);
  const netId = body.floating_network_id;
  const req1: IpRequest = {};
  if (body.floating_ip_address !== undefined && body.floating_ip_address !== null) {
    const ip = parseIp(body.floating_ip_address);
    if (!ip || ip.version !== 4) throw invalidInput(`'${pyRepr(body.floating_ip_address)}' is not a valid IP address`);
    req1.ip_address = formatIp(ip);
  }
  if (body.subnet_id !== undefined && body.subnet_id !== null) {
    if (!isUuidLike(body.subnet_id)) throw invalidInput(`'${pyRepr(body.subnet_id)}' is not a valid UUID`);
    req1.subnet_id = body.subnet_id;
  }
  await externalNetwork(ctx, ctx.db, c, netId, 'floatingip');
  const v4 = (await ctx.db.selectFrom('neutron_subnets').select(['id']).where('network_id', '=', netId).where('ip_version', '=', 4).orderBy('created_at').orderBy('id').execute()) as Row[];
  if (!v4.length) throw badResource('floatingip', `Network ${netId} does not contain any IPv4 subnet`);
  const id = newId();
  const now = stamp();
  try {
    await l3Tx(ctx, async (trx) => {
      await checkQuota(ctx, trx, owner, 'floatingip');
      // Without an address or subnet asked for, the first IPv4 subnet with room.
      let port: Awaited<ReturnType<typeof insertL3Port>> | undefined;
      const tries: IpRequest[][] = req1.ip_address || req1.subnet_id ? [[req1]] : v4.map((s) => [{ subnet_id: s.id as string }]);
      for (const [i, t] of tries.entries()) {
        try {
          port = await insertL3Port(ctx, trx, { project_id: '', network_id: netId, device_owner: OWNER_FIP, device_id: id, status: 'N/A', requests: t });
          break;
        } catch (e) {
          if ((e as { detail?: { type?: string } }).detail?.type !== 'IpAddressGenerationFailure' || i === tries.length - 1) throw e;
          await trx.deleteFrom('neutron_ports').where('device_id', '=', id).execute();
        }
      }
      const address = port!.fixed[0]!.ip_address;
      const fip = { id, project_id: owner, floating_network_id: netId, floating_ip_address: address };
      const a = await association(trx, c, fip, body.port_id, body.fixed_ip_address);
      await trx.insertInto('neutron_floatingips').values({
        id, project_id: owner, description, revision_number: 0, created_at: now, updated_at: now, floating_ip_address: address, floating_network_id: netId,
        floating_port_id: port!.id, fixed_port_id: a.port_id, fixed_ip_address: a.fixed_ip_address, router_id: a.router_id, status: a.port_id ? 'ACTIVE' : 'DOWN',
      }).execute();
    });
  } catch (e) {
    if (isUniqueViolation(e)) throw conflict('FloatingIPPortAlreadyAssociated', 'The fixed IP already has a floating IP on this external network.');
    throw e;
  }
  reply.code(201);
  return { floatingip: await showFip(ctx, c, id) };
}

async function update(ctx: NetworkContext, req: FastifyRequest): Promise<Obj> {
  const c = caller(ctx, req);
  const id = (req.params as { id: string }).id;
  const raw = resourceBody(req, 'floatingip');
  checkAttrs(raw, KNOWN, PUT, 'PUT');
  const cur = await getRow(ctx, ctx.db, c, id);
  enforce(ctx, c, 'update_floatingip', target({ ...cur, ...raw }), Object.keys(raw));
  checkRevision(req, Number(cur.revision_number));
  const set: Row = {};
  if (raw.description !== undefined) set.description = checkString('description', raw.description, 255);
  await l3Tx(ctx, async (trx) => {
    const [row] = await loadRows(trx, { ids: [id] });
    if (!row) throw fipNotFound(id);
    // port_id null clears the association; a body with only fixed_ip_address re-targets the same port.
    if ('port_id' in raw || 'fixed_ip_address' in raw) {
      const portId = 'port_id' in raw ? raw.port_id : row.fixed_port_id;
      const a = await association(trx, c, { id, project_id: row.project_id, floating_network_id: row.floating_network_id, floating_ip_address: row.floating_ip_address, current_port: row.fixed_port_id }, portId, raw.fixed_ip_address);
      Object.assign(set, { fixed_port_id: a.port_id, fixed_ip_address: a.fixed_ip_address, router_id: a.router_id, status: a.port_id ? 'ACTIVE' : 'DOWN' });
    } else if (row.stale) {
      Object.assign(set, { fixed_port_id: null, fixed_ip_address: null, router_id: null, status: 'DOWN' });
    }
    if (Object.keys(set).length) await trx.updateTable('neutron_floatingips').set(set).where('id', '=', id).execute();
    await bump(trx, 'neutron_floatingips', id, stamp());
  }).catch((e: unknown) => {
    if (isUniqueViolation(e)) throw conflict('FloatingIPPortAlreadyAssociated', 'The fixed IP already has a floating IP on this external network.');
    throw e;
  });
  return { floatingip: await showFip(ctx, c, id) };
}

async function remove(ctx: NetworkContext, req: FastifyRequest, reply: { code(n: number): unknown }): Promise<void> {
  const c = caller(ctx, req);
  const id = (req.params as { id: string }).id;
  const r = await getRow(ctx, ctx.db, c, id);
  enforce(ctx, c, 'delete_floatingip', target({ ...r }));
  checkRevision(req, Number(r.revision_number));
  await l3Tx(ctx, async (trx) => {
    await deleteL3Port(trx, r.floating_port_id);
    await deleteTags(trx, 'floatingips', id);
    await trx.deleteFrom('neutron_floatingips').where('id', '=', id).execute();
  });
  reply.code(204);
}

/** GET /v2.0/floatingip-pools (l3_fip_pools_db): the IPv4 subnets of the external networks the caller can use. */
async function pools(ctx: NetworkContext, req: FastifyRequest): Promise<Obj> {
  const c = caller(ctx, req);
  enforce(ctx, c, 'get_floatingip_pool', { project_id: c.projectId, tenant_id: c.projectId });
  const acc = await netAccess(ctx.db, c);
  const nets = (await loadNetworkRows(ctx.db)).filter((n) => Number(n.external) && canSeeNetwork(c, n, acc)).map((n) => n.id as string);
  const subs = nets.length ? (await ctx.db.selectFrom('neutron_subnets').select(['id', 'name', 'network_id', 'cidr']).where('network_id', 'in', nets).where('ip_version', '=', 4).execute()) as Row[] : [];
  const items = subs.map((s) => ({ subnet_id: s.id, subnet_name: s.name, tenant_id: c.projectId, network_id: s.network_id, cidr: s.cidr }));
  const keys = ['subnet_id', 'subnet_name', 'tenant_id', 'network_id', 'cidr'];
  return listResponse(req, { collection: 'floatingip_pools', filters: keys, sorts: keys, maxLimit: ctx.cfg.network.pagination_max_limit }, items);
}

export const floatingIpsModule: ApiModule = {
  name: 'floatingips',
  extensions: [
    { alias: 'floatingip-pools', name: 'Floating IP Pools Extension', description: 'Provides a floating IP pools API.', updated: '2018-03-21T10:00:00-00:00' },
    { alias: 'fip-port-details', name: 'Floating IP Port Details Extension', description: 'Add port_details attribute to Floating IP resource', updated: '2018-04-09T10:00:00-00:00' },
  ],
  routes: (ctx) => ({
    '/v2.0/floatingips': { GET: (req) => list(ctx, req), POST: (req, reply) => create(ctx, req, reply) },
    '/v2.0/floatingip-pools': { GET: (req) => pools(ctx, req) },
    '/v2.0/floatingips/{id}': {
      GET: async (req) => { const c = caller(ctx, req); return { floatingip: project(await showFip(ctx, c, (req.params as { id: string }).id), fieldsOf(req)) }; },
      PUT: (req) => update(ctx, req), DELETE: (req, reply) => remove(ctx, req, reply),
    },
  }),
};
