// Validation against Glance's own JSON schemas (api/schemas/glance-schemas.ts), with the
// messages python-jsonschema gives, which Glance passes through in its 400s:
// "Provided object does not match schema 'image': 5 is not of type 'string' ...".

import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { GLANCE_SCHEMAS } from './api/schemas/glance-schemas.js';
import { GlanceError } from './errors.js';
import { pyRepr } from '../common/pyrepr.js';

const ajv = new Ajv({ allErrors: false, strict: false, validateSchema: false, coerceTypes: false, useDefaults: false });
const compiled = new Map<string, ValidateFunction>();

function at(root: unknown, pointer: string): unknown {
  let cur = root;
  for (const part of pointer.split('/').slice(1)) {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
    cur = cur === null || cur === undefined ? undefined : (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function pathRepr(pointer: string, base: string): string {
  const parts = pointer.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  return base + parts.map((p) => (/^\d+$/.test(p) ? `[${p}]` : `[${pyRepr(p)}]`)).join('');
}

function message(e: ErrorObject, instance: unknown): string {
  const p = e.params as Record<string, unknown>;
  const value = at(instance, e.instancePath);
  switch (e.keyword) {
    case 'type': {
      const t = Array.isArray(p.type) ? p.type : String(p.type).split(',');
      return `${pyRepr(value)} is not of type ${(t as string[]).map((x) => pyRepr(x)).join(', ')}`;
    }
    case 'enum': return `${pyRepr(value)} is not one of ${pyRepr(p.allowedValues)}`;
    case 'maxLength': return `${pyRepr(value)} is too long`;
    case 'minLength': return `${pyRepr(value)} is too short`;
    case 'pattern': return `${pyRepr(value)} does not match ${pyRepr(p.pattern)}`;
    case 'additionalProperties': return `Additional properties are not allowed (${pyRepr(p.additionalProperty)} was unexpected)`;
    case 'required': return `${pyRepr(p.missingProperty)} is a required property`;
    case 'minimum': return `${pyRepr(value)} is less than the minimum of ${p.limit}`;
    case 'maximum': return `${pyRepr(value)} is greater than the maximum of ${p.limit}`;
    case 'maxItems': return `${pyRepr(value)} is too long`;
    case 'minItems': return `${pyRepr(value)} is too short`;
    case 'uniqueItems': return `${pyRepr(value)} has non-unique elements`;
    default: return `${pyRepr(value)} is not valid: ${e.message ?? e.keyword}`;
  }
}

/** Validates obj against the named Glance schema; GlanceError('Invalid') with jsonschema's text. */
export function validateSchema(name: string, obj: unknown): void {
  let fn = compiled.get(name);
  if (!fn) {
    const schema = structuredClone(GLANCE_SCHEMAS[name]);
    fn = ajv.compile(schema);
    compiled.set(name, fn);
  }
  if (fn(obj)) return;
  const e = fn.errors![0]!;
  const schemaPath = e.schemaPath.replace(/^#/, '').replace(/\/[^/]+$/, '');
  const reason = `${message(e, obj)}\n\nFailed validating ${pyRepr(e.keyword)} in ${pathRepr(schemaPath, 'schema')}:\n    ${pyRepr(at(GLANCE_SCHEMAS[name], schemaPath))}\n\nOn ${pathRepr(e.instancePath, 'instance')}:\n    ${pyRepr(at(obj, e.instancePath))}`;
  const schemaName = (GLANCE_SCHEMAS[name] as { name: string }).name;
  throw new GlanceError('Invalid', `Provided object does not match schema '${schemaName}': ${reason}`);
}

export function schemaProperties(name: string): Record<string, { type?: string | string[] } & Record<string, unknown>> {
  return (GLANCE_SCHEMAS[name] as { properties: Record<string, { type?: string | string[] }> }).properties;
}
