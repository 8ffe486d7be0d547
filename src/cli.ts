#!/usr/bin/env node
/**
 * modelgate's command line:
 *   modelgate start [--conf FILE]            run the gateway in the foreground
 *   modelgate migrations list|up|bootstrap   manage the database schema
 *   modelgate help
 * Every failure is one line on stderr naming what is wrong, and a non-zero exit code.
 */
import path from 'node:path';
import { loadSettings, SettingsError, type Settings } from './settings.ts';
import { startGateway, StartupError } from './server/primary.ts';
import { SqliteStore } from './store/sqlite.ts';

const USAGE = `Usage: modelgate <command> [options]

Commands:
  start [--conf FILE]              Start the gateway (proxy on :8000, Admin API on 127.0.0.1:8001)
  migrations list|up|bootstrap     Show or apply database migrations
  help                             Show this help

Settings come from MODELGATE_* environment variables and an optional config file (--conf or
MODELGATE_CONF); environment variables win. See README.md.`;

function die(message: string, code = 1): never {
  process.stderr.write(`modelgate: ${message}\n`);
  process.exit(code);
}

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i === -1) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) die(`${name} needs a value`);
  return v;
}

function settingsFrom(args: string[]): Settings {
  try {
    return loadSettings(process.env, option(args, '--conf'));
  } catch (e) {
    if (e instanceof SettingsError) die(e.message);
    throw e;
  }
}

async function start(args: string[]): Promise<void> {
  const settings = settingsFrom(args);
  let gateway;
  try {
    gateway = await startGateway(settings);
  } catch (e) {
    if (e instanceof StartupError || e instanceof SettingsError) die(e.message);
    die(`start-up failed: ${(e as Error).message}`);
  }
  let signals = 0;
  const shutdown = (signal: string) => {
    if (++signals > 1) {
      process.stderr.write(`modelgate: second ${signal}, exiting now\n`);
      process.exit(1);
    }
    gateway.stop().then(
      () => process.exit(0),
      (e: Error) => die(`shutdown failed: ${e.message}`),
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

async function migrations(args: string[]): Promise<void> {
  const sub = args[0] ?? 'list';
  const settings = settingsFrom(args.slice(1));
  if (settings.database !== 'sqlite') die(`migrations: database '${settings.database}' is not available in this build yet`);
  const store = new SqliteStore(path.join(settings.prefix, 'modelgate.db'));
  await store.init(); // init applies pending migrations: `up` and `bootstrap` are the same for SQLite
  if (sub === 'list') {
    for (const m of store.migrations()) process.stdout.write(`${m.applied ? 'applied' : 'pending'}  ${m.name}\n`);
  } else if (sub === 'up' || sub === 'bootstrap') {
    process.stdout.write('database is up to date\n');
  } else {
    die(`migrations: unknown subcommand '${sub}' (expected list, up or bootstrap)`);
  }
  await store.close();
}

const [command, ...rest] = process.argv.slice(2);
const commands: Record<string, (args: string[]) => Promise<void>> = {
  start,
  migrations,
  help: async () => void process.stdout.write(USAGE + '\n'),
};
const run = commands[command ?? 'help'];
if (!run) die(`unknown command '${command}'\n${USAGE}`, 2);
run(rest).catch((e: Error) => die(e.message));
