// Unified limits: registered limits (a service's default for a resource, optionally per region)
// and project or domain limits overriding one of them. A limit's service, region and resource
// name are its registered limit's.

import type { Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('unified_registered_limit')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('service_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('region_id', 'varchar(255)')
    .addColumn('resource_name', 'varchar(255)', (c) => c.notNull())
    .addColumn('default_limit', 'integer', (c) => c.notNull())
    .addColumn('description', 'text')
    .execute();
  await db.schema.createIndex('unified_registered_limit_service').on('unified_registered_limit').columns(['service_id', 'resource_name']).execute();

  await db.schema.createTable('unified_limit')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('registered_limit_id', 'varchar(64)', (c) => c.notNull().references('unified_registered_limit.id'))
    .addColumn('project_id', 'varchar(64)')
    .addColumn('domain_id', 'varchar(64)')
    .addColumn('resource_limit', 'integer', (c) => c.notNull())
    .addColumn('description', 'text')
    .execute();
  await db.schema.createIndex('unified_limit_registered').on('unified_limit').column('registered_limit_id').execute();
  await db.schema.createIndex('unified_limit_project').on('unified_limit').column('project_id').execute();
  await db.schema.createIndex('unified_limit_domain').on('unified_limit').column('domain_id').execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['unified_limit', 'unified_registered_limit']) await db.schema.dropTable(t).ifExists().execute();
}
