// /v3/policies (opaque policy blobs with a type) and OS-ENDPOINT-POLICY associations of a policy
// with an endpoint, a service, or a service in a region. The association columns may be null, so
// the row has its own id (as Keystone's policy_association).

import type { Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('identity_policy')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('type', 'varchar(255)', (c) => c.notNull())
    .addColumn('blob', 'text', (c) => c.notNull())
    .addColumn('extra', 'text', (c) => c.notNull())
    .execute();

  await db.schema.createTable('identity_policy_association')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('policy_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('endpoint_id', 'varchar(64)')
    .addColumn('service_id', 'varchar(64)')
    .addColumn('region_id', 'varchar(255)')
    .execute();
  await db.schema.createIndex('identity_policy_association_policy').on('identity_policy_association').column('policy_id').execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['identity_policy_association', 'identity_policy']) await db.schema.dropTable(t).ifExists().execute();
}
