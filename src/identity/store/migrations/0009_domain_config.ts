// Domain-specific configuration: one row per (domain, group, option), the value as JSON text.
// Sensitive options (ldap.password) are flagged and never returned by the API.

import type { Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('domain_config_option')
    .addColumn('domain_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('group_name', 'varchar(255)', (c) => c.notNull())
    .addColumn('option_name', 'varchar(255)', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('sensitive', 'integer', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('domain_config_option_pk', ['domain_id', 'group_name', 'option_name'])
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('domain_config_option').ifExists().execute();
}
