/**
 * The agent loop through the gateway, end to end (issue 23): an agent written with the official
 * OpenAI SDK and the official MCP SDK, both pointed at the gateway. The model (the OpenAI mock
 * behind an `ai-proxy` route) is given the MCP server's tools and asks for one (a forced
 * tool_choice: test/mocks/openai.ts answers with a call whose arguments follow the tool's input
 * schema); the agent calls that tool through the `ai-mcp-proxy` route, sends the result back as
 * a `tool` message, and gets the model's final answer. Then the gateway's two records of the loop:
 * both LLM calls in the spend log, the tool call in the MCP log entry, under the same consumer.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import OpenAI from 'openai';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Gateway, adminOk } from '../helpers/gateway.ts';
import { LogSink } from '../helpers/log-sink.ts';
import { httpLogTo } from '../helpers/mcp.ts';
import { startMockProvider, type MockProvider } from '../mocks/providers.ts';
import { startMcpUpstream, type McpUpstream } from '../mocks/mcp-server.ts';

const OPENAI_KEY = 'sk-openai-agentloop-7c3f0e19';
const ALICE_KEY = 'alice-agentloop-key-2b8d4a60';

let gw: Gateway;
let openai: MockProvider;
let mcp: McpUpstream;
let sink: LogSink;
let aliceId: string;

const admin = (method: string, url: string, body?: unknown) => adminOk(gw, method, url, body);

/** The spend rows once there are `n` (written by the primary after the answer; polled, the runner's timeout bounds it). */
async function spendRows(n: number): Promise<any[]> {
  const file = path.join(gw.prefix, 'spend.db');
  for (;;) {
    if (existsSync(file)) {
      const db = new DatabaseSync(file, { readOnly: true });
      try {
        const rows = db.prepare('SELECT * FROM spend_requests ORDER BY time, request_id').all() as any[];
        if (rows.length >= n) return rows;
      } catch {
        // the table is created with the first batch
      } finally {
        db.close();
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

before(async () => {
  openai = await startMockProvider('openai', { key: OPENAI_KEY });
  mcp = await startMcpUpstream();
  sink = await new LogSink().start();
  gw = await Gateway.start({ workers: 1 });
  aliceId = (await admin('POST', '/consumers', { username: 'alice' })).id;
  await admin('POST', '/consumers/alice/key-auth', { key: ALICE_KEY });
  await admin('POST', '/routes', { name: 'llm', paths: ['/llm'] });
  await admin('POST', '/routes/llm/plugins', { name: 'key-auth', config: { key_names: ['apikey'] } });
  await admin('POST', '/routes/llm/plugins', {
    name: 'ai-proxy',
    config: { route_type: 'llm/v1/chat', auth: { header_name: 'Authorization', header_value: `Bearer ${OPENAI_KEY}` }, model: { provider: 'openai', name: 'gpt-4o', options: { upstream_url: `${openai.url}/v1/chat/completions` } } },
  });
  await admin('POST', '/routes', { name: 'tools', paths: ['/tools'] });
  await admin('POST', '/routes/tools/plugins', { name: 'key-auth', config: { key_names: ['apikey'] } });
  await admin('POST', '/routes/tools/plugins', { name: 'ai-mcp-proxy', config: { mode: 'passthrough-listener', server: { url: mcp.url } } });
  await admin('POST', '/routes/tools/plugins', httpLogTo(sink));
});

after(async () => {
  await gw?.close();
  await sink?.close();
  await openai?.close();
  await mcp?.close();
});

test('an agent: the model asks for an MCP tool, the agent calls it through the gateway, the model answers; spend rows and the tool-call log both recorded', async () => {
  const llm = new OpenAI({ baseURL: `${gw.proxy}/llm`, apiKey: 'unused-by-the-gateway', defaultHeaders: { apikey: ALICE_KEY }, maxRetries: 0 });
  const transport = new StreamableHTTPClientTransport(new URL(`${gw.proxy}/tools`), { requestInit: { headers: { apikey: ALICE_KEY } } });
  const mcpClient = new Client({ name: 'agent', version: '1.0.0' });
  await mcpClient.connect(transport);

  // the agent offers the model the MCP server's `add` tool, in OpenAI's function shape
  const listed = (await mcpClient.listTools()).tools.filter((t) => t.name === 'add');
  assert.equal(listed.length, 1);
  const tools: OpenAI.ChatCompletionTool[] = listed.map((t) => ({ type: 'function', function: { name: t.name, description: t.description, parameters: t.inputSchema as Record<string, unknown> } }));
  const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Add two numbers for me.' }];

  const first = await llm.chat.completions.create({ model: 'gpt-4o', messages, tools, tool_choice: 'required' });
  assert.equal(first.choices[0].finish_reason, 'tool_calls');
  const toolCall = first.choices[0].message.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall;
  assert.equal(toolCall.function.name, 'add');
  const args = JSON.parse(toolCall.function.arguments) as { a: number; b: number };
  assert.equal(typeof args.a, 'number');
  assert.equal(typeof args.b, 'number');

  const result = await mcpClient.callTool({ name: toolCall.function.name, arguments: args });
  const resultText = (result.content as { type: string; text: string }[])[0].text;
  assert.equal(resultText, String(args.a + args.b), 'the MCP server computed it');

  messages.push(first.choices[0].message, { role: 'tool', tool_call_id: toolCall.id, content: resultText });
  // the mock cannot reason: it is told its final words, which name the tool's result
  openai.nextResponse({ text: `The sum is ${resultText}.` });
  const final = await llm.chat.completions.create({ model: 'gpt-4o', messages, tools });
  assert.equal(final.choices[0].finish_reason, 'stop');
  assert.equal(final.choices[0].message.content, `The sum is ${resultText}.`);
  // the provider got the tool's result back through the gateway, tied to the call it answers
  const sent = JSON.parse(openai.requests.at(-1)!.body.toString()) as { messages: any[] };
  const toolMessage = sent.messages.find((m) => m.role === 'tool');
  assert.deepEqual({ id: toolMessage.tool_call_id, content: toolMessage.content }, { id: toolCall.id, content: resultText });
  await transport.terminateSession();

  // the gateway's records: two LLM calls in the spend log, one tool call in the MCP log, all alice's
  const rows = await spendRows(2);
  assert.equal(rows.length, 2);
  for (const r of rows) {
    assert.equal(r.consumer_id, aliceId);
    assert.equal(r.status, 200);
    assert.equal(r.model_requested, 'gpt-4o');
    assert.ok(r.total_tokens > 0);
  }
  for (;;) {
    const calls = sink.bodies.flatMap((b) => [JSON.parse(b)].flat()).filter((e) => e.route?.name === 'tools').flatMap((e) => e.ai?.mcp?.tool_calls ?? []);
    if (calls.length > 0) {
      assert.deepEqual(
        calls.map((c: any) => [c.tool, c.status, c.consumer.username]),
        [['add', 'ok', 'alice']],
      );
      break;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
});
