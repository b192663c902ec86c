// /v3/policies: opaque policy blobs with a type (deprecated in Keystone, still served), and
// OS-ENDPOINT-POLICY: which policy applies to an endpoint, directly, through its service in its
// region (or a parent region), or through its service alone.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../../common/errors.js';
import { validate } from '../../common/validation.js';
import type { IdentityContext } from '../context.js';
import { enforce, listLinks, member, newId, parseJson, q, selfLink, rowOr404 } from '../context.js';
import type { ExtensionDeps } from '../extensions.js';
import { formatEndpoint } from './catalog.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Row = Record<string, any>;

const policyProperties = { blob: { type: 'string' }, type: { type: 'string', maxLength: 255 } };
const policyCreate = { type: 'object', properties: policyProperties, required: ['blob', 'type'], additionalProperties: true };
const policyUpdate = { type: 'object', properties: policyProperties, minProperties: 1, additionalProperties: true };

const CORE = ['id', 'type', 'blob', 'links'];
const extraOf = (body: Row): Row => Object.fromEntries(Object.entries(body).filter(([k]) => !CORE.includes(k)));

function formatPolicy(req: FastifyRequest, p: Row): Row {
  return { ...parseJson(p.extra, {}), id: p.id, type: p.type, blob: p.blob, links: selfLink(req, `policies/${p.id}`) };
}

async function getPolicy(ctx: IdentityContext, id: string): Promise<Row> {
  return rowOr404(ctx, 'identity_policy', id, `Could not find policy: ${id}.`);
}

async function need(ctx: IdentityContext, table: 'endpoint' | 'service' | 'region', id: string): Promise<Row> {
  const r = await ctx.db.selectFrom(table).selectAll().where('id', '=', id).executeTakeFirst();
  if (!r) throw new ApiError('NotFound', `Could not find ${table}: ${id}.`);
  return r;
}

interface Target { endpoint_id?: string; service_id?: string; region_id?: string }

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function whereTarget(qb: any, t: Target): any {
  let out = qb;
  for (const k of ['endpoint_id', 'service_id', 'region_id'] as const) {
    out = t[k] === undefined ? out.where(k, 'is', null) : out.where(k, '=', t[k]);
  }
  return out;
}

/** The policy associated with exactly this endpoint / service / service+region, if any. */
async function associated(ctx: IdentityContext, t: Target): Promise<string | undefined> {
  const r = await whereTarget(ctx.db.selectFrom('identity_policy_association').select('policy_id'), t).executeTakeFirst();
  return r?.policy_id;
}

export function registerPolicies(app: FastifyInstance, ctx: IdentityContext): void {
  app.post('/v3/policies', async (req, reply) => {
    enforce(ctx, req, 'identity:create_policy');
    const body = validate<Row>(policyCreate, member(req.body, 'policy'));
    const row = { id: newId(), type: body.type, blob: body.blob, extra: JSON.stringify(extraOf(body)) };
    await ctx.db.insertInto('identity_policy').values(row).execute();
    reply.code(201);
    return { policy: formatPolicy(req, row) };
  });

  app.get('/v3/policies', async (req) => {
    enforce(ctx, req, 'identity:list_policies');
    let qb: Row = ctx.db.selectFrom('identity_policy').selectAll();
    const type = q(req, 'type');
    if (type !== undefined) qb = qb.where('type', '=', type);
    const rows: Row[] = await qb.orderBy('id').execute();
    return { policies: rows.map((p) => formatPolicy(req, p)), links: listLinks(req) };
  });

  app.get<{ Params: { id: string } }>('/v3/policies/:id', async (req) => {
    enforce(ctx, req, 'identity:get_policy');
    return { policy: formatPolicy(req, await getPolicy(ctx, req.params.id)) };
  });

  app.patch<{ Params: { id: string } }>('/v3/policies/:id', async (req) => {
    enforce(ctx, req, 'identity:update_policy');
    const body = validate<Row>(policyUpdate, member(req.body, 'policy'));
    const p = await getPolicy(ctx, req.params.id);
    if ('id' in body && body.id !== p.id) throw new ApiError('BadRequest', 'Cannot change policy ID');
    const upd: Row = { extra: JSON.stringify({ ...parseJson(p.extra, {}), ...extraOf(body) }) };
    if (body.type !== undefined) upd.type = body.type;
    if (body.blob !== undefined) upd.blob = body.blob;
    await ctx.db.updateTable('identity_policy').set(upd).where('id', '=', p.id).execute();
    return { policy: formatPolicy(req, await getPolicy(ctx, p.id)) };
  });

  app.delete<{ Params: { id: string } }>('/v3/policies/:id', async (req, reply) => {
    enforce(ctx, req, 'identity:delete_policy');
    const p = await getPolicy(ctx, req.params.id);
    await ctx.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('identity_policy_association').where('policy_id', '=', p.id).execute();
      await trx.deleteFrom('identity_policy').where('id', '=', p.id).execute();
    });
    reply.code(204).send();
  });

  // ---- OS-ENDPOINT-POLICY
  const base = '/v3/policies/:id/OS-ENDPOINT-POLICY';
  type Kind = 'endpoint' | 'service' | 'region_and_service';
  const association = (kind: Kind, targetOf: (p: Row) => Target) => {
    const check = async (req: FastifyRequest<{ Params: Row }>, action: string): Promise<{ policyId: string; t: Target }> => {
      enforce(ctx, req, `identity:${action}_policy_association_for_${kind}`);
      const p = await getPolicy(ctx, req.params.id);
      const t = targetOf(req.params);
      if (t.endpoint_id) await need(ctx, 'endpoint', t.endpoint_id);
      if (t.service_id) await need(ctx, 'service', t.service_id);
      if (t.region_id) await need(ctx, 'region', t.region_id);
      return { policyId: p.id, t };
    };
    return {
      put: async (req: FastifyRequest<{ Params: Row }>, reply: Row) => {
        const { policyId, t } = await check(req, 'create');
        // One policy per endpoint / service / service+region: a new association replaces the old.
        await ctx.db.transaction().execute(async (trx) => {
          await whereTarget(trx.deleteFrom('identity_policy_association'), t).execute();
          await trx.insertInto('identity_policy_association').values({
            id: newId(), policy_id: policyId, endpoint_id: t.endpoint_id ?? null, service_id: t.service_id ?? null, region_id: t.region_id ?? null,
          }).execute();
        });
        reply.code(204).send();
      },
      get: async (req: FastifyRequest<{ Params: Row }>, reply: Row) => {
        const { policyId, t } = await check(req, 'check');
        if ((await associated(ctx, t)) !== policyId) throw new ApiError('NotFound', 'Could not find policy association.');
        reply.code(204).send();
      },
      delete: async (req: FastifyRequest<{ Params: Row }>, reply: Row) => {
        const { policyId, t } = await check(req, 'delete');
        await whereTarget(ctx.db.deleteFrom('identity_policy_association').where('policy_id', '=', policyId), t).execute();
        reply.code(204).send();
      },
    };
  };
  const routes: Array<[string, ReturnType<typeof association>]> = [
    [`${base}/endpoints/:eid`, association('endpoint', (p) => ({ endpoint_id: p.eid }))],
    [`${base}/services/:sid`, association('service', (p) => ({ service_id: p.sid }))],
    [`${base}/services/:sid/regions/:rid`, association('region_and_service', (p) => ({ service_id: p.sid, region_id: p.rid }))],
  ];
  for (const [path, h] of routes) {
    app.put<{ Params: Row }>(path, (req, reply) => h.put(req, reply));
    app.get<{ Params: Row }>(path, (req, reply) => h.get(req, reply));
    app.delete<{ Params: Row }>(path, (req, reply) => h.delete(req, reply));
  }

  app.get<{ Params: { id: string } }>(`${base}/endpoints`, async (req) => {
    enforce(ctx, req, 'identity:list_endpoints_for_policy');
    const p = await getPolicy(ctx, req.params.id);
    const assocs: Row[] = await ctx.db.selectFrom('identity_policy_association').selectAll().where('policy_id', '=', p.id).execute();
    const endpoints: Row[] = await ctx.db.selectFrom('endpoint').selectAll().orderBy('id').execute();
    const regions: Row[] = await ctx.db.selectFrom('region').select(['id', 'parent_region_id']).execute();
    const found = new Map<string, Row>();
    const add = (e: Row) => { if (!found.has(e.id)) found.set(e.id, e); };
    for (const a of assocs) {
      if (a.endpoint_id) {
        const e = endpoints.find((x) => x.id === a.endpoint_id);
        if (e) add(e);
      } else if (a.service_id && !a.region_id) {
        for (const e of endpoints) if (e.service_id === a.service_id) add(e);
      } else if (a.service_id && a.region_id) {
        // The region and every region below it.
        const tree = new Set<string>([a.region_id]);
        for (let grew = true; grew;) {
          grew = false;
          for (const r of regions) if (r.parent_region_id && tree.has(r.parent_region_id) && !tree.has(r.id)) { tree.add(r.id); grew = true; }
        }
        for (const e of endpoints) if (e.service_id === a.service_id && e.region_id && tree.has(e.region_id)) add(e);
      }
    }
    return { endpoints: [...found.values()].map((e) => formatEndpoint(req, e)), links: listLinks(req) };
  });

  app.get<{ Params: { eid: string } }>('/v3/endpoints/:eid/OS-ENDPOINT-POLICY/policy', async (req) => {
    enforce(ctx, req, 'identity:get_policy_for_endpoint');
    const e = await need(ctx, 'endpoint', req.params.eid);
    let policyId = await associated(ctx, { endpoint_id: e.id });
    const seen = new Set<string>();
    for (let region: string | null = e.region_id ?? null; !policyId && region && !seen.has(region);) {
      seen.add(region);
      policyId = await associated(ctx, { service_id: e.service_id, region_id: region });
      const r: Row | undefined = await ctx.db.selectFrom('region').select('parent_region_id').where('id', '=', region).executeTakeFirst();
      region = r?.parent_region_id ?? null;
    }
    policyId ??= await associated(ctx, { service_id: e.service_id });
    if (!policyId) throw new ApiError('NotFound', `No policy is associated with endpoint ${e.id}.`);
    return { policy: formatPolicy(req, await getPolicy(ctx, policyId)) };
  });

  // Associations go with what they name.
  const drop = (col: 'endpoint_id' | 'service_id' | 'region_id') => async (ids: string[]) => {
    await ctx.db.deleteFrom('identity_policy_association').where(col, 'in', ids).execute();
  };
  ctx.hooks.on('endpoint.deleted', drop('endpoint_id'));
  ctx.hooks.on('service.deleted', drop('service_id'));
  ctx.hooks.on('region.deleted', drop('region_id'));
}

export function policiesExtension({ app, ctx }: ExtensionDeps): void {
  registerPolicies(app, ctx);
}
