/**
 * ai-mcp-proxy in passthrough-listener mode (issue 23) against the real gateway: the official MCP
 * SDK as the client (StreamableHTTPClientTransport, through the gateway) and as the upstream
 * server (McpServer + StreamableHTTPServerTransport, test/mocks/mcp-server.ts). Tools, resources,
 * prompts, pagination, progress, cancellation, server notifications; key-auth in front with the
 * client's key kept from the upstream and the upstream's credential added by the gateway (a vault
 * reference); malformed input, unknown sessions, a stalled and a crashing server; the log entries
 * and Prometheus series of tool calls, counted exactly. Two workers: a session's requests reach
 * either, so sessions are found, and closed, across workers (src/plugins/ai-mcp-proxy/session.ts).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { Gateway, adminOk } from '../helpers/gateway.ts';
import { LogSink } from '../helpers/log-sink.ts';
import { allTools, connectMcp, expectProgress, expectServerNotifications, httpLogTo, routeEntries, toolMetric, until } from '../helpers/mcp.ts';
import { startMcpUpstream, type McpUpstream } from '../mocks/mcp-server.ts';

const UPSTREAM_TOKEN = 'Bearer upstream-mcp-token-5c1e9a2f';
const ALICE_KEY = 'alice-mcp-key-8e21b4d7';
const BOB_KEY = 'bob-mcp-key-3f90c6a1';
const PAGE = 7;

let gw: Gateway;
let sink: LogSink;
let upstream: McpUpstream;
const open: StreamableHTTPClientTransport[] = [];

const admin = (method: string, url: string, body?: unknown) => adminOk(gw, method, url, body);

const connect = (path: string, key: string | null = ALICE_KEY) => connectMcp(gw.proxy + path, key, open);


function rpc(body: unknown, headers: Record<string, string> = {}): RequestInit {
  return { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', apikey: ALICE_KEY, ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) };
}

const metric = (name: string, tool: string, status: string) => toolMetric(gw, name, tool, status);

const mcpEntries = (route: string) => routeEntries(sink, route, true);

before(async () => {
  upstream = await startMcpUpstream({ pageSize: PAGE });
  sink = await new LogSink().start();
  gw = await Gateway.start({ workers: 2, env: { MCP_UPSTREAM_TOKEN: UPSTREAM_TOKEN } });
  await admin('POST', '/consumers', { username: 'alice' });
  await admin('POST', '/consumers/alice/key-auth', { key: ALICE_KEY });
  await admin('POST', '/consumers', { username: 'bob' });
  await admin('POST', '/consumers/bob/key-auth', { key: BOB_KEY });
  const mcp = (name: string, extra: Record<string, unknown> = {}, server: Record<string, unknown> = {}) => ({
    name: 'ai-mcp-proxy',
    config: { mode: 'passthrough-listener', max_request_body_size: 65536, ...extra, server: { url: upstream.url, headers: { authorization: '{vault://env/MCP_UPSTREAM_TOKEN}' }, timeout: 1000, ...server } },
  });
  for (const [name, plugin] of [
    ['mcp', mcp('mcp')],
    ['mcp-count', mcp('mcp-count', { logging: { log_payloads: true } })],
  ] as const) {
    await admin('POST', '/routes', { name, paths: [`/${name}`] });
    await admin('POST', `/routes/${name}/plugins`, plugin);
    await admin('POST', `/routes/${name}/plugins`, { name: 'key-auth', config: { key_names: ['apikey'] } });
    await admin('POST', `/routes/${name}/plugins`, httpLogTo(sink));
  }
  // Kong's own shape: the upstream is the route's service, no server.url
  await admin('POST', '/services', { name: 'mcp-svc', url: upstream.url });
  await admin('POST', '/services/mcp-svc/routes', { name: 'mcp-svc', paths: ['/mcp-svc'] });
  await admin('POST', '/routes/mcp-svc/plugins', { name: 'ai-mcp-proxy', config: { mode: 'passthrough-listener' } });
});

after(async () => {
  for (const t of open) await t.close().catch(() => {});
  await gw?.close();
  await sink?.close();
  await upstream?.close();
});

test('config: every Kong mode is known to the schema, bad ones refused by name', async () => {
  // every mode is built now: a listener without the tag of what it aggregates is the refusal left to show
  const r = await gw.adminRequest('POST', '/plugins', { name: 'ai-mcp-proxy', config: { mode: 'listener' } });
  assert.equal(r.status, 400);
  assert.match(r.text, /listener mode needs server.tag/);
  const bad = await gw.adminRequest('POST', '/plugins', { name: 'ai-mcp-proxy', config: { mode: 'no-such-mode' } });
  assert.equal(bad.status, 400);
  assert.match(bad.text, /expected one of/);
  const transport = await gw.adminRequest('POST', '/plugins', { name: 'ai-mcp-proxy', config: { mode: 'passthrough-listener', server: { transport: 'websocket' } } });
  assert.equal(transport.status, 400);
  assert.match(transport.text, /expected one of/);
});

test('key-auth in front: 401 without a key, in JSON-RPC error shape', async () => {
  const r = await fetch(`${gw.proxy}/mcp`, rpc({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {} }, { apikey: '' }));
  assert.equal(r.status, 401);
  const body: any = await r.json();
  assert.equal(body.jsonrpc, '2.0');
  assert.equal(body.id, null);
  assert.equal(typeof body.error.code, 'number');
});

test('tools (paged), resources and prompts through the gateway; credentials: the gateway adds its own, the client keeps its key', async () => {
  const before = upstream.seen.length;
  const { client, transport } = await connect('/mcp');
  assert.equal(client.getServerVersion()?.name, 'test-upstream');
  const { names, pages } = await allTools(client);
  assert.equal(pages, Math.ceil(names.length / PAGE));
  assert.ok(names.includes('echo') && names.includes('t11'), names.join());
  const echoed = await client.callTool({ name: 'echo', arguments: { text: 'hi there' } });
  assert.deepEqual(echoed.content, [{ type: 'text', text: 'hi there' }]);
  const note = await client.readResource({ uri: 'note://one' });
  assert.equal((note.contents[0] as { text: string }).text, 'the note text');
  const prompt = await client.getPrompt({ name: 'greet', arguments: { name: 'Ada' } });
  assert.deepEqual(prompt.messages[0].content, { type: 'text', text: 'Hello, Ada!' });
  assert.equal(await client.ping().then(() => 'pong'), 'pong');

  const seen = upstream.seen.slice(before);
  assert.ok(seen.length >= 6);
  for (const s of seen) {
    assert.equal(s.headers.authorization, UPSTREAM_TOKEN, 'the gateway adds the upstream credential');
    assert.equal(s.headers.apikey, undefined, "the client's key stays at the gateway");
    // the client holds the gateway's session id, the upstream sees its own
    if (s.headers['mcp-session-id']) assert.notEqual(s.headers['mcp-session-id'], transport.sessionId);
  }
  await transport.terminateSession();
});

test("the route's service as the upstream (Kong's configuration), no auth on the route", async () => {
  const { client, transport } = await connect('/mcp-svc', null);
  const r = await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } });
  assert.deepEqual(r.content, [{ type: 'text', text: '5' }]);
  await transport.terminateSession();
});

test('progress notifications of a slow tool reach the client', async () => {
  const { client, transport } = await connect('/mcp');
  await expectProgress(client, 'slow');
  await transport.terminateSession();
});

test("server notifications: a logging message on the call's stream, tools/list_changed on the session's own stream", async () => {
  const { client, transport } = await connect('/mcp');
  await expectServerNotifications(client, 'notify', () => upstream.sendToolListChanged());
  assert.ok(upstream.seen.some((s) => s.method === 'GET' && s.headers['mcp-session-id'] !== undefined), 'through the session stream');
  await transport.terminateSession();
});

test('cancellation: the client cancels, the server hears it, the session goes on', async () => {
  const { client, transport } = await connect('/mcp');
  const ac = new AbortController();
  const before = upstream.cancelled.length;
  const call = client.callTool({ name: 'wait', arguments: {} }, undefined, { signal: ac.signal });
  await until('the call reaches the server', () => upstream.seen.some((s) => s.toolName === 'wait' && s.headers['mcp-session-id'] !== undefined));
  ac.abort('changed my mind');
  await assert.rejects(call);
  await until('the server sees the cancellation', () => upstream.cancelled.length === before + 1);
  const r = await client.callTool({ name: 'echo', arguments: { text: 'still here' } });
  assert.deepEqual(r.content, [{ type: 'text', text: 'still here' }]);
  await transport.terminateSession();
});

test('a stalled server: the call ends with a timeout error, the session is closed at the gateway and upstream', async () => {
  const { client } = await connect('/mcp');
  const deletedBefore = upstream.deleted.length;
  await assert.rejects(client.callTool({ name: 'hang', arguments: {} }), (e: unknown) => e instanceof McpError && e.code === -32001 && /timed out/i.test(e.message));
  await assert.rejects(client.listTools(), /404|Session not found/);
  await until('the gateway ends the upstream session', () => upstream.deleted.length === deletedBefore + 1);
});

test("a server that drops the connection mid-stream: the client's stream ends with an error, the session is cleaned up", async () => {
  const { client } = await connect('/mcp');
  const deletedBefore = upstream.deleted.length;
  await assert.rejects(client.callTool({ name: 'crash', arguments: {} }), (e: unknown) => e instanceof McpError && e.code === -32000);
  await assert.rejects(client.listTools(), /404|Session not found/);
  await until('the gateway ends the upstream session', () => upstream.deleted.length === deletedBefore + 1);
});

test('bad input: invalid JSON -32700, invalid JSON-RPC -32600, unknown or foreign session 404, no session 400, oversize 413', async () => {
  const parse = await fetch(`${gw.proxy}/mcp`, rpc('{"jsonrpc": "2.0", "id": 1,'));
  assert.equal(parse.status, 400);
  assert.equal(((await parse.json()) as any).error.code, -32700);
  const invalid = await fetch(`${gw.proxy}/mcp`, rpc({ jsonrpc: '1.0', id: 7, method: 'tools/list' }));
  assert.equal(invalid.status, 400);
  assert.deepEqual(await invalid.json(), { jsonrpc: '2.0', id: 7, error: { code: -32600, message: "Invalid Request: jsonrpc must be exactly '2.0'" } });
  const nullId = await fetch(`${gw.proxy}/mcp`, rpc({ jsonrpc: '2.0', id: null, method: 'tools/list' }));
  assert.equal(((await nullId.json()) as any).error.code, -32600);
  const unknown = await fetch(`${gw.proxy}/mcp`, rpc({ jsonrpc: '2.0', id: 1, method: 'tools/list' }, { 'mcp-session-id': 'no-such-session' }));
  assert.equal(unknown.status, 404);
  assert.equal(((await unknown.json()) as any).error.code, -32001);
  const none = await fetch(`${gw.proxy}/mcp`, rpc({ jsonrpc: '2.0', id: 1, method: 'tools/list' }));
  assert.equal(none.status, 400);
  const big = await fetch(`${gw.proxy}/mcp`, rpc({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { text: 'x'.repeat(70_000) } } }));
  assert.equal(big.status, 413);
  assert.equal(((await big.json()) as any).error.code, -32600);
  // a session is its consumer's: bob presenting alice's session id is told it does not exist
  const { transport } = await connect('/mcp');
  const foreign = await fetch(`${gw.proxy}/mcp`, rpc({ jsonrpc: '2.0', id: 1, method: 'tools/list' }, { apikey: BOB_KEY, 'mcp-session-id': transport.sessionId!, 'mcp-protocol-version': '2025-06-18' }));
  assert.equal(foreign.status, 404);
  // and JSON-RPC batches, gone from the protocol in 2025-06-18, are refused for such a session
  const batch = await fetch(`${gw.proxy}/mcp`, rpc([{ jsonrpc: '2.0', id: 1, method: 'ping' }], { 'mcp-session-id': transport.sessionId!, 'mcp-protocol-version': '2025-06-18' }));
  assert.equal(batch.status, 400);
  assert.equal(((await batch.json()) as any).error.code, -32600);
  await transport.terminateSession();
  const after = await fetch(`${gw.proxy}/mcp`, rpc({ jsonrpc: '2.0', id: 1, method: 'ping' }, { 'mcp-session-id': transport.sessionId ?? 'x' }));
  assert.equal(after.status, 404);
});

test('every tool call is logged and counted exactly: tool, consumer, status, sizes; arguments only with log_payloads; no credentials', async () => {
  const okBefore = await metric('modelgate_mcp_tool_calls_total', 'echo', 'ok');
  const errBefore = await metric('modelgate_mcp_tool_calls_total', 'fail', 'error');
  const durBefore = await metric('modelgate_mcp_tool_call_duration_seconds_count', 'echo', 'ok');
  const { client, transport } = await connect('/mcp-count');
  await client.callTool({ name: 'echo', arguments: { text: 'one' } });
  await client.callTool({ name: 'echo', arguments: { text: 'two' } });
  const failed = await client.callTool({ name: 'fail', arguments: {} });
  assert.equal(failed.isError, true);
  await transport.terminateSession();

  assert.equal(await metric('modelgate_mcp_tool_calls_total', 'echo', 'ok'), okBefore + 2);
  assert.equal(await metric('modelgate_mcp_tool_calls_total', 'fail', 'error'), errBefore + 1);
  assert.equal(await metric('modelgate_mcp_tool_call_duration_seconds_count', 'echo', 'ok'), durBefore + 2);

  await until('three tool calls logged', () => mcpEntries('mcp-count').flatMap((e) => e.ai.mcp.tool_calls ?? []).length === 3);
  const calls = mcpEntries('mcp-count').flatMap((e) => e.ai.mcp.tool_calls ?? []);
  // each call's entry is sent on its own: they may reach the log sink in any order
  const byTool = (a: any, b: any) => `${a.tool} ${JSON.stringify(a.arguments)}`.localeCompare(`${b.tool} ${JSON.stringify(b.arguments)}`);
  calls.sort(byTool);
  assert.deepEqual(calls.map((c: any) => [c.tool, c.status, c.consumer.username]), [['echo', 'ok', 'alice'], ['echo', 'ok', 'alice'], ['fail', 'error', 'alice']]);
  for (const c of calls) {
    assert.ok(c.duration_ms >= 0 && c.request_bytes > 0 && c.response_bytes > 0);
    assert.ok('arguments' in c, 'log_payloads is on for this route');
  }
  assert.deepEqual([calls[0].arguments, calls[1].arguments], [{ text: 'one' }, { text: 'two' }]);
  assert.equal(calls[2].error.message, 'it failed on purpose');
  // the other route logs no arguments (log_payloads off), and no entry anywhere carries a credential
  await until('the main route logged tool calls', () => mcpEntries('mcp').some((e) => (e.ai.mcp.tool_calls ?? []).length > 0));
  for (const e of mcpEntries('mcp')) for (const c of e.ai.mcp.tool_calls ?? []) assert.ok(!('arguments' in c));
  const all = sink.bodies.join('\n');
  for (const secret of [ALICE_KEY, BOB_KEY, 'upstream-mcp-token-5c1e9a2f']) assert.ok(!all.includes(secret), `${secret} leaked into a log entry`);
});

test('nothing left open: every session the tests ended is gone upstream', async () => {
  await until('the upstream holds no session', () => upstream.openSessions() === 0);
});
