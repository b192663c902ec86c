// Image data in and out (glance/api/v2/image_data.py): upload (PUT .../file), staging for import
// (PUT .../stage) and download (GET .../file, with Range). The bytes go through upload.ts into a
// store, and the image becomes active only once they are durably in place.

import { join } from 'node:path';
import { unlink } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { ImageContext, RequestContext } from './context.js';
import { ApiError } from '../common/errors.js';
import { bare, conflict, detail, explain, forbidden, GlanceError, notFound, tooLarge } from './errors.js';
import { cloneImage, loadImage, saveImage, storageUsage, type Image } from './store/images.js';
import { getImage, setStatus, storeLocation } from './images.js';
import { ImagePolicy } from './authz.js';
import { receiveData, receivePlain, TruncatedUpload, type Received } from './upload.js';
import { formatMatches, safetyIssues } from './inspect.js';
import { FileStore, StoreNotFound, type ImageStore } from './stores/index.js';

/** Bytes the caller's project may still store, or null without a quota (check_quota). */
export async function remainingQuota(ctx: ImageContext, owner: string | null, exceptImage?: string): Promise<number | null> {
  const quota = ctx.opts.userStorageQuota;
  if (!quota || owner === null) return null;
  return quota - (await storageUsage(ctx.db, owner, exceptImage));
}

const quotaMessage = (size: number | null, remaining: number) =>
  `The size of the data ${size ?? 'None'} will exceed the limit. ${remaining} bytes remaining.`;

/** The limit and errors of a LimitingReader over the size cap and the project's quota. */
function limits(ctx: ImageContext, remaining: number | null) {
  const cap = ctx.opts.imageSizeCap;
  const limit = remaining === null ? cap : Math.min(cap, Math.max(0, remaining));
  const onLimit = (received: number) => (remaining !== null && remaining < cap
    ? tooLarge(`Image exceeds the storage quota: ${quotaMessage(received, remaining)}`)
    : tooLarge('The incoming image is too large: The provided image is too large.'));
  return { limit, onLimit };
}

/** Checks a received image's inspection: unsafe data always fails, a format mismatch on `bare`. */
export function inspectionProblem(ctx: ImageContext, image: Image, r: Received): string | null {
  const i = r.inspection;
  if (!i || !image.disk_format) return null;
  const unsafe = safetyIssues(i, image.disk_format);
  if (unsafe.length) return `Image data is unsafe and was refused: ${unsafe.join('; ')}`;
  if (ctx.opts.requireFormatMatch && image.container_format === 'bare' && !formatMatches(image.disk_format, i.format)) {
    return `Image content does not match disk_format: image claims ${image.disk_format} but is ${i.format}`;
  }
  return null;
}

/** The virtual size to record: only when the data is what the image claims. */
export function virtualSizeOf(image: Image, r: Received): number | null {
  const i = r.inspection;
  if (!i || i.virtualSize === null || i.virtualSize === undefined) return null;
  return image.disk_format && formatMatches(image.disk_format, i.format) ? i.virtualSize : null;
}

/** Puts the image back to queued after a failed upload (ImageDataController._restore). */
async function restore(ctx: ImageContext, id: string, from: string): Promise<void> {
  try {
    const cur = await loadImage(ctx.db, id);
    if (!cur || cur.status !== from) return;
    const next = cloneImage(cur);
    setStatus(next, 'queued');
    await saveImage(ctx.db, cur, next, from);
  } catch (e) {
    ctx.log.error({ err: e, image: id }, 'could not restore image to queued');
  }
}

export interface DataRequest {
  stream: Readable;
  contentLength: number | null;
  storeHeader?: string;
}

/** PUT /v2/images/{id}/file */
export async function uploadImageData(ctx: ImageContext, rc: RequestContext, id: string, r: DataRequest): Promise<void> {
  const remaining = await remainingQuota(ctx, rc.owner, id);
  if (remaining !== null && ((r.contentLength !== null && r.contentLength > remaining) || (r.contentLength === null && remaining <= 0))) {
    throw tooLarge(`Image exceeds the storage quota: ${quotaMessage(r.contentLength, remaining)}`);
  }
  if (r.contentLength !== null && r.contentLength > ctx.opts.imageSizeCap) {
    throw tooLarge('The incoming image is too large: The provided image is too large.');
  }
  const storeId = r.storeHeader ?? ctx.stores.defaultId;
  const store = ctx.stores.get(storeId);
  if (!store) throw explain('BadRequest', `Unknown scheme '${storeId}' found in URI`);
  if (!(store instanceof FileStore)) throw explain('Gone', 'Error in store configuration. Adding images to store is disabled.');

  const image = await getImage(ctx, rc, id);
  try {
    new ImagePolicy(ctx, rc, image).uploadImage();
  } catch (e) {
    if (e instanceof GlanceError && e.type === 'Forbidden') throw forbidden(`Not allowed to upload image data for image ${id}`);
    throw e;
  }
  const before = cloneImage(image);
  try {
    setStatus(image, 'saving');
  } catch (e) {
    if (e instanceof GlanceError && e.type === 'InvalidImageStatusTransition') throw conflict(e.message);
    if (e instanceof GlanceError && e.type === 'ValueError') throw explain('BadRequest', e.message);
    throw e;
  }
  try {
    await saveImage(ctx.db, before, image, 'queued');
  } catch (e) {
    if (e instanceof GlanceError && (e.type === 'Conflict' || e.type === 'NotFound')) throw goneDuringUpload(id);
    throw e;
  }

  const { limit, onLimit } = limits(ctx, remaining);
  const tempPath = store.tempPath(id);
  let received: Received;
  try {
    received = await receiveData(ctx.hashers, {
      source: r.stream, tempPath, limit, onLimit, expectedSize: r.contentLength, idleTimeoutMs: ctx.opts.uploadIdleTimeout * 1000,
      hashAlgo: image.os_hash_algo ?? ctx.opts.hashingAlgorithm, inspectAs: image.disk_format,
    });
  } catch (e) {
    await restore(ctx, id, 'saving');
    if (e instanceof TruncatedUpload) throw explain('BadRequest', `Image data for ${id} was not completely received: ${e.message}`);
    throw e;
  }
  const problem = inspectionProblem(ctx, image, received);
  if (problem) {
    await unlink(tempPath).catch(() => undefined);
    await restore(ctx, id, 'saving');
    throw explain('BadRequest', problem);
  }
  await finishData(ctx, rc, id, store, tempPath, received, 'saving', remaining !== null);
}

const goneDuringUpload = (id: string) => explain('Gone',
  `Image ${id} could not be found after upload. The image may have been deleted during the upload, cleaning up the chunks uploaded.`);

/**
 * Moves received data into place and makes the image active with its checksums — or, when the
 * image went away or changed state meanwhile, removes the data and answers 410 Gone.
 */
export async function finishData(ctx: ImageContext, rc: RequestContext | null, id: string, store: FileStore, tempPath: string,
  received: Received, fromState: string, recheckQuota: boolean): Promise<Image> {
  let url: string;
  try {
    url = await store.commit(tempPath, id);
  } catch (e) {
    await unlink(tempPath).catch(() => undefined);
    await restore(ctx, id, fromState);
    throw e;
  }
  const cur = await loadImage(ctx.db, id);
  if (!cur || cur.status !== fromState) {
    await store.delete(url).catch(() => undefined);
    throw goneDuringUpload(id);
  }
  if (recheckQuota && cur.owner !== null) {
    const remaining = await remainingQuota(ctx, rc?.owner ?? cur.owner, id);
    if (remaining !== null && received.size > remaining) {
      await store.delete(url).catch(() => undefined);
      await restore(ctx, id, fromState);
      throw tooLarge(`Image exceeds the storage quota: ${quotaMessage(received.size, remaining)}`);
    }
  }
  const next = cloneImage(cur);
  next.locations = [...next.locations, storeLocation(url, store.id)];
  next.checksum = received.checksum;
  next.os_hash_algo = received.hashAlgo;
  next.os_hash_value = received.hashValue;
  next.size = received.size;
  next.virtual_size = virtualSizeOf(cur, received);
  setStatus(next, 'active');
  try {
    await saveImage(ctx.db, cur, next, fromState);
  } catch (e) {
    await store.delete(url).catch(() => undefined);
    if (e instanceof GlanceError && (e.type === 'Conflict' || e.type === 'NotFound')) throw goneDuringUpload(id);
    throw e;
  }
  return next;
}

export const stagingPath = (ctx: ImageContext, id: string) => join(ctx.opts.stagingDir, id);

/** PUT /v2/images/{id}/stage */
export async function stageImageData(ctx: ImageContext, rc: RequestContext, id: string, r: DataRequest): Promise<void> {
  const image = await getImage(ctx, rc, id);
  try {
    new ImagePolicy(ctx, rc, image).modifyImage();
  } catch (e) {
    if (e instanceof GlanceError && e.type === 'Forbidden') throw forbidden(e.message);
    throw e;
  }
  const remaining = await remainingQuota(ctx, rc.owner, id);
  const before = cloneImage(image);
  try {
    setStatus(image, 'uploading');
    await saveImage(ctx.db, before, image, 'queued');
  } catch (e) {
    if (e instanceof GlanceError && (e.type === 'InvalidImageStatusTransition' || e.type === 'Conflict')) throw conflict(e.message);
    if (e instanceof GlanceError && e.type === 'ValueError') throw explain('BadRequest', e.message);
    throw e;
  }
  const { limit, onLimit } = limits(ctx, remaining);
  const path = stagingPath(ctx, id);
  let size: number;
  try {
    size = await receivePlain({ source: r.stream, path, limit, onLimit, expectedSize: r.contentLength, idleTimeoutMs: ctx.opts.uploadIdleTimeout * 1000 });
  } catch (e) {
    await restore(ctx, id, 'uploading');
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw conflict(`The image ${id} has data on staging`);
    if (e instanceof TruncatedUpload) throw explain('BadRequest', `Image data for ${id} was not completely received: ${e.message}`);
    throw e;
  }
  const cur = await loadImage(ctx.db, id);
  if (!cur || cur.status !== 'uploading') {
    await unlink(path).catch(() => undefined);
    throw notFound(`No image found with ID ${id}`);
  }
  const next = cloneImage(cur);
  next.size = size;
  await saveImage(ctx.db, cur, next, 'uploading');
}

export interface Download {
  status: 200 | 204 | 206;
  headers: Record<string, string>;
  stream?: Readable;
}

/** webob.byterange.Range.parse: bytes=a-b, bytes=a-, bytes=-n; null when invalid. */
function parseRange(h: string): { start: number; end: number | null } | null {
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(h);
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') return { start: -Number(m[2]), end: null };
  const start = Number(m[1]);
  if (m[2] === '') return { start, end: null };
  const end = Number(m[2]) + 1;
  if (end <= start) return null;
  return { start, end };
}

/** webob.byterange.ContentRange.parse: bytes a-b/len or bytes a-b/*. */
function parseContentRange(h: string): { start: number; stop: number; length: number | null } | null {
  const m = /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(h);
  if (!m) return null;
  const start = Number(m[1]);
  const stop = Number(m[2]) + 1;
  const length = m[3] === '*' ? null : Number(m[3]);
  if (stop <= start || (length !== null && stop > length)) return null;
  return { start, stop, length };
}

/** GET /v2/images/{id}/file */
export async function downloadImageData(ctx: ImageContext, rc: RequestContext, id: string, rangeHeader?: string, contentRangeHeader?: string): Promise<Download> {
  const image = await getImage(ctx, rc, id);
  if (image.status === 'deactivated' && !rc.isAdmin) {
    throw forbidden('The requested image has been deactivated. Image data download is forbidden.');
  }
  new ImagePolicy(ctx, rc, image).downloadImage();
  if (!image.locations.length) return { status: 204, headers: {} };

  const size = image.size ?? 0;
  let offset = 0;
  let chunk: number | null = null;
  let responseEnd = size - 1;
  let partial = false;
  if (rangeHeader !== undefined) {
    if (rangeHeader.includes(',')) {
      throw explain('BadRequest', 'Requests with multiple ranges are not supported in Glance. You may make multiple single-range requests instead.');
    }
    const rg = parseRange(rangeHeader);
    if (!rg) throw detail('RangeNotSatisfiable', 'Invalid Range header.');
    if (rg.start >= size) {
      throw detail('RangeNotSatisfiable', `Invalid start position in Range header. Start position MUST be in the inclusive range [0, ${size - 1}].`);
    }
    if (rg.start >= 0) offset = rg.start;
    else if (Math.abs(rg.start) < size) offset = size + rg.start;
    if (rg.end !== null && rg.end < size) {
      chunk = rg.end - offset;
      responseEnd = rg.end - 1;
    } else {
      chunk = size - offset;
    }
    partial = true;
  } else if (contentRangeHeader !== undefined) {
    const cr = parseContentRange(contentRangeHeader);
    if (!cr) throw detail('RangeNotSatisfiable', 'Invalid Content-Range header.');
    if (cr.length === null && cr.stop > size) {
      throw detail('RangeNotSatisfiable', `Invalid stop position in Content-Range header. The stop position MUST be in the inclusive range [0, ${size - 1}].`);
    }
    if (cr.start >= size) {
      throw detail('RangeNotSatisfiable', `Invalid start position in Content-Range header. Start position MUST be in the inclusive range [0, ${size - 1}].`);
    }
    responseEnd = cr.stop - 1;
    offset = cr.start;
    chunk = cr.stop - offset;
    partial = true;
  }
  const length = chunk ?? size;
  let stream: Readable | undefined;
  let lastError: unknown;
  if (ctx.cache) stream = (await ctx.cache.read(id, offset, length > 0 ? offset + length - 1 : offset)) ?? undefined;
  for (const loc of stream ? [] : image.locations) {
    let s: ImageStore;
    try {
      s = ctx.stores.forLocation(loc.url, loc.metadata.store);
      stream = await s.read(loc.url, offset, length > 0 ? offset + length - 1 : offset);
      break;
    } catch (e) {
      lastError = e;
      ctx.log.warn({ err: e, image: id }, 'Get image data failed');
    }
  }
  if (!stream) {
    if (lastError instanceof StoreNotFound) return { status: 204, headers: {} };
    throw explain('ServiceUnavailable', `Image data of ${id} is not available: ${(lastError as Error)?.message ?? 'no location'}`);
  }
  const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream', 'Content-Length': String(length) };
  if (partial) headers['Content-Range'] = `bytes ${offset}-${responseEnd}/${size}`;
  if (image.checksum) headers['Content-MD5'] = image.checksum;
  return { status: partial ? 206 : 200, headers, stream };
}

export function isApiError(e: unknown): e is ApiError { return e instanceof ApiError; }
export { bare };
