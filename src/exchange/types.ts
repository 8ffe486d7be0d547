/**
 * The canonical exchange: one internal model of an LLM call, a superset of what OpenAI Chat
 * Completions, OpenAI Responses, Anthropic Messages and Gemini carry. Inbound adapters
 * (src/exchange/inbound/) parse a client's body into a CanonicalRequest; a provider's wire format
 * (src/llm/formats/) maps the CanonicalRequest out to its API, and maps the provider's answer back
 * into a CanonicalResponse (or, streamed, into calls on an EventSink); a renderer
 * (src/exchange/render/) writes that answer in the client's own API. No inbound format passes
 * through another format on its way to a provider, so nothing is lost to a format that cannot
 * carry it.
 *
 * Rules every mapping keeps (docs/architecture.md, "The canonical exchange"):
 * - Every client field is mapped, or goes through the route's unsupported-params policy
 *   (`DriverContext.unsupported`): an error naming the field and the provider (the default), a
 *   named drop (`X-Modelgate-Dropped-Params` and the log), or passed as is. Never dropped in silence.
 * - Tool-call ids are provider-neutral (`TOOL_CALL_ID`); provider state that must come back next
 *   turn (thinking signatures, Gemini thought signatures, encrypted reasoning) travels in
 *   ReasoningPart, never inside an id, and only goes to the provider that made it.
 * - Tool-call arguments are always JSON text of an object (`"{}"` for none), streamed or not.
 * - Usage is OpenAI's shape with every token kind (Usage below): prompt tokens include cached
 *   reads and cache writes, completion tokens include reasoning.
 */
import type { JsonObject } from '../llm/json.ts';

// ---------------------------------------------------------------------------------------------
// Shared pieces

/** A prompt-cache breakpoint (Anthropic `cache_control`, Bedrock `cachePoint`): everything up to here may be cached. */
export interface CacheMark {
  type: 'ephemeral';
  /** Anthropic's `ttl` (`5m` default, `1h`). */
  ttl?: string;
}

/** Where media comes from: a URL, inline base64 bytes, or a file id the provider issued. */
export type MediaSource =
  | { kind: 'url'; url: string }
  | { kind: 'base64'; mediaType: string; data: string }
  | { kind: 'file_id'; fileId: string };

/** The provider-neutral shape every tool-call id the client sees has. */
export const TOOL_CALL_ID = /^[A-Za-z0-9_-]{1,64}$/;

// ---------------------------------------------------------------------------------------------
// Content parts

export interface TextPart {
  type: 'text';
  text: string;
  cache?: CacheMark;
}

export interface ImagePart {
  type: 'image';
  source: MediaSource;
  /** OpenAI's `detail` (`auto` | `low` | `high`). */
  detail?: string;
  cache?: CacheMark;
}

export interface AudioPart {
  type: 'audio';
  /** Base64 bytes. */
  data: string;
  /** `wav`, `mp3`, ... (OpenAI's `input_audio.format`). */
  format: string;
  cache?: CacheMark;
}

export interface FilePart {
  type: 'file';
  source: MediaSource;
  filename?: string;
  cache?: CacheMark;
}

/** A call the assistant made. `arguments` is the JSON text of an object (`"{}"` for none). */
export interface ToolCallPart {
  type: 'tool_call';
  id: string;
  name: string;
  arguments: string;
  cache?: CacheMark;
}

/** The result of a tool call, in a `tool` message. */
export interface ToolResultPart {
  type: 'tool_result';
  toolCallId: string;
  /** The tool's name when the inbound format says it (Gemini's functionResponse needs one). */
  name?: string;
  content: (TextPart | ImagePart)[];
  isError?: boolean;
  cache?: CacheMark;
}

/**
 * The model's reasoning, with the provider state that must come back next turn. Only the provider
 * named in `provider` can use `signature` / `encrypted` / `redacted`; a format for another provider
 * leaves the part out (a clean drop: that state means nothing elsewhere), or sends only `text`
 * where its API takes reasoning text.
 */
export interface ReasoningPart {
  type: 'reasoning';
  /** The reasoning (or its summary) as text; '' when the provider only gave a signature or encrypted blob. */
  text: string;
  /** Anthropic's thinking `signature`, Bedrock's `reasoningText.signature`, Gemini's `thoughtSignature`. */
  signature?: string;
  /** Anthropic `redacted_thinking.data`, Bedrock `redactedContent`: opaque, returned as is. */
  redacted?: string;
  /** OpenAI Responses' `encrypted_content`. */
  encrypted?: string;
  /** The provider that produced the state (`anthropic`, `bedrock`, `gemini`, `openai` ...). */
  provider?: string;
  /** Gemini: the signature belongs to this function call (its thoughtSignature rides on that part). */
  toolCallId?: string;
}

export interface RefusalPart {
  type: 'refusal';
  text: string;
}

export type Part = TextPart | ImagePart | AudioPart | FilePart | ToolCallPart | ToolResultPart | ReasoningPart | RefusalPart;

// ---------------------------------------------------------------------------------------------
// Request

/**
 * `developer` is OpenAI's newer name for system instructions; formats treat it as `system`.
 * A `tool` message holds ToolResultParts (one per message from OpenAI chat; several from Anthropic).
 */
export type Role = 'system' | 'developer' | 'user' | 'assistant' | 'tool';

export interface Message {
  role: Role;
  parts: Part[];
  /** OpenAI's participant `name`. */
  name?: string;
  /** A cache mark on the whole message (applies to its last part). */
  cache?: CacheMark;
}

export interface FunctionTool {
  type: 'function';
  name: string;
  description?: string;
  /** JSON Schema of the arguments object. */
  parameters: JsonObject;
  strict?: boolean;
  cache?: CacheMark;
}

/** A provider's built-in tool (web search, code interpreter ...): sent only to a provider that has it. */
export interface BuiltinTool {
  type: 'builtin';
  /** The inbound format's type name (`web_search`, `file_search` ...). */
  name: string;
  config: JsonObject;
}

export type Tool = FunctionTool | BuiltinTool;

export type ToolChoice = { type: 'auto' } | { type: 'none' } | { type: 'required' } | { type: 'tool'; name: string };

/** What the answer must look like. */
export type OutputFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; name: string; schema: JsonObject; strict?: boolean; description?: string };

export type ReasoningEffort = 'none' | 'minimal' | 'low' | 'medium' | 'high';

export interface ReasoningRequest {
  effort?: ReasoningEffort;
  /** An explicit thinking budget in tokens (Anthropic `thinking.budget_tokens`, Gemini `thinkingBudget`). */
  budgetTokens?: number;
  /** The client wants the provider's reasoning state back (Responses `include: ["reasoning.encrypted_content"]`). */
  includeEncrypted?: boolean;
}

/** The client's sampling fields, before the route's configured options are applied (llm/params.ts). */
export interface Sampling {
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  stop?: string[];
  seed?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  /** Choices asked for (OpenAI `n`). */
  n?: number;
  logprobs?: boolean;
  topLogprobs?: number;
  logitBias?: Record<string, number>;
}

/**
 * The client APIs modelgate speaks (src/exchange/apis/): OpenAI Chat Completions and legacy
 * Completions, OpenAI Responses, Anthropic Messages.
 */
export type InboundFormat = 'openai-chat' | 'openai-completions' | 'openai-responses' | 'anthropic-messages';

export interface CanonicalRequest {
  /** `chat` for every conversational API; `completions` for OpenAI's legacy prompt API. */
  kind: 'chat' | 'completions';
  /** The model the client named, if any (the plugin decides which model is asked: DriverContext.model). */
  model?: string;
  messages: Message[];
  /** `completions`: the prompt as sent (formats with a raw prompt API use it; others use `messages`). */
  prompt?: string;
  tools?: Tool[];
  toolChoice?: ToolChoice;
  /** false: at most one tool call per turn. */
  parallelToolCalls?: boolean;
  output?: OutputFormat;
  reasoning?: ReasoningRequest;
  sampling: Sampling;
  stream: boolean;
  /** The client asked for usage in the stream (OpenAI `stream_options.include_usage`). */
  includeUsage: boolean;
  /** The end user (OpenAI `user` / `safety_identifier`, Anthropic `metadata.user_id`). */
  user?: string;
  metadata?: Record<string, string>;
  /**
   * OpenAI `store`, `service_tier`, `prompt_cache_key`, `prediction`, `modalities`, `audio`,
   * `web_search_options`, `verbosity` (Responses: also `include`, `truncation`, `background`,
   * `text.verbosity` as `verbosity`): carried for formats that speak them; any other format puts a
   * non-default value through the policy.
   */
  openai?: JsonObject;
  /** Anthropic-only request fields (`service_tier`, `container`, `mcp_servers`, `context_management` ...): carried for the Anthropic format. */
  anthropic?: JsonObject;
  /**
   * Client fields no canonical field carries, kept by the route's policy `pass` (sent as is to a
   * provider), by name. Under `error` they never get this far; under `drop` they are in `dropped`.
   */
  passthrough: JsonObject;
  /** Field paths dropped under the `drop` policy, by the inbound adapter or a format (DriverContext.unsupported). */
  dropped: string[];
  /**
   * Paths of client fields inside messages and tools that no canonical field carries (an unknown
   * content part type, a message field such as OpenAI's `audio` reference). A format that passes the
   * client's own messages on (OpenAI-compatible) judges them itself; for any other the plugin puts
   * each through the policy (DriverContext.unsupported) before the format builds its body.
   */
  unmapped?: string[];
  /**
   * Responses: the response this request continues, once the gateway's store has put that
   * conversation into `messages` (src/plugins/ai-proxy/responses-state.ts). Answers echo it;
   * nothing is sent to a provider for it.
   */
  previousResponseId?: string;
  /** Which API the client spoke, and its parsed body: same-API formats use it to pass the client's bytes on. */
  source: { format: InboundFormat; body: JsonObject };
}

// ---------------------------------------------------------------------------------------------
// Response

/** OpenAI's finish reasons; every provider's stop reason maps onto one of these (data tables). */
export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'function_call';

/**
 * Token usage, in OpenAI's shape, with every kind. `prompt_tokens` counts all input tokens,
 * cached reads and cache writes included; `completion_tokens` counts all output, reasoning
 * included. The details are present only when the provider reported them.
 */
export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: {
    /** Input tokens read from the provider's prompt cache. */
    cached_tokens?: number;
    /** Input tokens written to the provider's prompt cache (Anthropic, Bedrock): modelgate's own field. */
    cache_write_tokens?: number;
    audio_tokens?: number;
  };
  completion_tokens_details?: {
    reasoning_tokens?: number;
    audio_tokens?: number;
  };
  /**
   * What the provider says the call cost, in USD (OpenRouter's `usage.cost`): priced from it
   * instead of the table (src/spend/cost.ts). modelgate's own field, set non-enumerable by the
   * format that reads it (formats/openai-compatible.ts) so that no client ever sees it.
   */
  reported_cost?: number;
}

export interface CanonicalChoice {
  /** In order: reasoning, text, refusal and tool-call parts. */
  parts: (TextPart | ReasoningPart | RefusalPart | ToolCallPart)[];
  finishReason: FinishReason | null;
  /** The stop sequence that ended the answer, when the provider says (Anthropic `stop_sequence`): Anthropic clients get `stop_reason: "stop_sequence"`. */
  stopSequence?: string;
}

export interface CanonicalResponse {
  /** The provider's answer id; renderers of other APIs make their own (`resp_…`, `msg_…`) when it does not fit. */
  id: string;
  created: number;
  model: string;
  choices: CanonicalChoice[];
  usage: Usage | null;
}

// ---------------------------------------------------------------------------------------------
// Streams

/** One tool call's piece of a stream: the first has id and name, later ones argument fragments. */
export interface ToolCallDelta {
  index: number;
  id?: string;
  name?: string;
  /** A fragment of the arguments' JSON text ('' allowed on the first). */
  arguments: string;
}

/**
 * What a provider's stream translator tells the client's renderer, event by event. Each method
 * returns the client's frames for it (possibly ''), already framed for the client's API.
 */
export interface EventSink {
  /** The answer's id, created time and model, once the provider tells them (before the first frame). */
  id: string;
  created: number;
  model: string;
  /** The start of the answer (OpenAI chat: the assistant role chunk). */
  start(): string;
  text(text: string): string;
  /** Reasoning text as it streams (OpenAI chat: `delta.reasoning_content`). */
  reasoning(text: string): string;
  /** Reasoning state that must come back next turn (a signature, redacted or encrypted content): kept, not streamed as text. */
  reasoningState(part: ReasoningPart): string;
  refusal(text: string): string;
  /**
   * Tool-call pieces. Renderers guarantee each finished call's arguments are JSON text of an
   * object: a call whose fragments were all '' gets `{}`.
   */
  toolCalls(calls: ToolCallDelta[]): string;
  finish(reason: FinishReason | null): string;
  /** The usage chunk (sent once, when the client asked for usage). */
  usage(usage: Usage): string;
  /** The end of the answer (OpenAI: `data: [DONE]`; Responses: `response.completed`; Anthropic: `message_delta` + `message_stop`). */
  done(): string;
  /**
   * The stream failed after it started: the error event of the client's API (OpenAI: `data:
   * {"error":...}`; Responses: `response.failed`/`error`; Anthropic: `event: error`). Nothing follows it.
   */
  error(failure: StreamFailure): string;
  /**
   * The whole answer in the client's API once `done()` was written (Responses: the `response`
   * object of `response.completed`, which the responses store keeps); null before, or for APIs
   * that have nothing to keep.
   */
  readonly answer?: JsonObject | null;
  /** What the answer carried that must be remembered for the next turn: its reasoning state and its tool-call ids. */
  readonly carried: Carried;
}

/** Why a stream ended early, for the client's error event (relay-stream.ts describes it). */
export interface StreamFailure {
  message: string;
  /** What the status would have been had the stream not started: it gives the error's type. */
  status: number;
  /** modelgate's cause code (`provider_error`, `upstream_truncated`, `rate_limit_exceeded` ...). */
  code: string;
  /** The provider's own error, when it sent one. */
  provider?: { name: string; type: string | null };
}

/** Reasoning state an answer carried, and the tool calls it belongs to (for the gateway-side cache). */
export interface Carried {
  reasoning: ReasoningPart[];
  toolCallIds: string[];
}

// ---------------------------------------------------------------------------------------------
// The unsupported-params policy

/** `model.options.unsupported_params`: what happens to a client field the target provider cannot honour. */
export type UnsupportedPolicy = 'error' | 'drop' | 'pass';
