/**
 * Builds a ProviderDriver from what is the provider's own (endpoint, auth header, request signing,
 * embeddings) and the wire format it speaks, which may depend on configuration (llama2/mistral
 * `*_format` options).
 */
import { TranslationError, type DriverContext, type EmbeddingsDriver, type Endpoint, type ParsedAnswer, type ProviderDriver, type ProviderName, type TranslatedResponse } from '../types.ts';
import type { WireFormat } from '../formats/format.ts';
import { carriedOf, responseText } from '../../exchange/render/openai-chat.ts';

export interface DriverDefinition {
  name: ProviderName;
  endpoint(ctx: DriverContext): Endpoint;
  formatFor(ctx: DriverContext): WireFormat;
  authHeader?: ProviderDriver['authHeader'];
  signRequest?: ProviderDriver['signRequest'];
  embeddings?: EmbeddingsDriver;
}

const NONE: readonly string[] = [];

export function defineDriver(definition: DriverDefinition): ProviderDriver {
  const { name, endpoint, formatFor, authHeader, signRequest, embeddings } = definition;
  const driver: ProviderDriver = {
    name,
    endpoint,
    buildRequest: (req, ctx) => formatFor(ctx).buildRequest(req, ctx),
    parseResponse: (body, ctx) => guarded(name, () => rendered(formatFor(ctx).parseResponse(body, ctx), ctx)),
    streamFraming: (ctx) => formatFor(ctx).framing,
    createStreamTranslator: (ctx) => formatFor(ctx).createStreamTranslator(ctx),
    nativeFields: (ctx) => formatFor(ctx).nativeFields?.(ctx) ?? NONE,
    handlesUnmapped: (ctx) => formatFor(ctx).handlesUnmapped === true,
    ...(authHeader ? { authHeader } : {}),
    ...(signRequest ? { signRequest } : {}),
    ...(embeddings
      ? {
          embeddings: {
            endpoint: embeddings.endpoint,
            buildRequest: embeddings.buildRequest,
            parseResponse: (body, req, ctx) => guarded(name, () => embeddings.parseResponse(body, req, ctx)),
          },
        }
      : {}),
  };
  return driver;
}

/**
 * A format's answer as the client gets it: a provider answer already in the client's API goes as
 * its own bytes; a canonical answer is rendered in the client's API (ctx.renderResponse).
 */
export function rendered(answer: ParsedAnswer, ctx: DriverContext): TranslatedResponse {
  if ('passthrough' in answer) return { body: answer.passthrough, usage: answer.usage, responseModel: answer.responseModel, parsed: answer.parsed };
  return { body: ctx.renderResponse(answer), usage: answer.usage, responseModel: answer.model || null, carried: carriedOf(answer), text: responseText(answer), canonical: answer };
}

/**
 * A provider answer must never crash the proxy: anything but a TranslationError (say a RangeError
 * from serialising a pathologically nested tool input) becomes one, so the client gets a 502.
 */
function guarded(provider: ProviderName, translate: () => TranslatedResponse): TranslatedResponse {
  try {
    return translate();
  } catch (error) {
    if (error instanceof TranslationError) throw error;
    throw new TranslationError(`could not translate the ${provider} response: ${(error as Error)?.message ?? String(error)}`);
  }
}
