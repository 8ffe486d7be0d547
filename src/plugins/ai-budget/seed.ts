/**
 * SEAM (spend log not wired yet): seeding `local` budget counters from the spend log after a
 * restart. Local counters live in the primary's memory and start at zero with it; the spend
 * recorded before that start is in the spend log (src/spend/, SpendStore.costOf). Whoever wires
 * the spend store into the workers installs a seeder here:
 *
 *   installSpendSeeder((consumerId, from, to) => <SpendStore.costOf over IPC to the primary>, primaryStartedAt)
 *
 * `countersSince` is when the node's counters started (the primary's start): spend from then on is
 * in the counters already, so a bucket is seeded with costOf(consumer, bucketStart,
 * min(bucketEnd, countersSince)) exactly once per node (a marker counter elects the one worker that
 * seeds), lazily on the consumer's first request in that bucket. Until a seeder is installed,
 * nothing is seeded: local budgets start from zero after a restart (Redis counters persist).
 * Only `identifier: consumer` is seeded (the spend log is queried by consumer).
 */
export type SpendSeeder = (consumerId: string, from: number, to: number) => Promise<number>;

let installed: { seeder: SpendSeeder; countersSince: number } | null = null;

export function installSpendSeeder(seeder: SpendSeeder | null, countersSince = Date.now()): void {
  installed = seeder ? { seeder, countersSince } : null;
}

export function spendSeeder(): { seeder: SpendSeeder; countersSince: number } | null {
  return installed;
}
