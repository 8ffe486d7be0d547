/**
 * Spend rows for the benchmarks that seed a spend log (bench/usage-query.ts, bench/gui-render.ts):
 * one deterministic generator, so both measure the same traffic shape — 50 consumers, 20 routes,
 * 10 models over 5 providers, 2% provider errors, half of the requests streamed (with a time to
 * first token of a quarter of the latency), one model unpriced.
 */
import type { SpendRow } from '../src/spend/types.ts';

/** A UUID-shaped id, as the Admin API gives entities: `kind` tells consumers from routes. */
export const uuid = (kind: number, i: number) => `${kind.toString(16).padStart(8, '0')}-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
export const CONSUMERS = Array.from({ length: 50 }, (_, i) => uuid(1, i));
export const ROUTES = Array.from({ length: 20 }, (_, i) => uuid(2, i));
export const MODELS = [
  ['openai', 'gpt-4o'],
  ['openai', 'gpt-4o-mini'],
  ['openai', 'o3-mini'],
  ['openai', 'text-embedding-3-small'],
  ['anthropic', 'claude-sonnet-4-5'],
  ['anthropic', 'claude-haiku-4-5'],
  ['gemini', 'gemini-2.5-pro'],
  ['gemini', 'gemini-2.5-flash'],
  ['bedrock', 'us.anthropic.claude-3-7-sonnet'],
  ['mistral', 'mistral-large-latest'],
] as const;

/** Deterministic (mulberry32): the same seed gives the same log, so runs compare. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Row `i` at `time`, its values drawn from `rand` (always in the same order: a seed gives the same rows). */
export function makeRow(i: number, time: number, rand: () => number): SpendRow {
  const [provider, model] = MODELS[Math.floor(rand() * MODELS.length)];
  const prompt = 20 + Math.floor(rand() * 2000);
  const completion = Math.floor(rand() * 800);
  const failed = rand() < 0.02;
  const stream = rand() < 0.5;
  const latency = 50 + Math.floor(rand() * rand() * 8000);
  return {
    time,
    request_id: `req-${i.toString(36).padStart(8, '0')}`,
    consumer_id: CONSUMERS[Math.floor(rand() * CONSUMERS.length)],
    credential_id: null,
    route_id: ROUTES[Math.floor(rand() * ROUTES.length)],
    service_id: null,
    plugin_id: null,
    client_api: 'openai-chat',
    provider,
    model_requested: model,
    model_served: model,
    status: failed ? 502 : 200,
    prompt_tokens: prompt,
    completion_tokens: failed ? 0 : completion,
    cached_tokens: Math.floor(prompt * rand() * 0.3),
    cache_write_tokens: 0,
    reasoning_tokens: model === 'o3-mini' ? Math.floor(completion / 2) : 0,
    total_tokens: prompt + (failed ? 0 : completion),
    cost: model === 'mistral-large-latest' ? null : (prompt * 2.5 + completion * 10) / 1e6,
    latency_ms: latency,
    ttft_ms: stream ? Math.floor(latency / 4) : null,
    stream,
    cache_hit: false,
    saved_tokens: 0,
    saved_cost: 0,
    estimated: false,
    error_class: failed ? 'provider_error' : null,
    attempts: null,
    payload: null,
  };
}
