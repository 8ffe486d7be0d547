/**
 * Per-tool rate limits (modelgate's `tool_rate_limits`; Kong's ai-mcp-proxy has none): each entry
 * names tools (names or glob patterns, as the client sees them) and allows `limit` calls per
 * `window_size` seconds per consumer and per tool — every matching tool has its own counter per
 * consumer (the client's IP address without one, as Kong's rate limits fall back). Counted with
 * the project's shared counters (src/state: `local` per node, `redis` per cluster), in fixed
 * windows aligned on the epoch, one atomic increment per call, so concurrent calls cannot all see
 * "one left"; a refused call takes its unit back, as rate-limiting does.
 *
 * A refused call is a JSON-RPC error, -32000 (JSON-RPC's implementation-defined server error, the
 * code the plugin already gives a route's 429), with the seconds to wait in the message and in
 * `data.retry_after`, recorded with status `rate_limited`. Not a tool result with `isError`: the
 * specification keeps those for the tool's own failures, and the tool was never called.
 * The counter store failing lets the call through (logged), as rate-limiting's `fault_tolerant`.
 */
import type { RequestContext } from '../../proxy/context.ts';
import type { CompiledMcp } from './compile.ts';
import { counterStore } from '../../state/index.ts';
import { windowStart } from '../shared/windows.ts';
import { clientIp } from '../shared/identifier.ts';
import { logger } from '../../observability/logger.ts';
import { CONNECTION_CLOSED } from './jsonrpc.ts';
import { registerToolPolicy, type ToolCall, type ToolRefusal } from './governance.ts';
import { globMatcher, type Matcher } from './acl.ts';

export interface ToolRateLimit {
  tools: string[];
  limit: number;
  window_size: number;
  policy: 'local' | 'redis';
}

interface CompiledLimit {
  index: number;
  match: Matcher;
  limit: number;
  windowMs: number;
  policy: 'local' | 'redis';
}

const compiled = new WeakMap<CompiledMcp, CompiledLimit[]>();

function limitsOf(conf: CompiledMcp): CompiledLimit[] {
  let c = compiled.get(conf);
  if (!c) {
    c = (conf.config.tool_rate_limits ?? []).map((l, index) => ({ index, match: globMatcher(l.tools), limit: l.limit, windowMs: l.window_size * 1000, policy: l.policy }));
    compiled.set(conf, c);
  }
  return c;
}

export const RATE_LIMITED = CONNECTION_CLOSED;

async function beforeToolCall(ctx: RequestContext, conf: CompiledMcp, call: ToolCall): Promise<ToolRefusal | null> {
  const limits = limitsOf(conf);
  if (limits.length === 0) return null;
  const who = ctx.consumer?.id ?? `ip:${clientIp(ctx)}`;
  const now = Date.now();
  for (const l of limits) {
    if (!l.match(call.tool)) continue;
    const start = windowStart(l.windowMs / 1000, now);
    const item = { key: `mcp-tool:${ctx.route.id}:${l.index}:${who}:${call.tool}:${start}`, delta: 1, ttlMs: l.windowMs };
    const store = counterStore(l.policy);
    let value: number;
    try {
      [value] = await store.increment([item]);
    } catch (e) {
      logger().error({ plugin: 'ai-mcp-proxy', tool: call.tool, err: (e as Error).message }, 'tool rate limit: the counter store failed; letting the call through');
      continue;
    }
    if (value > l.limit) {
      store.add([{ ...item, delta: -1 }]).catch(() => {});
      const retryAfter = Math.max(1, Math.ceil((start + l.windowMs - now) / 1000));
      return { code: RATE_LIMITED, message: `Rate limit exceeded for tool ${call.tool}: ${l.limit} calls per ${l.windowMs / 1000} s; retry after ${retryAfter} s`, data: { retry_after: retryAfter }, status: 'rate_limited' };
    }
  }
  return null;
}

registerToolPolicy({ name: 'tool-rate-limit', beforeToolCall });
