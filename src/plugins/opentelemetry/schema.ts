/**
 * Kong's `opentelemetry` plugin schema (kong/plugins/opentelemetry/schema.lua, 3.8+ with
 * `propagation` and `logs_endpoint`), plus modelgate's additions, each documented in
 * docs/plugins.md: `metrics_endpoint` (GenAI metrics over OTLP) and `encoding` (OTLP/HTTP body:
 * protobuf, or JSON).
 */
import type { PluginSchema } from '../types.ts';
import type { Field } from '../../schema/types.ts';
import { typedefs, validateHeaderName } from '../../schema/typedefs.ts';
import { queueRecord, type QueueParams } from '../shared/log-queue.ts';
import { PROPAGATION_FORMATS, type PropagationFormat } from '../../observability/otel/types.ts';

export type HeaderType = 'preserve' | 'ignore' | PropagationFormat;

export interface OpenTelemetryConfig {
  traces_endpoint: string | null;
  logs_endpoint: string | null;
  /** modelgate: where the GenAI metrics go (OTLP/HTTP `/v1/metrics`). */
  metrics_endpoint: string | null;
  /** Kong's deprecated shorthand for `traces_endpoint` (stored as given; `traces_endpoint` wins). */
  endpoint: string | null;
  headers: Record<string, string> | null;
  resource_attributes: Record<string, string> | null;
  queue: QueueParams;
  batch_span_count: number | null;
  batch_flush_delay: number | null;
  connect_timeout: number;
  send_timeout: number;
  read_timeout: number;
  http_response_header_for_traceid: string | null;
  header_type: HeaderType;
  sampling_rate: number | null;
  propagation: {
    extract: PropagationFormat[] | null;
    clear: string[] | null;
    inject: (PropagationFormat | 'preserve')[] | null;
    default_format: PropagationFormat;
  };
  /** modelgate: the OTLP/HTTP body, `protobuf` (application/x-protobuf, Kong's) or `json` (application/json). */
  encoding: 'protobuf' | 'json';
}

/** Kong's queue typedef with the plugin's own default batch size (200). */
function otelQueue(): Field {
  const q = queueRecord();
  return { ...q, fields: { ...q.fields, max_batch_size: { ...q.fields!.max_batch_size, default: 200 } } };
}

/** Kong's resource_attributes check: values are non-empty strings. */
function resourceAttributes(attrs: Record<string, unknown>): string | undefined {
  for (const v of Object.values(attrs)) if (typeof v === 'string' && v.length === 0) return 'required field missing';
  return undefined;
}

const EXTRACTORS = PROPAGATION_FORMATS.filter((f) => f !== 'b3-single'); // b3 reads both b3 forms

const propagation: Field = {
  type: 'record',
  required: true,
  default: { default_format: 'w3c' },
  fields: {
    extract: { type: 'array', elements: { type: 'string', one_of: EXTRACTORS } },
    clear: { type: 'array', elements: { type: 'string', custom_validator: validateHeaderName } },
    inject: { type: 'array', elements: { type: 'string', one_of: ['preserve', ...PROPAGATION_FORMATS] } },
    default_format: { type: 'string', one_of: PROPAGATION_FORMATS, required: true, default: 'w3c' },
  },
};

/** `at_least_one_of` with Kong's message, counting the `endpoint` shorthand as `traces_endpoint` and modelgate's `metrics_endpoint`. */
function someEndpoint(c: OpenTelemetryConfig): string | undefined {
  if (c.traces_endpoint || c.logs_endpoint || c.endpoint || c.metrics_endpoint) return undefined;
  return "at least one of these fields must be non-empty: 'traces_endpoint', 'logs_endpoint'";
}

export const schema: PluginSchema = {
  name: 'opentelemetry',
  priority: 14,
  version: '0.1.0',
  protocols: typedefs.protocolsHttp(),
  config: {
    type: 'record',
    required: true,
    fields: {
      traces_endpoint: typedefs.url({ referenceable: true }),
      logs_endpoint: typedefs.url({ referenceable: true }),
      metrics_endpoint: typedefs.url({ referenceable: true }),
      endpoint: typedefs.url({ referenceable: true }),
      headers: { type: 'map', keys: { type: 'string', custom_validator: validateHeaderName }, values: { type: 'string', referenceable: true } },
      resource_attributes: { type: 'map', keys: { type: 'string', required: true }, values: { type: 'string', required: true }, custom_validator: resourceAttributes },
      queue: otelQueue(),
      batch_span_count: { type: 'integer' },
      batch_flush_delay: { type: 'integer' },
      connect_timeout: typedefs.timeout(1000),
      send_timeout: typedefs.timeout(5000),
      read_timeout: typedefs.timeout(5000),
      http_response_header_for_traceid: { type: 'string' },
      header_type: { type: 'string', default: 'preserve', one_of: ['preserve', 'ignore', ...PROPAGATION_FORMATS] },
      sampling_rate: { type: 'number', between: [0, 1] },
      propagation,
      encoding: { type: 'string', default: 'protobuf', one_of: ['protobuf', 'json'] },
    },
    entity_checks: [{ custom_entity_check: { field_sources: ['traces_endpoint', 'logs_endpoint', 'metrics_endpoint', 'endpoint'], fn: someEndpoint } }],
  },
  warnings: (c: OpenTelemetryConfig) => {
    const out: string[] = [];
    if (c.endpoint) out.push('OpenTelemetry: config.endpoint is deprecated, please use config.traces_endpoint instead');
    if (c.batch_span_count != null) out.push('opentelemetry: config.batch_span_count is deprecated, please use config.queue.max_batch_size instead');
    if (c.batch_flush_delay != null) out.push('opentelemetry: config.batch_flush_delay is deprecated, please use config.queue.max_coalescing_delay instead');
    if (c.header_type !== 'preserve') out.push('opentelemetry: config.header_type is deprecated, please use config.propagation options instead');
    return out;
  },
};
