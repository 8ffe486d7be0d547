/**
 * Tracing against the real gateway (issue 21): the opentelemetry plugin exporting to the test's
 * OTLP/HTTP receiver (test/helpers/otlp-receiver.ts, decoding with the official proto), mock
 * providers and a plain echo upstream. Known chat, streamed, failed-over and embeddings requests
 * must produce exactly the expected spans (names, kinds, parent links, GenAI attributes); an
 * incoming traceparent is continued; upstreams receive a traceparent naming the gateway's client
 * span; a target's `trace_propagation: false` stops it; content only with log_payloads; a collector
 * that is slow, down, then back changes no answer, and every span made is delivered once or counted as dropped.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Gateway } from '../helpers/gateway.ts';
import { EchoServer } from '../helpers/echo-server.ts';
import { OtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver.ts';
import { startMockProvider, type MockProvider } from '../mocks/providers.ts';
import OpenAI from 'openai';

const KEY = 'sk-openai-oteltrace-7d21be04';
const USER = [{ role: 'user', content: 'What is 1+1?' }];
const TRACE_HEADER = 'x-trace-id';
const COLLECTOR_DELAY_MS = 5000;

let gw: Gateway;
let openai: MockProvider;
let a: MockProvider;
let b: MockProvider;
let echo: EchoServer;
let receiver: OtlpReceiver;
let slowCollector: OtlpReceiver;

async function admin(method: string, url: string, body?: unknown): Promise<any> {
  const r = await gw.adminRequest(method, url, body);
  assert.ok(r.status < 300, `${method} ${url}: ${r.status} ${r.text}`);
  return r.json;
}

function openaiPlugin(route: string, model: string, path: string, extra: { options?: Record<string, unknown>; logging?: Record<string, unknown>; route_type?: string } = {}) {
  return admin('POST', `/routes/${route}/plugins`, {
    name: 'ai-proxy',
    config: {
      route_type: extra.route_type ?? 'llm/v1/chat',
      auth: { header_name: 'Authorization', header_value: `Bearer ${KEY}` },
      model: { provider: 'openai', name: model, options: { upstream_url: `${openai.url}${path}`, ...extra.options } },
      ...(extra.logging ? { logging: extra.logging } : {}),
    },
  });
}

const compatTarget = (mock: MockProvider, model: string, weight: number) => ({
  route_type: 'llm/v1/chat',
  weight,
  model: { provider: 'llama2', name: model, options: { llama2_format: 'openai', upstream_url: `${mock.url}/v1/chat/completions` } },
});

before(async () => {
  receiver = await OtlpReceiver.start();
  slowCollector = await OtlpReceiver.start();
  openai = await startMockProvider('openai', { key: KEY });
  a = await startMockProvider('openai-compatible');
  b = await startMockProvider('openai-compatible');
  echo = await EchoServer.start();
  // Kong's full span set (router, plugin phases); the default's smaller set: otel-instrumentations.test.ts
  gw = await Gateway.start({ workers: 1, env: { MODELGATE_TRACING_INSTRUMENTATIONS: 'all' } });
  await admin('POST', '/services', { name: 'ai', url: 'http://localhost:32000' });
  await admin('POST', '/services', { name: 'plain', url: echo.url });
  for (const name of ['chat', 'payloads', 'redacted', 'emb', 'failover', 'noprop', 'collector']) await admin('POST', '/services/ai/routes', { name, paths: [`/${name}`] });
  await admin('POST', '/services/plain/routes', { name: 'plain', paths: ['/plain'] });
  await openaiPlugin('chat', 'gpt-4o', '/v1/chat/completions');
  await openaiPlugin('payloads', 'gpt-4o', '/v1/chat/completions', { logging: { log_payloads: true, log_statistics: true } });
  await openaiPlugin('redacted', 'gpt-4o', '/v1/chat/completions', { logging: { log_payloads: true, log_statistics: true } });
  await admin('POST', '/routes/redacted/plugins', { name: 'ai-sanitizer', config: { anonymize: ['email'], sanitization_mode: 'OUTPUT' } });
  await openaiPlugin('emb', 'text-embedding-3-small', '/v1/embeddings', { route_type: 'llm/v1/embeddings' });
  await openaiPlugin('noprop', 'gpt-4o', '/v1/chat/completions', { options: { trace_propagation: false } });
  await openaiPlugin('collector', 'gpt-4o', '/v1/chat/completions');
  await admin('POST', '/routes/failover/plugins', {
    name: 'ai-proxy-advanced',
    config: { balancer: { algorithm: 'priority', retries: 2 }, targets: [compatTarget(a, 'primary', 100), compatTarget(b, 'secondary', 50)] },
  });
  const common = { queue: { max_coalescing_delay: 0.05 }, http_response_header_for_traceid: TRACE_HEADER };
  await admin('POST', '/plugins', { name: 'opentelemetry', config: { traces_endpoint: `${receiver.url}/v1/traces`, logs_endpoint: `${receiver.url}/v1/logs`, ...common } });
  // the collector route's own plugin (more specific than the global one): a small queue to a collector made slow, then down
  await admin('POST', '/routes/collector/plugins', {
    name: 'opentelemetry',
    config: { traces_endpoint: `${slowCollector.url}/v1/traces`, encoding: 'json', http_response_header_for_traceid: TRACE_HEADER, queue: { max_coalescing_delay: 0.05, max_batch_size: 4, max_entries: 8 } },
  });
});

after(async () => {
  await gw?.close();
  await Promise.all([openai?.close(), a?.close(), b?.close(), echo?.close(), receiver?.close(), slowCollector?.close()]);
});

/** The spans of one trace, once its request span (exported last, with the rest of the request's) arrived. */
async function traceOf(traceId: string): Promise<ReceivedSpan[]> {
  await receiver.waitFor(() => receiver.spans().some((s) => s.traceId === traceId && s.name === 'kong'));
  return receiver.spans().filter((s) => s.traceId === traceId);
}

function byName(spans: ReceivedSpan[], name: string): ReceivedSpan {
  const found = spans.filter((s) => s.name === name);
  assert.equal(found.length, 1, `one ${name} span in ${JSON.stringify(spans.map((s) => s.name))}`);
  return found[0];
}

const names = (spans: ReceivedSpan[]) => spans.map((s) => s.name).sort();

function traceparentOf(mock: { headers: Record<string, unknown> }): string[] {
  const tp = mock.headers.traceparent;
  assert.equal(typeof tp, 'string', 'the upstream received a traceparent');
  const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-(0[01])$/.exec(tp as string);
  assert.ok(m, `a W3C traceparent: ${tp}`);
  return m.slice(1);
}

test('a chat: the request, router, access and GenAI client spans, linked, with the GenAI attributes; traceparent to the provider; trace id in the header, access log and log record', async () => {
  const seen = openai.requests.length;
  const r = await gw.proxyRequest('POST', '/chat', { messages: USER, max_tokens: 50, temperature: 0.5 });
  assert.equal(r.status, 200, r.text);
  const traceId = r.headers.get(TRACE_HEADER)!;
  assert.match(traceId, /^[0-9a-f]{32}$/);
  const spans = await traceOf(traceId);
  assert.deepEqual(names(spans), ['chat gpt-4o', 'kong', 'kong.access.plugin.ai-proxy', 'kong.router']);
  const root = byName(spans, 'kong');
  assert.equal(root.kind, 2);
  assert.equal(root.parentSpanId, '');
  assert.equal(root.attributes['http.request.method'], 'POST');
  assert.equal(root.attributes['url.path'], '/chat');
  assert.equal(root.attributes['http.response.status_code'], 200);
  assert.equal(root.attributes['http.route'], '/chat');
  assert.match(String(root.attributes['kong.request.id']), /^[0-9a-f-]{36}$/);
  assert.equal(root.resource['service.name'], 'modelgate');
  for (const s of spans) if (s !== root) assert.equal(s.parentSpanId, root.spanId, `${s.name} is a child of the request span`);
  assert.equal(byName(spans, 'kong.router').kind, 1);
  const g = byName(spans, 'chat gpt-4o');
  assert.equal(g.kind, 3);
  const usage = r.json.usage;
  const sent = openai.requests[seen].json as { max_tokens: number; temperature: number };
  assert.deepEqual(
    {
      op: g.attributes['gen_ai.operation.name'],
      provider: g.attributes['gen_ai.provider.name'],
      model: g.attributes['gen_ai.request.model'],
      responseModel: g.attributes['gen_ai.response.model'],
      id: g.attributes['gen_ai.response.id'],
      finish: g.attributes['gen_ai.response.finish_reasons'],
      input: g.attributes['gen_ai.usage.input_tokens'],
      output: g.attributes['gen_ai.usage.output_tokens'],
      maxTokens: g.attributes['gen_ai.request.max_tokens'],
      temperature: g.attributes['gen_ai.request.temperature'],
      port: g.attributes['server.port'],
    },
    {
      op: 'chat',
      provider: 'openai',
      model: 'gpt-4o',
      responseModel: r.json.model,
      id: r.json.id,
      finish: [r.json.choices[0].finish_reason],
      input: usage.prompt_tokens,
      output: usage.completion_tokens,
      maxTokens: sent.max_tokens, // what the provider was sent: the route's options win over the client's (Kong 3.8)
      temperature: sent.temperature,
      port: Number(new URL(openai.url).port),
    },
  );
  assert.equal(typeof g.attributes['modelgate.cost'], 'number');
  assert.equal(g.attributes['gen_ai.request.stream'], undefined, 'set only for streaming requests');
  assert.equal(g.attributes['gen_ai.input.messages'], undefined, 'no content without log_payloads');
  assert.equal(g.attributes['gen_ai.output.messages'], undefined);
  const [tpTrace, tpParent, flags] = traceparentOf(openai.requests[seen]);
  assert.deepEqual([tpTrace, tpParent, flags], [traceId, g.spanId, '01'], 'the provider call carries the GenAI span as its parent');
  assert.equal(JSON.stringify(spans).includes(KEY), false, 'no key in any span');

  await receiver.waitFor(() => receiver.logs().some((l) => l.traceId === traceId));
  const log = receiver.logs().find((l) => l.traceId === traceId)!;
  assert.equal(log.spanId, root.spanId);
  assert.equal(log.attributes.status, 200);
  assert.equal(log.attributes.path, '/chat');
  const line = gw.stdout.split('\n').find((l) => l.includes(traceId) && l.includes('"msg":"request"'));
  assert.ok(line, 'the access log line carries the trace id');
  assert.equal(JSON.parse(line!).trace_id, traceId);
});

test('an incoming traceparent is continued: same trace id, the caller as parent, sampled flag followed', async () => {
  const caller = { trace: '4bf92f3577b34da6a3ce929d0e0e4736', span: '00f067aa0ba902b7' };
  const seen = openai.requests.length;
  const r = await gw.proxyRequest('POST', '/chat', { messages: USER }, { traceparent: `00-${caller.trace}-${caller.span}-01` });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get(TRACE_HEADER), caller.trace);
  const spans = await traceOf(caller.trace);
  const root = byName(spans, 'kong');
  assert.equal(root.parentSpanId, caller.span);
  const g = byName(spans, 'chat gpt-4o');
  assert.deepEqual(traceparentOf(openai.requests[seen]), [caller.trace, g.spanId, '01']);

  // a caller that decided not to sample: nothing exported, the decision passed on
  const unsampled = '5bf92f3577b34da6a3ce929d0e0e4737';
  const seen2 = openai.requests.length;
  const r2 = await gw.proxyRequest('POST', '/chat', { messages: USER }, { traceparent: `00-${unsampled}-${caller.span}-00` });
  assert.equal(r2.status, 200);
  assert.equal(traceparentOf(openai.requests[seen2])[2], '00');
  // a later request's spans arriving proves the unsampled one's would have by then (same queue, in order)
  const later = await gw.proxyRequest('POST', '/chat', { messages: USER });
  await traceOf(later.headers.get(TRACE_HEADER)!);
  assert.equal(receiver.spans().filter((s) => s.traceId === unsampled).length, 0);
});

test('a stream: gen_ai.request.stream and time to first chunk on the GenAI span', async () => {
  const r = await gw.proxyRequest('POST', '/chat', { messages: USER, stream: true, stream_options: { include_usage: true } });
  assert.equal(r.status, 200, r.text);
  const spans = await traceOf(r.headers.get(TRACE_HEADER)!);
  assert.deepEqual(names(spans), ['chat gpt-4o', 'kong', 'kong.access.plugin.ai-proxy', 'kong.router']);
  const g = byName(spans, 'chat gpt-4o');
  assert.equal(g.attributes['gen_ai.request.stream'], true);
  const ttfc = g.attributes['gen_ai.response.time_to_first_chunk'] as number;
  assert.ok(typeof ttfc === 'number' && ttfc > 0, `time to first chunk in seconds: ${ttfc}`);
  assert.deepEqual(g.attributes['gen_ai.response.finish_reasons'], ['stop']);
  assert.match(String(g.attributes['gen_ai.response.id']), /^chatcmpl-/);
  assert.ok((g.attributes['gen_ai.usage.output_tokens'] as number) > 0);
});

test('through the OpenAI SDK, a chat and a stream: each GenAI span names the completion id and usage the SDK got, and a caller traceparent sent by the SDK is continued', async () => {
  const caller = '5ca1ab1e5dc0ffee0ddba11ab5e11ed0';
  const client = new OpenAI({ baseURL: `${gw.proxy}/chat`, apiKey: 'client-key', maxRetries: 0, defaultHeaders: { traceparent: `00-${caller}-00f067aa0ba902b7-01` } });
  const { data: completion, response } = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'What is 1+1?' }] }).withResponse();
  assert.equal(response.headers.get(TRACE_HEADER), caller, 'the caller\'s trace continued');
  const stream = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Count to three.' }], stream: true, stream_options: { include_usage: true } });
  let streamId = '';
  let streamUsage: OpenAI.CompletionUsage | null | undefined;
  for await (const chunk of stream) {
    streamId ||= chunk.id;
    if (chunk.usage) streamUsage = chunk.usage;
  }
  await receiver.waitFor(() => receiver.spans().filter((s) => s.traceId === caller && s.name === 'kong').length === 2);
  const spans = receiver.spans().filter((s) => s.traceId === caller && s.name === 'chat gpt-4o');
  assert.equal(spans.length, 2);
  const chat = spans.find((s) => s.attributes['gen_ai.response.id'] === completion.id);
  assert.ok(chat, `a span with the SDK's completion id ${completion.id}`);
  assert.equal(chat.attributes['gen_ai.usage.input_tokens'], completion.usage?.prompt_tokens);
  assert.equal(chat.attributes['gen_ai.usage.output_tokens'], completion.usage?.completion_tokens);
  const streamed = spans.find((s) => s.attributes['gen_ai.response.id'] === streamId);
  assert.ok(streamed, `a span with the stream's id ${streamId}`);
  assert.equal(streamed.attributes['gen_ai.request.stream'], true);
  assert.equal(streamed.attributes['gen_ai.usage.output_tokens'], streamUsage?.completion_tokens);
});

test('a failed-over call: one GenAI span per attempt, the first failed with error.type 500; each target got its own span as parent', async () => {
  a.nextResponse('5xx-json:500');
  const seenA = a.requests.length;
  const seenB = b.requests.length;
  const r = await gw.proxyRequest('POST', '/failover', { messages: USER });
  assert.equal(r.status, 200, r.text);
  const spans = await traceOf(r.headers.get(TRACE_HEADER)!);
  assert.deepEqual(names(spans), ['chat primary', 'chat secondary', 'kong', 'kong.access.plugin.ai-proxy-advanced', 'kong.router']);
  const root = byName(spans, 'kong');
  const first = byName(spans, 'chat primary');
  const second = byName(spans, 'chat secondary');
  for (const s of [first, second]) {
    assert.equal(s.kind, 3);
    assert.equal(s.parentSpanId, root.spanId);
  }
  assert.equal(first.attributes['error.type'], '500');
  assert.equal(first.status.code, 2);
  assert.equal(second.attributes['error.type'], undefined);
  assert.notEqual(second.status.code, 2);
  assert.ok(Number(first.endTimeUnixNano) <= Number(second.startTimeUnixNano), 'the second attempt starts after the first ended');
  assert.equal(traceparentOf(a.requests[seenA])[1], first.spanId);
  assert.equal(traceparentOf(b.requests[seenB])[1], second.spanId);
});

test('embeddings: an embeddings GenAI span with its input tokens', async () => {
  const r = await gw.proxyRequest('POST', '/emb', { input: 'hello tracing' });
  assert.equal(r.status, 200, r.text);
  const spans = await traceOf(r.headers.get(TRACE_HEADER)!);
  assert.deepEqual(names(spans), ['embeddings text-embedding-3-small', 'kong', 'kong.access.plugin.ai-proxy', 'kong.router']);
  const g = byName(spans, 'embeddings text-embedding-3-small');
  assert.equal(g.attributes['gen_ai.operation.name'], 'embeddings');
  assert.equal(g.attributes['gen_ai.usage.input_tokens'], r.json.usage.prompt_tokens);
});

test("a target's trace_propagation: false sends no traceparent, and its span is still recorded", async () => {
  const seen = openai.requests.length;
  const r = await gw.proxyRequest('POST', '/noprop', { messages: USER });
  assert.equal(r.status, 200, r.text);
  assert.equal(openai.requests[seen].headers.traceparent, undefined);
  const spans = await traceOf(r.headers.get(TRACE_HEADER)!);
  byName(spans, 'chat gpt-4o');
});

test('content attributes only where the route logs payloads, in the conventions\' message schema', async () => {
  const r = await gw.proxyRequest('POST', '/payloads', { messages: USER });
  assert.equal(r.status, 200, r.text);
  const g = byName(await traceOf(r.headers.get(TRACE_HEADER)!), 'chat gpt-4o');
  assert.deepEqual(JSON.parse(String(g.attributes['gen_ai.input.messages'])), [{ role: 'user', parts: [{ type: 'text', content: 'What is 1+1?' }] }]);
  assert.deepEqual(JSON.parse(String(g.attributes['gen_ai.output.messages'])), [
    { role: 'assistant', parts: [{ type: 'text', content: r.json.choices[0].message.content }], finish_reason: r.json.choices[0].finish_reason },
  ]);
});

test('an answer a guard rewrote: the span holds what the client got (the redacted text), never the provider\'s', async () => {
  openai.nextResponse({ text: 'Write to jane.doe@example.com for access.' });
  const r = await gw.proxyRequest('POST', '/redacted', { messages: USER });
  assert.equal(r.status, 200, r.text);
  const content = r.json.choices[0].message.content;
  assert.doesNotMatch(content, /jane\.doe/);
  const g = byName(await traceOf(r.headers.get(TRACE_HEADER)!), 'chat gpt-4o');
  assert.equal(g.attributes['gen_ai.response.id'], r.json.id);
  assert.deepEqual(JSON.parse(String(g.attributes['gen_ai.output.messages'])), [{ role: 'assistant', parts: [{ type: 'text', content }], finish_reason: 'stop' }]);
});

test('a plain forward: a kong.balancer client span, and the upstream gets it as the traceparent parent', async () => {
  const seen = echo.received.length;
  const r = await gw.proxyRequest('GET', '/plain/x');
  assert.equal(r.status, 200, r.text);
  const spans = await traceOf(r.headers.get(TRACE_HEADER)!);
  assert.deepEqual(names(spans), ['kong', 'kong.balancer', 'kong.router']);
  const bal = byName(spans, 'kong.balancer');
  assert.equal(bal.kind, 3);
  assert.equal(bal.attributes['http.response.status_code'], 200);
  assert.equal(bal.attributes.try_count, 1);
  assert.deepEqual(traceparentOf(echo.received[seen] as unknown as { headers: Record<string, unknown> }).slice(0, 2), [r.headers.get(TRACE_HEADER), bal.spanId]);
});

/** The access-log entries of these trace ids. */
function accessEntries(traceIds: string[]): { latency_ms: number; status: number }[] {
  const want = new Set(traceIds);
  return gw.stdout
    .split('\n')
    .filter((l) => l.includes('"msg":"request"'))
    .map((l) => JSON.parse(l))
    .filter((e) => want.has(e.trace_id));
}

/** modelgate_otel_dropped_spans_total{signal="traces"} by reason. */
async function droppedTraces(): Promise<Record<string, number>> {
  const text = await (await fetch(`${gw.admin}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^modelgate_otel_dropped_spans_total\{([^}]*)\} (\d+)/gm)) {
    if (!m[1].includes('signal="traces"')) continue;
    const reason = /reason="([^"]*)"/.exec(m[1])?.[1] ?? '';
    out[reason] = (out[reason] ?? 0) + Number(m[2]);
  }
  return out;
}

const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

test('a slow collector (5 s), then a down one, then back: every request answered at once, and every span made either reached the collector once or was counted as dropped', async () => {
  const droppedBefore = await droppedTraces();
  slowCollector.slow(COLLECTOR_DELAY_MS);
  const ids: string[] = [];
  const call = async () => {
    const r = await gw.proxyRequest('POST', '/collector', { messages: USER });
    assert.equal(r.status, 200, r.text);
    ids.push(r.headers.get(TRACE_HEADER)!);
  };
  // a batch of 4 goes to the slow collector and waits for its answer; 4 more fit the queue (max_entries 8 counts the batch in flight); the rest are dropped
  for (let i = 0; i < 6; i++) await call();
  // down: the batch in flight loses its connection (the receiver records nothing it did not answer), and is retried
  await slowCollector.down();
  for (let i = 0; i < 10; i++) await call();
  await new Promise((r) => setTimeout(r, 200));
  const entries = accessEntries(ids);
  assert.equal(entries.length, ids.length);
  for (const e of entries) {
    assert.equal(e.status, 200);
    assert.ok(e.latency_ms < COLLECTOR_DELAY_MS, `a request took ${e.latency_ms} ms: it waited for the collector`);
  }
  // back, answering at once: the retried batch and the queued spans arrive; nothing is lost uncounted, nothing is both sent and counted
  slowCollector.slow(0);
  await slowCollector.up();
  const SPANS_PER_REQUEST = 4; // kong, kong.router, kong.access.plugin.ai-proxy, chat gpt-4o
  const made = ids.length * SPANS_PER_REQUEST;
  const want = new Set(ids);
  let received: ReceivedSpan[] = [];
  let dropped: Record<string, number> = {};
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
    received = slowCollector.spans().filter((s) => want.has(s.traceId));
    const now = await droppedTraces();
    dropped = Object.fromEntries(Object.keys(now).map((k) => [k, now[k] - (droppedBefore[k] ?? 0)]));
    assert.ok(received.length + total(dropped) <= made, `received ${received.length} + dropped ${JSON.stringify(dropped)} > made ${made}: a span counted twice`);
    if (received.length + total(dropped) === made) break;
  }
  assert.equal(received.length + total(dropped), made, `received ${received.length} + dropped ${JSON.stringify(dropped)} of ${made} made`);
  assert.equal(new Set(received.map((s) => s.spanId)).size, received.length, 'no span delivered twice');
  for (const s of received) assert.ok(['kong', 'kong.router', 'kong.access.plugin.ai-proxy', 'chat gpt-4o'].includes(s.name), s.name);
  // only the full queue lost spans: the batch in flight when the collector went down was retried, not given up
  assert.deepEqual(Object.keys(dropped).filter((k) => dropped[k] > 0), ['queue_full']);
  // what the queue can hold came through: the batch in flight and the 4 queued behind it at least
  assert.ok(received.length >= 8, `received ${received.length}`);
});
