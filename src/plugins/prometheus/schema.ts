/** Kong's `prometheus` plugin schema (3.8: `ai_metrics`). Every metric family is off by default, as in Kong. */
import type { PluginSchema } from '../types.ts';
import { typedefs } from '../../schema/typedefs.ts';

export interface PrometheusConfig {
  per_consumer: boolean;
  status_code_metrics: boolean;
  ai_metrics: boolean;
  latency_metrics: boolean;
  bandwidth_metrics: boolean;
  upstream_health_metrics: boolean;
  wasm_metrics: boolean;
}

export const schema: PluginSchema = {
  name: 'prometheus',
  priority: 13,
  version: '0.1.0',
  protocols: typedefs.protocols(),
  config: {
    type: 'record',
    required: true,
    fields: {
      per_consumer: { type: 'boolean', default: false },
      status_code_metrics: { type: 'boolean', default: false },
      ai_metrics: { type: 'boolean', default: false },
      latency_metrics: { type: 'boolean', default: false },
      bandwidth_metrics: { type: 'boolean', default: false },
      upstream_health_metrics: { type: 'boolean', default: false },
      wasm_metrics: { type: 'boolean', default: false },
    },
  },
};
