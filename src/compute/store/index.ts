// The compute service's migrations, in order. Each area adds its own file; names sort in order.
import type { Migration } from 'kysely';
import * as m0001 from './migrations/0001_core.js';

export const computeMigrations: Record<string, Migration> = {
  '0001_core': m0001,
};
