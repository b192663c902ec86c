// Query-string grammar shared by GET /resource_providers and GET /allocation_candidates
// (placement/util.py): resources=RC:N,..., required=T,!T / in:T1,T2 (1.39), member_of=UUID,
// in:U1,U2, !UUID, !in:U1,U2 (1.32), in_tree=UUID.

import type { PlacementContext } from '../context.js';
import { badRequest, isUuidLike, type Version } from './http.js';

export function parseResources(qs: string): Record<string, number> {
  if (qs.trim() === '') {
    throw badRequest('Badly formed resources parameter. Expected resources query string parameter in form: ?resources=VCPU:2,MEMORY_MB:1024. Got: empty string.');
  }
  const out: Record<string, number> = {};
  for (const rt of qs.split(',')) {
    const parts = rt.split(':');
    if (parts.length !== 2) throw badRequest(`Badly formed resources parameter. Expected resources query string parameter in form: ?resources=VCPU:2,MEMORY_MB:1024. Got: ${rt}.`);
    const [rc, amountStr] = parts as [string, string];
    if (!/^\s*[+-]?\d+\s*$/.test(amountStr)) throw badRequest(`Requested resource ${rc} expected positive integer amount. Got: ${amountStr}.`);
    const amount = Number(amountStr);
    if (amount < 1) throw badRequest(`Requested resource ${rc} requires amount >= 1. Got: ${amount}.`);
    out[rc] = amount;
  }
  return out;
}

export interface TraitFilter { required_traits: string[][]; forbidden_traits: string[] }

/** normalize_traits_qs_params over every `required<suffix>` value. */
export async function parseRequired(_ctx: PlacementContext, values: string[], mv: Version, _unused: boolean, key = 'required'): Promise<TraitFilter> {
  const allowForbidden = mv.matches(22);
  const allowAny = mv.matches(39);
  const vals = allowAny ? values : values.slice(-1);
  const required: string[][] = [];
  const forbidden = new Set<string>();
  for (const val of vals) {
    if (val.startsWith('in:')) {
      if (!allowAny) throw badRequest(`Invalid query string parameters: The format 'in:HW_CPU_X86_VMX,CUSTOM_MAGIC' only supported since microversion 1.39. Got: ${val}`);
      const any = [...new Set(val.slice(3).split(',').map((s) => s.trim()))];
      if (!any.every(Boolean)) throw badRequest(`Invalid query string parameters: Expected '${key}' parameter value of the form: in:HW_CPU_X86_VMX,CUSTOM_MAGIC. Got an empty trait in: ${val}`);
      if (any.some((t) => t.startsWith('!'))) throw badRequest(`Invalid query string parameters: The format 'in:HW_CPU_X86_VMX,CUSTOM_MAGIC' does not support forbidden traits. Got: ${val}`);
      required.push(any);
      continue;
    }
    const all = val.split(',').map((s) => s.trim());
    const forb = all.filter((t) => t.startsWith('!')).map((t) => t.replace(/^!+/, ''));
    if (![...forb, ...all].every(Boolean)) {
      const form = allowForbidden ? 'HW_CPU_X86_VMX,!CUSTOM_MAGIC' : 'HW_CPU_X86_VMX,CUSTOM_MAGIC';
      throw badRequest(`Invalid query string parameters: Expected '${key}' parameter value of the form: ${form}. Got an empty trait in: ${val}`);
    }
    if (forb.length && !allowForbidden) throw badRequest(`Invalid query string parameters: Expected '${key}' parameter value of the form: HW_CPU_X86_VMX,CUSTOM_MAGIC. Got: ${val}`);
    for (const t of all) if (!t.startsWith('!')) required.push([t]);
    for (const t of forb) forbidden.add(t);
  }
  return { required_traits: required, forbidden_traits: [...forbidden] };
}

export interface AggFilter { member_of: string[][]; forbidden_aggs: string[] }

/** normalize_member_of_qs_params over every `member_of<suffix>` value. */
export function parseMemberOf(values: string[], mv: Version, suffix = ''): AggFilter {
  if (!mv.matches(24) && values.length > 1) throw badRequest(`Multiple member_of${suffix} parameters are not supported`);
  const req: string[][] = [];
  const forbidden = new Set<string>();
  for (const value of values) {
    if (value.includes(',') && !(value.startsWith('in:') || value.startsWith('!in:'))) {
      throw badRequest(`Multiple values for 'member_of' must be prefixed with the 'in:' or '!in:' keyword using the valid microversion. Got: ${value}`);
    }
    let r: string[] = [];
    let f: string[] = [];
    if (value.startsWith('!in:')) f = value.slice(4).split(',');
    else if (value.startsWith('!')) f = [value.slice(1)];
    else if (value.startsWith('in:')) r = value.slice(3).split(',');
    else r = [value];
    for (const u of [...r, ...f]) {
      if (!isUuidLike(u)) throw badRequest(`Invalid query string parameters: Expected 'member_of' parameter to contain valid UUID(s). Got: ${u}`);
    }
    if (r.length) req.push([...new Set(r)]);
    if (f.length) {
      if (!mv.matches(32)) throw badRequest(`Forbidden member_of${suffix} parameters are not supported in the specified microversion`);
      for (const u of f) forbidden.add(u);
    }
  }
  return { member_of: req, forbidden_aggs: [...forbidden] };
}
