/**
 * What a request on an AI route asks for: which client API it speaks (src/exchange/apis/) and
 * which operation of it. `ai-proxy` serves one API, set by its `route_type` and `llm_format`;
 * `ai-proxy-advanced`'s unified endpoint takes the operation from the path. Either way a request is
 * never served as another API than the one it speaks (docs/ai-proxy.md, "Client APIs"): an
 * Anthropic request on an OpenAI route is refused before any provider is called, in the client's
 * own error shape, naming the API the route expects.
 */
import type { RequestContext } from '../../proxy/context.ts';
import type { InboundFormat } from '../../exchange/types.ts';
import type { AnyRouteType, LlmRouteType } from '../../llm/types.ts';
import type { LlmFormat } from './schema.ts';
import { aiError } from './openai-error.ts';
import type { ClientError } from '../../proxy/errors.ts';

/** A request's operation: a model call in a client API, embeddings, or Anthropic's token count. */
export type Operation = { kind: 'llm'; inbound: InboundFormat } | { kind: 'embeddings' } | { kind: 'count_tokens' };

/** Whose error shape a request's errors take (embeddings and OpenAI's APIs share OpenAI's). */
export function errorFormatOf(op: Operation): InboundFormat {
  if (op.kind === 'llm') return op.inbound;
  return op.kind === 'count_tokens' ? 'anthropic-messages' : 'openai-chat';
}

/** The provider operation a client API asks for: every conversational API is a chat for the provider. */
export const PROVIDER_ROUTE_TYPE: Readonly<Record<InboundFormat, LlmRouteType>> = {
  'openai-chat': 'llm/v1/chat',
  'openai-completions': 'llm/v1/completions',
  'openai-responses': 'llm/v1/chat',
  'anthropic-messages': 'llm/v1/chat',
};

/** What each API is called in messages, and the configuration that serves it. */
const API_NAMES: Readonly<Record<InboundFormat, readonly [name: string, route: string]>> = {
  'openai-chat': ['OpenAI Chat Completions', 'route_type llm/v1/chat'],
  'openai-completions': ['OpenAI Completions', 'route_type llm/v1/completions'],
  'openai-responses': ['OpenAI Responses', 'route_type llm/v1/responses'],
  'anthropic-messages': ['Anthropic Messages', "llm_format anthropic (route_type llm/v1/chat)"],
};

const CHAT: Operation = { kind: 'llm', inbound: 'openai-chat' };
const COMPLETIONS: Operation = { kind: 'llm', inbound: 'openai-completions' };
const RESPONSES: Operation = { kind: 'llm', inbound: 'openai-responses' };
const MESSAGES: Operation = { kind: 'llm', inbound: 'anthropic-messages' };
const EMBEDDINGS: Operation = { kind: 'embeddings' };
const COUNT_TOKENS: Operation = { kind: 'count_tokens' };

/**
 * The APIs' POST paths, by suffix. Order matters: `/chat/completions` ends like `/completions`,
 * `/messages/count_tokens` starts like `/messages`.
 */
const BY_PATH: readonly (readonly [suffix: string, op: Operation])[] = [
  ['/chat/completions', CHAT],
  ['/completions', COMPLETIONS],
  ['/embeddings', EMBEDDINGS],
  ['/responses', RESPONSES],
  ['/messages/count_tokens', COUNT_TOKENS],
  ['/messages', MESSAGES],
];

/** The operation a path names (`…/v1/chat/completions`, `…/v1/messages` …), or null. A trailing slash is ignored. */
export function operationOfPath(path: string): Operation | null {
  const p = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  for (const [suffix, op] of BY_PATH) if (p.endsWith(suffix)) return op;
  return null;
}

/** The operation an `ai-proxy` route serves, from its configuration. */
export function routeOperation(routeType: Exclude<AnyRouteType, 'preserve'>, llmFormat: LlmFormat): Operation {
  if (routeType === 'llm/v1/embeddings') return EMBEDDINGS;
  if (routeType === 'llm/v1/responses') return RESPONSES;
  if (routeType === 'llm/v1/completions') return COMPLETIONS;
  return llmFormat === 'anthropic' ? MESSAGES : CHAT;
}

/** The target route types that can serve an operation (any chat target serves every conversational API). */
export function servesOperation(targetRouteType: AnyRouteType, op: Operation): boolean {
  if (op.kind === 'embeddings') return targetRouteType === 'llm/v1/embeddings';
  if (op.kind === 'llm' && op.inbound === 'openai-completions') return targetRouteType === 'llm/v1/completions';
  return targetRouteType === 'llm/v1/chat' || targetRouteType === 'llm/v1/responses';
}

/** The API a request shows it speaks, from the markers it carries: a path that names an API, Anthropic's version header. */
export function apiMarkedBy(ctx: RequestContext): InboundFormat | null {
  const byPath = operationOfPath(ctx.path);
  if (byPath) return byPath.kind === 'llm' ? byPath.inbound : byPath.kind === 'count_tokens' ? 'anthropic-messages' : null;
  return ctx.req.headers['anthropic-version'] !== undefined ? 'anthropic-messages' : null;
}

/**
 * Kong ignores an ai-proxy route's path, so a chat route may be called at `…/completions` and the
 * other way round: those two stay interchangeable. Any other mismatch between the API a request
 * shows and the one the route speaks is refused.
 */
const INTERCHANGEABLE: ReadonlySet<InboundFormat> = new Set(['openai-chat', 'openai-completions']);

/**
 * The request's operation on an `ai-proxy` route: the route's own, Anthropic's token count on an
 * Anthropic route, or a 400 (in the client's error shape) when the request speaks another API.
 */
export function routeRequestOperation(ctx: RequestContext, route: Operation): Operation {
  const marked = apiMarkedBy(ctx);
  if (route.kind === 'llm' && route.inbound === 'anthropic-messages' && operationOfPath(ctx.path)?.kind === 'count_tokens') return COUNT_TOKENS;
  if (marked === null) return route;
  const expected = route.kind === 'llm' ? route.inbound : null;
  if (expected === null || marked === expected || (INTERCHANGEABLE.has(marked) && INTERCHANGEABLE.has(expected))) return route;
  throw wrongApi(ctx, marked, expected);
}

/** 400: the request speaks `got`, the route `expected`; written in the client's own error shape. */
export function wrongApi(ctx: RequestContext, got: InboundFormat, expected: InboundFormat): ClientError {
  const [gotName] = API_NAMES[got];
  const [expectedName, config] = API_NAMES[expected];
  ctx.shared.clientFormat = got;
  return aiError(400, `this route speaks the ${expectedName} API (${config}); the request is an ${gotName} request. Send it to a route configured for ${API_NAMES[got][1]}`, {
    code: 'wrong_api',
  });
}

/**
 * The operation `ai-proxy-advanced`'s unified endpoint serves at this path; null at the route's own
 * path (nothing after it), where `bareOperation` decides from the body. Any other path is a 404:
 * never served as another operation.
 */
export function unifiedOperation(ctx: RequestContext): Operation | null {
  const byPath = operationOfPath(ctx.path);
  if (byPath) return byPath;
  if (atRoutePath(ctx)) return null;
  throw aiError(404, `no AI operation at ${ctx.path}: this endpoint serves …/chat/completions, …/completions, …/embeddings, …/responses, …/messages, …/messages/count_tokens and …/models`, { code: 'unknown_operation' });
}

/** At the route's own path, Kong's behaviour: the `llm_format`, else the body's shape, else the first target's route type. */
export function bareOperation(llmFormat: LlmFormat, body: unknown, firstRouteType: AnyRouteType): Operation {
  if (llmFormat === 'anthropic') return MESSAGES;
  return operationOfBody(body) ?? routeOperation(firstRouteType === 'preserve' ? 'llm/v1/chat' : firstRouteType, 'openai');
}

/** Nothing follows the route's matched path prefix (or the route matched by something other than a path). */
function atRoutePath(ctx: RequestContext): boolean {
  const matched = ctx.match.matched;
  if (!matched || !ctx.path.startsWith(matched)) return true;
  const rest = ctx.path.slice(matched.length);
  return rest === '' || rest === '/';
}

/** Kong's format detection for a body at the route's own path. */
function operationOfBody(value: unknown): Operation | null {
  if (typeof value !== 'object' || value === null) return null;
  if ('messages' in value) return CHAT;
  if ('prompt' in value) return COMPLETIONS;
  if ('input' in value) return EMBEDDINGS;
  return null;
}
