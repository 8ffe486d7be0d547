/**
 * `{vault://env/NAME}` references in referenceable fields (Kong's env vault): resolved when a
 * snapshot is compiled, so keys need not be stored in the database. The name is upper-cased with
 * `-` turned into `_`; `{vault://env/NAME#2}` reads `NAME_PREVIOUS` (Kong's rotation convention).
 * A reference that cannot be resolved is an error: the plugin then fails closed.
 */
import type { Field } from '../schema/types.ts';

const REF = /^\{vault:\/\/env\/([^}#/]+)(?:#(\d+))?\}$/;

export function isVaultReference(v: unknown): v is string {
  return typeof v === 'string' && v.startsWith('{vault://');
}

export function resolveReference(ref: string, env: NodeJS.ProcessEnv = process.env): string {
  const m = REF.exec(ref);
  if (!m) throw new Error(`unsupported vault reference ${ref} (only {vault://env/NAME} is available)`);
  const name = m[1].toUpperCase().replace(/-/g, '_') + (m[2] === '2' ? '_PREVIOUS' : '');
  const value = env[name];
  if (value === undefined || value === '') throw new Error(`vault reference ${ref}: environment variable ${name} is not set`);
  return value;
}

/** Returns a copy of `value` with every referenceable string field resolved; secrets are reported to `onSecret`. */
export function resolveVaultReferences(field: Field, value: any, onSecret: (s: string) => void): any {
  if (value === null || value === undefined) return value;
  if (field.type === 'record' && field.fields && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const f = field.fields[k];
      out[k] = f ? resolveVaultReferences(f, v, onSecret) : v;
    }
    return out;
  }
  if ((field.type === 'array' || field.type === 'set') && field.elements && Array.isArray(value)) {
    return value.map((v) => resolveVaultReferences(field.elements!, v, onSecret));
  }
  if (field.type === 'string' && typeof value === 'string') {
    const resolved = field.referenceable && isVaultReference(value) ? resolveReference(value) : value;
    if (field.encrypted) onSecret(resolved);
    return resolved;
  }
  return value;
}
