// Compute API: quotas and limits — /limits (absolute limits with usage, rate limits []),
// /os-quota-sets/{project_id} (show, defaults, detail, update with force, delete; user_id) and
// /os-quota-class-sets/{id}, with the resources each microversion shows (2.36 and 2.50 drop the
// nova-network ones, 2.57 the personality files). Nova's limits, quota_sets and quota_classes.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { authorize, requestContext, type ComputeContext } from '../context.js';
import { ApiError } from '../../common/errors.js';
import { boolFromString, last, T, validateBody, validateQuery, type Schema } from './nova-schema.js';
import { verifyProjectId } from './common.js';
import {
  classQuotas, FILTERED_2_36, FILTERED_2_57, projectLimits, quotaDefaults, quotaDetails, QUOTA_RESOURCES, settableQuotas, userLimits,
} from '../quotas.js';
import { deleteQuotaLimits, setQuotaClassLimit, setQuotaLimit } from '../store/quotas.js';

type Req = FastifyRequest<{ Params: { id: string } }>;

const commonQuota: Schema = { type: ['integer', 'string'], pattern: '^-?[0-9]+$', minimum: -1, maximum: 0x7FFFFFFF };
const ALL_QUOTA_PROPS = ['instances', 'cores', 'ram', 'floating_ips', 'fixed_ips', 'metadata_items', 'key_pairs', 'security_groups',
  'security_group_rules', 'injected_files', 'injected_file_content_bytes', 'injected_file_path_bytes', 'server_groups', 'server_group_members', 'networks'];

function quotaProps(drop: string[], withForce: boolean): Schema {
  const p: Schema = {};
  for (const k of ALL_QUOTA_PROPS) if (!drop.includes(k)) p[k] = commonQuota;
  if (withForce) p.force = T.boolean;
  return p;
}

function quotaSetUpdateSchema(req: FastifyRequest): Schema {
  const mv = req.computeVersion;
  const drop = mv.atLeast('2.57') ? [...FILTERED_2_57, 'networks'] : mv.atLeast('2.36') ? [...FILTERED_2_36, 'networks'] : [];
  return { type: 'object', properties: { quota_set: { properties: quotaProps(drop, true), additionalProperties: false } }, required: ['quota_set'], additionalProperties: false };
}

function quotaClassUpdateSchema(req: FastifyRequest): Schema {
  const mv = req.computeVersion;
  const drop = mv.atLeast('2.57') ? [...FILTERED_2_57, 'networks'] : mv.atLeast('2.50') ? [...FILTERED_2_36, 'networks'] : [];
  return { type: 'object', properties: { quota_class_set: { properties: quotaProps(drop, false), additionalProperties: false } }, required: ['quota_class_set'], additionalProperties: false };
}

const userQuery = (strict: boolean): Schema => ({ type: 'object', properties: { user_id: T.multi({ type: 'string' }) }, additionalProperties: !strict });
const USER_QUERY = userQuery(false);
const USER_QUERY_275 = userQuery(true);
const limitsQuery = (strict: boolean): Schema => ({ type: 'object', properties: { tenant_id: T.multi({ type: 'string' }) }, additionalProperties: !strict });

/** The resources a quota-set body shows at this microversion. */
function quotaSetFilter(req: FastifyRequest): string[] {
  const mv = req.computeVersion;
  return mv.atLeast('2.57') ? FILTERED_2_57 : mv.atLeast('2.36') ? FILTERED_2_36 : [];
}

function formatSet<V>(id: string | null, values: Record<string, V>, filtered: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = id !== null ? { id } : {};
  for (const r of QUOTA_RESOURCES) if (!filtered.includes(r) && r in values) out[r] = values[r];
  return out;
}

/** parse_qs's first user_id (Nova reads the first value; an empty value counts as none). */
function userIdOf(req: FastifyRequest): string | undefined {
  const q = validateQuery(req.computeVersion.atLeast('2.75') ? USER_QUERY_275 : USER_QUERY, req);
  const v = q.user_id?.find((x) => x !== '');
  return v || undefined;
}

const LIMIT_NAMES: Record<string, string[]> = {
  ram: ['maxTotalRAMSize'], instances: ['maxTotalInstances'], cores: ['maxTotalCores'], key_pairs: ['maxTotalKeypairs'],
  floating_ips: ['maxTotalFloatingIps'], metadata_items: ['maxServerMeta', 'maxImageMeta'], injected_files: ['maxPersonality'],
  injected_file_content_bytes: ['maxPersonalitySize'], security_groups: ['maxSecurityGroups'], security_group_rules: ['maxSecurityGroupRules'],
  server_groups: ['maxServerGroups'], server_group_members: ['maxServerGroupMembers'],
};
const USED_NAMES: Record<string, string> = {
  totalRAMUsed: 'ram', totalCoresUsed: 'cores', totalInstancesUsed: 'instances', totalFloatingIpsUsed: 'floating_ips',
  totalSecurityGroupsUsed: 'security_groups', totalServerGroupsUsed: 'server_groups',
};

export function registerLimits(app: FastifyInstance, ctx: ComputeContext): void {
  app.get('/limits', async (req) => {
    const rc = requestContext(ctx, req);
    const mv = req.computeVersion;
    const q = validateQuery(limitsQuery(mv.atLeast('2.75')), req);
    authorize(ctx, rc, 'os_compute_api:limits', {});
    let projectId = rc.projectId;
    const tenant = last(q, 'tenant_id');
    if (tenant !== undefined) {
      authorize(ctx, rc, 'os_compute_api:limits:other_project');
      projectId = tenant;
    }
    const filtered = mv.atLeast('2.57') ? ['floating_ips', 'security_groups', 'security_group_rules', 'injected_files', 'injected_file_content_bytes']
      : mv.atLeast('2.36') ? ['floating_ips', 'security_groups', 'security_group_rules'] : [];
    const maxImageMeta = !mv.atLeast('2.39');
    const quotas = await quotaDetails(ctx.db, projectId);
    const absolute: Record<string, number> = {};
    for (const [name, d] of Object.entries(quotas)) {
      if (!LIMIT_NAMES[name] || filtered.includes(name)) continue;
      for (const ln of LIMIT_NAMES[name]!) if (maxImageMeta || ln !== 'maxImageMeta') absolute[ln] = d.limit;
    }
    for (const [display, key] of Object.entries(USED_NAMES)) if (key in quotas && !filtered.includes(key)) absolute[display] = quotas[key]!.in_use;
    return { limits: { rate: [], absolute } };
  });

  // ---- os-quota-sets ----
  app.get('/os-quota-sets/:id', async (req: Req) => {
    const rc = requestContext(ctx, req);
    const userId = userIdOf(req);
    authorize(ctx, rc, 'os_compute_api:os-quota-sets:show', { project_id: req.params.id });
    await verifyProjectId(ctx, rc, req.params.id);
    const values = userId ? await userLimits(ctx.db, req.params.id, userId) : await projectLimits(ctx.db, req.params.id);
    return { quota_set: formatSet(req.params.id, values, quotaSetFilter(req)) };
  });

  app.get('/os-quota-sets/:id/detail', async (req: Req) => {
    const rc = requestContext(ctx, req);
    const userId = userIdOf(req);
    authorize(ctx, rc, 'os_compute_api:os-quota-sets:detail', { project_id: req.params.id });
    await verifyProjectId(ctx, rc, req.params.id);
    return { quota_set: formatSet(req.params.id, await quotaDetails(ctx.db, req.params.id, userId), quotaSetFilter(req)) };
  });

  app.get('/os-quota-sets/:id/defaults', async (req: Req) => {
    const rc = requestContext(ctx, req);
    authorize(ctx, rc, 'os_compute_api:os-quota-sets:defaults', { project_id: req.params.id });
    await verifyProjectId(ctx, rc, req.params.id);
    return { quota_set: formatSet(req.params.id, await quotaDefaults(ctx.db), quotaSetFilter(req)) };
  });

  app.put('/os-quota-sets/:id', async (req: Req) => {
    const rc = requestContext(ctx, req);
    const body = validateBody<{ quota_set: Record<string, unknown> }>(quotaSetUpdateSchema(req), req.body);
    const userId = userIdOf(req);
    authorize(ctx, rc, 'os_compute_api:os-quota-sets:update', { project_id: req.params.id });
    await verifyProjectId(ctx, rc, req.params.id);
    const set = body.quota_set;
    if (set && typeof set === 'object' && 'networks' in set) throw new ApiError('BadRequest', 'The networks quota has been removed');
    const force = set.force !== undefined && boolFromString(set.force);
    const settable = await settableQuotas(ctx.db, req.params.id, userId);
    const valid: Record<string, number> = {};
    for (const [key, raw] of Object.entries(set ?? {})) {
      if (key === 'force' || raw === null || raw === '' || raw === false) continue;
      const value = parseInt(String(raw), 10);
      if (!force && settable[key]) {
        const { minimum, maximum } = settable[key]!;
        const inf = (v: number) => (v === -1 ? Infinity : v);
        if (inf(value) < inf(minimum)) throw new ApiError('BadRequest', `Quota limit ${value} for ${key} must be greater than or equal to already used and reserved ${minimum}.`);
        if (inf(value) > inf(maximum)) throw new ApiError('BadRequest', `Quota limit ${value} for ${key} must be less than or equal to ${maximum}.`);
      }
      valid[key] = value;
    }
    for (const [k, v] of Object.entries(valid)) await setQuotaLimit(ctx.db, req.params.id, userId, k, v);
    const values = userId ? await userLimits(ctx.db, req.params.id, userId) : await projectLimits(ctx.db, req.params.id);
    return { quota_set: formatSet(null, values, quotaSetFilter(req)) };
  });

  app.delete('/os-quota-sets/:id', async (req: Req, reply) => {
    const rc = requestContext(ctx, req);
    const userId = userIdOf(req);
    authorize(ctx, rc, 'os_compute_api:os-quota-sets:delete', { project_id: req.params.id });
    await deleteQuotaLimits(ctx.db, req.params.id, userId);
    reply.code(202);
    return '';
  });

  // ---- os-quota-class-sets ----
  const classFilter = (req: FastifyRequest): string[] => {
    const mv = req.computeVersion;
    if (mv.atLeast('2.57')) return FILTERED_2_57;
    if (mv.atLeast('2.50')) return FILTERED_2_36;
    return ['server_groups', 'server_group_members'];
  };

  app.get('/os-quota-class-sets/:id', async (req: Req) => {
    const rc = requestContext(ctx, req);
    authorize(ctx, rc, 'os_compute_api:os-quota-class-sets:show', {});
    return { quota_class_set: formatSet(req.params.id, await classQuotas(ctx.db, req.params.id), classFilter(req)) };
  });

  app.put('/os-quota-class-sets/:id', async (req: Req) => {
    const rc = requestContext(ctx, req);
    const body = validateBody<{ quota_class_set: Record<string, unknown> }>(quotaClassUpdateSchema(req), req.body);
    authorize(ctx, rc, 'os_compute_api:os-quota-class-sets:update', {});
    const id = req.params.id;
    if (id.length < 1 || id.length > 255) throw new ApiError('BadRequest', 'Invalid input received: quota_class_name has more than 255 characters.');
    for (const [key, raw] of Object.entries(body.quota_class_set ?? {})) {
      if (!QUOTA_RESOURCES.includes(key)) continue;
      await setQuotaClassLimit(ctx.db, id, key, parseInt(String(raw), 10));
    }
    return { quota_class_set: formatSet(null, await classQuotas(ctx.db, id), classFilter(req)) };
  });
}
