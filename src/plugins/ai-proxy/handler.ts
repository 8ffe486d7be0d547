/**
 * `ai-proxy`: the gateway speaks OpenAI to the client and the provider's own API upstream.
 *
 * access: claims the exchange (ctx.handler), so later plugins still run their access phase.
 * exchange: read and check the client body → resolve model and streaming → driver builds the
 * provider body → send with the configured key (and the driver's signature) → translate the
 * answer (JSON, stream or embeddings) → record usage and cost. Provider errors keep their status; an answer that cannot be translated is 502.
 * `GET …/models[/{id}]` answers the route's model in OpenAI's shape (models.ts). Every error on
 * the route, whoever answers it, is in OpenAI's envelope (`errorBody`, openai-error.ts).
 */
import type { PluginHandler } from '../types.ts';
import type { RequestContext } from '../../proxy/context.ts';
import type { AiProxyConfig } from './schema.ts';
import { compileAiProxy, type CompiledAiProxy } from './compile.ts';
import { serviceLimits } from './upstream-request.ts';
import { relayPreserved } from './relay-json.ts';
import { readClientJson } from './client-request.ts';
import { endSent, planFor, relay, resolveModel, restoreProviderState, sendCall, sendPlanned, stateScope } from './exchange.ts';
import { errorFormatOf, routeOperation, routeRequestOperation } from './operations.ts';
import { clientApi } from '../../exchange/apis/index.ts';
import type { InboundFormat } from '../../exchange/types.ts';
import { countTokens } from './count-tokens.ts';
import { answerResponsesResource, checkWithConversation } from './responses-state.ts';
import type { DriverContext } from '../../llm/types.ts';
import { ExchangeContext } from '../../exchange/context.ts';
import { answerModels, modelsRequest, pluginCreatedAt, type ModelEntry } from './models.ts';
import { answerFromCache, cacheMayAnswer } from '../ai-semantic-cache/exchange-hook.ts';

export type { Exchange } from './exchange.ts';

export const handler: PluginHandler<AiProxyConfig, CompiledAiProxy> = {
  compile: (config, ctx) => compileAiProxy(config, ctx),
  access(ctx, conf) {
    ctx.handler = (c) => exchange(c, conf);
  },
  credentialNames: (conf) => conf.credentialNames,
  // every error on the route, whoever answers it, in the client API's error shape
  errorBody: (ctx, conf, status, body) => clientApi(errorFormat(ctx, conf)).errorBody(status, body, ctx.error?.code ?? null),
};

/** The client API whose error shape the request's errors take: the one it was found to speak, else the route's. */
function errorFormat(ctx: RequestContext, conf: CompiledAiProxy): InboundFormat {
  const known = ctx.shared.clientFormat as InboundFormat | undefined;
  if (known) return known;
  return conf.routeType === 'preserve' ? 'openai-chat' : errorFormatOf(routeOperation(conf.routeType, conf.config.llm_format));
}

async function exchange(ctx: RequestContext, conf: CompiledAiProxy): Promise<void> {
  // `preserve` speaks the provider's own API: its GETs are the provider's to answer
  if (conf.routeType === 'preserve') {
    const { raw } = await readClientJson(ctx, conf.config.max_request_body_size);
    return exchangePreserved(ctx, conf, raw);
  }
  const route = routeOperation(conf.routeType, conf.config.llm_format);
  const models = modelsRequest(ctx);
  if (models) {
    const [entries, any] = modelEntries(ctx, conf);
    const anthropic = route.kind === 'llm' && route.inbound === 'anthropic-messages';
    if (anthropic) ctx.shared.clientFormat = 'anthropic-messages';
    return answerModels(ctx, models, entries, any, anthropic ? 'anthropic' : 'openai');
  }
  if (route.kind === 'llm' && route.inbound === 'openai-responses' && (await answerResponsesResource(ctx, conf.responses, stateScope(ctx)))) return;
  const op = routeRequestOperation(ctx, route);
  ctx.shared.clientFormat = errorFormatOf(op);
  const { value, raw, source } = await readClientJson(ctx, conf.config.max_request_body_size);
  const target = { conf, model: conf.config.model.name };
  if (op.kind === 'count_tokens') return countTokens(ctx, target, value, serviceLimits(ctx.compiledService));
  // the steps below return a promise only when they have something to wait for: a plain request
  // goes through them without a microtask each
  let checked = checkWithConversation(ctx, conf.responses, () => [conf], op, value, source, conf.config.response_streaming);
  if (checked instanceof Promise) checked = await checked;
  const model = resolveModel(conf.config.model.name, checked.request);
  // ai-semantic-cache: a cached answer is served here, before any provider is planned
  if (cacheMayAnswer(ctx) && (await answerFromCache(ctx, checked, `${conf.config.model.provider}/${model}`))) return;
  const restoring = restoreProviderState(ctx, checked, conf.config.model.provider);
  if (restoring) await restoring;
  const plan = planFor(conf, checked, model);
  const sent = await sendPlanned(ctx, plan, serviceLimits(ctx.compiledService));
  ctx.attempts = sent.attempts;
  await relay(ctx, plan, checked, raw, sent);
}

/** `route_type: preserve`: the body goes as it came; only the destination and the key are the gateway's. */
async function exchangePreserved(ctx: RequestContext, conf: CompiledAiProxy, raw: string): Promise<void> {
  const driverCtx: DriverContext = new ExchangeContext({
    provider: conf.config.model.provider,
    routeType: 'llm/v1/chat',
    model: conf.config.model.name ?? '',
    options: conf.options,
    stream: false,
    includeUsage: false,
    id: '',
  });
  const { url, headers } = conf.driver.endpoint(driverCtx);
  const target = new URL(url);
  if (!conf.options.upstream_url || conf.options.upstream_path) {
    // the provider's origin, with the configured path or the client's path below the route
    const rest = ctx.route.stripPath && ctx.match.matched ? ctx.path.slice(ctx.match.matched.length) : ctx.path;
    target.pathname = conf.options.upstream_path ?? (rest.startsWith('/') ? rest : `/${rest}`);
  }
  // streamed through as it comes: a preserved request may well be a stream
  const sent = await sendCall(ctx, conf, target.toString(), headers, raw, null, serviceLimits(ctx.compiledService), false, driverCtx);
  ctx.attempts = sent.attempts;
  try {
    await relayPreserved(ctx, conf, sent.response, sent.sentAt, raw);
  } finally {
    endSent(ctx, sent);
  }
}

/**
 * The route's model for the models endpoints. Without a configured `model.name` the client's model
 * is used, so the route lists none (it cannot know the provider's) and describes any id it is asked.
 */
function modelEntries(ctx: RequestContext, conf: CompiledAiProxy): [ModelEntry[], ((id: string) => ModelEntry)?] {
  const owned_by = conf.config.model.provider;
  const created = pluginCreatedAt(ctx, conf);
  const name = conf.config.model.name;
  if (name) return [[{ id: name, object: 'model', created, owned_by }]];
  return [[], (id) => ({ id, object: 'model', created, owned_by })];
}
