/**
 * A hit, rendered in the client's API by that API's own renderer (src/exchange/apis/): the whole
 * answer as its JSON, or, when the client asked to stream, the same answer as a normal stream of
 * that API (OpenAI chunks and `[DONE]`, Responses events up to `response.completed`, Anthropic's
 * `message_start` … `message_stop`), written through the API's EventSink as a provider's stream
 * would be, one event per part.
 *
 * Usage of a hit: zero tokens (no provider was called), and `"cached": true` as the first member
 * of every `usage` object the client gets — chat/completions `usage` (the JSON, and the usage
 * chunk when the client asked for `stream_options.include_usage`), Responses `response.usage`,
 * Anthropic `usage` (`message_start` and `message_delta` in a stream). The renderers write `usage`
 * keys only as real members (text inside an answer is JSON-escaped), so marking them in the
 * rendered text is exact.
 */
import { randomBytes } from 'node:crypto';
import { clientApi, type SinkContext } from '../../exchange/apis/index.ts';
import type { CanonicalRequest, CanonicalResponse, InboundFormat, Usage } from '../../exchange/types.ts';
import type { LlmRouteType } from '../../llm/types.ts';
import type { Entry } from './entry.ts';

const ZERO: Usage = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };

export function markCached(text: string): string {
  return text.replaceAll('"usage":{', '"usage":{"cached":true,');
}

export interface HitRendering {
  body: string;
  contentType: string;
}

export function renderHit(entry: Entry, api: InboundFormat, request: CanonicalRequest, routeType: LlmRouteType, stream: boolean, model: string): HitRendering {
  const client = clientApi(api);
  const now = Math.floor(Date.now() / 1000);
  const id = `${client.idPrefix}${randomBytes(12).toString('hex')}`;
  const ctx: SinkContext = { id, now, model: entry.model || model, routeType, includeUsage: request.includeUsage, request };
  const response: CanonicalResponse = { id, created: now, model: entry.model || model, choices: entry.choices, usage: { ...ZERO } };
  if (!stream) return { body: markCached(client.renderResponse(response, ctx)), contentType: 'application/json' };
  const sink = client.createSink(ctx);
  sink.id = id;
  sink.model = response.model;
  sink.created = now;
  let frames = sink.start();
  const choice = entry.choices[0];
  let calls = 0;
  for (const part of choice.parts) {
    if (part.type === 'text') frames += sink.text(part.text);
    else if (part.type === 'refusal') frames += sink.refusal(part.text);
    else if (part.type === 'tool_call') frames += sink.toolCalls([{ index: calls++, id: part.id, name: part.name, arguments: part.arguments }]);
  }
  frames += sink.finish(choice.finishReason ?? 'stop');
  // OpenAI sends a usage chunk only to clients that asked for one; the other APIs keep it for their end event
  const openai = api === 'openai-chat' || api === 'openai-completions';
  if (!openai || request.includeUsage) frames += sink.usage({ ...ZERO });
  frames += sink.done();
  return { body: markCached(frames), contentType: 'text/event-stream; charset=utf-8' };
}
