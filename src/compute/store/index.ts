// The compute service's migrations, in order. Each area adds its own file; names sort in order.
import type { Migration } from 'kysely';
import * as m0001 from './migrations/0001_core.js';
import * as m0002 from './migrations/0002_quotas_groups_aggregates.js';
import * as m0003 from './migrations/0003_ec2_ids.js';
import * as m0004 from './migrations/0004_usage_indexes.js';

export const computeMigrations: Record<string, Migration> = {
  '0001_core': m0001,
  '0002_quotas_groups_aggregates': m0002,
  '0003_ec2_ids': m0003,
  '0004_usage_indexes': m0004,
};
