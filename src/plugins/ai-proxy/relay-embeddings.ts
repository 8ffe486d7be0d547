/**
 * `llm/v1/embeddings` answers: the provider's 200 translated to OpenAI's embeddings list (usage
 * counted by the gateway when the provider reports none), its errors passed through with their
 * status, exactly as chat answers are (relay-json.ts).
 */
import type { RequestContext } from '../../proxy/context.ts';
import type { CompiledAiProxy } from './compile.ts';
import type { ProviderAnswer } from '../../proxy/upstream.ts';
import { completeEmbeddingsUsage, EMBEDDINGS_ROUTE } from '../../llm/embeddings.ts';
import type { EmbeddingsContext, EmbeddingsRequest } from '../../llm/types.ts';
import { recordExchange } from './analytics.ts';
import { answerHeaders, readProviderBytes, relayProviderError, sendBody, translateOr502 } from './relay-json.ts';

export async function relayEmbeddings(
  ctx: RequestContext,
  conf: CompiledAiProxy,
  embeddings: EmbeddingsContext,
  request: EmbeddingsRequest,
  rawRequest: string,
  response: ProviderAnswer,
  sentAt: number,
): Promise<void> {
  if (response.statusCode !== 200) return relayProviderError(ctx, conf, response, embeddings.model);
  const bytes = await readProviderBytes(ctx, response);
  const text = bytes.toString('utf8');
  const driver = conf.driver.embeddings!;
  const translated = translateOr502(ctx, embeddings.provider, EMBEDDINGS_ROUTE, () => driver.parseResponse(text, request, embeddings));
  const { body, usage, estimated } = completeEmbeddingsUsage(translated, request);
  recordExchange(
    ctx,
    conf,
    {
      provider: embeddings.provider,
      requestModel: embeddings.model,
      responseModel: translated.responseModel,
      usage,
      estimated,
      stream: false,
      llmLatencyMs: performance.now() - sentAt,
      timeToFirstTokenMs: null,
      partial: false,
      kind: 'embeddings',
    },
    conf.config.logging.log_payloads ? { request: rawRequest, response: body } : undefined,
  );
  // an answer passed through unchanged goes back as the provider's own bytes
  sendBody(ctx.res, 200, body === text ? bytes : body, answerHeaders(ctx, conf, embeddings.model, response));
}
