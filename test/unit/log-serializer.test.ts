/**
 * The pieces of the log serializer that depend on something outside the gateway: Node's header
 * block (`res._header`, read for `response.headers`; a Node upgrade that changes it fails here
 * first), and the masking of credential values in `upstream_uri` without re-encoding the rest.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseHeaderBlock, sentHeaders, type SentHeaders } from '../../src/plugins/shared/sent-headers.ts';
import { maskedUri } from '../../src/plugins/shared/serializer.ts';

/** Serves one request with `answer`, and resolves with what sentHeaders read once the response closed. */
async function headersAfterClose(answer: (res: http.ServerResponse) => void): Promise<SentHeaders> {
  let seen: Promise<SentHeaders> | null = null;
  const server = http.createServer((req, res) => {
    seen = new Promise((resolve) => res.on('close', () => resolve(sentHeaders(res))));
    req.resume();
    answer(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  try {
    const r = await fetch(`http://127.0.0.1:${port}/`);
    await r.text();
  } catch {
    // the destroyed answer: the client sees a reset
  }
  const out = await seen!;
  server.close();
  return out;
}

test('sentHeaders: an answer written with writeHead(status, headers) shows them, and what Node added', async () => {
  const h = await headersAfterClose((res) => {
    res.writeHead(200, { 'Content-Type': 'application/json', 'content-length': 2 });
    res.end('{}');
  });
  assert.equal(h['content-type'], 'application/json', 'names lower-cased');
  assert.equal(h['content-length'], '2');
  assert.ok(h.date, 'Date, added by Node');
  assert.equal(h.connection, 'keep-alive');
});

test('sentHeaders: a streamed answer with setHeader values, a repeated header as an array, chunked', async () => {
  const h = await headersAfterClose((res) => {
    res.setHeader('x-ratelimit-remaining-hour', '9');
    res.setHeader('set-cookie', ['a=1', 'b=2']);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: 1\n\n');
    setTimeout(() => res.end('data: [DONE]\n\n'), 5);
  });
  assert.equal(h['x-ratelimit-remaining-hour'], '9');
  assert.deepEqual(h['set-cookie'], ['a=1', 'b=2']);
  assert.equal(h['transfer-encoding'], 'chunked');
});

test('sentHeaders: nothing sent (the answer was cut before its headers) is {}', async () => {
  assert.deepEqual(await headersAfterClose((res) => res.destroy()), {});
});

test('parseHeaderBlock: values keep their colons and inner spaces', () => {
  assert.deepEqual(parseHeaderBlock('HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Key realm="a: b"\r\nX-A:  x  y \r\n\r\n'), { 'www-authenticate': 'Key realm="a: b"', 'x-a': 'x  y' });
  assert.deepEqual(parseHeaderBlock(''), {});
});

test('maskedUri: only the named parameters are masked, every other byte as sent', () => {
  const names = new Set(['key', 'api key']);
  assert.equal(maskedUri('/v1beta/models/m:streamGenerateContent?alt=sse&key=AIza123', names), '/v1beta/models/m:streamGenerateContent?alt=sse&key=REDACTED');
  assert.equal(maskedUri('/p?a=%2F+x&key=1&key&api+key=2&api%20key=3&keys=4', names), '/p?a=%2F+x&key=REDACTED&key&api+key=REDACTED&api%20key=REDACTED&keys=4');
  assert.equal(maskedUri('/p?%E0%A4%A=1', names), '/p?%E0%A4%A=1', 'a malformed escape is left alone');
  assert.equal(maskedUri('/p', names), '/p');
  assert.equal(maskedUri('', names), '');
  assert.equal(maskedUri('/p?key=1', new Set()), '/p?key=1');
});
