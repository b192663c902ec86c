// Test support: a network service on a free loopback port, on any database URL, against a running
// identity service (identity/testing.ts startTestCloud()), not registered in the catalog (tests
// call it directly). The store tests use it to run the same API on SQLite, PostgreSQL and MariaDB.
// No host agent runs unless the caller asks ([network] run_agent): the API is under test.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../common/config.js';
import { createLogger } from '../common/log.js';
import { InMemoryBus } from '../common/bus/index.js';
import { openDatabase, type Database } from '../common/db/index.js';
import { TokenValidator } from '../common/auth/middleware.js';
import { http, type Reply, type CallOptions } from '../common/testing/http.js';
import { createNetworkService, type NetworkService } from './service.js';

export interface NetworkTestService {
  url: string;
  service: NetworkService;
  cfg: Config;
  database: Database;
  adminToken(): Promise<string>;
  request(method: string, path: string, opts?: CallOptions): Promise<Reply>;
  admin(method: string, path: string, opts?: Omit<CallOptions, 'token'>): Promise<Reply>;
  close(): Promise<void>;
}

export async function startNetworkService(o: { identityUrl: string; adminPassword: string; dbUrl?: string; network?: Record<string, unknown> }): Promise<NetworkTestService> {
  const dataDir = mkdtempSync(join(tmpdir(), 'monostack-network-test-'));
  const cfg = loadConfig({ env: {}, overrides: {
    DEFAULT: { data_dir: dataDir, log_level: 'warn' }, database: { url: o.dbUrl ?? 'sqlite:' }, network: { port: 0, run_agent: false, ...(o.network ?? {}) },
  } });
  const log = createLogger('warn', join(dataDir, 'monostack.log'));
  const bus = new InMemoryBus();
  const database = await openDatabase(cfg.database.url, dataDir);
  const authUrl = `${o.identityUrl}/v3`;
  const validator = new TokenValidator({ authUrl, service: { username: 'admin', password: o.adminPassword, projectName: 'admin' }, bus });
  let service: NetworkService;
  try {
    service = await createNetworkService({ cfg, log, bus, database, validator, authUrl });
  } catch (e) {
    validator.close();
    await database.close();
    rmSync(dataDir, { recursive: true, force: true });
    throw e;
  }
  const port = await service.listen('127.0.0.1', 0);
  const url = `http://127.0.0.1:${port}`;
  let admin: string | undefined;
  const adminToken = async () => {
    if (admin) return admin;
    const r = await http(o.identityUrl, 'POST', '/v3/auth/tokens', { body: { auth: {
      identity: { methods: ['password'], password: { user: { name: 'admin', domain: { id: 'default' }, password: o.adminPassword } } },
      scope: { project: { name: 'admin', domain: { id: 'default' } } },
    } } });
    if (r.status !== 201) throw new Error(`admin token: ${r.status} ${r.text}`);
    admin = r.headers.get('x-subject-token')!;
    return admin;
  };
  return {
    url, service, cfg, database, adminToken,
    request: (m, p, opts) => http(url, m, p, opts),
    admin: async (m, p, opts) => http(url, m, p, { ...(opts ?? {}), token: await adminToken() }),
    async close() {
      await service.close();
      validator.close();
      await database.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
