// Test support: a real placement service on a free loopback port against a running identity
// service (identity/testing.ts startTestCloud()), registered in the catalog as `placement` so that
// clients using ServiceSession find it as in production.

import type { Config } from '../common/config.js';
import type { Database } from '../common/db/index.js';
import { startTestService } from '../common/testing/service.js';
import { testIdentity } from '../common/testing/identity.js';
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
  const { service, cfg, database, url: placementUrl, close } = await startTestService(
    { section: 'placement', identityUrl: o.identityUrl, adminPassword: o.adminPassword, options: o.placement, dbUrl: o.dbUrl },
    (d) => createPlacementService(d));
  const { adminToken, project, register } = testIdentity(o.identityUrl, o.adminPassword);
  if (o.register !== false) await register('placement', 'placement', placementUrl);
  return {
    identityUrl: o.identityUrl, placementUrl, service, cfg, database, adminToken, project,
    request: (method, path, opts) => call(placementUrl, method, path, opts),
    admin: async (method, path, opts) => call(placementUrl, method, path, { ...(opts ?? {}), token: await adminToken() }),
    close,
  };
}
