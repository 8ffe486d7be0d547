/**
 * A conversion tool's call, made THROUGH the gateway: an HTTP request to the proxy listener that
 * received the MCP request (the connection's own local address and port, on this machine), so
 * the router picks the route for the tool's path and every plugin of that route runs on it —
 * key-auth, rate limits, request-termination, ai-proxy, logging — exactly as for a client
 * calling it. Its answer becomes the tool's result (MCP "Tools": text content; JSON as
 * `structuredContent` when the tool declares an output schema; a non-2xx status is `isError`).
 *
 * Who the call is made as: the gateway mints no identity of its own. With
 * `server.forward_client_credentials` the MCP client's own credential (the key its auth plugin
 * read) goes with the call, so the called route's key-auth identifies the same consumer; without
 * it the call carries no credential and an authenticated route refuses it (401, an `isError`
 * result). Nothing an outside client sends can make the gateway vouch for a consumer
 * (docs/decisions.md, "MCP gateway (issue 23)").
 */
import { Agent, request } from '../../util/undici.ts';
import type { RequestContext } from '../../proxy/context.ts';
import { CLIENT_CREDENTIAL_HEADERS, endToEndHeaders } from '../../proxy/headers.ts';
import { credentialNames, presentedCredential } from '../shared/credentials.ts';
import type { CompiledMcp } from './compile.ts';
import { BODY_ARGUMENT, type ConversionTool } from './conversion-tools.ts';
import { checkSchema } from './json-schema.ts';
import { LAST_EVENT_HEADER, SESSION_HEADER, VERSION_HEADER, readCapped } from './transport.ts';

/** Marks a request the gateway makes for a tool call: a conversion route refuses tool calls on it (no tool calls a tool, so no loops). */
export const TOOL_CALL_HEADER = 'x-modelgate-mcp-tool-call';

/** The part of a non-2xx answer the error result quotes. */
const ERROR_EXCERPT = 2048;

/** Client headers never copied onto the call: framing, MCP's own, forwarding, and Kong's consumer headers (the called route's auth sets its own). */
const NOT_FORWARDED = new Set([
  'host', 'content-length', 'content-type', 'accept', 'accept-encoding', 'transfer-encoding', 'expect',
  SESSION_HEADER, VERSION_HEADER, LAST_EVENT_HEADER, TOOL_CALL_HEADER,
  'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'x-forwarded-path', 'x-forwarded-prefix', 'x-real-ip', 'forwarded',
  'x-consumer-id', 'x-consumer-custom-id', 'x-consumer-username', 'x-credential-identifier', 'x-anonymous-consumer',
]);

/**
 * The gateway's own listener is the target: no egress policy applies (src/proxy/egress.ts guards
 * calls to the outside), and the called route's timeouts are its own; ours is `server.timeout`.
 */
const loopback = new Agent({ headersTimeout: 0, bodyTimeout: 0 });

export interface ToolAnswer {
  result: Record<string, unknown>;
  isError: boolean;
  /** HTTP status of the called route, or null when it could not be reached. */
  status: number | null;
  /** A short reason for the log when isError. */
  reason?: string;
}

/** Why the arguments cannot build a request (a path argument that would climb out of its segment), or null. */
export function argumentsProblem(tool: ConversionTool, args: Record<string, unknown>): string | null {
  for (const p of tool.params) {
    if (p.in !== 'path') continue;
    const v = scalar(args[p.name]);
    if (v === '' || v === '.' || v === '..') return `/${p.name}: must be a non-empty path segment other than . and ..`;
  }
  return null;
}

function scalar(v: unknown): string {
  if (v === undefined || v === null) return '';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/** The request a call makes: path with `{param}` filled (each value one encoded segment), query, headers, body. */
export function buildRequest(tool: ConversionTool, args: Record<string, unknown>): { path: string; headers: Record<string, string | string[]>; body: string | null } {
  const path = tool.path.replace(/\{([^{}]+)\}/g, (_m, name: string) => encodeURIComponent(scalar(args[name])));
  const query = new URLSearchParams();
  for (const [k, v] of tool.query) query.append(k, v);
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of tool.headers) {
    const name = k.toLowerCase();
    const prev = headers[name];
    headers[name] = prev === undefined ? v : [...[prev].flat(), v];
  }
  const cookies: string[] = [];
  for (const p of tool.params) {
    const v = args[p.name];
    if (v === undefined || v === null) continue;
    if (p.in === 'query') for (const x of Array.isArray(v) ? v : [v]) query.append(p.name, scalar(x));
    else if (p.in === 'header') headers[p.name.toLowerCase()] = scalar(v).replace(/[\r\n]/g, ' ');
    else if (p.in === 'cookie') cookies.push(`${p.name}=${encodeURIComponent(scalar(v))}`);
  }
  if (cookies.length > 0) headers.cookie = cookies.join('; ');
  const qs = query.toString();
  let body: string | null = null;
  if (tool.bodyType !== null && args[BODY_ARGUMENT] !== undefined) {
    body = JSON.stringify(args[BODY_ARGUMENT]);
    headers['content-type'] = tool.bodyType;
  }
  return { path: qs ? `${path}${path.includes('?') ? '&' : '?'}${qs}` : path, headers, body };
}

/** The MCP client's headers that go with the call, and its credential when the config says so. */
function clientHeaders(ctx: RequestContext, conf: CompiledMcp): Record<string, string | string[]> {
  const server = conf.config.server;
  const out: Record<string, string | string[]> = {};
  const creds = credentialNames(ctx).headers;
  if (server.forward_client_headers) {
    const all = endToEndHeaders(ctx.req.headers);
    for (const name in all) {
      if (NOT_FORWARDED.has(name) || CLIENT_CREDENTIAL_HEADERS.has(name) || creds.has(name)) continue;
      out[name] = all[name];
    }
  }
  if (server.forward_client_credentials) {
    let copied = false;
    for (const name of new Set([...CLIENT_CREDENTIAL_HEADERS, ...creds])) {
      const v = ctx.req.headers[name];
      if (v === undefined) continue;
      out[name] = v;
      copied = true;
    }
    // key-auth's hide_credentials took the key off the request (or it came in the query or body):
    // it goes under the first name the auth plugin reads, as a header
    const presented = presentedCredential(ctx);
    if (!copied && presented?.value && presented.names.length > 0) {
      const name = presented.names[0].toLowerCase();
      out[name] = name === 'authorization' ? `Bearer ${presented.value}` : presented.value;
    }
  }
  return out;
}

/** The proxy listener this request came in on, as this machine reaches it. */
function selfOrigin(ctx: RequestContext): string | null {
  const { localAddress, localPort } = ctx.req.socket;
  if (!localAddress || !localPort) return null;
  const host = localAddress.startsWith('::ffff:') ? localAddress.slice(7) : localAddress;
  return host.includes(':') ? `http://[${host}]:${localPort}` : `http://${host}:${localPort}`;
}

function errorResult(text: string, status: number | null, reason: string): ToolAnswer {
  return { result: { content: [{ type: 'text', text }], isError: true }, isError: true, status, reason };
}

/** Calls the tool's route through the gateway and turns the answer into a tools/call result. */
export async function callThroughGateway(ctx: RequestContext, conf: CompiledMcp, tool: ConversionTool, args: Record<string, unknown>): Promise<ToolAnswer> {
  const origin = selfOrigin(ctx);
  if (origin === null) return errorResult('The gateway could not reach its own listener', null, 'no local address');
  const built = buildRequest(tool, args);
  const headers: Record<string, string | string[]> = { ...clientHeaders(ctx, conf), ...built.headers };
  headers.host = tool.host ?? ctx.req.headers.host ?? 'localhost';
  headers[TOOL_CALL_HEADER] = tool.name;
  headers.accept ??= 'application/json, */*;q=0.5';
  // the client leaving or server.timeout passing ends the call (and the called route's request with it)
  const abort = new AbortController();
  const onClientGone = () => abort.abort(new Error('the client closed the connection'));
  ctx.clientSignal.addEventListener('abort', onClientGone);
  const timer = setTimeout(() => abort.abort(new Error('timeout')), conf.timeoutMs);
  const signal = abort.signal;
  try {
    return await call(ctx, tool, origin, built, headers, signal, conf.timeoutMs);
  } finally {
    clearTimeout(timer);
    ctx.clientSignal.removeEventListener('abort', onClientGone);
  }
}

async function call(ctx: RequestContext, tool: ConversionTool, origin: string, built: { path: string; body: string | null }, headers: Record<string, string | string[]>, signal: AbortSignal, timeoutMs: number): Promise<ToolAnswer> {
  let status: number;
  let type: string;
  let text: string;
  try {
    const r = await request(`${origin}${built.path}`, { method: tool.method as 'GET', headers, body: built.body ?? undefined, signal, dispatcher: loopback });
    status = r.statusCode;
    type = String(r.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    const buf = await readCapped(r.body, ctx.settings.maxResponseSize);
    if (buf === null) {
      r.body.destroy();
      return errorResult(`The answer of ${tool.method} ${tool.path} is larger than the gateway relays`, status, 'answer too large');
    }
    text = buf.toString('utf8');
  } catch (e) {
    if (ctx.clientSignal.aborted) return errorResult('The client closed the connection', null, 'client gone');
    const timedOut = signal.aborted;
    const message = timedOut ? `No answer from ${tool.method} ${tool.path} within ${timeoutMs} ms` : `The call to ${tool.method} ${tool.path} failed: ${(e as Error).message}`;
    return errorResult(message, null, timedOut ? 'timeout' : 'unreachable');
  }
  if (status < 200 || status > 299) {
    const excerpt = text.length > ERROR_EXCERPT ? `${text.slice(0, ERROR_EXCERPT)}…` : text;
    return errorResult(`HTTP ${status}${excerpt ? `: ${excerpt}` : ''}`, status, `HTTP ${status}`);
  }
  const result: Record<string, unknown> = { content: [{ type: 'text', text }] };
  if (tool.outputSchema !== null) {
    // a tool with an output schema MUST return conforming structured content (MCP "Tools", Output Schema)
    let json: unknown;
    try {
      json = /^application\/(.+\+)?json$/.test(type) ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (json === null || typeof json !== 'object' || Array.isArray(json)) return errorResult(`The answer of ${tool.method} ${tool.path} is not the JSON object the tool's output schema describes`, status, 'output not JSON');
    const bad = checkSchema(json, tool.outputSchema);
    if (bad) return errorResult(`The answer of ${tool.method} ${tool.path} does not match the tool's output schema: ${bad.path || '/'} ${bad.message}`, status, 'output schema');
    result.structuredContent = json;
  }
  return { result, isError: false, status };
}
