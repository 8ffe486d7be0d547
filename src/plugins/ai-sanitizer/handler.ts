/**
 * `ai-sanitizer`: personal data and secrets never reach the provider, and (optionally) never
 * reach the client from the provider — detected in-process (detectors/), no external service.
 *
 * Request side (`sanitization_mode` INPUT or BOTH): a prompt hook (shared/prompt-hooks.ts) runs
 * on the parsed request, whatever API the client speaks, and replaces every value found in the
 * prompt texts (text-walk.ts) by a placeholder `<EMAIL_1>` or a synthetic fake (redactor.ts),
 * the same one for the same value, in the canonical messages and the client's body alike. With
 * `block_if_detected` the request is refused instead: 400 naming the kinds, never the values.
 *
 * Response side, through the response hooks (shared/response-hooks.ts), on the answer's text and
 * reasoning, JSON or streamed: `sanitization_mode` OUTPUT or BOTH scans the answer (scan.ts:
 * redact, or refuse with `block_if_detected`); then `recover_redacted` puts the request's
 * originals back in place of their replacements (recover.ts), across chunk boundaries. Scanning
 * comes first so that the client's own values, put back, are not taken for new findings.
 *
 * `stop_on_error` (default true, fail closed): a detector that fails refuses the request (400) or
 * the answer (the client API's error); false lets the text through unchanged and logs the error.
 *
 * Logged: kinds and counts, at info level; counted in `modelgate_ai_sanitizer_detections_total`
 * and `modelgate_ai_guardrail_decisions_total`. Never the values.
 */
import type { PluginHandler } from '../types.ts';
import type { AiSanitizerConfig } from './schema.ts';
import type { CanonicalRequest } from '../../exchange/types.ts';
import type { PromptHook } from '../shared/prompt-hooks.ts';
import type { ResponseHook, ResponseHookFactory } from '../shared/response-hooks.ts';
import { ResponseBlockedError } from '../shared/response-hooks.ts';
import { countDecision } from '../shared/guardrail-metrics.ts';
import { promptError } from '../shared/prompt-body.ts';
import { ClientError } from '../../proxy/errors.ts';
import { logger } from '../../observability/logger.ts';
import type { DetectionPlan, Span } from './detectors/index.ts';
import { compileCustomPattern } from './detectors/custom.ts';
import { kindsFor } from './kinds.ts';
import { Redactor } from './redactor.ts';
import { mapBody, mapMessages } from './text-walk.ts';
import { Recoverer, RecoverHook } from './recover.ts';
import { ScanHook } from './scan.ts';
import { countDetections, countKinds } from './metrics.ts';

const PLUGIN = 'ai-sanitizer';

export interface CompiledSanitizer {
  config: AiSanitizerConfig;
  plan: DetectionPlan;
  input: boolean;
  output: boolean;
}

/** One request's state, shared by its prompt hook and its response hooks. */
interface RequestState {
  redactor: Redactor;
  /** The request side's replacements → originals (what recover_redacted puts back), fixed once the prompt is sanitized. */
  requestMap: ReadonlyMap<string, string>;
}

function kindList(counts: Record<string, number>): string {
  return Object.keys(counts).sort().join(', ');
}

/** Redacts the request's prompt texts in place of the originals (new values, never edits: prompt-hooks.ts). */
export function sanitizeRequest(req: CanonicalRequest, redactor: Redactor, lastOnly: boolean, block: boolean): Record<string, number> {
  const keep = (t: string) => {
    redactor.avoid(t);
    return t;
  };
  mapMessages(req.messages, keep, lastOnly);
  mapBody(req.source.format, req.source.body, keep, lastOnly);
  if (typeof req.prompt === 'string') redactor.avoid(req.prompt);

  // counted on the client's body (every API has one; the canonical messages say the same again)
  const found: Span[] = [];
  const body = mapBody(req.source.format, req.source.body, (t) => {
    const r = redactor.redact(t);
    found.push(...r.spans);
    return r.text;
  }, lastOnly);
  const counts = countKinds(found);
  if (block && found.length > 0) return counts;
  const redact = (t: string) => redactor.redact(t).text;
  const messages = mapMessages(req.messages, redact, lastOnly);
  if (messages !== req.messages) req.messages = messages;
  if (typeof req.prompt === 'string') {
    const prompt = redact(req.prompt);
    if (prompt !== req.prompt) req.prompt = prompt;
  }
  if (body !== req.source.body) req.source = { format: req.source.format, body };
  return counts;
}

function requestHook(conf: CompiledSanitizer, state: RequestState, requestId: string): PromptHook {
  const { config } = conf;
  return (req) => {
    if (req === null) return; // embeddings: no prompt texts to sanitize (docs/plugins.md)
    let counts: Record<string, number>;
    try {
      counts = sanitizeRequest(req, state.redactor, !config.allow_all_conversation_history, config.block_if_detected);
    } catch (e) {
      if (e instanceof ClientError) throw e;
      logger().error({ plugin: PLUGIN, request_id: requestId, phase: 'request', err: (e as Error).message }, 'sanitizer failed');
      if (!config.stop_on_error) {
        countDecision(PLUGIN, 'request', 'fail_open');
        return;
      }
      countDecision(PLUGIN, 'request', 'error');
      throw promptError(400, 'the request could not be sanitized');
    }
    state.requestMap = new Map(state.redactor.recoverable);
    if (Object.keys(counts).length === 0) {
      countDecision(PLUGIN, 'request', 'allow');
      return;
    }
    countDetections(counts, 'request');
    if (config.block_if_detected) {
      countDecision(PLUGIN, 'request', 'block');
      logger().info({ plugin: PLUGIN, request_id: requestId, phase: 'request', detections: counts }, 'request blocked: sensitive data');
      throw promptError(400, `request blocked by ai-sanitizer: it contains ${kindList(counts)}`);
    }
    countDecision(PLUGIN, 'request', 'replace');
    logger().info({ plugin: PLUGIN, request_id: requestId, phase: 'request', detections: counts }, 'sensitive data redacted');
  };
}

/** Hooks run one after the other over one text stream (scan, then recover). */
class Pipeline implements ResponseHook {
  readonly window: number;
  readonly #hooks: ResponseHook[];
  readonly #done: () => void;
  constructor(hooks: ResponseHook[], done: () => void) {
    this.#hooks = hooks;
    this.window = hooks.reduce((w, h) => w + h.window, 0);
    this.#done = done;
  }
  push(text: string): string {
    let t = text;
    for (const h of this.#hooks) t = t === '' ? '' : (h.push(t) as string);
    return t;
  }
  flush(): string {
    let t = '';
    for (const h of this.#hooks) t = (t === '' ? '' : (h.push(t) as string)) + (h.flush() as string);
    this.#done();
    return t;
  }
}

/** Fail open on a failing detector (stop_on_error false): the text passes unchanged from then on. */
class FailOpen implements ResponseHook {
  readonly window: number;
  #inner: ResponseHook | null;
  readonly #log: (e: unknown) => void;
  constructor(inner: ResponseHook, log: (e: unknown) => void) {
    this.#inner = inner;
    this.window = inner.window;
    this.#log = log;
  }
  push(text: string): string {
    if (this.#inner === null) return text;
    try {
      return this.#inner.push(text) as string;
    } catch (e) {
      return this.#fail(e, text);
    }
  }
  flush(): string {
    if (this.#inner === null) return '';
    try {
      return this.#inner.flush() as string;
    } catch (e) {
      return this.#fail(e, '');
    }
  }
  #fail(e: unknown, text: string): string {
    if (e instanceof ResponseBlockedError) throw e;
    this.#log(e);
    this.#inner = null;
    return text; // what the failed hooks held is lost with them: released text only from here on
  }
}

function responseFactory(conf: CompiledSanitizer, state: RequestState, requestId: string): ResponseHookFactory {
  const { config } = conf;
  return {
    rule: PLUGIN,
    channels: ['text', 'reasoning'],
    create() {
      const hooks: ResponseHook[] = [];
      const found: Record<string, number> = {};
      if (conf.output) {
        hooks.push(
          new ScanHook({
            redactor: state.redactor,
            skip: state.requestMap,
            block: config.block_if_detected,
            rule: PLUGIN,
            onFound: (spans) => {
              const counts = countKinds(spans);
              for (const [k, n] of Object.entries(counts)) found[k] = (found[k] ?? 0) + n;
              countDetections(counts, 'response');
              if (config.block_if_detected) {
                countDecision(PLUGIN, 'response', 'block');
                logger().info({ plugin: PLUGIN, request_id: requestId, phase: 'response', detections: counts }, 'answer blocked: sensitive data');
              }
            },
          }),
        );
      }
      if (conf.input && config.recover_redacted && state.requestMap.size > 0) hooks.push(new RecoverHook(new Recoverer(state.requestMap)));
      if (hooks.length === 0) return null;
      const done = () => {
        if (!conf.output) return;
        const any = Object.keys(found).length > 0;
        countDecision(PLUGIN, 'response', any ? 'replace' : 'allow');
        if (any) logger().info({ plugin: PLUGIN, request_id: requestId, phase: 'response', detections: found }, 'sensitive data redacted in the answer');
      };
      const pipeline = new Pipeline(hooks, done);
      if (config.stop_on_error) return pipeline;
      return new FailOpen(pipeline, (e) => {
        countDecision(PLUGIN, 'response', 'fail_open');
        logger().error({ plugin: PLUGIN, request_id: requestId, phase: 'response', err: (e as Error)?.message }, 'sanitizer failed on the answer');
      });
    },
  };
}

export const handler: PluginHandler<AiSanitizerConfig, CompiledSanitizer> = {
  compile(config) {
    const custom = (config.custom_patterns ?? []).map((p) => compileCustomPattern(p.name, p.regex));
    const kinds = kindsFor(config.anonymize);
    if (custom.length === 0) kinds.delete('custom');
    return {
      config,
      plan: { kinds, custom },
      input: config.sanitization_mode !== 'OUTPUT',
      output: config.sanitization_mode !== 'INPUT',
    };
  },
  access(ctx, conf) {
    const state: RequestState = { redactor: new Redactor(conf.plan, conf.config.redact_type), requestMap: new Map() };
    if (conf.input) ctx.promptHooks.push(requestHook(conf, state, ctx.requestId));
    if (conf.output || conf.config.recover_redacted) ctx.responseHooks.push(responseFactory(conf, state, ctx.requestId));
  },
};
