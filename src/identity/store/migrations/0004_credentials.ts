// Credentials (/v3/credentials and the OS-EC2 view of them), as Keystone keeps them: the blob is
// stored only encrypted (Fernet, with the credential key repository) beside the SHA-1 of the key
// that encrypted it, so a key rotation can tell which rows still need the old key.
// Portable types only (see 0001_core).

import type { Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('credential')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('user_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('project_id', 'varchar(64)')
    .addColumn('type', 'varchar(255)', (c) => c.notNull())
    .addColumn('encrypted_blob', 'text', (c) => c.notNull())
    .addColumn('key_hash', 'varchar(64)', (c) => c.notNull())
    .addColumn('extra', 'text', (c) => c.notNull().defaultTo('{}'))
    .execute();
  await db.schema.createIndex('credential_user_type').on('credential').columns(['user_id', 'type']).execute();
  await db.schema.createIndex('credential_project').on('credential').column('project_id').execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('credential').ifExists().execute();
}
