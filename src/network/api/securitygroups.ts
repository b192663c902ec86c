// /v2.0/security-groups and /v2.0/security-group-rules (neutron/db/securitygroups_db.py): a
// default group per project created on first need (listing groups, creating a group or a port)
// with Neutron's four default rules; rule validation and canonical forms (protocol names and
// numbers, legacy IPv6 ICMP names, full port range as none, ICMP type/code), duplicate rules 409
// SecurityGroupRuleExists; the default group cannot be renamed or removed by its project, and a
// group used by a port is 409 SecurityGroupInUse.

import type { FastifyRequest } from 'fastify';
import type { NetworkContext, Caller } from '../context.js';
import { caller, enforce, stripByPolicy, target } from '../context.js';
import { isUniqueViolation } from '../../common/db/index.js';
import { writeTx, type Db, type Tx } from '../store/tx.js';
import { b, bump, deleteTags, newId, tagsOf } from '../store/common.js';
import { badRequest, checkRevision, checkString, conflict, invalidInput, nerr, notFound, pyRepr, resourceBody, stamp, toBoolean, isUuidLike } from './http.js';
import { checkAttrs, ownerOf } from './attrs.js';
import { checkQuota } from './quota.js';
import { fieldsOf, listResponse, project, type Obj } from './list.js';
import { cidrText, parseCidr } from '../ipaddr.js';
import type { ApiModule } from './router.js';
import { prepared } from '../../common/db/prepared.js';

type Row = Record<string, unknown>;

export const IP_PROTOCOL_MAP: Record<string, number> = { ah: 51, dccp: 33, egp: 8, esp: 50, gre: 47, hopopt: 0, icmp: 1, igmp: 2, ip: 0, ipip: 4,
  'ipv6-encap': 41, 'ipv6-frag': 44, 'ipv6-icmp': 58, icmpv6: 58, 'ipv6-nonxt': 59, 'ipv6-opts': 60, 'ipv6-route': 43, ospf: 89, pgm: 113,
  rsvp: 46, sctp: 132, tcp: 6, udp: 17, udplite: 136, vrrp: 112 };
const PORT_PROTOS = ['dccp', 'sctp', 'tcp', 'udp', 'udplite'];
const PORT_NUMS = [33, 132, 6, 17, 136];
const IPV6_ONLY = ['ipv6-encap', 'ipv6-frag', 'ipv6-icmp', 'icmpv6', 'ipv6-nonxt', 'ipv6-opts', 'ipv6-route', '41', '44', '58', '59', '60', '43'];
const SUPPORTED = `[None, ${Object.keys(IP_PROTOCOL_MAP).map((p) => `'${p}'`).join(', ')}]`;

export function ruleDict(r: Row): Obj {
  const rip = r.remote_ip_prefix as string | null;
  return {
    id: r.id, tenant_id: r.project_id, project_id: r.project_id, security_group_id: r.security_group_id, ethertype: r.ethertype,
    direction: r.direction, protocol: r.protocol ?? null, port_range_min: r.port_range_min ?? null, port_range_max: r.port_range_max ?? null,
    remote_ip_prefix: rip ?? null, remote_address_group_id: r.remote_address_group_id ?? null,
    normalized_cidr: rip ? cidrText(parseCidr(rip)!) : null, remote_group_id: r.remote_group_id ?? null, description: r.description,
    created_at: r.created_at, updated_at: r.updated_at, revision_number: Number(r.revision_number),
  };
}

async function groupDicts(db: Db | Tx, rows: Row[]): Promise<Obj[]> {
  const ids = rows.map((r) => r.id as string);
  const rules = new Map<string, Obj[]>();
  if (ids.length) {
    const q = ids.length > 500 ? db.selectFrom('neutron_sg_rules').selectAll() : db.selectFrom('neutron_sg_rules').selectAll().where('security_group_id', 'in', ids);
    for (const r of (await q.orderBy('created_at').orderBy('id').execute()) as Row[]) {
      (rules.get(r.security_group_id as string) ?? rules.set(r.security_group_id as string, []).get(r.security_group_id as string)!).push(ruleDict(r));
    }
  }
  const tags = await tagsOf(db, 'security-groups', ids);
  return rows.map((r) => ({
    id: r.id, name: r.name, tenant_id: r.project_id, project_id: r.project_id, description: r.description,
    security_group_rules: rules.get(r.id as string) ?? [], stateful: Boolean(Number(r.stateful)), shared: false,
    tags: tags.get(r.id as string) ?? [], created_at: r.created_at, updated_at: r.updated_at, revision_number: Number(r.revision_number),
  }));
}

/** The project's default security group, created with Neutron's default rules when missing. */
const defaultSgOf = prepared<[string], { security_group_id: string }>((db, projectId) => db.selectFrom('neutron_default_security_groups').select('security_group_id').where('project_id', '=', projectId));

export async function ensureDefaultSg(ctx: NetworkContext, projectId: string): Promise<string> {
  if (!projectId) return '';
  const [have] = (await defaultSgOf(ctx.db, projectId)).rows; // every port create asks
  if (have) return have.security_group_id;
  const id = newId(); const now = stamp();
  try {
    await writeTx(ctx, async (trx) => {
      await trx.insertInto('neutron_security_groups').values({ id, name: 'default', project_id: projectId, description: 'Default security group', revision_number: 0, created_at: now, updated_at: now, stateful: 1 }).execute();
      // The primary key on project_id: of two concurrent creators, one commits.
      await trx.insertInto('neutron_default_security_groups').values({ project_id: projectId, security_group_id: id }).execute();
      for (const ethertype of ['IPv4', 'IPv6']) {
        await trx.insertInto('neutron_sg_rules').values({ id: newId(), project_id: projectId, description: '', revision_number: 0, created_at: now, updated_at: now, security_group_id: id, direction: 'egress', ethertype }).execute();
        await trx.insertInto('neutron_sg_rules').values({ id: newId(), project_id: projectId, description: '', revision_number: 0, created_at: now, updated_at: now, security_group_id: id, direction: 'ingress', ethertype, remote_group_id: id }).execute();
      }
    });
  } catch (e) {
    if (!isUniqueViolation(e)) throw e;
  }
  const row = await ctx.db.selectFrom('neutron_default_security_groups').select('security_group_id').where('project_id', '=', projectId).executeTakeFirstOrThrow();
  return (row as { security_group_id: string }).security_group_id;
}

const visibleRow = (c: Caller, r: Row) => c.isAdmin || c.isAdvsvc || r.project_id === c.projectId;

export async function getGroup(ctx: NetworkContext, db: Db | Tx, c: Caller, id: string): Promise<Obj> {
  const r = (await db.selectFrom('neutron_security_groups').selectAll().where('id', '=', id).executeTakeFirst()) as Row | undefined;
  if (!r || !visibleRow(c, r)) throw notFound('SecurityGroupNotFound', `Security group ${id} does not exist`);
  const [d] = await groupDicts(db, [r]);
  if (!ctx.policy.check('get_security_group', target(d!), c.creds)) throw notFound('SecurityGroupNotFound', `Security group ${id} does not exist`);
  return d!;
}

async function isDefault(db: Db | Tx, id: string): Promise<boolean> {
  return Boolean(await db.selectFrom('neutron_default_security_groups').select('project_id').where('security_group_id', '=', id).executeTakeFirst());
}

// ---- groups ------------------------------------------------------------------------------------

const G_KNOWN = ['id', 'name', 'description', 'tenant_id', 'project_id', 'security_group_rules', 'stateful', 'tags', 'created_at', 'updated_at', 'revision_number', 'shared'];
const G_LIST = { collection: 'security_groups', filters: ['id', 'name', 'description', 'tenant_id', 'project_id', 'stateful', 'revision_number', 'created_at', 'updated_at', 'shared'],
  sorts: ['id', 'name', 'description', 'tenant_id', 'project_id', 'stateful', 'revision_number', 'created_at', 'updated_at'], booleans: ['stateful', 'shared'] };

async function listGroups(ctx: NetworkContext, req: FastifyRequest): Promise<Obj> {
  const c = caller(ctx, req);
  await ensureDefaultSg(ctx, c.projectId);
  const rows = ((await ctx.db.selectFrom('neutron_security_groups').selectAll().execute()) as Row[]).filter((r) => visibleRow(c, r));
  const dicts = (await groupDicts(ctx.db, rows)).filter((d) => ctx.policy.check('get_security_group', target(d), c.creds)).map((d) => stripByPolicy(ctx, c, 'security_group', d, target(d)));
  return listResponse(req, { ...G_LIST, maxLimit: ctx.cfg.network.pagination_max_limit }, dicts);
}

async function createGroup(ctx: NetworkContext, req: FastifyRequest, reply: { code(n: number): unknown }): Promise<Obj> {
  const c = caller(ctx, req);
  const raw = resourceBody(req, 'security_group');
  const body = { ...raw };
  checkAttrs(body, G_KNOWN, ['name', 'description', 'tenant_id', 'project_id', 'stateful'], 'POST');
  const owner = ownerOf(body, c);
  const name = body.name === undefined ? '' : checkString('name', body.name, 255);
  if (name.toLowerCase() === 'default') throw conflict('SecurityGroupDefaultAlreadyExists', 'Default security group already exists.');
  const description = body.description === undefined ? '' : checkString('description', body.description, 255);
  const stateful = body.stateful === undefined ? true : toBoolean(body.stateful);
  enforce(ctx, c, 'create_security_group', target({ ...body, project_id: owner }));
  await ensureDefaultSg(ctx, owner);
  const id = newId(); const now = stamp();
  await writeTx(ctx, async (trx) => {
    await checkQuota(ctx, trx, owner, 'security_group');
    await trx.insertInto('neutron_security_groups').values({ id, name, project_id: owner, description, revision_number: 0, created_at: now, updated_at: now, stateful: b(stateful) }).execute();
    for (const ethertype of ['IPv4', 'IPv6']) {
      await trx.insertInto('neutron_sg_rules').values({ id: newId(), project_id: owner, description: '', revision_number: 0, created_at: now, updated_at: now, security_group_id: id, direction: 'egress', ethertype }).execute();
    }
  });
  reply.code(201);
  const d = await getGroup(ctx, ctx.db, c, id);
  return { security_group: stripByPolicy(ctx, c, 'security_group', d, target(d)) };
}

async function updateGroup(ctx: NetworkContext, req: FastifyRequest): Promise<Obj> {
  const c = caller(ctx, req);
  const id = (req.params as { id: string }).id;
  const raw = resourceBody(req, 'security_group');
  checkAttrs(raw, G_KNOWN, ['name', 'description', 'stateful'], 'PUT');
  const cur = await getGroup(ctx, ctx.db, c, id);
  enforce(ctx, c, 'update_security_group', target({ ...cur, ...raw }));
  checkRevision(req, Number(cur.revision_number));
  const set: Row = {};
  if (raw.name !== undefined) {
    const name = checkString('name', raw.name, 255);
    if (await isDefault(ctx.db, id)) { if (name !== 'default') throw conflict('SecurityGroupCannotUpdateDefault', 'Updating default security group not allowed.'); }
    else if (name.toLowerCase() === 'default') throw conflict('SecurityGroupDefaultAlreadyExists', 'Default security group already exists.');
    set.name = name;
  }
  if (raw.description !== undefined) set.description = checkString('description', raw.description, 255);
  if (raw.stateful !== undefined) {
    const st = toBoolean(raw.stateful);
    if (st !== cur.stateful) {
      const used = await ctx.db.selectFrom('neutron_port_security_groups').select('port_id').where('security_group_id', '=', id).executeTakeFirst();
      if (used) throw conflict('SecurityGroupInUse', `Security Group ${id} in use.`);
    }
    set.stateful = b(st);
  }
  await writeTx(ctx, async (trx) => {
    if (Object.keys(set).length) await trx.updateTable('neutron_security_groups').set(set).where('id', '=', id).execute();
    await bump(trx, 'neutron_security_groups', id, stamp());
  });
  const d = await getGroup(ctx, ctx.db, c, id);
  return { security_group: stripByPolicy(ctx, c, 'security_group', d, target(d)) };
}

async function deleteGroup(ctx: NetworkContext, req: FastifyRequest, reply: { code(n: number): unknown }): Promise<void> {
  const c = caller(ctx, req);
  const id = (req.params as { id: string }).id;
  const cur = await getGroup(ctx, ctx.db, c, id);
  enforce(ctx, c, 'delete_security_group', target(cur));
  checkRevision(req, Number(cur.revision_number));
  if (await isDefault(ctx.db, id) && !c.isAdmin) throw conflict('SecurityGroupCannotRemoveDefault', 'Insufficient rights for removing default security group.');
  await writeTx(ctx, async (trx) => {
    const used = await trx.selectFrom('neutron_port_security_groups').select('port_id').where('security_group_id', '=', id).executeTakeFirst();
    if (used) throw conflict('SecurityGroupInUse', `Security Group ${id} in use.`);
    const remoteOf = await trx.selectFrom('neutron_sg_rules').select('id').where('remote_group_id', '=', id).where('security_group_id', '!=', id).executeTakeFirst();
    if (remoteOf) await trx.deleteFrom('neutron_sg_rules').where('remote_group_id', '=', id).execute();
    await trx.deleteFrom('neutron_sg_rules').where('security_group_id', '=', id).execute();
    await trx.deleteFrom('neutron_default_security_groups').where('security_group_id', '=', id).execute();
    await deleteTags(trx, 'security-groups', id);
    await trx.deleteFrom('neutron_security_groups').where('id', '=', id).execute();
  });
  reply.code(204);
}

// ---- rules -------------------------------------------------------------------------------------

const R_KNOWN = ['id', 'tenant_id', 'project_id', 'security_group_id', 'direction', 'ethertype', 'protocol', 'port_range_min', 'port_range_max',
  'remote_ip_prefix', 'remote_group_id', 'remote_address_group_id', 'description', 'normalized_cidr', 'created_at', 'updated_at', 'revision_number', 'belongs_to_default_sg'];
const R_POST = ['tenant_id', 'project_id', 'security_group_id', 'direction', 'ethertype', 'protocol', 'port_range_min', 'port_range_max',
  'remote_ip_prefix', 'remote_group_id', 'remote_address_group_id', 'description'];

function convertProtocol(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'number' || (typeof v === 'string' && /^-?\d+$/.test(v))) {
    const n = Number(v);
    if (n >= 0 && n <= 255) return String(v);
  } else if (typeof v === 'string' && v.toLowerCase() in IP_PROTOCOL_MAP) return v.toLowerCase();
  else if (typeof v === 'string' && v.toLowerCase() === 'any') return null;
  throw badRequest(`Security group rule protocol ${pyRepr(v)} not supported. Only protocol values ${SUPPORTED} and integer representations [0 to 255] are supported.`, 'SecurityGroupRuleInvalidProtocol');
}

function convertPort(v: unknown): number | null {
  if (v === undefined || v === null) return null;
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 65535) throw nerr('BadRequest', 'SecurityGroupInvalidPortValue', `Invalid input for operation: Invalid value for port ${pyRepr(v)}.`);
  return n;
}

function protoNum(p: string): number { return /^\d+$/.test(p) ? Number(p) : IP_PROTOCOL_MAP[p]!; }

interface RuleIn {
  security_group_id: string; direction: string; ethertype: string; protocol: string | null; port_range_min: number | null; port_range_max: number | null;
  remote_ip_prefix: string | null; remote_group_id: string | null; remote_address_group_id: string | null; description: string;
}

function validateRule(body: Obj): RuleIn {
  if (body.security_group_id === undefined) throw badRequest("Failed to parse request. Required attribute 'security_group_id' not specified");
  if (body.direction === undefined) throw badRequest("Failed to parse request. Required attribute 'direction' not specified");
  if (!isUuidLike(body.security_group_id)) throw invalidInput(`'${pyRepr(body.security_group_id)}' is not a valid UUID`);
  if (body.direction !== 'ingress' && body.direction !== 'egress') throw invalidInput(`${pyRepr(body.direction)} is not in ['ingress', 'egress']`);
  let ethertype = 'IPv4';
  if (body.ethertype !== undefined) {
    const e = typeof body.ethertype === 'string' ? ['IPv4', 'IPv6'].find((x) => x.toLowerCase() === (body.ethertype as string).toLowerCase()) : undefined;
    if (!e) throw badRequest(`Invalid input for operation: Security group rule for ethertype '${pyRepr(body.ethertype)}' not supported. Allowed values are ['IPv4', 'IPv6'].`, 'SecurityGroupRuleInvalidEtherType');
    ethertype = e;
  }
  let protocol = convertProtocol(body.protocol);
  let min = convertPort(body.port_range_min); let max = convertPort(body.port_range_max);
  // Legacy IPv6 ICMP names and numbers become ipv6-icmp / 58 (_make_canonical_ipv6_icmp_protocol).
  if (ethertype === 'IPv6') { if (protocol === 'icmp' || protocol === 'icmpv6') protocol = 'ipv6-icmp'; else if (protocol === '1') protocol = '58'; }
  if (min === 1 && max === 65535) { min = null; max = null; }
  const inv = (type: string, m: string) => nerr('BadRequest', type, `Invalid input for operation: ${m}.`);
  if (min !== null || max !== null) {
    if (!protocol) throw inv('SecurityGroupProtocolRequiredWithPorts', 'Must also specify protocol if port range is given');
    const n = protoNum(protocol);
    if (PORT_PROTOS.includes(protocol) || PORT_NUMS.includes(n)) {
      if (min === 0 || max === 0) throw inv('SecurityGroupInvalidPortValue', 'Invalid value for port 0');
      if (!(min !== null && max !== null && min <= max)) throw inv('SecurityGroupInvalidPortRange', 'For TCP/UDP protocols, port_range_min must be <= port_range_max');
    } else if (n === 1 || n === 58) {
      for (const [v, field, attr] of [[min, 'type', 'port_range_min'], [max, 'code', 'port_range_max']] as const) {
        if (v !== null && !(v >= 0 && v <= 255)) throw inv('SecurityGroupInvalidIcmpValue', `Invalid value for ICMP ${field} (${attr}) ${v}. It must be 0 to 255`);
      }
      if (min === null && max !== null) throw inv('SecurityGroupMissingIcmpType', `ICMP code (port-range-max) ${max} is provided but ICMP type (port-range-min) is missing`);
    } else {
      throw inv('SecurityGroupInvalidProtocolForPort', `Ports cannot be specified for protocol ${n}. Ports are only supported for ${PORT_PROTOS.map((p) => p.toUpperCase()).join(', ')}`);
    }
  }
  let rip: string | null = null;
  if (body.remote_ip_prefix !== undefined && body.remote_ip_prefix !== null && body.remote_ip_prefix !== '') {
    const cd = parseCidr(body.remote_ip_prefix);
    if (!cd) throw nerr('BadRequest', 'InvalidCIDR', `Invalid CIDR ${pyRepr(body.remote_ip_prefix)} given as IP prefix.`);
    rip = String(body.remote_ip_prefix).includes('/') ? String(body.remote_ip_prefix) : `${String(body.remote_ip_prefix)}/${cd.version === 4 ? 32 : 128}`;
    if ((cd.version === 4) !== (ethertype === 'IPv4')) throw inv('SecurityGroupRuleParameterConflict', `Conflicting value ethertype ${ethertype} for CIDR ${rip}`);
  }
  if (protocol && IPV6_ONLY.includes(protocol) && ethertype === 'IPv4') throw inv('SecurityGroupEthertypeConflictWithProtocol', `Invalid ethertype ${ethertype} for protocol ${protocol}`);
  const rg = body.remote_group_id === undefined || body.remote_group_id === null ? null : String(body.remote_group_id);
  const rag = body.remote_address_group_id === undefined || body.remote_address_group_id === null ? null : String(body.remote_address_group_id);
  if ([rip, rg, rag].filter(Boolean).length > 1) throw inv('SecurityGroupMultipleRemoteEntites', 'Only one of remote_ip_prefix or remote_group_id or remote_address_group_id may be provided');
  return {
    security_group_id: body.security_group_id, direction: body.direction, ethertype, protocol, port_range_min: min, port_range_max: max,
    remote_ip_prefix: rip, remote_group_id: rg, remote_address_group_id: rag,
    description: body.description === undefined || body.description === null ? '' : checkString('description', body.description, 255),
  };
}

/** Neutron's _rule_to_key: the comparison for duplicates (all-address prefixes equal none; protocols by number). */
function ruleKey(r: Record<string, unknown>): string {
  const norm = (k: string, v: unknown) => {
    if (k === 'remote_ip_prefix') return v === null || v === undefined || v === '0.0.0.0/0' || v === '::/0' ? '+' : String(v);
    if (v === null || v === undefined) return '+';
    if (k === 'protocol') return String(protoNum(String(v)));
    return String(v);
  };
  return ['direction', 'ethertype', 'port_range_max', 'port_range_min', 'protocol', 'remote_group_id', 'remote_address_group_id', 'remote_ip_prefix', 'security_group_id']
    .map((k) => norm(k, r[k])).join('_');
}

const R_LIST = { collection: 'security_group_rules',
  filters: ['id', 'tenant_id', 'project_id', 'security_group_id', 'direction', 'ethertype', 'protocol', 'port_range_min', 'port_range_max', 'remote_ip_prefix', 'remote_group_id', 'remote_address_group_id', 'description', 'revision_number', 'normalized_cidr', 'created_at', 'updated_at'],
  sorts: ['id', 'tenant_id', 'project_id', 'security_group_id', 'direction', 'ethertype', 'protocol', 'port_range_min', 'port_range_max', 'remote_ip_prefix', 'remote_group_id', 'description', 'revision_number', 'created_at', 'updated_at'] };

async function visibleRules(ctx: NetworkContext, c: Caller): Promise<Obj[]> {
  const rows = (await ctx.db.selectFrom('neutron_sg_rules as r').innerJoin('neutron_security_groups as g', 'g.id', 'r.security_group_id')
    .selectAll('r').select('g.project_id as sg_project').execute()) as Row[];
  return rows.filter((r) => c.isAdmin || c.isAdvsvc || r.project_id === c.projectId || r.sg_project === c.projectId).map((r) => ruleDict(r))
    .filter((d) => ctx.policy.check('get_security_group_rule', target(d, { 'security_group:tenant_id': rows.find((x) => x.id === d.id)?.sg_project }), c.creds));
}

async function createRule(ctx: NetworkContext, req: FastifyRequest, reply: { code(n: number): unknown }): Promise<Obj> {
  const c = caller(ctx, req);
  const raw = resourceBody(req, 'security_group_rule');
  const body = { ...raw };
  checkAttrs(body, R_KNOWN, R_POST, 'POST');
  const owner = ownerOf(body, c);
  const rule = validateRule(body);
  const sg = await getGroup(ctx, ctx.db, c, rule.security_group_id);
  if (rule.remote_group_id) await getGroup(ctx, ctx.db, c, rule.remote_group_id);
  if (rule.remote_address_group_id) throw notFound('AddressGroupNotFound', `Address group ${rule.remote_address_group_id} could not be found.`);
  enforce(ctx, c, 'create_security_group_rule', target({ ...body, project_id: owner }, { 'security_group:tenant_id': sg.project_id }));
  const id = newId(); const now = stamp();
  await writeTx(ctx, async (trx) => {
    const existing = ((await trx.selectFrom('neutron_sg_rules').selectAll().where('security_group_id', '=', rule.security_group_id).execute()) as Row[]);
    const key = ruleKey(rule as unknown as Record<string, unknown>);
    const dup = existing.find((e) => ruleKey(e) === key);
    if (dup) throw conflict('SecurityGroupRuleExists', `Security group rule already exists. Rule id is ${String(dup.id)}.`);
    await checkQuota(ctx, trx, owner, 'security_group_rule');
    await trx.insertInto('neutron_sg_rules').values({ id, project_id: owner, revision_number: 0, created_at: now, updated_at: now, ...rule }).execute();
    await bump(trx, 'neutron_security_groups', rule.security_group_id, now);
  });
  reply.code(201);
  const r = await ctx.db.selectFrom('neutron_sg_rules').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  return { security_group_rule: ruleDict(r as Row) };
}

async function getRule(ctx: NetworkContext, c: Caller, id: string): Promise<Obj> {
  const r = (await visibleRules(ctx, c)).find((x) => x.id === id);
  if (!r) throw notFound('SecurityGroupRuleNotFound', `Security group rule ${id} does not exist`);
  return r;
}

async function deleteRule(ctx: NetworkContext, req: FastifyRequest, reply: { code(n: number): unknown }): Promise<void> {
  const c = caller(ctx, req);
  const id = (req.params as { id: string }).id;
  const r = await getRule(ctx, c, id);
  enforce(ctx, c, 'delete_security_group_rule', target(r));
  await writeTx(ctx, async (trx) => {
    await trx.deleteFrom('neutron_sg_rules').where('id', '=', id).execute();
    await bump(trx, 'neutron_security_groups', r.security_group_id as string, stamp());
  });
  reply.code(204);
}

export const securityGroupsModule: ApiModule = {
  name: 'security-groups',
  extensions: [
    { alias: 'security-group', name: 'security-group', description: 'The security groups extension.', updated: '2012-10-05T10:00:00-00:00' },
    { alias: 'stateful-security-group', name: 'Stateful security group', description: 'Indicates if the security group is stateful or not', updated: '2019-11-26T09:00:00-00:00' },
  ],
  routes: (ctx) => ({
    '/v2.0/security-groups': { GET: (req) => listGroups(ctx, req), POST: (req, reply) => createGroup(ctx, req, reply) },
    '/v2.0/security-groups/{id}': {
      GET: async (req) => { const c = caller(ctx, req); const d = await getGroup(ctx, ctx.db, c, (req.params as { id: string }).id); return { security_group: project(stripByPolicy(ctx, c, 'security_group', d, target(d)), fieldsOf(req)) }; },
      PUT: (req) => updateGroup(ctx, req), DELETE: (req, reply) => deleteGroup(ctx, req, reply),
    },
    '/v2.0/security-group-rules': {
      GET: async (req) => { const c = caller(ctx, req); return listResponse(req, { ...R_LIST, maxLimit: ctx.cfg.network.pagination_max_limit }, await visibleRules(ctx, c)); },
      POST: (req, reply) => createRule(ctx, req, reply),
    },
    '/v2.0/security-group-rules/{id}': {
      GET: async (req) => { const c = caller(ctx, req); return { security_group_rule: project(await getRule(ctx, c, (req.params as { id: string }).id), fieldsOf(req)) }; },
      DELETE: (req, reply) => deleteRule(ctx, req, reply),
    },
  }),
};
