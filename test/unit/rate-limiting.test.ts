/** rate-limiting and ai-rate-limiting-advanced: Kong's arithmetic, windows and schema checks. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judge } from '../../src/plugins/rate-limiting/handler.ts';
import { amountOf, windowUsage } from '../../src/plugins/ai-rate-limiting-advanced/handler.ts';
import { periodReset, periodStart, windowLabel, windowStart } from '../../src/plugins/shared/windows.ts';
import { validateEntity } from '../../src/entities/index.ts';

test('calendar windows in UTC, Kong reset arithmetic', () => {
  const now = Date.UTC(2025, 6, 15, 13, 45, 30, 250);
  assert.equal(periodStart('second', now), Date.UTC(2025, 6, 15, 13, 45, 30));
  assert.equal(periodStart('minute', now), Date.UTC(2025, 6, 15, 13, 45));
  assert.equal(periodStart('day', now), Date.UTC(2025, 6, 15));
  assert.equal(periodStart('month', now), Date.UTC(2025, 6, 1));
  assert.equal(periodStart('year', now), Date.UTC(2025, 0, 1));
  assert.equal(periodReset('minute', now), 30);
  assert.equal(periodReset('hour', now), 3600 - 45 * 60 - 30);
  assert.equal(windowStart(60, now), Date.UTC(2025, 6, 15, 13, 45));
  assert.deepEqual([1, 60, 3600, 86400, 30].map(windowLabel), ['second', 'minute', 'hour', 'day', '30']);
});

test("judge: Kong's headers; the most restrictive period drives RateLimit-*; a refused request is not counted elsewhere", () => {
  const now = Date.UTC(2025, 0, 1, 0, 0, 10);
  const limits = [
    { period: 'minute' as const, limit: 5 },
    { period: 'hour' as const, limit: 100 },
  ];
  const ok = judge(limits, [3, 40], now);
  assert.equal(ok.stop, null);
  assert.deepEqual(ok.headers, {
    'X-RateLimit-Limit-Minute': 5,
    'X-RateLimit-Remaining-Minute': 2,
    'X-RateLimit-Limit-Hour': 100,
    'X-RateLimit-Remaining-Hour': 60,
    'RateLimit-Limit': 5,
    'RateLimit-Remaining': 2,
    'RateLimit-Reset': 50,
  });
  const over = judge(limits, [6, 41], now);
  assert.equal(over.stop, 'minute');
  assert.equal(over.headers['X-RateLimit-Remaining-Minute'], 0);
  assert.equal(over.headers['X-RateLimit-Remaining-Hour'], 60, 'the refused request is given back in the hour');
  assert.equal(over.retryAfter, 50);
  // equal remaining: the longer window wins the RateLimit-* headers
  const tie = judge(limits, [5, 100], now);
  assert.equal(tie.headers['RateLimit-Limit'], 100);
});

test('rate-limiting schema: Kong defaults and messages', () => {
  const ok = validateEntity('plugins', { name: 'rate-limiting', config: { minute: 5 } });
  assert.equal(ok.errors, undefined);
  const c = ok.value.config as Record<string, unknown>;
  assert.deepEqual([c.limit_by, c.policy, c.fault_tolerant, c.hide_client_headers, c.error_code, c.error_message, c.sync_rate], ['consumer', 'local', true, false, 429, 'API rate limit exceeded', -1]);
  const order = validateEntity('plugins', { name: 'rate-limiting', config: { minute: 20, hour: 10 } });
  assert.deepEqual((order.errors as any).config['@entity'], ['The limit for hour(10.0) cannot be lower than the limit for minute(20.0)']);
  const none = validateEntity('plugins', { name: 'rate-limiting', config: {} });
  assert.match((none.errors as any).config['@entity'][0], /at least one of these fields must be non-empty: 'second', 'minute'/);
  const header = validateEntity('plugins', { name: 'rate-limiting', config: { minute: 1, limit_by: 'header' } });
  assert.deepEqual((header.errors as any).config.header_name, 'required field missing');
  const sync = validateEntity('plugins', { name: 'rate-limiting', config: { minute: 1, sync_rate: 1 } });
  assert.deepEqual((sync.errors as any).config['@entity'], ['sync_rate can only be used with the redis policy']);
});

test('ai-rate-limiting-advanced: usage per strategy, sliding windows, schema', () => {
  const ai = { provider: 'openai', usage: { prompt_tokens: 7, completion_tokens: 5, total_tokens: 12 }, cost: 0.0003 };
  assert.deepEqual((['total_tokens', 'prompt_tokens', 'completion_tokens', 'cost'] as const).map((s) => amountOf(s, ai)), [12, 7, 5, 0.0003]);
  assert.equal(amountOf('cost', { ...ai, cost: null }), 0);
  assert.equal(windowUsage(false, 10, 100, 60_000, 30_000), 10);
  assert.equal(windowUsage(true, 10, 100, 60_000, 30_000), 60, 'half of the previous window still weighs');
  assert.equal(windowUsage(true, 10, 100, 60_000, 60_000), 10);

  const ok = validateEntity('plugins', { name: 'ai-rate-limiting-advanced', config: { llm_providers: [{ name: 'openai', limit: [1000, 5000], window_size: [60, 3600] }] } });
  assert.equal(ok.errors, undefined);
  const c = ok.value.config as Record<string, unknown>;
  assert.deepEqual([c.identifier, c.strategy, c.window_type, c.tokens_count_strategy, c.error_code, c.error_message], ['consumer', 'local', 'sliding', 'total_tokens', 429, 'AI token rate limit exceeded for provider(s): ']);
  const mismatch = validateEntity('plugins', { name: 'ai-rate-limiting-advanced', config: { llm_providers: [{ name: 'openai', limit: [1], window_size: [60, 120] }] } });
  assert.deepEqual((mismatch.errors as any).config.llm_providers[0]['@entity'], ['You must provide the same number of limits and window sizes']);
  const code = validateEntity('plugins', { name: 'ai-rate-limiting-advanced', config: { llm_providers: [{ name: 'openai', limit: [1], window_size: [60] }], custom_cost_count_function: 'return 1' } });
  assert.match((code.errors as any).config.custom_cost_count_function, /no code from configuration/);
  const prompt = validateEntity('plugins', { name: 'ai-rate-limiting-advanced', config: { llm_providers: [{ name: 'requestPrompt', limit: [1], window_size: [60] }] } });
  assert.match((prompt.errors as any).config.llm_providers[0]['@entity'][0], /requestPrompt/);
});
