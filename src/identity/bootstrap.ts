// `monostack bootstrap`, as `keystone-manage bootstrap`: the default domain, the admin project,
// user and roles (admin implies member implies reader), the admin's project and system role, the
// region and the identity service's endpoints. Idempotent: running it again changes nothing but
// what is missing (and the admin password, when one is given and differs: the recovery path).

import type { IdentityContext } from './context.js';
import { DEFAULT_DOMAIN_ID, NULL_DOMAIN_ID, ROOT_DOMAIN_ID, newId } from './context.js';
import { currentPassword, setPassword, type UserRow } from './users.js';
import { verifyPassword } from './passwords.js';

export interface BootstrapOptions {
  adminUser: string;
  adminPassword: string;
  adminProject: string;
  adminRole: string;
  region: string;
  /** Catalog entries to register: one per enabled service. */
  services: Array<{ type: string; name: string; description: string; urls: { public: string; internal: string; admin: string } }>;
  /** Users for services (the seed's glance, nova, ...), with the admin role on the `service` project. */
  serviceUsers?: Array<{ name: string; password: string }>;
}

async function ensureRole(ctx: IdentityContext, name: string): Promise<string> {
  const r = await ctx.db.selectFrom('role').select('id').where('name', '=', name).where('domain_id', '=', NULL_DOMAIN_ID).executeTakeFirst();
  if (r) return r.id;
  const id = newId();
  await ctx.db.insertInto('role').values({ id, name, domain_id: NULL_DOMAIN_ID, description: null, extra: '{}', options: '{}' }).execute();
  return id;
}

async function ensureImplied(ctx: IdentityContext, prior: string, implied: string): Promise<void> {
  const r = await ctx.db.selectFrom('implied_role').selectAll().where('prior_role_id', '=', prior).where('implied_role_id', '=', implied).executeTakeFirst();
  if (!r) await ctx.db.insertInto('implied_role').values({ prior_role_id: prior, implied_role_id: implied }).execute();
}

async function ensureProject(ctx: IdentityContext, name: string, description: string): Promise<string> {
  const p = await ctx.db.selectFrom('project').select('id').where('name', '=', name).where('domain_id', '=', DEFAULT_DOMAIN_ID).executeTakeFirst();
  if (p) return p.id;
  const id = newId();
  await ctx.db.insertInto('project').values({ id, name, domain_id: DEFAULT_DOMAIN_ID, parent_id: DEFAULT_DOMAIN_ID, is_domain: 0, enabled: 1, description, extra: '{}', options: '{}' }).execute();
  return id;
}

async function ensureUser(ctx: IdentityContext, name: string, password: string): Promise<string> {
  const u = await ctx.db.selectFrom('identity_user').selectAll().where('name', '=', name).where('domain_id', '=', DEFAULT_DOMAIN_ID).executeTakeFirst() as UserRow | undefined;
  if (u) {
    const pw = await currentPassword(ctx, u.id);
    if (password && (!pw || !(await verifyPassword(password, pw.password_hash)))) await setPassword(ctx, u, password, false);
    if (!u.enabled) await ctx.db.updateTable('identity_user').set({ enabled: 1 }).where('id', '=', u.id).execute();
    return u.id;
  }
  const row: UserRow = {
    id: newId(), domain_id: DEFAULT_DOMAIN_ID, name, enabled: 1, default_project_id: null, extra: '{}', options: '{}',
    created_at: new Date().toISOString(), last_active_at: null, failed_auth_count: 0, failed_auth_at: null,
  };
  await ctx.db.insertInto('identity_user').values(row).execute();
  await setPassword(ctx, row, password, false);
  return row.id;
}

async function ensureAssignment(ctx: IdentityContext, type: string, actor: string, target: string, role: string): Promise<void> {
  const a = await ctx.db.selectFrom('assignment').selectAll().where('type', '=', type).where('actor_id', '=', actor)
    .where('target_id', '=', target).where('role_id', '=', role).where('inherited', '=', 0).executeTakeFirst();
  if (!a) await ctx.db.insertInto('assignment').values({ type, actor_id: actor, target_id: target, role_id: role, inherited: 0 }).execute();
}

export async function bootstrap(ctx: IdentityContext, o: BootstrapOptions): Promise<void> {
  const d = await ctx.db.selectFrom('project').select('id').where('id', '=', DEFAULT_DOMAIN_ID).executeTakeFirst();
  if (!d) {
    await ctx.db.insertInto('project').values({
      id: DEFAULT_DOMAIN_ID, name: 'Default', domain_id: ROOT_DOMAIN_ID, parent_id: null, is_domain: 1, enabled: 1,
      description: 'The default domain', extra: '{}', options: '{}',
    }).execute();
  }
  const admin = await ensureRole(ctx, o.adminRole);
  const memberRole = await ensureRole(ctx, 'member');
  const reader = await ensureRole(ctx, 'reader');
  if (admin !== memberRole) await ensureImplied(ctx, admin, memberRole);
  await ensureImplied(ctx, memberRole, reader);
  const project = await ensureProject(ctx, o.adminProject, 'Bootstrap project for initializing the cloud.');
  const user = await ensureUser(ctx, o.adminUser, o.adminPassword);
  await ensureAssignment(ctx, 'UserProject', user, project, admin);
  await ensureAssignment(ctx, 'UserSystem', user, 'system', admin);

  if (o.serviceUsers?.length) {
    const serviceProject = await ensureProject(ctx, 'service', 'Service project');
    for (const su of o.serviceUsers) {
      const uid = await ensureUser(ctx, su.name, su.password);
      await ensureAssignment(ctx, 'UserProject', uid, serviceProject, admin);
      const svcRole = await ensureRole(ctx, 'service');
      await ensureAssignment(ctx, 'UserProject', uid, serviceProject, svcRole);
    }
  }

  const region = await ctx.db.selectFrom('region').select('id').where('id', '=', o.region).executeTakeFirst();
  if (!region) await ctx.db.insertInto('region').values({ id: o.region, description: '', parent_region_id: null, extra: '{}' }).execute();

  for (const s of o.services) {
    const existing = (await ctx.db.selectFrom('service').selectAll().where('type', '=', s.type).execute())
      .find((r) => JSON.parse(String(r.extra)).name === s.name);
    const serviceId = existing?.id ?? newId();
    if (!existing) {
      await ctx.db.insertInto('service').values({ id: serviceId, type: s.type, enabled: 1, extra: JSON.stringify({ name: s.name, description: s.description }) }).execute();
    }
    for (const iface of ['public', 'internal', 'admin'] as const) {
      const ep = await ctx.db.selectFrom('endpoint').selectAll().where('service_id', '=', serviceId).where('interface', '=', iface).where('region_id', '=', o.region).executeTakeFirst();
      if (!ep) {
        await ctx.db.insertInto('endpoint').values({ id: newId(), interface: iface, service_id: serviceId, url: s.urls[iface], region_id: o.region, enabled: 1, extra: '{}' }).execute();
      } else if (ep.url !== s.urls[iface]) {
        // The host or port changed since the last start: keep the catalog true.
        await ctx.db.updateTable('endpoint').set({ url: s.urls[iface] }).where('id', '=', ep.id).execute();
      }
    }
  }
  ctx.changed();
}
