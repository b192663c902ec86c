// Test support: a real image service on a free loopback port with a temporary data directory,
// authenticating callers against a running identity service (the tests start one with
// identity/testing.ts) through its REST API only, as in production. It registers itself in the
// catalog and makes projects and users for multi-project tests.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../common/config.js';
import { createLogger } from '../common/log.js';
import { InMemoryBus } from '../common/bus/index.js';
import { openDatabase, type Database } from '../common/db/index.js';
import { TokenValidator } from '../common/auth/middleware.js';
import { createImageService, type ImageService } from './service.js';

export interface Response {
  status: number;
  headers: Headers;
  /** Parsed JSON, when the body was JSON. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  text: string;
  bytes: Buffer;
}

export interface RequestOptions {
  token?: string;
  body?: unknown;
  raw?: string | Buffer | Uint8Array;
  headers?: Record<string, string>;
}

export interface Project { projectId: string; userId: string; token: string }

export interface ImageTestService {
  identityUrl: string;
  imageUrl: string;
  service: ImageService;
  cfg: Config;
  dataDir: string;
  database: Database;
  adminToken(): Promise<string>;
  /** A new project with a user holding `role` on it (member by default), and its token. */
  project(name: string, role?: string): Promise<Project>;
  identity(method: string, path: string, opts?: RequestOptions): Promise<Response>;
  request(method: string, path: string, opts?: RequestOptions): Promise<Response>;
  close(): Promise<void>;
}

async function call(base: string, method: string, path: string, o: RequestOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { ...(o.headers ?? {}) };
  if (o.token) headers['X-Auth-Token'] = o.token;
  let body: string | Uint8Array | undefined;
  if (o.body !== undefined) { body = JSON.stringify(o.body); headers['Content-Type'] ??= 'application/json'; }
  else if (o.raw !== undefined) body = typeof o.raw === 'string' ? o.raw : new Uint8Array(o.raw);
  const res = await fetch(base + path, { method, headers, body });
  const bytes = Buffer.from(await res.arrayBuffer());
  const text = bytes.toString('utf8');
  let parsed: unknown;
  if ((res.headers.get('content-type') ?? '').includes('json')) {
    try { parsed = text ? JSON.parse(text) : undefined; } catch { parsed = undefined; }
  }
  return { status: res.status, headers: res.headers, body: parsed, text, bytes };
}

export interface StartOptions {
  /** http://127.0.0.1:PORT of a bootstrapped identity service. */
  identityUrl: string;
  adminPassword: string;
  /** [image] options (port is always a free one). */
  image?: Record<string, unknown>;
  dbUrl?: string;
  /** Reuse a data directory (kept on close); default: a new temporary one, removed on close. */
  dataDir?: string;
}

export async function startImageService(o: StartOptions): Promise<ImageTestService> {
  const ownDir = !o.dataDir;
  const dataDir = o.dataDir ?? mkdtempSync(join(tmpdir(), 'monostack-image-test-'));
  const cfg = loadConfig({
    env: {},
    overrides: {
      DEFAULT: { data_dir: dataDir, log_level: 'warn' },
      database: { url: o.dbUrl ?? 'sqlite:' },
      image: { port: 0, ...(o.image ?? {}) },
    },
  });
  const log = createLogger('warn', join(dataDir, 'monostack.log'));
  const bus = new InMemoryBus();
  const database = await openDatabase(cfg.database.url, dataDir);
  const authUrl = `${o.identityUrl}/v3`;
  const validator = new TokenValidator({ authUrl, service: { username: 'admin', password: o.adminPassword, projectName: 'admin' }, bus });
  let service: ImageService;
  try {
    service = await createImageService({ cfg, log, bus, database, validator, authUrl });
  } catch (e) {
    validator.close();
    await database.close();
    if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    throw e;
  }
  const port = await service.listen('127.0.0.1', 0);
  cfg.image.port = port;
  const imageUrl = `http://127.0.0.1:${port}`;

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

  // The catalog entry, so that glance-download can find this service as other services would.
  const tok = await adminToken();
  const svc = await identity('POST', '/v3/services', { token: tok, body: { service: { type: 'image', name: 'glance', enabled: true } } });
  if (svc.status === 201) {
    for (const iface of ['public', 'internal', 'admin']) {
      await identity('POST', '/v3/endpoints', { token: tok, body: { endpoint: { service_id: svc.body.service.id, interface: iface, url: imageUrl, region_id: 'RegionOne' } } });
    }
  }

  const roleIds = new Map<string, string>();
  const project = async (name: string, role = 'member'): Promise<Project> => {
    const t = await adminToken();
    const p = await identity('POST', '/v3/projects', { token: t, body: { project: { name, domain_id: 'default' } } });
    if (p.status !== 201) throw new Error(`project ${name}: ${p.status} ${p.text}`);
    const password = `pw-${name}`;
    const u = await identity('POST', '/v3/users', { token: t, body: { user: { name: `user-${name}`, domain_id: 'default', password, default_project_id: p.body.project.id } } });
    if (u.status !== 201) throw new Error(`user ${name}: ${u.status} ${u.text}`);
    if (!roleIds.has(role)) {
      const r = await identity('GET', `/v3/roles?name=${role}`, { token: t });
      roleIds.set(role, r.body.roles[0].id);
    }
    await identity('PUT', `/v3/projects/${p.body.project.id}/users/${u.body.user.id}/roles/${roleIds.get(role)}`, { token: t });
    const a = await identity('POST', '/v3/auth/tokens', { body: { auth: {
      identity: { methods: ['password'], password: { user: { id: u.body.user.id, password } } },
      scope: { project: { id: p.body.project.id } },
    } } });
    if (a.status !== 201) throw new Error(`token ${name}: ${a.status} ${a.text}`);
    return { projectId: p.body.project.id, userId: u.body.user.id, token: a.headers.get('x-subject-token')! };
  };

  return {
    identityUrl: o.identityUrl, imageUrl, service, cfg, dataDir, database, adminToken, project, identity,
    request: (method, path, opts) => call(imageUrl, method, path, opts),
    async close() {
      await service.close();
      validator.close();
      await database.close();
      if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
