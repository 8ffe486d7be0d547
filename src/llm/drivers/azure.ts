/**
 * Azure OpenAI: `https://{azure_instance}.openai.azure.com:443/openai/deployments/{azure_deployment_id}`
 * + `/chat/completions` | `/completions`, always with `?api-version=` (also after `upstream_url`,
 * as in Kong). The instance and deployment are validated, never merely interpolated: a value like
 * `x.evil.com#` must not be able to send the `api-key` to another host (T72).
 */
import type { ModelOptions } from '../types.ts';
import { openAICompatibleFormat } from '../formats/openai-compatible.ts';
import { dnsLabel, pathSegment, resolveUrl, upstreamBase, withQuery } from '../url.ts';
import { defineDriver } from './define.ts';
import { openAIEmbeddings } from '../embeddings.ts';

export const AZURE_DEFAULT_API_VERSION = '2023-05-15';

const PATHS = { 'llm/v1/chat': '/chat/completions', 'llm/v1/completions': '/completions', 'llm/v1/embeddings': '/embeddings' } as const;

/**
 * Azure accepts `stream_options` (exact streamed usage) from API version 2024-09-01 on; older
 * versions, the schema's default among them, reject the field, so it is only sent to newer ones.
 */
const FIRST_VERSION_WITH_STREAM_USAGE = '2024-09-01';

const withStreamUsage = openAICompatibleFormat({ provider: 'azure', requestStreamUsage: true, openAIModelRules: true });
const withoutStreamUsage = openAICompatibleFormat({ provider: 'azure', requestStreamUsage: false, openAIModelRules: true });

function apiVersion(options: ModelOptions): string {
  return options.azure_api_version ?? AZURE_DEFAULT_API_VERSION;
}

function azureUrl(options: ModelOptions, routeType: keyof typeof PATHS): string {
  const base = options.upstream_url
    ? upstreamBase(options.upstream_url)
    : resolveUrl(
        options,
        `https://${dnsLabel(options.azure_instance, 'azure_instance')}.openai.azure.com:443/openai/deployments/${pathSegment(options.azure_deployment_id, 'azure_deployment_id')}`,
        PATHS[routeType],
      );
  return withQuery(base, 'api-version', apiVersion(options));
}

export const azureDriver = defineDriver({
  name: 'azure',
  endpoint: (ctx) => ({ url: azureUrl(ctx.options, ctx.routeType), headers: {} }),
  formatFor: (ctx) => (apiVersion(ctx.options).slice(0, 10) >= FIRST_VERSION_WITH_STREAM_USAGE ? withStreamUsage : withoutStreamUsage),
  embeddings: openAIEmbeddings({
    provider: 'azure',
    endpoint: (ctx) => ({ url: azureUrl(ctx.options, 'llm/v1/embeddings'), headers: {} }),
    base64: true,
    dimensions: true,
    tokenArrays: true,
    user: true,
  }),
});
