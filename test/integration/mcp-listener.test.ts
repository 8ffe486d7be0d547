/**
 * ai-mcp-proxy in `listener` mode (issue 23) against the real gateway: one MCP endpoint that
 * aggregates the tools of two upstream MCP servers (the official SDK's McpServer, fronted by two
 * `passthrough-listener` plugins tagged `agg`) and of a `conversion-only` plugin (a gateway route
 * as a tool) under one client session, with name prefixes; a
 * third tagged member whose server is down (its tools missing, a warning logged, its calls a
 * JSON-RPC error); the per-tool ACL (on the listener and on a member, names and globs) hiding
 * and refusing tools for one consumer and not another; a per-tool rate limit; notifications
 * (progress, logging, list_changed) reaching the client; the upstream sessions ended with the
 * client's; log entries and Prometheus series counted exactly. The official SDK is the client.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { Gateway, adminOk } from '../helpers/gateway.ts';
import { LogSink } from '../helpers/log-sink.ts';
import { allTools, connectMcp, expectProgress, expectServerNotifications, httpLogTo, toolMetric, until } from '../helpers/mcp.ts';
import { startMcpUpstream, type McpUpstream } from '../mocks/mcp-server.ts';

const ALICE_KEY = 'alice-listener-key-61f0a9c2';
const BOB_KEY = 'bob-listener-key-0d7e55b3';
const PAGE = 10;
const LIMIT = 3;

let gw: Gateway;
let sink: LogSink;
let up1: McpUpstream;
let up2: McpUpstream;
const open: StreamableHTTPClientTransport[] = [];

/** The 20 tools test/mocks/mcp-server.ts registers. */
const UPSTREAM_TOOLS = ['echo', 'add', 'fail', 'slow', 'wait', 'hang', 'crash', 'notify', ...Array.from({ length: 12 }, (_, i) => `t${String(i).padStart(2, '0')}`)];

const admin = (method: string, url: string, body?: unknown) => adminOk(gw, method, url, body);

const connect = (key: string) => connectMcp(`${gw.proxy}/hub`, key, open, 'modelgate-listener-test');

const metric = (name: string, tool: string, status: string) => toolMetric(gw, name, tool, status);

function hubCalls(): any[] {
  const out: any[] = [];
  for (const b of sink.bodies) for (const e of [JSON.parse(b)].flat()) if (e.route?.name === 'hub' && e.ai?.mcp) out.push(...(e.ai.mcp.tool_calls ?? []));
  return out;
}

/** A loopback port nothing listens on: the down member's server. */
async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

before(async () => {
  up1 = await startMcpUpstream({ pageSize: 7 });
  up2 = await startMcpUpstream();
  sink = await new LogSink().start();
  gw = await Gateway.start({ workers: 2 });
  await admin('POST', '/consumers', { username: 'alice' });
  await admin('POST', '/consumers/alice/key-auth', { key: ALICE_KEY });
  await admin('POST', '/consumers', { username: 'bob' });
  await admin('POST', '/consumers/bob/key-auth', { key: BOB_KEY });
  const member = (name: string, url: string, extra: Record<string, unknown> = {}) => ({ name: 'ai-mcp-proxy', tags: ['agg'], config: { mode: 'passthrough-listener', server: { url, timeout: 1000 }, ...extra } });
  await admin('POST', '/routes', { name: 'alpha', paths: ['/alpha'] });
  // the member's own ACL, a glob over consumers: bob does not get alpha's notify, through the listener either
  await admin('POST', '/routes/alpha/plugins', member('alpha', up1.url, { tools: [{ name: 'notify', description: 'Sends notifications', acl: { deny: ['b*'] } }] }));
  await admin('POST', '/routes', { name: 'beta', paths: ['/beta'] });
  await admin('POST', '/routes/beta/plugins', member('beta', up2.url));
  await admin('POST', '/routes', { name: 'gamma', paths: ['/gamma'] });
  await admin('POST', '/routes/gamma/plugins', member('gamma', `http://127.0.0.1:${await closedPort()}/mcp`));
  // a conversion-only member (conversion.ts): its tool is a gateway route, called through the gateway
  await admin('POST', '/routes', { name: 'shoprest', paths: ['/shoprest'] });
  await admin('POST', '/routes/shoprest/plugins', { name: 'request-termination', config: { status_code: 200, message: 'pong from the shop' } });
  await admin('POST', '/routes', { name: 'shop', paths: ['/shop'] });
  await admin('POST', '/routes/shop/plugins', { name: 'ai-mcp-proxy', tags: ['agg'], config: { mode: 'conversion-only', tools: [{ name: 'ping', description: 'Pings the shop', method: 'GET', path: '/shoprest' }] } });
  // not tagged: never aggregated
  await admin('POST', '/routes', { name: 'delta', paths: ['/delta'] });
  await admin('POST', '/routes/delta/plugins', { name: 'ai-mcp-proxy', tags: ['other'], config: { mode: 'passthrough-listener', server: { url: up2.url } } });

  await admin('POST', '/routes', { name: 'hub', paths: ['/hub'] });
  await admin('POST', '/routes/hub/plugins', {
    name: 'ai-mcp-proxy',
    config: {
      mode: 'listener',
      server: { tag: 'agg', tools_page_size: PAGE },
      // the listener's ACL names the prefixed tools: beta_add is alice's only
      tools: [{ name: 'beta_add', description: 'Adds', acl: { allow: ['alice'] } }],
      tool_rate_limits: [{ tools: ['beta_ech?'], limit: LIMIT, window_size: 86400 }],
    },
  });
  await admin('POST', '/routes/hub/plugins', { name: 'key-auth', config: { key_names: ['apikey'] } });
  await admin('POST', '/routes/hub/plugins', httpLogTo(sink));
});

after(async () => {
  for (const t of open) await t.close().catch(() => {});
  await gw?.close();
  await sink?.close();
  await up1?.close();
  await up2?.close();
});

test('config: a listener needs the tag of what it aggregates; consumer groups and OAuth ACL subjects are refused, not ignored', async () => {
  const noTag = await gw.adminRequest('POST', '/plugins', { name: 'ai-mcp-proxy', config: { mode: 'listener' } });
  assert.equal(noTag.status, 400);
  assert.match(noTag.text, /listener mode needs server.tag/);
  const groups = await gw.adminRequest('POST', '/plugins', { name: 'ai-mcp-proxy', config: { mode: 'passthrough-listener', include_consumer_groups: true } });
  assert.equal(groups.status, 400);
  assert.match(groups.text, /no consumer groups/);
  const oauth = await gw.adminRequest('POST', '/plugins', { name: 'ai-mcp-proxy', config: { mode: 'passthrough-listener', acl_attribute_type: 'oauth_access_token' } });
  assert.equal(oauth.status, 400);
});

test('tools/list: both servers merged with prefixes and paged by the gateway; the down member left out with a warning; ACLs hide per consumer', async () => {
  const { client, transport } = await connect(ALICE_KEY);
  assert.equal(client.getServerVersion()?.name, 'modelgate-mcp-listener');
  const alice = await allTools(client);
  const expected = [...UPSTREAM_TOOLS.map((t) => `alpha_${t}`), ...UPSTREAM_TOOLS.map((t) => `beta_${t}`), 'shop_ping'];
  assert.deepEqual([...alice.names].sort(), [...expected].sort());
  assert.equal(alice.pages, Math.ceil(expected.length / PAGE));
  assert.ok(!alice.names.some((n) => n.startsWith('gamma_') || n.startsWith('delta_')));
  await until('the down member is logged', () => /MCP listener: a member server failed/.test(gw.logs) && gw.logs.includes('"member":"gamma"'));
  await transport.terminateSession();

  const { client: bobClient, transport: bobTransport } = await connect(BOB_KEY);
  const bob = await allTools(bobClient);
  assert.deepEqual([...bob.names].sort(), expected.filter((n) => n !== 'beta_add' && n !== 'alpha_notify').sort());
  await bobTransport.terminateSession();
});

test('tools/call: routed by prefix to the right server with the prefix stripped; ACL refusals never reach a server; the down member is a JSON-RPC error', async () => {
  const { client, transport } = await connect(ALICE_KEY);
  const seen1 = up1.seen.length;
  const seen2 = up2.seen.length;
  assert.deepEqual((await client.callTool({ name: 'alpha_echo', arguments: { text: 'via hub' } })).content, [{ type: 'text', text: 'via hub' }]);
  assert.deepEqual((await client.callTool({ name: 'beta_add', arguments: { a: 2, b: 3 } })).content, [{ type: 'text', text: '5' }]);
  assert.deepEqual(up1.seen.slice(seen1).filter((s) => s.toolName).map((s) => s.toolName), ['echo']);
  assert.deepEqual(up2.seen.slice(seen2).filter((s) => s.toolName).map((s) => s.toolName), ['add']);
  const shop = await client.callTool({ name: 'shop_ping', arguments: {} });
  assert.equal(shop.isError, undefined);
  assert.match((shop.content as { text: string }[])[0].text, /pong from the shop/);
  const failed = await client.callTool({ name: 'alpha_fail', arguments: {} });
  assert.equal(failed.isError, true);
  await assert.rejects(client.callTool({ name: 'gamma_echo', arguments: { text: 'x' } }), (e: unknown) => e instanceof McpError && e.code === -32000);
  await assert.rejects(client.callTool({ name: 'nobody_echo', arguments: {} }), (e: unknown) => e instanceof McpError && e.code === -32602);
  await transport.terminateSession();

  const { client: bobClient, transport: bobTransport } = await connect(BOB_KEY);
  const before2 = up2.seen.filter((s) => s.toolName === 'add').length;
  const before1 = up1.seen.filter((s) => s.toolName === 'notify').length;
  await assert.rejects(bobClient.callTool({ name: 'beta_add', arguments: { a: 1, b: 1 } }), (e: unknown) => e instanceof McpError && e.code === -32602 && /Unknown tool or not allowed: beta_add/.test(e.message));
  await assert.rejects(bobClient.callTool({ name: 'alpha_notify', arguments: {} }), (e: unknown) => e instanceof McpError && e.code === -32602);
  assert.equal(up2.seen.filter((s) => s.toolName === 'add').length, before2, 'a refused call never reaches the server');
  assert.equal(up1.seen.filter((s) => s.toolName === 'notify').length, before1);
  assert.deepEqual((await bobClient.callTool({ name: 'beta_echo', arguments: { text: 'bob' } })).content, [{ type: 'text', text: 'bob' }]);
  await bobTransport.terminateSession();
});

test('rate limit: N calls of the tool pass, N+1 is refused with the retry time; another tool and another consumer are unaffected; counted as rate_limited', async () => {
  const okBefore = await metric('modelgate_mcp_tool_calls_total', 'beta_echo', 'ok');
  const limitedBefore = await metric('modelgate_mcp_tool_calls_total', 'beta_echo', 'rate_limited');
  const addBefore = await metric('modelgate_mcp_tool_calls_total', 'beta_add', 'ok');
  const { client, transport } = await connect(ALICE_KEY);
  for (let i = 0; i < LIMIT; i++) assert.deepEqual((await client.callTool({ name: 'beta_echo', arguments: { text: `n${i}` } })).content, [{ type: 'text', text: `n${i}` }]);
  const seen = up2.seen.filter((s) => s.toolName === 'echo').length;
  await assert.rejects(client.callTool({ name: 'beta_echo', arguments: { text: 'one too many' } }), (e: unknown) => {
    assert.ok(e instanceof McpError);
    assert.equal(e.code, -32000);
    assert.match(e.message, /Rate limit exceeded for tool beta_echo: 3 calls per 86400 s; retry after \d+ s/);
    assert.ok(Number((e.data as { retry_after: number }).retry_after) >= 1);
    return true;
  });
  assert.equal(up2.seen.filter((s) => s.toolName === 'echo').length, seen, 'the refused call never reached the server');
  assert.deepEqual((await client.callTool({ name: 'beta_add', arguments: { a: 1, b: 2 } })).content, [{ type: 'text', text: '3' }]);
  assert.deepEqual((await client.callTool({ name: 'alpha_echo', arguments: { text: 'other server' } })).content, [{ type: 'text', text: 'other server' }]);
  await transport.terminateSession();

  assert.equal(await metric('modelgate_mcp_tool_calls_total', 'beta_echo', 'ok'), okBefore + LIMIT);
  assert.equal(await metric('modelgate_mcp_tool_calls_total', 'beta_echo', 'rate_limited'), limitedBefore + 1);
  assert.equal(await metric('modelgate_mcp_tool_calls_total', 'beta_add', 'ok'), addBefore + 1);
});

test('notifications: progress and logging on the call stream, tools/list_changed on the session stream', async () => {
  const { client, transport } = await connect(ALICE_KEY);
  await expectProgress(client, 'beta_slow');
  await expectServerNotifications(client, 'alpha_notify', () => up1.sendToolListChanged());
  await transport.terminateSession();
});

test('cancellation reaches the member server; the session goes on', async () => {
  const { client, transport } = await connect(ALICE_KEY);
  const ac = new AbortController();
  const before = up1.cancelled.length;
  const call = client.callTool({ name: 'alpha_wait', arguments: {} }, undefined, { signal: ac.signal });
  await until('the call reaches the server', () => up1.seen.some((s) => s.toolName === 'wait'));
  ac.abort('changed my mind');
  await assert.rejects(call);
  await until('the server sees the cancellation', () => up1.cancelled.length === before + 1);
  assert.deepEqual((await client.callTool({ name: 'alpha_echo', arguments: { text: 'still here' } })).content, [{ type: 'text', text: 'still here' }]);
  await transport.terminateSession();
});

test('a member that stalls: that call times out (-32001), its upstream session is ended, the client session and the other member go on', async () => {
  const { client, transport } = await connect(ALICE_KEY);
  await client.callTool({ name: 'alpha_echo', arguments: { text: 'open alpha' } });
  const deleted = up1.deleted.length;
  await assert.rejects(client.callTool({ name: 'alpha_hang', arguments: {} }), (e: unknown) => e instanceof McpError && e.code === -32001 && /timed out/i.test(e.message));
  await until('the stalled upstream session is ended', () => up1.deleted.length === deleted + 1);
  assert.deepEqual((await client.callTool({ name: 'beta_echo', arguments: { text: 'x' } }).catch((e) => e)).code ?? 'ok', -32000, 'beta_echo is still rate limited for alice');
  assert.deepEqual((await client.callTool({ name: 'alpha_echo', arguments: { text: 'reopened' } })).content, [{ type: 'text', text: 'reopened' }]);
  await transport.terminateSession();
});

test('closing the client session closes its upstream sessions', async () => {
  const { client, transport } = await connect(ALICE_KEY);
  const d1 = up1.deleted.length;
  const d2 = up2.deleted.length;
  await client.callTool({ name: 'alpha_echo', arguments: { text: 'a' } });
  await client.callTool({ name: 'beta_add', arguments: { a: 0, b: 0 } });
  await transport.terminateSession();
  await until('both upstream sessions are ended', () => up1.deleted.length === d1 + 1 && up2.deleted.length === d2 + 1);
  await until('the servers hold no session', () => up1.openSessions() === 0 && up2.openSessions() === 0);
});

test('every call through the listener is logged exactly once with its status; no key in any entry', async () => {
  await until('the log entries arrived', () => hubCalls().filter((c) => c.tool === 'alpha_echo').length === 6);
  const calls = hubCalls();
  const count = (tool: string, status: string, who?: string) => calls.filter((c) => c.tool === tool && c.status === status && (who === undefined || c.consumer?.username === who)).length;
  assert.equal(count('beta_echo', 'ok', 'alice'), LIMIT);
  assert.equal(count('beta_echo', 'ok', 'bob'), 1);
  assert.equal(count('beta_echo', 'rate_limited', 'alice'), 2);
  assert.equal(count('beta_add', 'denied', 'bob'), 1);
  assert.equal(count('alpha_notify', 'denied', 'bob'), 1);
  assert.equal(count('nobody_echo', 'denied'), 1);
  assert.equal(count('gamma_echo', 'error'), 1);
  assert.equal(count('alpha_fail', 'error'), 1);
  assert.equal(count('alpha_hang', 'error'), 1);
  assert.equal(count('alpha_wait', 'error'), 1);
  assert.equal(count('beta_add', 'ok', 'alice'), 3);
  assert.equal(count('shop_ping', 'ok', 'alice'), 1);
  const all = sink.bodies.join('\n');
  for (const secret of [ALICE_KEY, BOB_KEY]) assert.ok(!all.includes(secret), `${secret} leaked into a log entry`);
});
