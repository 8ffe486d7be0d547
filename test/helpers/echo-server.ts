/**
 * A plain HTTP upstream for proxy tests: answers every request with what it received (method,
 * path, headers, body) as JSON, and records it. Behaviour per path prefix: `/slow/<ms>` delays the
 * headers, `/status/<code>` answers that status, `/big/<bytes>` streams a large body.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export class EchoServer {
  readonly server: http.Server;
  readonly received: Received[] = [];
  port = 0;

  constructor() {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const rec: Received = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
        this.received.push(rec);
        const url = req.url ?? '/';
        const slow = /^\/slow\/(\d+)/.exec(url);
        const status = /^\/status\/(\d+)/.exec(url);
        const big = /^\/big\/(\d+)/.exec(url);
        const answer = () => {
          if (big) {
            res.writeHead(200, { 'content-type': 'application/octet-stream' });
            res.end(Buffer.alloc(Number(big[1]), 97));
            return;
          }
          const body = JSON.stringify(rec);
          res.writeHead(status ? Number(status[1]) : 200, { 'content-type': 'application/json', 'x-upstream': 'echo', connection: 'keep-alive, x-internal', 'x-internal': 'secret' });
          res.end(body);
        };
        if (slow) setTimeout(answer, Number(slow[1]));
        else answer();
      });
    });
  }

  static async start(): Promise<EchoServer> {
    const s = new EchoServer();
    await new Promise<void>((resolve) => s.server.listen(0, '127.0.0.1', resolve));
    s.port = (s.server.address() as AddressInfo).port;
    return s;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
