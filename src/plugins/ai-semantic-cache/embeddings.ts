/**
 * The prompt text's vector, from any provider modelgate can ask for embeddings: the plugin's
 * `embeddings` config is compiled as an `llm/v1/embeddings` ai-proxy target (the same driver,
 * auth injection, endpoint rules and signing as a client's embeddings request: relay-embeddings.ts),
 * and the call is made here, outside the request's own upstream bookkeeping (its timings, its
 * trace, its attempts describe the provider call that answers the client, not this one).
 *
 * Bounded: the whole call (connect, send, answer) is cut at `embeddings.timeout`; no retries. Any
 * failure (a timeout, a refused connection, a non-200, an answer that is not an embeddings list,
 * a vector of the wrong length) throws EmbeddingsError, which the plugin turns into
 * `X-Cache-Status: Failed` (or a 500 with `stop_on_failure`). Its message never holds the key.
 */
import type { CompileContext } from '../types.ts';
import { compileAiProxy, type CompiledAiProxy } from '../ai-proxy/compile.ts';
import type { AiProxyConfig } from '../ai-proxy/schema.ts';
import { planFor } from '../ai-proxy/exchange.ts';
import { resolveEndpoint, upstreamHeaders, type UpstreamLimits } from '../ai-proxy/upstream-request.ts';
import { callUpstreamCollected } from '../../proxy/upstream.ts';
import { decodeContent } from '../../proxy/read-body.ts';
import { EMBEDDINGS_ROUTE } from '../../llm/embeddings.ts';
import type { SemanticCacheConfig } from './schema.ts';

export class EmbeddingsError extends Error {}

/** Answers bigger than this are not embeddings of one prompt. */
const MAX_ANSWER = 8 * 1024 * 1024;

export interface Embedder {
  readonly provider: string;
  readonly model: string;
  /** The vector of `text`, and the tokens the provider counted for it. */
  embed(text: string): Promise<{ vector: Float32Array; tokens: number }>;
}

export function compileEmbedder(config: SemanticCacheConfig['embeddings'], cctx: CompileContext): Embedder {
  const target: AiProxyConfig = {
    route_type: EMBEDDINGS_ROUTE as AiProxyConfig['route_type'],
    llm_format: 'openai',
    auth: config.auth,
    model: { provider: config.model.provider, name: config.model.name, options: config.model.options },
    logging: { log_statistics: false, log_payloads: false },
    response_streaming: 'deny',
    max_request_body_size: MAX_ANSWER,
    model_name_header: false,
    responses: { store: false, ttl: 1, max_per_consumer: 1, policy: 'local' },
  };
  const conf = compileAiProxy(target, cctx);
  const timeout = config.timeout;
  const limits: UpstreamLimits = { key: `semantic-cache-embeddings:${timeout}`, connectTimeout: timeout, readTimeout: timeout, writeTimeout: timeout, retries: 0 };
  return {
    provider: config.model.provider,
    model: config.model.name,
    embed: (text) => embed(conf, limits, config.model.name, text, timeout),
  };
}

async function embed(conf: CompiledAiProxy, limits: UpstreamLimits, model: string, text: string, timeout: number): Promise<{ vector: Float32Array; tokens: number }> {
  const request = { input: text, model };
  let plan;
  try {
    plan = planFor(conf, { kind: 'embeddings', routeType: EMBEDDINGS_ROUTE, request, stream: false, source: null }, model);
  } catch (e) {
    throw new EmbeddingsError(`the embeddings request could not be built: ${(e as Error).message}`);
  }
  if (plan.kind !== 'embeddings') throw new EmbeddingsError('not an embeddings plan');
  const signal = AbortSignal.timeout(timeout);
  try {
    const endpoint = resolveEndpoint(conf, plan.url, plan.providerHeaders, limits);
    const body = typeof plan.body === 'string' ? Buffer.from(plan.body) : plan.body;
    const headers = upstreamHeaders(conf, endpoint, {}, null, body.length);
    if (conf.driver.signRequest) {
      const extra = await conf.driver.signRequest({ method: 'POST', url: `${endpoint.target.origin}${endpoint.path}`, headers: headers as Record<string, string>, body: body.toString('utf8') }, plan.signing, conf.config.auth);
      for (const k in extra) headers[k] = extra[k];
    }
    const { response } = await callUpstreamCollected({ target: endpoint.target, method: 'POST', path: endpoint.path, headers, body, signal }, MAX_ANSWER);
    if (response.statusCode !== 200) throw new EmbeddingsError(`the embeddings provider answered ${response.statusCode}`);
    const answer = decodeContent(response.body, response.headers['content-encoding'], MAX_ANSWER).toString('utf8');
    const translated = conf.driver.embeddings!.parseResponse(answer, request, plan.embeddings);
    const list = JSON.parse(translated.body) as { data?: { embedding?: unknown }[]; usage?: { prompt_tokens?: number } };
    const raw = list.data?.[0]?.embedding;
    if (!Array.isArray(raw) || raw.length === 0 || !raw.every((x) => typeof x === 'number' && Number.isFinite(x))) throw new EmbeddingsError('the embeddings answer holds no vector');
    return { vector: Float32Array.from(raw as number[]), tokens: translated.usage?.prompt_tokens ?? list.usage?.prompt_tokens ?? 0 };
  } catch (e) {
    if (e instanceof EmbeddingsError) throw e;
    if (signal.aborted) throw new EmbeddingsError(`the embeddings provider did not answer within ${timeout} ms`);
    throw new EmbeddingsError(`the embeddings call failed: ${(e as Error)?.message ?? String(e)}`);
  }
}
