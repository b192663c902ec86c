// How a server looks at a given microversion (nova/api/openstack/compute/views/servers.py): the
// same rows render differently from 2.3, 2.9, 2.16, 2.19, 2.26, 2.47, 2.63, 2.73 and 2.90 on, and
// admin-only attributes appear only when policy allows them.

import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { ComputeContext, RequestContext } from '../context.js';
import { allowed, isotime, parseJson } from '../context.js';
import { statusOf } from '../states.js';
import { flavorsOf, type FaultRow, type InstanceRow } from '../store/instances.js';

/** http://host:port of the request, for links. */
export function hostUrl(req: FastifyRequest): string {
  return `http://${String(req.headers['x-forwarded-host'] ?? req.headers.host ?? '127.0.0.1')}`;
}

export function links(req: FastifyRequest, collection: string, id: string) {
  const h = hostUrl(req);
  return [
    { rel: 'self', href: `${h}/v2.1/${collection}/${id}` },
    { rel: 'bookmark', href: `${h}/${collection}/${id}` },
  ];
}

/** Nova's hostId: sha224 of project id + host, so projects can tell co-location without seeing hosts. */
export function hostId(host: string | null, projectId: string): string {
  if (!host) return '';
  return createHash('sha224').update(projectId + host).digest('hex');
}

/** Python's str(naive datetime) as Nova's OS-SRV-USG timestamps show it. */
export function usageTime(s: string | null): string | null {
  if (!s) return null;
  const d = new Date(s);
  return d.toISOString().replace('Z', '').replace(/\.(\d{3})$/, '.$1000');
}

export interface ServerExtras {
  metadata: Record<string, string>;
  tags: string[];
  fault?: FaultRow;
  /** The host's service state for host_status (2.16): UP, DOWN, MAINTENANCE, UNKNOWN or ''. */
  hostStatus?: string;
  /** The groups of the server's ports (Nova's `security_groups`), when asked for and not empty. */
  securityGroups?: { name: string }[];
}

/** Addresses as Nova shows them: {network name: [{version, addr, OS-EXT-IPS:type, OS-EXT-IPS-MAC:mac_addr}]}, fixed then floating. */
export function addressesOf(inst: InstanceRow): Record<string, unknown[]> {
  if (inst.vm_state === 'building') return {};
  type Ip = { address: string; version: number; floating_ips?: { address: string; version: number }[] };
  const vifs = parseJson<{ address?: string; network?: { label?: string; subnets?: { ips?: Ip[] }[] } }[]>(inst.network_info, []);
  const out: Record<string, unknown[]> = {};
  for (const v of vifs) {
    const list = (out[v.network?.label ?? ''] ??= []);
    const ips = (v.network?.subnets ?? []).flatMap((s) => s.ips ?? []);
    for (const ip of ips) list.push({ version: ip.version, addr: ip.address, 'OS-EXT-IPS:type': 'fixed', 'OS-EXT-IPS-MAC:mac_addr': v.address });
    for (const ip of ips) for (const f of ip.floating_ips ?? []) list.push({ version: f.version, addr: f.address, 'OS-EXT-IPS:type': 'floating', 'OS-EXT-IPS-MAC:mac_addr': v.address });
  }
  return out;
}

export function serverView(ctx: ComputeContext, req: FastifyRequest, rc: RequestContext, inst: InstanceRow, extra: ServerExtras): Record<string, unknown> {
  const mv = req.computeVersion;
  const target = { project_id: inst.project_id };
  const status = statusOf(inst.vm_state, inst.task_state);
  const flavors = flavorsOf(inst);
  const f = flavors.cur;
  const h = hostUrl(req);
  let flavor: Record<string, unknown>;
  if (mv.atLeast('2.47')) {
    flavor = { vcpus: f.vcpus, ram: f.memory_mb, disk: f.root_gb, ephemeral: f.ephemeral_gb, swap: f.swap, original_name: f.name };
    if (allowed(ctx, rc, 'os_compute_api:servers:show:flavor-extra-specs', target)) flavor.extra_specs = f.extra_specs ?? {};
  } else {
    flavor = { id: f.flavorid, links: [{ rel: 'bookmark', href: `${h}/flavors/${f.flavorid}` }] };
  }
  const s: Record<string, unknown> = {
    id: inst.uuid,
    name: inst.display_name,
    status,
    tenant_id: inst.project_id,
    user_id: inst.user_id,
    metadata: extra.metadata,
    hostId: hostId(inst.host, inst.project_id),
    image: inst.image_ref ? { id: inst.image_ref, links: [{ rel: 'bookmark', href: `${h}/images/${inst.image_ref}` }] } : '',
    flavor,
    created: isotime(inst.created_at),
    updated: isotime(inst.updated_at ?? inst.created_at),
    addresses: addressesOf(inst),
    accessIPv4: inst.access_ip_v4 ?? '',
    accessIPv6: inst.access_ip_v6 ?? '',
    links: links(req, 'servers', inst.uuid),
    'OS-DCF:diskConfig': inst.auto_disk_config ? 'AUTO' : 'MANUAL',
  };
  if ((status === 'ERROR' || status === 'DELETED') && extra.fault) {
    const fault: Record<string, unknown> = { code: extra.fault.code, created: isotime(extra.fault.created_at), message: extra.fault.message };
    if (extra.fault.code !== 500 || rc.isAdmin) fault.details = extra.fault.details ?? '';
    s.fault = fault;
  }
  if (['ACTIVE', 'BUILD', 'REBUILD', 'RESIZE', 'VERIFY_RESIZE', 'MIGRATING'].includes(status)) s.progress = inst.progress ?? 0;
  s['OS-EXT-AZ:availability_zone'] = inst.availability_zone ?? '';
  s.config_drive = inst.config_drive ?? '';
  s.key_name = inst.key_name;
  s['OS-SRV-USG:launched_at'] = usageTime(inst.launched_at);
  s['OS-SRV-USG:terminated_at'] = usageTime(inst.terminated_at);
  // Nova: only when the server's ports have groups; no key at all otherwise (networks none, no ports yet, all removed).
  if (extra.securityGroups?.length) s.security_groups = extra.securityGroups;
  const showExtended = allowed(ctx, rc, 'os_compute_api:os-extended-server-attributes', target);
  if (showExtended) {
    s['OS-EXT-SRV-ATTR:host'] = inst.host;
    s['OS-EXT-SRV-ATTR:instance_name'] = instanceName(inst.id);
    s['OS-EXT-SRV-ATTR:hypervisor_hostname'] = inst.node;
    if (mv.atLeast('2.3')) {
      s['OS-EXT-SRV-ATTR:reservation_id'] = inst.reservation_id;
      s['OS-EXT-SRV-ATTR:launch_index'] = inst.launch_index;
      s['OS-EXT-SRV-ATTR:hostname'] = inst.hostname;
      s['OS-EXT-SRV-ATTR:kernel_id'] = inst.kernel_id ?? '';
      s['OS-EXT-SRV-ATTR:ramdisk_id'] = inst.ramdisk_id ?? '';
      s['OS-EXT-SRV-ATTR:root_device_name'] = inst.root_device_name;
      s['OS-EXT-SRV-ATTR:user_data'] = inst.user_data;
    }
  }
  s['OS-EXT-STS:task_state'] = inst.task_state;
  s['OS-EXT-STS:vm_state'] = inst.vm_state;
  s['OS-EXT-STS:power_state'] = inst.power_state;
  s['os-extended-volumes:volumes_attached'] = [];
  if (mv.atLeast('2.16') && extra.hostStatus !== undefined && allowed(ctx, rc, 'os_compute_api:servers:show:host_status', target)) {
    s.host_status = extra.hostStatus;
  }
  if (mv.atLeast('2.9')) s.locked = !!inst.locked;
  if (mv.atLeast('2.73')) s.locked_reason = inst.locked_reason;
  if (mv.atLeast('2.19')) s.description = inst.display_description;
  if (mv.atLeast('2.26')) s.tags = extra.tags;
  if (mv.atLeast('2.63')) s.trusted_image_certificates = null;
  if (mv.atLeast('2.90') && !showExtended) s['OS-EXT-SRV-ATTR:hostname'] = inst.hostname;
  return s;
}

/** The short view of GET /servers. */
export function serverSummary(req: FastifyRequest, inst: InstanceRow): Record<string, unknown> {
  return { id: inst.uuid, name: inst.display_name, links: links(req, 'servers', inst.uuid) };
}

/** libvirt's domain name, which Nova shows as OS-EXT-SRV-ATTR:instance_name. */
export function instanceName(id: number): string {
  return `instance-${id.toString(16).padStart(8, '0')}`;
}

/** An IPv6 address in its canonical (RFC 5952) form, as Nova stores accessIPv6 (netaddr). */
export function canonicalIpv6(a: string): string {
  try {
    return new URL(`http://[${a}]/`).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return a;
  }
}
