// /v2.0/subnetpools and prefix allocation (neutron/ipam/subnet_alloc.py): a pool of prefixes of
// one IP version with min/default/max prefix lengths; a subnet asking a pool for a prefix length
// (or the default) gets the first free block, and a subnet naming a cidr must lie in the pool and
// not overlap what the pool already gave.

import type { FastifyRequest } from 'fastify';
import type { NetworkContext, Caller } from '../context.js';
import { caller, enforce, stripByPolicy, target } from '../context.js';
import { writeTx, type Tx } from '../store/tx.js';
import { b, bump, deleteTags, json, newId, parse, tagsOf } from '../store/common.js';
import { badRequest, checkRevision, checkString, conflict, invalidInput, nerr, notFound, pyRepr, resourceBody, stamp, toBoolean } from './http.js';
import { checkAttrs, ownerOf } from './attrs.js';
import { checkQuota } from './quota.js';
import { fieldsOf, listResponse, project, type Obj } from './list.js';
import { bits, cidrText, first, last, overlaps, parseCidr, size, type Cidr } from '../ipaddr.js';
import type { ApiModule } from './router.js';

type Row = Record<string, unknown>;
const KNOWN = ['id', 'name', 'description', 'tenant_id', 'project_id', 'prefixes', 'default_prefixlen', 'min_prefixlen', 'max_prefixlen',
  'shared', 'is_default', 'default_quota', 'address_scope_id', 'ip_version', 'created_at', 'updated_at', 'revision_number', 'tags'];
const POST = ['name', 'description', 'tenant_id', 'project_id', 'prefixes', 'default_prefixlen', 'min_prefixlen', 'max_prefixlen', 'shared', 'is_default', 'default_quota', 'address_scope_id'];
const PUT = ['name', 'description', 'prefixes', 'default_prefixlen', 'min_prefixlen', 'max_prefixlen', 'is_default', 'default_quota', 'address_scope_id'];

function dict(r: Row, tags: string[]): Obj {
  return {
    id: r.id, name: r.name, tenant_id: r.project_id, project_id: r.project_id, prefixes: parse<string[]>(r.prefixes, []),
    default_prefixlen: Number(r.default_prefixlen), min_prefixlen: Number(r.min_prefixlen), max_prefixlen: Number(r.max_prefixlen),
    shared: Boolean(Number(r.shared)), is_default: Boolean(Number(r.is_default)), default_quota: r.default_quota === null || r.default_quota === undefined ? null : Number(r.default_quota),
    address_scope_id: r.address_scope_id ?? null, ip_version: Number(r.ip_version), description: r.description, tags,
    created_at: r.created_at, updated_at: r.updated_at, revision_number: Number(r.revision_number),
  };
}

const visible = (c: Caller, r: Row) => c.isAdmin || r.project_id === c.projectId || Boolean(Number(r.shared));

async function getPool(ctx: NetworkContext, db: NetworkContext['db'] | Tx, c: Caller, id: string): Promise<Obj> {
  const r = (await db.selectFrom('neutron_subnetpools').selectAll().where('id', '=', id).executeTakeFirst()) as Row | undefined;
  if (!r || !visible(c, r)) throw notFound('SubnetPoolNotFound', `Subnet pool ${id} could not be found.`);
  const d = dict(r, (await tagsOf(db, 'subnetpools', [id])).get(id) ?? []);
  if (!ctx.policy.check('get_subnetpool', target(d), c.creds)) throw notFound('SubnetPoolNotFound', `Subnet pool ${id} could not be found.`);
  return d;
}

/** netaddr.cidr_merge of the pool's prefixes (enough for the usual non-adjacent lists). */
function compact(prefixes: Cidr[]): Cidr[] {
  const sorted = [...prefixes].sort((a, z) => (a.net < z.net ? -1 : a.net > z.net ? 1 : a.prefix - z.prefix));
  const out: Cidr[] = [];
  for (const p of sorted) {
    const prev = out[out.length - 1];
    if (prev && first(p) >= first(prev) && last(p) <= last(prev)) continue;
    out.push(p);
  }
  return out;
}

function readPrefixes(v: unknown): Cidr[] {
  if (!Array.isArray(v)) throw invalidInput(`'${pyRepr(v)}' is not a list`);
  if (!v.length) throw badRequest('Empty subnet pool prefix list.', 'EmptySubnetPoolPrefixList');
  const out = v.map((p) => { const c = parseCidr(p); if (!c) throw invalidInput(`'${pyRepr(p)}' is not a valid IP subnet`); return c; });
  if (new Set(out.map((c) => c.version)).size > 1) throw badRequest('Cannot mix IPv4 and IPv6 prefixes in a subnet pool.', 'PrefixVersionMismatch');
  return compact(out);
}

function intOr(v: unknown, d: number): number {
  if (v === undefined || v === null) return d;
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n)) throw invalidInput(`'${pyRepr(v)}' is not an integer`);
  return n;
}

function bounds(version: 4 | 6, body: Obj, cur?: Obj): { min: number; max: number; dflt: number } {
  const min = intOr(body.min_prefixlen, cur ? Number(cur.min_prefixlen) : version === 4 ? 8 : 64);
  const max = intOr(body.max_prefixlen, cur ? Number(cur.max_prefixlen) : bits(version));
  const dflt = intOr(body.default_prefixlen, cur ? Number(cur.default_prefixlen) : min);
  if (max > bits(version)) throw badRequest(`Illegal prefix bounds: max_prefixlen=${max}, base_prefix_type=${bits(version)}.`, 'IllegalSubnetPoolPrefixBounds');
  if (min > max) throw badRequest(`Illegal prefix bounds: min_prefixlen=${min}, max_prefixlen=${max}.`, 'IllegalSubnetPoolPrefixBounds');
  if (dflt < min || dflt > max) throw badRequest(`Illegal prefix bounds: default_prefixlen=${dflt}, min_prefixlen=${min}, max_prefixlen=${max}.`, 'IllegalSubnetPoolPrefixBounds');
  return { min, max, dflt };
}

/** The subnet's prefix from pool `id`: the requested cidr checked, or the first free block of `prefixlen`. */
export async function allocateFromPool(ctx: NetworkContext, trx: Tx, c: Caller, id: string, version: number, cidr: Cidr | undefined, prefixlen: number | undefined): Promise<Cidr> {
  const pool = await getPool(ctx, trx, c, id);
  if (Number(pool.ip_version) !== version) throw invalidInput(`Cannot allocate IPv${version} subnet from IPv${String(pool.ip_version)} subnet pool`);
  const prefixes = (pool.prefixes as string[]).map((p) => parseCidr(p)!);
  const taken = ((await trx.selectFrom('neutron_subnets').select('cidr').where('subnetpool_id', '=', id).execute()) as { cidr: string }[]).map((r) => parseCidr(r.cidr)!);
  const min = Number(pool.min_prefixlen); const max = Number(pool.max_prefixlen);
  if (cidr) {
    if (cidr.prefix < min) throw badRequest(`Unable to allocate subnet with prefix length ${cidr.prefix}, minimum allowed prefix is ${min}.`, 'MinPrefixSubnetAllocationError');
    if (cidr.prefix > max) throw badRequest(`Unable to allocate subnet with prefix length ${cidr.prefix}, maximum allowed prefix is ${max}.`, 'MaxPrefixSubnetAllocationError');
    if (!prefixes.some((p) => first(cidr) >= first(p) && last(cidr) <= last(p)) || taken.some((t) => overlaps(t, cidr))) {
      throw nerr('ServiceUnavailable', 'SubnetAllocationError', `Failed to allocate subnet: Cannot allocate requested subnet from the available set of prefixes.`);
    }
    return cidr;
  }
  const len = prefixlen ?? Number(pool.default_prefixlen);
  if (len < min) throw badRequest(`Unable to allocate subnet with prefix length ${len}, minimum allowed prefix is ${min}.`, 'MinPrefixSubnetAllocationError');
  if (len > max) throw badRequest(`Unable to allocate subnet with prefix length ${len}, maximum allowed prefix is ${max}.`, 'MaxPrefixSubnetAllocationError');
  for (const p of prefixes) {
    if (p.prefix > len) continue;
    const step = 1n << BigInt(bits(p.version) - len);
    for (let net = first(p); net + step - 1n <= last(p); net += step) {
      const cand: Cidr = { version: p.version, net, prefix: len };
      const clash = taken.find((t) => overlaps(t, cand));
      if (!clash) return cand;
      if (last(clash) > net + step - 1n) net = last(clash) + 1n - step; // skip past a larger allocation
    }
  }
  void size;
  throw nerr('ServiceUnavailable', 'SubnetAllocationError', 'Failed to allocate subnet: Insufficient prefix space to allocate subnet size /' + len + '.');
}

const LIST = {
  collection: 'subnetpools',
  filters: ['id', 'name', 'tenant_id', 'project_id', 'default_prefixlen', 'min_prefixlen', 'max_prefixlen', 'shared', 'is_default', 'address_scope_id', 'ip_version', 'description', 'revision_number', 'default_quota'],
  sorts: ['id', 'name', 'tenant_id', 'project_id', 'default_prefixlen', 'min_prefixlen', 'max_prefixlen', 'shared', 'is_default', 'ip_version', 'description', 'created_at', 'updated_at', 'revision_number'],
  booleans: ['shared', 'is_default'],
};

async function list(ctx: NetworkContext, req: FastifyRequest): Promise<Obj> {
  const c = caller(ctx, req);
  const rows = ((await ctx.db.selectFrom('neutron_subnetpools').selectAll().execute()) as Row[]).filter((r) => visible(c, r));
  const tags = await tagsOf(ctx.db, 'subnetpools', rows.map((r) => r.id as string));
  const dicts = rows.map((r) => dict(r, tags.get(r.id as string) ?? [])).filter((d) => ctx.policy.check('get_subnetpool', target(d), c.creds))
    .map((d) => stripByPolicy(ctx, c, 'subnetpool', d, target(d)));
  return listResponse(req, { ...LIST, maxLimit: ctx.cfg.network.pagination_max_limit }, dicts);
}

async function create(ctx: NetworkContext, req: FastifyRequest, reply: { code(n: number): unknown }): Promise<Obj> {
  const c = caller(ctx, req);
  const raw = resourceBody(req, 'subnetpool');
  const body = { ...raw };
  checkAttrs(body, KNOWN, POST, 'POST');
  const owner = ownerOf(body, c);
  if (body.prefixes === undefined) throw badRequest("Failed to parse request. Required attribute 'prefixes' not specified");
  if (body.name === undefined) throw badRequest("Failed to parse request. Required attribute 'name' not specified");
  const prefixes = readPrefixes(body.prefixes);
  const version = prefixes[0]!.version;
  const { min, max, dflt } = bounds(version, body);
  const shared = body.shared === undefined ? false : toBoolean(body.shared);
  const isDefault = body.is_default === undefined ? false : toBoolean(body.is_default);
  enforce(ctx, c, 'create_subnetpool', target({ ...body, project_id: owner, shared, is_default: isDefault }),
    Object.keys(raw).filter((k) => !(k === 'shared' && !shared) && !(k === 'is_default' && !isDefault) && k !== 'tenant_id' && k !== 'project_id'));
  if (body.address_scope_id !== undefined && body.address_scope_id !== null) throw notFound('AddressScopeNotFound', `Address scope ${String(body.address_scope_id)} could not be found.`);
  const id = newId(); const now = stamp();
  await writeTx(ctx, async (trx) => {
    await checkQuota(ctx, trx, owner, 'subnetpool');
    if (isDefault) {
      const other = await trx.selectFrom('neutron_subnetpools').select('id').where('is_default', '=', 1).where('ip_version', '=', version).executeTakeFirst();
      if (other) throw invalidInput(`A default subnetpool for this IP family has already been set. Only one default may exist per IP family`);
    }
    await trx.insertInto('neutron_subnetpools').values({
      id, name: checkString('name', body.name, 255), project_id: owner, description: body.description === undefined ? '' : checkString('description', body.description, 255),
      revision_number: 0, created_at: now, updated_at: now, ip_version: version, prefixes: json(prefixes.map(cidrText)),
      default_prefixlen: dflt, min_prefixlen: min, max_prefixlen: max, shared: b(shared), is_default: b(isDefault),
      default_quota: body.default_quota === undefined || body.default_quota === null ? null : intOr(body.default_quota, 0), address_scope_id: null,
    }).execute();
  });
  reply.code(201);
  const d = await getPool(ctx, ctx.db, c, id);
  return { subnetpool: stripByPolicy(ctx, c, 'subnetpool', d, target(d)) };
}

async function update(ctx: NetworkContext, req: FastifyRequest): Promise<Obj> {
  const c = caller(ctx, req);
  const id = (req.params as { id: string }).id;
  const raw = resourceBody(req, 'subnetpool');
  checkAttrs(raw, KNOWN, PUT, 'PUT');
  const cur = await getPool(ctx, ctx.db, c, id);
  enforce(ctx, c, 'update_subnetpool', target({ ...cur, ...raw }), Object.keys(raw));
  checkRevision(req, Number(cur.revision_number));
  const version = Number(cur.ip_version) as 4 | 6;
  const set: Row = {};
  if (raw.name !== undefined) set.name = checkString('name', raw.name, 255);
  if (raw.description !== undefined) set.description = checkString('description', raw.description, 255);
  if (raw.prefixes !== undefined) {
    const p = readPrefixes(raw.prefixes);
    if (p[0]!.version !== version) throw badRequest('Cannot mix IPv4 and IPv6 prefixes in a subnet pool.', 'PrefixVersionMismatch');
    const old = (cur.prefixes as string[]).map((x) => parseCidr(x)!);
    // Prefixes may only grow: every old prefix must stay covered.
    if (!old.every((o) => p.some((n) => first(o) >= first(n) && last(o) <= last(n)))) {
      throw badRequest('Illegal update to prefixes: Existing prefixes must be a subset of the new prefixes.', 'IllegalSubnetPoolPrefixUpdate');
    }
    set.prefixes = json(p.map(cidrText));
  }
  if (raw.min_prefixlen !== undefined || raw.max_prefixlen !== undefined || raw.default_prefixlen !== undefined) {
    const bd = bounds(version, raw, cur);
    if (raw.min_prefixlen !== undefined && bd.min > Number(cur.min_prefixlen)) throw badRequest(`Illegal subnetpool update : min_prefixlen cannot be increased.`, 'IllegalSubnetPoolUpdate');
    if (raw.max_prefixlen !== undefined && bd.max < Number(cur.max_prefixlen)) throw badRequest(`Illegal subnetpool update : max_prefixlen cannot be decreased.`, 'IllegalSubnetPoolUpdate');
    Object.assign(set, { min_prefixlen: bd.min, max_prefixlen: bd.max, default_prefixlen: bd.dflt });
  }
  if (raw.is_default !== undefined) set.is_default = b(toBoolean(raw.is_default));
  if (raw.default_quota !== undefined) set.default_quota = raw.default_quota === null ? null : intOr(raw.default_quota, 0);
  if (raw.address_scope_id !== undefined && raw.address_scope_id !== null) throw notFound('AddressScopeNotFound', `Address scope ${String(raw.address_scope_id)} could not be found.`);
  await writeTx(ctx, async (trx) => {
    if (Object.keys(set).length) await trx.updateTable('neutron_subnetpools').set(set).where('id', '=', id).execute();
    await bump(trx, 'neutron_subnetpools', id, stamp());
  });
  const d = await getPool(ctx, ctx.db, c, id);
  return { subnetpool: stripByPolicy(ctx, c, 'subnetpool', d, target(d)) };
}

async function remove(ctx: NetworkContext, req: FastifyRequest, reply: { code(n: number): unknown }): Promise<void> {
  const c = caller(ctx, req);
  const id = (req.params as { id: string }).id;
  const cur = await getPool(ctx, ctx.db, c, id);
  enforce(ctx, c, 'delete_subnetpool', target(cur));
  await writeTx(ctx, async (trx) => {
    const used = await trx.selectFrom('neutron_subnets').select('id').where('subnetpool_id', '=', id).executeTakeFirst();
    if (used) throw conflict('SubnetPoolInUse', `Unable to complete operation on subnet pool ${id}. Subnets are still allocated from the pool.`);
    await deleteTags(trx, 'subnetpools', id);
    await trx.deleteFrom('neutron_subnetpools').where('id', '=', id).execute();
  });
  reply.code(204);
}

export const subnetpoolsModule: ApiModule = {
  name: 'subnetpools',
  extensions: [
    { alias: 'subnet_allocation', name: 'Subnet Allocation', description: 'Enables allocation of subnets from a subnet pool', updated: '2015-03-30T10:00:00-00:00' },
    { alias: 'default-subnetpools', name: 'Default Subnetpools', description: 'Provides ability to mark and use a subnetpool as the default.', updated: '2016-02-18T18:00:00-00:00' },
  ],
  routes: (ctx) => ({
    '/v2.0/subnetpools': { GET: (req) => list(ctx, req), POST: (req, reply) => create(ctx, req, reply) },
    '/v2.0/subnetpools/{id}': {
      GET: async (req) => { const c = caller(ctx, req); const d = await getPool(ctx, ctx.db, c, (req.params as { id: string }).id); return { subnetpool: project(stripByPolicy(ctx, c, 'subnetpool', d, target(d)), fieldsOf(req)) }; },
      PUT: (req) => update(ctx, req), DELETE: (req, reply) => remove(ctx, req, reply),
    },
  }),
};
