/**
 * The spend log against the real gateway on PostgreSQL (issue 19), the counterpart of
 * spend-log.test.ts (SQLite): a PostgreSQL server initdb'd for this file, a gateway with
 * `MODELGATE_DATABASE=postgres`, known traffic through an OpenAI mock — a chat, a streamed chat,
 * embeddings, a provider error and a key-auth 401 — giving exactly the expected rows through the
 * Admin API's `GET /usage/requests` and the expected totals from `GET /usage` (the mock counts one
 * token per word). Then an outage: with PostgreSQL stopped, AI requests are still answered; once it
 * is back, the primary's writer (retrying with a backoff capped at 10 s) writes the rows of the
 * outage, none dropped. A second node with a small in-memory bound (MODELGATE_SPEND_QUEUE_ROWS)
 * then lives through an outage longer than its bound: every request is answered, the excess is
 * dropped and counted exactly, and exactly the bound's rows arrive once PostgreSQL is back. Rows
 * arrive off the hot path: the test polls, within generous bounds, and asserts no timing.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PgServer, pgMissing } from '../helpers/postgres.ts';
import { Gateway, type HttpResult } from '../helpers/gateway.ts';
import { startMockProvider, type MockProvider, DEFAULT_TEXT, countTokens } from '../mocks/providers.ts';
import { configureSpendRoutes, type SpendRouteIds } from '../helpers/spend-routes.ts';

if (pgMissing) process.stderr.write(`# skipping: spend log on PostgreSQL: ${pgMissing}\n`);

const OPENAI_KEY = 'sk-openai-spendpg-7c3a5d19';
const ALICE_KEY = 'alice-spendpg-key-2f9b40e6';
const PROMPT = 'What is 1+1?';
const USER = [{ role: 'user', content: PROMPT }];
const EMB_INPUT = 'hello spend log on postgres';
/** The mock's counts: one token per whitespace-separated word. */
const P = countTokens(PROMPT);
const C = countTokens(DEFAULT_TEXT);
const E = countTokens(EMB_INPUT);
const INPUT_COST = 1; // per million tokens, the chat route's override
const OUTPUT_COST = 2;
const chatCost = (p: number, c: number) => (p * INPUT_COST + c * OUTPUT_COST) / 1e6;

describe('spend log on PostgreSQL, through the real gateway', { skip: pgMissing ?? false }, () => {
  let server: PgServer;
  let gw: Gateway;
  let openai: MockProvider;
  let ids: SpendRouteIds;
  let pgUrl = '';
  /** The window of the whole file's traffic. */
  let from = 0;

  /** Every spend row of [since, now] through `GET /usage/requests`, newest first, following `next`. */
  async function requestRows(since: number): Promise<{ status: number; rows: any[]; text: string }> {
    const rows: any[] = [];
    let url: string | null = `/usage/requests?${new URLSearchParams({ from: String(since), to: String(Date.now() + 1000), limit: '1000' })}`;
    while (url) {
      const r = await gw.adminRequest('GET', url);
      if (r.status !== 200) return { status: r.status, rows, text: r.text };
      rows.push(...r.json.data);
      url = r.json.next;
    }
    return { status: 200, rows, text: '' };
  }

  /** The rows of [since, now] once there are at least `n` (polled; a generous bound), exactly `n`. */
  async function rowsWhen(since: number, n: number, timeoutMs: number): Promise<any[]> {
    const deadline = Date.now() + timeoutMs;
    let last = await requestRows(since);
    while (!(last.status === 200 && last.rows.length >= n) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      last = await requestRows(since);
    }
    assert.equal(last.status, 200, `GET /usage/requests: ${last.status} ${last.text}`);
    assert.equal(last.rows.length, n, `${n} spend rows within ${timeoutMs} ms (got ${last.rows.length})\n${gw.logs.slice(-3000)}`);
    return last.rows;
  }

  /** `GET /usage` over [since, now], a 200's JSON. */
  async function usage(since: number, params: Record<string, string> = {}): Promise<any> {
    const q = new URLSearchParams({ from: String(since), to: String(Date.now() + 1000), interval: 'minute', ...params });
    const r = await gw.adminRequest('GET', `/usage?${q}`);
    assert.equal(r.status, 200, `GET /usage?${q}: ${r.text}`);
    return r.json;
  }

  /** One row per answer, under the request id the gateway gave it. */
  function rowsOf(rows: any[], answers: HttpResult[]): any[] {
    assert.equal(new Set(rows.map((r) => r.request_id)).size, rows.length, 'no row twice');
    const byId = new Map(rows.map((r) => [r.request_id, r]));
    return answers.map((a) => {
      const id = a.headers.get('x-modelgate-request-id');
      assert.ok(id, 'the answer has a request id');
      const row = byId.get(id);
      assert.ok(row, `a spend row for request ${id}`);
      return row;
    });
  }

  /** `/usage` totals against the rows, field by field. */
  function assertTotals(totals: any, want: { requests: number; errors: number; prompt_tokens: number; completion_tokens: number; total_tokens: number; cost: number; unpriced_requests: number }, what: string): void {
    for (const k of ['requests', 'errors', 'prompt_tokens', 'completion_tokens', 'total_tokens', 'unpriced_requests'] as const) assert.equal(totals[k], want[k], `${what}: ${k}`);
    assert.ok(Math.abs(totals.cost - want.cost) < 1e-12, `${what}: cost ${totals.cost} != ${want.cost}`);
  }

  /** The first log line that `match` accepts, waiting (bounded) for it. */
  async function logged(match: (line: string) => boolean, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = gw.logs.split('\n').find(match);
      if (line) return line;
      if (Date.now() > deadline) assert.fail(`expected log line not found within ${timeoutMs} ms\n${gw.logs.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async function assertNothingDropped(): Promise<void> {
    const metrics = await gw.adminRequest('GET', '/metrics');
    assert.equal(metrics.status, 200);
    assert.match(metrics.text, /^modelgate_spend_rows_dropped_total\{where="worker"\} 0$/m);
    assert.match(metrics.text, /^modelgate_spend_rows_dropped_total\{where="primary"\} 0$/m);
  }

  before(async () => {
    server = await PgServer.start();
    pgUrl = await server.createDatabase('spendlog');
    openai = await startMockProvider('openai', { key: OPENAI_KEY });
    gw = await Gateway.start({ workers: 1, env: { MODELGATE_DATABASE: 'postgres', MODELGATE_PG_URL: pgUrl, MODELGATE_PG_TIMEOUT_MS: '2000' } });
    ids = await configureSpendRoutes(gw, { openaiUrl: openai.url, openaiKey: OPENAI_KEY, aliceKey: ALICE_KEY, inputCost: INPUT_COST, outputCost: OUTPUT_COST });
  });

  after(async () => {
    await gw?.close();
    await openai?.close();
    await server?.close();
  });

  const key = { apikey: ALICE_KEY };
  /** Rows of the first test: the second one adds to them. */
  let known: any[] = [];

  test('known traffic gives exactly the expected rows through /usage/requests, and /usage totals that sum them', async () => {
    from = Date.now() - 1000;
    const chat = await gw.proxyRequest('POST', '/chat', { messages: USER }, key);
    assert.equal(chat.status, 200, chat.text);
    const streamed = await gw.proxyRequest('POST', '/chat', { messages: USER, stream: true, stream_options: { include_usage: true } }, key);
    assert.equal(streamed.status, 200, streamed.text);
    const emb = await gw.proxyRequest('POST', '/emb', { input: EMB_INPUT });
    assert.equal(emb.status, 200, emb.text);
    openai.nextResponse({ status: 500, body: { error: { message: 'the mock failed', type: 'server_error' } } });
    const failed = await gw.proxyRequest('POST', '/chat', { messages: USER }, key);
    assert.equal(failed.status, 500, failed.text);
    const refused = await gw.proxyRequest('POST', '/chat', { messages: USER });
    assert.equal(refused.status, 401, refused.text);
    const answers = [chat, streamed, emb, failed, refused];
    // the mock's counts, as its answers report them
    assert.deepEqual([chat.json.usage.prompt_tokens, chat.json.usage.completion_tokens, emb.json.usage.prompt_tokens], [P, C, E]);

    const rows = await rowsWhen(from, answers.length, 20_000);
    for (let i = 1; i < rows.length; i++) assert.ok(rows[i - 1].time >= rows[i].time, 'newest first');
    const [rChat, rStream, rEmb, rFailed, rRefused] = rowsOf(rows, answers);
    for (const r of rows) {
      assert.ok(r.time >= from && r.time <= Date.now(), 'time: when the request arrived');
      assert.equal(r.service_id, ids.service);
      assert.ok(r.latency_ms > 0);
      assert.equal(r.cache_hit, false);
    }
    const all = JSON.stringify(rows);
    assert.ok(!all.includes(ALICE_KEY) && !all.includes(OPENAI_KEY), 'no key in a spend row');

    assert.deepEqual(
      pick(rChat, ['consumer_id', 'credential_id', 'route_id', 'plugin_id', 'client_api', 'provider', 'model_requested', 'model_served', 'status', 'prompt_tokens', 'completion_tokens', 'cached_tokens', 'reasoning_tokens', 'total_tokens', 'stream', 'error_class', 'ttft_ms']),
      {
        consumer_id: ids.consumer, credential_id: ids.credential, route_id: ids.chat, plugin_id: ids.chatPlugin, client_api: 'openai-chat', provider: 'openai',
        model_requested: 'gpt-4o', model_served: chat.json.model, status: 200, prompt_tokens: P, completion_tokens: C, cached_tokens: 0, reasoning_tokens: 0, total_tokens: P + C,
        stream: false, error_class: null, ttft_ms: null,
      },
    );
    assert.ok(Math.abs(rChat.cost - chatCost(P, C)) < 1e-12, `chat cost ${rChat.cost}`);

    assert.deepEqual(pick(rStream, ['consumer_id', 'route_id', 'status', 'prompt_tokens', 'completion_tokens', 'total_tokens', 'stream', 'error_class']), {
      consumer_id: ids.consumer, route_id: ids.chat, status: 200, prompt_tokens: P, completion_tokens: C, total_tokens: P + C, stream: true, error_class: null,
    });
    assert.ok(rStream.ttft_ms !== null && rStream.ttft_ms >= 0, 'a stream has its time to first token');
    assert.ok(Math.abs(rStream.cost - chatCost(P, C)) < 1e-12, `stream cost ${rStream.cost}`);

    assert.deepEqual(pick(rEmb, ['consumer_id', 'credential_id', 'route_id', 'plugin_id', 'client_api', 'provider', 'model_requested', 'status', 'prompt_tokens', 'completion_tokens', 'total_tokens', 'stream', 'error_class']), {
      consumer_id: null, credential_id: null, route_id: ids.emb, plugin_id: ids.embPlugin, client_api: 'embeddings', provider: 'openai', model_requested: 'text-embedding-3-small', status: 200,
      prompt_tokens: E, completion_tokens: 0, total_tokens: E, stream: false, error_class: null,
    });

    assert.deepEqual(pick(rFailed, ['consumer_id', 'route_id', 'status', 'prompt_tokens', 'completion_tokens', 'total_tokens', 'cost', 'error_class', 'provider', 'model_requested', 'model_served']), {
      consumer_id: ids.consumer, route_id: ids.chat, status: 500, prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, cost: 0, error_class: 'provider_error', provider: 'openai', model_requested: 'gpt-4o', model_served: null,
    });
    assert.deepEqual(pick(rRefused, ['consumer_id', 'credential_id', 'route_id', 'status', 'total_tokens', 'cost', 'error_class']), {
      consumer_id: null, credential_id: null, route_id: ids.chat, status: 401, total_tokens: 0, cost: 0, error_class: 'unauthorized',
    });

    // /usage: the totals are the traffic's, at every interval; per consumer as sent
    const want = {
      requests: 5,
      errors: 2,
      prompt_tokens: 2 * P + E,
      completion_tokens: 2 * C,
      total_tokens: 2 * (P + C) + E,
      cost: rows.reduce((s, r) => s + (r.cost ?? 0), 0),
      unpriced_requests: rows.filter((r) => r.cost === null).length,
    };
    assert.ok(Math.abs(want.cost - (2 * chatCost(P, C) + (rEmb.cost ?? 0))) < 1e-12);
    for (const interval of ['minute', 'hour', 'day']) {
      const u = await usage(from, { interval });
      assertTotals(u.totals, want, `/usage interval=${interval}`);
      const sum = { requests: 0, errors: 0, prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, cost: 0, unpriced_requests: 0 };
      for (const p of u.series) for (const k of Object.keys(sum) as (keyof typeof sum)[]) sum[k] += p[k];
      assertTotals(sum, want, `/usage interval=${interval}: the series' sum`);
    }
    const alice = await usage(from, { consumer: 'alice', interval: 'day' });
    assertTotals(alice.totals, { requests: 3, errors: 1, prompt_tokens: 2 * P, completion_tokens: 2 * C, total_tokens: 2 * (P + C), cost: 2 * chatCost(P, C), unpriced_requests: 0 }, '/usage consumer=alice');

    await assertNothingDropped();
    known = rows;
  });

  test('PostgreSQL down: AI requests are still answered; once it is back, the outage\'s rows arrive, none dropped', async () => {
    assert.equal(known.length, 5, 'the first test ran');
    const outage: HttpResult[] = [];
    await server.stop();
    try {
      for (let i = 0; i < 3; i++) {
        const r = await gw.proxyRequest('POST', '/chat', { messages: USER }, key);
        assert.equal(r.status, 200, `chat ${i} during the outage: ${r.text}`);
        outage.push(r);
      }
      const streamed = await gw.proxyRequest('POST', '/chat', { messages: USER, stream: true, stream_options: { include_usage: true } }, key);
      assert.equal(streamed.status, 200, `streamed chat during the outage: ${streamed.text}`);
      outage.push(streamed);
      const emb = await gw.proxyRequest('POST', '/emb', { input: EMB_INPUT });
      assert.equal(emb.status, 200, `embeddings during the outage: ${emb.text}`);
      outage.push(emb);
      // the outage is real: the Usage API cannot read the log now, and says so
      const away = await gw.adminRequest('GET', `/usage/requests?from=${from}`);
      assert.equal(away.status, 503, away.text);
      // the rows reach the primary (a worker's batch) and its writer tries them, and is refused:
      // only then is the outage one the writer lives through
      await logged((l) => /"level":"warn".*spend log: the store refused a batch; keeping rows in memory and retrying/.test(l), 20_000);
      await assertNothingDropped();
    } finally {
      await server.start();
    }

    // the writer retries with a backoff capped at 10 s: within 45 s the rows are in
    const rows = await rowsWhen(from, known.length + outage.length, 45_000);
    await logged((l) => /spend log: the store accepts writes again/.test(l), 5_000);
    const [c1, c2, c3, s, e] = rowsOf(rows, outage);
    for (const r of [c1, c2, c3]) {
      assert.deepEqual(pick(r, ['consumer_id', 'credential_id', 'route_id', 'status', 'prompt_tokens', 'completion_tokens', 'total_tokens', 'stream', 'error_class']), {
        consumer_id: ids.consumer, credential_id: ids.credential, route_id: ids.chat, status: 200, prompt_tokens: P, completion_tokens: C, total_tokens: P + C, stream: false, error_class: null,
      });
      assert.ok(Math.abs(r.cost - chatCost(P, C)) < 1e-12, `cost ${r.cost}`);
    }
    assert.deepEqual(pick(s, ['consumer_id', 'status', 'prompt_tokens', 'completion_tokens', 'stream', 'error_class']), { consumer_id: ids.consumer, status: 200, prompt_tokens: P, completion_tokens: C, stream: true, error_class: null });
    assert.deepEqual(pick(e, ['consumer_id', 'route_id', 'status', 'prompt_tokens', 'client_api', 'error_class']), { consumer_id: null, route_id: ids.emb, status: 200, prompt_tokens: E, client_api: 'embeddings', error_class: null });
    // the rows from before the outage are there once, as they were
    const before = new Map(known.map((r) => [r.request_id, r]));
    for (const r of rows.filter((x) => before.has(x.request_id))) assert.deepEqual(r, before.get(r.request_id));

    const u = await usage(from, { interval: 'day' });
    assertTotals(
      u.totals,
      {
        requests: 10,
        errors: 2,
        prompt_tokens: 6 * P + 2 * E,
        completion_tokens: 6 * C,
        total_tokens: 6 * (P + C) + 2 * E,
        cost: rows.reduce((sum, r) => sum + (r.cost ?? 0), 0),
        unpriced_requests: rows.filter((r) => r.cost === null).length,
      },
      '/usage after the outage',
    );
    await assertNothingDropped();
  });

  test('an outage longer than MODELGATE_SPEND_QUEUE_ROWS: all answered, the excess dropped and counted, exactly the bound written after', async () => {
    const BOUND = 20;
    const SENT = BOUND + 12;
    // a second node of the same cluster (same database, so it serves the same routes), with a small bound
    const node = await Gateway.start({ workers: 1, env: { MODELGATE_DATABASE: 'postgres', MODELGATE_PG_URL: pgUrl, MODELGATE_PG_TIMEOUT_MS: '2000', MODELGATE_SPEND_QUEUE_ROWS: String(BOUND) } });
    /** The node's spend drop counters. */
    const dropped = async (): Promise<{ worker: number; primary: number }> => {
      const m = await node.adminRequest('GET', '/metrics');
      assert.equal(m.status, 200);
      const value = (where: string) => Number(new RegExp(`^modelgate_spend_rows_dropped_total\\{where="${where}"\\} (\\d+)$`, 'm').exec(m.text)?.[1] ?? NaN);
      return { worker: value('worker'), primary: value('primary') };
    };
    try {
      // a row before the outage, written: the node's writer holds nothing when PostgreSQL stops
      const since = Date.now() - 1000;
      const warm = await node.proxyRequest('POST', '/chat', { messages: USER }, key);
      assert.equal(warm.status, 200, warm.text);
      rowsOf(await rowsWhen(since, 1, 20_000), [warm]);

      const outageFrom = Date.now();
      const outage: HttpResult[] = [];
      await server.stop();
      try {
        for (let i = 0; i < SENT; i++) {
          const r = await node.proxyRequest('POST', '/chat', { messages: USER }, key);
          assert.equal(r.status, 200, `chat ${i} during the outage: ${r.text}`);
          outage.push(r);
        }
        // every row reaches the primary: BOUND kept, the rest dropped there (the IPC channel is
        // not the outage's, so no worker drops); the counter reaches the excess once all are in
        const deadline = Date.now() + 20_000;
        let d = await dropped();
        while (d.primary < SENT - BOUND && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 50));
          d = await dropped();
        }
        assert.deepEqual(d, { worker: 0, primary: SENT - BOUND }, 'the excess over the bound, dropped and counted');
      } finally {
        await server.start();
      }

      // the writer retries with a backoff capped at 10 s: the kept rows arrive, and no more
      const rows = await rowsWhen(outageFrom, BOUND, 45_000);
      const sent = new Set(outage.map((a) => a.headers.get('x-modelgate-request-id')));
      for (const r of rows) assert.ok(sent.has(r.request_id), `row ${r.request_id} is one of the outage's requests`);
      assert.equal(new Set(rows.map((r) => r.request_id)).size, BOUND, 'no row twice');
      assert.deepEqual(await dropped(), { worker: 0, primary: SENT - BOUND }, 'nothing more dropped once the store is back');
    } finally {
      await node.close();
    }
  });
});

function pick(row: any, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, row[k]]));
}
