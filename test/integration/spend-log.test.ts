/**
 * The spend log against the real gateway on SQLite (issue 19): known traffic through an OpenAI mock
 * — a chat, a streamed chat, embeddings, a provider error and a key-auth 401 — gives exactly the
 * expected rows in `<prefix>/spend.db` and rollups that sum them; the rows survive a restart; with
 * `MODELGATE_SPEND_LOG=off` no spend file is ever made. Rows reach the file through the worker's
 * batch and the primary's transaction: the test polls the file (read-only) until the expected count
 * arrives, within a generous bound, never a fixed sleep.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Gateway } from '../helpers/gateway.ts';
import { startMockProvider, type MockProvider } from '../mocks/providers.ts';
import { configureSpendRoutes, streamUsage, type SpendRouteIds } from '../helpers/spend-routes.ts';

const OPENAI_KEY = 'sk-openai-spendlog-4b1e9c27';
const ALICE_KEY = 'alice-spendlog-key-8e2d61f0';
const USER = [{ role: 'user', content: 'What is 1+1?' }];
const INPUT_COST = 1; // per million tokens, the route's override
const OUTPUT_COST = 2;

let gw: Gateway;
let openai: MockProvider;
let ids: SpendRouteIds;

function spendFile(g: Gateway): string {
  return path.join(g.prefix, 'spend.db');
}

/** The spend rows once there are `n` of them (polled; a generous bound). */
async function rowsWhen(g: Gateway, n: number): Promise<any[]> {
  const deadline = Date.now() + 20_000;
  let rows: any[] = [];
  while (Date.now() < deadline) {
    if (existsSync(spendFile(g))) {
      const db = new DatabaseSync(spendFile(g), { readOnly: true });
      try {
        rows = db.prepare('SELECT * FROM spend_requests ORDER BY time, request_id').all() as any[];
      } finally {
        db.close();
      }
      if (rows.length >= n) break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(rows.length, n, `${n} spend rows`);
  return rows;
}

function query(g: Gateway, sql: string): any[] {
  const db = new DatabaseSync(spendFile(g), { readOnly: true });
  try {
    return db.prepare(sql).all() as any[];
  } finally {
    db.close();
  }
}

/**
 * The rollups once they count `n` requests at every interval: the primary upserts a second's
 * rollup sums together (src/spend/sqlite.ts, ROLLUP_FLUSH_MS), so a reader of the file sees them
 * up to a second after the rows. Polled, a generous bound.
 */
async function rollupsWhen(g: Gateway, n: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  const counted = () => ['minute', 'hour', 'day'].map((i) => query(g, `SELECT COALESCE(SUM(requests), 0) AS n FROM spend_rollup_${i}`)[0].n as number);
  while (Date.now() < deadline && !counted().every((c) => c === n)) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(counted(), [n, n, n], `rollups counting ${n} requests`);
}

before(async () => {
  openai = await startMockProvider('openai', { key: OPENAI_KEY });
  gw = await Gateway.start({ workers: 1 });
  ids = await configureSpendRoutes(gw, { openaiUrl: openai.url, openaiKey: OPENAI_KEY, aliceKey: ALICE_KEY, inputCost: INPUT_COST, outputCost: OUTPUT_COST });
});

after(async () => {
  await gw?.close();
  await openai?.close();
});


test('known traffic gives exactly the expected spend rows and rollups; a restart keeps them', async () => {
  const started = Date.now();
  const key = { apikey: ALICE_KEY };
  const chat = await gw.proxyRequest('POST', '/chat', { messages: USER }, key);
  assert.equal(chat.status, 200, chat.text);
  // the mock's events come 150 ms apart, its role-only event first: the first token is the second event
  const streamed = await gw.proxyRequest('POST', '/chat', { messages: USER, stream: true, stream_options: { include_usage: true } }, { ...key, 'x-mock-delay-ms': '150' });
  assert.equal(streamed.status, 200, streamed.text);
  const sUsage = streamUsage(streamed.text);
  assert.ok(sUsage, 'the stream reported its usage');
  const emb = await gw.proxyRequest('POST', '/emb', { input: 'hello spend log' });
  assert.equal(emb.status, 200, emb.text);
  openai.nextResponse({ status: 500, body: { error: { message: 'the mock failed', type: 'server_error' } } });
  const failed = await gw.proxyRequest('POST', '/chat', { messages: USER }, key);
  assert.equal(failed.status, 500, failed.text);
  const refused = await gw.proxyRequest('POST', '/chat', { messages: USER });
  assert.equal(refused.status, 401, refused.text);
  const answers = [chat, streamed, emb, failed, refused];

  const rows = await rowsWhen(gw, 5);
  const byId = new Map(rows.map((r) => [r.request_id, r]));
  const [rChat, rStream, rEmb, rFailed, rRefused] = answers.map((a) => {
    const row = byId.get(a.headers.get('x-modelgate-request-id'));
    assert.ok(row, 'one row per answer, under its request id');
    return row;
  });
  for (const r of rows) {
    assert.ok(r.time >= started - 1000 && r.time <= Date.now(), 'time: when the request arrived');
    assert.equal(r.service_id, ids.service);
    assert.ok(r.latency_ms > 0);
    assert.equal(r.cache_hit, 0);
  }
  // no key anywhere in the file's rows
  const all = JSON.stringify(rows);
  assert.ok(!all.includes(ALICE_KEY) && !all.includes(OPENAI_KEY), 'no key in a spend row');

  const expectCost = (p: number, c: number) => (p * INPUT_COST + c * OUTPUT_COST) / 1e6;
  const u = chat.json.usage;
  assert.deepEqual(
    pick(rChat, ['consumer_id', 'credential_id', 'route_id', 'plugin_id', 'client_api', 'provider', 'model_requested', 'status', 'prompt_tokens', 'completion_tokens', 'total_tokens', 'stream', 'error_class', 'ttft_ms']),
    {
      consumer_id: ids.consumer, credential_id: ids.credential, route_id: ids.chat, plugin_id: ids.chatPlugin, client_api: 'openai-chat', provider: 'openai',
      model_requested: 'gpt-4o', status: 200, prompt_tokens: u.prompt_tokens, completion_tokens: u.completion_tokens, total_tokens: u.total_tokens,
      stream: 0, error_class: null, ttft_ms: null,
    },
  );
  assert.equal(rChat.model_served, chat.json.model);
  assert.equal(rChat.cached_tokens, u.prompt_tokens_details?.cached_tokens ?? 0);
  assert.equal(rChat.reasoning_tokens, u.completion_tokens_details?.reasoning_tokens ?? 0);
  assert.ok(Math.abs(rChat.cost - expectCost(u.prompt_tokens, u.completion_tokens)) < 1e-12, `cost ${rChat.cost}`);

  assert.deepEqual(pick(rStream, ['consumer_id', 'status', 'prompt_tokens', 'completion_tokens', 'total_tokens', 'stream', 'error_class']), {
    consumer_id: ids.consumer, status: 200, prompt_tokens: sUsage.prompt_tokens, completion_tokens: sUsage.completion_tokens, total_tokens: sUsage.total_tokens, stream: 1, error_class: null,
  });
  assert.ok(rStream.ttft_ms !== null && rStream.ttft_ms >= 150, `time to first token is the first content, not the role-only event before it: ${rStream.ttft_ms}`);
  assert.ok(Math.abs(rStream.cost - expectCost(sUsage.prompt_tokens, sUsage.completion_tokens)) < 1e-12);

  assert.deepEqual(pick(rEmb, ['consumer_id', 'credential_id', 'route_id', 'plugin_id', 'client_api', 'model_requested', 'status', 'prompt_tokens', 'completion_tokens', 'error_class']), {
    consumer_id: null, credential_id: null, route_id: ids.emb, plugin_id: ids.embPlugin, client_api: 'embeddings', model_requested: 'text-embedding-3-small', status: 200,
    prompt_tokens: emb.json.usage.prompt_tokens, completion_tokens: 0, error_class: null,
  });

  assert.deepEqual(pick(rFailed, ['consumer_id', 'status', 'prompt_tokens', 'completion_tokens', 'total_tokens', 'cost', 'error_class', 'provider', 'model_requested', 'model_served']), {
    consumer_id: ids.consumer, status: 500, prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, cost: 0, error_class: 'provider_error', provider: 'openai', model_requested: 'gpt-4o', model_served: null,
  });
  assert.deepEqual(pick(rRefused, ['consumer_id', 'credential_id', 'status', 'total_tokens', 'cost', 'error_class', 'route_id']), {
    consumer_id: null, credential_id: null, status: 401, total_tokens: 0, cost: 0, error_class: 'unauthorized', route_id: ids.chat,
  });

  // the rollups sum the rows, at every interval
  await rollupsWhen(gw, 5);
  for (const interval of ['minute', 'hour', 'day']) {
    const [sums] = query(gw, `SELECT SUM(requests) AS requests, SUM(errors) AS errors, SUM(prompt_tokens) AS p, SUM(completion_tokens) AS c, SUM(total_tokens) AS t, SUM(cost) AS cost, SUM(unpriced_requests) AS unpriced FROM spend_rollup_${interval}`);
    assert.equal(sums.requests, 5, interval);
    assert.equal(sums.errors, 2, interval);
    assert.equal(sums.p, rows.reduce((n, r) => n + r.prompt_tokens, 0));
    assert.equal(sums.c, rows.reduce((n, r) => n + r.completion_tokens, 0));
    assert.equal(sums.t, rows.reduce((n, r) => n + r.total_tokens, 0));
    assert.ok(Math.abs(sums.cost - rows.reduce((n, r) => n + (r.cost ?? 0), 0)) < 1e-12);
    assert.equal(sums.unpriced, rows.filter((r) => r.cost === null).length);
  }
  const perConsumer = query(gw, "SELECT consumer_id, SUM(requests) AS n FROM spend_rollup_day GROUP BY consumer_id ORDER BY consumer_id");
  assert.deepEqual(perConsumer.map((r) => [r.consumer_id, r.n]), [['', 2], [ids.consumer, 3]]);

  // nothing dropped, and the counter is on /metrics once (the primary holds both sides)
  const metrics = await gw.adminRequest('GET', '/metrics');
  assert.match(metrics.text, /^modelgate_spend_rows_dropped_total\{where="worker"\} 0$/m);
  assert.match(metrics.text, /^modelgate_spend_rows_dropped_total\{where="primary"\} 0$/m);
  assert.equal(metrics.text.split('# TYPE modelgate_spend_rows_dropped_total').length, 2);

  // a restart keeps the rows; new traffic adds to them
  await gw.stop();
  await gw.launch({ workers: 1 });
  const again = await gw.proxyRequest('POST', '/chat', { messages: USER }, key);
  assert.equal(again.status, 200, again.text);
  const after = await rowsWhen(gw, 6);
  assert.deepEqual(after.slice(0, 5).map((r) => r.request_id).sort(), rows.map((r) => r.request_id).sort());
  await rollupsWhen(gw, 6);
});

test('MODELGATE_SPEND_LOG=off: AI traffic is served and no spend file is made', async () => {
  const off = await Gateway.start({ workers: 1, env: { MODELGATE_SPEND_LOG: 'off' } });
  try {
    const r = await off.adminRequest('POST', '/services', { name: 'ai', url: 'http://localhost:32000' });
    assert.equal(r.status, 201, r.text);
    await off.adminRequest('POST', '/services/ai/routes', { name: 'emb', paths: ['/emb'] });
    const p = await off.adminRequest('POST', '/routes/emb/plugins', {
      name: 'ai-proxy',
      config: { route_type: 'llm/v1/embeddings', auth: { header_name: 'Authorization', header_value: `Bearer ${OPENAI_KEY}` }, model: { provider: 'openai', name: 'text-embedding-3-small', options: { upstream_url: `${openai.url}/v1/embeddings` } } },
    });
    assert.equal(p.status, 201, p.text);
    const answer = await off.proxyRequest('POST', '/emb', { input: 'nothing recorded' });
    assert.equal(answer.status, 200, answer.text);
    await off.stop(); // the primary has shut down: anything it would have written is written by now
    assert.equal(existsSync(path.join(off.prefix, 'spend.db')), false);
  } finally {
    await off.close();
  }
});

function pick(row: any, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, row[k]]));
}
