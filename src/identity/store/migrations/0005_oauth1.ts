// OAuth1 delegation (OS-OAUTH1): consumers, request tokens (short-lived, deleted once exchanged)
// and access tokens, with Keystone's columns. Secrets are random 128-bit hex strings, stored as
// Keystone stores them (the OAuth1 HMAC signature needs the plain secret on both ends).
// Portable types only (see 0001_core).

import type { Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('oauth_consumer')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('description', 'text')
    .addColumn('secret', 'varchar(64)', (c) => c.notNull())
    .addColumn('extra', 'text', (c) => c.notNull().defaultTo('{}'))
    .execute();

  await db.schema.createTable('oauth_request_token')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('request_secret', 'varchar(64)', (c) => c.notNull())
    .addColumn('verifier', 'varchar(64)')
    .addColumn('authorizing_user_id', 'varchar(64)')
    .addColumn('requested_project_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('role_ids', 'text')
    .addColumn('consumer_id', 'varchar(64)', (c) => c.notNull().references('oauth_consumer.id').onDelete('cascade'))
    .addColumn('expires_at', 'varchar(32)')
    .execute();
  await db.schema.createIndex('oauth_request_token_consumer').on('oauth_request_token').column('consumer_id').execute();

  await db.schema.createTable('oauth_access_token')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('access_secret', 'varchar(64)', (c) => c.notNull())
    .addColumn('authorizing_user_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('project_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('role_ids', 'text', (c) => c.notNull())
    .addColumn('consumer_id', 'varchar(64)', (c) => c.notNull().references('oauth_consumer.id').onDelete('cascade'))
    .addColumn('expires_at', 'varchar(32)')
    .execute();
  await db.schema.createIndex('oauth_access_token_user').on('oauth_access_token').column('authorizing_user_id').execute();
  await db.schema.createIndex('oauth_access_token_consumer').on('oauth_access_token').column('consumer_id').execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['oauth_access_token', 'oauth_request_token', 'oauth_consumer']) await db.schema.dropTable(t).ifExists().execute();
}
