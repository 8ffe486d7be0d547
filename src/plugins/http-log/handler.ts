/**
 * `http-log`: each request's serialized entry (Kong's fields, the `ai` section, no credentials)
 * goes to an HTTP endpoint through a bounded per-worker queue: batches of `queue.max_batch_size`
 * (one entry is sent as a JSON object, several as a JSON array, as Kong does), retried with
 * back-off up to `queue.max_retry_time`, oldest entries dropped and counted when the queue is full.
 * The log phase only serializes and enqueues; sending never delays a request.
 */
import type { PluginHandler } from '../types.ts';
import type { HttpLogConfig } from './schema.ts';
import type { QueueParams } from '../shared/log-queue.ts';
import { queueFor } from '../shared/log-queue.ts';
import { serializeJson } from '../shared/serializer.ts';
import { callUpstream, type UpstreamTarget } from '../../proxy/upstream.ts';

interface Compiled {
  name: string;
  params: QueueParams;
  send: (entries: string[]) => Promise<void>;
}

/** Kong's mapping of the deprecated parameters onto the queue (`Queue.get_plugin_params`). */
function queueParams(c: HttpLogConfig): QueueParams {
  const q = { ...c.queue };
  if (c.queue_size != null && c.queue_size !== 1 && q.max_batch_size === 1) q.max_batch_size = c.queue_size;
  if (c.flush_timeout != null && c.flush_timeout !== 2 && q.max_coalescing_delay === 1) q.max_coalescing_delay = c.flush_timeout;
  return q;
}

export const handler: PluginHandler<HttpLogConfig, Compiled> = {
  compile(config, cctx) {
    const url = new URL(config.http_endpoint);
    const secure = url.protocol === 'https:';
    const port = url.port ? Number(url.port) : secure ? 443 : 80;
    const target: UpstreamTarget = {
      origin: `${url.protocol}//${url.hostname.includes(':') && !url.hostname.startsWith('[') ? `[${url.hostname}]` : url.hostname}:${port}`,
      connectTimeout: config.timeout,
      readTimeout: config.timeout,
      writeTimeout: config.timeout,
      retries: 0,
      tlsVerify: true,
    };
    const path = (url.pathname || '/') + url.search;
    const fixed: Record<string, string> = {};
    for (const [k, v] of Object.entries(config.headers ?? {})) {
      fixed[k.toLowerCase()] = v;
      cctx.registerSecret(v);
    }
    if (url.username || url.password) {
      const userinfo = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
      fixed.authorization = `Basic ${Buffer.from(userinfo).toString('base64')}`;
      cctx.registerSecret(userinfo);
      cctx.registerSecret(fixed.authorization);
    }
    fixed.host = url.host;
    fixed['content-type'] = config.content_type;
    const params = queueParams(config);
    const timeout = config.timeout;
    const send = async (entries: string[]): Promise<void> => {
      const body = params.max_batch_size === 1 ? entries[0] : `[${entries.join(',')}]`;
      const headers = { ...fixed, 'content-length': String(Buffer.byteLength(body)) };
      const { response } = await callUpstream({ target, method: config.method, path, headers, body, signal: AbortSignal.timeout(timeout) });
      await response.body.dump({ limit: 64 * 1024 }).catch(() => {});
      if (response.statusCode >= 300) throw new Error(`request to ${url.hostname}:${port} returned status code ${response.statusCode}`);
    };
    const name = JSON.stringify(['http-log', config.http_endpoint, config.method, config.content_type, timeout, config.keepalive, config.headers, params]);
    return { name, params, send };
  },
  log(ctx, conf) {
    queueFor(conf.name, 'http-log', conf.params, conf.send).enqueue(serializeJson(ctx));
  },
};
