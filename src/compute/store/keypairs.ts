// Keypair rows (per user) and the lookup server create needs. The keypairs API adds the rest.

import type { Kysely } from 'kysely';

export interface KeypairRow {
  id: number; name: string; user_id: string; fingerprint: string; public_key: string; type: string; created_at: string;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function keypairByName(db: Kysely<any>, userId: string, name: string): Promise<KeypairRow | undefined> {
  return db.selectFrom('key_pairs').selectAll().where('user_id', '=', userId).where('name', '=', name).executeTakeFirst() as Promise<KeypairRow | undefined>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Db = Kysely<any>;

/** A user's key pairs by name, after `marker` (a name) and at most `limit` of them. */
export async function keypairsOfUser(db: Db, userId: string, limit?: number, marker?: string): Promise<KeypairRow[]> {
  let q = db.selectFrom('key_pairs').selectAll().where('user_id', '=', userId).orderBy('name').orderBy('id');
  if (marker !== undefined) q = q.where('name', '>', marker);
  if (limit !== undefined) q = q.limit(limit);
  return (await q.execute()) as KeypairRow[];
}

/** Inserts a key pair; false when the user already has one of that name. */
export async function insertKeypair(db: Db, k: Omit<KeypairRow, 'id' | 'created_at'>, isUnique: (e: unknown) => boolean): Promise<KeypairRow | null> {
  if (await keypairByName(db, k.user_id, k.name)) return null;
  try {
    await db.insertInto('key_pairs').values({ ...k, created_at: new Date().toISOString() }).execute();
  } catch (e) {
    if (isUnique(e)) return null;
    throw e;
  }
  return (await keypairByName(db, k.user_id, k.name))!;
}

export async function deleteKeypair(db: Db, userId: string, name: string): Promise<boolean> {
  const r = await db.deleteFrom('key_pairs').where('user_id', '=', userId).where('name', '=', name).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}
