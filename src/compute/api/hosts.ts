// Compute API: the operator's view of hosts — /os-services (list, enable/disable/force-down by
// host+binary before 2.53, by uuid from 2.53, delete), /os-hypervisors (list, detail, show,
// statistics, uptime, search/servers before 2.53; uuids from 2.53; resource fields gone from 2.88),
// /os-availability-zone (+ detail), /os-hosts (until 2.43), /os-aggregates (CRUD, add_host,
// remove_host, set_metadata; uuid from 2.41), /os-simple-tenant-usage and /os-migrations — read
// from the services, compute_nodes, aggregates, instances and migrations tables.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { loadavg, uptime as osUptime } from 'node:os';
import { authorize, requestContext, type ComputeContext } from '../context.js';
import { ApiError } from '../../common/errors.js';
import { isUniqueViolation } from '../../common/db/index.js';
import { requireVersion } from './microversion.js';
import { boolFromString, last, limitMarker, nextLink, resourceLinks, T, validateBody, validateQuery, type Schema } from './nova-schema.js';
import {
  computeNodeById, deleteService, isUp, listComputeNodes, listServices, nodeUsage, serviceById, updateService,
  type ComputeNodeRow, type ServiceRow,
} from '../store/services.js';
import {
  addAggregateHost, aggregateById, aggregateByName, deleteAggregate, hostAvailabilityZone, insertAggregate, listAggregates,
  removeAggregateHost, renameAggregate, updateAggregateMetadata, type Aggregate,
} from '../store/aggregates.js';

type Req = FastifyRequest<{ Params: { id: string; action?: string } }>;

const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const API_SERVICES = ['nova-osapi_compute', 'nova-metadata'];
const INTERNAL_ZONE = 'internal';
const DEFAULT_ZONE = 'nova';

/** Nova's naive-UTC datetime in JSON: 2024-05-01T10:00:00.000000. */
function dt(s: string | null | undefined): string | null {
  if (!s) return null;
  const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?/.exec(s);
  return m ? `${m[1]}T${m[2]}.${(m[3] ?? '').padEnd(6, '0').slice(0, 6)}` : s;
}

async function zoneOf(ctx: ComputeContext, s: ServiceRow): Promise<string> {
  return s.binary === 'nova-compute' ? hostAvailabilityZone(ctx.db, s.host, DEFAULT_ZONE) : INTERNAL_ZONE;
}

/** The host's `uptime` line as Nova's libvirt driver returns it (this machine's figures). */
function uptimeLine(): string {
  const now = new Date();
  const up = Math.floor(osUptime());
  const days = Math.floor(up / 86400);
  const h = Math.floor((up % 86400) / 3600);
  const m = Math.floor((up % 3600) / 60);
  const clock = now.toISOString().slice(11, 19);
  const la = loadavg().map((x) => x.toFixed(2)).join(', ');
  return ` ${clock} up ${days ? `${days} day${days === 1 ? '' : 's'}, ` : ''}${String(h).padStart(2, ' ')}:${String(m).padStart(2, '0')},  0 users,  load average: ${la}`;
}

// ---- schemas ----
const fqdn: Schema = { type: 'string', minLength: 1, maxLength: 255, pattern: '^[a-zA-Z0-9-._]*$' };
const reason: Schema = { type: 'string', minLength: 1, maxLength: 255 };
const serviceUpdate = (v211: boolean): Schema => ({
  type: 'object', required: ['host', 'binary'], additionalProperties: false,
  properties: { host: fqdn, binary: { type: 'string', minLength: 1, maxLength: 255 }, disabled_reason: reason, ...(v211 ? { forced_down: T.boolean } : {}) },
});
const serviceUpdate253: Schema = {
  type: 'object', additionalProperties: false,
  properties: { status: { type: 'string', enum: ['enabled', 'disabled'] }, disabled_reason: reason, forced_down: T.boolean },
};
const azOrNull: Schema = { oneOf: [T.azName, { type: 'null' }] };
const aggCreate: Schema = {
  type: 'object', required: ['aggregate'], additionalProperties: false,
  properties: { aggregate: { type: 'object', properties: { name: T.name, availability_zone: azOrNull }, required: ['name'], additionalProperties: false } },
};
const aggUpdate: Schema = {
  type: 'object', required: ['aggregate'], additionalProperties: false,
  properties: { aggregate: { type: 'object', properties: { name: T.nameLT, availability_zone: azOrNull }, additionalProperties: false, anyOf: [{ required: ['name'] }, { required: ['availability_zone'] }] } },
};
const hostAction = (a: string): Schema => ({
  type: 'object', required: [a], additionalProperties: false,
  properties: { [a]: { type: 'object', properties: { host: fqdn }, required: ['host'], additionalProperties: false } },
});
const setMetadata: Schema = {
  type: 'object', required: ['set_metadata'], additionalProperties: false,
  properties: { set_metadata: { type: 'object', required: ['metadata'], additionalProperties: false, properties: {
    metadata: { type: 'object', patternProperties: { '^[a-zA-Z0-9-_:. ]{1,255}$': { type: ['string', 'null'], maxLength: 255 } }, additionalProperties: false },
  } } },
};

export function registerHosts(app: FastifyInstance, ctx: ComputeContext): void {
  registerServices(app, ctx);
  registerHypervisors(app, ctx);
  registerZonesAndHosts(app, ctx);
  registerAggregates(app, ctx);
  registerUsage(app, ctx);
  registerMigrations(app, ctx);
}

// ---------------------------------------------------------------- os-services

function registerServices(app: FastifyInstance, ctx: ComputeContext): void {
  const detail = async (req: FastifyRequest, s: ServiceRow, forcedDown: boolean) => {
    const v: Record<string, unknown> = {
      binary: s.binary, host: s.host, id: req.computeVersion.atLeast('2.53') ? s.uuid : s.id, zone: await zoneOf(ctx, s),
      status: s.disabled ? 'disabled' : 'enabled', state: isUp(s) ? 'up' : 'down', updated_at: dt(s.updated_at ?? s.last_seen_up ?? s.created_at),
      disabled_reason: s.disabled_reason,
    };
    if (forcedDown) v.forced_down = !!s.forced_down;
    return v;
  };

  app.get('/os-services', async (req) => {
    const rc = requestContext(ctx, req);
    const q = validateQuery({ type: 'object', properties: { host: T.multi({ type: 'string' }), binary: T.multi({ type: 'string' }) }, additionalProperties: !req.computeVersion.atLeast('2.75') }, req);
    authorize(ctx, rc, 'os_compute_api:os-services:list', {});
    const host = last(q, 'host');
    const binary = last(q, 'binary');
    const rows = (await listServices(ctx.db, { ...(host ? { host } : {}), ...(binary ? { binary } : {}) })).filter((s) => !API_SERVICES.includes(s.binary));
    const out = [];
    for (const s of rows) out.push(await detail(req, s, req.computeVersion.atLeast('2.11')));
    return { services: out };
  });

  app.put('/os-services/:id', async (req: Req) => {
    const rc = requestContext(ctx, req);
    const mv = req.computeVersion;
    if (mv.atLeast('2.53')) {
      const body = validateBody<{ status?: string; disabled_reason?: string; forced_down?: unknown }>(serviceUpdate253, req.body);
      const id = req.params.id;
      if (!UUID_RE.test(id)) throw new ApiError('BadRequest', `Invalid uuid ${id}`);
      authorize(ctx, rc, 'os_compute_api:os-services:update', {});
      const s = await serviceById(ctx.db, id);
      if (!s) throw new ApiError('NotFound', `Service ${id} could not be found.`);
      if (s.binary !== 'nova-compute') throw new ApiError('BadRequest', `Updating a ${s.binary} service is not supported. Only nova-compute services can be updated.`);
      const set: Partial<Pick<ServiceRow, 'disabled' | 'disabled_reason' | 'forced_down'>> = {};
      if (body.status === 'enabled') {
        if (body.disabled_reason) throw new ApiError('BadRequest', "Specifying 'disabled_reason' with status 'enabled' is invalid.");
        set.disabled = 0; set.disabled_reason = null;
      } else if (body.status === 'disabled') {
        set.disabled = 1; set.disabled_reason = body.disabled_reason ?? null;
      }
      if (body.forced_down !== undefined) set.forced_down = boolFromString(body.forced_down, true) ? 1 : 0;
      const changed = (set.disabled !== undefined && (set.disabled !== s.disabled || set.disabled_reason !== s.disabled_reason)) || (set.forced_down !== undefined && set.forced_down !== s.forced_down);
      if (!changed && body.status === undefined && body.forced_down === undefined) {
        throw new ApiError('BadRequest', "No updates were requested. Fields 'status' or 'forced_down' should be specified.");
      }
      const updated = await updateService(ctx.db, s.id, set);
      return { service: await detail(req, updated, true) };
    }
    const body = validateBody<{ host: string; binary: string; disabled_reason?: string; forced_down?: unknown }>(serviceUpdate(mv.atLeast('2.11')), req.body);
    authorize(ctx, rc, 'os_compute_api:os-services:update', {});
    const actions = ['enable', 'disable', 'disable-log-reason', ...(mv.atLeast('2.11') ? ['force-down'] : [])];
    const action = req.params.id;
    if (!actions.includes(action)) throw new ApiError('NotFound', 'Unknown action');
    const update = async (set: Partial<Pick<ServiceRow, 'disabled' | 'disabled_reason' | 'forced_down'>>) => {
      if (body.binary !== 'nova-compute') throw new ApiError('BadRequest', `Updating a ${body.binary} service is not supported. Only nova-compute services can be updated.`);
      const [s] = await listServices(ctx.db, { host: body.host, binary: body.binary });
      if (!s) throw new ApiError('NotFound', `Could not find binary ${body.binary} on host ${body.host}.`);
      await updateService(ctx.db, s.id, set);
    };
    if (action === 'force-down') {
      if (body.forced_down === undefined) throw new ApiError('BadRequest', 'Missing forced_down field');
      const forced = boolFromString(body.forced_down);
      await update({ forced_down: forced ? 1 : 0 });
      return { service: { host: body.host, binary: body.binary, forced_down: forced } };
    }
    if (action === 'enable') {
      await update({ disabled: 0, disabled_reason: null });
      return { service: { host: body.host, binary: body.binary, status: 'enabled' } };
    }
    let why: string | null = null;
    if (action === 'disable-log-reason') {
      if (body.disabled_reason === undefined) throw new ApiError('BadRequest', 'Missing disabled reason field');
      why = body.disabled_reason;
    }
    await update({ disabled: 1, disabled_reason: why });
    const out: Record<string, unknown> = { host: body.host, binary: body.binary, status: 'disabled' };
    if (why) out.disabled_reason = why;
    return { service: out };
  });

  app.delete('/os-services/:id', async (req: Req, reply) => {
    const rc = requestContext(ctx, req);
    authorize(ctx, rc, 'os_compute_api:os-services:delete', {});
    const id = req.params.id;
    let s: ServiceRow | undefined;
    if (req.computeVersion.atLeast('2.53')) {
      if (!UUID_RE.test(id)) throw new ApiError('BadRequest', `Invalid uuid ${id}`);
      s = await serviceById(ctx.db, id);
    } else {
      if (!/^\s*-?\d+\s*$/.test(id)) throw new ApiError('BadRequest', 'Invalid input received: id must be an integer');
      s = await serviceById(ctx.db, parseInt(id, 10));
    }
    if (!s) throw new ApiError('NotFound', `Service ${id} not found.`);
    if (s.binary === 'nova-compute') {
      const r = await ctx.db.selectFrom('instances').select((eb) => eb.fn.countAll().as('n')).where('host', '=', s.host).where('deleted', '=', 0).executeTakeFirst();
      if (Number(r?.n ?? 0) > 0) throw new ApiError('Conflict', 'Unable to delete compute service that is hosting instances. Migrate or delete the instances first.');
      const m = await ctx.db.selectFrom('migrations').select('id').where((eb) => eb.or([eb('source_compute', '=', s!.host), eb('dest_compute', '=', s!.host)]))
        .where('status', 'in', ['queued', 'preparing', 'running', 'migrating', 'post-migrating', 'pre-migrating', 'finished', 'confirming', 'reverting']).executeTakeFirst();
      if (m) throw new ApiError('Conflict', 'Unable to delete compute service that has in-progress migrations. Complete the migrations or delete the instances first.');
    }
    await deleteService(ctx.db, s);
    reply.code(204);
    return '';
  });
}

// ---------------------------------------------------------------- os-hypervisors

function registerHypervisors(app: FastifyInstance, ctx: ComputeContext): void {
  const serviceOf = async (n: ComputeNodeRow): Promise<ServiceRow | undefined> => (await listServices(ctx.db, { host: n.host, binary: 'nova-compute' }))[0];

  const hypView = async (req: FastifyRequest, n: ComputeNodeRow, s: ServiceRow, detail: boolean, servers?: { name: string; uuid: string }[], withServers = false) => {
    const mv = req.computeVersion;
    const uuids = mv.atLeast('2.53');
    const v: Record<string, unknown> = { id: uuids ? n.uuid : n.id, hypervisor_hostname: n.hypervisor_hostname, state: isUp(s) ? 'up' : 'down', status: s.disabled ? 'disabled' : 'enabled' };
    if (detail) {
      v.hypervisor_type = n.hypervisor_type;
      v.hypervisor_version = n.hypervisor_version;
      v.host_ip = n.host_ip;
      v.service = { id: uuids ? s.uuid : s.id, host: n.host, disabled_reason: s.disabled_reason };
      if (mv.atMost('2.87')) {
        const u = await nodeUsage(ctx.db, n.host, n.hypervisor_hostname);
        Object.assign(v, {
          vcpus: n.vcpus, memory_mb: n.memory_mb, local_gb: n.local_gb, vcpus_used: u.vcpus, memory_mb_used: u.memory_mb, local_gb_used: u.local_gb,
          free_ram_mb: n.memory_mb - u.memory_mb, free_disk_gb: n.local_gb - u.local_gb, current_workload: 0, running_vms: u.running_vms,
          disk_available_least: n.local_gb - u.local_gb,
        });
        if (mv.atMost('2.27')) v.cpu_info = n.cpu_info ?? '';
        else {
          let ci: unknown = {};
          try { ci = n.cpu_info ? JSON.parse(n.cpu_info) : {}; } catch { ci = {}; }
          v.cpu_info = ci;
        }
      } else {
        v.uptime = n.host === ctx.opts.host ? uptimeLine() : null;
      }
    }
    if (servers && servers.length) v.servers = servers;
    else if (withServers && mv.atLeast('2.75')) v.servers = [];
    return v;
  };

  const serversOn = async (host: string) => {
    const rows = await ctx.db.selectFrom('instances').select(['uuid', 'id']).where('host', '=', host).where('deleted', '=', 0).orderBy('id').execute();
    return rows.map((r) => ({ name: `instance-${Number(r.id).toString(16).padStart(8, '0')}`, uuid: r.uuid as string }));
  };

  const byPattern = async (pattern: string) => {
    const nodes = await listComputeNodes(ctx.db, { hostnameLike: pattern });
    if (!nodes.length) throw new ApiError('NotFound', `No hypervisor matching '${pattern}' could be found.`);
    return nodes;
  };

  const list = async (req: FastifyRequest, detail: boolean) => {
    const rc = requestContext(ctx, req);
    const mv = req.computeVersion;
    let q: Record<string, string[]> = {};
    if (mv.atLeast('2.33')) {
      const props: Schema = { limit: T.single(T.nonNegativeInteger), marker: T.single({ type: 'string' }) };
      if (mv.atLeast('2.53')) { props.hypervisor_hostname_pattern = T.single(fqdn); props.with_servers = T.single(T.boolean); }
      q = validateQuery({ type: 'object', properties: props, additionalProperties: !mv.atLeast('2.53') }, req);
    }
    authorize(ctx, rc, detail ? 'os_compute_api:os-hypervisors:list-detail' : 'os_compute_api:os-hypervisors:list', {});
    const pattern = mv.atLeast('2.53') ? last(q, 'hypervisor_hostname_pattern') : undefined;
    const withServers = mv.atLeast('2.53') ? boolFromString(last(q, 'with_servers') ?? false, true) : false;
    let nodes: ComputeNodeRow[];
    let links = mv.atLeast('2.33');
    let limit = ctx.opts.maxLimit;
    if (pattern !== undefined) {
      if ('limit' in q || 'marker' in q) throw new ApiError('BadRequest', 'Paging over hypervisors with the hypervisor_hostname_pattern query parameter is not supported.');
      links = false;
      nodes = await byPattern(pattern);
    } else {
      nodes = await listComputeNodes(ctx.db);
      if (mv.atLeast('2.33')) {
        const lm = limitMarker(q, ctx.opts.maxLimit);
        limit = lm.limit;
        if (lm.marker !== undefined) {
          const m = mv.atLeast('2.53') ? nodes.find((n) => n.uuid === lm.marker) : nodes.find((n) => String(n.id) === lm.marker);
          if (!m) throw new ApiError('BadRequest', `marker [${lm.marker}] not found`);
          nodes = nodes.filter((n) => n.id > m.id);
        }
        nodes = nodes.slice(0, limit);
      }
    }
    const out = [];
    for (const n of nodes) {
      const s = await serviceOf(n);
      if (!s) continue;
      out.push(await hypView(req, n, s, detail, withServers ? await serversOn(n.host) : undefined, withServers));
    }
    const body: Record<string, unknown> = { hypervisors: out };
    if (links && limit && out.length === limit) body.hypervisors_links = [nextLink(req, detail ? 'os-hypervisors/detail' : 'os-hypervisors', String(out[out.length - 1]!.id))];
    return body;
  };

  app.get('/os-hypervisors', async (req) => list(req, false));
  app.get('/os-hypervisors/detail', async (req) => list(req, true));

  app.get('/os-hypervisors/statistics', async (req) => {
    requireVersion(req, '2.1', '2.87');
    const rc = requestContext(ctx, req);
    authorize(ctx, rc, 'os_compute_api:os-hypervisors:statistics', {});
    const st = { count: 0, vcpus: 0, memory_mb: 0, local_gb: 0, vcpus_used: 0, memory_mb_used: 0, local_gb_used: 0, free_ram_mb: 0, free_disk_gb: 0, current_workload: 0, running_vms: 0, disk_available_least: 0 };
    for (const n of await listComputeNodes(ctx.db)) {
      const s = await serviceOf(n);
      if (!s || s.disabled) continue;
      const u = await nodeUsage(ctx.db, n.host, n.hypervisor_hostname);
      st.count++; st.vcpus += n.vcpus; st.memory_mb += n.memory_mb; st.local_gb += n.local_gb;
      st.vcpus_used += u.vcpus; st.memory_mb_used += u.memory_mb; st.local_gb_used += u.local_gb;
      st.free_ram_mb += n.memory_mb - u.memory_mb; st.free_disk_gb += n.local_gb - u.local_gb; st.running_vms += u.running_vms;
      st.disk_available_least += n.local_gb - u.local_gb;
    }
    return { hypervisor_statistics: st };
  });

  const loadNode = async (req: FastifyRequest, id: string): Promise<{ n: ComputeNodeRow; s: ServiceRow }> => {
    const notFound = () => new ApiError('NotFound', `Hypervisor with ID '${id}' could not be found.`);
    let n: ComputeNodeRow | undefined;
    if (req.computeVersion.atLeast('2.53')) {
      if (!UUID_RE.test(id)) throw new ApiError('BadRequest', `Invalid uuid ${id}`);
      n = await computeNodeById(ctx.db, id.toLowerCase());
    } else {
      if (!/^\s*-?\d+\s*$/.test(id)) throw notFound();
      n = await computeNodeById(ctx.db, parseInt(id, 10));
    }
    if (!n) throw notFound();
    const s = await serviceOf(n);
    if (!s) throw notFound();
    return { n, s };
  };

  app.get('/os-hypervisors/:id', async (req: Req) => {
    const rc = requestContext(ctx, req);
    let withServers = false;
    if (req.computeVersion.atLeast('2.53')) {
      const q = validateQuery({ type: 'object', properties: { with_servers: T.single(T.boolean) }, additionalProperties: false }, req);
      withServers = boolFromString(last(q, 'with_servers') ?? false, true);
    }
    authorize(ctx, rc, 'os_compute_api:os-hypervisors:show', {});
    const { n, s } = await loadNode(req, req.params.id);
    return { hypervisor: await hypView(req, n, s, true, withServers ? await serversOn(n.host) : undefined, withServers) };
  });

  app.get('/os-hypervisors/:id/uptime', async (req: Req) => {
    requireVersion(req, '2.1', '2.87');
    const rc = requestContext(ctx, req);
    authorize(ctx, rc, 'os_compute_api:os-hypervisors:uptime', {});
    const { n, s } = await loadNode(req, req.params.id);
    if (n.host !== ctx.opts.host) throw new ApiError('NotImplemented', 'Action is not supported.');
    const v = await hypView(req, n, s, false);
    v.uptime = uptimeLine();
    return { hypervisor: v };
  });

  app.get('/os-hypervisors/:id/search', async (req: Req) => {
    requireVersion(req, '2.1', '2.52');
    const rc = requestContext(ctx, req);
    authorize(ctx, rc, 'os_compute_api:os-hypervisors:search', {});
    const out = [];
    for (const n of await byPattern(req.params.id)) {
      const s = await serviceOf(n);
      if (s) out.push(await hypView(req, n, s, false));
    }
    return { hypervisors: out };
  });

  app.get('/os-hypervisors/:id/servers', async (req: Req) => {
    requireVersion(req, '2.1', '2.52');
    const rc = requestContext(ctx, req);
    authorize(ctx, rc, 'os_compute_api:os-hypervisors:servers', {});
    const out = [];
    for (const n of await byPattern(req.params.id)) {
      const s = await serviceOf(n);
      if (s) out.push(await hypView(req, n, s, false, await serversOn(n.host)));
    }
    return { hypervisors: out };
  });
}

// ---------------------------------------------------------------- availability zones, os-hosts

function registerZonesAndHosts(app: FastifyInstance, ctx: ComputeContext): void {
  const zones = async () => {
    const services = (await listServices(ctx.db)).filter((s) => !API_SERVICES.includes(s.binary));
    const withZone: { s: ServiceRow; zone: string }[] = [];
    for (const s of services) withZone.push({ s, zone: await zoneOf(ctx, s) });
    const available = new Set<string>();
    for (const { s, zone } of withZone) if (!s.disabled) for (const z of zone.split(',')) available.add(z);
    const notAvailable = new Set<string>();
    for (const { s, zone } of withZone) if (s.disabled) for (const z of zone.split(',')) if (!available.has(z)) notAvailable.add(z);
    return { withZone, available: [...available].sort(), notAvailable: [...notAvailable].sort() };
  };

  app.get('/os-availability-zone', async (req) => {
    const rc = requestContext(ctx, req);
    authorize(ctx, rc, 'os_compute_api:os-availability-zone:list', {});
    const z = await zones();
    const result: unknown[] = [];
    for (const zone of z.available) if (zone !== INTERNAL_ZONE) result.push({ zoneName: zone, zoneState: { available: true }, hosts: null });
    for (const zone of z.notAvailable) if (zone !== INTERNAL_ZONE) result.push({ zoneName: zone, zoneState: { available: false }, hosts: null });
    return { availabilityZoneInfo: result };
  });

  app.get('/os-availability-zone/detail', async (req) => {
    const rc = requestContext(ctx, req);
    authorize(ctx, rc, 'os_compute_api:os-availability-zone:detail', {});
    const z = await zones();
    const result: unknown[] = [];
    for (const zone of z.available) {
      const hosts: Record<string, Record<string, unknown>> = {};
      for (const { s, zone: sz } of z.withZone) {
        if (s.disabled || !sz.split(',').includes(zone)) continue;
        (hosts[s.host] ??= {})[s.binary] = { available: isUp(s), active: !s.disabled, updated_at: dt(s.updated_at ?? s.last_seen_up) };
      }
      result.push({ zoneName: zone, zoneState: { available: true }, hosts });
    }
    for (const zone of z.notAvailable) result.push({ zoneName: zone, zoneState: { available: false }, hosts: null });
    return { availabilityZoneInfo: result };
  });

  // os-hosts (deprecated; gone from 2.43)
  app.get('/os-hosts', async (req) => {
    requireVersion(req, '2.1', '2.42');
    const rc = requestContext(ctx, req);
    const q = validateQuery({ type: 'object', properties: { zone: T.multi({ type: 'string' }) }, additionalProperties: true }, req);
    authorize(ctx, rc, 'os_compute_api:os-hosts:list', {});
    const zone = last(q, 'zone');
    const hosts = [];
    for (const s of (await listServices(ctx.db)).filter((x) => !API_SERVICES.includes(x.binary))) {
      const z = await zoneOf(ctx, s);
      if (zone && z !== zone) continue;
      hosts.push({ host_name: s.host, service: s.topic ?? s.binary.replace(/^nova-/, ''), zone: z });
    }
    return { hosts };
  });

  app.get('/os-hosts/:id', async (req: Req) => {
    requireVersion(req, '2.1', '2.42');
    const rc = requestContext(ctx, req);
    authorize(ctx, rc, 'os_compute_api:os-hosts:show', {});
    const host = req.params.id;
    const [svc] = await listServices(ctx.db, { host, binary: 'nova-compute' });
    const nodes = await listComputeNodes(ctx.db, { host });
    if (!svc || !nodes.length) throw new ApiError('NotFound', `Compute host ${host} could not be found.`);
    const total = nodes.reduce((a, n) => ({ cpu: a.cpu + n.vcpus, memory_mb: a.memory_mb + n.memory_mb, disk_gb: a.disk_gb + n.local_gb }), { cpu: 0, memory_mb: 0, disk_gb: 0 });
    const insts = await ctx.db.selectFrom('instances').select(['project_id', 'vcpus', 'memory_mb', 'root_gb', 'ephemeral_gb']).where('host', '=', host).where('deleted', '=', 0).execute();
    const used = { cpu: 0, memory_mb: 0, disk_gb: 0 };
    const byProject = new Map<string, { cpu: number; memory_mb: number; disk_gb: number }>();
    for (const i of insts) {
      const p = byProject.get(i.project_id as string) ?? { cpu: 0, memory_mb: 0, disk_gb: 0 };
      const c = Number(i.vcpus), m = Number(i.memory_mb), d = Number(i.root_gb) + Number(i.ephemeral_gb);
      p.cpu += c; p.memory_mb += m; p.disk_gb += d; used.cpu += c; used.memory_mb += m; used.disk_gb += d;
      byProject.set(i.project_id as string, p);
    }
    const res = (project: string, v: { cpu: number; memory_mb: number; disk_gb: number }) => ({ resource: { host, project, ...v } });
    return { host: [res('(total)', total), res('(used_now)', used), res('(used_max)', used), ...[...byProject.entries()].map(([p, v]) => res(p, v))] };
  });

  for (const action of ['startup', 'shutdown', 'reboot']) {
    app.get(`/os-hosts/:id/${action}`, async (req: Req) => {
      requireVersion(req, '2.1', '2.42');
      const rc = requestContext(ctx, req);
      authorize(ctx, rc, `os_compute_api:os-hosts:${action === 'startup' ? 'start' : action}`, {});
      const [svc] = await listServices(ctx.db, { host: req.params.id, binary: 'nova-compute' });
      if (!svc) throw new ApiError('NotFound', `Compute host ${req.params.id} could not be found.`);
      throw new ApiError('NotImplemented', 'Virt driver does not implement host power management.');
    });
  }
  app.put('/os-hosts/:id', async (req: Req) => {
    requireVersion(req, '2.1', '2.42');
    const rc = requestContext(ctx, req);
    authorize(ctx, rc, 'os_compute_api:os-hosts:update', {});
    const body = validateBody<{ status?: string; maintenance_mode?: string }>({
      type: 'object', additionalProperties: false, anyOf: [{ required: ['status'] }, { required: ['maintenance_mode'] }],
      properties: { status: { type: 'string', enum: ['enable', 'disable', 'Enable', 'Disable', 'ENABLE', 'DISABLE'] }, maintenance_mode: { type: 'string', enum: ['enable', 'disable', 'Enable', 'Disable', 'ENABLE', 'DISABLE'] } },
    }, req.body);
    const [s] = await listServices(ctx.db, { host: req.params.id, binary: 'nova-compute' });
    if (!s) throw new ApiError('NotFound', `Compute host ${req.params.id} could not be found.`);
    if (body.maintenance_mode !== undefined) throw new ApiError('NotImplemented', 'Virt driver does not implement host maintenance mode.');
    const enable = body.status!.toLowerCase() === 'enable';
    await updateService(ctx.db, s.id, { disabled: enable ? 0 : 1 });
    return { host: req.params.id, status: enable ? 'enabled' : 'disabled' };
  });
}

// ---------------------------------------------------------------- os-aggregates

function registerAggregates(app: FastifyInstance, ctx: ComputeContext): void {
  const view = (req: FastifyRequest, a: Aggregate, full = true): Record<string, unknown> => {
    const v: Record<string, unknown> = {
      availability_zone: a.metadata.availability_zone ?? null, created_at: dt(a.created_at), deleted: false, deleted_at: null,
      id: a.id, name: a.name, updated_at: dt(a.updated_at),
    };
    if (full) { v.hosts = a.hosts; v.metadata = a.metadata; }
    if (req.computeVersion.atLeast('2.41')) v.uuid = a.uuid;
    return v;
  };
  const load = async (id: string): Promise<Aggregate> => {
    const a = /^\d+$/.test(id) ? await aggregateById(ctx.db, Number(id)) : undefined;
    if (!a) throw new ApiError('NotFound', `Aggregate ${id} could not be found.`);
    return a;
  };
  const zoneConflict = async (a: Aggregate, zone: string | null, hosts = a.hosts): Promise<string | null> => {
    if (!zone) return null;
    for (const h of hosts) {
      const z = await hostAvailabilityZone(ctx.db, h, '');
      const others = z.split(',').filter((x) => x && x !== (a.metadata.availability_zone ?? ''));
      if (others.length && !others.includes(zone)) return others.join(',');
    }
    return null;
  };

  app.get('/os-aggregates', async (req) => {
    const rc = requestContext(ctx, req);
    authorize(ctx, rc, 'os_compute_api:os-aggregates:index', {});
    return { aggregates: (await listAggregates(ctx.db)).map((a) => view(req, a)) };
  });

  app.post('/os-aggregates', async (req) => {
    const rc = requestContext(ctx, req);
    authorize(ctx, rc, 'os_compute_api:os-aggregates:create', {});
    const body = validateBody<{ aggregate: { name: string; availability_zone?: string | null } }>(aggCreate, req.body);
    const { name, availability_zone: az } = body.aggregate;
    if (await aggregateByName(ctx.db, name)) throw new ApiError('Conflict', `Aggregate ${name} already exists.`);
    try {
      const a = await insertAggregate(ctx.db, name, az ? { availability_zone: az } : {});
      return { aggregate: view(req, a, false) };
    } catch (e) {
      if (isUniqueViolation(e)) throw new ApiError('Conflict', `Aggregate ${name} already exists.`);
      throw e;
    }
  });

  app.get('/os-aggregates/:id', async (req: Req) => {
    const rc = requestContext(ctx, req);
    authorize(ctx, rc, 'os_compute_api:os-aggregates:show', {});
    return { aggregate: view(req, await load(req.params.id)) };
  });

  app.put('/os-aggregates/:id', async (req: Req) => {
    const rc = requestContext(ctx, req);
    authorize(ctx, rc, 'os_compute_api:os-aggregates:update', {});
    const body = validateBody<{ aggregate: { name?: string; availability_zone?: string | null } }>(aggUpdate, req.body);
    const a = await load(req.params.id);
    const u = body.aggregate;
    if (u.name !== undefined && u.name !== a.name) {
      if (await aggregateByName(ctx.db, u.name)) throw new ApiError('Conflict', `Aggregate ${u.name} already exists.`);
      await renameAggregate(ctx.db, a.id, u.name);
    }
    if ('availability_zone' in u) {
      const other = await zoneConflict(a, u.availability_zone ?? null);
      if (other) throw new ApiError('BadRequest', `Invalid update setting: 'Cannot update aggregate ${a.id}. Reason: One or more hosts already in availability zone(s) ['${other}'].'`);
      await updateAggregateMetadata(ctx.db, a.id, { availability_zone: u.availability_zone ?? null });
    }
    return { aggregate: view(req, await load(req.params.id)) };
  });

  app.delete('/os-aggregates/:id', async (req: Req) => {
    const rc = requestContext(ctx, req);
    authorize(ctx, rc, 'os_compute_api:os-aggregates:delete', {});
    const a = await load(req.params.id);
    if (a.hosts.length) throw new ApiError('BadRequest', `Cannot remove aggregate ${a.id}. Reason: Host aggregate is not empty.`);
    await deleteAggregate(ctx.db, a.id);
    return '';
  });

  app.post('/os-aggregates/:id/action', async (req: Req) => {
    const rc = requestContext(ctx, req);
    const b = req.body as Record<string, unknown> | undefined;
    const action = b && typeof b === 'object' ? Object.keys(b)[0] : undefined;
    if (action === 'add_host') {
      authorize(ctx, rc, 'os_compute_api:os-aggregates:add_host', {});
      const body = validateBody<{ add_host: { host: string } }>(hostAction('add_host'), b);
      const host = body.add_host.host;
      const a = await load(req.params.id);
      const [svc] = await listServices(ctx.db, { host, binary: 'nova-compute' });
      if (!svc) throw new ApiError('NotFound', `Compute host ${host} could not be found.`);
      if (a.hosts.includes(host)) throw new ApiError('Conflict', `Aggregate ${a.id} already has host ${host}.`);
      const other = await zoneConflict(a, a.metadata.availability_zone ?? null, [host]);
      if (other) throw new ApiError('Conflict', `Cannot add host to aggregate ${a.id}. Reason: One or more hosts already in availability zone(s) ['${other}'].`);
      await addAggregateHost(ctx.db, a.id, host);
      return { aggregate: view(req, await load(req.params.id)) };
    }
    if (action === 'remove_host') {
      authorize(ctx, rc, 'os_compute_api:os-aggregates:remove_host', {});
      const body = validateBody<{ remove_host: { host: string } }>(hostAction('remove_host'), b);
      const host = body.remove_host.host;
      const a = await load(req.params.id);
      if (!(await removeAggregateHost(ctx.db, a.id, host))) throw new ApiError('NotFound', `Aggregate ${a.id} has no host ${host}.`);
      return { aggregate: view(req, await load(req.params.id)) };
    }
    if (action === 'set_metadata') {
      authorize(ctx, rc, 'os_compute_api:os-aggregates:set_metadata', {});
      const body = validateBody<{ set_metadata: { metadata: Record<string, string | null> } }>(setMetadata, b);
      const a = await load(req.params.id);
      const md = body.set_metadata.metadata;
      if ('availability_zone' in md) {
        const z = md.availability_zone;
        if (z !== null && z !== undefined) {
          const bad = z.includes(':') || z.trim() !== z || z.length === 0;
          if (bad) throw new ApiError('BadRequest', "Invalid input for field/attribute availability_zone. Value: " + z + ". The availability zone name can't contain ':' or start or end with whitespace");
          const other = await zoneConflict(a, z);
          if (other) throw new ApiError('BadRequest', `Invalid update setting: 'Cannot update aggregate ${a.id}. Reason: One or more hosts already in availability zone(s) ['${other}'].'`);
        }
      }
      await updateAggregateMetadata(ctx.db, a.id, md);
      return { aggregate: view(req, await load(req.params.id)) };
    }
    throw new ApiError('BadRequest', `Invalid request body: unknown action ${action ?? 'None'}`);
  });
}

// ---------------------------------------------------------------- os-simple-tenant-usage

function registerUsage(app: FastifyInstance, ctx: ComputeContext): void {
  const parseDt = (s: string | undefined, now: Date): Date => {
    if (!s) return now;
    const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/.exec(s);
    if (!m || (s.includes(' ') && !m[7])) throw new ApiError('BadRequest', 'Invalid datetime string: Datetime is in invalid format');
    const d = new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, m[7] ? Math.floor(+m[7].padEnd(6, '0') / 1000) : 0));
    if (Number.isNaN(d.getTime())) throw new ApiError('BadRequest', 'Invalid datetime string: Datetime is in invalid format');
    return d;
  };
  const iso = (d: Date) => d.toISOString().replace('Z', '000').replace(/\.(\d{6})\d*$/, '.$1');

  const usage = async (req: FastifyRequest, tenantId: string | undefined, detailedDefault: boolean, links: boolean) => {
    const params = new URL(req.url, 'http://x').searchParams;
    const now = new Date();
    const start = parseDt(params.get('start') ?? undefined, now);
    let stop = parseDt(params.get('end') ?? undefined, now);
    if (!(start < stop)) throw new ApiError('BadRequest', 'Invalid start time. The start time cannot occur after the end time.');
    if (stop > now) stop = now;
    const detailed = tenantId !== undefined ? true : detailedDefault || params.get('detailed') === '1';
    let limit: number | undefined = ctx.opts.maxLimit;
    let marker: string | undefined;
    if (links) {
      const lists: Record<string, string[]> = {};
      for (const [k, v] of params) (lists[k] ??= []).push(v);
      ({ limit, marker } = limitMarker(lists, ctx.opts.maxLimit));
    }
    let qb = ctx.db.selectFrom('instances').selectAll()
      .where('launched_at', 'is not', null).where('launched_at', '<', stop.toISOString())
      .where((eb) => eb.or([eb('terminated_at', 'is', null), eb('terminated_at', '>', start.toISOString())]))
      .orderBy('created_at').orderBy('id');
    if (tenantId !== undefined) qb = qb.where('project_id', '=', tenantId);
    let rows = await qb.execute();
    if (marker !== undefined) {
      const i = rows.findIndex((r) => r.uuid === marker);
      if (i < 0) throw new ApiError('BadRequest', `Marker ${marker} could not be found.`);
      rows = rows.slice(i + 1);
    }
    if (limit !== undefined) rows = rows.slice(0, limit);
    const tenants = new Map<string, Record<string, unknown>>();
    const all: Record<string, unknown>[] = [];
    for (const r of rows) {
      let fl: { cur?: { name?: string; memory_mb?: number; root_gb?: number; ephemeral_gb?: number; vcpus?: number } } = {};
      try { fl = JSON.parse(r.flavor as string); } catch { fl = {}; }
      const f = fl.cur ?? {};
      const launched = new Date(r.launched_at as string);
      const terminated = r.terminated_at ? new Date(r.terminated_at as string) : null;
      let hours = 0;
      if (!(terminated && terminated < start) && !(launched > stop)) {
        const a = launched > start ? launched : start;
        const b = terminated && terminated < stop ? terminated : stop;
        hours = (b.getTime() - a.getTime()) / 3600000;
      }
      const info: Record<string, unknown> = {
        hours, flavor: f.name ?? '', instance_id: r.uuid, name: r.display_name, tenant_id: r.project_id,
        memory_mb: f.memory_mb ?? Number(r.memory_mb), local_gb: (f.root_gb ?? Number(r.root_gb)) + (f.ephemeral_gb ?? Number(r.ephemeral_gb)),
        vcpus: f.vcpus ?? Number(r.vcpus), started_at: iso(launched), ended_at: terminated ? iso(terminated) : null,
        state: terminated ? 'terminated' : r.vm_state,
      };
      info.uptime = Math.floor(((terminated ?? now).getTime() - launched.getTime()) / 1000);
      let s = tenants.get(r.project_id as string);
      if (!s) {
        s = { tenant_id: r.project_id, ...(detailed ? { server_usages: [] } : {}), total_local_gb_usage: 0, total_vcpus_usage: 0, total_memory_mb_usage: 0, total_hours: 0, start: iso(start), stop: iso(stop) };
        tenants.set(r.project_id as string, s);
      }
      s.total_local_gb_usage = (s.total_local_gb_usage as number) + (info.local_gb as number) * hours;
      s.total_vcpus_usage = (s.total_vcpus_usage as number) + (info.vcpus as number) * hours;
      s.total_memory_mb_usage = (s.total_memory_mb_usage as number) + (info.memory_mb as number) * hours;
      s.total_hours = (s.total_hours as number) + hours;
      if (detailed) (s.server_usages as unknown[]).push(info);
      all.push(info);
    }
    const maxItems = Math.min(limit ?? ctx.opts.maxLimit, ctx.opts.maxLimit);
    const next = links && maxItems && all.length === maxItems
      ? [nextLink(req, tenantId !== undefined ? `os-simple-tenant-usage/${tenantId}` : 'os-simple-tenant-usage', all[all.length - 1]!.instance_id as string)] : null;
    return { usages: [...tenants.values()], next };
  };

  const usageQuery = (req: FastifyRequest, show: boolean) => {
    const mv = req.computeVersion;
    const props: Schema = { start: T.multi({ type: 'string' }), end: T.multi({ type: 'string' }) };
    if (!show) props.detailed = T.multi({ type: 'string' });
    if (mv.atLeast('2.40')) { props.limit = T.multi(T.nonNegativeInteger); props.marker = T.multi({ type: 'string' }); }
    validateQuery({ type: 'object', properties: props, additionalProperties: !mv.atLeast('2.75') }, req);
  };

  app.get('/os-simple-tenant-usage', async (req) => {
    // `/os-simple-tenant-usage/` is a show with an empty tenant id: no such route in Nova.
    if (/\/os-simple-tenant-usage\/(\?|$)/.test(req.url)) throw new ApiError('NotFound', 'The resource could not be found.');
    const rc = requestContext(ctx, req);
    usageQuery(req, false);
    authorize(ctx, rc, 'os_compute_api:os-simple-tenant-usage:list', {});
    const links = req.computeVersion.atLeast('2.40');
    const u = await usage(req, undefined, false, links);
    return { tenant_usages: u.usages, ...(u.next ? { tenant_usages_links: u.next } : {}) };
  });

  app.get('/os-simple-tenant-usage/:id', async (req: Req) => {
    const rc = requestContext(ctx, req);
    usageQuery(req, true);
    authorize(ctx, rc, 'os_compute_api:os-simple-tenant-usage:show', { project_id: req.params.id });
    const links = req.computeVersion.atLeast('2.40');
    const u = await usage(req, req.params.id, true, links);
    return { tenant_usage: u.usages[0] ?? {}, ...(u.next ? { tenant_usage_links: u.next } : {}) };
  });
}

// ---------------------------------------------------------------- os-migrations

function registerMigrations(app: FastifyInstance, ctx: ComputeContext): void {
  app.get('/os-migrations', async (req) => {
    const rc = requestContext(ctx, req);
    const mv = req.computeVersion;
    const props: Schema = {
      hidden: T.multi({ type: 'string' }), host: T.multi({ type: 'string' }), instance_uuid: T.multi({ type: 'string' }),
      source_compute: T.multi({ type: 'string' }), status: T.multi({ type: 'string' }), migration_type: T.multi({ type: 'string', enum: ['evacuation', 'live-migration', 'migration', 'resize'] }),
    };
    if (mv.atLeast('2.59')) { props.limit = T.single(T.nonNegativeInteger); props.marker = T.single({ type: 'string' }); props['changes-since'] = T.single({ type: 'string', format: 'date-time' }); }
    if (mv.atLeast('2.66')) props['changes-before'] = T.single({ type: 'string', format: 'date-time' });
    if (mv.atLeast('2.80')) { props.user_id = T.single({ type: 'string' }); props.project_id = T.single({ type: 'string' }); }
    const q = validateQuery({ type: 'object', properties: props, additionalProperties: !mv.atLeast('2.59') }, req);
    authorize(ctx, rc, 'os_compute_api:os-migrations:index', {});
    let qb = ctx.db.selectFrom('migrations').selectAll();
    const host = last(q, 'host');
    if (host) qb = qb.where((eb) => eb.or([eb('source_compute', '=', host), eb('dest_compute', '=', host)]));
    for (const k of ['instance_uuid', 'source_compute', 'status', 'migration_type', 'user_id', 'project_id']) {
      const v = last(q, k);
      if (v !== undefined && (k !== 'user_id' && k !== 'project_id' || mv.atLeast('2.80'))) qb = qb.where(k, '=', v);
    }
    if (mv.atLeast('2.59')) {
      const since = last(q, 'changes-since');
      const before = mv.atLeast('2.66') ? last(q, 'changes-before') : undefined;
      if (since && before && Date.parse(before) < Date.parse(since)) throw new ApiError('BadRequest', 'The value of changes-since must be less than or equal to changes-before.');
      if (since) qb = qb.where((eb) => eb.or([eb('updated_at', '>=', new Date(since).toISOString()), eb.and([eb('updated_at', 'is', null), eb('created_at', '>=', new Date(since).toISOString())])]));
      if (before) qb = qb.where((eb) => eb.or([eb('updated_at', '<=', new Date(before).toISOString()), eb.and([eb('updated_at', 'is', null), eb('created_at', '<=', new Date(before).toISOString())])]));
      qb = qb.orderBy('created_at', 'desc').orderBy('id', 'desc');
    } else qb = qb.orderBy('id');
    let rows = await qb.execute();
    let limit: number | undefined;
    if (mv.atLeast('2.59')) {
      const lm = limitMarker(q, ctx.opts.maxLimit);
      limit = lm.limit;
      if (lm.marker !== undefined) {
        const i = rows.findIndex((r) => r.uuid === lm.marker);
        if (i < 0) throw new ApiError('BadRequest', `Marker ${lm.marker} could not be found.`);
        rows = rows.slice(i + 1);
      }
      rows = rows.slice(0, limit);
    }
    const inProgressLive = ['queued', 'preparing', 'running', 'post-migrating'];
    const out = rows.map((r) => {
      const v: Record<string, unknown> = {
        created_at: dt(r.created_at as string), dest_compute: r.dest_compute, dest_host: null, dest_node: r.dest_node, id: Number(r.id),
        instance_uuid: r.instance_uuid, new_instance_type_id: r.new_instance_type_id === null ? null : Number(r.new_instance_type_id),
        old_instance_type_id: r.old_instance_type_id === null ? null : Number(r.old_instance_type_id), source_compute: r.source_compute,
        source_node: r.source_node, status: r.status, updated_at: dt(r.updated_at as string | null),
      };
      if (mv.atLeast('2.23')) {
        v.migration_type = r.migration_type;
        if (r.migration_type === 'live-migration' && inProgressLive.includes(r.status as string)) {
          v.links = resourceLinks(req, `servers/${r.instance_uuid}/migrations`, String(r.id));
        }
      }
      if (mv.atLeast('2.59')) v.uuid = r.uuid;
      if (mv.atLeast('2.80')) { v.user_id = r.user_id; v.project_id = r.project_id; }
      return v;
    });
    const body: Record<string, unknown> = { migrations: out };
    if (mv.atLeast('2.59') && limit && out.length === limit) body.migrations_links = [nextLink(req, 'os-migrations', String(rows[rows.length - 1]!.uuid))];
    return body;
  });
}
