/**
 * ai-mcp-proxy's core pieces without a network: JSON-RPC parsing and its error codes, the session
 * table (owner and route binding, bounds, idle expiry, close listeners, in-flight aborts), and the
 * governance hook points (a registered policy hides and refuses tools; every call is recorded in
 * the log section and Prometheus).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RequestContext } from '../../src/proxy/context.ts';
import { parseMessages, checkMessage, PARSE_ERROR, INVALID_REQUEST, INVALID_PARAMS } from '../../src/plugins/ai-mcp-proxy/jsonrpc.ts';
import { SessionTable } from '../../src/plugins/ai-mcp-proxy/session.ts';
import { checkToolCall, registerToolPolicy, toolCallEnded, visibleTools } from '../../src/plugins/ai-mcp-proxy/governance.ts';
import type { CompiledMcp } from '../../src/plugins/ai-mcp-proxy/compile.ts';
import { registry } from '../../src/observability/metrics.ts';
import { rpcErrorBody } from '../../src/plugins/ai-mcp-proxy/handler.ts';

const enc = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));

test('jsonrpc: parse errors, invalid requests, batches, MCP narrowing (no null ids, params an object)', () => {
  const bad = parseMessages(enc('{"jsonrpc":'));
  assert.ok(!bad.ok && bad.error.error!.code === PARSE_ERROR && bad.error.id === null);
  const one = parseMessages(enc({ jsonrpc: '2.0', id: 1, method: 'ping' }));
  assert.ok(one.ok && !one.batch && one.messages.length === 1);
  const batch = parseMessages(enc([{ jsonrpc: '2.0', id: 'a', method: 'ping' }, { jsonrpc: '2.0', method: 'notifications/initialized' }]));
  assert.ok(batch.ok && batch.batch && batch.messages.length === 2);
  const empty = parseMessages(enc([]));
  assert.ok(!empty.ok && empty.error.error!.code === INVALID_REQUEST);
  for (const m of [
    { jsonrpc: '2.0', id: null, method: 'ping' },
    { jsonrpc: '2.0', id: 1, method: 'ping', params: [1] },
    { jsonrpc: '2.0', id: 1 },
    { jsonrpc: '2.0', id: 1, result: {}, error: { code: 1, message: 'x' } },
    { id: 1, method: 'ping' },
    { jsonrpc: '2.0', id: 1, method: '' },
    [1],
  ]) {
    const r = parseMessages(enc(m));
    assert.ok(!r.ok && r.error.error!.code === INVALID_REQUEST, JSON.stringify(m));
  }
  // the id of a request that was otherwise wrong answers for it
  const withId = parseMessages(enc({ jsonrpc: '2.0', id: 9, method: 'x', params: 'no' }));
  assert.ok(!withId.ok && withId.error.id === 9);
  assert.equal(typeof checkMessage({ jsonrpc: '2.0', id: 3, error: { code: -1, message: 'm' } }), 'object');
});

test('errorBody: gateway errors on the route become JSON-RPC errors; JSON-RPC bodies are kept', () => {
  assert.deepEqual(rpcErrorBody(401, { message: 'No API key found in request' }), { jsonrpc: '2.0', id: null, error: { code: -32000, message: 'No API key found in request' } });
  assert.equal((rpcErrorBody(413, { message: 'too big' }) as any).error.code, INVALID_REQUEST);
  assert.equal((rpcErrorBody(502, { message: 'x' }) as any).error.code, -32603);
  const kept = { jsonrpc: '2.0', id: 4, error: { code: -32601, message: 'Method not found' } };
  assert.equal(rpcErrorBody(404, kept), kept);
});

test('sessions: bound to route and owner, bounded, idle-expired, closed with listeners told and in-flight requests aborted', async () => {
  const table = new SessionTable('mcp-unit');
  const closed: string[] = [];
  table.onClose((s, reason) => closed.push(`${s.id}:${reason}`));
  const limits = { idleMs: 60_000, ttlMs: 3_600_000, maxSessions: 2 };
  const a = table.create('route-1', 'alice', limits)!;
  const b = table.create('route-1', null, limits)!;
  assert.ok(a && b && a.id !== b.id && a.id.length >= 32);
  assert.equal(table.create('route-1', 'alice', limits), null, 'bounded');
  assert.equal(await table.find(a.id, 'route-1', 'alice'), a);
  assert.equal(await table.find(a.id, 'route-1', 'bob'), null, "another consumer's");
  assert.equal(await table.find(a.id, 'route-2', 'alice'), null, "another route's");
  assert.equal(await table.find('nope', 'route-1', 'alice'), null);
  const inflight = new AbortController();
  a.inflight.add(inflight);
  table.close(a, 'client');
  assert.ok(inflight.signal.aborted);
  assert.deepEqual(closed, [`${a.id}:client`]);
  assert.equal(await table.find(a.id, 'route-1', 'alice'), null);
  // idle: a session unused past its idle time is gone, and its place is free again
  b.lastUsedAt -= 120_000;
  table.sweep();
  assert.deepEqual(closed.slice(1), [`${b.id}:idle`]);
  assert.equal(table.size, 0);
  table.closeAll();
});

test('governance: a policy hides denied tools from tools/list and refuses their calls with -32602; every call is recorded', async () => {
  const conf = { config: { logging: { log_payloads: false } } } as unknown as CompiledMcp;
  const ctx = { logFields: {}, consumer: { id: 'c1', username: 'carol' }, trace: null } as unknown as RequestContext;
  registerToolPolicy({ name: 'unit-deny-secret', toolAllowed: (_c, _conf, tool) => tool !== 'secret' });
  const page = [{ name: 'echo' }, { name: 'secret' }, { name: 'add' }];
  assert.deepEqual(visibleTools(ctx, conf, page), [{ name: 'echo' }, { name: 'add' }]);

  const value = async (status: string) => ((await registry.getSingleMetric('modelgate_mcp_tool_calls_total')!.get()).values.find((v) => v.labels.tool === 'secret' && v.labels.status === status)?.value ?? 0);
  const before = await value('denied');
  const refusal = await checkToolCall(ctx, conf, { tool: 'secret', id: 5, arguments: { x: 1 }, startedAt: performance.now(), requestBytes: 80 });
  assert.deepEqual(refusal, { code: INVALID_PARAMS, message: 'Unknown tool or not allowed: secret' });
  assert.equal(await value('denied'), before + 1);
  assert.equal(await checkToolCall(ctx, conf, { tool: 'echo', id: 6, arguments: {}, startedAt: performance.now(), requestBytes: 60 }), null);
  toolCallEnded(ctx, conf, { tool: 'echo', id: 6, arguments: { text: 'hidden' }, startedAt: performance.now(), requestBytes: 60 }, { status: 'ok', responseBytes: 90 });
  const calls = (ctx.logFields as any).ai.mcp.tool_calls;
  assert.deepEqual(
    calls.map((c: any) => [c.tool, c.status, c.consumer.username, c.request_bytes, c.response_bytes]),
    [['secret', 'denied', 'carol', 80, 0], ['echo', 'ok', 'carol', 60, 90]],
  );
  assert.ok(calls.every((c: any) => !('arguments' in c)), 'arguments only with log_payloads');
  // a rate-limit-like policy refuses through beforeToolCall with its own error
  registerToolPolicy({ name: 'unit-deny-secret', toolAllowed: () => true, beforeToolCall: (_c, _conf, call) => (call.tool === 'add' ? { code: -32000, message: 'Tool rate limit exceeded' } : null) });
  assert.deepEqual(await checkToolCall(ctx, conf, { tool: 'add', id: 7, arguments: {}, startedAt: performance.now(), requestBytes: 10 }), { code: -32000, message: 'Tool rate limit exceeded' });
  registerToolPolicy({ name: 'unit-deny-secret' });
});
