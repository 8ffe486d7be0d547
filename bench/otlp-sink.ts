/**
 * The `otel` scenario's collector (`npm run bench -- --scenarios otel`): an OTLP/HTTP endpoint
 * inside the bench process that reads each export request, counts requests and bytes per path
 * (`/v1/traces`, `/v1/metrics`), and answers 200 with an empty body (an empty
 * Export*ServiceResponse: full success). It decodes nothing: the benchmark measures what exporting
 * costs the gateway, and the tests check what is exported (test/integration/otel-*.test.ts).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OtlpSink {
  url: string;
  /** Requests and body bytes received, per path. */
  counts(): Record<string, { requests: number; bytes: number }>;
  stop(): Promise<void>;
}

export async function startOtlpSink(): Promise<OtlpSink> {
  const counts: Record<string, { requests: number; bytes: number }> = {};
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const c = (counts[path] ??= { requests: 0, bytes: 0 });
    req.on('data', (chunk: Buffer) => (c.bytes += chunk.length));
    req.on('end', () => {
      c.requests++;
      res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/x-protobuf', 'content-length': '0' });
      res.end();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    counts: () => structuredClone(counts),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
