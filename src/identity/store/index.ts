// The identity service's migrations, in order. Each area adds its own file; names sort in order.
import type { Migration } from 'kysely';
import * as m0001 from './migrations/0001_core.js';
import * as m0002 from './migrations/0002_trusts.js';
import * as m0003 from './migrations/0003_application_credentials.js';
import * as m0004 from './migrations/0004_credentials.js';
import * as m0005 from './migrations/0005_oauth1.js';
import * as m0006 from './migrations/0006_federation.js';
import * as m0007 from './migrations/0007_endpoint_filter.js';
import * as m0008 from './migrations/0008_policies.js';
import * as m0009 from './migrations/0009_domain_config.js';
import * as m0010 from './migrations/0010_limits.js';

export const identityMigrations: Record<string, Migration> = {
  '0001_core': m0001,
  '0002_trusts': m0002,
  '0003_application_credentials': m0003,
  '0004_credentials': m0004,
  '0005_oauth1': m0005,
  '0006_federation': m0006,
  '0007_endpoint_filter': m0007,
  '0008_policies': m0008,
  '0009_domain_config': m0009,
  '0010_limits': m0010,
};
