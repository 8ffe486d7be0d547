import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { GatewayResponse } from '../../src/proxy/response.ts';

/** A server whose responses are GatewayResponses, answering each request with `answer`; the client's view of the answer. */
async function exchange(answer: (res: GatewayResponse) => void): Promise<{ status: number; message: string; headers: http.IncomingHttpHeaders; raw: string[] }> {
  const server = http.createServer({ ServerResponse: GatewayResponse }, (_req, res) => answer(res as GatewayResponse));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    return await new Promise((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, agent: false }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode!, message: res.statusMessage!, headers: res.headers, raw: res.rawHeaders }));
        })
        .on('error', reject);
    });
  } finally {
    server.close();
  }
}

test('held headers go out with an answer written by writeHead(status, object)', async () => {
  const r = await exchange((res) => {
    res.holdHeader('X-RateLimit-Limit-Minute', '10');
    res.holdHeader('RateLimit-Remaining', '9');
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
  });
  assert.equal(r.status, 200);
  assert.equal(r.headers['x-ratelimit-limit-minute'], '10');
  assert.equal(r.headers['ratelimit-remaining'], '9');
  assert.equal(r.headers['content-type'], 'text/plain');
  assert.ok(r.raw.includes('X-RateLimit-Limit-Minute'), 'the name is written as it was given');
});

test("the answer's own header wins over a held one of the same name, whatever the case (setHeader's precedence)", async () => {
  const r = await exchange((res) => {
    res.holdHeader('Retry-After', '30');
    res.holdHeader('x-cache-status', 'Miss');
    res.writeHead(429, { 'retry-after': '5' });
    res.end();
  });
  assert.equal(r.headers['retry-after'], '5');
  assert.equal(r.raw.filter((h) => h.toLowerCase() === 'retry-after').length, 1, 'written once');
  assert.equal(r.headers['x-cache-status'], 'Miss');
});

test('a later held header replaces an earlier one of the same name', async () => {
  const r = await exchange((res) => {
    res.holdHeader('x-limit', '1');
    res.holdHeader('X-Limit', '2');
    res.end();
  });
  assert.equal(r.headers['x-limit'], '2');
  assert.equal(r.raw.filter((h) => h.toLowerCase() === 'x-limit').length, 1);
});

test('held headers go out with an implicit writeHead (end without writeHead), a status text, and the flat list form', async () => {
  const implicit = await exchange((res) => {
    res.holdHeader('x-held', 'a');
    res.statusCode = 202;
    res.end('body');
  });
  assert.equal(implicit.status, 202);
  assert.equal(implicit.headers['x-held'], 'a');

  const reason = await exchange((res) => {
    res.holdHeader('x-held', 'b');
    res.writeHead(418, 'Short And Stout', { 'x-own': 'c' });
    res.end();
  });
  assert.equal(reason.message, 'Short And Stout');
  assert.equal(reason.headers['x-held'], 'b');
  assert.equal(reason.headers['x-own'], 'c');

  const flat = await exchange((res) => {
    res.holdHeader('x-held', 'd');
    res.holdHeader('x-over', 'held');
    res.writeHead(200, ['X-Over', 'own', 'x-own', 'e']);
    res.end();
  });
  assert.equal(flat.headers['x-held'], 'd');
  assert.equal(flat.headers['x-over'], 'own');
  assert.equal(flat.headers['x-own'], 'e');
});

test('held headers merge with headers set with setHeader', async () => {
  const r = await exchange((res) => {
    res.setHeader('connection', 'close');
    res.holdHeader('x-held', 'f');
    res.writeHead(200, { 'x-own': 'g' });
    res.end();
  });
  assert.equal(r.headers.connection, 'close');
  assert.equal(r.headers['x-held'], 'f');
  assert.equal(r.headers['x-own'], 'g');
});
