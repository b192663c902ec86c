// Placement's tables. Providers, consumers, classes and traits are keyed by their external names
// (uuid / name) rather than by surrogate integer ids: the API speaks in those names, the queries
// stay portable (no autoincrement differences between engines) and a row says what it is.
// Standard resource classes and traits are data in standard.ts; only CUSTOM_* ones have rows.
// Amounts are 32-bit integers as in Placement (MAX_INT 2147483647); the allocation ratio is a float.

import type { Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('placement_resource_providers')
    .addColumn('uuid', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(200)', (c) => c.notNull().unique())
    .addColumn('generation', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('parent_provider_uuid', 'varchar(36)')
    .addColumn('root_provider_uuid', 'varchar(36)', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('ix_placement_rp_parent').on('placement_resource_providers').column('parent_provider_uuid').execute();
  await db.schema.createIndex('ix_placement_rp_root').on('placement_resource_providers').column('root_provider_uuid').execute();

  await db.schema.createTable('placement_inventories')
    .addColumn('resource_provider_uuid', 'varchar(36)', (c) => c.notNull().references('placement_resource_providers.uuid').onDelete('cascade'))
    .addColumn('resource_class', 'varchar(255)', (c) => c.notNull())
    .addColumn('total', 'integer', (c) => c.notNull())
    .addColumn('reserved', 'integer', (c) => c.notNull())
    .addColumn('min_unit', 'integer', (c) => c.notNull())
    .addColumn('max_unit', 'integer', (c) => c.notNull())
    .addColumn('step_size', 'integer', (c) => c.notNull())
    .addColumn('allocation_ratio', 'double precision', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .addPrimaryKeyConstraint('placement_inventories_pk', ['resource_provider_uuid', 'resource_class'])
    .execute();
  await db.schema.createIndex('ix_placement_inv_rc').on('placement_inventories').column('resource_class').execute();

  await db.schema.createTable('placement_consumers')
    .addColumn('uuid', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('project_id', 'varchar(255)', (c) => c.notNull())
    .addColumn('user_id', 'varchar(255)', (c) => c.notNull())
    .addColumn('generation', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('consumer_type', 'varchar(255)')
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('ix_placement_consumers_project').on('placement_consumers').columns(['project_id', 'user_id']).execute();

  await db.schema.createTable('placement_allocations')
    .addColumn('consumer_uuid', 'varchar(36)', (c) => c.notNull())
    .addColumn('resource_provider_uuid', 'varchar(36)', (c) => c.notNull().references('placement_resource_providers.uuid'))
    .addColumn('resource_class', 'varchar(255)', (c) => c.notNull())
    .addColumn('used', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .addPrimaryKeyConstraint('placement_allocations_pk', ['consumer_uuid', 'resource_provider_uuid', 'resource_class'])
    .execute();
  await db.schema.createIndex('ix_placement_alloc_rp_rc').on('placement_allocations').columns(['resource_provider_uuid', 'resource_class']).execute();

  await db.schema.createTable('placement_resource_classes')
    .addColumn('name', 'varchar(255)', (c) => c.primaryKey())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .execute();

  await db.schema.createTable('placement_traits')
    .addColumn('name', 'varchar(255)', (c) => c.primaryKey())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .execute();

  await db.schema.createTable('placement_provider_traits')
    .addColumn('resource_provider_uuid', 'varchar(36)', (c) => c.notNull().references('placement_resource_providers.uuid').onDelete('cascade'))
    .addColumn('trait', 'varchar(255)', (c) => c.notNull())
    .addPrimaryKeyConstraint('placement_provider_traits_pk', ['resource_provider_uuid', 'trait'])
    .execute();
  await db.schema.createIndex('ix_placement_rp_traits_trait').on('placement_provider_traits').column('trait').execute();

  await db.schema.createTable('placement_provider_aggregates')
    .addColumn('resource_provider_uuid', 'varchar(36)', (c) => c.notNull().references('placement_resource_providers.uuid').onDelete('cascade'))
    .addColumn('aggregate_uuid', 'varchar(36)', (c) => c.notNull())
    .addPrimaryKeyConstraint('placement_provider_aggregates_pk', ['resource_provider_uuid', 'aggregate_uuid'])
    .execute();
  await db.schema.createIndex('ix_placement_rp_aggs_agg').on('placement_provider_aggregates').column('aggregate_uuid').execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['placement_provider_aggregates', 'placement_provider_traits', 'placement_traits', 'placement_resource_classes',
    'placement_allocations', 'placement_consumers', 'placement_inventories', 'placement_resource_providers']) {
    await db.schema.dropTable(t).ifExists().execute();
  }
}
