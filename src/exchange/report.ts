/**
 * "Every feature mapped or reported": the walks a format uses to report (through
 * DriverContext.unsupported, so the route's unsupported-params policy decides) what a canonical
 * request asks for that the format has no place for, by the client's path.
 */
import type { DriverContext } from '../llm/types.ts';
import type { CanonicalRequest, Message } from './types.ts';

/** What a format can carry besides messages, for `reportUnmapped`. */
export interface Carries {
  /** `n > 1` (several choices). */
  choices?: boolean;
  logitBias?: boolean;
  penalties?: boolean;
  seed?: boolean;
}

/**
 * Reports the request-level fields the format has no place for: logprobs (no canonical answer
 * carries them), `n > 1`, `logit_bias`, penalties and `seed` unless the format maps them, the end
 * user, metadata and OpenAI-only fields. Paths are the client's field names.
 */
export function reportUnmapped(req: CanonicalRequest, ctx: DriverContext, carries: Carries, why = `the ${ctx.provider} provider`): void {
  const s = req.sampling;
  if (s.n !== undefined && s.n > 1 && !carries.choices) ctx.unsupported('n', `several choices (${why} answers one)`);
  if (s.logprobs === true) ctx.unsupported('logprobs', 'log probabilities');
  if (s.topLogprobs !== undefined) ctx.unsupported('top_logprobs', 'log probabilities');
  if (s.logitBias !== undefined && Object.keys(s.logitBias).length > 0 && !carries.logitBias) ctx.unsupported('logit_bias', 'token biases');
  if (!carries.penalties) {
    if (s.presencePenalty !== undefined) ctx.unsupported('presence_penalty');
    if (s.frequencyPenalty !== undefined) ctx.unsupported('frequency_penalty');
  }
  if (s.seed !== undefined && !carries.seed) ctx.unsupported('seed');
  if (req.user !== undefined) ctx.unsupported('user', 'an end-user identifier');
  if (req.metadata !== undefined && Object.keys(req.metadata).length > 0) ctx.unsupported('metadata');
  reportOpenAIFields(req, ctx, 'an OpenAI-only field');
}

/** The client's path of a message part: OpenAI chat keeps tool calls apart from content. */
export function partPath(message: Message, i: number, j: number): string {
  const part = message.parts[j];
  if (part.type === 'tool_call') return `messages[${i}].tool_calls[${message.parts.slice(0, j).filter((p) => p.type === 'tool_call').length}]`;
  if (part.type === 'tool_result') return message.parts.length === 1 ? `messages[${i}]` : `messages[${i}].content[${j}]`;
  const k = message.parts.slice(0, j).filter((p) => p.type !== 'tool_call' && p.type !== 'reasoning').length;
  return `messages[${i}].content[${k}]`;
}

/** Cache marks: none of the formats that call this has prompt caching markers. */
export function reportCacheMarks(req: CanonicalRequest, ctx: DriverContext): void {
  req.messages.forEach((message, i) => {
    if (message.cache) ctx.unsupported(`messages[${i}].cache_control`, 'prompt caching');
    message.parts.forEach((part, j) => {
      if ('cache' in part && part.cache) ctx.unsupported(`${partPath(message, i, j)}.cache_control`, 'prompt caching');
    });
  });
  (req.tools ?? []).forEach((tool, i) => {
    if (tool.type === 'function' && tool.cache) ctx.unsupported(`tools[${i}].cache_control`, 'prompt caching');
  });
}

/**
 * OpenAI fields that only shape how an answer is shown, which every format honours as well as it
 * can: Responses' `reasoning.summary` asks for reasoning as summary text, which is what every
 * renderer gives of a provider's reasoning.
 */
export const DISPLAY_HINTS: ReadonlySet<string> = new Set(['reasoning_summary']);

/**
 * OpenAI's own request fields (`CanonicalRequest.openai`), each reported by its name unless unset,
 * a display hint, or `ignored` (a value that asks for nothing this format would not do anyway).
 */
export function reportOpenAIFields(req: CanonicalRequest, ctx: DriverContext, why?: string, ignored?: (key: string, value: unknown) => boolean): void {
  for (const [key, value] of Object.entries(req.openai ?? {})) {
    if (value === undefined || value === null || DISPLAY_HINTS.has(key) || ignored?.(key, value)) continue;
    ctx.unsupported(key, why);
  }
}
