/**
 * Reference reverse proxies: the floor modelgate is compared against. Both are node:http servers
 * forwarding every request to the mock's `/v1/chat/completions` through an undici Pool with
 * keep-alive, adding the provider key as a gateway would.
 *
 *   pass   bytes through: the request body is streamed to the upstream, the answer streamed back.
 *   parse  the same, plus what any AI gateway must at least do: `JSON.parse` + `JSON.stringify` of
 *          the request body (setting `model`), of the JSON answer, and of every SSE `data:` event
 *          of a streamed answer. This is the speed limit for a Node gateway.
 *
 *   node bench/ref-proxy.ts --mode pass|parse --upstream http://127.0.0.1:PORT [--port N]
 * Prints one JSON line `{"port":N}` once listening. `--load-only`: load, write Node's compile cache
 * (NODE_COMPILE_CACHE) and exit, so that the proxies started after it never load the TypeScript
 * stripper (bench/targets.ts).
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import module from 'node:module';

const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'pass' },
    upstream: { type: 'string' },
    port: { type: 'string', default: '0' },
    'load-only': { type: 'boolean', default: false },
  },
});
if (values['load-only']) {
  module.flushCompileCache();
  process.exit(0);
}
const mode = values.mode;
if ((mode !== 'pass' && mode !== 'parse') || !values.upstream) {
  console.error('usage: ref-proxy.ts --mode pass|parse --upstream http://127.0.0.1:PORT [--port N]');
  process.exit(2);
}
const upstream = new URL(values.upstream);
const UPSTREAM_PATH = '/v1/chat/completions';
const AUTH = 'Bearer sk-bench';
const pool = new Pool(upstream.origin, { connections: 1024, pipelining: 1, keepAliveTimeout: 60_000, keepAliveMaxTimeout: 600_000 });

/** Response headers a proxy must not copy (hop-by-hop, or recomputed by node:http). */
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'proxy-connection', 'te', 'trailer', 'upgrade']);

function copyHeaders(h: Record<string, string | string[] | undefined>, keepLength: boolean): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const k in h) {
    const v = h[k];
    if (v === undefined) continue;
    if (HOP.has(k) && !(keepLength && k === 'content-length')) continue;
    out[k] = v;
  }
  return out;
}

function fail(res: ServerResponse, err: unknown): void {
  if (res.headersSent) return void res.destroy();
  const body = JSON.stringify({ message: `upstream error: ${(err as Error)?.message ?? String(err)}` });
  res.writeHead(502, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
}

function pass(req: IncomingMessage, res: ServerResponse): void {
  // Request bytes are collected (not inspected) and sent with their length: undici sends a Buffer
  // body much more cheaply than a stream, and chat bodies are small. The answer streams back.
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    const headers = { host: upstream.host, 'content-type': req.headers['content-type'] ?? 'application/json', authorization: AUTH, 'content-length': String(body.length) };
    pool.request({ path: UPSTREAM_PATH, method: 'POST', headers, body }).then(
      (r) => {
        if (res.destroyed) return void r.body.dump().catch(() => {}); // the client left meanwhile
        res.writeHead(r.statusCode, copyHeaders(r.headers, true));
        if (r.headers['content-length'] !== undefined) {
          // a sized answer: collect the bytes and send them in one write
          const parts: Buffer[] = [];
          r.body.on('data', (c: Buffer) => parts.push(c));
          r.body.on('end', () => res.end(parts.length === 1 ? parts[0] : Buffer.concat(parts)));
          r.body.on('error', () => res.destroy());
        } else {
          // a stream (SSE): every chunk goes out as it arrives
          pipeline(r.body, res, (err) => {
            if (err) res.destroy();
          });
        }
      },
      (err: unknown) => fail(res, err),
    );
  });
}

function readAll(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Re-serialises every `data:` JSON event of an SSE stream, event by event as they arrive. */
function relaySse(body: AsyncIterable<Buffer>, res: ServerResponse): Promise<void> {
  return (async () => {
    const decoder = new TextDecoder();
    let buffered = '';
    for await (const chunk of body) {
      buffered += decoder.decode(chunk, { stream: true });
      let out = '';
      let sep: number;
      while ((sep = buffered.indexOf('\n\n')) !== -1) {
        const event = buffered.slice(0, sep);
        buffered = buffered.slice(sep + 2);
        if (event.startsWith('data: ') && event !== 'data: [DONE]') out += `data: ${JSON.stringify(JSON.parse(event.slice(6)))}\n\n`;
        else out += `${event}\n\n`;
      }
      if (out) res.write(out);
    }
    if (buffered) res.write(buffered);
    res.end();
  })();
}

async function parse(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const request = JSON.parse(await readAll(req)) as Record<string, unknown>;
  request.model ??= 'gpt-4o-mini';
  const body = JSON.stringify(request);
  const headers = { host: upstream.host, 'content-type': 'application/json', authorization: AUTH, 'content-length': String(Buffer.byteLength(body)) };
  const r = await pool.request({ path: UPSTREAM_PATH, method: 'POST', headers, body });
  if (res.destroyed) return void r.body.dump().catch(() => {});
  const type = String(r.headers['content-type'] ?? '');
  if (type.startsWith('text/event-stream')) {
    res.writeHead(r.statusCode, copyHeaders(r.headers, false));
    await relaySse(r.body, res);
    return;
  }
  const answer = JSON.stringify(JSON.parse(await r.body.text()));
  res.writeHead(r.statusCode, { 'content-type': type || 'application/json', 'content-length': Buffer.byteLength(answer) });
  res.end(answer);
}

const server = http.createServer({ keepAliveTimeout: 75_000, requestTimeout: 0 }, (req, res) => {
  if (mode === 'pass') pass(req, res);
  else parse(req, res).catch((err: unknown) => fail(res, err));
});
server.listen(Number(values.port), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port, pid: process.pid })}\n`);
});
const stop = (): void => {
  server.close();
  server.closeAllConnections();
  void pool.close().finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.on('disconnect', stop);
