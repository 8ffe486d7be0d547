/**
 * A throwaway Redis server for tests: `redis-server` on a free loopback port, no persistence,
 * in a temporary directory; it can be stopped and started again on the same port (outage tests).
 * When the binary is missing, `redisMissing` says what to install and the suites skip.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './gateway.ts';

const BIN = process.env.MODELGATE_TEST_REDIS_SERVER ?? 'redis-server';

export const redisMissing: string | null =
  spawnSync(BIN, ['--version'], { encoding: 'utf8' }).status === 0
    ? null
    : 'redis-server not found: install Redis (Debian/Ubuntu: apt-get install redis-server) to run these tests';

const live = new Set<RedisServer>();
process.on('exit', () => {
  for (const s of live) s.proc?.kill('SIGKILL');
});

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.setTimeout(500);
    s.once('connect', () => s.write('PING\r\n'));
    s.once('data', (d) => {
      s.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
    s.once('error', () => resolve(false));
    s.once('timeout', () => {
      s.destroy();
      resolve(false);
    });
  });
}

export class RedisServer {
  readonly port: number;
  readonly dir: string;
  proc: ChildProcess | null = null;

  private constructor(port: number, dir: string) {
    this.port = port;
    this.dir = dir;
  }

  static async start(): Promise<RedisServer> {
    if (redisMissing) throw new Error(redisMissing);
    const server = new RedisServer(await freePort(), mkdtempSync(path.join(os.tmpdir(), 'modelgate-redis-')));
    live.add(server);
    await server.start();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const proc = spawn(BIN, ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir], { stdio: 'ignore' });
    this.proc = proc;
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}`);
      if (await ping(this.port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('redis-server did not start in 10 s');
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await exited;
    this.proc = null;
  }

  async close(): Promise<void> {
    await this.stop();
    live.delete(this);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
