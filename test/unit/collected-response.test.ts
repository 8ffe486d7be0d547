/**
 * A collected upstream answer's headers, read from undici's raw list: by name and copied by a
 * filter without building the object, and as the object (undici's parseHeaders) when asked — the
 * same values every way, repeated headers included.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CollectedResponse } from '../../src/proxy/upstream.ts';
import { HeaderNames } from '../../src/proxy/header-names.ts';

const raw = (pairs: [string, string][]) => pairs.flatMap(([n, v]) => [Buffer.from(n, 'latin1'), Buffer.from(v, 'latin1')]);

const answer = () =>
  new CollectedResponse(
    200,
    raw([
      ['Content-Type', 'application/json'],
      ['X-RateLimit-Remaining-Requests', '99'],
      ['Set-Cookie', 'a=1'],
      ['x-request-id', 'req-1'],
      ['set-cookie', 'b=2'],
      ['Content-Encoding', 'gzip'],
      ['x-ratelimit-remaining-requests', '98'],
      ['X-Caf\u00e9', 'cr\u00e8me'],
    ]),
    Buffer.from('{}'),
  );

test('one header by name, as the parsed object gives it', () => {
  const a = answer();
  assert.equal(a.header('content-encoding'), 'gzip');
  assert.equal(a.header('content-type'), 'application/json');
  assert.equal(a.header('x-café'), 'crème');
  assert.equal(a.header('retry-after'), undefined);
  // a repeated header: the array parseHeaders makes
  assert.deepEqual(a.header('set-cookie'), ['a=1', 'b=2']);
  const b = answer();
  for (const name of ['content-encoding', 'content-type', 'x-café', 'retry-after', 'set-cookie', 'x-ratelimit-remaining-requests']) assert.deepEqual(b.header(name), b.headers[name], name);
});

test('the kept headers copied in order, repeated ones joined as the object with its arrays joined', () => {
  const names = new HeaderNames(['x-request-id', 'set-cookie'], ['x-ratelimit-']);
  const kept = (n: string) => names.has(n);
  const fromRaw: Record<string, string> = {};
  answer().copyHeaders(names, fromRaw);
  assert.deepEqual(fromRaw, { 'x-ratelimit-remaining-requests': '99, 98', 'set-cookie': 'a=1, b=2', 'x-request-id': 'req-1' });
  const fromObject: Record<string, string> = {};
  const parsed = answer().headers;
  for (const k in parsed) {
    const v = parsed[k];
    if (v !== undefined && kept(k)) fromObject[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  assert.deepEqual(fromRaw, fromObject);
});

test('a header set: exact names and prefixes, and what a raw name may be by its first byte', () => {
  const names = new HeaderNames(['retry-after', 'x-request-id'], ['x-ratelimit-', 'anthropic-ratelimit-']);
  for (const n of ['retry-after', 'x-request-id', 'x-ratelimit-limit-tokens', 'anthropic-ratelimit-requests-remaining']) assert.ok(names.has(n), n);
  for (const n of ['retry', 'x-request', 'content-type', 'x-ratelimit', 'anthropic-']) assert.ok(!names.has(n), n);
  for (const n of ['Retry-After', 'x-anything', 'X-Other', 'anthropic-version']) assert.ok(names.mayHave(Buffer.from(n)), n);
  for (const n of ['content-type', 'Date', 'server', '']) assert.ok(!names.mayHave(Buffer.from(n)), n);
});

test('headers are parsed once; a name is read from them afterwards', () => {
  const a = answer();
  const h = a.headers;
  assert.equal(a.headers, h);
  h['content-encoding'] = 'br';
  assert.equal(a.header('content-encoding'), 'br');
});
