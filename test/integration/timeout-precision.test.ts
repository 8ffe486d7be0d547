/**
 * `connect_timeout`, `write_timeout` and `read_timeout` mean what they say (issue 16): each fires
 * within max(10%, 50 ms) of its setting, for plain services, for ai-proxy (the route's service's
 * timeouts) and for an ai-proxy-advanced balancer, streamed and not. Settings of 400 and 800 ms
 * are ones undici's own timers (ticks of about half a second) got wrong: they fired after about
 * 0.5 or 1 s.
 *
 * Durations are measured on the gateway's side of the wire wherever a mock can see it, so a busy
 * machine's latency between client and gateway does not count: from the last byte a mock upstream
 * sent (or the request it finished receiving) to the moment the gateway closed that connection.
 * Only a connection that never completes has no such witness: there the client's time counts,
 * minus the same route's time to answer at once.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { Gateway } from '../helpers/gateway.ts';

const SETTINGS = [400, 800];
const RUNS = 5;
/** The bound: within 10% of the setting or 50 ms, whichever is larger. */
const tolerance = (ms: number) => Math.max(0.1 * ms, 50);

let gw: Gateway;
const closers: (() => void)[] = [];

before(async () => {
  gw = await Gateway.start({ workers: 1, env: { MODELGATE_MAX_BODY_SIZE: '64m' } });
  const ai = await gw.adminRequest('POST', '/services', { name: 'ai-null', url: 'http://localhost:32000' });
  assert.equal(ai.status, 201, ai.text);
});

after(async () => {
  await gw?.close();
  for (const close of closers) close();
});

// ---------------------------------------------------------------- mock upstreams

/** One exchange as a mock upstream saw it: when its last byte went or came, when the gateway closed. */
interface Witness {
  /** performance.now() of the last thing the mock did before it went silent. */
  quietSince: number;
  closedAt: Promise<number>;
}

type Behaviour = (req: http.IncomingMessage, res: http.ServerResponse, quiet: () => void) => void;

/** An HTTP upstream that runs `behaviour` for every request and records each exchange's witness. */
async function httpUpstream(behaviour: Behaviour): Promise<{ url: string; witnesses: Witness[] }> {
  const witnesses: Witness[] = [];
  const server = http.createServer((req, res) => {
    const w: Witness = { quietSince: 0, closedAt: new Promise((resolve) => req.socket.once('close', () => resolve(performance.now()))) };
    witnesses.push(w);
    req.resume();
    req.once('end', () => behaviour(req, res, () => (w.quietSince = performance.now())));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => server.closeAllConnections(), () => server.close());
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, witnesses };
}

/** Reads the request, then says nothing: the gateway waits for headers. */
const silent: Behaviour = (_req, _res, quiet) => quiet();

/** Sends `parts` with `gapMs` between them, then stalls; the headers go with the first part. */
function trickle(headers: Record<string, string | number>, parts: string[], gapMs: number): Behaviour {
  return (_req, res, quiet) => {
    res.writeHead(200, headers);
    let i = 0;
    const next = () => {
      res.write(parts[i++]);
      quiet();
      if (i < parts.length) setTimeout(next, gapMs);
    };
    next();
  };
}

/**
 * A TCP upstream that accepts and never reads: the gateway's writes stop draining. A socket that
 * does not read cannot see its peer close either, so here the gateway's side ends when its 504
 * reaches the client (loopback, well under a millisecond later).
 */
async function deafUpstream(): Promise<{ url: string; acceptedAt: number[]; drop: () => void }> {
  const acceptedAt: number[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    acceptedAt.push(performance.now());
    socket.pause();
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const drop = () => sockets.forEach((s) => s.destroy());
  closers.push(drop, () => server.close());
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, acceptedAt, drop };
}

/**
 * An OpenAI-compatible provider that reads its request slowly but steadily (what its socket holds,
 * every 20 ms), then answers. Its kernel buffers fill, so the gateway's writes wait for room again
 * and again, each time for well under a second here.
 */
async function slowReader(): Promise<{ url: string }> {
  const answer = JSON.stringify({ id: 'c1', object: 'chat.completion', created: 0, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } });
  const server = net.createServer((socket) => {
    socket.pause();
    let head = '';
    let expected = Infinity;
    let got = 0;
    const tick = setInterval(() => {
      const chunk: Buffer | null = socket.read();
      if (!chunk) return;
      got += chunk.length;
      if (expected === Infinity) {
        head += chunk.toString('latin1');
        const end = head.indexOf('\r\n\r\n');
        if (end >= 0) expected = end + 4 + Number(/content-length: *(\d+)/i.exec(head.slice(0, end))![1]);
      }
      if (got < expected) return;
      clearInterval(tick);
      socket.end(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${answer.length}\r\nconnection: close\r\n\r\n${answer}`);
    }, 20);
    socket.once('close', () => clearInterval(tick));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => server.close());
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}` };
}

/**
 * An address on loopback where TCP connections never complete: a listening socket in a child
 * process whose event loop is blocked (so it never accepts), with its accept queue (backlog 1)
 * filled by two connections of ours. Linux then drops further SYNs, and a connect hangs until
 * its own timeout. The child gives up by itself after five minutes, should this process die first.
 */
async function blackHole(): Promise<string> {
  const script = `
    const s = require('node:net').createServer();
    s.listen(0, '127.0.0.1', 1, () => process.stdout.write(s.address().port + '\\n', () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300000)));`;
  const child: ChildProcess = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  closers.push(() => child.kill('SIGKILL'));
  const port = await new Promise<number>((resolve) => child.stdout!.once('data', (d) => resolve(Number(String(d).trim()))));
  const fillers: net.Socket[] = [];
  let connected = 0;
  await new Promise<void>((resolve) => {
    for (let i = 0; i < 3; i++) {
      const s = net.connect(port, '127.0.0.1').on('error', () => {});
      s.once('connect', () => ++connected === 2 && resolve());
      fillers.push(s);
    }
  });
  closers.push(() => fillers.forEach((s) => s.destroy()));
  // proof that it is a black hole: a fourth connection does not complete
  const probe = net.connect(port, '127.0.0.1').on('error', () => {});
  const completed = await Promise.race([new Promise((r) => probe.once('connect', () => r(true))), new Promise((r) => setTimeout(() => r(false), 300))]);
  probe.destroy();
  assert.equal(completed, false, 'the black hole accepted a connection');
  return `http://127.0.0.1:${port}`;
}

// ---------------------------------------------------------------- client side

interface Answer {
  status: number;
  body: string;
  /** The response was cut (the gateway gave up after the status line went out). */
  cut: boolean;
  /** From the request's start to the end of the answer. */
  ms: number;
  /** performance.now() when the status line arrived. */
  answeredAt: number;
}

/** A request through the proxy that tolerates a cut body; `body` of `size` bytes is sent in 64 KiB writes. */
function send(path: string, opts: { json?: unknown; size?: number } = {}): Promise<Answer> {
  const started = performance.now();
  const payload = opts.json === undefined ? null : Buffer.from(JSON.stringify(opts.json));
  const headers: Record<string, string> = {};
  if (payload) headers['content-type'] = 'application/json';
  if (payload || opts.size) headers['content-length'] = String(payload?.length ?? opts.size);
  return new Promise((resolve, reject) => {
    const req = http.request(`${gw.proxy}${path}`, { method: payload || opts.size ? 'POST' : 'GET', headers, agent: false }, (res) => {
      const answeredAt = performance.now();
      let body = '';
      const done = (cut: boolean) => {
        resolve({ status: res.statusCode ?? 0, body, cut, ms: performance.now() - started, answeredAt });
        if (opts.size) req.destroy(); // an upload the gateway gave up on is not finished
      };
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.once('end', () => done(false));
      res.once('error', () => done(true));
      res.once('close', () => res.complete || done(true));
    });
    req.on('error', reject);
    if (payload) return void req.end(payload);
    if (!opts.size) return void req.end();
    const chunk = Buffer.alloc(64 * 1024, 120);
    let sent = 0;
    const pump = () => {
      while (sent < opts.size!) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      req.end();
    };
    req.once('response', () => (sent = opts.size!)); // answered: stop sending
    pump();
  });
}

// ---------------------------------------------------------------- configuration

async function serviceRoute(name: string, url: string, timeouts: Record<string, number>): Promise<string> {
  const s = await gw.adminRequest('POST', '/services', { name, url, retries: 0, ...timeouts });
  assert.equal(s.status, 201, s.text);
  const r = await gw.adminRequest('POST', `/services/${name}/routes`, { name, paths: [`/${name}`] });
  assert.equal(r.status, 201, r.text);
  return `/${name}`;
}

/** An OpenAI-compatible provider at `url` (llama2's openai format: any upstream URL is accepted). */
function provider(url: string, model = 'm'): Record<string, unknown> {
  return { provider: 'llama2', name: model, options: { llama2_format: 'openai', upstream_url: `${url}/v1/chat/completions` } };
}

/** An ai-proxy route on its own service, whose timeouts are the provider call's. */
async function aiProxyRoute(name: string, url: string, timeouts: Record<string, number>): Promise<string> {
  const s = await gw.adminRequest('POST', '/services', { name, url: 'http://localhost:32000', retries: 0, ...timeouts });
  assert.equal(s.status, 201, s.text);
  const r = await gw.adminRequest('POST', `/services/${name}/routes`, { name, paths: [`/${name}`] });
  assert.equal(r.status, 201, r.text);
  const p = await gw.adminRequest('POST', `/routes/${name}/plugins`, { name: 'ai-proxy', config: { route_type: 'llm/v1/chat', model: provider(url), max_request_body_size: 64 * 1024 * 1024 } });
  assert.equal(p.status, 201, p.text);
  return `/${name}`;
}

/** An ai-proxy-advanced route with one target, whose balancer's timeouts are the provider call's. */
async function balancerRoute(name: string, url: string, timeouts: Record<string, number>): Promise<string> {
  const r = await gw.adminRequest('POST', '/services/ai-null/routes', { name, paths: [`/${name}`] });
  assert.equal(r.status, 201, r.text);
  const config = { balancer: { algorithm: 'round-robin', retries: 0, ...timeouts }, max_request_body_size: 64 * 1024 * 1024, targets: [{ route_type: 'llm/v1/chat', model: provider(url) }] };
  const p = await gw.adminRequest('POST', `/routes/${name}/plugins`, { name: 'ai-proxy-advanced', config });
  assert.equal(p.status, 201, p.text);
  return `/${name}`;
}

type RouteMaker = (name: string, url: string, timeouts: Record<string, number>) => Promise<string>;

const CHAT = { messages: [{ role: 'user', content: 'What is 1+1?' }] };
const CHAT_STREAM = { ...CHAT, stream: true };

const sseEvent = (content: string) =>
  `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 0, model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;

// ---------------------------------------------------------------- measurement

/**
 * Runs `once` RUNS times per setting and checks the durations against the bound. A run outside it
 * is measured once more; a setting passes when its median is within the bound and at most one run
 * still misses. A 2-core machine busy with other suites can hold a process off the CPU for 100 ms
 * now and then (seen: two runs of 501 ms for a 400 ms timer in a full CI-style run, the other three
 * within 15 ms), while imprecise timers (undici's ~500 ms ticks) miss on every run, so the old
 * timers still fail here. Every measurement is reported, retried ones in brackets.
 */
async function measure(what: string, once: (ms: number, run: number) => Promise<number>): Promise<void> {
  const report: string[] = [];
  const misses: string[] = [];
  const within = (ms: number, d: number) => Math.abs(d - ms) <= tolerance(ms);
  for (const ms of SETTINGS) {
    const seen: string[] = [];
    const kept: number[] = [];
    let missed = 0;
    for (let run = 0; run < RUNS; run++) {
      let d = await once(ms, run);
      let shown = String(Math.round(d));
      if (!within(ms, d)) {
        d = await once(ms, run);
        shown = `[${shown}] ${Math.round(d)}`;
        if (!within(ms, d)) missed++;
      }
      kept.push(d);
      seen.push(shown);
    }
    const median = [...kept].sort((a, b) => a - b)[Math.floor(kept.length / 2)];
    if (!within(ms, median)) misses.push(`${ms} ms: median ${Math.round(median)} ms`);
    if (missed > 1) misses.push(`${ms} ms: ${missed} of ${RUNS} runs missed twice`);
    report.push(`${ms} ms: ${seen.join(', ')}`);
  }
  console.log(`# ${what}: ${report.join('; ')}`);
  assert.deepEqual(misses, [], `${what} outside max(10%, 50 ms) of the setting (${report.join('; ')})`);
}

/** The gateway's time from the mock's last act to its closing the connection. */
async function gatewaySide(w: Witness | undefined): Promise<number> {
  assert.ok(w, 'the upstream saw the request');
  return (await w.closedAt) - w.quietSince;
}

let routes = 0;
const routeName = (prefix: string) => `${prefix}-${++routes}`;

// ---------------------------------------------------------------- read_timeout

test('service read_timeout: waiting for the response headers', { timeout: 120_000 }, async () => {
  const up = await httpUpstream(silent);
  const paths = new Map<number, string>();
  for (const ms of SETTINGS) paths.set(ms, await serviceRoute(routeName('svc-read'), up.url, { read_timeout: ms }));
  await measure('service read_timeout, headers', async (ms) => {
    const r = await send(paths.get(ms)!);
    assert.equal(r.status, 504, r.body);
    assert.equal(JSON.parse(r.body).message, 'The upstream server is timing out');
    return gatewaySide(up.witnesses.at(-1));
  });
});

test('service read_timeout: between two body chunks, reset by each chunk', { timeout: 120_000 }, async () => {
  const paths = new Map<number, string>();
  const ups = new Map<number, Awaited<ReturnType<typeof httpUpstream>>>();
  for (const ms of SETTINGS) {
    // chunks 0.6 × the timeout apart: the second must reset the timer, the stall after it must not
    const up = await httpUpstream(trickle({ 'content-type': 'text/plain', 'content-length': 1000 }, ['a'.repeat(100), 'b'.repeat(100)], 0.6 * ms));
    ups.set(ms, up);
    paths.set(ms, await serviceRoute(routeName('svc-body'), up.url, { read_timeout: ms }));
  }
  await measure('service read_timeout, body', async (ms) => {
    const r = await send(paths.get(ms)!);
    assert.equal(r.status, 200);
    assert.ok(r.cut, 'the client sees a cut body');
    assert.equal(r.body, 'a'.repeat(100) + 'b'.repeat(100), 'every chunk before the stall reached the client');
    return gatewaySide(ups.get(ms)!.witnesses.at(-1));
  });
});

for (const [kind, makeRoute] of [
  ['ai-proxy (service timeouts)', aiProxyRoute],
  ['ai-proxy-advanced (balancer timeouts)', balancerRoute],
] as [string, RouteMaker][]) {
  const prefix = kind.startsWith('ai-proxy-advanced') ? 'bal' : 'aip';

  test(`${kind} read_timeout: waiting for the provider's headers`, { timeout: 120_000 }, async () => {
    const up = await httpUpstream(silent);
    const paths = new Map<number, string>();
    for (const ms of SETTINGS) paths.set(ms, await makeRoute(routeName(`${prefix}-read`), up.url, { read_timeout: ms }));
    await measure(`${kind} read_timeout, headers`, async (ms, run) => {
      const r = await send(paths.get(ms)!, { json: run % 2 ? CHAT_STREAM : CHAT });
      assert.equal(r.status, 504, r.body);
      return gatewaySide(up.witnesses.at(-1));
    });
  });

  test(`${kind} read_timeout: a non-streamed answer that stalls mid-body`, { timeout: 120_000 }, async () => {
    const up = await httpUpstream(trickle({ 'content-type': 'application/json', 'content-length': 1000 }, ['{"id":"c1","object":"chat.completion",'], 0));
    const paths = new Map<number, string>();
    for (const ms of SETTINGS) paths.set(ms, await makeRoute(routeName(`${prefix}-body`), up.url, { read_timeout: ms }));
    await measure(`${kind} read_timeout, body`, async (ms) => {
      const r = await send(paths.get(ms)!, { json: CHAT });
      assert.equal(r.status, 504, r.body);
      return gatewaySide(up.witnesses.at(-1));
    });
  });

  test(`${kind} read_timeout: the idle gap of a stream, reset by each event`, { timeout: 120_000 }, async () => {
    const paths = new Map<number, string>();
    const ups = new Map<number, Awaited<ReturnType<typeof httpUpstream>>>();
    for (const ms of SETTINGS) {
      const up = await httpUpstream(trickle({ 'content-type': 'text/event-stream' }, [sseEvent('one'), sseEvent(' two')], 0.6 * ms));
      ups.set(ms, up);
      paths.set(ms, await makeRoute(routeName(`${prefix}-sse`), up.url, { read_timeout: ms }));
    }
    await measure(`${kind} read_timeout, stream`, async (ms) => {
      const r = await send(paths.get(ms)!, { json: CHAT_STREAM });
      assert.equal(r.status, 200);
      assert.ok(r.body.includes('two'), 'every event before the stall reached the client');
      assert.ok(!r.body.includes('[DONE]'), 'a stalled stream does not end as if complete');
      return gatewaySide(ups.get(ms)!.witnesses.at(-1));
    });
  });
}

// ---------------------------------------------------------------- write_timeout

test('service write_timeout: an upstream that stops reading a streamed request body', { timeout: 180_000 }, async () => {
  const up = await deafUpstream();
  const paths = new Map<number, string>();
  for (const ms of SETTINGS) paths.set(ms, await serviceRoute(routeName('svc-write'), up.url, { write_timeout: ms, read_timeout: 600_000 }));
  await measure('service write_timeout', async (ms) => {
    const accepted = up.acceptedAt.length;
    const r = await send(paths.get(ms)!, { size: 48 * 1024 * 1024 });
    assert.equal(r.status, 504, r.body);
    assert.equal(up.acceptedAt.length, accepted + 1, 'one connection per request');
    up.drop();
    return r.answeredAt - up.acceptedAt[accepted];
  });
});

for (const [kind, makeRoute] of [
  ['ai-proxy (service timeouts)', aiProxyRoute],
  ['ai-proxy-advanced (balancer timeouts)', balancerRoute],
] as [string, RouteMaker][]) {
  test(`${kind} write_timeout: a provider that stops reading a large request`, { timeout: 180_000 }, async () => {
    const up = await deafUpstream();
    const paths = new Map<number, string>();
    for (const ms of SETTINGS) paths.set(ms, await makeRoute(routeName('ai-write'), up.url, { write_timeout: ms, read_timeout: 600_000 }));
    const big = { messages: [{ role: 'user', content: 'x'.repeat(24 * 1024 * 1024) }] };
    await measure(`${kind} write_timeout`, async (ms) => {
      const accepted = up.acceptedAt.length;
      const r = await send(paths.get(ms)!, { json: big });
      assert.equal(r.status, 504, r.body);
      assert.equal(up.acceptedAt.length, accepted + 1, 'one connection per request');
      up.drop();
      return r.answeredAt - up.acceptedAt[accepted];
    });
  });
}

test('write_timeout is the wait between two writes, not for the whole request: a provider reading a large request slowly is not cut', { timeout: 60_000 }, async () => {
  const up = await slowReader();
  const path = await balancerRoute(routeName('bal-slow'), up.url, { write_timeout: 2000, read_timeout: 10_000 });
  const r = await send(path, { json: { messages: [{ role: 'user', content: 'x'.repeat(16 * 1024 * 1024) }] } });
  assert.equal(r.status, 200, r.body);
  // the request took well over write_timeout to go through: only the waits between writes count
  assert.ok(r.ms > 1.5 * 2000, `the upload took ${Math.round(r.ms)} ms, which does not show the difference`);
});

// ---------------------------------------------------------------- connect_timeout

test('connect_timeout: a connection that never completes, for a service, ai-proxy and a balancer', { timeout: 180_000 }, async () => {
  const hole = await blackHole();
  const fast = await httpUpstream((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id: 'c1', object: 'chat.completion', created: 0, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: '2' }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }));
  });
  const cases: [string, RouteMaker, { json?: unknown }][] = [
    ['service', serviceRoute, {}],
    ['ai-proxy (service timeouts)', aiProxyRoute, { json: CHAT }],
    ['ai-proxy-advanced (balancer timeouts)', balancerRoute, { json: CHAT }],
  ];
  for (const [kind, makeRoute, body] of cases) {
    const paths = new Map<number, { hole: string; fast: string }>();
    for (const ms of SETTINGS) {
      paths.set(ms, { hole: await makeRoute(routeName('conn'), hole, { connect_timeout: ms }), fast: await makeRoute(routeName('conn-fast'), fast.url, { connect_timeout: ms }) });
    }
    await measure(`${kind} connect_timeout`, async (ms) => {
      // the client's time, less what the same kind of route takes to answer at once
      const baseline = (await send(paths.get(ms)!.fast, body)).ms;
      const r = await send(paths.get(ms)!.hole, body);
      assert.equal(r.status, 504, r.body);
      return r.ms - baseline;
    });
  }
});
