/**
 * A wire format: one way of speaking to an LLM server (OpenAI-compatible, Ollama, Llama 2 raw,
 * Anthropic Messages, Cohere v1). A provider driver picks a format and adds what is its own: the
 * default URL, auth placement and required headers.
 */
import type { DriverContext, ParsedAnswer, StreamFraming, StreamTranslator } from '../types.ts';
import type { CanonicalRequest } from '../../exchange/types.ts';

/**
 * A format maps the canonical request out (every field mapped, or reported through
 * `ctx.unsupported`), and the provider's answer back into the canonical answer; streamed, its
 * translator writes canonical events to the sink `ctx.createSink()` gives (BaseStreamTranslator).
 */
export interface WireFormat {
  buildRequest(req: CanonicalRequest, ctx: DriverContext): Record<string, unknown>;
  parseResponse(body: string, ctx: DriverContext): ParsedAnswer;
  readonly framing: StreamFraming;
  createStreamTranslator(ctx: DriverContext): StreamTranslator;
}
