/**
 * The LLM layer's contract. The gateway speaks OpenAI's shapes to clients; each provider driver
 * (src/llm/drivers/<provider>.ts) translates between those shapes and its provider's own API.
 * Drivers are pure: no I/O, no clocks they cannot be given, no globals. The ai-proxy plugin does
 * the HTTP exchange and calls into a driver at four points: where to send (endpoint), what to
 * send (buildRequest), what came back (parseResponse), and what streamed back (stream translator).
 */

export type LlmRouteType = 'llm/v1/chat' | 'llm/v1/completions';
export type RouteType = LlmRouteType | 'preserve';

/** The providers of Kong's ai-proxy guide (more arrive with the routing issue). */
export const PROVIDERS = ['openai', 'azure', 'anthropic', 'cohere', 'mistral', 'llama2'] as const;
export type ProviderName = (typeof PROVIDERS)[number];

export interface AuthConfig {
  header_name: string | null;
  header_value: string | null;
  param_name: string | null;
  param_value: string | null;
  param_location: 'query' | 'body' | null;
  allow_override: boolean;
}

export interface ModelOptions {
  max_tokens: number | null;
  temperature: number | null;
  top_p: number | null;
  top_k: number | null;
  anthropic_version: string | null;
  azure_instance: string | null;
  azure_api_version: string | null;
  azure_deployment_id: string | null;
  llama2_format: 'raw' | 'openai' | 'ollama' | null;
  mistral_format: 'openai' | 'ollama' | null;
  upstream_url: string | null;
  upstream_path: string | null;
  input_cost: number | null;
  output_cost: number | null;
}

// ---------------------------------------------------------------------------------------------
// Client side (OpenAI shapes)

export type ContentPart = { type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string; detail?: string } } | { type: string; [k: string]: unknown };

export interface ChatMessage {
  role: 'system' | 'developer' | 'user' | 'assistant' | 'tool' | 'function';
  content: string | ContentPart[] | null;
  name?: string;
  tool_calls?: unknown[];
  tool_call_id?: string;
  [k: string]: unknown;
}

/** A validated `llm/v1/chat` body. Unknown client fields are kept (Kong 3.7+ passes them through). */
export interface ChatRequest {
  messages: ChatMessage[];
  model?: string;
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  max_tokens?: number;
  temperature?: number;
  top_p?: number;
  stop?: string | string[];
  [k: string]: unknown;
}

/** A validated `llm/v1/completions` body. */
export interface CompletionsRequest {
  prompt: string;
  model?: string;
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  max_tokens?: number;
  temperature?: number;
  top_p?: number;
  [k: string]: unknown;
}

export type ClientRequest = ChatRequest | CompletionsRequest;

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

// ---------------------------------------------------------------------------------------------
// Driver

/** Everything a driver needs to know about one request, resolved by the plugin. */
export interface DriverContext {
  provider: ProviderName;
  routeType: LlmRouteType;
  /** The model to ask for: the configured `model.name`, else the client's `model`. */
  model: string;
  /** Configured options with schema defaults applied. */
  options: ModelOptions;
  /** The client asked to stream (or `response_streaming` is `always`). */
  stream: boolean;
  /** The client asked for `stream_options.include_usage`. */
  includeUsage: boolean;
  /** Seconds since the epoch; drivers use it for `created` when the provider gives none. */
  now: number;
  /** A fresh id (e.g. `chatcmpl-...`) for responses whose provider gives none. */
  id: string;
}

/** Where a request goes when `upstream_url` does not say otherwise. */
export interface Endpoint {
  /** Absolute URL, query string included (Azure's `api-version`). */
  url: string;
  /** Headers the provider requires besides auth (e.g. `anthropic-version`). */
  headers: Record<string, string>;
}

export interface TranslatedResponse {
  /** The OpenAI-shaped JSON text to send to the client (the upstream's own bytes when nothing needed changing). */
  body: string;
  usage: Usage | null;
  /** The model the provider says answered, when it says. */
  responseModel: string | null;
}

/** A provider answer that cannot be turned into the OpenAI shape: the client gets 502 (RELIABILITY D3). */
export class TranslationError extends Error {
  override readonly name = 'TranslationError';
}

/** A client request the driver cannot express for its provider: the client gets 400. */
export class RequestError extends Error {
  override readonly name = 'RequestError';
}

/** The provider reported an error inside a stream that had already started. */
export class UpstreamStreamError extends Error {
  override readonly name = 'UpstreamStreamError';
  readonly type: string;
  constructor(message: string, type = 'upstream_error') {
    super(message);
    this.type = type;
  }
}

/** One framed event from a provider's stream: an SSE event, or one NDJSON line (`event` undefined). */
export interface StreamEvent {
  event: string | undefined;
  data: string;
}

export type StreamFraming = 'sse' | 'ndjson';

/**
 * Turns one provider stream into OpenAI's SSE frames. One instance per response; stateful.
 * Every method returns text already framed for the client (`data: {...}\n\n`), possibly ''.
 */
export interface StreamTranslator {
  /** Translates one upstream event. Throws TranslationError (malformed) or UpstreamStreamError (provider error event). */
  push(event: StreamEvent): string;
  /** True once the provider signalled a normal end ([DONE], message_stop, done:true, stream-end ...). */
  readonly done: boolean;
  /**
   * After a normal end: the final frames (the usage chunk when asked for, then `data: [DONE]`).
   * `estimated` is the usage to report when the client asked for usage and the provider gave none.
   */
  finish(estimated?: Usage | null): string;
  /** Usage as reported by the provider, or null when it reported none (the plugin then estimates). */
  usage(): Usage | null;
  /** The generated text so far (for estimating tokens). */
  readonly text: string;
  readonly responseModel: string | null;
}

export interface ProviderDriver {
  readonly name: ProviderName;
  /**
   * Where this request goes: the provider's default URL for the route type, or `options.upstream_url`
   * when set (Kong: it replaces scheme, host, port and path; Azure still adds `api-version`,
   * Anthropic still sends `anthropic-version`). Providers without a default (llama2, self-hosted
   * mistral) are only configured with `upstream_url`: the schema enforces it.
   */
  endpoint(ctx: DriverContext): Endpoint;
  /**
   * The auth header as the provider must receive it, from the configured one. Most providers take
   * the configured header verbatim; Anthropic only authenticates `x-api-key` (the guide says `apikey`).
   */
  authHeader?(name: string, value: string): [string, string];
  /** The upstream JSON body for a validated client request. Throws RequestError. */
  buildRequest(req: ClientRequest, ctx: DriverContext): Record<string, unknown>;
  /** Translates a 200 response body. Throws TranslationError. */
  parseResponse(body: string, ctx: DriverContext): TranslatedResponse;
  /** How the provider frames its stream, for a given request (llama2/mistral depend on their format). */
  streamFraming(ctx: DriverContext): StreamFraming;
  createStreamTranslator(ctx: DriverContext): StreamTranslator;
}
