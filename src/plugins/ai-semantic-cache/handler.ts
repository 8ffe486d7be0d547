/**
 * `ai-semantic-cache`: answers a prompt the route has already answered — the same one (exact key)
 * or one that means the same (its embedding within `vectordb.threshold` of a cached one's) —
 * without calling the provider (issue 22; docs/plugins.md).
 *
 * Where it runs: its access phase only reads the client's `Cache-Control` and leaves the request's
 * cache state on `ctx.shared`; the lookup runs INSIDE the AI exchange (ai-proxy, ai-proxy-advanced
 * call `answerFromCache` of exchange-hook.ts, which reaches this module through that state), after
 * the request was parsed by its client API's adapter and after every prompt plugin ran (a prompt
 * guard still refuses a prompt whose answer is cached; a decorated prompt is what is keyed), before
 * any provider is planned.
 *
 * Flow (X-Cache-Status): Cache-Control first (cache-control.ts: Bypass or Refresh); then the exact
 * entry (`exact_caching`; a hit returns before any embeddings call), then the embeddings call and
 * the semantic search; with the memory strategy answers are read from this worker's copy first
 * (local-answers.ts: what a worker may serve and for how long); a fresh entry is a Hit, served in the client's
 * API (render.ts) with X-Cache-Key, X-Cache-Ttl and Age; an entry older than the client's `max-age`
 * is a Refresh; nothing is a Miss. On Miss and Refresh the answer the client gets is read back
 * (capture.ts) and stored, with its vector, once it completed with a 200. An embeddings provider or
 * store that fails or times out is `Failed`: the request goes on to the provider uncached, or gets a
 * 500 with `stop_on_failure`.
 */
import type { PluginHandler } from '../types.ts';
import type { RequestContext } from '../../proxy/context.ts';
import type { CheckedRequest } from '../ai-proxy/exchange.ts';
import { SHARED_KEY, type CacheAnswerer } from './exchange-hook.ts';
import type { SemanticCacheConfig } from './schema.ts';
import { cacheStore, type CacheStore } from '../../state/index.ts';
import { compileEmbedder, EmbeddingsError, type Embedder } from './embeddings.ts';
import { parseCacheControl, type RequestCacheControl } from './cache-control.ts';
import { cacheKeys, type CacheKeys } from './key.ts';
import { vectorStoreFor } from './stores.ts';
import type { VectorStore } from './vector-store.ts';
import { AnswerTap, readAnswer } from './capture.ts';
import { ageSeconds, decodeEntry, encodeEntry, ttlLeftSeconds, type Entry } from './entry.ts';
import { renderHit } from './render.ts';
import { localAnswers } from './local-answers.ts';
import { setResponseHeaders } from '../shared/response-headers.ts';
import { sendBody } from '../ai-proxy/relay-json.ts';
import { aiError } from '../ai-proxy/openai-error.ts';
import { HEADERS } from '../../proxy/names.ts';
import { metrics } from '../../observability/metrics.ts';
import { logger } from '../../observability/logger.ts';
import type { AiExchange } from '../ai-proxy/analytics.ts';
import type { Usage } from '../../exchange/types.ts';

export type CacheStatus = 'Hit' | 'Miss' | 'Bypass' | 'Refresh' | 'Failed';

/** The key-value cache's namespace for answers (src/state/). */
const NAMESPACE = 'ai-semantic-cache';

/** The most of an answer read back to be cached: bigger answers are served, never stored. */
export const MAX_CAPTURED_BYTES = 4 * 1024 * 1024;

/** Neighbours read per search: the nearest whose entry is gone (evicted) gives way to the next. */
const SEARCH_K = 3;

export interface CompiledSemanticCache {
  config: SemanticCacheConfig;
  embedder: Embedder;
  /** Answers: `local` (the node's cache in the primary) for the memory strategy, `redis` for redis. */
  kv: CacheStore;
  /** The memory strategy: answers are also copied in this worker (local-answers.ts). */
  local: boolean;
  ttlMs: number;
  /** Vector stores by plugin instance id (known from the first request: ids are not in the config). */
  stores: Map<string, VectorStore>;
}

/** What a hit saved, on `ctx.shared.ai` (spend rows and the log read it). */
export interface CacheHitExchange extends AiExchange {
  cost: number;
  cacheHit: true;
  savedUsage: Usage | null;
  savedCost: number | null;
}

interface Pending {
  keys: CacheKeys;
  vector: Float32Array;
  tap: AnswerTap;
  api: CheckedRequest extends infer C ? (C extends { kind: 'llm'; inbound: infer I } ? I : never) : never;
}

interface RequestState extends CacheAnswerer {
  conf: CompiledSemanticCache;
  pluginId: string;
  cc: RequestCacheControl;
  /** Decided by Cache-Control before any lookup. */
  forced: 'Bypass' | 'Refresh' | null;
  status: CacheStatus | null;
  pending: Pending | null;
  embeddingsMs: number | null;
  fetchMs: number | null;
}

const NO_CC: RequestCacheControl = { noStore: false, noCache: false, private: false, maxAge: null };

export const handler: PluginHandler<SemanticCacheConfig, CompiledSemanticCache> = {
  compile: (config, cctx) => ({
    config,
    embedder: compileEmbedder(config.embeddings, cctx),
    kv: cacheStore(config.vectordb.strategy === 'redis' ? 'redis' : 'local', NAMESPACE),
    local: config.vectordb.strategy !== 'redis',
    ttlMs: config.cache_ttl * 1000,
    stores: new Map(),
  }),

  access(ctx, conf) {
    const cc = conf.config.cache_control ? parseCacheControl(ctx.req.headers['cache-control']) : NO_CC;
    let forced: RequestState['forced'] = null;
    if (cc.noStore || (cc.private && conf.config.cache_scope === 'route')) forced = 'Bypass';
    else if (cc.noCache || cc.maxAge === 0) forced = 'Refresh';
    const pluginId = ctx.chain.find((p) => p.conf === conf)?.id ?? NAMESPACE;
    const state: RequestState = { conf, pluginId, cc, forced, status: null, answer: answerFromCache, pending: null, embeddingsMs: null, fetchMs: null };
    ctx.shared[SHARED_KEY] = state;
    if (forced === 'Bypass') setStatus(ctx, state, 'Bypass');
  },

  log(ctx, conf) {
    const state = ctx.shared[SHARED_KEY] as RequestState | undefined;
    if (!state || state.conf !== conf) return;
    if (state.status) metrics.aiCacheRequests.inc({ status: state.status });
    noteInLog(ctx, state);
    if (state.pending) {
      const pending = state.pending;
      state.pending = null;
      storeAnswer(ctx, state, pending).catch((e: unknown) => logger().warn({ err: (e as Error)?.message, request_id: ctx.requestId }, 'ai-semantic-cache: the answer could not be stored'));
    }
  },
};

function setStatus(ctx: RequestContext, state: RequestState, status: CacheStatus, extra?: Record<string, string | number>): void {
  state.status = status;
  setResponseHeaders(ctx, { 'x-cache-status': status, ...extra });
}

/** The cache's answer for the exchange (exchange-hook.ts calls it through the request's state). */
async function answerFromCache(ctx: RequestContext, checked: CheckedRequest, model: string): Promise<boolean> {
  const state = ctx.shared[SHARED_KEY] as RequestState;
  if (checked.kind !== 'llm') {
    // an embeddings request has no prompt to cache an answer for
    setStatus(ctx, state, 'Bypass');
    return false;
  }
  const { conf } = state;
  const config = conf.config;
  const who = { pluginId: state.pluginId, routeId: ctx.route.id, consumerId: config.cache_scope === 'route' ? '' : ((ctx.consumer?.id as string | undefined) ?? '') };
  const keys = cacheKeys(checked.canonical, config, who, checked.inbound, model);
  const fail = (e: unknown, what: string): false => {
    logger().warn({ err: (e as Error)?.message ?? String(e), request_id: ctx.requestId }, `ai-semantic-cache: ${what}`);
    setStatus(ctx, state, 'Failed');
    if (config.stop_on_failure) throw aiError(500, `semantic cache: ${what}`, { code: 'cache_failure' });
    return false;
  };

  let vector: Float32Array | null = null;
  if (state.forced !== 'Refresh') {
    if (config.exact_caching) {
      const started = performance.now();
      let entry: Entry | null;
      try {
        entry = await readEntry(conf, keys.key);
      } catch (e) {
        return fail(e, 'the cache store failed');
      }
      state.fetchMs = performance.now() - started;
      if (entry && live(entry)) {
        if (fresh(entry, state.cc)) return serveHit(ctx, state, checked, model, entry, keys.key);
        return refresh(ctx, state, checked, keys, await vectorOr(null));
      }
    }
    try {
      vector = await embed(state, keys.text);
    } catch (e) {
      return fail(e, e instanceof EmbeddingsError ? e.message : 'the embeddings failed');
    }
    const started = performance.now();
    try {
      const store = storeOf(state);
      const matches = await store.search(keys.scope, vector, SEARCH_K, config.vectordb.threshold);
      for (const m of matches) {
        const entry = await readEntry(conf, m.id);
        if (!entry || !live(entry)) {
          // its answer expired or was evicted first: the vector points nowhere
          store.delete(keys.scope, m.id).catch(() => {});
          continue;
        }
        state.fetchMs = performance.now() - started;
        if (fresh(entry, state.cc)) return serveHit(ctx, state, checked, model, entry, m.id);
        return refresh(ctx, state, checked, keys, vector);
      }
    } catch (e) {
      return fail(e, 'the vector search failed');
    }
    state.fetchMs = performance.now() - started;
    setStatus(ctx, state, 'Miss', { 'x-cache-key': keys.key });
    keep(ctx, state, checked, keys, vector);
    return false;
  }
  try {
    vector = await embed(state, keys.text);
  } catch (e) {
    return fail(e, e instanceof EmbeddingsError ? e.message : 'the embeddings failed');
  }
  return refresh(ctx, state, checked, keys, vector);

  async function vectorOr(v: Float32Array | null): Promise<Float32Array | null> {
    if (v) return v;
    try {
      return await embed(state!, keys.text);
    } catch (e) {
      fail(e, e instanceof EmbeddingsError ? e.message : 'the embeddings failed');
      return null;
    }
  }
}

function refresh(ctx: RequestContext, state: RequestState, checked: CheckedRequest & { kind: 'llm' }, keys: CacheKeys, vector: Float32Array | null): false {
  if (vector === null) return false; // Failed (the embeddings) was already said
  setStatus(ctx, state, 'Refresh', { 'x-cache-key': keys.key });
  keep(ctx, state, checked, keys, vector);
  return false;
}

async function embed(state: RequestState, text: string): Promise<Float32Array> {
  const started = performance.now();
  const { vector } = await state.conf.embedder.embed(text);
  state.embeddingsMs = performance.now() - started;
  const dims = state.conf.config.vectordb.dimensions;
  if (vector.length !== dims) {
    throw new EmbeddingsError(`embedding dimensions do not match the configured vector database: the embeddings were ${vector.length} dimensions, the vector database is configured for ${dims}`);
  }
  return vector;
}

function storeOf(state: RequestState): VectorStore {
  let store = state.conf.stores.get(state.pluginId);
  if (!store) state.conf.stores.set(state.pluginId, (store = vectorStoreFor(state.pluginId, state.conf.config.vectordb)));
  return store;
}

/**
 * The entry under `key`: this worker's copy when it has one (the memory strategy:
 * local-answers.ts), else the key-value store's (copied here when live).
 */
async function readEntry(conf: CompiledSemanticCache, key: string): Promise<Entry | null> {
  if (!conf.local) return decodeEntry(await conf.kv.get(key));
  const copy = localAnswers.get(key);
  if (copy) return copy;
  const text = await conf.kv.get(key);
  const entry = decodeEntry(text);
  if (entry && live(entry)) localAnswers.put(key, entry, text!);
  return entry;
}

/** Not past its time to live (the stores expire entries too; a clock step must not serve a stale one). */
function live(entry: Entry): boolean {
  return entry.createdAt + entry.ttlMs > Date.now();
}

/** Young enough for the client's `max-age` / `s-maxage`, if it gave one. */
function fresh(entry: Entry, cc: RequestCacheControl): boolean {
  return cc.maxAge === null || ageSeconds(entry, Date.now()) <= cc.maxAge;
}

/**
 * Reads back the answer the client will get (every write to the response: the relays' paths all
 * end there), to store it once the exchange completed (the log phase). Only this request's
 * response object is wrapped, and only on a Miss or Refresh.
 */
function keep(ctx: RequestContext, state: RequestState, checked: CheckedRequest & { kind: 'llm' }, keys: CacheKeys, vector: Float32Array): void {
  const tap = new AnswerTap(MAX_CAPTURED_BYTES);
  const res = ctx.res;
  const write = res.write;
  const end = res.end;
  res.write = function (this: typeof res, chunk: unknown, ...rest: unknown[]) {
    tap.add(chunk, typeof rest[0] === 'string' ? (rest[0] as BufferEncoding) : undefined);
    return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof res.write;
  res.end = function (this: typeof res, chunk?: unknown, ...rest: unknown[]) {
    tap.add(chunk, typeof rest[0] === 'string' ? (rest[0] as BufferEncoding) : undefined);
    return (end as (...a: unknown[]) => typeof res).call(this, chunk, ...rest);
  } as typeof res.end;
  state.pending = { keys, vector, tap, api: checked.inbound };
}

async function storeAnswer(ctx: RequestContext, state: RequestState, pending: Pending): Promise<void> {
  const ai = ctx.shared.ai as (AiExchange & { cost?: number | null }) | undefined;
  // only a complete 200 answer of a provider: not an error, not a stream cut short, not a hit
  if (!ctx.res.writableFinished || ctx.res.statusCode !== 200 || ctx.error || !ai || ai.partial || (ai as Partial<CacheHitExchange>).cacheHit) return;
  const text = pending.tap.text();
  if (text === null) return;
  const trimmed = text.trimStart();
  const answer = readAnswer(pending.api, text, !trimmed.startsWith('{'));
  // a replayed stream carries one choice (EventSink has no choice index): `n` > 1 answers are not kept
  if (!answer || answer.choices.length !== 1) return;
  const { conf } = state;
  const entry: Entry = {
    v: 1,
    createdAt: Date.now(),
    ttlMs: conf.ttlMs,
    provider: ai.provider,
    model: answer.model || ai.responseModel || ai.requestModel,
    choices: answer.choices,
    usage: ai.usage,
    cost: ai.cost ?? null,
  };
  // both issued at once, in the log phase (right after the answer's last byte was written): the
  // client's next request finds them (one worker's IPC messages reach the primary in order)
  const encoded = encodeEntry(entry);
  // this worker's copy first: its next request for the key serves the new answer (local-answers.ts)
  if (conf.local) localAnswers.put(pending.keys.key, entry, encoded);
  await Promise.all([conf.kv.set(pending.keys.key, encoded, conf.ttlMs), storeOf(state).insert(pending.keys.scope, pending.keys.key, pending.vector, conf.ttlMs)]);
}

function serveHit(ctx: RequestContext, state: RequestState, checked: CheckedRequest & { kind: 'llm' }, model: string, entry: Entry, key: string): true {
  const now = Date.now();
  const rendering = renderHit(entry, checked.inbound, checked.canonical, checked.routeType, checked.stream, model);
  state.status = 'Hit';
  const hit: CacheHitExchange = {
    provider: entry.provider,
    requestModel: model.includes('/') ? model.slice(model.indexOf('/') + 1) : model || entry.model,
    responseModel: entry.model,
    usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
    estimated: false,
    stream: checked.stream,
    llmLatencyMs: 0,
    timeToFirstTokenMs: null,
    partial: false,
    clientApi: checked.inbound,
    cost: 0,
    cacheHit: true,
    savedUsage: entry.usage,
    savedCost: entry.cost,
  };
  ctx.shared.ai = hit;
  const headers: Record<string, string | number> = {
    'x-cache-status': 'Hit',
    'x-cache-key': key,
    'x-cache-ttl': ttlLeftSeconds(entry, now),
    age: ageSeconds(entry, now),
    'content-type': rendering.contentType,
    [HEADERS.requestId]: ctx.requestId,
  };
  if (checked.stream) headers['cache-control'] = 'no-cache';
  sendBody(ctx.res, 200, rendering.body, headers);
  return true;
}

/** Kong's log fields of the cache (`ai.proxy.cache`): status, the embeddings model and latencies. */
function noteInLog(ctx: RequestContext, state: RequestState): void {
  if (!state.status) return;
  const ai = (ctx.logFields.ai ??= {}) as Record<string, any>;
  const proxy = (ai.proxy ??= {}) as Record<string, unknown>;
  proxy.cache = {
    cache_status: state.status,
    embeddings_provider: state.conf.embedder.provider,
    embeddings_model: state.conf.embedder.model,
    embeddings_latency: state.embeddingsMs === null ? null : Math.round(state.embeddingsMs),
    fetch_latency: state.fetchMs === null ? null : Math.round(state.fetchMs),
  };
  const hit = ctx.shared.ai as Partial<CacheHitExchange> | undefined;
  if (hit?.cacheHit) {
    proxy.cache = { ...(proxy.cache as object), saved_tokens: hit.savedUsage?.total_tokens ?? 0, saved_cost: hit.savedCost ?? null };
  }
}
