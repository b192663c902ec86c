// The typed placement client other services (compute) use, over the REST API through a
// ServiceSession (catalog type `placement`), as Nova's scheduler report client does. Every call
// sends `OpenStack-API-Version: placement 1.39`. Provider writes that race with another writer
// (409 placement.concurrent_update) are retried on the fresh generation; claims are not retried:
// a claim that does not fit returns false, a consumer generation conflict throws.

import type { JsonReply, ServiceSession } from '../common/auth/session.js';

export const PLACEMENT_VERSION = '1.39';

export interface ProviderInfo {
  uuid: string; name: string; generation: number;
  parent_provider_uuid: string | null; root_provider_uuid: string;
}

export interface InventoryInput {
  total: number; reserved?: number; min_unit?: number; max_unit?: number; step_size?: number; allocation_ratio?: number;
}

/** provider uuid -> resource class -> amount */
export type Allocations = Record<string, Record<string, number>>;

export interface ConsumerAllocations {
  allocations: Record<string, { generation: number; resources: Record<string, number> }>;
  project_id?: string; user_id?: string; consumer_generation?: number; consumer_type?: string;
}

export interface CandidateQuery {
  resources: Record<string, number>;
  /** Required traits; prefix "!" to forbid one. */
  required?: string[];
  /** Aggregate uuids, any of which the provider must be in. */
  member_of?: string[];
  in_tree?: string;
  limit?: number;
}

export interface Candidates {
  allocation_requests: Array<{ allocations: Record<string, { resources: Record<string, number> }>; mappings?: Record<string, string[]> }>;
  provider_summaries: Record<string, { resources: Record<string, { capacity: number; used: number }>; traits: string[]; parent_provider_uuid: string | null; root_provider_uuid: string }>;
}

/** A placement answer that is not a success, with Placement's error code. */
export class PlacementError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) { super(message); this.name = 'PlacementError'; }
}

/** The consumer's allocations changed since the caller read them (consumer generation mismatch). */
export class ConsumerConflict extends PlacementError {
  constructor(message: string) { super(409, 'placement.concurrent_update', message); this.name = 'ConsumerConflict'; }
}

const TYPE = 'placement';

export class PlacementClient {
  constructor(private session: ServiceSession, private opts: { retries?: number } = {}) {}

  private async call(method: string, path: string, body?: unknown): Promise<JsonReply> {
    return this.session.json(TYPE, method, path, {
      body, headers: { 'OpenStack-API-Version': `placement ${PLACEMENT_VERSION}`, Accept: 'application/json' },
    });
  }

  private fail(r: { status: number; body: any }, what: string): PlacementError { // eslint-disable-line @typescript-eslint/no-explicit-any
    const e = r.body?.errors?.[0];
    return new PlacementError(r.status, e?.code ?? 'placement.undefined_code', `${what}: ${r.status} ${e?.detail?.trim() ?? JSON.stringify(r.body)}`);
  }

  private isGenerationConflict(r: { status: number; body: any }): boolean { // eslint-disable-line @typescript-eslint/no-explicit-any
    return r.status === 409 && r.body?.errors?.[0]?.code === 'placement.concurrent_update';
  }

  async getProvider(uuid: string): Promise<ProviderInfo | null> {
    const r = await this.call('GET', `/resource_providers/${uuid}`);
    if (r.status === 404) return null;
    if (r.status !== 200) throw this.fail(r, `get provider ${uuid}`);
    return r.body as ProviderInfo;
  }

  /** The provider, created when missing (a concurrent creator of the same uuid is fine). */
  async ensureProvider(uuid: string, name: string, parentUuid?: string): Promise<ProviderInfo> {
    const have = await this.getProvider(uuid);
    if (have) return have;
    const r = await this.call('POST', '/resource_providers', { uuid, name, ...(parentUuid ? { parent_provider_uuid: parentUuid } : {}) });
    if (r.status === 200) return r.body as ProviderInfo;
    if (r.status === 409) {
      const again = await this.getProvider(uuid);
      if (again) return again;
    }
    throw this.fail(r, `create provider ${name}`);
  }

  async deleteProvider(uuid: string): Promise<boolean> {
    const r = await this.call('DELETE', `/resource_providers/${uuid}`);
    if (r.status === 204) return true;
    if (r.status === 404) return false;
    throw this.fail(r, `delete provider ${uuid}`);
  }

  /** Runs a generation-guarded write, re-reading the generation after a concurrent update. */
  private async withGeneration(uuid: string, what: string, write: (generation: number) => Promise<{ status: number; body: any }>): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const attempts = this.opts.retries ?? 5;
    for (let i = 0; ; i++) {
      const p = await this.getProvider(uuid);
      if (!p) throw new PlacementError(404, 'placement.resource_provider.not_found', `${what}: no resource provider ${uuid}`);
      const r = await write(p.generation);
      if (r.status === 200 || r.status === 204) return r.body;
      if (!this.isGenerationConflict(r) || i + 1 >= attempts) throw this.fail(r, what);
    }
  }

  /** Replaces the provider's inventories (retrying on generation conflicts); returns the new generation. */
  async setInventory(uuid: string, inventories: Record<string, InventoryInput>): Promise<number> {
    const body = await this.withGeneration(uuid, `set inventory of ${uuid}`, (generation) =>
      this.call('PUT', `/resource_providers/${uuid}/inventories`, { resource_provider_generation: generation, inventories }));
    return body.resource_provider_generation as number;
  }

  async setTraits(uuid: string, traits: string[]): Promise<number> {
    for (const t of traits) {
      if (t.startsWith('CUSTOM_')) {
        const r = await this.call('PUT', `/traits/${t}`);
        if (r.status !== 201 && r.status !== 204) throw this.fail(r, `create trait ${t}`);
      }
    }
    const body = await this.withGeneration(uuid, `set traits of ${uuid}`, (generation) =>
      this.call('PUT', `/resource_providers/${uuid}/traits`, { resource_provider_generation: generation, traits }));
    return body.resource_provider_generation as number;
  }

  async setAggregates(uuid: string, aggregates: string[]): Promise<number> {
    const body = await this.withGeneration(uuid, `set aggregates of ${uuid}`, (generation) =>
      this.call('PUT', `/resource_providers/${uuid}/aggregates`, { resource_provider_generation: generation, aggregates }));
    return body.resource_provider_generation as number;
  }

  async allocationCandidates(q: CandidateQuery): Promise<Candidates> {
    const p = new URLSearchParams();
    p.set('resources', Object.entries(q.resources).map(([rc, n]) => `${rc}:${n}`).join(','));
    if (q.required?.length) p.set('required', q.required.join(','));
    if (q.member_of?.length) p.set('member_of', `in:${q.member_of.join(',')}`);
    if (q.in_tree) p.set('in_tree', q.in_tree);
    if (q.limit !== undefined) p.set('limit', String(q.limit));
    const r = await this.call('GET', `/allocation_candidates?${p}`);
    if (r.status !== 200) throw this.fail(r, 'allocation candidates');
    return r.body as Candidates;
  }

  /**
   * Claims `allocations` for a consumer (replacing what it had). `consumerGeneration` is null for
   * a new consumer, else the generation last read. False when the resources do not fit any more;
   * ConsumerConflict when the consumer changed meanwhile.
   */
  async claim(consumer: string, allocations: Allocations, projectId: string, userId: string, consumerGeneration: number | null, consumerType = 'INSTANCE'): Promise<boolean> {
    const r = await this.call('PUT', `/allocations/${consumer}`, {
      allocations: Object.fromEntries(Object.entries(allocations).map(([rp, resources]) => [rp, { resources }])),
      project_id: projectId, user_id: userId, consumer_generation: consumerGeneration, consumer_type: consumerType,
    });
    if (r.status === 204) return true;
    if (this.isGenerationConflict(r)) throw new ConsumerConflict(r.body?.errors?.[0]?.detail?.trim() ?? 'consumer generation conflict');
    if (r.status === 409) return false;
    throw this.fail(r, `claim for ${consumer}`);
  }

  async getAllocations(consumer: string): Promise<ConsumerAllocations> {
    const r = await this.call('GET', `/allocations/${consumer}`);
    if (r.status !== 200) throw this.fail(r, `allocations of ${consumer}`);
    return r.body as ConsumerAllocations;
  }

  /**
   * Moves a consumer's allocations to another consumer in one request (resize: the instance's
   * allocations on the source host go to the migration uuid, and the instance then claims on the
   * destination). False when the target's allocations would not fit.
   */
  async moveAllocations(source: string, target: string, consumerType = 'MIGRATION'): Promise<boolean> {
    const src = await this.getAllocations(source);
    if (!src.project_id) return true; // nothing to move
    const tgt = await this.getAllocations(target);
    const body = {
      [source]: { allocations: {}, project_id: src.project_id, user_id: src.user_id, consumer_generation: src.consumer_generation ?? null, consumer_type: src.consumer_type ?? 'INSTANCE' },
      [target]: {
        allocations: Object.fromEntries(Object.entries(src.allocations).map(([rp, a]) => [rp, { resources: a.resources }])),
        project_id: src.project_id, user_id: src.user_id, consumer_generation: tgt.consumer_generation ?? null, consumer_type: consumerType,
      },
    };
    const r = await this.call('POST', '/allocations', body);
    if (r.status === 204) return true;
    if (this.isGenerationConflict(r)) throw new ConsumerConflict(r.body?.errors?.[0]?.detail?.trim() ?? 'consumer generation conflict');
    if (r.status === 409) return false;
    throw this.fail(r, `move allocations ${source} -> ${target}`);
  }

  /** Removes every allocation of a consumer; false when it had none. */
  async deleteAllocations(consumer: string): Promise<boolean> {
    const r = await this.call('DELETE', `/allocations/${consumer}`);
    if (r.status === 204) return true;
    if (r.status === 404) return false;
    throw this.fail(r, `delete allocations of ${consumer}`);
  }

  /** A project's (and optionally a user's) usage per consumer type: {INSTANCE: {VCPU: 2, consumer_count: 1}}. */
  async usages(projectId: string, userId?: string): Promise<Record<string, Record<string, number>>> {
    const p = new URLSearchParams({ project_id: projectId });
    if (userId) p.set('user_id', userId);
    const r = await this.call('GET', `/usages?${p}`);
    if (r.status !== 200) throw this.fail(r, `usages of ${projectId}`);
    return r.body.usages;
  }
}
