// Version discovery (/, /versions; any unknown version answers the version list with 300, as
// Glance's version negotiation does), /v2/info/* and /v2/schemas/*.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ImageContext } from '../context.js';
import { requestContext } from '../context.js';
import { GLANCE_SCHEMAS } from './schemas/glance-schemas.js';
import { resource } from './http.js';
import { enforcePlain } from '../authz.js';
import { notFound } from '../errors.js';
import { sql } from 'kysely';

/** The API versions this service offers (glance.api.versions.Controller). */
export function versionList(ctx: ImageContext, req: FastifyRequest): unknown {
  const base = `${req.protocol}://${req.host}/v2/`;
  const v = (id: string, status: string) => ({ id: `v${id}`, status, links: [{ rel: 'self', href: base }] });
  const out = [];
  if (ctx.opts.cacheDir) out.push(v('2.16', 'CURRENT'), v('2.15', 'SUPPORTED'), v('2.14', 'SUPPORTED'));
  else out.push(v('2.15', 'CURRENT'));
  out.push(v('2.13', 'SUPPORTED'), v('2.12', 'SUPPORTED'), v('2.11', 'SUPPORTED'), v('2.10', 'SUPPORTED'), v('2.9', 'SUPPORTED'), v('2.8', 'SUPPORTED'));
  for (const n of ['2.7', '2.6', '2.5', '2.4', '2.3', '2.2', '2.1', '2.0']) out.push(v(n, 'SUPPORTED'));
  return { versions: out };
}

/**
 * Version negotiation, before authentication: /versions answers 200, a path whose first segment
 * is not v2 answers the version list with 300. Returns true when it answered.
 */
export function negotiateVersion(ctx: ImageContext, req: FastifyRequest, reply: FastifyReply): boolean {
  const path = req.url.split('?')[0]!;
  const first = path.replace(/^\/+/, '').split('/')[0]!;
  if (first === 'versions') {
    void reply.code(200).type('application/json').send(versionList(ctx, req));
    return true;
  }
  if (first === 'v2') return false;
  void reply.code(300).type('application/json').send(versionList(ctx, req));
  return true;
}

const SCHEMA_NAMES = Object.keys(GLANCE_SCHEMAS);

export function registerDiscovery(app: FastifyInstance, ctx: ImageContext): void {
  resource(app, '/v2/info/import', {
    GET: [async () => ({ 'import-methods': { description: 'Import methods available.', type: 'array', value: ctx.opts.importMethods } }), { bodyReject: true }],
  });

  const stores = () => [...ctx.stores.stores.values()].map((s) => {
    const o: Record<string, unknown> = { id: s.id };
    if (s.id === ctx.stores.defaultId) o.default = 'true';
    if (s.readOnly) o['read-only'] = 'true';
    return o;
  });
  resource(app, '/v2/info/stores', { GET: [async () => ({ stores: stores() }), { bodyReject: true }] });
  resource(app, '/v2/info/stores/detail', {
    GET: [async (req) => {
      const rc = requestContext(ctx, req);
      enforcePlain(ctx, rc, 'stores_info_detail');
      return {
        stores: stores().map((o) => {
          const s = ctx.stores.get(o.id as string)!;
          const properties = 'dir' in s ? { data_dir: (s as { dir: string }).dir, chunk_size: 1 << 20, thin_provisioning: false } : {};
          return { ...o, type: s.type, properties };
        }),
      };
    }, { bodyReject: true }],
  });

  resource(app, '/v2/info/usage', {
    GET: async (req) => {
      const rc = requestContext(ctx, req);
      const owner = rc.owner ?? '';
      const row = await ctx.db.selectFrom('images').select([
        sql<number>`coalesce(sum(case when status in ('active', 'saving', 'deactivated', 'pending_delete') then size else 0 end), 0)`.as('size_total'),
        sql<number>`coalesce(sum(case when status in ('uploading', 'importing') then size else 0 end), 0)`.as('stage_total'),
        sql<number>`count(*)`.as('count_total'),
        sql<number>`coalesce(sum(case when status in ('saving', 'uploading', 'importing') then 1 else 0 end), 0)`.as('uploading'),
      ]).where('owner', '=', owner).executeTakeFirst();
      const mib = (n: unknown) => Math.ceil(Number(n ?? 0) / (1 << 20));
      const quota = ctx.opts.userStorageQuota;
      return {
        usage: {
          image_size_total: { usage: mib(row?.size_total), limit: quota ? Math.floor(quota / (1 << 20)) : -1 },
          image_stage_total: { usage: mib(row?.stage_total), limit: -1 },
          image_count_total: { usage: Number(row?.count_total ?? 0), limit: -1 },
          image_count_uploading: { usage: Number(row?.uploading ?? 0), limit: -1 },
        },
      };
    },
  });

  for (const name of SCHEMA_NAMES) {
    resource(app, `/v2/schemas/${name}`, { GET: [async () => GLANCE_SCHEMAS[name], { bodyReject: !name.startsWith('task') }] });
  }
}

export { notFound };
