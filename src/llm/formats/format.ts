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
  /**
   * Top-level client fields beyond the inbound API that the provider takes natively (vLLM's
   * `min_p`): sent whatever the unsupported-params policy (src/exchange/policy.ts). Default: none.
   */
  nativeFields?(ctx: DriverContext): readonly string[];
  /**
   * True for a format that passes the client's own messages on and judges fields inside them itself
   * (OpenAI-compatible). Otherwise the plugin puts each of `CanonicalRequest.unmapped` through the
   * policy before `buildRequest`. Default: false.
   */
  readonly handlesUnmapped?: boolean;
}
