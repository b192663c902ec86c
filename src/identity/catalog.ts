// The service catalog put in tokens and served at /v3/auth/catalog: enabled services with their
// enabled endpoints, URL templates filled with the token's project. Built once per change.

import type { IdentityContext } from './context.js';
import { parseJson } from './context.js';

export interface CatalogEntry {
  id: string; type: string; name: string;
  endpoints: Array<{ id: string; interface: string; region: string | null; region_id: string | null; url: string }>;
}

type CatalogRows = Array<{ svc: { id: string; type: string; name: string }; eps: Array<{ id: string; interface: string; region_id: string | null; url: string }> }>;

// Per identity service (context), never per process: two clouds in one process (tests, a restart
// in place) must not serve each other's endpoints.
const cache = new WeakMap<IdentityContext, { generation: number; rows: CatalogRows }>();

async function rawCatalog(ctx: IdentityContext): Promise<CatalogRows> {
  const cached = cache.get(ctx);
  if (cached && cached.generation === ctx.generation) return cached.rows;
  const generation = ctx.generation;
  const services = await ctx.db.selectFrom('service').selectAll().where('enabled', '=', 1).orderBy('id').execute();
  const endpoints = await ctx.db.selectFrom('endpoint').selectAll().where('enabled', '=', 1).orderBy('id').execute();
  const rows = (services as Array<{ id: string; type: string; extra: string }>).map((s) => ({
    svc: { id: s.id, type: s.type, name: String(parseJson<Record<string, unknown>>(s.extra, {}).name ?? '') },
    eps: (endpoints as Array<{ id: string; interface: string; region_id: string | null; url: string; service_id: string }>)
      .filter((e) => e.service_id === s.id)
      .map((e) => ({ id: e.id, interface: e.interface, region_id: e.region_id, url: e.url })),
  }));
  cache.set(ctx, { generation, rows });
  return rows;
}

const TEMPLATE = /[%$]\((tenant_id|project_id)\)s/g;

/** Endpoint URLs with `%(tenant_id)s`/`$(project_id)s` filled; endpoints needing a project are left out without one. */
export async function buildCatalog(ctx: IdentityContext, projectId?: string | null, filter?: (serviceId: string, endpointId: string) => boolean): Promise<CatalogEntry[]> {
  const rows = await rawCatalog(ctx);
  const out: CatalogEntry[] = [];
  for (const { svc, eps } of rows) {
    const endpoints = [];
    for (const e of eps) {
      if (filter && !filter(svc.id, e.id)) continue;
      let url = e.url;
      if (TEMPLATE.test(url)) {
        TEMPLATE.lastIndex = 0;
        if (!projectId) continue;
        url = url.replace(TEMPLATE, projectId);
      }
      TEMPLATE.lastIndex = 0;
      endpoints.push({ id: e.id, interface: e.interface, region: e.region_id, region_id: e.region_id, url });
    }
    // Keystone's endpoint filter leaves out services none of whose endpoints the project may see.
    if (filter && !endpoints.length) continue;
    out.push({ id: svc.id, type: svc.type, name: svc.name, endpoints });
  }
  return out;
}
