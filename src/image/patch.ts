// PATCH /v2/images/{id}: Glance's JSON-patch dialects (application/openstack-images-v2.1-json-patch,
// RFC 6902 style {"op", "path", "value"}; and v2.0's {"add": path, "value"}), the path rules,
// the read-only and reserved attributes, and each operation's effect on the image.

import type { ImageContext, RequestContext } from './context.js';
import { badRequest, conflict, detail, explain, forbidden, GlanceError } from './errors.js';
import { DOMAIN_ATTRS, READONLY, RESERVED, RESERVED_NS, setAttr } from './images.js';
import type { Image, Location } from './store/images.js';
import type { ImagePolicy } from './authz.js';
import { validateSchema, schemaProperties } from './schema.js';
import { addLocation, removeLocation, replaceLocations } from './locations.js';

export const PATCH_TYPES: Record<string, 4 | 10> = {
  'application/openstack-images-v2.0-json-patch': 4,
  'application/openstack-images-v2.1-json-patch': 10,
};

const OPS = ['add', 'remove', 'replace'] as const;
type Op = (typeof OPS)[number];

export interface Change { op: Op; path: string[]; value?: unknown; draft: 4 | 10 }

const DEPTH: Record<string, Partial<Record<Op, number>>> = { locations: { add: 2, remove: 2, replace: 1 } };

function decodePointer(pointer: string): string[] {
  if (!pointer.startsWith('/')) throw badRequest(`Pointer \`${pointer}\` does not start with "/".`);
  if (/\/\s*?\//.test(pointer.slice(1))) throw badRequest(`Pointer \`${pointer}\` contains adjacent "/".`);
  if (pointer.length > 1 && pointer.endsWith('/')) throw badRequest(`Pointer \`${pointer}\` end with "/".`);
  if (pointer.slice(1).trim() === '/') throw badRequest(`Pointer \`${pointer}\` does not contains valid token.`);
  if (/~[^01]/.test(pointer) || pointer.endsWith('~')) throw badRequest(`Pointer \`${pointer}\` contains "~" not part of a recognized escape sequence.`);
  return pointer.replace(/^\/+/, '').split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~').trim());
}

/** The request's changes, validated as RequestDeserializer.update does. */
export function parseChanges(body: unknown, draft: 4 | 10): Change[] {
  if (!Array.isArray(body)) throw badRequest('Request body must be a JSON array of operation objects.');
  const out: Change[] = [];
  for (const raw of body) {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw badRequest('Operations must be JSON objects.');
    const r = raw as Record<string, unknown>;
    let op: Op;
    let pointer: unknown;
    if (draft === 10) {
      if (r.op === undefined || r.op === null) {
        throw badRequest(`Unable to find \`op\` in JSON Schema change. It must be one of the following: ${OPS.join(', ')}.`);
      }
      if (!OPS.includes(r.op as Op)) throw badRequest(`Invalid operation: \`${String(r.op)}\`. It must be one of the following: ${OPS.join(', ')}.`);
      op = r.op as Op;
      if (!('path' in r)) throw badRequest("Unable to find 'path' in JSON Schema change");
      pointer = r.path;
    } else {
      const found = OPS.filter((k) => k in r);
      if (found.length > 1) throw badRequest('Operation objects must contain only one member named "add", "remove", or "replace".');
      if (!found.length) throw badRequest('Operation objects must contain exactly one member named "add", "remove", or "replace".');
      op = found[0]!;
      pointer = r[op];
    }
    if (typeof pointer !== 'string') throw badRequest(`Pointer \`${String(pointer)}\` does not start with "/".`);
    const path = decodePointer(pointer);
    const root = path[0]!;
    if (path.length !== (DEPTH[root]?.[op] ?? 1)) throw badRequest(`Invalid JSON pointer for this resource: '/${path.join('/')}'`);
    const change: Change = { op, path, draft };
    if (op !== 'remove') {
      if (!('value' in r)) throw badRequest(`Operation "${op}" requires a member named "value".`);
      change.value = r.value;
    }
    validateChange(change);
    out.push(change);
  }
  return out;
}

function validateChange(c: Change): void {
  const root = c.path[0]!;
  if (root.length > 255) throw badRequest('Custom property should not be greater than 255 characters.');
  if (READONLY.includes(root)) throw forbidden(`Attribute '${root}' is read-only.`);
  if (RESERVED.includes(root)) throw forbidden(`Attribute '${root}' is reserved.`);
  if (root.startsWith(RESERVED_NS)) throw forbidden(`Attribute '${root}' is reserved.`);
  if (c.op === 'remove') return;
  let partial: Record<string, unknown> | undefined;
  if (c.path.length === 1) partial = { [root]: c.value };
  else {
    const prop = schemaProperties('image')[root];
    if (prop && prop.type === 'array') partial = { [root]: [c.value] };
  }
  if (partial) {
    try {
      validateSchema('image', partial);
    } catch (e) {
      if (e instanceof GlanceError) throw badRequest(e.message);
      throw e;
    }
  }
}

/**
 * Applies changes to the image (in memory). Returns locations removed, whose data the caller
 * deletes once the image is saved.
 */
export async function applyChanges(ctx: ImageContext, rc: RequestContext, image: Image, pol: ImagePolicy, changes: Change[]): Promise<Location[]> {
  const removed: Location[] = [];
  for (const c of changes) {
    const root = c.path[0]!;
    try {
      if (c.op === 'replace') {
        if (root === 'locations') {
          if (!c.value || (Array.isArray(c.value) && !c.value.length)) throw detail('Forbidden', 'Cannot set locations to empty list.');
          pol.updateLocations();
          await replaceLocations(ctx, image, c.value);
        } else if (root === 'owner' && !rc.isAdmin) {
          throw detail('Forbidden', "Owner can't be updated by non admin.");
        } else {
          pol.updateProperty(root, c.value);
          if (DOMAIN_ATTRS.has(root)) setAttr(image, root, c.value);
          else if (root in image.properties) image.properties[root] = c.value as string;
          else throw detail('Conflict', `Property ${root} does not exist.`);
        }
      } else if (c.op === 'add') {
        if (root === 'locations') {
          pol.updateLocations();
          await addLocation(ctx, image, c.path[1], c.value as never);
        } else {
          if (root === 'owner' && !rc.isAdmin) throw detail('Forbidden', "Owner can't be updated by non admin.");
          pol.updateProperty(root, c.value);
          if (c.draft === 4 && (DOMAIN_ATTRS.has(root) || root in image.properties)) throw detail('Conflict', `Property ${root} already present.`);
          if (DOMAIN_ATTRS.has(root)) setAttr(image, root, c.value);
          else image.properties[root] = c.value as string;
        }
      } else {
        if (root === 'locations') {
          pol.deleteLocations();
          removed.push(removeLocation(ctx, image, c.path[1]));
        } else {
          pol.updateProperty(root);
          if (DOMAIN_ATTRS.has(root)) throw detail('Forbidden', `Property ${root} may not be removed.`);
          if (root in image.properties) delete image.properties[root];
          else throw detail('Conflict', `Property ${root} does not exist.`);
        }
      }
    } catch (e) {
      if (!(e instanceof GlanceError)) throw e;
      switch (e.type) {
        case 'Forbidden': case 'ReadonlyProperty': case 'ReservedProperty': throw forbidden(e.message);
        case 'Invalid': case 'BadStoreUri': case 'ValueError': throw explain('BadRequest', e.message);
        case 'NotFound': throw explain('NotFound', e.message);
        case 'LimitExceeded': throw explain('PayloadTooLarge', e.message);
        default: throw conflict(e.message);
      }
    }
  }
  return removed;
}
