/**
 * Azure OpenAI: `https://{azure_instance}.openai.azure.com:443/openai/deployments/{azure_deployment_id}`
 * + `/chat/completions` | `/completions`, always with `?api-version=` (also after `upstream_url`,
 * as in Kong). The instance and deployment are validated, never merely interpolated: a value like
 * `x.evil.com#` must not be able to send the `api-key` to another host (T72).
 *
 * A Responses client (`inbound: openai-responses`) is answered by Azure's own Responses API in the
 * native format (formats/openai-responses.ts), with the deployment as the body's `model` (Azure's
 * Responses API has no deployment in its URL). Azure has two Responses URLs
 * (https://learn.microsoft.com/azure/ai-foundry/openai/how-to/responses,
 * https://learn.microsoft.com/azure/ai-foundry/openai/api-version-lifecycle):
 * - the v1 API, `https://{azure_instance}.openai.azure.com/openai/v1/responses`, which needs no
 *   `api-version` (`preview` / `latest` are the only values it takes, and are sent when configured);
 * - the dated preview API, `/openai/responses?api-version=2025-03-01-preview` and later.
 * A user who pins a dated `azure_api_version` from 2025-03-01 on expects that version, so it gets
 * the dated URL; any other value (the schema's default `2023-05-15`, a chat-era version that has
 * no Responses API, `preview`, `latest`, `v1`) gets the v1 API. With `upstream_url` /
 * `upstream_path`, a deployment's chat path (`…/openai/deployments/{d}/chat/completions`, the usual
 * configuration) becomes the resource's Responses path by the same version rule, with `{d}` as the
 * model; any other path ending in `/chat/completions` gets `/responses` instead (a path that does not
 * end so is not a Responses endpoint: the request goes there as a chat request, translated);
 * `api-version` follows the same rule (none under `/openai/v1/`).
 * `nativeAzureResponses` says which; `endpoint` and `formatFor` both follow it.
 */
import type { DriverContext, ModelOptions } from '../types.ts';
import { openAICompatibleFormat } from '../formats/openai-compatible.ts';
import { openAIResponsesFormat, respondsNatively, responsesPathFor } from '../formats/openai-responses.ts';
import { dnsLabel, pathSegment, resolveUrl, safePath, upstreamBase, withQuery } from '../url.ts';
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
const responsesFormat = openAIResponsesFormat({ provider: 'azure', modelOf: (ctx) => configuredDeployment(ctx.options) ?? ctx.model });

/** The first dated API version with the Responses API (`2025-03-01-preview`). */
const FIRST_VERSION_WITH_RESPONSES = '2025-03-01';
/** The only `api-version` values the v1 API takes. */
const V1_VERSIONS: ReadonlySet<string> = new Set(['preview', 'latest']);

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

/** `path` with the `api-version` the Responses API at that path takes. */
function withResponsesVersion(url: string, path: string, version: string): string {
  if (path.includes('/openai/v1/')) return V1_VERSIONS.has(version) ? withQuery(url, 'api-version', version) : url;
  return withQuery(url, 'api-version', version);
}

/** Dated API versions from this one on name the dated Responses URL; anything else the v1 API's. */
function datedResponsesPath(version: string): string {
  return /^\d{4}-\d{2}-\d{2}/.test(version) && version.slice(0, 10) >= FIRST_VERSION_WITH_RESPONSES ? '/openai/responses' : '/openai/v1/responses';
}

/** A deployment's chat path (`…/openai/deployments/{d}/chat/completions`): Azure's Responses API is not under the deployment. */
const DEPLOYMENT_CHAT = /^(.*)\/openai\/deployments\/([^/]+)\/chat\/completions\/?$/;

/**
 * The Responses path for a configured chat path: a deployment's chat path becomes the resource's
 * Responses path (the deployment goes in the body's `model`, responsesModel); any other path
 * ending in `/chat/completions` (an API Management front, a proxy) gets `/responses` instead.
 */
function responsesPathOf(chatPath: string, version: string): string {
  const deployment = DEPLOYMENT_CHAT.exec(chatPath);
  if (deployment) return `${deployment[1]}${datedResponsesPath(version)}`;
  return responsesPathFor(chatPath) as string; // respondsNatively: it ends in /chat/completions
}

/** The deployment a configured chat URL names, when `azure_deployment_id` does not. */
function configuredDeployment(options: ModelOptions): string | null {
  if (options.azure_deployment_id) return options.azure_deployment_id;
  if (!options.upstream_url) return null;
  const m = DEPLOYMENT_CHAT.exec(new URL(upstreamBase(options.upstream_url)).pathname);
  return m ? decodeURIComponent(m[2]) : null;
}

/** The Responses URL for this call, or null when the native Responses path does not apply. */
function azureResponsesUrl(ctx: DriverContext): string | null {
  if (!nativeAzureResponses(ctx)) return null;
  const options = ctx.options;
  const version = apiVersion(options);
  let origin: string;
  let path: string;
  if (options.upstream_url) {
    const url = new URL(upstreamBase(options.upstream_url));
    origin = url.origin;
    path = responsesPathOf(url.pathname, version);
  } else {
    origin = `https://${dnsLabel(options.azure_instance, 'azure_instance')}.openai.azure.com:443`;
    // upstream_path follows the deployment's base, as for chat (resolveUrl)
    path = options.upstream_path
      ? responsesPathOf(`/openai/deployments/${pathSegment(options.azure_deployment_id, 'azure_deployment_id')}${safePath(options.upstream_path)}`, version)
      : datedResponsesPath(version);
  }
  return withResponsesVersion(`${origin}${path}`, path, version);
}

/** Whether this call goes to Azure's Responses API in the native format (formats/openai-responses.ts `respondsNatively`). */
export function nativeAzureResponses(ctx: DriverContext): boolean {
  return ctx.inbound === 'openai-responses' && ctx.routeType === 'llm/v1/chat' && respondsNatively(ctx.provider, ctx.options);
}

export const azureDriver = defineDriver({
  name: 'azure',
  endpoint: (ctx) => ({ url: azureResponsesUrl(ctx) ?? azureUrl(ctx.options, ctx.routeType), headers: {} }),
  formatFor: (ctx) => {
    if (nativeAzureResponses(ctx)) return responsesFormat;
    return apiVersion(ctx.options).slice(0, 10) >= FIRST_VERSION_WITH_STREAM_USAGE ? withStreamUsage : withoutStreamUsage;
  },
  embeddings: openAIEmbeddings({
    provider: 'azure',
    endpoint: (ctx) => ({ url: azureUrl(ctx.options, 'llm/v1/embeddings'), headers: {} }),
    base64: true,
    dimensions: true,
    tokenArrays: true,
    user: true,
  }),
});
