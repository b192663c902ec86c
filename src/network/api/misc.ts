// The smaller collections: version discovery, /v2.0/extensions, quotas (with details), agents,
// availability zones, tags on any taggable resource, RBAC policies (networks: access_as_shared,
// access_as_external) and network IP availability.

import type { FastifyRequest } from 'fastify';
import type { NetworkContext, Caller } from '../context.js';
import { caller, enforce, target } from '../context.js';
import { isUniqueViolation } from '../../common/db/index.js';
import { writeTx, type Db, type Tx } from '../store/tx.js';
import { b, bump, newId, parse } from '../store/common.js';
import { badRequest, baseUrl, conflict, invalidInput, nerr, notFound, pyRepr, resourceBody, stamp, toBoolean, checkString, isUuidLike } from './http.js';
import { fieldsOf, listResponse, project, type Obj } from './list.js';
import { QUOTA_RESOURCES, defaultLimit, limitsOf, usageOf } from './quota.js';
import { visibleNetwork, netAccess, canSeeNetwork, loadNetworkRows } from './networks.js';
import { parseIp } from '../ipaddr.js';
import type { ApiModule, Extension } from './router.js';

type Row = Record<string, unknown>;

// ---- versions and extensions ---------------------------------------------------------------------

export const CORE_RESOURCES: [string, string][] = [['subnet', 'subnets'], ['subnetpool', 'subnetpools'], ['network', 'networks'], ['port', 'ports']];

export function rootModule(extensions: () => Extension[]): ApiModule {
  return {
    name: 'root',
    extensions: [],
    routes: () => ({
      '/': { GET: async (req) => ({ versions: [{ id: 'v2.0', status: 'CURRENT', links: [{ href: `${baseUrl(req)}/v2.0/`, rel: 'self' }] }] }) },
      '/v2.0': { GET: async (req) => ({ resources: CORE_RESOURCES.map(([name, collection]) => ({ name, collection, links: [{ href: `${baseUrl(req)}/v2.0/${collection}`, rel: 'self' }] })) }) },
      '/v2.0/extensions': { GET: async () => ({ extensions: extensions().map((e) => ({ links: [], ...e })) }) },
      '/v2.0/extensions/{alias}': {
        GET: async (req) => {
          const a = (req.params as { alias: string }).alias;
          const e = extensions().find((x) => x.alias === a);
          if (!e) throw notFound('HTTPNotFound', `Extension with alias ${a} does not exist`);
          return { extension: { links: [], ...e } };
        },
      },
    }),
  };
}

/** API-wide extensions: what every collection supports. */
export const GENERIC_EXTENSIONS: Extension[] = [
  { alias: 'standard-attr-description', name: 'standard-attr-description', description: 'Extension to add descriptions to standard attributes', updated: '2016-02-10T10:00:00-00:00' },
  { alias: 'standard-attr-revisions', name: 'Resource revision numbers', description: 'This extension will display the revision number of neutron resources.', updated: '2016-04-11T10:00:00-00:00' },
  { alias: 'standard-attr-timestamp', name: 'Resource timestamps', description: 'Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes.', updated: '2016-09-12T10:00:00-00:00' },
  { alias: 'standard-attr-tag', name: 'Tag support for resources with standard attribute: subnet, trunk, network_segment_range, router, network, policy, subnetpool, port, security_group, floatingip', description: 'Enables to set tag on resources with standard attribute.', updated: '2017-01-01T00:00:00-00:00' },
  { alias: 'revision-if-match', name: 'If-Match constraints based on revision_number', description: "Extension indicating that If-Match based on revision_number is supported.", updated: '2016-12-11T00:00:00-00:00' },
  { alias: 'project-id', name: 'project_id field enabled', description: 'Extension that indicates that project_id field is enabled.', updated: '2016-09-09T09:09:09-09:09' },
  { alias: 'sorting', name: 'Sorting support', description: 'Extension that indicates that sorting is enabled.', updated: '2016-06-12T00:00:00-00:00' },
  { alias: 'pagination', name: 'Pagination support', description: 'Extension that indicates that pagination is enabled.', updated: '2016-06-12T00:00:00-00:00' },
  { alias: 'filter-validation', name: 'Filter parameters validation', description: 'Provides validation on filter parameters.', updated: '2018-03-21T10:00:00-00:00' },
  { alias: 'ip-substring-filtering', name: 'IP address substring filtering', description: 'Provides IP address substring filtering when listing ports', updated: '2017-11-28T09:00:00-00:00' },
  { alias: 'service-type', name: 'Neutron Service Type Management', description: 'API for retrieving service providers for Neutron advanced services', updated: '2013-01-20T00:00:00-00:00' },
];

/** /v2.0/service-providers: the providers of advanced services; none of ours has a driver choice. */
export const serviceProvidersModule: ApiModule = {
  name: 'service-providers',
  extensions: [],
  routes: (ctx) => ({
    '/v2.0/service-providers': {
      GET: async (req) => { caller(ctx, req); return listResponse(req, { collection: 'service_providers', filters: ['service_type', 'name', 'default'], sorts: ['service_type', 'name', 'default'] }, []); },
    },
  }),
};

// ---- quotas --------------------------------------------------------------------------------------

function quotaTarget(project: string): Obj { return { project_id: project, tenant_id: project }; }

/** quotasv2's show: a project reads its own quotas; others' need get_quota. */
function canReadQuota(ctx: NetworkContext, c: Caller, project: string): void {
  if (project !== c.projectId) enforce(ctx, c, 'get_quota', quotaTarget(project));
}

async function quotaShow(ctx: NetworkContext, c: Caller, project: string): Promise<Obj> {
  canReadQuota(ctx, c, project);
  return { quota: await limitsOf(ctx, ctx.db, project) };
}

function quotaValue(k: string, v: unknown): number {
  const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n)) throw invalidInput(`'${pyRepr(v)}' is not an integer`);
  if (n < -1) throw invalidInput(`'${n}' is too small - must be at least '-1'`);
  if (n > 2147483647) throw invalidInput(`'${n}' is too large - must be no larger than '2147483647'`);
  void k;
  return n;
}

export const quotasModule: ApiModule = {
  name: 'quotas',
  extensions: [
    { alias: 'quotas', name: 'Quota management support', description: 'Expose functions for quotas management per project', updated: '2012-07-29T10:00:00-00:00' },
    { alias: 'quota_details', name: 'Quota details management support', description: 'Expose functions for quotas usage statistics per project', updated: '2017-02-10T10:00:00-00:00' },
  ],
  routes: (ctx) => ({
    '/v2.0/quotas': {
      GET: async (req) => {
        const c = caller(ctx, req);
        if (!c.isAdmin) throw nerr('Forbidden', 'AdminRequired', 'User does not have admin privileges: Only admin can view or configure quota.');
        const projects = [...new Set(((await ctx.db.selectFrom('neutron_quotas').select('project_id').execute()) as { project_id: string }[]).map((r) => r.project_id))];
        const quotas = [];
        for (const p of projects) quotas.push({ ...(await limitsOf(ctx, ctx.db, p)), project_id: p, tenant_id: p });
        return { quotas };
      },
    },
    '/v2.0/quotas/tenant': { GET: async (req) => { const c = caller(ctx, req); return { tenant: { tenant_id: c.projectId } }; } },
    '/v2.0/quotas/project': { GET: async (req) => { const c = caller(ctx, req); return { project: { project_id: c.projectId } }; } },
    '/v2.0/quotas/{project}': {
      GET: async (req) => quotaShow(ctx, caller(ctx, req), (req.params as { project: string }).project),
      PUT: async (req) => {
        const c = caller(ctx, req);
        const p = (req.params as { project: string }).project;
        const body = resourceBody(req, 'quota');
        enforce(ctx, c, 'update_quota', quotaTarget(p));
        const unknown = Object.keys(body).filter((k) => !(k in QUOTA_RESOURCES));
        if (unknown.length) throw badRequest(`Unrecognized attribute(s) '${unknown.join(', ')}'`);
        const vals = Object.entries(body).map(([k, v]) => [k, quotaValue(k, v)] as const);
        await writeTx(ctx, async (trx) => {
          for (const [k, v] of vals) {
            await trx.deleteFrom('neutron_quotas').where('project_id', '=', p).where('resource', '=', k).execute();
            await trx.insertInto('neutron_quotas').values({ project_id: p, resource: k, limit: v }).execute();
          }
        });
        return { quota: await limitsOf(ctx, ctx.db, p) };
      },
      DELETE: async (req, reply) => {
        const c = caller(ctx, req);
        const p = (req.params as { project: string }).project;
        enforce(ctx, c, 'delete_quota', quotaTarget(p));
        await ctx.db.deleteFrom('neutron_quotas').where('project_id', '=', p).execute();
        reply.code(204);
      },
    },
    '/v2.0/quotas/{project}/default': {
      GET: async (req) => {
        const c = caller(ctx, req);
        const p = (req.params as { project: string }).project;
        canReadQuota(ctx, c, p);
        return { quota: Object.fromEntries(Object.keys(QUOTA_RESOURCES).map((r) => [r, defaultLimit(ctx, r)])) };
      },
    },
    '/v2.0/quotas/{project}/details': {
      GET: async (req) => {
        const c = caller(ctx, req);
        const p = (req.params as { project: string }).project;
        canReadQuota(ctx, c, p);
        const limits = await limitsOf(ctx, ctx.db, p);
        const out: Obj = {};
        for (const [r, limit] of Object.entries(limits)) out[r] = { limit, used: await usageOf(ctx.db, r, p), reserved: 0 };
        return { quota: out };
      },
    },
  }),
};

// ---- agents and availability zones ----------------------------------------------------------------

const neutronTime = (iso: string) => iso.replace('T', ' ').replace(/(\.\d+)?Z$/, '');

export function agentDict(ctx: NetworkContext, r: Row): Obj {
  const alive = Date.now() - Date.parse(String(r.heartbeat_timestamp)) < ctx.cfg.network.agent_down_time * 1000;
  return {
    id: r.id, agent_type: r.agent_type, binary: r.binary, topic: r.topic, host: r.host, admin_state_up: Boolean(Number(r.admin_state_up)),
    created_at: neutronTime(String(r.created_at)), started_at: neutronTime(String(r.started_at)), heartbeat_timestamp: neutronTime(String(r.heartbeat_timestamp)),
    alive, configurations: parse<Obj>(r.configurations, {}), description: r.description ?? null, availability_zone: r.availability_zone ?? null,
    resources_synced: r.resources_synced === null || r.resources_synced === undefined ? null : Boolean(Number(r.resources_synced)),
  };
}

export interface AgentReport {
  agent_type: string; binary: string; topic: string; host: string; availability_zone?: string | null;
  configurations?: Obj; resource_versions?: Obj; load?: number; start_flag?: boolean;
}

/** An agent's state report (Neutron's report_state RPC): creates the row or refreshes its heartbeat. */
export async function reportAgentState(db: Db, r: AgentReport): Promise<string> {
  const now = new Date().toISOString();
  const existing = (await db.selectFrom('neutron_agents').select('id').where('agent_type', '=', r.agent_type).where('host', '=', r.host).executeTakeFirst()) as { id: string } | undefined;
  const vals = { binary: r.binary, topic: r.topic, availability_zone: r.availability_zone ?? null, configurations: JSON.stringify(r.configurations ?? {}),
    resource_versions: JSON.stringify(r.resource_versions ?? {}), load: r.load ?? 0, heartbeat_timestamp: now };
  if (existing) {
    await db.updateTable('neutron_agents').set({ ...vals, ...(r.start_flag ? { started_at: now } : {}) }).where('id', '=', existing.id).execute();
    return existing.id;
  }
  const id = newId();
  try {
    await db.insertInto('neutron_agents').values({ id, agent_type: r.agent_type, host: r.host, admin_state_up: 1, description: null, resources_synced: null, created_at: now, started_at: now, ...vals }).execute();
  } catch (e) {
    if (!isUniqueViolation(e)) throw e;
    return reportAgentState(db, r);
  }
  return id;
}

async function getAgent(ctx: NetworkContext, c: Caller, id: string): Promise<Obj> {
  enforce(ctx, c, 'get_agent', {});
  const r = await ctx.db.selectFrom('neutron_agents').selectAll().where('id', '=', id).executeTakeFirst();
  if (!r) throw notFound('AgentNotFound', `Agent ${id} could not be found.`);
  return agentDict(ctx, r as Row);
}

const AZ_RESOURCE: Record<string, string> = { 'DHCP agent': 'network', 'L3 agent': 'router' };

export const agentsModule: ApiModule = {
  name: 'agents',
  extensions: [
    { alias: 'agent', name: 'agent', description: 'The agent management extension.', updated: '2013-02-03T10:00:00-00:00' },
    { alias: 'availability_zone', name: 'Availability Zone', description: 'The availability zone extension.', updated: '2015-01-01T10:00:00-00:00' },
  ],
  routes: (ctx) => ({
    '/v2.0/agents': {
      GET: async (req) => {
        const c = caller(ctx, req);
        // Neutron filters a list by policy: a non-admin gets an empty list, not a 403.
        const rows = ctx.policy.check('get_agent', {}, c.creds) ? (await ctx.db.selectFrom('neutron_agents').selectAll().execute()) as Row[] : [];
        return listResponse(req, { collection: 'agents', filters: ['id', 'agent_type', 'binary', 'topic', 'host', 'admin_state_up', 'alive', 'availability_zone', 'description'],
          sorts: ['id', 'agent_type', 'binary', 'topic', 'host', 'admin_state_up', 'availability_zone', 'created_at', 'heartbeat_timestamp'], booleans: ['admin_state_up', 'alive'] },
        rows.map((r) => agentDict(ctx, r)));
      },
    },
    '/v2.0/agents/{id}': {
      GET: async (req) => ({ agent: project(await getAgent(ctx, caller(ctx, req), (req.params as { id: string }).id), fieldsOf(req)) }),
      PUT: async (req) => {
        const c = caller(ctx, req);
        const id = (req.params as { id: string }).id;
        const body = resourceBody(req, 'agent');
        enforce(ctx, c, 'update_agent', {});
        await getAgent(ctx, c, id);
        const set: Row = {};
        for (const k of Object.keys(body)) if (!['admin_state_up', 'description'].includes(k)) throw badRequest(`Attribute '${k}' not allowed in PUT`);
        if (body.admin_state_up !== undefined) set.admin_state_up = b(toBoolean(body.admin_state_up));
        if (body.description !== undefined) set.description = body.description === null ? null : checkString('description', body.description, 255);
        if (Object.keys(set).length) await ctx.db.updateTable('neutron_agents').set(set).where('id', '=', id).execute();
        return { agent: await getAgent(ctx, c, id) };
      },
      DELETE: async (req, reply) => {
        const c = caller(ctx, req);
        const id = (req.params as { id: string }).id;
        enforce(ctx, c, 'delete_agent', {});
        await getAgent(ctx, c, id);
        await ctx.db.deleteFrom('neutron_agents').where('id', '=', id).execute();
        reply.code(204);
      },
    },
    '/v2.0/availability_zones': {
      GET: async (req) => {
        const c = caller(ctx, req);
        enforce(ctx, c, 'get_availability_zone', {});
        const rows = (await ctx.db.selectFrom('neutron_agents').selectAll().execute()) as Row[];
        const zones = new Map<string, Obj>();
        for (const r of rows) {
          const resource = AZ_RESOURCE[String(r.agent_type)];
          if (!resource || !r.availability_zone) continue;
          const a = agentDict(ctx, r);
          const key = `${String(r.availability_zone)}/${resource}`;
          const up = Boolean(a.alive) && Boolean(a.admin_state_up);
          const prev = zones.get(key);
          zones.set(key, { name: r.availability_zone, resource, state: up || prev?.state === 'available' ? 'available' : 'unavailable' });
        }
        return listResponse(req, { collection: 'availability_zones', filters: ['name', 'resource', 'state'], sorts: ['name', 'resource', 'state'] },
          [...zones.values()].map((z) => ({ ...z, id: `${String(z.name)}/${String(z.resource)}` })).map(({ id: _id, ...z }) => z as Obj));
      },
    },
  }),
};

// ---- tags ------------------------------------------------------------------------------------------

/** Taggable collections: URL name -> table and the singular used in policy names. The L3 area adds routers/floatingips. */
export const TAGGABLE: Record<string, { table: string; resource: string; notFound: (id: string) => Error }> = {
  networks: { table: 'neutron_networks', resource: 'network', notFound: (id) => notFound('NetworkNotFound', `Network ${id} could not be found.`) },
  subnets: { table: 'neutron_subnets', resource: 'subnet', notFound: (id) => notFound('SubnetNotFound', `Subnet ${id} could not be found.`) },
  ports: { table: 'neutron_ports', resource: 'port', notFound: (id) => notFound('PortNotFound', `Port ${id} could not be found.`) },
  subnetpools: { table: 'neutron_subnetpools', resource: 'subnetpool', notFound: (id) => notFound('SubnetPoolNotFound', `Subnet pool ${id} could not be found.`) },
  'security-groups': { table: 'neutron_security_groups', resource: 'security_group', notFound: (id) => notFound('SecurityGroupNotFound', `Security group ${id} does not exist`) },
  routers: { table: 'neutron_routers', resource: 'router', notFound: (id) => notFound('RouterNotFound', `Router ${id} could not be found`) },
  floatingips: { table: 'neutron_floatingips', resource: 'floatingip', notFound: (id) => notFound('FloatingIPNotFound', `Floating IP ${id} could not be found`) },
};

const MAX_TAGS = 50;

function checkTag(t: unknown): string {
  if (typeof t !== 'string') throw invalidInput(`'${pyRepr(t)}' is not a valid string`);
  if (t.length > 255) throw invalidInput(`'${t}' exceeds maximum length of 255`);
  if (t.includes(',')) throw invalidInput(`'${t}' contains ','`);
  if (t.length === 0) throw invalidInput(`'' is too short`);
  return t;
}

async function tagParent(ctx: NetworkContext, c: Caller, coll: string, id: string, write: boolean): Promise<Row> {
  const spec = TAGGABLE[coll]!;
  const r = (await ctx.db.selectFrom(spec.table).selectAll().where('id', '=', id).executeTakeFirst()) as Row | undefined;
  if (!r) throw spec.notFound(id);
  let visible = c.isAdmin || c.isAdvsvc || r.project_id === c.projectId;
  let extra: Obj = {};
  if (!visible && coll === 'networks') visible = canSeeNetwork(c, r, await netAccess(ctx.db, c));
  if (!visible && (coll === 'subnets' || coll === 'ports')) {
    const [n] = await loadNetworkRows(ctx.db, [r.network_id as string]);
    if (n) { visible = (coll === 'subnets' && canSeeNetwork(c, n, await netAccess(ctx.db, c))) || n.project_id === c.projectId; extra = { 'network:tenant_id': n.project_id }; }
  }
  if (!visible && coll === 'subnetpools') visible = Boolean(Number(r.shared));
  if (!visible) throw spec.notFound(id);
  if (write) enforce(ctx, c, `update_${spec.resource}`, target(r, extra));
  return r;
}

async function tagsOfOne(db: Db | Tx, coll: string, id: string): Promise<string[]> {
  return ((await db.selectFrom('neutron_tags').select('tag').where('resource_type', '=', coll).where('resource_id', '=', id).execute()) as { tag: string }[]).map((t) => t.tag).sort();
}

export function tagsModule(): ApiModule {
  return {
    name: 'tags',
    extensions: [],
    routes: (ctx) => {
      const table: ReturnType<ApiModule['routes']> = {};
      const p = (req: FastifyRequest) => req.params as { coll: string; id: string; tag?: string };
      const coll = (req: FastifyRequest) => {
        const x = p(req).coll;
        if (!(x in TAGGABLE)) throw notFound('HTTPNotFound', 'The resource could not be found.');
        return x;
      };
      table['/v2.0/{coll}/{id}/tags'] = {
        GET: async (req) => { const c = caller(ctx, req); const k = coll(req); await tagParent(ctx, c, k, p(req).id, false); return { tags: await tagsOfOne(ctx.db, k, p(req).id) }; },
        PUT: async (req) => {
          const c = caller(ctx, req); const k = coll(req); const id = p(req).id;
          const body = req.body as { tags?: unknown } | undefined;
          if (!body || typeof body !== 'object' || !Array.isArray(body.tags)) throw badRequest('Invalid tags body');
          const tags = [...new Set(body.tags.map(checkTag))];
          if (tags.length > MAX_TAGS) throw badRequest(`The number of tags exceeds the limit ${MAX_TAGS}`);
          await tagParent(ctx, c, k, id, true);
          await writeTx(ctx, async (trx) => {
            await trx.deleteFrom('neutron_tags').where('resource_type', '=', k).where('resource_id', '=', id).execute();
            for (const t of tags) await trx.insertInto('neutron_tags').values({ resource_type: k, resource_id: id, tag: t }).execute();
            await bump(trx, TAGGABLE[k]!.table, id, stamp());
          });
          return { tags: tags.sort() };
        },
        DELETE: async (req, reply) => {
          const c = caller(ctx, req); const k = coll(req); const id = p(req).id;
          await tagParent(ctx, c, k, id, true);
          await writeTx(ctx, async (trx) => {
            await trx.deleteFrom('neutron_tags').where('resource_type', '=', k).where('resource_id', '=', id).execute();
            await bump(trx, TAGGABLE[k]!.table, id, stamp());
          });
          reply.code(204);
        },
      };
      table['/v2.0/{coll}/{id}/tags/{tag}'] = {
        GET: async (req, reply) => {
          const c = caller(ctx, req); const k = coll(req); const { id, tag } = p(req);
          await tagParent(ctx, c, k, id, false);
          if (!(await tagsOfOne(ctx.db, k, id)).includes(tag!)) throw notFound('TagNotFound', `Tag ${tag!} could not be found for ${TAGGABLE[k]!.resource} ${id}.`);
          reply.code(204);
        },
        PUT: async (req, reply) => {
          const c = caller(ctx, req); const k = coll(req); const { id } = p(req); const tag = checkTag(p(req).tag);
          await tagParent(ctx, c, k, id, true);
          const have = await tagsOfOne(ctx.db, k, id);
          if (!have.includes(tag)) {
            if (have.length >= MAX_TAGS) throw badRequest(`The number of tags exceeds the limit ${MAX_TAGS}`);
            await writeTx(ctx, async (trx) => {
              await trx.insertInto('neutron_tags').values({ resource_type: k, resource_id: id, tag }).execute();
              await bump(trx, TAGGABLE[k]!.table, id, stamp());
            }).catch((e) => { if (!isUniqueViolation(e)) throw e; });
          }
          reply.code(201);
        },
        DELETE: async (req, reply) => {
          const c = caller(ctx, req); const k = coll(req); const { id, tag } = p(req);
          await tagParent(ctx, c, k, id, true);
          const n = await ctx.db.deleteFrom('neutron_tags').where('resource_type', '=', k).where('resource_id', '=', id).where('tag', '=', tag!).executeTakeFirst();
          if (!Number(n.numDeletedRows)) throw notFound('TagNotFound', `Tag ${tag!} could not be found for ${TAGGABLE[k]!.resource} ${id}.`);
          await bump(ctx.db, TAGGABLE[k]!.table, id, stamp());
          reply.code(204);
        },
      };
      return table;
    },
  };
}

// ---- RBAC policies ---------------------------------------------------------------------------------

const RBAC_ACTIONS: Record<string, string[]> = { network: ['access_as_shared', 'access_as_external'] };

function rbacDict(r: Row): Obj {
  return { id: r.id, object_type: r.object_type, object_id: r.object_id, action: r.action, target_tenant: r.target_project, target_project: r.target_project, project_id: r.project_id, tenant_id: r.project_id };
}

async function rbacVisible(ctx: NetworkContext, c: Caller): Promise<Obj[]> {
  const rows = (await ctx.db.selectFrom('neutron_rbac_policies').selectAll().execute()) as Row[];
  return rows.filter((r) => c.isAdmin || r.project_id === c.projectId).map(rbacDict)
    .filter((d) => ctx.policy.check('get_rbac_policy', target(d, { target_wildcard: d.target_tenant === '*' }), c.creds));
}

async function getRbac(ctx: NetworkContext, c: Caller, id: string): Promise<Obj> {
  const d = (await rbacVisible(ctx, c)).find((x) => x.id === id);
  if (!d) throw notFound('RbacPolicyNotFound', `RBAC policy of type network with ID ${id} not found`);
  return d;
}

/** Refuses removing access other projects' ports rely on (Neutron's RbacPolicyInUse). */
async function checkRbacRemoval(trx: Tx, d: Obj): Promise<void> {
  if (d.object_type !== 'network' || d.action !== 'access_as_shared') return;
  const owner = (await trx.selectFrom('neutron_networks').select('project_id').where('id', '=', d.object_id as string).executeTakeFirst()) as { project_id: string } | undefined;
  if (!owner) return;
  const others = (await trx.selectFrom('neutron_rbac_policies').select('target_project').where('object_id', '=', d.object_id as string)
    .where('action', '=', 'access_as_shared').where('id', '!=', d.id as string).execute()) as { target_project: string }[];
  if (others.some((o) => o.target_project === '*')) return;
  const granted = new Set(others.map((o) => o.target_project));
  const users = (await trx.selectFrom('neutron_ports').select('project_id').distinct().where('network_id', '=', d.object_id as string).execute()) as { project_id: string }[];
  const stranded = users.filter((u) => u.project_id !== owner.project_id && !granted.has(u.project_id) && (d.target_tenant === '*' || d.target_tenant === u.project_id));
  if (stranded.length) {
    throw conflict('RbacPolicyInUse', `RBAC policy on object ${String(d.object_id)} cannot be removed because other objects depend on it.\nDetails: Callback neutron.plugins.ml2.plugin.Ml2Plugin.validate_network_rbac_policy_change--9223372036854775808 failed with "Unable to reconfigure sharing settings for network ${String(d.object_id)}. Multiple tenants are using it."`);
  }
}

export const rbacModule: ApiModule = {
  name: 'rbac-policies',
  extensions: [{ alias: 'rbac-policies', name: 'RBAC Policies', description: 'Allows creation and modification of policies that control tenant access to resources.', updated: '2015-06-17T12:15:12-00:00' }],
  routes: (ctx) => ({
    '/v2.0/rbac-policies': {
      GET: async (req) => {
        const c = caller(ctx, req);
        return listResponse(req, { collection: 'rbac_policies', filters: ['id', 'object_type', 'object_id', 'action', 'target_tenant', 'target_project', 'project_id', 'tenant_id'],
          sorts: ['id', 'object_type', 'object_id', 'action', 'target_tenant', 'project_id', 'tenant_id'], maxLimit: ctx.cfg.network.pagination_max_limit }, await rbacVisible(ctx, c));
      },
      POST: async (req, reply) => {
        const c = caller(ctx, req);
        const body = { ...resourceBody(req, 'rbac_policy') };
        const allowed = ['object_type', 'object_id', 'action', 'target_tenant', 'target_project', 'project_id', 'tenant_id'];
        const unknown = Object.keys(body).filter((k) => !allowed.includes(k));
        if (unknown.length) throw badRequest(`Unrecognized attribute(s) '${unknown.join(', ')}'`);
        for (const k of ['object_type', 'object_id', 'action']) if (body[k] === undefined) throw badRequest(`Failed to parse request. Required attribute '${k}' not specified`);
        const tt = (body.target_project ?? body.target_tenant) as unknown;
        if (tt === undefined) throw badRequest("Failed to parse request. Required attribute 'target_tenant' not specified");
        if (typeof tt !== 'string') throw invalidInput(`'${pyRepr(tt)}' is not a valid string`);
        if (!(String(body.object_type) in RBAC_ACTIONS)) throw invalidInput(`${pyRepr(body.object_type)} is not in [${Object.keys(RBAC_ACTIONS).map((o) => `'${o}'`).join(', ')}]`);
        if (!RBAC_ACTIONS[String(body.object_type)]!.includes(String(body.action))) throw invalidInput(`${pyRepr(body.action)} is not in [${RBAC_ACTIONS[String(body.object_type)]!.map((o) => `'${o}'`).join(', ')}]`);
        if (!isUuidLike(body.object_id)) throw invalidInput(`'${pyRepr(body.object_id)}' is not a valid UUID`);
        const owner = (body.project_id ?? body.tenant_id ?? c.projectId) as string;
        if (owner !== c.projectId && !c.isAdmin) throw badRequest("Specifying 'project_id' or 'tenant_id' other than the authenticated project in request requires admin privileges");
        const net = await visibleNetwork(ctx, ctx.db, c, body.object_id).catch(() => undefined);
        if (!net || (!c.isAdmin && net.row.project_id !== c.projectId)) {
          throw notFound('RbacPolicyInitError', `Failed to create RBAC policy on object ${body.object_id} because object ${String(body.object_id)} could not be found.`.replace('RbacPolicyInitError', ''));
        }
        enforce(ctx, c, 'create_rbac_policy', target({ ...body, project_id: owner, target_tenant: tt }, { target_wildcard: tt === '*' }), body.target_tenant !== undefined || body.target_project !== undefined ? ['target_tenant'] : []);
        const id = newId();
        try {
          await writeTx(ctx, async (trx) => {
            await trx.insertInto('neutron_rbac_policies').values({ id, project_id: owner, object_type: body.object_type, object_id: body.object_id, target_project: tt, action: body.action }).execute();
            if (body.action === 'access_as_external') await trx.updateTable('neutron_networks').set({ external: 1 }).where('id', '=', body.object_id as string).execute();
            await bump(trx, 'neutron_networks', body.object_id as string, stamp());
          });
        } catch (e) {
          if (isUniqueViolation(e)) throw conflict('DuplicateRbacPolicy', 'An RBAC policy already exists with those values.');
          throw e;
        }
        reply.code(201);
        return { rbac_policy: await getRbac(ctx, c, id) };
      },
    },
    '/v2.0/rbac-policies/{id}': {
      GET: async (req) => ({ rbac_policy: project(await getRbac(ctx, caller(ctx, req), (req.params as { id: string }).id), fieldsOf(req)) }),
      PUT: async (req) => {
        const c = caller(ctx, req);
        const id = (req.params as { id: string }).id;
        const body = resourceBody(req, 'rbac_policy');
        for (const k of Object.keys(body)) if (k !== 'target_tenant' && k !== 'target_project') throw badRequest(`Attribute '${k}' not allowed in PUT`);
        const d = await getRbac(ctx, c, id);
        const tt = (body.target_project ?? body.target_tenant) as unknown;
        if (typeof tt !== 'string') throw invalidInput(`'${pyRepr(tt)}' is not a valid string`);
        enforce(ctx, c, 'update_rbac_policy', target({ ...d, target_tenant: tt }, { target_wildcard: tt === '*' }), ['target_tenant']);
        try {
          await writeTx(ctx, async (trx) => {
            await checkRbacRemoval(trx, d);
            await trx.updateTable('neutron_rbac_policies').set({ target_project: tt }).where('id', '=', id).execute();
          });
        } catch (e) {
          if (isUniqueViolation(e)) throw conflict('DuplicateRbacPolicy', 'An RBAC policy already exists with those values.');
          throw e;
        }
        return { rbac_policy: await getRbac(ctx, c, id) };
      },
      DELETE: async (req, reply) => {
        const c = caller(ctx, req);
        const id = (req.params as { id: string }).id;
        const d = await getRbac(ctx, c, id);
        enforce(ctx, c, 'delete_rbac_policy', target(d, { target_wildcard: d.target_tenant === '*' }));
        await writeTx(ctx, async (trx) => {
          await checkRbacRemoval(trx, d);
          await trx.deleteFrom('neutron_rbac_policies').where('id', '=', id).execute();
          if (d.action === 'access_as_external') {
            const more = await trx.selectFrom('neutron_rbac_policies').select('id').where('object_id', '=', d.object_id as string).where('action', '=', 'access_as_external').executeTakeFirst();
            if (!more) await trx.updateTable('neutron_networks').set({ external: 0 }).where('id', '=', d.object_id as string).execute();
          }
        });
        reply.code(204);
      },
    },
  }),
};

// ---- network IP availability ------------------------------------------------------------------------

async function availability(ctx: NetworkContext, c: Caller): Promise<Obj[]> {
  enforce(ctx, c, 'get_network_ip_availability', {});
  const nets = await loadNetworkRows(ctx.db);
  const subnets = (await ctx.db.selectFrom('neutron_subnets').selectAll().orderBy('created_at').execute()) as Row[];
  const used = new Map(((await ctx.db.selectFrom('neutron_ipallocations').select(['subnet_id']).select((e) => e.fn.countAll().as('n')).groupBy('subnet_id').execute()) as { subnet_id: string; n: unknown }[]).map((r) => [r.subnet_id, Number(r.n)]));
  return nets.map((n) => {
    const subs = subnets.filter((s) => s.network_id === n.id).map((s) => {
      const pools = parse<{ start: string; end: string }[]>(s.allocation_pools, []);
      const total = pools.reduce((a, p) => a + (parseIp(p.end)!.value - parseIp(p.start)!.value + 1n), 0n);
      return { subnet_id: s.id, subnet_name: s.name, cidr: s.cidr, ip_version: Number(s.ip_version), total_ips: Number(total), used_ips: used.get(s.id as string) ?? 0 };
    });
    return {
      network_id: n.id, network_name: n.name, tenant_id: n.project_id, project_id: n.project_id, subnet_ip_availability: subs,
      total_ips: subs.reduce((a, s) => a + s.total_ips, 0), used_ips: subs.reduce((a, s) => a + s.used_ips, 0),
    };
  });
}

export const ipAvailabilityModule: ApiModule = {
  name: 'network-ip-availabilities',
  extensions: [{ alias: 'network-ip-availability', name: 'Network IP Availability', description: 'Provides IP availability data for each network and subnet.', updated: '2015-09-24T00:00:00-00:00' }],
  routes: (ctx) => ({
    '/v2.0/network-ip-availabilities': {
      GET: async (req) => {
        const c = caller(ctx, req);
        const all = await availability(ctx, c);
        return stripIds(listResponse(req, { collection: 'network_ip_availabilities', filters: ['network_id', 'network_name', 'tenant_id', 'project_id'], sorts: ['network_id'],
          matchers: { ip_version: (item, vals) => (item.subnet_ip_availability as Obj[]).some((s) => vals.includes(String(s.ip_version))) } },
        all.map((a) => ({ ...a, id: a.network_id }))));
      },
    },
    '/v2.0/network-ip-availabilities/{id}': {
      GET: async (req) => {
        const c = caller(ctx, req);
        const id = (req.params as { id: string }).id;
        const a = (await availability(ctx, c)).find((x) => x.network_id === id);
        if (!a) throw notFound('NetworkNotFound', `Network ${id} could not be found.`);
        return { network_ip_availability: project(a, fieldsOf(req)) };
      },
    },
  }),
};

function stripIds(o: Obj): Obj {
  const list = o.network_ip_availabilities as Obj[];
  return { ...o, network_ip_availabilities: list.map(({ id: _id, ...rest }) => rest) };
}

