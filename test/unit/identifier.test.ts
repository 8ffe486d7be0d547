/**
 * Who rate-limiting (`limit_by`) and ai-rate-limiting-advanced (`identifier`) count for: each
 * choice, and Kong's fallback to the client's IP when the request lacks what the choice names.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { identifierOf, LIMIT_BY } from '../../src/plugins/shared/identifier.ts';
import type { RequestContext } from '../../src/proxy/context.ts';

const IP = '203.0.113.7';

/** Just what identifierOf reads of a request. */
function request(opts: { headers?: [string, string][]; path?: string; consumer?: string; credential?: string; service?: string } = {}): RequestContext {
  const headers: Record<string, string> = {};
  const distinct: Record<string, string[]> = {};
  for (const [k, v] of opts.headers ?? []) {
    const name = k.toLowerCase();
    headers[name] = headers[name] === undefined ? v : `${headers[name]}, ${v}`; // what node:http does with a repeated header
    (distinct[name] ??= []).push(v);
  }
  return {
    req: { headers, headersDistinct: distinct, socket: { remoteAddress: IP } },
    path: opts.path ?? '/',
    consumer: opts.consumer ? { id: opts.consumer } : null,
    credential: opts.credential ? { id: opts.credential, consumer: opts.consumer ? { id: opts.consumer } : null } : null,
    service: opts.service ? { id: opts.service } : null,
  } as unknown as RequestContext;
}

test("Kong's limit_by / identifier choices", () => {
  assert.deepEqual([...LIMIT_BY].sort(), ['consumer', 'credential', 'header', 'ip', 'path', 'service']);
});

test('each choice counts for what it names', () => {
  const ctx = request({ headers: [['X-Team', 'blue']], path: '/v1/chat', consumer: 'c-1', credential: 'k-1', service: 's-1' });
  assert.equal(identifierOf(ctx, 'consumer', null, null), 'c-1');
  assert.equal(identifierOf(ctx, 'credential', null, null), 'k-1');
  assert.equal(identifierOf(ctx, 'service', null, null), 's-1');
  assert.equal(identifierOf(ctx, 'header', 'x-team', null), 'blue');
  assert.equal(identifierOf(ctx, 'header', 'X-Team', null), 'blue', 'header names are case-insensitive');
  assert.equal(identifierOf(ctx, 'path', null, '/v1/chat'), '/v1/chat');
  assert.equal(identifierOf(ctx, 'ip', null, null), IP);
});

test('without what the choice names, the client IP is counted', () => {
  const anonymous = request({ path: '/v1/other' });
  for (const by of ['consumer', 'credential', 'service'] as const) assert.equal(identifierOf(anonymous, by, null, null), IP, by);
  assert.equal(identifierOf(anonymous, 'header', 'x-team', null), IP, 'no such header');
  assert.equal(identifierOf(request({ headers: [['x-team', '']] }), 'header', 'x-team', null), IP, 'an empty header');
  assert.equal(identifierOf(anonymous, 'path', null, '/v1/chat'), IP, 'another path');
  // consumer falls back to the credential first (an anonymous-less credential), as Kong's get_identifier does
  assert.equal(identifierOf(request({ credential: 'k-9' }), 'consumer', null, null), 'k-9');
});

test('a repeated header counts by its first value, as kong.request.get_header returns it', () => {
  const ctx = request({ headers: [['x-team', 'blue'], ['x-team', 'red']] });
  assert.equal(identifierOf(ctx, 'header', 'x-team', null), 'blue');
});

test('huge identifiers are hashed, so counter keys stay small', () => {
  const long = 'x'.repeat(10_000);
  const id = identifierOf(request({ headers: [['x-team', long]] }), 'header', 'x-team', null);
  assert.match(id, /^sha256:[0-9a-f]{64}$/);
  assert.equal(identifierOf(request({ headers: [['x-team', long]] }), 'header', 'x-team', null), id, 'the same value, the same counter');
  assert.notEqual(identifierOf(request({ headers: [['x-team', long + 'y']] }), 'header', 'x-team', null), id);
});
