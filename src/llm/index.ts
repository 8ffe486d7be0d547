/**
 * The LLM layer's public surface for the ai-proxy plugin (and the plugins that come later):
 * validate the client's body (chat/completions or embeddings), pick the provider's driver, decode
 * upstream streams, estimate tokens (cost is src/spend/cost.ts). See docs/providers.md for each provider's behaviour.
 */
export { validateClientRequest } from './validate.ts';
export { validateEmbeddingsRequest, completeEmbeddingsUsage, embeddingsInputText, EMBEDDINGS_ROUTE } from './embeddings.ts';
export { getDriver } from './drivers/index.ts';
export { createFrameDecoder, DEFAULT_MAX_EVENT_SIZE, type FrameDecoder, type DecoderOptions } from './stream/index.ts';
export { estimateTokens, estimatePromptTokens, promptText, loadTokenizer } from './tokens.ts';
export * from './types.ts';
