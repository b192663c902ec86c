// The placement service's migrations, in order (tracked in placement_migration).
import type { Migration } from 'kysely';
import * as m0001 from './migrations/0001_placement.js';
import * as m0002 from './migrations/0002_usage_index.js';

export const placementMigrations: Record<string, Migration> = {
  '0001_placement': m0001,
  '0002_usage_index': m0002,
};
