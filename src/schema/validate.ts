/**
 * Validation and default-filling for the Kong-style schema DSL (see types.ts).
 *
 * One pass over a record does what Kong's `process_auto_fields` + `validate` do for an insert:
 * missing fields get their default (or null; a missing *required* record is expanded so its own
 * defaults apply), every present value is type-checked and validated, unknown keys are rejected,
 * then the record's entity checks run. Errors come back as a tree shaped like the input, with
 * Kong's exact messages, so the Admin API can answer `{"code":2,"fields":{...}}` as Kong does.
 */
import type { Condition, EntityCheck, ErrorTree, Field } from './types.ts';

export const MESSAGES = {
  ARRAY: 'expected an array',
  SET: 'expected a set',
  MAP: 'expected a map',
  RECORD: 'expected a record',
  STRING: 'expected a string',
  NUMBER: 'expected a number',
  BOOLEAN: 'expected a boolean',
  INTEGER: 'expected an integer',
  REQUIRED: 'required field missing',
  UNKNOWN: 'unknown field',
  UUID: 'expected a valid UUID',
  IMMUTABLE: 'immutable field cannot be updated',
} as const;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Keys that must never be assigned on a plain object: they would reach the prototype chain. */
export const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function hasOwn(obj: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(obj, key);
}

export function deepClone<T>(value: T): T {
  return value === undefined ? value : structuredClone(value);
}

function formatBound(n: number): string {
  // Kong formats bounds with %d: 0.0 → "0", 5.0 → "5".
  return String(Math.trunc(n));
}

function formatList(values: readonly unknown[]): string {
  return values.map(String).join(', ');
}

export interface ValidateOptions {
  /** Fill defaults for missing fields (insert, upsert). False for a partial value. */
  defaults: boolean;
}

export interface RecordResult {
  value: Record<string, unknown>;
  errors?: ErrorTree;
}

/**
 * Normalise and validate a record against its fields and entity checks.
 * Never throws on user input: every problem is reported in `errors`.
 */
export function validateRecord(
  fields: Record<string, Field>,
  checks: EntityCheck[] | undefined,
  input: Record<string, unknown>,
  opts: ValidateOptions = { defaults: true },
): RecordResult {
  const value: Record<string, unknown> = {};
  const errors: ErrorTree = {};
  let failed = false;

  for (const key of Object.keys(input)) {
    if (!hasOwn(fields, key)) {
      // Assigning through defineProperty keeps even a `__proto__` key an inert own key.
      Object.defineProperty(errors, key, { value: MESSAGES.UNKNOWN, enumerable: true, writable: true, configurable: true });
      failed = true;
    }
  }

  for (const [key, field] of Object.entries(fields)) {
    let v = input[key];
    if (v === undefined) {
      if (field.auto) continue; // the store generates ids and timestamps
      v = missingValue(field, opts);
      if (v === undefined) continue;
    }
    if (v === null) {
      if (field.required) {
        errors[key] = MESSAGES.REQUIRED;
        failed = true;
      }
      value[key] = null;
      continue;
    }
    const res = validateValue(field, v, opts);
    value[key] = res.value;
    if (res.error !== undefined) {
      errors[key] = res.error as ErrorTree[string];
      failed = true;
    }
  }

  if (checks?.length) {
    const entityErrors: string[] = [];
    for (const check of checks) {
      const fieldsOfCheck = checkFields(check);
      // Like Kong, a check is not judged on fields that already failed their own validation.
      if (fieldsOfCheck.some((f) => hasErrorAt(errors, f))) continue;
      const err = runEntityCheck(check, value, errors);
      if (err) entityErrors.push(err);
    }
    if (entityErrors.length) {
      errors['@entity'] = entityErrors;
      failed = true;
    }
  }

  return failed ? { value, errors } : { value };
}

function missingValue(field: Field, opts: ValidateOptions): unknown {
  if (!opts.defaults) return undefined;
  if (field.default !== undefined) return deepClone(field.default);
  // Kong materialises a missing record with its own defaults (`handle_missing_field`), so a
  // config written without `model.options` still carries `max_tokens`, `azure_api_version` ...
  if (field.type === 'record') return {};
  return null;
}

interface ValueResult {
  value: unknown;
  error?: string | ErrorTree | Array<string | ErrorTree | null>;
}

export function validateValue(field: Field, v: unknown, opts: ValidateOptions): ValueResult {
  switch (field.type) {
    case 'string': {
      if (typeof v !== 'string') return { value: v, error: MESSAGES.STRING };
      return { value: v, error: checkString(field, v) };
    }
    case 'integer': {
      if (typeof v !== 'number' || !Number.isInteger(v)) return { value: v, error: MESSAGES.INTEGER };
      return { value: v, error: checkNumber(field, v) };
    }
    case 'number': {
      if (typeof v !== 'number' || !Number.isFinite(v)) return { value: v, error: MESSAGES.NUMBER };
      return { value: v, error: checkNumber(field, v) };
    }
    case 'boolean': {
      if (typeof v !== 'boolean') return { value: v, error: MESSAGES.BOOLEAN };
      return { value: v };
    }
    case 'array':
    case 'set': {
      // Kong accepts an empty JSON object where an array is expected (Lua cannot tell them apart).
      if (isPlainObject(v) && Object.keys(v).length === 0) v = [];
      if (!Array.isArray(v)) return { value: v, error: field.type === 'set' ? MESSAGES.SET : MESSAGES.ARRAY };
      let arr = v as unknown[];
      if (field.type === 'set') arr = dedupe(arr);
      const lenErr = checkLength(field, arr.length);
      if (lenErr) return { value: arr, error: lenErr };
      const out: unknown[] = [];
      const errs: Array<string | ErrorTree | null> = [];
      let anyErr = false;
      for (const el of arr) {
        const r = field.elements ? validateValue(field.elements, el, opts) : { value: el };
        out.push(r.value);
        if (r.error !== undefined) {
          errs.push(r.error as string | ErrorTree);
          anyErr = true;
        } else errs.push(null);
      }
      if (anyErr) return { value: out, error: errs };
      if (field.one_of) {
        // not used on arrays
      }
      return { value: out };
    }
    case 'map': {
      if (!isPlainObject(v)) return { value: v, error: MESSAGES.MAP };
      const out: Record<string, unknown> = {};
      const errs: ErrorTree = {};
      let anyErr = false;
      for (const [k, val] of Object.entries(v)) {
        if (FORBIDDEN_KEYS.has(k)) {
          Object.defineProperty(errs, k, { value: 'invalid key', enumerable: true, writable: true, configurable: true });
          anyErr = true;
          continue;
        }
        const kr = field.keys ? validateValue(field.keys, k, opts) : { value: k };
        const vr = field.values ? validateValue(field.values, val, opts) : { value: val };
        out[k] = vr.value;
        const e = kr.error ?? vr.error;
        if (e !== undefined) {
          errs[k] = e as ErrorTree[string];
          anyErr = true;
        }
      }
      return anyErr ? { value: out, error: errs } : { value: out };
    }
    case 'record': {
      if (!isPlainObject(v)) return { value: v, error: MESSAGES.RECORD };
      const r = validateRecord(field.fields ?? {}, field.entity_checks, v, opts);
      return { value: r.value, error: r.errors };
    }
    case 'foreign': {
      if (field.eq === null) return { value: v, error: 'value must be null' };
      if (!isPlainObject(v)) return { value: v, error: MESSAGES.RECORD };
      const unknown = Object.keys(v).filter((k) => k !== 'id' && k !== 'name');
      if (unknown.length) {
        const errs: ErrorTree = {};
        for (const k of unknown) Object.defineProperty(errs, k, { value: MESSAGES.UNKNOWN, enumerable: true, configurable: true, writable: true });
        return { value: v, error: errs };
      }
      if (v.id !== undefined && v.id !== null) {
        if (typeof v.id !== 'string' || !UUID_RE.test(v.id)) return { value: v, error: { id: MESSAGES.UUID } };
        return { value: { id: v.id.toLowerCase() } };
      }
      if (typeof v.name === 'string') return { value: { name: v.name } };
      return { value: v, error: { id: MESSAGES.REQUIRED } };
    }
    case 'json':
      return { value: v };
  }
}

function dedupe(arr: unknown[]): unknown[] {
  const seen = new Set<string>();
  const out: unknown[] = [];
  for (const el of arr) {
    const key = typeof el === 'string' ? 's:' + el : JSON.stringify(el);
    if (!seen.has(key)) {
      seen.add(key);
      out.push(el);
    }
  }
  return out;
}

function checkLength(field: Field, len: number): string | undefined {
  if (field.len_eq !== undefined && len !== field.len_eq) return `length must be ${field.len_eq}`;
  if (field.len_min !== undefined && len < field.len_min) return `length must be at least ${field.len_min}`;
  if (field.len_max !== undefined && len > field.len_max) return `length must be at most ${field.len_max}`;
  return undefined;
}

function checkString(field: Field, v: string): string | undefined {
  // Kong: strings have an implicit minimum length of 1.
  const lenErr = checkLength({ ...field, len_min: field.len_min ?? 1 }, v.length);
  if (lenErr) return lenErr;
  if (field.uuid && !UUID_RE.test(v)) return MESSAGES.UUID;
  if (field.one_of && !field.one_of.includes(v)) return `expected one of: ${formatList(field.one_of)}`;
  if (field.not_one_of?.includes(v)) return `must not be one of: ${formatList(field.not_one_of)}`;
  if (field.starts_with !== undefined && !v.startsWith(field.starts_with)) return `should start with: ${field.starts_with}`;
  if (field.match_all) for (const rule of field.match_all) if (!rule.pattern.test(v)) return rule.err;
  if (field.match_any && !field.match_any.patterns.some((p) => p.test(v))) return field.match_any.err;
  if (field.match_none) for (const rule of field.match_none) if (rule.pattern.test(v)) return rule.err;
  if (field.custom_validator) return field.custom_validator(v);
  return undefined;
}

function checkNumber(field: Field, v: number): string | undefined {
  if (field.between && (v < field.between[0] || v > field.between[1])) {
    return `value should be between ${formatBound(field.between[0])} and ${formatBound(field.between[1])}`;
  }
  if (field.gt !== undefined && !(v > field.gt)) return `value must be greater than ${field.gt}`;
  if (field.one_of && !field.one_of.includes(v)) return `expected one of: ${formatList(field.one_of)}`;
  if (field.custom_validator) return field.custom_validator(v);
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Entity checks

/** Reads a dotted path ("auth.header_name") inside a record; null/undefined when absent. */
export function getPath(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (!isPlainObject(cur)) return undefined;
    cur = hasOwn(cur, part) ? cur[part] : undefined;
  }
  return cur;
}

function isSet(v: unknown): boolean {
  if (v === undefined || v === null) return false;
  if (Array.isArray(v)) return v.length > 0;
  return true;
}

function hasErrorAt(errors: ErrorTree, path: string): boolean {
  let cur: unknown = errors;
  for (const part of path.split('.')) {
    if (typeof cur === 'string') return true;
    if (!isPlainObject(cur) || !hasOwn(cur, part)) return false;
    cur = cur[part];
  }
  return cur !== undefined;
}

function checkFields(check: EntityCheck): string[] {
  if ('conditional_at_least_one_of' in check) {
    const c = check.conditional_at_least_one_of;
    return [c.if_field, ...c.then_at_least_one_of];
  }
  if ('conditional' in check) return [check.conditional.if_field, check.conditional.then_field];
  if ('custom_entity_check' in check) return check.custom_entity_check.field_sources ?? [];
  if ('at_least_one_of' in check) return check.at_least_one_of;
  if ('only_one_of' in check) return check.only_one_of;
  if ('mutually_required' in check) return check.mutually_required;
  if ('mutually_exclusive' in check) return check.mutually_exclusive;
  return [];
}

function quoteList(names: string[]): string {
  return names.map((n) => `'${n}'`).join(', ');
}

export function matchesCondition(value: unknown, cond: Condition): boolean {
  if ('one_of' in cond) return cond.one_of.includes(value);
  if ('not_one_of' in cond) return !cond.not_one_of.includes(value);
  if ('eq' in cond) return value === cond.eq || (cond.eq === null && value === undefined);
  if ('ne' in cond) return value !== cond.ne;
  if ('required' in cond) return isSet(value);
  if ('len_eq' in cond) return (Array.isArray(value) ? value.length : 0) === cond.len_eq;
  if ('elements' in cond) {
    if (!Array.isArray(value)) return true;
    const el = cond.elements;
    return value.every((x) => (el.one_of ? el.one_of.includes(x) : true) && (el.not_one_of ? !el.not_one_of.includes(x) : true));
  }
  return true; // `{}` matches any value
}

function conditionMessage(cond: Condition): string {
  if ('eq' in cond) return `value must be ${cond.eq === null ? 'null' : String(cond.eq)}`;
  if ('one_of' in cond) return `expected one of: ${formatList(cond.one_of)}`;
  if ('required' in cond) return MESSAGES.REQUIRED;
  if ('len_eq' in cond) return `length must be ${cond.len_eq}`;
  return 'invalid value';
}

function setErrorAt(errors: ErrorTree, path: string, message: string): void {
  const parts = path.split('.');
  let cur: ErrorTree = errors;
  for (let i = 0; i < parts.length - 1; i++) {
    const next = cur[parts[i]];
    if (!isPlainObject(next)) cur[parts[i]] = {};
    cur = cur[parts[i]] as ErrorTree;
  }
  cur[parts[parts.length - 1]] = message;
}

function runEntityCheck(check: EntityCheck, value: Record<string, unknown>, errors: ErrorTree): string | undefined {
  if ('conditional_at_least_one_of' in check) {
    const c = check.conditional_at_least_one_of;
    const ifValue = getPath(value, c.if_field);
    if (!isSet(ifValue) && Object.keys(c.if_match).length) return undefined;
    if (!matchesCondition(ifValue, c.if_match)) return undefined;
    if (c.then_at_least_one_of.some((f) => isSet(getPath(value, f)))) return undefined;
    const list = quoteList(c.then_at_least_one_of);
    return c.then_err ? c.then_err.replace('%s', list) : `at least one of these fields must be non-empty: ${list}`;
  }
  if ('conditional' in check) {
    const c = check.conditional;
    const ifValue = getPath(value, c.if_field);
    if (!matchesCondition(ifValue, c.if_match)) return undefined;
    const thenValue = getPath(value, c.then_field);
    if (matchesCondition(thenValue, c.then_match)) return undefined;
    if (c.then_err) return c.then_err;
    setErrorAt(errors, c.then_field, conditionMessage(c.then_match));
    return `failed conditional validation given value of field '${c.if_field}'`;
  }
  if ('mutually_required' in check) {
    const names = check.mutually_required;
    const set = names.filter((f) => isSet(getPath(value, f))).length;
    if (set === 0 || set === names.length) return undefined;
    return `all or none of these fields must be set: ${quoteList(names)}`;
  }
  if ('mutually_exclusive' in check) {
    const names = check.mutually_exclusive;
    if (names.filter((f) => isSet(getPath(value, f))).length <= 1) return undefined;
    return `only one or none of these fields must be set: ${quoteList(names)}`;
  }
  if ('at_least_one_of' in check) {
    if (check.at_least_one_of.some((f) => isSet(getPath(value, f)))) return undefined;
    return `at least one of these fields must be non-empty: ${quoteList(check.at_least_one_of)}`;
  }
  if ('only_one_of' in check) {
    if (check.only_one_of.filter((f) => isSet(getPath(value, f))).length === 1) return undefined;
    return `exactly one of these fields must be non-empty: ${quoteList(check.only_one_of)}`;
  }
  if ('custom_entity_check' in check) return check.custom_entity_check.fn(value);
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Merging (PATCH)

/**
 * Kong's PATCH semantics: records merge recursively, everything else (arrays, maps, scalars,
 * null) replaces the stored value.
 */
export function mergeRecord(fields: Record<string, Field>, base: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const key of Object.keys(patch)) {
    const pv = patch[key];
    const field = hasOwn(fields, key) ? fields[key] : undefined;
    if (FORBIDDEN_KEYS.has(key)) {
      Object.defineProperty(out, key, { value: pv, enumerable: true, writable: true, configurable: true });
      continue;
    }
    if (field?.type === 'record' && isPlainObject(pv) && isPlainObject(base[key])) {
      out[key] = mergeRecord(field.fields ?? {}, base[key] as Record<string, unknown>, pv);
    } else {
      out[key] = pv;
    }
  }
  return out;
}
