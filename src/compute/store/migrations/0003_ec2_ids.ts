// EC2 image ids for the metadata service (Nova's s3_images table): an image uuid gets a small
// integer once, shown to guests as ami-/aki-/ari-%08x. Instance ids use instances.id.

import type { Kysely } from 'kysely';
import { autoId } from '../../../common/db/index.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('s3_images')
    .$call(autoId(db))
    .addColumn('uuid', 'varchar(36)', (c) => c.notNull().unique())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('s3_images').execute();
}
