/**
 * `GET /budgets` on the Admin API (issue 20): how close each consumer is to each `ai-budget`
 * budget, for the Admin GUI's dashboard. The plugin's counters live in the primary's memory or in
 * Redis and are not an inventory; what was spent is in the spend log, so the answer is computed
 * from it: for every enabled `ai-budget` instance, every budget in it and every consumer it applies
 * to that has spent in the budget's current span, the spend over exactly the span the plugin reads
 * (src/plugins/ai-budget/periods.ts `spanOf`, on the plugin's own clock).
 *
 * Which requests an instance counted follows Kong's precedence (one instance of a plugin name runs
 * per request, the most specific scope: src/snapshot/compile.ts), and instances sharing a
 * `namespace` share their counters:
 * - a global or consumer-scoped instance counts the consumer's spend on every route (the store's
 *   `costOf(consumer, from, to)`, as the plugin's seeding after a restart, seed.ts) minus the
 *   routes a more specific instance claims;
 * - a route- or service-scoped instance counts the routes it wins: the Usage query filtered by
 *   consumer and route, summed;
 * - `identifier: credential` budgets count per key-auth credential, which no spend query sums:
 *   they are left out (docs/plugins.md, "Budget state").
 *
 * Sorted by ratio (spent ÷ amount), highest first. The figures lag the counters by the spend log's
 * batch (~250 ms) and include the requests a budget refused at cost 0, as the counters do.
 */
import type { FastifyInstance } from 'fastify';
import { HttpError } from '../entities/errors.ts';
import type { Row } from '../store/types.ts';
import type { SpendStore } from '../spend/types.ts';
import { spanOf } from '../plugins/ai-budget/periods.ts';
import type { BudgetState } from './budget-state.ts';
import { budgetNow } from '../plugins/ai-budget/clock.ts';
import type { AiBudgetConfig } from '../plugins/ai-budget/schema.ts';

export interface BudgetRoutesOptions {
  store: () => SpendStore | null;
  disabled: () => boolean;
  /** Every row of an entity (optionally where a foreign key column equals a value). */
  all: (entity: 'plugins' | 'consumers' | 'routes') => Promise<Row[]>;
  /** Clock (tests); default: the ai-budget plugin's own clock. */
  now?: () => number;
}

const fkId = (v: unknown): string | null => (v && typeof v === 'object' && typeof (v as { id?: unknown }).id === 'string' ? (v as { id: string }).id : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** Rounded to a millionth of a dollar, as the plugin's own log entry (`ai.budget`) rounds. */
const micro = (v: number): number => Math.round(v * 1e6) / 1e6;

/** Kong's precedence among plugins of one name (src/snapshot/compile.ts): the most specific scope wins. */
function specificity(s: Scope): number {
  const c = s.consumer ? 1 : 0;
  const r = s.route ? 1 : 0;
  const v = s.service ? 1 : 0;
  return [1, 2, 3, 5, 4, 6, 7, 8][c * 4 + r * 2 + v];
}

interface Scope {
  route: string | null;
  service: string | null;
  consumer: string | null;
}

interface Instance {
  row: Row;
  scope: Scope;
  config: AiBudgetConfig;
  /** Instances of one namespace share their counters (handler.ts `counterKey`). */
  namespace: string;
}

const covers = (s: Scope, route: string | null, service: string | null, consumer: string): boolean =>
  (s.route === null || s.route === route) && (s.service === null || s.service === service) && (s.consumer === null || s.consumer === consumer);

/** The ai-budget instance that runs for a request on this route (and service) by this consumer. */
function winner(instances: Instance[], route: string | null, service: string | null, consumer: string): Instance | null {
  let best: Instance | null = null;
  for (const i of instances) if (covers(i.scope, route, service, consumer) && (!best || specificity(i.scope) > specificity(best.scope))) best = i;
  return best;
}

export async function budgetStates(opts: BudgetRoutesOptions, store: SpendStore): Promise<BudgetState[]> {
  const now = (opts.now ?? budgetNow)();
  const instances: Instance[] = (await opts.all('plugins'))
    .filter((p) => p.name === 'ai-budget' && p.enabled !== false)
    .map((row) => ({ row, scope: { route: fkId(row.route), service: fkId(row.service), consumer: fkId(row.consumer) }, config: row.config as AiBudgetConfig, namespace: str((row.config as AiBudgetConfig).namespace) ?? (row.id as string) }));
  if (!instances.some((i) => i.config.identifier === 'consumer')) return [];
  const consumers = await opts.all('consumers');
  // routes some route- or service-scoped instance may claim: a request there may not be the
  // global (or consumer-scoped) instance's to count
  const scoped = instances.some((i) => i.scope.route || i.scope.service);
  const routes = scoped ? (await opts.all('routes')).map((r) => ({ id: r.id as string, service: fkId(r.service) })) : [];

  // one query per (consumer, route or all, span), however many instances ask it
  const sums = new Map<string, Promise<number>>();
  const cost = (consumer: string, route: string | null, from: number, to: number): Promise<number> => {
    const key = `${consumer}|${route ?? '*'}|${from}|${to}`;
    let p = sums.get(key);
    if (!p) {
      p = route === null ? store.costOf(consumer, from, to) : store.usage({ from, to, interval: 'hour', group_by: [], consumer, route }).then((a) => a.totals.cost);
      sums.set(key, p);
    }
    return p;
  };

  /** What instance `i` counted for `consumer` over [from, to): the requests it was the one to run on. */
  const countedBy = async (i: Instance, consumer: string, from: number, to: number): Promise<number> => {
    const won = routes.filter((r) => winner(instances, r.id, r.service, consumer) === i);
    if (i.scope.route || i.scope.service) {
      const parts = await Promise.all(won.map((r) => cost(consumer, r.id, from, to)));
      return parts.reduce((a, b) => a + b, 0);
    }
    // global or consumer-scoped: every route but those a more specific instance claims (and
    // requests on routes deleted since, which only an unscoped instance could have counted)
    if (winner(instances, null, null, consumer) !== i) return 0;
    const lost = routes.filter((r) => winner(instances, r.id, r.service, consumer) !== i);
    const [all, ...others] = await Promise.all([cost(consumer, null, from, to), ...lost.map((r) => cost(consumer, r.id, from, to))]);
    return Math.max(0, others.reduce((a, b) => a - b, all));
  };

  const out: BudgetState[] = [];
  for (const inst of instances) {
    if (inst.config.identifier !== 'consumer') continue;
    const sharing = instances.filter((j) => j.namespace === inst.namespace && j.config.identifier === 'consumer');
    const subjects = inst.scope.consumer ? consumers.filter((c) => c.id === inst.scope.consumer) : consumers;
    for (const [index, b] of inst.config.budgets.entries()) {
      const span = spanOf(b.period, b.window, now);
      const from = span.buckets[0];
      const to = span.resetAt ?? span.buckets[span.buckets.length - 1] + span.bucketMs;
      for (const c of subjects) {
        const id = c.id as string;
        // the counter is the namespace's: every instance sharing it adds to it
        const spent = (await Promise.all(sharing.map((j) => countedBy(j, id, from, to)))).reduce((a, v) => a + v, 0);
        if (!(spent > 0)) continue;
        out.push({
          plugin_id: inst.row.id as string,
          instance_name: str(inst.row.instance_name),
          scope: inst.scope,
          consumer: { id, username: str(c.username), custom_id: str(c.custom_id) },
          budget_index: index,
          period: b.period,
          window: b.window,
          limit: b.amount,
          soft_limit: b.soft_limit,
          soft_limit_amount: micro(b.amount * b.soft_limit),
          spent: micro(spent),
          remaining: Math.max(0, micro(b.amount - spent)),
          ratio: spent / b.amount,
          soft_limit_reached: spent >= b.amount * b.soft_limit,
          exceeded: spent >= b.amount,
          period_start: new Date(from).toISOString(),
          period_end: new Date(to).toISOString(),
          resets_at: span.resetAt === null ? null : new Date(span.resetAt).toISOString(),
        });
      }
    }
  }
  return out.sort((a, b) => b.ratio - a.ratio || a.consumer.id.localeCompare(b.consumer.id) || a.plugin_id.localeCompare(b.plugin_id) || a.budget_index - b.budget_index);
}

export function registerBudgetRoutes(app: FastifyInstance, opts: BudgetRoutesOptions): void {
  app.route({
    method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
    url: '/budgets',
    handler: async (req, reply) => {
      if (req.method !== 'GET') return reply.code(405).send({ message: 'Method not allowed' });
      if (opts.disabled()) throw new HttpError(503, { message: 'The spend log is off (MODELGATE_SPEND_LOG=off): budget state is computed from it' });
      const store = opts.store();
      if (!store) throw new HttpError(503, { message: 'The spend log database is unavailable; try again once it is back' }, { 'retry-after': '5' });
      return reply.code(200).send({ data: await budgetStates(opts, store) });
    },
  });
}

/** Every row of an entity through the dao's pages. */
export async function allRows(page: (q: { size: number; after?: string }) => Promise<{ data: Row[]; offset?: string }>): Promise<Row[]> {
  const out: Row[] = [];
  let after: string | undefined;
  for (;;) {
    const p = await page({ size: 1000, ...(after ? { after } : {}) });
    out.push(...p.data);
    if (!p.offset) return out;
    after = p.data[p.data.length - 1].id as string;
  }
}
