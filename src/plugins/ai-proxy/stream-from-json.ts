/**
 * When a client asked to stream but the provider answered in one JSON body (a self-hosted server
 * without streaming, say), the client still gets what it asked for: the translated answer as one
 * chunk per choice, the usage chunk if asked, and `[DONE]`.
 */
import { TranslationError, type DriverContext, type TranslatedResponse, type Usage } from '../../llm/types.ts';
import type { CanonicalResponse } from '../../exchange/types.ts';
import type { JsonObject } from '../../llm/json.ts';

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

interface StreamedAnswer {
  frames: string;
  usage: Usage | null;
  responseModel: string | null;
  text: string;
  /** The whole answer in the client's API, when its sink keeps one (Responses). */
  answer?: JsonObject | null;
}

/** The driver's translated answer (relay-json's `translateOr502`) as the frames of a stream. */
export function jsonAnswerAsStream(translated: TranslatedResponse, ctx: DriverContext): StreamedAnswer {
  if (ctx.inbound !== 'openai-chat' && ctx.inbound !== 'openai-completions') {
    if (!translated.canonical) throw new TranslationError('the provider answered a stream request with one JSON body in its own API');
    return replayed(translated.canonical, translated, ctx);
  }
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

/** A canonical answer written through the client API's sink, as if it had streamed in one piece per part. */
function replayed(response: CanonicalResponse, translated: TranslatedResponse, ctx: DriverContext): StreamedAnswer {
  const sink = ctx.createSink();
  sink.id = response.id || sink.id;
  sink.model = response.model || sink.model;
  sink.created = response.created || sink.created;
  let frames = sink.start();
  const choice = response.choices[0];
  let calls = 0;
  for (const part of choice?.parts ?? []) {
    if (part.type === 'text') frames += sink.text(part.text);
    else if (part.type === 'refusal') frames += sink.refusal(part.text);
    else if (part.type === 'reasoning') {
      if (part.text !== '') frames += sink.reasoning(part.text);
      if (part.signature !== undefined || part.redacted !== undefined || part.encrypted !== undefined) frames += sink.reasoningState({ ...part, text: '' });
    } else if (part.type === 'tool_call') frames += sink.toolCalls([{ index: calls++, id: part.id, name: part.name, arguments: part.arguments }]);
  }
  frames += sink.finish(choice?.finishReason ?? 'stop');
  if (translated.usage) frames += sink.usage(translated.usage);
  frames += sink.done();
  return { frames, usage: translated.usage, responseModel: translated.responseModel, text: translated.text ?? '', answer: sink.answer ?? null };
}
