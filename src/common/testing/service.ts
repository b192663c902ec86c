// Test support: a service (image, placement, network, ...) on a free loopback port as `monostack up`
// wires it — config, logger, in-memory bus, database, a token validator against a running identity
// service — with a temporary data directory. The caller's `create` builds the service from these.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../config.js';
import { createLogger, type Logger } from '../log.js';
import { InMemoryBus } from '../bus/index.js';
import { openDatabase, type Database } from '../db/index.js';
import { TokenValidator } from '../auth/middleware.js';

export interface TestServiceDeps { cfg: Config; log: Logger; bus: InMemoryBus; database: Database; validator: TokenValidator; authUrl: string }

export interface TestServiceOptions {
  /** The service's config section; the data directory is named after it. */
  section: string;
  /** http://127.0.0.1:PORT of a bootstrapped identity service. */
  identityUrl: string;
  adminPassword: string;
  /** The section's options (its port is always a free one). */
  options?: Record<string, unknown>;
  dbUrl?: string;
  /** Reuse a data directory (kept on close); default: a new temporary one, removed on close. */
  dataDir?: string;
}

export interface StartedTestService<S> {
  service: S;
  cfg: Config;
  database: Database;
  dataDir: string;
  /** http://127.0.0.1:PORT */
  url: string;
  /** Stops the service, the validator and the database; removes a temporary data directory. */
  close(): Promise<void>;
}

export async function startTestService<S extends { listen(host: string, port: number): Promise<number>; close(): Promise<void> }>(
  o: TestServiceOptions, create: (d: TestServiceDeps) => Promise<S>,
): Promise<StartedTestService<S>> {
  const ownDir = !o.dataDir;
  const dataDir = o.dataDir ?? mkdtempSync(join(tmpdir(), `monostack-${o.section}-test-`));
  const cfg = loadConfig({
    env: {},
    overrides: {
      DEFAULT: { data_dir: dataDir, log_level: 'warn' },
      database: { url: o.dbUrl ?? 'sqlite:' },
      [o.section]: { port: 0, ...(o.options ?? {}) },
    },
  });
  const log = createLogger('warn', join(dataDir, 'monostack.log'));
  const bus = new InMemoryBus();
  const database = await openDatabase(cfg.database.url, dataDir);
  const authUrl = `${o.identityUrl}/v3`;
  const validator = new TokenValidator({ authUrl, service: { username: 'admin', password: o.adminPassword, projectName: 'admin' }, bus });
  let service: S;
  try {
    service = await create({ cfg, log, bus, database, validator, authUrl });
  } catch (e) {
    validator.close();
    await database.close();
    if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    throw e;
  }
  const port = await service.listen('127.0.0.1', 0);
  const section = (cfg as unknown as Record<string, { port?: number }>)[o.section];
  if (section) section.port = port;
  return {
    service, cfg, database, dataDir, url: `http://127.0.0.1:${port}`,
    async close() {
      await service.close();
      validator.close();
      await database.close();
      if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
