// Body attribute checks of neutron/api/v2/base.py prepare_request_body: unknown attributes,
// attributes not allowed on POST/PUT, and project ownership of what is created.

import { badRequest } from './http.js';
import type { Caller } from '../context.js';

export function checkAttrs(body: Record<string, unknown>, known: string[], allowed: string[], method: 'POST' | 'PUT'): void {
  const unknown = Object.keys(body).filter((k) => !known.includes(k));
  if (unknown.length) throw badRequest(`Unrecognized attribute(s) '${unknown.join(', ')}'`);
  for (const k of Object.keys(body)) {
    if (!allowed.includes(k)) throw badRequest(`Attribute '${k}' not allowed in ${method}`);
  }
}

/** The project a created resource belongs to: the caller's, or any for an admin (tenant_id/project_id). */
export function ownerOf(body: Record<string, unknown>, c: Caller): string {
  const t = body.tenant_id; const p = body.project_id;
  if (t !== undefined && p !== undefined && t !== p) throw badRequest("'project_id' and 'tenant_id' do not match");
  const want = (p ?? t) as string | undefined;
  if (want !== undefined && typeof want !== 'string') throw badRequest(`Invalid input for project_id. Reason: '${String(want)}' is not a valid string.`);
  if (want !== undefined && want !== c.projectId && !c.isAdmin) {
    throw badRequest("Specifying 'project_id' or 'tenant_id' other than the authenticated project in request requires admin privileges");
  }
  delete body.tenant_id; delete body.project_id;
  return want ?? c.projectId;
}
