import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Router, type RouteSpec } from '../../src/router/router.ts';
import { upstreamPath } from '../../src/proxy/forward.ts';

let t = 0;
function route(id: string, spec: Partial<RouteSpec<string>>): RouteSpec<string> {
  return { id, created_at: ++t, paths: null, methods: null, hosts: null, headers: null, protocols: ['http', 'https'], regex_priority: 0, data: id, ...spec };
}

const req = (path: string, extra: Partial<{ method: string; host: string; headers: Record<string, string> }> = {}) => ({
  method: extra.method ?? 'POST',
  host: extra.host ?? 'localhost:8000',
  path,
  headers: extra.headers ?? {},
});

test('a ~ path is a regex anchored at the start: ~/openai-chat$ matches exactly /openai-chat', () => {
  const r = new Router([route('openai', { paths: ['~/openai-chat$'] })]);
  assert.equal(r.match(req('/openai-chat'))?.route.id, 'openai');
  assert.equal(r.match(req('/openai-chat/x')), null);
  assert.equal(r.match(req('/x/openai-chat')), null);
  assert.equal(r.match(req('/openai-chatty')), null);
});

test('plain paths are prefixes; the longest prefix wins', () => {
  const r = new Router([route('short', { paths: ['/v1'] }), route('long', { paths: ['/v1/chat'] })]);
  assert.equal(r.match(req('/v1/chat/completions'))?.route.id, 'long');
  assert.equal(r.match(req('/v1/models'))?.route.id, 'short');
  assert.equal(r.match(req('/v2')), null);
  assert.equal(r.match(req('/v1/chat'))?.matched, '/v1/chat');
});

test('regex paths beat prefixes, regex_priority orders regexes, older routes win ties', () => {
  const r = new Router([
    route('prefix', { paths: ['/api/users'] }),
    route('regex-low', { paths: ['~/api/users/\\d+$'], regex_priority: 1 }),
    route('regex-high', { paths: ['~/api/users/[0-9]+$'], regex_priority: 5 }),
  ]);
  assert.equal(r.match(req('/api/users/42'))?.route.id, 'regex-high');
  assert.equal(r.match(req('/api/users/me'))?.route.id, 'prefix');
  const tie = new Router([route('first', { paths: ['/same'] }), route('second', { paths: ['/same'] })]);
  assert.equal(tie.match(req('/same'))?.route.id, 'first');
});

test('methods, hosts (with wildcards) and headers narrow matches and add priority', () => {
  const r = new Router([
    route('any', { paths: ['/p'] }),
    route('get', { paths: ['/p'], methods: ['GET'] }),
    route('host', { paths: ['/p'], hosts: ['*.example.com'] }),
    route('header', { paths: ['/p'], methods: ['GET'], headers: { 'x-version': ['2', '~*^v3'] } }),
  ]);
  assert.equal(r.match(req('/p', { method: 'POST' }))?.route.id, 'any');
  assert.equal(r.match(req('/p', { method: 'GET' }))?.route.id, 'get');
  assert.equal(r.match(req('/p', { host: 'api.example.com' }))?.route.id, 'host');
  assert.equal(r.match(req('/p', { host: 'example.com' }))?.route.id, 'any', 'a wildcard needs a label');
  assert.equal(r.match(req('/p', { method: 'GET', headers: { 'x-version': '2' } }))?.route.id, 'header');
  assert.equal(r.match(req('/p', { method: 'GET', headers: { 'x-version': 'V3.1' } }))?.route.id, 'header');
  assert.equal(r.match(req('/p', { method: 'GET', headers: { 'x-version': '4' } }))?.route.id, 'get');
});

test('named captures are returned; paths are normalised before matching', () => {
  const r = new Router([route('cap', { paths: ['~/models/(?<model>[a-z0-9-]+)/chat$'] })]);
  const m = r.match(req('/models/gpt-4/chat'));
  assert.deepEqual(m?.captures, { model: 'gpt-4' });
  const p = new Router([route('api', { paths: ['/api'] })]);
  assert.equal(p.match(req('/x/../api/ok'))?.route.id, 'api');
  assert.equal(p.match(req('/%61pi/ok'))?.route.id, 'api');
});

test('routes without paths match by host or method alone', () => {
  const r = new Router([route('hosted', { hosts: ['llm.internal'] }), route('pathy', { paths: ['/'] })]);
  assert.equal(r.match(req('/anything', { host: 'llm.internal:8000' }))?.route.id, 'hosted');
  assert.equal(r.match(req('/anything'))?.route.id, 'pathy');
});

test('10,000 routes: every one is found, and only it', () => {
  const routes: RouteSpec<string>[] = [];
  for (let i = 0; i < 5000; i++) routes.push(route(`p${i}`, { paths: [`/tenant-${i}/chat`] }));
  for (let i = 0; i < 5000; i++) routes.push(route(`r${i}`, { paths: [`~/model-${i}/chat$`] }));
  const r = new Router(routes);
  for (let i = 0; i < 5000; i += 97) {
    assert.equal(r.match(req(`/tenant-${i}/chat/x`))?.route.id, `p${i}`);
    assert.equal(r.match(req(`/model-${i}/chat`))?.route.id, `r${i}`);
  }
  assert.equal(r.match(req('/model-1/chat/x')), null);
});

test('strip_path and the service path join as Kong does (path_handling v0)', () => {
  assert.equal(upstreamPath(null, '/api/x', '/api', true), '/x');
  assert.equal(upstreamPath(null, '/api', '/api', true), '/');
  assert.equal(upstreamPath('/base', '/api/x', '/api', true), '/base/x');
  assert.equal(upstreamPath('/base/', '/api/x', '/api', true), '/base/x');
  assert.equal(upstreamPath('/base', '/api', '/api', true), '/base');
  assert.equal(upstreamPath('/base', '/api/x', '/api', false), '/base/api/x');
  assert.equal(upstreamPath('/', '/api/x', '/api', false), '/api/x');
});

test('property: matching never throws and a match always satisfies the route', () => {
  const r = new Router([
    route('a', { paths: ['/a', '~/b/\\d+$'], methods: ['GET', 'POST'] }),
    route('h', { hosts: ['*.x.io'], paths: ['/'] }),
  ]);
  fc.assert(
    fc.property(fc.string(), fc.constantFrom('GET', 'POST', 'PUT'), fc.string(), (p, method, host) => {
      const m = r.match(req('/' + p, { method, host }));
      if (m?.route.id === 'a') assert.ok(method !== 'PUT');
    }),
    { numRuns: 3000 },
  );
});
