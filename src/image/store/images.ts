// Images in the database: rows to domain objects and back, Glance's visibility rules for reads
// and lists, filters, keyset pagination over any sort keys, members, tasks' atomic locks.

import { randomUUID } from 'node:crypto';
import { sql, type Expression, type Kysely, type SqlBool } from 'kysely';
import { isUniqueViolation } from '../../common/db/index.js';
import { keyed, prepared } from '../../common/db/prepared.js';
import { glanceError } from '../errors.js';
import { nowIso, parseJson } from '../util.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type DB = Kysely<any>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Row = Record<string, any>;

export interface Location {
  id: string;
  url: string;
  metadata: Record<string, unknown>;
  status: string;
}

export interface Image {
  id: string;
  name: string | null;
  status: string;
  visibility: string;
  size: number | null;
  virtual_size: number | null;
  checksum: string | null;
  os_hash_algo: string | null;
  os_hash_value: string | null;
  owner: string | null;
  disk_format: string | null;
  container_format: string | null;
  min_disk: number;
  min_ram: number;
  protected: boolean;
  os_hidden: boolean;
  created_at: string;
  updated_at: string;
  properties: Record<string, string | null>;
  tags: string[];
  /** Active locations, in order. */
  locations: Location[];
}

export interface Member {
  image_id: string;
  member: string;
  status: string;
  created_at: string;
  updated_at: string;
}

/** The core columns (everything but properties, tags and locations). */
export const CORE_COLUMNS = ['name', 'status', 'visibility', 'size', 'virtual_size', 'checksum', 'os_hash_algo', 'os_hash_value',
  'owner', 'disk_format', 'container_format', 'min_disk', 'min_ram', 'protected', 'os_hidden'] as const;

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

function fromRow(r: Row): Image {
  return {
    id: r.id, name: r.name ?? null, status: r.status, visibility: r.visibility,
    size: num(r.size), virtual_size: num(r.virtual_size),
    checksum: r.checksum ?? null, os_hash_algo: r.os_hash_algo ?? null, os_hash_value: r.os_hash_value ?? null,
    owner: r.owner ?? null, disk_format: r.disk_format ?? null, container_format: r.container_format ?? null,
    min_disk: Number(r.min_disk ?? 0), min_ram: Number(r.min_ram ?? 0),
    protected: !!Number(r.protected), os_hidden: !!Number(r.os_hidden),
    created_at: r.created_at, updated_at: r.updated_at,
    properties: {}, tags: [], locations: [],
  };
}

function toRow(i: Image): Row {
  return {
    id: i.id, name: i.name, status: i.status, visibility: i.visibility, size: i.size, virtual_size: i.virtual_size,
    checksum: i.checksum, os_hash_algo: i.os_hash_algo, os_hash_value: i.os_hash_value, owner: i.owner,
    disk_format: i.disk_format, container_format: i.container_format, min_disk: i.min_disk, min_ram: i.min_ram,
    protected: i.protected ? 1 : 0, os_hidden: i.os_hidden ? 1 : 0, created_at: i.created_at, updated_at: i.updated_at,
  };
}

/** A deep copy, to diff after changes. */
export function cloneImage(i: Image): Image {
  return {
    ...i, properties: { ...i.properties }, tags: [...i.tags],
    locations: i.locations.map((l) => ({ ...l, metadata: structuredClone(l.metadata) })),
  };
}

// One query for the three child tables (properties, tags, active locations) of up to 500 images:
// rows of (image, kind, a, b, c, d, n), sorted by the caller. Prepared per list length (an image
// show reads one image: this and the row are its only statements).
const childrenOf = keyed((n: number) => (db: DB, ...ids: string[]) => db.selectFrom('image_properties')
  .select(['image_id', sql<string>`'p'`.as('kind'), 'name as a', 'value as b', sql<string>`null`.as('c'), sql<string>`null`.as('d'), sql<number>`0`.as('n')])
  .where('image_id', 'in', ids.slice(0, n))
  .unionAll(db.selectFrom('image_tags')
    .select(['image_id', sql<string>`'t'`.as('kind'), 'value as a', 'created_at as b', sql<string>`null`.as('c'), sql<string>`null`.as('d'), sql<number>`0`.as('n')])
    .where('image_id', 'in', ids.slice(0, n)))
  .unionAll(db.selectFrom('image_locations')
    .select(['image_id', sql<string>`'l'`.as('kind'), 'id as a', 'url as b', 'meta_data as c', 'status as d', 'position as n'])
    .where('image_id', 'in', ids.slice(0, n)).where('status', '=', 'active')));
const imageRow = prepared<[string], Row>((db, id) => db.selectFrom('images').selectAll().where('id', '=', id));

async function attach(db: DB, images: Image[]): Promise<Image[]> {
  if (!images.length) return images;
  const byId = new Map(images.map((i) => [i.id, i]));
  const ids = [...byId.keys()];
  // Chunks keep IN lists small enough for every engine.
  for (let k = 0; k < ids.length; k += 500) {
    const part = ids.slice(k, k + 500);
    // Lists reuse the statements of the sizes they meet; odd sizes round up to a multiple of 50
    // (padded with an id that matches nothing) so a listing makes few distinct statements.
    const size = part.length <= 4 ? part.length : Math.ceil(part.length / 50) * 50;
    const args = part.length === size ? part : [...part, ...Array<string>(size - part.length).fill('')];
    const rows = (await childrenOf(size)(db, ...args)).rows as Row[];
    const props = rows.filter((r: Row) => r.kind === 'p').sort((x: Row, y: Row) => (x.a < y.a ? -1 : x.a > y.a ? 1 : 0));
    const tags = rows.filter((r: Row) => r.kind === 't').sort((x: Row, y: Row) => (x.b < y.b ? -1 : x.b > y.b ? 1 : x.a < y.a ? -1 : x.a > y.a ? 1 : 0));
    const locs = rows.filter((r: Row) => r.kind === 'l').sort((x: Row, y: Row) => Number(x.n) - Number(y.n));
    for (const p of props) byId.get(p.image_id)!.properties[p.a] = p.b ?? null;
    for (const t of tags) byId.get(t.image_id)!.tags.push(t.a);
    for (const l of locs) byId.get(l.image_id)!.locations.push({ id: l.a, url: l.b, metadata: parseJson(l.c, {}), status: l.d });
  }
  return images;
}

export async function loadImage(db: DB, id: string): Promise<Image | undefined> {
  if (id.length > 36) return undefined;
  const r = (await imageRow(db, id)).rows[0];
  if (!r) return undefined;
  return (await attach(db, [fromRow(r)]))[0];
}

export async function insertImage(db: DB, image: Image): Promise<void> {
  try {
    await db.transaction().execute(async (trx) => {
      await trx.insertInto('images').values(toRow(image)).execute();
      await writeChildren(trx, image, undefined);
    });
  } catch (e) {
    if (isUniqueViolation(e)) throw glanceError('Duplicate', `Image ID ${image.id} already exists!`);
    throw e;
  }
}

async function writeChildren(db: DB, after: Image, before: Image | undefined): Promise<void> {
  const now = nowIso();
  const oldProps = before?.properties ?? {};
  const goneProps = Object.keys(oldProps).filter((k) => !(k in after.properties));
  const setProps = Object.entries(after.properties).filter(([k, v]) => !(k in oldProps) || oldProps[k] !== v);
  if (goneProps.length || setProps.length) {
    const names = [...goneProps, ...setProps.map(([k]) => k)];
    for (let k = 0; k < names.length; k += 500) {
      await db.deleteFrom('image_properties').where('image_id', '=', after.id).where('name', 'in', names.slice(k, k + 500)).execute();
    }
    if (setProps.length) {
      await db.insertInto('image_properties').values(setProps.map(([name, value]) => ({ image_id: after.id, name, value }))).execute();
    }
  }
  const oldTags = new Set(before?.tags ?? []);
  const newTags = new Set(after.tags);
  const goneTags = [...oldTags].filter((t) => !newTags.has(t));
  const addTags = [...newTags].filter((t) => !oldTags.has(t));
  if (goneTags.length) await db.deleteFrom('image_tags').where('image_id', '=', after.id).where('value', 'in', goneTags).execute();
  if (addTags.length) await db.insertInto('image_tags').values(addTags.map((value) => ({ image_id: after.id, value, created_at: now }))).execute();

  const locsChanged = !before || JSON.stringify(before.locations) !== JSON.stringify(after.locations);
  if (locsChanged) {
    if (before) await db.deleteFrom('image_locations').where('image_id', '=', after.id).execute();
    if (after.locations.length) {
      await db.insertInto('image_locations').values(after.locations.map((l, position) => {
        l.id ||= randomUUID();
        return { id: l.id, image_id: after.id, position, url: l.url, meta_data: JSON.stringify(l.metadata ?? {}), status: l.status || 'active', created_at: now };
      })).execute();
    }
  }
}

/**
 * Writes an image's changes. With fromState, only when the row is still in that state (someone
 * else may have moved it): otherwise Conflict, and nothing is written.
 */
export async function saveImage(db: DB, before: Image, after: Image, fromState?: string): Promise<void> {
  after.updated_at = nowIso();
  await db.transaction().execute(async (trx) => {
    const row = toRow(after);
    delete row.id;
    delete row.created_at;
    let q = trx.updateTable('images').set(row).where('id', '=', after.id);
    if (fromState) q = q.where('status', '=', fromState);
    const res = await q.executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) {
      const cur = await trx.selectFrom('images').select('status').where('id', '=', after.id).executeTakeFirst();
      if (!cur) throw glanceError('NotFound', `No image found with ID ${after.id}`);
      throw glanceError('Conflict', `cannot transition from ${cur.status} to ${after.status} in update (wanted from_state=${fromState})`);
    }
    await writeChildren(trx, after, before);
  });
}

export async function deleteImageRow(db: DB, id: string): Promise<void> {
  await db.deleteFrom('images').where('id', '=', id).execute();
}

/** Sets a property only when the image does not have it yet (the import lock). */
export async function setPropertyAtomic(db: DB, imageId: string, name: string, value: string): Promise<void> {
  try {
    await db.insertInto('image_properties').values({ image_id: imageId, name, value }).execute();
  } catch (e) {
    if (isUniqueViolation(e)) throw glanceError('Duplicate', 'An object with the same identifier already exists.');
    throw e;
  }
}

/** Removes a property only when it still has this value. */
export async function deletePropertyAtomic(db: DB, imageId: string, name: string, value: string): Promise<void> {
  const r = await db.deleteFrom('image_properties').where('image_id', '=', imageId).where('name', '=', name).where('value', '=', value).executeTakeFirst();
  if (Number(r.numDeletedRows) === 0) throw glanceError('NotFound', 'An object with the specified identifier was not found.');
}

// ---- members -------------------------------------------------------------------------------

export async function findMembers(db: DB, q: { imageId?: string; member?: string; status?: string }): Promise<Member[]> {
  let s = db.selectFrom('image_members').selectAll();
  if (q.imageId !== undefined) s = s.where('image_id', '=', q.imageId);
  if (q.member !== undefined) s = s.where('member', '=', q.member);
  if (q.status !== undefined) s = s.where('status', '=', q.status);
  return (await s.orderBy('created_at').orderBy('member').execute()) as Member[];
}

export async function insertMember(db: DB, m: Member): Promise<void> {
  try {
    await db.insertInto('image_members').values(m).execute();
  } catch (e) {
    if (isUniqueViolation(e)) throw glanceError('Duplicate', `The target member ${m.member} is already associated with image ${m.image_id}.`);
    throw e;
  }
}

export async function updateMember(db: DB, m: Member): Promise<void> {
  m.updated_at = nowIso();
  await db.updateTable('image_members').set({ status: m.status, updated_at: m.updated_at })
    .where('image_id', '=', m.image_id).where('member', '=', m.member).execute();
}

export async function deleteMember(db: DB, imageId: string, member: string): Promise<void> {
  await db.deleteFrom('image_members').where('image_id', '=', imageId).where('member', '=', member).execute();
}

export async function countMembers(db: DB, imageId: string): Promise<number> {
  const r = await db.selectFrom('image_members').select(db.fn.countAll().as('n')).where('image_id', '=', imageId).executeTakeFirst();
  return Number(r?.n ?? 0);
}

// ---- visibility ----------------------------------------------------------------------------

export interface Viewer { owner: string | null; isAdmin: boolean }

/** glance.db.utils.is_image_visible: any member status counts. */
export async function isImageVisible(db: DB, v: Viewer, image: Image): Promise<boolean> {
  if (v.isAdmin) return true;
  if (image.owner === null) return true;
  if (image.visibility === 'public' || image.visibility === 'community') return true;
  if (v.owner !== null) {
    if (v.owner === image.owner) return true;
    if (image.visibility === 'shared') return (await findMembers(db, { imageId: image.id, member: v.owner })).length > 0;
  }
  return false;
}

// ---- lists ---------------------------------------------------------------------------------

export const SORT_KEYS = ['name', 'status', 'container_format', 'disk_format', 'size', 'id', 'created_at', 'updated_at'];
const INT_COLUMNS = new Set(['size', 'virtual_size', 'min_disk', 'min_ram']);
const BOOL_COLUMNS = new Set(['protected', 'os_hidden']);
const TEXT_COLUMNS = new Set(['id', 'name', 'status', 'visibility', 'checksum', 'os_hash_algo', 'os_hash_value', 'owner', 'disk_format', 'container_format', 'created_at', 'updated_at']);

export interface ImageFilter {
  /** Column (or property) -> value; the API layer has validated and typed them. */
  eq: Array<{ key: string; value: string | number | boolean }>;
  in: Array<{ key: string; values: string[] }>;
  range: Array<{ key: string; op: '>=' | '<=' | '>' | '<' | '=' | '<>'; value: string | number }>;
  properties: Array<{ name: string; value: string }>;
  tags: string[];
  visibility?: string;
  os_hidden: boolean;
  protected?: boolean;
}

export interface ListQuery {
  viewer: Viewer;
  filter: ImageFilter;
  memberStatus: string;
  sortKeys: string[];
  sortDirs: Array<'asc' | 'desc'>;
  limit: number;
  marker?: Image;
}

function sortExpr(key: string): Expression<unknown> {
  const ref = sql.ref(`images.${key}`);
  return INT_COLUMNS.has(key) ? sql`coalesce(${ref}, 0)` : sql`coalesce(${ref}, '')`;
}

function markerValue(image: Image, key: string): string | number {
  const v = (image as unknown as Record<string, unknown>)[key];
  if (v === null || v === undefined) return INT_COLUMNS.has(key) ? 0 : '';
  return v as string | number;
}

/** image_get_all: Glance's visibility rules, filters, sort and keyset paging. */
export async function listImages(db: DB, q: ListQuery): Promise<Image[]> {
  const v = q.viewer;
  const f = q.filter;
  let s = db.selectFrom('images').selectAll('images');
  s = s.where('images.status', '<>', 'killed').where('images.os_hidden', '=', f.os_hidden ? 1 : 0);
  if (f.protected !== undefined) s = s.where('images.protected', '=', f.protected ? 1 : 0);
  for (const c of f.eq) {
    if (BOOL_COLUMNS.has(c.key)) s = s.where(`images.${c.key}`, '=', c.value ? 1 : 0);
    else if (INT_COLUMNS.has(c.key)) {
      const n = Number(c.value);
      s = Number.isInteger(n) && String(c.value).trim() !== '' ? s.where(`images.${c.key}`, '=', n) : s.where(sql<SqlBool>`1 = 0`);
    } else if (TEXT_COLUMNS.has(c.key)) s = s.where(`images.${c.key}`, '=', String(c.value));
  }
  for (const c of f.in) s = c.values.length ? s.where(`images.${c.key}`, 'in', c.values) : s.where(sql<SqlBool>`1 = 0`);
  for (const c of f.range) s = s.where(`images.${c.key}`, c.op, c.value);
  for (const p of f.properties) {
    s = s.where(({ exists, selectFrom }) => exists(selectFrom('image_properties as p').select(sql`1`.as('one'))
      .whereRef('p.image_id', '=', 'images.id').where('p.name', '=', p.name).where('p.value', '=', p.value)));
  }
  for (const t of f.tags) {
    s = s.where(({ exists, selectFrom }) => exists(selectFrom('image_tags as t').select(sql`1`.as('one'))
      .whereRef('t.image_id', '=', 'images.id').where('t.value', '=', t)));
  }
  if (!v.isAdmin) {
    const owner = v.owner;
    s = s.where((eb) => {
      const alts = [eb('images.visibility', 'in', ['public', 'community'])];
      if (owner !== null) {
        alts.push(eb('images.owner', '=', owner));
        let m = eb.selectFrom('image_members as m').select(sql`1`.as('one')).whereRef('m.image_id', '=', 'images.id').where('m.member', '=', owner);
        if (q.memberStatus !== 'all') m = m.where('m.status', '=', q.memberStatus);
        alts.push(eb.and([eb('images.visibility', '=', 'shared'), eb.exists(m)]));
      }
      return eb.or(alts);
    });
  }
  if (f.visibility !== undefined) {
    if (f.visibility !== 'all') s = s.where('images.visibility', '=', f.visibility);
  } else if (v.owner === null) {
    s = s.where('images.visibility', '<>', 'community');
  } else {
    const owner = v.owner;
    s = s.where((eb) => eb.or([eb('images.owner', '=', owner), eb('images.visibility', '<>', 'community')]));
  }

  const keys = [...q.sortKeys];
  const dirs = [...q.sortDirs];
  const dflt = dirs.length === 1 ? dirs[0]! : 'desc';
  while (dirs.length < keys.length) dirs.push(dflt);
  for (const k of ['created_at', 'id']) if (!keys.includes(k)) { keys.push(k); dirs.push(dflt); }

  if (q.marker) {
    const m = q.marker;
    s = s.where((eb) => eb.or(keys.map((k, i) => {
      const parts: Expression<SqlBool>[] = [];
      for (let j = 0; j < i; j++) parts.push(eb(sortExpr(keys[j]!), '=', markerValue(m, keys[j]!)));
      parts.push(eb(sortExpr(k), dirs[i] === 'desc' ? '<' : '>', markerValue(m, k)));
      return eb.and(parts);
    })));
  }
  for (let i = 0; i < keys.length; i++) s = s.orderBy(sortExpr(keys[i]!), dirs[i]!);
  s = s.limit(q.limit);
  const rows = await s.execute();
  return attach(db, rows.map(fromRow));
}

/** Bytes of image data a project holds (Glance's user_get_storage_usage plus staged data). */
export async function storageUsage(db: DB, owner: string, exceptImage?: string): Promise<number> {
  let s = db.selectFrom('images').select(sql<number>`coalesce(sum(size), 0)`.as('n'))
    .where('owner', '=', owner).where('status', 'in', ['active', 'saving', 'uploading', 'importing', 'deactivated', 'pending_delete']);
  if (exceptImage) s = s.where('id', '<>', exceptImage);
  const r = await s.executeTakeFirst();
  return Number(r?.n ?? 0);
}
