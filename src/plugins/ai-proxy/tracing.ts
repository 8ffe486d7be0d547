/**
 * The AI exchange's part of a request's trace (issue 21): one GenAI client span per provider call
 * (a balancer's failed-over attempts each have theirs), started just before the call with the
 * attributes known then, its context injected into the provider request (before a signature is
 * computed over the headers), ended with what the exchange recorded. Every function here is
 * reached only when `ctx.trace` is set: requests without the opentelemetry plugin never get here.
 */
import type { RequestContext } from '../../proxy/context.ts';
import type { HeaderMap } from '../../proxy/headers.ts';
import type { CompiledAiProxy } from './compile.ts';
import type { AiExchange } from './analytics.ts';
import type { CanonicalRequest } from '../../exchange/types.ts';
import type { ModelOptions } from '../../llm/types.ts';
import { UpstreamError } from '../../proxy/errors.ts';
import { STATUS_CODE, type Attributes } from '../../observability/otel/types.ts';
import { injectTrace, type OpenSpan } from '../../observability/otel/trace.ts';
import { answerFacts, answerFactsOf, quickAnswerFacts, endAttributes, errorType, inputMessages, operationName, outputMessages, providerName, serverAttributes, spanName, startAttributes, type StreamFacts } from '../../observability/otel/genai.ts';
import { recordAiExchange, recordGenAi } from '../../observability/otel/genai-metrics.ts';

/** What a call's planning context tells (a DriverContext for chat and completions, an EmbeddingsContext for embeddings). */
interface CallContext {
  provider: string;
  model: string;
  options: ModelOptions;
  routeType?: string;
  stream?: boolean;
  request?: CanonicalRequest;
}

/** A provider call's span, with what its metrics need when it ends. */
export interface TracedCall {
  span: OpenSpan;
  conf: CompiledAiProxy;
  operation: string;
  provider: string;
  model: string;
  started: number;
}

/** Starts the call's span and, unless the call's `model.options.trace_propagation` is false, writes its context into the provider request's headers. */
export function startCall(ctx: RequestContext, conf: CompiledAiProxy, call: CallContext, origin: string, stream: boolean, headers: HeaderMap): TracedCall {
  const trace = ctx.trace!;
  const routeType = call.routeType ?? 'llm/v1/chat';
  const operation = operationName(routeType);
  let span: OpenSpan;
  if (trace.records.request) {
    const attrs = startAttributes({ provider: call.provider, options: call.options, routeType, model: call.model, stream, origin, canonical: call.request });
    // content only where the route logs payloads: the conventions' opt-in attributes
    if (conf.config.logging.log_payloads && call.request) attrs['gen_ai.input.messages'] = inputMessages(call.request);
    span = trace.startClient(spanName(operation, call.model), attrs);
  } else {
    // a span that is not kept (an unsampled trace, or the request instrumentation off): its id is
    // propagated, and the metrics read its server attributes; nothing else is built for it
    const attrs: Attributes = {};
    if (trace.metrics !== null) serverAttributes(origin, attrs);
    span = trace.startClient(operation, attrs);
  }
  if (call.options.trace_propagation !== false) injectTrace(trace, span.spanId, headers as Record<string, string>);
  return { span, conf, operation, provider: providerName(call.provider, call.options), model: call.model, started: span.start };
}

/** Whether the request's answer is read for its GenAI client span (id, finish reasons): only when that span is kept. */
export function tracesAnswer(ctx: RequestContext): boolean {
  return ctx.trace !== null && ctx.trace.records.request;
}

function metricsCall(t: TracedCall, error: string | null) {
  const a = t.span.attributes;
  return { operation: t.operation, provider: t.provider, serverAddress: a['server.address'] as string | undefined, serverPort: a['server.port'] as number | undefined, errorType: error };
}

/** The call got no usable answer (a connection failure, a timeout, a status the balancer moves on from). */
export function failCall(ctx: RequestContext, t: TracedCall, failure: unknown, status: number | null = null): void {
  const code = failure instanceof UpstreamError ? failure.code : failure instanceof Error ? failure.name : null;
  const error = errorType(status, code);
  const now = performance.now();
  t.span.end(now, { 'error.type': error }, { code: STATUS_CODE.error });
  const metrics = ctx.trace?.metrics;
  if (metrics) recordGenAi(metrics, { ...metricsCall(t, error), requestModel: t.model }, { durationS: (now - t.started) / 1000 });
}

/** The exchange is over: the answer's attributes from what it recorded (ctx.shared.ai), error.type for a failed one. */
export function endCall(ctx: RequestContext, t: TracedCall, status: number): void {
  if (t.span.ended) return;
  const x = ctx.shared.ai as (AiExchange & { cost: number | null }) | undefined;
  let error: string | null = null;
  if (status >= 400) error = String(status);
  else if (ctx.error) error = ctx.error.code;
  if (t.span.recorded) {
    // written into the span's own attributes: nothing to build for a span that is not kept
    const attrs = t.span.attributes;
    if (x) {
      endAttributes(x, attrs);
      if (x.estimated) attrs['modelgate.usage.estimated'] = true;
      if (x.partial) attrs['modelgate.partial'] = true;
      if (t.conf.config.logging.log_payloads && x.outputText !== undefined) attrs['gen_ai.output.messages'] = outputMessages(x.outputText, x.finishReasons?.[0] ?? null);
    }
    if (error !== null) attrs['error.type'] = error;
  }
  t.span.end(performance.now(), undefined, error !== null ? { code: STATUS_CODE.error } : undefined);
  const metrics = ctx.trace!.metrics;
  if (metrics) {
    if (x) recordAiExchange(metrics, x, metricsCall(t, error));
    else recordGenAi(metrics, { ...metricsCall(t, error), requestModel: t.model }, { durationS: (performance.now() - t.started) / 1000 });
  }
}

/**
 * A whole answer's id, finish reasons and, when `wantText` (the route logs payloads), its text,
 * kept with the exchange's record for the span (traced requests only). `parsed`: the answer passed
 * through as the driver parsed it (its body unchanged since), read as it is. `openAiShape`: an
 * OpenAI chat or completions answer (choices at its top): without `parsed` and without text
 * wanted, read without a second JSON.parse.
 */
export function noteAnswer(ctx: RequestContext, body: string, wantText: boolean, openAiShape: boolean, parsed?: unknown): void {
  const x = ctx.shared.ai as AiExchange | undefined;
  if (!x) return;
  if (parsed === undefined && openAiShape && !wantText) {
    const facts = quickAnswerFacts(body);
    if (facts !== null) {
      x.responseId = facts.id;
      x.finishReasons = facts.finishReasons;
      return;
    }
  }
  const facts = parsed !== undefined ? answerFactsOf(parsed, wantText) : answerFacts(body, wantText);
  x.responseId = facts.id;
  x.finishReasons = facts.finishReasons;
  if (facts.text !== null) x.outputText = facts.text;
}

/** The same from a stream's frames (StreamFacts) and its generated text. */
export function noteStream(ctx: RequestContext, facts: StreamFacts, text: string): void {
  const x = ctx.shared.ai as AiExchange | undefined;
  if (!x) return;
  x.responseId = facts.id;
  x.finishReasons = facts.finishReasons;
  x.outputText = text;
}
