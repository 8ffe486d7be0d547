/**
 * Entity validation for the Admin API and declarative config: input (JSON or inferred form
 * values) in, a complete entity with defaults, or Kong-shaped field errors, out.
 */
import { validateRecord, isPlainObject, MESSAGES } from '../schema/validate.ts';
import type { EntitySchema, ErrorTree } from '../schema/types.ts';
import type { EntityName } from '../store/types.ts';
import { serviceSchema } from './services.ts';
import { routeSchema } from './routes.ts';
import { pluginEntitySchema } from './plugins.ts';
import { consumerSchema, keyAuthCredentialSchema } from './consumers.ts';
import { getPluginSchema } from '../plugins/registry.ts';

export { serviceSchema, routeSchema, consumerSchema, keyAuthCredentialSchema };

const STATIC_SCHEMAS: Partial<Record<EntityName, EntitySchema>> = {
  services: serviceSchema,
  routes: routeSchema,
  consumers: consumerSchema,
  keyauth_credentials: keyAuthCredentialSchema,
};

/** The schema an entity is validated with (plugins: chosen by their `name`). */
export function schemaFor(entity: EntityName, input?: Record<string, unknown>): EntitySchema {
  if (entity === 'plugins') {
    const name = typeof input?.name === 'string' ? input.name : undefined;
    return pluginEntitySchema(name ? getPluginSchema(name) : undefined);
  }
  return STATIC_SCHEMAS[entity]!;
}

export interface EntityValidation {
  value: Record<string, unknown>;
  errors?: ErrorTree;
}

/** Expands shorthand fields (a service's `url`) into the real fields they stand for. */
export function expandShorthands(schema: EntitySchema, input: Record<string, unknown>): { input: Record<string, unknown>; errors?: ErrorTree } {
  if (!schema.shorthand_fields) return { input };
  let out = input;
  const errors: ErrorTree = {};
  for (const [name, sh] of Object.entries(schema.shorthand_fields)) {
    if (!Object.prototype.hasOwnProperty.call(input, name)) continue;
    const v = input[name];
    out = { ...out };
    delete out[name];
    if (v === null || v === undefined) continue;
    if (typeof v !== 'string') {
      errors[name] = MESSAGES.STRING;
      continue;
    }
    const expanded = sh.func(v);
    if (!expanded) {
      errors[name] = `invalid url: ${v}`;
      continue;
    }
    for (const [k, val] of Object.entries(expanded)) if (val !== null || out[k] === undefined) out[k] = val;
  }
  return Object.keys(errors).length ? { input: out, errors } : { input: out };
}

/**
 * Validates a full entity (insert, upsert, or the merged result of a PATCH).
 * `auto` fields (id, timestamps) are left to the caller.
 */
export function validateEntity(entity: EntityName, input: Record<string, unknown>): EntityValidation {
  if (!isPlainObject(input)) return { value: {}, errors: { '@entity': ['expected an input table'] } };
  const schema = schemaFor(entity, input);
  const sh = expandShorthands(schema, input);
  const res = validateRecord(schema.fields, schema.entity_checks, sh.input);
  let errors = res.errors;
  if (sh.errors) errors = { ...(errors ?? {}), ...sh.errors };
  if (entity === 'plugins' && typeof input.name === 'string' && !getPluginSchema(input.name)) {
    errors = { ...(errors ?? {}), name: `plugin '${input.name}' not enabled; add it to the 'plugins' configuration property` };
    delete errors.config;
  }
  return errors ? { value: res.value, errors } : { value: res.value };
}
