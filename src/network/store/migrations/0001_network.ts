// Neutron's core tables (networks, segments, subnets, subnet pools, ports and their IP
// allocations, security groups and rules, RBAC, quotas, agents, tags), prefixed neutron_.
// Every resource row carries Neutron's standard attributes (description, revision_number,
// created_at, updated_at) itself rather than through a separate standardattributes table: one
// fewer join per read, same API. Booleans are integers 0/1 (portable across the three engines;
// better-sqlite3 binds no JS booleans). Lists and dicts the API treats as a whole (allocation
// pools, dns servers, host routes, binding profile, address pairs) are JSON text.
// The uniqueness rules that must hold under concurrency are constraints here, not code:
// one (subnet, ip_address), one (network, mac_address), one default security group per project,
// one owner per (network_type, physical_network, segmentation_id).

import type { Kysely, CreateTableBuilder } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type T = CreateTableBuilder<any, any>;

/** The standard attributes, and project_id, on a resource table. */
const std = (t: T): T => t
  .addColumn('project_id', 'varchar(255)', (c) => c.notNull().defaultTo(''))
  .addColumn('description', 'varchar(255)', (c) => c.notNull().defaultTo(''))
  .addColumn('revision_number', 'integer', (c) => c.notNull().defaultTo(0))
  .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
  .addColumn('updated_at', 'varchar(32)', (c) => c.notNull());

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('neutron_networks')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(255)', (c) => c.notNull().defaultTo(''))
    .$call(std)
    .addColumn('admin_state_up', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('mtu', 'integer', (c) => c.notNull())
    .addColumn('port_security_enabled', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('external', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('is_default', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('availability_zone_hints', 'varchar(255)', (c) => c.notNull().defaultTo('[]'))
    .addColumn('dns_domain', 'varchar(255)', (c) => c.notNull().defaultTo(''))
    .execute();
  await db.schema.createIndex('ix_neutron_networks_project').on('neutron_networks').column('project_id').execute();

  // The network's segment (one per network here: Neutron's provider attributes).
  await db.schema.createTable('neutron_segments')
    .addColumn('network_id', 'varchar(36)', (c) => c.primaryKey().references('neutron_networks.id').onDelete('cascade'))
    .addColumn('network_type', 'varchar(32)', (c) => c.notNull())
    .addColumn('physical_network', 'varchar(64)', (c) => c.notNull().defaultTo(''))
    .addColumn('segmentation_id', 'integer')
    .execute();
  // Two networks never share a VLAN on a physnet or a VNI; a flat physnet is exclusive too (its
  // segmentation_id is 0); local networks have NULL, which a unique index never compares.
  await db.schema.createIndex('ux_neutron_segments_alloc').on('neutron_segments')
    .columns(['network_type', 'physical_network', 'segmentation_id']).unique().execute();

  await db.schema.createTable('neutron_subnetpools')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(255)', (c) => c.notNull().defaultTo(''))
    .$call(std)
    .addColumn('ip_version', 'integer', (c) => c.notNull())
    .addColumn('prefixes', 'text', (c) => c.notNull())
    .addColumn('default_prefixlen', 'integer', (c) => c.notNull())
    .addColumn('min_prefixlen', 'integer', (c) => c.notNull())
    .addColumn('max_prefixlen', 'integer', (c) => c.notNull())
    .addColumn('shared', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('is_default', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('default_quota', 'integer')
    .addColumn('address_scope_id', 'varchar(36)')
    .execute();

  await db.schema.createTable('neutron_subnets')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(255)', (c) => c.notNull().defaultTo(''))
    .$call(std)
    .addColumn('network_id', 'varchar(36)', (c) => c.notNull().references('neutron_networks.id'))
    .addColumn('ip_version', 'integer', (c) => c.notNull())
    .addColumn('cidr', 'varchar(64)', (c) => c.notNull())
    .addColumn('gateway_ip', 'varchar(64)')
    .addColumn('enable_dhcp', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('ipv6_ra_mode', 'varchar(16)')
    .addColumn('ipv6_address_mode', 'varchar(16)')
    .addColumn('subnetpool_id', 'varchar(36)')
    .addColumn('allocation_pools', 'text', (c) => c.notNull())
    .addColumn('dns_nameservers', 'text', (c) => c.notNull())
    .addColumn('host_routes', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('ix_neutron_subnets_network').on('neutron_subnets').column('network_id').execute();

  await db.schema.createTable('neutron_ports')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(255)', (c) => c.notNull().defaultTo(''))
    .$call(std)
    .addColumn('network_id', 'varchar(36)', (c) => c.notNull().references('neutron_networks.id'))
    .addColumn('mac_address', 'varchar(32)', (c) => c.notNull())
    .addColumn('admin_state_up', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('device_id', 'varchar(255)', (c) => c.notNull().defaultTo(''))
    .addColumn('device_owner', 'varchar(255)', (c) => c.notNull().defaultTo(''))
    .addColumn('binding_host_id', 'varchar(255)', (c) => c.notNull().defaultTo(''))
    .addColumn('binding_vif_type', 'varchar(64)', (c) => c.notNull().defaultTo('unbound'))
    .addColumn('binding_vif_details', 'text', (c) => c.notNull())
    .addColumn('binding_vnic_type', 'varchar(64)', (c) => c.notNull().defaultTo('normal'))
    .addColumn('binding_profile', 'text', (c) => c.notNull())
    .addColumn('port_security_enabled', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('allowed_address_pairs', 'text', (c) => c.notNull())
    .addColumn('extra_dhcp_opts', 'text', (c) => c.notNull())
    .addColumn('dns_name', 'varchar(255)', (c) => c.notNull().defaultTo(''))
    .execute();
  await db.schema.createIndex('ux_neutron_ports_mac').on('neutron_ports').columns(['network_id', 'mac_address']).unique().execute();
  await db.schema.createIndex('ix_neutron_ports_device').on('neutron_ports').column('device_id').execute();
  await db.schema.createIndex('ix_neutron_ports_project').on('neutron_ports').column('project_id').execute();

  // One row per fixed IP: the primary key is what makes double allocation impossible.
  await db.schema.createTable('neutron_ipallocations')
    .addColumn('subnet_id', 'varchar(36)', (c) => c.notNull().references('neutron_subnets.id'))
    .addColumn('ip_address', 'varchar(64)', (c) => c.notNull())
    .addColumn('port_id', 'varchar(36)', (c) => c.notNull().references('neutron_ports.id').onDelete('cascade'))
    .addColumn('network_id', 'varchar(36)', (c) => c.notNull())
    .addPrimaryKeyConstraint('neutron_ipallocations_pk', ['subnet_id', 'ip_address'])
    .execute();
  await db.schema.createIndex('ix_neutron_ipalloc_port').on('neutron_ipallocations').column('port_id').execute();

  await db.schema.createTable('neutron_security_groups')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(255)', (c) => c.notNull().defaultTo(''))
    .$call(std)
    .addColumn('stateful', 'integer', (c) => c.notNull().defaultTo(1))
    .execute();
  await db.schema.createIndex('ix_neutron_sg_project').on('neutron_security_groups').column('project_id').execute();
  await db.schema.createTable('neutron_default_security_groups')
    .addColumn('project_id', 'varchar(255)', (c) => c.primaryKey())
    .addColumn('security_group_id', 'varchar(36)', (c) => c.notNull().references('neutron_security_groups.id').onDelete('cascade'))
    .execute();

  await db.schema.createTable('neutron_sg_rules')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .$call(std)
    .addColumn('security_group_id', 'varchar(36)', (c) => c.notNull().references('neutron_security_groups.id').onDelete('cascade'))
    .addColumn('direction', 'varchar(8)', (c) => c.notNull())
    .addColumn('ethertype', 'varchar(8)', (c) => c.notNull())
    .addColumn('protocol', 'varchar(40)')
    .addColumn('port_range_min', 'integer')
    .addColumn('port_range_max', 'integer')
    .addColumn('remote_ip_prefix', 'varchar(64)')
    .addColumn('remote_group_id', 'varchar(36)')
    .addColumn('remote_address_group_id', 'varchar(36)')
    .execute();
  await db.schema.createIndex('ix_neutron_sg_rules_sg').on('neutron_sg_rules').column('security_group_id').execute();

  await db.schema.createTable('neutron_port_security_groups')
    .addColumn('port_id', 'varchar(36)', (c) => c.notNull().references('neutron_ports.id').onDelete('cascade'))
    .addColumn('security_group_id', 'varchar(36)', (c) => c.notNull().references('neutron_security_groups.id'))
    .addPrimaryKeyConstraint('neutron_port_sg_pk', ['port_id', 'security_group_id'])
    .execute();
  await db.schema.createIndex('ix_neutron_port_sg_sg').on('neutron_port_security_groups').column('security_group_id').execute();

  await db.schema.createTable('neutron_rbac_policies')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('project_id', 'varchar(255)', (c) => c.notNull())
    .addColumn('object_type', 'varchar(32)', (c) => c.notNull())
    .addColumn('object_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('target_project', 'varchar(255)', (c) => c.notNull())
    .addColumn('action', 'varchar(32)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('ux_neutron_rbac').on('neutron_rbac_policies')
    .columns(['object_type', 'object_id', 'target_project', 'action']).unique().execute();

  await db.schema.createTable('neutron_quotas')
    .addColumn('project_id', 'varchar(255)', (c) => c.notNull())
    .addColumn('resource', 'varchar(255)', (c) => c.notNull())
    .addColumn('limit', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('neutron_quotas_pk', ['project_id', 'resource'])
    .execute();

  await db.schema.createTable('neutron_agents')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('agent_type', 'varchar(255)', (c) => c.notNull())
    .addColumn('binary', 'varchar(255)', (c) => c.notNull())
    .addColumn('topic', 'varchar(255)', (c) => c.notNull())
    .addColumn('host', 'varchar(255)', (c) => c.notNull())
    .addColumn('availability_zone', 'varchar(255)')
    .addColumn('admin_state_up', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('description', 'varchar(255)')
    .addColumn('configurations', 'text', (c) => c.notNull())
    .addColumn('resource_versions', 'text')
    .addColumn('load', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('resources_synced', 'integer')
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('started_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('heartbeat_timestamp', 'varchar(32)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('ux_neutron_agents_type_host').on('neutron_agents').columns(['agent_type', 'host']).unique().execute();

  await db.schema.createTable('neutron_tags')
    .addColumn('resource_type', 'varchar(32)', (c) => c.notNull())
    .addColumn('resource_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('tag', 'varchar(255)', (c) => c.notNull())
    .addPrimaryKeyConstraint('neutron_tags_pk', ['resource_type', 'resource_id', 'tag'])
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['neutron_tags', 'neutron_agents', 'neutron_quotas', 'neutron_rbac_policies', 'neutron_port_security_groups',
    'neutron_sg_rules', 'neutron_default_security_groups', 'neutron_security_groups', 'neutron_ipallocations', 'neutron_ports',
    'neutron_subnets', 'neutron_subnetpools', 'neutron_segments', 'neutron_networks']) {
    await db.schema.dropTable(t).ifExists().execute();
  }
}
