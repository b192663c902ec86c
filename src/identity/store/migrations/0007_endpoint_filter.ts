// OS-EP-FILTER: endpoints associated with projects directly, endpoint groups (filters over
// interface/service_id/region_id, as JSON text) and their project associations.

import type { Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('ep_filter_project_endpoint')
    .addColumn('endpoint_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
    .addPrimaryKeyConstraint('ep_filter_project_endpoint_pk', ['endpoint_id', 'project_id'])
    .execute();
  await db.schema.createIndex('ep_filter_project_endpoint_project').on('ep_filter_project_endpoint').column('project_id').execute();

  await db.schema.createTable('ep_filter_endpoint_group')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('filters', 'text', (c) => c.notNull())
    .execute();

  await db.schema.createTable('ep_filter_project_endpoint_group')
    .addColumn('endpoint_group_id', 'varchar(64)', (c) => c.notNull().references('ep_filter_endpoint_group.id').onDelete('cascade'))
    .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
    .addPrimaryKeyConstraint('ep_filter_project_endpoint_group_pk', ['endpoint_group_id', 'project_id'])
    .execute();
  await db.schema.createIndex('ep_filter_project_endpoint_group_project').on('ep_filter_project_endpoint_group').column('project_id').execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['ep_filter_project_endpoint_group', 'ep_filter_endpoint_group', 'ep_filter_project_endpoint']) {
    await db.schema.dropTable(t).ifExists().execute();
  }
}
