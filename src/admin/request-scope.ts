/**
 * Which Admin API request the running code works for. Fastify turns a handler's throw or rejected
 * promise into a 500 itself, but an error thrown outside the request's promise chain (an event
 * emitter's 'error', a timer, a promise nobody awaited) reaches only the process-level handlers
 * (src/server/crash-guard.ts), and the request would wait for an answer that never comes. Through
 * this scope those handlers find the request the error happened for, and answer it.
 *
 * The scope is entered in `preHandler`, once the body has been read: a request's body arrives
 * through the socket's own callbacks, which would not carry a scope entered earlier.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { UNEXPECTED } from './error-reply.ts';

const scope = new AsyncLocalStorage<FastifyReply>();

/** Runs every handler of `app` in its request's scope. */
export function enterRequestScope(app: FastifyInstance): void {
  app.addHook('preHandler', (_req, reply, done) => scope.run(reply, done));
}

/**
 * Answers the request the current code runs for with a 500, unless it was answered already.
 * Returns that request, for the log line (null: the code ran for no request).
 */
export function failCurrentRequest(): { method: string; path: string; answered_500: boolean } | null {
  const reply = scope.getStore();
  if (!reply) return null;
  const request = { method: reply.request.method, path: reply.request.url.split('?')[0] };
  if (reply.sent) return { ...request, answered_500: false };
  reply.code(500).send({ ...UNEXPECTED });
  return { ...request, answered_500: true };
}
