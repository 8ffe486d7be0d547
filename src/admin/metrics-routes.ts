/**
 * `GET /metrics` (Prometheus text format) on the Admin API, and on the status listener
 * (`MODELGATE_STATUS_LISTEN`, off by default) with `GET /status` beside it, as Kong's status API.
 * The Admin API's guard (loopback, Host check, token) applies to `/metrics` there; the status
 * listener is read-only and meant for a monitoring network, so it serves nothing else.
 *
 * The answer is the primary's node-level series followed by the sum of every proxy worker's
 * registry (src/observability/metrics.ts).
 */
import http from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { AdminContext } from './server.ts';
import type { Registry as PromRegistry } from 'prom-client';
import { CONTENT_TYPE, PREFIX, client, clusterMetrics } from '../observability/metrics.ts';
import { formatListen } from '../settings.ts';
import { UNEXPECTED } from './error-reply.ts';

function nodeRegistry(ctx: AdminContext): PromRegistry {
  const registry = new client.Registry();
  const info = ctx.info();
  const nodeInfo = new client.Gauge({ name: `${PREFIX}node_info`, help: 'Node metadata', labelNames: ['node_id', 'version'] as const, registers: [registry] });
  nodeInfo.set({ node_id: String(info.node_id ?? ''), version: String(info.version ?? '') }, 1);
  new client.Gauge({
    name: `${PREFIX}datastore_reachable`,
    help: 'Datastore reachable from the node, 0 is unreachable',
    registers: [registry],
    async collect() {
      try {
        const status = await ctx.status();
        this.set((status.database as { reachable?: boolean } | undefined)?.reachable === false ? 0 : 1);
      } catch {
        this.set(0);
      }
    },
  });
  return registry;
}

export function registerMetricsRoutes(app: FastifyInstance, ctx: AdminContext): void {
  const registry = nodeRegistry(ctx);
  const render = async (): Promise<string> => {
    const [own, workers] = await Promise.all([registry.metrics(), clusterMetrics()]);
    return own + workers;
  };

  app.route({
    method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
    url: '/metrics',
    handler: async (req, reply) => {
      if (req.method !== 'GET') return reply.code(405).send({ message: 'Method not allowed' });
      try {
        const text = await render();
        return reply.code(200).header('content-type', CONTENT_TYPE).send(text);
      } catch (e) {
        ctx.log.error({ method: req.method, path: '/metrics', status: 500, err: e }, 'could not collect metrics from the proxy workers');
        return reply.code(500).send(UNEXPECTED);
      }
    },
  });

  const servers = startStatusListeners(ctx, render);
  app.addHook('onClose', async () => {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  });
}

function startStatusListeners(ctx: AdminContext, render: () => Promise<string>): http.Server[] {
  const out: http.Server[] = [];
  for (const addr of ctx.settings.status_listen) {
    const server = http.createServer((req, res) => {
      const json = (status: number, body: unknown) => {
        const text = JSON.stringify(body);
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      };
      const path = (req.url ?? '/').split('?')[0].replace(/\/+$/, '') || '/';
      if (req.method !== 'GET' && req.method !== 'HEAD') return json(405, { message: 'Method not allowed' });
      // a failure here is a 500 like any other of the Admin API: logged with its cause
      const failed = (e: unknown) => {
        ctx.log.error({ listener: 'status', method: req.method, path, status: 500, err: e }, 'status API error');
        json(500, UNEXPECTED);
      };
      if (path === '/metrics') {
        render().then((text) => {
          res.writeHead(200, { 'content-type': CONTENT_TYPE, 'content-length': Buffer.byteLength(text) });
          res.end(req.method === 'HEAD' ? undefined : text);
        }, failed);
        return;
      }
      if (path === '/status') {
        ctx.status().then((s) => json(200, s), failed);
        return;
      }
      json(404, { message: 'Not found' });
    });
    server.on('error', (e) => ctx.log.error({ listen: formatListen(addr), err: e.message }, 'status listener failed'));
    server.listen(addr.port, addr.host, () => ctx.log.info({ listen: formatListen(addr) }, `status API listening on ${formatListen(addr)}`));
    out.push(server);
  }
  return out;
}
