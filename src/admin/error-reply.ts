/**
 * How the Admin API answers an error, and which errors it logs. Every answer is JSON in Kong's
 * shapes: an HttpError carries its own status and body; Fastify's client errors keep their 4xx;
 * anything else is a bug and gets Kong's generic 500, with the details kept out of the answer.
 *
 * Every 5xx is logged with its cause (the answer itself says nothing useful to an operator): a
 * 500 at `error` with the stack of the error and of what it wraps; a 503 (the database refuses
 * work, docs/cluster.md) at `warn` with the database's reason, without stacks: it is an outage,
 * not a bug, and the publisher already marks its start and end.
 */
import type { Logger } from 'pino';
import { HttpError } from '../entities/errors.ts';

export const UNEXPECTED = Object.freeze({ message: 'An unexpected error occurred' });

export interface ErrorAnswer {
  status: number;
  body: Record<string, unknown>;
  headers?: Record<string, string>;
}

export function errorAnswer(err: unknown): ErrorAnswer {
  if (err instanceof HttpError) return { status: err.status, body: err.body, headers: err.headers };
  const e = err as { statusCode?: unknown; code?: unknown; message?: unknown };
  if (e?.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return { status: 413, body: { message: 'Payload too large' } };
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) return { status: e.statusCode, body: { message: String(e.message) } };
  return { status: 500, body: { ...UNEXPECTED } };
}

/** Logs a 5xx answer with what caused it; other answers are the client's business. */
export function logErrorAnswer(log: Logger, req: { method: string; url: string }, status: number, err: unknown): void {
  if (status < 500) return;
  // the query string is left out: the Admin API's never needs to be in a log
  const where = { method: req.method, path: req.url.split('?')[0], status };
  if (status === 503) {
    const cause = (err as { cause?: unknown })?.cause ?? err;
    log.warn({ ...where, err: (cause as Error)?.message ?? String(cause) }, 'admin API: the database is unavailable');
    return;
  }
  log.error({ ...where, err }, 'admin API error');
}
