/**
 * An error as log fields: its type, message, code and stack, and the same for its `cause` chain.
 * A 500 that only says "An unexpected error occurred" is useless to an operator without the error
 * underneath it (a database error wrapped by the DAO, say), so the chain is followed; a few levels
 * are enough and guard against a cycle. Secrets are masked by the logger itself (redact.ts).
 */

const MAX_DEPTH = 4;

export interface ErrorFields {
  type: string;
  message: string;
  code?: string;
  stack?: string;
  cause?: ErrorFields;
}

export function errorFields(e: unknown, depth = 0): ErrorFields {
  if (!(e instanceof Error)) return { type: typeof e, message: describeValue(e) };
  const out: ErrorFields = { type: e.name, message: e.message };
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' || typeof code === 'number') out.code = String(code);
  if (e.stack) out.stack = e.stack;
  if (e.cause !== undefined && e.cause !== e && depth + 1 < MAX_DEPTH) out.cause = errorFields(e.cause, depth + 1);
  return out;
}

function describeValue(v: unknown): string {
  if (typeof v === 'string') return v;
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
