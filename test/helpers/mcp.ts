/**
 * What the ai-mcp-proxy integration tests share: Admin API writes that must succeed, an MCP SDK
 * client connected through the gateway (closed by the test file's `after`), waiting for what
 * another party makes true, the plugin's Prometheus series and its log entries, and the
 * notifications the mock upstream's `slow` and `notify` tools send (test/mocks/mcp-server.ts).
 */
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { LoggingMessageNotificationSchema, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import type { Gateway } from './gateway.ts';
import type { LogSink } from './log-sink.ts';

/** The official SDK's client over Streamable HTTP to `url`, authenticated with key-auth's `apikey` when a key is given; its transport is pushed to `open`. */
export async function connectMcp(url: string, key: string | null, open: StreamableHTTPClientTransport[], name = 'modelgate-test'): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: key ? { apikey: key } : {} } });
  const client = new Client({ name, version: '1.0.0' });
  await client.connect(transport);
  open.push(transport);
  return { client, transport };
}

/** Every tool the server lists, its pages followed; and how many pages it took. */
export async function allTools(client: Client): Promise<{ names: string[]; pages: number }> {
  const names: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await client.listTools(cursor ? { cursor } : {});
    names.push(...page.tools.map((t) => t.name));
    cursor = page.nextCursor;
    pages++;
  } while (cursor);
  return { names, pages };
}

/** Waits for a condition another party makes true (a log delivery, a server's handler, a DELETE arriving); the runner's timeout bounds it. */
export async function until(what: string, fn: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`never happened: ${what}`);
}

/** One series of the tool-call metrics (`modelgate_mcp_tool_calls_total`, the duration's `_count`) on the Admin API's /metrics; 0 when absent. */
export async function toolMetric(gw: Gateway, name: string, tool: string, status: string): Promise<number> {
  const text = await (await fetch(`${gw.admin}/metrics`)).text();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (line.includes(`tool="${tool}"`) && line.includes(`status="${status}"`)) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

/** The log entries http-log delivered for a route (all of them, or only those with an `ai.mcp` section). */
export function routeEntries(sink: LogSink, route: string, mcpOnly = false): any[] {
  const out: any[] = [];
  for (const b of sink.bodies) for (const e of [JSON.parse(b)].flat()) if (e.route?.name === route && (!mcpOnly || e.ai?.mcp)) out.push(e);
  return out;
}

/** http-log to the sink, one entry a batch, so tests see each entry soon after its request. */
export function httpLogTo(sink: LogSink): { name: string; config: Record<string, unknown> } {
  return { name: 'http-log', config: { http_endpoint: sink.url, queue: { max_batch_size: 1, max_coalescing_delay: 0.01 } } };
}

/** A call of the mock's `slow` tool (test/mocks/mcp-server.ts) under its name through the gateway: its three progress notifications reach the client before the answer. */
export async function expectProgress(client: Client, tool: string): Promise<void> {
  const progress: number[] = [];
  const r = await client.callTool({ name: tool, arguments: { steps: 3 } }, undefined, { onprogress: (p) => progress.push(p.progress) });
  assert.deepEqual(progress, [1, 2, 3]);
  assert.deepEqual(r.content, [{ type: 'text', text: 'done after 3' }]);
}

/**
 * A call of the mock's `notify` tool: its logging message reaches the client on the call's stream
 * (before the answer), then tools/list_changed on the session's GET stream. The client opens
 * that stream on its own schedule and servers drop what they send while none is open (the SDK's
 * behaviour), so `resend` sends it again until it arrives.
 */
export async function expectServerNotifications(client: Client, tool: string, resend: () => void): Promise<void> {
  const logs: unknown[] = [];
  let changed = 0;
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(n.params.data));
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changed++);
  await client.callTool({ name: tool, arguments: {} });
  assert.deepEqual(logs, ['hello from the server']);
  await until('tools/list_changed reaches the client on the GET stream', () => {
    if (changed > 0) return true;
    resend();
    return false;
  });
}
