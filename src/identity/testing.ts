// Test support: a real identity service on a free loopback port with a temporary data directory
// (SQLite by default, or any database URL), bootstrapped with an admin. Used by the HTTP tests.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../common/config.js';
import { createLogger } from '../common/log.js';
import { InMemoryBus } from '../common/bus/index.js';
import { openDatabase, type Database } from '../common/db/index.js';
import { createIdentityService, type IdentityService } from './service.js';
import { bootstrap } from './bootstrap.js';
import { testIdentity } from '../common/testing/identity.js';

export interface TestCloud {
  url: string;          // http://127.0.0.1:PORT
  port: number;
  cfg: Config;
  identity: IdentityService;
  database: Database;
  dataDir: string;
  adminPassword: string;
  /** A project-scoped admin token. */
  adminToken(): Promise<string>;
  /** fetch against the cloud with JSON in and out. */
  request(method: string, path: string, opts?: { token?: string; body?: unknown; headers?: Record<string, string>; raw?: string }): Promise<{ status: number; headers: Headers; body: any; text: string }>;
  close(): Promise<void>;
}

export async function startTestCloud(opts: { dbUrl?: string; identity?: Record<string, unknown> } = {}): Promise<TestCloud> {
  const dataDir = mkdtempSync(join(tmpdir(), 'monostack-test-'));
  const cfg = loadConfig({
    env: {},
    overrides: {
      DEFAULT: { data_dir: dataDir, log_level: 'warn' },
      database: { url: opts.dbUrl ?? 'sqlite:' },
      identity: { password_hash_rounds: 4, admin_port: 0, port: 0, ...(opts.identity ?? {}) },
    },
  });
  const log = createLogger('warn', join(dataDir, 'monostack.log'));
  const database = await openDatabase(cfg.database.url, dataDir);
  const identity = await createIdentityService(cfg, log, new InMemoryBus(), database);
  await identity.listen('127.0.0.1', 0);
  const addr = identity.app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  cfg.identity.port = port;
  const url = `http://127.0.0.1:${port}`;
  const adminPassword = 'secret-admin';
  try {
    await bootstrap(identity.ctx, {
      adminUser: 'admin', adminPassword, adminProject: 'admin', adminRole: 'admin', region: 'RegionOne',
      services: [{ type: 'identity', name: 'keystone', description: 'identity', urls: { public: `${url}/v3/`, internal: `${url}/v3/`, admin: `${url}/v3/` } }],
    });
  } catch (e) {
    // Do not leave a listening server behind: it would keep the test process alive.
    await identity.close();
    await database.close();
    rmSync(dataDir, { recursive: true, force: true });
    throw e;
  }

  const request: TestCloud['request'] = async (method, path, o = {}) => {
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    if (o.token) headers['X-Auth-Token'] = o.token;
    let body: string | undefined = o.raw;
    if (o.body !== undefined) { body = JSON.stringify(o.body); headers['Content-Type'] ??= 'application/json'; }
    const res = await fetch(url + path, { method, headers, body });
    const text = await res.text();
    let parsed: unknown;
    try { parsed = text ? JSON.parse(text) : undefined; } catch { parsed = undefined; }
    return { status: res.status, headers: res.headers, body: parsed, text };
  };

  return {
    url, port, cfg, identity, database, dataDir, adminPassword, request,
    adminToken: testIdentity(url, adminPassword).adminToken,
    async close() {
      await identity.close();
      await database.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
