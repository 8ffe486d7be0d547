/**
 * What a PostgreSQL failure means to the control plane. The Admin API answers "the database is
 * unavailable" (503, docs/cluster.md) for every state where the database cannot be reached or
 * refuses work, and keeps 500 for what is a bug or a broken schema. The rules:
 *
 * - Failing to get a connection at all is always `unavailable`, whatever the reason: refused,
 *   down, starting up or shutting down (57P03), not accepting connections (55000: `ALTER DATABASE
 *   ... ALLOW_CONNECTIONS false`), too many clients (53300), bad credentials, a dropped database.
 *   The client can do nothing about any of them; the operator reads the reason in the log. The
 *   store applies this rule where it connects (`PostgresStore`); this module classifies the rest.
 * - On a connection, by SQLSTATE: classes 08 (connection exception), 53 (insufficient resources:
 *   disk full, out of memory), 57 (operator intervention: admin or crash shutdown, query
 *   cancelled by the statement timeout), 58 (system error: I/O); and 25006 (a read-only
 *   transaction: the node points at a standby, or the database was made read-only) and 25P03
 *   (the server closed an idle transaction).
 * - Node's socket errors (ECONNRESET, ETIMEDOUT, EAI_AGAIN ...) and node-postgres's own
 *   (client-side timeouts, a connection that ended), which carry no SQLSTATE.
 * - 40001 (serialization failure) and 40P01 (deadlock) are `conflict`: the transaction may simply
 *   be run again. SQLSTATE codes are matched, never messages, where the server gives one: its
 *   messages are translated by `lc_messages`.
 */

export type PgFailure = 'unavailable' | 'conflict' | 'other';

const UNAVAILABLE_CLASSES = new Set(['08', '53', '57', '58']);
const UNAVAILABLE_CODES = new Set(['25006', '25P03']);
const CONFLICT_CODES = new Set(['40001', '40P01']);

/** System error codes (`ECONNREFUSED`, `EAI_AGAIN`), not Node's `ERR_*` programming errors. */
const SOCKET_CODE = /^E(?!RR_)[A-Z_]+$/;

/** node-postgres's errors without a code: client-side timeouts and connections that ended. */
const CLIENT_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|Query read timeout|connection timeout|not queryable|Client has encountered a connection error|Cannot use a pool after calling end/i;

const SQLSTATE = /^[0-9A-Z]{5}$/;

export function classifyPgError(e: unknown): PgFailure {
  const err = e as { code?: unknown; message?: unknown } | null | undefined;
  const code = typeof err?.code === 'string' ? err.code : '';
  // first: `EPIPE` has a SQLSTATE's shape (no SQLSTATE class starts with E)
  if (SOCKET_CODE.test(code)) return 'unavailable';
  if (SQLSTATE.test(code)) {
    if (CONFLICT_CODES.has(code)) return 'conflict';
    if (UNAVAILABLE_CODES.has(code) || UNAVAILABLE_CLASSES.has(code.slice(0, 2))) return 'unavailable';
    return 'other';
  }
  const message = typeof err?.message === 'string' ? err.message : '';
  return CLIENT_MESSAGES.test(message) ? 'unavailable' : 'other';
}
