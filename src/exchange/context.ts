/**
 * One call's DriverContext: what a format needs to know about the request and the route, the
 * unsupported-params policy, and the renderer of the client's API. The plugin makes one per
 * planned call (src/plugins/ai-proxy/exchange.ts); tests make them directly.
 */
import { uuidHex } from '../util/uuid.ts';
import { RequestError, type DriverContext, type LlmRouteType, type ModelOptions, type ProviderName } from '../llm/types.ts';
import type { CanonicalRequest, CanonicalResponse, EventSink, InboundFormat, UnsupportedPolicy } from './types.ts';
import { clientApi, type ClientApi } from './apis/index.ts';
import { clientFieldPath } from './apis/types.ts';

export interface CallInit extends Pick<DriverContext, 'provider' | 'routeType' | 'model' | 'options' | 'stream' | 'includeUsage'> {
  inbound?: InboundFormat;
  /** Default: the route's `options.unsupported_params`, else `error`. */
  policy?: UnsupportedPolicy;
  now?: number;
  /** A fixed answer id (tests); else one is made on first use. */
  id?: string;
  /** The request being answered: renderers that echo its parameters (Responses) read it. */
  request?: CanonicalRequest;
}

/** The message of a refused field: `<path>: [<why> is ]not supported by the <provider> provider`. */
export function unsupportedMessage(path: string, provider: string, why?: string): string {
  return `${path}: ${why ? `${why} is ` : ''}not supported by the ${provider} provider`;
}

export class ExchangeContext implements DriverContext {
  readonly provider: ProviderName;
  readonly routeType: LlmRouteType;
  readonly model: string;
  readonly options: ModelOptions;
  readonly stream: boolean;
  readonly includeUsage: boolean;
  readonly now: number;
  readonly inbound: InboundFormat;
  readonly policy: UnsupportedPolicy;
  /** Paths dropped for this call (drop/pass policies): the `X-Modelgate-Dropped-Params` header and the log. */
  readonly dropped: string[] = [];
  readonly request: CanonicalRequest | undefined;
  readonly api: ClientApi;
  /**
   * The answer's text goes through response hooks (src/plugins/shared/response-hooks.ts): stream
   * translators write through the sink, never pass the provider's bytes on. Set by the relay.
   */
  answerHooks = false;
  /** Wraps every sink this call makes (the response hooks' recorder); null: the client's renderer itself. */
  wrapSink: ((sink: EventSink) => EventSink) | null = null;
  private idMemo: string | null;

  constructor(init: CallInit) {
    this.provider = init.provider;
    this.routeType = init.routeType;
    this.model = init.model;
    this.options = init.options;
    this.stream = init.stream;
    this.includeUsage = init.includeUsage;
    this.now = init.now ?? Math.floor(Date.now() / 1000);
    this.inbound = init.inbound ?? (init.routeType === 'llm/v1/chat' ? 'openai-chat' : 'openai-completions');
    this.policy = init.policy ?? init.options.unsupported_params ?? 'error';
    this.idMemo = init.id ?? null;
    this.request = init.request;
    this.api = clientApi(this.inbound);
  }

  /** Made only if a translation asks for it (OpenAI's own answers carry theirs). */
  get id(): string {
    return (this.idMemo ??= `${this.api.idPrefix}${uuidHex()}`);
  }

  unsupported(path: string, why?: string): void {
    const named = clientFieldPath(path, this.api.fieldNames);
    if (this.policy === 'error') throw new RequestError(unsupportedMessage(named, this.provider, why));
    this.dropNamed(named);
  }

  drop(path: string): void {
    this.dropNamed(clientFieldPath(path, this.api.fieldNames));
  }

  private dropNamed(path: string): void {
    if (!this.dropped.includes(path)) this.dropped.push(path);
  }

  createSink(): EventSink {
    const sink = this.api.createSink(this);
    return this.wrapSink === null ? sink : this.wrapSink(sink);
  }

  renderResponse(response: CanonicalResponse): string {
    return this.api.renderResponse(response, this);
  }
}
