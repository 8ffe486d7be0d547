/**
 * `prometheus`: counts each request in its log phase into this worker's registry
 * (src/observability/metrics.ts); `GET /metrics` on the Admin API (and the status listener) sums
 * every worker. Only the families the config turns on are recorded, as in Kong. Label values
 * come from configuration (route, service names) or are bounded (model, consumer): see metrics.ts.
 */
import type { PluginHandler } from '../types.ts';
import type { RequestContext } from '../../proxy/context.ts';
import type { PrometheusConfig } from './schema.ts';
import { labels, metrics } from '../../observability/metrics.ts';
import { clientStatus, latencies, requestSize, responseSize, responseSource } from '../shared/serializer.ts';
import type { Usage } from '../../llm/types.ts';

const WORKSPACE = 'default';

interface SharedAi {
  provider: string;
  requestModel: string;
  usage: Usage | null;
  cost: number | null;
  llmLatencyMs: number;
  timeToFirstTokenMs: number | null;
}

function log(ctx: RequestContext, conf: PrometheusConfig): void {
  const route = labels.route.value(ctx.route.name ?? ctx.route.id);
  const service = labels.service.value(ctx.service ? (ctx.service.name ?? ctx.service.host) : '');
  const consumer = conf.per_consumer && ctx.consumer ? labels.consumer.value(ctx.consumer.username ?? '') : '';

  if (conf.status_code_metrics) {
    const source = responseSource(ctx) === 'service' ? 'service' : 'kong';
    metrics.httpRequests.inc({ service, route, code: clientStatus(ctx), source, workspace: WORKSPACE, consumer });
  }
  if (conf.latency_metrics) {
    const l = latencies(ctx);
    const lab = { service, route, workspace: WORKSPACE };
    metrics.requestLatency.observe(lab, l.request);
    if (l.proxy >= 0) metrics.upstreamLatency.observe(lab, l.proxy);
    metrics.kongLatency.observe(lab, l.kong);
  }
  if (conf.bandwidth_metrics) {
    const ingress = requestSize(ctx);
    const egress = responseSize(ctx);
    if (ingress > 0) metrics.bandwidth.inc({ service, route, direction: 'ingress', workspace: WORKSPACE, consumer }, ingress);
    if (egress > 0) metrics.bandwidth.inc({ service, route, direction: 'egress', workspace: WORKSPACE, consumer }, egress);
  }
  if (conf.ai_metrics) {
    const ai = ctx.shared.ai as SharedAi | undefined;
    if (!ai) return;
    const lab = {
      ai_provider: labels.provider.value(ai.provider),
      ai_model: labels.model.value(ai.requestModel),
      cache_status: '',
      vector_db: '',
      embeddings_provider: '',
      embeddings_model: '',
      workspace: WORKSPACE,
      route,
      consumer,
    };
    metrics.aiRequests.inc(lab);
    if (ai.cost !== null && ai.cost > 0) metrics.aiCost.inc(lab, ai.cost);
    if (ai.llmLatencyMs >= 0) metrics.aiProviderLatency.observe(lab, ai.llmLatencyMs);
    if (ai.timeToFirstTokenMs !== null && ai.timeToFirstTokenMs >= 0) metrics.aiTimeToFirstToken.observe(lab, ai.timeToFirstTokenMs);
    const u = ai.usage;
    if (u) {
      if (u.prompt_tokens > 0) metrics.aiTokens.inc({ ...lab, token_type: 'prompt_tokens' }, u.prompt_tokens);
      if (u.completion_tokens > 0) metrics.aiTokens.inc({ ...lab, token_type: 'completion_tokens' }, u.completion_tokens);
      if (u.total_tokens > 0) metrics.aiTokens.inc({ ...lab, token_type: 'total_tokens' }, u.total_tokens);
    }
  }
}

export const handler: PluginHandler<PrometheusConfig> = { log };
