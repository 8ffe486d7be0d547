/**
 * ai-mcp-proxy in passthrough-listener mode toward an OLDER upstream (issue 23): the upstream is
 * the official SDK's McpServer behind its SSEServerTransport (MCP's 2024-11-05 HTTP+SSE
 * transport, test/mocks/mcp-server.ts with `transport: 'sse'`), the client the official SDK over
 * Streamable HTTP to the gateway (`server.transport: sse`, src/plugins/ai-mcp-proxy/legacy-sse.ts).
 * Tools, resources, prompts, progress and logging on the call's stream, list_changed on the
 * session's GET stream, cancellation, credentials, a stalled and a crashing server (the session
 * closed at the gateway and upstream), calls on fresh connections (any worker of two: the
 * upstream stream's home worker serves the others, legacy-home.ts), exact log and metric counts,
 * and nothing left open upstream.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { Gateway, adminOk } from '../helpers/gateway.ts';
import { LogSink } from '../helpers/log-sink.ts';
import { connectMcp, expectProgress, expectServerNotifications, httpLogTo, routeEntries, toolMetric, until } from '../helpers/mcp.ts';
import { startMcpUpstream, type McpUpstream } from '../mocks/mcp-server.ts';

const UPSTREAM_TOKEN = 'Bearer legacy-upstream-token-4e7a1c90';
const ALICE_KEY = 'alice-legacy-key-93b0d2f6';

let gw: Gateway;
let sink: LogSink;
let upstream: McpUpstream;
const open: StreamableHTTPClientTransport[] = [];

const admin = (method: string, url: string, body?: unknown) => adminOk(gw, method, url, body);
const connect = () => connectMcp(`${gw.proxy}/old`, ALICE_KEY, open);

/** One POST on a connection of its own (node:http, no keep-alive agent): the kernel hands each new connection to either worker. */
function postAlone(body: unknown, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = http.request(`${gw.proxy}/old`, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', apikey: ALICE_KEY, ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** The JSON-RPC messages of an SSE answer. */
function sseMessages(text: string): any[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('data: '))
    .map((l) => JSON.parse(l.slice(6)));
}

before(async () => {
  upstream = await startMcpUpstream({ transport: 'sse' });
  sink = await new LogSink().start();
  gw = await Gateway.start({ workers: 2, env: { MCP_LEGACY_TOKEN: UPSTREAM_TOKEN } });
  await admin('POST', '/consumers', { username: 'alice' });
  await admin('POST', '/consumers/alice/key-auth', { key: ALICE_KEY });
  await admin('POST', '/routes', { name: 'old', paths: ['/old'] });
  await admin('POST', '/routes/old/plugins', {
    name: 'ai-mcp-proxy',
    config: { mode: 'passthrough-listener', server: { url: upstream.url, transport: 'sse', timeout: 1000, headers: { authorization: '{vault://env/MCP_LEGACY_TOKEN}' } } },
  });
  await admin('POST', '/routes/old/plugins', { name: 'key-auth', config: { key_names: ['apikey'] } });
  await admin('POST', '/routes/old/plugins', httpLogTo(sink));
});

after(async () => {
  for (const t of open) await t.close().catch(() => {});
  await gw?.close();
  await sink?.close();
  await upstream?.close();
});

test('tools, resources, prompts and ping through a legacy HTTP+SSE server; the gateway adds its credential, the client keeps its key', async () => {
  const before = upstream.seen.length;
  const { client, transport } = await connect();
  assert.equal(client.getServerVersion()?.name, 'test-upstream');
  const { tools } = await client.listTools();
  assert.ok(tools.some((t) => t.name === 'echo') && tools.some((t) => t.name === 't11'), tools.map((t) => t.name).join());
  assert.deepEqual((await client.callTool({ name: 'add', arguments: { a: 2, b: 40 } })).content, [{ type: 'text', text: '42' }]);
  const note = await client.readResource({ uri: 'note://one' });
  assert.equal((note.contents[0] as { text: string }).text, 'the note text');
  const prompt = await client.getPrompt({ name: 'greet', arguments: { name: 'Ada' } });
  assert.deepEqual(prompt.messages[0].content, { type: 'text', text: 'Hello, Ada!' });
  assert.equal(await client.ping().then(() => 'pong'), 'pong');

  const seen = upstream.seen.slice(before);
  // one stream (GET /sse), then every message POSTed to the endpoint it named
  assert.equal(seen.filter((s) => s.method === 'GET').length, 1);
  assert.ok(seen.filter((s) => s.method === 'POST').length >= 7);
  for (const s of seen) {
    assert.equal(s.headers.authorization, UPSTREAM_TOKEN, 'the gateway adds the upstream credential');
    assert.equal(s.headers.apikey, undefined, "the client's key stays at the gateway");
    assert.equal(s.headers['mcp-session-id'], undefined, 'the legacy transport names its session in the endpoint URI');
  }
  const sessions = upstream.deleted.length;
  await transport.terminateSession();
  await until('closing the session closes its upstream stream', () => upstream.deleted.length === sessions + 1);
});

test("progress and logging reach the client on the call's stream, the server's own notifications on the session's GET stream", async () => {
  const { client, transport } = await connect();
  await expectProgress(client, 'slow');
  // the legacy stream relates no message to a request: what the server sends while a call waits rides that call's stream
  await expectServerNotifications(client, 'notify', () => upstream.sendToolListChanged());
  // with no call under way, the server's own messages go to the client's GET stream (sent again until the client has opened it)
  let changed = 0;
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changed++);
  await until('tools/list_changed reaches the client on its GET stream', () => {
    if (changed > 0) return true;
    upstream.sendToolListChanged();
    return false;
  });
  await transport.terminateSession();
});

test('cancellation: the client cancels, the server hears it, the session goes on', async () => {
  const { client, transport } = await connect();
  const ac = new AbortController();
  const before = upstream.cancelled.length;
  const call = client.callTool({ name: 'wait', arguments: {} }, undefined, { signal: ac.signal });
  await until('the call reaches the server', () => upstream.seen.some((s) => s.toolName === 'wait'));
  ac.abort('changed my mind');
  await assert.rejects(call);
  await until('the server sees the cancellation', () => upstream.cancelled.length === before + 1);
  assert.deepEqual((await client.callTool({ name: 'echo', arguments: { text: 'still here' } })).content, [{ type: 'text', text: 'still here' }]);
  await transport.terminateSession();
});

test('calls on connections of their own, whichever worker takes them, are answered in the one upstream session', async () => {
  const { transport } = await connect();
  const headers = { 'mcp-session-id': transport.sessionId!, 'mcp-protocol-version': '2025-06-18' };
  const texts = Array.from({ length: 8 }, (_, i) => `call ${i}`);
  const answers = await Promise.all(texts.map((text, i) => postAlone({ jsonrpc: '2.0', id: 100 + i, method: 'tools/call', params: { name: 'echo', arguments: { text } } }, headers)));
  answers.forEach((a, i) => {
    assert.equal(a.status, 200, a.text);
    const reply = sseMessages(a.text).find((m) => m.id === 100 + i);
    assert.deepEqual(reply?.result?.content, [{ type: 'text', text: texts[i] }]);
  });
  // a notification is accepted with 202, on any worker
  const note = await postAlone({ jsonrpc: '2.0', method: 'notifications/roots/list_changed' }, headers);
  assert.equal(note.status, 202);
  assert.equal(upstream.openSessions(), 1);
  await transport.terminateSession();
  await until('the upstream stream is closed', () => upstream.openSessions() === 0);
});

test('a stalled server: the call ends with a timeout error, the session is closed at the gateway and upstream', async () => {
  const { client } = await connect();
  const before = upstream.deleted.length;
  await assert.rejects(client.callTool({ name: 'hang', arguments: {} }), (e: unknown) => e instanceof McpError && e.code === -32001 && /timed out/i.test(e.message));
  await assert.rejects(client.listTools(), /404|Session not found/);
  await until('the upstream stream is closed', () => upstream.deleted.length === before + 1);
});

test('a server that drops its stream: the waiting call ends with -32000, the session is closed', async () => {
  const { client } = await connect();
  await assert.rejects(client.callTool({ name: 'crash', arguments: {} }), (e: unknown) => e instanceof McpError && e.code === -32000);
  await assert.rejects(client.listTools(), /404|Session not found/);
});

test('a server whose stream cannot be opened: initialize is answered 502 with -32000', async () => {
  await admin('POST', '/routes', { name: 'nowhere', paths: ['/nowhere'] });
  await admin('POST', '/routes/nowhere/plugins', { name: 'ai-mcp-proxy', config: { mode: 'passthrough-listener', server: { url: upstream.url.replace('/sse', '/not-sse'), transport: 'sse', timeout: 1000 } } });
  const r = await fetch(`${gw.proxy}/nowhere`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } }),
  });
  assert.equal(r.status, 502);
  const body: any = await r.json();
  assert.equal(body.id, 1);
  assert.equal(body.error.code, -32000);
  assert.match(body.error.message, /SSE stream could not be opened/);
});

test('tool calls are logged and counted exactly, without credentials', async () => {
  const okBefore = await toolMetric(gw, 'modelgate_mcp_tool_calls_total', 'echo', 'ok');
  const loggedBefore = routeEntries(sink, 'old', true).flatMap((e) => e.ai.mcp.tool_calls ?? []).filter((c: any) => c.tool === 'echo').length;
  const { client, transport } = await connect();
  await client.callTool({ name: 'echo', arguments: { text: 'one' } });
  await client.callTool({ name: 'echo', arguments: { text: 'two' } });
  await transport.terminateSession();
  assert.equal(await toolMetric(gw, 'modelgate_mcp_tool_calls_total', 'echo', 'ok'), okBefore + 2);
  const echoes = () => routeEntries(sink, 'old', true).flatMap((e) => e.ai.mcp.tool_calls ?? []).filter((c: any) => c.tool === 'echo');
  await until('both calls logged', () => echoes().length === loggedBefore + 2);
  for (const c of echoes().slice(loggedBefore)) {
    assert.deepEqual([c.status, c.consumer.username], ['ok', 'alice']);
    assert.ok(c.request_bytes > 0 && c.response_bytes > 0);
  }
  const all = sink.bodies.join('\n');
  for (const secret of [ALICE_KEY, 'legacy-upstream-token-4e7a1c90']) assert.ok(!all.includes(secret), `${secret} leaked into a log entry`);
});

test('nothing left open: every session is gone upstream', async () => {
  await until('the upstream holds no session', () => upstream.openSessions() === 0);
});
