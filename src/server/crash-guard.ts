/**
 * The primary's last line of defence. Node's default for an uncaught exception or an unhandled
 * rejection is to exit at once, which for the primary means the Admin API, the change feed and
 * the snapshot publisher gone, and the workers draining away behind it: one bug in an Admin API
 * code path (an emitter's 'error' nobody listens to, a forgotten promise) would stop the whole
 * node. Here such an error is logged with its stack, the Admin API request it happened for (if
 * any) is answered 500, and the primary keeps running.
 *
 * Continuing is safe enough here because the primary holds little state an interrupted callback
 * can corrupt: the store is transactional, a snapshot is rebuilt whole from it, and a worker that
 * misses one gets the next. What cannot be continued from is fatal: an error marked `fatal: true`
 * (FatalError) or Node reporting its own internal state broken (ERR_INTERNAL_ASSERTION). Then the
 * gateway stops the way SIGTERM stops it (Admin API closed, workers drained), with a deadline,
 * and the process exits with EXIT_FATAL so a supervisor restarts it.
 */
import type { Logger } from 'pino';

/** EX_SOFTWARE (sysexits.h), as a proxy worker's uncaught exception. */
export const EXIT_FATAL = 70;

/** An error the primary must not continue after. */
export class FatalError extends Error {
  readonly fatal = true;
}

export function isFatal(e: unknown): boolean {
  const err = e as { fatal?: unknown; code?: unknown } | null | undefined;
  return err?.fatal === true || err?.code === 'ERR_INTERNAL_ASSERTION';
}

export interface CrashGuardOptions {
  log: Logger;
  /** Answers whoever was waiting on the code that failed (the Admin API request in scope); returns it for the log. */
  answer?: () => Record<string, unknown> | null;
  /** Stops the gateway cleanly (drains the workers). */
  stop: () => Promise<void>;
  /** The longest a fatal stop may take before the process exits anyway. */
  deadlineMs: number;
  exit?: (code: number) => void;
}

/** Installs the process-level handlers; returns what removes them. */
export function installCrashGuard(opts: CrashGuardOptions): () => void {
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  let stopping = false;

  const handle = (e: unknown, origin: string) => {
    let request: Record<string, unknown> | null = null;
    try {
      request = opts.answer?.() ?? null;
    } catch (inner) {
      opts.log.error({ err: inner }, 'could not answer the request a failure happened in');
    }
    const fields = { err: e, origin, ...(request ? { request } : {}) };
    if (stopping) {
      opts.log.error(fields, 'unexpected error while stopping');
      return;
    }
    if (!isFatal(e)) {
      opts.log.error(fields, 'unexpected error in the control plane; it keeps running');
      return;
    }
    stopping = true;
    opts.log.fatal(fields, 'fatal error in the control plane; stopping the gateway');
    setTimeout(() => {
      opts.log.fatal({ deadline_ms: opts.deadlineMs }, 'the gateway did not stop in time; exiting');
      exit(EXIT_FATAL);
    }, opts.deadlineMs).unref();
    opts
      .stop()
      .catch((err: unknown) => opts.log.error({ err }, 'stopping after a fatal error failed'))
      .finally(() => exit(EXIT_FATAL));
  };

  const onUncaught = (e: Error, origin: string) => handle(e, origin);
  const onUnhandled = (reason: unknown) => handle(reason, 'unhandledRejection');
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUnhandled);
  return () => {
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUnhandled);
  };
}
