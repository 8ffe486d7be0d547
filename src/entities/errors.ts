/**
 * Kong's DAO error objects (`kong/db/errors.lua`): `{code, name, message, fields}`, and the HTTP
 * status the Admin API answers each with.
 */
import type { ErrorTree } from '../schema/types.ts';

export const ERROR_CODES = {
  SCHEMA_VIOLATION: 2,
  PRIMARY_KEY_VIOLATION: 3,
  FOREIGN_KEY_VIOLATION: 4,
  UNIQUE_VIOLATION: 5,
  NOT_FOUND: 6,
  INVALID_OFFSET: 7,
  DATABASE_ERROR: 8,
  INVALID_SIZE: 9,
  OPERATION_UNSUPPORTED: 12,
  DECLARATIVE_CONFIG: 14,
} as const;

const NAMES: Record<number, string> = {
  2: 'schema violation',
  3: 'primary key violation',
  4: 'foreign key violation',
  5: 'unique constraint violation',
  6: 'not found',
  7: 'invalid offset',
  8: 'database error',
  9: 'invalid size',
  12: 'operation unsupported',
  14: 'invalid declarative configuration',
};

const STATUS: Record<number, number> = { 2: 400, 3: 409, 4: 400, 5: 409, 6: 404, 7: 400, 8: 500, 9: 400, 12: 405, 14: 400 };

/** An error the Admin API answers with a given status and JSON body. */
export class HttpError extends Error {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly headers?: Record<string, string>;
  constructor(status: number, body: Record<string, unknown>, headers?: Record<string, string>) {
    super(typeof body.message === 'string' ? body.message : `HTTP ${status}`);
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
}

export function daoError(code: number, message: string, fields?: unknown): HttpError {
  const body: Record<string, unknown> = { code, name: NAMES[code], message };
  if (fields !== undefined) body.fields = fields;
  return new HttpError(STATUS[code] ?? 400, body);
}

/** Penlight's `pretty.write`, which Kong uses to render nested errors inside messages. */
export function luaPretty(value: unknown, indent = ''): string {
  const inner = indent + '  ';
  if (Array.isArray(value)) {
    if (value.length === 0) return '{}';
    return `{\n${value.map((v) => inner + luaPretty(v, inner)).join(',\n')}\n${indent}}`;
  }
  if (value && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    if (keys.length === 0) return '{}';
    const key = (k: string) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? k : `["${k}"]`);
    return `{\n${keys.map((k) => `${inner}${key(k)} = ${luaPretty((value as Record<string, unknown>)[k], inner)}`).join(',\n')}\n${indent}}`;
  }
  if (typeof value === 'string') return JSON.stringify(value);
  return String(value);
}

/** Kong's schema-violation message: entity errors first, then fields in sorted order. */
export function schemaViolationMessage(errors: ErrorTree): string {
  const buf: string[] = [];
  const entity = errors['@entity'];
  if (Array.isArray(entity)) for (const e of entity) buf.push(String(e));
  for (const name of Object.keys(errors).sort()) {
    if (name === '@entity') continue;
    const fe = errors[name];
    if (fe && typeof fe === 'object') {
      const subKeys = Array.isArray(fe) ? fe.map((_, i) => String(i + 1)).filter((_, i) => fe[i] !== null) : Object.keys(fe).sort();
      for (const sub of subKeys) {
        const v = Array.isArray(fe) ? fe[Number(sub) - 1] : (fe as ErrorTree)[sub];
        buf.push(`${name}.${sub}: ${typeof v === 'object' && v !== null ? luaPretty(v) : String(v)}`);
      }
    } else buf.push(`${name}: ${String(fe)}`);
  }
  return buf.length === 1 ? `schema violation (${buf[0]})` : `${buf.length} schema violations (${buf.join('; ')})`;
}

export function schemaViolation(errors: ErrorTree): HttpError {
  return daoError(ERROR_CODES.SCHEMA_VIOLATION, schemaViolationMessage(errors), errors);
}

/** Lua table literal for a primary/unique key, e.g. `{name="x"}`, as Kong prints it. */
export function luaKey(obj: Record<string, unknown>): string {
  const parts = Object.keys(obj)
    .sort()
    .map((k) => {
      const v = obj[k];
      if (v === null || v === undefined) return `${k}=null`;
      if (typeof v === 'object') return `${k}=${luaKey(v as Record<string, unknown>)}`;
      return typeof v === 'string' ? `${k}="${v}"` : `${k}=${String(v)}`;
    });
  return `{${parts.join(',')}}`;
}

export const notFound = (): HttpError => new HttpError(404, { message: 'Not found' });
