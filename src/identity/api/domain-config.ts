// Domain-specific configuration: /v3/domains/{domain_id}/config[/{group}[/{option}]] and the
// defaults at /v3/domains/config[/{group}[/{option}]]/default. Only Keystone's whitelisted
// options of the identity and ldap groups may be stored, plus the sensitive ldap.password, which is
// stored but never returned. Invalid groups or options are a 403, as Keystone's InvalidDomainConfig.
// The security_compliance group reads the password rules of the default domain.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../common/errors.js';
import type { IdentityContext } from '../context.js';
import { DEFAULT_DOMAIN_ID, enforce } from '../context.js';
import type { ExtensionDeps } from '../extensions.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Row = Record<string, any>;
type Config = Record<string, Record<string, unknown>>;

/** Keystone's DomainConfigManager.whitelisted_options with Keystone's defaults for them. */
const WHITELISTED: Record<string, Record<string, unknown>> = {
  identity: { driver: 'sql', list_limit: null },
  ldap: {
    url: 'ldap://localhost', user: null, suffix: 'cn=example,cn=com', query_scope: 'one', page_size: 0,
    alias_dereferencing: 'default', debug_level: null, chase_referrals: null, user_tree_dn: null, user_filter: null,
    user_objectclass: 'inetOrgPerson', user_id_attribute: 'cn', user_name_attribute: 'sn', user_mail_attribute: 'mail',
    user_description_attribute: 'description', user_pass_attribute: 'userPassword', user_enabled_attribute: 'enabled',
    user_enabled_invert: false, user_enabled_mask: 0, user_enabled_default: 'True', user_attribute_ignore: ['default_project_id'],
    user_default_project_id_attribute: null, user_enabled_emulation: false, user_enabled_emulation_dn: null,
    user_enabled_emulation_use_group_config: false, user_additional_attribute_mapping: [], group_tree_dn: null, group_filter: null,
    group_objectclass: 'groupOfNames', group_id_attribute: 'cn', group_name_attribute: 'ou', group_members_are_ids: false,
    group_member_attribute: 'member', group_desc_attribute: 'description', group_attribute_ignore: [],
    group_additional_attribute_mapping: [], tls_cacertfile: null, tls_cacertdir: null, use_tls: false, tls_req_cert: 'demand',
    use_pool: true, pool_size: 10, pool_retry_max: 3, pool_retry_delay: 0.1, pool_connection_timeout: -1,
    pool_connection_lifetime: 600, use_auth_pool: true, auth_pool_size: 100, auth_pool_connection_lifetime: 60,
  },
};
const SENSITIVE: Record<string, string[]> = { identity: [], ldap: ['password'] };

const invalid = (reason: string) => new ApiError('Forbidden', `Invalid domain specific configuration: ${reason}.`);
const notFound = (domainId: string, what: string) => new ApiError('NotFound', `Could not find ${what} in domain configuration for domain ${domainId}.`);
const own = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

function isSensitive(group: string, option: string): boolean {
  return (SENSITIVE[group] ?? []).includes(option);
}

function assertValidGroupAndOption(group?: string, option?: string): void {
  if (!group) return;
  if (!own(WHITELISTED, group) && !own(SENSITIVE, group)) throw invalid(`Group ${group} is not supported for domain specific configurations`);
  if (option && !own(WHITELISTED[group]!, option) && !isSensitive(group, option)) {
    throw invalid(`Option ${option} in group ${group} is not supported for domain specific configurations`);
  }
}

function assertValidConfig(config: unknown): asserts config is Config {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) throw new ApiError('BadRequest', "Invalid input for field 'config': expected an object.");
  if (!Object.keys(config).length) throw invalid('No options specified');
  for (const [group, opts] of Object.entries(config as Row)) {
    if (!opts || typeof opts !== 'object' || Array.isArray(opts) || !Object.keys(opts).length) {
      throw invalid(`The value of group ${group} specified in the config should be a dictionary of options`);
    }
    for (const option of Object.keys(opts)) assertValidGroupAndOption(group, option);
  }
}

function configOf(body: unknown): unknown {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw new ApiError('BadRequest', 'The request body must be a JSON object.');
  return (body as Row).config ?? {};
}

interface OptionRow { group_name: string; option_name: string; value: string; sensitive: number }

async function options(ctx: IdentityContext, domainId: string, opts: { group?: string; option?: string; sensitive?: boolean } = {}): Promise<OptionRow[]> {
  let qb = ctx.db.selectFrom('domain_config_option').select(['group_name', 'option_name', 'value', 'sensitive']).where('domain_id', '=', domainId);
  if (opts.group) qb = qb.where('group_name', '=', opts.group);
  if (opts.option) qb = qb.where('option_name', '=', opts.option);
  if (opts.sensitive !== undefined) qb = qb.where('sensitive', '=', opts.sensitive ? 1 : 0);
  return (await qb.orderBy('group_name').orderBy('option_name').execute()) as OptionRow[];
}

function toConfig(rows: OptionRow[]): Config {
  const out: Config = {};
  for (const r of rows) (out[r.group_name] ??= {})[r.option_name] = JSON.parse(r.value);
  return out;
}

/** What GET answers: whitelisted options only, shaped by how much the path names. */
async function getConfig(ctx: IdentityContext, domainId: string, group?: string, option?: string): Promise<Row> {
  assertValidGroupAndOption(group, option);
  const rows = await options(ctx, domainId, { group, option, sensitive: false });
  if (!rows.length) throw notFound(domainId, option ? `option ${option} in group ${group}` : group ? `group ${group}` : 'any options');
  if (option) return { [option]: JSON.parse(rows[0]!.value) };
  return toConfig(rows);
}

async function writeOptions(ctx: IdentityContext, domainId: string, config: Config, replace: boolean): Promise<void> {
  await ctx.db.transaction().execute(async (trx) => {
    if (replace) await trx.deleteFrom('domain_config_option').where('domain_id', '=', domainId).execute();
    for (const [group, opts] of Object.entries(config)) {
      for (const [option, value] of Object.entries(opts)) {
        if (!replace) await trx.deleteFrom('domain_config_option').where('domain_id', '=', domainId).where('group_name', '=', group).where('option_name', '=', option).execute();
        await trx.insertInto('domain_config_option').values({
          domain_id: domainId, group_name: group, option_name: option, value: JSON.stringify(value ?? null), sensitive: isSensitive(group, option) ? 1 : 0,
        }).execute();
      }
    }
  });
}

async function requireDomain(ctx: IdentityContext, id: string): Promise<void> {
  const d = await ctx.db.selectFrom('project').select('id').where('id', '=', id).where('is_domain', '=', 1).executeTakeFirst();
  if (!d) throw new ApiError('NotFound', `Could not find domain: ${id}.`);
}

function defaults(group?: string, option?: string): Row {
  assertValidGroupAndOption(group, option);
  if (group && option) {
    if (!own(WHITELISTED[group]!, option)) throw invalid(`Reading the default for option ${option} in group ${group} is not supported`);
    return { [option]: WHITELISTED[group]![option] };
  }
  const groups = group ? [group] : Object.keys(WHITELISTED);
  return Object.fromEntries(groups.map((g) => [g, { ...WHITELISTED[g]! }]));
}

type Params = { id: string; group?: string; option?: string };

export function registerDomainConfig(app: FastifyInstance, ctx: IdentityContext): void {
  const read = async (req: FastifyRequest<{ Params: Params }>) => {
    const { id, group, option } = req.params;
    // The domain's existence is told only to callers the policy lets through.
    const exists = await ctx.db.selectFrom('project').select('id').where('id', '=', id).where('is_domain', '=', 1).executeTakeFirst();
    if (group === 'security_compliance') {
      enforce(ctx, req, 'identity:get_security_compliance_domain_config');
      if (!exists) throw new ApiError('NotFound', `Could not find domain: ${id}.`);
      if (id !== DEFAULT_DOMAIN_ID) throw invalid('Reading security compliance information for any domain other than the default domain is not allowed or supported');
      const readable: Row = {
        password_regex: ctx.cfg.identity.password_regex || null,
        password_regex_description: ctx.cfg.identity.password_regex_description || null,
      };
      if (option) {
        if (!own(readable, option)) throw invalid('Reading security compliance values other than password_regex and password_regex_description is not allowed');
        return { config: { [option]: readable[option] } };
      }
      return { config: { security_compliance: readable } };
    }
    enforce(ctx, req, 'identity:get_domain_config');
    if (!exists) throw new ApiError('NotFound', `Could not find domain: ${id}.`);
    return { config: await getConfig(ctx, id, group, option) };
  };

  const update = async (req: FastifyRequest<{ Params: Params }>) => {
    enforce(ctx, req, 'identity:update_domain_config');
    const { id, group, option } = req.params;
    await requireDomain(ctx, id);
    const body = configOf(req.body);
    const config = group && option ? { [group]: body } : body;
    assertValidConfig(config);
    assertValidGroupAndOption(group, option);
    if (group) {
      // Only the named group (and option) may be given, and it must already be set.
      const keys = Object.keys(config);
      if (keys.length !== 1 || (option && Object.keys(config[keys[0]!]!).length !== 1)) {
        throw invalid(option
          ? `Trying to update option ${option} in group ${group}, so that, and only that, option must be specified  in the config`
          : `Trying to update group ${group}, so that, and only that, group must be specified in the config`);
      }
      if (!own(config, group)) throw invalid(`request to update group ${group}, but config provided contains group ${keys[0]} instead`);
      if (option && !own(config[group]!, option)) {
        throw invalid(`Trying to update option ${option} in group ${group}, but config provided contains option ${Object.keys(config[group]!)[0]} instead`);
      }
      if (!(await options(ctx, id, { group, option })).length) throw notFound(id, option ? `option ${option} in group ${group}` : `group ${group}`);
    }
    await writeOptions(ctx, id, config, false);
    return { config: await getConfig(ctx, id) };
  };

  const remove = async (req: FastifyRequest<{ Params: Params }>, reply: FastifyReply) => {
    enforce(ctx, req, 'identity:delete_domain_config');
    const { id, group, option } = req.params;
    await requireDomain(ctx, id);
    assertValidGroupAndOption(group, option);
    if (group) {
      const current = toConfig(await options(ctx, id, { group }));
      const g = current[group];
      if (!g || !Object.keys(g).length) throw notFound(id, `group ${group}`);
      if (option && !own(g, option)) throw notFound(id, `option ${option} in group ${group}`);
    }
    let qb = ctx.db.deleteFrom('domain_config_option').where('domain_id', '=', id);
    if (group) qb = qb.where('group_name', '=', group);
    if (option) qb = qb.where('option_name', '=', option);
    await qb.execute();
    reply.code(204).send();
  };

  app.put<{ Params: Params }>('/v3/domains/:id/config', async (req, reply) => {
    enforce(ctx, req, 'identity:create_domain_config');
    const { id } = req.params;
    await requireDomain(ctx, id);
    const config = configOf(req.body);
    assertValidConfig(config);
    const had = (await options(ctx, id)).length > 0;
    await writeOptions(ctx, id, config, true);
    const rows = await options(ctx, id, { sensitive: false });
    reply.code(had ? 200 : 201);
    return { config: toConfig(rows) };
  });
  for (const path of ['/v3/domains/:id/config', '/v3/domains/:id/config/:group', '/v3/domains/:id/config/:group/:option']) {
    app.get<{ Params: Params }>(path, read);
    app.patch<{ Params: Params }>(path, update);
    app.delete<{ Params: Params }>(path, remove);
  }

  app.get('/v3/domains/config/default', async (req) => {
    enforce(ctx, req, 'identity:get_domain_config_default');
    return { config: defaults() };
  });
  app.get<{ Params: { group: string } }>('/v3/domains/config/:group/default', async (req) => {
    enforce(ctx, req, 'identity:get_domain_config_default');
    return { config: defaults(req.params.group) };
  });
  app.get<{ Params: { group: string; option: string } }>('/v3/domains/config/:group/:option/default', async (req) => {
    enforce(ctx, req, 'identity:get_domain_config_default');
    return { config: defaults(req.params.group, req.params.option) };
  });

  // A deleted domain takes its configuration with it.
  ctx.hooks.on('project.deleted', async (ids) => {
    await ctx.db.deleteFrom('domain_config_option').where('domain_id', 'in', ids).execute();
  });
}

export function domainConfigExtension({ app, ctx }: ExtensionDeps): void {
  registerDomainConfig(app, ctx);
}
