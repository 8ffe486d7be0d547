/**
 * Shared by the wire-format unit tests: the model options a route has when none are set, an
 * EventSink that records what it is told, and a minimal DriverContext whose `unsupported` records
 * the path (or throws a RequestError under the `error` policy) and whose `drop` records it too.
 */
import { EMPTY_OPTIONS } from '../../src/plugins/ai-proxy/compile.ts';
import { RequestError, type DriverContext, type LlmRouteType, type ModelOptions, type ProviderName } from '../../src/llm/types.ts';
import type { CanonicalResponse, Carried, EventSink, FinishReason, ReasoningPart, StreamFailure, ToolCallDelta, UnsupportedPolicy, Usage } from '../../src/exchange/types.ts';

/** Every model option unset (the ones src/plugins/ai-proxy/compile.ts starts a route from). */
export const NO_OPTIONS: ModelOptions = EMPTY_OPTIONS;

export interface RecordingSinkInit {
  id?: string;
  created?: number;
  model?: string;
  /** Record `start` with the sink's id and model (default: `['start']` alone). */
  startDetail?: boolean;
  /** Keep `carried` as a renderer does: reasoning state parts and tool call ids (default: left empty). */
  carry?: boolean;
  /** Return a tag per call (`<text>`, `<tools>`...) instead of '' (frames are otherwise the renderer's business). */
  tags?: boolean;
}

type SinkEvent = keyof Omit<EventSink, 'id' | 'created' | 'model' | 'carried' | 'answer'>;
const TAGS: Record<SinkEvent, string> = {
  start: '<start>', text: '<text>', reasoning: '<reasoning>', reasoningState: '', refusal: '<refusal>',
  toolCalls: '<tools>', finish: '<finish>', usage: '<usage>', done: '<done>', error: '<error>',
};

/** A fake EventSink: every call is recorded in `events` as `[name, ...arguments]`. */
export class RecordingSink implements EventSink {
  id: string;
  created: number;
  model: string;
  readonly events: [string, ...unknown[]][] = [];
  readonly carried: Carried = { reasoning: [], toolCallIds: [] };
  readonly #init: RecordingSinkInit;
  constructor(init: RecordingSinkInit = {}) {
    this.id = init.id ?? 'chatcmpl-gateway';
    this.created = init.created ?? 1_700_000_000;
    this.model = init.model ?? 'test-model';
    this.#init = init;
  }
  #record(name: SinkEvent, ...args: unknown[]): string {
    this.events.push([name, ...args]);
    return this.#init.tags ? TAGS[name] : '';
  }
  start(): string {
    return this.#init.startDetail ? this.#record('start', this.id, this.model) : this.#record('start');
  }
  text(text: string): string {
    return this.#record('text', text);
  }
  reasoning(text: string): string {
    return this.#record('reasoning', text);
  }
  reasoningState(part: ReasoningPart): string {
    if (this.#init.carry) this.carried.reasoning.push(part);
    return this.#record('reasoningState', part);
  }
  refusal(text: string): string {
    return this.#record('refusal', text);
  }
  toolCalls(calls: ToolCallDelta[]): string {
    if (this.#init.carry) for (const call of calls) if (call.id) this.carried.toolCallIds.push(call.id);
    return this.#record('toolCalls', calls);
  }
  finish(reason: FinishReason | null): string {
    return this.#record('finish', reason);
  }
  usage(usage: Usage): string {
    return this.#record('usage', usage);
  }
  done(): string {
    return this.#record('done');
  }
  error(failure: StreamFailure): string {
    return this.#record('error', failure);
  }
}

export interface RecordingContextInit {
  provider: ProviderName;
  model: string;
  routeType?: LlmRouteType;
  options?: Partial<ModelOptions>;
  stream?: boolean;
  includeUsage?: boolean;
  policy: UnsupportedPolicy;
  id?: string;
  now?: number;
  /** The sink `createSink` returns (default: a new RecordingSink per call, with `sink` as its init). */
  createSink?: () => RecordingSink;
  sink?: RecordingSinkInit;
  /** The message a refused path throws with (default: `<path>: <why> is not supported by the <provider> provider`). */
  refusal?: (path: string, why: string) => string;
  /** Record a path `drop` names once (default: each time). */
  dropOnce?: boolean;
}

/** A DriverContext that records: the paths it dropped (`unsupported` under drop/pass, and `drop`), and the sinks it made. */
export interface RecordingContext extends DriverContext {
  dropped: string[];
  sinks: RecordingSink[];
}

export function recordingContext(init: RecordingContextInit): RecordingContext {
  const dropped: string[] = [];
  const sinks: RecordingSink[] = [];
  const { provider, policy } = init;
  const refusal = init.refusal ?? ((path: string, why: string) => `${path}: ${why} is not supported by the ${provider} provider`);
  return {
    provider,
    routeType: init.routeType ?? 'llm/v1/chat',
    model: init.model,
    options: { ...NO_OPTIONS, ...init.options },
    stream: init.stream ?? false,
    includeUsage: init.includeUsage ?? false,
    now: init.now ?? 1_700_000_000,
    id: init.id ?? 'chatcmpl-gateway',
    inbound: 'openai-chat',
    policy,
    unsupported(path: string, why?: string): void {
      if (policy === 'error') throw new RequestError(refusal(path, why ?? 'not supported'));
      dropped.push(path);
    },
    drop(path: string): void {
      if (!init.dropOnce || !dropped.includes(path)) dropped.push(path);
    },
    createSink(): EventSink {
      const sink = init.createSink?.() ?? new RecordingSink(init.sink);
      sinks.push(sink);
      return sink;
    },
    renderResponse: (response: CanonicalResponse) => JSON.stringify(response),
    dropped,
    sinks,
  };
}
