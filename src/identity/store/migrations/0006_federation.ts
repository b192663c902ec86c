// OS-FEDERATION: identity providers with their remote ids, mappings (rules as JSON text),
// protocols (an identity provider's protocol and the mapping it uses) and service providers.
// Portable types only (see 0001_core).

import type { Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('federation_idp')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('domain_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('description', 'text')
    .addColumn('authorization_ttl', 'integer')
    .execute();
  await db.schema.createIndex('federation_idp_domain').on('federation_idp').column('domain_id').execute();

  // A remote id names exactly one identity provider, so it is the key (Keystone's idp_remote_ids).
  await db.schema.createTable('federation_idp_remote_id')
    .addColumn('remote_id', 'varchar(255)', (c) => c.primaryKey())
    .addColumn('idp_id', 'varchar(64)', (c) => c.notNull().references('federation_idp.id').onDelete('cascade'))
    .execute();
  await db.schema.createIndex('federation_idp_remote_id_idp').on('federation_idp_remote_id').column('idp_id').execute();

  await db.schema.createTable('federation_mapping')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('rules', 'text', (c) => c.notNull())
    .execute();

  await db.schema.createTable('federation_protocol')
    .addColumn('idp_id', 'varchar(64)', (c) => c.notNull().references('federation_idp.id').onDelete('cascade'))
    .addColumn('id', 'varchar(64)', (c) => c.notNull())
    .addColumn('mapping_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('remote_id_attribute', 'varchar(64)')
    .addPrimaryKeyConstraint('federation_protocol_pk', ['idp_id', 'id'])
    .execute();

  await db.schema.createTable('federation_sp')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('description', 'text')
    .addColumn('auth_url', 'varchar(256)', (c) => c.notNull())
    .addColumn('sp_url', 'varchar(256)', (c) => c.notNull())
    .addColumn('relay_state_prefix', 'varchar(256)', (c) => c.notNull())
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['federation_sp', 'federation_protocol', 'federation_mapping', 'federation_idp_remote_id', 'federation_idp']) {
    await db.schema.dropTable(t).ifExists().execute();
  }
}
