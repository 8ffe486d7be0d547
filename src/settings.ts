/**
 * Settings: defaults, overridden by an optional config file (YAML or JSON, `MODELGATE_CONF` or
 * `--conf`), overridden by `MODELGATE_*` environment variables. Every value is parsed and checked
 * here once; a bad one stops start-up with a single line naming the setting.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { createRequire } from 'node:module';
import { PricesError, readPriceFile } from './spend/prices.ts';
import { DEFAULT_INSTRUMENTATIONS, INSTRUMENTATIONS, type Instrumentation } from './observability/otel/instrumentations.ts';

export interface ListenAddress {
  host: string;
  port: number;
}

export interface Settings {
  proxy_listen: ListenAddress[];
  admin_listen: ListenAddress[];
  status_listen: ListenAddress[];
  prefix: string;
  workers: number;
  log_level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** One log line per proxied request (with its request id). */
  access_log: boolean;
  database: 'sqlite' | 'postgres' | 'off';
  pg_url: string | null;
  pg_host: string;
  pg_port: number;
  pg_user: string;
  pg_password: string | null;
  pg_database: string;
  /** Connect and statement timeout: a down or blackholed database fails an Admin write within it. */
  pg_timeout_ms: number;
  pg_pool_size: number;
  /** Safety net for missed LISTEN/NOTIFY change notifications: how often the config version is compared. */
  pg_poll_interval_ms: number;
  /** PostgreSQL mode: how often a node writes its row of the node registry (src/server/cluster-nodes.ts). */
  cluster_heartbeat_ms: number;
  declarative_config: string | null;
  redis_url: string | null;
  /** Connect and command timeout for Redis: an outage falls back to local counting within it. */
  redis_timeout_ms: number;
  admin_token: string | null;
  admin_gui_origin: string | null;
  /** The Admin GUI's own listener (src/gui/): static assets, and the Admin API under `/api`. */
  admin_gui_listen: ListenAddress[];
  /** Kong's `tracing_instrumentations`: which spans a request traced by the opentelemetry plugin records (src/observability/otel/instrumentations.ts). */
  tracing_instrumentations: Instrumentation[];
  /** Extra names the Admin API answers to (besides its listen addresses and localhost). */
  admin_hosts: string[];
  /** SIGTERM: how long in-flight requests and streams may run before they are cut. */
  drain_timeout_ms: number;
  client_header_timeout_ms: number;
  client_body_timeout_ms: number;
  keepalive_timeout_ms: number;
  /** Body limit for proxied requests without a plugin setting of their own. */
  max_body_size: number;
  /** Largest provider answer the gateway holds in memory to translate (before and after decompression). */
  max_response_size: number;
  /** Longest a streamed response may last (0: no limit, Kong's behaviour). */
  max_stream_duration_ms: number;
  /** Egress: extra CIDRs or hosts the proxy refuses to connect to, and the allow-list (empty: any). */
  egress_deny: string[];
  egress_allow: string[];
  /** Let connections reach cloud metadata addresses (169.254.169.254 ...). Off by default. */
  allow_metadata_egress: boolean;
  /** How long an Admin API write waits for every worker to apply it before answering. */
  propagation_wait_ms: number;
  /** The spend log (one row per proxied AI request, src/spend/): on, or off (no rows, no writer). */
  spend_log: boolean;
  /** Spend rows and rollups older than this many days are dropped. */
  spend_retention_days: number;
  /** Spend rows the primary holds in memory while its store refuses writes; beyond, rows are dropped and counted. */
  spend_queue_rows: number;
  /** A JSON price file (data/prices.schema.json) whose entries add to or replace the bundled price table. */
  prices_file: string | null;
}

export class SettingsError extends Error {}

type Parser<T> = (raw: string, name: string) => T;

function fail(name: string, raw: string, expected: string): never {
  throw new SettingsError(`${name}: invalid value '${raw}' (${expected})`);
}

export function parseListen(raw: string, name: string): ListenAddress[] {
  if (raw.trim() === 'off') return [];
  return raw.split(',').map((entry) => {
    const addr = entry.trim().split(/\s+/)[0]; // Kong flags like `reuseport` are accepted and ignored
    const m = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/.exec(addr);
    if (!m) fail(name, raw, 'expected host:port, or off');
    const host = m[1] ?? m[2];
    const port = Number(m[3]);
    if (port > 65535) fail(name, raw, 'port must be between 0 and 65535');
    if (!net.isIP(host) && !/^[A-Za-z0-9.-]+$/.test(host)) fail(name, raw, 'bad host');
    return { host, port };
  });
}

const int =
  (min: number, max: number): Parser<number> =>
  (raw, name) => {
    const n = Number(raw);
    if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min || n > max) fail(name, raw, `expected an integer between ${min} and ${max}`);
    return n;
  };

const str: Parser<string> = (raw) => raw;
const optStr: Parser<string | null> = (raw) => (raw === '' || raw === 'off' ? null : raw);
const bool: Parser<boolean> = (raw, name) => {
  if (/^(on|true|yes|1)$/i.test(raw)) return true;
  if (/^(off|false|no|0)$/i.test(raw)) return false;
  return fail(name, raw, 'expected on or off');
};
const list: Parser<string[]> = (raw) =>
  raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
const oneOf =
  <T extends string>(values: readonly T[]): Parser<T> =>
  (raw, name) => {
    if (!(values as readonly string[]).includes(raw)) fail(name, raw, `expected one of: ${values.join(', ')}`);
    return raw as T;
  };
const size: Parser<number> = (raw, name) => {
  const m = /^(\d+)\s*([kmg]?)b?$/i.exec(raw.trim());
  if (!m) fail(name, raw, 'expected a size like 20m');
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Number(m[1]) * mult;
};

/** A price file is read and checked at start-up: a bad one stops the gateway, never a request. */
const pricesFile: Parser<string | null> = (raw, name) => {
  if (raw === '' || raw === 'off') return null;
  const file = path.resolve(raw);
  try {
    readPriceFile(file, 'override');
  } catch (e) {
    if (e instanceof PricesError) throw new SettingsError(`${name}: ${e.message}`);
    throw e;
  }
  return file;
};

interface Spec<K extends keyof Settings> {
  parse: Parser<Settings[K]>;
  default: () => string;
}

const SPECS: { [K in keyof Settings]: Spec<K> } = {
  proxy_listen: { parse: parseListen, default: () => '0.0.0.0:8000' },
  admin_listen: { parse: parseListen, default: () => '127.0.0.1:8001' },
  status_listen: { parse: parseListen, default: () => 'off' },
  prefix: { parse: (raw) => path.resolve(raw), default: () => '.modelgate' },
  workers: { parse: int(1, 256), default: () => String(os.availableParallelism()) },
  log_level: { parse: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const), default: () => 'info' },
  access_log: { parse: bool, default: () => 'on' },
  database: { parse: oneOf(['sqlite', 'postgres', 'off'] as const), default: () => 'sqlite' },
  pg_url: { parse: optStr, default: () => '' },
  pg_host: { parse: str, default: () => '127.0.0.1' },
  pg_port: { parse: int(1, 65535), default: () => '5432' },
  pg_user: { parse: str, default: () => 'modelgate' },
  pg_password: { parse: optStr, default: () => '' },
  pg_database: { parse: str, default: () => 'modelgate' },
  pg_timeout_ms: { parse: int(100, 600_000), default: () => '5000' },
  pg_pool_size: { parse: int(1, 1000), default: () => '10' },
  pg_poll_interval_ms: { parse: int(100, 3_600_000), default: () => '5000' },
  cluster_heartbeat_ms: { parse: int(100, 3_600_000), default: () => '10000' },
  declarative_config: { parse: optStr, default: () => '' },
  redis_url: { parse: optStr, default: () => '' },
  redis_timeout_ms: { parse: int(10, 60_000), default: () => '1000' },
  admin_token: { parse: optStr, default: () => '' },
  admin_gui_origin: { parse: optStr, default: () => '' },
  admin_gui_listen: { parse: parseListen, default: () => '127.0.0.1:8002' },
  tracing_instrumentations: {
    parse: (raw, name) => {
      const values = list(raw, name);
      for (const v of values) if (!(INSTRUMENTATIONS as readonly string[]).includes(v)) fail(name, raw, `expected a comma-separated list of: ${INSTRUMENTATIONS.join(', ')}`);
      if (values.length === 0) fail(name, raw, 'expected off, all, or a list of instrumentations');
      if (values.length > 1 && (values.includes('off') || values.includes('all'))) fail(name, raw, 'off and all stand alone');
      return values as Instrumentation[];
    },
    default: () => DEFAULT_INSTRUMENTATIONS,
  },
  admin_hosts: { parse: list, default: () => '' },
  drain_timeout_ms: { parse: int(0, 3_600_000), default: () => '30000' },
  client_header_timeout_ms: { parse: int(1, 3_600_000), default: () => '60000' },
  client_body_timeout_ms: { parse: int(1, 3_600_000), default: () => '60000' },
  keepalive_timeout_ms: { parse: int(0, 3_600_000), default: () => '75000' },
  max_body_size: { parse: size, default: () => '20m' },
  max_response_size: { parse: size, default: () => '64m' },
  max_stream_duration_ms: { parse: int(0, 86_400_000), default: () => '0' },
  egress_deny: { parse: list, default: () => '' },
  egress_allow: { parse: list, default: () => '' },
  allow_metadata_egress: { parse: bool, default: () => 'off' },
  propagation_wait_ms: { parse: int(0, 60_000), default: () => '2000' },
  spend_log: { parse: bool, default: () => 'on' },
  spend_retention_days: { parse: int(1, 3650), default: () => '30' },
  spend_queue_rows: { parse: int(1, 10_000_000), default: () => '100000' },
  prices_file: { parse: pricesFile, default: () => '' },
};

/** Settings whose values are secrets: never logged, never shown by `GET /`. */
export const SECRET_SETTINGS: (keyof Settings)[] = ['admin_token', 'pg_password', 'pg_url', 'redis_url'];

export const envName = (key: string): string => 'MODELGATE_' + key.toUpperCase();

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new SettingsError(`MODELGATE_CONF: cannot read '${file}' (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    // yaml is loaded only when there is a config file: workers must not carry it for nothing
    const YAML = createRequire(import.meta.url)('yaml') as typeof import('yaml');
    const parsed = YAML.parse(text) as unknown;
    if (parsed === null || parsed === undefined) return {};
    if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('expected a map of settings');
    return parsed as Record<string, unknown>;
  } catch (e) {
    throw new SettingsError(`MODELGATE_CONF: cannot parse '${file}' (${(e as Error).message})`);
  }
}

export function loadSettings(env: NodeJS.ProcessEnv = process.env, confFile?: string): Settings {
  const file = confFile ?? env.MODELGATE_CONF;
  const fromFile = file ? readConfigFile(file) : {};
  for (const key of Object.keys(fromFile)) {
    if (!(key in SPECS)) throw new SettingsError(`${file}: unknown setting '${key}'`);
  }
  const out = {} as Record<string, unknown>;
  for (const key of Object.keys(SPECS) as (keyof Settings)[]) {
    const name = envName(key);
    const envValue = env[name];
    const fileValue = fromFile[key];
    const raw = envValue ?? (fileValue === undefined || fileValue === null ? SPECS[key].default() : Array.isArray(fileValue) ? fileValue.join(',') : String(fileValue));
    out[key] = (SPECS[key].parse as Parser<unknown>)(raw, envValue !== undefined ? name : fileValue !== undefined ? `${file}: ${key}` : name);
  }
  // DB-less without a file starts from the last good configuration in the prefix, or empty
  // (a configuration can then be POSTed to /config): both are valid.
  return out as unknown as Settings;
}

/** The configuration as shown by `GET /` on the Admin API: secrets replaced. */
export function publicSettings(s: Settings): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s)) {
    if ((SECRET_SETTINGS as string[]).includes(k)) out[k] = v === null ? null : '******';
    else if (Array.isArray(v) && v.length && typeof v[0] === 'object') out[k] = (v as ListenAddress[]).map((a) => `${a.host}:${a.port}`);
    else out[k] = v;
  }
  return out;
}

export function formatListen(a: ListenAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
