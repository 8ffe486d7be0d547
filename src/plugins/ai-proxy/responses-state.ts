/**
 * Responses API conversation state on an AI route (src/exchange/responses-store.ts keeps it):
 * `GET|DELETE …/responses/{id}` and `GET …/responses/{id}/input_items` answered from the store;
 * a create request's `previous_response_id` expanded into the stored conversation before the
 * request is parsed; and the answer kept afterwards, unless the client said `store: false` or the
 * route keeps nothing (`config.responses.store: false`, then `previous_response_id` is a 400).
 *
 * A `previous_response_id` the scope's store does not know is OpenAI's 400 "Previous response with
 * id '…' not found.", even in front of OpenAI: every response the gateway answered is in the
 * store of the consumer it answered, so an unknown id is another consumer's (OpenAI would resolve
 * it under the gateway's one key: a leak between consumers) or expired. Only a route that keeps
 * nothing (`responses.store: false`) whose every target speaks Responses natively passes the id on,
 * leaving the conversation state to OpenAI (docs/ai-proxy.md says what that shares).
 */
import type { RequestContext } from '../../proxy/context.ts';
import type { CompiledAiProxy } from './compile.ts';
import type { ClientJson } from '../../util/json-reuse.ts';
import type { JsonObject } from '../../llm/json.ts';
import { isObject } from '../../llm/json.ts';
import { ClientError } from '../../proxy/errors.ts';
import { RequestError } from '../../llm/types.ts';
import { aiError } from './openai-error.ts';
import { writeJson } from '../../proxy/respond.ts';
import { checkRequest, stateScope, type CheckedRequest, type RequestOperation } from './exchange.ts';
import type { AiProxyConfig } from './schema.ts';

type StreamingPolicy = AiProxyConfig['response_streaming'];
import {
  DEFAULT_MAX_PER_CONSUMER,
  DEFAULT_TTL_SECONDS,
  ResponsesStore,
  answerResponsesResource as answerResource,
  resolvePrevious,
  responsesResourceRequest,
  storedInputOf,
  type ResponsesStoreSettings,
} from '../../exchange/responses-store.ts';
import { respondsNatively } from '../../llm/formats/openai-responses.ts';
import { runRequestChecks } from './request-checks.ts';

/** A route's store, or null when it keeps no responses. */
export type ResponsesStoreRef = ResponsesStore | null;

const DEFAULTS: ResponsesStoreSettings = { store: true, ttl: DEFAULT_TTL_SECONDS, max_per_consumer: DEFAULT_MAX_PER_CONSUMER, policy: 'local' };

/** The store a route's `config.responses` asks for (compiled once per snapshot). */
export function compileResponsesStore(settings: ResponsesStoreSettings | null | undefined): ResponsesStoreRef {
  const s = settings ?? DEFAULTS;
  return s.store ? new ResponsesStore(s) : null;
}

/** Answers a responses resource request (true), or leaves the request alone (false). */
export async function answerResponsesResource(ctx: RequestContext, store: ResponsesStoreRef, scope: string): Promise<boolean> {
  const resource = responsesResourceRequest(ctx.method, ctx.path);
  if (!resource) return false;
  ctx.shared.clientFormat = 'openai-responses';
  const query = Object.fromEntries(ctx.queryParams());
  const answer = await answerResource(store, scope, resource, query);
  writeJson(ctx.res, answer.status, answer.body, ctx.requestId, ctx.startedAt);
  return true;
}

export interface PreparedResponses {
  value: unknown;
  source: ClientJson | null;
  keep: ((answer: JsonObject | string) => void) | null;
  /** The stored response the request continues (its conversation is now in the body's input). */
  previousId?: string;
}

/**
 * A Responses create request made ready: `previous_response_id` expanded (the body then no longer
 * is the client's bytes: `source` is null), and the keeper of its answer.
 */
export async function withPreviousResponse(ctx: RequestContext, store: ResponsesStoreRef, targets: CompiledAiProxy[], value: unknown, source: ClientJson | null): Promise<PreparedResponses> {
  if (!isObject(value)) return { value, source, keep: null };
  const scope = stateScope(ctx);
  let body = value;
  let previousId: string | undefined;
  const referenced = store ? await resolveItemReferences(store, scope, value) : value;
  if (referenced !== value) {
    body = referenced;
    source = null;
  }
  if (value.previous_response_id !== undefined && value.previous_response_id !== null) {
    const resolved = await asClientError(() => resolvePrevious(store, scope, body));
    if (resolved.ok) {
      body = resolved.body;
      source = null;
      previousId = resolved.previous?.id;
    } else if (!(store === null && resolved.answer.status === 400 && targets.every(nativeResponses))) {
      throw new ClientError(resolved.answer.status, resolved.answer.body);
    }
  }
  if (!store || body.store === false) return { value: body, source, keep: null, previousId };
  let input: JsonObject[];
  try {
    input = storedInputOf(body);
  } catch {
    return { value: body, source, keep: null }; // the adapter refuses this input with its own 400
  }
  const keep = (answer: JsonObject | string) => {
    const id = typeof answer === 'string' ? responseIdOf(answer) : answer.id;
    if (typeof id !== 'string') return;
    // a store that does not answer costs the next previous_response_id, never this answer
    store.saveJson(scope, id, JSON.stringify(input), typeof answer === 'string' ? answer : JSON.stringify(answer)).catch(() => {});
  };
  return { value: body, source, keep, previousId };
}

/**
 * A response object's id from its JSON text: the renderer (and OpenAI) write it first; anything
 * else is parsed. Null when the text is not a response object.
 */
function responseIdOf(json: string): string | null {
  const first = /^\{\s*"id"\s*:\s*"(resp_[A-Za-z0-9]{1,200})"/.exec(json);
  if (first) return first[1];
  try {
    const value: unknown = JSON.parse(json);
    return isObject(value) && typeof value.id === 'string' ? value.id : null;
  } catch {
    return null;
  }
}

/**
 * checkRequest (exchange.ts), with a Responses request's conversation state: its
 * `previous_response_id` expanded before parsing, its answer's keeper and the id it continues put
 * on the checked request. `targets` is asked only for a Responses request.
 */
export function checkWithConversation(
  ctx: RequestContext,
  store: ResponsesStoreRef,
  targets: () => CompiledAiProxy[],
  op: RequestOperation,
  value: unknown,
  source: ClientJson | null,
  policy: StreamingPolicy,
): CheckedRequest | Promise<CheckedRequest> {
  if (op.kind !== 'llm' || op.inbound !== 'openai-responses') {
    const checked = checkRequest(ctx, value, op, policy, source);
    // asynchronous checks (a guardrail webhook) only when a plugin registered one: otherwise the
    // answer is at hand, and the caller awaits nothing (no promise, no microtask per request)
    if (ctx.requestChecks.length === 0) return checked;
    return runRequestChecks(ctx, checked).then(() => checked);
  }
  return checkConversation(ctx, store, targets, op, value, source, policy);
}

async function checkConversation(
  ctx: RequestContext,
  store: ResponsesStoreRef,
  targets: () => CompiledAiProxy[],
  op: RequestOperation & { kind: 'llm' },
  value: unknown,
  source: ClientJson | null,
  policy: StreamingPolicy,
): Promise<CheckedRequest> {
  const prepared = await withPreviousResponse(ctx, store, targets(), value, source);
  const checked = checkRequest(ctx, prepared.value, op, policy, prepared.source);
  if (checked.kind === 'llm') {
    checked.keep = prepared.keep;
    if (prepared.previousId) checked.canonical.previousResponseId = prepared.previousId;
  }
  if (ctx.requestChecks.length > 0) await runRequestChecks(ctx, checked);
  return checked;
}

/** The item ids the Responses renderer gives (`rs_`, `msg_`, `fc_` + the response id's own part + the output index). */
const ITEM_ID = /^(?:rs|msg|fc)_([A-Za-z0-9]{1,200})_\d+$/;

/**
 * `item_reference` input items that name an item of a response the gateway keeps, replaced by
 * that item (clients with `store` on, such as the AI SDK, send references instead of the items
 * themselves). A reference the store cannot resolve stays: the adapter then refuses it by name,
 * or the provider resolves it (OpenAI natively). The body is returned unchanged when nothing was
 * resolved.
 */
async function resolveItemReferences(store: ResponsesStore, scope: string, body: JsonObject): Promise<JsonObject> {
  const input = body.input;
  if (!Array.isArray(input) || !input.some((item) => isObject(item) && item.type === 'item_reference')) return body;
  const loaded = new Map<string, JsonObject[] | null>();
  let changed = false;
  const resolved: unknown[] = [];
  for (const item of input) {
    const m = isObject(item) && item.type === 'item_reference' && typeof item.id === 'string' ? ITEM_ID.exec(item.id) : null;
    if (!m) {
      resolved.push(item);
      continue;
    }
    const responseId = `resp_${m[1]}`;
    if (!loaded.has(responseId)) {
      const stored = await store.load(scope, responseId).catch(() => null);
      loaded.set(responseId, stored && Array.isArray(stored.response.output) ? (stored.response.output as JsonObject[]) : null);
    }
    const found = loaded.get(responseId)?.find((out) => isObject(out) && out.id === (item as JsonObject).id);
    if (found) {
      resolved.push(withoutNulls(found));
      changed = true;
    } else resolved.push(item);
  }
  return changed ? { ...body, input: resolved } : body;
}

/** An output item as an input item: members that are null are left out (OpenAI refuses `status: null` on input). */
function withoutNulls(item: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(item)) if (v !== null) out[k] = v;
  return out;
}

async function asClientError<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof RequestError) throw aiError(400, e.message, { code: 'invalid_request' });
    throw e;
  }
}

/** The target answers Responses requests with the provider's own Responses API. */
function nativeResponses(conf: CompiledAiProxy): boolean {
  return respondsNatively(conf.config.model.provider, conf.options);
}
