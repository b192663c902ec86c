// Keypair rows (per user) and the lookup server create needs. The keypairs API adds the rest.

import type { Kysely } from 'kysely';

export interface KeypairRow {
  id: number; name: string; user_id: string; fingerprint: string; public_key: string; type: string; created_at: string;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function keypairByName(db: Kysely<any>, userId: string, name: string): Promise<KeypairRow | undefined> {
  return db.selectFrom('key_pairs').selectAll().where('user_id', '=', userId).where('name', '=', name).executeTakeFirst() as Promise<KeypairRow | undefined>;
}
