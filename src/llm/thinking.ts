/**
 * Claude's extended thinking budget, one table for every format that reaches Claude with a budget
 * (the Anthropic Messages API, and Claude on Bedrock Converse).
 *
 * The numbers follow Anthropic's guidance: the minimum budget is 1024 tokens (and the place to
 * start), a few thousand for moderate reasoning, 16k and more for complex tasks. A budget is a cap,
 * not what is spent. Gemini's thinking budgets are Gemini's own (gemini.ts).
 */
import type { ReasoningEffort, ReasoningRequest } from '../exchange/types.ts';

/** The smallest `budget_tokens` Anthropic accepts. */
export const MIN_THINKING_BUDGET = 1024;

/** `reasoning.effort` → Claude's `thinking.budget_tokens` (an effort of none, or none given: medium). */
export const EFFORT_BUDGETS: Readonly<Record<Exclude<ReasoningEffort, 'none'>, number>> = {
  minimal: 1024,
  low: 1024,
  medium: 4096,
  high: 16384,
};

/** The budget for a request's reasoning: an explicit budget as asked, else the effort's; never below the minimum. */
export function thinkingBudget(reasoning: Pick<ReasoningRequest, 'effort' | 'budgetTokens'>): number {
  const { effort, budgetTokens } = reasoning;
  const fromEffort = effort !== undefined && effort !== 'none' ? EFFORT_BUDGETS[effort] : EFFORT_BUDGETS.medium;
  return Math.max(MIN_THINKING_BUDGET, Math.floor(budgetTokens ?? fromEffort));
}

/** The effort a budget corresponds to (for models that take an effort instead of a budget). */
export function effortOfBudget(budget: number): 'low' | 'medium' | 'high' {
  return budget <= EFFORT_BUDGETS.low ? 'low' : budget <= EFFORT_BUDGETS.medium ? 'medium' : 'high';
}

/**
 * Claude's max tokens count the thinking and must exceed the budget: a max at or below it is raised
 * by the budget, so the answer keeps the room the client asked for.
 */
export function maxTokensWithThinking(maxTokens: number, budget: number): number {
  return maxTokens <= budget ? maxTokens + budget : maxTokens;
}
