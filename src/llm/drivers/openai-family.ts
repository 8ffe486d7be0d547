/**
 * The OpenAI-compatible APIs that have a provider name of their own (docs/providers.md, "The
 * OpenAI-compatible family"): each is the OpenAI wire format at its own base URL, with the
 * differences it has (fields it answers 400 to, fields of its own it takes, whether it can be
 * asked for streamed usage, whether it has text completions and embeddings). Each provider's file
 * is one call to `defineOpenAICompatible`.
 *
 * URLs: `{base}{path}` with the route's path (`/chat/completions`, `/completions`, `/embeddings`).
 * `upstream_url` replaces the base or the whole URL: a URL whose path is `/` or ends in a version
 * (`/v1`, `/openai/v1`) is a base and gets the route's path appended (`http://vllm:8000` and
 * `http://vllm:8000/v1` both work); any other path is used as it is (Kong's rule). Self-hosted
 * servers (vLLM, LM Studio, llama.cpp) have no default base: `upstream_url` is required.
 * A provider without text completions gets completions routes bridged through chat completions.
 */
import { RequestError, type DriverContext, type EmbeddingsContext, type EmbeddingsDriver, type LlmRouteType, type ModelOptions, type ProviderName } from '../types.ts';
import { chatBridgedCompletionsFormat, openAICompatibleFormat, type OpenAICompatibleOptions } from '../formats/openai-compatible.ts';
import type { WireFormat } from '../formats/format.ts';
import { openAIEmbeddings, type OpenAIEmbeddingsOptions } from '../embeddings.ts';
import { safePath, upstreamBase } from '../url.ts';
import { defineDriver } from './define.ts';

export interface OpenAICompatibleProvider {
  name: ProviderName;
  /** The API base (origin and version path, no trailing slash); null for self-hosted servers. */
  base: string | null;
  /** The text completions path, or null when the provider has none (completions are bridged to chat). */
  completionsPath: string | null;
  /** The embeddings path, or null when the provider has no embeddings API. */
  embeddingsPath: string | null;
  format: Omit<OpenAICompatibleOptions, 'provider'>;
  embeddings?: Omit<OpenAIEmbeddingsOptions, 'provider' | 'endpoint'>;
}

/** A path that is only a version prefix: `upstream_url` is then a base. */
const BASE_PATH = /^(?:\/[A-Za-z0-9_-]*)*\/v\d+[a-z0-9]*\/?$|^\/?$/;

/** Where a route of this provider goes. */
export function familyUrl(provider: OpenAICompatibleProvider, options: ModelOptions, path: string): string {
  if (options.upstream_url) {
    const url = new URL(upstreamBase(options.upstream_url));
    if (!BASE_PATH.test(url.pathname)) return `${url.origin}${url.pathname}`;
    const prefix = url.pathname === '/' || url.pathname === '' ? '/v1' : url.pathname.replace(/\/$/, '');
    return `${url.origin}${prefix}${path}`;
  }
  if (!provider.base) throw new RequestError(`model.options.upstream_url: required for the ${provider.name} provider`);
  return options.upstream_path ? `${new URL(provider.base).origin.replace(/^(https:\/\/[^/:]+)$/, '$1:443')}${safePath(options.upstream_path)}` : `${provider.base}${path}`;
}

export function defineOpenAICompatible(provider: OpenAICompatibleProvider) {
  const options: OpenAICompatibleOptions = { provider: provider.name, ...provider.format };
  const chat = openAICompatibleFormat(options);
  const bridged = chatBridgedCompletionsFormat(options);
  const bridges = provider.completionsPath === null;

  const routePath = (routeType: LlmRouteType): string =>
    routeType === 'llm/v1/chat' || bridges ? '/chat/completions' : (provider.completionsPath as string);
  const formatFor = (ctx: DriverContext): WireFormat => (ctx.routeType === 'llm/v1/completions' && bridges ? bridged : chat);

  let embeddings: EmbeddingsDriver | undefined;
  if (provider.embeddingsPath !== null) {
    const path = provider.embeddingsPath;
    embeddings = openAIEmbeddings({
      provider: provider.name,
      endpoint: (ctx: EmbeddingsContext) => ({ url: familyUrl(provider, ctx.options, path), headers: {} }),
      ...provider.embeddings,
    });
  }

  return defineDriver({
    name: provider.name,
    endpoint: (ctx) => ({ url: familyUrl(provider, ctx.options, routePath(ctx.routeType)), headers: {} }),
    formatFor,
    ...(embeddings ? { embeddings } : {}),
  });
}
