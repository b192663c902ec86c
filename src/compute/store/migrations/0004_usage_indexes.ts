// Covering indexes for two queries that every boot or poll runs over all of a project's servers:
// the quota usage (count, vcpus and memory of the live instances, per create) and `changes-since`
// listings (clients and the benchmark's poller watch their servers that way). With the summed
// columns in the index the engines answer the usage from the index alone; the changes-since
// range starts at the time asked for instead of reading every instance of the project.
import type { Kysely } from 'kysely';
import { engineOfDb } from '../../../common/db/index.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('ix_instances_usage').on('instances').columns(['project_id', 'deleted', 'vm_state', 'vcpus', 'memory_mb']).execute();
  await db.schema.createIndex('ix_instances_changes').on('instances').columns(['project_id', 'updated_at']).execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  for (const name of ['ix_instances_changes', 'ix_instances_usage']) {
    const q = db.schema.dropIndex(name);
    // DROP INDEX ... ON <table> is MySQL's syntax; SQLite and PostgreSQL name the index alone.
    await (engineOfDb(db) === 'mysql' ? q.on('instances') : q).execute();
  }
}
