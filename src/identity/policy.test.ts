import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiError } from '../common/errors.js';
import { type Credentials, Enforcer } from '../common/policy/enforcer.js';
import type { PolicyLogger } from '../common/policy/parser.js';
import { identityPolicies } from './policy.js';

const warnings: string[] = [];
const log: PolicyLogger = { warn: (m) => warnings.push(m) };
const zed = new Enforcer(identityPolicies, { logger: log });

/** A project-scoped token on p1 (domain d1) for user u1. */
const onProject = (roles: string[], user = 'u1', project = 'p1', domain = 'd1'): Credentials => ({
  user_id: user,
  project_id: project,
  domain_id: null,
  system_scope: null,
  roles,
  token: { user: { id: user, domain: { id: domain } }, project: { id: project, domain: { id: domain } } },
});
const onDomain = (roles: string[], domain = 'd1', user = 'u2'): Credentials => ({
  user_id: user,
  project_id: null,
  domain_id: domain,
  system_scope: null,
  roles,
  token: { user: { id: user, domain: { id: domain } }, domain: { id: domain } },
});
const onSystem = (roles: string[], user = 'u3'): Credentials => ({
  user_id: user,
  project_id: null,
  domain_id: null,
  system_scope: 'all',
  roles,
  token: { user: { id: user, domain: { id: 'default' } }, system: { all: true } },
});
// Roles as Keystone expands them: admin implies member implies reader.
const ADMIN = ['admin', 'member', 'reader'];
const MEMBER = ['member', 'reader'];
const READER = ['reader'];

test("every Keystone Zed rule is registered, once, under Keystone's name, and parses cleanly", () => {
  assert.deepEqual(warnings, []);
  const names = identityPolicies.map((r) => r.name);
  assert.equal(new Set(names).size, names.length);
  assert.equal(names.length, 202);
  for (const base of [
    'admin_required',
    'service_role',
    'service_or_admin',
    'owner',
    'admin_or_owner',
    'token_subject',
    'admin_or_token_subject',
    'service_admin_or_token_subject',
  ]) {
    assert.ok(names.includes(base), base);
  }
  for (const n of names) if (!n.includes(':')) assert.ok(!n.startsWith('identity'), n);
  for (const action of [
    'identity:validate_token',
    'identity:check_token',
    'identity:revocation_list',
    'identity:revoke_token',
    'identity:get_auth_catalog',
    'identity:get_auth_projects',
    'identity:get_auth_domains',
    'identity:get_auth_system',
    'identity:ec2tokens_validate',
    'identity:s3tokens_validate',
    'identity:list_revoke_events',
    'identity:create_consumer',
    'identity:get_access_token',
    'identity:create_identity_provider',
    'identity:create_mapping',
    'identity:create_protocol',
    'identity:create_service_provider',
    'identity:create_limits',
    'identity:create_registered_limits',
    'identity:get_domain_config_default',
    'identity:get_security_compliance_domain_config',
    'identity:create_policy_association_for_endpoint',
    'identity:add_endpoint_group_to_project',
    'identity:add_endpoint_to_project',
    'identity:list_role_inference_rules',
    'identity:list_role_assignments_for_tree',
    'identity:create_system_grant_for_group',
    'identity:ec2_create_credential',
    'identity:create_application_credential',
    'identity:delete_access_rule',
    'identity:create_trust',
    'identity:list_projects_for_user',
  ]) {
    assert.ok(zed.isRegistered(action), action);
  }
});

test('a project admin can create a project; a member cannot', () => {
  const target = { target: { project: { name: 'new', domain_id: 'd1' } } };
  assert.doesNotThrow(() => zed.authorize('identity:create_project', target, onProject(ADMIN)));
  assert.throws(
    () => zed.authorize('identity:create_project', target, onProject(MEMBER)),
    (e: unknown) =>
      e instanceof ApiError &&
      e.status === 403 &&
      e.message === 'You are not authorized to perform the requested action: identity:create_project.',
  );
  // The Admin role name matches whatever its case.
  assert.equal(zed.check('identity:create_project', target, onProject(['Admin'])), true);
});

test('a reader can get its own project, not another; domain and system readers per scope', () => {
  const own = { 'target.project.id': 'p1', 'target.project.domain_id': 'd1' };
  const other = { 'target.project.id': 'p2', 'target.project.domain_id': 'd2' };
  assert.equal(zed.check('identity:get_project', own, onProject(READER)), true);
  assert.equal(zed.check('identity:get_project', other, onProject(READER)), false);
  assert.equal(zed.check('identity:get_project', other, onProject(ADMIN)), true); // Zed's deprecated rule
  assert.equal(zed.check('identity:get_project', own, onDomain(READER, 'd1')), true);
  assert.equal(zed.check('identity:get_project', other, onDomain(READER, 'd1')), false);
  assert.equal(zed.check('identity:get_project', other, onSystem(READER)), true);
  // Nested targets work the same as Keystone's flattened ones.
  assert.equal(zed.check('identity:get_project', { target: { project: { id: 'p1' } } }, onProject(READER)), true);
});

test('a user can get itself; a domain reader gets users of its domain', () => {
  const self = { target: { user: { id: 'u1', domain_id: 'd1' } } };
  const other = { target: { user: { id: 'u9', domain_id: 'd2' } } };
  assert.equal(zed.check('identity:get_user', self, onProject([])), true);
  assert.equal(zed.check('identity:get_user', other, onProject(MEMBER)), false);
  assert.equal(zed.check('identity:get_user', other, onProject(ADMIN)), true);
  assert.equal(zed.check('identity:get_user', other, onDomain(READER, 'd2')), true);
  assert.equal(zed.check('identity:get_user', other, onDomain(READER, 'd1')), false);
});

test('validate_token: a service, an admin, a system reader, or the token\'s own subject', () => {
  const target = { target: { token: { user_id: 'u7', user: { domain: { id: 'd1' } } } } };
  assert.equal(zed.check('identity:validate_token', target, onProject(['service'], 'nova')), true);
  assert.equal(zed.check('identity:validate_token', target, onProject(MEMBER, 'u7')), true);
  assert.equal(zed.check('identity:validate_token', target, onProject(MEMBER, 'u8')), false);
  assert.equal(zed.check('identity:validate_token', target, onProject(ADMIN, 'u8')), true);
  assert.equal(zed.check('identity:validate_token', target, onSystem(READER)), true);
  // HEAD (check_token) is not open to services, unlike GET (validate_token), in Keystone too.
  assert.equal(zed.check('identity:check_token', target, onProject(['service'], 'nova')), false);
  assert.equal(zed.check('identity:check_token', target, onProject(MEMBER, 'u7')), true);
  assert.equal(zed.check('identity:revoke_token', target, onProject(MEMBER, 'u7')), true);
  assert.equal(zed.check('identity:revoke_token', target, onProject(['service'], 'nova')), false);
  assert.equal(zed.check('identity:revocation_list', {}, onProject(['service'], 'nova')), true);
});

test('auth routes are open to any token', () => {
  for (const a of ['identity:get_auth_catalog', 'identity:get_auth_projects', 'identity:get_auth_domains']) {
    assert.equal(zed.check(a, {}, onProject([])), true, a);
  }
});

test("credentials: their owner, admins and system readers", () => {
  const mine = { target: { credential: { user_id: 'u1' } } };
  const theirs = { target: { credential: { user_id: 'u9' } } };
  assert.equal(zed.check('identity:get_credential', mine, onProject(MEMBER)), true);
  assert.equal(zed.check('identity:get_credential', theirs, onProject(MEMBER)), false);
  assert.equal(zed.check('identity:get_credential', theirs, onSystem(READER)), true);
  assert.equal(zed.check('identity:delete_credential', theirs, onSystem(READER)), false);
  assert.equal(zed.check('identity:ec2_create_credential', mine, onProject(MEMBER)), true);
  assert.equal(zed.check('identity:ec2_create_credential', mine, onProject(READER)), false);
  // ec2_list_credentials has no target.credential in Keystone; the deprecated admin_or_owner
  // (path user_id) is what lets the owner through.
  assert.equal(zed.check('identity:ec2_list_credentials', { user_id: 'u1' }, onProject(MEMBER)), true);
  assert.equal(zed.check('identity:ec2_list_credentials', { user_id: 'u9' }, onProject(MEMBER)), false);
});

test('application credentials: the path user (rule:owner)', () => {
  assert.equal(zed.check('identity:create_application_credential', { user_id: 'u1' }, onProject(MEMBER)), true);
  assert.equal(zed.check('identity:create_application_credential', { user_id: 'u9' }, onProject(ADMIN)), false);
  assert.equal(zed.check('identity:list_application_credentials', { user_id: 'u9' }, onProject(ADMIN)), true);
});

test('trusts: trustor and trustee', () => {
  const trust = { target: { trust: { trustor_user_id: 'u1', trustee_user_id: 'u2' } } };
  assert.equal(zed.check('identity:create_trust', trust, onProject(MEMBER, 'u1')), true);
  assert.equal(zed.check('identity:create_trust', trust, onProject(ADMIN, 'u2')), false);
  assert.equal(zed.check('identity:get_trust', trust, onProject([], 'u2')), true);
  assert.equal(zed.check('identity:get_trust', trust, onProject(MEMBER, 'u3')), false);
  assert.equal(zed.check('identity:delete_trust', trust, onProject([], 'u1')), true);
  assert.equal(zed.check('identity:delete_trust', trust, onProject([], 'u2')), false);
});

test('grants: domain readers see grants of their domain, for global and their domain roles', () => {
  const grant = (userDomain: string, projectDomain: string, roleDomain: string | null) => ({
    'target.user.domain_id': userDomain,
    'target.project.domain_id': projectDomain,
    'target.role.domain_id': roleDomain,
  });
  // Any "admin" passes rule:admin_required (Zed's lax defaults); the domain clauses matter to readers.
  assert.equal(zed.check('identity:create_grant', grant('d1', 'd1', null), onDomain(ADMIN, 'd1')), true);
  assert.equal(zed.check('identity:create_grant', grant('d1', 'd1', null), onDomain(MEMBER, 'd1')), false);
  const domainReader = onDomain(READER, 'd1');
  assert.equal(zed.check('identity:check_grant', grant('d1', 'd1', null), domainReader), true);
  assert.equal(zed.check('identity:check_grant', grant('d1', 'd1', 'd1'), domainReader), true);
  assert.equal(zed.check('identity:check_grant', grant('d1', 'd1', 'd2'), domainReader), false);
  assert.equal(zed.check('identity:check_grant', grant('d2', 'd1', null), domainReader), false);
  assert.equal(zed.check('identity:check_grant', grant('d1', 'd1', null), onProject(READER)), false);
});

test('get_domain reads the caller\'s token: its project\'s domain', () => {
  const d1 = { target: { domain: { id: 'd1' } } };
  const d2 = { target: { domain: { id: 'd2' } } };
  assert.equal(zed.check('identity:get_domain', d1, onProject(READER)), true);
  assert.equal(zed.check('identity:get_domain', d2, onProject(READER)), false);
  assert.equal(zed.check('identity:get_domain', d2, onDomain(READER, 'd2')), true);
});

test('with enforceScope, tokens of the wrong scope are refused', () => {
  const strict = new Enforcer(identityPolicies, { logger: log, enforceScope: true });
  assert.equal(zed.check('identity:list_domains', {}, onDomain(ADMIN)), true);
  assert.equal(strict.check('identity:list_domains', {}, onDomain(ADMIN)), false);
  assert.equal(strict.check('identity:list_domains', {}, onSystem(ADMIN)), true);
  assert.equal(strict.check('identity:authorize_request_token', {}, onSystem(ADMIN)), false);
  assert.equal(strict.check('identity:authorize_request_token', {}, onProject(ADMIN)), true);
  assert.throws(() => strict.authorize('identity:list_domains', {}, onDomain(ADMIN)), ApiError);
});

test('with new defaults enforced, a project admin loses what only the deprecated rules gave', () => {
  const strict = new Enforcer(identityPolicies, { logger: log, enforceNewDefaults: true });
  const other = { 'target.project.id': 'p2', 'target.project.domain_id': 'd2' };
  assert.equal(zed.check('identity:get_project', other, onProject(ADMIN)), true);
  assert.equal(strict.check('identity:get_project', other, onProject(ADMIN)), false);
  assert.equal(strict.check('identity:get_project', other, onSystem(READER)), true);
});

test("an operator's Keystone policy.yaml applies unchanged", () => {
  const dir = mkdtempSync(join(tmpdir(), 'keystone-policy-'));
  const path = join(dir, 'policy.yaml');
  writeFileSync(
    path,
    [
      '# Only admins may see projects; members may create them.',
      '"identity:get_project": "rule:admin_required"',
      '"identity:create_project": "role:member"',
      '"admin_required": "role:admin or role:cloud_admin"',
    ].join('\n'),
  );
  const e = new Enforcer(identityPolicies, { policyFile: path, logger: log });
  const own = { 'target.project.id': 'p1' };
  assert.equal(e.check('identity:get_project', own, onProject(READER)), false);
  assert.equal(e.check('identity:get_project', own, onProject(['cloud_admin'])), true);
  assert.equal(e.check('identity:create_project', {}, onProject(MEMBER)), true);
  // Base-rule overrides reach every rule that references them.
  assert.equal(e.check('identity:create_region', {}, onProject(['cloud_admin'])), true);
});

test('with no target, a project admin may do everything Keystone Zed allows it, a member only the open APIs', () => {
  // Computed with Keystone 22's rules under oslo.policy (enforce_scope and enforce_new_defaults off).
  const adminDenied = [
    'service_role',
    'owner',
    'token_subject',
    'identity:get_access_rule',
    'identity:list_access_rules',
    'identity:delete_access_rule',
    'identity:create_application_credential',
    'identity:create_trust',
  ];
  const memberAllowed = [
    'identity:get_auth_catalog',
    'identity:get_auth_projects',
    'identity:get_auth_domains',
    'identity:get_auth_system',
    'identity:get_security_compliance_domain_config',
    'identity:get_limit_model',
    'identity:list_limits',
    'identity:get_region',
    'identity:list_regions',
    'identity:get_registered_limit',
    'identity:list_registered_limits',
    'identity:list_projects_for_user',
    'identity:list_domains_for_user',
  ];
  const names = identityPolicies.map((r) => r.name);
  assert.deepEqual(
    names.filter((n) => !zed.check(n, {}, onProject(ADMIN))),
    adminDenied,
  );
  assert.deepEqual(
    names.filter((n) => zed.check(n, {}, onProject(MEMBER))),
    memberAllowed,
  );
});
