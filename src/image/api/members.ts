// /v2/images/{id}/members: sharing an image with other projects (Glance's image_members).
// Only `shared` images have members; the owner adds and removes them, the member accepts or
// rejects; an accepted image appears in the member's default list.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ImageContext, RequestContext } from '../context.js';
import { requestContext } from '../context.js';
import { isotime, nowIso } from '../util.js';
import { ApiError } from '../../common/errors.js';
import { badRequest, conflict, explain, forbidden, GlanceError, notFound } from '../errors.js';
import { getImage } from '../images.js';
import { countMembers, deleteMember, findMembers, insertMember, updateMember, type Image, type Member } from '../store/images.js';
import { ImagePolicy, imageTarget } from '../authz.js';
import { requireBody, resource } from './http.js';

type Req = FastifyRequest<{ Params: { image_id: string; member_id: string } }>;

function formatMember(m: Member): Record<string, unknown> {
  return {
    member_id: m.member, image_id: m.image_id, status: m.status,
    created_at: isotime(m.created_at), updated_at: isotime(m.updated_at), schema: '/v2/schemas/member',
  };
}

/** _check_visibility_and_ownership. */
function checkVisibility(ctx: ImageContext, rc: RequestContext, image: Image, ownership?: 'create' | 'update' | 'delete'): void {
  if (image.visibility !== 'shared') throw new GlanceError('Forbidden', 'Only shared images have members.');
  if (ctx.opts.secureRbac || rc.isAdmin) return;
  const owner = image.owner;
  if (ownership === 'create' && (owner === null || owner !== rc.owner)) throw new GlanceError('Forbidden', 'You are not permitted to create image members for the image.');
  if (ownership === 'update' && rc.owner === owner) throw new GlanceError('Forbidden', "You are not permitted to modify 'status' on this image member.");
  if (ownership === 'delete' && rc.owner !== owner) throw new GlanceError('Forbidden', 'You cannot delete image member.');
}

/** MemberAPIPolicy: get_image first (404 when invisible), then the member rule. */
function enforceMember(ctx: ImageContext, rc: RequestContext, image: Image, rule: string): void {
  new ImagePolicy(ctx, rc, image).getImage();
  if (!ctx.policy.check(rule, imageTarget(rc, image), rc.creds)) throw new GlanceError('Forbidden', `You are not authorized to complete ${rule} action.`);
}

async function lookupImage(ctx: ImageContext, rc: RequestContext, id: string): Promise<Image> {
  try {
    return await getImage(ctx, rc, id);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) throw notFound(`Image ${id} not found.`);
    throw e;
  }
}

/** Members the caller may see: all of them for the owner and admins, else its own (DB filter). */
async function visibleMembers(ctx: ImageContext, rc: RequestContext, image: Image, member?: string): Promise<Member[]> {
  const all = await findMembers(ctx.db, { imageId: image.id, member });
  if (rc.isAdmin || image.owner === rc.owner) return all;
  return all.filter((m) => m.member === rc.owner);
}

async function lookupMember(ctx: ImageContext, rc: RequestContext, image: Image, memberId: string): Promise<Member> {
  try {
    enforceMember(ctx, rc, image, 'get_member');
  } catch (e) {
    if (e instanceof GlanceError || (e instanceof ApiError && e.status === 403)) {
      throw forbidden(`You are not authorized to lookup the members of the image ${image.id}.`);
    }
    throw e;
  }
  const [m] = await visibleMembers(ctx, rc, image, memberId);
  if (!m) throw notFound(`${memberId} not found in the member list of the image ${image.id}.`);
  return m;
}

export function registerMembers(app: FastifyInstance, ctx: ImageContext): void {
  resource(app, '/v2/images/:image_id/members', {
    GET: [async (req: Req) => {
      const rc = requestContext(ctx, req);
      const image = await lookupImage(ctx, rc, req.params.image_id);
      try {
        checkVisibility(ctx, rc, image);
        enforceMember(ctx, rc, image, 'get_members');
      } catch (e) {
        if (e instanceof GlanceError) throw forbidden(`Not allowed to list members for image ${image.id}: ${e.message}`);
        throw e;
      }
      const members = (await visibleMembers(ctx, rc, image)).filter(() => ctx.policy.check('get_member', imageTarget(rc, image), rc.creds));
      return { members: members.map(formatMember), schema: '/v2/schemas/members' };
    }, { bodyReject: true }],
    POST: async (req: Req) => {
      const rc = requestContext(ctx, req);
      const body = requireBody(req) as Record<string, unknown>;
      if (Array.isArray(body)) throw badRequest('Expected a member in the form: {"member": "image_id"}');
      if (!('member' in body)) throw badRequest('Member to be added not specified');
      const memberId = body.member;
      if (!memberId) throw badRequest("Member can't be empty");
      if (typeof memberId !== 'string') throw badRequest('Expected a member in the form: {"member": "image_id"}');
      if (memberId.length > 255) throw badRequest('Member to be added must be at most 255 characters');
      const id = req.params.image_id;
      const image = await lookupImage(ctx, rc, id);
      try {
        checkVisibility(ctx, rc, image, 'create');
        enforceMember(ctx, rc, image, 'add_member');
      } catch (e) {
        if (e instanceof GlanceError || (e instanceof ApiError && e.status === 403)) throw forbidden(`Not allowed to create members for image ${id}.`);
        throw e;
      }
      const quota = ctx.opts.memberQuota;
      if (quota >= 0) {
        const n = await countMembers(ctx.db, id);
        if (n + 1 > quota) {
          throw explain('PayloadTooLarge', `Image member limit exceeded for image ${id}: The limit has been exceeded on the number of allowed image members for this image. Attempted: ${n + 1}, Maximum: ${quota}:`);
        }
      }
      const now = nowIso();
      const m: Member = { image_id: id, member: memberId, status: 'pending', created_at: now, updated_at: now };
      try {
        await insertMember(ctx.db, m);
      } catch (e) {
        if (e instanceof GlanceError && e.type === 'Duplicate') throw conflict(`Member ${memberId} is duplicated for image ${id}`);
        throw e;
      }
      return formatMember(m);
    },
  });

  resource(app, '/v2/images/:image_id/members/:member_id', {
    GET: [async (req: Req) => {
      const rc = requestContext(ctx, req);
      const image = await lookupImage(ctx, rc, req.params.image_id);
      try {
        checkVisibility(ctx, rc, image);
        return formatMember(await lookupMember(ctx, rc, image, req.params.member_id));
      } catch (e) {
        if (e instanceof GlanceError) throw notFound(e.message);
        if (e instanceof ApiError && e.status === 403) throw notFound(e.message);
        throw e;
      }
    }, { bodyReject: true }],
    PUT: async (req: Req) => {
      const rc = requestContext(ctx, req);
      const body = requireBody(req) as Record<string, unknown>;
      if (Array.isArray(body)) throw badRequest('Expected a status in the form: {"status": "status"}');
      if (!('status' in body)) throw badRequest('Status not specified');
      const status = body.status;
      const id = req.params.image_id;
      const image = await lookupImage(ctx, rc, id);
      try {
        checkVisibility(ctx, rc, image, 'update');
        const m = await lookupMember(ctx, rc, image, req.params.member_id);
        if (!ctx.policy.check('modify_member', imageTarget(rc, image), rc.creds)) throw new GlanceError('Forbidden', 'modify_member');
        if (status !== 'pending' && status !== 'accepted' && status !== 'rejected') {
          throw badRequest('Incorrect request: Status must be "pending", "accepted" or "rejected".');
        }
        m.status = status;
        await updateMember(ctx.db, m);
        return formatMember(m);
      } catch (e) {
        if (e instanceof GlanceError) throw forbidden(`Not allowed to update members for image ${id}.`);
        throw e;
      }
    },
    DELETE: [async (req: Req, reply: FastifyReply) => {
      const rc = requestContext(ctx, req);
      const id = req.params.image_id;
      const image = await lookupImage(ctx, rc, id);
      try {
        checkVisibility(ctx, rc, image, 'delete');
        const m = await lookupMember(ctx, rc, image, req.params.member_id);
        enforceMember(ctx, rc, image, 'delete_member');
        await deleteMember(ctx.db, id, m.member);
      } catch (e) {
        if (e instanceof GlanceError) throw forbidden(`Not allowed to delete members for image ${id}.`);
        throw e;
      }
      reply.code(204);
    }, { bodyReject: true }],
  });
}
