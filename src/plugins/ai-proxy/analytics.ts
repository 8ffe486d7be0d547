/**
 * What one AI exchange cost, recorded where the rest of the gateway looks for it: `ctx.shared.ai`
 * for plugins that count (rate limits, budgets, metrics) and, with `logging.log_statistics`, the
 * request's log entry under Kong's names (`ai.proxy.usage.*`, `ai.proxy.meta.*`, and
 * `ai.proxy.payload.*` with `log_payloads`).
 */
import type { RequestContext } from '../../proxy/context.ts';
import type { CompiledAiProxy } from './compile.ts';
import type { Usage } from '../../llm/types.ts';
import { requestCost, type CostKind } from '../../spend/cost.ts';
import { labels, metrics } from '../../observability/metrics.ts';
import { logger } from '../../observability/logger.ts';

export interface AiExchange {
  provider: string;
  requestModel: string;
  responseModel: string | null;
  usage: Usage | null;
  /** Usage was counted by the gateway because the provider reported none. */
  estimated: boolean;
  stream: boolean;
  /** Milliseconds from sending the request to the provider's full answer. */
  llmLatencyMs: number;
  /** Streams: milliseconds from sending the request to the first content event. */
  timeToFirstTokenMs: number | null;
  /** The answer did not complete (client left, upstream failed mid-stream). */
  partial: boolean;
  /** Client fields the unsupported-params policy dropped (`meta.dropped_params` in the log). */
  dropped?: readonly string[];
  /** The API the client spoke (`meta.client_api` in the log): `openai-chat`, `openai-responses`, `anthropic-messages` ... */
  clientApi?: string;
  /** What is priced: `embeddings` answers price input only (default `chat`: chat, completions, Responses, Messages). */
  kind?: CostKind;
  /** With `logging.log_payloads`: the client's body and the answer's, for the spend row (src/spend/row.ts bounds them). */
  payload?: { request: string; response: string };
  /** Traced requests only (the GenAI span, src/plugins/ai-proxy/tracing.ts): the answer's id, finish reasons and text. */
  responseId?: string | null;
  finishReasons?: string[];
  outputText?: string;
}

/** Shared with later plugins (rate limiting, Prometheus, logging). */
export const SHARED_KEY = 'ai';

/** provider/model pairs already warned about: one warning per pair per process, not one per request. */
const warnedUnpriced = new Set<string>();

/**
 * The answer's cost (src/spend/cost.ts). The served model wins over the requested one: it is what
 * the provider bills (`gpt-4o` asked, `gpt-4o-2024-08-06` served; an Azure deployment name asked,
 * the model behind it served; an aggregator's routed model). The requested model prices the answer
 * when the served one is unknown to the table or not reported. Neither known: null, counted in
 * `modelgate_ai_unpriced_requests_total` and warned about once per provider and model.
 */
function priceExchange(conf: CompiledAiProxy, x: AiExchange): number | null {
  if (!x.usage) return null;
  const kind = x.kind ?? 'chat';
  const served = x.responseModel && x.responseModel !== x.requestModel ? requestCost(x.provider, x.responseModel, x.usage, conf.options, kind) : null;
  const cost = served ?? requestCost(x.provider, x.requestModel, x.usage, conf.options, kind);
  if (cost === null) unpriced(x.provider, x.responseModel ?? x.requestModel);
  return cost;
}

function unpriced(provider: string, model: string): void {
  metrics.aiUnpricedRequests.inc({ ai_provider: labels.provider.value(provider), ai_model: labels.model.value(model) });
  const key = `${provider}\u0000${model}`;
  if (warnedUnpriced.has(key) || warnedUnpriced.size >= 1024) return; // bounded, like the metric labels
  warnedUnpriced.add(key);
  logger().warn(
    { provider, model },
    'no price for this model: its requests are logged with cost null; add it with MODELGATE_PRICES_FILE or the route\'s input_cost/output_cost',
  );
}

export function recordExchange(ctx: RequestContext, conf: CompiledAiProxy, x: AiExchange, payload?: { request: string; response: string }): void {
  const cost = priceExchange(conf, x);
  const shared = x as AiExchange & { cost: number | null }; // the callers' fresh object, completed
  shared.cost = cost;
  if (conf.config.logging.log_payloads && payload) shared.payload = payload;
  ctx.shared[SHARED_KEY] = shared;
  if (!conf.config.logging.log_statistics && !conf.config.logging.log_payloads) return;
  const section: Record<string, unknown> = {};
  if (conf.config.logging.log_statistics) {
    const u = x.usage;
    section.usage = {
      prompt_tokens: u?.prompt_tokens ?? 0,
      completion_tokens: u?.completion_tokens ?? 0,
      total_tokens: u?.total_tokens ?? 0,
      cost,
      estimated: x.estimated,
      time_per_token: u && u.completion_tokens > 0 ? Math.round((x.llmLatencyMs / u.completion_tokens) * 1000) / 1000 : null,
    };
    // the kinds the provider reported: cache reads and writes, reasoning, audio
    const details = section.usage as Record<string, unknown>;
    if (u?.prompt_tokens_details) details.prompt_tokens_details = u.prompt_tokens_details;
    if (u?.completion_tokens_details) details.completion_tokens_details = u.completion_tokens_details;
    section.meta = {
      provider_name: x.provider,
      request_model: x.requestModel,
      response_model: x.responseModel ?? x.requestModel,
      plugin_id: ctx.chain.find((p) => p.conf === conf)?.id ?? null,
      llm_latency: Math.round(x.llmLatencyMs),
      time_to_first_token: x.timeToFirstTokenMs === null ? null : Math.round(x.timeToFirstTokenMs),
      stream: x.stream,
      partial: x.partial,
      ...(x.clientApi ? { client_api: x.clientApi } : {}),
    };
    if (x.dropped && x.dropped.length > 0) (section.meta as Record<string, unknown>).dropped_params = [...x.dropped];
  }
  if (conf.config.logging.log_payloads && payload) section.payload = payload;
  ctx.logFields.ai = { proxy: section };
}
