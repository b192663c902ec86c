// Test support: what tests do with a running identity service as its admin, through its REST API
// only — the admin's project-scoped token (fetched once), a project with a user holding a role on it
// and that user's token, and a service's catalog entry (so clients using ServiceSession find it).

import { http } from './http.js';

export interface TestProject { projectId: string; userId: string; userName: string; password: string; token: string }

export interface TestIdentity {
  /** A project-scoped token of the admin (fetched once). */
  adminToken(): Promise<string>;
  /** A new project with a user `user-NAME` (password `pw-NAME`) holding `role` on it (member by default), and its token. */
  project(name: string, role?: string): Promise<TestProject>;
  /** A catalog entry for a service type at `url` (public, internal and admin), unless the type is there already. */
  register(type: string, name: string, url: string): Promise<void>;
}

export function testIdentity(identityUrl: string, adminPassword: string): TestIdentity {
  let admin: string | undefined;
  const adminToken = async (): Promise<string> => {
    if (admin) return admin;
    const r = await http(identityUrl, 'POST', '/v3/auth/tokens', { body: { auth: {
      identity: { methods: ['password'], password: { user: { name: 'admin', domain: { id: 'default' }, password: adminPassword } } },
      scope: { project: { name: 'admin', domain: { id: 'default' } } },
    } } });
    if (r.status !== 201) throw new Error(`admin token: ${r.status} ${r.text}`);
    admin = r.headers.get('x-subject-token')!;
    return admin;
  };

  const roleIds = new Map<string, string>();
  const project = async (name: string, role = 'member'): Promise<TestProject> => {
    const t = await adminToken();
    const p = await http(identityUrl, 'POST', '/v3/projects', { token: t, body: { project: { name, domain_id: 'default' } } });
    if (p.status !== 201) throw new Error(`project ${name}: ${p.status} ${p.text}`);
    const password = `pw-${name}`;
    const userName = `user-${name}`;
    const u = await http(identityUrl, 'POST', '/v3/users', { token: t, body: { user: { name: userName, domain_id: 'default', password, default_project_id: p.body.project.id } } });
    if (u.status !== 201) throw new Error(`user ${name}: ${u.status} ${u.text}`);
    if (!roleIds.has(role)) {
      const r = await http(identityUrl, 'GET', `/v3/roles?name=${role}`, { token: t });
      roleIds.set(role, r.body.roles[0].id);
    }
    await http(identityUrl, 'PUT', `/v3/projects/${p.body.project.id}/users/${u.body.user.id}/roles/${roleIds.get(role)}`, { token: t });
    const a = await http(identityUrl, 'POST', '/v3/auth/tokens', { body: { auth: {
      identity: { methods: ['password'], password: { user: { id: u.body.user.id, password } } },
      scope: { project: { id: p.body.project.id } },
    } } });
    if (a.status !== 201) throw new Error(`token ${name}: ${a.status} ${a.text}`);
    return { projectId: p.body.project.id, userId: u.body.user.id, userName, password, token: a.headers.get('x-subject-token')! };
  };

  const register = async (type: string, name: string, url: string): Promise<void> => {
    const tok = await adminToken();
    const svc = await http(identityUrl, 'POST', '/v3/services', { token: tok, body: { service: { type, name, enabled: true } } });
    if (svc.status === 201) {
      for (const iface of ['public', 'internal', 'admin']) {
        await http(identityUrl, 'POST', '/v3/endpoints', { token: tok, body: { endpoint: { service_id: svc.body.service.id, interface: iface, url, region_id: 'RegionOne' } } });
      }
    }
  };

  return { adminToken, project, register };
}
