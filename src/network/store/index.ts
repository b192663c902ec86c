// The network service's migrations, in order (tracked in network_migration). Other areas (L3:
// routers, floating IPs) add their own numbered files here: '0002_l3...'.
import type { Migration } from 'kysely';
import * as m0001 from './migrations/0001_network.js';
import * as m0002 from './migrations/0002_l3.js';

export const networkMigrations: Record<string, Migration> = {
  '0001_network': m0001,
  '0002_l3': m0002,
};
