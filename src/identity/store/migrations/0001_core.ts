// Core identity tables: the resource tree (domains are projects with is_domain, as in Keystone),
// users with their password history, groups, roles, assignments (project, domain and system
// targets in one table), the catalog, and revocation events.
// Portable types only: ids and names as varchar, flags as integers, timestamps as ISO-8601 text,
// free-form attributes as JSON text.

import { sql, type Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('project')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(64)', (c) => c.notNull())
    .addColumn('domain_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('parent_id', 'varchar(64)')
    .addColumn('is_domain', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('description', 'text')
    .addColumn('extra', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('options', 'text', (c) => c.notNull().defaultTo('{}'))
    .addUniqueConstraint('project_domain_name', ['domain_id', 'name'])
    .execute();
  await db.schema.createIndex('project_parent').on('project').column('parent_id').execute();

  await db.schema.createTable('project_tag')
    .addColumn('project_id', 'varchar(64)', (c) => c.notNull().references('project.id').onDelete('cascade'))
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addPrimaryKeyConstraint('project_tag_pk', ['project_id', 'name'])
    .execute();

  await db.schema.createTable('identity_user')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('domain_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('default_project_id', 'varchar(64)')
    .addColumn('extra', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('options', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('last_active_at', 'varchar(32)')
    .addColumn('failed_auth_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('failed_auth_at', 'varchar(32)')
    .addUniqueConstraint('user_domain_name', ['domain_id', 'name'])
    .execute();

  await db.schema.createTable('password')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('user_id', 'varchar(64)', (c) => c.notNull().references('identity_user.id').onDelete('cascade'))
    .addColumn('password_hash', 'varchar(255)', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('expires_at', 'varchar(32)')
    .addColumn('self_service', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.createIndex('password_user').on('password').columns(['user_id', 'created_at']).execute();

  await db.schema.createTable('identity_group')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('domain_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('extra', 'text', (c) => c.notNull().defaultTo('{}'))
    .addUniqueConstraint('group_domain_name', ['domain_id', 'name'])
    .execute();

  await db.schema.createTable('group_membership')
    .addColumn('user_id', 'varchar(64)', (c) => c.notNull().references('identity_user.id').onDelete('cascade'))
    .addColumn('group_id', 'varchar(64)', (c) => c.notNull().references('identity_group.id').onDelete('cascade'))
    .addPrimaryKeyConstraint('group_membership_pk', ['user_id', 'group_id'])
    .execute();
  await db.schema.createIndex('group_membership_group').on('group_membership').column('group_id').execute();

  // domain_id is '<<null>>' for global roles (Keystone's trick so the unique constraint holds).
  await db.schema.createTable('role')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('domain_id', 'varchar(64)', (c) => c.notNull().defaultTo('<<null>>'))
    .addColumn('description', 'text')
    .addColumn('extra', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('options', 'text', (c) => c.notNull().defaultTo('{}'))
    .addUniqueConstraint('role_name_domain', ['name', 'domain_id'])
    .execute();

  await db.schema.createTable('implied_role')
    .addColumn('prior_role_id', 'varchar(64)', (c) => c.notNull().references('role.id').onDelete('cascade'))
    .addColumn('implied_role_id', 'varchar(64)', (c) => c.notNull().references('role.id').onDelete('cascade'))
    .addPrimaryKeyConstraint('implied_role_pk', ['prior_role_id', 'implied_role_id'])
    .execute();

  // type: UserProject, GroupProject, UserDomain, GroupDomain, UserSystem, GroupSystem.
  await db.schema.createTable('assignment')
    .addColumn('type', 'varchar(16)', (c) => c.notNull())
    .addColumn('actor_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('target_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('role_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('inherited', 'integer', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('assignment_pk', ['type', 'actor_id', 'target_id', 'role_id', 'inherited'])
    .execute();
  await db.schema.createIndex('assignment_actor').on('assignment').column('actor_id').execute();
  await db.schema.createIndex('assignment_target').on('assignment').column('target_id').execute();
  await db.schema.createIndex('assignment_role').on('assignment').column('role_id').execute();

  await db.schema.createTable('region')
    .addColumn('id', 'varchar(255)', (c) => c.primaryKey())
    .addColumn('description', 'varchar(255)', (c) => c.notNull().defaultTo(''))
    .addColumn('parent_region_id', 'varchar(255)')
    .addColumn('extra', 'text', (c) => c.notNull().defaultTo('{}'))
    .execute();

  await db.schema.createTable('service')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('type', 'varchar(255)', (c) => c.notNull())
    .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('extra', 'text', (c) => c.notNull().defaultTo('{}'))
    .execute();

  await db.schema.createTable('endpoint')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('interface', 'varchar(8)', (c) => c.notNull())
    .addColumn('service_id', 'varchar(64)', (c) => c.notNull().references('service.id'))
    .addColumn('url', 'text', (c) => c.notNull())
    .addColumn('region_id', 'varchar(255)')
    .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('extra', 'text', (c) => c.notNull().defaultTo('{}'))
    .execute();

  await db.schema.createTable('revocation_event')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('domain_id', 'varchar(64)')
    .addColumn('project_id', 'varchar(64)')
    .addColumn('user_id', 'varchar(64)')
    .addColumn('role_id', 'varchar(64)')
    .addColumn('trust_id', 'varchar(64)')
    .addColumn('consumer_id', 'varchar(64)')
    .addColumn('access_token_id', 'varchar(64)')
    .addColumn('issued_before', 'varchar(32)', (c) => c.notNull())
    .addColumn('expires_at', 'varchar(32)')
    .addColumn('revoked_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('audit_id', 'varchar(32)')
    .addColumn('audit_chain_id', 'varchar(32)')
    .execute();
  await db.schema.createIndex('revocation_event_revoked_at').on('revocation_event').column('revoked_at').execute();
  void sql;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['revocation_event', 'endpoint', 'service', 'region', 'assignment', 'implied_role', 'role', 'group_membership', 'identity_group', 'password', 'identity_user', 'project_tag', 'project']) {
    await db.schema.dropTable(t).ifExists().execute();
  }
}
