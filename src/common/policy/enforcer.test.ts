import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiError } from '../errors.js';
import {
  type Credentials,
  type EnforcerOptions,
  type RuleDefault,
  Enforcer,
  PolicyNotRegistered,
  pyStr,
  tokenScope,
} from './enforcer.js';
import type { PolicyLogger } from './parser.js';

function collector(): PolicyLogger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, warn: (m) => lines.push(m) };
}

const quiet: PolicyLogger = { warn: () => {} };

/** An enforcer with a single rule `t` (plus helpers), to check what a rule string means. */
function one(checkStr: string, extra: RuleDefault[] = [], opts: EnforcerOptions = {}): Enforcer {
  return new Enforcer([{ name: 't', checkStr }, ...extra], { logger: quiet, ...opts });
}

const project = (roles: string[], extra: Partial<Credentials> = {}): Credentials => ({
  user_id: 'u1',
  project_id: 'p1',
  domain_id: null,
  system_scope: null,
  roles,
  ...extra,
});

function tmpFile(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'policy-test-'));
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

test('precedence is honoured when evaluating', () => {
  const e = one('role:a or role:b and role:c');
  assert.equal(e.check('t', {}, project(['a'])), true);
  assert.equal(e.check('t', {}, project(['b'])), false);
  assert.equal(e.check('t', {}, project(['b', 'c'])), true);
  const p = one('(role:a or role:b) and role:c');
  assert.equal(p.check('t', {}, project(['a'])), false);
  assert.equal(p.check('t', {}, project(['a', 'c'])), true);
});

test('not inverts, @ allows, ! denies, "" allows', () => {
  assert.equal(one('not role:a').check('t', {}, project(['b'])), true);
  assert.equal(one('not role:a').check('t', {}, project(['a'])), false);
  assert.equal(one('role:a and not role:b').check('t', {}, project(['a', 'b'])), false);
  assert.equal(one('@').check('t', {}, project([])), true);
  assert.equal(one('!').check('t', {}, project(['admin'])), false);
  assert.equal(one('').check('t', {}, project([])), true);
});

test('roles match case-insensitively, also when the role comes from the target', () => {
  const e = one('role:Admin');
  assert.equal(e.check('t', {}, project(['ADMIN'])), true);
  assert.equal(e.check('t', {}, project(['admin'])), true);
  assert.equal(e.check('t', {}, project(['administrator'])), false);
  const t = one('role:%(target.role.name)s');
  assert.equal(t.check('t', { 'target.role.name': 'Member' }, project(['member'])), true);
  assert.equal(t.check('t', {}, project(['member'])), false); // missing key fails closed
});

test('rule references, the default rule, and undefined references', () => {
  const extra = [
    { name: 'admin_required', checkStr: 'role:admin' },
    { name: 'owner', checkStr: 'user_id:%(user_id)s' },
    { name: 'admin_or_owner', checkStr: 'rule:admin_required or rule:owner' },
  ];
  const e = one('rule:admin_or_owner', extra);
  assert.equal(e.check('t', { user_id: 'u1' }, project([])), true);
  assert.equal(e.check('t', { user_id: 'u2' }, project([])), false);
  assert.equal(e.check('t', { user_id: 'u2' }, project(['admin'])), true);

  const log = collector();
  const u = new Enforcer([{ name: 't', checkStr: 'rule:nope or role:x' }], { logger: log });
  assert.equal(u.check('t', {}, project(['admin'])), false);
  assert.equal(u.check('t', {}, project(['x'])), true);
  assert.match(log.lines.join('\n'), /t reference a rule that is not defined/);

  // With a `default` rule, unknown references (and unknown actions, via check) use it.
  const d = new Enforcer(
    [
      { name: 't', checkStr: 'rule:nope' },
      { name: 'default', checkStr: 'role:admin' },
    ],
    { logger: quiet },
  );
  assert.equal(d.check('t', {}, project(['admin'])), true);
  assert.equal(d.check('t', {}, project(['member'])), false);
  assert.equal(d.check('identity:unknown', {}, project(['admin'])), true);
  assert.equal(one('@').check('identity:unknown', {}, project(['admin'])), false);
});

test('rules on a reference cycle deny instead of recursing forever, and are logged', () => {
  const log = collector();
  const e = new Enforcer(
    [
      { name: 'a', checkStr: 'rule:b or role:x' },
      { name: 'b', checkStr: 'rule:a' },
      { name: 'c', checkStr: 'rule:c' },
      { name: 'd', checkStr: 'rule:a or role:y' },
    ],
    { logger: log },
  );
  assert.equal(e.check('a', {}, project(['x'])), false);
  assert.equal(e.check('b', {}, project(['x'])), false);
  assert.equal(e.check('c', {}, project(['x'])), false);
  assert.equal(e.check('d', {}, project(['x'])), false); // its reference into the cycle denies
  assert.equal(e.check('d', {}, project(['y'])), true);
  assert.match(log.lines.join('\n'), /cyclical reference/);
});

test('target substitution: flat dotted keys, nested objects, and mixtures', () => {
  const e = one('project_id:%(target.project.id)s');
  const creds = project([]);
  assert.equal(e.check('t', { 'target.project.id': 'p1' }, creds), true);
  assert.equal(e.check('t', { target: { project: { id: 'p1' } } }, creds), true);
  assert.equal(e.check('t', { target: { 'project.id': 'p1' } }, creds), true);
  assert.equal(e.check('t', { 'target.project': { id: 'p1' } }, creds), true);
  assert.equal(e.check('t', { target: { project: { id: 'p2' } } }, creds), false);
  assert.equal(e.check('t', { target: { project: {} } }, creds), false);
  assert.equal(e.check('t', {}, creds), false);
  assert.equal(e.check('t', { target: { project: { id: undefined } } }, creds), false);
  // Literal text around placeholders.
  const u = one('user_id:user-%(n)s');
  assert.equal(u.check('t', { n: 7 }, { roles: [], user_id: 'user-7' }), true);
});

test("values compare as Python's str(): None, True, numbers", () => {
  assert.equal(pyStr(null), 'None');
  assert.equal(pyStr(true), 'True');
  assert.equal(pyStr(1), '1');
  assert.equal(pyStr(1.5), '1.5');
  assert.equal(pyStr(['a', 'b']), "['a', 'b']");
  // A global role has domain_id null: "None:%(target.role.domain_id)s" matches it.
  const e = one('None:%(target.role.domain_id)s');
  assert.equal(e.check('t', { 'target.role.domain_id': null }, project([])), true);
  assert.equal(e.check('t', { 'target.role.domain_id': 'd1' }, project([])), false);
  assert.equal(e.check('t', {}, project([])), false);
  // domain_id null in creds equals a null target value, which is why Keystone adds "not None:".
  const d = one('domain_id:%(target.domain_id)s');
  assert.equal(d.check('t', { 'target.domain_id': null }, project([])), true);
  assert.equal(d.check('t', { 'target.domain_id': null }, { roles: [] }), false); // key absent
  assert.equal(one('True:%(enabled)s').check('t', { enabled: true }, project([])), true);
  assert.equal(one('True:%(enabled)s').check('t', { enabled: false }, project([])), false);
  assert.equal(one("'member':%(role.name)s").check('t', { 'role.name': 'member' }, project([])), true);
  assert.equal(one("'member':%(role.name)s").check('t', { 'role.name': 'Member' }, project([])), false);
});

test('generic checks read nested creds and match any list element', () => {
  const creds = project(['reader'], { token: { project: { domain: { id: 'd1' } } }, tags: ['a', 'b'] });
  const e = one('token.project.domain.id:%(target.domain.id)s');
  assert.equal(e.check('t', { 'target.domain.id': 'd1' }, creds), true);
  assert.equal(e.check('t', { 'target.domain.id': 'd2' }, creds), false);
  assert.equal(e.check('t', { 'target.domain.id': 'd1' }, project([])), false);
  assert.equal(one('tags:b').check('t', {}, creds), true);
  assert.equal(one('tags:c').check('t', {}, creds), false);
});

test('is_admin, system_scope and system checks', () => {
  assert.equal(one('is_admin:True').check('t', {}, project([], { is_admin: true })), true);
  assert.equal(one('is_admin:True').check('t', {}, project([], { is_admin: false })), false);
  // oslo compares str(True) == '1': false. Keystone's admin_token bypass is the caller's job.
  assert.equal(one('is_admin:1').check('t', {}, project([], { is_admin: true })), false);
  const sys = project(['reader'], { project_id: null, system_scope: 'all' });
  assert.equal(one('role:reader and system_scope:all').check('t', {}, sys), true);
  assert.equal(one('role:reader and system_scope:all').check('t', {}, project(['reader'])), false);
  assert.equal(one('system:all').check('t', {}, sys), true); // oslo aliases creds['system']
  assert.equal(tokenScope(sys), 'system');
  assert.equal(tokenScope(project([], { domain_id: 'd1', project_id: null })), 'domain');
  assert.equal(tokenScope(project([])), 'project');
});

test('a deprecated rule is OR-ed with the new one unless new defaults are enforced', () => {
  const rules: RuleDefault[] = [
    {
      name: 'identity:get_thing',
      checkStr: 'role:reader and system_scope:all',
      scopeTypes: ['system'],
      deprecatedRule: { name: 'identity:get_thing', checkStr: 'role:admin' },
    },
  ];
  const projectAdmin = project(['admin']);
  const systemReader = project(['reader'], { project_id: null, system_scope: 'all' });
  const old = new Enforcer(rules, { logger: quiet });
  assert.equal(old.check('identity:get_thing', {}, projectAdmin), true);
  assert.equal(old.check('identity:get_thing', {}, systemReader), true);
  assert.equal(old.effectiveRule('identity:get_thing'), '((role:reader and system_scope:all) or role:admin)');
  const strict = new Enforcer(rules, { logger: quiet, enforceNewDefaults: true });
  assert.equal(strict.check('identity:get_thing', {}, projectAdmin), false);
  assert.equal(strict.check('identity:get_thing', {}, systemReader), true);
});

test('scope types are enforced only with enforceScope', () => {
  const rules: RuleDefault[] = [
    { name: 'identity:sys', checkStr: 'role:admin', scopeTypes: ['system'] },
    { name: 'identity:any', checkStr: 'role:admin' },
  ];
  const projectAdmin = project(['admin']);
  const systemAdmin = project(['admin'], { project_id: null, system_scope: 'all' });
  const domainAdmin = project(['admin'], { project_id: null, domain_id: 'd1' });
  const lax = new Enforcer(rules, { logger: quiet });
  assert.equal(lax.check('identity:sys', {}, projectAdmin), true);
  const strict = new Enforcer(rules, { logger: quiet, enforceScope: true });
  assert.equal(strict.check('identity:sys', {}, projectAdmin), false);
  assert.equal(strict.check('identity:sys', {}, domainAdmin), false);
  assert.equal(strict.check('identity:sys', {}, systemAdmin), true);
  assert.equal(strict.check('identity:any', {}, projectAdmin), true); // no scope types: any token
  assert.throws(
    () => strict.authorize('identity:sys', {}, projectAdmin),
    (e: unknown) =>
      e instanceof ApiError &&
      e.status === 403 &&
      e.message === 'You are not authorized to perform the requested action: identity:sys.',
  );
});

test('authorize throws 403 with Keystone\'s message, and PolicyNotRegistered for unknown actions', () => {
  const e = one('role:admin');
  assert.doesNotThrow(() => e.authorize('t', {}, project(['admin'])));
  assert.throws(
    () => e.authorize('t', {}, project(['member'])),
    (err: unknown) =>
      err instanceof ApiError &&
      err.kind === 'Forbidden' &&
      err.message === 'You are not authorized to perform the requested action: t.',
  );
  assert.throws(() => e.authorize('identity:typo', {}, project(['admin'])), PolicyNotRegistered);
});

test('duplicate registrations are programming errors', () => {
  assert.throws(() => new Enforcer([{ name: 'a', checkStr: '' }, { name: 'a', checkStr: '' }]), /already registered/);
});

const defaults: RuleDefault[] = [
  { name: 'admin_required', checkStr: 'role:admin' },
  { name: 'identity:get_thing', checkStr: 'rule:admin_required' },
  {
    name: 'identity:list_things',
    checkStr: 'role:reader and system_scope:all',
    deprecatedRule: { name: 'identity:list_things', checkStr: 'rule:admin_required' },
  },
  {
    name: 'identity:new_name',
    checkStr: 'role:admin',
    deprecatedRule: { name: 'identity:old_name', checkStr: 'role:admin' },
  },
];

test('overrides from a YAML policy file replace and add rules', () => {
  const path = tmpFile(
    'policy.yaml',
    [
      '# operator overrides',
      '"identity:get_thing": "role:member or rule:custom"',
      'custom: role:auditor   # an operator-defined helper',
      "'identity:list_things': 'role:observer'",
      'identity:old_name: role:renamed',
      '',
    ].join('\n'),
  );
  const e = new Enforcer(defaults, { policyFile: path, logger: quiet });
  assert.equal(e.check('identity:get_thing', {}, project(['member'])), true);
  assert.equal(e.check('identity:get_thing', {}, project(['auditor'])), true);
  assert.equal(e.check('identity:get_thing', {}, project(['admin'])), false); // replaced, not OR-ed
  // An overridden rule loses its deprecated fallback.
  assert.equal(e.check('identity:list_things', {}, project(['admin'])), false);
  assert.equal(e.check('identity:list_things', {}, project(['observer'])), true);
  // An override of a renamed rule's old name still applies to the new name.
  assert.equal(e.check('identity:new_name', {}, project(['renamed'])), true);
  assert.equal(e.check('identity:new_name', {}, project(['admin'])), false);
  rmSync(path);
});

test('overrides from a JSON policy file, including the old list syntax', () => {
  const path = tmpFile(
    'policy.json',
    JSON.stringify({
      'identity:get_thing': [['role:member', 'project_id:%(target.project.id)s'], ['role:auditor']],
      default: 'role:admin',
    }),
  );
  const e = new Enforcer(defaults, { policyFile: path, logger: quiet });
  assert.equal(e.check('identity:get_thing', { 'target.project.id': 'p1' }, project(['member'])), true);
  assert.equal(e.check('identity:get_thing', { 'target.project.id': 'p2' }, project(['member'])), false);
  assert.equal(e.check('identity:get_thing', {}, project(['auditor'])), true);
  // Non-overridden defaults stay, with their deprecated fallback.
  assert.equal(e.check('identity:list_things', {}, project(['admin'])), true);
  rmSync(path);
});

test('reload re-reads the file; a broken file keeps the rules in force', () => {
  const path = tmpFile('policy.yaml', '"identity:get_thing": "role:member"\n');
  const e = new Enforcer(defaults, { policyFile: path, logger: quiet });
  assert.equal(e.check('identity:get_thing', {}, project(['member'])), true);
  writeFileSync(path, '"identity:get_thing": "role:auditor"\n');
  e.reload();
  assert.equal(e.check('identity:get_thing', {}, project(['member'])), false);
  assert.equal(e.check('identity:get_thing', {}, project(['auditor'])), true);
  writeFileSync(path, '"identity:get_thing": !\n');
  assert.throws(() => e.reload(), /Invalid policy file .*line 1/);
  assert.equal(e.check('identity:get_thing', {}, project(['auditor'])), true);
  rmSync(path);
  e.reload(); // a missing file means no overrides, as in oslo
  assert.equal(e.check('identity:get_thing', {}, project(['admin'])), true);
  assert.equal(e.check('identity:get_thing', {}, project(['auditor'])), false);
});

test('a missing policy file at start is not an error', () => {
  const e = new Enforcer(defaults, { policyFile: join(tmpdir(), 'no-such-dir-xyz', 'policy.yaml'), logger: quiet });
  assert.equal(e.check('identity:get_thing', {}, project(['admin'])), true);
});
