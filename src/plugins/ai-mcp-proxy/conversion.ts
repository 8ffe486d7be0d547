/**
 * `conversion-listener`: the route IS an MCP server (Streamable HTTP, JSON answers) whose tools
 * are the config's `tools[]` (conversion-tools.ts); a tools/call is validated against the tool's
 * input schema and answered by calling the gateway's own route for the tool's path, through the
 * gateway (conversion-call.ts). Sessions are the gateway's (session.ts): bound to the consumer
 * and route that opened them, found on any worker of the node. Resources and prompts are empty
 * lists; the server has no stream of its own (GET is 405, as the transport allows).
 *
 * `conversion-only` serves nothing: its route proxies as any route does, and a `listener` whose
 * `server.tag` is among the plugin's `tags[]` lists its tools (listener-members.ts) and calls
 * them with `runConversionTool`, which is the same validation and call this mode makes.
 */
import type { RequestContext } from '../../proxy/context.ts';
import type { CompiledMcp } from './compile.ts';
import { INTERNAL_ERROR, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, errorResponse, isRequest, parseMessages, type RpcError, type RpcRequest, type RpcResponse } from './jsonrpc.ts';
import { sessions } from './session.ts';
import { openSession, requireSession } from './client-session.ts';
import { checkToolCall, deniedError, mcpLogSection, toolCallEnded, visibleTools, type ToolCall } from './governance.ts';
import { SESSION_HEADER, answerJson } from './transport.ts';
import { conversionTools, type ConversionTool } from './conversion-tools.ts';
import { TOOL_CALL_HEADER, argumentsProblem, callThroughGateway, type ToolAnswer } from './conversion-call.ts';
import { checkSchema } from './json-schema.ts';

/** Protocol revisions this server speaks, newest first (modelcontextprotocol.io, "Versioning"). */
export const PROTOCOL_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'];
/** From this revision on, JSON-RPC batches are gone (the 2025-06-18 changelog). */
const NO_BATCH_FROM = '2025-06-18';
/** Tools per tools/list page. */
export const PAGE_SIZE = 50;
/** MCP's code for an unknown resource (specification, "Resources": Error Handling). */
const RESOURCE_NOT_FOUND = -32002;

export async function serveConversion(ctx: RequestContext, conf: CompiledMcp): Promise<void> {
  mcpLogSection(ctx).mode = 'conversion-listener';
  switch (ctx.method) {
    case 'POST':
      return post(ctx, conf);
    case 'DELETE':
      return del(ctx);
    case 'GET':
      // the server sends nothing unasked (no notifications of its own): the transport's 405
      return answerJson(ctx, 405, errorResponse(null, INVALID_REQUEST, 'This MCP server offers no stream of its own: send requests with POST'), { allow: 'POST, DELETE' });
    default:
      return answerJson(ctx, 405, errorResponse(null, INVALID_REQUEST, `Method ${ctx.method} is not part of MCP's Streamable HTTP transport`), { allow: 'POST, DELETE' });
  }
}

async function del(ctx: RequestContext): Promise<void> {
  const s = await requireSession(ctx);
  if (!s) return;
  sessions.close(s, 'client');
  answerJson(ctx, 200, undefined);
}

/** The client's version if this server speaks it, else the newest this server speaks (the client then decides). */
export function negotiate(requested: unknown): string {
  return typeof requested === 'string' && PROTOCOL_VERSIONS.includes(requested) ? requested : PROTOCOL_VERSIONS[0];
}

async function post(ctx: RequestContext, conf: CompiledMcp): Promise<void> {
  const limit = conf.maxBodySize > 0 ? conf.maxBodySize : ctx.settings.maxBodySize;
  const body = await ctx.readBody(limit); // too large: 413 in JSON-RPC's envelope (handler.errorBody)
  const parsed = parseMessages(body);
  if (!parsed.ok) return answerJson(ctx, 400, parsed.error);
  const { messages, batch } = parsed;
  const section = mcpLogSection(ctx);
  section.methods = messages.map((m) => ('method' in m ? m.method : 'response'));

  const init = messages.find((m) => isRequest(m) && m.method === 'initialize') as RpcRequest | undefined;
  if (init) {
    if (batch) return answerJson(ctx, 400, errorResponse(init.id, INVALID_REQUEST, 'Invalid Request: initialize must not be part of a batch'));
    const s = openSession(ctx, conf);
    if (!s) return answerJson(ctx, 503, errorResponse(init.id, INTERNAL_ERROR, 'Too many open MCP sessions on this gateway; try again later'));
    s.protocolVersion = negotiate(init.params?.protocolVersion);
    section.protocol_version = s.protocolVersion;
    // shared before the client sees the id: its next request may reach another worker
    await sessions.share(s);
    return answerJson(ctx, 200, { jsonrpc: '2.0', id: init.id, result: initializeResult(ctx, s.protocolVersion) }, { [SESSION_HEADER]: s.id });
  }

  const session = await requireSession(ctx);
  if (!session) return;
  if (batch && session.protocolVersion !== null && session.protocolVersion >= NO_BATCH_FROM) {
    return answerJson(ctx, 400, errorResponse(null, INVALID_REQUEST, `Invalid Request: JSON-RPC batches are not part of MCP ${session.protocolVersion}`));
  }
  // notifications (initialized, cancelled) and responses need no answer: every call here is answered before the POST ends
  const requests = messages.filter(isRequest);
  if (requests.length === 0) return answerJson(ctx, 202, undefined);
  const answers = await Promise.all(requests.map((m) => answer(ctx, conf, m, batch ? Buffer.byteLength(JSON.stringify(m)) : body.length)));
  answerJson(ctx, 200, batch ? answers : answers[0]);
}

function initializeResult(ctx: RequestContext, version: string): Record<string, unknown> {
  return {
    protocolVersion: version,
    // resources and prompts are declared (empty lists) so clients that list them get an answer, not an error
    capabilities: { tools: { listChanged: false }, resources: {}, prompts: {} },
    serverInfo: { name: ctx.route.name ?? 'modelgate-mcp', version: '1.0.0' },
  };
}

function ok(id: RpcRequest['id'], result: unknown): RpcResponse {
  return { jsonrpc: '2.0', id, result };
}

async function answer(ctx: RequestContext, conf: CompiledMcp, m: RpcRequest, bytes: number): Promise<RpcResponse> {
  switch (m.method) {
    case 'ping':
      return ok(m.id, {});
    case 'tools/list':
      return listTools(ctx, conf, m);
    case 'tools/call':
      return callTool(ctx, conf, m, bytes);
    case 'resources/list':
      return ok(m.id, { resources: [] });
    case 'resources/templates/list':
      return ok(m.id, { resourceTemplates: [] });
    case 'prompts/list':
      return ok(m.id, { prompts: [] });
    case 'resources/read':
      return errorResponse(m.id, RESOURCE_NOT_FOUND, 'Resource not found', { uri: m.params?.uri ?? null });
    case 'prompts/get':
      return errorResponse(m.id, INVALID_PARAMS, `Invalid params: unknown prompt ${String(m.params?.name ?? '')}`);
    case 'initialize':
      return errorResponse(m.id, INVALID_REQUEST, 'Invalid Request: the session is already initialized');
    default:
      return errorResponse(m.id, METHOD_NOT_FOUND, `Method not found: ${m.method}`);
  }
}

/** A cursor is the offset of the page's first tool, opaque to the client. */
function readCursor(c: unknown): number | null {
  if (c === undefined) return 0;
  if (typeof c !== 'string' || !/^o[0-9]{1,7}$/.test(c)) return null;
  return Number(c.slice(1));
}

function listTools(ctx: RequestContext, conf: CompiledMcp, m: RpcRequest): RpcResponse {
  const offset = readCursor(m.params?.cursor);
  if (offset === null) return errorResponse(m.id, INVALID_PARAMS, 'Invalid params: unknown cursor');
  // the consumer's view first, then pages over it: every page full but the last
  const visible = visibleTools(ctx, conf, conversionTools(conf.config).list.map((t) => t.listing));
  const page = visible.slice(offset, offset + PAGE_SIZE);
  const result: Record<string, unknown> = { tools: page };
  if (offset + PAGE_SIZE < visible.length) result.nextCursor = `o${offset + PAGE_SIZE}`;
  return ok(m.id, result);
}

/** Validation and the call through the gateway, without recording: the mode (or a listener) records the outcome. */
export async function runConversionTool(ctx: RequestContext, conf: CompiledMcp, tool: ConversionTool, args: unknown): Promise<{ error: RpcError } | ToolAnswer> {
  if (args !== undefined && (args === null || typeof args !== 'object' || Array.isArray(args))) {
    return { error: { code: INVALID_PARAMS, message: `Invalid arguments for tool ${tool.name}: arguments must be an object` } };
  }
  const a = (args ?? {}) as Record<string, unknown>;
  const bad = checkSchema(a, tool.inputSchema);
  const problem = bad ? `${bad.path || '/'}: ${bad.message}` : argumentsProblem(tool, a);
  if (problem) return { error: { code: INVALID_PARAMS, message: `Invalid arguments for tool ${tool.name}: ${problem}`, data: { path: bad?.path ?? problem.split(':')[0] } } };
  return callThroughGateway(ctx, conf, tool, a);
}

async function callTool(ctx: RequestContext, conf: CompiledMcp, m: RpcRequest, bytes: number): Promise<RpcResponse> {
  const name = m.params?.name;
  if (typeof name !== 'string' || name === '') return errorResponse(m.id, INVALID_PARAMS, 'Invalid params: tools/call needs params.name');
  const call: ToolCall = { tool: name, id: m.id, arguments: m.params?.arguments, startedAt: performance.now(), requestBytes: bytes };
  const fail = (e: RpcError): RpcResponse => {
    const r = errorResponse(m.id, e.code, e.message, e.data);
    toolCallEnded(ctx, conf, call, { status: 'error', responseBytes: Buffer.byteLength(JSON.stringify(r)), error: { code: e.code, message: e.message } });
    return r;
  };
  // a request the gateway made for a tool call does not call tools itself: no loops through a misconfigured path
  if (ctx.req.headers[TOOL_CALL_HEADER] !== undefined) return fail({ code: INVALID_REQUEST, message: 'Invalid Request: a tool call cannot call another tool' });
  const refusal = await checkToolCall(ctx, conf, call);
  if (refusal) return errorResponse(m.id, refusal.code, refusal.message, refusal.data);
  const tool = conversionTools(conf.config).byName.get(name);
  // unknown: the same words as a denied tool (governance.ts), so a hidden tool cannot be told from a missing one
  if (!tool) return fail(deniedError(name));
  const out = await runConversionTool(ctx, conf, tool, m.params?.arguments);
  if ('error' in out) return fail(out.error);
  const r = ok(m.id, out.result);
  toolCallEnded(ctx, conf, call, {
    status: out.isError ? 'error' : 'ok',
    responseBytes: Buffer.byteLength(JSON.stringify(r)),
    error: out.isError ? { message: out.reason ?? 'tool error' } : undefined,
    result: out.result,
  });
  return r;
}
