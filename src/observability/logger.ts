/**
 * The process logger: pino JSON lines on stdout, every line scrubbed of registered secrets
 * (redact.ts) at the last moment, whatever code produced it.
 */
import pino, { type Logger } from 'pino';
import { redact } from './redact.ts';

export type { Logger };

let root: Logger = pino({ level: 'info' });

export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  root = pino({
    level,
    base: { pid: process.pid, ...bindings },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    // an Error logged as `err` keeps its `cause` chain as nested objects, each with its own code
    // and stack: the 500 an operator reads about is mostly a wrapper around the error that matters
    serializers: { err: pino.stdSerializers.errWithCause },
    hooks: { streamWrite: redact },
  });
  return root;
}

export function logger(): Logger {
  return root;
}
