// The image service's typed client for other services (compute fetches boot images and uploads
// snapshots through it), over the Glance v2 REST API. Calls made on a user's behalf carry the
// user's token, so visibility and ownership are the image service's decision; the rest use the
// service user's session.

import { Readable } from 'node:stream';
import type { JsonReply, ServiceSession } from '../common/auth/session.js';

/** An image as GET /v2/images/{id} shows it (extra properties are top-level strings). */
export interface GlanceImage {
  id: string; name: string | null; status: string; visibility: string; owner: string | null;
  disk_format: string | null; container_format: string | null; size: number | null; virtual_size: number | null;
  min_disk: number; min_ram: number; checksum: string | null; protected: boolean;
  created_at: string; updated_at: string;
  [property: string]: unknown;
}

export class ImageClientError extends Error {
  constructor(message: string, readonly status: number) { super(message); this.name = 'ImageClientError'; }
}

const BASE_FIELDS = new Set(['id', 'name', 'status', 'visibility', 'owner', 'disk_format', 'container_format', 'size', 'virtual_size',
  'min_disk', 'min_ram', 'checksum', 'protected', 'created_at', 'updated_at', 'tags', 'os_hidden', 'os_hash_algo', 'os_hash_value',
  'self', 'file', 'schema', 'direct_url', 'locations', 'stores']);

/** The image's extra properties (kernel_id, ramdisk_id, hw_*, os_*...). */
export function imageProperties(img: GlanceImage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(img)) if (!BASE_FIELDS.has(k) && v !== null && v !== undefined) out[k] = String(v);
  return out;
}

export class ImageClient {
  constructor(private session: ServiceSession) {}

  private headers(init: { headers?: Record<string, string>; patch?: unknown[] }): Record<string, string> | undefined {
    return init.patch ? { ...(init.headers ?? {}), 'Content-Type': 'application/openstack-images-v2.1-json-patch' } : init.headers;
  }

  /** A call whose answer is read whole (JSON or an error text). With the caller's token when given
   *  (Glance then decides what the caller may see), else as the service user. */
  private json(method: string, path: string, init: { token?: string; body?: unknown; headers?: Record<string, string>; patch?: unknown[] } = {}): Promise<JsonReply> {
    return this.session.json('image', method, path, { body: init.patch ?? init.body, headers: this.headers(init), ...(init.token ? { token: init.token } : {}) });
  }

  /** A call with a streamed body or answer (image data). */
  private stream(method: string, path: string, init: { token?: string; raw?: ReadableStream<Uint8Array>; headers?: Record<string, string> } = {}): Promise<Response> {
    return this.session.request('image', method, path, { raw: init.raw, headers: init.headers, ...(init.token ? { token: init.token } : {}) });
  }

  /** The image, or null when it does not exist or the token's project may not see it. */
  async get(id: string, token?: string): Promise<GlanceImage | null> {
    const r = await this.json('GET', `/v2/images/${encodeURIComponent(id)}`, { token });
    if (r.status === 404 || r.status === 403) return null;
    if (r.status !== 200) throw new ImageClientError(`image ${id}: ${r.status} ${r.text}`, r.status);
    return r.body as GlanceImage;
  }

  /** The image's bytes as a stream (service user). */
  async download(id: string): Promise<Readable> {
    const r = await this.stream('GET', `/v2/images/${encodeURIComponent(id)}/file`);
    if (r.status !== 200 || !r.body) throw new ImageClientError(`download of image ${id}: ${r.status} ${await r.text()}`, r.status);
    return Readable.fromWeb(r.body as import('node:stream/web').ReadableStream<Uint8Array>);
  }

  /** Creates an image record (queued) as the caller. */
  async create(fields: Record<string, unknown>, token: string): Promise<GlanceImage> {
    const r = await this.json('POST', '/v2/images', { token, body: fields });
    if (r.status !== 201) throw new ImageClientError(`image create: ${r.status} ${r.text}`, r.status);
    return r.body as GlanceImage;
  }

  /** Uploads the bytes of a queued image (service user: the image's owner allowed it at create). */
  async upload(id: string, data: Readable, token?: string): Promise<void> {
    const raw = Readable.toWeb(data) as unknown as ReadableStream<Uint8Array>;
    const r = await this.stream('PUT', `/v2/images/${encodeURIComponent(id)}/file`, { token, raw, headers: { 'Content-Type': 'application/octet-stream' } });
    if (r.status !== 204) throw new ImageClientError(`upload of image ${id}: ${r.status} ${await r.text()}`, r.status);
  }

  /** A page of images the token's project sees (GET /v2/images with Glance's query parameters). */
  async list(query: Record<string, string>, token: string): Promise<{ images: GlanceImage[]; next?: string }> {
    const q = new URLSearchParams(query).toString();
    const r = await this.json('GET', `/v2/images${q ? `?${q}` : ''}`, { token });
    if (r.status === 400) throw new ImageClientError(r.text, 400);
    if (r.status !== 200) throw new ImageClientError(`image list: ${r.status} ${r.text}`, r.status);
    return r.body as { images: GlanceImage[]; next?: string };
  }

  /** Applies a JSON patch (Glance's openstack-images-v2.1 media type) as the caller. */
  async patch(id: string, ops: { op: string; path: string; value?: unknown }[], token: string): Promise<GlanceImage> {
    const r = await this.json('PATCH', `/v2/images/${encodeURIComponent(id)}`, { token, patch: ops });
    if (r.status !== 200) throw new ImageClientError(`image patch ${id}: ${r.status} ${r.text}`, r.status);
    return r.body as GlanceImage;
  }

  async delete(id: string, token?: string): Promise<void> {
    const r = await this.json('DELETE', `/v2/images/${encodeURIComponent(id)}`, { token });
    if (r.status !== 204 && r.status !== 404) throw new ImageClientError(`image delete ${id}: ${r.status} ${r.text}`, r.status);
  }
}
