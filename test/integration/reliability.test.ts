/**
 * The fault and abuse suite (issue 8, docs/decisions.md, §5) against the real gateway process:
 * bounded input, slow clients, upstream faults, header hygiene, egress, secrets and Admin API
 * exposure.
 * After every run the gateway must still answer a good request (P0).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Gateway, freePort, httpRequest, type HttpResult } from '../helpers/gateway.ts';
import { EchoServer } from '../helpers/echo-server.ts';
import { startMockProvider, type MockProvider, DEFAULT_TEXT } from '../mocks/providers.ts';

const CANARY = `sk-canary-${randomBytes(12).toString('hex')}`;
const QUERY_CANARY = `qk-canary-${randomBytes(12).toString('hex')}`;
const USER = { messages: [{ role: 'user', content: 'What is 1+1?' }] };

let gw: Gateway;
let openai: MockProvider;
let attacker: EchoServer;
let echo: EchoServer;
/** Where http-log sends its entries. */
let logSink: EchoServer;
let tmp: string;
/** Every answer the suite received, searched for secrets at the end. */
const seen: string[] = [];

function remember(r: HttpResult): HttpResult {
  seen.push(r.text, JSON.stringify([...r.headers.entries()]));
  return r;
}

before(async () => {
  openai = await startMockProvider('openai', { key: CANARY });
  attacker = await EchoServer.start();
  echo = await EchoServer.start();
  logSink = await EchoServer.start();
  tmp = mkdtempSync(path.join(os.tmpdir(), 'modelgate-reliability-'));
  gw = await Gateway.start({
    env: { MODELGATE_MAX_BODY_SIZE: '1m', MODELGATE_MAX_RESPONSE_SIZE: '2m', MODELGATE_CLIENT_HEADER_TIMEOUT_MS: '1000', MODELGATE_CLIENT_BODY_TIMEOUT_MS: '1000', MODELGATE_LOG_LEVEL: 'debug' },
  });
  const svc = await gw.adminRequest('POST', '/services', { name: 'ai', url: 'http://localhost:32000', read_timeout: 1500, retries: 1 });
  assert.equal(svc.status, 201);
  const route = await gw.adminRequest('POST', '/services/ai/routes', { name: 'chat', paths: ['~/chat$'] });
  assert.equal(route.status, 201);
  const plugin = await gw.adminRequest('POST', '/routes/chat/plugins', {
    name: 'ai-proxy',
    config: {
      route_type: 'llm/v1/chat',
      auth: { header_name: 'Authorization', header_value: `Bearer ${CANARY}` },
      // room for the mock's huge answers (it cuts its answer at max_tokens, as providers do)
      model: { provider: 'openai', name: 'gpt-4', options: { max_tokens: 5_000_000, upstream_url: `${openai.url}/v1/chat/completions` } },
      logging: { log_statistics: true, log_payloads: true },
    },
  });
  assert.equal(plugin.status, 201, plugin.text);
  await gw.adminRequest('POST', '/services', { name: 'echo', url: echo.url });
  await gw.adminRequest('POST', '/services/echo/routes', { name: 'echo', paths: ['/echo'] });
  // every output a key could leak into is on for the whole run, failures included (see the secrets test)
  const observability = [
    { name: 'prometheus', config: { per_consumer: true, status_code_metrics: true, latency_metrics: true, bandwidth_metrics: true, upstream_health_metrics: true, ai_metrics: true } },
    { name: 'file-log', config: { path: path.join(tmp, 'access.jsonl') } },
    { name: 'http-log', config: { http_endpoint: `${logSink.url}/logs`, queue: { max_batch_size: 5, max_coalescing_delay: 0.05 } } },
  ];
  for (const p of observability) {
    const r = await gw.adminRequest('POST', '/plugins', p);
    assert.equal(r.status, 201, r.text);
  }
});

after(async () => {
  await gw?.close();
  await openai?.close();
  await attacker?.close();
  await echo?.close();
  await logSink?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

async function good(): Promise<void> {
  const r = remember(await gw.proxyRequest('POST', '/chat', USER));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.choices[0].message.content, DEFAULT_TEXT);
}

/** Sends raw bytes, returns what came back before the server closed (or `timeoutMs`). */
function rawExchange(chunks: (string | Buffer)[], gapMs = 0, timeoutMs = 5000): Promise<{ text: string; closedAfterMs: number }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const s = net.connect(gw.proxyPort, '127.0.0.1');
    let text = '';
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      resolve({ text, closedAfterMs: Date.now() - t0 });
      s.destroy();
    };
    s.setEncoding('utf8').on('data', (d: string) => (text += d));
    s.on('close', finish);
    s.on('error', finish);
    setTimeout(finish, timeoutMs);
    let i = 0;
    const next = () => {
      if (i >= chunks.length || s.destroyed) return;
      s.write(chunks[i++]);
      setTimeout(next, gapMs);
    };
    s.on('connect', next);
  });
}

function postRaw(path: string, body: Buffer, headers: Record<string, string | number> = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${gw.proxy}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': body.length, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve(remember({ status: res.statusCode ?? 0, headers: new Headers(res.headers as Record<string, string>), text, json }));
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('input limits: 413 for big bodies, 400 for bad UTF-8 and deep JSON, all before the provider', async () => {
  const before = openai.requests.length;
  const big = await postRaw('/echo/upload', Buffer.alloc(2 * 1024 * 1024, 97), { 'content-type': 'text/plain' });
  assert.equal(big.status, 413);
  assert.match(big.json.message, /larger than the limit/);
  const chunked = await new Promise<number>((resolve) => {
    const req = http.request(`${gw.proxy}/echo/chunked`, { method: 'POST', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(-1));
    const piece = Buffer.alloc(256 * 1024, 98);
    let sent = 0;
    const pump = () => {
      while (sent < 3 * 1024 * 1024) {
        sent += piece.length;
        if (!req.write(piece)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
  assert.ok(chunked === 413 || chunked === -1, `a chunked body over the limit is refused (${chunked})`);
  const badUtf8 = await postRaw('/chat', Buffer.concat([Buffer.from('{"messages":[{"role":"user","content":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}]}')]));
  assert.equal(badUtf8.status, 400);
  assert.match(badUtf8.json.error.message, /UTF-8/);
  const deep = await postRaw('/chat', Buffer.from('{"messages":[{"role":"user","content":"x","extra":' + '['.repeat(100_000) + ']'.repeat(100_000) + '}]}'));
  assert.equal(deep.status, 400);
  const split = 'é'.repeat(10) + '😀';
  const ok = await postRaw('/chat', Buffer.from(JSON.stringify({ messages: [{ role: 'user', content: split }] })));
  assert.equal(ok.status, 200);
  assert.equal((openai.requests.at(-1)!.json as any).messages[0].content, split, 'valid text reaches the provider byte for byte');
  assert.equal(openai.requests.length, before + 1);
  await good();
});

test('slow clients are cut by the header and body timeouts', async () => {
  const headers = await rawExchange(['POST /chat HTTP/1.1\r\n', 'Host: a\r\n', 'X-Slow: 1\r\n', 'X-Slow: 2\r\n'], 900, 8000);
  assert.ok(headers.closedAfterMs < 6000, `a trickled header block is cut (${headers.closedAfterMs} ms)`);
  const body = await rawExchange(['POST /chat HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"mess'], 0, 8000);
  assert.match(body.text, /^HTTP\/1.1 408/);
  assert.ok(body.closedAfterMs < 5000);
  const plainBody = await rawExchange([`POST /echo/x HTTP/1.1\r\nHost: a\r\nContent-Length: ${200 * 1024}\r\n\r\n`, 'x'.repeat(70 * 1024)], 0, 8000);
  assert.ok(plainBody.closedAfterMs < 6000, `a stalled streamed body is cut (${plainBody.closedAfterMs} ms)`);
  await good();
});

test('upstream faults: each a defined status and a JSON body, never a hang', async () => {
  const expectations: [string, number][] = [
    ['reset-before-headers', 502],
    ['reset-mid-headers', 502],
    ['garbage', 502],
    ['reset-mid-body', 502],
    ['slow-headers:3000', 504],
    ['slow-body:3000', 504],
    ['invalid-json-200', 502],
    ['wrong-shape-200', 502],
    ['5xx-html:503', 503],
    ['5xx-json:500', 500],
    ['redirect:301', 502],
    ['huge:3000000', 502],
    ['gzip,huge:1500000', 200],
    ['gzip,huge:3000000', 502], // small on the wire, over the cap once decoded: a bomb
  ];
  for (const [mode, status] of expectations) {
    const t0 = Date.now();
    const r = remember(await gw.proxyRequest('POST', '/chat', USER, { 'x-mock-mode': mode }));
    assert.equal(r.status, status, `${mode}: ${r.text.slice(0, 200)}`);
    assert.ok(r.json && typeof r.json === 'object', `${mode}: JSON body`);
    if (mode.startsWith('reset') || mode === 'garbage') assert.equal(r.json.message, 'An invalid response was received from the upstream server', mode);
    assert.ok(Date.now() - t0 < 10_000, `${mode} answered in time`);
  }
  const dead = await freePort();
  await gw.adminRequest('POST', '/services/ai/routes', { name: 'dead', paths: ['~/dead$'] });
  await gw.adminRequest('POST', '/routes/dead/plugins', {
    name: 'ai-proxy',
    config: { route_type: 'llm/v1/chat', auth: { header_name: 'Authorization', header_value: `Bearer ${CANARY}` }, model: { provider: 'openai', name: 'gpt-4', options: { upstream_url: `http://127.0.0.1:${dead}/v1/chat/completions` } } },
  });
  const refused = remember(await gw.proxyRequest('POST', '/dead', USER));
  assert.equal(refused.status, 502);
  await good();
});

/** TCP sockets of this machine (IPv4 and IPv6): local and remote port, state (`01` established, `06` time-wait). */
function tcpSockets(): { local: number; remote: number; state: string }[] {
  return ['/proc/net/tcp', '/proc/net/tcp6'].flatMap((file) =>
    readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => {
        const f = line.trim().split(/\s+/);
        return { local: parseInt(f[1]!.split(':')[1]!, 16), remote: parseInt(f[2]!.split(':')[1]!, 16), state: f[3]! };
      }),
  );
}

/** Open sockets between the gateway and the mock provider, counted on both ends. */
function providerSockets(): { atProvider: number; atGateway: number } {
  const all = tcpSockets();
  return {
    atProvider: all.filter((s) => s.local === openai.port && s.state === '01').length,
    // the gateway's end in any state but time-wait: a socket left in close-wait is a leaked descriptor
    atGateway: all.filter((s) => s.remote === openai.port && s.state !== '06').length,
  };
}

/** The mock closes its idle keep-alive connections; what is still open after that is in use or leaked. */
async function afterIdleClosed(): Promise<{ atProvider: number; atGateway: number }> {
  openai.closeIdleConnections();
  const deadline = Date.now() + 10_000;
  let open = providerSockets();
  while ((open.atProvider > 0 || open.atGateway > 0) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    open = providerSockets();
  }
  return open;
}

/** The worker's open file descriptors that are not sockets (files, pipes, event fds). */
function workerFiles(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).filter((fd) => {
    try {
      return !readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:');
    } catch {
      return false; // closed while we looked
    }
  }).length;
}

test('no socket or descriptor leaks: after faults, every provider connection closes once idle', async () => {
  const [worker] = (await gw.adminRequest('GET', '/')).json.pids.workers as number[];
  await good(); // warm up: the log file and the pools are open before the baseline
  assert.deepEqual(await afterIdleClosed(), { atProvider: 0, atGateway: 0 }, 'no provider connection in use before the run');
  const filesBefore = workerFiles(worker!);
  for (const mode of ['reset-mid-body', 'reset-mid-headers', 'garbage', 'invalid-json-200', 'huge:3000000', 'stream,reset-mid-stream', 'stream,stall-stream:2', 'slow-headers:3000', 'ok']) {
    remember(await gw.proxyRequest('POST', '/chat', { ...USER, stream: mode.startsWith('stream') }, { 'x-mock-mode': mode }));
  }
  await Promise.all(Array.from({ length: 20 }, () => gw.proxyRequest('POST', '/chat', USER)));
  assert.deepEqual(await afterIdleClosed(), { atProvider: 0, atGateway: 0 }, 'every provider connection was idle (none stuck on a fault) and the gateway closed its end');
  assert.ok(workerFiles(worker!) <= filesBefore, `the worker holds no more files than before (${filesBefore})`);
  await good();
});

test('header hygiene: hop-by-hop and credentials stay home; nothing in the request steers the upstream', async () => {
  // body fields that steered other gateways' upstreams: refused by default (unsupported_params: error), never followed
  const steering = await gw.proxyRequest('POST', '/chat', { ...USER, api_base: attacker.url, base_url: attacker.url, extra_body: { api_base: attacker.url } });
  remember(steering);
  assert.equal(steering.status, 400, steering.text);
  assert.match(steering.json.error.message, /^api_base: not supported by the openai provider$/);
  const r = await httpRequest(`${gw.proxy}/chat`, {
    method: 'POST',
    body: JSON.stringify(USER),
    headers: {
      'content-type': 'application/json',
      host: `127.0.0.1:${attacker.port}`,
      connection: 'keep-alive, x-secret-hop',
      'x-secret-hop': 'hop',
      'keep-alive': 'timeout=5',
      te: 'trailers',
      'proxy-authorization': 'Basic cHJveHk6cHc=',
      authorization: 'Bearer client-secret',
      'x-api-key': 'client-secret',
      'api-key': 'client-secret',
      apikey: 'client-secret',
      cookie: 'session=client-secret',
      'x-forwarded-host': `127.0.0.1:${attacker.port}`,
      'x-original-url': attacker.url,
      'x-portkey-custom-host': attacker.url,
      forwarded: `host=127.0.0.1:${attacker.port}`,
    },
  });
  remember(r);
  assert.equal(r.status, 200, r.text);
  const got = openai.requests.at(-1)!;
  for (const h of ['x-secret-hop', 'keep-alive', 'te', 'proxy-authorization', 'x-api-key', 'api-key', 'apikey', 'cookie', 'x-forwarded-host', 'x-original-url', 'forwarded']) {
    assert.equal(got.headers[h], undefined, `${h} not forwarded`);
  }
  assert.equal(got.headers.authorization, `Bearer ${CANARY}`);
  for (const field of ['api_base', 'base_url', 'extra_body']) assert.ok(!(field in (got.json as object)), `${field} is not forwarded`);
  assert.equal(got.headers.host, `127.0.0.1:${openai.port}`);
  assert.equal(attacker.received.length, 0, 'the attacker server saw nothing');
});

test('the model name cannot steer the upstream: it travels in the body only', async () => {
  // a route where the client picks the model (no model.name configured)
  assert.equal((await gw.adminRequest('POST', '/services/ai/routes', { name: 'any-model', paths: ['~/any-model$'] })).status, 201);
  const p = await gw.adminRequest('POST', '/routes/any-model/plugins', {
    name: 'ai-proxy',
    config: { route_type: 'llm/v1/chat', auth: { header_name: 'Authorization', header_value: `Bearer ${CANARY}` }, model: { provider: 'openai', options: { upstream_url: `${openai.url}/v1/chat/completions` } } },
  });
  assert.equal(p.status, 201, p.text);
  const hostile = [`http://127.0.0.1:${attacker.port}/steal`, `//127.0.0.1:${attacker.port}/steal`, '../../../admin?x=1#frag', 'gpt-4\r\nHost: evil', '%2e%2e%2fadmin'];
  for (const model of hostile) {
    const before = openai.requests.length;
    const r = await gw.proxyRequest('POST', '/any-model', { ...USER, model });
    remember(r);
    // the provider's own answer to a model it does not know, passed through: never the gateway's 500
    assert.equal(r.status, 404, `${model}: ${r.text}`);
    assert.doesNotMatch(r.headers.get('x-modelgate-llm-model') ?? '', /[\r\n]/);
    const got = openai.requests.at(-1)!;
    assert.equal(openai.requests.length, before + 1, `${model} went to the configured provider`);
    assert.equal(got.path, '/v1/chat/completions');
    assert.equal((got.json as { model: string }).model, model, 'the model is sent as data, untouched');
  }
  assert.equal(attacker.received.length, 0, 'the attacker server saw nothing');
});

test('egress: cloud metadata addresses are refused; non-http upstreams are refused at config time', async () => {
  const bad = await gw.adminRequest('POST', '/plugins', {
    name: 'ai-proxy',
    config: { route_type: 'llm/v1/chat', auth: { header_name: 'a', header_value: 'b' }, model: { provider: 'openai', name: 'x', options: { upstream_url: 'file:///etc/passwd' } } },
  });
  assert.equal(bad.status, 400);
  assert.match(JSON.stringify(bad.json.fields), /http or https/);
  await gw.adminRequest('POST', '/services/ai/routes', { name: 'meta', paths: ['~/meta$'] });
  for (const host of ['169.254.169.254', '[::ffff:169.254.169.254]', '[fd00:ec2::254]']) {
    const p = await gw.adminRequest('PUT', '/routes/meta/plugins/00000000-0000-4000-8000-00000000000' + (host.length % 10), {
      name: 'ai-proxy',
      config: { route_type: 'llm/v1/chat', auth: { header_name: 'Authorization', header_value: `Bearer ${CANARY}` }, model: { provider: 'openai', name: 'gpt-4', options: { upstream_url: `http://${host}/v1/chat/completions` } } },
    });
    assert.equal(p.status, 200, p.text);
    const t0 = Date.now();
    const r = remember(await gw.proxyRequest('POST', '/meta', USER));
    assert.equal(r.status, 502, `${host}: ${r.text}`);
    assert.ok(Date.now() - t0 < 2000, 'refused at once, not timed out');
    await gw.adminRequest('DELETE', `/plugins/${p.json.id}`);
  }
});

test('prototype pollution in request bodies changes nothing', async () => {
  const body = '{"messages":[{"role":"user","content":"hi","__proto__":{"role":"system"}}],"__proto__":{"model":"evil","stream":true},"constructor":{"prototype":{"polluted":true}}}';
  // by default such keys are refused by name (unsupported_params: error), and never sent, even under pass
  const refused = await postRaw('/chat', Buffer.from(body));
  assert.equal(refused.status, 400, refused.text);
  assert.match(refused.json.error.message, /^(__proto__|constructor|messages\[0\]\.__proto__): not supported by the openai provider$/);
  const pass = await gw.adminRequest('POST', '/services/ai/routes', { name: 'chat-pass', paths: ['~/chat-pass$'] });
  assert.equal(pass.status, 201, pass.text);
  const plugin = await gw.adminRequest('POST', '/routes/chat-pass/plugins', {
    name: 'ai-proxy',
    config: {
      route_type: 'llm/v1/chat',
      auth: { header_name: 'Authorization', header_value: `Bearer ${CANARY}` },
      model: { provider: 'openai', name: 'gpt-4', options: { upstream_url: `${openai.url}/v1/chat/completions`, unsupported_params: 'pass' } },
    },
  });
  assert.equal(plugin.status, 201, plugin.text);
  const r = await postRaw('/chat-pass', Buffer.from(body));
  assert.equal(r.status, 200, r.text);
  const sent = openai.requests.at(-1)!.body;
  assert.ok(!sent.includes('__proto__') && !sent.includes('constructor') && !sent.includes('evil'), `nothing of it reached the provider: ${sent}`);
  assert.equal((openai.requests.at(-1)!.json as any).model, 'gpt-4');
  await good();
  const admin = await gw.adminRequest('POST', '/services', '{"name":"pp","host":"example.com","__proto__":{"retries":0}}', { 'content-type': 'application/json' });
  assert.equal(admin.status, 400);
});

test('secrets: the canary keys appear in no answer and no log line, even after failures', async () => {
  // a query-parameter key, quoted back by a failing upstream's URL in error paths
  await gw.adminRequest('POST', '/services/ai/routes', { name: 'qk', paths: ['~/qk$'] });
  const p = await gw.adminRequest('POST', '/routes/qk/plugins', {
    name: 'ai-proxy',
    config: { route_type: 'llm/v1/chat', auth: { param_name: 'key', param_value: QUERY_CANARY, param_location: 'query' }, model: { provider: 'openai', name: 'gpt-4', options: { upstream_url: `${openai.url}/v1/chat/completions` } } },
  });
  assert.equal(p.status, 201, p.text);
  for (const mode of ['ok', '5xx-json:500', 'reset-before-headers', 'garbage', 'slow-headers:3000']) remember(await gw.proxyRequest('POST', '/qk', USER, { 'x-mock-mode': mode }));
  assert.equal(openai.requests.at(-1)!.query.key, QUERY_CANARY, 'the query key did reach the provider');

  // the log plugins saw the failures too (the 504 is the last one sent)
  const timedOut = (text: string) => text.split('\n').some((l) => l.includes('"qk"') && l.includes('"status":504'));
  const fileLog = path.join(tmp, 'access.jsonl');
  const httpLog = () => logSink.received.map((r) => r.body).join('\n');
  const deadline = Date.now() + 10_000;
  while (!(existsSync(fileLog) && timedOut(readFileSync(fileLog, 'utf8')) && timedOut(httpLog())) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const fileEntries = readFileSync(fileLog, 'utf8');
  assert.ok(timedOut(fileEntries), 'file-log has the failed requests');
  assert.ok(timedOut(httpLog()), 'http-log has the failed requests');
  const metrics = await gw.adminRequest('GET', '/metrics');
  assert.equal(metrics.status, 200);
  assert.match(metrics.text, /modelgate_http_requests_total\{[^}]*code="502"/, 'the metrics count the failures');

  const forms = (s: string) => [s, encodeURIComponent(s), Buffer.from(s).toString('base64'), Buffer.from(s).toString('base64url')];
  const places = { 'gateway output': gw.logs, 'answers and error bodies': seen.join('\n'), '/metrics': metrics.text, 'file-log entries': fileEntries, 'http-log entries': httpLog() };
  assert.ok(places['gateway output'].length > 10_000, 'there is output to search');
  for (const [where, text] of Object.entries(places)) {
    for (const secret of [CANARY, QUERY_CANARY]) for (const f of forms(secret)) assert.ok(!text.includes(f), `no form of ${secret.slice(0, 12)}… in ${where}`);
  }
  assert.match(gw.stdout, /"payload":\{"request"/, 'payload logging was on, and still no key');
});

test('Admin API: foreign Origin writes and foreign Host are refused; CORS only for the GUI origin', async () => {
  const cross = await gw.adminRequest('POST', '/services', { name: 'csrf', host: 'example.com' }, { origin: 'http://evil.example' });
  assert.equal(cross.status, 403);
  const read = await gw.adminRequest('GET', '/services', undefined, { origin: 'http://evil.example' });
  assert.equal(read.headers.get('access-control-allow-origin'), null);
  const preflight = await gw.adminRequest('OPTIONS', '/services', undefined, { origin: 'http://evil.example', 'access-control-request-method': 'POST' });
  assert.equal(preflight.status, 403);
  const rebinding = await httpRequest(`${gw.admin}/services`, { headers: { host: 'evil.example' } });
  assert.equal(rebinding.status, 403);
  assert.equal((await gw.adminRequest('GET', '/services/csrf')).status, 404);
});

test('Admin API token: required on every call when set, in either header, compared in constant time', async () => {
  const token = 'adm-' + randomBytes(8).toString('hex');
  const guarded = await Gateway.start({ env: { MODELGATE_ADMIN_TOKEN: token, MODELGATE_ADMIN_GUI_ORIGIN: 'http://gui.example' } });
  try {
    const poll = await fetch(guarded.admin + '/status');
    assert.equal(poll.status, 401);
    assert.equal((await guarded.adminRequest('GET', '/services', undefined, { 'kong-admin-token': 'wrong' })).status, 401);
    assert.equal((await guarded.adminRequest('GET', '/services', undefined, { 'kong-admin-token': token })).status, 200);
    assert.equal((await guarded.adminRequest('GET', '/services', undefined, { authorization: `Bearer ${token}` })).status, 200);
    const gui = await guarded.adminRequest('POST', '/services', { name: 'from-gui', host: 'example.com' }, { origin: 'http://gui.example', 'kong-admin-token': token });
    assert.equal(gui.status, 201);
    assert.equal(gui.headers.get('access-control-allow-origin'), 'http://gui.example');
    assert.ok(!guarded.logs.includes(token), 'the admin token is never logged');
  } finally {
    await guarded.close();
  }
});
