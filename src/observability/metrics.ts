/**
 * Prometheus metrics (prom-client), Kong's names under the `modelgate_` prefix:
 * `kong_http_requests_total` is `modelgate_http_requests_total`, `kong_kong_latency_ms` is
 * `modelgate_kong_latency_ms`, and so on, with Kong's labels and buckets, so Kong dashboards port
 * by replacing the prefix.
 *
 * Where they live: each proxy worker records into its own registry (only the `prometheus` plugin's
 * log phase and the log plugins' drop counters write to it: no per-request work elsewhere); the
 * primary answers `GET /metrics` by asking every worker for its values over the cluster IPC channel
 * (prom-client's AggregatorRegistry, messages typed `prom-client:*`, which the gateway's own `t`
 * messages ignore) and summing them, plus its own node-level series.
 *
 * Cardinality: every label value is bounded in length, and the labels whose values come from
 * clients or grow with the configuration (model, consumer, route, service) keep at most a fixed
 * number of distinct values per process; later ones are counted under `other`.
 */
import cluster from 'node:cluster';
import type * as PromClient from 'prom-client';
import { packageFile } from '../util/package-file.ts';

const promLib = (file: string): unknown => packageFile('prom-client', `lib/${file}.js`);

/**
 * The prom-client classes the gateway uses, loaded from their own files (util/package-file.ts):
 * its index also loads the default process metrics (~20 modules), Summary with its t-digest and
 * the Pushgateway's HTTP client, ~1.3 MB of heap and 0.4 MB outside it in every process
 * (docs/performance.md, "Idle memory").
 */
export const client = {
  Registry: promLib('registry') as typeof PromClient.Registry,
  Counter: promLib('counter') as typeof PromClient.Counter,
  Gauge: promLib('gauge') as typeof PromClient.Gauge,
  Histogram: promLib('histogram') as typeof PromClient.Histogram,
  AggregatorRegistry: promLib('cluster') as typeof PromClient.AggregatorRegistry,
};

export const PREFIX = 'modelgate_';

/** Kong's buckets (kong/plugins/prometheus/exporter.lua). */
export const KONG_LATENCY_BUCKETS = [1, 2, 5, 7, 10, 15, 20, 30, 50, 75, 100, 200, 500, 750, 1000, 3000, 6000];
export const UPSTREAM_LATENCY_BUCKETS = [25, 50, 80, 100, 250, 400, 700, 1000, 2000, 5000, 10000, 30000, 60000];
export const AI_LLM_PROVIDER_LATENCY_BUCKETS = [250, 500, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 4500, 5000, 10000, 30000, 60000];
/** Seconds: tool calls range from a cache hit to a minutes-long job. */
export const MCP_TOOL_CALL_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
export const AI_TTFT_BUCKETS = [50, 100, 250, 500, 750, 1000, 1500, 2000, 3000, 5000, 10000, 30000];

const MAX_LABEL_LENGTH = 128;
export const OTHER = 'other';

/** Keeps a label's distinct values bounded: the first `cap` values are kept, later ones become `other`. */
export class BoundedLabel {
  readonly #seen = new Set<string>();
  readonly #cap: number;
  constructor(cap: number) {
    this.#cap = cap;
  }
  value(v: string | null | undefined): string {
    if (v === null || v === undefined || v === '') return '';
    const s = v.length > MAX_LABEL_LENGTH ? v.slice(0, MAX_LABEL_LENGTH) : v;
    if (this.#seen.has(s)) return s;
    if (this.#seen.size >= this.#cap) return OTHER;
    this.#seen.add(s);
    return s;
  }
}

export const labels = {
  route: new BoundedLabel(4096),
  service: new BoundedLabel(4096),
  consumer: new BoundedLabel(1024),
  provider: new BoundedLabel(64),
  model: new BoundedLabel(256),
  /** MCP tool names come from upstream servers and clients: a server listing thousands must not grow the series without bound. */
  tool: new BoundedLabel(256),
};

/** The workers' registry (also usable in-process, e.g. by unit tests). */
export const registry = new client.Registry();

const AI_LABELS = ['ai_provider', 'ai_model', 'cache_status', 'vector_db', 'embeddings_provider', 'embeddings_model', 'workspace', 'route', 'consumer'] as const;

export const metrics = {
  httpRequests: new client.Counter({
    name: `${PREFIX}http_requests_total`,
    help: 'HTTP status codes per consumer/service/route',
    labelNames: ['service', 'route', 'code', 'source', 'workspace', 'consumer'] as const,
    registers: [registry],
  }),
  kongLatency: new client.Histogram({
    name: `${PREFIX}kong_latency_ms`,
    help: 'Latency added by the gateway and its plugins for each service/route',
    labelNames: ['service', 'route', 'workspace'] as const,
    buckets: KONG_LATENCY_BUCKETS,
    registers: [registry],
  }),
  upstreamLatency: new client.Histogram({
    name: `${PREFIX}upstream_latency_ms`,
    help: 'Latency of the upstream response (headers) for each service/route',
    labelNames: ['service', 'route', 'workspace'] as const,
    buckets: UPSTREAM_LATENCY_BUCKETS,
    registers: [registry],
  }),
  requestLatency: new client.Histogram({
    name: `${PREFIX}request_latency_ms`,
    help: 'Total latency of requests for each service/route',
    labelNames: ['service', 'route', 'workspace'] as const,
    buckets: UPSTREAM_LATENCY_BUCKETS,
    registers: [registry],
  }),
  bandwidth: new client.Counter({
    name: `${PREFIX}bandwidth_bytes`,
    help: 'Total bandwidth (ingress/egress) throughput in bytes',
    labelNames: ['service', 'route', 'direction', 'workspace', 'consumer'] as const,
    registers: [registry],
  }),
  aiRequests: new client.Counter({
    name: `${PREFIX}ai_llm_requests_total`,
    help: 'AI requests per provider, model, route and consumer',
    labelNames: AI_LABELS,
    registers: [registry],
  }),
  aiCost: new client.Counter({
    name: `${PREFIX}ai_llm_cost_total`,
    help: 'AI request cost in USD (src/spend/cost.ts: every token kind at its price from the price table or the route input_cost/output_cost) per provider, model, route and consumer',
    labelNames: AI_LABELS,
    registers: [registry],
  }),
  /** Counted for every priced-null answer, whether or not the prometheus plugin runs: an unknown model is never a silent 0. */
  /** ai-semantic-cache lookups by X-Cache-Status (Hit, Miss, Bypass, Refresh, Failed): five series. */
  aiCacheRequests: new client.Counter({
    name: `${PREFIX}ai_cache_requests_total`,
    help: 'AI requests seen by ai-semantic-cache, by cache status (Hit, Miss, Bypass, Refresh, Failed)',
    labelNames: ['status'] as const,
    registers: [registry],
  }),
  aiUnpricedRequests: new client.Counter({
    name: `${PREFIX}ai_unpriced_requests_total`,
    help: 'AI answers whose model has no price in the price table (data/prices.json, MODELGATE_PRICES_FILE) nor on the route: their cost is null',
    labelNames: ['ai_provider', 'ai_model'] as const,
    registers: [registry],
  }),
  aiTokens: new client.Counter({
    name: `${PREFIX}ai_llm_tokens_total`,
    help: 'AI tokens per provider, model, route, consumer and token type',
    labelNames: [...AI_LABELS, 'token_type'] as const,
    registers: [registry],
  }),
  aiProviderLatency: new client.Histogram({
    name: `${PREFIX}ai_llm_provider_latency_ms`,
    help: 'LLM response latency per provider and model',
    labelNames: AI_LABELS,
    buckets: AI_LLM_PROVIDER_LATENCY_BUCKETS,
    registers: [registry],
  }),
  aiTimeToFirstToken: new client.Histogram({
    name: `${PREFIX}ai_llm_time_to_first_token_ms`,
    help: 'Streamed answers: time from sending the request to the first content event',
    labelNames: AI_LABELS,
    buckets: AI_TTFT_BUCKETS,
    registers: [registry],
  }),
  /** ai-mcp-proxy: every tool call (issue 23); status is ok, error or denied. Recorded when the call ends, whatever other plugins the route has. */
  mcpToolCalls: new client.Counter({
    name: `${PREFIX}mcp_tool_calls_total`,
    help: 'MCP tool calls through the gateway, per tool and outcome (ok, error, denied)',
    labelNames: ['tool', 'status'] as const,
    registers: [registry],
  }),
  mcpToolCallDuration: new client.Histogram({
    name: `${PREFIX}mcp_tool_call_duration_seconds`,
    help: 'MCP tool call duration, from the call reaching the gateway to its answer, per tool and outcome',
    labelNames: ['tool', 'status'] as const,
    buckets: MCP_TOOL_CALL_BUCKETS,
    registers: [registry],
  }),
  logEntriesDropped: new client.Counter({
    name: `${PREFIX}log_entries_dropped_total`,
    help: 'Log entries a logging plugin dropped (queue full, retries exhausted, write backlog)',
    labelNames: ['plugin', 'reason'] as const,
    registers: [registry],
  }),
};

// A worker answers the primary's metric requests with this registry's values.
if (cluster.isWorker) {
  new client.AggregatorRegistry(); // installs the worker-side listener
  client.AggregatorRegistry.setRegistries([registry]);
}

// Spend log (issue 19): rows the pipeline dropped (a full queue), by where. Counted in the primary
// only — workers report their drops with their next batch (src/spend/queue.ts) — in a registry of
// its own that clusterMetrics puts first: one series set, never the same name twice in the answer.
export const spendRegistry = new client.Registry();
export const spendRowsDropped = new client.Counter({
  name: `${PREFIX}spend_rows_dropped_total`,
  help: 'Spend log rows dropped because a queue was full (worker: before IPC; primary: before the store)',
  labelNames: ['where'] as const,
  registers: [spendRegistry],
});
spendRowsDropped.inc({ where: 'worker' }, 0);
spendRowsDropped.inc({ where: 'primary' }, 0);

/** Primary side: the sum of every worker's registry, in Prometheus' text format. */
let aggregator: PromClient.AggregatorRegistry<PromClient.RegistryContentType> | null = null;

export async function clusterMetrics(): Promise<string> {
  if (!cluster.isPrimary) return registry.metrics();
  aggregator ??= new client.AggregatorRegistry();
  return (await spendRegistry.metrics()) + (await aggregator.clusterMetrics());
}

export const CONTENT_TYPE = client.Registry.PROMETHEUS_CONTENT_TYPE;
