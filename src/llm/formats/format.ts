/**
 * A wire format: one way of speaking to an LLM server (OpenAI-compatible, Ollama, Llama 2 raw,
 * Anthropic Messages, Cohere v1). A provider driver picks a format and adds what is its own: the
 * default URL, auth placement and required headers.
 */
import type { ClientRequest, DriverContext, StreamFraming, StreamTranslator, TranslatedResponse } from '../types.ts';

export interface WireFormat {
  buildRequest(req: ClientRequest, ctx: DriverContext): Record<string, unknown>;
  parseResponse(body: string, ctx: DriverContext): TranslatedResponse;
  readonly framing: StreamFraming;
  createStreamTranslator(ctx: DriverContext): StreamTranslator;
}
