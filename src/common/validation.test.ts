import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validate } from './validation.js';
import { ApiError } from './errors.js';

const user = {
  type: 'object',
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 8 },
    enabled: { type: 'boolean' },
    options: { type: 'object', properties: { level: { type: 'integer' } }, additionalProperties: false },
    when: { type: 'string', format: 'date-time' },
  },
  required: ['name'],
  additionalProperties: false,
};

function badRequest(fn: () => unknown, message: string | RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ApiError, `an ApiError, got ${String(e)}`);
    assert.equal(e.kind, 'BadRequest');
    assert.equal(e.status, 400);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

test('valid data comes back as it was, not coerced or defaulted', () => {
  const data = { name: 'x', enabled: true };
  assert.equal(validate(user, data), data);
  assert.deepEqual(data, { name: 'x', enabled: true });
  assert.deepEqual(validate(user, { name: 'x', when: '2024-01-02T03:04:05Z' }), { name: 'x', when: '2024-01-02T03:04:05Z' });
});

test('400s that name the field', () => {
  badRequest(() => validate(user, { name: 'x', extra: 1 }), "Additional properties are not allowed ('extra' was unexpected)");
  badRequest(() => validate(user, { name: 'x', options: { level: 1, colour: 'red' } }), "Additional properties are not allowed ('colour' was unexpected) in 'options'");
  badRequest(() => validate(user, {}), "'name' is a required property");
  badRequest(() => validate({ type: 'object', properties: { a: user } }, { a: {} }), "'name' is a required property of 'a'");
  badRequest(() => validate(user, { name: 123 }), /^Invalid input for field 'name': must be string$/);
  badRequest(() => validate(user, { name: '' }), /^Invalid input for field 'name': /);
  badRequest(() => validate(user, { name: 'far too long' }), /^Invalid input for field 'name': /);
  badRequest(() => validate(user, { name: 'x', enabled: 'true' }), /^Invalid input for field 'enabled': must be boolean$/);
  badRequest(() => validate(user, { name: 'x', options: { level: 1.5 } }), /^Invalid input for field 'options.level': must be integer$/);
  badRequest(() => validate(user, { name: 'x', when: 'yesterday' }), /^Invalid input for field 'when': must match format "date-time"$/);
  badRequest(() => validate(user, [1]), /^Invalid input for field '\/': must be object$/);
  badRequest(() => validate(user, null), /^Invalid input for field '\/'/);
});

test('no body at all: Keystone\'s "Expecting to find" message', () => {
  badRequest(() => validate(user, undefined), 'Expecting to find a request body. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.');
  badRequest(() => validate(user, undefined, 'user'), /^Expecting to find a user\. /);
});

test('one schema object, many calls: the compiled validator is reused and stays correct', () => {
  for (let i = 0; i < 200; i++) {
    validate(user, { name: `u${i % 10}` });
    badRequest(() => validate(user, { name: i }), /'name'/);
  }
});
