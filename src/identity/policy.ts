// Keystone's default policies (Keystone 22, Zed): every rule of keystone/common/policies, with the
// same names, check strings, scope types and deprecated rules, so that an operator's Keystone
// policy.yaml works here unchanged and, with Zed's defaults (enforce_scope=False,
// enforce_new_defaults=False), a project-scoped admin can do what Keystone lets it do.
//
// How to build what these rules read (as Keystone's RBACEnforcer does):
//
// Credentials (oslo.context's to_policy_values() plus Keystone's additions):
//   user_id, project_id, domain_id (the token's domain scope, else null), system_scope ('all' for a
//   system-scoped token, else null), roles (effective role names, implied roles included),
//   and `token`: the token body as rendered in the API ({user, project: {id, domain: {id}},
//   domain: {id}, ...}); get_domain and get_user compare `token.domain.id` /
//   `token.project.domain.id`.
//
// Target: one object holding
//   - the URL's path parameters at the top level (user_id, project_id, group_id, domain_id,
//     role_id...): `rule:owner` is "user_id:%(user_id)s";
//   - `target`: the objects the call acts on, as stored (`target.project`, `target.user`, ...), built
//     per API family as described above each group below;
//   - `target.token`: {user_id, user: {domain: {id}}} of the X-Subject-Token when there is one.
// Keystone flattens it to dotted keys ({"target.project.domain_id": ...}); the enforcer accepts that
// or the nested form. Missing keys fail the check that reads them (fail closed); a key present with
// null renders as Python's 'None', which some rules test for (None:%(target.role.domain_id)s).
//
// Keystone's admin_token (is_admin context) bypasses policy in Keystone's RBAC layer, not here:
// `is_admin:1` only matches creds.is_admin === 1, as in oslo.policy (str(True) is 'True').
//
// Keystone Zed registers no `default` rule; an operator's policy file may add one, and it then
// applies to `rule:` references to undefined names, as in oslo.policy.

import type { RuleDefault } from '../common/policy/enforcer.js';

// Base rules, referenced by the identity:* rules below (and enforced directly by Keystone as
// `admin_required` in a few places). Target keys:
// - `user_id` (top level): Keystone puts the URL's path parameters (view args: user_id, project_id,
//   group_id, domain_id, role_id, credential_id, ...) at the top level of every target, so `owner`
//   compares the caller with the user named in the path.
// - `target.token.user_id`: the user of the X-Subject-Token being validated/revoked (Keystone also
//   adds `target.token.user.domain.id`). Added to every target when the request has X-Subject-Token.
const baseRules: RuleDefault[] = [
  {
    name: 'admin_required',
    checkStr: 'role:admin or is_admin:1',
  },
  {
    name: 'service_role',
    checkStr: 'role:service',
  },
  {
    name: 'service_or_admin',
    checkStr: 'rule:admin_required or rule:service_role',
  },
  {
    name: 'owner',
    checkStr: 'user_id:%(user_id)s',
  },
  {
    name: 'admin_or_owner',
    checkStr: 'rule:admin_required or rule:owner',
  },
  {
    name: 'token_subject',
    checkStr: 'user_id:%(target.token.user_id)s',
  },
  {
    name: 'admin_or_token_subject',
    checkStr: 'rule:admin_required or rule:token_subject',
  },
  {
    name: 'service_admin_or_token_subject',
    checkStr: 'rule:service_or_admin or rule:token_subject',
  },
];

// Access rules of application credentials: /v3/users/{user_id}/access_rules[/{access_rule_id}].
// Target: `target.user` = the user named in the path (`target.user.id`).
const accessRules: RuleDefault[] = [
  {
    name: 'identity:get_access_rule',
    checkStr: '(role:reader and system_scope:all) or user_id:%(target.user.id)s',
    scopeTypes: ['system', 'project'],
    description: 'Show access rule details.',
  },
  {
    name: 'identity:list_access_rules',
    checkStr: '(role:reader and system_scope:all) or user_id:%(target.user.id)s',
    scopeTypes: ['system', 'project'],
    description: 'List access rules for a user.',
  },
  {
    name: 'identity:delete_access_rule',
    checkStr: '(role:admin and system_scope:all) or user_id:%(target.user.id)s',
    scopeTypes: ['system', 'project'],
    description: 'Delete an access_rule.',
  },
];

// OAuth1 access tokens (OS-OAUTH1): /v3/users/{user_id}/OS-OAUTH1/access_tokens..., and
// PUT /v3/OS-OAUTH1/authorize/{request_token_id}. No target keys (admin only); Keystone passes the
// path parameters and, for delete, `target.credential` (unused by the defaults).
const accessTokens: RuleDefault[] = [
  {
    name: 'identity:authorize_request_token',
    checkStr: 'rule:admin_required',
    scopeTypes: ['project'],
    description: 'Authorize OAUTH1 request token.',
  },
  {
    name: 'identity:get_access_token',
    checkStr: 'rule:admin_required',
    scopeTypes: ['project'],
    description: 'Get OAUTH1 access token for user by access token ID.',
  },
  {
    name: 'identity:get_access_token_role',
    checkStr: 'rule:admin_required',
    scopeTypes: ['project'],
    description: 'Get role for user OAUTH1 access token.',
  },
  {
    name: 'identity:list_access_tokens',
    checkStr: 'rule:admin_required',
    scopeTypes: ['project'],
    description: 'List OAUTH1 access tokens for user.',
  },
  {
    name: 'identity:list_access_token_roles',
    checkStr: 'rule:admin_required',
    scopeTypes: ['project'],
    description: 'List OAUTH1 access token roles.',
  },
  {
    name: 'identity:delete_access_token',
    checkStr: 'rule:admin_required',
    scopeTypes: ['project'],
    description: 'Delete OAUTH1 access token.',
  },
];

// Application credentials: /v3/users/{user_id}/application_credentials[/{id}].
// Target: top-level `user_id` (rule:owner). For list/create it is the path's user_id; for get/delete
// Keystone replaces it with the *stored* credential's user_id (never trust the path there).
const applicationCredentials: RuleDefault[] = [
  {
    name: 'identity:get_application_credential',
    checkStr: '(rule:admin_required) or (role:reader and system_scope:all) or rule:owner',
    scopeTypes: ['system', 'project'],
    description: 'Show application credential details.',
    deprecatedRule: { name: 'identity:get_application_credential', checkStr: 'rule:admin_or_owner' },
  },
  {
    name: 'identity:list_application_credentials',
    checkStr: '(rule:admin_required) or (role:reader and system_scope:all) or rule:owner',
    scopeTypes: ['system', 'project'],
    description: 'List application credentials for a user.',
    deprecatedRule: { name: 'identity:list_application_credentials', checkStr: 'rule:admin_or_owner' },
  },
  {
    name: 'identity:create_application_credential',
    checkStr: 'user_id:%(user_id)s',
    scopeTypes: ['project'],
    description: 'Create an application credential.',
  },
  {
    name: 'identity:delete_application_credential',
    checkStr: 'rule:admin_or_owner',
    scopeTypes: ['system', 'project'],
    description: 'Delete an application credential.',
    deprecatedRule: { name: 'identity:delete_application_credential', checkStr: 'rule:admin_or_owner' },
  },
];

// /v3/auth/catalog, /v3/auth/projects, /v3/auth/domains, /v3/auth/system: any valid token.
// No target keys.
const authPolicies: RuleDefault[] = [
  {
    name: 'identity:get_auth_catalog',
    checkStr: '',
    description: 'Get service catalog.',
  },
  {
    name: 'identity:get_auth_projects',
    checkStr: '',
    description: 'List all projects a user has access to via role assignments.',
  },
  {
    name: 'identity:get_auth_domains',
    checkStr: '',
    description: 'List all domains a user has access to via role assignments.',
  },
  {
    name: 'identity:get_auth_system',
    checkStr: '',
    description: 'List systems a user has access to via role assignments.',
  },
];

// OAuth1 consumers: /v3/OS-OAUTH1/consumers[/{consumer_id}]. No target keys.
const consumers: RuleDefault[] = [
  {
    name: 'identity:get_consumer',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all)',
    scopeTypes: ['system', 'project'],
    description: 'Show OAUTH1 consumer details.',
    deprecatedRule: { name: 'identity:get_consumer', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:list_consumers',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all)',
    scopeTypes: ['system', 'project'],
    description: 'List OAUTH1 consumers.',
    deprecatedRule: { name: 'identity:list_consumers', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:create_consumer',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Create OAUTH1 consumer.',
    deprecatedRule: { name: 'identity:create_consumer', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:update_consumer',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Update OAUTH1 consumer.',
    deprecatedRule: { name: 'identity:update_consumer', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:delete_consumer',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Delete OAUTH1 consumer.',
    deprecatedRule: { name: 'identity:delete_consumer', checkStr: 'rule:admin_required' },
  },
];

// Credentials: /v3/credentials[/{credential_id}].
// Target: `target.credential.user_id`: the stored credential (get/update/delete); the request body's
// credential (create); for list, {credential: {user_id: <caller>}} unless the token is system-scoped
// (Keystone then re-checks identity:get_credential on each item to filter the list).
const credentials: RuleDefault[] = [
  {
    name: 'identity:get_credential',
    checkStr: '(rule:admin_required) or (role:reader and system_scope:all) or user_id:%(target.credential.user_id)s',
    scopeTypes: ['system', 'project'],
    description: 'Show credentials details.',
    deprecatedRule: { name: 'identity:get_credential', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:list_credentials',
    checkStr: '(rule:admin_required) or (role:reader and system_scope:all) or user_id:%(target.credential.user_id)s',
    scopeTypes: ['system', 'project'],
    description: 'List credentials.',
    deprecatedRule: { name: 'identity:list_credentials', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:create_credential',
    checkStr: '(rule:admin_required) or user_id:%(target.credential.user_id)s',
    scopeTypes: ['system', 'project'],
    description: 'Create credential.',
    deprecatedRule: { name: 'identity:create_credential', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:update_credential',
    checkStr: '(rule:admin_required) or user_id:%(target.credential.user_id)s',
    scopeTypes: ['system', 'project'],
    description: 'Update credential.',
    deprecatedRule: { name: 'identity:update_credential', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:delete_credential',
    checkStr: '(rule:admin_required) or user_id:%(target.credential.user_id)s',
    scopeTypes: ['system', 'project'],
    description: 'Delete credential.',
    deprecatedRule: { name: 'identity:delete_credential', checkStr: 'rule:admin_required' },
  },
];

// Domains: /v3/domains[/{domain_id}]. Target: `target.domain.id` (the domain in the path).
// get_domain also reads the caller's *creds*: `token.domain.id` and `token.project.domain.id`, so the
// credentials must carry `token` = the rendered token body ({domain: {id}, project: {domain: {id}}}).
const domains: RuleDefault[] = [
  {
    name: 'identity:get_domain',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all) or token.domain.id:%(target.domain.id)s or' +
      ' token.project.domain.id:%(target.domain.id)s',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'Show domain details.',
    deprecatedRule: {
      name: 'identity:get_domain',
      checkStr: 'rule:admin_required or token.project.domain.id:%(target.domain.id)s',
    },
  },
  {
    name: 'identity:list_domains',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all)',
    scopeTypes: ['system', 'project'],
    description: 'List domains.',
    deprecatedRule: { name: 'identity:list_domains', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:create_domain',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Create domain.',
    deprecatedRule: { name: 'identity:create_domain', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:update_domain',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Update domain.',
    deprecatedRule: { name: 'identity:update_domain', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:delete_domain',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Delete domain.',
    deprecatedRule: { name: 'identity:delete_domain', checkStr: 'rule:admin_required' },
  },
];

// Domain-specific configuration: /v3/domains/{domain_id}/config..., /v3/domains/config/default.
// No target keys.
const domainConfigs: RuleDefault[] = [
  {
    name: 'identity:create_domain_config',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Create domain configuration.',
    deprecatedRule: { name: 'identity:create_domain_config', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:get_domain_config',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all)',
    scopeTypes: ['system', 'project'],
    description: 'Get the entire domain configuration for a domain, an option group within a domain, or a ' +
      'specific configuration option within a group for a domain.',
    deprecatedRule: { name: 'identity:get_domain_config', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:get_security_compliance_domain_config',
    checkStr: '',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'Get security compliance domain configuration for either a domain or a specific option in a' +
      ' domain.',
  },
  {
    name: 'identity:update_domain_config',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Update domain configuration for either a domain, specific group or a specific option in a ' +
      'group.',
    deprecatedRule: { name: 'identity:update_domain_config', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:delete_domain_config',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Delete domain configuration for either a domain, specific group or a specific option in a ' +
      'group.',
    deprecatedRule: { name: 'identity:delete_domain_config', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:get_domain_config_default',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all)',
    scopeTypes: ['system', 'project'],
    description: 'Get domain configuration default for either a domain, specific group or a specific option ' +
      'in a group.',
    deprecatedRule: { name: 'identity:get_domain_config_default', checkStr: 'rule:admin_required' },
  },
];

// EC2 credentials: /v3/users/{user_id}/credentials/OS-EC2[/{credential_id}].
// Target: `target.credential.user_id`: for create {credential: {user_id: <path user_id>}}; for
// get/delete the stored credential (looked up by the hashed access key). ec2_list_credentials gets no
// `target.credential`, so non-admins pass only via the deprecated `rule:admin_or_owner` (top-level
// `user_id` = path user) while enforceNewDefaults is false, exactly as in Keystone.
const ec2Credentials: RuleDefault[] = [
  {
    name: 'identity:ec2_get_credential',
    checkStr: '(rule:admin_required) or (role:reader and system_scope:all) or user_id:%(target.credential.user_id)s',
    scopeTypes: ['system', 'project'],
    description: 'Show ec2 credential details.',
    deprecatedRule: {
      name: 'identity:ec2_get_credential',
      checkStr: 'rule:admin_required or (rule:owner and user_id:%(target.credential.user_id)s)',
    },
  },
  {
    name: 'identity:ec2_list_credentials',
    checkStr: '(rule:admin_required) or (role:member and user_id:%(target.credential.user_id)s)',
    scopeTypes: ['system', 'project'],
    description: 'List ec2 credentials.',
    deprecatedRule: { name: 'identity:ec2_list_credentials', checkStr: 'rule:admin_or_owner' },
  },
  {
    name: 'identity:ec2_create_credential',
    checkStr: '(rule:admin_required) or (role:member and user_id:%(target.credential.user_id)s)',
    scopeTypes: ['system', 'project'],
    description: 'Create ec2 credential.',
    deprecatedRule: { name: 'identity:ec2_create_credential', checkStr: 'rule:admin_or_owner' },
  },
  {
    name: 'identity:ec2_delete_credential',
    checkStr: '(rule:admin_required) or user_id:%(target.credential.user_id)s',
    scopeTypes: ['system', 'project'],
    description: 'Delete ec2 credential.',
    deprecatedRule: {
      name: 'identity:ec2_delete_credential',
      checkStr: 'rule:admin_required or (rule:owner and user_id:%(target.credential.user_id)s)',
    },
  },
];

// POST /v3/ec2tokens (EC2 signature validation by a service). No target keys.
const ec2TokenPolicies: RuleDefault[] = [
  {
    name: 'identity:ec2tokens_validate',
    checkStr: 'rule:service_or_admin',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'Validate EC2 credentials and create a Keystone token. Restricted to service users or ' +
      'administrators.',
  },
];

// Endpoints: /v3/endpoints[/{endpoint_id}]. No target keys.
const endpoints: RuleDefault[] = [
  {
    name: 'identity:get_endpoint',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all)',
    scopeTypes: ['system', 'project'],
    description: 'Show endpoint details.',
    deprecatedRule: { name: 'identity:get_endpoint', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:list_endpoints',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all)',
    scopeTypes: ['system', 'project'],
    description: 'List endpoints.',
    deprecatedRule: { name: 'identity:list_endpoints', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:create_endpoint',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Create endpoint.',
    deprecatedRule: { name: 'identity:create_endpoint', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:update_endpoint',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Update endpoint.',
    deprecatedRule: { name: 'identity:update_endpoint', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:delete_endpoint',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Delete endpoint.',
    deprecatedRule: { name: 'identity:delete_endpoint', checkStr: 'rule:admin_required' },
  },
];

// Endpoint groups (OS-EP-FILTER): /v3/OS-EP-FILTER/endpoint_groups..., and their project
// associations. No target keys.
const endpointGroups: RuleDefault[] = [
  {
    name: 'identity:create_endpoint_group',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Create endpoint group.',
    deprecatedRule: { name: 'identity:create_endpoint_group', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:list_endpoint_groups',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all)',
    scopeTypes: ['system', 'project'],
    description: 'List endpoint groups.',
    deprecatedRule: { name: 'identity:list_endpoint_groups', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:get_endpoint_group',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all)',
    scopeTypes: ['system', 'project'],
    description: 'Get endpoint group.',
    deprecatedRule: { name: 'identity:get_endpoint_group', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:update_endpoint_group',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Update endpoint group.',
    deprecatedRule: { name: 'identity:update_endpoint_group', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:delete_endpoint_group',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Delete endpoint group.',
    deprecatedRule: { name: 'identity:delete_endpoint_group', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:list_projects_associated_with_endpoint_group',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all)',
    scopeTypes: ['system', 'project'],
    description: 'List all projects associated with a specific endpoint group.',
    deprecatedRule: {
      name: 'identity:list_projects_associated_with_endpoint_group',
      checkStr: 'rule:admin_required',
    },
  },
  {
    name: 'identity:list_endpoints_associated_with_endpoint_group',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all)',
    scopeTypes: ['system', 'project'],
    description: 'List all endpoints associated with an endpoint group.',
    deprecatedRule: {
      name: 'identity:list_endpoints_associated_with_endpoint_group',
      checkStr: 'rule:admin_required',
    },
  },
  {
    name: 'identity:get_endpoint_group_in_project',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all)',
    scopeTypes: ['system', 'project'],
    description: 'Check if an endpoint group is associated with a project.',
    deprecatedRule: { name: 'identity:get_endpoint_group_in_project', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:list_endpoint_groups_for_project',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all)',
    scopeTypes: ['system', 'project'],
    description: 'List endpoint groups associated with a specific project.',
    deprecatedRule: { name: 'identity:list_endpoint_groups_for_project', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:add_endpoint_group_to_project',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Allow a project to access an endpoint group.',
    deprecatedRule: { name: 'identity:add_endpoint_group_to_project', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:remove_endpoint_group_from_project',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Remove endpoint group from project.',
    deprecatedRule: { name: 'identity:remove_endpoint_group_from_project', checkStr: 'rule:admin_required' },
  },
];

// Role grants: /v3/{projects|domains}/{id}/{users|groups}/{id}/roles[/{role_id}] (and the
// OS-INHERIT and /v3/system/... variants). Target (each the stored object, as Keystone loads them):
// - `target.user.domain_id` or `target.group.domain_id`: the actor;
// - `target.project.domain_id` or `target.domain.id`: the project or domain granted on;
// - `target.role.domain_id`: the role. Global roles have domain_id null; the key must still be
//   present (null) so that `None:%(target.role.domain_id)s` matches, as in Keystone.
// System grants use no target keys.
const grants: RuleDefault[] = [
  {
    name: 'identity:check_grant',
    checkStr: '(rule:admin_required) or ((role:reader and system_scope:all) or ((role:reader and ' +
      'domain_id:%(target.user.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:reader and ' +
      'domain_id:%(target.user.domain_id)s and domain_id:%(target.domain.id)s) or (role:reader and ' +
      'domain_id:%(target.group.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:reader and' +
      ' domain_id:%(target.group.domain_id)s and domain_id:%(target.domain.id)s)) and ' +
      '(domain_id:%(target.role.domain_id)s or None:%(target.role.domain_id)s))',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'Check a role grant between a target and an actor. A target can be either a domain or a ' +
      'project. An actor can be either a user or a group. These terms also apply to the ' +
      'OS-INHERIT APIs, where grants on the target are inherited to all projects in the subtree, ' +
      'if applicable.',
    deprecatedRule: { name: 'identity:check_grant', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:list_grants',
    checkStr: '(rule:admin_required) or ((role:reader and system_scope:all) or (role:reader and ' +
      'domain_id:%(target.user.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:reader and ' +
      'domain_id:%(target.user.domain_id)s and domain_id:%(target.domain.id)s) or (role:reader and ' +
      'domain_id:%(target.group.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:reader and' +
      ' domain_id:%(target.group.domain_id)s and domain_id:%(target.domain.id)s))',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'List roles granted to an actor on a target. A target can be either a domain or a project. ' +
      'An actor can be either a user or a group. For the OS-INHERIT APIs, it is possible to list ' +
      'inherited role grants for actors on domains, where grants are inherited to all projects in' +
      ' the specified domain.',
    deprecatedRule: { name: 'identity:list_grants', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:create_grant',
    checkStr: '(rule:admin_required) or ((role:admin and domain_id:%(target.user.domain_id)s and ' +
      'domain_id:%(target.project.domain_id)s) or (role:admin and domain_id:%(target.user.domain_id)s and ' +
      'domain_id:%(target.domain.id)s) or (role:admin and domain_id:%(target.group.domain_id)s and ' +
      'domain_id:%(target.project.domain_id)s) or (role:admin and domain_id:%(target.group.domain_id)s and ' +
      'domain_id:%(target.domain.id)s)) and (domain_id:%(target.role.domain_id)s or ' +
      'None:%(target.role.domain_id)s)',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'Create a role grant between a target and an actor. A target can be either a domain or a ' +
      'project. An actor can be either a user or a group. These terms also apply to the ' +
      'OS-INHERIT APIs, where grants on the target are inherited to all projects in the subtree, ' +
      'if applicable.',
    deprecatedRule: { name: 'identity:create_grant', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:revoke_grant',
    checkStr: '(rule:admin_required) or ((role:admin and domain_id:%(target.user.domain_id)s and ' +
      'domain_id:%(target.project.domain_id)s) or (role:admin and domain_id:%(target.user.domain_id)s and ' +
      'domain_id:%(target.domain.id)s) or (role:admin and domain_id:%(target.group.domain_id)s and ' +
      'domain_id:%(target.project.domain_id)s) or (role:admin and domain_id:%(target.group.domain_id)s and ' +
      'domain_id:%(target.domain.id)s)) and (domain_id:%(target.role.domain_id)s or ' +
      'None:%(target.role.domain_id)s)',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'Revoke a role grant between a target and an actor. A target can be either a domain or a ' +
      'project. An actor can be either a user or a group. These terms also apply to the ' +
      'OS-INHERIT APIs, where grants on the target are inherited to all projects in the subtree, ' +
      'if applicable. In that case, revoking the role grant in the target would remove the ' +
      'logical effect of inheriting it to the target\'s projects subtree.',
    deprecatedRule: { name: 'identity:revoke_grant', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:list_system_grants_for_user',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all)',
    scopeTypes: ['system', 'project'],
    description: 'List all grants a specific user has on the system.',
    deprecatedRule: { name: 'identity:list_system_grants_for_user', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:check_system_grant_for_user',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all)',
    scopeTypes: ['system', 'project'],
    description: 'Check if a user has a role on the system.',
    deprecatedRule: { name: 'identity:check_system_grant_for_user', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:create_system_grant_for_user',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Grant a user a role on the system.',
    deprecatedRule: { name: 'identity:create_system_grant_for_user', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:revoke_system_grant_for_user',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Remove a role from a user on the system.',
    deprecatedRule: { name: 'identity:revoke_system_grant_for_user', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:list_system_grants_for_group',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all)',
    scopeTypes: ['system', 'project'],
    description: 'List all grants a specific group has on the system.',
    deprecatedRule: { name: 'identity:list_system_grants_for_group', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:check_system_grant_for_group',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all)',
    scopeTypes: ['system', 'project'],
    description: 'Check if a group has a role on the system.',
    deprecatedRule: { name: 'identity:check_system_grant_for_group', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:create_system_grant_for_group',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Grant a group a role on the system.',
    deprecatedRule: { name: 'identity:create_system_grant_for_group', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:revoke_system_grant_for_group',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Remove a role from a group on the system.',
    deprecatedRule: { name: 'identity:revoke_system_grant_for_group', checkStr: 'rule:admin_required' },
  },
];

// Groups: /v3/groups[/{group_id}], /v3/groups/{group_id}/users[/{user_id}],
// /v3/users/{user_id}/groups. Target:
// - `target.group.domain_id`: the group in the path (get, list_users_in_group, check_user_in_group);
//   for list_groups with a domain-scoped token, {group: {domain_id: <token's domain>}};
//   for create, the request body's group;
// - `target.user.domain_id`: the user in the path (list_groups_for_user, check_user_in_group);
// - top-level `user_id`: the path's user_id (list_groups_for_user, "user_id:%(user_id)s").
const groups: RuleDefault[] = [
  {
    name: 'identity:get_group',
    checkStr: '(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and ' +
      'domain_id:%(target.group.domain_id)s)',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'Show group details.',
    deprecatedRule: { name: 'identity:get_group', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:list_groups',
    checkStr: '(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and ' +
      'domain_id:%(target.group.domain_id)s)',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'List groups.',
    deprecatedRule: { name: 'identity:list_groups', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:list_groups_for_user',
    checkStr: '(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and ' +
      'domain_id:%(target.user.domain_id)s) or user_id:%(user_id)s',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'List groups to which a user belongs.',
    deprecatedRule: { name: 'identity:list_groups_for_user', checkStr: 'rule:admin_or_owner' },
  },
  {
    name: 'identity:create_group',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'Create group.',
    deprecatedRule: { name: 'identity:create_group', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:update_group',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'Update group.',
    deprecatedRule: { name: 'identity:update_group', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:delete_group',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'Delete group.',
    deprecatedRule: { name: 'identity:delete_group', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:list_users_in_group',
    checkStr: '(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and ' +
      'domain_id:%(target.group.domain_id)s)',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'List members of a specific group.',
    deprecatedRule: { name: 'identity:list_users_in_group', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:remove_user_from_group',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'Remove user from group.',
    deprecatedRule: { name: 'identity:remove_user_from_group', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:check_user_in_group',
    checkStr: '(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and ' +
      'domain_id:%(target.group.domain_id)s and domain_id:%(target.user.domain_id)s)',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'Check whether a user is a member of a group.',
    deprecatedRule: { name: 'identity:check_user_in_group', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:add_user_to_group',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'Add user to group.',
    deprecatedRule: { name: 'identity:add_user_to_group', checkStr: 'rule:admin_required' },
  },
];

// Federation identity providers: /v3/OS-FEDERATION/identity_providers[/{idp_id}]. No target keys.
const identityProviders: RuleDefault[] = [
  {
    name: 'identity:create_identity_provider',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Create identity provider.',
    deprecatedRule: { name: 'identity:create_identity_provider', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:list_identity_providers',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all)',
    scopeTypes: ['system', 'project'],
    description: 'List identity providers.',
    deprecatedRule: { name: 'identity:list_identity_providers', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:get_identity_provider',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all)',
    scopeTypes: ['system', 'project'],
    description: 'Get identity provider.',
    deprecatedRule: { name: 'identity:get_identity_provider', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:update_identity_provider',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Update identity provider.',
    deprecatedRule: { name: 'identity:update_identity_provider', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:delete_identity_provider',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Delete identity provider.',
    deprecatedRule: { name: 'identity:delete_identity_provider', checkStr: 'rule:admin_required' },
  },
];

// Implied roles: /v3/roles/{prior_role_id}/implies[/{implied_role_id}], /v3/role_inferences.
// No target keys used (Keystone passes `target.prior_role` and `target.implied_role`).
const impliedRoles: RuleDefault[] = [
  {
    name: 'identity:get_implied_role',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all)',
    scopeTypes: ['system', 'project'],
    description: 'Get information about an association between two roles. When a relationship exists between' +
      ' a prior role and an implied role and the prior role is assigned to a user, the user also ' +
      'assumes the implied role.',
    deprecatedRule: { name: 'identity:get_implied_role', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:list_implied_roles',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all)',
    scopeTypes: ['system', 'project'],
    description: 'List associations between two roles. When a relationship exists between a prior role and ' +
      'an implied role and the prior role is assigned to a user, the user also assumes the ' +
      'implied role. This will return all the implied roles that would be assumed by the user who' +
      ' gets the specified prior role.',
    deprecatedRule: { name: 'identity:list_implied_roles', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:create_implied_role',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Create an association between two roles. When a relationship exists between a prior role ' +
      'and an implied role and the prior role is assigned to a user, the user also assumes the ' +
      'implied role.',
    deprecatedRule: { name: 'identity:create_implied_role', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:delete_implied_role',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Delete the association between two roles. When a relationship exists between a prior role ' +
      'and an implied role and the prior role is assigned to a user, the user also assumes the ' +
      'implied role. Removing the association will cause that effect to be eliminated.',
    deprecatedRule: { name: 'identity:delete_implied_role', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:list_role_inference_rules',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all)',
    scopeTypes: ['system', 'project'],
    description: 'List all associations between two roles in the system. When a relationship exists between ' +
      'a prior role and an implied role and the prior role is assigned to a user, the user also ' +
      'assumes the implied role.',
    deprecatedRule: { name: 'identity:list_role_inference_rules', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:check_implied_role',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all)',
    scopeTypes: ['system', 'project'],
    description: 'Check an association between two roles. When a relationship exists between a prior role ' +
      'and an implied role and the prior role is assigned to a user, the user also assumes the ' +
      'implied role.',
    deprecatedRule: { name: 'identity:check_implied_role', checkStr: 'rule:admin_required' },
  },
];

// Unified limits: /v3/limits[/{limit_id}], /v3/limits/model. Target for get_limit:
// `target.limit` = the stored limit (so `target.limit.project_id`, present and null for a domain
// limit), with `target.limit.project` = its project (`target.limit.project.domain_id`) or
// `target.limit.domain` = its domain (`target.limit.domain.id`).
const limits: RuleDefault[] = [
  {
    name: 'identity:get_limit_model',
    checkStr: '',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'Get limit enforcement model.',
  },
  {
    name: 'identity:get_limit',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all) or (domain_id:%(target.limit.domain.id)s ' +
      'or domain_id:%(target.limit.project.domain_id)s) or (project_id:%(target.limit.project_id)s and not ' +
      'None:%(target.limit.project_id)s)',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'Show limit details.',
  },
  {
    name: 'identity:list_limits',
    checkStr: '',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'List limits.',
  },
  {
    name: 'identity:create_limits',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Create limits.',
  },
  {
    name: 'identity:update_limit',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Update limit.',
  },
  {
    name: 'identity:delete_limit',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Delete limit.',
  },
];

// Federation mappings: /v3/OS-FEDERATION/mappings[/{mapping_id}]. No target keys.
const mappings: RuleDefault[] = [
  {
    name: 'identity:create_mapping',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Create a new federated mapping containing one or more sets of rules.',
    deprecatedRule: { name: 'identity:create_mapping', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:get_mapping',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all)',
    scopeTypes: ['system', 'project'],
    description: 'Get a federated mapping.',
    deprecatedRule: { name: 'identity:get_mapping', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:list_mappings',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all)',
    scopeTypes: ['system', 'project'],
    description: 'List federated mappings.',
    deprecatedRule: { name: 'identity:list_mappings', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:delete_mapping',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Delete a federated mapping.',
    deprecatedRule: { name: 'identity:delete_mapping', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:update_mapping',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Update a federated mapping.',
    deprecatedRule: { name: 'identity:update_mapping', checkStr: 'rule:admin_required' },
  },
];

// Policy blobs: /v3/policies[/{policy_id}]. No target keys.
const policyBlobs: RuleDefault[] = [
  {
    name: 'identity:get_policy',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all)',
    scopeTypes: ['system', 'project'],
    description: 'Show policy details.',
    deprecatedRule: { name: 'identity:get_policy', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:list_policies',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all)',
    scopeTypes: ['system', 'project'],
    description: 'List policies.',
    deprecatedRule: { name: 'identity:list_policies', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:create_policy',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Create policy.',
    deprecatedRule: { name: 'identity:create_policy', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:update_policy',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Update policy.',
    deprecatedRule: { name: 'identity:update_policy', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:delete_policy',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Delete policy.',
    deprecatedRule: { name: 'identity:delete_policy', checkStr: 'rule:admin_required' },
  },
];

// Policy associations (OS-ENDPOINT-POLICY): /v3/policies/{policy_id}/OS-ENDPOINT-POLICY/...,
// /v3/endpoints/{endpoint_id}/OS-ENDPOINT-POLICY/policy. No target keys.
const policyAssociations: RuleDefault[] = [
  {
    name: 'identity:create_policy_association_for_endpoint',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Associate a policy to a specific endpoint.',
    deprecatedRule: {
      name: 'identity:create_policy_association_for_endpoint',
      checkStr: 'rule:admin_required',
    },
  },
  {
    name: 'identity:check_policy_association_for_endpoint',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all)',
    scopeTypes: ['system', 'project'],
    description: 'Check policy association for endpoint.',
    deprecatedRule: {
      name: 'identity:check_policy_association_for_endpoint',
      checkStr: 'rule:admin_required',
    },
  },
  {
    name: 'identity:delete_policy_association_for_endpoint',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Delete policy association for endpoint.',
    deprecatedRule: {
      name: 'identity:delete_policy_association_for_endpoint',
      checkStr: 'rule:admin_required',
    },
  },
  {
    name: 'identity:create_policy_association_for_service',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Associate a policy to a specific service.',
    deprecatedRule: {
      name: 'identity:create_policy_association_for_service',
      checkStr: 'rule:admin_required',
    },
  },
  {
    name: 'identity:check_policy_association_for_service',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all)',
    scopeTypes: ['system', 'project'],
    description: 'Check policy association for service.',
    deprecatedRule: {
      name: 'identity:check_policy_association_for_service',
      checkStr: 'rule:admin_required',
    },
  },
  {
    name: 'identity:delete_policy_association_for_service',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Delete policy association for service.',
    deprecatedRule: {
      name: 'identity:delete_policy_association_for_service',
      checkStr: 'rule:admin_required',
    },
  },
  {
    name: 'identity:create_policy_association_for_region_and_service',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Associate a policy to a specific region and service combination.',
    deprecatedRule: {
      name: 'identity:create_policy_association_for_region_and_service',
      checkStr: 'rule:admin_required',
    },
  },
  {
    name: 'identity:check_policy_association_for_region_and_service',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all)',
    scopeTypes: ['system', 'project'],
    description: 'Check policy association for region and service.',
    deprecatedRule: {
      name: 'identity:check_policy_association_for_region_and_service',
      checkStr: 'rule:admin_required',
    },
  },
  {
    name: 'identity:delete_policy_association_for_region_and_service',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Delete policy association for region and service.',
    deprecatedRule: {
      name: 'identity:delete_policy_association_for_region_and_service',
      checkStr: 'rule:admin_required',
    },
  },
  {
    name: 'identity:get_policy_for_endpoint',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all)',
    scopeTypes: ['system', 'project'],
    description: 'Get policy for endpoint.',
    deprecatedRule: { name: 'identity:get_policy_for_endpoint', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:list_endpoints_for_policy',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all)',
    scopeTypes: ['system', 'project'],
    description: 'List endpoints for policy.',
    deprecatedRule: { name: 'identity:list_endpoints_for_policy', checkStr: 'rule:admin_required' },
  },
];

// Projects: /v3/projects[/{project_id}], /v3/projects/{project_id}/tags[/{tag}],
// /v3/users/{user_id}/projects. Target:
// - `target.project.id`, `target.project.domain_id`: the project in the path (for create: the
//   request body's project, so `target.project.domain_id` is the requested domain);
// - `target.domain_id`: list_projects only, the token's domain when the token is domain-scoped
//   (absent otherwise);
// - `target.user.id`, `target.user.domain_id`: list_user_projects, the user in the path.
const projects: RuleDefault[] = [
  {
    name: 'identity:get_project',
    checkStr: '(role:reader and system_scope:all) or (role:reader and domain_id:%(target.project.domain_id)s) or ' +
      'project_id:%(target.project.id)s',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'Show project details.',
    deprecatedRule: {
      name: 'identity:get_project',
      checkStr: 'rule:admin_required or project_id:%(target.project.id)s',
    },
  },
  {
    name: 'identity:list_projects',
    checkStr: '(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and ' +
      'domain_id:%(target.domain_id)s)',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'List projects.',
    deprecatedRule: { name: 'identity:list_projects', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:list_user_projects',
    checkStr: '(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and ' +
      'domain_id:%(target.user.domain_id)s) or user_id:%(target.user.id)s',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'List projects for user.',
    deprecatedRule: { name: 'identity:list_user_projects', checkStr: 'rule:admin_or_owner' },
  },
  {
    name: 'identity:create_project',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'Create project.',
    deprecatedRule: { name: 'identity:create_project', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:update_project',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'Update project.',
    deprecatedRule: { name: 'identity:update_project', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:delete_project',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'Delete project.',
    deprecatedRule: { name: 'identity:delete_project', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:list_project_tags',
    checkStr: '(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and ' +
      'domain_id:%(target.project.domain_id)s) or project_id:%(target.project.id)s',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'List tags for a project.',
    deprecatedRule: {
      name: 'identity:list_project_tags',
      checkStr: 'rule:admin_required or project_id:%(target.project.id)s',
    },
  },
  {
    name: 'identity:get_project_tag',
    checkStr: '(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and ' +
      'domain_id:%(target.project.domain_id)s) or project_id:%(target.project.id)s',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'Check if project contains a tag.',
    deprecatedRule: {
      name: 'identity:get_project_tag',
      checkStr: 'rule:admin_required or project_id:%(target.project.id)s',
    },
  },
  {
    name: 'identity:update_project_tags',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'Replace all tags on a project with the new set of tags.',
    deprecatedRule: { name: 'identity:update_project_tags', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:create_project_tag',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'Add a single tag to a project.',
    deprecatedRule: { name: 'identity:create_project_tag', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:delete_project_tags',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'Remove all tags from a project.',
    deprecatedRule: { name: 'identity:delete_project_tags', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:delete_project_tag',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'Delete a specified tag from project.',
    deprecatedRule: { name: 'identity:delete_project_tag', checkStr: 'rule:admin_required' },
  },
];

// Project endpoint filters (OS-EP-FILTER): /v3/OS-EP-FILTER/projects/{project_id}/endpoints...,
// /v3/OS-EP-FILTER/endpoints/{endpoint_id}/projects. No target keys.
const projectEndpoints: RuleDefault[] = [
  {
    name: 'identity:list_projects_for_endpoint',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all)',
    scopeTypes: ['system', 'project'],
    description: 'List projects allowed to access an endpoint.',
    deprecatedRule: { name: 'identity:list_projects_for_endpoint', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:add_endpoint_to_project',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Allow project to access an endpoint.',
    deprecatedRule: { name: 'identity:add_endpoint_to_project', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:check_endpoint_in_project',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all)',
    scopeTypes: ['system', 'project'],
    description: 'Check if a project is allowed to access an endpoint.',
    deprecatedRule: { name: 'identity:check_endpoint_in_project', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:list_endpoints_for_project',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all)',
    scopeTypes: ['system', 'project'],
    description: 'List the endpoints a project is allowed to access.',
    deprecatedRule: { name: 'identity:list_endpoints_for_project', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:remove_endpoint_from_project',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Remove access to an endpoint from a project that has previously been given explicit ' +
      'access.',
    deprecatedRule: { name: 'identity:remove_endpoint_from_project', checkStr: 'rule:admin_required' },
  },
];

// Federation protocols: /v3/OS-FEDERATION/identity_providers/{idp_id}/protocols[/{protocol_id}].
// No target keys.
const protocols: RuleDefault[] = [
  {
    name: 'identity:create_protocol',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Create federated protocol.',
    deprecatedRule: { name: 'identity:create_protocol', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:update_protocol',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Update federated protocol.',
    deprecatedRule: { name: 'identity:update_protocol', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:get_protocol',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all)',
    scopeTypes: ['system', 'project'],
    description: 'Get federated protocol.',
    deprecatedRule: { name: 'identity:get_protocol', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:list_protocols',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all)',
    scopeTypes: ['system', 'project'],
    description: 'List federated protocols.',
    deprecatedRule: { name: 'identity:list_protocols', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:delete_protocol',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Delete federated protocol.',
    deprecatedRule: { name: 'identity:delete_protocol', checkStr: 'rule:admin_required' },
  },
];

// Regions: /v3/regions[/{region_id}]. No target keys.
const regions: RuleDefault[] = [
  {
    name: 'identity:get_region',
    checkStr: '',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'Show region details.',
  },
  {
    name: 'identity:list_regions',
    checkStr: '',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'List regions.',
  },
  {
    name: 'identity:create_region',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Create region.',
    deprecatedRule: { name: 'identity:create_region', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:update_region',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Update region.',
    deprecatedRule: { name: 'identity:update_region', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:delete_region',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Delete region.',
    deprecatedRule: { name: 'identity:delete_region', checkStr: 'rule:admin_required' },
  },
];

// Registered limits: /v3/registered_limits[/{registered_limit_id}]. No target keys.
const registeredLimits: RuleDefault[] = [
  {
    name: 'identity:get_registered_limit',
    checkStr: '',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'Show registered limit details.',
  },
  {
    name: 'identity:list_registered_limits',
    checkStr: '',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'List registered limits.',
  },
  {
    name: 'identity:create_registered_limits',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Create registered limits.',
  },
  {
    name: 'identity:update_registered_limit',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Update registered limit.',
  },
  {
    name: 'identity:delete_registered_limit',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Delete registered limit.',
  },
];

// GET /v3/OS-REVOKE/events. No target keys.
const revokeEvents: RuleDefault[] = [
  {
    name: 'identity:list_revoke_events',
    checkStr: 'rule:service_or_admin',
    scopeTypes: ['system', 'project'],
    description: 'List revocation events.',
  },
];

// Roles: /v3/roles[/{role_id}] (global roles, identity:*_role) and the same path for domain-specific
// roles (identity:*_domain_role, chosen when the role has a domain_id). Keystone passes
// `target.role` for domain roles; the defaults use no target keys.
const roles: RuleDefault[] = [
  {
    name: 'identity:get_role',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all)',
    scopeTypes: ['system', 'project'],
    description: 'Show role details.',
    deprecatedRule: { name: 'identity:get_role', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:list_roles',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all)',
    scopeTypes: ['system', 'project'],
    description: 'List roles.',
    deprecatedRule: { name: 'identity:list_roles', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:create_role',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Create role.',
    deprecatedRule: { name: 'identity:create_role', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:update_role',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Update role.',
    deprecatedRule: { name: 'identity:update_role', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:delete_role',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Delete role.',
    deprecatedRule: { name: 'identity:delete_role', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:get_domain_role',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all)',
    scopeTypes: ['system', 'project'],
    description: 'Show domain role.',
    deprecatedRule: { name: 'identity:get_domain_role', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:list_domain_roles',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all)',
    scopeTypes: ['system', 'project'],
    description: 'List domain roles.',
    deprecatedRule: { name: 'identity:list_domain_roles', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:create_domain_role',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Create domain role.',
    deprecatedRule: { name: 'identity:create_domain_role', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:update_domain_role',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Update domain role.',
    deprecatedRule: { name: 'identity:update_domain_role', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:delete_domain_role',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Delete domain role.',
    deprecatedRule: { name: 'identity:delete_domain_role', checkStr: 'rule:admin_required' },
  },
];

// GET /v3/role_assignments. Target: `target.domain_id` = the token's domain when the token is
// domain-scoped (absent otherwise); for include_subtree (list_role_assignments_for_tree),
// `target.project` = the project named by the scope.project.id query parameter.
const roleAssignments: RuleDefault[] = [
  {
    name: 'identity:list_role_assignments',
    checkStr: '(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and ' +
      'domain_id:%(target.domain_id)s and not None:%(target.domain_id)s)',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'List role assignments.',
    deprecatedRule: { name: 'identity:list_role_assignments', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:list_role_assignments_for_tree',
    checkStr: '(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and ' +
      'domain_id:%(target.domain_id)s and not None:%(target.domain_id)s)',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'List all role assignments for a given tree of hierarchical projects.',
    deprecatedRule: { name: 'identity:list_role_assignments_for_tree', checkStr: 'rule:admin_required' },
  },
];

// POST /v3/s3tokens (S3 signature validation by a service). No target keys.
const s3TokenPolicies: RuleDefault[] = [
  {
    name: 'identity:s3tokens_validate',
    checkStr: 'rule:service_or_admin',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'Validate S3 credentials and create a Keystone token. Restricted to service users or ' +
      'administrators to prevent exploitation via presigned URLs.',
  },
];

// Services: /v3/services[/{service_id}]. No target keys.
const services: RuleDefault[] = [
  {
    name: 'identity:get_service',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all)',
    scopeTypes: ['system', 'project'],
    description: 'Show service details.',
    deprecatedRule: { name: 'identity:get_service', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:list_services',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all)',
    scopeTypes: ['system', 'project'],
    description: 'List services.',
    deprecatedRule: { name: 'identity:list_services', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:create_service',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Create service.',
    deprecatedRule: { name: 'identity:create_service', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:update_service',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Update service.',
    deprecatedRule: { name: 'identity:update_service', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:delete_service',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Delete service.',
    deprecatedRule: { name: 'identity:delete_service', checkStr: 'rule:admin_required' },
  },
];

// Federation service providers: /v3/OS-FEDERATION/service_providers[/{sp_id}]. No target keys.
const serviceProviders: RuleDefault[] = [
  {
    name: 'identity:create_service_provider',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Create federated service provider.',
    deprecatedRule: { name: 'identity:create_service_provider', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:list_service_providers',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all)',
    scopeTypes: ['system', 'project'],
    description: 'List federated service providers.',
    deprecatedRule: { name: 'identity:list_service_providers', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:get_service_provider',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all)',
    scopeTypes: ['system', 'project'],
    description: 'Get federated service provider.',
    deprecatedRule: { name: 'identity:get_service_provider', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:update_service_provider',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Update federated service provider.',
    deprecatedRule: { name: 'identity:update_service_provider', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:delete_service_provider',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'project'],
    description: 'Delete federated service provider.',
    deprecatedRule: { name: 'identity:delete_service_provider', checkStr: 'rule:admin_required' },
  },
];

// GET /v3/auth/tokens/OS-PKI/revoked (deprecated for removal). No target keys.
const tokenRevocation: RuleDefault[] = [
  {
    name: 'identity:revocation_list',
    checkStr: 'rule:service_or_admin',
    scopeTypes: ['system', 'project'],
    description: 'List revoked PKI tokens.',
  },
];

// Tokens: GET/HEAD/DELETE /v3/auth/tokens with X-Subject-Token. Target: `target.token.user_id` =
// the user of the subject token (rule:token_subject), plus `target.token.user.domain.id`.
const tokens: RuleDefault[] = [
  {
    name: 'identity:check_token',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all) or rule:token_subject',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'Check a token.',
    deprecatedRule: { name: 'identity:check_token', checkStr: 'rule:admin_or_token_subject' },
  },
  {
    name: 'identity:validate_token',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all) or rule:service_role or rule:token_subject',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'Validate a token.',
    deprecatedRule: { name: 'identity:validate_token', checkStr: 'rule:service_admin_or_token_subject' },
  },
  {
    name: 'identity:revoke_token',
    checkStr: 'rule:admin_required or rule:token_subject',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'Revoke a token.',
    deprecatedRule: { name: 'identity:revoke_token', checkStr: 'rule:admin_or_token_subject' },
  },
];

// Trusts (OS-TRUST): /v3/OS-TRUST/trusts[/{trust_id}][/roles[/{role_id}]]. Target:
// `target.trust.trustor_user_id`, `target.trust.trustee_user_id`: the stored trust for
// get/delete/roles; the request body's trust for create; for list with ?trustor_user_id= or
// ?trustee_user_id=, {trust: {trustor_user_id|trustee_user_id: <query value>}}.
const trusts: RuleDefault[] = [
  {
    name: 'identity:create_trust',
    checkStr: 'user_id:%(target.trust.trustor_user_id)s',
    scopeTypes: ['project'],
    description: 'Create trust.',
  },
  {
    name: 'identity:list_trusts',
    checkStr: 'rule:admin_required or (role:reader and system_scope:all)',
    scopeTypes: ['system', 'project'],
    description: 'List trusts.',
    deprecatedRule: { name: 'identity:list_trusts', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:list_trusts_for_trustor',
    checkStr: '(rule:admin_required) or (role:reader and system_scope:all or ' +
      'user_id:%(target.trust.trustor_user_id)s)',
    scopeTypes: ['system', 'project'],
    description: 'List trusts for trustor.',
  },
  {
    name: 'identity:list_trusts_for_trustee',
    checkStr: '(rule:admin_required) or (role:reader and system_scope:all or ' +
      'user_id:%(target.trust.trustee_user_id)s)',
    scopeTypes: ['system', 'project'],
    description: 'List trusts for trustee.',
  },
  {
    name: 'identity:list_roles_for_trust',
    checkStr: '(rule:admin_required) or (role:reader and system_scope:all or ' +
      'user_id:%(target.trust.trustor_user_id)s or user_id:%(target.trust.trustee_user_id)s)',
    scopeTypes: ['system', 'project'],
    description: 'List roles delegated by a trust.',
    deprecatedRule: {
      name: 'identity:list_roles_for_trust',
      checkStr: 'user_id:%(target.trust.trustor_user_id)s or user_id:%(target.trust.trustee_user_id)s',
    },
  },
  {
    name: 'identity:get_role_for_trust',
    checkStr: '(rule:admin_required) or (role:reader and system_scope:all or ' +
      'user_id:%(target.trust.trustor_user_id)s or user_id:%(target.trust.trustee_user_id)s)',
    scopeTypes: ['system', 'project'],
    description: 'Check if trust delegates a particular role.',
    deprecatedRule: {
      name: 'identity:get_role_for_trust',
      checkStr: 'user_id:%(target.trust.trustor_user_id)s or user_id:%(target.trust.trustee_user_id)s',
    },
  },
  {
    name: 'identity:delete_trust',
    checkStr: 'rule:admin_required or user_id:%(target.trust.trustor_user_id)s',
    scopeTypes: ['system', 'project'],
    description: 'Revoke trust.',
    deprecatedRule: { name: 'identity:delete_trust', checkStr: 'user_id:%(target.trust.trustor_user_id)s' },
  },
  {
    name: 'identity:get_trust',
    checkStr: '(rule:admin_required) or (role:reader and system_scope:all or ' +
      'user_id:%(target.trust.trustor_user_id)s or user_id:%(target.trust.trustee_user_id)s)',
    scopeTypes: ['system', 'project'],
    description: 'Get trust.',
    deprecatedRule: {
      name: 'identity:get_trust',
      checkStr: 'user_id:%(target.trust.trustor_user_id)s or user_id:%(target.trust.trustee_user_id)s',
    },
  },
];

// Users: /v3/users[/{user_id}]. Target:
// - `target.user.id`, `target.user.domain_id`: the user in the path (for create: the request body's
//   user);
// - `target.domain_id`: list_users only, the token's domain when the token is domain-scoped.
// get_user also reads the caller's *creds* `token.domain.id` (see domains).
const users: RuleDefault[] = [
  {
    name: 'identity:get_user',
    checkStr: '(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and ' +
      'token.domain.id:%(target.user.domain_id)s) or user_id:%(target.user.id)s',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'Show user details.',
    deprecatedRule: { name: 'identity:get_user', checkStr: 'rule:admin_or_owner' },
  },
  {
    name: 'identity:list_users',
    checkStr: '(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and ' +
      'domain_id:%(target.domain_id)s)',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'List users.',
    deprecatedRule: { name: 'identity:list_users', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:list_projects_for_user',
    checkStr: '',
    description: 'List all projects a user has access to via role assignments.',
  },
  {
    name: 'identity:list_domains_for_user',
    checkStr: '',
    description: 'List all domains a user has access to via role assignments.',
  },
  {
    name: 'identity:create_user',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'Create a user.',
    deprecatedRule: { name: 'identity:create_user', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:update_user',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'Update a user, including administrative password resets.',
    deprecatedRule: { name: 'identity:update_user', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:delete_user',
    checkStr: 'rule:admin_required',
    scopeTypes: ['system', 'domain', 'project'],
    description: 'Delete a user.',
    deprecatedRule: { name: 'identity:delete_user', checkStr: 'rule:admin_required' },
  },
];

export const identityPolicies: RuleDefault[] = [
  ...baseRules,
  ...accessRules,
  ...accessTokens,
  ...applicationCredentials,
  ...authPolicies,
  ...consumers,
  ...credentials,
  ...domains,
  ...domainConfigs,
  ...ec2Credentials,
  ...endpoints,
  ...endpointGroups,
  ...grants,
  ...groups,
  ...identityProviders,
  ...impliedRoles,
  ...limits,
  ...mappings,
  ...policyBlobs,
  ...policyAssociations,
  ...projects,
  ...projectEndpoints,
  ...protocols,
  ...regions,
  ...registeredLimits,
  ...revokeEvents,
  ...roles,
  ...roleAssignments,
  ...s3TokenPolicies,
  ...ec2TokenPolicies,
  ...services,
  ...serviceProviders,
  ...tokenRevocation,
  ...tokens,
  ...trusts,
  ...users,
];
