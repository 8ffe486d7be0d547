/**
 * Starts the real gateway (`node src/cli.ts start`, what `npm start` runs) on free loopback ports
 * with a temporary data directory, and talks to it as a user would: HTTP to the Admin API and
 * the proxy. Logs are kept so tests can search them (for leaked keys, request ids ...).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');
export const CLI = path.join(ROOT, 'src/cli.ts');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface HttpResult {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

export interface StartOptions {
  env?: Record<string, string>;
  /** Reuse a data directory (restart tests). */
  prefix?: string;
  workers?: number;
  /** Do not wait for readiness (start-up failure tests). */
  noWait?: boolean;
  /** The command that runs the CLI, `start` appended (default: this Node on src/cli.ts, what `npm start` runs). */
  command?: string[];
  /** Its own process group, so a test can signal the group as a terminal's Ctrl-C does. */
  detached?: boolean;
}

function formBody(pairs: [string, string][] | Record<string, string>): string {
  const entries = Array.isArray(pairs) ? pairs : Object.entries(pairs);
  return new URLSearchParams(entries).toString();
}

async function toResult(res: Response): Promise<HttpResult> {
  const text = await res.text();
  let json: unknown = undefined;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

export class Gateway {
  readonly proxyPort: number;
  readonly adminPort: number;
  /** The Admin GUI's port (src/gui/): every test gateway has one, on a free port. */
  readonly guiPort: number;
  readonly prefix: string;
  readonly ownsPrefix: boolean;
  proc: ChildProcess | null = null;
  stdout = '';
  stderr = '';
  exitCode: number | null = null;
  #exited: Promise<number | null> = Promise.resolve(null);

  constructor(proxyPort: number, adminPort: number, prefix: string, ownsPrefix: boolean, guiPort = 0) {
    this.proxyPort = proxyPort;
    this.adminPort = adminPort;
    this.guiPort = guiPort;
    this.prefix = prefix;
    this.ownsPrefix = ownsPrefix;
  }

  get proxy(): string {
    return `http://127.0.0.1:${this.proxyPort}`;
  }

  get admin(): string {
    return `http://127.0.0.1:${this.adminPort}`;
  }

  get gui(): string {
    return `http://127.0.0.1:${this.guiPort}`;
  }

  static async start(opts: StartOptions = {}): Promise<Gateway> {
    const prefix = opts.prefix ?? mkdtempSync(path.join(os.tmpdir(), 'modelgate-test-'));
    // A port found free can be taken before the gateway binds it (another suite on the machine, a
    // test's own listener): that start is retried on new ports, a few times.
    for (let attempt = 1; ; attempt++) {
      const gw = new Gateway(await freePort(), await freePort(), prefix, !opts.prefix, await freePort());
      try {
        await gw.launch(opts);
        return gw;
      } catch (e) {
        // a gateway that did not come up is stopped: left running, it held its test file open
        // until the runner's limit (a suite's before() failed on a loaded machine)
        await gw.stop();
        if (attempt >= 3 || !/address already in use/.test(gw.stderr)) {
          if (!opts.prefix) rmSync(prefix, { recursive: true, force: true });
          throw e;
        }
      }
    }
  }

  /** Gateways started side by side; if one fails, the others are closed before its error is thrown. */
  static async startAll(list: StartOptions[]): Promise<Gateway[]> {
    const settled = await Promise.allSettled(list.map((opts) => Gateway.start(opts)));
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed) {
      await Promise.all(settled.map((s) => (s.status === 'fulfilled' ? s.value.close() : undefined)));
      throw failed.reason;
    }
    return settled.map((s) => (s as PromiseFulfilledResult<Gateway>).value);
  }

  async launch(opts: StartOptions = {}): Promise<void> {
    this.stdout = '';
    this.stderr = '';
    this.exitCode = null;
    const env = {
      ...process.env,
      MODELGATE_PROXY_LISTEN: `127.0.0.1:${this.proxyPort}`,
      MODELGATE_ADMIN_LISTEN: `127.0.0.1:${this.adminPort}`,
      MODELGATE_ADMIN_GUI_LISTEN: this.guiPort ? `127.0.0.1:${this.guiPort}` : 'off',
      MODELGATE_PREFIX: this.prefix,
      MODELGATE_WORKERS: String(opts.workers ?? 1),
      MODELGATE_LOG_LEVEL: 'info',
      ...opts.env,
    };
    const [file, ...args] = opts.command ?? [process.execPath, CLI];
    const proc = spawn(file, [...args, 'start'], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: opts.detached ?? false });
    this.proc = proc;
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.#exited = new Promise((resolve) => proc.once('exit', (code) => resolve((this.exitCode = code))));
    if (!opts.noWait) await this.ready();
  }

  /**
   * Resolves when the Admin API answers (it listens only once the proxy serves). 45 s: two nodes
   * on a fresh PostgreSQL database, started together beside another suite, took over 20.
   */
  async ready(timeoutMs = 45_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.exitCode !== null) throw new Error(`gateway exited with ${this.exitCode}: ${this.stderr}\n${this.stdout.slice(-2000)}`);
      try {
        const r = await fetch(this.admin + '/status');
        if (r.status === 200 || r.status === 401) return; // 401: an admin token is required, but it answers
      } catch {
        // not yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`gateway not ready after ${timeoutMs} ms: ${this.stderr}\n${this.stdout.slice(-2000)}`);
  }

  waitExit(): Promise<number | null> {
    return this.#exited;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (!this.proc || this.exitCode !== null) return this.exitCode;
    this.proc.kill(signal);
    const timer = setTimeout(() => this.proc?.kill('SIGKILL'), 15_000);
    const code = await this.#exited;
    clearTimeout(timer);
    return code;
  }

  async close(): Promise<void> {
    await this.stop();
    if (this.ownsPrefix) rmSync(this.prefix, { recursive: true, force: true });
  }

  async adminRequest(method: string, urlPath: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpResult> {
    const init: RequestInit = { method, headers: { ...headers } };
    if (body !== undefined) {
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
      if (typeof body !== 'string' && !headers['content-type']) (init.headers as Record<string, string>)['content-type'] = 'application/json';
    }
    return toResult(await fetch(this.admin + urlPath, init));
  }

  /**
   * `curl --data "k=v" --data ...` byte for byte: curl joins the values with `&` and encodes
   * nothing (a space in `Bearer <key>`, the `~` and `$` of a regex path go as they are).
   */
  async adminCurl(method: string, urlPath: string, pairs: [string, string][]): Promise<HttpResult> {
    return toResult(
      await fetch(this.admin + urlPath, {
        method,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: pairs.map(([k, v]) => `${k}=${v}`).join('&'),
      }),
    );
  }

  /** A form POST of the pairs, URL-encoded. */
  async adminForm(method: string, urlPath: string, pairs: [string, string][] | Record<string, string>): Promise<HttpResult> {
    return toResult(
      await fetch(this.admin + urlPath, {
        method,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: formBody(pairs),
      }),
    );
  }

  async proxyRequest(method: string, urlPath: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpResult> {
    const init: RequestInit = { method, headers: { ...headers } };
    if (body !== undefined) {
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
      if (typeof body !== 'string' && !headers['content-type']) (init.headers as Record<string, string>)['content-type'] = 'application/json';
    }
    return toResult(await fetch(this.proxy + urlPath, init));
  }

  /** Everything the gateway printed. */
  get logs(): string {
    return this.stdout + this.stderr;
  }
}

/** node:http request, for headers fetch will not send (Host, Connection ...). */
export function httpRequest(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const headers = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers, text, json });
      });
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** An Admin API call that must succeed; its JSON. */
export async function adminOk(gw: Gateway, method: string, url: string, body?: unknown): Promise<any> {
  const r = await gw.adminRequest(method, url, body);
  assert.ok(r.status < 300, `${method} ${url}: ${r.status} ${r.text}`);
  return r.json;
}
