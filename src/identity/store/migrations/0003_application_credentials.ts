// Application credentials, the roles each carries, and access rules (per user, shared by the
// user's application credentials). secret_hash uses the users' password hashing. expires_at is
// ISO-8601 UTC text with microseconds ('YYYY-MM-DDTHH:MM:SS.ffffff').

import type { Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('application_credential')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('secret_hash', 'varchar(255)', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('user_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('project_id', 'varchar(64)')
    .addColumn('system', 'varchar(64)')
    .addColumn('expires_at', 'varchar(32)')
    .addColumn('unrestricted', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addUniqueConstraint('application_credential_user_name', ['user_id', 'name'])
    .execute();
  await db.schema.createIndex('application_credential_project').on('application_credential').column('project_id').execute();

  await db.schema.createTable('application_credential_role')
    .addColumn('application_credential_id', 'varchar(64)', (c) => c.notNull().references('application_credential.id').onDelete('cascade'))
    .addColumn('role_id', 'varchar(64)', (c) => c.notNull())
    .addPrimaryKeyConstraint('application_credential_role_pk', ['application_credential_id', 'role_id'])
    .execute();
  await db.schema.createIndex('application_credential_role_role').on('application_credential_role').column('role_id').execute();

  await db.schema.createTable('access_rule')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('user_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('service', 'varchar(64)', (c) => c.notNull())
    .addColumn('path', 'varchar(225)', (c) => c.notNull())
    .addColumn('method', 'varchar(16)', (c) => c.notNull())
    .addUniqueConstraint('access_rule_user_rule', ['user_id', 'service', 'path', 'method'])
    .execute();

  await db.schema.createTable('application_credential_access_rule')
    .addColumn('application_credential_id', 'varchar(64)', (c) => c.notNull().references('application_credential.id').onDelete('cascade'))
    .addColumn('access_rule_id', 'varchar(64)', (c) => c.notNull().references('access_rule.id'))
    .addPrimaryKeyConstraint('application_credential_access_rule_pk', ['application_credential_id', 'access_rule_id'])
    .execute();
  await db.schema.createIndex('application_credential_access_rule_rule').on('application_credential_access_rule').column('access_rule_id').execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['application_credential_access_rule', 'access_rule', 'application_credential_role', 'application_credential']) {
    await db.schema.dropTable(t).ifExists().execute();
  }
}
