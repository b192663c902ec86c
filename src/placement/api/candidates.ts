// GET /allocation_candidates (placement/handlers/allocation_candidate.py): which providers (or
// combinations in one provider tree, with sharing providers of the tree's aggregates) can satisfy
// a request, as allocation requests the scheduler may claim, and summaries of those providers.
//
// Request groups: the unsuffixed group (resources, required, member_of, in_tree) may be spread over
// providers of one tree; each suffixed group (resourcesN ..., 1.25; any suffix from 1.33) comes
// from one provider. group_policy=isolate puts suffixed groups on different providers.
// root_required (1.35) constrains the tree's root. same_subtree (1.36) is not implemented (400).

import type { FastifyReply, FastifyRequest } from 'fastify';
import { can, type PlacementContext } from '../context.js';
import type { RouteTable } from './router.js';
import { badRequest, cacheHeaders, checkAccept, queryMulti, validateQuery } from './http.js';
import * as S from './schemas.js';
import { parseMemberOf, parseRequired, parseResources } from './query.js';
import { aggregatesByProvider, assertTraitsExist, inventoriesWithUsage, listProviders, resourceClassExists, traitsByProvider, type Provider } from '../store/providers.js';

interface Group {
  suffix: string;
  resources: Record<string, number>;
  required: string[][];
  forbidden: string[];
  member_of: string[][];
  forbidden_aggs: string[];
  in_tree?: string;
}

interface Candidate {
  /** rp -> rc -> amount */
  alloc: Map<string, Map<string, number>>;
  /** suffix -> providers */
  mappings: Map<string, Set<string>>;
  /** roots this candidate can belong to (null: any, for a candidate made only of sharing providers). */
  roots: Set<string>;
}

const MAX_COMBOS = 20000;

export function candidateRoutes(ctx: PlacementContext): RouteTable {
  const list = async (req: FastifyRequest, reply: FastifyReply) => {
    checkAccept(req);
    can(ctx, req, 'placement:allocation_candidates:list');
    const mv = req.placementVersion!;
    const schema = mv.matches(36) ? S.ALLOCATION_CANDIDATE_GET_SCHEMA_1_36 : mv.matches(35) ? S.ALLOCATION_CANDIDATE_GET_SCHEMA_1_35
      : mv.matches(33) ? S.ALLOCATION_CANDIDATE_GET_SCHEMA_1_33 : mv.matches(31) ? S.ALLOCATION_CANDIDATE_GET_SCHEMA_1_31
        : mv.matches(25) ? S.ALLOCATION_CANDIDATE_GET_SCHEMA_1_25 : mv.matches(21) ? S.ALLOCATION_CANDIDATE_GET_SCHEMA_1_21
          : mv.matches(17) ? S.ALLOCATION_CANDIDATE_GET_SCHEMA_1_17 : mv.matches(16) ? S.ALLOCATION_CANDIDATE_GET_SCHEMA_1_16 : S.ALLOCATION_CANDIDATE_GET_SCHEMA_1_10;
    const q = validateQuery(req, schema);
    const multi = queryMulti(req);

    // Request groups.
    const groups = new Map<string, Group>();
    const group = (suffix: string) => {
      let g = groups.get(suffix);
      if (!g) groups.set(suffix, g = { suffix, resources: {}, required: [], forbidden: [], member_of: [], forbidden_aggs: [] });
      return g;
    };
    for (const key of multi.keys()) {
      const m = /^(resources|required|member_of|in_tree)(.*)$/.exec(key);
      if (!m) continue;
      const [, kind, suffix] = m as unknown as [string, string, string];
      if (suffix && !mv.matches(25)) continue;
      const g = group(suffix);
      const vals = multi.get(key)!;
      if (kind === 'resources') {
        g.resources = parseResources(vals[vals.length - 1]!);
      } else if (kind === 'required') {
        const t = await parseRequired(ctx, vals, mv, false, key);
        g.required = t.required_traits; g.forbidden = t.forbidden_traits;
      } else if (kind === 'member_of') {
        const a = parseMemberOf(vals, mv, suffix);
        g.member_of = a.member_of; g.forbidden_aggs = a.forbidden_aggs;
      } else {
        g.in_tree = vals[vals.length - 1];
      }
    }
    if ('same_subtree' in q) throw badRequest('same_subtree is not supported by this placement service.');
    for (const g of groups.values()) {
      if (!Object.keys(g.resources).length && g.suffix) {
        throw badRequest(`Resources are required for request group suffix ${g.suffix} (same_subtree is not supported).`);
      }
    }
    const unsuffixed = groups.get('');
    if (!groups.size || ![...groups.values()].some((g) => Object.keys(g.resources).length)) {
      if (!mv.matches(25)) throw badRequest("Invalid query string parameters: 'resources' is a required property");
      throw badRequest('At least one request group (`resources` or `resources{$S}`) is required.');
    }
    const suffixed = [...groups.values()].filter((g) => g.suffix && Object.keys(g.resources).length);
    if (suffixed.length > 1 && !('group_policy' in q)) {
      throw badRequest('The "group_policy" parameter is required when specifying more than one "resources{$S}" parameter.');
    }
    const isolate = q.group_policy === 'isolate';
    for (const g of groups.values()) {
      for (const rc of Object.keys(g.resources)) {
        if (!(await resourceClassExists(ctx.db, rc))) throw badRequest(`Invalid resource class in resources parameter: No such resource class ${rc}.`);
      }
      await assertTraitsExist(ctx.db, [...g.required.flat(), ...g.forbidden]);
    }
    let rootRequired: { required: string[][]; forbidden: string[] } | undefined;
    if ('root_required' in q) {
      const t = await parseRequired(ctx, multi.get('root_required')!, mv, false, 'root_required');
      await assertTraitsExist(ctx.db, [...t.required_traits.flat(), ...t.forbidden_traits]);
      rootRequired = { required: t.required_traits, forbidden: t.forbidden_traits };
    }
    let limit: number | undefined;
    if ('limit' in q) limit = Number(q.limit);

    // The world (small clouds: in memory).
    const providers = await listProviders(ctx.db, {});
    const byUuid = new Map(providers.map((p) => [p.uuid, p]));
    const inv = await inventoriesWithUsage(ctx.db, null);
    const traits = await traitsByProvider(ctx.db, null);
    const aggs = await aggregatesByProvider(ctx.db, null);
    const traitsOf = (u: string) => traits.get(u) ?? new Set<string>();
    const aggsOf = (u: string) => aggs.get(u) ?? new Set<string>();
    const sharing = providers.filter((p) => traitsOf(p.uuid).has('MISC_SHARES_VIA_AGGREGATE'));
    // Roots a provider's resources can serve: its own tree, and for a sharing provider every tree
    // with a provider in one of its aggregates.
    const rootsServed = new Map<string, Set<string>>();
    for (const p of providers) rootsServed.set(p.uuid, new Set([p.root_provider_uuid]));
    for (const s of sharing) {
      const mine = aggsOf(s.uuid);
      for (const p of providers) if ([...aggsOf(p.uuid)].some((a) => mine.has(a))) rootsServed.get(s.uuid)!.add(p.root_provider_uuid);
    }
    const hasCapacity = (rp: string, rc: string, amount: number) => {
      const i = inv.get(`${rp} ${rc}`);
      return !!i && amount >= i.min_unit && amount <= i.max_unit && amount % i.step_size === 0
        && (i.total - i.reserved) * i.allocation_ratio - i.used >= amount;
    };
    const traitsOk = (have: Set<string>, required: string[][], forbidden: string[]) =>
      required.every((any) => any.some((t) => have.has(t))) && !forbidden.some((t) => have.has(t));
    const aggsOk = (p: Provider, g: Group) => {
      const have = new Set([...aggsOf(p.uuid), ...aggsOf(p.root_provider_uuid)]);
      return g.member_of.every((any) => any.some((a) => have.has(a))) && !g.forbidden_aggs.some((a) => have.has(a));
    };
    const inTreeOk = (p: Provider, g: Group) => {
      if (!g.in_tree) return true;
      const t = byUuid.get(g.in_tree);
      return !!t && p.root_provider_uuid === t.root_provider_uuid;
    };
    const nested = mv.matches(29);
    const usable = (p: Provider) => nested || p.parent_provider_uuid === null || traitsOf(p.uuid).has('MISC_SHARES_VIA_AGGREGATE');

    const groupCandidates = (g: Group): Candidate[] => {
      const rcs = Object.keys(g.resources);
      if (g.suffix) {
        const out: Candidate[] = [];
        for (const p of providers) {
          if (!usable(p) || !inTreeOk(p, g) || !aggsOk(p, g) || !traitsOk(traitsOf(p.uuid), g.required, g.forbidden)) continue;
          if (!rcs.every((rc) => hasCapacity(p.uuid, rc, g.resources[rc]!))) continue;
          out.push({ alloc: new Map([[p.uuid, new Map(rcs.map((rc) => [rc, g.resources[rc]!]))]]), mappings: new Map([[g.suffix, new Set([p.uuid])]]), roots: new Set(rootsServed.get(p.uuid)) });
        }
        return out;
      }
      // Unsuffixed: each class from any provider of one tree (or a sharing provider serving it).
      const options = rcs.map((rc) => providers.filter((p) => usable(p) && inTreeOk(p, g) && aggsOk(p, g) && hasCapacity(p.uuid, rc, g.resources[rc]!)));
      const out: Candidate[] = [];
      const pick = (i: number, chosen: Provider[], roots: Set<string>) => {
        if (out.length >= MAX_COMBOS) return;
        if (i === rcs.length) {
          const have = new Set<string>();
          for (const p of chosen) for (const t of traitsOf(p.uuid)) have.add(t);
          if (!traitsOk(have, g.required, g.forbidden)) return;
          const alloc = new Map<string, Map<string, number>>();
          chosen.forEach((p, k) => {
            const m = alloc.get(p.uuid) ?? new Map<string, number>();
            m.set(rcs[k]!, g.resources[rcs[k]!]!);
            alloc.set(p.uuid, m);
          });
          out.push({ alloc, mappings: new Map([['', new Set(chosen.map((p) => p.uuid))]]), roots });
          return;
        }
        for (const p of options[i]!) {
          const served = rootsServed.get(p.uuid)!;
          const next = new Set([...roots].filter((r) => served.has(r)));
          if (!next.size) continue;
          pick(i + 1, [...chosen, p], next);
        }
      };
      pick(0, [], new Set(providers.map((p) => p.root_provider_uuid)));
      return out;
    };

    const withResources = [...groups.values()].filter((g) => Object.keys(g.resources).length);
    let combos: Candidate[] = [{ alloc: new Map(), mappings: new Map(), roots: new Set(providers.map((p) => p.root_provider_uuid)) }];
    for (const g of withResources) {
      const cands = groupCandidates(g);
      const next: Candidate[] = [];
      for (const c of combos) {
        for (const d of cands) {
          if (next.length >= MAX_COMBOS) break;
          const roots = new Set([...c.roots].filter((r) => d.roots.has(r)));
          if (!roots.size) continue;
          if (isolate && g.suffix) {
            const used = new Set<string>();
            for (const [sfx, rps] of c.mappings) if (sfx) for (const rp of rps) used.add(rp);
            if ([...d.alloc.keys()].some((rp) => used.has(rp))) continue;
          }
          const alloc = new Map([...c.alloc].map(([rp, m]) => [rp, new Map(m)]));
          for (const [rp, m] of d.alloc) {
            const t = alloc.get(rp) ?? new Map<string, number>();
            for (const [rc, n] of m) t.set(rc, (t.get(rc) ?? 0) + n);
            alloc.set(rp, t);
          }
          const mappings = new Map([...c.mappings].map(([k, v]) => [k, new Set(v)]));
          for (const [k, v] of d.mappings) mappings.set(k, new Set([...(mappings.get(k) ?? []), ...v]));
          next.push({ alloc, mappings, roots });
        }
      }
      combos = next;
    }
    // Combined amounts must fit; the unsuffixed group's traits apply when it had no resources;
    // root_required constrains the root; a candidate belongs to one tree.
    const final: Candidate[] = [];
    const seen = new Set<string>();
    for (const c of combos) {
      if (![...c.alloc].every(([rp, m]) => [...m].every(([rc, n]) => hasCapacity(rp, rc, n)))) continue;
      const treeRoots = [...c.roots].filter((r) => [...c.alloc.keys()].some((rp) => byUuid.get(rp)!.root_provider_uuid === r));
      const root = treeRoots[0] ?? [...c.roots][0]!;
      if (unsuffixed && !Object.keys(unsuffixed.resources).length) {
        const have = new Set<string>();
        for (const rp of c.alloc.keys()) for (const t of traitsOf(rp)) have.add(t);
        if (!traitsOk(have, unsuffixed.required, unsuffixed.forbidden)) continue;
        const rootP = byUuid.get(root);
        if (rootP && !aggsOk(rootP, unsuffixed)) continue;
        if (unsuffixed.in_tree && byUuid.get(unsuffixed.in_tree)?.root_provider_uuid !== root) continue;
      }
      if (rootRequired && !traitsOk(traitsOf(root), rootRequired.required, rootRequired.forbidden)) continue;
      const key = JSON.stringify([...c.alloc].map(([rp, m]) => [rp, [...m].sort()]).sort()) + (mv.matches(34) ? JSON.stringify([...c.mappings].map(([k, v]) => [k, [...v].sort()]).sort()) : '');
      if (seen.has(key)) continue;
      seen.add(key);
      final.push(c);
    }
    const chosen = limit !== undefined ? final.slice(0, limit) : final;

    // Output.
    const allocation_requests = chosen.map((c) => {
      if (!mv.matches(12)) {
        return { allocations: [...c.alloc].map(([rp, m]) => ({ resource_provider: { uuid: rp }, resources: Object.fromEntries(m) })) };
      }
      const r: Record<string, unknown> = { allocations: Object.fromEntries([...c.alloc].map(([rp, m]) => [rp, { resources: Object.fromEntries(m) }])) };
      if (mv.matches(34)) r.mappings = Object.fromEntries([...c.mappings].map(([k, v]) => [k, [...v]]));
      return r;
    });
    const inSummary = new Set<string>();
    for (const c of chosen) for (const rp of c.alloc.keys()) inSummary.add(rp);
    if (nested) {
      const roots = new Set([...inSummary].map((rp) => byUuid.get(rp)!.root_provider_uuid));
      for (const p of providers) if (roots.has(p.root_provider_uuid)) inSummary.add(p.uuid);
    }
    const requested = new Set([...groups.values()].flatMap((g) => Object.keys(g.resources)));
    const provider_summaries: Record<string, unknown> = {};
    for (const p of providers) {
      if (!inSummary.has(p.uuid)) continue;
      const resources: Record<string, { capacity: number; used: number }> = {};
      for (const i of inv.values()) {
        if (i.resource_provider_uuid !== p.uuid) continue;
        if (!mv.matches(27) && !requested.has(i.resource_class)) continue;
        resources[i.resource_class] = { capacity: Math.trunc((i.total - i.reserved) * i.allocation_ratio), used: i.used };
      }
      const s: Record<string, unknown> = { resources };
      if (mv.matches(17)) s.traits = [...traitsOf(p.uuid)].sort();
      if (nested) { s.parent_provider_uuid = p.parent_provider_uuid; s.root_provider_uuid = p.root_provider_uuid; }
      provider_summaries[p.uuid] = s;
    }
    cacheHeaders(req, reply);
    return reply.code(200).type('application/json').send(JSON.stringify({ allocation_requests, provider_summaries }));
  };
  return { '/allocation_candidates': { GET: [{ min: 10, handler: list }] } };
}
