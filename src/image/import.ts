// Interoperable image import (POST /v2/images/{id}/import) and its tasks: glance-direct (data
// staged with PUT .../stage), web-download (a URL on a host the operator allows), copy-image
// (an active image into more stores) and glance-download (an image of a Glance found in the
// caller's catalog — another region, or this one). One import at a time per image, held by the
// os_glance_import_task property; progress shows in os_glance_importing_to_stores and
// os_glance_failed_import, as Glance reports it.

import { randomUUID } from 'node:crypto';
import { unlink, stat } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import type { ImageContext, RequestContext } from './context.js';
import { inBackground, nowIso } from './util.js';
import { badRequest, conflict, explain, forbidden, GlanceError, notFound, tooLarge } from './errors.js';
import { cloneImage, deletePropertyAtomic, loadImage, saveImage, setPropertyAtomic, type Image } from './store/images.js';
import { getImage, setStatus, storeLocation } from './images.js';
import { ImagePolicy } from './authz.js';
import { getTask, insertTask, updateTask, type Task } from './store/tasks.js';
import { receiveData } from './upload.js';
import { inspectionProblem, remainingQuota, stagingPath, virtualSizeOf } from './data.js';
import { FileStore } from './stores/index.js';
import { checkExternalUri } from './urls.js';

const LOCK = 'os_glance_import_task';
const IMPORTING = 'os_glance_importing_to_stores';
const FAILED = 'os_glance_failed_import';
/** Glance's [glance_download_properties] extra_properties: copied by glance-download (prefixes). */
const DOWNLOAD_PROPERTIES = ['hw_', 'trait:', 'os_distro', 'os_secure_boot', 'os_type'];
const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

export interface ImportBody {
  method: { name: string; uri?: string; glance_image_id?: string; glance_region?: string; glance_service_interface?: string };
  stores?: string[];
  all_stores?: boolean;
  all_stores_must_succeed?: boolean;
}

/** RequestDeserializer._validate_import_body. */
export function validateImportBody(ctx: ImageContext, body: unknown): ImportBody {
  const b = body as Record<string, unknown>;
  if (Array.isArray(b) || !('method' in b)) throw badRequest("Import request requires a 'method' field.");
  const m = b.method as Record<string, unknown> | null;
  if (m === null || typeof m !== 'object' || Array.isArray(m) || !('name' in m)) throw badRequest("Import request requires a 'name' field.");
  if (!ctx.opts.importMethods.includes(m.name as string)) throw badRequest(`Unknown import method name '${String(m.name)}'.`);
  if ('all_stores_must_succeed' in b && typeof b.all_stores_must_succeed !== 'boolean') {
    throw badRequest("'all_stores_must_succeed' must be boolean value only");
  }
  if ('all_stores' in b && typeof b.all_stores !== 'boolean') throw badRequest("'all_stores' must be boolean value only");
  return b as unknown as ImportBody;
}

/** utils.get_stores_from_request: writable stores named by the request (or all, or the default). */
function storesFromRequest(ctx: ImageContext, body: ImportBody, header: string | undefined): string[] {
  let stores: string[];
  if (body.all_stores) {
    if ('stores' in body || header !== undefined) throw badRequest("All_stores parameter can't be used with x-image-meta-store header or stores parameter");
    stores = [...ctx.stores.stores.values()].filter((s) => !s.readOnly).map((s) => s.id).sort();
  } else if ('stores' in body) {
    if (header !== undefined) throw badRequest("Stores parameter and x-image-meta-store header can't be both specified");
    if (!Array.isArray(body.stores)) throw badRequest("'stores' must be a list of store identifiers");
    stores = body.stores.map(String);
  } else {
    stores = [header ?? ctx.stores.defaultId];
  }
  for (const s of stores) if (!ctx.stores.get(s)) throw conflict(`Unknown scheme '${s}' found in URI`);
  return stores;
}

/** A lock older than this (doubled while pending) may be broken by a new import. */
const LOCK_EXPIRY_MS = 60 * 60 * 1000;

async function enforceImportLock(ctx: ImageContext, image: Image): Promise<Task | undefined> {
  const other = image.properties[LOCK]!;
  const task = await getTask(ctx.db, other);
  let expiry = LOCK_EXPIRY_MS;
  const age = task ? Date.now() - Date.parse(task.updated_at) : 0;
  if (task?.status === 'pending') expiry *= 2;
  const bustable = ['pending', 'processing', 'success', 'failure'];
  if (!task || (bustable.includes(task.status) && age >= expiry)) {
    if (task && (task.status === 'pending' || task.status === 'processing')) {
      await updateTask(ctx.db, task.id, { status: 'failure', message: 'Expired lock preempted' });
    }
    try {
      await deletePropertyAtomic(ctx.db, image.id, LOCK, other);
    } catch {
      throw conflict('Image has active task');
    }
    delete image.properties[LOCK];
    return task;
  }
  throw conflict('Image has active task');
}

/** POST /v2/images/{id}/import: checks, takes the lock, records the task, starts it. */
export async function importImage(ctx: ImageContext, rc: RequestContext, id: string, body: ImportBody, storeHeader: string | undefined): Promise<void> {
  const method = body.method.name;
  const image = await getImage(ctx, rc, id);
  const remaining = await remainingQuota(ctx, rc.owner, id);
  if (remaining !== null && remaining <= 0) throw tooLarge(`The size of the data None will exceed the limit. ${remaining} bytes remaining.`);
  if (image.status === 'active' && method !== 'copy-image') throw conflict('Image with status active cannot be target for import');
  if (image.status !== 'active' && method === 'copy-image') throw conflict('Only images with status active can be targeted for copying');
  if (image.status !== 'queued' && (method === 'web-download' || method === 'glance-download')) {
    throw conflict(`Image needs to be in 'queued' state to use '${method}' method`);
  }
  if (image.status !== 'uploading' && method === 'glance-direct') throw conflict("Image needs to be staged before 'glance-direct' method can be used");
  if (!image.container_format) throw conflict("'container_format' needs to be set before import");
  if (!image.disk_format) throw conflict("'disk_format' needs to be set before import");
  if (method === 'glance-download') {
    const m = body.method;
    if (!('glance_region' in m)) throw badRequest("'glance_region' needs to be set for glance-download import method");
    if (!('glance_image_id' in m)) throw badRequest("'glance_image_id' needs to be set for glance-download import method");
    if (typeof m.glance_image_id !== 'string' || !UUID_RE.test(m.glance_image_id.replace(/^urn:uuid:/, '').replace(/[{}]/g, ''))) {
      throw badRequest(`Remote image id does not look like a UUID: ${String(m.glance_image_id)}`);
    }
    m.glance_service_interface ??= 'public';
  }
  const pol = new ImagePolicy(ctx, rc, image);
  try {
    if (method === 'copy-image') pol.copyImage();
    else pol.modifyImage();
  } catch (e) {
    if (e instanceof GlanceError && e.type === 'Forbidden') throw forbidden(e.message);
    throw e;
  }
  let stole: Task | undefined;
  if (LOCK in image.properties) stole = await enforceImportLock(ctx, image);

  let stores = storesFromRequest(ctx, body, storeHeader);
  for (const s of stores) {
    if (ctx.stores.get(s)!.readOnly) throw conflict(`Store ${s} is read-only`);
  }
  const present = new Set(image.locations.map((l) => l.metadata.store));
  if (method === 'copy-image') {
    if (body.all_stores) {
      stores = stores.filter((s) => !present.has(s));
      if (!stores.length) {
        // Already in every store: nothing to copy, and nothing left or failed to report.
        await mutate(ctx, id, (img) => {
          img.properties[IMPORTING] = '';
          img.properties[FAILED] ??= '';
        });
        return;
      }
    } else {
      for (const s of stores) if (present.has(s)) throw badRequest(`Image is already present at store '${s}'`);
    }
  }
  if (method === 'web-download') {
    const r = checkExternalUri(body.method.uri, ctx.opts.webDownloadHosts, ctx.opts.webDownloadPorts);
    if (!r.ok) throw badRequest(`URI for web-download does not pass filtering: ${String(body.method.uri)}`);
  }

  const now = nowIso();
  const task: Task = {
    id: randomUUID(), type: 'api_image_import', status: 'pending', owner: rc.owner, image_id: id, user_id: rc.userId,
    request_id: rc.requestId, input: { image_id: id, import_req: body, backend: stores }, result: null, message: '',
    expires_at: null, created_at: now, updated_at: now,
  };
  try {
    await setPropertyAtomic(ctx.db, id, LOCK, task.id);
  } catch (e) {
    if (e instanceof GlanceError && e.type === 'Duplicate') {
      throw conflict(`New operation on image '${id}' is not permitted as prior operation is still in progress`);
    }
    throw e;
  }
  if (stole) {
    const backend = (stole.input.backend as string[] | undefined) ?? [];
    await mutate(ctx, id, (img) => {
      for (const key of [IMPORTING, FAILED]) {
        const vals = (img.properties[key] ?? '').split(',').filter((v) => v && !backend.includes(v));
        img.properties[key] = vals.join(',');
      }
    }).catch(() => undefined);
  }
  await insertTask(ctx.db, task);
  const runner = new ImportTask(ctx, rc, task, body, stores);
  inBackground(ctx, () => runner.run());
}

/** Loads, changes and saves an image (optionally only from a given state). */
async function mutate(ctx: ImageContext, id: string, fn: (img: Image) => void, fromState?: string): Promise<Image> {
  for (let attempt = 0; ; attempt++) {
    const cur = await loadImage(ctx.db, id);
    if (!cur) throw new GlanceError('NotFound', `No image found with ID ${id}`);
    const next = cloneImage(cur);
    fn(next);
    try {
      await saveImage(ctx.db, cur, next, fromState ?? cur.status);
      return next;
    } catch (e) {
      if (e instanceof GlanceError && e.type === 'Conflict' && !fromState && attempt < 3) continue;
      throw e;
    }
  }
}

const listProp = (img: Image, key: string) => (img.properties[key] ?? '').split(',').filter(Boolean);

class ImportTask {
  private method: string;
  private firstDone = false;

  constructor(private ctx: ImageContext, private rc: RequestContext, private task: Task, private body: ImportBody, private stores: string[]) {
    this.method = body.method.name;
  }

  async run(): Promise<void> {
    const { ctx, task } = this;
    const id = task.image_id!;
    await updateTask(ctx.db, task.id, { status: 'processing' });
    let failed: string[] = [];
    try {
      await mutate(ctx, id, (img) => {
        img.properties[IMPORTING] = this.stores.join(',');
        img.properties[FAILED] = listProp(img, FAILED).filter((s) => !this.stores.includes(s)).join(',');
        if (this.method !== 'copy-image') setStatus(img, 'importing');
      });
      failed = await this.importAll(id);
      if (failed.length && this.body.all_stores_must_succeed !== false) throw new Error(`import to ${failed.join(',')} failed`);
      if (this.method !== 'copy-image' && !this.firstDone) throw new Error('no store received the image');
      await this.finish(id, 'success', '');
    } catch (e) {
      ctx.log.warn({ err: e, image: id, task: task.id }, 'image import failed');
      await this.revert(id).catch((err: unknown) => ctx.log.error({ err, image: id }, 'import revert failed'));
      await this.finish(id, 'failure', (e as Error).message).catch(() => undefined);
    }
  }

  private async finish(id: string, status: 'success' | 'failure', message: string): Promise<void> {
    const { ctx, task } = this;
    await deletePropertyAtomic(ctx.db, id, LOCK, task.id).catch(() => undefined);
    if (this.method === 'glance-direct' && status === 'success') await unlink(stagingPath(ctx, id)).catch(() => undefined);
    const expires = new Date(Date.now() + ctx.opts.taskTtlHours * 3600_000).toISOString();
    await updateTask(ctx.db, task.id, { status, message, result: status === 'success' ? { image_id: id } : null, expires_at: expires });
  }

  /** A failed import leaves the image as it was before (queued, or uploading with its staged data). */
  private async revert(id: string): Promise<void> {
    if (this.method === 'copy-image') {
      await mutate(this.ctx, id, (img) => { img.properties[IMPORTING] = ''; });
      return;
    }
    const cur = await loadImage(this.ctx.db, id);
    if (!cur) return;
    if (cur.status === 'importing') {
      await mutate(this.ctx, id, (img) => {
        img.properties[IMPORTING] = '';
        setStatus(img, 'queued');
      }, 'importing');
    }
    if (this.method === 'glance-direct') await unlink(stagingPath(this.ctx, id)).catch(() => undefined);
  }

  private async importAll(id: string): Promise<string[]> {
    const failed: string[] = [];
    for (const storeId of this.stores) {
      try {
        await this.importTo(id, storeId);
        await mutate(this.ctx, id, (img) => {
          img.properties[IMPORTING] = listProp(img, IMPORTING).filter((s) => s !== storeId).join(',');
        });
      } catch (e) {
        this.ctx.log.warn({ err: e, image: id, store: storeId }, 'import to store failed');
        failed.push(storeId);
        await mutate(this.ctx, id, (img) => {
          img.properties[IMPORTING] = listProp(img, IMPORTING).filter((s) => s !== storeId).join(',');
          img.properties[FAILED] = [...listProp(img, FAILED), storeId].join(',');
        }).catch(() => undefined);
        if (this.body.all_stores_must_succeed !== false) break;
      }
    }
    return failed;
  }

  /** The data to import, as a stream, with what is known of it. */
  private async source(id: string): Promise<{ stream: Readable; size: number | null; props?: Record<string, string | null>; formats?: [string | null, string | null] }> {
    const img = (await loadImage(this.ctx.db, id))!;
    if (this.firstDone || this.method === 'copy-image') {
      // Later stores copy from the data already imported.
      const loc = img.locations.find((l) => this.ctx.stores.get(String(l.metadata.store))?.type === 'file');
      if (!loc) throw new Error('no stored copy of the image to copy from');
      const s = this.ctx.stores.forLocation(loc.url, loc.metadata.store);
      return { stream: await s.read(loc.url), size: img.size };
    }
    switch (this.method) {
      case 'glance-direct': {
        const p = stagingPath(this.ctx, id);
        const st = await stat(p);
        return { stream: createReadStream(p, { highWaterMark: 1 << 20 }), size: st.size };
      }
      case 'web-download': {
        const r = checkExternalUri(this.body.method.uri, this.ctx.opts.webDownloadHosts, this.ctx.opts.webDownloadPorts);
        if (!r.ok) throw new Error(r.reason);
        const res = await fetch(r.url, { redirect: 'manual', signal: AbortSignal.timeout(3600_000) });
        if (!res.ok || !res.body) throw new Error(`web-download of ${r.url.href} failed: ${res.status}`);
        const n = Number(res.headers.get('content-length'));
        return { stream: Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), size: Number.isFinite(n) && n > 0 ? n : null };
      }
      case 'glance-download':
        return this.glanceDownload();
      default:
        throw new Error(`unknown import method ${this.method}`);
    }
  }

  /** The remote image's endpoint from the caller's catalog, its properties, and its data. */
  private async glanceDownload() {
    const m = this.body.method;
    const region = m.glance_region;
    const iface = m.glance_service_interface ?? 'public';
    const catalog = this.rc.catalog as Array<{ type: string; endpoints: Array<{ interface: string; region_id?: string; region?: string; url: string }> }>;
    const ep = catalog.filter((s) => s.type === 'image').flatMap((s) => s.endpoints)
      .find((e) => e.interface === iface && (e.region_id === region || e.region === region));
    if (!ep) throw new Error(`${iface} glance endpoint not found for region ${region}`);
    const base = ep.url.replace(/\/+$/, '').replace(/\/v2$/, '');
    const headers = { 'X-Auth-Token': this.rc.token, Accept: 'application/json' };
    const meta = await fetch(`${base}/v2/images/${encodeURIComponent(m.glance_image_id!)}`, { headers, signal: AbortSignal.timeout(60_000) });
    if (meta.status !== 200) throw new Error(`remote image ${m.glance_image_id}: ${meta.status}`);
    const remote = await meta.json() as Record<string, unknown>;
    const props: Record<string, string | null> = {};
    for (const [k, v] of Object.entries(remote)) {
      if (DOWNLOAD_PROPERTIES.some((p) => k.startsWith(p)) && (typeof v === 'string' || v === null)) props[k] = v as string | null;
    }
    const data = await fetch(`${base}/v2/images/${encodeURIComponent(m.glance_image_id!)}/file`, { headers: { 'X-Auth-Token': this.rc.token }, signal: AbortSignal.timeout(3600_000) });
    if (data.status !== 200 || !data.body) throw new Error(`remote image data ${m.glance_image_id}: ${data.status}`);
    const n = Number(data.headers.get('content-length'));
    return {
      stream: Readable.fromWeb(data.body as import('node:stream/web').ReadableStream),
      size: Number.isFinite(n) && n > 0 ? n : null,
      props,
      formats: [remote.disk_format as string | null, remote.container_format as string | null] as [string | null, string | null],
    };
  }

  private async importTo(id: string, storeId: string): Promise<void> {
    const { ctx } = this;
    const store = ctx.stores.get(storeId);
    if (!(store instanceof FileStore)) throw new Error(`store ${storeId} does not take data`);
    const src = await this.source(id);
    let image = (await loadImage(ctx.db, id))!;
    if (src.formats) {
      // glance-download: the image takes the remote's formats and copied properties first.
      image = await mutate(ctx, id, (img) => {
        img.disk_format = src.formats![0] ?? img.disk_format;
        img.container_format = src.formats![1] ?? img.container_format;
        Object.assign(img.properties, src.props);
      });
    }
    const remaining = await remainingQuota(ctx, image.owner, id);
    const cap = ctx.opts.imageSizeCap;
    const limit = remaining === null ? cap : Math.min(cap, Math.max(0, remaining));
    const tempPath = store.tempPath(id);
    const first = !this.firstDone && this.method !== 'copy-image';
    const received = await receiveData(ctx.hashers, {
      source: src.stream, tempPath, limit, expectedSize: src.size,
      // A remote (web-download, glance-download) that stops sending fails the import, as a stalled upload does.
      idleTimeoutMs: ctx.opts.uploadIdleTimeout * 1000,
      onLimit: (n) => new Error(n > cap ? 'The provided image is too large.' : `Image exceeds the storage quota (${remaining} bytes remaining)`),
      hashAlgo: image.os_hash_algo ?? ctx.opts.hashingAlgorithm, inspectAs: first ? image.disk_format : null,
    });
    if (first) {
      const problem = inspectionProblem(ctx, image, received);
      if (problem) {
        await unlink(tempPath).catch(() => undefined);
        throw new Error(problem);
      }
    } else if (image.checksum && received.checksum !== image.checksum) {
      await unlink(tempPath).catch(() => undefined);
      throw new Error(`copy of ${id} to ${storeId} has checksum ${received.checksum}, not ${image.checksum}`);
    }
    const url = await store.commit(tempPath, id);
    try {
      await mutate(ctx, id, (img) => {
        img.locations.push(storeLocation(url, storeId));
        if (first) {
          img.checksum = received.checksum;
          img.os_hash_algo = received.hashAlgo;
          img.os_hash_value = received.hashValue;
          img.size = received.size;
          img.virtual_size = virtualSizeOf(img, received);
          setStatus(img, 'active');
        }
      }, first ? 'importing' : 'active');
    } catch (e) {
      await store.delete(url).catch(() => undefined);
      throw e;
    }
    if (first) this.firstDone = true;
  }
}

/** The image's tasks, as GET /v2/images/{id}/tasks shows them (the DB rows, not the task view). */
export function taskRecord(t: Task): Record<string, unknown> {
  const ts = (s: string | null) => (s ? s.replace('Z', '').replace(/\.(\d{3})$/, '.$1000') : null);
  return {
    id: t.id, type: t.type, status: t.status, owner: t.owner, expires_at: ts(t.expires_at), created_at: ts(t.created_at),
    updated_at: ts(t.updated_at), deleted_at: null, deleted: false, image_id: t.image_id, request_id: t.request_id,
    user_id: t.user_id, input: t.input, result: t.result, message: t.message,
  };
}

export { notFound, explain };
