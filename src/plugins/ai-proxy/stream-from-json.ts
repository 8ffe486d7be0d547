/**
 * When a client asked to stream but the provider answered in one JSON body (a self-hosted server
 * without streaming, say), the client still gets what it asked for: the translated answer as one
 * chunk per choice, the usage chunk if asked, and `[DONE]`.
 */
import type { DriverContext, ProviderDriver, Usage } from '../../llm/types.ts';
import { TranslationError } from '../../llm/types.ts';
import { ClientError } from '../../proxy/errors.ts';

interface OpenAiChoice {
  index?: number;
  message?: { role?: string; content?: unknown; tool_calls?: unknown };
  text?: string;
  finish_reason?: string | null;
}

export function jsonAnswerAsStream(driver: ProviderDriver, ctx: DriverContext, body: string): { frames: string; usage: Usage | null; responseModel: string | null; text: string } {
  let translated;
  try {
    translated = driver.parseResponse(body, ctx);
  } catch (e) {
    if (e instanceof TranslationError) throw new ClientError(502, { error: { message: `transformation failed from type ${ctx.provider}://${ctx.routeType}: ${e.message}` } });
    throw e;
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
      ? { index: c.index ?? 0, delta: { role: 'assistant', content: c.message?.content ?? '', ...(c.message?.tool_calls ? { tool_calls: c.message.tool_calls } : {}) }, finish_reason: c.finish_reason ?? 'stop' }
      : { index: c.index ?? 0, text: c.text ?? '', finish_reason: c.finish_reason ?? 'stop' };
    frames += `data: ${JSON.stringify({ ...base, choices: [choice] })}\n\n`;
  }
  if (ctx.includeUsage && translated.usage) frames += `data: ${JSON.stringify({ ...base, choices: [], usage: translated.usage })}\n\n`;
  frames += 'data: [DONE]\n\n';
  return { frames, usage: translated.usage, responseModel: translated.responseModel, text };
}
