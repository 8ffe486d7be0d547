#!/bin/sh
':' //; f="$0"; while [ -L "$f" ]; do l="$(readlink "$f")"; case "$l" in /*) f="$l" ;; *) f="$(dirname "$f")/$l" ;; esac; done; d="$(dirname "$f")/.."; n="$d/node_modules/.bin/node"; [ -x "$n" ] || n=node; exec "$n" "$d/bin/modelgate.cjs" "$@"
/**
 * modelgate's command line:
 *   modelgate start [--conf FILE] [--declarative FILE]   run the gateway in the foreground
 *   modelgate migrations list|up|bootstrap               manage the database schema
 *   modelgate config parse|db_import|db_export           declarative files <-> the database
 *   modelgate help | --help | -h
 * Every failure is one line on stderr naming what is wrong (an invalid declarative file: one
 * line per error), and a non-zero exit code.
 *
 * The two lines above are also a shell script, so that `./src/cli.ts` runs on the project's
 * Node 24 whatever `node` is first on PATH: sh follows symlinks to this file and hands over to
 * bin/modelgate.cjs (the package's `bin`), with node_modules/.bin/node when it is there. Node
 * reads them as a hashbang and a no-op string. `node src/cli.ts` (npm start) skips all that.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadSettings, SettingsError, type Settings } from './settings.ts';
import { startGateway, StartupError } from './server/primary.ts';
import { SqliteStore } from './store/sqlite.ts';
import { PostgresStore, pgConfig } from './store/postgres.ts';
import { ENTITY_ORDER } from './store/tables.ts';
import { StoreError, type ConfigData, type Row, type Store } from './store/types.ts';
import { counts, emptyConfig } from './store/declarative.ts';
import { exportConfig, loadDeclarativeText, toYaml, type FlattenResult } from './declarative/index.ts';

const USAGE = `Usage: modelgate <command> [options]

Commands:
  start [--conf FILE] [--declarative FILE]
                                   Start the gateway (proxy on :8000, Admin API on 127.0.0.1:8001);
                                   --declarative runs DB-less from a Kong declarative file
  migrations list|up|bootstrap     Show or apply database migrations
  config parse FILE                Check a declarative file; print every error with its path
  config db_import FILE            Add a declarative file's entities to the database (one transaction)
  config db_export [FILE]          Write the database's configuration as a declarative file (stdout without FILE)
  help, --help, -h                 Show this help

Settings come from MODELGATE_* environment variables and an optional config file (--conf or
MODELGATE_CONF); environment variables win. See README.md and docs/cluster.md.`;

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

/** Positional arguments: what is neither an option nor an option's value. */
function positional(args: string[]): string[] {
  return args.filter((a, i) => !a.startsWith('--') && !(i > 0 && args[i - 1].startsWith('--')));
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
  const declarative = option(args, '--declarative');
  if (declarative) {
    settings.database = 'off';
    settings.declarative_config = path.resolve(declarative);
  }
  let gateway;
  try {
    gateway = await startGateway(settings);
  } catch (e) {
    if (e instanceof StartupError || e instanceof SettingsError) die(e.message);
    die(`start-up failed: ${(e as Error).message}`);
  }
  let firstSignalAt = 0;
  const shutdown = (signal: string) => {
    if (firstSignalAt) {
      // a terminal's Ctrl-C reaches us and the parent that started us (npm, bin/modelgate.cjs),
      // which forwards it: a repeat within a second is that same keypress, not a second request
      if (Date.now() - firstSignalAt < 1000) return;
      process.stderr.write(`modelgate: second ${signal}, exiting now\n`);
      process.exit(1);
    }
    firstSignalAt = Date.now();
    gateway.stop().then(
      () => process.exit(0),
      (e: Error) => die(`shutdown failed: ${e.message}`),
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

/** The configured database, schema created when empty. */
async function openDatabase(settings: Settings, command: string): Promise<Store> {
  if (settings.database === 'off') die(`${command} needs a database (MODELGATE_DATABASE=sqlite or postgres)`);
  const store = settings.database === 'postgres' ? new PostgresStore(pgConfig(settings), { bootstrapIfEmpty: true }) : new SqliteStore(path.join(settings.prefix, 'modelgate.db'));
  try {
    await store.init();
  } catch (e) {
    await store.close().catch(() => {});
    die(`${command}: cannot open the ${settings.database} database (${(e as Error).message})`);
  }
  return store;
}

async function migrations(args: string[]): Promise<void> {
  const sub = args[0] ?? 'list';
  const settings = settingsFrom(args.slice(1));
  if (!['list', 'up', 'bootstrap'].includes(sub)) die(`migrations: unknown subcommand '${sub}' (expected list, up or bootstrap)`);
  if (settings.database === 'off') die('migrations: there is no database in DB-less mode (MODELGATE_DATABASE=off)');
  if (settings.database === 'sqlite') {
    const store = new SqliteStore(path.join(settings.prefix, 'modelgate.db'));
    await store.init(); // init applies pending migrations: `up` and `bootstrap` are the same for SQLite
    if (sub === 'list') for (const m of store.migrations()) process.stdout.write(`${m.applied ? 'applied' : 'pending'}  ${m.name}\n`);
    else process.stdout.write('database is up to date\n');
    await store.close();
    return;
  }
  const store = new PostgresStore(pgConfig(settings));
  try {
    if (sub === 'list') {
      for (const m of await store.migrations()) process.stdout.write(`${m.applied ? 'applied' : 'pending'}  ${m.name}\n`);
    } else if (sub === 'bootstrap') {
      const applied = await store.bootstrap();
      process.stdout.write(applied ? applied.map((n) => `applied  ${n}\n`).join('') + 'database bootstrapped\n' : 'database already bootstrapped\n');
    } else {
      const applied = await store.up();
      process.stdout.write(applied.length ? applied.map((n) => `applied  ${n}\n`).join('') : 'database is up to date\n');
    }
  } catch (e) {
    die(`migrations ${sub}: ${(e as Error).message}`);
  } finally {
    await store.close().catch(() => {});
  }
}

function readDeclarative(file: string | undefined, command: string): FlattenResult {
  if (!file) die(`config ${command} needs a file`);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    die(`config ${command}: cannot read '${file}' (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const result = loadDeclarativeText(text);
  for (const w of result.warnings) process.stderr.write(`modelgate: warning: ${w}\n`);
  if (result.errors) {
    const issues = result.errors.issues;
    process.stderr.write(`modelgate: ${file} is invalid (${issues.length} error${issues.length === 1 ? '' : 's'}):\n`);
    for (const i of issues) process.stderr.write(`  ${i.path}: ${i.message}\n`);
    process.exit(1);
  }
  return result;
}

function summary(data: ConfigData): string {
  return Object.entries(counts(data))
    .filter(([, n]) => n > 0)
    .map(([e, n]) => `${n} ${e}`)
    .join(', ') || 'no entities';
}

/** Imported rows win over stored rows with the same id; everything else stored is kept (Kong's db_import). */
function merge(stored: ConfigData, imported: ConfigData): ConfigData {
  const out = emptyConfig();
  for (const e of ENTITY_ORDER) {
    const byId = new Map<string, Row>((stored[e] ?? []).map((r) => [r.id, r]));
    for (const r of imported[e] ?? []) byId.set(r.id, r);
    out[e] = [...byId.values()];
  }
  return out;
}

async function config(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  const [file] = positional(rest);
  if (sub === 'parse' || sub === 'validate') {
    const result = readDeclarative(file, 'parse');
    process.stdout.write(`parse successful: ${summary(result.data!)}\n`);
    return;
  }
  if (sub === 'db_import') {
    const result = readDeclarative(file, 'db_import');
    const settings = settingsFrom(rest);
    const store = await openDatabase(settings, 'config db_import');
    try {
      await store.replaceAll(merge(await store.loadAll(), result.data!));
    } catch (e) {
      const detail =
        e instanceof StoreError && e.kind === 'unique'
          ? `${String(e.detail.entity)}: ${String(e.detail.column)}${typeof e.detail.value === 'string' ? ` '${e.detail.value}'` : ''} already used by another entity in the database`
          : (e as Error).message;
      die(`config db_import: nothing was imported (${detail})`);
    } finally {
      await store.close().catch(() => {});
    }
    process.stdout.write(`imported ${summary(result.data!)}\n`);
    return;
  }
  if (sub === 'db_export' || sub === 'dump') {
    const settings = settingsFrom(rest);
    const store = await openDatabase(settings, 'config db_export');
    let yaml: string;
    try {
      yaml = toYaml(exportConfig(await store.loadAll()));
    } catch (e) {
      die(`config db_export: ${(e as Error).message}`);
    } finally {
      await store.close().catch(() => {});
    }
    if (!file) process.stdout.write(yaml);
    else {
      fs.writeFileSync(`${file}.tmp`, yaml, { mode: 0o600 }); // it may hold provider keys
      fs.renameSync(`${file}.tmp`, file);
      process.stdout.write(`exported to ${file}\n`);
    }
    return;
  }
  die(`config: unknown subcommand '${sub ?? ''}' (expected parse, db_import or db_export)`);
}

const [command, ...rest] = process.argv.slice(2);
const help = async () => void process.stdout.write(USAGE + '\n');
const commands: Record<string, (args: string[]) => Promise<void>> = {
  start,
  migrations,
  config,
  help,
  '--help': help,
  '-h': help,
};
const run = commands[command ?? 'help'];
if (!run) die(`unknown command '${command}'\n${USAGE}`, 2);
run(rest).catch((e: Error) => die(e.message));
