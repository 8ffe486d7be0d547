/**
 * Seeding `local` budget counters from the spend log after a restart. Local counters live in the
 * primary's memory and start at zero with it; what was spent before is in the spend log.
 *
 * A bucket is seeded once per node (a marker counter in the primary elects the one worker that
 * seeds), on the consumer's first request in it since the primary started, with
 * costOf(consumer, bucketStart, min(bucketEnd, now)). Nothing of this primary's life is in that
 * sum yet: the consumer's earlier requests since the start would have seeded already, and rows
 * reach the spend log a batch (~250 ms) after their answer, so only a request of the same
 * consumer in flight on another worker at that very moment can be missed.
 *
 * The seeder: one installed with installSpendSeeder (a PostgreSQL node's, once the workers can ask
 * the primary's SpendStore), else, on a node whose spend log is SQLite (`<prefix>/spend.db`, written
 * by the primary), the worker reads that file itself, read-only. PostgreSQL nodes without an
 * installed seeder are not seeded (they should use `strategy: redis`, whose counters persist).
 */
import { DatabaseSync } from 'node:sqlite';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { workerSettings } from '../../server/worker-settings.ts';
import { logger } from '../../observability/logger.ts';

export type SpendSeeder = (consumerId: string, from: number, to: number) => Promise<number>;

let installed: SpendSeeder | null = null;
let fallback: SpendSeeder | null | undefined;

export function installSpendSeeder(seeder: SpendSeeder | null): void {
  installed = seeder;
}

/** The spend store's file and table (src/spend/store.ts SPEND_DB_FILE, src/spend/sqlite.ts). */
const SPEND_DB_FILE = 'spend.db';
const COST_SQL = 'SELECT TOTAL(cost) AS cost FROM spend_requests WHERE consumer_id = ? AND time >= ? AND time < ?';

function sqliteSeeder(): SpendSeeder | null {
  const settings = workerSettings();
  if (!settings.spend_log || settings.database === 'postgres') return null;
  const file = path.join(settings.prefix, SPEND_DB_FILE);
  let db: DatabaseSync | null = null;
  return async (consumerId, from, to) => {
    if (!db) {
      if (!existsSync(file)) return 0; // no spend recorded on this node yet
      db = new DatabaseSync(file, { readOnly: true });
      db.exec('PRAGMA busy_timeout = 1000;');
    }
    try {
      return (db.prepare(COST_SQL).get(consumerId, from, to) as { cost: number }).cost;
    } catch (e) {
      logger().warn({ plugin: 'ai-budget', err: (e as Error).message }, 'could not read the spend log to seed a budget; counting from zero');
      return 0;
    }
  };
}

export function spendSeeder(): SpendSeeder | null {
  if (installed) return installed;
  if (fallback === undefined) {
    try {
      fallback = sqliteSeeder();
    } catch {
      fallback = null;
    }
  }
  return fallback;
}
