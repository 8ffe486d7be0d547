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
 * The seeder is the worker's question to the primary's spend log over IPC (src/spend/cost-query.ts,
 * installed by src/server/worker.ts when the spend log is on), so SQLite and PostgreSQL nodes are
 * seeded alike; without it (spend log off) nothing is seeded.
 */
export type SpendSeeder = (consumerId: string, from: number, to: number) => Promise<number>;

let installed: SpendSeeder | null = null;

export function installSpendSeeder(seeder: SpendSeeder | null): void {
  installed = seeder;
}

export function spendSeeder(): SpendSeeder | null {
  return installed;
}
