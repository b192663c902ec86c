// Neutron's L3 tables (routers with their extra routes, floating IPs), prefixed neutron_, with the
// standard attributes on the row as in 0001. A router's ports are ordinary ports (device_id = the
// router, device_owner network:router_interface / network:router_gateway), so IPAM, the in-use
// checks of networks and subnets and the agents see them without a routerports table. Extra routes
// are JSON text (the API treats them as a whole list). One floating IP per (floating network,
// fixed port, fixed address) is a unique index, as Neutron's: rows without a fixed port never
// collide (NULLs are distinct on all three engines).

import type { Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('neutron_routers')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(255)', (c) => c.notNull().defaultTo(''))
    .addColumn('project_id', 'varchar(255)', (c) => c.notNull().defaultTo(''))
    .addColumn('description', 'varchar(255)', (c) => c.notNull().defaultTo(''))
    .addColumn('revision_number', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('admin_state_up', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('gw_port_id', 'varchar(36)')
    .addColumn('enable_snat', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('routes', 'text', (c) => c.notNull())
    .addColumn('availability_zone_hints', 'varchar(255)', (c) => c.notNull().defaultTo('[]'))
    .execute();
  await db.schema.createIndex('ix_neutron_routers_project').on('neutron_routers').column('project_id').execute();

  await db.schema.createTable('neutron_floatingips')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('project_id', 'varchar(255)', (c) => c.notNull().defaultTo(''))
    .addColumn('description', 'varchar(255)', (c) => c.notNull().defaultTo(''))
    .addColumn('revision_number', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('floating_ip_address', 'varchar(64)', (c) => c.notNull())
    .addColumn('floating_network_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('floating_port_id', 'varchar(36)', (c) => c.notNull())
    .addColumn('fixed_port_id', 'varchar(36)')
    .addColumn('fixed_ip_address', 'varchar(64)')
    .addColumn('router_id', 'varchar(36)')
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('ux_neutron_fip_assoc').on('neutron_floatingips')
    .columns(['floating_network_id', 'fixed_port_id', 'fixed_ip_address']).unique().execute();
  await db.schema.createIndex('ix_neutron_fip_router').on('neutron_floatingips').column('router_id').execute();
  await db.schema.createIndex('ix_neutron_fip_project').on('neutron_floatingips').column('project_id').execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('neutron_floatingips').ifExists().execute();
  await db.schema.dropTable('neutron_routers').ifExists().execute();
}
