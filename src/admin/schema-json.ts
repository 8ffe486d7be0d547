/**
 * `GET /schemas/...` in Kong's format: `{"fields": [{"name": {type, required, default, ...}}, ...]}`
 * with nested records as `fields` arrays, so tools written against Kong (decK, GUIs) can read it.
 * Custom validators have no JSON form and are left out, as Kong leaves out its Lua functions.
 */
import type { EntityCheck, EntitySchema, Field } from '../schema/types.ts';

type Json = Record<string, unknown>;

const COPIED: (keyof Field)[] = ['required', 'default', 'auto', 'uuid', 'timestamp', 'unique', 'referenceable', 'encrypted', 'one_of', 'not_one_of', 'between', 'gt', 'len_min', 'len_max', 'len_eq', 'starts_with', 'reference', 'description'];

export function fieldJson(field: Field): Json {
  const out: Json = { type: field.type };
  for (const k of COPIED) if (field[k] !== undefined) out[k] = field[k];
  if (field.eq === null) out.eq = null;
  if (field.elements) out.elements = fieldJson(field.elements);
  if (field.keys) out.keys = fieldJson(field.keys);
  if (field.values) out.values = fieldJson(field.values);
  if (field.fields) out.fields = fieldsJson(field.fields);
  if (field.entity_checks) out.entity_checks = checksJson(field.entity_checks);
  return out;
}

export function fieldsJson(fields: Record<string, Field>): Json[] {
  return Object.entries(fields).map(([name, f]) => ({ [name]: fieldJson(f) }));
}

function checksJson(checks: EntityCheck[]): Json[] {
  return checks.filter((c) => !('custom_entity_check' in c)).map((c) => JSON.parse(JSON.stringify(c)) as Json);
}

export function entitySchemaJson(schema: EntitySchema): Json {
  const out: Json = { fields: fieldsJson(schema.fields) };
  if (schema.entity_checks) out.entity_checks = checksJson(schema.entity_checks);
  if (schema.endpoint_key) out.endpoint_key = schema.endpoint_key;
  return out;
}
