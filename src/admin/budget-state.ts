/**
 * What `GET /budgets` answers per budget and consumer (src/admin/budget-routes.ts). Types only, so
 * that the Admin GUI (src/gui/app) reads the same definition: its type imports are erased.
 */
import type { BudgetPeriod, BudgetWindow } from '../plugins/ai-budget/periods.ts';

/** One budget of one instance, for one consumer. */
export interface BudgetState {
  plugin_id: string;
  instance_name: string | null;
  /** Where the instance applies (ids; null = everywhere). */
  scope: { route: string | null; service: string | null; consumer: string | null };
  consumer: { id: string; username: string | null; custom_id: string | null };
  /** The budget's index in the instance's `config.budgets`. */
  budget_index: number;
  period: BudgetPeriod;
  window: BudgetWindow;
  /** The hard limit (dollars). */
  limit: number;
  /** The soft limit, a fraction of `limit` (the plugin logs a warning past it). */
  soft_limit: number;
  soft_limit_amount: number;
  spent: number;
  /** limit − spent, never below 0. */
  remaining: number;
  /** spent ÷ limit (above 1 when requests in flight overshot). */
  ratio: number;
  soft_limit_reached: boolean;
  exceeded: boolean;
  /** The span the plugin reads now: [period_start, period_end). */
  period_start: string;
  period_end: string;
  /** Calendar budgets: when the budget is whole again; rolling: null (it frees up gradually). */
  resets_at: string | null;
}
