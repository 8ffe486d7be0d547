/**
 * The opentelemetry plugin's one call into the GenAI metrics: a provider call's AiExchange (what
 * ai-proxy's analytics recorded for the log phase) turned into the measurements of metrics.ts.
 *
 *   recordAiExchange(metricsFor(endpoint, resource), exchange, { operation, provider, serverAddress, serverPort })
 *
 * The semantic-conventions values the span already carries (gen_ai.operation.name,
 * gen_ai.provider.name, server.address/port, error.type) are passed in by the caller (genai.ts
 * computes them once for both), so the span and the metrics can never disagree. A call that failed
 * before an answer (no AiExchange: a provider error, a timeout, a failed-over attempt) is recorded
 * with `recordGenAi(m, { ..., errorType }, { durationS })`.
 */
import type { AiExchange } from '../../plugins/ai-proxy/analytics.ts';
import { recordGenAi, type GenAiMetricAttrs, type GenAiMetricValues, type GenAiMetrics } from './metrics.ts';
import type { Attributes } from './types.ts';

export { recordGenAi, type GenAiMetricAttrs, type GenAiMetricValues, type GenAiMetrics } from './metrics.ts';

/** The call's semantic-conventions values, as the GenAI client span has them. */
export interface GenAiCall {
  /** gen_ai.operation.name (`chat`, `text_completion`, `embeddings` ...). */
  operation: string;
  /** gen_ai.provider.name (`openai`, `anthropic`, `aws.bedrock` ...). */
  provider: string;
  serverAddress?: string | null;
  serverPort?: number | null;
  /** error.type when the call ended in an error (a stream the provider cut, say). */
  errorType?: string | null;
}

/**
 * Records one answered provider call. Token counts only when the provider reported them: the
 * spec allows counting tokens offline only as something users turn on ("Otherwise it MUST NOT
 * report usage metric"), and modelgate's estimate (`estimated`) is such a count. Embeddings have no
 * output tokens. Time to first chunk for streams only: modelgate's `timeToFirstTokenMs`, taken at
 * the first event with content (a role-only opening chunk does not count).
 */
export function recordAiExchange(m: GenAiMetrics, x: AiExchange, call: GenAiCall): void {
  const usage = x.usage && !x.estimated ? x.usage : null;
  const attrs = CALL_ATTRS;
  attrs.operation = call.operation;
  attrs.provider = call.provider;
  attrs.requestModel = x.requestModel;
  attrs.responseModel = x.responseModel;
  attrs.serverAddress = call.serverAddress;
  attrs.serverPort = call.serverPort;
  attrs.errorType = call.errorType;
  const values = CALL_VALUES;
  values.durationS = x.llmLatencyMs / 1000;
  values.inputTokens = usage ? usage.prompt_tokens : null;
  values.outputTokens = usage && x.kind !== 'embeddings' ? usage.completion_tokens : null;
  values.timeToFirstChunkS = x.stream && x.timeToFirstTokenMs !== null ? x.timeToFirstTokenMs / 1000 : null;
  recordGenAi(m, attrs, values);
}

/**
 * recordAiExchange's arguments to recordGenAi, filled per call: recordGenAi reads them while it
 * runs and keeps neither (a new attribute set is copied), so one pair serves every call of the
 * worker instead of two objects per traced request.
 */
const CALL_ATTRS: GenAiMetricAttrs = { operation: '', provider: '', requestModel: null, responseModel: null, serverAddress: null, serverPort: null, errorType: null };
const CALL_VALUES: GenAiMetricValues = { durationS: 0, inputTokens: null, outputTokens: null, timeToFirstChunkS: null };

/** The metric attributes of a GenAI client span's attributes (genai.ts's names), for a caller that has the span at hand. */
export function metricAttrsOfSpan(a: Attributes): GenAiMetricAttrs {
  const str = (k: string) => (typeof a[k] === 'string' ? (a[k] as string) : null);
  return {
    operation: str('gen_ai.operation.name') ?? 'chat',
    provider: str('gen_ai.provider.name') ?? 'unknown',
    requestModel: str('gen_ai.request.model'),
    responseModel: str('gen_ai.response.model'),
    serverAddress: str('server.address'),
    serverPort: typeof a['server.port'] === 'number' ? (a['server.port'] as number) : null,
    errorType: str('error.type'),
  };
}
