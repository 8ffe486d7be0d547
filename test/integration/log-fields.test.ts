/**
 * Issue 16 against the real gateway: `http-log` and `file-log` entries carry Kong's serializer
 * fields as a client and an upstream saw the request — `response.headers` are the headers the
 * client received (plugin headers, the gateway's latency headers, Node's own Date / Connection /
 * Transfer-Encoding), `upstream_uri` is the path and query actually called (the service path on a
 * plain route, the provider's path on an AI route, the last attempt's on a balanced route) — and
 * no provider key or client credential appears anywhere in an entry.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { Gateway, freePort, type HttpResult } from '../helpers/gateway.ts';
import { LogSink } from '../helpers/log-sink.ts';
import { startMockProvider, type MockProvider } from '../mocks/providers.ts';

const OPENAI_KEY = 'sk-openai-logfields-9d2c71e4';
const GEMINI_KEY = 'AIza-gemini-logfields-5be08a13';
const CONSUMER_KEY = 'alice-logfields-key-7f3e1c0a';
/** What clients send that must never be logged in clear. */
const CLIENT_BEARER = 'client-bearer-token-2a9f6d0c';
const CLIENT_COOKIE = 'client-session-cookie-4c8e2b71';
const CLIENT_GOOG_KEY = 'client-goog-key-0e5d93a6';
const CLIENT_QUERY_KEY = 'client-query-key-61b7f2d8';
const UPSTREAM_COOKIE = 'upstream-session-secret-83d1c5f0';
const SECRETS = [OPENAI_KEY, GEMINI_KEY, CONSUMER_KEY, CLIENT_BEARER, CLIENT_COOKIE, CLIENT_GOOG_KEY, CLIENT_QUERY_KEY, UPSTREAM_COOKIE];

const USER = { messages: [{ role: 'user', content: 'What is 1+1?' }] };

let gw: Gateway;
let sink: LogSink;
let openai: MockProvider;
let gemini: MockProvider;
let upstream: http.Server;
let upstreamUrl: string;
let tmp: string;
let fileLog: string;

async function admin(method: string, url: string, body?: unknown): Promise<any> {
  const r = await gw.adminRequest(method, url, body);
  assert.ok(r.status < 300, `${method} ${url}: ${r.status} ${r.text}`);
  return r.json;
}

async function aiRoute(name: string, plugin: Record<string, unknown>): Promise<void> {
  await admin('POST', '/services/ai/routes', { name, paths: [`/${name}`] });
  await admin('POST', `/routes/${name}/plugins`, plugin);
}

/** A plain upstream that sets a session cookie, so the log's handling of Set-Cookie shows. */
function startUpstream(): Promise<void> {
  upstream = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const body = JSON.stringify({ url: req.url });
      res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': 'plain', 'set-cookie': `session=${UPSTREAM_COOKIE}; HttpOnly` });
      res.end(body);
    });
  });
  return new Promise((r) =>
    upstream.listen(0, '127.0.0.1', () => {
      upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
      r();
    }),
  );
}

/** The headers the client saw, as one object (fetch lower-cases names and joins repeats). */
function clientHeaders(r: HttpResult): Record<string, string> {
  const out: Record<string, string> = {};
  r.headers.forEach((v, k) => (out[k] = k in out ? `${out[k]}, ${v}` : v));
  return out;
}

function flatten(headers: Record<string, string | string[]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

/** The http-log entry of an answer (by its request id), and the same request's file-log line. */
async function entriesOf(r: HttpResult): Promise<{ entry: any; raw: string; line: any }> {
  const id = r.headers.get('x-modelgate-request-id');
  assert.ok(id, 'every answer carries its request id');
  const entry = await sink.entryFor(id);
  const deadline = Date.now() + 10_000;
  let line: any;
  while (!line && Date.now() < deadline) {
    if (existsSync(fileLog)) line = readFileSync(fileLog, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((e) => e.request.id === id);
    if (!line) await new Promise((res) => setTimeout(res, 25));
  }
  assert.ok(line, `a file-log line for ${id}`);
  return { entry, raw: sink.rawFor(id) + '\n' + JSON.stringify(line), line };
}

/**
 * What every entry must satisfy: its response headers are the client's (Set-Cookie redacted),
 * file-log agrees with http-log, and no secret is in it in any form.
 */
function checkCommon(r: HttpResult, entry: any, line: any, raw: string): void {
  assert.equal(entry.response.status, r.status);
  const expected = clientHeaders(r);
  if (expected['set-cookie'] !== undefined) expected['set-cookie'] = 'REDACTED';
  assert.deepEqual(flatten(entry.response.headers), expected, 'response.headers are the headers the client received');
  assert.deepEqual(line.response.headers, entry.response.headers, 'file-log has the same response headers');
  assert.equal(line.upstream_uri, entry.upstream_uri, 'file-log has the same upstream_uri');
  for (const s of SECRETS) for (const form of [s, encodeURIComponent(s), Buffer.from(s).toString('base64')]) assert.ok(!raw.includes(form), `no ${s} in the entry`);
}

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'modelgate-log-fields-'));
  fileLog = path.join(tmp, 'entries.jsonl');
  sink = await new LogSink().start();
  openai = await startMockProvider('openai', { key: OPENAI_KEY });
  gemini = await startMockProvider('gemini', { key: GEMINI_KEY });
  await startUpstream();
  gw = await Gateway.start({ workers: 1 });

  // both log plugins on every route, one entry per request
  await admin('POST', '/plugins', { name: 'http-log', config: { http_endpoint: sink.url, queue: { max_batch_size: 1, max_coalescing_delay: 0.01 } } });
  await admin('POST', '/plugins', { name: 'file-log', config: { path: fileLog } });

  // a plain route: service path /base, key-auth (key left in the query for the upstream), rate-limiting headers
  await admin('POST', '/services', { name: 'plain', url: `${upstreamUrl}/base`, retries: 0 });
  await admin('POST', '/services/plain/routes', { name: 'plain', paths: ['/plain'] });
  await admin('POST', '/routes/plain/plugins', { name: 'key-auth' });
  await admin('POST', '/routes/plain/plugins', { name: 'rate-limiting', config: { hour: 1000 } });
  await admin('POST', '/consumers', { username: 'alice' });
  await admin('POST', '/consumers/alice/key-auth', { key: CONSUMER_KEY });

  // a service nobody listens on: the gateway answers 502 itself
  await admin('POST', '/services', { name: 'down', url: `http://127.0.0.1:${await freePort()}/gone`, retries: 0, connect_timeout: 2000 });
  await admin('POST', '/services/down/routes', { name: 'down', paths: ['/down'] });

  await admin('POST', '/services', { name: 'ai', url: 'http://localhost:32000' });
  await aiRoute('openai-chat', {
    name: 'ai-proxy',
    config: { route_type: 'llm/v1/chat', auth: { header_name: 'Authorization', header_value: `Bearer ${OPENAI_KEY}` }, model: { provider: 'openai', name: 'gpt-4', options: { upstream_url: `${openai.url}/v1/chat/completions` } } },
  });
  // Gemini takes its key in the query string: the log must not show it
  await aiRoute('gemini-chat', {
    name: 'ai-proxy',
    config: {
      route_type: 'llm/v1/chat',
      auth: { param_name: 'key', param_value: GEMINI_KEY, param_location: 'query' },
      model: { provider: 'gemini', name: 'gemini-1.5-pro', options: { upstream_url: `${gemini.url}/v1beta/models/gemini-1.5-pro:generateContent` } },
    },
  });
  // the primary target answers 500 once: the entry must name the target that served (the last attempt)
  await aiRoute('balanced', {
    name: 'ai-proxy-advanced',
    config: {
      balancer: { algorithm: 'priority', retries: 2 },
      targets: [
        { route_type: 'llm/v1/chat', weight: 100, auth: { header_name: 'Authorization', header_value: `Bearer ${OPENAI_KEY}` }, model: { provider: 'openai', name: 'gpt-4', options: { upstream_url: `${openai.url}/v1/chat/completions` } } },
        {
          route_type: 'llm/v1/chat',
          weight: 50,
          auth: { header_name: 'x-goog-api-key', header_value: GEMINI_KEY },
          model: { provider: 'gemini', name: 'gemini-1.5-pro', options: { upstream_url: `${gemini.url}/v1beta/models/gemini-1.5-pro:generateContent` } },
        },
      ],
    },
  });
});

after(async () => {
  await gw?.close();
  await openai?.close();
  await gemini?.close();
  await sink?.close();
  upstream?.closeAllConnections();
  upstream?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('plain route: the upstream path and query called, the client headers with plugin headers, no key', async () => {
  const r = await gw.proxyRequest('GET', `/plain/x?a=1&apikey=${CONSUMER_KEY}`, undefined, { authorization: `Bearer ${CLIENT_BEARER}`, cookie: `sid=${CLIENT_COOKIE}` });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.url, `/base/x?a=1&apikey=${CONSUMER_KEY}`, 'key-auth without hide_credentials: the key goes upstream');
  const { entry, line, raw } = await entriesOf(r);
  assert.equal(entry.upstream_uri, '/base/x?a=1&apikey=REDACTED', 'the path and query sent upstream, the key masked');
  assert.equal(entry.request.uri, '/plain/x?a=1&apikey=REDACTED');
  assert.equal(entry.request.headers.authorization, 'REDACTED');
  assert.equal(entry.request.headers.cookie, 'REDACTED');
  const h = entry.response.headers;
  assert.equal(h['content-type'], 'application/json');
  assert.equal(h['x-upstream'], 'plain');
  assert.equal(h['set-cookie'], 'REDACTED', "the upstream's session cookie is a credential too");
  assert.equal(h['x-ratelimit-limit-hour'], '1000', "rate-limiting's headers");
  assert.ok(h['x-modelgate-upstream-latency'] !== undefined && h['x-modelgate-proxy-latency'] !== undefined, 'the latency headers');
  assert.ok(h['content-length'] !== undefined || h['transfer-encoding'] !== undefined);
  checkCommon(r, entry, line, raw);
});

test('ai-proxy (OpenAI), non-streamed: upstream_uri is the provider path', async () => {
  const r = await gw.proxyRequest('POST', '/openai-chat', USER, { authorization: `Bearer ${CLIENT_BEARER}` });
  assert.equal(r.status, 200, r.text);
  const { entry, line, raw } = await entriesOf(r);
  assert.equal(entry.upstream_uri, '/v1/chat/completions');
  assert.equal(entry.request.uri, '/openai-chat');
  assert.equal(entry.request.headers.authorization, 'REDACTED');
  const h = entry.response.headers;
  assert.match(h['content-type'], /^application\/json/);
  assert.equal(h['content-length'], r.headers.get('content-length'));
  assert.ok(h['x-modelgate-upstream-latency'] !== undefined);
  checkCommon(r, entry, line, raw);
});

test('ai-proxy (OpenAI), streamed: the stream headers the client got, chunked', async () => {
  const r = await gw.proxyRequest('POST', '/openai-chat', { ...USER, stream: true });
  assert.equal(r.status, 200, r.text);
  assert.match(r.text, /data: \[DONE\]/);
  const { entry, line, raw } = await entriesOf(r);
  assert.equal(entry.upstream_uri, '/v1/chat/completions');
  const h = entry.response.headers;
  assert.match(h['content-type'], /^text\/event-stream/);
  assert.equal(h['transfer-encoding'], 'chunked');
  assert.ok(h['x-modelgate-upstream-latency'] !== undefined);
  checkCommon(r, entry, line, raw);
});

test('ai-proxy (Gemini, key in the query): the provider path with the key redacted, streamed or not', async () => {
  const plainAnswer = await gw.proxyRequest('POST', `/gemini-chat?key=${CLIENT_QUERY_KEY}`, USER);
  assert.equal(plainAnswer.status, 200, plainAnswer.text);
  assert.equal(gemini.requests.at(-1)!.query.key, GEMINI_KEY, 'the key did reach the provider, in the query');
  const first = await entriesOf(plainAnswer);
  assert.equal(first.entry.upstream_uri, '/v1beta/models/gemini-1.5-pro:generateContent?key=REDACTED');
  assert.equal(first.entry.request.uri, '/gemini-chat?key=REDACTED', "a client's own key in the route's key parameter is masked too");
  checkCommon(plainAnswer, first.entry, first.line, first.raw);

  const streamed = await gw.proxyRequest('POST', '/gemini-chat', { ...USER, stream: true });
  assert.equal(streamed.status, 200, streamed.text);
  const second = await entriesOf(streamed);
  assert.equal(second.entry.upstream_uri, '/v1beta/models/gemini-1.5-pro:streamGenerateContent?alt=sse&key=REDACTED');
  assert.equal(second.entry.response.headers['transfer-encoding'], 'chunked');
  checkCommon(streamed, second.entry, second.line, second.raw);
});

test('ai-proxy-advanced: upstream_uri is the last attempt, the target that served', async () => {
  openai.nextResponse('5xx-json:500');
  const r = await gw.proxyRequest('POST', '/balanced', USER, { 'x-goog-api-key': CLIENT_GOOG_KEY });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get('x-modelgate-attempts'), '2', 'the first target failed over');
  const { entry, line, raw } = await entriesOf(r);
  assert.equal(entry.ai?.proxy?.balancer?.target, 1);
  assert.equal(entry.upstream_uri, '/v1beta/models/gemini-1.5-pro:generateContent');
  assert.equal(entry.request.headers['x-goog-api-key'], 'REDACTED', "a client header named as a target's auth header is a credential");
  assert.equal(entry.response.headers['x-modelgate-attempts'], '2');
  checkCommon(r, entry, line, raw);
});

test('errors the gateway answers itself: their headers are logged; upstream_uri only once an upstream was called', async () => {
  const refused = await gw.proxyRequest('GET', '/plain/x', undefined, { cookie: `sid=${CLIENT_COOKIE}` });
  assert.equal(refused.status, 401);
  const a = await entriesOf(refused);
  assert.equal(a.entry.upstream_uri, '', 'no upstream was called');
  assert.match(a.entry.response.headers['www-authenticate'], /^Key realm=/);
  assert.equal(a.entry.response.headers['content-type'], 'application/json; charset=utf-8');
  assert.ok(a.entry.response.headers['x-modelgate-response-latency'] !== undefined);
  checkCommon(refused, a.entry, a.line, a.raw);

  const down = await gw.proxyRequest('GET', '/down/y?z=2');
  assert.equal(down.status, 502, down.text);
  const b = await entriesOf(down);
  assert.equal(b.entry.upstream_uri, '/gone/y?z=2', 'the path the gateway tried');
  assert.equal(b.entry.response.headers['content-length'], down.headers.get('content-length'));
  checkCommon(down, b.entry, b.line, b.raw);

  const bad = await gw.proxyRequest('POST', '/openai-chat', '{"messages": nope', { 'content-type': 'application/json', authorization: `Bearer ${CLIENT_BEARER}` });
  assert.equal(bad.status, 400, bad.text);
  const c = await entriesOf(bad);
  assert.equal(c.entry.upstream_uri, '', 'refused before the provider was called');
  checkCommon(bad, c.entry, c.line, c.raw);
});
