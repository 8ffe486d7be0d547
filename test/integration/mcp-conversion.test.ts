/**
 * ai-mcp-proxy in conversion-listener mode (issue 23) against the real gateway (two workers): the
 * official MCP SDK as the client; the gateway's own routes to an echo upstream become tools — a GET
 * with path and query parameters, a POST with a JSON body and an output schema. Calls reach the
 * upstream with the right method, path, query, headers and body THROUGH the called route's plugins:
 * key-auth sees the MCP client's consumer (its key forwarded, `server.forward_client_credentials`),
 * a rate limit counts per consumer, request-termination answers instead of the upstream; a non-2xx
 * answer is an `isError` result; bad arguments are -32602 naming the path of the first error and
 * never reach the upstream; pagination, empty resources and prompts; config-time refusals; log
 * entries and Prometheus series counted exactly.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { Gateway, adminOk } from '../helpers/gateway.ts';
import { LogSink } from '../helpers/log-sink.ts';
import { connectMcp, httpLogTo, routeEntries, toolMetric, until } from '../helpers/mcp.ts';
import { EchoServer, type Received } from '../helpers/echo-server.ts';

const ALICE_KEY = 'alice-conv-key-51c0e7a2';
const BOB_KEY = 'bob-conv-key-9d4f3b18';

let gw: Gateway;
let sink: LogSink;
let echo: EchoServer;
const open: StreamableHTTPClientTransport[] = [];

const admin = (method: string, url: string, body?: unknown) => adminOk(gw, method, url, body);

const connect = (path: string, key: string | null = ALICE_KEY) => connectMcp(gw.proxy + path, key, open);


const metric = (name: string, tool: string, status: string) => toolMetric(gw, name, tool, status);

const entries = (route: string) => routeEntries(sink, route);

/** What the echo upstream got since `from`. */
function receivedSince(from: number): Received[] {
  return echo.received.slice(from);
}

function text(result: any): string {
  return result.content[0].text;
}

async function rpcError(p: Promise<unknown>): Promise<McpError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof McpError, `expected an McpError, got ${e}`);
    return e;
  }
  assert.fail('expected a JSON-RPC error');
}

const listItems = {
  name: 'list_items',
  description: 'Lists the items of a category',
  method: 'GET',
  path: '/api/items/{category}',
  query: { source: ['mcp'] },
  headers: { 'x-tool-origin': ['modelgate'] },
  parameters: [
    { name: 'category', in: 'path', required: true, schema: { type: 'string' }, description: 'The category' },
    { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 100 } },
    { name: 'tags', in: 'query', schema: { type: 'array', items: { type: 'string' } } },
    { name: 'x-trace', in: 'header', schema: { type: 'string' } },
  ],
  annotations: { title: 'List items', read_only_hint: true },
};

const createOrder = {
  name: 'create_order',
  description: 'Creates an order',
  method: 'POST',
  path: '/api/orders',
  request_body: {
    required: true,
    content: { 'application/json': { schema: { type: 'object', properties: { item: { type: 'string' }, quantity: { type: 'integer', minimum: 1 } }, required: ['item', 'quantity'] } } },
  },
  responses: {
    '200': { description: 'the order', content: { 'application/json': { schema: { type: 'object', properties: { method: { type: 'string' }, url: { type: 'string' }, body: { type: 'string' } }, required: ['method', 'url'] } } } },
  },
};

const tools = [
  listItems,
  createOrder,
  { name: 'limited', description: 'One call per consumer per day', method: 'GET', path: '/api/limited' },
  { name: 'closed', description: 'A route request-termination closes', method: 'GET', path: '/api/closed' },
  { name: 'teapot', description: 'An upstream answering 418', method: 'GET', path: '/status/418' },
];

before(async () => {
  echo = await EchoServer.start();
  sink = await new LogSink().start();
  gw = await Gateway.start({ workers: 2 });
  await admin('POST', '/consumers', { username: 'alice' });
  await admin('POST', '/consumers/alice/key-auth', { key: ALICE_KEY });
  await admin('POST', '/consumers', { username: 'bob' });
  await admin('POST', '/consumers/bob/key-auth', { key: BOB_KEY });
  const log = httpLogTo(sink);

  // the REST routes the tools call, each with its own plugins
  await admin('POST', '/services', { name: 'api', url: echo.url });
  for (const [name, path] of [['items', '/api/items'], ['orders', '/api/orders'], ['limited', '/api/limited'], ['closed', '/api/closed'], ['status', '/status']]) {
    await admin('POST', '/services/api/routes', { name, paths: [path], strip_path: false });
    await admin('POST', `/routes/${name}/plugins`, log);
  }
  for (const name of ['items', 'orders', 'limited']) await admin('POST', `/routes/${name}/plugins`, { name: 'key-auth', config: { key_names: ['apikey'] } });
  // a day's window: the test cannot straddle it in any way that matters (a refusal is asserted, not a count)
  await admin('POST', '/routes/limited/plugins', { name: 'rate-limiting', config: { day: 1, limit_by: 'consumer' } });
  await admin('POST', '/routes/closed/plugins', { name: 'request-termination', config: { status_code: 503, message: 'closed for maintenance' } });

  const mcp = async (name: string, config: Record<string, unknown>, hideCredentials = false) => {
    await admin('POST', '/routes', { name, paths: [`/${name}`] });
    await admin('POST', `/routes/${name}/plugins`, { name: 'ai-mcp-proxy', config: { mode: 'conversion-listener', ...config } });
    await admin('POST', `/routes/${name}/plugins`, { name: 'key-auth', config: { key_names: ['apikey'], hide_credentials: hideCredentials } });
    await admin('POST', `/routes/${name}/plugins`, log);
  };
  // hide_credentials takes the key off the MCP request: the gateway still forwards the key key-auth read
  await mcp('mcp', { tools, server: { forward_client_credentials: true }, logging: { log_payloads: true } }, true);
  // the default: the client's key stays at the MCP route, so an authenticated route refuses the call
  await mcp('mcp-nocred', { tools: [listItems] });
  await mcp('mcp-many', { tools: Array.from({ length: 120 }, (_, i) => ({ name: `t${String(i).padStart(3, '0')}`, description: `tool ${i}`, method: 'GET', path: `/status/200` })) });
});

after(async () => {
  for (const t of open) await t.close().catch(() => {});
  await gw?.close();
  await sink?.close();
  await echo?.close();
});

test('config: conversion modes are accepted; a tool that could never be called is refused when written', async () => {
  const only = await gw.adminRequest('POST', '/plugins', { name: 'ai-mcp-proxy', tags: ['shop'], config: { mode: 'conversion-only', tools: [listItems] } });
  assert.equal(only.status, 201, only.text);
  await admin('DELETE', `/plugins/${only.json.id}`);
  for (const [tools, message] of [
    [[], /needs at least one entry in tools/],
    [[{ description: 'x', path: '/a/{id}' }], /\{id\} has no parameter with in: path/],
    [[{ description: 'x', name: 'a', path: '/a' }, { description: 'y', name: 'a', path: '/b' }], /'a' is used twice/],
    [[{ description: 'x', name: 'a b', path: '/a' }], /not a valid MCP tool name/],
    [[{ description: 'x', path: 'no-slash' }], /the gateway path it calls/],
  ] as const) {
    const r = await gw.adminRequest('POST', '/plugins', { name: 'ai-mcp-proxy', config: { mode: 'conversion-listener', tools } });
    assert.equal(r.status, 400, JSON.stringify(tools));
    assert.match(r.text, message);
  }
});

test('tools/list: the configured tools with input schemas built from parameters and body, output schema, annotations', async () => {
  const { client } = await connect('/mcp');
  assert.equal(client.getServerVersion()?.name, 'mcp');
  const { tools: listed, nextCursor } = await client.listTools();
  assert.equal(nextCursor, undefined);
  assert.deepEqual(listed.map((t) => t.name), ['list_items', 'create_order', 'limited', 'closed', 'teapot']);
  const li = listed[0];
  assert.deepEqual(li.inputSchema.required, ['category']);
  assert.deepEqual(Object.keys(li.inputSchema.properties ?? {}), ['category', 'limit', 'tags', 'x-trace']);
  assert.equal((li.inputSchema.properties as any).category.description, 'The category');
  assert.equal(li.title, 'List items');
  assert.equal(li.annotations?.readOnlyHint, true);
  const co = listed[1];
  assert.deepEqual(co.inputSchema.required, ['body']);
  assert.deepEqual((co.inputSchema.properties as any).body.required, ['item', 'quantity']);
  assert.equal(co.outputSchema?.type, 'object');
  assert.equal(listed[2].outputSchema, undefined);
});

test('GET tool: path, query (fixed and from arguments, arrays repeated) and headers reach the upstream through the route, as the MCP client\'s consumer', async () => {
  const { client } = await connect('/mcp');
  const from = echo.received.length;
  const r: any = await client.callTool({ name: 'list_items', arguments: { category: 'books & more', limit: 5, tags: ['a', 'b'], 'x-trace': 'trace-1' } });
  assert.equal(r.isError, undefined);
  const got = receivedSince(from);
  assert.equal(got.length, 1);
  assert.equal(got[0].method, 'GET');
  assert.equal(got[0].url, '/api/items/books%20%26%20more?source=mcp&limit=5&tags=a&tags=b');
  assert.equal(got[0].headers['x-trace'], 'trace-1');
  assert.equal(got[0].headers['x-tool-origin'], 'modelgate');
  // the items route's own key-auth identified alice: the consumer headers are that plugin's
  assert.equal(got[0].headers['x-consumer-username'], 'alice');
  // the tool result is the route's answer, as text
  assert.equal(JSON.parse(text(r)).url, got[0].url);
});

test('POST tool: the JSON body from arguments, structuredContent from the output schema', async () => {
  const { client } = await connect('/mcp', BOB_KEY);
  const from = echo.received.length;
  const r: any = await client.callTool({ name: 'create_order', arguments: { body: { item: 'pen', quantity: 2 } } });
  assert.equal(r.isError, undefined);
  const got = receivedSince(from);
  assert.equal(got.length, 1);
  assert.equal(got[0].method, 'POST');
  assert.equal(got[0].url, '/api/orders');
  assert.equal(got[0].headers['content-type'], 'application/json');
  assert.deepEqual(JSON.parse(got[0].body), { item: 'pen', quantity: 2 });
  assert.equal(got[0].headers['x-consumer-username'], 'bob');
  assert.equal(r.structuredContent.method, 'POST');
  assert.equal(r.structuredContent.url, '/api/orders');
});

test('the called route\'s plugins apply: its rate limit counts per consumer, request-termination answers, a non-2xx status is isError', async () => {
  const alice = (await connect('/mcp')).client;
  const bob = (await connect('/mcp', BOB_KEY)).client;
  const first: any = await alice.callTool({ name: 'limited', arguments: {} });
  assert.equal(first.isError, undefined);
  const second: any = await alice.callTool({ name: 'limited', arguments: {} });
  assert.equal(second.isError, true);
  assert.match(text(second), /^HTTP 429: .*API rate limit exceeded/);
  // another consumer, another counter: the route saw who called
  const other: any = await bob.callTool({ name: 'limited', arguments: {} });
  assert.equal(other.isError, undefined);

  const from = echo.received.length;
  const closed: any = await alice.callTool({ name: 'closed', arguments: {} });
  assert.equal(closed.isError, true);
  assert.match(text(closed), /^HTTP 503: .*closed for maintenance/);
  assert.equal(receivedSince(from).length, 0, 'request-termination answered: nothing reached the upstream');

  const teapot: any = await alice.callTool({ name: 'teapot', arguments: {} });
  assert.equal(teapot.isError, true);
  assert.match(text(teapot), /^HTTP 418: \{/);
});

test('without forward_client_credentials the client\'s key stays at the MCP route: an authenticated route answers 401', async () => {
  const { client } = await connect('/mcp-nocred');
  const from = echo.received.length;
  const r: any = await client.callTool({ name: 'list_items', arguments: { category: 'x' } });
  assert.equal(r.isError, true);
  assert.match(text(r), /^HTTP 401: .*No API key found/);
  assert.equal(receivedSince(from).length, 0);
});

test('arguments are checked against the input schema: -32602 naming the first error, nothing sent', async () => {
  const { client } = await connect('/mcp');
  const from = echo.received.length;
  const missing = await rpcError(client.callTool({ name: 'list_items', arguments: { limit: 3 } }));
  assert.equal(missing.code, -32602);
  assert.match(missing.message, /list_items: \/category: is required/);
  const wrongType = await rpcError(client.callTool({ name: 'list_items', arguments: { category: 'a', limit: 'many' } }));
  assert.match(wrongType.message, /\/limit: must be integer/);
  const nested = await rpcError(client.callTool({ name: 'create_order', arguments: { body: { item: 'pen', quantity: 0 } } }));
  assert.match(nested.message, /\/body\/quantity: must be >= 1/);
  const traversal = await rpcError(client.callTool({ name: 'list_items', arguments: { category: '..' } }));
  assert.match(traversal.message, /\/category: must be a non-empty path segment/);
  const unknown = await rpcError(client.callTool({ name: 'no_such_tool', arguments: {} }));
  assert.equal(unknown.code, -32602);
  assert.equal(receivedSince(from).length, 0);
});

test('protocol: tools/list pages, resources and prompts are empty, ping, GET is 405, a closed session is gone', async () => {
  const { client, transport } = await connect('/mcp-many');
  const names: string[] = [];
  const sizes: number[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listTools(cursor ? { cursor } : {});
    names.push(...page.tools.map((t) => t.name));
    sizes.push(page.tools.length);
    cursor = page.nextCursor;
  } while (cursor);
  assert.deepEqual(sizes, [50, 50, 20]);
  assert.equal(new Set(names).size, 120);
  const bad = await rpcError(client.listTools({ cursor: 'nope' }));
  assert.equal(bad.code, -32602);
  assert.deepEqual((await client.listResources()).resources, []);
  assert.deepEqual((await client.listPrompts()).prompts, []);
  assert.deepEqual(await client.ping(), {});

  const sessionId = transport.sessionId!;
  const headers = { apikey: ALICE_KEY, 'mcp-session-id': sessionId, accept: 'application/json, text/event-stream', 'content-type': 'application/json' };
  const get = await fetch(`${gw.proxy}/mcp-many`, { headers: { ...headers, accept: 'text/event-stream' } });
  assert.equal(get.status, 405);
  const unknownMethod = await fetch(`${gw.proxy}/mcp-many`, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'sampling/nothing' }) });
  assert.equal(((await unknownMethod.json()) as any).error.code, -32601);
  // another consumer presenting the session's id is told it does not exist
  const stolen = await fetch(`${gw.proxy}/mcp-many`, { method: 'POST', headers: { ...headers, apikey: BOB_KEY }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }) });
  assert.equal(stolen.status, 404);
  await transport.terminateSession();
  const after = await fetch(`${gw.proxy}/mcp-many`, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }) });
  assert.equal(after.status, 404);
});

test('every tool call is logged and counted exactly, and the called route logs its own request with the same consumer', async () => {
  const okBefore = await metric('modelgate_mcp_tool_calls_total', 'list_items', 'ok');
  const errBefore = await metric('modelgate_mcp_tool_calls_total', 'teapot', 'error');
  const badBefore = await metric('modelgate_mcp_tool_calls_total', 'create_order', 'error');
  const durBefore = await metric('modelgate_mcp_tool_call_duration_seconds_count', 'list_items', 'ok');
  const loggedBefore = entries('mcp').flatMap((e) => e.ai?.mcp?.tool_calls ?? []).length;
  const itemsBefore = entries('items').length;
  const { client } = await connect('/mcp');
  await client.callTool({ name: 'list_items', arguments: { category: 'one' } });
  await client.callTool({ name: 'list_items', arguments: { category: 'two' } });
  await client.callTool({ name: 'teapot', arguments: {} });
  await rpcError(client.callTool({ name: 'create_order', arguments: { body: {} } }));

  assert.equal(await metric('modelgate_mcp_tool_calls_total', 'list_items', 'ok'), okBefore + 2);
  assert.equal(await metric('modelgate_mcp_tool_calls_total', 'teapot', 'error'), errBefore + 1);
  assert.equal(await metric('modelgate_mcp_tool_calls_total', 'create_order', 'error'), badBefore + 1);
  assert.equal(await metric('modelgate_mcp_tool_call_duration_seconds_count', 'list_items', 'ok'), durBefore + 2);

  await until('four tool calls logged', () => entries('mcp').flatMap((e) => e.ai?.mcp?.tool_calls ?? []).length === loggedBefore + 4);
  const calls = entries('mcp').flatMap((e) => e.ai?.mcp?.tool_calls ?? []).slice(loggedBefore);
  assert.deepEqual(
    calls.map((c: any) => [c.tool, c.status, c.consumer.username]).sort(),
    [['create_order', 'error', 'alice'], ['list_items', 'ok', 'alice'], ['list_items', 'ok', 'alice'], ['teapot', 'error', 'alice']],
  );
  for (const c of calls) assert.ok(c.duration_ms >= 0 && c.request_bytes > 0 && c.response_bytes > 0 && 'arguments' in c);
  assert.equal(entries('mcp').find((e) => (e.ai?.mcp?.tool_calls ?? []).some((c: any) => c.tool === 'teapot'))?.ai.mcp.mode, 'conversion-listener');
  // the called route's own log entries: one per call, with the consumer its key-auth found
  await until('the items route logged both calls', () => entries('items').length === itemsBefore + 2);
  for (const e of entries('items').slice(itemsBefore)) assert.equal(e.consumer.username, 'alice');
  const all = sink.bodies.join('\n');
  for (const secret of [ALICE_KEY, BOB_KEY]) assert.ok(!all.includes(secret), `${secret} leaked into a log entry`);
});
