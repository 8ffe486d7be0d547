/**
 * `ai-proxy-advanced`: one route, many targets. For each request: find the operation (from an
 * OpenAI path like `/v1/chat/completions`, else from the body's shape), the targets that serve it
 * (and, when the request names a `model`, only the targets known by that name — the unified
 * OpenAI endpoint), then try them in the balancer's order. A provider answer that matches the
 * failover criteria (429, 5xx, a connection error, a timeout) moves on to the next target before
 * anything reached the client; once a stream's first byte is out, there is no going back.
 * `GET .../models` lists the models the route serves, in OpenAI's shape, `GET .../models/{id}`
 * describes one. Errors are in OpenAI's envelope, as on an ai-proxy route.
 */
import type { SpendAttempt } from '../../spend/types.ts';
import { createHash } from 'node:crypto';
import type { PluginHandler, CompileContext, CredentialNames } from '../types.ts';
import type { RequestContext } from '../../proxy/context.ts';
import { compileAiProxy, type CompiledAiProxy } from '../ai-proxy/compile.ts';
import { abandonSent, planFor, relay, restoreProviderState, sendPlanned, stateScope, type SentCall } from '../ai-proxy/exchange.ts';
import { isObject } from '../../llm/json.ts';
import { bareOperation, errorFormatOf, servesOperation, unifiedOperation, type Operation } from '../ai-proxy/operations.ts';
import { clientApi } from '../../exchange/apis/index.ts';
import type { InboundFormat } from '../../exchange/types.ts';
import { countTokens } from '../ai-proxy/count-tokens.ts';
import { answerFromCache, cacheMayAnswer } from '../ai-semantic-cache/exchange-hook.ts';
import { answerResponsesResource, checkWithConversation, type ResponsesStoreRef } from '../ai-proxy/responses-state.ts';
import { readClientJson } from '../ai-proxy/client-request.ts';
import { aiError, describeUpstreamFailure, modelNotFound, openAiError } from '../ai-proxy/openai-error.ts';
import { answerModels, modelsRequest, pluginCreatedAt, type ModelEntry } from '../ai-proxy/models.ts';
import type { UpstreamLimits } from '../ai-proxy/upstream-request.ts';
import { UpstreamError, ClientError } from '../../proxy/errors.ts';
import { discard } from '../../proxy/upstream.ts';
import { setResponseHeaders } from '../shared/response-headers.ts';
import { balancerFor, type Balancer, type TargetState } from './balancer.ts';
import type { AiProxyAdvancedConfig, TargetConfig } from './schema.ts';
import type { AiExchange } from '../ai-proxy/analytics.ts';
import { ATTEMPTS_KEY } from '../../spend/row.ts';

interface CompiledTarget {
  index: number;
  conf: CompiledAiProxy;
  routeType: TargetConfig['route_type'];
  /** The provider's model name, sent upstream. */
  model: string;
  /** The name clients use for it (`alias`, else the model name). */
  publicName: string;
  provider: string;
}

interface CompiledAdvanced {
  config: AiProxyAdvancedConfig;
  targets: CompiledTarget[];
  balancer: Balancer;
  limits: UpstreamLimits;
  failStatuses: ReadonlySet<number>;
  failOnError: boolean;
  failOnTimeout: boolean;
  /** Where Responses API answers are kept (null: the route keeps none). */
  responses: ResponsesStoreRef;
  /** Every target's auth names, for the log serializer. */
  credentialNames: CredentialNames;
}

function compileTarget(t: TargetConfig, index: number, config: AiProxyAdvancedConfig, ctx: CompileContext): CompiledTarget {
  const conf = compileAiProxy(
    {
      route_type: t.route_type,
      llm_format: config.llm_format,
      responses: config.responses,
      auth: t.auth,
      model: t.model,
      logging: t.logging,
      response_streaming: config.response_streaming,
      max_request_body_size: config.max_request_body_size,
      model_name_header: config.model_name_header,
    },
    ctx,
  );
  const model = t.model.name ?? '';
  return { index, conf, routeType: t.route_type, model, publicName: t.alias ?? model, provider: t.model.provider };
}

function compile(config: AiProxyAdvancedConfig, ctx: CompileContext): CompiledAdvanced {
  const b = config.balancer;
  // the balancer's memory (health, latency, usage) outlives snapshots that keep the same targets
  const key = createHash('sha256').update(JSON.stringify([config.targets, b])).digest('hex');
  const criteria = new Set<string>(b.failover_criteria);
  const targets = config.targets.map((t, i) => compileTarget(t, i, config, ctx));
  return {
    config,
    targets,
    balancer: balancerFor(key, config.targets.map((t) => t.weight), b),
    limits: { key: `balancer:${key}`, connectTimeout: b.connect_timeout, readTimeout: b.read_timeout, writeTimeout: b.write_timeout, retries: 0 },
    failStatuses: new Set([...criteria].filter((c) => c.startsWith('http_')).map((c) => Number(c.slice(5)))),
    failOnError: criteria.has('error') || criteria.has('invalid_header'),
    failOnTimeout: criteria.has('timeout'),
    responses: targets[0].conf.responses,
    credentialNames: {
      headers: [...new Set(targets.flatMap((t) => t.conf.credentialNames.headers))],
      query: [...new Set(targets.flatMap((t) => t.conf.credentialNames.query))],
    },
  };
}

export const handler: PluginHandler<AiProxyAdvancedConfig, CompiledAdvanced> = {
  compile,
  access(ctx, conf) {
    ctx.handler = (c) => balance(c, conf);
  },
  credentialNames: (conf) => conf.credentialNames,
  // every error on the route in the client API's error shape: the operation's, else the route's llm_format
  errorBody: (ctx, conf, status, body) =>
    clientApi((ctx.shared.clientFormat as InboundFormat | undefined) ?? (conf.config.llm_format === 'anthropic' ? 'anthropic-messages' : 'openai-chat')).errorBody(status, body, ctx.error?.code ?? null),
};

/** What consistent hashing keys on: the configured header, else the consumer, else the client address. */
function hashKeyOf(ctx: RequestContext, conf: CompiledAdvanced): string | null {
  if (conf.config.balancer.algorithm !== 'consistent-hashing') return null;
  const h = ctx.req.headers[conf.config.balancer.hash_on_header.toLowerCase()];
  if (typeof h === 'string' && h) return h;
  return ctx.consumer?.id ?? ctx.req.socket.remoteAddress ?? null;
}

/** One call to one target: what the spend row's `attempts` hold (never a key or a URL). */
type AttemptLog = SpendAttempt;

/** The model the body names, if any (every API calls it `model`). */
function askedModel(value: unknown): string | null {
  const model = (value as { model?: unknown }).model;
  return typeof model === 'string' && model !== '' ? model : null;
}

function operationName(op: Operation): string {
  return op.kind === 'llm' ? op.inbound : op.kind;
}

function failureKind(e: unknown): 'timeout' | 'error' {
  return e instanceof UpstreamError && e.status === 504 ? 'timeout' : 'error';
}

/** The models the route serves, by the names clients use (a target without a model name serves whatever the client names: none to list). */
function modelEntries(ctx: RequestContext, conf: CompiledAdvanced): ModelEntry[] {
  const created = pluginCreatedAt(ctx, conf);
  const seen = new Map<string, ModelEntry>();
  for (const t of conf.targets) if (t.publicName && !seen.has(t.publicName)) seen.set(t.publicName, { id: t.publicName, object: 'model', created, owned_by: t.provider });
  return [...seen.values()];
}

/**
 * No target answered and more than one was tried: the client learns each attempt's cause, with the
 * last failure's status and, at the top, its Kong message.
 */
function noHealthyTargets(ctx: RequestContext, last: UpstreamError, attempts: AttemptLog[]): ClientError {
  const causes = attempts.map((a) => `target ${a.target} (${a.provider}/${a.model}): ${a.status !== undefined ? `answered ${a.status}` : (describeUpstreamFailure(a.error)?.message ?? a.error)}`);
  const envelope = openAiError(last.status, `no target could serve this request: ${causes.join('; ')}`, { code: 'no_healthy_targets' });
  ctx.attempts = attempts.length;
  return new ClientError(last.status, { message: last.message, request_id: ctx.requestId, ...envelope });
}

async function balance(ctx: RequestContext, conf: CompiledAdvanced): Promise<void> {
  const models = modelsRequest(ctx);
  if (models) {
    // Anthropic's SDKs list models with `anthropic-version`: an Anthropic route, or a unified endpoint asked by one, gets Anthropic's shape
    const anthropic = conf.config.llm_format === 'anthropic' || ctx.req.headers['anthropic-version'] !== undefined;
    if (anthropic) ctx.shared.clientFormat = 'anthropic-messages';
    return answerModels(ctx, models, modelEntries(ctx, conf), undefined, anthropic ? 'anthropic' : 'openai');
  }
  if (await answerResponsesResource(ctx, conf.responses, stateScope(ctx))) return;
  const byPath = unifiedOperation(ctx);
  if (byPath) ctx.shared.clientFormat = errorFormatOf(byPath);
  const { value, raw, source } = await readClientJson(ctx, conf.config.max_request_body_size);
  const op = byPath ?? bareOperation(conf.config.llm_format, value, conf.targets[0].routeType);
  ctx.shared.clientFormat = errorFormatOf(op);
  const asked = askedModel(value);
  const eligible = conf.targets.filter((t) => servesOperation(t.routeType, op) && (asked === null || t.publicName === asked)).map((t) => t.index);
  if (!eligible.length) {
    if (asked !== null) throw modelNotFound(asked);
    throw aiError(400, `no target of this route serves ${operationName(op)}`, { code: 'unsupported_operation' });
  }
  if (op.kind === 'count_tokens') {
    const first = conf.targets[eligible[0]];
    // the client named the target by its alias: the target's own model is the one counted
    return countTokens(ctx, { conf: first.conf, model: first.model || null }, isObject(value) && first.model ? { ...value, model: first.model } : value, conf.limits);
  }
  const targets = () => eligible.map((i) => conf.targets[i].conf);
  let checked = checkWithConversation(ctx, conf.responses, targets, op, value, source, conf.config.response_streaming);
  if (checked instanceof Promise) checked = await checked;
  // ai-semantic-cache: any target's answer serves the route (or the target the client named)
  if (cacheMayAnswer(ctx) && (await answerFromCache(ctx, checked, asked ?? ''))) return;
  const restoring = restoreProviderState(ctx, checked, eligible.map((i) => conf.targets[i].provider));
  if (restoring) await restoring;

  const hashKey = hashKeyOf(ctx, conf);
  const maxAttempts = conf.config.balancer.retries + 1;
  const tried = new Set<number>();
  const attempts: AttemptLog[] = [];
  let lastError: UpstreamError | null = null;
  let blockedUntil = Infinity;
  for (let n = 0; n < maxAttempts; n++) {
    const picked = conf.balancer.pick(eligible, tried, hashKey);
    blockedUntil = Math.min(blockedUntil, picked.blockedUntil);
    const state = picked.target;
    if (!state) break;
    tried.add(state.index);
    const target = conf.targets[state.index];
    const canFailOver = () => n + 1 < maxAttempts && eligible.some((i) => !tried.has(i));
    const plan = planFor(target.conf, checked, target.model);
    const started = performance.now();
    let sent: SentCall;
    try {
      sent = await sendPlanned(ctx, plan, conf.limits);
    } catch (e) {
      if (ctx.clientSignal.aborted || !(e instanceof UpstreamError)) throw e;
      const kind = failureKind(e);
      conf.balancer.report(state, { ok: false });
      attempts.push({ target: state.index, provider: target.provider, model: target.model, error: e.code, latency_ms: Math.round(performance.now() - started) });
      lastError = e;
      if ((kind === 'timeout' ? conf.failOnTimeout : conf.failOnError) && canFailOver()) continue;
      recordBalancing(ctx, conf, state.index, attempts);
      throw attempts.length > 1 ? noHealthyTargets(ctx, e, attempts) : e;
    }
    const status = sent.response.statusCode;
    const failed = conf.failStatuses.has(status);
    attempts.push({ target: state.index, provider: target.provider, model: target.model, status, latency_ms: Math.round(performance.now() - started) });
    if (failed) {
      conf.balancer.report(state, { ok: false });
      if (canFailOver()) {
        discard(sent.response);
        abandonSent(ctx, sent);
        continue;
      }
    }
    ctx.attempts = attempts.length;
    setResponseHeaders(ctx, { 'x-modelgate-target': String(state.index), 'x-modelgate-attempts': String(attempts.length) });
    await relay(ctx, plan, checked, raw, sent);
    if (!failed) reportSuccess(conf, state, ctx);
    recordBalancing(ctx, conf, state.index, attempts);
    return;
  }
  recordBalancing(ctx, conf, null, attempts);
  if (lastError) throw attempts.length > 1 ? noHealthyTargets(ctx, lastError, attempts) : lastError;
  const retryAfter = Number.isFinite(blockedUntil) ? Math.max(1, Math.ceil((blockedUntil - Date.now()) / 1000)) : 1;
  setResponseHeaders(ctx, { 'retry-after': String(retryAfter) });
  throw aiError(503, 'every target for this request is unavailable (circuit open); try again later', { code: 'circuit_open' });
}

function reportSuccess(conf: CompiledAdvanced, state: TargetState, ctx: RequestContext): void {
  const x = ctx.shared.ai as (AiExchange & { cost: number | null }) | undefined;
  const usage = x?.usage;
  const byStrategy: Record<string, number | undefined> = {
    'total-tokens': usage?.total_tokens,
    'prompt-tokens': usage?.prompt_tokens,
    'completion-tokens': usage?.completion_tokens,
    cost: x?.cost ?? undefined,
  };
  conf.balancer.report(state, { ok: true, latencyMs: x?.llmLatencyMs, completionTokens: usage?.completion_tokens, usage: byStrategy[conf.config.balancer.tokens_count_strategy] });
}

/** Every attempt goes in the request's log entry, under `ai.proxy.balancer`, and in its spend row. */
function recordBalancing(ctx: RequestContext, conf: CompiledAdvanced, served: number | null, attempts: AttemptLog[]): void {
  const ai = (ctx.logFields.ai ??= {}) as Record<string, Record<string, unknown>>;
  ai.proxy = { ...(ai.proxy ?? {}), balancer: { algorithm: conf.config.balancer.algorithm, target: served, attempts } };
  ctx.shared[ATTEMPTS_KEY] = attempts; // the spend row's attempts (src/spend/row.ts)
}
