/**
 * The gateway's estimate of a canonical request's input tokens, whatever API it came in: what
 * `/v1/messages/count_tokens` answers for providers without a count API of their own (Anthropic
 * counts with its own endpoint), and the prompt side of usage when a provider reports none to a
 * Responses or Anthropic client.
 */
import type { CanonicalRequest, Part } from './types.ts';
import { estimateTokens } from '../llm/tokens.ts';

/** Per-message overhead, as llm/tokens.ts counts chat messages, and the reply primer. */
const TOKENS_PER_MESSAGE = 3;
const REPLY_PRIMER_TOKENS = 3;
/**
 * An image's tokens when its size is unknown: Anthropic counts about width × height / 750, and
 * scales larger images down to ~1.15 megapixels, about 1,600 tokens (the vision guide's table).
 */
const IMAGE_TOKENS = 1600;

/**
 * An estimate of a request's input tokens: the text of the system prompt, the messages (tool
 * calls' names and arguments, tool results, reasoning text, plain-text documents) and the tool
 * definitions, counted with llm/tokens.ts's estimator, plus a fixed count per image. It answers
 * `/v1/messages/count_tokens` for providers that have no count API of their own (the Anthropic
 * provider counts with its own endpoint): PDFs and other files are not counted.
 */
export function estimateInputTokens(req: CanonicalRequest): number {
  const texts: string[] = [];
  let images = 0;
  const partText = (part: Part): void => {
    switch (part.type) {
      case 'text':
      case 'reasoning':
      case 'refusal':
        texts.push(part.text);
        return;
      case 'tool_call':
        texts.push(part.name, part.arguments);
        return;
      case 'tool_result':
        for (const item of part.content) partText(item);
        return;
      case 'image':
        images++;
        return;
      case 'file':
        if (part.source.kind === 'base64' && part.source.mediaType === 'text/plain') texts.push(Buffer.from(part.source.data, 'base64').toString('utf8'));
        return;
      default:
        return;
    }
  };
  for (const message of req.messages) for (const part of message.parts) partText(part);
  for (const tool of req.tools ?? []) {
    if (tool.type === 'function') texts.push(tool.name, tool.description ?? '', JSON.stringify(tool.parameters));
    else texts.push(tool.name, JSON.stringify(tool.config));
  }
  return estimateTokens(texts.join('\n')) + images * IMAGE_TOKENS + req.messages.length * TOKENS_PER_MESSAGE + REPLY_PRIMER_TOKENS;
}
