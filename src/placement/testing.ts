// Test support: a real placement service on a free loopback port against a running identity
// service (identity/testing.ts startTestCloud()), registered in the catalog as `placement` so that
// clients using ServiceSession find it as in production.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../common/config.js';
import { createLogger } from '../common/log.js';
import { InMemoryBus } from '../common/bus/index.js';
import { openDatabase, type Database } from '../common/db/index.js';
import { TokenValidator } from '../common/auth/middleware.js';
import { createPlacementService, type PlacementService } from './service.js';

export interface Response {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  text: string;
}

export interface RequestOptions {
  token?: string;
  body?: unknown;
  raw?: string;
  headers?: Record<string, string>;
  /** Microversion to send (`placement <v>`); none when omitted. */
  version?: string;
}

export interface PlacementTestService {
  identityUrl: string;
  placementUrl: string;
  service: PlacementService;
  cfg: Config;
  database: Database;
  adminToken(): Promise<string>;
  /** A new project with a user holding `role` on it, and its token. */
  project(name: string, role?: string): Promise<{ projectId: string; userId: string; token: string }>;
  request(method: string, path: string, opts?: RequestOptions): Promise<Response>;
  /** request() with the admin token. */
  admin(method: string, path: string, opts?: Omit<RequestOptions, 'token'>): Promise<Response>;
  close(): Promise<void>;
}

export async function call(base: string, method: string, path: string, o: RequestOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { Accept: 'application/json', ...(o.headers ?? {}) };
  if (o.token) headers['X-Auth-Token'] = o.token;
  if (o.version) headers['OpenStack-API-Version'] = `placement ${o.version}`;
  let body: string | undefined = o.raw;
  if (o.body !== undefined) { body = JSON.stringify(o.body); headers['Content-Type'] ??= 'application/json'; }
  const res = await fetch(base + path, { method, headers, body });
  const text = await res.text();
  let parsed: unknown;
  try { parsed = text ? JSON.parse(text) : undefined; } catch { parsed = undefined; }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

export interface StartOptions {
  /** http://127.0.0.1:PORT of a bootstrapped identity service. */
  identityUrl: string;
  adminPassword: string;
  placement?: Record<string, unknown>;
  dbUrl?: string;
  /** Register in the catalog (default true). */
  register?: boolean;
}

export async function startPlacementService(o: StartOptions): Promise<PlacementTestService> {
  const dataDir = mkdtempSync(join(tmpdir(), 'monostack-placement-test-'));
  const cfg = loadConfig({
    env: {},
    overrides: {
      DEFAULT: { data_dir: dataDir, log_level: 'warn' },
      database: { url: o.dbUrl ?? 'sqlite:' },
      placement: { port: 0, ...(o.placement ?? {}) },
    },
  });
  const log = createLogger('warn', join(dataDir, 'monostack.log'));
  const bus = new InMemoryBus();
  const database = await openDatabase(cfg.database.url, dataDir);
  const authUrl = `${o.identityUrl}/v3`;
  const validator = new TokenValidator({ authUrl, service: { username: 'admin', password: o.adminPassword, projectName: 'admin' }, bus });
  let service: PlacementService;
  try {
    service = await createPlacementService({ cfg, log, bus, database, validator, authUrl });
  } catch (e) {
    validator.close();
    await database.close();
    rmSync(dataDir, { recursive: true, force: true });
    throw e;
  }
  const port = await service.listen('127.0.0.1', 0);
  cfg.placement.port = port;
  const placementUrl = `http://127.0.0.1:${port}`;
  const identity = (method: string, path: string, opts?: RequestOptions) => call(o.identityUrl, method, path, opts);
  let admin: string | undefined;
  const adminToken = async () => {
    if (admin) return admin;
    const r = await identity('POST', '/v3/auth/tokens', { body: { auth: {
      identity: { methods: ['password'], password: { user: { name: 'admin', domain: { id: 'default' }, password: o.adminPassword } } },
      scope: { project: { name: 'admin', domain: { id: 'default' } } },
    } } });
    if (r.status !== 201) throw new Error(`admin token: ${r.status} ${r.text}`);
    admin = r.headers.get('x-subject-token')!;
    return admin;
  };
  if (o.register !== false) {
    const tok = await adminToken();
    const svc = await identity('POST', '/v3/services', { token: tok, body: { service: { type: 'placement', name: 'placement', enabled: true } } });
    if (svc.status === 201) {
      for (const iface of ['public', 'internal', 'admin']) {
        await identity('POST', '/v3/endpoints', { token: tok, body: { endpoint: { service_id: svc.body.service.id, interface: iface, url: placementUrl, region_id: 'RegionOne' } } });
      }
    }
  }
  const roleIds = new Map<string, string>();
  const project = async (name: string, role = 'member') => {
    const t = await adminToken();
    const p = await identity('POST', '/v3/projects', { token: t, body: { project: { name, domain_id: 'default' } } });
    if (p.status !== 201) throw new Error(`project ${name}: ${p.status} ${p.text}`);
    const password = `pw-${name}`;
    const u = await identity('POST', '/v3/users', { token: t, body: { user: { name: `user-${name}`, domain_id: 'default', password, default_project_id: p.body.project.id } } });
    if (u.status !== 201) throw new Error(`user ${name}: ${u.status} ${u.text}`);
    if (!roleIds.has(role)) roleIds.set(role, (await identity('GET', `/v3/roles?name=${role}`, { token: t })).body.roles[0].id);
    await identity('PUT', `/v3/projects/${p.body.project.id}/users/${u.body.user.id}/roles/${roleIds.get(role)}`, { token: t });
    const a = await identity('POST', '/v3/auth/tokens', { body: { auth: {
      identity: { methods: ['password'], password: { user: { id: u.body.user.id, password } } },
      scope: { project: { id: p.body.project.id } },
    } } });
    if (a.status !== 201) throw new Error(`token ${name}: ${a.status} ${a.text}`);
    return { projectId: p.body.project.id as string, userId: u.body.user.id as string, token: a.headers.get('x-subject-token')! };
  };
  return {
    identityUrl: o.identityUrl, placementUrl, service, cfg, database, adminToken, project,
    request: (method, path, opts) => call(placementUrl, method, path, opts),
    admin: async (method, path, opts) => call(placementUrl, method, path, { ...(opts ?? {}), token: await adminToken() }),
    async close() {
      await service.close();
      validator.close();
      await database.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
