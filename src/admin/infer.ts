/**
 * Kong's `infer_value`: form and query values arrive as strings; the schema says what they are.
 * `"512"` becomes 512 for an integer field, `"true"` a boolean, a lone value a one-element array.
 * Values that do not convert are left alone so validation reports them with Kong's message.
 */
import type { Field } from '../schema/types.ts';
import { isPlainObject } from '../schema/validate.ts';

export function inferValue(field: Field | undefined, value: unknown): unknown {
  if (value === null || value === undefined) return value;
  if (!field) return value;
  switch (field.type) {
    case 'integer':
    case 'number': {
      if (typeof value !== 'string' || value.trim() === '') return value;
      const n = Number(value);
      return Number.isNaN(n) ? value : n;
    }
    case 'boolean':
      return value === 'true' ? true : value === 'false' ? false : value;
    case 'string':
      return typeof value === 'boolean' ? String(value) : value;
    case 'array':
    case 'set': {
      const arr = Array.isArray(value) ? value : [value];
      return arr.map((v) => inferValue(field.elements, v));
    }
    case 'map': {
      if (!isPlainObject(value)) return value;
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = inferValue(field.values, v);
      return out;
    }
    case 'record':
      return isPlainObject(value) ? inferRecord(field.fields ?? {}, value) : value;
    default:
      return value;
  }
}

export function inferRecord(fields: Record<string, Field>, input: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input)) {
    out[k] = Object.prototype.hasOwnProperty.call(fields, k) ? inferValue(fields[k], v) : v;
  }
  return out;
}
