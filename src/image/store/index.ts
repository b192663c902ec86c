// The image service's migrations, in order. Each area adds its own file; names sort in order.
import type { Migration } from 'kysely';
import * as m0001 from './migrations/0001_images.js';
import * as m0002 from './migrations/0002_metadefs.js';

export const imageMigrations: Record<string, Migration> = {
  '0001_images': m0001,
  '0002_metadefs': m0002,
};
