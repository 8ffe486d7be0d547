/**
 * Kong's prompt templater: `{{name}}` placeholders (letters, digits, `_` only) in a template that
 * is a JSON request body, replaced by the request's `properties`, each JSON-escaped. Nothing is
 * evaluated: no expressions, no nesting, no second pass — a value containing `{{other}}` stays
 * text (docs/decisions.md, T83). Missing properties are an error naming them, as in Kong.
 */
const PLACEHOLDER = /\{\{([A-Za-z0-9_]+)\}\}/g;

export class TemplateError extends Error {}

/** The placeholders a template uses, in order of first appearance. */
export function placeholders(template: string): string[] {
  return [...new Set(Array.from(template.matchAll(PLACEHOLDER), (m) => m[1]))];
}

function escapeJsonString(value: string): string {
  return JSON.stringify(value).slice(1, -1);
}

export function render(template: string, properties: unknown): string {
  const props = properties !== null && typeof properties === 'object' && !Array.isArray(properties) ? (properties as Record<string, unknown>) : {};
  const values = new Map<string, string>();
  for (const key of Object.keys(props)) {
    const v = props[key];
    if (typeof v !== 'string' || v === '') throw new TemplateError('only string arguments are supported');
    values.set(key, escapeJsonString(v));
  }
  const missing = placeholders(template).filter((name) => !values.has(name));
  if (missing.length) throw new TemplateError(`missing template parameters: ${missing.map((m) => `[${m}]`).join(', ')}`);
  return template.replace(PLACEHOLDER, (_, name: string) => values.get(name)!);
}
