/**
 * `ai-rate-limiting-advanced`: budgets in tokens or in cost per window, per provider, counted from
 * what each answer really used.
 *
 * access: reads the current windows of the provider this route calls (the ai-proxy plugin in
 *   the chain; every listed provider when there is none) and refuses with 429 — before anything
 *   reaches the provider — once a window's budget is spent. Headers as Kong's:
 *   `X-AI-RateLimit-Limit-<window>-<provider>`, `X-AI-RateLimit-Remaining-<window>-<provider>`,
 *   and on refusal `X-AI-RateLimit-Reset[-<window>-<provider>]`,
 *   `X-AI-RateLimit-Retry-After[-<window>-<provider>]` and `Retry-After`.
 * log: adds the exchange's real usage (`ctx.shared.ai`, recorded by ai-proxy for JSON answers,
 *   streams, and streams cut short, whose partial usage counts) to every window of its provider.
 *
 * Overshoot is bounded by the requests in flight when the budget runs out (each was admitted
 * while budget remained; docs/decisions.md, T80). Counters are atomic increments in the shared store, so
 * concurrent answers never lose usage. Cost is kept as integer nano-units (1e-9 of the price
 * currency) so every store, Redis included, adds exactly.
 */
import type { PluginHandler } from '../types.ts';
import type { RequestContext } from '../../proxy/context.ts';
import type { AiRateLimitingConfig } from './schema.ts';
import { counterStore, type CounterStore } from '../../state/index.ts';
import { identifierOf } from '../shared/identifier.ts';
import { windowLabel, windowStart } from '../shared/windows.ts';
import { overrideUpstreamHeaders, setResponseHeaders } from '../shared/response-headers.ts';
import { instanceOf } from '../shared/scope.ts';
import { logger } from '../../observability/logger.ts';
import type { Usage } from '../../llm/types.ts';

export const COST_SCALE = 1e9;

interface Window {
  size: number;
  limit: number;
  /** Made once per window and provider, not per request: the header names and the limit's text. */
  limitHeader: string;
  remainingHeader: string;
  resetHeader: string;
  retryAfterHeader: string;
  limitText: string;
}

interface ProviderLimits {
  name: string;
  windows: Window[];
}

interface Compiled {
  config: AiRateLimitingConfig;
  providers: ProviderLimits[];
  byName: Map<string, ProviderLimits>;
  /** Counter units per budget unit (1, or COST_SCALE for cost). */
  scale: number;
  policy: 'local' | 'redis';
}

const HEADERS_KEY = 'ai-rate-limiting-advanced.headers';

interface SharedAi {
  provider: string;
  usage: Usage | null;
  cost: number | null;
}

function namespaceOf(ctx: RequestContext, conf: Compiled): string {
  return conf.config.namespace ?? instanceOf(ctx, conf)?.id ?? 'default';
}

function counterKey(ns: string, id: string, provider: string, w: Window, start: number): string {
  return `ai-ratelimit:${ns}:${id}:${provider}:${w.size}:${start}`;
}

/** The provider the route's ai-proxy calls, when there is one in the chain. */
function routeProvider(ctx: RequestContext): string | null {
  const p = ctx.chain.find((x) => x.name === 'ai-proxy');
  const provider = (p?.conf as { config?: { model?: { provider?: unknown } } } | undefined)?.config?.model?.provider;
  return typeof provider === 'string' ? provider : null;
}

/** How much of a budget one exchange used. */
export function amountOf(strategy: AiRateLimitingConfig['tokens_count_strategy'], ai: SharedAi): number {
  const u = ai.usage;
  if (!u) return 0;
  switch (strategy) {
    case 'prompt_tokens':
      return u.prompt_tokens;
    case 'completion_tokens':
      return u.completion_tokens;
    case 'cost':
      return ai.cost ?? 0;
    default:
      return u.total_tokens;
  }
}

/** Usage seen in a window: the current count, plus the previous window's weighted by its overlap (sliding). */
export function windowUsage(sliding: boolean, current: number, previous: number, sizeMs: number, elapsedMs: number): number {
  if (!sliding) return current;
  return previous * Math.max(0, (sizeMs - elapsedMs) / sizeMs) + current;
}

function formatAmount(v: number, scale: number): string {
  if (scale === 1) return String(Math.max(0, Math.floor(v)));
  return String(Math.max(0, Math.round(v * 1e6) / 1e6));
}

function randomJitter(max: number): number {
  return max > 0 ? Math.floor(Math.random() * (max + 1)) : 0;
}

async function access(ctx: RequestContext, conf: Compiled): Promise<void> {
  const c = conf.config;
  const provider = routeProvider(ctx);
  let targets: ProviderLimits[];
  if (provider !== null) {
    const p = conf.byName.get(provider);
    if (!p) return; // no budget for this route's provider
    targets = [p];
  } else targets = conf.providers;

  const now = Date.now();
  const sliding = c.window_type === 'sliding';
  const id = identifierOf(ctx, c.identifier, c.header_name, c.path);
  const ns = namespaceOf(ctx, conf);
  const keys: string[] = [];
  for (const p of targets) {
    for (const w of p.windows) {
      const start = windowStart(w.size, now);
      keys.push(counterKey(ns, id, p.name, w, start));
      if (sliding) keys.push(counterKey(ns, id, p.name, w, start - w.size * 1000));
    }
  }
  let values: number[];
  try {
    values = await storeOf(conf).read(keys);
  } catch (e) {
    logger().error({ plugin: 'ai-rate-limiting-advanced', err: (e as Error).message }, 'could not read AI usage counters; letting the request through');
    return;
  }

  const headers: Record<string, string> = {};
  const exceeded: string[] = [];
  let retryAfter = 0;
  let i = 0;
  for (const p of targets) {
    let over = false;
    for (const w of p.windows) {
      const sizeMs = w.size * 1000;
      const start = windowStart(w.size, now);
      const current = values[i++];
      const previous = sliding ? values[i++] : 0;
      const used = windowUsage(sliding, current, previous, sizeMs, now - start) / conf.scale;
      headers[w.limitHeader] = w.limitText;
      headers[w.remainingHeader] = formatAmount(w.limit - used, conf.scale);
      if (used >= w.limit) {
        over = true;
        const reset = Math.max(1, Math.ceil((start + sizeMs - now) / 1000));
        headers[w.resetHeader] = String(reset);
        headers[w.retryAfterHeader] = String(reset);
        retryAfter = Math.max(retryAfter, reset);
      }
    }
    if (over) exceeded.push(p.name);
  }

  if (exceeded.length) {
    const retry = String(retryAfter + randomJitter(c.retry_after_jitter_max));
    const out: Record<string, string> = c.hide_client_headers ? {} : { ...headers, 'X-AI-RateLimit-Retry-After': retry, 'X-AI-RateLimit-Reset': retry };
    out['Retry-After'] = retry;
    const message = c.error_hide_providers ? c.error_message.replace(/\s*for provider\(s\)\s*:?\s*$/, '').replace(/[\s:]+$/, '') : c.error_message + exceeded.join(', ');
    ctx.exit(Math.trunc(c.error_code), { message }, out);
    return;
  }
  if (!c.hide_client_headers) {
    setResponseHeaders(ctx, headers);
    ctx.shared[HEADERS_KEY] = headers;
  }
}

function storeOf(conf: Compiled): CounterStore {
  return counterStore(conf.policy);
}

function log(ctx: RequestContext, conf: Compiled): void {
  const ai = ctx.shared.ai as SharedAi | undefined;
  if (!ai) return;
  const p = conf.byName.get(ai.provider);
  if (!p) return;
  const amount = Math.round(amountOf(conf.config.tokens_count_strategy, ai) * conf.scale);
  if (!(amount > 0)) return;
  const now = Date.now();
  const id = identifierOf(ctx, conf.config.identifier, conf.config.header_name, conf.config.path);
  const ns = namespaceOf(ctx, conf);
  const items = p.windows.map((w) => ({
    key: counterKey(ns, id, p.name, w, windowStart(w.size, now)),
    delta: amount,
    // a sliding window reads the previous window too: keep each counter for two windows
    ttlMs: w.size * 2000,
  }));
  storeOf(conf)
    .add(items)
    .catch((e: Error) => logger().error({ plugin: 'ai-rate-limiting-advanced', err: e.message }, 'could not add AI usage to the counters'));
}

export const handler: PluginHandler<AiRateLimitingConfig, Compiled> = {
  compile(config) {
    const scale = config.tokens_count_strategy === 'cost' ? COST_SCALE : 1;
    const providers = config.llm_providers.map((p) => ({
      name: p.name,
      windows: p.limit.map((limit, i): Window => {
        const suffix = `${windowLabel(p.window_size[i])}-${p.name}`;
        return {
          size: p.window_size[i],
          limit,
          limitHeader: `X-AI-RateLimit-Limit-${suffix}`,
          remainingHeader: `X-AI-RateLimit-Remaining-${suffix}`,
          resetHeader: `X-AI-RateLimit-Reset-${suffix}`,
          retryAfterHeader: `X-AI-RateLimit-Retry-After-${suffix}`,
          limitText: formatAmount(limit, scale),
        };
      }),
    }));
    return {
      config,
      providers,
      byName: new Map(providers.map((p) => [p.name, p])),
      scale,
      policy: config.strategy === 'local' ? 'local' : 'redis',
    };
  },
  access,
  headerFilter(ctx) {
    overrideUpstreamHeaders(ctx, ctx.shared[HEADERS_KEY] as Record<string, string> | undefined);
  },
  log,
};
