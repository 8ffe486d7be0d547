/**
 * Who may use which tool, and what is recorded of every tool call: the hook points every mode
 * goes through. Modes call `visibleTools` (tools/list answers), `checkToolCall` (before a
 * tools/call goes anywhere) and `toolCallEnded` (once its answer, error or refusal is known).
 *
 * Policies register themselves (`registerToolPolicy`): the per-consumer ACL and per-tool rate
 * limits plug in here without the modes changing. With no policy registered every tool is
 * allowed. What is recorded of each call (the log entry's `ai.mcp.tool_calls`, the Prometheus
 * series, a span when the request is traced) is here too, so every mode records the same way.
 */
import type { RequestContext } from '../../proxy/context.ts';
import { labels, metrics } from '../../observability/metrics.ts';
import { SPAN_KIND, STATUS_CODE, type Attributes } from '../../observability/otel/types.ts';
import { INVALID_PARAMS, type RpcError, type RpcId } from './jsonrpc.ts';
import type { CompiledMcp } from './compile.ts';

/** A tools/call as governance sees it. */
export interface ToolCall {
  tool: string;
  /** The JSON-RPC id the client gave it. */
  id: RpcId;
  arguments: unknown;
  /** performance.now() when the call reached the gateway. */
  startedAt: number;
  /** Bytes of the client's message. */
  requestBytes: number;
}

/** `rate_limited`: refused by a per-tool rate limit (a policy's refusal says so with its `status`). */
export type ToolCallStatus = 'ok' | 'error' | 'denied' | 'rate_limited';

/** A policy's refusal: the JSON-RPC error that answers the call, and how it is recorded (default `denied`). */
export interface ToolRefusal extends RpcError {
  status?: 'denied' | 'rate_limited';
}

export interface ToolCallOutcome {
  status: ToolCallStatus;
  /** Bytes of the answer's message (0 when the gateway answered). */
  responseBytes: number;
  /** The JSON-RPC error, or the tool's own error text (`isError` results) cut short. */
  error?: { code?: number; message: string };
  /** The answer's result, for payload logging. */
  result?: unknown;
  /** performance.now() when the outcome was known (default: now). */
  endedAt?: number;
}

/**
 * A policy over tools. Every registered policy must allow a tool for it to be visible and
 * callable; the first refusal answers the call.
 */
export interface ToolPolicy {
  name: string;
  /** Whether the request's consumer may see and call the tool. Hidden tools are left out of tools/list. */
  toolAllowed?(ctx: RequestContext, conf: CompiledMcp, tool: string): boolean;
  /**
   * Called for a call that every `toolAllowed` let through (rate limits, quotas): a JSON-RPC
   * error refuses it (recorded as `denied`), null lets it go on.
   */
  beforeToolCall?(ctx: RequestContext, conf: CompiledMcp, call: ToolCall): ToolRefusal | null | Promise<ToolRefusal | null>;
  /** Told of every ended call, after the gateway recorded it. Must not throw. */
  onToolCall?(ctx: RequestContext, conf: CompiledMcp, call: ToolCall, outcome: ToolCallOutcome): void;
}

const policies: ToolPolicy[] = [];

/** Adds a policy (once per name: a module registering itself twice replaces its first copy). */
export function registerToolPolicy(p: ToolPolicy): void {
  const i = policies.findIndex((q) => q.name === p.name);
  if (i === -1) policies.push(p);
  else policies[i] = p;
}

export function toolAllowed(ctx: RequestContext, conf: CompiledMcp, tool: string): boolean {
  for (const p of policies) if (p.toolAllowed && !p.toolAllowed(ctx, conf, tool)) return false;
  return true;
}

/** A tools/list page as the consumer may see it: denied tools are left out, the page's cursor stays as the server gave it. */
export function visibleTools(ctx: RequestContext, conf: CompiledMcp, tools: unknown[]): unknown[] {
  if (policies.length === 0) return tools;
  return tools.filter((t) => !(t && typeof t === 'object' && typeof (t as { name?: unknown }).name === 'string') || toolAllowed(ctx, conf, (t as { name: string }).name));
}

/**
 * The refusal for a denied tool: -32602 Invalid params, which the MCP specification gives for an
 * unknown tool, and a message that does not tell a hidden tool from one that does not exist.
 */
export function deniedError(tool: string): RpcError {
  return { code: INVALID_PARAMS, message: `Unknown tool or not allowed: ${tool}` };
}

/** Whether the call may go on: null, or the error that answers it (the call is then recorded as denied). */
export async function checkToolCall(ctx: RequestContext, conf: CompiledMcp, call: ToolCall): Promise<RpcError | null> {
  let refusal: ToolRefusal | null = toolAllowed(ctx, conf, call.tool) ? null : deniedError(call.tool);
  for (let i = 0; refusal === null && i < policies.length; i++) {
    const p = policies[i];
    if (p.beforeToolCall) refusal = await p.beforeToolCall(ctx, conf, call);
  }
  if (refusal === null) return null;
  toolCallEnded(ctx, conf, call, { status: refusal.status ?? 'denied', responseBytes: 0, error: { code: refusal.code, message: refusal.message } });
  return refusal.data === undefined ? { code: refusal.code, message: refusal.message } : { code: refusal.code, message: refusal.message, data: refusal.data };
}

/** The log entry's MCP section: `ai.mcp` beside ai-proxy's `ai.proxy` (docs/plugins.md). */
export function mcpLogSection(ctx: RequestContext): Record<string, unknown> {
  const ai = (ctx.logFields.ai ??= {}) as Record<string, unknown>;
  return (ai.mcp ??= {}) as Record<string, unknown>;
}

const MAX_ERROR_TEXT = 512;
/** At most this many tool calls are listed in one request's log entry (a batch or a long stream); the rest are counted. */
const MAX_LOGGED_CALLS = 100;

/** Records an ended call: log entry, metrics, span, then the policies' observers. */
export function toolCallEnded(ctx: RequestContext, conf: CompiledMcp, call: ToolCall, outcome: ToolCallOutcome): void {
  const endedAt = outcome.endedAt ?? performance.now();
  const durationMs = Math.max(0, endedAt - call.startedAt);
  const consumer = ctx.consumer;
  const section = mcpLogSection(ctx);
  const calls = (section.tool_calls ??= []) as Record<string, unknown>[];
  if (calls.length < MAX_LOGGED_CALLS) {
    const entry: Record<string, unknown> = {
      tool: call.tool,
      id: call.id,
      consumer: consumer ? { id: consumer.id ?? null, username: consumer.username ?? null } : null,
      status: outcome.status,
      duration_ms: Math.round(durationMs * 100) / 100,
      request_bytes: call.requestBytes,
      response_bytes: outcome.responseBytes,
    };
    if (outcome.error) entry.error = { code: outcome.error.code ?? null, message: outcome.error.message.slice(0, MAX_ERROR_TEXT) };
    // arguments and results only where the operator turned payload logging on (Kong's logging.log_payloads)
    if (conf.config.logging.log_payloads) {
      entry.arguments = call.arguments ?? null;
      if (outcome.result !== undefined) entry.result = outcome.result;
    }
    calls.push(entry);
  } else section.tool_calls_not_listed = ((section.tool_calls_not_listed as number) ?? 0) + 1;

  const tool = labels.tool.value(call.tool);
  metrics.mcpToolCalls.inc({ tool, status: outcome.status });
  metrics.mcpToolCallDuration.observe({ tool, status: outcome.status }, durationMs / 1000);

  const trace = ctx.trace;
  if (trace !== null) {
    // OpenTelemetry's MCP conventions: span "tools/call {tool}", the method, the tool, the JSON-RPC id
    const attrs: Attributes = {
      'mcp.method.name': 'tools/call',
      'gen_ai.tool.name': call.tool,
      'gen_ai.operation.name': 'execute_tool',
      'jsonrpc.request.id': String(call.id),
      'modelgate.mcp.status': outcome.status,
    };
    const sessionId = section.session_id;
    if (typeof sessionId === 'string') attrs['mcp.session.id'] = sessionId;
    if (outcome.error?.code !== undefined) attrs['rpc.response.status_code'] = String(outcome.error.code);
    if (outcome.status !== 'ok') attrs['error.type'] = outcome.status === 'denied' || outcome.status === 'rate_limited' ? outcome.status : outcome.error?.code !== undefined ? String(outcome.error.code) : 'tool_error';
    const status = outcome.status === 'ok' ? undefined : { code: STATUS_CODE.error, message: outcome.error?.message.slice(0, MAX_ERROR_TEXT) };
    trace.span(`tools/call ${call.tool}`, SPAN_KIND.client, call.startedAt, endedAt, attrs, status);
  }

  for (const p of policies) {
    if (!p.onToolCall) continue;
    try {
      p.onToolCall(ctx, conf, call, outcome);
    } catch {
      // an observer's fault must not change the answer the client gets
    }
  }
}

/** A tool's own error (`isError: true`): its first text content, for the log. */
export function toolErrorText(result: Record<string, unknown> | undefined): string {
  const content = result?.content;
  if (Array.isArray(content)) for (const c of content) if (c && typeof c === 'object' && (c as { type?: unknown }).type === 'text') return String((c as { text?: unknown }).text ?? '');
  return 'the tool reported an error';
}
