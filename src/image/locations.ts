// Image locations through PATCH (show_multiple_locations): add, replace and remove, with
// Glance's checks — only external read-only stores may be pointed at (http(s) on hosts the
// operator allows; never file://), the data must exist, validation_data must agree with the
// image, and the last location cannot go. Adding a location to a queued image makes it active.

import { createHash } from 'node:crypto';
import type { ImageContext } from './context.js';
import { GlanceError, glanceError, conflict, detail, forbidden, explain } from './errors.js';
import { setStatus } from './images.js';
import type { Image, Location } from './store/images.js';
import { BadStoreUri, StoreNotFound, UnknownScheme } from './stores/index.js';
import { randomUUID } from 'node:crypto';

interface LocationValue { url: string; metadata: Record<string, unknown>; validation_data?: Record<string, string> }

const HASH_SIZES: Record<string, number> = { md5: 16, sha1: 20, sha224: 28, sha256: 32, sha384: 48, sha512: 64 };

function isHex(s: string): boolean { return s.length % 2 === 0 && /^[0-9a-fA-F]*$/.test(s); }

/** _validate_validation_data: values that must agree with the image; new ones only while queued. */
function validateValidationData(ctx: ImageContext, image: Image, locations: LocationValue[]): Record<string, string> {
  const val: Record<string, string> = {};
  for (const loc of locations) {
    if (!loc.validation_data) continue;
    for (const [k, v] of Object.entries(loc.validation_data)) {
      if (k in val && val[k] !== v) throw conflict(`Conflicting values for ${k}`);
      val[k] = v;
    }
  }
  const fresh: Record<string, string> = {};
  for (const [k, v] of Object.entries(val)) {
    const current = (image as unknown as Record<string, unknown>)[k];
    if (v === current) continue;
    if (current) throw conflict(`${k} is already set with a different value`);
    fresh[k] = v;
  }
  if (!Object.keys(fresh).length) return {};
  if (image.status !== 'queued') {
    throw conflict(`New value(s) for ${Object.keys(fresh).join(', ')} may only be provided when image status is 'queued'`);
  }
  if ('checksum' in fresh) {
    if (!isHex(fresh.checksum!)) throw conflict(`checksum (${fresh.checksum}) is not a valid hexadecimal value`);
    if (fresh.checksum!.length !== 32) throw conflict(`checksum (${fresh.checksum}) is not the correct size for md5 (should be 16 bytes)`);
  }
  const algo = fresh.os_hash_algo;
  if (algo !== ctx.opts.hashingAlgorithm) throw conflict(`os_hash_algo must be ${ctx.opts.hashingAlgorithm}, not ${algo}`);
  const value = fresh.os_hash_value ?? '';
  if (!isHex(value)) throw conflict(`os_hash_value (${value}) is not a valid hexadecimal value`);
  const want = HASH_SIZES[algo] ?? createHash(algo).digest().length;
  if (value.length / 2 !== want) {
    throw conflict(`os_hash_value (${value}) is not the correct size for ${algo} (should be ${want} bytes)`);
  }
  return fresh;
}

/** _check_image_location: an external location we may read, holding data. Returns its size. */
async function checkLocation(ctx: ImageContext, loc: LocationValue): Promise<number | null> {
  const store = ctx.stores.get(String(loc.metadata.store ?? ''));
  if (!store || store.type === 'file' || !store.handles(loc.url)) throw glanceError('BadStoreUri', 'Invalid location');
  try {
    const size = await store.size(loc.url);
    if (!size || size <= 0) throw glanceError('BadStoreUri', 'Invalid location');
    return size;
  } catch (e) {
    if (e instanceof StoreNotFound || e instanceof BadStoreUri || e instanceof UnknownScheme) throw glanceError('BadStoreUri', 'Invalid location');
    throw e;
  }
}

const sameLocation = (a: { url: string; metadata: unknown }, b: { url: string; metadata: unknown }) =>
  a.url === b.url && JSON.stringify(a.metadata) === JSON.stringify(b.metadata);

function toLocation(v: LocationValue): Location {
  return { id: randomUUID(), url: v.url, metadata: { ...v.metadata }, status: 'active' };
}

/** The store of a new external location, recorded in its metadata (get_updated_store_location). */
function tagStore(ctx: ImageContext, v: LocationValue): LocationValue {
  const id = ctx.stores.idForExternal(v.url);
  const metadata = { ...(v.metadata ?? {}) };
  if (id) metadata.store = id;
  return { ...v, metadata };
}

function opPos(pathPos: string | undefined, max: number, allowMax: boolean): number | null {
  if (pathPos === undefined) return null;
  let pos = allowMax ? max : max - 1;
  if (/^\d+$/.test(pathPos)) pos = Number(pathPos);
  else if (pathPos !== '-') return null;
  if (!(allowMax || (pos >= 0 && pos < max))) return null;
  return pos;
}

function activate(image: Image, val: Record<string, string>): void {
  if (image.status !== 'queued') return;
  for (const [k, v] of Object.entries(val)) (image as unknown as Record<string, unknown>)[k] = v;
  try {
    setStatus(image, 'active');
  } catch (e) {
    if (e instanceof GlanceError) throw explain('BadRequest', e.message);
    throw e;
  }
}

export async function addLocation(ctx: ImageContext, image: Image, pathPos: string | undefined, raw: LocationValue): Promise<void> {
  if (!ctx.opts.showMultipleLocations) throw forbidden("It's not allowed to add locations if locations are invisible.");
  if (image.status !== 'active' && image.status !== 'queued') throw conflict(`It's not allowed to add locations if image status is ${image.status}.`);
  const val = validateValidationData(ctx, image, [raw]);
  const value = tagStore(ctx, raw);
  const pos = opPos(pathPos, image.locations.length, true);
  if (pos === null) throw explain('BadRequest', 'Invalid position for adding a location.');
  let size: number | null;
  try {
    size = await checkLocation(ctx, value);
  } catch (e) {
    if (e instanceof GlanceError) throw explain('BadRequest', e.message);
    throw e;
  }
  if (image.locations.some((l) => sameLocation(l, value))) throw explain('BadRequest', `The location ${value.url} already exists`);
  image.locations.splice(pos, 0, toLocation(value));
  if (!image.size && size) image.size = size;
  activate(image, val);
}

export async function replaceLocations(ctx: ImageContext, image: Image, raw: unknown): Promise<void> {
  if (!ctx.opts.showMultipleLocations) throw forbidden("It's not allowed to update locations if locations are invisible.");
  if (image.status !== 'active' && image.status !== 'queued') throw conflict(`It's not allowed to replace locations if image status is ${image.status}.`);
  if (!Array.isArray(raw)) throw explain('BadRequest', 'Invalid locations');
  const val = validateValidationData(ctx, image, raw as LocationValue[]);
  const value = (raw as LocationValue[]).map((v) => tagStore(ctx, v));
  const ori = image.locations;
  const same = JSON.stringify(ori.map((l) => ({ url: l.url, metadata: l.metadata }))) === JSON.stringify(value.map((l) => ({ url: l.url, metadata: l.metadata })));
  if (!same) {
    const newUrls = value.map((l) => l.url).sort();
    const oriUrls = ori.map((l) => l.url).sort();
    const urlsSame = JSON.stringify(newUrls) === JSON.stringify(oriUrls);
    if (ori.length > 0 && !urlsSame) {
      throw explain('BadRequest', `Original locations is not empty: [${ori.map((l) => `{'url': '${l.url}', 'metadata': ${JSON.stringify(l.metadata)}}`).join(', ')}]`);
    }
    if (!urlsSame) {
      let size: number | null = null;
      for (const v of value) {
        try {
          const s = await checkLocation(ctx, v);
          size ??= s;
        } catch (e) {
          if (e instanceof GlanceError) throw explain('BadRequest', e.message);
          throw e;
        }
        if (value.filter((x) => sameLocation(x, v)).length > 1) throw explain('BadRequest', `The location ${v.url} already exists`);
      }
      if (!image.size && size) image.size = size;
    }
  }
  image.locations = value.map((v, i) => ({ ...toLocation(v), id: ori[i]?.id ?? randomUUID() }));
  activate(image, val);
}

/** Removes a location; returns it so the caller deletes the data after saving. */
export function removeLocation(ctx: ImageContext, image: Image, pathPos: string | undefined): Location {
  if (!ctx.opts.showMultipleLocations) throw forbidden("It's not allowed to remove locations if locations are invisible.");
  if (image.status !== 'active') throw conflict(`It's not allowed to remove locations if image status is ${image.status}.`);
  if (image.locations.length === 1) throw detail('Forbidden', 'Cannot remove last location in the image.');
  const pos = opPos(pathPos, image.locations.length, false);
  if (pos === null) throw explain('BadRequest', 'Invalid position for removing a location.');
  return image.locations.splice(pos, 1)[0]!;
}
