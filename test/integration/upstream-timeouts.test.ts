/**
 * A service's `write_timeout` and `retries` as Kong defines them, through the real gateway:
 * an upstream that stops reading the request is given up on after write_timeout (not after the
 * much longer read timeout), refused connections are retried `retries` times, and a request whose
 * bytes already reached an upstream is never sent twice.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { Gateway, freePort } from '../helpers/gateway.ts';

let gw: Gateway;
const servers: net.Server[] = [];

async function listen(onConnection: (socket: net.Socket) => void): Promise<number> {
  const server = net.createServer(onConnection);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

async function serviceWithRoute(name: string, port: number, settings: Record<string, number>): Promise<void> {
  const s = await gw.adminRequest('POST', '/services', { name, url: `http://127.0.0.1:${port}/`, ...settings });
  assert.equal(s.status, 201, s.text);
  const r = await gw.adminRequest('POST', `/services/${name}/routes`, { name, paths: [`/${name}`] });
  assert.equal(r.status, 201, r.text);
}

/** The access log line of a request, by its request id. */
async function accessLogOf(requestId: string): Promise<Record<string, any>> {
  for (let i = 0; i < 100; i++) {
    const line = gw.stdout.split('\n').find((l) => l.includes(requestId) && l.includes('"msg":"request"'));
    if (line) return JSON.parse(line);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no access log line for ${requestId}`);
}

/** POSTs `size` bytes in 64 KiB writes that wait for the socket, and resolves with the answer. */
function postLarge(url: string, size: number): Promise<{ status: number; body: string; requestId: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, requestId: String(res.headers['x-modelgate-request-id']) }));
    });
    req.on('error', reject);
    const chunk = Buffer.alloc(64 * 1024, 120);
    let sent = 0;
    const pump = () => {
      while (sent < size) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

before(async () => {
  gw = await Gateway.start({ workers: 1, env: { MODELGATE_MAX_BODY_SIZE: '64m' } });
});

after(async () => {
  await gw?.close();
  for (const s of servers) s.close();
});

test('an upstream that stops reading the request body gets a 504 after write_timeout, not read_timeout', { timeout: 60_000 }, async () => {
  const held: net.Socket[] = [];
  // accepts, then never reads: the kernel buffers fill, and the gateway's writes stop draining
  const port = await listen((socket) => {
    socket.pause();
    held.push(socket);
  });
  await serviceWithRoute('stuck', port, { write_timeout: 300, read_timeout: 600_000, retries: 0 });
  const r = await postLarge(`${gw.proxy}/stuck`, 48 * 1024 * 1024);
  assert.equal(r.status, 504, r.body);
  assert.equal(JSON.parse(r.body).message, 'The upstream server is timing out');
  const entry = await accessLogOf(r.requestId);
  assert.equal(entry.error.code, 'MODELGATE_WRITE_TIMEOUT');
  for (const s of held) s.destroy();
});

test('a refused upstream is retried `retries` times, then 502', async () => {
  const port = await freePort(); // nothing listens there
  await serviceWithRoute('refused', port, { retries: 3 });
  const r = await gw.proxyRequest('GET', '/refused');
  assert.equal(r.status, 502, r.text);
  const entry = await accessLogOf(r.headers.get('x-modelgate-request-id')!);
  assert.equal(entry.attempts, 4);
  assert.equal(entry.error.code, 'ECONNREFUSED');
});

test('a request whose bytes reached the upstream is never sent again', async () => {
  let requests = 0;
  // reads the request, then resets the connection without answering
  const port = await listen((socket) => {
    socket.once('data', () => {
      requests++;
      socket.resetAndDestroy();
    });
  });
  await serviceWithRoute('reset', port, { retries: 5 });
  const r = await gw.proxyRequest('POST', '/reset', { once: true });
  assert.equal(r.status, 502, r.text);
  assert.equal(requests, 1);
});
