import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  type Check,
  type PolicyLogger,
  checkToString,
  compileTemplate,
  literalOf,
  parseCheck,
  parseListRule,
  parseRule,
  parseTextRule,
} from './parser.js';

function collector(): PolicyLogger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, warn: (m) => lines.push(m) };
}

/** Parse and print in oslo's canonical form, failing the test on any logged problem. */
function shape(rule: string): string {
  const log = collector();
  const s = checkToString(parseTextRule(rule, log));
  assert.deepEqual(log.lines, [], `unexpected warnings for ${rule}`);
  return s;
}

test('and binds tighter than or, in any position', () => {
  assert.equal(shape('role:a or role:b and role:c'), '(role:a or (role:b and role:c))');
  assert.equal(shape('role:a and role:b or role:c'), '((role:a and role:b) or role:c)');
  assert.equal(shape('role:a or role:b and role:c or role:d'), '(role:a or (role:b and role:c) or role:d)');
  assert.equal(shape('role:a or role:b and role:c and role:d'), '(role:a or (role:b and role:c and role:d))');
  assert.equal(shape('role:a and role:b and role:c'), '(role:a and role:b and role:c)');
  assert.equal(shape('role:a or role:b or role:c'), '(role:a or role:b or role:c)');
});

test('parentheses override precedence and may touch the checks', () => {
  assert.equal(shape('(role:a or role:b) and role:c'), '((role:a or role:b) and role:c)');
  assert.equal(shape('((role:a))'), 'role:a');
  assert.equal(shape('(role:a or (role:b and role:c)) and role:d'), '((role:a or (role:b and role:c)) and role:d)');
  // A check's own %(key)s keeps its parentheses; only leading "(" and trailing ")" are peeled off.
  assert.equal(
    shape('(user_id:%(target.user.id)s or role:admin)'),
    '(user_id:%(target.user.id)s or role:admin)',
  );
});

test('not binds to the next check only', () => {
  assert.equal(shape('not role:a and role:b'), '(not role:a and role:b)');
  assert.equal(shape('role:a and not role:b or role:c'), '((role:a and not role:b) or role:c)');
  assert.equal(shape('not (role:a or role:b)'), 'not (role:a or role:b)');
  assert.equal(shape('not not role:a'), 'not not role:a');
});

test('operators are case-insensitive', () => {
  assert.equal(shape('role:a AND role:b Or NOT role:c'), '((role:a and role:b) or not role:c)');
});

test('special checks and empty rules', () => {
  assert.deepEqual(parseTextRule(''), { type: 'true' });
  assert.equal(shape('@'), '@');
  assert.equal(shape('!'), '!');
  assert.equal(shape('@ and !'), '(@ and !)');
});

test('unparseable rules fail closed and are logged, as in oslo', () => {
  for (const bad of ['role:a or', 'and', '(role:a', 'role:a)', "'quoted'", 'role:a role:b', '   ']) {
    const log = collector();
    assert.deepEqual(parseTextRule(bad, log), { type: 'false' }, bad);
    assert.equal(log.lines.length, 1, bad);
    assert.match(log.lines[0]!, /Failed to understand rule/);
  }
  // A token without a colon is one failed check, not a failed rule.
  const log = collector();
  assert.equal(checkToString(parseTextRule('role:a or foo', log)), '(role:a or !)');
  assert.equal(log.lines.length, 1);
});

test('check kinds', () => {
  const rule = parseCheck('rule:admin_required');
  assert.deepEqual(rule, { type: 'rule', kind: 'rule', match: 'admin_required' });
  const role = parseCheck('role:compute:admin') as Extract<Check, { type: 'role' }>;
  assert.equal(role.type, 'role');
  assert.equal(role.match, 'compute:admin'); // split on the first colon only
  const g = parseCheck('token.project.domain.id:%(target.domain.id)s') as Extract<Check, { type: 'generic' }>;
  assert.equal(g.type, 'generic');
  assert.deepEqual(g.path, ['token', 'project', 'domain', 'id']);
  assert.equal(g.literal, undefined);
  assert.deepEqual(g.template.parts, [{ key: 'target.domain.id', segments: ['target', 'domain', 'id'] }]);
  const lit = parseCheck("'member':%(role.name)s") as Extract<Check, { type: 'generic' }>;
  assert.equal(lit.literal, 'member');
});

test('http checks never grant and are reported once, at parse time', () => {
  const log = collector();
  const c = parseTextRule('http://example.com/check or role:admin', log);
  assert.equal(checkToString(c), '(http://example.com/check or role:admin)');
  assert.equal(log.lines.length, 1);
  assert.match(log.lines[0]!, /not supported/);
});

test('Python literals on the left of a generic check', () => {
  assert.equal(literalOf("'member'"), 'member');
  assert.equal(literalOf('"member"'), 'member');
  assert.equal(literalOf('True'), 'True');
  assert.equal(literalOf('False'), 'False');
  assert.equal(literalOf('None'), 'None');
  assert.equal(literalOf('1'), '1');
  assert.equal(literalOf('-7'), '-7');
  assert.equal(literalOf('0x10'), '16');
  assert.equal(literalOf('1.5'), '1.5');
  assert.equal(literalOf('2.'), '2.0');
  assert.equal(literalOf('is_admin'), undefined);
  assert.equal(literalOf('token.user.id'), undefined);
  assert.equal(literalOf('true'), undefined); // Python literals are case-sensitive
});

test('%-templates: placeholders, %% and unsupported formats', () => {
  const t = compileTemplate('u-%(user.id)s-%%');
  assert.ok(typeof t !== 'string');
  assert.deepEqual(t.parts, ['u-', { key: 'user.id', segments: ['user', 'id'] }, '-%']);
  assert.equal(t.constant, undefined);
  const c = compileTemplate('admin');
  assert.ok(typeof c !== 'string');
  assert.equal(c.constant, 'admin');
  assert.equal(typeof compileTemplate('%(x)d'), 'string');
  assert.equal(typeof compileTemplate('50%'), 'string');
  assert.equal(typeof compileTemplate('%(x'), 'string');
  // A rule using an unsupported format parses but never grants.
  const log = collector();
  assert.deepEqual(parseCheck('project_id:%(x)d', log), { type: 'unsupported', kind: 'project_id', match: '%(x)d' });
  assert.equal(log.lines.length, 1);
});

test('the old list-of-lists syntax: outer or, inner and', () => {
  assert.equal(
    checkToString(parseListRule([['role:admin'], ['project_id:%(project_id)s', 'role:member']])),
    '(role:admin or (project_id:%(project_id)s and role:member))',
  );
  assert.equal(checkToString(parseListRule([])), '@');
  assert.equal(checkToString(parseListRule([[]])), '!');
  assert.equal(checkToString(parseListRule(['role:a'])), 'role:a');
  assert.equal(checkToString(parseListRule([[], ['role:a']])), 'role:a');
});

test('parseRule accepts what policy files contain', () => {
  assert.equal(checkToString(parseRule('role:a')), 'role:a');
  assert.equal(checkToString(parseRule(null)), '@'); // YAML "name:" means "", as in oslo
  assert.equal(checkToString(parseRule([['role:a', 'role:b']])), '(role:a and role:b)');
  const log = collector();
  assert.equal(checkToString(parseRule(42, log)), '!');
  assert.equal(log.lines.length, 1);
});
