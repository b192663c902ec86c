// /resource_providers and what hangs off a provider: inventories, usages, traits, aggregates and
// its allocations (placement/handlers/{resource_provider,inventory,usage,aggregate,trait}.py).

import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { can, type PlacementContext } from '../context.js';
import type { RouteTable } from './router.js';
import {
  badRequest, cacheHeaders, checkAccept, conflict, extractJson, normalizeUuid, notFound, perr, requireJson, validateQuery, queryMulti, CODES, locationOf, type Version,
} from './http.js';
import * as S from './schemas.js';
import {
  addInventory, createProvider, deleteInventory, deleteProvider, InventoryInUse, listInventories, listProviders, mustGetProvider,
  providerAggregates, providerTraits, setInventories, setProviderAggregates, setProviderTraits, traitExists, UnknownResourceClass,
  updateInventory, updateProvider, MAX_INT, type Inventory, type Provider, type ProviderFilters,
} from '../store/providers.js';
import { providerAllocations, providerUsages } from '../store/allocations.js';
import { parseMemberOf, parseRequired, parseResources } from './query.js';

const P = 'placement:resource_providers';

function links(p: Provider, mv: Version) {
  const url = `/resource_providers/${p.uuid}`;
  const rels = ['inventories', 'usages'];
  if (mv.matches(1)) rels.push('aggregates');
  if (mv.matches(6)) rels.push('traits');
  if (mv.matches(11)) rels.push('allocations');
  return [{ rel: 'self', href: url }, ...rels.map((rel) => ({ rel, href: `${url}/${rel}` }))];
}

export function serializeProvider(p: Provider, mv: Version): Record<string, unknown> {
  const d: Record<string, unknown> = { uuid: p.uuid, name: p.name, generation: p.generation, links: links(p, mv) };
  if (mv.matches(14)) { d.parent_provider_uuid = p.parent_provider_uuid; d.root_provider_uuid = p.root_provider_uuid; }
  return d;
}

const json = (reply: FastifyReply, status: number, body: unknown) => reply.code(status).header('content-type', 'application/json').send(JSON.stringify(body));
const empty = (reply: FastifyReply, status: number) => reply.code(status).removeHeader('content-type').send();
const uuidParam = (req: FastifyRequest) => (req.params as { uuid: string }).uuid;

const INVENTORY_DEFAULTS = { reserved: 0, min_unit: 1, max_unit: MAX_INT, step_size: 1, allocation_ratio: 1.0 };

function inventoryBody(i: Inventory, generation?: number): Record<string, unknown> {
  const d: Record<string, unknown> = { total: i.total, reserved: i.reserved, min_unit: i.min_unit, max_unit: i.max_unit, step_size: i.step_size, allocation_ratio: i.allocation_ratio };
  if (generation) d.resource_provider_generation = generation;
  return d;
}

function checkCapacity(mv: Version, uuid: string, invs: Inventory[]): void {
  for (const i of invs) {
    const cap = i.total - i.reserved;
    if (mv.matches(26) ? cap < 0 : cap <= 0) {
      throw new Error(`Invalid inventory for '${i.resource_class}' on resource provider '${uuid}'. The reserved value is ${mv.matches(26) ? 'greater than' : 'greater than or equal to'} total.`);
    }
  }
}

export function providerRoutes(ctx: PlacementContext): RouteTable {
  const list = async (req: FastifyRequest, reply: FastifyReply) => {
    checkAccept(req);
    can(ctx, req, `${P}:list`);
    const mv = req.placementVersion!;
    const schema = mv.matches(18) ? S.RESOURCE_PROVIDER_GET_RPS_SCHEMA_1_18 : mv.matches(14) ? S.RESOURCE_PROVIDER_GET_RPS_SCHEMA_1_14
      : mv.matches(4) ? S.RESOURCE_PROVIDER_GET_RPS_SCHEMA_1_4 : mv.matches(3) ? S.RESOURCE_PROVIDER_GET_RPS_SCHEMA_1_3 : S.RESOURCE_PROVIDER_GET_RPS_SCHEMA_1_0;
    const q = validateQuery(req, schema);
    const multi = queryMulti(req);
    const f: ProviderFilters = {};
    if ('member_of' in q) Object.assign(f, parseMemberOf(multi.get('member_of')!, mv));
    if ('required' in q) Object.assign(f, await parseRequired(ctx, multi.get('required')!, mv, false));
    if ('uuid' in q) f.uuid = q.uuid;
    if ('name' in q) f.name = q.name;
    if ('in_tree' in q) f.in_tree = q.in_tree;
    if ('resources' in q) f.resources = parseResources(q.resources!);
    const rows = await listProviders(ctx.db, f);
    let last: string | null = null;
    for (const r of rows) if (!last || r.updated_at > last) last = r.updated_at;
    cacheHeaders(req, reply, last);
    return json(reply, 200, { resource_providers: rows.map((r) => serializeProvider(r, mv)) });
  };

  const create = async (req: FastifyRequest, reply: FastifyReply) => {
    requireJson(req);
    can(ctx, req, `${P}:create`);
    const mv = req.placementVersion!;
    const data = extractJson<{ name: string; uuid?: string; parent_provider_uuid?: string | null }>(req, mv.matches(14) ? S.RESOURCE_PROVIDER_POST_RP_SCHEMA_V1_14 : S.RESOURCE_PROVIDER_POST_RESOURCE_PROVIDER_SCHEMA);
    const uuid = data.uuid ? normalizeUuid(data.uuid) : randomUUID();
    const parent = data.parent_provider_uuid ? normalizeUuid(data.parent_provider_uuid) : null;
    const p = await createProvider(ctx, { uuid, name: data.name, parent_provider_uuid: parent });
    reply.header('location', locationOf(req, `/resource_providers/${uuid}`));
    if (mv.matches(20)) {
      cacheHeaders(req, reply, p.updated_at);
      reply.header('last-modified', new Date(p.updated_at).toUTCString()).header('cache-control', 'no-cache');
      return json(reply, 200, serializeProvider(p, mv));
    }
    return empty(reply, 201);
  };

  const show = async (req: FastifyRequest, reply: FastifyReply) => {
    checkAccept(req);
    can(ctx, req, `${P}:show`);
    const p = await mustGetProvider(ctx.db, uuidParam(req));
    cacheHeaders(req, reply, p.updated_at);
    return json(reply, 200, serializeProvider(p, req.placementVersion!));
  };

  const update = async (req: FastifyRequest, reply: FastifyReply) => {
    requireJson(req);
    const uuid = uuidParam(req);
    can(ctx, req, `${P}:update`);
    const mv = req.placementVersion!;
    await mustGetProvider(ctx.db, uuid);
    const data = extractJson<{ name?: string; parent_provider_uuid?: string | null }>(req, mv.matches(14) ? S.RESOURCE_PROVIDER_PUT_RP_SCHEMA_V1_14 : S.RESOURCE_PROVIDER_PUT_RESOURCE_PROVIDER_SCHEMA);
    const d: { name?: string; parent_provider_uuid?: string | null } = {};
    if ('name' in data) d.name = data.name;
    if ('parent_provider_uuid' in data) d.parent_provider_uuid = data.parent_provider_uuid ? normalizeUuid(data.parent_provider_uuid) : null;
    const p = await updateProvider(ctx, uuid, d, mv.matches(37));
    cacheHeaders(req, reply, p.updated_at);
    return json(reply, 200, serializeProvider(p, mv));
  };

  const destroy = async (req: FastifyRequest, reply: FastifyReply) => {
    can(ctx, req, `${P}:delete`);
    await deleteProvider(ctx, uuidParam(req));
    return empty(reply, 204);
  };

  // ---- inventories ----
  const I = `${P}:inventories`;
  const rpOr404 = async (uuid: string) => {
    try { return await mustGetProvider(ctx.db, uuid); } catch (e) {
      throw notFound(`No resource provider with uuid ${uuid} found : No resource provider with uuid ${uuid} found`);
    }
  };
  const sendInventories = async (req: FastifyRequest, reply: FastifyReply, uuid: string, generation: number) => {
    const invs = await listInventories(ctx.db, uuid);
    let last: string | null = null;
    for (const i of invs) if (!last || (i.updated_at ?? '') > last) last = i.updated_at ?? null;
    cacheHeaders(req, reply, last);
    return json(reply, 200, { resource_provider_generation: generation, inventories: Object.fromEntries(invs.map((i) => [i.resource_class, inventoryBody(i)])) });
  };
  const mapInvError = (uuid: string, e: unknown, verb: 'create' | 'update'): never => {
    if (e instanceof UnknownResourceClass) {
      throw badRequest(verb === 'create' ? `Unable to create inventory for resource provider ${uuid}: No such resource class ${e.rc}.`
        : `Unknown resource class in inventory for resource provider ${uuid}: No such resource class ${e.rc}.`);
    }
    if (e instanceof InventoryInUse) throw conflict(`update conflict: ${e.message}`, CODES.INVENTORY_INUSE);
    throw e;
  };
  const capOr400 = (mv: Version, uuid: string, invs: Inventory[], verb: 'create' | 'update') => {
    try { checkCapacity(mv, uuid, invs); } catch (e) {
      throw badRequest(`Unable to ${verb} inventory for resource provider ${uuid}: ${(e as Error).message}`);
    }
  };

  const getInventories = async (req: FastifyRequest, reply: FastifyReply) => {
    checkAccept(req);
    can(ctx, req, `${I}:list`);
    const rp = await rpOr404(uuidParam(req));
    return sendInventories(req, reply, rp.uuid, rp.generation);
  };
  const postInventory = async (req: FastifyRequest, reply: FastifyReply) => {
    requireJson(req);
    can(ctx, req, `${I}:create`);
    const uuid = uuidParam(req);
    await mustGetProvider(ctx.db, uuid);
    const data = extractJson<Inventory>(req, S.INVENTORY_POST_INVENTORY_SCHEMA);
    const inv: Inventory = { ...INVENTORY_DEFAULTS, ...data };
    capOr400(req.placementVersion!, uuid, [inv], 'create');
    let gen: number;
    try { gen = await addInventory(ctx, uuid, inv); } catch (e) { return mapInvError(uuid, e, 'create'); }
    reply.header('location', locationOf(req, `/resource_providers/${uuid}/inventories/${inv.resource_class}`));
    cacheHeaders(req, reply);
    return json(reply, 201, inventoryBody(inv, gen));
  };
  const putInventories = async (req: FastifyRequest, reply: FastifyReply) => {
    requireJson(req);
    can(ctx, req, `${I}:update`);
    const uuid = uuidParam(req);
    const rp = await mustGetProvider(ctx.db, uuid);
    const data = extractJson<{ resource_provider_generation: number; inventories: Record<string, Partial<Inventory>> }>(req, S.INVENTORY_PUT_INVENTORY_SCHEMA);
    if (data.resource_provider_generation !== rp.generation) throw conflict('resource provider generation conflict', CODES.CONCURRENT_UPDATE);
    const invs = Object.entries(data.inventories).map(([rc, i]) => ({ ...INVENTORY_DEFAULTS, ...i, resource_class: rc }) as Inventory);
    capOr400(req.placementVersion!, uuid, invs, 'update');
    let gen: number;
    try {
      gen = await setInventories(ctx, uuid, data.resource_provider_generation, invs, 'update conflict: Another thread concurrently updated the resource provider data. Please retry your update');
    } catch (e) { return mapInvError(uuid, e, 'update'); }
    return sendInventories(req, reply, uuid, gen);
  };
  const deleteInventories = async (req: FastifyRequest, reply: FastifyReply) => {
    can(ctx, req, `${I}:delete`);
    const uuid = uuidParam(req);
    await mustGetProvider(ctx.db, uuid);
    try {
      await setInventories(ctx, uuid, null, [], `Unable to delete inventory for resource provider ${uuid} because the inventory was updated by another process. Please retry your request.`);
    } catch (e) {
      if (e instanceof InventoryInUse) throw conflict(e.message, CODES.INVENTORY_INUSE);
      throw e;
    }
    return empty(reply, 204);
  };
  const getInventory = async (req: FastifyRequest, reply: FastifyReply) => {
    checkAccept(req);
    can(ctx, req, `${I}:show`);
    const { uuid, resource_class: rc } = req.params as { uuid: string; resource_class: string };
    const rp = await rpOr404(uuid);
    const inv = (await listInventories(ctx.db, uuid)).find((i) => i.resource_class === rc);
    if (!inv) throw notFound(`No inventory of class ${rc} for ${uuid}`);
    cacheHeaders(req, reply, inv.updated_at);
    return json(reply, 200, inventoryBody(inv, rp.generation));
  };
  const putInventory = async (req: FastifyRequest, reply: FastifyReply) => {
    requireJson(req);
    can(ctx, req, `${I}:update`);
    const { uuid, resource_class: rc } = req.params as { uuid: string; resource_class: string };
    const rp = await mustGetProvider(ctx.db, uuid);
    const data = extractJson<Inventory & { resource_provider_generation: number }>(req, S.INVENTORY_BASE_INVENTORY_SCHEMA);
    if (data.resource_provider_generation !== rp.generation) throw conflict('resource provider generation conflict', CODES.CONCURRENT_UPDATE);
    const { resource_provider_generation: g, ...rest } = data;
    const inv: Inventory = { ...INVENTORY_DEFAULTS, ...rest, resource_class: rc };
    capOr400(req.placementVersion!, uuid, [inv], 'update');
    const gen = await updateInventory(ctx, uuid, g, inv);
    cacheHeaders(req, reply);
    return json(reply, 200, inventoryBody(inv, gen));
  };
  const delInventory = async (req: FastifyRequest, reply: FastifyReply) => {
    can(ctx, req, `${I}:delete`);
    const { uuid, resource_class: rc } = req.params as { uuid: string; resource_class: string };
    await mustGetProvider(ctx.db, uuid);
    await deleteInventory(ctx, uuid, rc);
    return empty(reply, 204);
  };

  // ---- usages, allocations ----
  const usages = async (req: FastifyRequest, reply: FastifyReply) => {
    checkAccept(req);
    can(ctx, req, `${P}:usages`);
    const uuid = uuidParam(req);
    const rp = await rpOr404(uuid).catch(() => { throw notFound(`No resource provider with uuid ${uuid} found: No resource provider with uuid ${uuid} found`); });
    const u = await providerUsages(ctx.db, uuid);
    if (req.placementVersion!.matches(15)) reply.header('cache-control', 'no-cache').header('last-modified', new Date().toUTCString());
    return json(reply, 200, { resource_provider_generation: rp.generation, usages: u });
  };
  const rpAllocations = async (req: FastifyRequest, reply: FastifyReply) => {
    checkAccept(req);
    can(ctx, req, `${P}:allocations:list`);
    const uuid = uuidParam(req);
    const rp = await mustGetProvider(ctx.db, uuid).catch(() => { throw notFound(`Resource provider '${uuid}' not found: No resource provider with uuid ${uuid} found`); });
    const allocs = await providerAllocations(ctx.db, uuid);
    const show = req.placementVersion!.matches(28);
    const out: Record<string, unknown> = {};
    for (const [c, a] of Object.entries(allocs)) out[c] = show ? a : { resources: a.resources };
    cacheHeaders(req, reply);
    return json(reply, 200, { allocations: out, resource_provider_generation: rp.generation });
  };

  // ---- traits ----
  const T = `${P}:traits`;
  const getTraits = async (req: FastifyRequest, reply: FastifyReply) => {
    checkAccept(req);
    can(ctx, req, `${T}:list`);
    const uuid = uuidParam(req);
    const rp = await mustGetProvider(ctx.db, uuid).catch(() => { throw notFound(`No resource provider with uuid ${uuid} found: No resource provider with uuid ${uuid} found`); });
    cacheHeaders(req, reply);
    return json(reply, 200, { traits: await providerTraits(ctx.db, uuid), resource_provider_generation: rp.generation });
  };
  const putTraits = async (req: FastifyRequest, reply: FastifyReply) => {
    requireJson(req);
    can(ctx, req, `${T}:update`);
    const uuid = uuidParam(req);
    const data = extractJson<{ traits: string[]; resource_provider_generation: number }>(req, S.TRAIT_SET_TRAITS_FOR_RP_SCHEMA);
    const rp = await mustGetProvider(ctx.db, uuid);
    const msg = "Resource provider's generation already changed. Please update the generation and try again.";
    if (rp.generation !== data.resource_provider_generation) throw conflict(msg, CODES.CONCURRENT_UPDATE);
    const missing: string[] = [];
    for (const t of data.traits) if (!(await traitExists(ctx.db, t))) missing.push(t);
    if (missing.length) throw badRequest(`No such trait ${missing.join(', ')}`);
    let gen: number;
    try { gen = await setProviderTraits(ctx, uuid, data.resource_provider_generation, data.traits); } catch (e) {
      if ((e as { status?: number }).status === 409) throw conflict(msg, CODES.CONCURRENT_UPDATE);
      throw e;
    }
    cacheHeaders(req, reply);
    return json(reply, 200, { traits: [...new Set(data.traits)].sort(), resource_provider_generation: gen });
  };
  const deleteTraits = async (req: FastifyRequest, reply: FastifyReply) => {
    can(ctx, req, `${T}:delete`);
    const uuid = uuidParam(req);
    await mustGetProvider(ctx.db, uuid);
    await setProviderTraits(ctx, uuid, null, []);
    return empty(reply, 204);
  };

  // ---- aggregates ----
  const A = `${P}:aggregates`;
  const sendAggs = (req: FastifyRequest, reply: FastifyReply, aggs: string[], generation: number) => {
    const body: Record<string, unknown> = { aggregates: aggs };
    if (req.placementVersion!.matches(19)) body.resource_provider_generation = generation;
    cacheHeaders(req, reply);
    return json(reply, 200, body);
  };
  const getAggs = async (req: FastifyRequest, reply: FastifyReply) => {
    checkAccept(req);
    can(ctx, req, `${A}:list`);
    const rp = await mustGetProvider(ctx.db, uuidParam(req));
    return sendAggs(req, reply, await providerAggregates(ctx.db, rp.uuid), rp.generation);
  };
  const putAggs = async (req: FastifyRequest, reply: FastifyReply) => {
    requireJson(req);
    can(ctx, req, `${A}:update`);
    const mv = req.placementVersion!;
    const rp = await mustGetProvider(ctx.db, uuidParam(req));
    const withGen = mv.matches(19);
    const data = extractJson<string[] | { aggregates: string[]; resource_provider_generation: number }>(req, withGen ? S.AGGREGATE_PUT_AGGREGATES_SCHEMA_V1_19 : S.AGGREGATE_PUT_AGGREGATES_SCHEMA_V1_1);
    let aggs: string[];
    let gen: number | null = null;
    if (withGen) {
      const d = data as { aggregates: string[]; resource_provider_generation: number };
      if (d.resource_provider_generation !== rp.generation) throw conflict("Resource provider's generation already changed. Please update the generation and try again.", CODES.CONCURRENT_UPDATE);
      aggs = d.aggregates; gen = d.resource_provider_generation;
    } else aggs = data as string[];
    const newGen = await setProviderAggregates(ctx, rp.uuid, gen, aggs, withGen).catch((e) => {
      if ((e as { status?: number }).status === 409) throw conflict('Update conflict: Another thread concurrently updated the resource provider data. Please retry your update', CODES.CONCURRENT_UPDATE);
      throw e;
    });
    return sendAggs(req, reply, [...new Set(aggs)], newGen);
  };

  return {
    '/resource_providers': { GET: list, POST: create },
    '/resource_providers/{uuid}': { GET: show, DELETE: destroy, PUT: update },
    '/resource_providers/{uuid}/inventories': { GET: getInventories, POST: postInventory, PUT: putInventories, DELETE: [{ min: 5, status: 405, handler: deleteInventories }] },
    '/resource_providers/{uuid}/inventories/{resource_class}': { GET: getInventory, PUT: putInventory, DELETE: delInventory },
    '/resource_providers/{uuid}/usages': { GET: usages },
    '/resource_providers/{uuid}/aggregates': { GET: [{ min: 1, handler: getAggs }], PUT: [{ min: 1, handler: putAggs }] },
    '/resource_providers/{uuid}/allocations': { GET: rpAllocations },
    '/resource_providers/{uuid}/traits': { GET: [{ min: 6, handler: getTraits }], PUT: [{ min: 6, handler: putTraits }], DELETE: [{ min: 6, handler: deleteTraits }] },
  };
}

export { perr };
