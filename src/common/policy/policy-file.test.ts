import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PolicyFileError, parsePolicyFile } from './policy-file.js';

const parse = (text: string) => Object.fromEntries(parsePolicyFile(text));

test("Keystone's sample policy.yaml form: quoted keys and values, comments", () => {
  const text = [
    '# Show access rule details.',
    '# GET  /v3/users/{user_id}/access_rules/{access_rule_id}',
    '#"identity:get_access_rule": "(role:reader and system_scope:all) or user_id:%(target.user.id)s"',
    '"identity:get_auth_catalog": ""',
    '"identity:list_projects": "rule:admin_required"',
    '',
  ].join('\n');
  assert.deepEqual(parse(text), { 'identity:get_auth_catalog': '', 'identity:list_projects': 'rule:admin_required' });
});

test('plain keys and values, trailing comments, null values, single quotes', () => {
  const text = [
    '---',
    'identity:get_user: rule:admin_required or role:reader   # comment',
    "'identity:create_user': 'role:admin and ''quoted'''",
    'identity:a:',
    'identity:b: ~',
    'hash: role:a#b',
    'dup: role:a',
    'dup: role:b',
  ].join('\r\n');
  assert.deepEqual(parse(text), {
    'identity:get_user': 'rule:admin_required or role:reader',
    'identity:create_user': "role:admin and 'quoted'",
    'identity:a': null,
    'identity:b': null,
    hash: 'role:a#b',
    dup: 'role:b',
  });
});

test('multi-line values fold as YAML does', () => {
  const text = [
    'plain: role:a',
    '  or role:b',
    'quoted: "role:a',
    '   or role:b"',
    'folded: >',
    '  role:a',
    '  or role:b',
    'literal: |-',
    '  role:a',
    '  or role:b',
    'escaped: "role:\\x41 and \\"x\\""',
  ].join('\n');
  assert.deepEqual(parse(text), {
    plain: 'role:a or role:b',
    quoted: 'role:a or role:b',
    folded: 'role:a or role:b\n',
    literal: 'role:a\nor role:b',
    escaped: 'role:A and "x"',
  });
});

test('the old list syntax as a flow sequence, and JSON files', () => {
  assert.deepEqual(parse('a: [["role:admin"], ["role:member", "project_id:%(project_id)s"]]\n'), {
    a: [['role:admin'], ['role:member', 'project_id:%(project_id)s']],
  });
  assert.deepEqual(parse('{"a": "role:x", "b": [["role:y"]]}'), { a: 'role:x', b: [['role:y']] });
  assert.deepEqual(parse('{}'), {});
  assert.deepEqual(parse(''), {});
  assert.deepEqual(parse('# nothing\n'), {});
});

test('what we do not support is refused with a line number, not guessed', () => {
  const cases: [string, RegExp][] = [
    ['a: role:x\nb: !\n', /line 2: .*"!" must be quoted/],
    ['a: @x\n', /line 1: .*"@" must be quoted/],
    ['a:\n  b: c\n', /nested mappings/],
    ['- a\n', /not a list/],
    ['a: "open\n', /unterminated/],
    ['a: b: c\n', /nested mappings/],
    ['a: &anchor x\n', /must be quoted/],
    ['just text\n', /expected "key: value"/],
    ['"a":"b"\n', /space after ":"/],
    ['[1, 2]', /mapping/],
  ];
  for (const [text, re] of cases) {
    assert.throws(() => parsePolicyFile(text), (e: unknown) => e instanceof PolicyFileError && re.test(e.message), text);
  }
});
