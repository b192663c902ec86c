// Nova's instance state machine vocabulary: vm_state (what the VM is), task_state (what is being
// done to it), the API `status` derived from both (nova/api/openstack/common.py _STATE_MAP), and
// the 409 an action gets in the wrong state, with Nova's wording.

import { ApiError } from '../common/errors.js';

export const VM = {
  ACTIVE: 'active', BUILDING: 'building', PAUSED: 'paused', SUSPENDED: 'suspended', STOPPED: 'stopped',
  RESCUED: 'rescued', RESIZED: 'resized', SOFT_DELETED: 'soft-delete', DELETED: 'deleted', ERROR: 'error',
  SHELVED: 'shelved', SHELVED_OFFLOADED: 'shelved_offloaded',
} as const;
export type VmState = (typeof VM)[keyof typeof VM];

export const TASK = {
  SCHEDULING: 'scheduling', BLOCK_DEVICE_MAPPING: 'block_device_mapping', NETWORKING: 'networking', SPAWNING: 'spawning',
  IMAGE_SNAPSHOT: 'image_snapshot', IMAGE_SNAPSHOT_PENDING: 'image_snapshot_pending', IMAGE_PENDING_UPLOAD: 'image_pending_upload', IMAGE_UPLOADING: 'image_uploading',
  UPDATING_PASSWORD: 'updating_password',
  RESIZE_PREP: 'resize_prep', RESIZE_MIGRATING: 'resize_migrating', RESIZE_MIGRATED: 'resize_migrated', RESIZE_FINISH: 'resize_finish',
  RESIZE_REVERTING: 'resize_reverting', RESIZE_CONFIRMING: 'resize_confirming',
  REBOOTING: 'rebooting', REBOOT_PENDING: 'reboot_pending', REBOOT_STARTED: 'reboot_started',
  REBOOTING_HARD: 'rebooting_hard', REBOOT_PENDING_HARD: 'reboot_pending_hard', REBOOT_STARTED_HARD: 'reboot_started_hard',
  PAUSING: 'pausing', UNPAUSING: 'unpausing', SUSPENDING: 'suspending', RESUMING: 'resuming',
  POWERING_OFF: 'powering-off', POWERING_ON: 'powering-on',
  RESCUING: 'rescuing', UNRESCUING: 'unrescuing',
  REBUILDING: 'rebuilding', REBUILD_BLOCK_DEVICE_MAPPING: 'rebuild_block_device_mapping', REBUILD_SPAWNING: 'rebuild_spawning',
  MIGRATING: 'migrating', DELETING: 'deleting', SOFT_DELETING: 'soft-deleting', RESTORING: 'restoring',
  SHELVING: 'shelving', SHELVING_IMAGE_PENDING_UPLOAD: 'shelving_image_pending_upload', SHELVING_IMAGE_UPLOADING: 'shelving_image_uploading',
  SHELVING_OFFLOADING: 'shelving_offloading', UNSHELVING: 'unshelving',
} as const;

const STATE_MAP: Record<string, Record<string, string>> = {
  active: {
    default: 'ACTIVE', rebooting: 'REBOOT', reboot_pending: 'REBOOT', reboot_started: 'REBOOT',
    rebooting_hard: 'HARD_REBOOT', reboot_pending_hard: 'HARD_REBOOT', reboot_started_hard: 'HARD_REBOOT',
    updating_password: 'PASSWORD', rebuilding: 'REBUILD', rebuild_block_device_mapping: 'REBUILD', rebuild_spawning: 'REBUILD',
    migrating: 'MIGRATING', resize_prep: 'RESIZE', resize_migrating: 'RESIZE', resize_migrated: 'RESIZE', resize_finish: 'RESIZE',
  },
  building: { default: 'BUILD' },
  stopped: {
    default: 'SHUTOFF', resize_prep: 'RESIZE', resize_migrating: 'RESIZE', resize_migrated: 'RESIZE', resize_finish: 'RESIZE',
    rebuilding: 'REBUILD', rebuild_block_device_mapping: 'REBUILD', rebuild_spawning: 'REBUILD',
  },
  resized: { default: 'VERIFY_RESIZE', resize_reverting: 'REVERT_RESIZE' },
  paused: { default: 'PAUSED', migrating: 'MIGRATING' },
  suspended: { default: 'SUSPENDED' },
  rescued: { default: 'RESCUE' },
  error: { default: 'ERROR', rebuilding: 'REBUILD', rebuild_block_device_mapping: 'REBUILD', rebuild_spawning: 'REBUILD' },
  deleted: { default: 'DELETED' },
  'soft-delete': { default: 'SOFT_DELETED' },
  shelved: { default: 'SHELVED' },
  shelved_offloaded: { default: 'SHELVED_OFFLOADED' },
};

/** The API status of a server. */
export function statusOf(vmState: string, taskState: string | null): string {
  const m = STATE_MAP[vmState];
  if (!m) return 'UNKNOWN';
  return (taskState && m[taskState]) || m.default!;
}

/** vm_states and task_states whose status is one of `statuses` (the ?status= filter). */
export function statesForStatus(statuses: string[]): { vm: string[]; task: (string | null)[] } {
  const want = new Set(statuses.map((s) => s.toUpperCase()));
  const vm = new Set<string>();
  const task = new Set<string | null>();
  for (const [v, m] of Object.entries(STATE_MAP)) {
    for (const [t, s] of Object.entries(m)) {
      if (want.has(s)) { vm.add(v); task.add(t === 'default' ? null : t); }
    }
  }
  return { vm: [...vm], task: [...task] };
}

/**
 * nova.compute.api.check_instance_state: the action is allowed only in these vm_states and
 * task_states (null = no task running); otherwise 409 with Nova's message.
 */
export function checkState(
  inst: { uuid: string; vm_state: string; task_state: string | null },
  action: string,
  allowed: { vm?: readonly string[]; task?: readonly (string | null)[] },
): void {
  const task = allowed.task === undefined ? [null] : allowed.task;
  if (allowed.vm && !allowed.vm.includes(inst.vm_state)) {
    throw new ApiError('Conflict', `Cannot '${action}' instance ${inst.uuid} while it is in vm_state ${inst.vm_state}`);
  }
  if (!task.includes(inst.task_state)) {
    throw new ApiError('Conflict', `Cannot '${action}' instance ${inst.uuid} while it is in task_state ${inst.task_state}`);
  }
}
