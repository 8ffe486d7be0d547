/**
 * A client API modelgate speaks (OpenAI Chat Completions, legacy Completions, OpenAI Responses,
 * Anthropic Messages): everything the gateway needs to understand a client in that API and to
 * answer it in that API. One module per API in this folder; the table in index.ts maps each
 * InboundFormat to its ClientApi. Provider wire formats (src/llm/formats/) never see which API the
 * client spoke except through `DriverContext.inbound` and the sink/renderer the context hands them.
 */
import type { DriverContext } from '../../llm/types.ts';
import type { CanonicalRequest, CanonicalResponse, EventSink, InboundFormat, StreamFailure } from '../types.ts';

/** What a renderer knows of the call: the answer id, clock, model, and the request it answers (Responses echoes its parameters). */
export interface SinkContext extends Pick<DriverContext, 'id' | 'now' | 'model' | 'routeType' | 'includeUsage'> {
  /** The canonical request being answered (absent in some unit tests). */
  request?: CanonicalRequest;
}

export interface ClientApi {
  readonly format: InboundFormat;
  /** The prefix of answer ids the gateway makes when the provider's does not serve (`chatcmpl-`, `cmpl-`, `resp_`, `msg_`). */
  readonly idPrefix: string;
  /**
   * The client's body (already JSON, an object) as a CanonicalRequest, `source` set to this API.
   * Throws RequestError (a 400 naming the field) for what the API itself would refuse.
   */
  parse(value: unknown): CanonicalRequest;
  /** The renderer of one streamed answer (server-sent events in this API). */
  createSink(ctx: SinkContext): EventSink;
  /** A whole answer, as the JSON text this API's clients expect. */
  renderResponse(response: CanonicalResponse, ctx: SinkContext): string;
  /**
   * Any error body the gateway writes to this API's clients. `body` is what the gateway made: Kong's
   * `{"message"}` and/or OpenAI's `{"error":{message,type,code,param}}` envelope; `failureCode` is
   * the cause the gateway classified (an upstream failure's code). Returns the body in this API's
   * own error shape (the shape its SDKs read to raise a typed error).
   */
  errorBody(status: number, body: unknown, failureCode: string | null): unknown;
  /** The error event of a failed stream where no sink tracked it (a pass-through translator). */
  streamError(failure: StreamFailure): string;
  /**
   * The client's own name for a field a provider format refuses or drops, which formats name as
   * Chat Completions does (`reasoning_effort`, `response_format` ...): the 400's message and `param`
   * and `X-Modelgate-Dropped-Params` then say what this client sent (`reasoning.effort`,
   * `text.format`, `thinking.budget_tokens` ...). Absent: the names are the client's already.
   */
  readonly fieldNames?: readonly (readonly [chat: string, client: string])[];
}

/** `path` with its leading field renamed by the table (`reasoning_effort` → `reasoning.effort`); the rest of the path kept. */
export function clientFieldPath(path: string, names: ClientApi['fieldNames']): string {
  if (!names) return path;
  for (const [chat, client] of names) {
    if (path === chat) return client;
    if (path.startsWith(chat) && (path[chat.length] === '.' || path[chat.length] === '[')) return client + path.slice(chat.length);
  }
  return path;
}
