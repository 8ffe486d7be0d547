/**
 * `rate-limiting`: Kong's request counts per calendar window (second … year) and per identifier.
 *
 * Each request adds 1 to every configured window's counter in one atomic call and is judged on
 * the values that call returns, so concurrent requests can never all see "one left" (exact on a
 * node with `local`, across nodes with `redis`). A refused request takes its 1 back: like Kong,
 * refused requests do not eat into the longer windows. Kong's headers on every answer
 * (`X-RateLimit-Limit-<Period>`, `X-RateLimit-Remaining-<Period>`, `RateLimit-Limit`,
 * `RateLimit-Remaining`, `RateLimit-Reset`), and `Retry-After` with the 429.
 *
 * The counter store failing (the primary or Redis not answering in time): with `fault_tolerant`
 * (the default) the request goes through and the error is logged; without it, 500.
 */
import type { PluginHandler } from '../types.ts';
import type { RequestContext } from '../../proxy/context.ts';
import type { RateLimitingConfig } from './schema.ts';
import { counterStore, type CounterIncrement } from '../../state/index.ts';
import { identifierOf } from '../shared/identifier.ts';
import { EXPIRATION, PERIODS, periodReset, periodStart, type Period } from '../shared/windows.ts';
import { overrideUpstreamHeaders, setResponseHeaders } from '../shared/response-headers.ts';
import { routeServiceScope } from '../shared/scope.ts';
import { logger } from '../../observability/logger.ts';
import { ClientError } from '../../proxy/errors.ts';

const X_LIMIT: Record<Period, string> = {
  second: 'X-RateLimit-Limit-Second',
  minute: 'X-RateLimit-Limit-Minute',
  hour: 'X-RateLimit-Limit-Hour',
  day: 'X-RateLimit-Limit-Day',
  month: 'X-RateLimit-Limit-Month',
  year: 'X-RateLimit-Limit-Year',
};
const X_REMAINING: Record<Period, string> = {
  second: 'X-RateLimit-Remaining-Second',
  minute: 'X-RateLimit-Remaining-Minute',
  hour: 'X-RateLimit-Remaining-Hour',
  day: 'X-RateLimit-Remaining-Day',
  month: 'X-RateLimit-Remaining-Month',
  year: 'X-RateLimit-Remaining-Year',
};

interface Compiled {
  config: RateLimitingConfig;
  limits: { period: Period; limit: number }[];
}

const HEADERS_KEY = 'rate-limiting.headers';

export interface Verdict {
  /** The period whose limit the request exceeds, if any. */
  stop: Period | null;
  headers: Record<string, number>;
  retryAfter: number;
}

/**
 * Kong's arithmetic, from the counter values after this request's increment: remaining per
 * period, and the most restrictive period (lowest remaining, then the longest window) for the
 * `RateLimit-*` headers.
 */
export function judge(limits: { period: Period; limit: number }[], values: number[], nowMs: number): Verdict {
  let stop: Period | null = null;
  for (let i = 0; i < limits.length; i++) if (values[i] > limits[i].limit) stop = limits[i].period;
  const headers: Record<string, number> = {};
  let best: { limit: number; remaining: number; window: number; reset: number } | null = null;
  for (let i = 0; i < limits.length; i++) {
    const { period, limit } = limits[i];
    // a refused request did not count in the periods it did not exceed
    const used = stop !== null && stop !== period ? values[i] - 1 : values[i];
    const remaining = Math.max(0, limit - used);
    const window = EXPIRATION[period];
    if (!best || remaining < best.remaining || (remaining === best.remaining && window > best.window)) {
      best = { limit, remaining, window, reset: periodReset(period, nowMs) };
    }
    headers[X_LIMIT[period]] = limit;
    headers[X_REMAINING[period]] = remaining;
  }
  headers['RateLimit-Limit'] = best!.limit;
  headers['RateLimit-Remaining'] = best!.remaining;
  headers['RateLimit-Reset'] = best!.reset;
  return { stop, headers, retryAfter: best!.reset };
}

async function access(ctx: RequestContext, conf: Compiled): Promise<void> {
  const c = conf.config;
  const now = Date.now();
  const id = identifierOf(ctx, c.limit_by, c.header_name, c.path);
  const scope = routeServiceScope(ctx, conf);
  const items: CounterIncrement[] = conf.limits.map(({ period }) => ({
    key: `ratelimit:${scope}:${id}:${periodStart(period, now)}:${period}`,
    delta: 1,
    ttlMs: EXPIRATION[period] * 1000,
  }));
  const store = counterStore(c.policy);
  let values: number[];
  try {
    values = await store.increment(items);
  } catch (e) {
    if (c.fault_tolerant) {
      logger().error({ plugin: 'rate-limiting', err: (e as Error).message }, 'failed to get usage; letting the request through (fault_tolerant)');
      return;
    }
    throw new ClientError(500, { message: 'An unexpected error occurred' });
  }
  const verdict = judge(conf.limits, values, now);
  if (verdict.stop) {
    // give the unit back: refused requests are not counted
    store.add(items.map((it) => ({ ...it, delta: -1 }))).catch(() => {});
    const headers: Record<string, string> = { 'Retry-After': String(verdict.retryAfter) };
    if (!c.hide_client_headers) for (const k in verdict.headers) headers[k] = String(verdict.headers[k]);
    ctx.exit(Math.trunc(c.error_code), { message: c.error_message }, headers);
    return;
  }
  if (!c.hide_client_headers) {
    setResponseHeaders(ctx, verdict.headers);
    ctx.shared[HEADERS_KEY] = verdict.headers;
  }
}

export const handler: PluginHandler<RateLimitingConfig, Compiled> = {
  compile(config) {
    const limits: { period: Period; limit: number }[] = [];
    for (const period of PERIODS) {
      const limit = config[period];
      if (typeof limit === 'number') limits.push({ period, limit });
    }
    return { config, limits };
  },
  access,
  headerFilter(ctx) {
    overrideUpstreamHeaders(ctx, ctx.shared[HEADERS_KEY] as Record<string, number> | undefined);
  },
};
