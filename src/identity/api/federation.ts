// OS-FEDERATION: identity providers (with their remote ids and the domain their users live in),
// mappings (rules checked against Keystone's mapping schema), an identity provider's protocols
// (each naming the mapping it uses) and service providers (listed in every token, as Keystone).
// The federated login itself (the `mapped` auth method) is not here yet.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../../common/errors.js';
import { isUniqueViolation } from '../../common/db/index.js';
import { validate } from '../../common/validation.js';
import type { IdentityContext } from '../context.js';
import { ROOT_DOMAIN_ID, baseUrl, enforce, listLinks, newId, parseJson, q, qBool, rowOr404 } from '../context.js';
import type { TokenService } from '../tokens.js';
import type { ExtensionDeps } from '../extensions.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Row = Record<string, any>;

const PREFIX = '/v3/OS-FEDERATION';
const ID_STRING = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[a-zA-Z0-9-]+$' };
const MAPPING_ID_STRING = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[a-zA-Z0-9-_]+$' };
const URL = { type: 'string', minLength: 0, maxLength: 225, pattern: '^[a-zA-Z0-9+.-]+:.+' };
const NULLABLE_STRING = { type: ['string', 'null'] };
const REMOTE_IDS = { type: ['array', 'null'], items: { type: 'string', maxLength: 255 }, uniqueItems: true };
const TTL = { type: ['integer', 'null'], minimum: 0 };

const idpCreate = {
  type: 'object',
  properties: { enabled: { type: 'boolean' }, description: NULLABLE_STRING, domain_id: { anyOf: [ID_STRING, { type: 'null' }] }, authorization_ttl: TTL, remote_ids: REMOTE_IDS },
  additionalProperties: false,
};
const idpUpdate = {
  type: 'object',
  properties: { enabled: { type: 'boolean' }, description: NULLABLE_STRING, authorization_ttl: TTL, remote_ids: REMOTE_IDS },
  minProperties: 1,
  additionalProperties: false,
};
const protocolCreate = {
  type: 'object',
  properties: { mapping_id: MAPPING_ID_STRING, remote_id_attribute: { type: 'string', maxLength: 64 } },
  required: ['mapping_id'],
  additionalProperties: false,
};
const protocolUpdate = { ...protocolCreate, required: [], minProperties: 1 };
const spProperties = { auth_url: URL, sp_url: URL, description: NULLABLE_STRING, enabled: { type: 'boolean' }, relay_state_prefix: NULLABLE_STRING };
const spCreate = { type: 'object', properties: spProperties, required: ['auth_url', 'sp_url'], additionalProperties: false };
const spUpdate = { type: 'object', properties: spProperties, minProperties: 1, additionalProperties: false };

/** Keystone's federation mapping schema (keystone/federation/utils.py MAPPING_SCHEMA). */
const ROLE_PROPERTIES = {
  type: 'array',
  items: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, additionalProperties: false } },
};
export const MAPPING_SCHEMA = {
  type: 'object',
  required: ['rules'],
  properties: {
    rules: {
      minItems: 1,
      type: 'array',
      items: {
        type: 'object',
        required: ['local', 'remote'],
        additionalProperties: false,
        properties: {
          local: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              properties: {
                user: {
                  type: 'object',
                  properties: {
                    id: { type: 'string' }, name: { type: 'string' }, email: { type: 'string' },
                    domain: { $ref: '#/definitions/domain' },
                    type: { type: 'string', enum: ['ephemeral', 'local'] },
                  },
                  additionalProperties: false,
                },
                projects: {
                  type: 'array',
                  items: { type: 'object', required: ['name', 'roles'], additionalProperties: false, properties: { name: { type: 'string' }, roles: ROLE_PROPERTIES } },
                },
                group: { type: 'object', oneOf: [{ $ref: '#/definitions/group_by_id' }, { $ref: '#/definitions/group_by_name' }] },
                groups: { type: 'string' },
                group_ids: { type: 'string' },
                domain: { $ref: '#/definitions/domain' },
              },
            },
          },
          remote: {
            minItems: 1,
            type: 'array',
            items: {
              type: 'object',
              oneOf: [
                { $ref: '#/definitions/empty' }, { $ref: '#/definitions/any_one_of' }, { $ref: '#/definitions/not_any_of' },
                { $ref: '#/definitions/blacklist' }, { $ref: '#/definitions/whitelist' },
              ],
            },
          },
        },
      },
    },
  },
  definitions: {
    empty: { type: 'object', required: ['type'], properties: { type: { type: 'string' } }, additionalProperties: false },
    any_one_of: { type: 'object', additionalProperties: false, required: ['type', 'any_one_of'], properties: { type: { type: 'string' }, any_one_of: { type: 'array' }, regex: { type: 'boolean' } } },
    not_any_of: { type: 'object', additionalProperties: false, required: ['type', 'not_any_of'], properties: { type: { type: 'string' }, not_any_of: { type: 'array' }, regex: { type: 'boolean' } } },
    blacklist: { type: 'object', additionalProperties: false, required: ['type', 'blacklist'], properties: { type: { type: 'string' }, blacklist: { type: 'array' }, regex: { type: 'boolean' } } },
    whitelist: { type: 'object', additionalProperties: false, required: ['type', 'whitelist'], properties: { type: { type: 'string' }, whitelist: { type: 'array' }, regex: { type: 'boolean' } } },
    domain: { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' } }, additionalProperties: false },
    group_by_id: { type: 'object', properties: { id: { type: 'string' } }, additionalProperties: false, required: ['id'] },
    group_by_name: { type: 'object', properties: { name: { type: 'string' }, domain: { $ref: '#/definitions/domain' } }, additionalProperties: false, required: ['name', 'domain'] },
  },
};

/** Keystone's default [saml] relay_state_prefix. */
const DEFAULT_RELAY_STATE_PREFIX = 'ss:mem:';

/** `body[key]` as Keystone reads it: absent means {}, anything but an object is a 400. */
function bodyMember(body: unknown, key: string): Row {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw new ApiError('BadRequest', 'The request body must be a JSON object.');
  const v = (body as Row)[key];
  if (v === undefined) return {};
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ApiError('BadRequest', `Invalid input for field '${key}': expected an object.`);
  return v as Row;
}

function checkPathId(id: string, what: string): void {
  if (id.length > 64) throw new ApiError('BadRequest', `Invalid ${what} id: longer than 64 characters.`);
}

const idpUrl = (req: FastifyRequest, id: string) => `${baseUrl(req)}${PREFIX}/identity_providers/${id}`;

function formatIdp(req: FastifyRequest, r: Row, remoteIds: string[]): Row {
  const self = idpUrl(req, r.id);
  return {
    id: r.id, domain_id: r.domain_id, enabled: !!r.enabled, description: r.description ?? null,
    remote_ids: remoteIds, authorization_ttl: r.authorization_ttl ?? null,
    links: { self, protocols: `${self}/protocols` },
  };
}

function formatProtocol(req: FastifyRequest, p: Row): Row {
  const idp = idpUrl(req, p.idp_id);
  return { id: p.id, mapping_id: p.mapping_id, remote_id_attribute: p.remote_id_attribute ?? null, links: { self: `${idp}/protocols/${p.id}`, identity_provider: idp } };
}

function formatMapping(req: FastifyRequest, m: Row): Row {
  return { id: m.id, rules: parseJson(m.rules, []), links: { self: `${baseUrl(req)}${PREFIX}/mappings/${m.id}` } };
}

function formatSp(req: FastifyRequest, s: Row): Row {
  return {
    id: s.id, auth_url: s.auth_url, sp_url: s.sp_url, description: s.description ?? null, enabled: !!s.enabled,
    relay_state_prefix: s.relay_state_prefix, links: { self: `${baseUrl(req)}${PREFIX}/service_providers/${s.id}` },
  };
}

async function remoteIdsOf(ctx: IdentityContext, ids: string[]): Promise<Map<string, string[]>> {
  const m = new Map<string, string[]>();
  if (!ids.length) return m;
  for (let i = 0; i < ids.length; i += 500) {
    const rows = await ctx.db.selectFrom('federation_idp_remote_id').select(['idp_id', 'remote_id'])
      .where('idp_id', 'in', ids.slice(i, i + 500)).orderBy('remote_id').execute();
    for (const r of rows as Row[]) m.set(r.idp_id, [...(m.get(r.idp_id) ?? []), r.remote_id]);
  }
  return m;
}

async function getIdp(ctx: IdentityContext, id: string): Promise<Row> {
  return rowOr404(ctx, 'federation_idp', id, `Could not find Identity Provider: ${id}.`);
}

async function getMapping(ctx: IdentityContext, id: string): Promise<Row> {
  return rowOr404(ctx, 'federation_mapping', id, `Could not find mapping: ${id}.`);
}

async function getProtocol(ctx: IdentityContext, idpId: string, id: string): Promise<Row> {
  const p = await ctx.db.selectFrom('federation_protocol').selectAll().where('idp_id', '=', idpId).where('id', '=', id).executeTakeFirst();
  if (!p) throw new ApiError('NotFound', `Could not find federated protocol ${id} for Identity Provider: ${idpId}.`);
  return p;
}

async function getSp(ctx: IdentityContext, id: string): Promise<Row> {
  return rowOr404(ctx, 'federation_sp', id, `Could not find Service Provider: ${id}.`);
}

/** 409 when one of `remoteIds` already names another identity provider. */
async function checkRemoteIds(ctx: IdentityContext, idpId: string, remoteIds: string[]): Promise<void> {
  if (!remoteIds.length) return;
  const taken = await ctx.db.selectFrom('federation_idp_remote_id').select(['remote_id', 'idp_id'])
    .where('remote_id', 'in', remoteIds).where('idp_id', '!=', idpId).executeTakeFirst();
  if (taken) throw new ApiError('Conflict', `Conflict occurred attempting to store identity_provider - Duplicate remote ID: ${taken.remote_id}.`);
}

async function validateMappingExists(ctx: IdentityContext, mappingId: string): Promise<void> {
  const m = await ctx.db.selectFrom('federation_mapping').select('id').where('id', '=', mappingId).executeTakeFirst();
  if (!m) throw new ApiError('BadRequest', `Invalid mapping id: ${mappingId}`);
}

/** Removes identity providers with their protocols and remote ids. */
async function deleteIdps(ctx: IdentityContext, ids: string[]): Promise<void> {
  if (!ids.length) return;
  await ctx.db.transaction().execute(async (trx) => {
    await trx.deleteFrom('federation_protocol').where('idp_id', 'in', ids).execute();
    await trx.deleteFrom('federation_idp_remote_id').where('idp_id', 'in', ids).execute();
    await trx.deleteFrom('federation_idp').where('id', 'in', ids).execute();
  });
  ctx.changed();
}

/** Enabled service providers as Keystone lists them in tokens; cached until anything changes. */
function serviceProvidersInTokens(ctx: IdentityContext): () => Promise<Row[]> {
  let cache: { generation: number; sps: Row[] } | undefined;
  return async () => {
    if (cache && cache.generation === ctx.generation) return cache.sps;
    const generation = ctx.generation;
    const rows = await ctx.db.selectFrom('federation_sp').select(['id', 'auth_url', 'sp_url']).where('enabled', '=', 1).orderBy('id').execute();
    const sps = (rows as Row[]).map((s) => ({ auth_url: s.auth_url, id: s.id, sp_url: s.sp_url }));
    cache = { generation, sps };
    return sps;
  };
}

export function registerFederation(app: FastifyInstance, ctx: IdentityContext, tokens: TokenService): void {
  // ---- identity providers
  app.put<{ Params: { idp_id: string } }>(`${PREFIX}/identity_providers/:idp_id`, async (req, reply) => {
    enforce(ctx, req, 'identity:create_identity_provider');
    const id = req.params.idp_id;
    checkPathId(id, 'identity provider');
    const body = validate<Row>(idpCreate, bodyMember(req.body, 'identity_provider'));
    const remoteIds: string[] = body.remote_ids ?? [];
    let domainId: string | undefined = body.domain_id ?? undefined;
    if (domainId) {
      const d = await ctx.db.selectFrom('project').select('id').where('id', '=', domainId).where('is_domain', '=', 1).executeTakeFirst();
      if (!d) throw new ApiError('NotFound', `Could not find domain: ${domainId}.`);
    }
    const existing = await ctx.db.selectFrom('federation_idp').select('id').where('id', '=', id).executeTakeFirst();
    if (existing) throw new ApiError('Conflict', `Conflict occurred attempting to store identity_provider - Duplicate entry: ${id}.`);
    await checkRemoteIds(ctx, id, remoteIds);
    const row = {
      id, domain_id: '', enabled: body.enabled ? 1 : 0, description: body.description ?? null,
      authorization_ttl: body.authorization_ttl ?? null,
    };
    try {
      await ctx.db.transaction().execute(async (trx) => {
        if (!domainId) {
          // Keystone gives an identity provider without a domain one of its own.
          domainId = newId();
          await trx.insertInto('project').values({
            id: domainId, name: domainId, domain_id: ROOT_DOMAIN_ID, parent_id: null, is_domain: 1, enabled: 1,
            description: `Auto generated federated domain for Identity Provider: ${id}`, extra: '{}', options: '{}',
          }).execute();
        }
        row.domain_id = domainId;
        await trx.insertInto('federation_idp').values(row).execute();
        if (remoteIds.length) await trx.insertInto('federation_idp_remote_id').values(remoteIds.map((remote_id) => ({ remote_id, idp_id: id }))).execute();
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw new ApiError('Conflict', `Conflict occurred attempting to store identity_provider - Duplicate entry: ${id}.`);
      throw e;
    }
    ctx.changed();
    reply.code(201);
    return { identity_provider: formatIdp(req, row, [...remoteIds].sort()) };
  });

  app.get(`${PREFIX}/identity_providers`, async (req) => {
    enforce(ctx, req, 'identity:list_identity_providers');
    let qb: Row = ctx.db.selectFrom('federation_idp').selectAll();
    const id = q(req, 'id');
    if (id !== undefined) qb = qb.where('id', '=', id);
    const enabled = qBool(req, 'enabled');
    if (enabled !== undefined) qb = qb.where('enabled', '=', enabled ? 1 : 0);
    const rows: Row[] = await qb.orderBy('id').execute();
    const rids = await remoteIdsOf(ctx, rows.map((r) => r.id));
    return { identity_providers: rows.map((r) => formatIdp(req, r, rids.get(r.id) ?? [])), links: listLinks(req) };
  });

  app.get<{ Params: { idp_id: string } }>(`${PREFIX}/identity_providers/:idp_id`, async (req) => {
    enforce(ctx, req, 'identity:get_identity_provider');
    const r = await getIdp(ctx, req.params.idp_id);
    return { identity_provider: formatIdp(req, r, (await remoteIdsOf(ctx, [r.id])).get(r.id) ?? []) };
  });

  app.patch<{ Params: { idp_id: string } }>(`${PREFIX}/identity_providers/:idp_id`, async (req) => {
    enforce(ctx, req, 'identity:update_identity_provider');
    const body = validate<Row>(idpUpdate, bodyMember(req.body, 'identity_provider'));
    const r = await getIdp(ctx, req.params.idp_id);
    const upd: Row = {};
    if (body.enabled !== undefined) upd.enabled = body.enabled ? 1 : 0;
    if ('description' in body) upd.description = body.description;
    if ('authorization_ttl' in body) upd.authorization_ttl = body.authorization_ttl;
    const remoteIds: string[] | undefined = 'remote_ids' in body ? (body.remote_ids ?? []) : undefined;
    if (remoteIds) await checkRemoteIds(ctx, r.id, remoteIds);
    try {
      await ctx.db.transaction().execute(async (trx) => {
        if (Object.keys(upd).length) await trx.updateTable('federation_idp').set(upd).where('id', '=', r.id).execute();
        if (remoteIds) {
          await trx.deleteFrom('federation_idp_remote_id').where('idp_id', '=', r.id).execute();
          if (remoteIds.length) await trx.insertInto('federation_idp_remote_id').values(remoteIds.map((remote_id) => ({ remote_id, idp_id: r.id }))).execute();
        }
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw new ApiError('Conflict', 'Conflict occurred attempting to store identity_provider - Duplicate remote ID.');
      throw e;
    }
    ctx.changed();
    const now = await getIdp(ctx, r.id);
    return { identity_provider: formatIdp(req, now, (await remoteIdsOf(ctx, [r.id])).get(r.id) ?? []) };
  });

  app.delete<{ Params: { idp_id: string } }>(`${PREFIX}/identity_providers/:idp_id`, async (req, reply) => {
    enforce(ctx, req, 'identity:delete_identity_provider');
    const r = await getIdp(ctx, req.params.idp_id);
    await deleteIdps(ctx, [r.id]);
    tokens.forget();
    reply.code(204).send();
  });

  // ---- protocols of an identity provider
  const protocolPath = `${PREFIX}/identity_providers/:idp_id/protocols`;
  app.put<{ Params: { idp_id: string; protocol_id: string } }>(`${protocolPath}/:protocol_id`, async (req, reply) => {
    enforce(ctx, req, 'identity:create_protocol');
    const { idp_id: idpId, protocol_id: id } = req.params;
    checkPathId(id, 'protocol');
    const body = validate<Row>(protocolCreate, bodyMember(req.body, 'protocol'));
    await validateMappingExists(ctx, body.mapping_id);
    await getIdp(ctx, idpId);
    const row = { idp_id: idpId, id, mapping_id: body.mapping_id, remote_id_attribute: body.remote_id_attribute ?? null };
    try {
      await ctx.db.insertInto('federation_protocol').values(row).execute();
    } catch (e) {
      if (isUniqueViolation(e)) throw new ApiError('Conflict', `Conflict occurred attempting to store federation_protocol - Duplicate entry: ${id}.`);
      throw e;
    }
    ctx.changed();
    reply.code(201);
    return { protocol: formatProtocol(req, row) };
  });

  app.get<{ Params: { idp_id: string } }>(protocolPath, async (req) => {
    enforce(ctx, req, 'identity:list_protocols');
    const rows: Row[] = await ctx.db.selectFrom('federation_protocol').selectAll().where('idp_id', '=', req.params.idp_id).orderBy('id').execute();
    return { protocols: rows.map((p) => formatProtocol(req, p)), links: listLinks(req) };
  });

  app.get<{ Params: { idp_id: string; protocol_id: string } }>(`${protocolPath}/:protocol_id`, async (req) => {
    enforce(ctx, req, 'identity:get_protocol');
    return { protocol: formatProtocol(req, await getProtocol(ctx, req.params.idp_id, req.params.protocol_id)) };
  });

  app.patch<{ Params: { idp_id: string; protocol_id: string } }>(`${protocolPath}/:protocol_id`, async (req) => {
    enforce(ctx, req, 'identity:update_protocol');
    const body = validate<Row>(protocolUpdate, bodyMember(req.body, 'protocol'));
    if (body.mapping_id !== undefined) await validateMappingExists(ctx, body.mapping_id);
    const p = await getProtocol(ctx, req.params.idp_id, req.params.protocol_id);
    const upd: Row = {};
    if (body.mapping_id !== undefined) upd.mapping_id = body.mapping_id;
    if (body.remote_id_attribute !== undefined) upd.remote_id_attribute = body.remote_id_attribute;
    await ctx.db.updateTable('federation_protocol').set(upd).where('idp_id', '=', p.idp_id).where('id', '=', p.id).execute();
    ctx.changed();
    return { protocol: formatProtocol(req, await getProtocol(ctx, p.idp_id, p.id)) };
  });

  app.delete<{ Params: { idp_id: string; protocol_id: string } }>(`${protocolPath}/:protocol_id`, async (req, reply) => {
    enforce(ctx, req, 'identity:delete_protocol');
    const p = await getProtocol(ctx, req.params.idp_id, req.params.protocol_id);
    await ctx.db.deleteFrom('federation_protocol').where('idp_id', '=', p.idp_id).where('id', '=', p.id).execute();
    ctx.changed();
    reply.code(204).send();
  });

  // ---- mappings
  app.put<{ Params: { mapping_id: string } }>(`${PREFIX}/mappings/:mapping_id`, async (req, reply) => {
    enforce(ctx, req, 'identity:create_mapping');
    const id = req.params.mapping_id;
    checkPathId(id, 'mapping');
    const body = validate<Row>(MAPPING_SCHEMA, bodyMember(req.body, 'mapping'));
    const row = { id, rules: JSON.stringify(body.rules) };
    try {
      await ctx.db.insertInto('federation_mapping').values(row).execute();
    } catch (e) {
      if (isUniqueViolation(e)) throw new ApiError('Conflict', `Conflict occurred attempting to store mapping - Duplicate entry: ${id}.`);
      throw e;
    }
    reply.code(201);
    return { mapping: formatMapping(req, row) };
  });

  app.get(`${PREFIX}/mappings`, async (req) => {
    enforce(ctx, req, 'identity:list_mappings');
    const rows: Row[] = await ctx.db.selectFrom('federation_mapping').selectAll().orderBy('id').execute();
    return { mappings: rows.map((m) => formatMapping(req, m)), links: listLinks(req) };
  });

  app.get<{ Params: { mapping_id: string } }>(`${PREFIX}/mappings/:mapping_id`, async (req) => {
    enforce(ctx, req, 'identity:get_mapping');
    return { mapping: formatMapping(req, await getMapping(ctx, req.params.mapping_id)) };
  });

  app.patch<{ Params: { mapping_id: string } }>(`${PREFIX}/mappings/:mapping_id`, async (req) => {
    enforce(ctx, req, 'identity:update_mapping');
    const body = validate<Row>(MAPPING_SCHEMA, bodyMember(req.body, 'mapping'));
    const m = await getMapping(ctx, req.params.mapping_id);
    await ctx.db.updateTable('federation_mapping').set({ rules: JSON.stringify(body.rules) }).where('id', '=', m.id).execute();
    return { mapping: formatMapping(req, await getMapping(ctx, m.id)) };
  });

  app.delete<{ Params: { mapping_id: string } }>(`${PREFIX}/mappings/:mapping_id`, async (req, reply) => {
    enforce(ctx, req, 'identity:delete_mapping');
    const m = await getMapping(ctx, req.params.mapping_id);
    await ctx.db.deleteFrom('federation_mapping').where('id', '=', m.id).execute();
    reply.code(204).send();
  });

  // ---- service providers
  app.put<{ Params: { sp_id: string } }>(`${PREFIX}/service_providers/:sp_id`, async (req, reply) => {
    enforce(ctx, req, 'identity:create_service_provider');
    const id = req.params.sp_id;
    checkPathId(id, 'service provider');
    const body = validate<Row>(spCreate, bodyMember(req.body, 'service_provider'));
    const row = {
      id, auth_url: body.auth_url, sp_url: body.sp_url, description: body.description ?? null, enabled: body.enabled ? 1 : 0,
      relay_state_prefix: body.relay_state_prefix ?? DEFAULT_RELAY_STATE_PREFIX,
    };
    try {
      await ctx.db.insertInto('federation_sp').values(row).execute();
    } catch (e) {
      if (isUniqueViolation(e)) throw new ApiError('Conflict', `Conflict occurred attempting to store service_provider - Duplicate entry: ${id}.`);
      throw e;
    }
    ctx.changed();
    reply.code(201);
    return { service_provider: formatSp(req, row) };
  });

  app.get(`${PREFIX}/service_providers`, async (req) => {
    enforce(ctx, req, 'identity:list_service_providers');
    let qb: Row = ctx.db.selectFrom('federation_sp').selectAll();
    const id = q(req, 'id');
    if (id !== undefined) qb = qb.where('id', '=', id);
    const enabled = qBool(req, 'enabled');
    if (enabled !== undefined) qb = qb.where('enabled', '=', enabled ? 1 : 0);
    const rows: Row[] = await qb.orderBy('id').execute();
    return { service_providers: rows.map((s) => formatSp(req, s)), links: listLinks(req) };
  });

  app.get<{ Params: { sp_id: string } }>(`${PREFIX}/service_providers/:sp_id`, async (req) => {
    enforce(ctx, req, 'identity:get_service_provider');
    return { service_provider: formatSp(req, await getSp(ctx, req.params.sp_id)) };
  });

  app.patch<{ Params: { sp_id: string } }>(`${PREFIX}/service_providers/:sp_id`, async (req) => {
    enforce(ctx, req, 'identity:update_service_provider');
    const body = validate<Row>(spUpdate, bodyMember(req.body, 'service_provider'));
    const s = await getSp(ctx, req.params.sp_id);
    const upd: Row = {};
    for (const k of ['auth_url', 'sp_url', 'description']) if (k in body) upd[k] = body[k];
    if ('relay_state_prefix' in body) upd.relay_state_prefix = body.relay_state_prefix ?? DEFAULT_RELAY_STATE_PREFIX;
    if (body.enabled !== undefined) upd.enabled = body.enabled ? 1 : 0;
    await ctx.db.updateTable('federation_sp').set(upd).where('id', '=', s.id).execute();
    ctx.changed();
    return { service_provider: formatSp(req, await getSp(ctx, s.id)) };
  });

  app.delete<{ Params: { sp_id: string } }>(`${PREFIX}/service_providers/:sp_id`, async (req, reply) => {
    enforce(ctx, req, 'identity:delete_service_provider');
    const s = await getSp(ctx, req.params.sp_id);
    await ctx.db.deleteFrom('federation_sp').where('id', '=', s.id).execute();
    ctx.changed();
    reply.code(204).send();
  });

  // A deleted domain takes its identity providers with it (Keystone's DOMAIN_DELETED callback).
  ctx.hooks.on('project.deleted', async (ids) => {
    const rows = await ctx.db.selectFrom('federation_idp').select('id').where('domain_id', 'in', ids).execute();
    await deleteIdps(ctx, (rows as Row[]).map((r) => r.id));
  });

  // Every token lists the enabled service providers, as Keystone's render_token does.
  const sps = serviceProvidersInTokens(ctx);
  tokens.renderHooks.push(async (_d, t) => {
    const list = await sps();
    if (list.length) t.service_providers = list;
  });
}

export function federationExtension({ app, ctx, tokens }: ExtensionDeps): void {
  registerFederation(app, ctx, tokens);
}
