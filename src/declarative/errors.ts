/**
 * Declarative errors in the three forms people need:
 * - `fields`: Kong's error tree, nested like the input (lists as arrays, `null` where an entry is
 *   fine), which `POST /config` returns as Kong does (400, code 14);
 * - `flattened_errors`: Kong 3.2+'s list, one entry per bad entity with its type, name, id, the
 *   entity as written and its errors (`field` dotted, list positions 1-based as Kong writes them),
 *   plus a `path` to each error (`services[0].routes[1].paths[0]`, 0-based) — our addition;
 * - `issues`: every error as `path: message`, for the command line and logs.
 */
import type { ErrorTree } from '../schema/types.ts';
import { isPlainObject } from '../schema/validate.ts';
import { ERROR_CODES, HttpError } from '../entities/errors.ts';
import { SINGULAR } from './model.ts';
import type { Item } from './flatten.ts';

export type Path = (string | number)[];

export interface FlatError {
  type: 'field' | 'entity';
  field?: string;
  message: string;
  path: string;
}

export interface FlatEntityErrors {
  entity_type: string;
  entity_name?: string;
  entity_id?: string;
  entity_tags?: string[];
  entity: Record<string, unknown>;
  path: string;
  errors: FlatError[];
}

export interface DeclarativeErrors {
  fields: Record<string, unknown>;
  flattened: FlatEntityErrors[];
  issues: { path: string; message: string }[];
}

export function formatPath(path: Path): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${p}` : p;
  return out;
}

function setAt(root: Record<string, any>, path: Path, value: unknown): void {
  let cur: any = root;
  for (let i = 0; i < path.length - 1; i++) {
    const seg = path[i];
    if (cur[seg] === undefined || cur[seg] === null || typeof cur[seg] !== 'object') cur[seg] = typeof path[i + 1] === 'number' ? [] : {};
    cur = cur[seg];
  }
  const last = path[path.length - 1];
  if (isPlainObject(cur[last]) && isPlainObject(value)) Object.assign(cur[last], value);
  else cur[last] = value;
}

/** Holes in error arrays (entries without errors) become explicit nulls. */
function fillHoles(v: unknown): unknown {
  if (Array.isArray(v)) return Array.from(v, (x) => (x === undefined ? null : fillHoles(x)));
  if (isPlainObject(v)) for (const k of Object.keys(v)) v[k] = fillHoles(v[k]);
  return v;
}

/** Walks an entity's error tree into flat errors (Kong's `categorize_errors`). */
function categorize(errors: unknown, kongField: string, path: Path, out: FlatError[]): void {
  if (typeof errors === 'string') {
    out.push({ type: 'field', field: kongField, message: errors, path: formatPath(path) });
    return;
  }
  const entries: [string | number, unknown][] = Array.isArray(errors) ? errors.map((v, i) => [i, v]) : Object.entries(errors as object);
  for (const [k, v] of entries) {
    if (v === null || v === undefined) continue;
    if (k === '@entity') {
      for (const m of v as string[]) out.push({ type: 'entity', message: m, path: formatPath(path) });
      continue;
    }
    const name = typeof k === 'number' ? String(k + 1) : k;
    categorize(v, kongField ? `${kongField}.${name}` : name, [...path, k], out);
  }
}

export function buildErrors(top: ErrorTree, pathErrors: { path: Path; message: string }[], bad: Item[]): DeclarativeErrors {
  const fields: Record<string, unknown> = { ...top };
  const issues: { path: string; message: string }[] = [];
  for (const [k, v] of Object.entries(top)) {
    for (const m of Array.isArray(v) ? v : [v]) issues.push({ path: k === '@entity' ? '(top level)' : k, message: String(m) });
  }
  for (const e of pathErrors) {
    setAt(fields, e.path, e.message);
    issues.push({ path: formatPath(e.path), message: e.message });
  }
  const flattened: FlatEntityErrors[] = [];
  for (const item of bad) {
    setAt(fields, item.path, { ...item.errors });
    const errors: FlatError[] = [];
    categorize(item.errors, '', item.path, errors);
    for (const e of errors) issues.push({ path: e.path, message: e.message });
    const name = item.input.name ?? item.input.username;
    const tags = item.input.tags;
    flattened.push({
      entity_type: SINGULAR[item.entity],
      ...(typeof name === 'string' && name ? { entity_name: name } : {}),
      entity_id: item.id,
      ...(Array.isArray(tags) && tags.every((t) => typeof t === 'string') ? { entity_tags: tags as string[] } : {}),
      entity: item.input,
      path: formatPath(item.path),
      errors,
    });
  }
  return { fields: fillHoles(fields) as Record<string, unknown>, flattened, issues };
}

/** Penlight's one-line `pretty.write(t, "")`, which Kong uses in the message. */
export function luaCompact(v: unknown): string {
  if (Array.isArray(v)) {
    const holes = v.some((x) => x === null || x === undefined);
    const parts = v.map((x, i) => (x === null || x === undefined ? null : holes ? `[${i + 1}]=${luaCompact(x)}` : luaCompact(x))).filter((x) => x !== null);
    return `{${parts.join(',')}}`;
  }
  if (isPlainObject(v)) {
    const key = (k: string) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? k : `["${k}"]`);
    return `{${Object.keys(v).sort().map((k) => `${key(k)}=${luaCompact(v[k])}`).join(',')}}`;
  }
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

/** Kong's `POST /config` answer for an invalid configuration. */
export function declarativeError(errors: DeclarativeErrors): HttpError {
  return new HttpError(400, {
    code: ERROR_CODES.DECLARATIVE_CONFIG,
    name: 'invalid declarative configuration',
    message: `declarative config is invalid: ${luaCompact(errors.fields)}`,
    fields: errors.fields,
    flattened_errors: errors.flattened,
  });
}
