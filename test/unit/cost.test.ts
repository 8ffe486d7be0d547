import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { costOf, requestCost, routePrice } from '../../src/spend/cost.ts';
import { canonicalUsage, openAIUsage } from '../../src/exchange/usage.ts';
import type { Usage } from '../../src/exchange/types.ts';
import { openRouterCost } from '../../src/llm/drivers/openrouter.ts';

const close = (actual: number | null, expected: number, what = '') => assert.ok(actual !== null && Math.abs(actual - expected) < 1e-12, `${what} ${actual} != ${expected}`);
const NO_ROUTE = { input_cost: null, output_cost: null };
const M = 1e6;

describe('costOf: every token kind at its price', () => {
  it('prices plain input and output', () => {
    close(costOf({ prompt_tokens: 1000, completion_tokens: 500, total_tokens: 1500 }, { input: 2.5, output: 10 }, 'chat'), (1000 * 2.5 + 500 * 10) / M);
  });

  it('OpenAI: cached_tokens inside prompt_tokens at the cached price, reasoning inside completion at the output price', () => {
    const u = openAIUsage({ prompt_tokens: 2000, completion_tokens: 900, prompt_tokens_details: { cached_tokens: 1500 }, completion_tokens_details: { reasoning_tokens: 600 } })!;
    const price = { input: 2, cached_input: 0.5, output: 8 }; // o3
    close(costOf(u, price, 'chat'), (500 * 2 + 1500 * 0.5 + 300 * 8 + 600 * 8) / M);
    close(requestCost('openai', 'o3-2025-04-16', u, NO_ROUTE, 'chat'), (500 * 2 + 1500 * 0.5 + 300 * 8 + 600 * 8) / M, 'through the table');
  });

  it('Anthropic: cache reads and writes added to input_tokens, each at its own price', () => {
    // input_tokens 100 (uncached), cache_read 4000, cache_creation 2000, output 300
    const u = canonicalUsage({ input: 100, output: 300, cacheRead: 4000, cacheWrite: 2000, inputExcludesCache: true })!;
    assert.equal(u.prompt_tokens, 6100);
    const expected = (100 * 3 + 4000 * 0.3 + 2000 * 3.75 + 300 * 15) / M;
    close(requestCost('anthropic', 'claude-sonnet-4-5-20250929', u, NO_ROUTE, 'chat'), expected);
  });

  it('Gemini: thoughts outside candidates are added to completion and priced as output', () => {
    const u = canonicalUsage({ input: 1000, output: 200, cacheRead: 400, reasoning: 800, reasoningExcluded: true })!;
    assert.equal(u.completion_tokens, 1000);
    close(requestCost('gemini', 'models/gemini-2.5-flash', u, NO_ROUTE, 'chat'), (600 * 0.3 + 400 * 0.03 + 1000 * 2.5) / M);
  });

  it('Bedrock: cacheReadInputTokens / cacheWriteInputTokens outside inputTokens, regional price', () => {
    const u = canonicalUsage({ input: 50, output: 100, cacheRead: 1000, cacheWrite: 500, inputExcludesCache: true })!;
    close(requestCost('bedrock', 'us.anthropic.claude-sonnet-4-5-20250929-v1:0', u, NO_ROUTE, 'chat'), (50 * 3.3 + 1000 * 0.33 + 500 * 4.125 + 100 * 16.5) / M);
  });

  it('falls back: cache reads and writes to input, reasoning to output; a reasoning price applies when set', () => {
    const u: Usage = {
      prompt_tokens: 1000,
      completion_tokens: 400,
      total_tokens: 1400,
      prompt_tokens_details: { cached_tokens: 300, cache_write_tokens: 200 },
      completion_tokens_details: { reasoning_tokens: 100 },
    };
    close(costOf(u, { input: 1, output: 4 }, 'chat'), (1000 * 1 + 400 * 4) / M, 'no split prices: as plain input and output');
    close(costOf(u, { input: 1, output: 4, reasoning: 2, per_request: 0.01 }, 'chat'), (1000 * 1 + 300 * 4 + 100 * 2) / M + 0.01);
  });

  it('never goes negative on counts that do not add up', () => {
    const u: Usage = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15, prompt_tokens_details: { cached_tokens: 50 }, completion_tokens_details: { reasoning_tokens: 9 } };
    close(costOf(u, { input: 1, cached_input: 0.1, output: 2 }, 'chat'), (50 * 0.1 + 9 * 2) / M);
  });

  it('embeddings: input tokens at the input price, plus any per-request fee', () => {
    const u: Usage = { prompt_tokens: 12_345, completion_tokens: 0, total_tokens: 12_345 };
    close(requestCost('openai', 'text-embedding-3-small', u, NO_ROUTE, 'embeddings'), (12_345 * 0.02) / M);
    close(costOf(u, { kind: 'embeddings', input: 0.1, per_request: 0.001 }, 'embeddings'), (12_345 * 0.1) / M + 0.001);
  });
});

describe('requestCost: route overrides and unknown models', () => {
  const u = openAIUsage({ prompt_tokens: 1000, completion_tokens: 500, prompt_tokens_details: { cached_tokens: 400 }, completion_tokens_details: { reasoning_tokens: 100 } })!;

  it("Kong's input_cost/output_cost override the table; cached and reasoning follow them", () => {
    close(requestCost('openai', 'gpt-4o', u, { input_cost: 10, output_cost: 30 }, 'chat'), (1000 * 10 + 500 * 30) / M);
    close(requestCost('openai', 'test-model', u, { input_cost: 10, output_cost: 30 }, 'chat'), (1000 * 10 + 500 * 30) / M, 'an unknown model with route prices is priced');
  });

  it('a half left unset comes from the table, else 0', () => {
    assert.deepEqual(routePrice('openai', 'gpt-4o', { input_cost: 1, output_cost: null }), { input: 1, output: 10 });
    assert.deepEqual(routePrice('openai', 'test-model', { input_cost: 1, output_cost: null }), { input: 1, output: 0 });
  });

  it('is null for an unknown model without route prices, 0 for self-hosted', () => {
    assert.equal(requestCost('openai', 'test-model', u, NO_ROUTE, 'chat'), null);
    assert.equal(requestCost('vllm', 'qwen3:8b', u, NO_ROUTE, 'chat'), 0);
  });
});

describe('requestCost: a cost the provider reported (OpenRouter usage.cost)', () => {
  const tokens = { prompt_tokens: 1000, completion_tokens: 500, total_tokens: 1500 };
  const reported = (cost: number): Usage => ({ ...tokens, reported_cost: cost });

  it('prices the answer at the reported cost, for a model the table does not know or does', () => {
    assert.equal(requestCost('openrouter', 'anthropic/claude-sonnet-4.5', reported(0.0123), NO_ROUTE, 'chat'), 0.0123);
    // the table knows gpt-4o (2.5 / 10 per million: 0.0075 here), but what the provider billed wins
    assert.equal(requestCost('openai', 'gpt-4o', reported(0.004), NO_ROUTE, 'chat'), 0.004);
    assert.equal(requestCost('openrouter', 'meta-llama/llama-3.3-70b-instruct:free', reported(0), NO_ROUTE, 'chat'), 0, 'a free call costs 0, not null');
  });

  it("the route's input_cost/output_cost win over the reported cost", () => {
    close(requestCost('openrouter', 'openai/gpt-4o-mini', reported(0.0123), { input_cost: 10, output_cost: 30 }, 'chat'), (1000 * 10 + 500 * 30) / M);
    close(requestCost('openrouter', 'openai/gpt-4o-mini', reported(0.0123), { input_cost: 10, output_cost: null }, 'chat'), (1000 * 10) / M, 'one half set is still the route speaking');
  });

  it('without a reported cost the table prices the answer, and an unknown model is null', () => {
    close(requestCost('openai', 'gpt-4o', tokens, NO_ROUTE, 'chat'), (1000 * 2.5 + 500 * 10) / M);
    assert.equal(requestCost('openrouter', 'openai/gpt-4o-mini', tokens, NO_ROUTE, 'chat'), null);
  });
});

describe("openRouterCost: OpenRouter's usage accounting", () => {
  // https://openrouter.ai/docs/use-cases/usage-accounting: `cost` is what the account was charged,
  // `cost_details.upstream_inference_cost` what the upstream charged (BYOK: billed to the user's key)
  it('is usage.cost, whatever cost_details says, when the key is OpenRouter\'s', () => {
    assert.equal(openRouterCost({ prompt_tokens: 194, completion_tokens: 2, cost: 0.0009056, is_byok: false, cost_details: { upstream_inference_cost: 0.0009056 } }), 0.0009056);
    assert.equal(openRouterCost({ prompt_tokens: 194, completion_tokens: 2, cost: 0.95 }), 0.95);
  });

  it("BYOK: OpenRouter's fee plus what the upstream billed the user's own key", () => {
    assert.equal(openRouterCost({ cost: 0.95, is_byok: true, cost_details: { upstream_inference_cost: 19 } }), 19.95);
    assert.equal(openRouterCost({ cost: 0.95, is_byok: true }), 0.95, 'no upstream figure: the fee alone, never a guess');
  });

  it('no figure at all when cost is missing, not a number or negative', () => {
    for (const usage of [{ prompt_tokens: 1, completion_tokens: 1 }, { cost: '0.1' }, { cost: null }, { cost: -1 }, null, 'usage']) {
      assert.equal(openRouterCost(usage), undefined, JSON.stringify(usage));
    }
  });
});
