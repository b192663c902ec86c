// Quotas (per project and per user), quota classes, server groups and their members, host
// aggregates with their hosts and metadata. Portable types as 0001: ids as varchar, timestamps as
// ISO-8601 text, a project-wide quota row has user_id '' so one unique key covers both kinds.

import type { Kysely } from 'kysely';
import { autoId } from '../../../common/db/index.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('quotas')
    .$call(autoId(db))
    .addColumn('project_id', 'varchar(255)', (c) => c.notNull())
    .addColumn('user_id', 'varchar(255)', (c) => c.notNull().defaultTo(''))
    .addColumn('resource', 'varchar(255)', (c) => c.notNull())
    .addColumn('hard_limit', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)')
    .addUniqueConstraint('quotas_project_user_resource', ['project_id', 'user_id', 'resource'])
    .execute();

  await db.schema.createTable('quota_classes')
    .addColumn('class_name', 'varchar(255)', (c) => c.notNull())
    .addColumn('resource', 'varchar(255)', (c) => c.notNull())
    .addColumn('hard_limit', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)')
    .addPrimaryKeyConstraint('quota_classes_pk', ['class_name', 'resource'])
    .execute();

  await db.schema.createTable('instance_groups')
    .$call(autoId(db))
    .addColumn('uuid', 'varchar(36)', (c) => c.notNull().unique())
    .addColumn('name', 'varchar(255)')
    .addColumn('project_id', 'varchar(255)', (c) => c.notNull())
    .addColumn('user_id', 'varchar(255)', (c) => c.notNull())
    .addColumn('policy', 'varchar(255)', (c) => c.notNull())
    .addColumn('rules', 'text')                               // JSON: {"max_server_per_host": 3}
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)')
    .execute();
  await db.schema.createIndex('ix_instance_groups_project').on('instance_groups').column('project_id').execute();

  await db.schema.createTable('instance_group_member')
    .addColumn('group_id', 'integer', (c) => c.notNull().references('instance_groups.id').onDelete('cascade'))
    .addColumn('instance_uuid', 'varchar(36)', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addPrimaryKeyConstraint('instance_group_member_pk', ['group_id', 'instance_uuid'])
    .execute();
  await db.schema.createIndex('ix_instance_group_member_instance').on('instance_group_member').column('instance_uuid').execute();

  await db.schema.createTable('aggregates')
    .$call(autoId(db))
    .addColumn('uuid', 'varchar(36)', (c) => c.notNull().unique())
    .addColumn('name', 'varchar(255)', (c) => c.notNull().unique())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)')
    .execute();

  await db.schema.createTable('aggregate_hosts')
    .addColumn('aggregate_id', 'integer', (c) => c.notNull().references('aggregates.id').onDelete('cascade'))
    .addColumn('host', 'varchar(255)', (c) => c.notNull())
    .addPrimaryKeyConstraint('aggregate_hosts_pk', ['aggregate_id', 'host'])
    .execute();

  await db.schema.createTable('aggregate_metadata')
    .addColumn('aggregate_id', 'integer', (c) => c.notNull().references('aggregates.id').onDelete('cascade'))
    .addColumn('key', 'varchar(255)', (c) => c.notNull())
    .addColumn('value', 'varchar(255)', (c) => c.notNull())
    .addPrimaryKeyConstraint('aggregate_metadata_pk', ['aggregate_id', 'key'])
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['aggregate_metadata', 'aggregate_hosts', 'aggregates', 'instance_group_member', 'instance_groups', 'quota_classes', 'quotas']) {
    await db.schema.dropTable(t).ifExists().execute();
  }
}
