// One database handle for every service: Kysely over SQLite (embedded default), PostgreSQL or
// MariaDB/MySQL, chosen by URL. Each service owns its tables and runs its own migrations, tracked
// in its own migration table, so services can later live in separate databases.

import { Kysely, Migrator, SqliteDialect, PostgresDialect, MysqlDialect, type Migration, type Dialect, type CreateTableBuilder } from 'kysely';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { createPool } from 'mysql2';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { Worker } from 'node:worker_threads';

export type Engine = 'sqlite' | 'postgres' | 'mysql';

export interface Database {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  db: Kysely<any>;
  engine: Engine;
  /** The URL with its password hidden, for logs. */
  display: string;
  close(): Promise<void>;
}

export function engineOf(url: string): Engine {
  if (url.startsWith('sqlite:')) return 'sqlite';
  if (/^postgres(ql)?:\/\//.test(url)) return 'postgres';
  if (/^(mysql|mariadb)(\+pymysql)?:\/\//.test(url)) return 'mysql';
  throw new Error(`unsupported database URL "${url}": use sqlite:, postgres://... or mysql://...`);
}

function hidePassword(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}

/** Creates the named database when the server does not have it yet (first start). */
async function ensureServerDatabase(engine: Engine, url: string): Promise<void> {
  const u = new URL(url.replace(/^mariadb/, 'mysql').replace('+pymysql', ''));
  const name = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!name) throw new Error(`database URL names no database: ${hidePassword(url)}`);
  if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`database name must be [A-Za-z0-9_]: ${name}`);
  if (engine === 'postgres') {
    const admin = new URL(u.toString());
    admin.pathname = '/postgres';
    const client = new pg.Client({ connectionString: admin.toString() });
    await client.connect();
    try {
      const r = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (r.rowCount === 0) await client.query(`CREATE DATABASE "${name}"`);
    } catch (e) {
      if ((e as { code?: string }).code !== '42P04') throw e; // created concurrently
    } finally {
      await client.end();
    }
  } else {
    const pool = createPool({ host: u.hostname, port: Number(u.port || 3306), user: decodeURIComponent(u.username), password: decodeURIComponent(u.password) });
    try {
      await pool.promise().query(`CREATE DATABASE IF NOT EXISTS \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
    } finally {
      await pool.promise().end();
    }
  }
}

export async function openDatabase(url: string, dataDir: string): Promise<Database> {
  const engine = engineOf(url);
  let dialect: Dialect;
  let display = hidePassword(url);
  let stopCheckpointer = async () => undefined as void;
  if (engine === 'sqlite') {
    const rest = url.slice('sqlite:'.length).replace(/^\/\//, '');
    const file = rest || join(dataDir, 'monostack.sqlite');
    if (file !== ':memory:') {
      mkdirSync(join(file, '..'), { recursive: true });
    }
    const sqlite = new SQLite(file);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    if (file !== ':memory:') stopCheckpointer = startCheckpointer(sqlite, file);
    dialect = new SqliteDialect({ database: withStatementCache(sqlite) });
    display = `sqlite:${file}`;
  } else if (engine === 'postgres') {
    await ensureServerDatabase(engine, url);
    const pool = new pg.Pool({ connectionString: url, max: 10 });
    // An idle connection the server ends (a restart, pg_terminate_backend, DROP DATABASE ... FORCE)
    // is an 'error' event on the pool; unheard, it would crash the process. The pool drops that
    // client and opens a new one on the next query.
    pool.on('error', () => undefined);
    dialect = new PostgresDialect({ pool });
  } else {
    await ensureServerDatabase(engine, url);
    const u = new URL(url.replace(/^mariadb/, 'mysql').replace('+pymysql', ''));
    dialect = new MysqlDialect({
      pool: createPool({
        host: u.hostname, port: Number(u.port || 3306), user: decodeURIComponent(u.username),
        password: decodeURIComponent(u.password), database: decodeURIComponent(u.pathname.slice(1)),
        connectionLimit: 10, charset: 'utf8mb4_bin',
      }),
    });
  }
  const db = new Kysely({ dialect });
  return { db, engine, display, close: async () => { await stopCheckpointer(); await db.destroy(); } };
}

/**
 * Moves the WAL checkpoints of a SQLite file to a worker thread (checkpointer.ts says why). The
 * serving connection never checkpoints by itself any more; if the worker cannot start, automatic
 * checkpoints stay on. Returns the worker's stop.
 */
function startCheckpointer(sqlite: SQLite.Database, file: string): () => Promise<void> {
  let worker: Worker;
  try {
    worker = new Worker(new URL('./checkpointer.js', import.meta.url), { workerData: { file, thresholdBytes: 4 << 20, intervalMs: 100 } });
  } catch {
    return async () => undefined;
  }
  sqlite.pragma('wal_autocheckpoint = 0');
  worker.unref();
  // A worker that dies (it should not) must not leave the log growing for ever.
  worker.on('error', () => sqlite.pragma('wal_autocheckpoint = 1000'));
  return () => new Promise<void>((resolve) => {
    worker.ref(); // the wait for its exit keeps the process alive
    worker.once('exit', () => resolve());
    worker.postMessage('close');
    setTimeout(() => void worker.terminate(), 2000).unref();
  });
}

/**
 * Kysely's SQLite driver prepares every statement on every query; preparing costs as much as
 * running a small query. Statements are reused by SQL text (the set is small and fixed: queries are
 * built from code, values are parameters). Reuse is safe because the driver runs each statement to
 * completion synchronously; streamed queries (`stmt.iterate()`) are not used in this project.
 */
function withStatementCache(db: SQLite.Database, max = 2000): SQLite.Database {
  const prepare = db.prepare.bind(db);
  const cache = new Map<string, SQLite.Statement>();
  db.prepare = ((source: string) => {
    let stmt = cache.get(source);
    if (!stmt) {
      stmt = prepare(source);
      if (cache.size >= max) cache.clear();
      cache.set(source, stmt);
    }
    return stmt;
  }) as typeof db.prepare;
  return db;
}

/** Runs a service's migrations (name-ordered) to the newest, tracked in `<service>_migration`. */
export async function migrateService(d: Database, service: string, migrations: Record<string, Migration>): Promise<string[]> {
  const migrator = new Migrator({
    db: d.db,
    provider: { getMigrations: async () => migrations },
    migrationTableName: `${service}_migration`,
    migrationLockTableName: `${service}_migration_lock`,
    // Areas land their numbered migrations in any order (0002 after 0006 has run): run the missing ones.
    allowUnorderedMigrations: true,
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error;
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** True when a write failed on a unique constraint (the same name twice, a duplicate id). */
export function isUniqueViolation(e: unknown): boolean {
  const err = e as { code?: string; errno?: number };
  return err?.code === 'SQLITE_CONSTRAINT_UNIQUE' || err?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || err?.code === '23505' || err?.errno === 1062;
}

/** True when a write failed on a foreign key. */
export function isForeignKeyViolation(e: unknown): boolean {
  const err = e as { code?: string; errno?: number };
  return err?.code === 'SQLITE_CONSTRAINT_FOREIGNKEY' || err?.code === '23503' || err?.errno === 1451 || err?.errno === 1452;
}

/** Timestamps are stored as fixed-width ISO-8601 UTC strings: portable and ordered as text. */
export const nowIso = (): string => new Date().toISOString();

/** The engine behind a Kysely instance (for migrations, which get only the instance). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function engineOfDb(db: Kysely<any>): Engine {
  const name = db.getExecutor().adapter.constructor.name;
  if (/postgres/i.test(name)) return 'postgres';
  if (/mysql/i.test(name)) return 'mysql';
  return 'sqlite';
}

/**
 * Adds an auto-incrementing integer primary key, portably: SERIAL on PostgreSQL (which has no
 * AUTO_INCREMENT), AUTO_INCREMENT on MariaDB, AUTOINCREMENT on SQLite. Use with `$call`.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function autoId(db: Kysely<any>, name = 'id') {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return <T extends CreateTableBuilder<any, any>>(t: T): T => (engineOfDb(db) === 'postgres'
    ? t.addColumn(name, 'serial', (c) => c.primaryKey())
    : t.addColumn(name, 'integer', (c) => c.primaryKey().autoIncrement())) as T;
}

/** Inserts one row and returns its auto-increment id (RETURNING on PostgreSQL, insertId elsewhere). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function insertId(db: Kysely<any>, table: string, values: Record<string, unknown>): Promise<number> {
  if (engineOfDb(db) === 'postgres') {
    const r = await db.insertInto(table).values(values).returning('id').executeTakeFirstOrThrow();
    return Number((r as { id: unknown }).id);
  }
  const r = await db.insertInto(table).values(values).executeTakeFirstOrThrow();
  return Number(r.insertId);
}
