/**
 * Azure OpenAI: `POST /openai/deployments/{deployment}/{chat/completions|completions|embeddings}?api-version=...`.
 *
 * Sources:
 * - REST reference (learn.microsoft.com/azure/ai-services/openai/reference): `api-key` header,
 *   `api-version` query parameter required, the body of OpenAI's endpoints without `model`
 *   (the deployment names the model), `prompt_filter_results` / `content_filter_results`.
 * - Error bodies as the service returns them (quoted in public reports):
 *   401 {"error":{"code":"401","message":"Access denied due to invalid subscription key or wrong API endpoint. ..."}}
 *   (microsoft/semantic-kernel#10337); no `api-version` → 404 {"error":{"code":"404","message":"Resource not found"}}
 *   (MicrosoftDocs/azure-docs#114602); unknown version → 400 {"error":{"code":"BadRequest","message":"API version not supported"}}
 *   (openai/codex#3725); unknown deployment → 404 {"error":{"code":"DeploymentNotFound","message":"The API deployment
 *   for this resource does not exist. ..."}} (chatboxai/chatbox#861); unknown body field → OpenAI's
 *   "Unrecognized request argument supplied: X. Please contact us through an Azure support request ..."
 *   (Pythagora-io/gpt-pilot#1022).
 * - Streaming: like OpenAI, but the first chunk is `{"choices":[],"created":0,"id":"","model":"","object":"",
 *   "prompt_filter_results":[...]}` (Azure's content filter annotations).
 */
import { responsesReply } from './openai-responses.ts';
import type { HandlerCtx, JsonReply, ProviderImpl, Reply } from './server.ts';
import { sse } from './server.ts';
import { isObject, splitChunks } from './text.ts';
import type { ModelKind } from './openai.ts';
import { chatCompletion, embeddingsResponse, makeAnswer, openaiError, streamChunks, streamReply, textCompletion, validateBody } from './openai.ts';

export interface AzureOptions {
  key?: string | null;
  /** deployment name → model name (default: `gpt-4o-mini`, `gpt-35-turbo-instruct`, `text-embedding-3-small`, each named after its model). */
  deployments?: Record<string, string>;
  /** Accepted `api-version` values. */
  apiVersions?: string[];
}

export const AZURE_API_VERSIONS = [
  '2022-12-01', '2023-05-15', '2024-02-01', '2024-06-01', '2024-10-21',
  '2023-03-15-preview', '2023-12-01-preview', '2024-02-15-preview', '2024-03-01-preview', '2024-05-01-preview',
  '2024-07-01-preview', '2024-08-01-preview', '2024-09-01-preview', '2024-10-01-preview', '2024-12-01-preview',
  '2025-01-01-preview', '2025-02-01-preview', '2025-03-01-preview', '2025-04-01-preview',
];

const DEFAULT_DEPLOYMENTS: Record<string, string> = {
  'gpt-4o-mini': 'gpt-4o-mini',
  'gpt-35-turbo-instruct': 'gpt-35-turbo-instruct',
  'text-embedding-3-small': 'text-embedding-3-small',
};

/** Operation names Azure uses in its OperationNotSupported message. */
const OPERATIONS: Record<ModelKind, string> = { chat: 'chatCompletion', completion: 'completion', embedding: 'embeddings' };

/** Which operation a model supports, from its name. */
function azureKind(model: string): ModelKind {
  if (/embedding/.test(model)) return 'embedding';
  if (/instruct|davinci|babbage/.test(model)) return 'completion';
  return 'chat';
}

const ROUTE = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|completions|embeddings)$/;
const KINDS: Record<string, ModelKind> = { 'chat/completions': 'chat', completions: 'completion', embeddings: 'embedding' };

function azureError(status: number, code: string, message: string): JsonReply {
  return { kind: 'json', status, body: { error: { code, message } } };
}

const NOT_FOUND = (): JsonReply => azureError(404, '404', 'Resource not found');

/** Azure's content filter verdict (all categories safe). */
const FILTER = { hate: { filtered: false, severity: 'safe' }, self_harm: { filtered: false, severity: 'safe' }, sexual: { filtered: false, severity: 'safe' }, violence: { filtered: false, severity: 'safe' } };

/**
 * Azure's Responses API (https://learn.microsoft.com/azure/ai-foundry/openai/how-to/responses): the
 * v1 API at `/openai/v1/responses` (no `api-version`, or `preview` / `latest`) and the dated one at
 * `/openai/responses?api-version=2025-03-01-preview` and later; the deployment is the body's
 * `model`. Answers are OpenAI's Responses answers (openai-responses.ts).
 */
function responsesRoute(ctx: HandlerCtx, opts: AzureOptions): Reply | null {
  const v1 = ctx.path === '/openai/v1/responses';
  if (!v1 && ctx.path !== '/openai/responses') return null;
  if (ctx.req.method !== 'POST') return NOT_FOUND();
  const version = ctx.req.query['api-version'];
  if (v1 ? version !== undefined && version !== 'preview' && version !== 'latest' : !version || !/^\d{4}-\d{2}-\d{2}/.test(version) || version.slice(0, 10) < '2025-03-01') {
    return azureError(400, 'BadRequest', 'API version not supported');
  }
  if (opts.key && ctx.req.headers['api-key'] !== opts.key) return azureError(401, '401', 'Access denied due to invalid subscription key or wrong API endpoint.');
  const deployments = opts.deployments ?? DEFAULT_DEPLOYMENTS;
  const model = isObject(ctx.req.json) ? ctx.req.json.model : undefined;
  if (typeof model !== 'string' || !deployments[model]) {
    return azureError(404, 'DeploymentNotFound', 'The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.');
  }
  return responsesReply(ctx, '*', { 'apim-request-id': ctx.ids.uuid(), 'x-ms-region': 'Mock Region' });
}

export function azureProvider(opts: AzureOptions & Record<string, unknown>): ProviderImpl {
  return {
    handle(ctx: HandlerCtx): Reply {
      const responses = responsesRoute(ctx, opts);
      if (responses) return responses;
      const m = ROUTE.exec(ctx.path);
      if (!m || ctx.req.method !== 'POST') return NOT_FOUND();
      const version = ctx.req.query['api-version'];
      if (!version) return NOT_FOUND();
      if (!(opts.apiVersions ?? AZURE_API_VERSIONS).includes(version)) return azureError(400, 'BadRequest', 'API version not supported');

      if (opts.key && ctx.req.headers['api-key'] !== opts.key) {
        return azureError(401, '401', 'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.');
      }
      const deployment = decodeURIComponent(m[1]!);
      const model = (opts.deployments ?? DEFAULT_DEPLOYMENTS)[deployment];
      if (!model) {
        return azureError(404, 'DeploymentNotFound', 'The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.');
      }
      const kind = KINDS[m[2]!]!;
      if (azureKind(model) !== kind) {
        return azureError(400, 'OperationNotSupported', `The ${OPERATIONS[kind]} operation does not work with the specified model, ${model}. Please choose different model and try again. You can learn more about which models can be used with each operation here: https://go.microsoft.com/fwlink/?linkid=2197993.`);
      }

      const err = validateBody(ctx.req.json, {
        kind,
        strictParams: true,
        requireModel: false,
        unknownSuffix: '. Please contact us through an Azure support request at: https://go.microsoft.com/fwlink/?linkid=2213926 for further questions.',
      });
      if (err) return openaiError(400, err);
      const body = ctx.req.json as Record<string, unknown>;
      const headers = { 'apim-request-id': ctx.ids.uuid(), 'x-ms-region': 'Mock Region' };
      if (kind === 'embedding') return { kind: 'json', status: 200, headers, body: embeddingsResponse(body, model) };

      const answer = makeAnswer(ctx, kind, body, model, kind === 'chat' ? 'chatcmpl-mock' : 'cmpl-mock');
      const promptFilter = [{ prompt_index: 0, content_filter_results: FILTER }];
      if (ctx.forceStream || body.stream === true) {
        const includeUsage = isObject(body.stream_options) && body.stream_options.include_usage === true;
        const chunks = streamChunks(answer, kind, splitChunks(answer.text, ctx.chunks), includeUsage).map((c) => ({
          ...c,
          choices: (c.choices as Record<string, unknown>[]).map((choice) => ({ ...choice, content_filter_results: choice.finish_reason ? {} : FILTER })),
        }));
        const first = { choices: [], created: 0, id: '', model: '', object: '', prompt_filter_results: promptFilter };
        const reply = streamReply(chunks, answer, kind, headers);
        return { ...reply, frames: [sse(first), ...reply.frames] };
      }
      const response = kind === 'chat' ? chatCompletion(answer) : textCompletion(answer);
      response.choices = (response.choices as Record<string, unknown>[]).map((c) => ({ ...c, content_filter_results: FILTER }));
      response.prompt_filter_results = promptFilter;
      delete response.service_tier;
      return { kind: 'json', status: 200, headers, body: response };
    },
    errorReply(status, kind) {
      if (kind === 'rate-limit') {
        return azureError(429, '429', 'Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-02-01 have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after 1 second. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit.');
      }
      return openaiError(status, { message: 'The server had an error while processing your request. Sorry about that!', type: 'server_error' });
    },
  };
}
