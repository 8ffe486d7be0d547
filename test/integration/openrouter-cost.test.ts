/**
 * OpenRouter is priced from the cost each answer reports (issue 19; docs/decisions.md, "Spend"):
 * through the real gateway on SQLite, against the OpenRouter mock, which answers with OpenRouter's
 * usage accounting (`usage.cost`, `is_byok`, `cost_details`). The log entry's `cost` and the spend
 * row's cost are exactly the figure the mock sent, streamed or not, asked for or not; a BYOK key
 * adds the upstream's charge; a route's input_cost/output_cost still win; clients get the usage
 * as OpenRouter sent it (OpenAI clients) or in their API's shape (Anthropic), never modelgate's field.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Gateway, type HttpResult } from '../helpers/gateway.ts';
import { LogSink } from '../helpers/log-sink.ts';
import { streamUsage } from '../helpers/spend-routes.ts';
import { startMockProvider, type MockProvider } from '../mocks/providers.ts';
import { withOpenRouterCost } from '../mocks/openrouter.ts';

const MODEL = 'anthropic/claude-sonnet-4.5'; // in no price table: only the reported cost prices it
const PRICES = { input: 3, output: 15 };
const USER = [{ role: 'user', content: 'What is 1+1?' }];
const ROUTE_INPUT = 100;
const ROUTE_OUTPUT = 300;

let gw: Gateway;
let openrouter: MockProvider;
let byok: MockProvider;
let sink: LogSink;

before(async () => {
  openrouter = await startMockProvider('openrouter', { prices: PRICES });
  byok = await startMockProvider('openrouter', { prices: PRICES, byok: true });
  sink = await new LogSink().start();
  gw = await Gateway.start({ workers: 1 });
  const ok = async (method: string, url: string, body: unknown) => {
    const r = await gw.adminRequest(method, url, body);
    assert.ok(r.status < 300, `${method} ${url}: ${r.status} ${r.text}`);
  };
  await ok('POST', '/services', { name: 'ai', url: 'http://localhost:32000' });
  await ok('POST', '/plugins', { name: 'http-log', config: { http_endpoint: sink.url, queue: { max_batch_size: 1, max_coalescing_delay: 0.01 } } });
  const routes: [string, MockProvider, Record<string, unknown>, Record<string, unknown>][] = [
    ['or', openrouter, {}, {}],
    ['or-byok', byok, {}, {}],
    ['or-priced', openrouter, { input_cost: ROUTE_INPUT, output_cost: ROUTE_OUTPUT }, {}],
    ['or-anthropic', openrouter, {}, { llm_format: 'anthropic' }],
  ];
  for (const [name, mock, options, extra] of routes) {
    await ok('POST', '/services/ai/routes', { name, paths: [`/${name}`] });
    await ok('POST', `/routes/${name}/plugins`, {
      name: 'ai-proxy',
      config: {
        route_type: 'llm/v1/chat',
        ...extra,
        auth: { header_name: 'Authorization', header_value: 'Bearer or-test' },
        model: { provider: 'openrouter', name: MODEL, options: { ...options, upstream_url: `${mock.url}/api/v1/chat/completions` } },
        logging: { log_statistics: true },
      },
    });
  }
});

after(async () => {
  await gw?.close();
  await Promise.all([openrouter?.close(), byok?.close(), sink?.close()]);
});

/** The http-log entry of a request, once delivered. */
const logEntry = (answer: HttpResult): Promise<any> => sink.entryFor(answer.headers.get('x-modelgate-request-id')!);

/** The spend row of a request, once written (polled; the row goes through the primary's batch). */
async function spendRow(answer: HttpResult): Promise<any> {
  const id = answer.headers.get('x-modelgate-request-id');
  const file = path.join(gw.prefix, 'spend.db');
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (existsSync(file)) {
      const db = new DatabaseSync(file, { readOnly: true });
      try {
        const row = db.prepare('SELECT * FROM spend_requests WHERE request_id = ?').get(id);
        if (row) return row;
      } finally {
        db.close();
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`no spend row for request ${id}`);
}

/** The cost the mock reported for these token counts (its own computation, so the same double). */
const mockCost = (row: any, opts: { byok?: boolean } = {}) => withOpenRouterCost({ prompt_tokens: row.prompt_tokens, completion_tokens: row.completion_tokens }, { prices: PRICES, ...opts });

test('an answer is priced at the usage.cost OpenRouter reported, and the client gets that usage untouched', async () => {
  const answer = await gw.proxyRequest('POST', '/or', { messages: USER });
  assert.equal(answer.status, 200, answer.text);
  const usage = answer.json.usage;
  assert.equal(typeof usage.cost, 'number');
  assert.ok(usage.cost > 0);
  const { cost: _cost, is_byok: _byok, cost_details: _details, ...tokens } = usage;
  assert.deepEqual(usage, withOpenRouterCost(tokens, { prices: PRICES }), 'the usage exactly as the mock sent it');
  assert.ok(!answer.text.includes('reported_cost'), "modelgate's own field never reaches the client");
  assert.equal((await logEntry(answer)).ai.proxy.usage.cost, usage.cost);
  const row = await spendRow(answer);
  assert.equal(row.cost, usage.cost);
  assert.equal(row.model_requested, MODEL);
});

test('a stream is priced at the cost of its last chunk, whether the client asked for usage or not', async () => {
  const asked = await gw.proxyRequest('POST', '/or', { messages: USER, stream: true, stream_options: { include_usage: true } });
  assert.equal(asked.status, 200, asked.text);
  const usage = streamUsage(asked.text);
  assert.ok(usage && typeof usage.cost === 'number', 'the usage chunk as OpenRouter sent it, cost included');
  assert.ok(!asked.text.includes('reported_cost'));
  assert.equal((await logEntry(asked)).ai.proxy.usage.cost, usage.cost);
  assert.equal((await spendRow(asked)).cost, usage.cost);

  const unasked = await gw.proxyRequest('POST', '/or', { messages: USER, stream: true });
  assert.equal(unasked.status, 200, unasked.text);
  assert.equal(streamUsage(unasked.text), null, 'a client that did not ask gets no usage chunk (as before)');
  const row = await spendRow(unasked);
  assert.equal(row.stream, 1);
  assert.ok(row.prompt_tokens > 0 && row.completion_tokens > 0);
  assert.equal(row.cost, mockCost(row).cost);
  assert.equal((await logEntry(unasked)).ai.proxy.usage.cost, row.cost);
});

test("BYOK: OpenRouter's fee plus what the upstream billed the user's key", async () => {
  for (const stream of [false, true]) {
    const answer = await gw.proxyRequest('POST', '/or-byok', { messages: USER, stream, ...(stream ? { stream_options: { include_usage: true } } : {}) });
    assert.equal(answer.status, 200, answer.text);
    const usage = stream ? streamUsage(answer.text) : answer.json.usage;
    assert.equal(usage.is_byok, true);
    const row = await spendRow(answer);
    assert.equal(row.cost, usage.cost + usage.cost_details.upstream_inference_cost);
    assert.ok(row.cost > usage.cost);
  }
});

test("the route's input_cost/output_cost win over the reported cost", async () => {
  const answer = await gw.proxyRequest('POST', '/or-priced', { messages: USER });
  assert.equal(answer.status, 200, answer.text);
  const { prompt_tokens: p, completion_tokens: c, cost } = answer.json.usage;
  const row = await spendRow(answer);
  assert.ok(Math.abs(row.cost - (p * ROUTE_INPUT + c * ROUTE_OUTPUT) / 1e6) < 1e-12, `cost ${row.cost}`);
  assert.notEqual(row.cost, cost);
});

test('an Anthropic client of an OpenRouter route: usage in Anthropic shape, priced at the reported cost', async () => {
  for (const stream of [false, true]) {
    const answer = await gw.proxyRequest('POST', '/or-anthropic/v1/messages', { model: MODEL, max_tokens: 64, messages: USER, stream }, { 'anthropic-version': '2023-06-01' });
    assert.equal(answer.status, 200, answer.text);
    assert.ok(!answer.text.includes('cost'), 'no cost field of any name in an Anthropic answer');
    const row = await spendRow(answer);
    assert.ok(row.prompt_tokens > 0);
    assert.equal(row.cost, mockCost(row).cost);
  }
});
