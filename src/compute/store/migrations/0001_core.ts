// Nova's core tables, reduced to what the API shows and the agent needs. A deleted server keeps a
// row (deleted = 1, as Nova's soft delete, so `GET /servers?deleted=true` and usage reports work)
// until the periodic purge removes rows older than a day. Portable types only: ids as varchar,
// flags as integers, timestamps as ISO-8601 text, structured values (flavor copy, fault details) as
// JSON text.

import type { Kysely } from 'kysely';
import { autoId } from '../../../common/db/index.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('flavors')
    .$call(autoId(db))
    .addColumn('flavorid', 'varchar(255)', (c) => c.notNull().unique())
    .addColumn('name', 'varchar(255)', (c) => c.notNull().unique())
    .addColumn('memory_mb', 'integer', (c) => c.notNull())
    .addColumn('vcpus', 'integer', (c) => c.notNull())
    .addColumn('root_gb', 'integer', (c) => c.notNull())
    .addColumn('ephemeral_gb', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('swap', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('rxtx_factor', 'double precision', (c) => c.notNull().defaultTo(1))
    .addColumn('vcpu_weight', 'integer')
    .addColumn('is_public', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('description', 'text')
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)')
    .execute();

  await db.schema.createTable('flavor_extra_specs')
    .addColumn('flavor_id', 'integer', (c) => c.notNull().references('flavors.id').onDelete('cascade'))
    .addColumn('key', 'varchar(255)', (c) => c.notNull())
    .addColumn('value', 'varchar(255)')
    .addPrimaryKeyConstraint('flavor_extra_specs_pk', ['flavor_id', 'key'])
    .execute();

  await db.schema.createTable('flavor_projects')
    .addColumn('flavor_id', 'integer', (c) => c.notNull().references('flavors.id').onDelete('cascade'))
    .addColumn('project_id', 'varchar(255)', (c) => c.notNull())
    .addPrimaryKeyConstraint('flavor_projects_pk', ['flavor_id', 'project_id'])
    .execute();

  await db.schema.createTable('key_pairs')
    .$call(autoId(db))
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('user_id', 'varchar(255)', (c) => c.notNull())
    .addColumn('fingerprint', 'varchar(255)', (c) => c.notNull())
    .addColumn('public_key', 'text', (c) => c.notNull())
    .addColumn('type', 'varchar(10)', (c) => c.notNull().defaultTo('ssh'))
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addUniqueConstraint('key_pairs_user_name', ['user_id', 'name'])
    .execute();

  await db.schema.createTable('instances')
    .$call(autoId(db))
    .addColumn('uuid', 'varchar(36)', (c) => c.notNull().unique())
    .addColumn('display_name', 'varchar(255)')
    .addColumn('display_description', 'text')
    .addColumn('hostname', 'varchar(255)')
    .addColumn('project_id', 'varchar(255)', (c) => c.notNull())
    .addColumn('user_id', 'varchar(255)', (c) => c.notNull())
    .addColumn('image_ref', 'varchar(255)')
    .addColumn('kernel_id', 'varchar(255)')
    .addColumn('ramdisk_id', 'varchar(255)')
    .addColumn('flavor', 'text', (c) => c.notNull())          // JSON: {cur, old, new} flavor copies
    .addColumn('instance_type_id', 'integer')
    .addColumn('vcpus', 'integer', (c) => c.notNull())
    .addColumn('memory_mb', 'integer', (c) => c.notNull())
    .addColumn('root_gb', 'integer', (c) => c.notNull())
    .addColumn('ephemeral_gb', 'integer', (c) => c.notNull())
    .addColumn('vm_state', 'varchar(255)', (c) => c.notNull())
    .addColumn('task_state', 'varchar(255)')
    .addColumn('power_state', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('host', 'varchar(255)')
    .addColumn('node', 'varchar(255)')
    .addColumn('availability_zone', 'varchar(255)')
    .addColumn('key_name', 'varchar(255)')
    .addColumn('key_data', 'text')
    .addColumn('user_data', 'text')
    .addColumn('config_drive', 'varchar(255)')
    .addColumn('access_ip_v4', 'varchar(39)')
    .addColumn('access_ip_v6', 'varchar(39)')
    .addColumn('locked', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('locked_by', 'varchar(10)')
    .addColumn('locked_reason', 'text')
    .addColumn('progress', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('reservation_id', 'varchar(255)')
    .addColumn('launch_index', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('root_device_name', 'varchar(255)')
    .addColumn('auto_disk_config', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('network_info', 'text')                        // JSON: [{port_id, mac, network, ips...}]
    .addColumn('system_metadata', 'text')                     // JSON: image properties and the like
    .addColumn('launched_at', 'varchar(32)')
    .addColumn('terminated_at', 'varchar(32)')
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)')
    .addColumn('deleted_at', 'varchar(32)')
    .addColumn('deleted', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.createIndex('ix_instances_project').on('instances').columns(['project_id', 'deleted']).execute();
  await db.schema.createIndex('ix_instances_host').on('instances').columns(['host', 'deleted']).execute();
  await db.schema.createIndex('ix_instances_created').on('instances').columns(['created_at', 'id']).execute();
  await db.schema.createIndex('ix_instances_reservation').on('instances').column('reservation_id').execute();

  await db.schema.createTable('instance_metadata')
    .addColumn('instance_uuid', 'varchar(36)', (c) => c.notNull().references('instances.uuid').onDelete('cascade'))
    .addColumn('key', 'varchar(255)', (c) => c.notNull())
    .addColumn('value', 'varchar(255)')
    .addPrimaryKeyConstraint('instance_metadata_pk', ['instance_uuid', 'key'])
    .execute();

  await db.schema.createTable('instance_tags')
    .addColumn('instance_uuid', 'varchar(36)', (c) => c.notNull().references('instances.uuid').onDelete('cascade'))
    .addColumn('tag', 'varchar(80)', (c) => c.notNull())
    .addPrimaryKeyConstraint('instance_tags_pk', ['instance_uuid', 'tag'])
    .execute();
  await db.schema.createIndex('ix_instance_tags_tag').on('instance_tags').column('tag').execute();

  await db.schema.createTable('instance_faults')
    .$call(autoId(db))
    .addColumn('instance_uuid', 'varchar(36)', (c) => c.notNull().references('instances.uuid').onDelete('cascade'))
    .addColumn('code', 'integer', (c) => c.notNull())
    .addColumn('message', 'varchar(255)')
    .addColumn('details', 'text')
    .addColumn('host', 'varchar(255)')
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('ix_instance_faults_uuid').on('instance_faults').column('instance_uuid').execute();

  await db.schema.createTable('instance_actions')
    .$call(autoId(db))
    .addColumn('action', 'varchar(255)', (c) => c.notNull())
    .addColumn('instance_uuid', 'varchar(36)', (c) => c.notNull().references('instances.uuid').onDelete('cascade'))
    .addColumn('request_id', 'varchar(255)', (c) => c.notNull())
    .addColumn('user_id', 'varchar(255)')
    .addColumn('project_id', 'varchar(255)')
    .addColumn('start_time', 'varchar(32)', (c) => c.notNull())
    .addColumn('finish_time', 'varchar(32)')
    .addColumn('message', 'varchar(255)')
    .addColumn('updated_at', 'varchar(32)')
    .execute();
  await db.schema.createIndex('ix_instance_actions_uuid').on('instance_actions').columns(['instance_uuid', 'request_id']).execute();

  await db.schema.createTable('instance_action_events')
    .$call(autoId(db))
    .addColumn('action_id', 'integer', (c) => c.notNull().references('instance_actions.id').onDelete('cascade'))
    .addColumn('event', 'varchar(255)', (c) => c.notNull())
    .addColumn('start_time', 'varchar(32)', (c) => c.notNull())
    .addColumn('finish_time', 'varchar(32)')
    .addColumn('result', 'varchar(255)')
    .addColumn('traceback', 'text')
    .addColumn('host', 'varchar(255)')
    .addColumn('details', 'text')
    .execute();

  // nova-compute services and their hypervisors (compute nodes).
  await db.schema.createTable('services')
    .$call(autoId(db))
    .addColumn('uuid', 'varchar(36)', (c) => c.notNull().unique())
    .addColumn('host', 'varchar(255)', (c) => c.notNull())
    .addColumn('binary', 'varchar(255)', (c) => c.notNull())
    .addColumn('topic', 'varchar(255)')
    .addColumn('report_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('disabled_reason', 'varchar(255)')
    .addColumn('forced_down', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_seen_up', 'varchar(32)')
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)')
    .addUniqueConstraint('services_host_binary', ['host', 'binary'])
    .execute();

  await db.schema.createTable('compute_nodes')
    .$call(autoId(db))
    .addColumn('uuid', 'varchar(36)', (c) => c.notNull().unique())
    .addColumn('host', 'varchar(255)', (c) => c.notNull())
    .addColumn('hypervisor_hostname', 'varchar(255)', (c) => c.notNull().unique())
    .addColumn('hypervisor_type', 'varchar(255)', (c) => c.notNull())
    .addColumn('hypervisor_version', 'integer', (c) => c.notNull())
    .addColumn('vcpus', 'integer', (c) => c.notNull())
    .addColumn('memory_mb', 'integer', (c) => c.notNull())
    .addColumn('local_gb', 'integer', (c) => c.notNull())
    .addColumn('cpu_info', 'text')
    .addColumn('host_ip', 'varchar(39)')
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)')
    .execute();

  // Resize and cold migration records (os-migrations).
  await db.schema.createTable('migrations')
    .$call(autoId(db))
    .addColumn('uuid', 'varchar(36)', (c) => c.notNull().unique())
    .addColumn('instance_uuid', 'varchar(36)', (c) => c.notNull())
    .addColumn('source_compute', 'varchar(255)')
    .addColumn('dest_compute', 'varchar(255)')
    .addColumn('source_node', 'varchar(255)')
    .addColumn('dest_node', 'varchar(255)')
    .addColumn('old_instance_type_id', 'integer')
    .addColumn('new_instance_type_id', 'integer')
    .addColumn('migration_type', 'varchar(20)', (c) => c.notNull())
    .addColumn('status', 'varchar(255)', (c) => c.notNull())
    .addColumn('project_id', 'varchar(255)')
    .addColumn('user_id', 'varchar(255)')
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)')
    .execute();
  await db.schema.createIndex('ix_migrations_instance').on('migrations').column('instance_uuid').execute();

  // noVNC console tokens (only the sha256 of the token is kept).
  await db.schema.createTable('console_auth_tokens')
    .addColumn('token_hash', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('instance_uuid', 'varchar(36)', (c) => c.notNull())
    .addColumn('console_type', 'varchar(32)', (c) => c.notNull())
    .addColumn('host', 'varchar(255)', (c) => c.notNull())
    .addColumn('expires', 'bigint', (c) => c.notNull())
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['console_auth_tokens', 'migrations', 'compute_nodes', 'services', 'instance_action_events', 'instance_actions',
    'instance_faults', 'instance_tags', 'instance_metadata', 'instances', 'key_pairs', 'flavor_projects', 'flavor_extra_specs', 'flavors']) {
    await db.schema.dropTable(t).ifExists().execute();
  }
}
