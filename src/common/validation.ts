// JSON Schema validation of request bodies with OpenStack-style 400s. Schemas are compiled once.

import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsMod from 'ajv-formats';
import { ApiError } from './errors.js';

const ajv = new Ajv({ allErrors: false, strict: false, coerceTypes: false, useDefaults: false });
(addFormatsMod as unknown as (a: Ajv) => void)(ajv);

const compiled = new WeakMap<object, ValidateFunction>();

function describe(e: ErrorObject): string {
  const path = e.instancePath.replace(/^\//, '').split('/').filter(Boolean).join('.');
  if (e.keyword === 'additionalProperties') {
    const extra = (e.params as { additionalProperty: string }).additionalProperty;
    return `Additional properties are not allowed ('${extra}' was unexpected)` + (path ? ` in '${path}'` : '');
  }
  if (e.keyword === 'required') {
    const missing = (e.params as { missingProperty: string }).missingProperty;
    return `'${missing}' is a required property` + (path ? ` of '${path}'` : '');
  }
  return `Invalid input for field '${path || '/'}': ${e.message ?? 'invalid'}`;
}

/** Validates `data` against `schema`, throwing a 400 ApiError that names the first bad field. */
export function validate<T = unknown>(schema: object, data: unknown, what = 'request body'): T {
  let fn = compiled.get(schema);
  if (!fn) {
    fn = ajv.compile(schema);
    compiled.set(schema, fn);
  }
  if (data === undefined) throw new ApiError('BadRequest', `Expecting to find a ${what}. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.`);
  if (!fn(data)) throw new ApiError('BadRequest', describe(fn.errors![0]!));
  return data as T;
}
