/**
 * Builds a ProviderDriver from what is the provider's own (endpoint, auth header) and the wire
 * format it speaks, which may depend on configuration (llama2/mistral `*_format` options).
 */
import { TranslationError, type DriverContext, type Endpoint, type ProviderDriver, type ProviderName, type TranslatedResponse } from '../types.ts';
import type { WireFormat } from '../formats/format.ts';

export interface DriverDefinition {
  name: ProviderName;
  endpoint(ctx: DriverContext): Endpoint;
  formatFor(ctx: DriverContext): WireFormat;
  authHeader?(name: string, value: string): [string, string];
}

export function defineDriver(definition: DriverDefinition): ProviderDriver {
  const { name, endpoint, formatFor, authHeader } = definition;
  const driver: ProviderDriver = {
    name,
    endpoint,
    buildRequest: (req, ctx) => formatFor(ctx).buildRequest(req, ctx),
    parseResponse: (body, ctx) => guarded(name, () => formatFor(ctx).parseResponse(body, ctx)),
    streamFraming: (ctx) => formatFor(ctx).framing,
    createStreamTranslator: (ctx) => formatFor(ctx).createStreamTranslator(ctx),
  };
  if (authHeader) driver.authHeader = authHeader;
  return driver;
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
