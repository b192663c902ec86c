// Compute API: flavors (list, detail, show, create, update description 2.55+, delete), their extra
// specs (os-extra_specs, validated against Nova's known namespaces from 2.86) and flavor access
// (addTenantAccess/removeTenantAccess, os-flavor-access) — Nova's flavors, flavor_manage,
// flavors_extraspecs and flavor_access controllers.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import { allowed, authorize, requestContext, type ComputeContext, type RequestContext } from '../context.js';
import { ApiError } from '../../common/errors.js';
import { isUniqueViolation } from '../../common/db/index.js';
import { requireVersion } from './microversion.js';
import { boolFromString, last, limitMarker, nextLink, PRINTABLE, resourceLinks, T, validateBody, validateQuery, type Schema } from './nova-schema.js';
import {
  addFlavorProject, deleteExtraSpec, deleteFlavorRow, extraSpecs, FlavorConflict, flavorProjects, insertFlavor, listFlavorRows,
  putExtraSpecs, removeFlavorProject, setFlavorDescription, visibleFlavor, type FlavorRow,
} from '../store/flavors.js';
import { verifyProjectId } from './common.js';
import { EXTRA_SPEC_NAMESPACES, EXTRA_SPEC_VALIDATORS, type ExtraSpecValidator } from './flavor-extra-specs-data.js';

// ---- schemas (nova/api/openstack/compute/schemas/flavor*.py) ----

const intParam = (min: number): Schema => ({ type: ['integer', 'string'], pattern: '^[0-9]+$', minimum: min, maximum: 0x7FFFFFFF });
const flavorDescription: Schema = { type: ['string', 'null'], minLength: 0, maxLength: 65535, pattern: PRINTABLE };

function createSchema(mv: FastifyRequest["computeVersion"]): Schema {
  const props: Schema = {
    name: T.name,
    id: { type: ['string', 'number', 'null'], minLength: 1, maxLength: 255, pattern: '^(?! )[a-zA-Z0-9. _-]+(?<! )$' },
    ram: intParam(1), vcpus: intParam(1), disk: intParam(0), 'OS-FLV-EXT-DATA:ephemeral': intParam(0), swap: intParam(0),
    rxtx_factor: { type: ['number', 'string'], pattern: '^[0-9]+(\\.[0-9]+)?$', minimum: 0, exclusiveMinimum: true, maximum: 3.40282e+38 },
    'os-flavor-access:is_public': T.boolean,
  };
  if (mv.atLeast('2.55')) props.description = flavorDescription;
  return { type: 'object', properties: { flavor: { type: 'object', properties: props, required: ['name', 'ram', 'vcpus', 'disk'], additionalProperties: false } }, required: ['flavor'], additionalProperties: false };
}

const updateSchema: Schema = {
  type: 'object', required: ['flavor'], additionalProperties: false,
  properties: { flavor: { type: 'object', properties: { description: flavorDescription }, required: ['description'], additionalProperties: false } },
};

const SORT_KEYS = ['created_at', 'description', 'disabled', 'ephemeral_gb', 'flavorid', 'id', 'is_public', 'memory_mb', 'name', 'root_gb',
  'rxtx_factor', 'swap', 'updated_at', 'vcpu_weight', 'vcpus'];
const indexQuery = (strict: boolean): Schema => ({
  type: 'object', additionalProperties: !strict,
  properties: {
    limit: T.multi(T.nonNegativeInteger), marker: T.multi({ type: 'string' }), is_public: T.multi({ type: 'string' }),
    minRam: T.multi({ type: 'string' }), minDisk: T.multi({ type: 'string' }),
    sort_key: T.multi({ type: 'string', enum: SORT_KEYS }), sort_dir: T.multi({ type: 'string', enum: ['asc', 'desc'] }),
  },
});
const INDEX_QUERY = indexQuery(false);
const INDEX_QUERY_275 = indexQuery(true);

const specsMetadata: Schema = { type: 'object', patternProperties: { '^[a-zA-Z0-9-_:. ]{1,255}$': { type: ['string', 'number'], maxLength: 255 } }, additionalProperties: false };
const extraSpecsCreate: Schema = { type: 'object', properties: { extra_specs: specsMetadata }, required: ['extra_specs'], additionalProperties: false };
const extraSpecsUpdate: Schema = { ...specsMetadata, minProperties: 1, maxProperties: 1 };

const tenantAccess = (action: string): Schema => ({
  type: 'object', required: [action], additionalProperties: false,
  properties: { [action]: { type: 'object', properties: { tenant: { type: 'string', minLength: 1, maxLength: 255 } }, required: ['tenant'], additionalProperties: false } },
});
const ADD_ACCESS = tenantAccess('addTenantAccess');
const REMOVE_ACCESS = tenantAccess('removeTenantAccess');

// ---- views (nova/api/openstack/compute/views/flavors.py) ----

type Req = FastifyRequest<{ Params: { id: string; key: string } }>;

function includeExtraSpecs(ctx: ComputeContext, rc: RequestContext, req: FastifyRequest): boolean {
  return req.computeVersion.atLeast('2.61') && allowed(ctx, rc, 'os_compute_api:os-flavor-extra-specs:index');
}

function basicView(req: FastifyRequest, f: FlavorRow): Record<string, unknown> {
  const v: Record<string, unknown> = { id: f.flavorid, name: f.name, links: resourceLinks(req, 'flavors', f.flavorid) };
  if (req.computeVersion.atLeast('2.55')) v.description = f.description;
  return v;
}

function fullView(req: FastifyRequest, f: FlavorRow, specs: Record<string, string> | null): Record<string, unknown> {
  const v: Record<string, unknown> = {
    id: f.flavorid, name: f.name, ram: f.memory_mb, disk: f.root_gb,
    swap: req.computeVersion.atLeast('2.75') ? (f.swap || 0) : (f.swap || ''),
    'OS-FLV-EXT-DATA:ephemeral': f.ephemeral_gb, 'OS-FLV-DISABLED:disabled': !!f.disabled, vcpus: f.vcpus,
    'os-flavor-access:is_public': !!f.is_public, rxtx_factor: Number(f.rxtx_factor) || '',
    links: resourceLinks(req, 'flavors', f.flavorid),
  };
  if (req.computeVersion.atLeast('2.55')) v.description = f.description;
  if (specs) v.extra_specs = specs;
  return v;
}

const notFound = (id: string) => new ApiError('NotFound', `Flavor ${id} could not be found.`);

async function getFlavor(ctx: ComputeContext, rc: RequestContext, id: string): Promise<FlavorRow> {
  const f = await visibleFlavor(ctx.db, id, rc.projectId, rc.isAdmin);
  if (!f) throw notFound(id);
  return f;
}

function compare(a: unknown, b: unknown): number {
  // SQL ordering: NULLs first ascending (SQLite/MySQL), numbers numerically, text by code unit.
  if (a === b) return 0;
  if (a === null || a === undefined) return -1;
  if (b === null || b === undefined) return 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a) < String(b) ? -1 : 1;
}

async function listFlavors(ctx: ComputeContext, req: FastifyRequest): Promise<{ rows: FlavorRow[]; limit: number }> {
  const rc = requestContext(ctx, req);
  const q = validateQuery(req.computeVersion.atLeast('2.75') ? INDEX_QUERY_275 : INDEX_QUERY, req);
  const sortKey = last(q, 'sort_key') || 'flavorid';
  const sortDir = last(q, 'sort_dir') || 'asc';
  const { limit, marker } = limitMarker(q, ctx.opts.maxLimit);
  let isPublic: boolean | null = true;
  let disabled: boolean | undefined;
  if (rc.isAdmin) {
    const p = last(q, 'is_public');
    if (p !== undefined) {
      if (p.toLowerCase() === 'none') isPublic = null;
      else {
        try { isPublic = boolFromString(p, true); } catch { throw new ApiError('BadRequest', `Invalid is_public filter [${p}]`); }
      }
    }
  } else disabled = false;
  const intFilter = (name: string): number | undefined => {
    const v = last(q, name);
    if (v === undefined) return undefined;
    if (!/^\s*[-+]?\d+\s*$/.test(v)) throw new ApiError('BadRequest', `Invalid ${name} filter [${v}]`);
    return parseInt(v, 10);
  };
  const minRam = intFilter('minRam');
  const minDisk = intFilter('minDisk');
  let rows = await listFlavorRows(ctx.db, {
    isPublic, projectId: rc.projectId, isAdmin: rc.isAdmin,
    ...(disabled !== undefined ? { disabled } : {}), ...(minRam !== undefined ? { minMemoryMb: minRam } : {}), ...(minDisk !== undefined ? { minRootGb: minDisk } : {}),
  });
  const key = sortKey as keyof FlavorRow;
  const dir = sortDir === 'desc' ? -1 : 1;
  rows.sort((a, b) => dir * (compare(a[key], b[key]) || a.id - b.id));
  if (marker !== undefined) {
    const m = await visibleFlavor(ctx.db, marker, rc.projectId, rc.isAdmin);
    if (!m) throw new ApiError('BadRequest', `marker [${marker}] not found`);
    rows = rows.filter((r) => dir * (compare(r[key], m[key]) || r.id - m.id) > 0);
  }
  return { rows: rows.slice(0, limit), limit };
}

function withLinks(req: FastifyRequest, coll: string, list: FlavorRow[], views: unknown[], limit: number): Record<string, unknown> {
  const out: Record<string, unknown> = { flavors: views };
  if (limit && list.length === limit) out.flavors_links = [nextLink(req, coll, list[list.length - 1]!.flavorid)];
  return out;
}

/** Nova's extra spec validators (2.86+): a known namespace's key must be a known spec with a valid value. */
const compiled: { v: ExtraSpecValidator; re: RegExp }[] = EXTRA_SPEC_VALIDATORS.map((v) => {
  const src = v.r ?? v.n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  let re: RegExp;
  try { re = new RegExp(`^(?:${src})$`); } catch { re = new RegExp(`^(?:${src.replace(/\(\?<\w+>/g, '(')})$`); }
  return { v, re };
});
const namespaces = EXTRA_SPEC_NAMESPACES.map((n) => new RegExp(`^(?:${n})$`));

function validateExtraSpec(name: string, value: string): void {
  const fail = (m: string) => { throw new ApiError('BadRequest', m); };
  const hit = compiled.find((c) => c.v.n === name) ?? compiled.find((c) => c.re.test(name));
  if (!hit) {
    if (!name.includes(':')) return;
    if (namespaces.some((n) => n.test(name.split(':', 1)[0]!))) fail(`Validation failed; extra spec '${name}' does not appear to be a valid extra spec.`);
    return;
  }
  const v = hit.v;
  if (v.t === 'int') {
    if (!/^\s*[-+]?\d+\s*$/.test(value)) fail(`Validation failed; '${value}' is not a valid integer value.`);
    const n = parseInt(value, 10);
    if (v.max !== undefined && v.max < n) fail(`Validation failed; '${value}' is greater than the max value of '${v.max}'.`);
    if (v.min !== undefined && v.min > n) fail(`Validation failed; '${value}' is less than the min value of '${v.min}'.`);
  } else if (v.t === 'bool') {
    try { boolFromString(value, true); } catch { fail(`Validation failed; '${value}' is not a valid boolean-like value.`); }
  } else if (v.pattern !== undefined) {
    let ok: boolean;
    try { ok = new RegExp(`^(?:${v.pattern})$`, 's').test(value); } catch { ok = true; }
    if (!ok) fail(`Validation failed; '${value}' is not of the format '${v.pattern}'.`);
  } else if (v.enum && !v.enum.map(String).includes(value)) {
    fail(`Validation failed; '${value}' is not one of: ${v.enum.map((x) => (typeof x === 'boolean' ? (x ? 'True' : 'False') : String(x))).join(', ')}.`);
  }
}

function checkSpecValues(req: FastifyRequest, specs: Record<string, string | number>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, raw] of Object.entries(specs)) {
    const value = typeof raw === 'number' ? String(raw) : raw;
    if (typeof raw === 'number' && value.length > 255) throw new ApiError('BadRequest', 'Invalid input received: extra_specs value has more than 255 characters.');
    if (req.computeVersion.atLeast('2.86')) validateExtraSpec(k, value);
    out[k] = value;
  }
  return out;
}

export function registerFlavors(app: FastifyInstance, ctx: ComputeContext): void {
  app.get('/flavors', async (req) => {
    const { rows, limit } = await listFlavors(ctx, req);
    return withLinks(req, 'flavors', rows, rows.map((f) => basicView(req, f)), limit);
  });

  app.get('/flavors/detail', async (req) => {
    const rc = requestContext(ctx, req);
    const { rows, limit } = await listFlavors(ctx, req);
    const specs = includeExtraSpecs(ctx, rc, req);
    const views = [];
    for (const f of rows) views.push(fullView(req, f, specs ? await extraSpecs(ctx.db, f.id) : null));
    return withLinks(req, 'flavors/detail', rows, views, limit);
  });

  app.get('/flavors/:id', async (req: Req) => {
    const rc = requestContext(ctx, req);
    const f = await getFlavor(ctx, rc, req.params.id);
    return { flavor: fullView(req, f, includeExtraSpecs(ctx, rc, req) ? await extraSpecs(ctx.db, f.id) : null) };
  });

  app.post('/flavors', async (req) => {
    const rc = requestContext(ctx, req);
    authorize(ctx, rc, 'os_compute_api:os-flavor-manage:create', {});
    const body = validateBody<{ flavor: Record<string, unknown> }>(createSchema(req.computeVersion), req.body);
    const v = body.flavor;
    const rawId = v.id;
    const flavorid = rawId === undefined || rawId === null || rawId === '' || rawId === 0 ? randomUUID() : String(rawId);
    const isPublic = v['os-flavor-access:is_public'] === undefined ? true : boolFromString(v['os-flavor-access:is_public'], true);
    const name = String(v.name).trim();
    try {
      const f = await insertFlavor(ctx.db, {
        flavorid, name, memory_mb: Number(v.ram), vcpus: Number(v.vcpus), root_gb: Number(v.disk),
        ephemeral_gb: Number(v['OS-FLV-EXT-DATA:ephemeral'] ?? 0), swap: Number(v.swap ?? 0),
        rxtx_factor: v.rxtx_factor === undefined ? 1.0 : Number(v.rxtx_factor), is_public: isPublic,
        description: req.computeVersion.atLeast('2.55') ? ((v.description as string | null | undefined) ?? null) : null,
      }, isUniqueViolation);
      return { flavor: fullView(req, f, includeExtraSpecs(ctx, rc, req) ? {} : null) };
    } catch (e) {
      if (e instanceof FlavorConflict) {
        throw new ApiError('Conflict', e.what === 'id' ? `Flavor with ID ${flavorid} already exists.` : `Flavor with name ${name} already exists.`);
      }
      throw e;
    }
  });

  app.put('/flavors/:id', async (req: Req) => {
    requireVersion(req, '2.55');
    const rc = requestContext(ctx, req);
    authorize(ctx, rc, 'os_compute_api:os-flavor-manage:update', {});
    const body = validateBody<{ flavor: { description: string | null } }>(updateSchema, req.body);
    const f = await visibleFlavor(ctx.db, req.params.id, rc.projectId, true);
    if (!f) throw notFound(req.params.id);
    await setFlavorDescription(ctx.db, f.id, body.flavor.description);
    f.description = body.flavor.description;
    return { flavor: fullView(req, f, includeExtraSpecs(ctx, rc, req) ? await extraSpecs(ctx.db, f.id) : null) };
  });

  app.delete('/flavors/:id', async (req: Req, reply) => {
    const rc = requestContext(ctx, req);
    authorize(ctx, rc, 'os_compute_api:os-flavor-manage:delete', {});
    const f = await visibleFlavor(ctx.db, req.params.id, rc.projectId, true);
    if (!f) throw notFound(req.params.id);
    await deleteFlavorRow(ctx.db, f.id);
    reply.code(202);
    return '';
  });

  // ---- flavor access ----
  app.get('/flavors/:id/os-flavor-access', async (req: Req) => {
    const rc = requestContext(ctx, req);
    authorize(ctx, rc, 'os_compute_api:os-flavor-access');
    const f = await getFlavor(ctx, rc, req.params.id);
    if (f.is_public) throw new ApiError('NotFound', 'Access list not available for public flavors.');
    return accessView(f, await flavorProjects(ctx.db, f.id));
  });

  app.post('/flavors/:id/action', async (req: Req) => {
    const rc = requestContext(ctx, req);
    const body = req.body as Record<string, unknown> | undefined;
    if (body && typeof body === 'object' && 'addTenantAccess' in body) {
      authorize(ctx, rc, 'os_compute_api:os-flavor-access:add_tenant_access', {});
      const b = validateBody<{ addTenantAccess: { tenant: string } }>(ADD_ACCESS, body);
      const tenant = b.addTenantAccess.tenant;
      await verifyProjectId(ctx, rc, tenant);
      const f = await getFlavor(ctx, rc, req.params.id);
      if (req.computeVersion.atLeast('2.7') && f.is_public) throw new ApiError('Conflict', 'Can not add access to a public flavor.');
      if (!(await addFlavorProject(ctx.db, f.id, tenant, isUniqueViolation))) {
        throw new ApiError('Conflict', `Flavor access already exists for flavor ${f.flavorid} and project ${tenant} combination.`);
      }
      return accessView(f, await flavorProjects(ctx.db, f.id));
    }
    if (body && typeof body === 'object' && 'removeTenantAccess' in body) {
      authorize(ctx, rc, 'os_compute_api:os-flavor-access:remove_tenant_access', {});
      const b = validateBody<{ removeTenantAccess: { tenant: string } }>(REMOVE_ACCESS, body);
      const tenant = b.removeTenantAccess.tenant;
      try { await verifyProjectId(ctx, rc, tenant); } catch { /* Nova lets a removed project's access go */ }
      const f = await getFlavor(ctx, rc, req.params.id);
      if (!(await removeFlavorProject(ctx.db, f.id, tenant))) {
        throw new ApiError('NotFound', `Flavor access not found for ${f.flavorid} / ${tenant} combination.`);
      }
      return accessView(f, await flavorProjects(ctx.db, f.id));
    }
    throw new ApiError('BadRequest', 'There is no such action: ' + (body && typeof body === 'object' ? Object.keys(body)[0] ?? 'None' : 'None'));
  });

  // ---- extra specs ----
  app.get('/flavors/:id/os-extra_specs', async (req: Req) => {
    const rc = requestContext(ctx, req);
    authorize(ctx, rc, 'os_compute_api:os-flavor-extra-specs:index', { project_id: rc.projectId });
    const f = await getFlavor(ctx, rc, req.params.id);
    return { extra_specs: await extraSpecs(ctx.db, f.id) };
  });

  app.post('/flavors/:id/os-extra_specs', async (req: Req) => {
    const rc = requestContext(ctx, req);
    authorize(ctx, rc, 'os_compute_api:os-flavor-extra-specs:create', {});
    const body = validateBody<{ extra_specs: Record<string, string | number> }>(extraSpecsCreate, req.body);
    const specs = checkSpecValues(req, body.extra_specs);
    const f = await getFlavor(ctx, rc, req.params.id);
    await putExtraSpecs(ctx.db, f.id, specs);
    return body;
  });

  app.get('/flavors/:id/os-extra_specs/:key', async (req: Req) => {
    const rc = requestContext(ctx, req);
    authorize(ctx, rc, 'os_compute_api:os-flavor-extra-specs:show', { project_id: rc.projectId });
    const f = await getFlavor(ctx, rc, req.params.id);
    const specs = await extraSpecs(ctx.db, f.id);
    if (!Object.prototype.hasOwnProperty.call(specs, req.params.key)) {
      throw new ApiError('NotFound', `Flavor ${req.params.id} has no extra specs with key ${req.params.key}.`);
    }
    return { [req.params.key]: specs[req.params.key] };
  });

  app.put('/flavors/:id/os-extra_specs/:key', async (req: Req) => {
    const rc = requestContext(ctx, req);
    authorize(ctx, rc, 'os_compute_api:os-flavor-extra-specs:update', {});
    const body = validateBody<Record<string, string | number>>(extraSpecsUpdate, req.body);
    const specs = checkSpecValues(req, body);
    if (!(req.params.key in body)) throw new ApiError('BadRequest', 'Request body and URI mismatch');
    const f = await getFlavor(ctx, rc, req.params.id);
    await putExtraSpecs(ctx.db, f.id, specs);
    return body;
  });

  app.delete('/flavors/:id/os-extra_specs/:key', async (req: Req) => {
    const rc = requestContext(ctx, req);
    authorize(ctx, rc, 'os_compute_api:os-flavor-extra-specs:delete', {});
    const f = await getFlavor(ctx, rc, req.params.id);
    if (!(await deleteExtraSpec(ctx.db, f.id, req.params.key))) {
      throw new ApiError('NotFound', `Flavor ${req.params.id} has no extra specs with key ${req.params.key}.`);
    }
    return '';
  });
}

function accessView(f: FlavorRow, projects: string[]): { flavor_access: { flavor_id: string; tenant_id: string }[] } {
  return { flavor_access: projects.map((p) => ({ flavor_id: f.flavorid, tenant_id: p })) };
}
