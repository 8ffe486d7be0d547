/**
 * Spend: what every proxied AI request cost, recorded and queried (issue 19). The contract shared
 * by the pieces (docs/architecture.md, "Spend"):
 *
 * - prices.ts / cost.ts: the price table (`data/prices.json`, `MODELGATE_PRICES_FILE`) and the one
 *   cost computation every log entry, metric, budget and spend row uses (Σ tokens of each kind ×
 *   its price, per million tokens);
 * - row.ts: a request's SpendRow, built in the worker's log phase from what the exchange recorded;
 * - queue.ts (worker): rows handed to the primary in batches over IPC, bounded, dropped with a
 *   counter when full, never blocking a request;
 * - writer.ts (primary): batches written to the SpendStore in transactions, a bounded in-memory
 *   queue while the store is away, dropped with a counter beyond it;
 * - sqlite.ts / postgres.ts: the SpendStore of each database (rows, rollups, queries, retention);
 * - the Admin API's `/usage` and `/usage/requests` (src/admin/) answer from SpendStore queries;
 * - the `ai-budget` plugin counts cost per consumer and period.
 */

/** One proxied AI request, as the spend log keeps it. Never a key: credential ids only. */
export interface SpendRow {
  /** When the request arrived, ms since the epoch. */
  time: number;
  request_id: string;
  consumer_id: string | null;
  /** The key-auth credential's id (never the key). */
  credential_id: string | null;
  route_id: string | null;
  service_id: string | null;
  /** The ai-proxy / ai-proxy-advanced plugin's id. */
  plugin_id: string | null;
  /** `openai-chat`, `openai-completions`, `openai-responses`, `anthropic-messages`, `embeddings`. */
  client_api: string | null;
  provider: string | null;
  model_requested: string | null;
  /** The model the provider says answered. */
  model_served: string | null;
  /** The status the client got. */
  status: number;
  prompt_tokens: number;
  completion_tokens: number;
  /** Input tokens read from the provider's prompt cache (inside prompt_tokens). */
  cached_tokens: number;
  /** Input tokens written to the provider's prompt cache (inside prompt_tokens). */
  cache_write_tokens: number;
  /** Output tokens spent reasoning (inside completion_tokens). */
  reasoning_tokens: number;
  total_tokens: number;
  /** Dollars of the price table; null when the model has no price. */
  cost: number | null;
  /** Whole request, ms. */
  latency_ms: number;
  /** Streams: ms to the first content event. */
  ttft_ms: number | null;
  stream: boolean;
  /** Answered from the gateway's cache (no provider call). */
  cache_hit: boolean;
  /** A cache hit: the total tokens the original answer used, which this request did not pay for again; 0 otherwise. */
  saved_tokens: number;
  /** A cache hit: the original answer's cost, not paid again (null: it had no price); 0 otherwise. */
  saved_cost: number | null;
  /** The usage was the gateway's estimate (the provider reported none). */
  estimated: boolean;
  /** Null on success; else the error's class: `client_error`, `provider_error`, `rate_limited`, `upstream_unavailable`, `timeout`, `gateway_error` ... */
  error_class: string | null;
  /** A balanced route (ai-proxy-advanced) that called more than one target: each call, in order; null for a single call. */
  attempts: SpendAttempt[] | null;
  /** The client's body and the answer's, when the route logs payloads (`logging.log_payloads`); else null. */
  payload: SpendPayload | null;
}

/** One call of a balanced route to one of its targets. Never a key or a URL: the target's index, provider and model. */
export interface SpendAttempt {
  /** The target's index in the plugin's `targets`. */
  target: number;
  provider: string;
  model: string;
  /** The status the target answered, when it answered. */
  status?: number;
  /** Why the call failed without an answer (`ECONNREFUSED`, `upstream_timeout` ...). */
  error?: string;
  latency_ms: number;
}

/**
 * A request's payloads as the client sent and got them (bodies only, never headers; a consumer
 * key sent in the body is masked). Each side is cut at PAYLOAD_MAX_BYTES of UTF-8 with
 * PAYLOAD_TRUNCATED_MARK and the full size after it, so one row stays bounded whatever the body.
 */
export interface SpendPayload {
  request: string;
  response: string;
}

export const PAYLOAD_MAX_BYTES = 64 * 1024;
/** What follows the kept part of a cut payload: `…[truncated by modelgate: <n> bytes in all]`. */
export const PAYLOAD_TRUNCATED_MARK = '…[truncated by modelgate: ';

/** Every SpendRow field, in one order: the spend log's columns, and how batches travel from workers. */
export const SPEND_ROW_FIELDS = [
  'time', 'request_id', 'consumer_id', 'credential_id', 'route_id', 'service_id', 'plugin_id', 'client_api', 'provider',
  'model_requested', 'model_served', 'status', 'prompt_tokens', 'completion_tokens', 'cached_tokens', 'cache_write_tokens',
  'reasoning_tokens', 'total_tokens', 'cost', 'latency_ms', 'ttft_ms', 'stream', 'cache_hit', 'saved_tokens', 'saved_cost', 'estimated',
  'error_class', 'attempts', 'payload',
] as const satisfies readonly (keyof SpendRow)[];

/** The request CSV's columns: every field but the payload (up to 128 KiB of bodies a row has no place in a spreadsheet). */
export const SPEND_CSV_FIELDS = SPEND_ROW_FIELDS.filter((f) => f !== 'payload');

/** What `/usage` groups by. */
export type UsageDimension = 'consumer' | 'model' | 'provider' | 'route';
export type UsageInterval = 'minute' | 'hour' | 'day';

export interface UsageFilter {
  /** ms since the epoch, inclusive. */
  from: number;
  /** ms since the epoch, exclusive. */
  to: number;
  consumer?: string;
  route?: string;
  model?: string;
  provider?: string;
}

export interface UsageQuery extends UsageFilter {
  interval: UsageInterval;
  group_by: UsageDimension[];
}

/** Sums over a set of requests. */
export interface UsageTotals {
  requests: number;
  errors: number;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  cache_write_tokens: number;
  reasoning_tokens: number;
  total_tokens: number;
  /** Sum of the priced requests' cost. */
  cost: number;
  /** Requests whose model had no price (their cost is not in `cost`). */
  unpriced_requests: number;
  /** Tokens the semantic cache's hits did not pay for again (the original answers' total tokens). */
  saved_tokens: number;
  /** Sum of the priced hits' saved cost (the original answers' cost). */
  saved_cost: number;
  latency_p50_ms: number | null;
  latency_p95_ms: number | null;
  /** Time to first token of the streamed requests (those with a `ttft_ms`); null when none was streamed. */
  ttft_p50_ms: number | null;
  ttft_p95_ms: number | null;
}

export interface UsageSeriesPoint extends UsageTotals {
  /** Start of the interval, ISO 8601 UTC. */
  start: string;
  /** The group's values, by dimension (absent when not grouped). */
  group: Partial<Record<UsageDimension, string | null>>;
}

export interface UsageAnswer {
  from: string;
  to: string;
  interval: UsageInterval;
  group_by: UsageDimension[];
  series: UsageSeriesPoint[];
  totals: UsageTotals;
}

/** A status filter of `/usage/requests`: inclusive bounds (`500` is 500–500, `5xx` is 500–599). */
export interface StatusRange {
  min: number;
  max: number;
}

export interface RequestsQuery extends UsageFilter {
  /** At most this many rows (1–1000). */
  limit: number;
  /** The status the client got, within these bounds. */
  status?: StatusRange;
  /** Streamed requests only (true) or non-streamed only (false). */
  streamed?: boolean;
  /** The one request with this id (the `X-Modelgate-Request-Id` the client got). */
  request_id?: string;
  /** Opaque: where the previous page ended (newest first). */
  cursor?: string;
}

export interface RequestsAnswer {
  data: SpendRow[];
  /** Null on the last page. */
  next_cursor: string | null;
}

/**
 * The most points a `/usage` answer holds (intervals × groups). Past it the answer is a 400 asking
 * for a coarser interval, a shorter range or fewer groups: a month by hour by route and model over
 * spread traffic is ~150,000 points (tens of MB of JSON), too big for a dashboard and seconds of
 * merging, where every answer under the cap stays fast.
 */
export const MAX_SERIES_POINTS = 10_000;

/** A usage query whose answer would pass MAX_SERIES_POINTS (the Admin API's 400). */
export class UsageTooLargeError extends Error {
  override readonly name = 'UsageTooLargeError';
}

/** A database's spend log. Writes come from the primary only (writer.ts), in batches. */
export interface SpendStore {
  readonly kind: 'sqlite' | 'postgres';
  /**
   * Writes rows and updates the rollups (PostgreSQL: in one transaction; SQLite: the rows at once,
   * the rollups' sums within a second, before any read of them). Rejects when the database is away.
   */
  write(rows: SpendRow[]): Promise<void>;
  usage(q: UsageQuery): Promise<UsageAnswer>;
  requests(q: RequestsQuery): Promise<RequestsAnswer>;
  /** Sum of cost for a consumer over [from, to) (budgets seed their counters from it after a restart). */
  costOf(consumerId: string, from: number, to: number): Promise<number>;
  /** Drops rows (and rollups) older than `before` (ms): retention. */
  prune(before: number): Promise<void>;
  close(): Promise<void>;
}
