/**
 * Kong's schema JSON as the Admin API gives it (`GET /schemas/<entity>`, `/schemas/plugins/<name>`,
 * src/admin/schema-json.ts): `fields` is a list of one-key objects `{name: {type, required, ...}}`.
 * This module reads it into named fields and turns a form's values into the body to send: only
 * what the user set, plus what is required — the gateway fills in every other default itself.
 */
import { api } from '../../lib/api.ts';

export interface FieldDef {
  type: string;
  required?: boolean;
  default?: unknown;
  one_of?: unknown[];
  between?: [number, number];
  gt?: number;
  starts_with?: string;
  len_min?: number;
  elements?: FieldDef;
  keys?: FieldDef;
  values?: FieldDef;
  fields?: Record<string, FieldDef>[];
  reference?: string;
  referenceable?: boolean;
  encrypted?: boolean;
  auto?: boolean;
  uuid?: boolean;
  timestamp?: boolean;
  description?: string;
  entity_checks?: Record<string, unknown>[];
}

export interface SchemaJson {
  fields: Record<string, FieldDef>[];
  entity_checks?: Record<string, unknown>[];
  endpoint_key?: string;
}

export interface NamedField {
  name: string;
  def: FieldDef;
}

/** A record's fields in schema order. */
export function fieldsOf(fields: Record<string, FieldDef>[] | undefined): NamedField[] {
  return (fields ?? []).map((f) => {
    const name = Object.keys(f)[0];
    return { name, def: f[name] };
  });
}

/** The field at a dotted path (`config.model.provider`) of a schema, if there is one. */
export function fieldAt(schema: SchemaJson, path: string): FieldDef | undefined {
  let fields: Record<string, FieldDef>[] | undefined = schema.fields;
  let def: FieldDef | undefined;
  for (const part of path.split('.')) {
    def = fieldsOf(fields).find((f) => f.name === part)?.def;
    if (!def) return undefined;
    fields = def.fields;
  }
  return def;
}

/** Fields the store makes itself (ids, timestamps): never a form input. */
export function isGenerated(def: FieldDef): boolean {
  return Boolean(def.auto && (def.uuid || def.timestamp));
}

const schemaCache = new Map<string, Promise<SchemaJson>>();

/** `/schemas/<path>`, read once per page load: schemas change only with the gateway's version. */
export function loadSchema(path: string): Promise<SchemaJson> {
  let hit = schemaCache.get(path);
  if (!hit) {
    hit = api<SchemaJson>(`/schemas/${path}`);
    hit.catch(() => schemaCache.delete(path));
    schemaCache.set(path, hit);
  }
  return hit;
}

export type Values = Record<string, unknown>;

/** A form's starting values: the defaults, records nested, for a new entity. */
export function defaultsOf(fields: NamedField[]): Values {
  const out: Values = {};
  for (const { name, def } of fields) {
    if (isGenerated(def)) continue;
    if (def.type === 'record' && def.fields) out[name] = defaultsOf(fieldsOf(def.fields));
    else if (def.default !== undefined) out[name] = structuredClone(def.default);
  }
  return out;
}

/** Empty means "not given": the gateway then applies its own default or null. */
export function isEmpty(v: unknown): boolean {
  if (v === undefined || v === null || v === '') return true;
  if (typeof v === 'object' && !Array.isArray(v)) return Object.keys(v as object).length === 0;
  return false;
}

/** Touched paths are dotted (`config.model.options.temperature`); an array counts as one value. */
export type Touched = Set<string>;

/**
 * The body for a create: every touched field, and every required one that has a value. Records
 * are sent when something inside them is. Untouched defaults stay out: the gateway applies them.
 */
export function bodyForCreate(fields: NamedField[], values: Values, touched: Touched, prefix = ''): Values {
  const out: Values = {};
  for (const { name, def } of fields) {
    if (isGenerated(def)) continue;
    const path = prefix + name;
    const v = values[name];
    if (def.type === 'record' && def.fields) {
      const inner = bodyForCreate(fieldsOf(def.fields), (v as Values) ?? {}, touched, `${path}.`);
      if (!isEmpty(inner)) out[name] = inner;
      continue;
    }
    if ((touched.has(path) || def.required) && !isEmpty(v)) out[name] = v;
  }
  return out;
}

/**
 * The body for a PATCH: only what was touched (Kong merges nested records into the stored
 * entity); a touched field left empty is sent as null, which clears it.
 */
export function bodyForUpdate(fields: NamedField[], values: Values, touched: Touched, prefix = ''): Values {
  const out: Values = {};
  for (const { name, def } of fields) {
    const path = prefix + name;
    const v = values[name];
    if (def.type === 'record' && def.fields) {
      const inner = bodyForUpdate(fieldsOf(def.fields), (v as Values) ?? {}, touched, `${path}.`);
      if (!isEmpty(inner)) out[name] = inner;
      continue;
    }
    if (touched.has(path)) out[name] = isEmpty(v) ? null : v;
  }
  return out;
}

/** A typed value from an input's text: numbers as numbers; text that is not one is sent as is, so the gateway names the field. */
export function parseScalar(def: FieldDef, text: string): unknown {
  if (text === '') return null;
  if (def.type === 'number' || def.type === 'integer') {
    const n = Number(text);
    return Number.isFinite(n) ? n : text;
  }
  return text;
}

/** A value at a dotted path of nested values. */
export function getAt(values: Values, path: string): unknown {
  let cur: unknown = values;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Values)[part];
  }
  return cur;
}

/** A copy of `values` with `path` set to `v` (records along the way created). */
export function setAt(values: Values, path: string, v: unknown): Values {
  const [head, ...rest] = path.split('.');
  if (rest.length === 0) return { ...values, [head]: v };
  const inner = values[head];
  return { ...values, [head]: setAt(inner && typeof inner === 'object' && !Array.isArray(inner) ? (inner as Values) : {}, rest.join('.'), v) };
}
