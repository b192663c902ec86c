// Test support: a real image service on a free loopback port with a temporary data directory,
// authenticating callers against a running identity service (the tests start one with
// identity/testing.ts) through its REST API only, as in production. It registers itself in the
// catalog and makes projects and users for multi-project tests.

import type { Config } from '../common/config.js';
import type { Database } from '../common/db/index.js';
import { startTestService } from '../common/testing/service.js';
import { testIdentity } from '../common/testing/identity.js';
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
  const { service, cfg, database, dataDir, url: imageUrl, close } = await startTestService(
    { section: 'image', identityUrl: o.identityUrl, adminPassword: o.adminPassword, options: o.image, dbUrl: o.dbUrl, dataDir: o.dataDir },
    (d) => createImageService(d));
  const identity = (method: string, path: string, opts?: RequestOptions) => call(o.identityUrl, method, path, opts);
  const { adminToken, project, register } = testIdentity(o.identityUrl, o.adminPassword);
  // The catalog entry, so that glance-download can find this service as other services would.
  await register('image', 'glance', imageUrl);
  return {
    identityUrl: o.identityUrl, imageUrl, service, cfg, dataDir, database, adminToken, project, identity,
    request: (method, path, opts) => call(imageUrl, method, path, opts),
    close,
  };
}
