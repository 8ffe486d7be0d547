/**
 * OpenAI: `https://api.openai.com:443/v1/chat/completions` | `/v1/completions`, auth as configured
 * (the guide: `Authorization: Bearer <key>`).
 *
 * A Responses client (`inbound: openai-responses`) is answered by OpenAI's own Responses API,
 * `/v1/responses`, in the native format (formats/openai-responses.ts). With `upstream_url` or
 * `upstream_path` (which replace the path, as in Kong) the Responses path is the configured one
 * with its trailing `/chat/completions` replaced by `/responses`; a configured path that does not
 * end in `/chat/completions` is not known to have a Responses sibling, so the request goes there
 * as a chat request (translated, and the answer rendered as a Response): `nativeResponses` says
 * which, and `endpoint` and `formatFor` both follow it.
 */
import type { DriverContext, LlmRouteType } from '../types.ts';
import { openAICompatibleFormat } from '../formats/openai-compatible.ts';
import { openAIResponsesFormat, respondsNatively, responsesPathFor } from '../formats/openai-responses.ts';
import { resolveUrl, safePath, upstreamBase } from '../url.ts';
import { openAIEmbeddings } from '../embeddings.ts';
import { defineDriver } from './define.ts';

export const OPENAI_ORIGIN = 'https://api.openai.com:443';

export const OPENAI_PATHS: Readonly<Record<LlmRouteType, string>> = {
  'llm/v1/chat': '/v1/chat/completions',
  'llm/v1/completions': '/v1/completions',
};

export const OPENAI_RESPONSES_PATH = '/v1/responses';

const format = openAICompatibleFormat({ provider: 'openai', requestStreamUsage: true, openAIModelRules: true });
const responsesFormat = openAIResponsesFormat({ provider: 'openai' });

/** The Responses URL for this call, or null when the native Responses path does not apply (a chat client, or a configured path without a Responses sibling). */
function responsesUrl(ctx: DriverContext): string | null {
  if (!nativeResponses(ctx)) return null;
  const { upstream_url: upstreamUrl, upstream_path: upstreamPath } = ctx.options;
  if (upstreamUrl) {
    const url = new URL(upstreamBase(upstreamUrl));
    return `${url.origin}${responsesPathFor(url.pathname)}`;
  }
  if (upstreamPath) {
    return `${OPENAI_ORIGIN}${responsesPathFor(safePath(upstreamPath))}`;
  }
  return `${OPENAI_ORIGIN}${OPENAI_RESPONSES_PATH}`;
}

/** Whether this call goes to OpenAI's Responses API in the native format (formats/openai-responses.ts `respondsNatively`). */
export function nativeResponses(ctx: DriverContext): boolean {
  return ctx.inbound === 'openai-responses' && ctx.routeType === 'llm/v1/chat' && respondsNatively(ctx.provider, ctx.options);
}

export const openaiDriver = defineDriver({
  name: 'openai',
  endpoint: (ctx) => ({ url: responsesUrl(ctx) ?? resolveUrl(ctx.options, OPENAI_ORIGIN, OPENAI_PATHS[ctx.routeType]), headers: {} }),
  formatFor: (ctx) => (nativeResponses(ctx) ? responsesFormat : format),
  embeddings: openAIEmbeddings({
    provider: 'openai',
    endpoint: (ctx) => ({ url: resolveUrl(ctx.options, OPENAI_ORIGIN, '/v1/embeddings'), headers: {} }),
    base64: true,
    dimensions: true,
    tokenArrays: true,
    user: true,
  }),
});
