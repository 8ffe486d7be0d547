/**
 * Proof that the spend log wrote while the `spend` scenario measured it (bench/run.ts): the rows in
 * the gateway's `<prefix>/spend.db` and the pipeline's drop counter from its Admin `/metrics`. A
 * spend-log figure from a gateway whose log silently wrote nothing would measure nothing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { request } from 'undici';
import { sleep } from './procs.ts';

export interface SpendLogState {
  /** Rows in spend_requests; null: no spend.db (the spend log is off, or never opened its store). */
  rows: number | null;
  /** modelgate_spend_rows_dropped_total by where (worker, primary); null: not on /metrics. */
  dropped: Record<string, number> | null;
}

const DROPPED = /^modelgate_spend_rows_dropped_total\{where="([a-z]+)"\}\s+([0-9.e+]+)$/gm;

/** The drop counter's series from a Prometheus text answer. */
export function droppedOf(metrics: string): Record<string, number> | null {
  const out: Record<string, number> = {};
  for (const m of metrics.matchAll(DROPPED)) out[m[1]] = Number(m[2]);
  return Object.keys(out).length ? out : null;
}

function countRows(prefix: string): number | null {
  const file = path.join(prefix, 'spend.db');
  if (!fs.existsSync(file)) return null;
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    return Number((db.prepare('SELECT count(*) AS n FROM spend_requests').get() as { n: number | bigint }).n);
  } finally {
    db.close();
  }
}

async function dropped(adminPort: number): Promise<Record<string, number> | null> {
  const r = await request(`http://127.0.0.1:${adminPort}/metrics`);
  const text = await r.body.text();
  return r.statusCode === 200 ? droppedOf(text) : null;
}

/**
 * The spend log's state once the rows of the last requests are in: the worker sends its queue
 * every 250 ms and the primary writes what it got, so the count is read until it stops moving
 * (and has reached `expect`, the requests the gateway answered) or `timeoutMs` passes.
 */
export async function spendLogState(adminPort: number, prefix: string, expect: number, timeoutMs = 5000): Promise<SpendLogState> {
  const until = performance.now() + timeoutMs;
  let rows = countRows(prefix);
  for (;;) {
    await sleep(500);
    const again = countRows(prefix);
    const settled = again === rows && (again === null || again >= expect);
    rows = again;
    if (settled || performance.now() > until) break;
  }
  return { rows, dropped: await dropped(adminPort) };
}
