/**
 * TEST-ONLY fault injection: bugs planted on purpose, so integration tests can check that the
 * control plane survives its own bugs (test/integration/admin-robustness.test.ts).
 *
 * Inert unless the primary's environment has `MODELGATE_TEST_FAULTS=1`: then, and only then, the
 * Admin API gets `POST /__test/faults/{kind}`. Never set it on a real gateway: whoever reaches the
 * Admin API could stop it (`fatal`). It is not a setting (not in settings.ts, nor in `GET /`).
 *
 *   throw      the handler throws
 *   reject     the handler's promise rejects, after an await
 *   uncaught   an event emitter the handler started emits 'error' with no listener, outside the
 *              request's promise chain, and the handler waits for an event that never comes
 *              (what such a bug does to a request)
 *   unhandled  a promise the handler started and forgot rejects; the handler waits likewise
 *   fatal      an error marked fatal, thrown outside the request: the gateway must stop, cleanly
 *
 * The waits end after 10 s with a 200, so a test sees "nobody answered the request" as a wrong
 * status rather than a hang.
 */
import { EventEmitter } from 'node:events';
import type { FastifyInstance } from 'fastify';

export const TEST_FAULTS_ENV = 'MODELGATE_TEST_FAULTS';

const NEVER_ANSWERED_MS = 10_000;

const fault = (kind: string) => new Error(`test fault: ${kind}`);

function unanswered(): Promise<{ message: string }> {
  return new Promise((resolve) => setTimeout(() => resolve({ message: 'the fault was not handled' }), NEVER_ANSWERED_MS).unref());
}

const FAULTS: Record<string, () => Promise<unknown>> = {
  throw: () => {
    throw fault('throw');
  },
  reject: async () => {
    await new Promise((resolve) => setImmediate(resolve));
    throw fault('reject');
  },
  uncaught: () => {
    const emitter = new EventEmitter();
    setImmediate(() => emitter.emit('error', fault('uncaught')));
    return unanswered();
  },
  unhandled: () => {
    void (async () => {
      await new Promise((resolve) => setImmediate(resolve));
      throw fault('unhandled');
    })();
    return unanswered();
  },
  fatal: () => {
    setImmediate(() => {
      throw Object.assign(fault('fatal'), { fatal: true });
    });
    return unanswered();
  },
};

export function registerTestFaults(app: FastifyInstance, env: NodeJS.ProcessEnv = process.env): void {
  if (env[TEST_FAULTS_ENV] !== '1') return;
  app.post('/__test/faults/:kind', async (req, reply) => {
    const run = FAULTS[(req.params as { kind: string }).kind];
    if (!run) return reply.code(404).send({ message: 'Not found' });
    return reply.code(200).send(await run());
  });
}
