// Images as Glance's domain has them (glance/domain, the db ImageRepo and the API deserializer's
// rules): what a create body may hold, the status machine, which attributes a PATCH may touch,
// quotas on properties, tags and locations, the view the API returns, and deletion.

import { randomUUID } from 'node:crypto';
import type { ImageContext, RequestContext } from './context.js';
import { isotime, nowIso } from './util.js';
import { GlanceError, glanceError, notFound } from './errors.js';
import { isImageVisible, loadImage, type Image, type Location } from './store/images.js';
import { GLANCE_SCHEMAS } from './api/schemas/glance-schemas.js';

export const RESERVED_NS = 'os_glance';

/** Attributes the create body maps onto the image itself (the rest become properties). */
export const BASE_PROPERTIES = ['checksum', 'created_at', 'container_format', 'disk_format', 'id', 'min_disk', 'min_ram', 'name',
  'size', 'virtual_size', 'status', 'tags', 'owner', 'updated_at', 'visibility', 'protected', 'os_hidden'];
/** The deserializer's read-only attributes (PATCH 403). */
export const READONLY = ['created_at', 'updated_at', 'status', 'checksum', 'size', 'virtual_size', 'direct_url', 'self', 'file',
  'schema', 'id', 'os_hash_algo', 'os_hash_value'];
export const DISALLOWED_ON_CREATE = ['direct_url', 'self', 'file', 'schema', 'stores'];
export const RESERVED = ['location', 'deleted', 'deleted_at'];
/** ImageFactory's checks on new_image(). */
const FACTORY_READONLY = ['created_at', 'updated_at', 'status', 'checksum', 'os_hash_algo', 'os_hash_value', 'size', 'virtual_size'];
const FACTORY_RESERVED = ['owner', 'locations', 'deleted', 'deleted_at', 'direct_url', 'self', 'file', 'schema'];
/** Attributes of the domain Image a PATCH sets directly (hasattr(image, name) in Glance). */
export const DOMAIN_ATTRS = new Set(['name', 'visibility', 'protected', 'os_hidden', 'min_disk', 'min_ram', 'owner', 'disk_format',
  'container_format', 'tags', 'locations', 'status', 'checksum', 'size', 'virtual_size', 'os_hash_algo', 'os_hash_value',
  'created_at', 'updated_at']);
/** Properties the response hides (glance's ResponseSerializer._hidden_properties). */
const HIDDEN = new Set(['os_glance_stage_host']);

export const VALID_TRANSITIONS: Record<string, string[]> = {
  queued: ['saving', 'uploading', 'importing', 'active', 'deleted'],
  saving: ['active', 'killed', 'deleted', 'queued'],
  uploading: ['importing', 'queued', 'deleted'],
  importing: ['active', 'deleted', 'queued'],
  active: ['pending_delete', 'deleted', 'deactivated'],
  killed: ['deleted'],
  pending_delete: ['deleted', 'active'],
  deleted: [],
  deactivated: ['active', 'deleted'],
};

/** Image.status setter: the transition must be allowed, and data needs both formats set. */
export function setStatus(image: Image, status: string): void {
  const cur = image.status;
  if (!(VALID_TRANSITIONS[cur] ?? []).includes(status)) {
    throw glanceError('InvalidImageStatusTransition', `Image status transition from ${cur} to ${status} is not allowed`);
  }
  if ((cur === 'queued' || cur === 'uploading') && ['saving', 'active', 'importing'].includes(status)) {
    const missing = (['disk_format', 'container_format'] as const).filter((k) => !image[k]);
    if (missing.length === 1) throw glanceError('ValueError', `Property ${missing[0]} must be set prior to saving data.`);
    if (missing.length > 1) throw glanceError('ValueError', `Properties ${missing.join(', ')} must be set prior to saving data.`);
  }
  if (status === 'queued') {
    image.size = null;
    image.virtual_size = null;
  }
  image.status = status;
}

const MAX_INT = 2 ** 31 - 1;

function checkInt(param: string, value: unknown): void {
  if (typeof value === 'number' && value < 0) {
    throw glanceError('Invalid', `Invalid value '${value}' for parameter '${param}': Cannot be a negative value`);
  }
  if (typeof value === 'number' && value > MAX_INT) {
    throw glanceError('Invalid', `'${param}' value out of range, must not exceed ${MAX_INT}.`);
  }
}

/** Sets a domain attribute as the Glance Image's property setters do. */
export function setAttr(image: Image, name: string, value: unknown): void {
  switch (name) {
    case 'visibility':
      if (!['community', 'public', 'private', 'shared'].includes(value as string)) {
        throw glanceError('ValueError', 'Visibility must be one of "community", "public", "private", or "shared"');
      }
      image.visibility = value as string;
      return;
    case 'container_format':
    case 'disk_format':
      if (image.status !== 'queued' && image.status !== 'importing') {
        throw glanceError('Forbidden', `Attribute ${name} can be only replaced for a queued image.`);
      }
      image[name] = (value ?? null) as string | null;
      return;
    case 'min_disk':
    case 'min_ram':
      checkInt(name, value);
      image[name] = (value ?? 0) as number;
      return;
    case 'protected':
    case 'os_hidden':
      image[name] = !!value;
      return;
    case 'tags':
      image.tags = [...new Set(value as string[])];
      return;
    case 'name':
      image.name = (value ?? null) as string | null;
      return;
    case 'owner':
      image.owner = (value || null) as string | null;
      return;
    default:
      throw new Error(`not a settable attribute: ${name}`);
  }
}

/** The create body, split as Glance's deserializer does: 403s for reserved/read-only keys. */
export function splitCreateBody(body: Record<string, unknown>): { attrs: Record<string, unknown>; properties: Record<string, unknown>; tags: string[] } {
  const props = { ...body };
  const tags = (props.tags as string[] | undefined) ?? [];
  delete props.tags;
  const attrs: Record<string, unknown> = {};
  for (const k of BASE_PROPERTIES) {
    if (k in props) { attrs[k] = props[k]; delete props[k]; }
  }
  for (const key of Object.keys(props)) {
    if (key.length > 255) throw glanceError('Invalid', 'Custom property should not be greater than 255 characters.');
    if (RESERVED.includes(key) || key.startsWith(RESERVED_NS)) throw new GlanceError('ReservedProperty', `Attribute '${key}' is reserved.`);
  }
  return { attrs, properties: props, tags };
}

/** ImageFactory.new_image: a queued image (visibility 'shared' unless said). */
export function newImage(attrs: Record<string, unknown>, properties: Record<string, unknown>, tags: string[]): Image {
  for (const k of FACTORY_READONLY) if (k in attrs) throw glanceError('ReadonlyProperty', `Attribute '${k}' is read-only.`);
  for (const k of FACTORY_RESERVED) if (k in properties) throw glanceError('ReservedProperty', `Attribute '${k}' is reserved.`);
  checkInt('min_disk', attrs.min_disk);
  checkInt('min_ram', attrs.min_ram);
  const now = nowIso();
  return {
    id: (attrs.id as string | undefined) ?? randomUUID(),
    name: (attrs.name ?? null) as string | null,
    status: 'queued',
    visibility: (attrs.visibility as string | undefined) ?? 'shared',
    size: null, virtual_size: null, checksum: null, os_hash_algo: null, os_hash_value: null,
    owner: (attrs.owner || null) as string | null,
    disk_format: (attrs.disk_format ?? null) as string | null,
    container_format: (attrs.container_format ?? null) as string | null,
    min_disk: (attrs.min_disk ?? 0) as number,
    min_ram: (attrs.min_ram ?? 0) as number,
    protected: !!attrs.protected,
    os_hidden: !!attrs.os_hidden,
    created_at: now, updated_at: now,
    properties: properties as Record<string, string | null>,
    tags: [...new Set(tags)],
    locations: [],
  };
}

/** ImageRepo.get: the image if it exists and the caller may see it, else 404 as Glance words it. */
export async function getImage(ctx: ImageContext, rc: RequestContext, id: string, msg?: (id: string) => string): Promise<Image> {
  const image = await loadImage(ctx.db, id);
  if (!image || !(await isImageVisible(ctx.db, rc, image))) {
    throw notFound(msg ? msg(id) : `No image found with ID ${id}`);
  }
  return image;
}

/** Quotas checked when an image is added or saved (glance/quota). */
export function checkQuotas(ctx: ImageContext, image: Image, before?: Image): void {
  const o = ctx.opts;
  if (o.propertyQuota >= 0) {
    const added = !before || Object.keys(image.properties).some((k) => !(k in before.properties));
    const n = Object.keys(image.properties).filter((k) => !k.startsWith(RESERVED_NS)).length;
    if (added && n > o.propertyQuota) {
      throw glanceError('LimitExceeded', `The limit has been exceeded on the number of allowed image properties. Attempted: ${n}, Maximum: ${o.propertyQuota}`);
    }
  }
  if (o.tagQuota >= 0 && image.tags.length > o.tagQuota) {
    throw glanceError('LimitExceeded', `The limit has been exceeded on the number of allowed image tags. Attempted: ${image.tags.length}, Maximum: ${o.tagQuota}`);
  }
  if (o.locationQuota >= 0 && image.locations.length > o.locationQuota) {
    throw glanceError('LimitExceeded', `The limit has been exceeded on the number of allowed image locations. Attempted: ${image.locations.length}, Maximum: ${o.locationQuota}`);
  }
}

let imageSchemaProps: Set<string> | undefined;

/** The image as the API shows it (ResponseSerializer._format_image). */
export function formatImage(ctx: ImageContext, rc: RequestContext, image: Image): Record<string, unknown> {
  imageSchemaProps ??= new Set(Object.keys((GLANCE_SCHEMAS.image as { properties: object }).properties));
  const view: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(image.properties)) {
    if (HIDDEN.has(k)) continue;
    view[k] = v === null && !imageSchemaProps.has(k) ? '' : v;
  }
  view.name = image.name;
  view.disk_format = image.disk_format;
  view.container_format = image.container_format;
  view.visibility = image.visibility;
  view.size = image.size;
  view.virtual_size = image.virtual_size;
  view.status = image.status;
  view.checksum = image.checksum;
  view.protected = image.protected;
  view.min_ram = image.min_ram;
  view.min_disk = image.min_disk;
  view.owner = image.owner;
  view.os_hidden = image.os_hidden;
  view.os_hash_algo = image.os_hash_algo;
  view.os_hash_value = image.os_hash_value;
  view.id = image.id;
  view.created_at = isotime(image.created_at);
  view.updated_at = isotime(image.updated_at);
  // Locations of a deactivated image are hidden from everyone but admins (_normalize_locations).
  const locations = image.status === 'deactivated' && !rc.isAdmin ? [] : image.locations;
  if (ctx.opts.showMultipleLocations) view.locations = locations.map((l) => ({ url: l.url, metadata: l.metadata }));
  if (ctx.opts.showDirectUrl && locations.length) view.direct_url = locations[0]!.url;
  view.tags = [...image.tags];
  view.self = `/v2/images/${image.id}`;
  view.file = `/v2/images/${image.id}/file`;
  view.schema = '/v2/schemas/image';
  const stores = locations.map((l) => l.metadata.store).filter((s): s is string => typeof s === 'string' && !!s);
  if (stores.length) view.stores = stores.join(',');
  return view;
}

/** A new active location entry for data in a store. */
export function storeLocation(url: string, store: string): Location {
  return { id: randomUUID(), url, metadata: { store }, status: 'active' };
}
