/**
 * Requests the gateway refuses before it has read them (issue 16), against the real gateway
 * process and raw sockets: the client must always be able to read the answer. A body over the
 * limit is answered 413 even to a client that writes all of it before reading (the connection
 * must not be reset under it), `Expect: 100-continue` gets its 413 without `100 Continue`, a body
 * stalled on a path no route matches is cut by the body timeout, a request line over the header
 * limit is a JSON 414, and an absolute-form request is answered with `Connection: close`.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Gateway } from '../helpers/gateway.ts';
import { EchoServer } from '../helpers/echo-server.ts';

const LIMIT = 1024 * 1024;
/** The AI route's own limit (ai-proxy's max_request_body_size), below the gateway's. */
const AI_LIMIT = 64 * 1024;
/** Far more than the kernel's socket buffers hold on loopback: the gateway must read it to let the client finish. */
const OVER = 12 * 1024 * 1024;

let gw: Gateway;
let echo: EchoServer;

before(async () => {
  echo = await EchoServer.start();
  gw = await Gateway.start({ env: { MODELGATE_MAX_BODY_SIZE: '1m', MODELGATE_CLIENT_BODY_TIMEOUT_MS: '1000' } });
  assert.equal((await gw.adminRequest('POST', '/services', { name: 'echo', url: echo.url })).status, 201);
  assert.equal((await gw.adminRequest('POST', '/services/echo/routes', { name: 'echo', paths: ['/echo'] })).status, 201);
  assert.equal((await gw.adminRequest('POST', '/services/echo/routes', { name: 'locked', paths: ['/locked'] })).status, 201);
  assert.equal((await gw.adminRequest('POST', '/routes/locked/plugins', { name: 'key-auth' })).status, 201);
  assert.equal((await gw.adminRequest('POST', '/services/echo/routes', { name: 'chat', paths: ['/chat'] })).status, 201);
  const ai = await gw.adminRequest('POST', '/routes/chat/plugins', {
    name: 'ai-proxy',
    config: {
      route_type: 'llm/v1/chat',
      auth: { header_name: 'Authorization', header_value: 'Bearer sk-unused' },
      model: { provider: 'openai', name: 'gpt-4', options: { upstream_url: `${echo.url}/v1/chat/completions` } },
      max_request_body_size: AI_LIMIT,
    },
  });
  assert.equal(ai.status, 201, ai.text);
});

after(async () => {
  await gw?.close();
  await echo?.close();
});

interface Answer {
  /** Everything received, as latin1 text. */
  text: string;
  /** The socket error, if the connection failed (ECONNRESET, EPIPE ...). */
  error: string | null;
  /** The server closed the connection (we saw its end) before `timeoutMs`. */
  closed: boolean;
}

/**
 * One exchange as Python's http.client or Node's http.request do it: the whole request is written
 * before anything is read. Reading is really off until then (a socket with `onread` paused before
 * it connects never reads from the kernel), so an answer followed by a reset is lost, as it is for
 * those clients. Once written, reads until the server closes.
 */
function writeAllThenRead(parts: (string | Buffer)[], timeoutMs = 20_000): Promise<Answer> {
  return new Promise((resolve) => {
    const received: Buffer[] = [];
    let error: string | null = null;
    let closed = false;
    const s = net.connect({
      port: gw.proxyPort,
      host: '127.0.0.1',
      onread: {
        buffer: Buffer.alloc(64 * 1024),
        callback: (n, buf) => {
          received.push(Buffer.from(buf.subarray(0, n)));
          return true;
        },
      },
    });
    s.pause();
    const timer = setTimeout(() => s.destroy(), timeoutMs);
    s.on('error', (e: NodeJS.ErrnoException) => (error ??= e.code ?? e.message));
    s.on('end', () => (closed = true));
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ text: Buffer.concat(received).toString('latin1'), error, closed });
    });
    s.on('connect', () => {
      parts.forEach((part, i) => s.write(part, i === parts.length - 1 ? () => s.resume() : undefined));
    });
  });
}

/** Writes `payload` (not ending our side), reads until the server closes or `timeoutMs`. */
function exchange(payload: string, timeoutMs = 20_000): Promise<Answer & { closedAfterMs: number }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    let text = '';
    let error: string | null = null;
    let closed = false;
    const s = net.connect(gw.proxyPort, '127.0.0.1', () => s.write(payload));
    const timer = setTimeout(() => s.destroy(), timeoutMs);
    s.setEncoding('latin1').on('data', (d: string) => (text += d));
    s.on('error', (e: NodeJS.ErrnoException) => (error ??= e.code ?? e.message));
    s.on('end', () => (closed = true));
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ text, error, closed, closedAfterMs: Date.now() - t0 });
    });
  });
}

function jsonBody(answer: string): { message: string } {
  return JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));
}

function chunked(total: number): Buffer[] {
  const piece = 256 * 1024;
  const frame = Buffer.concat([Buffer.from(`${piece.toString(16)}\r\n`), Buffer.alloc(piece, 98), Buffer.from('\r\n')]);
  const out: Buffer[] = [];
  for (let sent = 0; sent < total; sent += piece) out.push(frame);
  out.push(Buffer.from('0\r\n\r\n'));
  return out;
}

test('a Content-Length over the limit: a client that writes the whole body before reading gets the 413, ten times in a row', async () => {
  const body = Buffer.alloc(OVER, 97);
  for (let i = 0; i < 10; i++) {
    const head = `POST /echo/upload HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n`;
    const r = await writeAllThenRead([head, body]);
    assert.match(r.text, /^HTTP\/1\.1 413 /, `try ${i + 1}: ${r.error ?? ''} ${r.text.slice(0, 60)}`);
    assert.match(r.text, /\r\nconnection: close\r\n/i, `try ${i + 1}`);
    assert.match(jsonBody(r.text).message, new RegExp(`larger than the limit of ${LIMIT} bytes`), `try ${i + 1}`);
  }
  // the same on an AI route, refused by its plugin's own limit
  for (let i = 0; i < 3; i++) {
    const head = `POST /chat HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    const r = await writeAllThenRead([head, body]);
    assert.match(r.text, /^HTTP\/1\.1 413 /, `AI route, try ${i + 1}: ${r.error ?? ''} ${r.text.slice(0, 60)}`);
    assert.match(JSON.stringify(jsonBody(r.text)), new RegExp(`larger than the limit of ${AI_LIMIT} bytes`));
  }
});

test('a chunked body over the limit: the client that writes all of it before reading gets the 413', async () => {
  for (const path of ['/echo/chunked', '/chat']) {
    for (let i = 0; i < 3; i++) {
      const head = `POST ${path} HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`;
      const r = await writeAllThenRead([head, ...chunked(OVER)]);
      assert.match(r.text, /^HTTP\/1\.1 413 /, `${path}, try ${i + 1}: ${r.error ?? ''} ${r.text.slice(0, 60)}`);
      assert.match(JSON.stringify(jsonBody(r.text)), /larger than the limit/, `${path}, try ${i + 1}`);
    }
  }
});

test('Expect: 100-continue with a length over the limit gets the 413 and no 100 Continue; within it, 100 and the answer', async () => {
  const refused = await exchange(`POST /echo/upload HTTP/1.1\r\nHost: a\r\nContent-Length: ${LIMIT + 1}\r\nExpect: 100-continue\r\n\r\n`);
  assert.match(refused.text, /^HTTP\/1\.1 413 /, refused.text.slice(0, 80));
  assert.doesNotMatch(refused.text, /HTTP\/1\.1 100/);
  assert.ok(refused.closed, 'the connection is closed after the refusal');
  // a route's own limit is known before the body is asked for too
  const aiRefused = await exchange(`POST /chat HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: ${AI_LIMIT + 1}\r\nExpect: 100-continue\r\n\r\n`);
  assert.match(aiRefused.text, /^HTTP\/1\.1 413 /, aiRefused.text.slice(0, 80));
  assert.doesNotMatch(aiRefused.text, /HTTP\/1\.1 100/);

  // a body within the limit is still asked for, then proxied
  const accepted = await new Promise<string>((resolve, reject) => {
    let text = '';
    const s = net.connect(gw.proxyPort, '127.0.0.1', () => s.write('POST /echo/ok HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n'));
    s.setEncoding('latin1').on('data', (d: string) => {
      text += d;
      if (text === 'HTTP/1.1 100 Continue\r\n\r\n') s.write('hello');
      if (/\r\n\r\n[^]*"body":"hello"/.test(text)) {
        s.destroy();
        resolve(text);
      }
    });
    s.on('error', reject);
    setTimeout(() => reject(new Error(`no answer: ${text}`)), 10_000).unref();
  });
  assert.match(accepted, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
});

test('a body stalled after an early answer (no route, a plugin\'s 401) is cut at the body timeout; a whole one keeps the connection', async () => {
  for (const [path, status] of [['/nowhere', 404], ['/locked', 401]] as const) {
    const stalled = await exchange(`POST ${path} HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nabc`);
    assert.match(stalled.text, new RegExp(`^HTTP/1\\.1 ${status} `), path);
    assert.ok(stalled.closed, `${path}: the server closed the connection (${stalled.closedAfterMs} ms, ${stalled.error ?? 'no error'})`);
    // the body timeout is 1 s here; the generous bound only tells "cut by it" from the 75 s keep-alive
    assert.ok(stalled.closedAfterMs < 15_000, `${path}: closed after ${stalled.closedAfterMs} ms`);
  }

  // a body that does arrive is read and dropped, and the connection serves the next request
  const second = await new Promise<string>((resolve, reject) => {
    let text = '';
    const s = net.connect(gw.proxyPort, '127.0.0.1', () => s.write('POST /nowhere HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello'));
    s.setEncoding('latin1').on('data', (d: string) => {
      const first = text === '';
      text += d;
      if (first && /^HTTP\/1\.1 404 /.test(text)) s.write('GET /echo/again HTTP/1.1\r\nHost: a\r\n\r\n');
      if (/HTTP\/1\.1 200 [^]*"x-forwarded-path":"\/echo\/again"/.test(text)) {
        s.destroy();
        resolve(text);
      }
    });
    s.on('error', reject);
    setTimeout(() => reject(new Error(`no second answer: ${text}`)), 10_000).unref();
  });
  assert.match(second, /^HTTP\/1\.1 404 [^]*HTTP\/1\.1 200 /);
});

test('a request line over the header limit is a JSON 414; large headers stay 431', async () => {
  const longLine = await exchange(`GET /echo/${'a'.repeat(20_000)} HTTP/1.1\r\nHost: a\r\n\r\n`);
  assert.match(longLine.text, /^HTTP\/1\.1 414 /, longLine.text.slice(0, 80));
  assert.match(longLine.text, /\r\nContent-Type: application\/json/i);
  assert.deepEqual(jsonBody(longLine.text), { message: 'Request-URI too long' });
  assert.ok(longLine.closed);

  // the same line arriving in two reads, the second one ending it
  const line = `GET /echo/${'q'.repeat(17_000)} HTTP/1.1\r\nHost: a\r\n\r\n`;
  const split = await new Promise<string>((resolve) => {
    let text = '';
    const s = net.connect(gw.proxyPort, '127.0.0.1', () => {
      s.write(line.slice(0, 14_000));
      setTimeout(() => s.write(line.slice(14_000)), 100);
    });
    s.setEncoding('latin1').on('data', (d: string) => (text += d));
    s.on('close', () => resolve(text));
    s.on('error', () => {});
  });
  assert.match(split, /^HTTP\/1\.1 414 /, split.slice(0, 80));

  const bigHeader = await exchange(`GET /echo/x HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
  assert.match(bigHeader.text, /^HTTP\/1\.1 431 /);
  assert.deepEqual(jsonBody(bigHeader.text), { message: 'Request header fields too large' });
});

test('an absolute-form request line is refused with Connection: close, and the connection is closed', async () => {
  const r = await exchange('GET http://evil.example/echo/x HTTP/1.1\r\nHost: evil.example\r\n\r\n');
  assert.match(r.text, /^HTTP\/1\.1 400 /);
  assert.match(r.text, /\r\nconnection: close\r\n/i);
  assert.equal(typeof jsonBody(r.text).message, 'string');
  assert.ok(r.closed, 'the server closed the connection');
  assert.equal(echo.received.filter((x) => x.url.includes('evil')).length, 0);
});

test('the gateway still serves after the refusals', async () => {
  const r = await gw.proxyRequest('POST', '/echo/fine', { hello: 'world' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.body, '{"hello":"world"}');
});
