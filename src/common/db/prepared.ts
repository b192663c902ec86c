// Statements on a hot path, built and compiled once. Kysely builds every query as a tree of
// frozen nodes and compiles it to SQL on every call; for the small indexed statements of a write
// path (a port create runs a dozen) that costs more CPU than SQLite takes to run them. A prepared
// statement is built once per SQL dialect with placeholders in place of its arguments, and later
// calls only put the arguments into the compiled parameter list.

import { CompiledQuery, type Compilable, type Kysely, type QueryResult, type Transaction } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any> | Transaction<any>;

/** Stands for argument `i` while the statement is built; never reaches a database. */
class Placeholder { constructor(readonly i: number) {} }

/** Where each compiled parameter comes from: an argument's index, or a constant of the builder. */
interface Compiled { sql: string; slots: Array<number | { value: unknown }> }

/**
 * `build` receives placeholders for its arguments and must use each only as a value (a column value,
 * a comparison operand, a member of an `in` list); the SQL must not depend on the arguments' values.
 * Constants written in the builder stay as they were compiled.
 * A list whose length varies is passed as one argument per member, with the length in the key —
 * see `keyed` below.
 */
export function prepared<A extends unknown[], R = Record<string, unknown>>(
  build: (db: AnyDb, ...args: A) => Compilable<unknown>,
): (db: AnyDb, ...args: A) => Promise<QueryResult<R>> {
  const byDialect = new Map<unknown, Compiled>();
  return async (db, ...args) => {
    const adapter = db.getExecutor().adapter.constructor;
    let c = byDialect.get(adapter);
    if (!c) {
      const holders = args.map((_, i) => new Placeholder(i)) as unknown as A;
      const q = build(db, ...holders).compile();
      const slots = q.parameters.map((p) => (p instanceof Placeholder ? p.i : { value: p }));
      c = { sql: q.sql, slots };
      byDialect.set(adapter, c);
    }
    return db.executeQuery<R>(CompiledQuery.raw(c.sql, c.slots.map((s) => (typeof s === 'number' ? args[s] : s.value))));
  };
}

/**
 * A family of prepared statements told apart by a key (e.g. the length of an `in` list): one
 * prepared statement per key, made on first use.
 */
export function keyed<K, A extends unknown[], R = Record<string, unknown>>(
  build: (key: K) => (db: AnyDb, ...args: A) => Compilable<unknown>,
): (key: K) => (db: AnyDb, ...args: A) => Promise<QueryResult<R>> {
  const family = new Map<K, (db: AnyDb, ...args: A) => Promise<QueryResult<R>>>();
  return (key) => {
    let p = family.get(key);
    if (!p) { p = prepared<A, R>(build(key)); family.set(key, p); }
    return p;
  };
}
