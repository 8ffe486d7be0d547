/**
 * `ai-budget`: budgets in money (dollars of the price table) per consumer, per day / week /
 * month, calendar (UTC) or rolling. Kong-style configuration, in the manner of
 * ai-rate-limiting-advanced (`identifier`, `strategy`, `namespace`, `error_code`).
 *
 * `strategy: cluster` (counters in PostgreSQL) is refused with a pointer to `redis`: modelgate's
 * shared counters are the primary's memory (local) or Redis, and a database round trip per
 * request in the access phase is what Kong's own cluster strategy is known to cost.
 */
import type { PluginSchema } from '../types.ts';
import { typedefs } from '../../schema/typedefs.ts';
import { BUDGET_PERIODS, BUDGET_WINDOWS, type BudgetPeriod, type BudgetWindow } from './periods.ts';

export interface Budget {
  amount: number;
  period: BudgetPeriod;
  window: BudgetWindow;
  soft_limit: number;
}

/** Who a budget belongs to. There are no consumer groups in modelgate (yet). */
export const BUDGET_IDENTIFIERS = ['consumer', 'credential'] as const;

export interface AiBudgetConfig {
  budgets: Budget[];
  identifier: (typeof BUDGET_IDENTIFIERS)[number];
  anonymous_policy: 'allow' | 'deny';
  strategy: 'local' | 'redis';
  namespace: string | null;
  error_code: number;
  hide_client_headers: boolean;
}

function checkStrategy(v: string): string | undefined {
  if (v === 'cluster') return "strategy 'cluster' (counters in the database) is not supported by ai-budget: use 'redis' to share budgets across nodes";
  return v === 'local' || v === 'redis' ? undefined : 'expected one of: local, redis';
}

function checkBudgets(budgets: Budget[]): string | undefined {
  const seen = new Set<string>();
  for (const b of budgets) {
    const k = `${b.period}/${b.window}/${b.amount}`;
    if (seen.has(k)) return `the budget ${b.amount} per ${b.period} (${b.window}) is listed twice`;
    seen.add(k);
  }
  return undefined;
}

export const schema: PluginSchema = {
  name: 'ai-budget',
  // after authentication (key-auth 1250) and the rate limiters (905-910), before ai-proxy (770)
  priority: 900,
  version: '0.1.0',
  protocols: typedefs.protocolsHttp(),
  config: {
    type: 'record',
    required: true,
    fields: {
      budgets: {
        type: 'array',
        required: true,
        len_min: 1,
        elements: {
          type: 'record',
          fields: {
            amount: { type: 'number', required: true, gt: 0 },
            period: { type: 'string', required: true, one_of: BUDGET_PERIODS },
            window: { type: 'string', required: true, default: 'calendar', one_of: BUDGET_WINDOWS },
            soft_limit: { type: 'number', required: true, default: 0.8, between: [0, 1], gt: 0 },
          },
        },
      },
      identifier: { type: 'string', required: true, default: 'consumer', one_of: BUDGET_IDENTIFIERS },
      anonymous_policy: { type: 'string', required: true, default: 'allow', one_of: ['allow', 'deny'] },
      strategy: { type: 'string', required: true, default: 'local', custom_validator: checkStrategy },
      namespace: { type: 'string' },
      error_code: { type: 'number', default: 429, between: [400, 599] },
      hide_client_headers: { type: 'boolean', default: false },
    },
    entity_checks: [{ custom_entity_check: { field_sources: ['budgets'], fn: (c: AiBudgetConfig) => checkBudgets(c.budgets) } }],
  },
};
