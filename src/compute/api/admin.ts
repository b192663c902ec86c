// Compute API: admin-only areas around servers — external events (how the network and block
// storage services tell Nova that a port is plugged or a volume extended), server diagnostics,
// and the instance usage audit log.

import type { FastifyInstance } from 'fastify';
import { ApiError } from '../../common/errors.js';
import { validate } from '../../common/validation.js';
import type { ComputeContext } from '../context.js';
import { authorize, isotime, requestContext } from '../context.js';
import { loadServer } from './common.js';
import { getInstance, flavorsOf } from '../store/instances.js';
import { agentTopic, type AgentMessage } from '../agent/manager.js';

const EVENT_NAMES = ['network-changed', 'network-vif-plugged', 'network-vif-unplugged', 'network-vif-deleted', 'volume-extended', 'power-update', 'accelerator-request-bound', 'volume-reimaged'];


export function registerAdmin(app: FastifyInstance, ctx: ComputeContext): void {
  app.post('/os-server-external-events', async (req, reply) => {
    const rc = requestContext(ctx, req);
    authorize(ctx, rc, 'os_compute_api:os-server-external-events:create', {});
    const b = validate<{ events: { name: string; server_uuid: string; tag?: string; status?: string }[] }>({
      type: 'object', properties: { events: { type: 'array', minItems: 1, items: { type: 'object', properties: {
        name: { enum: EVENT_NAMES }, server_uuid: { type: 'string', format: 'uuid' }, tag: { type: 'string', maxLength: 255 },
        status: { enum: ['failed', 'completed', 'in-progress'] },
      }, required: ['name', 'server_uuid'], additionalProperties: false } } }, required: ['events'], additionalProperties: false,
    }, req.body);
    const out = [];
    let accepted = 0;
    for (const e of b.events) {
      const inst = await getInstance(ctx.db, e.server_uuid);
      const ev = { name: e.name, server_uuid: e.server_uuid, status: e.status ?? 'completed', ...(e.tag !== undefined ? { tag: e.tag } : {}) };
      if (!inst) { out.push({ ...ev, code: 404 }); continue; }
      if (!inst.host) { out.push({ ...ev, code: 422 }); continue; }
      accepted++;
      // The instance's host gets it (a build may be waiting for network-vif-plugged), as Nova casts
      // external_instance_event to the compute host.
      await ctx.bus.cast(agentTopic(inst.host), { op: 'external_event', uuid: inst.uuid, args: ev } satisfies AgentMessage);
      out.push({ ...ev, code: 200 });
    }
    if (!accepted) throw new ApiError('NotFound', 'No instances found for any event');
    reply.code(out.every((e) => e.code === 200) ? 200 : 207);
    return { events: out };
  });

  app.get<{ Params: { id: string } }>('/servers/:id/diagnostics', async (req) => {
    const rc = requestContext(ctx, req);
    const inst = await loadServer(ctx, rc, req.params.id);
    authorize(ctx, rc, 'os_compute_api:os-server-diagnostics', { project_id: inst.project_id });
    if (!inst.host || inst.vm_state === 'building') throw new ApiError('Conflict', `Cannot 'get_diagnostics' instance ${inst.uuid} while it is in vm_state ${inst.vm_state}`);
    const f = flavorsOf(inst).cur;
    const state = ({ 1: 'running', 3: 'paused', 4: 'shutdown', 6: 'crashed', 7: 'suspended' } as Record<number, string>)[inst.power_state] ?? 'pending';
    const uptime = inst.launched_at ? Math.max(0, Math.round((Date.now() - Date.parse(inst.launched_at)) / 1000)) : 0;
    if (req.computeVersion.atLeast('2.48')) {
      return {
        state, driver: ctx.opts.driver === 'fake' ? 'fake' : 'libvirt', hypervisor: ctx.opts.driver === 'fake' ? 'fake' : 'qemu', hypervisor_os: 'linux',
        uptime, config_drive: !!inst.config_drive, num_cpus: f.vcpus, num_nics: 0, num_disks: 1,
        memory_details: { maximum: f.memory_mb, used: 0 }, cpu_details: [], nic_details: [], disk_details: [{ read_bytes: 0, read_requests: 0, write_bytes: 0, write_requests: 0, errors_count: 0 }],
      };
    }
    return { state, uptime, num_cpus: f.vcpus, memory: f.memory_mb * 1024 };
  });

  // The usage audit log: Nova fills it from a periodic task that is off by default
  // ([DEFAULT] instance_usage_audit = False); here too, so every host is "not run".
  const audit = async (before: Date, key: string) => {
    const begin = new Date(Date.UTC(before.getUTCFullYear(), before.getUTCMonth() - 1, 1));
    const end = new Date(Date.UTC(before.getUTCFullYear(), before.getUTCMonth(), 1));
    const hosts = (await ctx.db.selectFrom('services').select('host').where('binary', '=', 'nova-compute').execute()).map((r) => r.host as string);
    return {
      [key]: {
        hosts_not_run: hosts, log: {}, num_hosts: hosts.length, num_hosts_done: 0, num_hosts_not_run: hosts.length, num_hosts_running: 0,
        overall_status: `0 of ${hosts.length} hosts done. 0 errors.`, period_beginning: isotime(begin)!.replace('Z', '').replace('T', ' '),
        period_ending: isotime(end)!.replace('Z', '').replace('T', ' '), total_errors: 0, total_instances: 0,
      },
    };
  };
  app.get('/os-instance_usage_audit_log', async (req) => {
    const rc = requestContext(ctx, req);
    authorize(ctx, rc, 'os_compute_api:os-instance-usage-audit-log:list', {});
    return audit(new Date(), 'instance_usage_audit_logs');
  });
  app.get<{ Params: { before: string } }>('/os-instance_usage_audit_log/:before', async (req) => {
    const rc = requestContext(ctx, req);
    authorize(ctx, rc, 'os_compute_api:os-instance-usage-audit-log:show', {});
    const t = Date.parse(decodeURIComponent(req.params.before).replace(' ', 'T'));
    if (!/^\d{4}-\d{2}-\d{2}/.test(req.params.before) || Number.isNaN(t)) throw new ApiError('BadRequest', `Invalid timestamp for date ${req.params.before}`);
    return audit(new Date(t), 'instance_usage_audit_log');
  });
}
