/**
 * A small JSON Schema checker for tool arguments and structured results (conversion modes). It
 * covers the keywords OpenAPI parameter and body schemas use — type (and OpenAPI's `nullable`),
 * enum, const, properties, required, additionalProperties, items, min/max items, length,
 * pattern, numeric bounds, multipleOf, allOf/anyOf/oneOf/not — and answers with the JSON Pointer
 * of the first value that fails (`/body/passenger_name: must be string`), which the tools/call
 * error carries. Keywords it does not know (`format`, `$ref` ...) constrain nothing: a schema
 * the operator wrote never rejects what it does not say. Written here rather than taking a
 * validator that compiles schemas to code: schemas come from configuration, and modelgate runs
 * no code from configuration (docs/decisions.md, "MCP gateway (issue 23)").
 */

export type Schema = Record<string, unknown>;

/** The first failure, or null. `path` is a JSON Pointer into the checked value ('' is the value itself). */
export interface SchemaError {
  path: string;
  message: string;
}

const MAX_DEPTH = 64;

export function checkSchema(value: unknown, schema: unknown): SchemaError | null {
  return check(value, schema, '', 0);
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function typeMatches(v: unknown, t: string): boolean {
  const actual = typeOf(v);
  if (t === 'number') return actual === 'number' || actual === 'integer';
  return actual === t;
}

function pointer(path: string, key: string | number): string {
  return `${path}/${String(key).replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** JSON equality, for enum and const. */
function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

const patterns = new Map<string, RegExp | null>();
function regex(p: string): RegExp | null {
  let r = patterns.get(p);
  if (r === undefined) {
    try {
      r = new RegExp(p, 'u');
    } catch {
      r = null; // a pattern JavaScript cannot read constrains nothing (unknown keyword rule)
    }
    if (patterns.size < 1024) patterns.set(p, r);
  }
  return r;
}

function check(v: unknown, s: unknown, path: string, depth: number): SchemaError | null {
  if (s === true || s === undefined) return null;
  if (s === false) return { path, message: 'is not allowed' };
  if (!isObject(s)) return null;
  if (depth > MAX_DEPTH) return { path, message: 'is nested too deeply' };
  const fail = (message: string): SchemaError => ({ path, message });

  if (v === null && s.nullable === true) return null;
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? (s.type as unknown[]) : [s.type];
    if (!types.some((t) => typeof t === 'string' && typeMatches(v, t))) return fail(`must be ${types.join(' or ')}`);
  }
  if (Array.isArray(s.enum) && !s.enum.some((e) => same(e, v))) return fail(`must be one of ${JSON.stringify(s.enum)}`);
  if ('const' in s && !same(s.const, v)) return fail(`must be ${JSON.stringify(s.const)}`);

  if (typeof v === 'string') {
    const len = [...v].length;
    if (typeof s.minLength === 'number' && len < s.minLength) return fail(`must have at least ${s.minLength} characters`);
    if (typeof s.maxLength === 'number' && len > s.maxLength) return fail(`must have at most ${s.maxLength} characters`);
    if (typeof s.pattern === 'string') {
      const r = regex(s.pattern);
      if (r && !r.test(v)) return fail(`must match the pattern ${s.pattern}`);
    }
  }
  if (typeof v === 'number') {
    if (typeof s.minimum === 'number' && (v < s.minimum || (s.exclusiveMinimum === true && v === s.minimum))) return fail(`must be ${s.exclusiveMinimum === true ? '>' : '>='} ${s.minimum}`);
    if (typeof s.maximum === 'number' && (v > s.maximum || (s.exclusiveMaximum === true && v === s.maximum))) return fail(`must be ${s.exclusiveMaximum === true ? '<' : '<='} ${s.maximum}`);
    if (typeof s.exclusiveMinimum === 'number' && v <= s.exclusiveMinimum) return fail(`must be > ${s.exclusiveMinimum}`);
    if (typeof s.exclusiveMaximum === 'number' && v >= s.exclusiveMaximum) return fail(`must be < ${s.exclusiveMaximum}`);
    if (typeof s.multipleOf === 'number' && s.multipleOf > 0 && !Number.isInteger(v / s.multipleOf)) return fail(`must be a multiple of ${s.multipleOf}`);
  }
  if (Array.isArray(v)) {
    if (typeof s.minItems === 'number' && v.length < s.minItems) return fail(`must have at least ${s.minItems} items`);
    if (typeof s.maxItems === 'number' && v.length > s.maxItems) return fail(`must have at most ${s.maxItems} items`);
    if (s.uniqueItems === true) for (let i = 1; i < v.length; i++) for (let j = 0; j < i; j++) if (same(v[i], v[j])) return fail(`must not repeat items (${j} and ${i})`);
    if (s.items !== undefined && !Array.isArray(s.items)) {
      for (let i = 0; i < v.length; i++) {
        const e = check(v[i], s.items, pointer(path, i), depth + 1);
        if (e) return e;
      }
    }
  }
  if (isObject(v)) {
    if (Array.isArray(s.required)) for (const k of s.required) if (typeof k === 'string' && !Object.prototype.hasOwnProperty.call(v, k)) return { path: pointer(path, k), message: 'is required' };
    const props = isObject(s.properties) ? s.properties : {};
    for (const k of Object.keys(v)) {
      if (Object.prototype.hasOwnProperty.call(props, k)) {
        const e = check(v[k], props[k], pointer(path, k), depth + 1);
        if (e) return e;
      } else if (s.additionalProperties !== undefined) {
        if (s.additionalProperties === false) return { path: pointer(path, k), message: 'is not an accepted property' };
        const e = check(v[k], s.additionalProperties, pointer(path, k), depth + 1);
        if (e) return e;
      }
    }
  }
  if (Array.isArray(s.allOf)) {
    for (const sub of s.allOf) {
      const e = check(v, sub, path, depth + 1);
      if (e) return e;
    }
  }
  if (Array.isArray(s.anyOf) && !s.anyOf.some((sub) => check(v, sub, path, depth + 1) === null)) return fail('must match one of the accepted forms (anyOf)');
  if (Array.isArray(s.oneOf) && s.oneOf.filter((sub) => check(v, sub, path, depth + 1) === null).length !== 1) return fail('must match exactly one of the accepted forms (oneOf)');
  if (s.not !== undefined && check(v, s.not, path, depth + 1) === null) return fail('must not match the excluded form (not)');
  return null;
}
