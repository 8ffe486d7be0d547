/**
 * OpenAI's streamed chunk shapes, for translating drivers: `chat.completion.chunk` frames for chat
 * routes, `text_completion` frames for completions routes, the usage-only chunk
 * (`choices: []`) and `[DONE]`. Every frame is already SSE-framed (`data: {...}\n\n`).
 */
import type { DriverContext, Usage } from '../types.ts';
import type { FinishReason } from '../openai-shape.ts';

export const DONE_FRAME = 'data: [DONE]\n\n';

/** Frames one event's data for the client; a multi-line payload gets one `data:` line per line. */
export function sseFrame(data: string): string {
  if (!data.includes('\n')) return `data: ${data}\n\n`;
  return `${data
    .split('\n')
    .map((line) => `data: ${line}`)
    .join('\n')}\n\n`;
}

export interface ToolCallDelta {
  index: number;
  id?: string;
  type?: 'function';
  function: { name?: string; arguments: string };
}

/** Writes the chunks of one streamed answer; id, created and model can be updated once the provider tells them. */
export class ChunkWriter {
  id: string;
  created: number;
  model: string;
  readonly #chat: boolean;
  /** OpenAI puts `"usage": null` on every chunk when the client asked for usage; we do the same. */
  readonly #usageField: boolean;

  constructor(ctx: DriverContext) {
    this.id = ctx.id;
    this.created = ctx.now;
    this.model = ctx.model;
    this.#chat = ctx.routeType === 'llm/v1/chat';
    this.#usageField = ctx.includeUsage;
  }

  get chat(): boolean {
    return this.#chat;
  }

  /** The opening chunk of a chat answer: the assistant role with empty content (completions have none). */
  role(): string {
    return this.#chat ? this.#choice({ delta: { role: 'assistant', content: '' } }, null) : '';
  }

  text(text: string): string {
    if (text === '') return '';
    return this.#chat ? this.#choice({ delta: { content: text } }, null) : this.#choice({ text }, null);
  }

  toolCalls(calls: ToolCallDelta[]): string {
    if (!this.#chat || calls.length === 0) return '';
    return this.#choice({ delta: { tool_calls: calls } }, null);
  }

  finish(reason: FinishReason | null): string {
    return this.#chat ? this.#choice({ delta: {} }, reason) : this.#choice({ text: '' }, reason);
  }

  usage(usage: Usage): string {
    return sseFrame(
      JSON.stringify({
        id: this.id,
        object: this.#chat ? 'chat.completion.chunk' : 'text_completion',
        created: this.created,
        model: this.model,
        choices: [],
        usage,
      }),
    );
  }

  #choice(body: Record<string, unknown>, finishReason: FinishReason | null): string {
    const choice = this.#chat
      ? { index: 0, ...body, logprobs: null, finish_reason: finishReason }
      : { ...body, index: 0, logprobs: null, finish_reason: finishReason };
    const chunk: Record<string, unknown> = {
      id: this.id,
      object: this.#chat ? 'chat.completion.chunk' : 'text_completion',
      created: this.created,
      model: this.model,
      choices: [choice],
    };
    if (this.#usageField) chunk.usage = null;
    return sseFrame(JSON.stringify(chunk));
  }
}
