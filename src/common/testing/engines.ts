// The database engine matrix of the store tests, as data: SQLite (a temporary file), PostgreSQL and
// MariaDB/MySQL. CI starts the two servers; when one is unreachable the test fails and says so
// (MONOSTACK_TEST_SKIP_ENGINES="postgres", "mysql", "postgres,mysql" or "1" leaves them out).
// Server URLs: MONOSTACK_TEST_POSTGRES_URL / MONOSTACK_TEST_MYSQL_URL (without a database name).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createConnection } from 'node:net';
import pg from 'pg';
import { createConnection as mysqlConnection } from 'mysql2/promise';

export interface EngineCase {
  name: 'sqlite' | 'postgres' | 'mysql';
  /** The URL of a fresh database for this run. */
  url(): string;
  /** Fails with a clear message when the server is not there. */
  reachable(): Promise<void>;
  drop(url: string): Promise<void>;
}

const pgBase = () => (process.env.MONOSTACK_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432').replace(/\/+$/, '');
const myBase = () => (process.env.MONOSTACK_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306').replace(/\/+$/, '');
const dbName = (url: string) => decodeURIComponent(new URL(url).pathname.slice(1));

function tcpReachable(url: string, dflt: number, what: string): Promise<void> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = createConnection({ host: u.hostname, port: Number(u.port || dflt) });
    s.setTimeout(3000);
    const fail = (why: string) => {
      s.destroy();
      reject(new Error(`${what} is not reachable at ${u.hostname}:${u.port || dflt} (${why}). CI starts it; to run without it set MONOSTACK_TEST_SKIP_ENGINES=${what}.`));
    };
    s.once('connect', () => { s.end(); resolve(); });
    s.once('timeout', () => fail('timeout'));
    s.once('error', (e) => fail((e as Error).message));
  });
}

/** The three engines, each naming its databases `<prefix>_<pid>_<random>` (or a temp SQLite file). */
export function engineCases(prefix: string): EngineCase[] {
  const suffix = `${process.pid}_${randomBytes(4).toString('hex')}`;
  let sqliteDir: string | undefined;
  return [
    {
      name: 'sqlite',
      url() {
        sqliteDir ??= mkdtempSync(join(tmpdir(), `${prefix}-`));
        return `sqlite:${join(sqliteDir, `${prefix}.sqlite`)}`;
      },
      async reachable() {},
      async drop() { if (sqliteDir) rmSync(sqliteDir, { recursive: true, force: true }); },
    },
    {
      name: 'postgres',
      url: () => `${pgBase()}/${prefix}_${suffix}`,
      reachable: () => tcpReachable(pgBase(), 5432, 'postgres'),
      async drop(url) {
        const admin = new URL(url);
        admin.pathname = '/postgres';
        const c = new pg.Client({ connectionString: admin.toString() });
        await c.connect();
        try { await c.query(`DROP DATABASE IF EXISTS "${dbName(url)}" WITH (FORCE)`); } finally { await c.end(); }
      },
    },
    {
      name: 'mysql',
      url: () => `${myBase()}/${prefix}_${suffix}`,
      reachable: () => tcpReachable(myBase(), 3306, 'mysql'),
      async drop(url) {
        const u = new URL(url);
        const c = await mysqlConnection({ host: u.hostname, port: Number(u.port || 3306), user: decodeURIComponent(u.username), password: decodeURIComponent(u.password) });
        try { await c.query(`DROP DATABASE IF EXISTS \`${dbName(url)}\``); } finally { await c.end(); }
      },
    },
  ];
}

/** Whether MONOSTACK_TEST_SKIP_ENGINES leaves this engine out (SQLite always runs). */
export function engineSkipped(name: string): boolean {
  const v = process.env.MONOSTACK_TEST_SKIP_ENGINES;
  if (!v || name === 'sqlite') return false;
  const list = v.split(',').map((s) => s.trim().toLowerCase());
  return list.includes(name) || !list.some((s) => s === 'postgres' || s === 'mysql');
}
