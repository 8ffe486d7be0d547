/** Kong's `rate-limiting` plugin schema (3.6). */
import type { PluginSchema } from '../types.ts';
import { typedefs, validateHeaderName } from '../../schema/typedefs.ts';
import { LIMIT_BY, type LimitBy } from '../shared/identifier.ts';
import { PERIODS, type Period } from '../shared/windows.ts';
import { redisRecord } from '../shared/redis-schema.ts';

export type RateLimitingConfig = Record<Period, number | null> & {
  limit_by: LimitBy;
  header_name: string | null;
  path: string | null;
  policy: 'local' | 'cluster' | 'redis';
  fault_tolerant: boolean;
  redis: Record<string, unknown>;
  hide_client_headers: boolean;
  error_code: number;
  error_message: string;
  sync_rate: number;
};

const SYNC_RATE_REALTIME = -1;

/** Kong's `validate_periods_order`, and its sync_rate rules. */
function checkPeriods(c: RateLimitingConfig): string | undefined {
  for (let i = 0; i < PERIODS.length; i++) {
    const v1 = c[PERIODS[i]];
    if (typeof v1 !== 'number') continue;
    for (let j = i + 1; j < PERIODS.length; j++) {
      const v2 = c[PERIODS[j]];
      if (typeof v2 === 'number' && v2 < v1) {
        return `The limit for ${PERIODS[j]}(${v2.toFixed(1)}) cannot be lower than the limit for ${PERIODS[i]}(${v1.toFixed(1)})`;
      }
    }
  }
  if (c.policy !== 'redis' && c.sync_rate !== SYNC_RATE_REALTIME) return 'sync_rate can only be used with the redis policy';
  if (c.policy === 'redis' && c.sync_rate !== SYNC_RATE_REALTIME && c.sync_rate < 0.02) return 'sync_rate must be greater than 0.02, or -1 to disable';
  return undefined;
}

const period = (): { type: 'number'; gt: number } => ({ type: 'number', gt: 0 });

export const schema: PluginSchema = {
  name: 'rate-limiting',
  priority: 910,
  version: '0.1.0',
  protocols: typedefs.protocolsHttp(),
  config: {
    type: 'record',
    required: true,
    fields: {
      second: period(),
      minute: period(),
      hour: period(),
      day: period(),
      month: period(),
      year: period(),
      limit_by: { type: 'string', default: 'consumer', one_of: LIMIT_BY },
      header_name: { type: 'string', custom_validator: validateHeaderName },
      path: typedefs.path(),
      policy: { type: 'string', default: 'local', len_min: 0, one_of: ['local', 'cluster', 'redis'] },
      fault_tolerant: { type: 'boolean', required: true, default: true },
      redis: redisRecord(),
      hide_client_headers: { type: 'boolean', required: true, default: false },
      error_code: { type: 'number', default: 429, gt: 0 },
      error_message: { type: 'string', default: 'API rate limit exceeded' },
      sync_rate: { type: 'number', required: true, default: SYNC_RATE_REALTIME },
    },
    entity_checks: [
      { at_least_one_of: [...PERIODS] },
      { conditional: { if_field: 'limit_by', if_match: { eq: 'header' }, then_field: 'header_name', then_match: { required: true } } },
      { conditional: { if_field: 'limit_by', if_match: { eq: 'path' }, then_field: 'path', then_match: { required: true } } },
      { custom_entity_check: { field_sources: [...PERIODS, 'policy', 'sync_rate'], fn: checkPeriods } },
    ],
  },
  warnings: (c: RateLimitingConfig) =>
    c.policy === 'cluster' ? ["policy 'cluster' counts in the node's shared store (Redis when MODELGATE_REDIS_URL is set, else this node's memory)"] : [],
};
