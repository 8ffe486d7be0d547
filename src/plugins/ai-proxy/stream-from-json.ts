/**
 * When a client asked to stream but the provider answered in one JSON body (a self-hosted server
 * without streaming, say), the client still gets what it asked for: the translated answer as one
 * chunk per choice, the usage chunk if asked, and `[DONE]`.
 */
import type { DriverContext, TranslatedResponse, Usage } from '../../llm/types.ts';

interface OpenAiChoice {
  index?: number;
  message?: { role?: string; content?: unknown; tool_calls?: unknown; reasoning_content?: unknown; reasoning_details?: unknown; refusal?: unknown };
  text?: string;
  finish_reason?: string | null;
}

/** A whole message as one delta: stream tool calls carry their `index`; reasoning and refusal keep their fields. */
function chatDelta(message: NonNullable<OpenAiChoice['message']>): Record<string, unknown> {
  const delta: Record<string, unknown> = { role: 'assistant', content: message.content ?? '' };
  if (typeof message.reasoning_content === 'string') delta.reasoning_content = message.reasoning_content;
  if (Array.isArray(message.reasoning_details)) delta.reasoning_details = message.reasoning_details;
  if (typeof message.refusal === 'string') delta.refusal = message.refusal;
  if (Array.isArray(message.tool_calls)) delta.tool_calls = message.tool_calls.map((call, index) => (typeof call === 'object' && call !== null && !('index' in call) ? { index, ...call } : call));
  return delta;
}

/** The driver's translated answer (relay-json's `translateOr502`) as the frames of a stream. */
export function jsonAnswerAsStream(translated: TranslatedResponse, ctx: DriverContext): { frames: string; usage: Usage | null; responseModel: string | null; text: string } {
  const answer = JSON.parse(translated.body) as { id?: string; created?: number; model?: string; choices?: OpenAiChoice[] };
  const chat = ctx.routeType === 'llm/v1/chat';
  const base = { id: answer.id ?? ctx.id, object: chat ? 'chat.completion.chunk' : 'text_completion', created: answer.created ?? ctx.now, model: answer.model ?? ctx.model };
  let frames = '';
  let text = '';
  for (const c of answer.choices ?? []) {
    const content = chat ? c.message?.content : c.text;
    if (typeof content === 'string') text += content;
    const choice = chat
      ? { index: c.index ?? 0, delta: chatDelta(c.message ?? {}), finish_reason: c.finish_reason ?? 'stop' }
      : { index: c.index ?? 0, text: c.text ?? '', finish_reason: c.finish_reason ?? 'stop' };
    frames += `data: ${JSON.stringify({ ...base, choices: [choice] })}\n\n`;
  }
  if (ctx.includeUsage && translated.usage) frames += `data: ${JSON.stringify({ ...base, choices: [], usage: translated.usage })}\n\n`;
  frames += 'data: [DONE]\n\n';
  return { frames, usage: translated.usage, responseModel: translated.responseModel, text };
}
