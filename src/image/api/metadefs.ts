// /v2/metadefs: the metadata definitions catalog (namespaces and the objects, properties and tags
// they define, resource types and their associations) — Glance's metadef_* controllers. Admins
// write (metadef_admin); everyone reads public namespaces and their own project's.

import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ImageContext, RequestContext } from '../context.js';
import { requestContext } from '../context.js';
import { isotime, nowIso, parseJson } from '../util.js';
import { isUniqueViolation } from '../../common/db/index.js';
import { bare, badRequest, conflict, explain, forbidden, notFound } from '../errors.js';
import { MetadefPolicy } from '../authz.js';
import { queryPairs, requireBody, resource } from './http.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Row = Record<string, any>;
type Req = FastifyRequest<{ Params: { namespace: string; name: string; resource_type: string } }>;

const NS_LINK = (ns: string) => `/v2/metadefs/namespaces/${ns}`;

/** Namespace lookup with visibility: 404 as each controller words it. */
async function nsRow(ctx: ImageContext, rc: RequestContext, name: string, msg?: string): Promise<Row> {
  const r = await ctx.db.selectFrom('metadef_namespaces').selectAll().where('namespace', '=', name).executeTakeFirst();
  const visible = r && (rc.isAdmin || r.visibility === 'public' || r.owner === rc.owner);
  if (!visible) throw notFound(msg ?? `Metadata definition namespace=${name} was not found.`);
  const pol = new MetadefPolicy(ctx, rc, { owner: r.owner, visibility: r.visibility });
  if (!pol.check('get_metadef_namespace')) throw bare('NotFound');
  return r;
}

function nsPolicy(ctx: ImageContext, rc: RequestContext, r: Row): MetadefPolicy {
  return new MetadefPolicy(ctx, rc, { owner: r.owner, visibility: r.visibility });
}

function nsView(r: Row): Record<string, unknown> {
  const v: Record<string, unknown> = { namespace: r.namespace };
  if (r.display_name !== null && r.display_name !== undefined) v.display_name = r.display_name;
  if (r.description !== null && r.description !== undefined) v.description = r.description;
  v.visibility = r.visibility;
  v.protected = !!Number(r.protected);
  v.owner = r.owner;
  v.created_at = isotime(r.created_at);
  v.updated_at = isotime(r.updated_at);
  v.self = NS_LINK(r.namespace);
  v.schema = '/v2/schemas/metadefs/namespace';
  return v;
}

const PROPERTY_FIELDS = ['type', 'title', 'description', 'operators', 'default', 'readonly', 'minimum', 'maximum', 'enum', 'pattern',
  'minLength', 'maxLength', 'confidential', 'items', 'uniqueItems', 'minItems', 'maxItems', 'additionalItems'];

/** Validates a property type as Glance's wsme PropertyType does (type and title are mandatory). */
function propertySchema(body: Record<string, unknown>, where = 'property'): Record<string, unknown> {
  if (typeof body.type !== 'string' || !body.type) throw badRequest(`Invalid input for field/attribute ${where}. Value: ${JSON.stringify(body)}. Mandatory field missing.`);
  if (typeof body.title !== 'string' || !body.title) throw badRequest(`Invalid input for field/attribute ${where}. Value: ${JSON.stringify(body)}. Mandatory field missing.`);
  const out: Record<string, unknown> = {};
  for (const k of PROPERTY_FIELDS) if (body[k] !== undefined && body[k] !== null) out[k] = body[k];
  return out;
}

function objView(ns: string, r: Row): Record<string, unknown> {
  const v: Record<string, unknown> = { name: r.name };
  const req = parseJson<string[] | null>(r.required, null);
  if (req && req.length) v.required = req;
  if (r.description) v.description = r.description;
  const props = parseJson<Record<string, unknown>>(r.json_schema, {});
  if (Object.keys(props).length) v.properties = props;
  v.created_at = isotime(r.created_at);
  v.updated_at = isotime(r.updated_at);
  v.self = `${NS_LINK(ns)}/objects/${r.name}`;
  v.schema = '/v2/schemas/metadefs/object';
  return v;
}

const tagView = (r: Row) => ({ name: r.name, created_at: isotime(r.created_at), updated_at: isotime(r.updated_at) });

async function assocs(ctx: ImageContext, nsId: string): Promise<Row[]> {
  return ctx.db.selectFrom('metadef_namespace_resource_types as a').innerJoin('metadef_resource_types as t', 't.id', 'a.resource_type_id')
    .select(['t.name as name', 'a.prefix as prefix', 'a.properties_target as properties_target', 'a.created_at as created_at', 'a.updated_at as updated_at'])
    .where('a.namespace_id', '=', nsId).orderBy('t.name').execute();
}

const assocView = (r: Row) => {
  const v: Record<string, unknown> = { name: r.name };
  if (r.prefix) v.prefix = r.prefix;
  if (r.properties_target) v.properties_target = r.properties_target;
  v.created_at = isotime(r.created_at);
  v.updated_at = isotime(r.updated_at);
  return v;
};

async function insertOrConflict(p: Promise<unknown>, msg: string): Promise<void> {
  try { await p; } catch (e) { if (isUniqueViolation(e)) throw conflict(msg); throw e; }
}

async function ensureResourceType(ctx: ImageContext, name: string): Promise<string> {
  const rt = await ctx.db.selectFrom('metadef_resource_types').select('id').where('name', '=', name).executeTakeFirst();
  if (rt) return rt.id;
  const id = randomUUID();
  const now = nowIso();
  await insertOrConflict(ctx.db.insertInto('metadef_resource_types').values({ id, name, protected: 0, created_at: now, updated_at: now }).execute(),
    `A metadata definition resource-type with name=${name} already exists.`);
  return id;
}

async function addAssociation(ctx: ImageContext, ns: Row, body: Record<string, unknown>): Promise<Row> {
  const name = short('resource_type', body.name)!;
  const prefix = short('prefix', body.prefix, false);
  const target = short('properties_target', body.properties_target, false);
  const rtId = await ensureResourceType(ctx, name);
  const now = nowIso();
  const row = { resource_type_id: rtId, namespace_id: ns.id, prefix, properties_target: target, created_at: now, updated_at: now };
  await insertOrConflict(ctx.db.insertInto('metadef_namespace_resource_types').values(row).execute(),
    `The metadata definition resource-type association of resource-type=${body.name} to namespace=${ns.namespace} already exists.`);
  return { ...row, name: body.name };
}

async function addObject(ctx: ImageContext, ns: Row, body: Record<string, unknown>): Promise<Row> {
  const name = short('name', body.name)!;
  const props: Record<string, unknown> = {};
  for (const [k, v] of Object.entries((body.properties as Record<string, Record<string, unknown>>) ?? {})) props[k] = propertySchema(v, k);
  const now = nowIso();
  const row = { id: randomUUID(), namespace_id: ns.id, name, description: (body.description as string) ?? null,
    required: body.required ? JSON.stringify(body.required) : null, json_schema: JSON.stringify(props), created_at: now, updated_at: now };
  await insertOrConflict(ctx.db.insertInto('metadef_objects').values(row).execute(),
    `A metadata definition object with name=${body.name} already exists in namespace=${ns.namespace}.`);
  return row;
}

async function addProperty(ctx: ImageContext, ns: Row, name: string, body: Record<string, unknown>): Promise<Row> {
  short('name', name);
  const schema = propertySchema(body);
  const now = nowIso();
  const row = { id: randomUUID(), namespace_id: ns.id, name, json_schema: JSON.stringify(schema), created_at: now, updated_at: now };
  await insertOrConflict(ctx.db.insertInto('metadef_properties').values(row).execute(),
    `A metadata definition property with name=${name} already exists in namespace=${ns.namespace}.`);
  return row;
}

async function addTag(ctx: ImageContext, ns: Row, name: string): Promise<Row> {
  short('name', name);
  const now = nowIso();
  const row = { id: randomUUID(), namespace_id: ns.id, name, created_at: now, updated_at: now };
  const names = await ctx.db.selectFrom('metadef_tags').select('name').where('namespace_id', '=', ns.id).execute();
  if (names.some((n: Row) => String(n.name).toLowerCase() === name.toLowerCase())) {
    throw conflict(`A metadata tag with name=${name} already exists in namespace=${ns.namespace}. (Please note that metadata tag names are case insensitive).`);
  }
  await insertOrConflict(ctx.db.insertInto('metadef_tags').values(row).execute(),
    `A metadata tag with name=${name} already exists in namespace=${ns.namespace}. (Please note that metadata tag names are case insensitive).`);
  return row;
}

function enforce(pol: MetadefPolicy, rule: string): void { pol.enforce(rule); }

/** Names and short fields are at most 80 characters (Glance's String(80) columns). */
function short(what: string, v: unknown, required = true): string | null {
  if (v === undefined || v === null || v === '') {
    if (required) throw badRequest(`Invalid input for field/attribute ${what}. Mandatory field missing.`);
    return null;
  }
  if (typeof v !== 'string') throw badRequest(`Invalid input for field/attribute ${what}. Value: ${JSON.stringify(v)}. Wrong type. Expected 'str', got '${typeof v}'`);
  if (v.length > 80) throw badRequest(`Provided object does not match schema: '${v}' is too long (${what} is at most 80 characters)`);
  return v;
}

function checkProtected(ns: Row): void {
  if (Number(ns.protected)) throw forbidden(`Metadata definition namespace ${ns.namespace} is protected and cannot be deleted.`);
}

function nsBody(req: FastifyRequest): Record<string, unknown> {
  const b = requireBody(req);
  if (Array.isArray(b)) throw badRequest('Invalid input: expected an object.');
  return b as Record<string, unknown>;
}

export function registerMetadefs(app: FastifyInstance, ctx: ImageContext): void {
  const db = ctx.db;

  resource(app, '/v2/metadefs/resource_types', {
    GET: [async (req) => {
      const rc = requestContext(ctx, req);
      new MetadefPolicy(ctx, rc).enforce('list_metadef_resource_types');
      const rows = await db.selectFrom('metadef_resource_types').selectAll().orderBy('name').execute();
      return { resource_types: rows.map((r: Row) => ({ name: r.name, created_at: isotime(r.created_at), updated_at: isotime(r.updated_at) })) };
    }, { bodyReject: true }],
  });

  resource(app, '/v2/metadefs/namespaces', {
    GET: async (req) => {
      const rc = requestContext(ctx, req);
      const pol = new MetadefPolicy(ctx, rc);
      pol.enforce('get_metadef_namespaces');
      const q = new Map(queryPairs(req));
      const limit = Math.min(ctx.opts.limitMax, q.has('limit') ? Number(q.get('limit')) : ctx.opts.limitDefault);
      if (!Number.isInteger(limit) || limit < 0) throw badRequest('limit param must be an integer');
      const sortKey = q.get('sort_key') ?? 'created_at';
      if (!['namespace', 'created_at', 'updated_at', 'display_name', 'visibility'].includes(sortKey)) throw badRequest(`Invalid sort key: ${sortKey}`);
      const sortDir = (q.get('sort_dir') ?? 'desc') as 'asc' | 'desc';
      if (sortDir !== 'asc' && sortDir !== 'desc') throw badRequest(`Invalid sort direction: ${sortDir}`);
      let s = db.selectFrom('metadef_namespaces').selectAll();
      if (!rc.isAdmin) s = s.where((eb) => eb.or([eb('visibility', '=', 'public'), eb('owner', '=', rc.owner ?? '')]));
      const vis = q.get('visibility');
      if (vis) s = s.where('visibility', '=', vis);
      const rts = q.get('resource_types');
      if (rts) {
        const names = rts.split(',').map((x) => x.trim());
        s = s.where(({ exists, selectFrom }) => exists(selectFrom('metadef_namespace_resource_types as a').innerJoin('metadef_resource_types as t', 't.id', 'a.resource_type_id')
          .select('a.namespace_id').whereRef('a.namespace_id', '=', 'metadef_namespaces.id').where('t.name', 'in', names)));
      }
      const markerName = q.get('marker');
      if (markerName) {
        const m = await nsRow(ctx, rc, markerName);
        s = s.where((eb) => eb.or([eb(sortKey, sortDir === 'desc' ? '<' : '>', m[sortKey]), eb.and([eb(sortKey, '=', m[sortKey]), eb('id', sortDir === 'desc' ? '<' : '>', m.id)])]));
      }
      const rows = await s.orderBy(sortKey, sortDir).orderBy('id', sortDir).limit(limit).execute();
      const out = [];
      for (const r of rows) {
        if (!nsPolicy(ctx, rc, r).check('get_metadef_namespace')) continue;
        const v = nsView(r);
        const a = await assocs(ctx, r.id);
        if (a.length) v.resource_type_associations = a.map(assocView);
        out.push(v);
      }
      const body: Record<string, unknown> = { namespaces: out, first: '/v2/metadefs/namespaces', schema: '/v2/schemas/metadefs/namespaces' };
      if (out.length && out.length === limit) body.next = `/v2/metadefs/namespaces?marker=${encodeURIComponent(String(out[out.length - 1]!.namespace))}`;
      return body;
    },
    POST: async (req, reply) => {
      const rc = requestContext(ctx, req);
      const b = nsBody(req);
      short('namespace', b.namespace);
      short('display_name', b.display_name, false);
      const pol = new MetadefPolicy(ctx, rc);
      pol.enforce('add_metadef_namespace');
      if (b.resource_type_associations) pol.enforce('add_metadef_resource_type_association');
      if (b.objects) pol.enforce('add_metadef_object');
      if (b.properties) pol.enforce('add_metadef_property');
      if (b.tags) pol.enforce('add_metadef_tag');
      const vis = (b.visibility as string | undefined) ?? 'private';
      if (!['public', 'private'].includes(vis)) throw badRequest(`Invalid visibility value: ${vis}`);
      const now = nowIso();
      const row = {
        id: randomUUID(), namespace: b.namespace as string, display_name: (b.display_name as string) ?? null, description: (b.description as string) ?? null,
        visibility: vis, protected: b.protected ? 1 : 0, owner: (b.owner as string) || rc.owner || '', created_at: now, updated_at: now,
      };
      await insertOrConflict(db.insertInto('metadef_namespaces').values(row).execute(), `The metadata definition namespace=${b.namespace} already exists.`);
      const view = nsView(row);
      try {
        if (Array.isArray(b.resource_type_associations)) {
          const a = [];
          for (const x of b.resource_type_associations as Record<string, unknown>[]) a.push(assocView(await addAssociation(ctx, row, x)));
          if (a.length) view.resource_type_associations = a;
        }
        if (Array.isArray(b.objects)) {
          const o = [];
          for (const x of b.objects as Record<string, unknown>[]) o.push(objView(row.namespace, await addObject(ctx, row, x)));
          if (o.length) view.objects = o;
        }
        if (b.properties && typeof b.properties === 'object') {
          const p: Record<string, unknown> = {};
          for (const [k, v] of Object.entries(b.properties as Record<string, Record<string, unknown>>)) {
            p[k] = parseJson((await addProperty(ctx, row, k, v)).json_schema, {});
          }
          if (Object.keys(p).length) view.properties = p;
        }
        if (Array.isArray(b.tags)) {
          const t = [];
          for (const x of b.tags as Array<{ name: string }>) t.push({ name: (await addTag(ctx, row, String(x.name))).name });
          if (t.length) view.tags = t;
        }
      } catch (e) {
        await db.deleteFrom('metadef_namespaces').where('id', '=', row.id).execute();
        throw e;
      }
      reply.code(201);
      return view;
    },
  });

  resource(app, '/v2/metadefs/namespaces/:namespace', {
    GET: [async (req: Req) => {
      const rc = requestContext(ctx, req);
      const r = await nsRow(ctx, rc, req.params.namespace);
      const v = nsView(r);
      const objs = await db.selectFrom('metadef_objects').selectAll().where('namespace_id', '=', r.id).orderBy('created_at').execute();
      if (objs.length) v.objects = objs.map((o: Row) => objView(r.namespace, o));
      const a = await assocs(ctx, r.id);
      if (a.length) v.resource_type_associations = a.map(assocView);
      const props = await db.selectFrom('metadef_properties').selectAll().where('namespace_id', '=', r.id).orderBy('name').execute();
      if (props.length) {
        const rt = new Map(queryPairs(req)).get('resource_type');
        const prefix = rt ? (a.find((x) => x.name === rt)?.prefix ?? '') : '';
        v.properties = Object.fromEntries(props.map((p: Row) => [prefix + p.name, parseJson(p.json_schema, {})]));
      }
      const tags = await db.selectFrom('metadef_tags').selectAll().where('namespace_id', '=', r.id).orderBy('created_at').execute();
      if (tags.length) v.tags = tags.map((t: Row) => ({ name: t.name }));
      return v;
    }, { bodyReject: true }],
    PUT: async (req: Req) => {
      const rc = requestContext(ctx, req);
      const name = req.params.namespace;
      const r = await nsRow(ctx, rc, name, `Namespace ${name} not found`);
      nsPolicy(ctx, rc, r).enforce('modify_metadef_namespace');
      const b = nsBody(req);
      short('namespace', b.namespace);
      short('display_name', b.display_name, false);
      const vis = (b.visibility as string | undefined) || 'private';
      if (!['public', 'private'].includes(vis)) throw badRequest(`Invalid visibility value: ${vis}`);
      const upd = {
        namespace: b.namespace, display_name: (b.display_name as string) ?? null, description: (b.description as string) ?? null,
        visibility: vis, protected: b.protected ? 1 : 0, owner: (b.owner as string) || rc.owner || '', updated_at: nowIso(),
      };
      await insertOrConflict(db.updateTable('metadef_namespaces').set(upd).where('id', '=', r.id).execute(), `The metadata definition namespace=${b.namespace} already exists.`);
      return nsView({ ...r, ...upd });
    },
    DELETE: [async (req: Req, reply: FastifyReply) => {
      const rc = requestContext(ctx, req);
      const name = req.params.namespace;
      const r = await nsRow(ctx, rc, name, `Namespace ${name} not found`);
      nsPolicy(ctx, rc, r).enforce('delete_metadef_namespace');
      checkProtected(r);
      await db.deleteFrom('metadef_namespaces').where('id', '=', r.id).execute();
      reply.code(204);
    }, { bodyReject: true }],
  });

  // ---- objects ----
  resource(app, '/v2/metadefs/namespaces/:namespace/objects', {
    GET: async (req: Req) => {
      const rc = requestContext(ctx, req);
      const r = await nsRow(ctx, rc, req.params.namespace);
      nsPolicy(ctx, rc, r).enforce('get_metadef_objects');
      const objs = await db.selectFrom('metadef_objects').selectAll().where('namespace_id', '=', r.id).orderBy('created_at').execute();
      return { objects: objs.map((o: Row) => objView(r.namespace, o)), schema: 'v2/schemas/metadefs/objects' };
    },
    POST: async (req: Req, reply: FastifyReply) => {
      const rc = requestContext(ctx, req);
      const r = await nsRow(ctx, rc, req.params.namespace);
      nsPolicy(ctx, rc, r).enforce('add_metadef_object');
      const o = await addObject(ctx, r, nsBody(req));
      reply.code(201);
      return objView(r.namespace, o);
    },
    DELETE: async (req: Req, reply: FastifyReply) => {
      const rc = requestContext(ctx, req);
      const name = req.params.namespace;
      const r = await nsRow(ctx, rc, name, `Namespace ${name} not found`);
      nsPolicy(ctx, rc, r).enforce('delete_metadef_namespace');
      checkProtected(r);
      await db.deleteFrom('metadef_objects').where('namespace_id', '=', r.id).execute();
      reply.code(204);
    },
  });
  const objRow = async (r: Row, name: string) => {
    const o = await db.selectFrom('metadef_objects').selectAll().where('namespace_id', '=', r.id).where('name', '=', name).executeTakeFirst();
    if (!o) throw notFound(`The metadata definition object with name=${name} was not found in namespace=${r.namespace}.`);
    return o;
  };
  resource(app, '/v2/metadefs/namespaces/:namespace/objects/:name', {
    GET: [async (req: Req) => {
      const rc = requestContext(ctx, req);
      const r = await nsRow(ctx, rc, req.params.namespace);
      nsPolicy(ctx, rc, r).enforce('get_metadef_object');
      return objView(r.namespace, await objRow(r, req.params.name));
    }, { bodyReject: true }],
    PUT: async (req: Req) => {
      const rc = requestContext(ctx, req);
      const r = await nsRow(ctx, rc, req.params.namespace);
      nsPolicy(ctx, rc, r).enforce('modify_metadef_object');
      const o = await objRow(r, req.params.name);
      const b = nsBody(req);
      short('name', b.name);
      const props: Record<string, unknown> = {};
      for (const [k, v] of Object.entries((b.properties as Record<string, Record<string, unknown>>) ?? {})) props[k] = propertySchema(v, k);
      const upd = { name: b.name, description: (b.description as string) ?? null, required: b.required ? JSON.stringify(b.required) : null, json_schema: JSON.stringify(props), updated_at: nowIso() };
      await insertOrConflict(db.updateTable('metadef_objects').set(upd).where('id', '=', o.id).execute(),
        `A metadata definition object with name=${b.name} already exists in namespace=${r.namespace}.`);
      return objView(r.namespace, { ...o, ...upd });
    },
    DELETE: [async (req: Req, reply: FastifyReply) => {
      const rc = requestContext(ctx, req);
      const r = await nsRow(ctx, rc, req.params.namespace);
      nsPolicy(ctx, rc, r).enforce('delete_metadef_object');
      const o = await objRow(r, req.params.name);
      if (Number(r.protected)) throw forbidden(`Metadata definition object ${o.name} is protected and cannot be deleted.`);
      await db.deleteFrom('metadef_objects').where('id', '=', o.id).execute();
      reply.code(204);
    }, { bodyReject: true }],
  });

  // ---- properties ----
  resource(app, '/v2/metadefs/namespaces/:namespace/properties', {
    GET: async (req: Req) => {
      const rc = requestContext(ctx, req);
      const r = await nsRow(ctx, rc, req.params.namespace);
      nsPolicy(ctx, rc, r).enforce('get_metadef_properties');
      const props = await db.selectFrom('metadef_properties').selectAll().where('namespace_id', '=', r.id).orderBy('name').execute();
      return { properties: Object.fromEntries(props.map((p: Row) => [p.name, parseJson(p.json_schema, {})])) };
    },
    POST: async (req: Req, reply: FastifyReply) => {
      const rc = requestContext(ctx, req);
      const r = await nsRow(ctx, rc, req.params.namespace);
      nsPolicy(ctx, rc, r).enforce('add_metadef_property');
      const b = nsBody(req);
      const p = await addProperty(ctx, r, short('name', b.name)!, b);
      reply.code(201);
      return { name: p.name, ...parseJson(p.json_schema, {}) };
    },
    DELETE: async (req: Req, reply: FastifyReply) => {
      const rc = requestContext(ctx, req);
      const name = req.params.namespace;
      const r = await nsRow(ctx, rc, name, `Namespace ${name} not found`);
      nsPolicy(ctx, rc, r).enforce('delete_metadef_namespace');
      checkProtected(r);
      await db.deleteFrom('metadef_properties').where('namespace_id', '=', r.id).execute();
      reply.code(204);
    },
  });
  const propRow = async (r: Row, name: string) => {
    let p = await db.selectFrom('metadef_properties').selectAll().where('namespace_id', '=', r.id).where('name', '=', name).executeTakeFirst();
    if (!p) {
      // A name may carry a resource type's prefix.
      for (const a of await assocs(ctx, r.id)) {
        if (a.prefix && name.startsWith(a.prefix)) {
          p = await db.selectFrom('metadef_properties').selectAll().where('namespace_id', '=', r.id).where('name', '=', name.slice(a.prefix.length)).executeTakeFirst();
          if (p) break;
        }
      }
    }
    if (!p) throw notFound(`The metadata definition property with name=${name} was not found in namespace=${r.namespace}.`);
    return p;
  };
  resource(app, '/v2/metadefs/namespaces/:namespace/properties/:name', {
    GET: [async (req: Req) => {
      const rc = requestContext(ctx, req);
      const r = await nsRow(ctx, rc, req.params.namespace);
      nsPolicy(ctx, rc, r).enforce('get_metadef_property');
      const p = await propRow(r, req.params.name);
      return { name: p.name, ...parseJson(p.json_schema, {}) };
    }, { bodyReject: true }],
    PUT: async (req: Req) => {
      const rc = requestContext(ctx, req);
      const r = await nsRow(ctx, rc, req.params.namespace);
      nsPolicy(ctx, rc, r).enforce('modify_metadef_property');
      const p = await propRow(r, req.params.name);
      const b = nsBody(req);
      short('name', b.name);
      const schema = propertySchema(b);
      await insertOrConflict(db.updateTable('metadef_properties').set({ name: b.name, json_schema: JSON.stringify(schema), updated_at: nowIso() }).where('id', '=', p.id).execute(),
        `A metadata definition property with name=${b.name} already exists in namespace=${r.namespace}.`);
      return { name: b.name, ...schema };
    },
    DELETE: [async (req: Req, reply: FastifyReply) => {
      const rc = requestContext(ctx, req);
      const r = await nsRow(ctx, rc, req.params.namespace);
      nsPolicy(ctx, rc, r).enforce('remove_metadef_property');
      const p = await propRow(r, req.params.name);
      if (Number(r.protected)) throw forbidden(`Metadata definition property ${p.name} is protected and cannot be deleted.`);
      await db.deleteFrom('metadef_properties').where('id', '=', p.id).execute();
      reply.code(204);
    }, { bodyReject: true }],
  });

  // ---- tags ----
  resource(app, '/v2/metadefs/namespaces/:namespace/tags', {
    GET: async (req: Req) => {
      const rc = requestContext(ctx, req);
      const r = await nsRow(ctx, rc, req.params.namespace);
      nsPolicy(ctx, rc, r).enforce('get_metadef_tags');
      const tags = await db.selectFrom('metadef_tags').selectAll().where('namespace_id', '=', r.id).orderBy('created_at').orderBy('name').execute();
      return { tags: tags.map(tagView) };
    },
    POST: async (req: Req, reply: FastifyReply) => {
      const rc = requestContext(ctx, req);
      const r = await nsRow(ctx, rc, req.params.namespace);
      nsPolicy(ctx, rc, r).enforce('add_metadef_tags');
      const b = nsBody(req);
      if (!Array.isArray(b.tags)) throw badRequest("'tags' is a required property");
      const names = (b.tags as Array<{ name?: unknown }>).map((t) => {
        if (typeof t?.name !== 'string' || !t.name) throw badRequest("'name' is a required property");
        return t.name;
      });
      const lower = names.map((n) => n.toLowerCase());
      if (new Set(lower).size !== lower.length) throw conflict(`A metadata tag with name=${names.find((n, i) => lower.indexOf(n.toLowerCase()) !== i)} already exists in namespace=${r.namespace}. (Please note that metadata tag names are case insensitive).`);
      const append = String(req.headers['x-openstack-append'] ?? '').toLowerCase();
      if (!['true', '1', 'yes', 'on', 'y', 't'].includes(append)) await db.deleteFrom('metadef_tags').where('namespace_id', '=', r.id).execute();
      const out = [];
      for (const n of names) out.push(tagView(await addTag(ctx, r, n)));
      reply.code(201);
      return { tags: out };
    },
    DELETE: async (req: Req, reply: FastifyReply) => {
      const rc = requestContext(ctx, req);
      const name = req.params.namespace;
      const r = await nsRow(ctx, rc, name, `Namespace ${name} not found`);
      const pol = nsPolicy(ctx, rc, r);
      pol.enforce('delete_metadef_namespace');
      pol.enforce('delete_metadef_tags');
      checkProtected(r);
      await db.deleteFrom('metadef_tags').where('namespace_id', '=', r.id).execute();
      reply.code(204);
    },
  });
  const tagRow = async (r: Row, name: string) => {
    const t = await db.selectFrom('metadef_tags').selectAll().where('namespace_id', '=', r.id).where('name', '=', name).executeTakeFirst();
    if (!t) throw notFound(`The metadata definition tag with name=${name} was not found in namespace=${r.namespace}.`);
    return t;
  };
  resource(app, '/v2/metadefs/namespaces/:namespace/tags/:name', {
    GET: [async (req: Req) => {
      const rc = requestContext(ctx, req);
      const r = await nsRow(ctx, rc, req.params.namespace);
      nsPolicy(ctx, rc, r).enforce('get_metadef_tag');
      return tagView(await tagRow(r, req.params.name));
    }, { bodyReject: true }],
    POST: [async (req: Req, reply: FastifyReply) => {
      const rc = requestContext(ctx, req);
      const r = await nsRow(ctx, rc, req.params.namespace);
      nsPolicy(ctx, rc, r).enforce('add_metadef_tag');
      const t = await addTag(ctx, r, req.params.name);
      reply.code(201);
      return tagView(t);
    }, { bodyReject: true }],
    PUT: async (req: Req) => {
      const rc = requestContext(ctx, req);
      const r = await nsRow(ctx, rc, req.params.namespace);
      nsPolicy(ctx, rc, r).enforce('modify_metadef_tag');
      const t = await tagRow(r, req.params.name);
      const b = nsBody(req);
      short('name', b.name);
      const upd = { name: b.name, updated_at: nowIso() };
      await insertOrConflict(db.updateTable('metadef_tags').set(upd).where('id', '=', t.id).execute(),
        `A metadata tag with name=${b.name} already exists in namespace=${r.namespace}. (Please note that metadata tag names are case insensitive).`);
      return tagView({ ...t, ...upd });
    },
    DELETE: [async (req: Req, reply: FastifyReply) => {
      const rc = requestContext(ctx, req);
      const r = await nsRow(ctx, rc, req.params.namespace);
      nsPolicy(ctx, rc, r).enforce('delete_metadef_tag');
      const t = await tagRow(r, req.params.name);
      if (Number(r.protected)) throw forbidden(`Metadata definition tag ${t.name} is protected and cannot be deleted.`);
      await db.deleteFrom('metadef_tags').where('id', '=', t.id).execute();
      reply.code(204);
    }, { bodyReject: true }],
  });

  // ---- resource type associations ----
  resource(app, '/v2/metadefs/namespaces/:namespace/resource_types', {
    GET: [async (req: Req) => {
      const rc = requestContext(ctx, req);
      const r = await nsRow(ctx, rc, req.params.namespace);
      nsPolicy(ctx, rc, r).enforce('get_metadef_resource_type');
      return { resource_type_associations: (await assocs(ctx, r.id)).map(assocView) };
    }, { bodyReject: true }],
    POST: async (req: Req, reply: FastifyReply) => {
      const rc = requestContext(ctx, req);
      const r = await nsRow(ctx, rc, req.params.namespace);
      nsPolicy(ctx, rc, r).enforce('add_metadef_resource_type_association');
      const a = await addAssociation(ctx, r, nsBody(req));
      reply.code(201);
      return assocView(a);
    },
  });
  resource(app, '/v2/metadefs/namespaces/:namespace/resource_types/:resource_type', {
    DELETE: [async (req: Req, reply: FastifyReply) => {
      const rc = requestContext(ctx, req);
      const r = await nsRow(ctx, rc, req.params.namespace);
      nsPolicy(ctx, rc, r).enforce('remove_metadef_resource_type_association');
      const rt = req.params.resource_type;
      const a = (await assocs(ctx, r.id)).find((x) => x.name === rt);
      if (!a) throw notFound(`The metadata definition resource-type association of resource-type=${rt} to namespace=${r.namespace}, was not found.`);
      if (Number(r.protected)) throw forbidden(`Metadata definition resource-type-association ${rt} is protected and cannot be deleted.`);
      const t = await db.selectFrom('metadef_resource_types').select('id').where('name', '=', rt).executeTakeFirstOrThrow();
      await db.deleteFrom('metadef_namespace_resource_types').where('namespace_id', '=', r.id).where('resource_type_id', '=', t.id).execute();
      reply.code(204);
    }, { bodyReject: true }],
  });
}

export { explain, enforce };
