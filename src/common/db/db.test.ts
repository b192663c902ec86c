import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { keyed, prepared } from './prepared.js';
import { engineOf, isForeignKeyViolation, isUniqueViolation, migrateService, nowIso, openDatabase } from './index.js';

test('engineOf: the URL forms people use, including the seed\'s mysql+pymysql', () => {
  assert.equal(engineOf('sqlite:'), 'sqlite');
  assert.equal(engineOf('sqlite:/var/lib/monostack/db.sqlite'), 'sqlite');
  assert.equal(engineOf('postgres://u@h/db'), 'postgres');
  assert.equal(engineOf('postgresql://u@h/db'), 'postgres');
  assert.equal(engineOf('mysql://u@h/db'), 'mysql');
  assert.equal(engineOf('mariadb://u@h/db'), 'mysql');
  assert.equal(engineOf('mysql+pymysql://keystone:KEYSTONE_DBPASS@controller/keystone'), 'mysql');
  assert.throws(() => engineOf('oracle://x'), /unsupported database URL "oracle:\/\/x"/);
  assert.throws(() => engineOf(''), /unsupported database URL/);
});

test('SQLite: a file in the data dir, migrations once, constraint errors recognised', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'db-test-'));
  try {
    const d = await openDatabase('sqlite:', dir);
    assert.equal(d.engine, 'sqlite');
    assert.ok(existsSync(join(dir, 'monostack.sqlite')));
    const migrations = {
      '0001_a': { async up(db: Kysely<any>) {
        await db.schema.createTable('parent').addColumn('id', 'varchar(64)', (c) => c.primaryKey()).addColumn('name', 'varchar(64)', (c) => c.notNull().unique()).execute();
        await db.schema.createTable('child').addColumn('id', 'varchar(64)', (c) => c.primaryKey()).addColumn('parent_id', 'varchar(64)', (c) => c.notNull().references('parent.id')).execute();
      } },
      '0002_b': { async up(db: Kysely<any>) { await db.schema.alterTable('parent').addColumn('extra', 'text').execute(); } },
    };
    assert.deepEqual(await migrateService(d, 'unit', migrations), ['0001_a', '0002_b']);
    assert.deepEqual(await migrateService(d, 'unit', migrations), [], 'a second run changes nothing');
    // Each service tracks its own migrations.
    assert.deepEqual(await migrateService(d, 'other', {}), []);
    await d.db.insertInto('parent').values({ id: 'p1', name: 'one' }).execute();
    const dup = await d.db.insertInto('parent').values({ id: 'p2', name: 'one' }).execute().catch((e: unknown) => e);
    assert.ok(isUniqueViolation(dup), String(dup));
    assert.ok(!isForeignKeyViolation(dup));
    const pk = await d.db.insertInto('parent').values({ id: 'p1', name: 'two' }).execute().catch((e: unknown) => e);
    assert.ok(isUniqueViolation(pk), String(pk));
    const fk = await d.db.insertInto('child').values({ id: 'c1', parent_id: 'nope' }).execute().catch((e: unknown) => e);
    assert.ok(isForeignKeyViolation(fk), `foreign keys are enforced: ${String(fk)}`);
    assert.ok(!isUniqueViolation(fk));
    assert.ok(!isUniqueViolation(new Error('other')) && !isUniqueViolation(undefined));
    await d.close();
    // The data is there after reopening.
    const again = await openDatabase(`sqlite:${join(dir, 'monostack.sqlite')}`, '/nonexistent');
    assert.deepEqual(await again.db.selectFrom('parent').select(['id', 'name']).execute(), [{ id: 'p1', name: 'one' }]);
    await again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the display URL hides the password', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'db-test-'));
  try {
    const d = await openDatabase(`sqlite:${join(dir, 'x.db')}`, dir);
    assert.match(d.display, /x\.db/);
    await d.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // For servers, without connecting: a refused connection's error must not carry the password either.
  const err = await openDatabase('postgres://user:hunter2@127.0.0.1:1/db', '/tmp').then(() => undefined, (e: Error) => e);
  assert.ok(err, 'connecting to port 1 fails');
  assert.doesNotMatch(String(err?.message), /hunter2/);
});

test('nowIso: fixed-width UTC, ordered as text', () => {
  const a = nowIso();
  assert.match(a, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  assert.ok(nowIso() >= a);
});

test('sqlite: reused prepared statements stay correct across schema changes and parameters', async () => {
  const { openDatabase } = await import('./index.js');
  const { sql } = await import('kysely');
  const d = await openDatabase('sqlite::memory:', '/tmp');
  try {
    await sql`create table t (a integer)`.execute(d.db);
    await sql`insert into t values (1)`.execute(d.db);
    const q = () => d.db.selectFrom('t').selectAll().execute();
    assert.deepEqual(await q(), [{ a: 1 }]);
    await sql`alter table t add column b integer default 7`.execute(d.db);
    assert.deepEqual(await q(), [{ a: 1, b: 7 }], 'a reused statement sees the new column');
    for (let i = 0; i < 50; i++) await d.db.insertInto('t').values({ a: i, b: i }).execute();
    const rows = await d.db.selectFrom('t').select('a').where('a', '>=', 48).orderBy('a').execute();
    assert.deepEqual(rows.map((r) => r.a), [48, 49]);
  } finally {
    await d.close();
  }
});

test('SQLite: WAL checkpoints run on the worker thread, not in the serving connection\'s commits', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'db-ckpt-'));
  try {
    const d = await openDatabase('sqlite:', dir);
    const { sql } = await import('kysely');
    const ac = await sql<{ wal_autocheckpoint: number }>`PRAGMA wal_autocheckpoint`.execute(d.db);
    assert.equal(ac.rows[0]!.wal_autocheckpoint, 0, 'the serving connection never checkpoints by itself');
    await d.db.schema.createTable('blob').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('data', 'text').execute();
    const file = join(dir, 'monostack.sqlite');
    const before = statSync(file).size;
    // 8 MiB in 64 transactions: past the worker's 4 MiB threshold.
    for (let i = 0; i < 64; i++) await d.db.transaction().execute(async (trx) => { await trx.insertInto('blob').values({ id: i, data: 'x'.repeat(128 * 1024) }).execute(); });
    // Only a checkpoint copies pages from the log into the database file.
    for (let i = 0; i < 100 && statSync(file).size < before + (4 << 20); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(statSync(file).size >= before + (4 << 20), `database file ${statSync(file).size} bytes: no checkpoint ran`);
    assert.equal((await d.db.selectFrom('blob').select((e) => e.fn.countAll().as('n')).executeTakeFirstOrThrow()).n, 64);
    await d.close();
    // Closing leaves a consistent file that opens again with every row.
    const again = await openDatabase('sqlite:', dir);
    assert.equal((await again.db.selectFrom('blob').select((e) => e.fn.countAll().as('n')).executeTakeFirstOrThrow()).n, 64);
    await again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('prepared statements: built once, run with each call\'s arguments, constants kept, lists by length', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'db-prep-'));
  try {
    const d = await openDatabase('sqlite:', dir);
    await d.db.schema.createTable('t').addColumn('id', 'varchar(8)', (c) => c.primaryKey()).addColumn('kind', 'varchar(8)').addColumn('n', 'integer').execute();
    let builds = 0;
    const insert = prepared((db, id: string, n: number) => { builds++; return db.insertInto('t').values({ id, kind: 'a', n }); });
    for (let i = 0; i < 5; i++) await insert(d.db, `r${i}`, i * 10);
    assert.equal(builds, 1, 'built once');
    const byIds = keyed((len: number) => (db, ...ids: string[]) => db.selectFrom('t').select(['id', 'n']).where('kind', '=', 'a').where('id', 'in', ids.slice(0, len)).orderBy('id'));
    assert.deepEqual((await byIds(2)(d.db, 'r1', 'r3')).rows, [{ id: 'r1', n: 10 }, { id: 'r3', n: 30 }]);
    assert.deepEqual((await byIds(3)(d.db, 'r4', 'r0', 'zz')).rows, [{ id: 'r0', n: 0 }, { id: 'r4', n: 40 }]);
    assert.deepEqual((await byIds(2)(d.db, 'r2', 'r0')).rows, [{ id: 'r0', n: 0 }, { id: 'r2', n: 20 }]);
    // Inside a transaction, on its connection; a failing transaction leaves nothing.
    await assert.rejects(d.db.transaction().execute(async (trx) => { await insert(trx, 'x1', 1); await insert(trx, 'x1', 2); }), (e: unknown) => isUniqueViolation(e));
    assert.deepEqual((await byIds(1)(d.db, 'x1')).rows, []);
    await d.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
