/**
 * 414 or 431 for a header overflow (src/proxy/parser-errors.ts), told from what node:http's own
 * parser reports: the cases run through a real node:http server, so a Node upgrade that moves
 * where the parser stops is caught here. Whether the parts arrive in one read or several, the
 * answer must be the same.
 */
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { parserErrorAnswer, requestLineOverflowed, type ParserError } from '../../src/proxy/parser-errors.ts';

let server: http.Server;
let port = 0;
/** The status each connection's parser error was answered with, in order. */
const answers: number[] = [];

before(async () => {
  server = http.createServer((_req, res) => res.end());
  server.on('clientError', (err: ParserError, socket: net.Socket) => {
    answers.push(parserErrorAnswer(err)[0]);
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** Sends `request` cut at `splits` (a pause between parts), resolves with the status it was refused with. */
async function refusedWith(request: string, splits: number[] = []): Promise<number> {
  const count = answers.length;
  const s = net.connect(port, '127.0.0.1');
  s.on('error', () => {});
  await new Promise((resolve) => s.once('connect', resolve));
  let from = 0;
  for (const to of [...splits, request.length]) {
    if (s.destroyed) break;
    s.write(request.slice(from, to));
    from = to;
    await sleep(30);
  }
  await new Promise((resolve) => (s.destroyed ? resolve(null) : s.once('close', resolve)));
  assert.equal(answers.length, count + 1, 'the parser refused it');
  return answers[count];
}

const target = (n: number) => `GET /${'a'.repeat(n)} HTTP/1.1\r\nHost: a\r\n\r\n`;

test('a request target over the limit is 414, in one read or with its end in a later one', async () => {
  assert.equal(await refusedWith(target(20_000)), 414);
  assert.equal(await refusedWith(`GET /x?${Array.from({ length: 3000 }, (_, i) => `k${i}=v`).join('&')} HTTP/1.1\r\nHost: a\r\n\r\n`), 414);
  assert.equal(await refusedWith(target(17_000), [14_000]), 414);
  assert.equal(await refusedWith(`POST /${'b'.repeat(20_000)} HTTP/1.0\r\n\r\n`), 414);
});

test('header fields over the limit stay 431, however they arrive', async () => {
  const value = `GET /x HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`;
  assert.equal(await refusedWith(value), 431);
  assert.equal(await refusedWith(value, [14_000]), 431);
  const spaced = `GET /x HTTP/1.1\r\nHost: a\r\nX-Big: ${'ab '.repeat(7000)}z\r\n\r\n`;
  assert.equal(await refusedWith(spaced), 431);
  assert.equal(await refusedWith(spaced, [14_000]), 431);
  const trailing = `GET /x HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(17_000)}    \r\n\r\n`;
  assert.equal(await refusedWith(trailing, [14_000]), 431);
  const name = `GET /x HTTP/1.1\r\nHost: a\r\nX-${'F'.repeat(17_000)}: v\r\n\r\n`;
  assert.equal(await refusedWith(name), 431);
  assert.equal(await refusedWith(name, [14_000]), 431);
  const many = `GET /x HTTP/1.1\r\nHost: a\r\n${Array.from({ length: 400 }, (_, i) => `X-H${i}: ${'v'.repeat(40)}\r\n`).join('')}\r\n`;
  assert.equal(await refusedWith(many), 431);
  assert.equal(await refusedWith(many, [1400, 2800, 4200, 5600, 7000, 8400, 9800, 11_200, 12_600, 14_000, 15_400, 16_800]), 431);
});

test('without the parsed bytes, a header overflow is 431; other parser errors keep their answers', () => {
  assert.equal(requestLineOverflowed(undefined, undefined), false);
  assert.equal(requestLineOverflowed(Buffer.from('GET /aaaa'), 99), false);
  assert.deepEqual(parserErrorAnswer(Object.assign(new Error('x'), { code: 'HPE_HEADER_OVERFLOW' })), [431, 'Request header fields too large']);
  assert.deepEqual(parserErrorAnswer(Object.assign(new Error('x'), { code: 'HPE_HEADERS_TIMEOUT' })), [408, 'Request timeout']);
  assert.deepEqual(parserErrorAnswer(Object.assign(new Error('x'), { code: 'HPE_INVALID_METHOD' })), [400, 'Bad request']);
});
