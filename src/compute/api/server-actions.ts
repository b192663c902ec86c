// Compute API: POST /servers/{id}/action. Each action checks policy, the lock and the instance's
// state exactly where Nova does (409 with Nova's wording otherwise), moves task_state with a
// compare-and-set so two racing requests cannot both start, records an instance action, and casts
// the work to the instance's agent; the 202 returns at once and the state moves when the host is done.

import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../common/errors.js';
import { validate } from '../../common/validation.js';
import type { ComputeContext, RequestContext } from '../context.js';
import { authorize, nowIso, requestContext } from '../context.js';
import { loadServer, serverExtras } from './common.js';
import { serverView } from './views.js';
import { VM, TASK, checkState } from '../states.js';
import { flavorsOf, getInstance, startAction, updateInstance, systemMetadataOf, type InstanceRow } from '../store/instances.js';
import { flavorAccessible, flavorByFlavorId, flavorCopy } from '../store/flavors.js';
import { keypairByName } from '../store/keypairs.js';
import { ImageClient, imageProperties } from '../../image/client.js';
import { callAgent, castAction, deleteInstance, unshelveInstance } from '../conductor.js';
import { getAllocations, putAllocations, deleteAllocations, flavorResources } from '../scheduler.js';
import { canonicalIpv6 } from './views.js';

type Body = Record<string, unknown>;
interface Act { ctx: ComputeContext; req: FastifyRequest; reply: FastifyReply; rc: RequestContext; inst: InstanceRow; arg: unknown }
type Handler = (a: Act) => Promise<unknown>;

function checkLock(a: Act): void {
  if (a.inst.locked && !a.rc.isAdmin) throw new ApiError('Conflict', `Instance ${a.inst.uuid} is locked`);
}

/** Moves the task state if (and only if) the instance is still in an allowed state. */
async function begin(a: Act, action: string, allowed: { vm: readonly string[]; task?: readonly (string | null)[] }, task: string, extra: Partial<InstanceRow> = {}): Promise<void> {
  checkState(a.inst, action, allowed);
  const ok = await updateInstance(a.ctx.db, a.inst.uuid, { task_state: task, ...extra }, { vm_state: allowed.vm, task_state: allowed.task ?? [null] });
  if (!ok) {
    const now = await getInstance(a.ctx.db, a.inst.uuid);
    if (!now) throw new ApiError('NotFound', `Instance ${a.inst.uuid} could not be found.`);
    checkState(now, action, allowed);
    throw new ApiError('Conflict', `Cannot '${action}' instance ${a.inst.uuid} while it is in task_state ${now.task_state}`);
  }
}

async function record(a: Act, action: string): Promise<void> {
  await startAction(a.ctx.db, { uuid: a.inst.uuid, action, requestId: a.req.id, userId: a.rc.userId, projectId: a.rc.projectId });
}

/** The common shape: policy, lock, state, task, action record, cast. */
function simple(policy: string, action: string, allowed: { vm: readonly string[]; task?: readonly (string | null)[] }, task: string, op: string, opts: { lock?: boolean; args?: (a: Act) => Record<string, unknown> } = {}): Handler {
  return async (a) => {
    authorize(a.ctx, a.rc, policy, { project_id: a.inst.project_id });
    if (opts.lock !== false) checkLock(a);
    await begin(a, action, allowed, task);
    await record(a, action);
    await castAction(a.ctx, a.inst, op, a.req.id, opts.args?.(a) ?? {});
    return undefined;
  };
}

const REBOOT_SOFT = { vm: [VM.ACTIVE], task: [null] } as const;
const REBOOT_HARD = {
  vm: [VM.ACTIVE, VM.STOPPED, VM.PAUSED, VM.SUSPENDED, VM.ERROR],
  task: [null, TASK.REBOOTING, TASK.REBOOT_PENDING, TASK.REBOOT_STARTED, TASK.REBOOTING_HARD, TASK.RESUMING, TASK.UNPAUSING, TASK.PAUSING, TASK.SUSPENDING],
} as const;

const reboot: Handler = async (a) => {
  const arg = validate<{ type: string }>({ type: 'object', properties: { type: { type: 'string', pattern: '^([Hh][Aa][Rr][Dd]|[Ss][Oo][Ff][Tt])$' } }, required: ['type'], additionalProperties: false }, a.arg);
  const hard = arg.type.toUpperCase() === 'HARD';
  authorize(a.ctx, a.rc, 'os_compute_api:servers:reboot', { project_id: a.inst.project_id });
  checkLock(a);
  await begin(a, 'reboot', hard ? REBOOT_HARD : REBOOT_SOFT, hard ? TASK.REBOOTING_HARD : TASK.REBOOTING);
  await record(a, 'reboot');
  await castAction(a.ctx, a.inst, 'reboot', a.req.id, { type: hard ? 'HARD' : 'SOFT' });
};

const lock: Handler = async (a) => {
  authorize(a.ctx, a.rc, 'os_compute_api:os-lock-server:lock', { project_id: a.inst.project_id });
  let reason: string | null = null;
  if (a.arg !== null && a.arg !== undefined && a.req.computeVersion.atLeast('2.73')) {
    const v = validate<{ locked_reason?: string }>({ type: ['object', 'null'], properties: { locked_reason: { type: 'string', minLength: 1, maxLength: 255 } }, additionalProperties: false }, a.arg);
    reason = v?.locked_reason ?? null;
  }
  await updateInstance(a.ctx.db, a.inst.uuid, { locked: 1, locked_by: a.rc.isAdmin && a.inst.project_id !== a.rc.projectId ? 'admin' : 'owner', locked_reason: reason });
  await record(a, 'lock');
};

const unlock: Handler = async (a) => {
  authorize(a.ctx, a.rc, 'os_compute_api:os-lock-server:unlock', { project_id: a.inst.project_id });
  if (a.inst.locked_by === 'admin' && a.inst.project_id === a.rc.projectId && !a.rc.isAdmin) {
    authorize(a.ctx, a.rc, 'os_compute_api:os-lock-server:unlock:unlock_override', { project_id: a.inst.project_id });
  }
  await updateInstance(a.ctx.db, a.inst.uuid, { locked: 0, locked_by: null, locked_reason: null });
  await record(a, 'unlock');
};

/** A queued image the snapshot's bytes go to, owned by the caller's project. */
async function snapshotImage(a: Act, name: string, metadata: Record<string, string>, imageType: string): Promise<string> {
  const images = new ImageClient(a.ctx.session);
  const sm = systemMetadataOf(a.inst);
  const inherited = JSON.parse(sm.image_properties ?? '{}') as Record<string, string>;
  for (const k of ['kernel_id', 'ramdisk_id']) if (inherited[k]) metadata[k] ??= inherited[k];
  // Nova's snapshot properties first; the caller's metadata may override them (image_type too).
  const img = await images.create({
    name, disk_format: 'qcow2', container_format: 'bare', visibility: 'private',
    min_ram: Number(sm.image_min_ram ?? 0), min_disk: Math.max(Number(sm.image_min_disk ?? 0), flavorsOf(a.inst).cur.root_gb),
    image_type: imageType, instance_uuid: a.inst.uuid, base_image_ref: a.inst.image_ref ?? '', user_id: a.rc.userId,
    ...(a.inst.image_ref ? { image_location: 'snapshot' } : {}),
    ...Object.fromEntries(Object.entries(metadata).filter(([k]) => !['name', 'id', 'status', 'visibility', 'owner', 'size', 'checksum', 'locations', 'disk_format', 'container_format', 'min_ram', 'min_disk'].includes(k))),
  }, a.rc.token).catch((e) => { throw new ApiError('BadRequest', `Could not create the snapshot image: ${(e as Error).message}`); });
  return img.id;
}

const createImage: Handler = async (a) => {
  const arg = validate<{ name: string; metadata?: Record<string, string> }>({
    type: 'object', properties: { name: { type: 'string', minLength: 1, maxLength: 255 }, metadata: { type: 'object', propertyNames: { minLength: 1, maxLength: 255 }, additionalProperties: { type: 'string', maxLength: 255 } } },
    required: ['name'], additionalProperties: false,
  }, a.arg);
  authorize(a.ctx, a.rc, 'os_compute_api:servers:create_image', { project_id: a.inst.project_id });
  checkLock(a);
  const allowed = { vm: [VM.ACTIVE, VM.STOPPED, VM.PAUSED, VM.SUSPENDED] } as const;
  checkState(a.inst, 'createImage', allowed);
  const imageId = await snapshotImage(a, arg.name, { ...(arg.metadata ?? {}) }, 'snapshot');
  await begin(a, 'createImage', allowed, TASK.IMAGE_SNAPSHOT);
  await record(a, 'createImage');
  await castAction(a.ctx, a.inst, 'snapshot', a.req.id, { imageId });
  const h = `http://${String(a.req.headers.host)}`;
  if (a.req.computeVersion.atLeast('2.45')) return { image_id: imageId };
  a.reply.header('Location', `${h}/images/${imageId}`);
  return undefined;
};

const resize: Handler = async (a) => {
  const arg = validate<{ flavorRef: string | number; 'OS-DCF:diskConfig'?: string }>({
    type: 'object', properties: { flavorRef: { anyOf: [{ type: 'string', minLength: 1 }, { type: 'integer', minimum: 1 }] }, 'OS-DCF:diskConfig': { enum: ['AUTO', 'MANUAL'] } },
    required: ['flavorRef'], additionalProperties: false,
  }, a.arg);
  authorize(a.ctx, a.rc, 'os_compute_api:servers:resize', { project_id: a.inst.project_id });
  checkLock(a);
  const allowed = { vm: [VM.ACTIVE, VM.STOPPED] } as const;
  checkState(a.inst, 'resize', allowed);
  const f = await flavorByFlavorId(a.ctx.db, String(arg.flavorRef));
  if (!f || !(a.rc.isAdmin || await flavorAccessible(a.ctx.db, f, a.rc.projectId))) throw new ApiError('BadRequest', `Invalid flavorRef provided.`);
  const cur = flavorsOf(a.inst).cur;
  if (f.flavorid === cur.flavorid) throw new ApiError('BadRequest', 'When resizing, instances must change flavor!');
  if (f.root_gb < cur.root_gb && f.root_gb !== 0) throw new ApiError('BadRequest', 'Resize error: Unable to resize disk down.');
  if (f.disabled) throw new ApiError('BadRequest', `Flavor ${f.flavorid} could not be found.`);
  const next = await flavorCopy(a.ctx.db, f);
  if (!a.ctx.opts.allowResizeToSameHost) throw new ApiError('BadRequest', 'No valid host was found. Resize to the same host is disabled (allow_resize_to_same_host).');
  const { checkQuota } = await import('../quotas.js');
  const dCores = next.vcpus - cur.vcpus, dRam = next.memory_mb - cur.memory_mb;
  if (dCores > 0 || dRam > 0) await checkQuota(a.ctx, a.inst.project_id, a.inst.user_id, { cores: Math.max(0, dCores), ram: Math.max(0, dRam) });

  // Placement: the old flavor's allocation moves to the migration, the instance claims the new one.
  const migrationUuid = randomUUID();
  const current = await getAllocations(a.ctx, a.inst.uuid);
  const rp = Object.keys(current.allocations)[0];
  if (!rp) throw new ApiError('Conflict', `Instance ${a.inst.uuid} has no allocation to resize from.`);
  await putAllocations(a.ctx, migrationUuid, { allocations: current.allocations, project_id: a.inst.project_id, user_id: a.inst.user_id, consumer_generation: null });
  try {
    await putAllocations(a.ctx, a.inst.uuid, {
      allocations: { [rp]: { resources: flavorResources(next) } }, project_id: a.inst.project_id, user_id: a.inst.user_id, consumer_generation: current.consumer_generation ?? null,
    });
  } catch (e) {
    await deleteAllocations(a.ctx, migrationUuid).catch(() => undefined);
    throw e;
  }
  const disk = arg['OS-DCF:diskConfig'] !== undefined ? { auto_disk_config: arg['OS-DCF:diskConfig'] === 'AUTO' ? 1 : 0 } : {};
  const sm = { ...systemMetadataOf(a.inst), old_vm_state: a.inst.vm_state };
  await begin(a, 'resize', allowed, TASK.RESIZE_PREP, { flavor: JSON.stringify({ cur, old: cur, new: next }), system_metadata: JSON.stringify(sm), ...disk });
  const now = nowIso();
  await a.ctx.db.insertInto('migrations').values({
    uuid: migrationUuid, instance_uuid: a.inst.uuid, source_compute: a.inst.host, dest_compute: a.inst.host, source_node: a.inst.node, dest_node: a.inst.node,
    old_instance_type_id: cur.id, new_instance_type_id: next.id, migration_type: 'resize', status: 'migrating',
    project_id: a.inst.project_id, user_id: a.inst.user_id, created_at: now, updated_at: now,
  }).execute();
  await record(a, 'resize');
  await castAction(a.ctx, a.inst, 'resize', a.req.id, { migration: migrationUuid });
};

async function resizeMigration(a: Act): Promise<{ uuid: string } | undefined> {
  return a.ctx.db.selectFrom('migrations').select('uuid').where('instance_uuid', '=', a.inst.uuid).where('status', '=', 'finished').orderBy('id', 'desc').executeTakeFirst() as Promise<{ uuid: string } | undefined>;
}

const confirmResize: Handler = async (a) => {
  authorize(a.ctx, a.rc, 'os_compute_api:servers:confirm_resize', { project_id: a.inst.project_id });
  checkLock(a);
  const mig = await resizeMigration(a);
  if (a.inst.vm_state !== VM.RESIZED || !mig) throw new ApiError('BadRequest', `Instance has not been resized.`);
  await begin(a, 'confirmResize', { vm: [VM.RESIZED] }, TASK.RESIZE_CONFIRMING);
  await deleteAllocations(a.ctx, mig.uuid);
  await record(a, 'confirmResize');
  await castAction(a.ctx, a.inst, 'confirm_resize', a.req.id);
};

const revertResize: Handler = async (a) => {
  authorize(a.ctx, a.rc, 'os_compute_api:servers:revert_resize', { project_id: a.inst.project_id });
  checkLock(a);
  const mig = await resizeMigration(a);
  if (a.inst.vm_state !== VM.RESIZED || !mig) throw new ApiError('BadRequest', `Instance has not been resized.`);
  await begin(a, 'revertResize', { vm: [VM.RESIZED] }, TASK.RESIZE_REVERTING);
  // The migration's allocation (the old flavor) goes back to the instance.
  const old = await getAllocations(a.ctx, mig.uuid);
  const cur = await getAllocations(a.ctx, a.inst.uuid);
  await putAllocations(a.ctx, a.inst.uuid, { allocations: old.allocations, project_id: a.inst.project_id, user_id: a.inst.user_id, consumer_generation: cur.consumer_generation ?? null });
  await deleteAllocations(a.ctx, mig.uuid);
  await record(a, 'revertResize');
  await castAction(a.ctx, a.inst, 'revert_resize', a.req.id);
};

const rebuild: Handler = async (a) => {
  const mv = a.req.computeVersion;
  const arg = validate<{ imageRef: string; name?: string; adminPass?: string; metadata?: Record<string, string>; description?: string | null; key_name?: string | null; user_data?: string | null; hostname?: string; preserve_ephemeral?: boolean; 'OS-DCF:diskConfig'?: string; accessIPv4?: string; accessIPv6?: string }>({
    type: 'object', properties: {
      imageRef: { type: 'string', minLength: 1 }, name: { type: 'string', minLength: 1, maxLength: 255 }, adminPass: { type: 'string' },
      metadata: { type: 'object', additionalProperties: { type: 'string', maxLength: 255 } }, description: { type: ['string', 'null'], maxLength: 255 },
      key_name: { type: ['string', 'null'] }, user_data: { type: ['string', 'null'], maxLength: 65535 }, hostname: { type: 'string' },
      preserve_ephemeral: { type: 'boolean' }, 'OS-DCF:diskConfig': { enum: ['AUTO', 'MANUAL'] }, accessIPv4: { type: 'string', format: 'ipv4' }, accessIPv6: { type: 'string', format: 'ipv6' },
      personality: { type: 'array' }, trusted_image_certificates: { type: ['array', 'null'] },
    }, required: ['imageRef'], additionalProperties: false,
  }, a.arg);
  if (arg.key_name !== undefined && !mv.atLeast('2.54')) throw new ApiError('BadRequest', "Additional properties are not allowed ('key_name' was unexpected)");
  if (arg.user_data !== undefined && !mv.atLeast('2.57')) throw new ApiError('BadRequest', "Additional properties are not allowed ('user_data' was unexpected)");
  if (arg.description !== undefined && !mv.atLeast('2.19')) throw new ApiError('BadRequest', "Additional properties are not allowed ('description' was unexpected)");
  authorize(a.ctx, a.rc, 'os_compute_api:servers:rebuild', { project_id: a.inst.project_id });
  checkLock(a);
  const allowed = { vm: [VM.ACTIVE, VM.STOPPED, VM.ERROR] } as const;
  checkState(a.inst, 'rebuild', allowed);
  const images = new ImageClient(a.ctx.session);
  const imageRef = arg.imageRef.replace(/^.*\/images\//, '');
  const image = await images.get(imageRef, a.rc.token);
  if (!image) throw new ApiError('BadRequest', `Image ${imageRef} could not be found.`);
  if (image.status !== 'active') throw new ApiError('BadRequest', `Image ${imageRef} is not active.`);
  const cur = flavorsOf(a.inst).cur;
  if (cur.root_gb > 0 && Number(image.size ?? 0) > cur.root_gb * 1024 ** 3) throw new ApiError('BadRequest', "Flavor's disk is too small for requested image.");
  if ((image.min_ram ?? 0) > cur.memory_mb) throw new ApiError('BadRequest', "Flavor's memory is too small for requested image.");
  const values: Partial<InstanceRow> = { image_ref: image.id };
  const props = imageProperties(image);
  const sm = { ...systemMetadataOf(a.inst), image_disk_format: image.disk_format ?? '', image_container_format: image.container_format ?? '', image_min_disk: String(image.min_disk ?? 0), image_min_ram: String(image.min_ram ?? 0), image_size: String(image.size ?? 0), image_properties: JSON.stringify(props) };
  values.system_metadata = JSON.stringify(sm);
  values.kernel_id = props.kernel_id ?? null;
  values.ramdisk_id = props.ramdisk_id ?? null;
  if (arg.name !== undefined) values.display_name = arg.name;
  if (arg.description !== undefined) values.display_description = arg.description;
  if (arg.accessIPv4 !== undefined) values.access_ip_v4 = arg.accessIPv4;
  if (arg.user_data !== undefined) values.user_data = arg.user_data;
  if (arg['OS-DCF:diskConfig'] !== undefined) values.auto_disk_config = arg['OS-DCF:diskConfig'] === 'AUTO' ? 1 : 0;
  if (arg.accessIPv6 !== undefined) values.access_ip_v6 = canonicalIpv6(arg.accessIPv6);
  if (arg.key_name !== undefined) {
    if (arg.key_name === null) { values.key_name = null; values.key_data = null; }
    else {
      const kp = await keypairByName(a.ctx.db, a.inst.user_id, arg.key_name);
      if (!kp) throw new ApiError('BadRequest', 'Invalid key_name provided.');
      values.key_name = kp.name; values.key_data = kp.public_key;
    }
  }
  await begin(a, 'rebuild', allowed, TASK.REBUILDING, values);
  if (arg.metadata) {
    await a.ctx.db.deleteFrom('instance_metadata').where('instance_uuid', '=', a.inst.uuid).execute();
    const md = Object.entries(arg.metadata);
    if (md.length) await a.ctx.db.insertInto('instance_metadata').values(md.map(([key, value]) => ({ instance_uuid: a.inst.uuid, key, value }))).execute();
  }
  await record(a, 'rebuild');
  const adminPass = arg.adminPass ?? randomBytes(9).toString('base64url').slice(0, 12);
  await castAction(a.ctx, a.inst, 'rebuild', a.req.id, { adminPass }); // for the config drive
  const fresh = (await getInstance(a.ctx.db, a.inst.uuid))!;
  const extras = await serverExtras(a.ctx, [fresh], mv.atLeast('2.75') ? { securityGroupsAs: a.rc } : {});
  const view = serverView(a.ctx, a.req, a.rc, fresh, extras.get(fresh.uuid)!);
  if (mv.atLeast('2.57')) view.user_data = fresh.user_data;
  view.adminPass = adminPass;
  if (!mv.atLeast('2.75')) {
    for (const k of Object.keys(view)) if (k.startsWith('OS-EXT-SRV-ATTR') || k.startsWith('OS-SRV-USG') || ['OS-EXT-STS:task_state', 'OS-EXT-STS:vm_state', 'OS-EXT-STS:power_state', 'OS-EXT-AZ:availability_zone', 'key_name', 'config_drive', 'os-extended-volumes:volumes_attached', 'host_status', 'security_groups'].includes(k)) delete view[k];
    // Nova's extend_address=False: {version, addr} only, without OS-EXT-IPS:type / OS-EXT-IPS-MAC:mac_addr.
    view.addresses = Object.fromEntries(Object.entries(view.addresses as Record<string, { version: number; addr: string }[]>)
      .map(([net, ips]) => [net, ips.map(({ version, addr }) => ({ version, addr }))]));
  }
  a.reply.code(202);
  return { server: view };
};

const rescue: Handler = async (a) => {
  const arg = validate<{ adminPass?: string; rescue_image_ref?: string } | null>({ type: ['object', 'null'], properties: { adminPass: { type: 'string' }, rescue_image_ref: { type: 'string', format: 'uuid' } }, additionalProperties: false }, a.arg ?? null);
  authorize(a.ctx, a.rc, 'os_compute_api:os-rescue', { project_id: a.inst.project_id });
  checkLock(a);
  const allowed = { vm: [VM.ACTIVE, VM.STOPPED, VM.ERROR] } as const;
  checkState(a.inst, 'rescue', allowed);
  let imageId = a.inst.image_ref;
  if (arg?.rescue_image_ref) {
    const img = await new ImageClient(a.ctx.session).get(arg.rescue_image_ref, a.rc.token);
    if (!img) throw new ApiError('BadRequest', `Image ${arg.rescue_image_ref} could not be found.`);
    imageId = img.id;
  }
  await begin(a, 'rescue', allowed, TASK.RESCUING);
  await record(a, 'rescue');
  await castAction(a.ctx, a.inst, 'rescue', a.req.id, { imageId });
  return { adminPass: arg?.adminPass ?? randomBytes(9).toString('base64url').slice(0, 12) };
};

const shelve: Handler = async (a) => {
  authorize(a.ctx, a.rc, 'os_compute_api:os-shelve:shelve', { project_id: a.inst.project_id });
  checkLock(a);
  const allowed = { vm: [VM.ACTIVE, VM.STOPPED, VM.PAUSED, VM.SUSPENDED] } as const;
  checkState(a.inst, 'shelve', allowed);
  const imageId = await snapshotImage(a, `${a.inst.display_name ?? a.inst.uuid}-shelved`, {}, 'snapshot');
  await begin(a, 'shelve', allowed, TASK.SHELVING);
  await record(a, 'shelve');
  await castAction(a.ctx, a.inst, 'shelve', a.req.id, { imageId });
};

const shelveOffload: Handler = async (a) => {
  authorize(a.ctx, a.rc, 'os_compute_api:os-shelve:shelve_offload', { project_id: a.inst.project_id });
  checkLock(a);
  // Shelving offloads at once here (Nova's shelved_offload_time = 0), so only SHELVED would need it.
  checkState(a.inst, 'shelveOffload', { vm: [VM.SHELVED] });
};

const unshelve: Handler = async (a) => {
  authorize(a.ctx, a.rc, 'os_compute_api:os-shelve:unshelve', { project_id: a.inst.project_id });
  checkLock(a);
  const allowed = { vm: [VM.SHELVED, VM.SHELVED_OFFLOADED] } as const;
  await begin(a, 'unshelve', allowed, TASK.UNSHELVING);
  await record(a, 'unshelve');
  const fresh = (await getInstance(a.ctx.db, a.inst.uuid))!;
  const work = unshelveInstance(a.ctx, fresh, a.req.id);
  a.ctx.background.add(work);
  void work.finally(() => a.ctx.background.delete(work));
};

const consoleOutput: Handler = async (a) => {
  const arg = validate<{ length?: number | string | null } | null>({ type: ['object', 'null'], properties: { length: { anyOf: [{ type: 'integer', minimum: -1 }, { type: 'string', pattern: '^-?[0-9]+$' }, { type: 'null' }] } }, additionalProperties: false }, a.arg ?? null);
  authorize(a.ctx, a.rc, 'os_compute_api:os-console-output', { project_id: a.inst.project_id });
  let length = arg?.length === undefined || arg?.length === null ? undefined : Number(arg.length);
  if (length !== undefined && length < -1) throw new ApiError('BadRequest', 'length must be >= -1');
  if (length === -1) length = undefined;
  if (!a.inst.host || a.inst.vm_state === VM.BUILDING) throw new ApiError('Conflict', `Instance ${a.inst.uuid} is not ready yet.`);
  const output = await callAgent<string>(a.ctx, a.inst, 'console_output', { length });
  return { output };
};

const changePassword: Handler = async (a) => {
  validate({ type: 'object', properties: { adminPass: { type: 'string' } }, required: ['adminPass'], additionalProperties: false }, a.arg);
  authorize(a.ctx, a.rc, 'os_compute_api:os-admin-password', { project_id: a.inst.project_id });
  checkState(a.inst, 'changePassword', { vm: [VM.ACTIVE] });
  throw new ApiError('NotImplemented', 'Unable to set password on instance: the hypervisor driver has no guest agent channel.');
};

const resetState: Handler = async (a) => {
  const arg = validate<{ state: string }>({ type: 'object', properties: { state: { enum: ['active', 'error'] } }, required: ['state'], additionalProperties: false }, a.arg);
  authorize(a.ctx, a.rc, 'os_compute_api:os-admin-actions:reset_state', { project_id: a.inst.project_id });
  await updateInstance(a.ctx.db, a.inst.uuid, { vm_state: arg.state, task_state: null });
  await record(a, 'resetState');
};

const migrate: Handler = async (a) => {
  authorize(a.ctx, a.rc, 'os_compute_api:os-migrate-server:migrate', { project_id: a.inst.project_id });
  checkLock(a);
  checkState(a.inst, 'migrate', { vm: [VM.ACTIVE, VM.STOPPED] });
  // Cold migration moves a server to another host; it needs a second compute host.
  const others = await a.ctx.db.selectFrom('services').select('host').where('binary', '=', 'nova-compute').where('host', '<>', a.inst.host ?? '').where('disabled', '=', 0).execute();
  if (!others.length) throw new ApiError('BadRequest', 'No valid host was found. No other compute host is available for the migration.');
  throw new ApiError('BadRequest', 'No valid host was found. Cold migration between hosts is not implemented yet.');
};

const createBackup: Handler = async (a) => {
  const arg = validate<{ name: string; backup_type: string; rotation: number | string; metadata?: Record<string, string> }>({
    type: 'object', properties: {
      name: { type: 'string', minLength: 1, maxLength: 255 }, backup_type: { type: 'string' },
      rotation: { anyOf: [{ type: 'integer', minimum: 0 }, { type: 'string', pattern: '^[0-9]+$' }] },
      metadata: { type: 'object', propertyNames: { minLength: 1, maxLength: 255 }, additionalProperties: { type: 'string', maxLength: 255 } },
    }, required: ['name', 'backup_type', 'rotation'], additionalProperties: false,
  }, a.arg);
  authorize(a.ctx, a.rc, 'os_compute_api:os-create-backup', { project_id: a.inst.project_id });
  checkLock(a);
  const allowed = { vm: [VM.ACTIVE, VM.STOPPED, VM.PAUSED, VM.SUSPENDED] } as const;
  checkState(a.inst, 'createBackup', allowed);
  const imageId = await snapshotImage(a, arg.name, { ...(arg.metadata ?? {}), backup_type: arg.backup_type }, 'backup');
  await begin(a, 'createBackup', allowed, TASK.IMAGE_SNAPSHOT);
  await record(a, 'createBackup');
  await castAction(a.ctx, a.inst, 'snapshot', a.req.id, { imageId });
  // Rotation: keep the newest `rotation` backups of this type (the new one included).
  const images = new ImageClient(a.ctx.session);
  const rotation = Number(arg.rotation);
  const all = (await images.list({ instance_uuid: a.inst.uuid, image_type: 'backup', sort_key: 'created_at', sort_dir: 'desc', limit: '1000' }, a.rc.token)).images
    .filter((i) => imageProperties(i).backup_type === arg.backup_type);
  for (const old of all.slice(Math.max(rotation, 1)).filter((i) => i.id !== imageId)) await images.delete(old.id, a.rc.token).catch(() => undefined);
  if (rotation === 0) await images.delete(imageId, a.rc.token).catch(() => undefined);
  if (a.req.computeVersion.atLeast('2.45')) return { image_id: imageId };
  a.reply.header('Location', `http://${String(a.req.headers.host)}/images/${imageId}`);
  return undefined;
};

/**
 * Deferred delete: deletes here are immediate (Nova's default reclaim_instance_interval = 0), so no
 * server is ever SOFT_DELETED: restore finds none to restore, forceDelete is a delete.
 */
const restore: Handler = async (a) => {
  authorize(a.ctx, a.rc, 'os_compute_api:os-deferred-delete:restore', { project_id: a.inst.project_id });
  checkState(a.inst, 'restore', { vm: [VM.SOFT_DELETED] });
};

const forceDelete: Handler = async (a) => {
  authorize(a.ctx, a.rc, 'os_compute_api:os-deferred-delete:force', { project_id: a.inst.project_id });
  checkLock(a);
  await record(a, 'delete');
  await deleteInstance(a.ctx, a.inst, a.req.id);
};

const ACTIONS: Record<string, Handler> = {
  'os-stop': simple('os_compute_api:servers:stop', 'stop', { vm: [VM.ACTIVE, VM.ERROR] }, TASK.POWERING_OFF, 'stop'),
  'os-start': simple('os_compute_api:servers:start', 'start', { vm: [VM.STOPPED] }, TASK.POWERING_ON, 'start'),
  reboot,
  pause: simple('os_compute_api:os-pause-server:pause', 'pause', { vm: [VM.ACTIVE] }, TASK.PAUSING, 'pause'),
  unpause: simple('os_compute_api:os-pause-server:unpause', 'unpause', { vm: [VM.PAUSED] }, TASK.UNPAUSING, 'unpause'),
  suspend: simple('os_compute_api:os-suspend-server:suspend', 'suspend', { vm: [VM.ACTIVE] }, TASK.SUSPENDING, 'suspend'),
  resume: simple('os_compute_api:os-suspend-server:resume', 'resume', { vm: [VM.SUSPENDED] }, TASK.RESUMING, 'resume'),
  unrescue: simple('os_compute_api:os-unrescue', 'unrescue', { vm: [VM.RESCUED] }, TASK.UNRESCUING, 'unrescue'),
  lock, unlock, createImage, resize, confirmResize, revertResize, rebuild, rescue, shelve, shelveOffload, unshelve,
  'os-getConsoleOutput': consoleOutput,
  changePassword, 'os-resetState': resetState, migrate, createBackup, restore, forceDelete,
};

/** Nova's success status per action (202 for the rest). */
const ACTION_STATUS: Record<string, number> = {
  'os-getConsoleOutput': 200, rescue: 200, 'os-getVNCConsole': 200, 'os-getSPICEConsole': 200, 'os-getRDPConsole': 200, 'os-getSerialConsole': 200,
  confirmResize: 204, 'os-resetState': 202, 'os-resetNetwork': 202, addSecurityGroup: 202, removeSecurityGroup: 202,
};

/** Actions registered by other modules (remote consoles, security groups, ...). */
export function addServerAction(name: string, h: Handler): void { ACTIONS[name] = h; }

export function registerServerActions(app: FastifyInstance, ctx: ComputeContext): void {
  app.post<{ Params: { id: string } }>('/servers/:id/action', async (req, reply) => {
    const rc = requestContext(ctx, req);
    const b = req.body as Body | undefined;
    if (!b || typeof b !== 'object' || Array.isArray(b) || Object.keys(b).length !== 1) {
      throw new ApiError('BadRequest', 'There is no such action: ' + (b && typeof b === 'object' ? Object.keys(b).join(',') : ''));
    }
    const [name, arg] = Object.entries(b)[0]!;
    const h = ACTIONS[name];
    if (!h) throw new ApiError('BadRequest', `There is no such action: ${name}`);
    const inst = await loadServer(ctx, rc, req.params.id);
    const out = await h({ ctx, req, reply, rc, inst, arg });
    if (reply.statusCode === 200) reply.code(ACTION_STATUS[name] ?? 202);
    if (out === undefined) return reply.send();
    return out;
  });
}
