// Glance's image tables: images with every column Glance has (bar the soft-delete ones: a
// deleted image's rows are removed at once, so nothing piles up to purge), their additional
// properties, tags, members (sharing) and locations (where the data is, per store), and the
// tasks that import data.
// Portable types only: ids and names as varchar, flags as integers, sizes as bigint, timestamps
// as ISO-8601 text, location metadata and task input/result as JSON text.

import type { Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('images')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(255)')
    .addColumn('size', 'bigint')
    .addColumn('virtual_size', 'bigint')
    .addColumn('status', 'varchar(30)', (c) => c.notNull())
    .addColumn('visibility', 'varchar(9)', (c) => c.notNull().defaultTo('shared'))
    .addColumn('checksum', 'varchar(32)')
    .addColumn('os_hash_algo', 'varchar(64)')
    .addColumn('os_hash_value', 'varchar(128)')
    .addColumn('owner', 'varchar(255)')
    .addColumn('disk_format', 'varchar(20)')
    .addColumn('container_format', 'varchar(20)')
    .addColumn('min_disk', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('min_ram', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('protected', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('os_hidden', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('ix_images_owner').on('images').column('owner').execute();
  await db.schema.createIndex('ix_images_status').on('images').column('status').execute();
  await db.schema.createIndex('ix_images_visibility').on('images').column('visibility').execute();
  await db.schema.createIndex('ix_images_created_at').on('images').columns(['created_at', 'id']).execute();
  await db.schema.createIndex('ix_images_checksum').on('images').column('checksum').execute();
  await db.schema.createIndex('ix_images_os_hash_value').on('images').column('os_hash_value').execute();

  await db.schema.createTable('image_properties')
    .addColumn('image_id', 'varchar(36)', (c) => c.notNull().references('images.id').onDelete('cascade'))
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('value', 'text')
    .addPrimaryKeyConstraint('image_properties_pk', ['image_id', 'name'])
    .execute();
  await db.schema.createIndex('ix_image_properties_name').on('image_properties').column('name').execute();

  await db.schema.createTable('image_tags')
    .addColumn('image_id', 'varchar(36)', (c) => c.notNull().references('images.id').onDelete('cascade'))
    .addColumn('value', 'varchar(255)', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addPrimaryKeyConstraint('image_tags_pk', ['image_id', 'value'])
    .execute();
  await db.schema.createIndex('ix_image_tags_value').on('image_tags').column('value').execute();

  await db.schema.createTable('image_members')
    .addColumn('image_id', 'varchar(36)', (c) => c.notNull().references('images.id').onDelete('cascade'))
    .addColumn('member', 'varchar(255)', (c) => c.notNull())
    .addColumn('status', 'varchar(20)', (c) => c.notNull().defaultTo('pending'))
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .addPrimaryKeyConstraint('image_members_pk', ['image_id', 'member'])
    .execute();
  await db.schema.createIndex('ix_image_members_member').on('image_members').columns(['member', 'status']).execute();

  await db.schema.createTable('image_locations')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('image_id', 'varchar(36)', (c) => c.notNull().references('images.id').onDelete('cascade'))
    .addColumn('position', 'integer', (c) => c.notNull())
    .addColumn('url', 'text', (c) => c.notNull())
    .addColumn('meta_data', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('status', 'varchar(30)', (c) => c.notNull().defaultTo('active'))
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('ix_image_locations_image').on('image_locations').columns(['image_id', 'position']).execute();

  // Tasks outlive their image (GET /v2/images/{id}/tasks after a failed import), so no FK.
  await db.schema.createTable('image_tasks')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('type', 'varchar(30)', (c) => c.notNull())
    .addColumn('status', 'varchar(30)', (c) => c.notNull())
    .addColumn('owner', 'varchar(255)')
    .addColumn('image_id', 'varchar(36)')
    .addColumn('user_id', 'varchar(64)')
    .addColumn('request_id', 'varchar(64)')
    .addColumn('input', 'text')
    .addColumn('result', 'text')
    .addColumn('message', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('expires_at', 'varchar(32)')
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('ix_image_tasks_image').on('image_tasks').column('image_id').execute();
  await db.schema.createIndex('ix_image_tasks_owner').on('image_tasks').columns(['owner', 'created_at']).execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['image_tasks', 'image_locations', 'image_members', 'image_tags', 'image_properties', 'images']) {
    await db.schema.dropTable(t).execute();
  }
}
