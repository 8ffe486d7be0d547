/** Kong's `http-log` plugin schema (3.6, with the `queue` record). */
import type { PluginSchema } from '../types.ts';
import { typedefs, validateHeaderName } from '../../schema/typedefs.ts';
import { queueRecord, type QueueParams } from '../shared/log-queue.ts';
import { luaCodeMap } from '../shared/no-code.ts';

export interface HttpLogConfig {
  http_endpoint: string;
  method: 'POST' | 'PUT' | 'PATCH';
  content_type: string;
  timeout: number;
  keepalive: number;
  retry_count: number | null;
  queue_size: number | null;
  flush_timeout: number | null;
  headers: Record<string, string> | null;
  queue: QueueParams;
  custom_fields_by_lua: Record<string, string> | null;
}

function userinfoAndAuthorization(c: HttpLogConfig): string | undefined {
  let url: URL;
  try {
    url = new URL(c.http_endpoint);
  } catch {
    return undefined;
  }
  if ((url.username || url.password) && c.headers && Object.keys(c.headers).some((h) => h.toLowerCase() === 'authorization')) {
    return "specifying both an 'Authorization' header and user info in 'http_endpoint' is not allowed";
  }
  return undefined;
}

export const schema: PluginSchema = {
  name: 'http-log',
  priority: 12,
  version: '0.1.0',
  protocols: typedefs.protocols(),
  config: {
    type: 'record',
    required: true,
    fields: {
      http_endpoint: typedefs.url({ required: true, encrypted: true, referenceable: true }),
      method: { type: 'string', default: 'POST', one_of: ['POST', 'PUT', 'PATCH'] },
      content_type: { type: 'string', default: 'application/json', one_of: ['application/json', 'application/json; charset=utf-8'] },
      timeout: { type: 'number', default: 10000 },
      keepalive: { type: 'number', default: 60000 },
      retry_count: { type: 'integer' },
      queue_size: { type: 'integer' },
      flush_timeout: { type: 'number' },
      headers: {
        type: 'map',
        keys: {
          type: 'string',
          custom_validator: validateHeaderName,
          match_none: [
            { pattern: /^host$/i, err: "cannot contain 'Host' header" },
            { pattern: /^content-length$/i, err: "cannot contain 'Content-Length' header" },
            { pattern: /^content-type$/i, err: "cannot contain 'Content-Type' header" },
          ],
        },
        values: { type: 'string', referenceable: true },
      },
      queue: queueRecord(),
      custom_fields_by_lua: luaCodeMap('custom_fields_by_lua'),
    },
    entity_checks: [{ custom_entity_check: { field_sources: ['http_endpoint', 'headers'], fn: userinfoAndAuthorization } }],
  },
  warnings: (c: HttpLogConfig) => {
    const out: string[] = [];
    if (c.retry_count != null && c.retry_count !== 10) out.push('http-log: config.retry_count no longer works, please use config.queue.max_retry_time instead');
    if (c.queue_size != null && c.queue_size !== 1) out.push('http-log: config.queue_size is deprecated, please use config.queue.max_batch_size instead');
    if (c.flush_timeout != null && c.flush_timeout !== 2) out.push('http-log: config.flush_timeout is deprecated, please use config.queue.max_coalescing_delay instead');
    return out;
  },
};
