// Compute API: Nova's network proxy APIs (deprecated, microversions 2.1–2.35), served as Nova 26
// serves them with Neutron: os-security-groups and os-security-group-rules (Neutron's groups in
// Nova's format, ingress rules only), os-floating-ip-pools (external networks), os-floating-ips
// and the addFloatingIp/removeFloatingIp actions (until 2.43), os-networks and os-tenant-networks
// (list/show; the nova-network writes are 410 Gone), and the removed nova-network APIs (410).
// Every call goes to the network service with the caller's own token, as Nova's get_client(context)
// does, so Neutron decides what the caller sees; Nova's validation and messages come first.
// Without a network service in the catalog, lists are empty and single resources are not found.

import { isIPv4, isIPv6 } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../../common/errors.js';
import type { ComputeContext, RequestContext } from '../context.js';
import { authorize, parseJson, requestContext } from '../context.js';
import { requireVersion } from './microversion.js';
import { loadServer } from './common.js';
import { addServerAction } from './server-actions.js';
import { T, validateQuery, last } from './nova-schema.js';
import { pyRepr } from '../../common/pyrepr.js';
import { hasNetworkService, networkCall, NeutronError, type VifInfo } from '../network.js';
import { refreshNetworkCache } from '../conductor.js';
import { getInstance, type InstanceRow } from '../store/instances.js';

type Id = { Params: { id: string } };
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const PROXY_MAX = '2.35'; // Nova's MAX_PROXY_API_SUPPORT_VERSION
const UUID_LIKE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const isUuidLike = (v: unknown): v is string => typeof v === 'string' && UUID_LIKE.test(v);
const proxy = (req: FastifyRequest) => requireVersion(req, '2.1', PROXY_MAX);
const enc = encodeURIComponent;
/** A query string from pairs (repeated keys allowed). */
const qs = (pairs: [string, string][]): string => (pairs.length ? `?${new URLSearchParams(pairs).toString()}` : '');

/** The network service with the caller's token. */
const call = <R = Json>(ctx: ComputeContext, rc: RequestContext, method: string, path: string, body?: unknown) =>
  networkCall<R>(ctx, method, path, { token: rc.token, ...(body !== undefined ? { body } : {}) });

/** A Neutron GET that answers null on 404. */
async function find<R = Json>(ctx: ComputeContext, rc: RequestContext, path: string): Promise<R | null> {
  try { return await call<R>(ctx, rc, 'GET', path); } catch (e) {
    if (e instanceof NeutronError && e.status === 404) return null;
    throw e;
  }
}

/** webob's HTTPGone, as Nova raises it for the nova-network APIs Neutron replaced. */
const gone = () => new ApiError('Gone', 'This resource is no longer available. No forwarding address is given.');

// ---- security groups ----------------------------------------------------------------------------

interface NeutronRule { id: string; direction: string; ethertype: string; protocol: string | null; port_range_min: number | null; port_range_max: number | null; remote_ip_prefix: string | null; remote_group_id: string | null; security_group_id: string }
interface NeutronGroup { id: string; name: string; description: string; tenant_id?: string; project_id?: string; security_group_rules?: NeutronRule[] }
/** security_group_api's own format of a rule. */
interface NovaRule { id: string; parent_group_id: string; protocol: string | null; from_port: number | null; to_port: number | null; group_id: string | null; cidr: string }
interface NovaGroup { id: string; description: string; name: string; project_id: string; rules: NovaRule[] }

/** security_group_api._convert_to_nova_security_group_rule_format. */
function novaRule(r: NeutronRule): NovaRule {
  let from = r.port_range_min ?? null, to = r.port_range_max ?? null;
  if (r.protocol && from === null && to === null) [from, to] = ['TCP', 'UDP'].includes(r.protocol.toUpperCase()) ? [1, 65535] : [-1, -1];
  return { id: r.id, parent_group_id: r.security_group_id, protocol: r.protocol, from_port: from, to_port: to, group_id: r.remote_group_id, cidr: r.remote_ip_prefix || '0.0.0.0/0' };
}

/** security_group_api._convert_to_nova_security_group_format: ingress rules only. */
function novaGroup(g: NeutronGroup): NovaGroup {
  return {
    id: g.id, description: g.description, name: g.name, project_id: g.tenant_id ?? g.project_id ?? '',
    rules: (g.security_group_rules ?? []).filter((r) => r.direction === 'ingress').map(novaRule),
  };
}

type GroupRef = { name: string; tenant_id: string } | null;

/** The API's rule view (_format_security_group_rule); a rule whose source group is gone is left out. */
function ruleView(r: NovaRule, source: GroupRef | undefined): Json | null {
  const v: Json = { id: r.id, parent_group_id: r.parent_group_id, ip_protocol: r.protocol, from_port: r.from_port, to_port: r.to_port, group: {}, ip_range: {} };
  if (r.group_id) {
    if (!source) return null;
    v.group = source;
  } else v.ip_range = { cidr: r.cidr };
  return v;
}

/** Source groups of rules (name and project), looked up with the caller's token as Nova does. */
async function sourceGroups(ctx: ComputeContext, rc: RequestContext, groups: NovaGroup[]): Promise<Map<string, GroupRef>> {
  const out = new Map<string, GroupRef>(groups.map((g) => [g.id, { name: g.name, tenant_id: g.project_id }]));
  const missing = [...new Set(groups.flatMap((g) => g.rules.map((r) => r.group_id)).filter((id): id is string => !!id && !out.has(id)))];
  if (missing.length) {
    const found = (await call<{ security_groups: NeutronGroup[] }>(ctx, rc, 'GET', `/security-groups${qs([...missing.map((id): [string, string] => ['id', id]), ['fields', 'id'], ['fields', 'name'], ['fields', 'tenant_id']])}`)).security_groups;
    for (const id of missing) {
      const g = found.find((x) => x.id === id);
      out.set(id, g ? { name: g.name, tenant_id: g.tenant_id ?? g.project_id ?? '' } : null);
    }
  }
  return out;
}

function groupView(g: NovaGroup, sources: Map<string, GroupRef>): Json {
  return {
    id: g.id, description: g.description, name: g.name, tenant_id: g.project_id,
    rules: g.rules.map((r) => ruleView(r, r.group_id ? sources.get(r.group_id) ?? null : undefined)).filter((r) => r !== null),
  };
}

/** Neutron groups in Nova's view (for /servers/{id}/os-security-groups too). */
export async function novaGroupViews(ctx: ComputeContext, rc: RequestContext, groups: NeutronGroup[]): Promise<Json[]> {
  const nova = groups.map(novaGroup);
  const sources = await sourceGroups(ctx, rc, nova);
  return nova.map((g) => groupView(g, sources));
}

/** security_group_api.validate_id. */
function validateId(id: unknown): string {
  if (!isUuidLike(id)) throw new ApiError('BadRequest', 'Security group id should be uuid');
  return id;
}

/** security_group_api.get: 404 with Neutron's message. */
async function getGroup(ctx: ComputeContext, rc: RequestContext, id: string): Promise<NovaGroup> {
  if (!(await hasNetworkService(ctx))) throw new ApiError('NotFound', `Security group ${id} not found.`);
  try {
    return novaGroup((await call<{ security_group: NeutronGroup }>(ctx, rc, 'GET', `/security-groups/${enc(id)}`)).security_group);
  } catch (e) {
    if (e instanceof NeutronError && e.status === 404) throw new ApiError('NotFound', e.message);
    throw e;
  }
}

/** SecurityGroupControllerBase._from_body. */
function fromBody(body: unknown, key: string): unknown {
  if (!body || (typeof body === 'object' && !Array.isArray(body) && Object.keys(body).length === 0)) throw new ApiError('BadRequest', "The request body can't be empty");
  const v = typeof body === 'object' && !Array.isArray(body) ? (body as Json)[key] : undefined;
  if (v === undefined || v === null) throw new ApiError('BadRequest', `Missing parameter ${key}`);
  return v;
}

/** utils.check_string_length(value, name, 0, 255), as validate_property. */
function checkProperty(v: unknown, name: string): string {
  if (typeof v !== 'string') throw new ApiError('BadRequest', `${name} is not a string or unicode`);
  const n = [...v].length;
  if (n > 255) throw new ApiError('BadRequest', `${name} has ${n} characters, more than 255.`);
  return v;
}

function groupFields(sg: unknown): { name: string; description: string } {
  const o = (typeof sg === 'object' && sg !== null && !Array.isArray(sg) ? sg : {}) as Json;
  return { name: checkProperty(o.name ?? null, 'name'), description: checkProperty(o.description ?? null, 'description') };
}

/** oslo netutils.is_valid_cidr: an address, one '/', a prefix in range (host bits may be set). */
function validCidr(c: string): { ip: string; prefix: number } | null {
  const parts = c.split('/');
  if (parts.length !== 2 || !/^\d{1,3}$/.test(parts[1]!)) return null;
  const [ip, p] = [parts[0]!, Number(parts[1])];
  if (isIPv4(ip) ? p > 32 : isIPv6(ip) ? p > 128 : true) return null;
  return { ip, prefix: p };
}

/** security_group_api.parse_cidr. */
function parseCidr(cidr: unknown): string {
  if (!cidr) return '0.0.0.0/0';
  let c: string;
  try { c = decodeURIComponent(String(cidr)); } catch { c = String(cidr); }
  if (!validCidr(c)) throw new ApiError('BadRequest', `${c} is not a valid IP network.`);
  return c;
}

/** Python's int() of a port as Nova applies it (int, or a decimal string); null when it fails. */
function pyInt(v: unknown): number | null {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number' && Number.isFinite(v)) return Math.trunc(v);
  if (typeof v === 'string' && /^\s*[-+]?\d+\s*$/.test(v)) return Number(v.trim());
  return null;
}

interface NewRule { group_id?: string; cidr?: string; protocol?: string; from_port?: number; to_port?: number; parent_group_id?: string }

/** security_group_api._new_ingress_rule; null when a cidr rule lacks its protocol or ports. */
function newIngressRule(ipProtocol: unknown, fromPort: unknown, toPort: unknown, groupId?: string, cidr?: string): NewRule | null {
  const values: NewRule = {};
  if (groupId) {
    values.group_id = groupId;
    // All ports of the protocol when a source group names none.
    const up = ipProtocol ? String(ipProtocol).toUpperCase() : '';
    if (up === 'ICMP' && fromPort == null && toPort == null) { fromPort = -1; toPort = -1; }
    else if (['TCP', 'UDP'].includes(up) && fromPort == null && toPort == null) { fromPort = 1; toPort = 65535; }
  } else if (cidr) values.cidr = cidr;

  if (ipProtocol && fromPort != null && toPort != null) {
    const proto = typeof ipProtocol === 'string' ? ipProtocol : pyRepr(ipProtocol);
    const from = pyInt(fromPort), to = pyInt(toPort);
    const up = proto.toUpperCase();
    if (from === null || to === null) {
      throw new ApiError('BadRequest', up === 'ICMP' ? 'Invalid input received: Type and Code must be integers for ICMP protocol type' : 'Invalid input received: To and From ports must be integers');
    }
    if (!['TCP', 'UDP', 'ICMP'].includes(up)) throw new ApiError('BadRequest', `Invalid IP protocol ${proto}.`);
    if (['TCP', 'UDP'].includes(up) && from > to) throw new ApiError('BadRequest', `Invalid port range ${from}:${to}. Former value cannot be greater than the later`);
    if (['TCP', 'UDP'].includes(up) && (from < 1 || to > 65535)) throw new ApiError('BadRequest', `Invalid port range ${from}:${to}. Valid ${up} ports should be between 1-65535`);
    if (up === 'ICMP' && (from < -1 || from > 255 || to < -1 || to > 255)) throw new ApiError('BadRequest', `Invalid port range ${from}:${to}. For ICMP, the type:code must be valid`);
    values.protocol = proto;
    values.from_port = from;
    values.to_port = to;
  } else if (cidr) return null;
  return values;
}

/** security_group_api._rule_exists: the same group, cidr, ports and protocol. */
function ruleExists(g: NovaGroup, r: NewRule): boolean {
  return g.rules.some((x) => (x.group_id ?? null) === (r.group_id ?? null) && (x.cidr ?? null) === (r.cidr ?? null)
    && (x.from_port ?? null) === (r.from_port ?? null) && (x.to_port ?? null) === (r.to_port ?? null) && (x.protocol ?? null) === (r.protocol ?? null));
}

function registerSecurityGroups(app: FastifyInstance, ctx: ComputeContext): void {
  const INDEX_QUERY = { type: 'object', properties: { limit: T.multi(T.nonNegativeInteger), offset: T.multi(T.nonNegativeInteger), all_tenants: T.multi({ type: 'string' }) }, additionalProperties: true };

  app.get('/os-security-groups', async (req) => {
    proxy(req);
    const rc = requestContext(ctx, req);
    authorize(ctx, rc, 'os_compute_api:os-security-groups:get');
    const q = validateQuery(INDEX_QUERY, req);
    if (!(await hasNetworkService(ctx))) return { security_groups: [] };
    // Neutron has no all_tenants: an admin asking for it gets every group (no project filter).
    const all = rc.isAdmin && q.all_tenants !== undefined;
    const raw = (await call<{ security_groups: NeutronGroup[] }>(ctx, rc, 'GET', `/security-groups${all ? '' : qs([['tenant_id', rc.projectId]])}`)).security_groups.map(novaGroup);
    // common.limited: offset, then at most limit (0 or none = max_limit).
    const offset = Number(last(q, 'offset') ?? 0);
    const limit = Math.min(ctx.opts.maxLimit, Number(last(q, 'limit') ?? 0) || ctx.opts.maxLimit);
    const page = raw.slice(offset, offset + limit);
    const sources = await sourceGroups(ctx, rc, page);
    const views = page.map((g) => groupView(g, sources));
    views.sort((a, b) => (a.tenant_id < b.tenant_id ? -1 : a.tenant_id > b.tenant_id ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return { security_groups: views };
  });

  app.get<Id>('/os-security-groups/:id', async (req) => {
    proxy(req);
    const rc = requestContext(ctx, req);
    authorize(ctx, rc, 'os_compute_api:os-security-groups:show');
    const g = await getGroup(ctx, rc, validateId(req.params.id));
    return { security_group: groupView(g, await sourceGroups(ctx, rc, [g])) };
  });

  app.post('/os-security-groups', async (req) => {
    proxy(req);
    const rc = requestContext(ctx, req);
    authorize(ctx, rc, 'os_compute_api:os-security-groups:create');
    const { name, description } = groupFields(fromBody(req.body, 'security_group'));
    if (!(await hasNetworkService(ctx))) throw new ApiError('ServiceUnavailable', 'The network service is not available.');
    let g: NovaGroup;
    try {
      g = novaGroup((await call<{ security_group: NeutronGroup }>(ctx, rc, 'POST', '/security-groups', { security_group: { name, description } })).security_group);
    } catch (e) {
      if (e instanceof NeutronError && e.status === 400) throw new ApiError('BadRequest', e.message);
      if (e instanceof NeutronError && e.status === 409) throw new ApiError('Forbidden', e.message); // SecurityGroupLimitExceeded
      throw e;
    }
    return { security_group: groupView(g, await sourceGroups(ctx, rc, [g])) };
  });

  app.put<Id>('/os-security-groups/:id', async (req) => {
    proxy(req);
    const rc = requestContext(ctx, req);
    authorize(ctx, rc, 'os_compute_api:os-security-groups:update');
    const current = await getGroup(ctx, rc, validateId(req.params.id));
    const { name, description } = groupFields(fromBody(req.body, 'security_group'));
    let g: NovaGroup;
    try {
      g = novaGroup((await call<{ security_group: NeutronGroup }>(ctx, rc, 'PUT', `/security-groups/${enc(current.id)}`, { security_group: { name, description } })).security_group);
    } catch (e) {
      if (e instanceof NeutronError && e.status === 404) throw new ApiError('NotFound', e.message);
      // Nova lets other Neutron refusals through as 500s; they are the caller's input here.
      if (e instanceof NeutronError && [400, 409].includes(e.status)) throw new ApiError('BadRequest', e.message);
      throw e;
    }
    return { security_group: groupView(g, await sourceGroups(ctx, rc, [g])) };
  });

  app.delete<Id>('/os-security-groups/:id', async (req, reply) => {
    proxy(req);
    const rc = requestContext(ctx, req);
    authorize(ctx, rc, 'os_compute_api:os-security-groups:delete');
    if (!req.params.id) throw new ApiError('NotFound', 'The resource could not be found.');
    const g = await getGroup(ctx, rc, validateId(req.params.id));
    try {
      await call(ctx, rc, 'DELETE', `/security-groups/${enc(g.id)}`);
    } catch (e) {
      if (e instanceof NeutronError && e.status === 404) throw new ApiError('NotFound', e.message);
      if (e instanceof NeutronError && e.status === 409) throw new ApiError('BadRequest', e.message); // in use, or the default group
      throw e;
    }
    reply.code(202);
    return reply.send();
  });

  app.post('/os-security-group-rules', async (req) => {
    proxy(req);
    const rc = requestContext(ctx, req);
    authorize(ctx, rc, 'os_compute_api:os-security-groups:rule:create');
    const raw = fromBody(req.body, 'security_group_rule');
    const r = (typeof raw === 'object' && !Array.isArray(raw) ? raw : {}) as Json;
    const parent = await getGroup(ctx, rc, validateId(r.parent_group_id));
    let groupId: string | undefined;
    let source: NovaGroup | undefined;
    if (r.group_id !== undefined && r.group_id !== null) {
      groupId = validateId(r.group_id);
      source = await getGroup(ctx, rc, groupId);
    }
    const rule = groupId !== undefined
      ? newIngressRule(r.ip_protocol, r.from_port, r.to_port, groupId)
      : newIngressRule(r.ip_protocol, r.from_port, r.to_port, undefined, parseCidr(r.cidr));
    if (!rule) throw new ApiError('BadRequest', 'Not enough parameters to build a valid rule.');
    rule.parent_group_id = parent.id;
    if (rule.cidr !== undefined) {
      const c = validCidr(rule.cidr)!;
      if (c.ip !== '0.0.0.0' && c.ip !== '::' && c.prefix === 0) throw new ApiError('BadRequest', `Bad prefix for network in cidr ${rule.cidr}`);
    }
    if (ruleExists(parent, rule)) throw new ApiError('BadRequest', `This rule already exists in group ${parent.id}`);
    // _make_neutron_security_group_rules_list: ingress; IPv4 unless the cidr is IPv6; -1 = no port.
    const body: Json = {
      direction: 'ingress', protocol: rule.protocol ?? null, ethertype: rule.cidr && isIPv6(rule.cidr.split('/')[0]!) ? 'IPv6' : 'IPv4',
      remote_ip_prefix: rule.cidr ?? null, security_group_id: parent.id, remote_group_id: rule.group_id ?? null,
    };
    if (rule.from_port !== undefined && rule.from_port !== -1) body.port_range_min = rule.from_port;
    if (rule.to_port !== undefined && rule.to_port !== -1) body.port_range_max = rule.to_port;
    let created: NeutronRule;
    try {
      created = (await call<{ security_group_rule: NeutronRule }>(ctx, rc, 'POST', '/security-group-rules', { security_group_rule: body })).security_group_rule;
    } catch (e) {
      if (e instanceof NeutronError && e.status === 404) throw new ApiError('NotFound', e.message);
      if (e instanceof NeutronError && e.status === 409) throw new ApiError('Forbidden', e.message); // Nova: SecurityGroupLimitExceeded
      if (e instanceof NeutronError && e.status === 400) throw new ApiError('BadRequest', e.message);
      throw e;
    }
    const view = ruleView(novaRule(created), source ? { name: source.name, tenant_id: source.project_id } : undefined)!;
    return { security_group_rule: view };
  });

  app.delete<Id>('/os-security-group-rules/:id', async (req, reply) => {
    proxy(req);
    const rc = requestContext(ctx, req);
    authorize(ctx, rc, 'os_compute_api:os-security-groups:rule:delete');
    const id = validateId(req.params.id);
    if (!(await hasNetworkService(ctx))) throw new ApiError('NotFound', `Security group rule ${id} not found.`);
    const notFound = (e: unknown) => {
      if (e instanceof NeutronError && e.status === 404) throw new ApiError('NotFound', e.message);
      throw e;
    };
    const rule = novaRule((await call<{ security_group_rule: NeutronRule }>(ctx, rc, 'GET', `/security-group-rules/${enc(id)}`).catch(notFound)).security_group_rule);
    await getGroup(ctx, rc, rule.parent_group_id);
    await call(ctx, rc, 'DELETE', `/security-group-rules/${enc(rule.id)}`).catch(notFound);
    reply.code(202);
    return reply.send();
  });

  // Removed with nova-network: 410 at every microversion.
  for (const [m, p] of [['GET', ''], ['POST', ''], ['GET', '/:id'], ['DELETE', '/:id']] as const) {
    app.route({ method: m, url: `/os-security-group-default-rules${p}`, handler: async () => { throw gone(); } });
  }
}

// ---- floating IPs -------------------------------------------------------------------------------

interface FloatingIp { id: string; floating_ip_address: string; floating_network_id: string; fixed_ip_address: string | null; port_id: string | null; port_details?: { device_id?: string } | null; network_details?: { id: string; name: string } }

/** floating_ips._translate_floating_ip_view. */
const fipView = (f: FloatingIp): Json => ({
  id: f.id, ip: f.floating_ip_address, pool: f.network_details?.name || f.network_details?.id || f.floating_network_id,
  fixed_ip: f.fixed_ip_address, instance_id: f.port_details ? (f.port_details.device_id ?? null) : null,
});

/** Network and port details of floating IPs (port_details from Neutron's fip-port-details, else the port). */
async function withDetails(ctx: ComputeContext, rc: RequestContext, fips: FloatingIp[]): Promise<FloatingIp[]> {
  if (!fips.length) return fips;
  const netIds = [...new Set(fips.map((f) => f.floating_network_id))];
  const nets = (await call<{ networks: { id: string; name: string }[] }>(ctx, rc, 'GET', `/networks${qs(netIds.map((id): [string, string] => ['id', id]))}`)).networks;
  for (const f of fips) {
    f.network_details = nets.find((n) => n.id === f.floating_network_id) ?? { id: f.floating_network_id, name: '' };
    if (f.port_details === undefined) f.port_details = f.port_id ? (await find<{ port: { device_id: string } }>(ctx, rc, `/ports/${enc(f.port_id)}`))?.port ?? null : null;
  }
  return fips;
}

/** neutron._get_floating_ip_by_address: 404 none, 409 several (a 404 from Neutron = no L3 API = none). */
async function fipByAddress(ctx: ComputeContext, rc: RequestContext, address: string): Promise<FloatingIp> {
  const notFound = new ApiError('NotFound', `Floating IP not found for address ${address}.`);
  if (!address || !(await hasNetworkService(ctx))) throw notFound;
  const fips = (await find<{ floatingips: FloatingIp[] }>(ctx, rc, `/floatingips${qs([['floating_ip_address', address]])}`))?.floatingips ?? [];
  if (fips.length === 0) throw notFound;
  if (fips.length > 1) throw new ApiError('Conflict', `Multiple floating IPs are found for address ${address}.`);
  return fips[0]!;
}

async function fipById(ctx: ComputeContext, rc: RequestContext, id: string): Promise<FloatingIp> {
  const notFound = new ApiError('NotFound', `Floating IP not found for ID ${id}`);
  if (!isUuidLike(id) || !(await hasNetworkService(ctx))) throw notFound;
  const f = (await find<{ floatingip: FloatingIp }>(ctx, rc, `/floatingips/${enc(id)}`))?.floatingip;
  if (!f) throw notFound;
  return (await withDetails(ctx, rc, [f]))[0]!;
}

/** The instance a floating IP's port belongs to (get_instance_by_floating_ip_addr), or null. */
async function instanceOfFip(ctx: ComputeContext, rc: RequestContext, f: FloatingIp): Promise<InstanceRow | null> {
  if (!f.port_id) return null;
  const port = (await find<{ port: { device_id: string } }>(ctx, rc, `/ports/${enc(f.port_id)}`))?.port;
  if (!port?.device_id) return null;
  return loadServer(ctx, rc, port.device_id);
}

/** parameter_types.ip_address: an IPv4 or IPv6 address string (jsonschema's oneOf message). */
function ipAddress(v: unknown, field: string): string {
  if (typeof v !== 'string') throw new ApiError('BadRequest', `Invalid input for field/attribute ${field}. Value: ${pyRepr(v)}. ${pyRepr(v)} is not of type 'string'`);
  if (!isIPv4(v) && !isIPv6(v)) throw new ApiError('BadRequest', `Invalid input for field/attribute ${field}. Value: ${pyRepr(v)}. ${pyRepr(v)} is not valid under any of the given schemas`);
  return v;
}

/** The action body as Nova's schema wants it: an object with `allowed` keys and `address`. */
function actionArg(arg: unknown, action: string, allowed: string[]): Json {
  if (typeof arg !== 'object' || arg === null || Array.isArray(arg)) throw new ApiError('BadRequest', `Invalid input for field/attribute ${action}. Value: ${pyRepr(arg)}. ${pyRepr(arg)} is not of type 'object'`);
  const extra = Object.keys(arg).filter((k) => !allowed.includes(k));
  if (extra.length) throw new ApiError('BadRequest', `Invalid input for field/attribute ${action}. Value: ${pyRepr(arg)}. Additional properties are not allowed (${extra.map(pyRepr).join(', ')} ${extra.length === 1 ? 'was' : 'were'} unexpected)`);
  if (!('address' in arg)) throw new ApiError('BadRequest', `Invalid input for field/attribute ${action}. Value: ${pyRepr(arg)}. 'address' is a required property`);
  return arg as Json;
}

function registerFloatingIps(app: FastifyInstance, ctx: ComputeContext): void {
  app.get('/os-floating-ip-pools', async (req) => {
    proxy(req);
    const rc = requestContext(ctx, req);
    authorize(ctx, rc, 'os_compute_api:os-floating-ip-pools', {});
    if (!(await hasNetworkService(ctx))) return { floating_ip_pools: [] };
    const nets = (await call<{ networks: { id: string; name: string }[] }>(ctx, rc, 'GET', `/networks${qs([['router:external', 'True']])}`)).networks;
    return { floating_ip_pools: nets.map((n) => ({ name: n.name || n.id })) };
  });

  app.get('/os-floating-ips', async (req) => {
    proxy(req);
    const rc = requestContext(ctx, req);
    authorize(ctx, rc, 'os_compute_api:os-floating-ips:list');
    if (!(await hasNetworkService(ctx))) return { floating_ips: [] };
    // _safe_get_floating_ips: a 404 (no L3 API) is no floating IPs.
    const fips = (await find<{ floatingips: FloatingIp[] }>(ctx, rc, `/floatingips${qs([['tenant_id', rc.projectId]])}`))?.floatingips ?? [];
    return { floating_ips: (await withDetails(ctx, rc, fips)).map(fipView) };
  });

  app.get<Id>('/os-floating-ips/:id', async (req) => {
    proxy(req);
    const rc = requestContext(ctx, req);
    authorize(ctx, rc, 'os_compute_api:os-floating-ips:show');
    return { floating_ip: fipView(await fipById(ctx, rc, req.params.id)) };
  });

  app.post('/os-floating-ips', async (req) => {
    proxy(req);
    const rc = requestContext(ctx, req);
    authorize(ctx, rc, 'os_compute_api:os-floating-ips:create');
    const b = req.body as Json | null | undefined;
    // No pool given: [neutron] default_floating_pool, whose default is "nova".
    const pool = (b && typeof b === 'object' && !Array.isArray(b) && b.pool) || 'nova';
    const poolName = typeof pool === 'string' ? pool : pyRepr(pool);
    if (!(await hasNetworkService(ctx))) throw new ApiError('NotFound', 'Floating IP pool not found.');
    const nets = (await call<{ networks: { id: string }[] }>(ctx, rc, 'GET', `/networks${qs([['router:external', 'True'], ['fields', 'id'], [isUuidLike(poolName) ? 'id' : 'name', poolName]])}`)).networks;
    if (nets.length === 0) throw new ApiError('NotFound', 'Floating IP pool not found.');
    // Nova fails with a 500 here; the caller can fix it by naming the pool by id.
    if (nets.length > 1) throw new ApiError('Conflict', `Multiple floating IP pools matches found for name '${poolName}'`);
    let fip: FloatingIp;
    try {
      fip = (await call<{ floatingip: FloatingIp }>(ctx, rc, 'POST', '/floatingips', { floatingip: { floating_network_id: nets[0]!.id } })).floatingip;
    } catch (e) {
      if (e instanceof NeutronError) {
        if (['IpAddressGenerationFailure', 'ExternalIpAddressExhausted'].includes(e.type)) throw new ApiError('NotFound', `No more floating IPs in pool ${poolName}.`);
        if (e.type === 'OverQuota') throw new ApiError('Forbidden', `IP allocation over quota in pool ${poolName}.`);
        if (e.status === 400) throw new ApiError('BadRequest', e.message);
      }
      throw e;
    }
    return { floating_ip: fipView((await withDetails(ctx, rc, [fip]))[0]!) };
  });

  app.delete<Id>('/os-floating-ips/:id', async (req, reply) => {
    proxy(req);
    const rc = requestContext(ctx, req);
    authorize(ctx, rc, 'os_compute_api:os-floating-ips:delete');
    const f = await fipById(ctx, rc, req.params.id);
    const inst = await instanceOfFip(ctx, rc, f);
    try {
      await call(ctx, rc, 'DELETE', `/floatingips/${enc(f.id)}`);
    } catch (e) {
      if (e instanceof NeutronError && e.status === 404) throw new ApiError('NotFound', `Floating IP not found for address ${f.floating_ip_address}.`);
      if (e instanceof NeutronError && e.status === 403) throw new ApiError('Forbidden', "You don't have permission to do this.");
      throw e;
    }
    await refreshNetworkCache(ctx, inst);
    reply.code(202);
    return reply.send();
  });

  // The server actions, until 2.43 (Nova's FloatingIPActionController).
  addServerAction('addFloatingIp', async (a) => {
    requireVersion(a.req, '2.1', '2.43');
    const arg = actionArg(a.arg, 'addFloatingIp', ['address', 'fixed_address']);
    const address = ipAddress(arg.address, 'address');
    const fixedAsked = 'fixed_address' in arg ? ipAddress(arg.fixed_address, 'fixed_address') : undefined;
    authorize(a.ctx, a.rc, 'os_compute_api:os-floating-ips:add', { project_id: a.inst.project_id });
    const info = parseJson<VifInfo[]>(a.inst.network_info, []);
    if (!info.length) throw new ApiError('BadRequest', 'Instance network is not ready yet');
    const fixed = info.flatMap((v) => v.network.subnets.flatMap((s) => s.ips.map((i) => i.address)));
    if (!fixed.length) throw new ApiError('BadRequest', 'No fixed IPs associated to instance');
    let fixedAddress = fixedAsked;
    if (fixedAddress !== undefined && !fixed.includes(fixedAddress)) throw new ApiError('BadRequest', 'Specified fixed address not assigned to instance');
    if (!fixedAddress) {
      fixedAddress = fixed.find((x) => isIPv4(x));
      if (!fixedAddress) throw new ApiError('BadRequest', `Unable to associate floating IP ${address} to any fixed IPs for instance ${a.inst.uuid}. Instance has no fixed IPv4 addresses to associate.`);
    }
    const failed = (err: string) => new ApiError('BadRequest', `Unable to associate floating IP ${address} to fixed IP ${fixedAddress} for instance ${a.inst.uuid}. Error: ${err}`);
    // _get_port_id_by_fixed_address: the instance's compute port holding that address.
    const ports = (await call<{ ports: { id: string; device_owner: string; fixed_ips: { ip_address: string }[] }[] }>(a.ctx, a.rc, 'GET', `/ports${qs([['device_id', a.inst.uuid]])}`)).ports;
    const port = ports.find((p) => p.device_owner.startsWith('compute:') && p.fixed_ips.some((i) => i.ip_address === fixedAddress));
    if (!port) throw failed(`Fixed IP not found for address ${fixedAddress}.`);
    let fip: FloatingIp;
    try { fip = await fipByAddress(a.ctx, a.rc, address); } catch (e) {
      if (e instanceof ApiError && e.status === 404) throw new ApiError('NotFound', 'floating IP not found');
      throw e;
    }
    try {
      await call(a.ctx, a.rc, 'PUT', `/floatingips/${enc(fip.id)}`, { floatingip: { port_id: port.id, fixed_ip_address: fixedAddress } });
    } catch (e) {
      if (e instanceof NeutronError && e.status === 409) throw new ApiError('BadRequest', e.message); // FloatingIpAssociateFailed
      if (e instanceof NeutronError && e.status === 403) throw new ApiError('Forbidden', e.message);
      if (e instanceof NeutronError) throw failed(e.message);
      throw e;
    }
    await refreshNetworkCache(a.ctx, a.inst);
    // Moved from another server: that server's cache loses it too.
    if (fip.port_id && fip.port_id !== port.id) {
      const old = (await find<{ port: { device_id: string } }>(a.ctx, a.rc, `/ports/${enc(fip.port_id)}`))?.port;
      if (old?.device_id && old.device_id !== a.inst.uuid) await refreshNetworkCache(a.ctx, await getInstance(a.ctx.db, old.device_id));
    }
    return undefined;
  });

  addServerAction('removeFloatingIp', async (a) => {
    requireVersion(a.req, '2.1', '2.43');
    const arg = actionArg(a.arg, 'removeFloatingIp', ['address']);
    const address = ipAddress(arg.address, 'address');
    const fip = await fipByAddress(a.ctx, a.rc, address);
    const inst = await instanceOfFip(a.ctx, a.rc, fip);
    // Nova checks with the instance's project, or with an empty target when the IP is on none.
    if (inst) authorize(a.ctx, a.rc, 'os_compute_api:os-floating-ips:remove', { project_id: inst.project_id });
    else if (!a.ctx.policy.check('os_compute_api:os-floating-ips:remove', {}, a.rc.creds)) throw new ApiError('Forbidden', "Policy doesn't allow os_compute_api:os-floating-ips:remove to be performed.");
    if (!(inst && fip.port_id && inst.uuid === a.inst.uuid)) throw new ApiError('Conflict', `Floating IP ${address} is not associated with instance ${a.inst.uuid}.`);
    try {
      await call(a.ctx, a.rc, 'PUT', `/floatingips/${enc(fip.id)}`, { floatingip: { port_id: null } });
    } catch (e) {
      if (e instanceof NeutronError && e.status === 403) throw new ApiError('Forbidden', "You don't have permission to do this.");
      if (e instanceof NeutronError && e.status === 404) throw new ApiError('NotFound', 'floating IP not found');
      throw e;
    }
    await refreshNetworkCache(a.ctx, a.inst);
    return undefined;
  });

  // Removed with nova-network: 410 at every microversion.
  const removed: [string, string][] = [
    ['GET', '/os-floating-ips-bulk'], ['POST', '/os-floating-ips-bulk'], ['GET', '/os-floating-ips-bulk/:id'], ['PUT', '/os-floating-ips-bulk/:id'],
    ['GET', '/os-floating-ip-dns'], ['PUT', '/os-floating-ip-dns/:id'], ['DELETE', '/os-floating-ip-dns/:id'],
    ['GET', '/os-floating-ip-dns/:domain/entries/:id'], ['PUT', '/os-floating-ip-dns/:domain/entries/:id'], ['DELETE', '/os-floating-ip-dns/:domain/entries/:id'],
  ];
  for (const [m, url] of removed) app.route({ method: m as 'GET', url, handler: async () => { throw gone(); } });
}

// ---- networks -----------------------------------------------------------------------------------

interface Network { id: string; name: string }

/** networks.network_dict: id and label, every other nova-network field null; more of them for admins. */
function osNetwork(n: Network, admin: boolean): Json {
  const fields = ['id', 'cidr', 'netmask', 'gateway', 'broadcast', 'dns1', 'dns2', 'cidr_v6', 'gateway_v6', 'label', 'netmask_v6'];
  if (admin) {
    fields.push('created_at', 'updated_at', 'deleted_at', 'deleted', 'injected', 'bridge', 'vlan', 'vpn_public_address', 'vpn_public_port', 'vpn_private_address',
      'dhcp_start', 'project_id', 'host', 'bridge_interface', 'multi_host', 'priority', 'rxtx_base', 'mtu', 'dhcp_server', 'enable_dhcp', 'share_address');
  }
  return Object.fromEntries(fields.map((f) => [f, f === 'id' ? n.id : f === 'label' ? n.name : null]));
}

/** tenant_networks.network_dict ("None" as a string: what Nova has always returned). */
const tenantNetwork = (n: Network): Json => ({ id: n.id, cidr: 'None', label: n.name });

async function networks(ctx: ComputeContext, rc: RequestContext): Promise<Network[]> {
  if (!(await hasNetworkService(ctx))) return [];
  return (await call<{ networks: Network[] }>(ctx, rc, 'GET', '/networks')).networks;
}

async function network(ctx: ComputeContext, rc: RequestContext, id: string): Promise<Network> {
  const n = (await hasNetworkService(ctx)) ? (await find<{ network: Network }>(ctx, rc, `/networks/${enc(id)}`))?.network : null;
  if (!n) throw new ApiError('NotFound', 'Network not found');
  return n;
}

function registerNetworks(app: FastifyInstance, ctx: ComputeContext): void {
  app.get('/os-networks', async (req) => {
    proxy(req);
    const rc = requestContext(ctx, req);
    authorize(ctx, rc, 'os_compute_api:os-networks:list');
    return { networks: (await networks(ctx, rc)).map((n) => osNetwork(n, rc.isAdmin)) };
  });
  app.get<Id>('/os-networks/:id', async (req) => {
    proxy(req);
    const rc = requestContext(ctx, req);
    authorize(ctx, rc, 'os_compute_api:os-networks:show');
    return { network: osNetwork(await network(ctx, rc, req.params.id), rc.isAdmin) };
  });
  // nova-network's writes: 410 at every microversion, with no policy check, as Nova.
  app.post('/os-networks', async () => { throw gone(); });
  app.post('/os-networks/add', async () => { throw gone(); });
  app.delete<Id>('/os-networks/:id', async () => { throw gone(); });
  app.post<Id>('/os-networks/:id/action', async (req) => {
    const b = req.body as Json | undefined;
    const name = b && typeof b === 'object' && !Array.isArray(b) ? Object.keys(b)[0] : undefined;
    if (name && ['disassociate', 'disassociate_host', 'disassociate_project', 'associate_host'].includes(name)) throw gone();
    throw new ApiError('BadRequest', `There is no such action: ${name ?? ''}`);
  });

  app.get('/os-tenant-networks', async (req) => {
    proxy(req);
    const rc = requestContext(ctx, req);
    authorize(ctx, rc, 'os_compute_api:os-tenant-networks:list');
    return { networks: (await networks(ctx, rc)).map(tenantNetwork) };
  });
  app.get<Id>('/os-tenant-networks/:id', async (req) => {
    proxy(req);
    const rc = requestContext(ctx, req);
    authorize(ctx, rc, 'os_compute_api:os-tenant-networks:show');
    return { network: tenantNetwork(await network(ctx, rc, req.params.id)) };
  });
  app.post('/os-tenant-networks', async () => { throw gone(); });
  app.delete<Id>('/os-tenant-networks/:id', async () => { throw gone(); });
}

export function registerNetworkProxies(app: FastifyInstance, ctx: ComputeContext): void {
  registerSecurityGroups(app, ctx);
  registerFloatingIps(app, ctx);
  registerNetworks(app, ctx);
}
