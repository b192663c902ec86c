// Neutron's list semantics over API dicts (neutron/api/v2/base.py _items, api_common.py):
// filters (repeated keys are OR, booleans converted, unknown keys 400 with filter-validation),
// tag filters (tags, tags-any, not-tags, not-tags-any), sort_key/sort_dir (id as the final key),
// limit/marker/page_reverse with `<collection>_links` next/previous as Neutron builds them, and
// fields= projection. Visibility (projects, shared, policy) is decided by the caller first.

import type { FastifyRequest } from 'fastify';
import { badRequest, baseUrl, queryPairs, toBoolean } from './http.js';

export type Obj = Record<string, unknown>;

export interface ListSpec {
  collection: string;
  /** Attributes that may be filtered on (besides tags filters). */
  filters: string[];
  /** Attributes that may be sort keys. */
  sorts: string[];
  /** Attributes whose filter values are booleans. */
  booleans?: string[];
  /** Custom matchers for attributes whose values are not plain (fixed_ips, ...). */
  matchers?: Record<string, (item: Obj, values: string[]) => boolean>;
  /** The maximum page (pagination_max_limit; -1 none). */
  maxLimit?: number;
}

const CONTROL = new Set(['fields', 'sort_key', 'sort_dir', 'limit', 'marker', 'page_reverse', 'tags', 'tags-any', 'not-tags', 'not-tags-any']);

export function fieldsOf(req: FastifyRequest): string[] {
  return queryPairs(req).filter(([k, v]) => k === 'fields' && v).map(([, v]) => v);
}

/** fields= projection of one dict (Neutron's _exclude_attributes_by_policy + _filter_attributes). */
export function project(item: Obj, fields: string[]): Obj {
  if (!fields.length) return item;
  const out: Obj = {};
  for (const f of fields) if (f in item) out[f] = item[f];
  return out;
}

function cmp(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return -1;
  if (b === null || b === undefined) return 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return (a ? 1 : 0) - (b ? 1 : 0);
  const x = String(a); const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

function plain(v: unknown): string {
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v === null || v === undefined) return '';
  return String(v);
}

function tagList(s: string): string[] { return s.split(',').filter(Boolean); }

export function listResponse(req: FastifyRequest, spec: ListSpec, all: Obj[], opts: { skipFields?: boolean } = {}): Obj {
  const pairs = queryPairs(req);
  const filters = new Map<string, string[]>();
  const invalid: string[] = [];
  for (const [k, v] of pairs) {
    if (CONTROL.has(k)) continue;
    if (!spec.filters.includes(k) && !(spec.matchers && k in spec.matchers)) { if (!invalid.includes(k)) invalid.push(k); continue; }
    (filters.get(k) ?? filters.set(k, []).get(k)!).push(v);
  }
  if (invalid.length) throw badRequest(`[${invalid.map((k) => `'${k}'`).join(', ')}] is invalid attribute for filtering`);
  let items = all.filter((item) => {
    for (const [k, vals] of filters) {
      const m = spec.matchers?.[k];
      if (m) { if (!m(item, vals)) return false; continue; }
      const want = vals.filter((v) => v !== '');
      if (!want.length) continue;
      const have = item[k];
      if (spec.booleans?.includes(k)) {
        const bs = want.map((v) => toBoolean(v));
        if (!bs.includes(Boolean(have))) return false;
      } else if (Array.isArray(have)) {
        if (!want.some((w) => have.map(plain).includes(w))) return false;
      } else if (!want.includes(plain(have))) return false;
    }
    return true;
  });
  // Tags: tags=a,b (all), tags-any (any), not-tags (not all), not-tags-any (none).
  for (const [k, v] of pairs) {
    if (!['tags', 'tags-any', 'not-tags', 'not-tags-any'].includes(k)) continue;
    const want = tagList(v);
    if (!want.length) continue;
    items = items.filter((it) => {
      const have = (it.tags as string[] | undefined) ?? [];
      const all = want.every((t) => have.includes(t));
      const any = want.some((t) => have.includes(t));
      return k === 'tags' ? all : k === 'tags-any' ? any : k === 'not-tags' ? !all : !any;
    });
  }

  const keys = pairs.filter(([k, v]) => k === 'sort_key' && v).map(([, v]) => v);
  const dirs = pairs.filter(([k, v]) => k === 'sort_dir' && v).map(([, v]) => v);
  if (keys.length !== dirs.length) throw badRequest('The number of sort_keys and sort_dirs must be same');
  const absent = keys.filter((k) => !spec.sorts.includes(k));
  if (absent.length) throw badRequest(`[${absent.map((k) => `'${k}'`).join(', ')}] is invalid attribute for sort_keys`);
  const badDirs = dirs.filter((d) => d !== 'asc' && d !== 'desc');
  if (badDirs.length) throw badRequest(`[${badDirs.map((k) => `'${k}'`).join(', ')}] is invalid value for sort_dirs, valid value is 'asc' and 'desc'`);
  const sorts: [string, boolean][] = keys.map((k, i) => [k, (dirs[i] ?? 'asc') === 'asc']);
  if (!sorts.some(([k]) => k === 'id')) sorts.push(['id', sorts.length ? sorts[sorts.length - 1]![1] : true]);

  const limitRaw = pairs.find(([k]) => k === 'limit')?.[1] ?? '0';
  let limit = /^\d+$/.test(limitRaw) ? Number(limitRaw) : NaN;
  if (!Number.isInteger(limit) || limit < 0) throw badRequest(`Bad limit request: Limit must be an integer 0 or greater and not '${limitRaw}'.`, 'BadRequest');
  const max = spec.maxLimit ?? -1;
  if (max > 0) limit = Math.min(max, limit) || max;
  const marker = limit ? pairs.find(([k]) => k === 'marker')?.[1] : undefined;
  const reverse = (pairs.find(([k]) => k === 'page_reverse')?.[1] ?? 'False').toLowerCase() === 'true';

  const order = (a: Obj, b: Obj) => {
    for (const [k, asc] of sorts) {
      const c = cmp(a[k], b[k]);
      if (c) return (asc !== reverse) ? c : -c;
    }
    return 0;
  };
  items.sort(order);
  if (limit) {
    if (marker) {
      const m = all.find((x) => x.id === marker);
      if (m) items = items.filter((x) => order(x, m) > 0);
    }
    items = items.slice(0, limit);
    if (reverse) items.reverse();
  }
  const fields = opts.skipFields ? [] : fieldsOf(req);
  const out: Obj = { [spec.collection]: items.map((i) => project(i, fields)) };
  if (limit) {
    const links: Obj[] = [];
    const path = `${baseUrl(req)}${req.url.split('?')[0]}`;
    const link = (mk: string | undefined, pr: boolean) => {
      const p = new URLSearchParams();
      for (const [k, v] of pairs) if (k !== 'marker' && k !== 'page_reverse') p.append(k, v);
      if (mk !== undefined) p.append('marker', mk);
      if (pr) p.append('page_reverse', 'True');
      return `${path}?${p.toString()}`;
    };
    if (!(items.length < limit && !reverse)) links.push({ rel: 'next', href: link(items.length ? String(items[items.length - 1]!.id) : undefined, false) });
    if (!(items.length < limit && reverse)) links.push({ rel: 'previous', href: link(items.length ? String(items[0]!.id) : undefined, true) });
    if (links.length) out[`${spec.collection}_links`] = links;
  }
  return out;
}
