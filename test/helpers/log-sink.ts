/**
 * An http-log collector for integration tests: a loopback HTTP server that keeps every body the
 * gateway's `http-log` plugin sends (one entry, or a JSON array of them) and answers 204.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export class LogSink {
  readonly server: http.Server;
  readonly bodies: string[] = [];
  /** Bodies answered 503 because `failNext` was set (to test the plugin's retries). */
  readonly refused: string[] = [];
  port = 0;
  /** How many of the next deliveries to refuse with 503. */
  failNext = 0;

  constructor() {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (this.failNext > 0) {
          this.failNext--;
          this.refused.push(body);
          res.writeHead(503).end();
          return;
        }
        this.bodies.push(body);
        res.writeHead(204).end();
      });
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/logs`;
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** Every entry received so far, batches flattened. */
  entries(): any[] {
    return this.bodies.flatMap((b) => {
      const v = JSON.parse(b);
      return Array.isArray(v) ? v : [v];
    });
  }

  /** The entry of one request (by `request.id`), waiting for it to arrive. */
  async entryFor(requestId: string, timeoutMs = 10_000): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.entries().find((e) => e?.request?.id === requestId);
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`no http-log entry for request ${requestId} after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** The raw text that carried one request's entry (to search it for secrets). */
  rawFor(requestId: string): string {
    return this.bodies.filter((b) => b.includes(requestId)).join('\n');
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
