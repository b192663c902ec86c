// Test support: a network service on a free loopback port, on any database URL, against a running
// identity service (identity/testing.ts startTestCloud()), not registered in the catalog (tests
// call it directly). The store tests use it to run the same API on SQLite, PostgreSQL and MariaDB.
// No host agent runs unless the caller asks ([network] run_agent): the API is under test.

import type { Config } from '../common/config.js';
import type { Database } from '../common/db/index.js';
import { http, type Reply, type CallOptions } from '../common/testing/http.js';
import { startTestService } from '../common/testing/service.js';
import { testIdentity } from '../common/testing/identity.js';
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
  const { service, cfg, database, url, close } = await startTestService(
    { section: 'network', identityUrl: o.identityUrl, adminPassword: o.adminPassword, options: { run_agent: false, ...(o.network ?? {}) }, dbUrl: o.dbUrl },
    (d) => createNetworkService(d));
  const { adminToken } = testIdentity(o.identityUrl, o.adminPassword);
  return {
    url, service, cfg, database, adminToken,
    request: (m, p, opts) => http(url, m, p, opts),
    admin: async (m, p, opts) => http(url, m, p, { ...(opts ?? {}), token: await adminToken() }),
    close,
  };
}
