/**
 * A refusal of the Admin API, split for a form: Kong's `fields` tree goes next to the fields, the
 * message on top. A unique violation's `fields` hold the clashing values, not messages, so they
 * are reworded; anything else (a 404, a lost connection) is the message alone.
 */
import { ApiError } from '../../lib/api.ts';

export interface FormError {
  message: string;
  fields: Record<string, unknown>;
}

export function formError(e: unknown): FormError {
  if (!(e instanceof ApiError)) return { message: e instanceof Error ? e.message : String(e), fields: {} };
  const body = e.body;
  const fields = (body.fields && typeof body.fields === 'object' ? body.fields : {}) as Record<string, unknown>;
  if (body.name === 'unique constraint violation') {
    const reworded: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(fields)) reworded[k] = `${JSON.stringify(v)} is already in use`;
    return { message: body.message ?? `HTTP ${e.status}`, fields: reworded };
  }
  return { message: body.message ?? `HTTP ${e.status}`, fields };
}

/** Put a sub-tree under a prefix (`config.model` → `{config: {model: tree}}`). */
export function nest(prefix: string, tree: unknown): Record<string, unknown> {
  const parts = prefix.split('.');
  let out: unknown = tree;
  for (let i = parts.length - 1; i >= 0; i--) out = { [parts[i]]: out };
  return out as Record<string, unknown>;
}
