// Glance's API policy layer (glance/api/v2/policy.py): the policy rule of each action checked
// against the image as target, a refused rule on an image the caller cannot even see answered
// as 404, and — unless secure RBAC is on — Glance's legacy ownership checks: only the owner (or
// an admin) changes, deletes, uploads to or (de)activates an image, and creates it for itself.

import type { ImageContext, RequestContext } from './context.js';
import type { Image } from './store/images.js';
import { bare, explain } from './errors.js';
import { GlanceError } from './errors.js';

/** oslo's Forbidden message for a refused rule, as Glance's Enforcer raises it. */
const refused = (action: string) => `You are not authorized to complete ${action} action.`;

/** glance.api.policy.ImageTarget: attributes, extra properties, project_id/member_id aliases. */
export function imageTarget(rc: RequestContext, image: Image): Record<string, unknown> {
  const member = image.visibility === 'shared' && rc.owner !== image.owner ? rc.owner : null;
  return {
    ...image.properties,
    id: image.id, image_id: image.id, name: image.name, status: image.status, visibility: image.visibility,
    protected: image.protected, os_hidden: image.os_hidden, checksum: image.checksum, owner: image.owner,
    size: image.size, virtual_size: image.virtual_size, disk_format: image.disk_format,
    container_format: image.container_format, min_disk: image.min_disk, min_ram: image.min_ram,
    os_hash_algo: image.os_hash_algo, os_hash_value: image.os_hash_value, created_at: image.created_at,
    updated_at: image.updated_at, tags: image.tags, extra_properties: image.properties,
    project_id: image.owner, member, member_id: member,
  };
}

/** check_is_image_mutable: owner or admin, else Forbidden('You do not own this image'). */
export function checkMutable(rc: RequestContext, image: Image): void {
  if (rc.isAdmin) return;
  if (image.owner === null || rc.owner === null || image.owner !== rc.owner) throw new GlanceError('Forbidden', 'You do not own this image');
}

export class ImagePolicy {
  private readonly target: Record<string, unknown>;
  private readonly created: boolean;

  /** image: an existing image, or the proposed attributes of one being created. */
  constructor(private ctx: ImageContext, private rc: RequestContext, private image: Image | { owner?: string | null; visibility?: string }) {
    this.created = 'id' in image && 'status' in image;
    if (this.created) this.target = imageTarget(rc, image as Image);
    else {
      const p = image as { owner?: string | null; visibility?: string };
      const owner = p.owner !== undefined ? p.owner : rc.owner;
      this.target = { project_id: owner, owner, visibility: p.visibility ?? 'private' };
    }
  }

  private legacy(): boolean { return !this.ctx.opts.secureRbac; }

  check(rule: string): boolean { return this.ctx.policy.check(rule, this.target, this.rc.creds); }

  /** Forbidden -> 404 when the caller cannot see the image, as ImageAPIPolicy._enforce. */
  enforce(rule: string): void {
    if (this.check(rule)) return;
    if (this.created && (rule === 'get_image' || !this.check('get_image'))) throw bare('NotFound');
    throw explain('Forbidden', refused(rule));
  }

  /** A soft check of one of the methods below. */
  can(fn: (p: ImagePolicy) => void): boolean {
    try { fn(this); return true; } catch { return false; }
  }

  private enforceVisibility(visibility: unknown): void {
    const rule = visibility === 'public' ? 'publicize_image' : visibility === 'community' ? 'communitize_image' : undefined;
    if (rule && !this.check(rule)) throw explain('Forbidden', refused(rule));
  }

  private mutable(): void {
    if (this.legacy() && this.created) checkMutable(this.rc, this.image as Image);
  }

  getImage(): void { this.enforce('get_image'); }
  getImages(): void { this.enforce('get_images'); }
  downloadImage(): void { this.enforce('download_image'); }
  copyImage(): void { this.enforce('copy_image'); }
  updateLocations(): void { this.enforce('set_image_location'); }
  getImageLocation(): void { this.enforce('get_image_location'); }
  deleteLocations(): void { this.enforce('delete_image_location'); this.mutable(); }
  modifyImage(): void { this.enforce('modify_image'); this.mutable(); }
  deleteImage(): void { this.enforce('delete_image'); this.mutable(); }
  uploadImage(): void { this.enforce('upload_image'); this.mutable(); }
  deactivateImage(): void { this.enforce('deactivate'); this.mutable(); }
  reactivateImage(): void { this.enforce('reactivate'); this.mutable(); }

  updateProperty(name: string, value?: unknown): void {
    if (name === 'visibility') this.enforceVisibility(value);
    this.modifyImage();
  }

  addImage(): void {
    if (!this.check('add_image')) {
      const owner = this.target.owner;
      if (owner !== this.rc.owner) throw detail403(`You are not permitted to create images owned by '${owner}'`);
      throw explain('Forbidden', refused('add_image'));
    }
    this.enforceVisibility(this.target.visibility);
    if (this.legacy() && !this.rc.isAdmin) {
      const owner = this.target.owner;
      if (this.rc.owner !== owner) throw new GlanceError('Forbidden', `You are not permitted to create images owned by '${owner}'.`);
    }
  }
}

const detail403 = (msg: string) => explain('Forbidden', msg);

/** Metadef policy (MetadefAPIPolicy): target project_id = namespace owner, visibility. */
export class MetadefPolicy {
  private readonly target: Record<string, unknown>;
  constructor(private ctx: ImageContext, private rc: RequestContext, ns?: { owner: string; visibility: string }) {
    this.target = ns ? { project_id: ns.owner, visibility: ns.visibility } : { project_id: rc.owner };
  }
  check(rule: string): boolean { return this.ctx.policy.check(rule, this.target, this.rc.creds); }
  enforce(rule: string): void {
    if (this.check(rule)) return;
    if (rule === 'get_metadef_namespace' || !this.check('get_metadef_namespace')) throw bare('NotFound');
    throw explain('Forbidden', refused(rule));
  }
}

/** Rules with no image target (cache, tasks, store details). */
export function enforcePlain(ctx: ImageContext, rc: RequestContext, rule: string, target: Record<string, unknown> = {}): void {
  if (!ctx.policy.check(rule, { project_id: rc.owner, ...target }, rc.creds)) throw explain('Forbidden', refused(rule));
}
