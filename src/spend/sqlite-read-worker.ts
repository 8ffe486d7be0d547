/** The query thread of sqlite-reads.ts: the store's own query code over a read-only connection. */
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteSpendStore, SpendCursorError } from './sqlite.ts';
import { UsageTooLargeError } from './types.ts';

const store = new SqliteSpendStore((workerData as { file: string }).file, { readOnly: true });

parentPort!.on('message', async (call: { id: number; op: 'usage' | 'requests'; q: never }) => {
  try {
    const value = call.op === 'usage' ? await store.usage(call.q) : await store.requests(call.q);
    parentPort!.postMessage({ id: call.id, ok: true, value });
  } catch (e) {
    parentPort!.postMessage({ id: call.id, ok: false, message: (e as Error).message, cursor: e instanceof SpendCursorError, tooLarge: e instanceof UsageTooLargeError });
  }
});
