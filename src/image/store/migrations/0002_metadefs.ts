// Glance's metadata definitions catalog (metadefs): namespaces, the objects, properties and tags
// they define, the resource types (seeded with Glance's five, as its migration does) and which
// namespaces apply to which resource types. A namespace's children go with it.

import type { Kysely } from 'kysely';

export const SEEDED_RESOURCE_TYPES = ['OS::Glance::Image', 'OS::Cinder::Volume', 'OS::Nova::Flavor', 'OS::Nova::Aggregate', 'OS::Nova::Server'];

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('metadef_namespaces')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('namespace', 'varchar(80)', (c) => c.notNull().unique())
    .addColumn('display_name', 'varchar(80)')
    .addColumn('description', 'text')
    .addColumn('visibility', 'varchar(32)', (c) => c.notNull().defaultTo('private'))
    .addColumn('protected', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('owner', 'varchar(255)', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('ix_metadef_namespaces_owner').on('metadef_namespaces').column('owner').execute();

  for (const t of ['metadef_objects', 'metadef_properties', 'metadef_tags']) {
    let b = db.schema.createTable(t)
      .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
      .addColumn('namespace_id', 'varchar(36)', (c) => c.notNull().references('metadef_namespaces.id').onDelete('cascade'))
      .addColumn('name', 'varchar(80)', (c) => c.notNull());
    if (t === 'metadef_objects') {
      b = b.addColumn('description', 'text').addColumn('required', 'text').addColumn('json_schema', 'text', (c) => c.notNull().defaultTo('{}'));
    } else if (t === 'metadef_properties') {
      b = b.addColumn('json_schema', 'text', (c) => c.notNull().defaultTo('{}'));
    }
    await b
      .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
      .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
      .addUniqueConstraint(`${t}_namespace_name`, ['namespace_id', 'name'])
      .execute();
  }

  await db.schema.createTable('metadef_resource_types')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(80)', (c) => c.notNull().unique())
    .addColumn('protected', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .execute();

  await db.schema.createTable('metadef_namespace_resource_types')
    .addColumn('resource_type_id', 'varchar(36)', (c) => c.notNull().references('metadef_resource_types.id').onDelete('cascade'))
    .addColumn('namespace_id', 'varchar(36)', (c) => c.notNull().references('metadef_namespaces.id').onDelete('cascade'))
    .addColumn('properties_target', 'varchar(80)')
    .addColumn('prefix', 'varchar(80)')
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .addPrimaryKeyConstraint('metadef_ns_rt_pk', ['resource_type_id', 'namespace_id'])
    .execute();

  const now = new Date().toISOString();
  await db.insertInto('metadef_resource_types')
    .values(SEEDED_RESOURCE_TYPES.map((name, i) => ({ id: `00000000-0000-4000-8000-00000000000${i + 1}`, name, protected: 1, created_at: now, updated_at: now })))
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['metadef_namespace_resource_types', 'metadef_resource_types', 'metadef_tags', 'metadef_properties', 'metadef_objects', 'metadef_namespaces']) {
    await db.schema.dropTable(t).execute();
  }
}
