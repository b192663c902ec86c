// /allocations, /allocations/{consumer_uuid} and /usages (placement/handlers/{allocation,usage}.py).

import type { FastifyReply, FastifyRequest } from 'fastify';
import { can, type PlacementContext } from '../context.js';
import type { RouteTable } from './router.js';
import { badRequest, cacheHeaders, checkAccept, conflict, extractJson, isUuidLike, normalizeUuid, notFound, requireJson, validateQuery, CODES, locationOf } from './http.js';
import * as S from './schemas.js';
import {
  AllocationInvalid, AllocationNotFound, AllocationProviderMissing, consumerAllocations, deleteAllocations, totalUsages, writeAllocations, type ConsumerWrite,
} from '../store/allocations.js';
import { getProvider } from '../store/providers.js';

const json = (reply: FastifyReply, status: number, body: unknown) => reply.code(status).header('content-type', 'application/json').send(JSON.stringify(body));
const empty = (reply: FastifyReply, status: number) => reply.code(status).removeHeader('content-type').send();

interface Body12 {
  allocations: Record<string, { resources: Record<string, number>; generation?: number }>;
  project_id?: string; user_id?: string; consumer_generation?: number | null; consumer_type?: string;
}

export function allocationRoutes(ctx: PlacementContext): RouteTable {
  const A = 'placement:allocations';

  const toWrite = (consumer: string, d: Body12, mvMinor: number): ConsumerWrite => {
    const allocations: Record<string, Record<string, number>> = {};
    for (const [rp, a] of Object.entries(d.allocations)) allocations[normalizeUuid(rp)] = a.resources;
    const noProject = d.project_id === undefined;
    return {
      consumer,
      project_id: noProject ? ctx.incompleteProject : d.project_id!,
      user_id: noProject ? ctx.incompleteUser : d.user_id!,
      consumer_generation: mvMinor >= 28 ? (d.consumer_generation ?? null) : undefined,
      consumer_type: mvMinor >= 38 ? d.consumer_type ?? null : undefined,
      allocations,
    };
  };

  const checkProviders = async (w: ConsumerWrite) => {
    for (const rp of Object.keys(w.allocations)) {
      if (!(await getProvider(ctx.db, rp))) throw badRequest(`Allocation for resource provider '${rp}' that does not exist.`);
    }
  };

  const write = async (writes: ConsumerWrite[], notFoundPrefix: string) => {
    try {
      await writeAllocations(ctx, writes);
    } catch (e) {
      if (e instanceof AllocationProviderMissing) throw badRequest(e.message);
      if (e instanceof AllocationNotFound) throw badRequest(`${notFoundPrefix}${e.message}`);
      if (e instanceof AllocationInvalid) throw conflict(`Unable to allocate inventory: ${e.message}`);
      throw e;
    }
  };

  const putConsumer = async (req: FastifyRequest, reply: FastifyReply) => {
    requireJson(req);
    can(ctx, req, `${A}:update`);
    const mv = req.placementVersion!;
    let consumer = (req.params as { consumer_uuid: string }).consumer_uuid;
    if (!isUuidLike(consumer)) throw badRequest(`Malformed consumer_uuid: ${consumer}`);
    consumer = normalizeUuid(consumer);
    const schema = mv.matches(38) ? S.ALLOCATION_ALLOCATION_SCHEMA_V1_38 : mv.matches(34) ? S.ALLOCATION_ALLOCATION_SCHEMA_V1_34
      : mv.matches(28) ? S.ALLOCATION_ALLOCATION_SCHEMA_V1_28 : mv.matches(12) ? S.ALLOCATION_ALLOCATION_SCHEMA_V1_12
        : mv.matches(8) ? S.ALLOCATION_ALLOCATION_SCHEMA_V1_8 : S.ALLOCATION_ALLOCATION_SCHEMA;
    const data = extractJson<Body12 & { allocations: unknown }>(req, schema);
    let body: Body12 = data;
    if (!mv.matches(12)) {
      const list = data.allocations as unknown as Array<{ resource_provider: { uuid: string }; resources: Record<string, number> }>;
      const allocs: Body12['allocations'] = {};
      for (const a of list) allocs[a.resource_provider.uuid] = { resources: a.resources };
      body = { ...data, allocations: allocs };
    }
    const w = toWrite(consumer, body, mv.minor);
    await checkProviders(w);
    await write([w], `Unable to allocate inventory for consumer ${consumer}: `);
    return empty(reply, 204);
  };

  const postMany = async (req: FastifyRequest, reply: FastifyReply) => {
    requireJson(req);
    can(ctx, req, `${A}:manage`);
    const mv = req.placementVersion!;
    const schema = mv.matches(38) ? S.ALLOCATION_POST_ALLOCATIONS_V1_38 : mv.matches(34) ? S.ALLOCATION_POST_ALLOCATIONS_V1_34
      : mv.matches(28) ? S.ALLOCATION_POST_ALLOCATIONS_V1_28 : S.ALLOCATION_POST_ALLOCATIONS_V1_13;
    const data = extractJson<Record<string, Body12>>(req, schema);
    const writes: ConsumerWrite[] = [];
    for (const [consumer, d] of Object.entries(data)) writes.push(toWrite(normalizeUuid(consumer), d, mv.minor));
    for (const w of writes) await checkProviders(w);
    await write(writes, 'Unable to allocate inventory ');
    return empty(reply, 204);
  };

  const getConsumer = async (req: FastifyRequest, reply: FastifyReply) => {
    checkAccept(req);
    can(ctx, req, `${A}:list`);
    const mv = req.placementVersion!;
    const consumer = (req.params as { consumer_uuid: string }).consumer_uuid;
    const r = await consumerAllocations(ctx.db, consumer);
    const body: Record<string, unknown> = { allocations: r.allocations };
    if (r.consumer && mv.matches(12)) {
      body.project_id = r.consumer.project_id;
      body.user_id = r.consumer.user_id;
      if (mv.matches(28)) body.consumer_generation = r.consumer.generation;
      if (mv.matches(38)) body.consumer_type = r.consumer.consumer_type ?? 'unknown';
    }
    cacheHeaders(req, reply, r.updated_at);
    return json(reply, 200, body);
  };

  const deleteConsumer = async (req: FastifyRequest, reply: FastifyReply) => {
    can(ctx, req, `${A}:delete`);
    const consumer = (req.params as { consumer_uuid: string }).consumer_uuid;
    if (!(await deleteAllocations(ctx, consumer))) throw notFound(`No allocations for consumer '${consumer}'`);
    return empty(reply, 204);
  };

  const usages = async (req: FastifyRequest, reply: FastifyReply) => {
    checkAccept(req);
    const mv = req.placementVersion!;
    const q0 = Object.fromEntries(new URLSearchParams(req.url.split('?')[1] ?? ''));
    can(ctx, req, 'placement:usages', { project_id: q0.project_id ?? null });
    const show = mv.matches(38);
    const q = validateQuery(req, show ? S.USAGE_GET_USAGES_SCHEMA_V1_38 : S.USAGE_GET_USAGES_SCHEMA_1_9);
    const rows = await totalUsages(ctx.db, q.project_id!, q.user_id, show ? q.consumer_type : undefined);
    let usages: Record<string, unknown>;
    if (show) {
      usages = {};
      for (const r of rows) {
        const g = (usages[r.consumer_type] ??= {}) as Record<string, number>;
        g[r.resource_class] = r.used;
        g.consumer_count = r.consumers;
      }
    } else {
      const sums: Record<string, number> = {};
      for (const r of rows) sums[r.resource_class] = (sums[r.resource_class] ?? 0) + r.used;
      usages = sums;
    }
    if (mv.matches(15)) reply.header('cache-control', 'no-cache').header('last-modified', new Date().toUTCString());
    return json(reply, 200, { usages });
  };

  return {
    '/allocations': { POST: [{ min: 13, handler: postMany }] },
    '/allocations/{consumer_uuid}': { GET: getConsumer, PUT: putConsumer, DELETE: deleteConsumer },
    '/usages': { GET: [{ min: 9, handler: usages }] },
  };
}

export { CODES };
