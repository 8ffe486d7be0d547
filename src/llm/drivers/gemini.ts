/**
 * Gemini (Kong 3.8), on Google AI Studio or Vertex AI:
 * - AI Studio (default): `https://generativelanguage.googleapis.com:443/v1beta/models/{model}:generateContent`,
 *   streams `:streamGenerateContent?alt=sse`; auth by key, as configured: `x-goog-api-key` header or
 *   the `key` query parameter.
 * - Vertex AI (`model.options.gemini.{api_endpoint, project_id, location_id}` all set):
 *   `https://{api_endpoint}/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:{operation}`,
 *   with a Bearer token: a configured `Authorization: Bearer <token>` header, or one minted from a
 *   service account (`auth.gcp_use_service_account`, the key in `auth.gcp_service_account_json` or
 *   the `GCP_SERVICE_ACCOUNT` environment variable).
 * - `upstream_url`: its path as configured; a path ending in `:generateContent` or
 *   `:streamGenerateContent` gets the operation that matches the request.
 * Every interpolated component is validated or encoded (T72): the API endpoint must be a hostname,
 * project and location one path segment each, the model one encoded segment.
 */
import { SigningError, type DriverContext, type EmbeddingsContext, type ModelOptions } from '../types.ts';
import { buildGeminiEmbeddings, geminiFormat, parseGeminiEmbeddings, type GeminiEmbeddingsApi } from '../formats/gemini.ts';
import { hostname, modelSegment, pathSegment, safePath, upstreamBase } from '../url.ts';
import { gcpAccessToken } from '../auth/gcp.ts';
import { defineDriver } from './define.ts';

export const GEMINI_ORIGIN = 'https://generativelanguage.googleapis.com:443';

const OPERATION = /:(?:generateContent|streamGenerateContent)$/;

function isVertex(options: ModelOptions): boolean {
  const g = options.gemini;
  return Boolean(g?.api_endpoint && g.project_id && g.location_id);
}

/** `models/gemini-2.5-flash` and `gemini-2.5-flash` name the same model. */
function model(name: string): string {
  return modelSegment(name.replace(/^models\//, ''), 'gemini');
}

/** The model's base URL, before `:{operation}`. */
function modelBase(options: ModelOptions, name: string): string {
  if (isVertex(options)) {
    const g = options.gemini!;
    return `https://${hostname(g.api_endpoint, 'gemini.api_endpoint')}:443/v1/projects/${pathSegment(g.project_id, 'gemini.project_id')}/locations/${pathSegment(g.location_id, 'gemini.location_id')}/publishers/google/models/${model(name)}`;
  }
  return `${GEMINI_ORIGIN}/v1beta/models/${model(name)}`;
}

/** The origin of the default base, for `upstream_path`. */
function origin(base: string): string {
  return new URL(base).origin.replace(/^https:\/\/([^/:]+)$/, 'https://$1:443');
}

function chatUrl(ctx: DriverContext): string {
  const operation = ctx.stream ? 'streamGenerateContent' : 'generateContent';
  let url: string;
  if (ctx.options.upstream_url) {
    url = upstreamBase(ctx.options.upstream_url);
    if (OPERATION.test(url)) url = url.replace(OPERATION, `:${operation}`);
  } else {
    const base = modelBase(ctx.options, ctx.model);
    url = ctx.options.upstream_path ? `${origin(base)}${safePath(ctx.options.upstream_path)}` : `${base}:${operation}`;
    if (ctx.options.upstream_path && OPERATION.test(url)) url = url.replace(OPERATION, `:${operation}`);
  }
  // Server-sent events instead of the default JSON array (alt=sse, what Google's SDKs ask for).
  return ctx.stream ? `${url}?alt=sse` : url;
}

function embeddingsApi(ctx: EmbeddingsContext): GeminiEmbeddingsApi {
  if (ctx.options.upstream_url) return upstreamBase(ctx.options.upstream_url).endsWith(':predict') ? 'predict' : 'batchEmbedContents';
  return isVertex(ctx.options) ? 'predict' : 'batchEmbedContents';
}

export const geminiDriver = defineDriver({
  name: 'gemini',
  endpoint: (ctx) => ({ url: chatUrl(ctx), headers: {} }),
  formatFor: () => geminiFormat,
  async signRequest(_request, _ctx, auth): Promise<Record<string, string>> {
    if (!auth?.gcp_use_service_account) return {};
    const json = auth.gcp_service_account_json || process.env.GCP_SERVICE_ACCOUNT;
    if (!json) throw new SigningError('auth.gcp_use_service_account is set, but neither auth.gcp_service_account_json nor GCP_SERVICE_ACCOUNT holds a service account key');
    return { authorization: `Bearer ${await gcpAccessToken(json)}` };
  },
  embeddings: {
    endpoint: (ctx) => {
      if (ctx.options.upstream_url) return { url: upstreamBase(ctx.options.upstream_url), headers: {} };
      const base = modelBase(ctx.options, ctx.model);
      if (ctx.options.upstream_path) return { url: `${origin(base)}${safePath(ctx.options.upstream_path)}`, headers: {} };
      return { url: `${base}:${embeddingsApi(ctx)}`, headers: {} };
    },
    buildRequest: (req, ctx) => buildGeminiEmbeddings(req, ctx, embeddingsApi(ctx)),
    parseResponse: (body, req, ctx) => parseGeminiEmbeddings(body, req, ctx, embeddingsApi(ctx)),
  },
});
