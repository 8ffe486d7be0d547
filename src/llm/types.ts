/**
 * The LLM layer's contract. The gateway speaks OpenAI's shapes to clients; each provider driver
 * (src/llm/drivers/<provider>.ts) translates between those shapes and its provider's own API.
 * Drivers are pure: no I/O, no clocks they cannot be given, no globals. The ai-proxy plugin does
 * the HTTP exchange and calls into a driver at four points: where to send (endpoint), what to
 * send (buildRequest), what came back (parseResponse), and what streamed back (stream translator).
 */

import type { CanonicalRequest, CanonicalResponse, Carried, EventSink, InboundFormat, StreamFailure, UnsupportedPolicy, Usage } from '../exchange/types.ts';
import type { JsonObject } from './json.ts';

export type LlmRouteType = 'llm/v1/chat' | 'llm/v1/completions';
export type RouteType = LlmRouteType | 'preserve';
/** OpenAI's embeddings API in front of each provider's (Kong 3.10+ `llm/v1/embeddings`); see ProviderDriver.embeddings. */
export type EmbeddingsRouteType = 'llm/v1/embeddings';
/** OpenAI's Responses API in front of every chat provider (Kong Enterprise 3.11+ `llm/v1/responses`): the provider is asked for a chat. */
export type ResponsesRouteType = 'llm/v1/responses';
/** Every `route_type` the ai-proxy schema accepts. */
export type AnyRouteType = RouteType | EmbeddingsRouteType | ResponsesRouteType;

/**
 * Kong's providers (3.6: openai ... llama2; 3.8: gemini, bedrock; 3.9: huggingface), then the
 * OpenAI-compatible APIs by name (docs/providers.md, "The OpenAI-compatible family").
 */
export const PROVIDERS = [
  'openai', 'azure', 'anthropic', 'cohere', 'mistral', 'llama2', 'gemini', 'bedrock', 'huggingface',
  'groq', 'together', 'deepseek', 'fireworks', 'openrouter', 'vllm', 'lmstudio', 'llamacpp',
] as const;
export type ProviderName = (typeof PROVIDERS)[number];

export interface AuthConfig {
  header_name: string | null;
  header_value: string | null;
  param_name: string | null;
  param_value: string | null;
  param_location: 'query' | 'body' | null;
  allow_override: boolean;
  /** gemini (Kong 3.8): authenticate with a Google service account instead of a key. */
  gcp_use_service_account?: boolean | null;
  /** The service account's JSON key file; else the `GCP_SERVICE_ACCOUNT` environment variable. */
  gcp_service_account_json?: string | null;
  /** bedrock (Kong 3.8): static IAM credentials; else `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`. */
  aws_access_key_id?: string | null;
  aws_secret_access_key?: string | null;
}

/** `model.options.gemini` (Kong 3.8): Vertex AI instead of Google AI Studio when all three are set. */
export interface GeminiOptions {
  /** The regional Vertex host, e.g. `us-central1-aiplatform.googleapis.com` (a hostname only). */
  api_endpoint?: string | null;
  project_id?: string | null;
  location_id?: string | null;
}

/** `model.options.bedrock` (Kong 3.8). */
export interface BedrockOptions {
  /** The AWS region; else `AWS_REGION` / `AWS_DEFAULT_REGION`. */
  aws_region?: string | null;
}

/** `model.options.huggingface` (Kong 3.9): the serverless Inference API's request options. */
export interface HuggingFaceOptions {
  use_cache?: boolean | null;
  wait_for_model?: boolean | null;
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
  /** What happens to a client field the provider cannot honour (src/exchange/policy.ts); default `error`. */
  unsupported_params?: UnsupportedPolicy | null;
  /** modelgate: false stops the opentelemetry plugin from writing trace context headers into this target's provider requests (default on). */
  trace_propagation?: boolean | null;
  gemini?: GeminiOptions | null;
  bedrock?: BedrockOptions | null;
  huggingface?: HuggingFaceOptions | null;
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

export type { Usage } from '../exchange/types.ts';

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
  /** The API the client spoke: what answers are rendered in (src/exchange/render/). */
  inbound: InboundFormat;
  /** The route's `model.options.unsupported_params` policy. */
  policy: UnsupportedPolicy;
  /**
   * A client field or feature (`path`, e.g. `response_format`, `messages[2].content[0]`) the provider
   * cannot honour. Under `error` it throws a RequestError naming the path and the provider (400
   * before the provider is called); under `drop` and `pass` it records the path as dropped (a
   * feature the provider's API cannot express cannot be passed) and returns: the caller then
   * leaves it out. `why` completes the message (e.g. `audio content`).
   */
  unsupported(path: string, why?: string): void;
  /**
   * A client field left out by name whatever the policy, never an error: for what is only a hint the
   * provider does without (a cache mark where the provider caches implicitly). Recorded with the
   * paths `unsupported` drops.
   */
  drop(path: string): void;
  /** The paths dropped so far under `drop` / `pass` (the plugin names them in X-Modelgate-Dropped-Params and the log). */
  readonly dropped?: readonly string[];
  /** The canonical request being answered (set by the plugin; absent in some unit tests). */
  readonly request?: CanonicalRequest;
  /**
   * The answer's text goes through response hooks (src/plugins/shared/response-hooks.ts): a format
   * must translate its stream through the sink, never pass the provider's bytes on. Absent: false.
   */
  readonly answerHooks?: boolean;
  /** The renderer of streamed answers in the client's API: one per response; translators write through it. */
  createSink(): EventSink;
  /** A whole answer rendered in the client's API (the JSON text the client gets). */
  renderResponse(response: CanonicalResponse): string;
}

/** Where a request goes when `upstream_url` does not say otherwise. */
export interface Endpoint {
  /** Absolute URL, query string included (Azure's `api-version`). */
  url: string;
  /** Headers the provider requires besides auth (e.g. `anthropic-version`). */
  headers: Record<string, string>;
}

/** What a wire format makes of a 200 answer: the canonical answer, or the provider's own bytes when it speaks the client's API. */
export type ParsedAnswer = CanonicalResponse | PassthroughAnswer;

/** A provider answer already in the client's API (OpenAI-compatible servers, an OpenAI client): its bytes go to the client unchanged. */
export interface PassthroughAnswer {
  passthrough: string;
  usage: Usage | null;
  responseModel: string | null;
  /** The answer as parsed (the provider's and the client's API alike): a traced request reads its id and finish reasons here instead of from the text. */
  parsed: unknown;
}

export interface TranslatedResponse {
  /** The OpenAI-shaped JSON text to send to the client (the upstream's own bytes when nothing needed changing). */
  body: string;
  usage: Usage | null;
  /** The model the provider says answered, when it says. */
  responseModel: string | null;
  /** A translated answer: what it carried for the next turn (reasoning state, tool-call ids). */
  carried?: Carried;
  /** A translated answer: its generated text, for estimating tokens when the provider counted none. */
  text?: string;
  /** A translated answer in canonical form (a stream request answered in one body is replayed through the client's sink). */
  canonical?: CanonicalResponse;
  /** A passed-through answer as parsed, while `body` is still its text (PassthroughAnswer.parsed); a step that rewrites the body leaves it out. */
  parsed?: unknown;
}

/** A provider answer that cannot be turned into the OpenAI shape: the client gets 502 (docs/decisions.md, D3). */
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

/** How a provider frames its stream: server-sent events, newline-delimited JSON, or AWS's binary event stream (Bedrock). */
export type StreamFraming = 'sse' | 'ndjson' | 'aws-eventstream';

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
  /**
   * True once the answer carried content (text, reasoning or tool arguments): the time to first
   * token is taken then, not at a role-only or metadata event that comes before any token.
   */
  readonly contentStarted?: boolean;
  readonly responseModel: string | null;
  /** What the answer carried for the next turn (its reasoning state and tool-call ids: provider-state.ts). */
  readonly carried?: Carried;
  /**
   * The client's error event for a stream that failed after it started, in the client's API
   * (BaseStreamTranslator: its sink's `error`). Absent: the client API's default (src/exchange/apis/).
   */
  errorFrame?(failure: StreamFailure): string;
  /** The whole answer in the client's API once done (EventSink.answer): the Responses store keeps it. */
  readonly answer?: JsonObject | null;
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
  /** The upstream JSON body for a canonical request (src/exchange/inbound/). Throws RequestError. */
  buildRequest(req: CanonicalRequest, ctx: DriverContext): Record<string, unknown>;
  /** Translates a 200 response body, rendered in the client's API (ctx.renderResponse). Throws TranslationError. */
  parseResponse(body: string, ctx: DriverContext): TranslatedResponse;
  /** How the provider frames its stream, for a given request (llama2/mistral depend on their format). */
  streamFraming(ctx: DriverContext): StreamFraming;
  createStreamTranslator(ctx: DriverContext): StreamTranslator;
  /**
   * Credentials that depend on the request itself or must be fetched: AWS SigV4 (Bedrock signs
   * method, URL, body and date), a Google OAuth token minted from a service account (Gemini with
   * `auth.gcp_use_service_account`). The plugin calls it once per attempt, after the body and
   * headers are final and just before sending, and sets the returned headers (lower-case names,
   * replacing any of the same name). Absent, or resolving to `{}`, when the configured
   * header/param auth is all there is. The one place a driver may do I/O (the token exchange, with
   * its own timeout and cache); it rejects with a SigningError.
   */
  signRequest?(request: SignableRequest, ctx: SigningContext, auth: AuthConfig | null): Promise<Record<string, string>>;
  /** The `llm/v1/embeddings` route type, for providers that have an embeddings API. */
  readonly embeddings?: EmbeddingsDriver;
  /** Top-level client fields beyond the inbound API the provider takes natively (WireFormat.nativeFields). */
  nativeFields?(ctx: DriverContext): readonly string[];
  /** The format judges unmapped fields inside messages and tools itself (WireFormat.handlesUnmapped). */
  handlesUnmapped?(ctx: DriverContext): boolean;
}

/** The request as it will go on the wire, for signing. */
export interface SignableRequest {
  method: string;
  /** Absolute URL exactly as sent: origin, path and query string (auth query parameter included). */
  url: string;
  /** The headers as they will be sent (lower-case names); signers read `content-type` from them. */
  headers: Readonly<Record<string, string>>;
  body: string;
}

/** What a signer needs of a request's context: both DriverContext and EmbeddingsContext are one. */
export type SigningContext = Pick<DriverContext, 'provider' | 'model' | 'options'>;

/** Credentials could not be produced (none configured, a token exchange failed): the client gets 500/502, never a request without them. */
export class SigningError extends Error {
  override readonly name = 'SigningError';
  /** True when the failure is the credential service's (token endpoint down): 502; false for configuration: 500. */
  readonly upstream: boolean;
  constructor(message: string, upstream = false) {
    super(message);
    this.upstream = upstream;
  }
}

// ---------------------------------------------------------------------------------------------
// Embeddings (`llm/v1/embeddings`)

/** A validated OpenAI embeddings body (validateEmbeddingsRequest). Unknown client fields are kept for providers that take them natively. */
export interface EmbeddingsRequest {
  /** A string, strings, a token array or token arrays (OpenAI's four forms). */
  input: string | string[] | number[] | number[][];
  model?: string | null;
  encoding_format?: 'float' | 'base64' | null;
  dimensions?: number | null;
  user?: string | null;
  [k: string]: unknown;
}

/** One embeddings request's context, resolved by the plugin (like DriverContext, without streaming). */
export interface EmbeddingsContext {
  provider: ProviderName;
  routeType: EmbeddingsRouteType;
  /** The configured `model.name`, else the client's `model`. */
  model: string;
  options: ModelOptions;
  now: number;
}

export interface EmbeddingsDriver {
  /** Where the request goes (the provider's embeddings endpoint, or `upstream_url`). Throws RequestError. */
  endpoint(ctx: EmbeddingsContext): Endpoint;
  /** The upstream JSON body. Throws RequestError (e.g. token arrays to a provider that only takes text). */
  buildRequest(req: EmbeddingsRequest, ctx: EmbeddingsContext): Record<string, unknown>;
  /**
   * A 200 answer as OpenAI's `{"object":"list","data":[{"object":"embedding","index","embedding"}],"model","usage"}`,
   * vectors base64-encoded (little-endian float32) when the client asked for `encoding_format: base64`.
   * `usage.completion_tokens` is 0; `usage` is null when the provider counts nothing (the plugin then
   * estimates: `completeEmbeddingsUsage`). Throws TranslationError.
   */
  parseResponse(body: string, req: EmbeddingsRequest, ctx: EmbeddingsContext): TranslatedResponse;
}
