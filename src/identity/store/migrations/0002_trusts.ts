// OS-TRUST: trusts and the roles each delegates. Trusts are deleted outright (Keystone soft-deletes
// them and needs a flush command; nothing here reads deleted trusts). expires_at is ISO-8601 UTC
// text with microseconds ('YYYY-MM-DDTHH:MM:SS.ffffff'), fixed width so it sorts as text.

import type { Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('trust')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('trustor_user_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('trustee_user_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('project_id', 'varchar(64)')
    .addColumn('impersonation', 'integer', (c) => c.notNull())
    .addColumn('expires_at', 'varchar(32)')
    .addColumn('remaining_uses', 'integer')
    .addColumn('redelegated_trust_id', 'varchar(64)')
    .addColumn('redelegation_count', 'integer')
    .addColumn('extra', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    // Keystone's duplicate_trust_constraint (NULLs are distinct on all three engines, as there).
    .addUniqueConstraint('trust_duplicate', ['trustor_user_id', 'trustee_user_id', 'project_id', 'impersonation', 'expires_at'])
    .execute();
  await db.schema.createIndex('trust_trustee').on('trust').column('trustee_user_id').execute();
  await db.schema.createIndex('trust_project').on('trust').column('project_id').execute();
  await db.schema.createIndex('trust_redelegated').on('trust').column('redelegated_trust_id').execute();

  await db.schema.createTable('trust_role')
    .addColumn('trust_id', 'varchar(64)', (c) => c.notNull().references('trust.id').onDelete('cascade'))
    .addColumn('role_id', 'varchar(64)', (c) => c.notNull())
    .addPrimaryKeyConstraint('trust_role_pk', ['trust_id', 'role_id'])
    .execute();
  await db.schema.createIndex('trust_role_role').on('trust_role').column('role_id').execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('trust_role').ifExists().execute();
  await db.schema.dropTable('trust').ifExists().execute();
}
