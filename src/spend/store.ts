/**
 * Which SpendStore a node uses, by `MODELGATE_DATABASE`: SQLite in its own file (`<prefix>/spend.db`,
 * apart from the config database: see sqlite.ts) on a single node and on a DB-less node, the
 * cluster's PostgreSQL with many nodes. The primary opens it once (src/server/primary.ts); the Admin
 * API's `/usage` reads the same handle through `spendStore()`.
 */
import path from 'node:path';
import type { Settings } from '../settings.ts';
import type { SpendStore } from './types.ts';
import { SqliteSpendStore } from './sqlite.ts';
import { SqliteReadThread, withReadThread } from './sqlite-reads.ts';

export const SPEND_DB_FILE = 'spend.db';

type Opener = (settings: Settings) => Promise<SpendStore>;

const local: Opener = async (settings) => {
  const file = path.join(settings.prefix, SPEND_DB_FILE);
  const store = new SqliteSpendStore(file); // creates the file and its schema before the reader opens it
  return withReadThread(store, new SqliteReadThread(file));
};

const OPENERS: Record<Settings['database'], Opener> = {
  sqlite: local,
  off: local,
  postgres: async (settings) => {
    // loaded only with PostgreSQL: SQLite nodes never carry pg's spend code
    const [{ PostgresSpendStore }, { pgConfig }] = await Promise.all([import('./postgres.ts'), import('../store/postgres.ts')]);
    const store = new PostgresSpendStore(pgConfig(settings));
    try {
      await store.open();
    } catch (e) {
      await store.close().catch(() => {});
      throw e;
    }
    return store;
  },
};

let current: SpendStore | null = null;

/** Opens the node's spend store (the primary, once); it is then what `spendStore()` returns. */
export async function openSpendStore(settings: Settings): Promise<SpendStore> {
  const store = await OPENERS[settings.database](settings);
  current = store;
  return store;
}

/** The open spend store, for the Admin API's `/usage`; null when the spend log is off or not open (yet). */
export function spendStore(): SpendStore | null {
  return current;
}

/** Closes the open store (shutdown); `spendStore()` is null after. */
export async function closeSpendStore(): Promise<void> {
  const store = current;
  current = null;
  await store?.close();
}
