/**
 * Kong's plugins accept Lua snippets in a few fields (`custom_fields_by_lua`,
 * `request_prompt_count_function` ...). modelgate runs no code taken from configuration
 * (docs/decisions.md, T27): those fields exist so a Kong config gets a clear answer, and any value is
 * refused.
 */
import type { Field } from '../../schema/types.ts';

const refuse = (field: string) => () => `${field} is not supported: modelgate runs no code from configuration`;

/** `custom_fields_by_lua`: a map of Lua expressions; null is the only accepted value. */
export function luaCodeMap(field: string): Field {
  return { type: 'map', keys: { type: 'string' }, values: { type: 'string', custom_validator: refuse(field) } };
}

/** A single Lua function body; null is the only accepted value. */
export function luaCode(field: string): Field {
  return { type: 'string', custom_validator: refuse(field) };
}
