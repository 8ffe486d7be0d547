/**
 * JSON-RPC 2.0 as MCP uses it (modelcontextprotocol.io, "Base protocol"): requests (id, method,
 * params object), notifications (no id), responses (result or error). MCP narrows JSON-RPC: an id
 * is a string or a number, never null, and is unique per session. Batches (arrays) were allowed
 * by revision 2025-03-26 and removed in 2025-06-18: they parse here, and the mode decides.
 */
import { JsonBodyError, parseJsonBody } from '../../util/json.ts';

/** JSON-RPC 2.0's reserved codes. */
export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;
export const METHOD_NOT_FOUND = -32601;
export const INVALID_PARAMS = -32602;
export const INTERNAL_ERROR = -32603;
/** Server-defined codes (-32000..-32099): the ones the official SDKs use for the same conditions. */
export const CONNECTION_CLOSED = -32000;
export const REQUEST_TIMEOUT = -32001;
export const SESSION_NOT_FOUND = -32001;

export type RpcId = string | number;

export interface RpcError {
  code: number;
  message: string;
  data?: unknown;
}

export interface RpcRequest {
  jsonrpc: '2.0';
  id: RpcId;
  method: string;
  params?: Record<string, unknown>;
}

export interface RpcNotification {
  jsonrpc: '2.0';
  method: string;
  params?: Record<string, unknown>;
}

export interface RpcResponse {
  jsonrpc: '2.0';
  id: RpcId | null;
  result?: unknown;
  error?: RpcError;
}

export type RpcMessage = RpcRequest | RpcNotification | RpcResponse;

export function isRequest(m: RpcMessage): m is RpcRequest {
  return 'method' in m && 'id' in m;
}
export function isNotification(m: RpcMessage): m is RpcNotification {
  return 'method' in m && !('id' in m);
}
export function isResponse(m: RpcMessage): m is RpcResponse {
  return !('method' in m);
}

export function errorResponse(id: RpcId | null, code: number, message: string, data?: unknown): RpcResponse {
  const error: RpcError = data === undefined ? { code, message } : { code, message, data };
  return { jsonrpc: '2.0', id, error };
}

export type Parsed = { ok: true; messages: RpcMessage[]; batch: boolean } | { ok: false; error: RpcResponse };

/** A body from a client: one message or a batch, each checked; the first fault answers for the whole body. */
export function parseMessages(body: Uint8Array): Parsed {
  let value: unknown;
  try {
    value = parseJsonBody(body);
  } catch (e) {
    if (e instanceof JsonBodyError) return { ok: false, error: errorResponse(null, PARSE_ERROR, `Parse error: ${e.message}`) };
    throw e;
  }
  const batch = Array.isArray(value);
  const items = batch ? (value as unknown[]) : [value];
  if (batch && items.length === 0) return { ok: false, error: errorResponse(null, INVALID_REQUEST, 'Invalid Request: empty batch') };
  const messages: RpcMessage[] = [];
  for (let i = 0; i < items.length; i++) {
    const m = checkMessage(items[i]);
    if (typeof m === 'string') {
      const id = idOf(items[i]);
      return { ok: false, error: errorResponse(id, INVALID_REQUEST, `Invalid Request: ${batch ? `message ${i}: ` : ''}${m}`) };
    }
    messages.push(m);
  }
  return { ok: true, messages, batch };
}

/** The id of something that looked like a request, for the error that answers it (JSON-RPC: null when it cannot be known). */
function idOf(v: unknown): RpcId | null {
  if (v && typeof v === 'object' && 'id' in v) {
    const id = (v as { id: unknown }).id;
    if (typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id))) return id;
  }
  return null;
}

/** One message's shape, or why it is not a JSON-RPC 2.0 message MCP accepts. */
export function checkMessage(v: unknown): RpcMessage | string {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return 'a message must be a JSON object';
  const o = v as Record<string, unknown>;
  if (o.jsonrpc !== '2.0') return "jsonrpc must be exactly '2.0'";
  const hasId = 'id' in o;
  if (hasId && !(typeof o.id === 'string' || (typeof o.id === 'number' && Number.isFinite(o.id)))) return 'id must be a string or a number (MCP: never null)';
  if ('method' in o) {
    if (typeof o.method !== 'string' || o.method === '') return 'method must be a non-empty string';
    if ('params' in o && (o.params === null || typeof o.params !== 'object' || Array.isArray(o.params))) return 'params must be an object';
    if ('result' in o || 'error' in o) return 'a request carries no result or error';
    return o as unknown as RpcMessage;
  }
  if (!hasId) return 'a message needs a method (request, notification) or an id (response)';
  const hasResult = 'result' in o;
  const hasError = 'error' in o;
  if (hasResult === hasError) return 'a response carries exactly one of result and error';
  if (hasError) {
    const e = o.error as Record<string, unknown> | null;
    if (!e || typeof e !== 'object' || !Number.isInteger(e.code) || typeof e.message !== 'string') return 'error must be an object with an integer code and a message';
  }
  return o as unknown as RpcMessage;
}

/** A message from the upstream server, parsed leniently: the server is trusted to speak JSON-RPC, and what is not is passed on as it came. */
export function parseUpstream(text: string): RpcMessage[] | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  const items = Array.isArray(v) ? v : [v];
  for (const m of items) if (!m || typeof m !== 'object') return null;
  return items as RpcMessage[];
}
