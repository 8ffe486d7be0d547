/**
 * The settings a proxy worker runs with are the primary's, resolved once. Workers used to load
 * their own from the environment, which misses what only the primary was given: `--conf FILE` on
 * the command line (a worker then listened on the default `0.0.0.0:8000` and logged at `info`
 * while the primary announced the file's address and level) and `--declarative`. A worker
 * replaced later also gets what the primary started with, not what the file says by then.
 *
 * The settings travel as JSON in one environment variable of the forked workers (every value is
 * plain data). Secrets a worker never uses are left out; `redis_url` stays, workers count in Redis.
 */
import { loadSettings, type Settings } from '../settings.ts';

export const WORKER_SETTINGS_ENV = 'MODELGATE_WORKER_SETTINGS';

const NOT_FOR_WORKERS = ['admin_token', 'pg_password', 'pg_url'] as const;

/** The environment entry that hands `settings` to the workers. */
export function workerSettingsEnv(settings: Settings): Record<string, string> {
  const copy: Record<string, unknown> = { ...settings };
  for (const key of NOT_FOR_WORKERS) copy[key] = null;
  return { [WORKER_SETTINGS_ENV]: JSON.stringify(copy) };
}

/** In a worker: the primary's settings; from the environment when run on its own. */
export function workerSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const handed = env[WORKER_SETTINGS_ENV];
  return handed ? (JSON.parse(handed) as Settings) : loadSettings(env);
}
