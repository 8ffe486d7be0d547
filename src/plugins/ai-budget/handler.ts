/**
 * `ai-budget`: money budgets per consumer (or credential), counted from the real cost of each answer.
 *
 * access: reads the subject's spend in each budget's current span (periods.ts) from the shared
 *   counters (`local`: the primary's memory, exact on one node; `redis`: every node). A budget at
 *   or over its amount refuses the request with 429 before the provider is called, naming the
 *   budget, with `Retry-After` (a calendar budget's reset; a rolling one's next moment under its
 *   amount). Every other answer carries `X-Modelgate-Budget-Remaining`: the dollars left in the
 *   tightest budget, as known before this request. Crossing a soft limit logs one warning per
 *   subject, budget and period on the node (a marker counter elects the worker that logs).
 * log: adds the answer's cost (`ctx.shared.ai.cost`, from ai-proxy: JSON answers, streams, and
 *   streams cut short, whose partial usage counts) to the bucket of the request's arrival in
 *   each budget; an unpriced answer (cost null) counts 0 and says so in the log entry's
 *   `ai.budget`, which log plugins (http-log) forward.
 *
 * Exactness: a counter is an atomic increment; a request is admitted while budget remains, so the
 * overshoot is at most the requests in flight when the budget runs out (on several nodes with
 * Redis: up to one in flight per worker of each node). Cost is kept in integer nano-dollars, so
 * every store, Redis included, adds exactly. A store that fails lets the request through (a budget
 * must not become an outage) and logs.
 */
import type { PluginHandler } from '../types.ts';
import type { RequestContext } from '../../proxy/context.ts';
import type { AiBudgetConfig, Budget } from './schema.ts';
import { counterStore, type CounterIncrement, type CounterStore } from '../../state/index.ts';
import { overrideUpstreamHeaders, setResponseHeaders } from '../shared/response-headers.ts';
import { instanceOf } from '../shared/scope.ts';
import { logger } from '../../observability/logger.ts';
import { ROLLING, retryAt, spanOf, type Span } from './periods.ts';
import { budgetNow } from './clock.ts';
import { spendSeeder } from './seed.ts';

/** Counter units per dollar: integer nano-dollars. */
export const COST_SCALE = 1e9;
export const REMAINING_HEADER = 'X-Modelgate-Budget-Remaining';
export const ERROR_CODE = 'budget_exceeded';

/** Counters outlive their span by this much: nodes whose clocks differ a little still read them. */
const GRACE_MS = 3_600_000;
const STATE_KEY = 'ai-budget';
const HEADERS_KEY = 'ai-budget.headers';

interface CompiledBudget extends Budget {
  index: number;
  /** "$5 per calendar day (UTC)". */
  label: string;
}

interface Compiled {
  config: AiBudgetConfig;
  budgets: CompiledBudget[];
}

/** One budget as access found it. */
interface Reading {
  budget: CompiledBudget;
  span: Span;
  keys: string[];
  /** Dollars spent in the span before this request. */
  spent: number;
}

/** What access leaves for the log phase. */
interface BudgetState {
  subject: string;
  at: number;
  readings: Reading[];
  refused: boolean;
}

const WINDOW_LABEL: Record<Budget['period'], [calendar: string, rolling: string]> = {
  day: ['calendar day (UTC)', 'rolling 24 hours'],
  week: ['calendar week (UTC, from Monday)', 'rolling 7 days'],
  month: ['calendar month (UTC)', 'rolling 30 days'],
};

export function dollars(v: number): string {
  return String(Math.round(v * 1e6) / 1e6);
}

function labelOf(b: Budget): string {
  return `$${dollars(b.amount)} per ${WINDOW_LABEL[b.period][b.window === 'calendar' ? 0 : 1]}`;
}

/** Who the budget counts for; null when the request does not carry it. */
function subjectOf(ctx: RequestContext, c: AiBudgetConfig): string | null {
  const id = c.identifier === 'credential' ? ctx.credential?.id : ctx.consumer?.id;
  return typeof id === 'string' && id !== '' ? id : null;
}

function namespaceOf(ctx: RequestContext, conf: Compiled): string {
  return conf.config.namespace ?? instanceOf(ctx, conf)?.id ?? 'default';
}

function counterKey(ns: string, subject: string, b: Budget, bucket: number): string {
  return `ai-budget:${ns}:${subject}:${b.period}:${b.window}:${bucket}`;
}

/** How long a bucket's counter must live from now: as long as some read can still include it. */
function bucketTtl(b: Budget, span: Span, bucket: number, now: number): number {
  const readUntil = span.resetAt ?? bucket + span.bucketMs + ROLLING[b.period].lengthMs;
  return Math.max(1, readUntil - now) + GRACE_MS;
}

function storeOf(c: AiBudgetConfig): CounterStore {
  return counterStore(c.strategy);
}

/** Keys this worker knows are seeded or elected not to seed (bounded: cleared when large). */
const seeded = new Set<string>();
/** Soft-limit markers this worker has seen set (bounded likewise). */
const warned = new Set<string>();
const MEMO_MAX = 50_000;

function remember(set: Set<string>, key: string): void {
  if (set.size >= MEMO_MAX) set.clear();
  set.add(key);
}

/**
 * Local counters after a restart: buckets not yet seeded on this node are seeded once from the
 * spend log (seed.ts). Waits for the seeds this worker was elected to write; a request another
 * worker admits meanwhile reads an unseeded counter. Only global (or consumer-scoped) instances
 * are seeded: the spend log sums a consumer's spend on every route.
 */
async function seedLocal(store: CounterStore, ctx: RequestContext, conf: Compiled, readings: Reading[], now: number): Promise<void> {
  const c = conf.config;
  const consumerId = ctx.consumer?.id;
  if (c.strategy !== 'local' || c.identifier !== 'consumer' || !consumerId) return;
  const todo: { key: string; from: number; to: number; ttlMs: number }[] = [];
  for (const r of readings) {
    r.span.buckets.forEach((bucket, i) => {
      const key = r.keys[i];
      if (seeded.has(key) || todo.some((t) => t.key === key)) return;
      todo.push({ key, from: bucket, to: Math.min(bucket + r.span.bucketMs, now), ttlMs: bucketTtl(r.budget, r.span, bucket, now) });
    });
  }
  if (todo.length === 0) return;
  const scope = instanceOf(ctx, conf)?.entity;
  const seeder = scope?.route || scope?.service ? null : spendSeeder();
  if (!seeder) {
    for (const t of todo) remember(seeded, t.key);
    return;
  }
  const elected = await store.increment(todo.map((t) => ({ key: `seeded:${t.key}`, delta: 1, ttlMs: t.ttlMs })));
  const seeds: CounterIncrement[] = [];
  await Promise.all(
    todo.map(async (t, i) => {
      remember(seeded, t.key);
      if (elected[i] !== 1 || t.from >= t.to) return;
      const cost = await seeder(consumerId, t.from, t.to);
      if (cost > 0) seeds.push({ key: t.key, delta: Math.round(cost * COST_SCALE), ttlMs: t.ttlMs });
    }),
  );
  if (seeds.length) await store.increment(seeds);
}

/** The soft-limit warning, once per subject, budget and period on the node (per cluster with Redis). */
function warnOnce(store: CounterStore, ns: string, subject: string, r: Reading, now: number): void {
  const b = r.budget;
  const period = r.span.resetAt !== null ? r.span.buckets[0] : Math.floor(now / ROLLING[b.period].lengthMs);
  const marker = `ai-budget-warned:${ns}:${subject}:${b.index}:${period}`;
  if (warned.has(marker)) return;
  remember(warned, marker);
  store
    .increment([{ key: marker, delta: 1, ttlMs: bucketTtl(b, r.span, r.span.buckets[r.span.buckets.length - 1], now) }])
    .then(([n]) => {
      if (n !== 1) return;
      logger().warn(
        { plugin: 'ai-budget', subject, budget: b.label, spent: Math.round(r.spent * 1e6) / 1e6, amount: b.amount, soft_limit: b.soft_limit },
        `budget soft limit reached: ${dollars(r.spent)} spent of ${b.label}`,
      );
    })
    .catch(() => {});
}

function refusalMessage(r: Reading): string {
  const reset = r.span.resetAt !== null ? `; resets at ${new Date(r.span.resetAt).toISOString()}` : '';
  return `Budget exceeded: $${dollars(r.spent)} spent of ${r.budget.label}${reset}`;
}

async function access(ctx: RequestContext, conf: Compiled): Promise<void> {
  const c = conf.config;
  const subject = subjectOf(ctx, c);
  if (subject === null) {
    if (c.anonymous_policy === 'allow') return;
    const message = `A budget applies to this route: the request must identify a ${c.identifier}`;
    ctx.error = { status: 403, code: 'budget_no_subject', message };
    ctx.exit(403, { message });
    return;
  }
  const now = budgetNow();
  const ns = namespaceOf(ctx, conf);
  const readings: Reading[] = conf.budgets.map((budget) => {
    const span = spanOf(budget.period, budget.window, now);
    return { budget, span, keys: span.buckets.map((b) => counterKey(ns, subject, budget, b)), spent: 0 };
  });
  // budgets of the same period and window share their counters: read each key once
  const keys = [...new Set(readings.flatMap((r) => r.keys))];
  const store = storeOf(c);
  let values: Map<string, number>;
  try {
    await seedLocal(store, ctx, conf, readings, now);
    const read = await store.read(keys);
    values = new Map(keys.map((k, i) => [k, read[i]]));
  } catch (e) {
    logger().error({ plugin: 'ai-budget', err: (e as Error).message }, 'could not read budget counters; letting the request through');
    return;
  }

  let remaining = Infinity;
  let retry = 0;
  const exceeded: Reading[] = [];
  for (const r of readings) {
    const scaled = r.keys.map((k) => values.get(k) ?? 0);
    r.spent = scaled.reduce((a, b) => a + b, 0) / COST_SCALE;
    remaining = Math.min(remaining, r.budget.amount - r.spent);
    if (r.spent >= r.budget.amount) {
      exceeded.push(r);
      retry = Math.max(retry, retryAt(r.budget.period, r.span, scaled, r.budget.amount * COST_SCALE));
    } else if (r.spent >= r.budget.amount * r.budget.soft_limit) warnOnce(store, ns, subject, r, now);
  }
  const state: BudgetState = { subject, at: now, readings, refused: exceeded.length > 0 };
  ctx.shared[STATE_KEY] = state;
  const headers: Record<string, string> = c.hide_client_headers ? {} : { [REMAINING_HEADER]: dollars(Math.max(0, remaining)) };

  if (exceeded.length) {
    const message = exceeded.map(refusalMessage).join('; ');
    ctx.error = { status: c.error_code, code: ERROR_CODE, message };
    // `error.code` survives the route's error shape (OpenAI's `code`, Anthropic's `details.error_code`)
    ctx.exit(Math.trunc(c.error_code), { message, error: { message, code: ERROR_CODE } }, { ...headers, 'Retry-After': String(Math.max(1, Math.ceil((retry - now) / 1000))) });
    return;
  }
  if (!c.hide_client_headers) {
    setResponseHeaders(ctx, headers);
    ctx.shared[HEADERS_KEY] = headers;
  }
}

interface SharedAi {
  usage: unknown;
  cost: number | null;
}

function log(ctx: RequestContext, conf: Compiled): void {
  const state = ctx.shared[STATE_KEY] as BudgetState | undefined;
  if (!state) return;
  const ai = ctx.shared.ai as SharedAi | undefined;
  const cost = ai?.cost ?? 0;
  const unpriced = ai !== undefined && ai.usage != null && ai.cost === null;
  if (cost > 0) {
    const delta = Math.round(cost * COST_SCALE);
    const items = new Map<string, CounterIncrement>();
    for (const r of state.readings) {
      const key = r.keys[r.keys.length - 1];
      const bucket = r.span.buckets[r.span.buckets.length - 1];
      items.set(key, { key, delta, ttlMs: bucketTtl(r.budget, r.span, bucket, state.at) });
    }
    storeOf(conf.config)
      .add([...items.values()])
      .catch((e: Error) => logger().error({ plugin: 'ai-budget', err: e.message }, 'could not add the answer cost to the budget counters'));
  }
  // for log plugins (http-log forwards it): ai-proxy has written ai.proxy by now
  const section = (ctx.logFields.ai ?? {}) as Record<string, unknown>;
  section.budget = {
    identifier: conf.config.identifier,
    cost: ai ? cost : null,
    unpriced,
    refused: state.refused,
    budgets: state.readings.map((r) => ({
      amount: r.budget.amount,
      period: r.budget.period,
      window: r.budget.window,
      spent: Math.round(r.spent * 1e6) / 1e6,
      remaining: Math.max(0, Math.round((r.budget.amount - r.spent) * 1e6) / 1e6),
      soft_limit_reached: r.spent >= r.budget.amount * r.budget.soft_limit,
      exceeded: r.spent >= r.budget.amount,
      resets_at: r.span.resetAt === null ? null : new Date(r.span.resetAt).toISOString(),
    })),
  };
  ctx.logFields.ai = section;
}

export const handler: PluginHandler<AiBudgetConfig, Compiled> = {
  compile(config) {
    return { config, budgets: config.budgets.map((b, index) => ({ ...b, index, label: labelOf(b) })) };
  },
  access,
  headerFilter(ctx) {
    overrideUpstreamHeaders(ctx, ctx.shared[HEADERS_KEY] as Record<string, string> | undefined);
  },
  log,
};
