// Write transactions shared by the services: READ COMMITTED on PostgreSQL and MariaDB/MySQL (a
// statement after a row lock sees what the lock holder committed) and a retry of the whole
// transaction on deadlocks, serialization failures and busy SQLite files. A service's own
// consistency rules (placement locks provider rows by generation in uuid order; network relies on
// unique constraints for IP and MAC uniqueness) live in that service's store, not here.

import type { Kysely, Transaction } from 'kysely';
import type { Engine } from './index.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Db = Kysely<any>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Tx = Transaction<any>;

export interface StoreDb { db: Db; engine: Engine }

function retryable(e: unknown): boolean {
  const err = e as { code?: string; errno?: number };
  return err?.code === '40P01' || err?.code === '40001' || err?.errno === 1213 || err?.errno === 1205
    || err?.code === 'SQLITE_BUSY' || err?.code === 'SQLITE_BUSY_SNAPSHOT';
}

export async function writeTx<T>(s: StoreDb, fn: (trx: Tx) => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      let b = s.db.transaction();
      if (s.engine !== 'sqlite') b = b.setIsolationLevel('read committed');
      return await b.execute(fn);
    } catch (e) {
      if (attempt < 20 && retryable(e)) {
        await new Promise((r) => setTimeout(r, 2 + Math.random() * 10 * (attempt + 1)));
        continue;
      }
      throw e;
    }
  }
}
