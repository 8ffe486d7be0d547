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
  return { message: body.message ?? `HTTP ${e.status}`, fields: spreadEntityErrors(fields) };
}

/**
 * An entity check's message that names one field (`must set 'model.options.azure_instance' for
 * azure provider`) belongs under that field; the record keeps the messages about several fields
 * (`must set one of 'auth.header_name', 'auth.param_name'`). Paths are relative to the record.
 */
export function spreadEntityErrors(tree: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(tree)) out[k] = v && typeof v === 'object' && !Array.isArray(v) ? spreadEntityErrors(v as Record<string, unknown>) : v;
  const own = out['@entity'];
  if (!Array.isArray(own)) return out;
  const kept: unknown[] = [];
  for (const msg of own) {
    const named = typeof msg === 'string' ? [...msg.matchAll(/'([A-Za-z0-9_.]+)'/g)].map((m) => m[1]) : [];
    if (named.length === 1 && lookup(out, named[0]) === undefined) out = placeAt(out, named[0], msg);
    else kept.push(msg);
  }
  if (kept.length) out['@entity'] = kept;
  else delete out['@entity'];
  return out;
}

function lookup(tree: Record<string, unknown>, path: string): unknown {
  let cur: unknown = tree;
  for (const p of path.split('.')) cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[p] : undefined;
  return cur;
}

function placeAt(tree: Record<string, unknown>, path: string, msg: unknown): Record<string, unknown> {
  const [head, ...rest] = path.split('.');
  if (rest.length === 0) return { ...tree, [head]: msg };
  const inner = tree[head];
  return { ...tree, [head]: placeAt(inner && typeof inner === 'object' ? (inner as Record<string, unknown>) : {}, rest.join('.'), msg) };
}

