// Assertions the HTTP tests share: OpenStack's error body and request id on every response.

import assert from 'node:assert/strict';

export interface HttpResult { status: number; headers: Headers; body: any; text: string }

/**
 * Asserts a Keystone-style fault: the status, {"error": {"code", "message", "title"}} with the same
 * code, an x-openstack-request-id header, and (when given) the message: exact for a string,
 * matching for a RegExp.
 */
export function assertFault(r: HttpResult, status: number, message?: string | RegExp): void {
  assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${r.text}`);
  assert.match(r.headers.get('x-openstack-request-id') ?? '', /^req-[0-9a-f-]{36}$/, 'x-openstack-request-id header');
  assert.ok(r.body && typeof r.body === 'object', `a JSON body: ${r.text}`);
  assert.deepEqual(Object.keys(r.body), ['error'], `only "error" in the body: ${r.text}`);
  const e = r.body.error;
  assert.deepEqual(Object.keys(e).sort(), ['code', 'message', 'title'], `error has code, message, title: ${r.text}`);
  assert.equal(e.code, status);
  assert.equal(typeof e.message, 'string');
  assert.equal(typeof e.title, 'string');
  assert.ok(e.title.length > 0);
  if (typeof message === 'string') assert.equal(e.message, message);
  else if (message) assert.match(e.message, message);
}

/** Asserts a success status, printing the body when it is not. */
export function assertStatus(r: HttpResult, status: number): void {
  assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${r.text}`);
  assert.match(r.headers.get('x-openstack-request-id') ?? '', /^req-/, 'x-openstack-request-id header');
}
