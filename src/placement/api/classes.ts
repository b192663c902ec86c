// /resource_classes and /traits (placement/handlers/{resource_class,trait}.py).

import type { FastifyReply, FastifyRequest } from 'fastify';
import { can, type PlacementContext } from '../context.js';
import type { RouteTable } from './router.js';
import { badRequest, cacheHeaders, checkAccept, conflict, extractJson, notFound, requireJson, validateQuery, CODES, locationOf } from './http.js';
import * as S from './schemas.js';
import {
  createResourceClass, createTrait, deleteResourceClass, deleteTrait, isStandardResourceClass, isStandardTrait, listResourceClasses, listTraits,
  resourceClassExists, traitExists,
} from '../store/providers.js';
import { writeTx } from '../../common/db/tx.js';

const json = (reply: FastifyReply, status: number, body: unknown) => reply.code(status).header('content-type', 'application/json').send(JSON.stringify(body));
const empty = (reply: FastifyReply, status: number) => reply.code(status).removeHeader('content-type').send();
const nameParam = (req: FastifyRequest) => (req.params as { name: string }).name;
const rcBody = (name: string) => ({ name, links: [{ rel: 'self', href: `/resource_classes/${name}` }] });

export function classRoutes(ctx: PlacementContext): RouteTable {
  const R = 'placement:resource_classes';
  const listRc = async (req: FastifyRequest, reply: FastifyReply) => {
    checkAccept(req);
    can(ctx, req, `${R}:list`);
    const all = await listResourceClasses(ctx.db);
    cacheHeaders(req, reply);
    return json(reply, 200, { resource_classes: all.map((r) => rcBody(r.name)) });
  };
  const createRc = async (req: FastifyRequest, reply: FastifyReply) => {
    requireJson(req);
    can(ctx, req, `${R}:create`);
    const { name } = extractJson<{ name: string }>(req, S.RESOURCE_CLASS_POST_RC_SCHEMA_V1_2);
    if (!(await createResourceClass(ctx.db, name))) throw conflict(`Conflicting resource class already exists: ${name}`, CODES.DUPLICATE_NAME);
    reply.header('location', locationOf(req, `/resource_classes/${name}`));
    return empty(reply, 201);
  };
  const getRc = async (req: FastifyRequest, reply: FastifyReply) => {
    checkAccept(req);
    can(ctx, req, `${R}:show`);
    const name = nameParam(req);
    if (!(await resourceClassExists(ctx.db, name))) throw notFound(`No such resource class ${name}.`);
    cacheHeaders(req, reply);
    return json(reply, 200, rcBody(name));
  };
  const renameRc = async (req: FastifyRequest, reply: FastifyReply) => {
    requireJson(req);
    can(ctx, req, `${R}:update`);
    const name = nameParam(req);
    const data = extractJson<{ name: string }>(req, S.RESOURCE_CLASS_PUT_RC_SCHEMA_V1_2);
    if (!(await resourceClassExists(ctx.db, name))) throw notFound(`No such resource class ${name}.`);
    if (isStandardResourceClass(name)) throw badRequest(`Cannot update standard resource class ${name}`);
    await writeTx(ctx, async (trx) => {
      if (await resourceClassExists(trx, data.name)) throw conflict(`Resource class already exists: ${data.name}`);
      await trx.updateTable('placement_resource_classes').set({ name: data.name, updated_at: new Date().toISOString() }).where('name', '=', name).execute();
    });
    return json(reply, 200, rcBody(data.name));
  };
  const putRc = async (req: FastifyRequest, reply: FastifyReply) => {
    can(ctx, req, `${R}:update`);
    const name = nameParam(req);
    extractJsonValue({ name }, S.RESOURCE_CLASS_PUT_RC_SCHEMA_V1_2);
    const created = !(await resourceClassExists(ctx.db, name)) && await createResourceClass(ctx.db, name);
    reply.header('location', locationOf(req, `/resource_classes/${name}`));
    return empty(reply, created ? 201 : 204);
  };
  const deleteRc = async (req: FastifyRequest, reply: FastifyReply) => {
    can(ctx, req, `${R}:delete`);
    const name = nameParam(req);
    if (!(await resourceClassExists(ctx.db, name))) throw notFound(`No such resource class ${name}.`);
    if (isStandardResourceClass(name)) throw badRequest(`Error in delete resource class: Cannot delete standard resource class ${name}.`);
    const r = await deleteResourceClass(ctx, name);
    if (r === 'missing') throw notFound(`No such resource class ${name}.`);
    if (r === 'inuse') throw conflict(`Error in delete resource class: Cannot delete resource class ${name}. Class is in use in inventory.`);
    return empty(reply, 204);
  };

  const T = 'placement:traits';
  const listT = async (req: FastifyRequest, reply: FastifyReply) => {
    checkAccept(req);
    can(ctx, req, `${T}:list`);
    const q = validateQuery(req, S.TRAIT_LIST_TRAIT_SCHEMA);
    const f: { startswith?: string; in?: string[]; associated?: boolean } = {};
    if ('name' in q) {
      const i = q.name!.indexOf(':');
      if (i < 0) throw badRequest(`Badly formatted name parameter. Expected name query string parameter in form: ?name=[in|startswith]:[name1,name2|prefix]. Got: "${q.name}"`);
      const op = q.name!.slice(0, i);
      const v = q.name!.slice(i + 1);
      if (op === 'in') f.in = v.split(',');
      else if (op === 'startswith') f.startswith = v;
    }
    if ('associated' in q) {
      const a = q.associated!.toLowerCase();
      if (a !== 'true' && a !== 'false') throw badRequest('The query parameter "associated" only accepts "true" or "false"');
      f.associated = a === 'true';
    }
    cacheHeaders(req, reply);
    return json(reply, 200, { traits: await listTraits(ctx.db, f) });
  };
  const putT = async (req: FastifyRequest, reply: FastifyReply) => {
    can(ctx, req, `${T}:update`);
    const name = nameParam(req);
    if (!/^CUSTOM_[A-Z0-9_]+$/.test(name) || name.length > 255) {
      throw badRequest('The trait is invalid. A valid trait must be no longer than 255 characters, start with the prefix "CUSTOM_" and use following characters: "A"-"Z", "0"-"9" and "_"');
    }
    const created = !(await traitExists(ctx.db, name)) && await createTrait(ctx.db, name);
    reply.header('location', locationOf(req, `/traits/${name}`));
    cacheHeaders(req, reply);
    return empty(reply, created ? 201 : 204);
  };
  const getT = async (req: FastifyRequest, reply: FastifyReply) => {
    can(ctx, req, `${T}:show`);
    const name = nameParam(req);
    if (!(await traitExists(ctx.db, name))) throw notFound(`No such trait(s): ${name}.`);
    cacheHeaders(req, reply);
    return empty(reply, 204);
  };
  const deleteT = async (req: FastifyRequest, reply: FastifyReply) => {
    can(ctx, req, `${T}:delete`);
    const name = nameParam(req);
    if (isStandardTrait(name)) throw badRequest(`Cannot delete standard trait ${name}.`);
    const r = await deleteTrait(ctx, name);
    if (r === 'missing') throw notFound(`No such trait(s): ${name}.`);
    if (r === 'inuse') throw conflict(`The trait ${name} is in use by a resource provider.`);
    return empty(reply, 204);
  };

  return {
    '/resource_classes': { GET: [{ min: 2, handler: listRc }], POST: [{ min: 2, handler: createRc }] },
    '/resource_classes/{name}': {
      GET: [{ min: 2, handler: getRc }],
      PUT: [{ min: 7, handler: putRc }, { min: 2, max: 6, handler: renameRc }],
      DELETE: [{ min: 2, handler: deleteRc }],
    },
    '/traits': { GET: [{ min: 6, handler: listT }] },
    '/traits/{name}': { GET: [{ min: 6, handler: getT }], PUT: [{ min: 6, handler: putT }], DELETE: [{ min: 6, handler: deleteT }] },
  };
}

/** extract_json on a value we built (the class name of PUT /resource_classes/{name} at 1.7+). */
function extractJsonValue(v: unknown, schema: Record<string, unknown>): void {
  extractJson({ body: v } as FastifyRequest, schema);
}
