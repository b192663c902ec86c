// Compute API: servers — create, list (summary and detail, with Nova's filters, sorting and
// paging), show, update and delete. Create validates everything it can before it writes
// (flavor, image, key, quota), writes the instance rows in the `building` state and hands them to
// the conductor, which schedules and builds them in the background; the 202 comes back at once.

import { randomBytes, randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../../common/errors.js';
import type { ComputeContext } from '../context.js';
import { authorize, nowIso, requestContext } from '../context.js';
import { body, intParam, loadServer, query, serverExtras } from './common.js';
import { canonicalIpv6, links, serverSummary, serverView } from './views.js';
import { flavorAccessible, flavorByFlavorId, flavorCopy } from '../store/flavors.js';
import { keypairByName } from '../store/keypairs.js';
import { getInstance, insertInstance, startAction, updateInstance, type InstanceRow } from '../store/instances.js';
import { ImageClient, imageProperties } from '../../image/client.js';
import { statesForStatus, statusOf } from '../states.js';
import { buildInstances, deleteInstance } from '../conductor.js';
import { checkQuota } from '../quotas.js';
import { addMember, serverGroupByUuid } from '../store/server-groups.js';
import { hasNetworkService, securityGroupIds, validateNetworks } from '../network.js';

const NAME = { type: 'string', minLength: 1, maxLength: 255 };
const METADATA = {
  type: 'object',
  patternProperties: { '^[a-zA-Z0-9-_:. /]{1,255}$': { type: 'string', maxLength: 255 } },
  additionalProperties: false,
};
const TAG = { type: 'string', minLength: 1, maxLength: 60, pattern: '^[^,/]*$' };

const CREATE_SCHEMA = {
  type: 'object',
  properties: {
    server: {
      type: 'object',
      properties: {
        name: NAME,
        imageRef: { anyOf: [{ type: 'string', format: 'uuid' }, { type: 'string', maxLength: 0 }] },
        flavorRef: { anyOf: [{ type: 'string', minLength: 1, maxLength: 255 }, { type: 'integer', minimum: 1 }] },
        adminPass: { type: 'string' },
        metadata: METADATA,
        networks: {},
        key_name: NAME,
        user_data: { type: 'string', maxLength: 65535 },
        availability_zone: { type: 'string', minLength: 1, maxLength: 255 },
        min_count: { anyOf: [{ type: 'integer', minimum: 1 }, { type: 'string', pattern: '^[0-9]+$' }] },
        max_count: { anyOf: [{ type: 'integer', minimum: 1 }, { type: 'string', pattern: '^[0-9]+$' }] },
        return_reservation_id: { type: ['boolean', 'string'] },
        config_drive: { type: ['boolean', 'string'] },
        accessIPv4: { type: 'string', format: 'ipv4' },
        accessIPv6: { type: 'string', format: 'ipv6' },
        description: { type: ['string', 'null'], maxLength: 255 },
        tags: { type: 'array', items: TAG, maxItems: 50 },
        hostname: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[a-zA-Z0-9]([a-zA-Z0-9-.]*[a-zA-Z0-9])?$' },
        host: { type: 'string', minLength: 1, maxLength: 255 },
        hypervisor_hostname: { type: 'string', minLength: 1, maxLength: 255 },
        security_groups: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' } }, additionalProperties: false } },
        block_device_mapping_v2: { type: 'array' },
        block_device_mapping: { type: 'array' },
        'OS-DCF:diskConfig': { enum: ['AUTO', 'MANUAL'] },
        personality: { type: 'array' },
        trusted_image_certificates: { type: ['array', 'null'] },
      },
      required: ['name', 'flavorRef'],
      additionalProperties: false,
    },
    'os:scheduler_hints': { type: 'object' },
    'OS-SCH-HNT:scheduler_hints': { type: 'object' },
  },
  required: ['server'],
  additionalProperties: false,
};

interface CreateBody {
  server: {
    name: string; imageRef?: string; flavorRef: string | number; adminPass?: string; metadata?: Record<string, string>;
    networks?: unknown; key_name?: string; user_data?: string; availability_zone?: string; min_count?: number | string;
    max_count?: number | string; return_reservation_id?: boolean | string; config_drive?: boolean | string;
    accessIPv4?: string; accessIPv6?: string; description?: string | null; tags?: string[]; hostname?: string;
    host?: string; hypervisor_hostname?: string; security_groups?: { name?: string }[]; block_device_mapping_v2?: unknown[];
    'OS-DCF:diskConfig'?: string; personality?: unknown[];
  };
  'os:scheduler_hints'?: Record<string, unknown>;
  'OS-SCH-HNT:scheduler_hints'?: Record<string, unknown>;
}

function truthy(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  return ['1', 't', 'true', 'on', 'y', 'yes'].includes(String(v).toLowerCase());
}

const UUID_LIKE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/** Nova's checks of each `networks` entry (schema and _get_requested_networks). */
function checkNetworkItems(items: unknown[]): void {
  for (const it of items) {
    if (typeof it !== 'object' || it === null || Array.isArray(it)) throw new ApiError('BadRequest', `Invalid input for field/attribute networks. Value: ${JSON.stringify(items)}.`);
    const n = it as Record<string, unknown>;
    const extra = Object.keys(n).find((k) => !['uuid', 'port', 'fixed_ip', 'tag'].includes(k));
    if (extra) throw new ApiError('BadRequest', `Invalid input for field/attribute networks. Value: ${JSON.stringify(items)}. Additional properties are not allowed ('${extra}' was unexpected)`);
    if (n.port !== undefined && n.port !== null && (typeof n.port !== 'string' || !UUID_LIKE.test(n.port))) throw new ApiError('BadRequest', `Invalid input for field/attribute port. Value: ${JSON.stringify(n.port)}. ${JSON.stringify(n.port)} is not a 'uuid'`);
    if (n.fixed_ip !== undefined && (typeof n.fixed_ip !== 'string' || isIP(n.fixed_ip) === 0)) throw new ApiError('BadRequest', `Invalid input for field/attribute fixed_ip. Value: ${JSON.stringify(n.fixed_ip)}. ${JSON.stringify(n.fixed_ip)} is not a 'ip-address'`);
    if (!n.port) {
      if (typeof n.uuid !== 'string' || !UUID_LIKE.test(n.uuid)) throw new ApiError('BadRequest', `Bad networks format: network uuid is not in proper format (${String(n.uuid ?? '')})`);
    }
  }
}

/** Nova's hostname from a display name (nova.utils.sanitize_hostname). */
export function sanitizeHostname(name: string, fallback = 'server'): string {
  let h = name.normalize('NFKD').replace(/[^\x00-\x7f]/g, '');
  h = h.replace(/[ _]/g, '-').replace(/[^\w.-]+/g, '').toLowerCase().replace(/^[.-]+|[.-]+$/g, '');
  h = h.slice(0, 63).replace(/[.-]+$/, '');
  return h || fallback;
}

function isBase64(s: string): boolean {
  return s.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(s);
}

async function create(ctx: ComputeContext, req: FastifyRequest) {
  const rc = requestContext(ctx, req);
  const mv = req.computeVersion;
  const b = body<CreateBody>(req, CREATE_SCHEMA);
  const s = b.server;
  authorize(ctx, rc, 'os_compute_api:servers:create', { project_id: rc.projectId });

  if (s.name.trim() !== s.name || s.name.trim() === '') {
    throw new ApiError('BadRequest', `Invalid input for field/attribute name. Value: ${s.name}. '${s.name}' does not match '^(?! )[\\S ]*(?<! )$'`);
  }
  if (s.description !== undefined && !mv.atLeast('2.19')) throw new ApiError('BadRequest', "Additional properties are not allowed ('description' was unexpected)");
  if (s.tags !== undefined && !mv.atLeast('2.52')) throw new ApiError('BadRequest', "Additional properties are not allowed ('tags' was unexpected)");
  if (s.hostname !== undefined && !mv.atLeast('2.90')) throw new ApiError('BadRequest', "Additional properties are not allowed ('hostname' was unexpected)");
  if ((s.host !== undefined || s.hypervisor_hostname !== undefined) && !mv.atLeast('2.74')) throw new ApiError('BadRequest', "Additional properties are not allowed ('host' was unexpected)");
  if (s.personality !== undefined && mv.atLeast('2.57')) throw new ApiError('BadRequest', "Additional properties are not allowed ('personality' was unexpected)");
  if (s.host !== undefined || s.hypervisor_hostname !== undefined) authorize(ctx, rc, 'compute:servers:create:requested_destination', {});
  if (mv.atLeast('2.37') && s.networks === undefined) throw new ApiError('BadRequest', "'networks' is a required property");
  if (s.networks !== undefined && !(s.networks === 'none' || s.networks === 'auto' || Array.isArray(s.networks))) {
    throw new ApiError('BadRequest', `Invalid input for field/attribute networks. Value: ${JSON.stringify(s.networks)}.`);
  }
  if (Array.isArray(s.networks)) checkNetworkItems(s.networks);
  if (s.user_data !== undefined && !isBase64(s.user_data)) throw new ApiError('BadRequest', 'User data needs to be valid base 64.');
  if (s.block_device_mapping_v2?.length || (b.server as { block_device_mapping?: unknown[] }).block_device_mapping?.length) {
    throw new ApiError('BadRequest', 'Block device mapping is not supported: the block storage service is not available.');
  }

  const minCount = Number(s.min_count ?? 1);
  const maxCount = Number(s.max_count ?? minCount);
  if (minCount < 1 || maxCount < 1) throw new ApiError('BadRequest', 'min_count and max_count must be at least 1');
  if (minCount > maxCount) throw new ApiError('BadRequest', 'min_count must be <= max_count');
  if (maxCount > 1 && s.hostname !== undefined) throw new ApiError('BadRequest', 'Unable to set hostname when creating multiple instances');

  // Flavor.
  const flavorId = String(s.flavorRef).replace(/^.*\/flavors\//, '');
  const flavor = await flavorByFlavorId(ctx.db, flavorId);
  if (!flavor || flavor.disabled || !(rc.isAdmin || await flavorAccessible(ctx.db, flavor, rc.projectId))) {
    throw new ApiError('BadRequest', 'Invalid flavorRef provided.');
  }
  const fcopy = await flavorCopy(ctx.db, flavor);

  // Image, as the caller sees it.
  if (!s.imageRef) throw new ApiError('BadRequest', 'Block Device Mapping is Invalid: Boot sequence for the instance and image/block device mapping combination is not valid.');
  const images = new ImageClient(ctx.session);
  const image = await images.get(s.imageRef, rc.token);
  if (!image) throw new ApiError('BadRequest', `Image ${s.imageRef} could not be found.`);
  if (image.status !== 'active') throw new ApiError('BadRequest', `Image ${s.imageRef} is not active.`);
  const imageSize = Number(image.size ?? 0);
  const virtual = Number(image.virtual_size ?? 0);
  if (fcopy.root_gb > 0) {
    const rootBytes = fcopy.root_gb * 1024 ** 3;
    if (imageSize > rootBytes) throw new ApiError('BadRequest', `Flavor's disk is too small for requested image. Flavor disk is ${rootBytes} bytes, image is ${imageSize} bytes.`);
    if (virtual > rootBytes) throw new ApiError('BadRequest', `Flavor's disk is too small for requested image. Flavor disk is ${rootBytes} bytes, image is ${virtual} bytes.`);
  }
  if ((image.min_disk ?? 0) > fcopy.root_gb && fcopy.root_gb > 0) throw new ApiError('BadRequest', "Flavor's disk is too small for requested image.");
  if ((image.min_ram ?? 0) > fcopy.memory_mb) throw new ApiError('BadRequest', "Flavor's memory is too small for requested image.");
  const props = imageProperties(image);

  // Key pair (the caller's own).
  let keyData: string | null = null;
  if (s.key_name !== undefined) {
    const kp = await keypairByName(ctx.db, rc.userId, s.key_name);
    if (!kp) throw new ApiError('BadRequest', 'Invalid key_name provided.');
    keyData = kp.public_key;
  }

  // Server group hint.
  const hints = b['os:scheduler_hints'] ?? b['OS-SCH-HNT:scheduler_hints'] ?? {};
  const groupUuid = typeof hints.group === 'string' ? hints.group : null;
  const group = groupUuid ? await serverGroupByUuid(ctx.db, groupUuid) : undefined;
  if (groupUuid && (!group || (group.project_id !== rc.projectId && !rc.isAdmin))) throw new ApiError('BadRequest', `Invalid server group ${groupUuid}`);

  // Quota: instances, cores, ram for max_count, falling back to min_count as Nova does.
  let count = maxCount;
  try {
    await checkQuota(ctx, rc.projectId, rc.userId, { instances: maxCount, cores: maxCount * fcopy.vcpus, ram: maxCount * fcopy.memory_mb });
  } catch (e) {
    if (minCount === maxCount) throw e;
    await checkQuota(ctx, rc.projectId, rc.userId, { instances: minCount, cores: minCount * fcopy.vcpus, ram: minCount * fcopy.memory_mb });
    count = minCount;
  }
  if (group) await checkQuota(ctx, rc.projectId, rc.userId, { server_group_members: count }, { groupId: group.id });
  if (s.metadata && Object.keys(s.metadata).length > 0) await checkQuota(ctx, rc.projectId, rc.userId, { metadata_items: Object.keys(s.metadata).length }, true);

  // Networks, with the caller's token: only what the project can see (none without a network service).
  const networkRequests = await validateNetworks(ctx, rc.token, rc.projectId, s.networks, count);
  const securityGroups = (s.security_groups ?? []).map((g) => g.name ?? 'default');
  const namedGroups = securityGroups.filter((g) => g !== 'default'); // 'default' is the network service's to create
  if (namedGroups.length && await hasNetworkService(ctx)) await securityGroupIds(ctx, rc.projectId, namedGroups);

  const reservationId = `r-${randomBytes(4).toString('hex').slice(0, 8)}`;
  const now = nowIso();
  const sysmeta: Record<string, string> = {
    image_disk_format: image.disk_format ?? '', image_container_format: image.container_format ?? '', image_min_disk: String(image.min_disk ?? 0),
    image_min_ram: String(image.min_ram ?? 0), image_size: String(imageSize), image_properties: JSON.stringify(props), image_name: image.name ?? '',
  };
  if (networkRequests.length) sysmeta.network_requests = JSON.stringify(networkRequests);
  if (securityGroups.length) sysmeta.security_groups = JSON.stringify(securityGroups);
  const created: InstanceRow[] = [];
  const actionIds = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const uuid = randomUUID();
    const name = count > 1 ? `${s.name}-${i + 1}` : s.name;
    const row: Omit<InstanceRow, 'id'> = {
      uuid, display_name: name, display_description: s.description ?? null,
      hostname: s.hostname ?? sanitizeHostname(name, `server-${uuid}`), project_id: rc.projectId, user_id: rc.userId,
      image_ref: image.id, kernel_id: props.kernel_id ?? null, ramdisk_id: props.ramdisk_id ?? null,
      flavor: JSON.stringify({ cur: fcopy, old: null, new: null }), instance_type_id: flavor.id,
      vcpus: fcopy.vcpus, memory_mb: fcopy.memory_mb, root_gb: fcopy.root_gb, ephemeral_gb: fcopy.ephemeral_gb,
      vm_state: 'building', task_state: 'scheduling', power_state: 0, host: null, node: null,
      availability_zone: s.availability_zone ?? null, key_name: s.key_name ?? null, key_data: keyData,
      user_data: s.user_data ?? null, config_drive: s.config_drive !== undefined && truthy(s.config_drive) ? 'True' : '',
      access_ip_v4: s.accessIPv4 ?? null, access_ip_v6: s.accessIPv6 !== undefined ? canonicalIpv6(s.accessIPv6) : null, locked: 0, locked_by: null, locked_reason: null,
      progress: 0, reservation_id: reservationId, launch_index: i, root_device_name: '/dev/vda', auto_disk_config: s['OS-DCF:diskConfig'] === 'AUTO' ? 1 : 0,
      network_info: '[]', system_metadata: JSON.stringify(sysmeta), launched_at: null, terminated_at: null,
      created_at: now, updated_at: now, deleted_at: null, deleted: 0,
    };
    await insertInstance(ctx.db, row, s.metadata ?? {}, s.tags ?? []);
    if (group) await addMember(ctx.db, group.id, uuid);
    actionIds.set(uuid, await startAction(ctx.db, { uuid, action: 'create', requestId: req.id, userId: rc.userId, projectId: rc.projectId }));
    created.push({ ...row, id: 0 });
  }
  // One admin password for the request, as Nova: returned once here, and on the config drive.
  const adminPass = s.adminPass ?? randomBytes(9).toString('base64url').slice(0, 12);
  const work = buildInstances(ctx, created.map((r) => r.uuid), {
    requestId: req.id, groupId: group?.id ?? null, requestedHost: s.host ?? null, availabilityZone: s.availability_zone ?? null, actionIds, adminPass,
  });
  ctx.background.add(work);
  void work.finally(() => ctx.background.delete(work));

  if (s.return_reservation_id !== undefined && truthy(s.return_reservation_id)) return { reservation_id: reservationId };
  const first = created[0]!;
  const out: Record<string, unknown> = {
    id: first.uuid, links: links(req, 'servers', first.uuid), 'OS-DCF:diskConfig': first.auto_disk_config ? 'AUTO' : 'MANUAL',
  };
  out.adminPass = adminPass;
  // Nova's create view: the groups of the request as given (its ports do not exist yet), else `default`,
  // whatever the networks (also `none`, and without a network service).
  out.security_groups = s.security_groups ?? [{ name: 'default' }];
  return { server: out };
}

// --- list ---------------------------------------------------------------------------------------

/** ISO 8601 date-times as Nova's validator accepts them (2011-01-01, 2011-01-01T12:00:00Z, with offsets). */
const ISO8601 = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

const SORT_KEYS = new Set(['access_ip_v4', 'access_ip_v6', 'auto_disk_config', 'availability_zone', 'config_drive', 'created_at', 'display_description',
  'display_name', 'host', 'hostname', 'image_ref', 'instance_type_id', 'kernel_id', 'key_name', 'launch_index', 'launched_at', 'locked', 'locked_by',
  'node', 'power_state', 'progress', 'project_id', 'ramdisk_id', 'root_device_name', 'task_state', 'terminated_at', 'updated_at', 'user_id', 'uuid', 'vm_state']);
const ADMIN_SORT_KEYS = new Set(['host', 'node']);

async function list(ctx: ComputeContext, req: FastifyRequest, detail: boolean) {
  const rc = requestContext(ctx, req);
  const mv = req.computeVersion;
  authorize(ctx, rc, detail ? 'os_compute_api:servers:detail' : 'os_compute_api:servers:index', { project_id: rc.projectId });
  const q = query(req);
  const one = (k: string) => q[k]?.[q[k]!.length - 1];
  const allTenants = one('all_tenants') !== undefined && (one('all_tenants') === '' || truthy(one('all_tenants')));
  if (allTenants) authorize(ctx, rc, detail ? 'os_compute_api:servers:detail:get_all_tenants' : 'os_compute_api:servers:index:get_all_tenants', {});
  const isAdminList = rc.isAdmin;

  let sel = ctx.db.selectFrom('instances').selectAll();
  const projectFilter = one('project_id') ?? one('tenant_id');
  if (!allTenants) sel = sel.where('project_id', '=', rc.projectId);
  else if (projectFilter) sel = sel.where('project_id', '=', projectFilter);

  const deleted = one('deleted');
  const showDeleted = isAdminList && deleted !== undefined && truthy(deleted);
  const changesSince = one('changes-since');
  const changesBefore = one('changes-before');
  for (const [k, v] of [['changes-since', changesSince], ['changes-before', mv.atLeast('2.66') ? changesBefore : undefined]] as const) {
    if (v !== undefined && (!ISO8601.test(v) || Number.isNaN(Date.parse(v)))) throw new ApiError('BadRequest', `Invalid input for query parameters ${k}. Value: ${v}. '${v}' is not a 'date-time'`);
  }
  if (changesSince && mv.atLeast('2.66') && changesBefore && Date.parse(changesSince) > Date.parse(changesBefore)) {
    throw new ApiError('BadRequest', 'The value of changes-since must be less than or equal to changes-before.');
  }
  // changes-since shows deleted servers too (Nova's behaviour), otherwise only live ones.
  if (!showDeleted && !changesSince && !(mv.atLeast('2.66') && changesBefore)) sel = sel.where('deleted', '=', 0);
  if (showDeleted) sel = sel.where('deleted', '=', 1);
  if (changesSince) sel = sel.where('updated_at', '>=', new Date(changesSince).toISOString());
  if (changesBefore && mv.atLeast('2.66')) sel = sel.where('updated_at', '<=', new Date(changesBefore).toISOString());

  const status = q.status;
  if (status?.length) {
    const st = statesForStatus(status);
    if (!st.vm.length) return { servers: [] };
    sel = sel.where('vm_state', 'in', st.vm);
  }
  const image = one('image');
  if (image) sel = sel.where('image_ref', '=', image.replace(/^.*\/images\//, ''));
  const flavorQ = one('flavor');
  if (flavorQ) {
    const f = await flavorByFlavorId(ctx.db, flavorQ.replace(/^.*\/flavors\//, ''));
    if (!f) return { servers: [] };
    sel = sel.where('instance_type_id', '=', f.id);
  }
  const reservation = one('reservation_id');
  if (reservation) sel = sel.where('reservation_id', '=', reservation);
  if (isAdminList) {
    const host = one('host'); if (host) sel = sel.where('host', '=', host);
    const node = one('node'); if (node) sel = sel.where('node', '=', node);
    const uid = one('user_id'); if (uid) sel = sel.where('user_id', '=', uid);
  }
  const az = one('availability_zone'); if (az) sel = sel.where('availability_zone', '=', az);
  const keyName = one('key_name'); if (keyName && isAdminList) sel = sel.where('key_name', '=', keyName);
  const locked = one('locked');
  if (locked !== undefined && mv.atLeast('2.73')) {
    if (!['true', 'false', '1', '0', 't', 'f', 'yes', 'no', 'on', 'off'].includes(locked.toLowerCase())) throw new ApiError('BadRequest', `Unrecognized value '${locked}', acceptable values are: '0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'`);
    sel = sel.where('locked', '=', truthy(locked) ? 1 : 0);
  }

  let rows = await sel.execute() as InstanceRow[];

  if (status?.length) {
    const want = new Set(status.map((x) => x.toUpperCase()));
    rows = rows.filter((r) => want.has(statusOfRow(r)));
  }
  const nameQ = one('name');
  if (nameQ !== undefined) {
    let re: RegExp | null = null;
    try { re = new RegExp(nameQ); } catch { re = null; }
    rows = rows.filter((r) => (re ? re.test(r.display_name ?? '') : (r.display_name ?? '').includes(nameQ)));
  }
  const ip = one('ip');
  if (ip) {
    let re: RegExp | null = null;
    try { re = new RegExp(ip); } catch { re = null; }
    rows = rows.filter((r) => (r.network_info ?? '').length > 2 && re !== null && re.test(r.network_info ?? ''));
  }
  if (mv.atLeast('2.26') && (q.tags || q['tags-any'] || q['not-tags'] || q['not-tags-any'])) {
    const split = (k: string) => (q[k] ?? []).flatMap((v) => v.split(',')).filter(Boolean);
    const tagRows = await ctx.db.selectFrom('instance_tags').select(['instance_uuid', 'tag']).execute();
    const tagsBy = new Map<string, Set<string>>();
    for (const t of tagRows) { const s = tagsBy.get(t.instance_uuid) ?? new Set(); s.add(t.tag); tagsBy.set(t.instance_uuid, s); }
    const all = split('tags'), any = split('tags-any'), notAll = split('not-tags'), notAny = split('not-tags-any');
    rows = rows.filter((r) => {
      const t = tagsBy.get(r.uuid) ?? new Set<string>();
      if (all.length && !all.every((x) => t.has(x))) return false;
      if (any.length && !any.some((x) => t.has(x))) return false;
      if (notAll.length && notAll.every((x) => t.has(x))) return false;
      if (notAny.length && notAny.some((x) => t.has(x))) return false;
      return true;
    });
  }

  // Sorting (several keys and directions, as Nova), then the marker and the limit.
  const keys = q.sort_key ?? [];
  const dirs = q.sort_dir ?? [];
  for (const k of keys) {
    if (!SORT_KEYS.has(k) || (ADMIN_SORT_KEYS.has(k) && !isAdminList)) {
      if (!SORT_KEYS.has(k)) throw new ApiError('BadRequest', `Invalid input for query parameters sort_key. Value: ${k}.`);
      throw new ApiError('Forbidden', `Only administrators can sort servers by ${k}`);
    }
  }
  for (const d of dirs) if (!['asc', 'desc'].includes(d)) throw new ApiError('BadRequest', `Invalid input for query parameters sort_dir. Value: ${d}.`);
  const sortKeys = keys.length ? keys : ['created_at'];
  const sortDirs = sortKeys.map((_, i) => dirs[i] ?? dirs[0] ?? 'desc');
  if (!sortKeys.includes('id') && !sortKeys.includes('uuid')) { sortKeys.push('id'); sortDirs.push(sortDirs[0] ?? 'desc'); }
  rows.sort((a, b) => {
    for (let i = 0; i < sortKeys.length; i++) {
      const k = sortKeys[i] as keyof InstanceRow;
      const av = a[k], bv = b[k];
      if (av === bv) continue;
      const c = av === null ? -1 : bv === null ? 1 : av < bv ? -1 : 1;
      return sortDirs[i] === 'asc' ? c : -c;
    }
    return 0;
  });
  const marker = one('marker');
  if (marker !== undefined) {
    const idx = rows.findIndex((r) => r.uuid === marker);
    if (idx < 0) throw new ApiError('BadRequest', `marker [${marker}] not found`);
    rows = rows.slice(idx + 1);
  }
  const limitQ = intParam(one('limit'), 'limit');
  const max = ctx.opts.maxLimit;
  const limit = Math.min(limitQ ?? max, max);
  const more = rows.length > limit;
  rows = rows.slice(0, limit);

  const servers = detail ? await detailed(ctx, req, rows) : rows.map((r) => serverSummary(req, r));
  const out: Record<string, unknown> = { servers };
  if (more && rows.length > 0) {
    const u = new URL(req.url, 'http://x');
    u.searchParams.set('marker', rows[rows.length - 1]!.uuid);
    u.searchParams.set('limit', String(limit));
    const base = `http://${String(req.headers.host)}/v2.1/servers${detail ? '/detail' : ''}`;
    out.servers_links = [{ rel: 'next', href: `${base}?${u.searchParams.toString()}` }];
  }
  return out;
}

const statusOfRow = (r: InstanceRow) => (r.deleted ? 'DELETED' : statusOf(r.vm_state, r.task_state));

async function detailed(ctx: ComputeContext, req: FastifyRequest, rows: InstanceRow[]) {
  const rc = requestContext(ctx, req);
  const extras = await serverExtras(ctx, rows, { securityGroupsAs: rc });
  return rows.map((r) => serverView(ctx, req, rc, r, extras.get(r.uuid)!));
}

// --- show / update / delete ---------------------------------------------------------------------

async function show(ctx: ComputeContext, req: FastifyRequest, id: string) {
  const rc = requestContext(ctx, req);
  const inst = await loadServer(ctx, rc, id);
  authorize(ctx, rc, 'os_compute_api:servers:show', { project_id: inst.project_id });
  const extras = await serverExtras(ctx, [inst], { securityGroupsAs: rc });
  return { server: serverView(ctx, req, rc, inst, extras.get(inst.uuid)!) };
}

const UPDATE_SCHEMA = {
  type: 'object',
  properties: {
    server: {
      type: 'object',
      properties: {
        name: NAME,
        accessIPv4: { type: 'string', format: 'ipv4' },
        accessIPv6: { type: 'string', format: 'ipv6' },
        'OS-DCF:diskConfig': { enum: ['AUTO', 'MANUAL'] },
        description: { type: ['string', 'null'], maxLength: 255 },
        hostname: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[a-zA-Z0-9]([a-zA-Z0-9-.]*[a-zA-Z0-9])?$' },
      },
      additionalProperties: false,
    },
  },
  required: ['server'],
  additionalProperties: false,
};

async function update(ctx: ComputeContext, req: FastifyRequest, id: string) {
  const rc = requestContext(ctx, req);
  const mv = req.computeVersion;
  const b = body<{ server: { name?: string; accessIPv4?: string; accessIPv6?: string; description?: string | null; hostname?: string; 'OS-DCF:diskConfig'?: string } }>(req, UPDATE_SCHEMA);
  const inst = await loadServer(ctx, rc, id);
  authorize(ctx, rc, 'os_compute_api:servers:update', { project_id: inst.project_id });
  const s = b.server;
  if (s.description !== undefined && !mv.atLeast('2.19')) throw new ApiError('BadRequest', "Additional properties are not allowed ('description' was unexpected)");
  if (s.hostname !== undefined && !mv.atLeast('2.90')) throw new ApiError('BadRequest', "Additional properties are not allowed ('hostname' was unexpected)");
  if (s.name !== undefined && (s.name.trim() !== s.name || !s.name.trim())) throw new ApiError('BadRequest', `Invalid input for field/attribute name. Value: ${s.name}.`);
  const values: Partial<InstanceRow> = {};
  if (s.name !== undefined) values.display_name = s.name;
  if (s.accessIPv4 !== undefined) values.access_ip_v4 = s.accessIPv4;
  if (s.accessIPv6 !== undefined) values.access_ip_v6 = canonicalIpv6(s.accessIPv6);
  if (s.description !== undefined) values.display_description = s.description;
  if (s.hostname !== undefined) values.hostname = s.hostname;
  if (s['OS-DCF:diskConfig'] !== undefined) values.auto_disk_config = s['OS-DCF:diskConfig'] === 'AUTO' ? 1 : 0;
  if (Object.keys(values).length) await updateInstance(ctx.db, inst.uuid, values);
  const fresh = (await getInstance(ctx.db, inst.uuid))!;
  // From 2.75 PUT answers the whole view, security groups included (Nova's show_sec_grp).
  const extras = await serverExtras(ctx, [fresh], mv.atLeast('2.75') ? { securityGroupsAs: rc } : {});
  const view = serverView(ctx, req, rc, fresh, extras.get(fresh.uuid)!);
  if (!mv.atLeast('2.75')) {
    // Before 2.75 PUT answered a reduced view.
    for (const k of Object.keys(view)) {
      if (k.startsWith('OS-EXT-') || k.startsWith('OS-SRV-USG') || ['key_name', 'config_drive', 'os-extended-volumes:volumes_attached', 'security_groups', 'host_status'].includes(k)) delete view[k];
    }
  }
  return { server: view };
}

async function remove(ctx: ComputeContext, req: FastifyRequest, id: string) {
  const rc = requestContext(ctx, req);
  const inst = await loadServer(ctx, rc, id);
  authorize(ctx, rc, 'os_compute_api:servers:delete', { project_id: inst.project_id });
  if (inst.locked && !rc.isAdmin) throw new ApiError('Conflict', `Instance ${inst.uuid} is locked`);
  await startAction(ctx.db, { uuid: inst.uuid, action: 'delete', requestId: req.id, userId: rc.userId, projectId: rc.projectId });
  await deleteInstance(ctx, inst, req.id);
}

export function registerServers(app: FastifyInstance, ctx: ComputeContext): void {
  app.post('/servers', async (req, reply) => { const r = await create(ctx, req); reply.code(202); return r; });
  app.get('/servers', (req) => list(ctx, req, false));
  app.get('/servers/detail', (req) => list(ctx, req, true));
  app.get<{ Params: { id: string } }>('/servers/:id', (req) => show(ctx, req, req.params.id));
  app.put<{ Params: { id: string } }>('/servers/:id', (req) => update(ctx, req, req.params.id));
  app.delete<{ Params: { id: string } }>('/servers/:id', async (req, reply) => { await remove(ctx, req, req.params.id); reply.code(204).send(); });
}
