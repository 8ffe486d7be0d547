/**
 * A throwaway PostgreSQL server for tests: `initdb` into a temporary directory, `pg_ctl start` on
 * a free loopback port (Unix socket in the same directory), stopped and removed afterwards. It
 * can be stopped and started again on the same port (outage tests). Uses the machine's server
 * binaries (Debian: /usr/lib/postgresql/<v>/bin); when they are missing, `pgMissing` says what to
 * install and the suites skip. As root, the server runs as the `postgres` user (initdb refuses root).
 */
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from './gateway.ts';

function findBinDir(): string | null {
  const candidates: string[] = [];
  if (process.env.MODELGATE_TEST_PG_BINDIR) candidates.push(process.env.MODELGATE_TEST_PG_BINDIR);
  try {
    const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
    for (const v of versions) candidates.push(`/usr/lib/postgresql/${v}/bin`);
  } catch {
    // not Debian's layout
  }
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) candidates.push(dir);
  return candidates.find((d) => d && existsSync(path.join(d, 'initdb')) && existsSync(path.join(d, 'pg_ctl'))) ?? null;
}

const BIN = findBinDir();
const isRoot = process.getuid?.() === 0;
const runAs = isRoot ? (spawnSync('id', ['-u', 'postgres']).status === 0 ? 'postgres' : null) : undefined;

/** Why the PostgreSQL suites cannot run here, or null when they can. */
export const pgMissing: string | null = !BIN
  ? 'PostgreSQL server binaries (initdb, pg_ctl) not found: install PostgreSQL (Debian/Ubuntu: apt-get install postgresql) to run these tests'
  : runAs === null
    ? 'running as root without a postgres user: initdb refuses root (install the postgresql package, which creates the user)'
    : null;

function run(cmd: string, args: string[], timeoutMs = 60_000): void {
  const [file, argv] = runAs ? ['runuser', ['-u', runAs, '--', cmd, ...args]] : [cmd, args];
  const r = spawnSync(file, argv, { encoding: 'utf8', timeout: timeoutMs });
  if (r.status !== 0) throw new Error(`${path.basename(cmd)} failed (${r.status ?? r.signal}): ${r.stderr || r.stdout}`);
}

const live = new Set<PgServer>();
process.on('exit', () => {
  for (const s of live) s.kill();
});

export class PgServer {
  readonly dir: string;
  readonly port: number;
  readonly user = 'modelgate';
  running = false;

  private constructor(dir: string, port: number) {
    this.dir = dir;
    this.port = port;
  }

  static async start(): Promise<PgServer> {
    if (pgMissing) throw new Error(pgMissing);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'modelgate-pg-'));
    if (runAs) {
      const uid = Number(spawnSync('id', ['-u', runAs], { encoding: 'utf8' }).stdout.trim());
      const gid = Number(spawnSync('id', ['-g', runAs], { encoding: 'utf8' }).stdout.trim());
      chownSync(dir, uid, gid);
    }
    run(path.join(BIN!, 'initdb'), ['-D', path.join(dir, 'data'), '-U', 'modelgate', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
    const server = new PgServer(dir, await freePort());
    live.add(server);
    await server.start();
    return server;
  }

  /** Starts (again) on the same port and data. */
  async start(): Promise<void> {
    const opts = `-k ${this.dir} -p ${this.port} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
    run(path.join(BIN!, 'pg_ctl'), ['-D', path.join(this.dir, 'data'), '-l', path.join(this.dir, 'log'), '-w', '-t', '30', '-o', opts, 'start']);
    this.running = true;
  }

  /** A clean but abrupt stop: open connections are cut, as in a database restart. */
  async stop(): Promise<void> {
    if (!this.running) return;
    run(path.join(BIN!, 'pg_ctl'), ['-D', path.join(this.dir, 'data'), '-m', 'fast', '-w', '-t', '30', 'stop']);
    this.running = false;
  }

  kill(): void {
    if (!this.running) return;
    try {
      run(path.join(BIN!, 'pg_ctl'), ['-D', path.join(this.dir, 'data'), '-m', 'immediate', '-w', 'stop'], 10_000);
    } catch {
      // already gone
    }
    this.running = false;
  }

  async close(): Promise<void> {
    await this.stop().catch(() => this.kill());
    live.delete(this);
    rmSync(this.dir, { recursive: true, force: true });
  }

  url(database = 'postgres'): string {
    return `postgres://${this.user}@127.0.0.1:${this.port}/${database}`;
  }

  /** Creates an empty database and returns its URL. */
  async createDatabase(name: string): Promise<string> {
    await this.query(`CREATE DATABASE "${name.replace(/"/g, '')}"`);
    return this.url(name);
  }

  async query<R extends pg.QueryResultRow = any>(sql: string, params: unknown[] = [], database = 'postgres'): Promise<R[]> {
    const c = new pg.Client({ connectionString: this.url(database) });
    await c.connect();
    try {
      return (await c.query<R>(sql, params)).rows;
    } finally {
      await c.end();
    }
  }

  get log(): string {
    try {
      return readFileSync(path.join(this.dir, 'log'), 'utf8');
    } catch {
      return '';
    }
  }
}
