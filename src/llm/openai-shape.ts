/**
 * The OpenAI response shapes the gateway answers with, built in one place so that every
 * translating driver produces the same fields in the same order: `id`, `object`, `created`,
 * `model`, `choices`, `usage`. Pass-through drivers (OpenAI-compatible upstreams) never come here:
 * their bytes go to the client unchanged.
 */
import type { LlmRouteType, Usage } from './types.ts';
import { asCount } from './json.ts';

/** OpenAI's finish reasons; providers' own reasons are mapped onto these by data tables. */
export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'function_call';

export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface Completion {
  id: string;
  created: number;
  model: string;
  choices: CompletionChoice[];
  usage: Usage | null;
}

export interface CompletionChoice {
  /** The assistant's text; null only for a chat answer that is nothing but tool calls. */
  text: string | null;
  toolCalls?: ToolCall[];
  finishReason: FinishReason | null;
}

/**
 * Usage from a provider's two counts. Both must be real counts: a provider that reports garbage
 * (Kong fixture `malformed_usage_response.json`) gets null, and the plugin estimates instead.
 */
export function usageOf(promptTokens: unknown, completionTokens: unknown): Usage | null {
  const prompt = asCount(promptTokens);
  const completion = asCount(completionTokens);
  if (prompt === undefined || completion === undefined) return null;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

/** The JSON text of a complete (non-streamed) answer for the route type. */
export function completionBody(routeType: LlmRouteType, completion: Completion): string {
  const chat = routeType === 'llm/v1/chat';
  const choices = completion.choices.map((choice, index) =>
    chat
      ? {
          index,
          message: chatMessage(choice),
          logprobs: null,
          finish_reason: choice.finishReason,
        }
      : { index, text: choice.text ?? '', logprobs: null, finish_reason: choice.finishReason },
  );
  return JSON.stringify({
    id: completion.id,
    object: chat ? 'chat.completion' : 'text_completion',
    created: completion.created,
    model: completion.model,
    choices,
    usage: completion.usage,
  });
}

function chatMessage(choice: CompletionChoice): Record<string, unknown> {
  const message: Record<string, unknown> = { role: 'assistant', content: choice.text };
  if (choice.toolCalls && choice.toolCalls.length > 0) message.tool_calls = choice.toolCalls;
  return message;
}

/** Maps a provider's stop reason through its table; an unknown reason still ends the answer normally. */
export function mapFinishReason(table: Readonly<Record<string, FinishReason>>, reason: unknown): FinishReason | null {
  if (typeof reason !== 'string') return null;
  return Object.hasOwn(table, reason) ? table[reason] : 'stop';
}
