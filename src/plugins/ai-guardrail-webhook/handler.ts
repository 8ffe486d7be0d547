/**
 * `ai-guardrail-webhook`: the prompt (INPUT), the answer (OUTPUT) or both go to an HTTP endpoint
 * that answers allow, block or replace (docs/plugins.md has the protocol).
 *
 * - Request: an asynchronous request check (ctx.requestChecks, shared/response-hooks.ts), run by
 *   the exchange after the prompt hooks, before the provider is called. The endpoint gets the
 *   conversation as text messages (`{role, content}`) and the model — never a key or a header of
 *   the client's. `replace` gives new messages: the request's messages become them (text only),
 *   in the client's body too (pass-through formats send that body).
 * - Answer: a response hook. A JSON answer's text is checked whole; a stream's in windows of
 *   `response_buffer_size` characters, each held back until the endpoint answered (the stream
 *   waits; the provider is back-pressured), with up to that many characters of the text already
 *   released sent as `context` so a phrase cut by a window's edge can be judged. `replace` gives
 *   the window's new text.
 * - A timeout (`timeout`), a connection error, a non-2xx status or an answer that is not the
 *   protocol is a failure: `fail_mode: closed` blocks (a 400 / the client API's error event),
 *   `open` lets the text pass. Every decision is counted
 *   (`modelgate_ai_guardrail_decisions_total`) and logged with the plugin instance, never the text.
 */
import type { PluginHandler } from '../types.ts';
import type { AiGuardrailWebhookConfig } from './schema.ts';
import type { CanonicalRequest, InboundFormat, Message } from '../../exchange/types.ts';
import type { JsonObject } from '../../llm/json.ts';
import { callUpstream, type UpstreamTarget } from '../../proxy/upstream.ts';
import { ResponseBlockedError, type RequestCheck, type ResponseHook, type ResponseHookFactory, type AnswerStream } from '../shared/response-hooks.ts';
import { textMessage } from '../shared/prompt-hooks.ts';
import { countDecision, type GuardPhase } from '../shared/guardrail-metrics.ts';
import { aiError } from '../ai-proxy/openai-error.ts';
import { logger } from '../../observability/logger.ts';

const PLUGIN = 'ai-guardrail-webhook';
/** The endpoint's answer is small; anything bigger is not the protocol. */
const MAX_VERDICT_BYTES = 1024 * 1024;

/** What the endpoint said. */
type Verdict = { action: 'allow' } | { action: 'block'; message: string | null } | { action: 'replace'; text?: string; messages?: { role: string; content: string }[] };

interface Compiled {
  config: AiGuardrailWebhookConfig;
  instance: string;
  call(body: JsonObject): Promise<Verdict>;
  request: boolean;
  /** The answer's hook factory (OUTPUT, BOTH), made once per snapshot; null for INPUT. */
  answer: ResponseHookFactory | null;
}

class NotProtocol extends Error {}

function parseVerdict(text: string, phase: GuardPhase): Verdict {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new NotProtocol('the guardrail answered no JSON');
  }
  const o = v as Record<string, unknown> | null;
  if (o === null || typeof o !== 'object') throw new NotProtocol('the guardrail answered no object');
  if (o.action === 'allow') return { action: 'allow' };
  if (o.action === 'block') return { action: 'block', message: typeof o.message === 'string' ? o.message : null };
  if (o.action === 'replace') {
    if (phase === 'response' && typeof o.text === 'string') return { action: 'replace', text: o.text };
    const ok = (m: unknown) => m !== null && typeof m === 'object' && typeof (m as { role?: unknown }).role === 'string' && typeof (m as { content?: unknown }).content === 'string';
    if (phase === 'request' && Array.isArray(o.messages) && o.messages.length > 0 && o.messages.every(ok)) return { action: 'replace', messages: o.messages as { role: string; content: string }[] };
  }
  throw new NotProtocol('the guardrail answered no known action');
}

/** A canonical message's text (its text parts and tool results' text), as the endpoint reads it. */
function messageText(m: Message): string {
  const out: string[] = [];
  for (const p of m.parts) {
    if (p.type === 'text') out.push(p.text);
    else if (p.type === 'tool_result') for (const c of p.content) if (c.type === 'text') out.push(c.text);
  }
  return out.join('\n');
}

/** The conversation as the endpoint gets it: role and text; parts without text are left out. */
export function webhookMessages(req: CanonicalRequest): { role: string; content: string }[] {
  if (req.kind === 'completions' && typeof req.prompt === 'string') return [{ role: 'user', content: req.prompt }];
  return req.messages.map((m) => ({ role: m.role, content: messageText(m) }));
}

/** The endpoint's messages in the client's own body, by its API (pass-through formats send that body). */
function replacedBody(format: InboundFormat, body: JsonObject, messages: { role: string; content: string }[]): JsonObject {
  switch (format) {
    case 'openai-chat':
      return { ...body, messages };
    case 'openai-completions':
      return { ...body, prompt: messages.map((m) => m.content).join('\n') };
    case 'openai-responses': {
      const { instructions: _, ...rest } = body;
      return { ...rest, input: messages };
    }
    case 'anthropic-messages': {
      const system = messages.filter((m) => m.role === 'system' || m.role === 'developer').map((m) => m.content);
      const { system: _, ...rest } = body;
      const out: JsonObject = { ...rest, messages: messages.filter((m) => m.role !== 'system' && m.role !== 'developer') };
      if (system.length > 0) out.system = system.join('\n\n');
      return out;
    }
  }
}

function requestCheck(conf: Compiled, requestId: string): RequestCheck {
  return {
    rule: PLUGIN,
    async check(req) {
      const verdict = await decide(conf, requestId, 'request', { phase: 'request', model: req.model ?? null, messages: webhookMessages(req), request_id: requestId });
      if (verdict === null || verdict.action === 'allow') return false;
      if (verdict.action === 'block') throw aiError(400, verdict.message ?? 'the request was blocked by a content policy', { code: 'request_blocked' });
      const messages = verdict.messages!;
      const roles = new Set(['system', 'developer', 'user', 'assistant']);
      req.messages = messages.map((m) => textMessage((roles.has(m.role) ? m.role : 'user') as Message['role'], m.content));
      if (req.kind === 'completions') req.prompt = messages.map((m) => m.content).join('\n');
      req.source = { format: req.source.format, body: replacedBody(req.source.format, req.source.body, messages) };
      return true;
    },
  };
}

/**
 * One call to the endpoint and its decision, counted and logged. null: the call failed and
 * `fail_mode: open` lets the text pass; a failure under `closed` throws the phase's refusal.
 */
async function decide(conf: Compiled, requestId: string, phase: GuardPhase, body: JsonObject): Promise<Verdict | null> {
  let verdict: Verdict;
  try {
    verdict = await conf.call(body);
  } catch (e) {
    const reason = e instanceof NotProtocol ? e.message : (e as Error)?.name === 'TimeoutError' || (e as { code?: string })?.code === 'UND_ERR_HEADERS_TIMEOUT' ? 'timeout' : 'unreachable';
    const open = conf.config.fail_mode === 'open';
    countDecision(PLUGIN, phase, open ? 'fail_open' : 'error');
    logger().warn({ plugin: PLUGIN, instance: conf.instance, request_id: requestId, phase, reason, fail_mode: conf.config.fail_mode }, 'guardrail check failed');
    if (open) return null;
    if (phase === 'request') throw aiError(400, 'the request could not be checked by the guardrail', { code: 'guardrail_unavailable' });
    throw new ResponseBlockedError(PLUGIN, 'the answer could not be checked by the guardrail', { code: 'guardrail_unavailable', reason });
  }
  countDecision(PLUGIN, phase, verdict.action);
  if (verdict.action !== 'allow') logger().info({ plugin: PLUGIN, instance: conf.instance, request_id: requestId, phase, decision: verdict.action }, 'guardrail decision');
  return verdict;
}

/** A streamed answer in windows; a JSON answer in one piece. */
class WebhookHook implements ResponseHook {
  readonly window: number;
  #pending = '';
  /** The end of the text already released: context for the next window. */
  #context = '';
  readonly #conf: Compiled;
  readonly #stream: AnswerStream;

  constructor(conf: Compiled, stream: AnswerStream) {
    this.#conf = conf;
    this.#stream = stream;
    this.window = stream.whole ? 0 : conf.config.response_buffer_size;
  }

  push(text: string): string | Promise<string> {
    this.#pending += text;
    if (this.#stream.whole || this.#pending.length < this.window) return '';
    return this.#check(false);
  }

  flush(): string | Promise<string> {
    return this.#pending === '' ? '' : this.#check(true);
  }

  async #check(final: boolean): Promise<string> {
    const text = this.#pending;
    this.#pending = '';
    const s = this.#stream;
    const verdict = await decide(this.#conf, s.requestId, 'response', {
      phase: 'response',
      model: s.model,
      channel: s.channel,
      text,
      context: this.#context,
      final,
      request_id: s.requestId,
    });
    let released = text;
    if (verdict !== null && verdict.action === 'block') throw new ResponseBlockedError(PLUGIN, verdict.message ?? 'the answer was blocked by a content policy', { code: 'response_blocked' });
    if (verdict !== null && verdict.action === 'replace') released = verdict.text!;
    const keep = this.#conf.config.response_buffer_size;
    this.#context = (this.#context + released).slice(-keep);
    return released;
  }
}

export const handler: PluginHandler<AiGuardrailWebhookConfig, Compiled> = {
  compile(config, cctx) {
    const url = new URL(cctx.resolveSecret(config.url));
    const secure = url.protocol === 'https:';
    const port = url.port ? Number(url.port) : secure ? 443 : 80;
    const host = url.hostname.includes(':') && !url.hostname.startsWith('[') ? `[${url.hostname}]` : url.hostname;
    const target: UpstreamTarget = { origin: `${url.protocol}//${host}:${port}`, connectTimeout: config.timeout, readTimeout: config.timeout, writeTimeout: config.timeout, retries: 0, tlsVerify: true };
    const path = (url.pathname || '/') + url.search;
    const fixed: Record<string, string> = {};
    for (const [k, v] of Object.entries(config.headers ?? {})) {
      const value = cctx.resolveSecret(v);
      fixed[k.toLowerCase()] = value;
      cctx.registerSecret(value);
    }
    fixed.host = url.host;
    fixed['content-type'] = 'application/json';
    const call = async (body: JsonObject): Promise<Verdict> => {
      const bytes = Buffer.from(JSON.stringify(body));
      const signal = AbortSignal.timeout(config.timeout);
      const { response } = await callUpstream({ target, method: 'POST', path, headers: { ...fixed, 'content-length': String(bytes.length) }, body: bytes, signal });
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of response.body as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > MAX_VERDICT_BYTES) {
          response.body.destroy();
          throw new NotProtocol('the guardrail answer is too large');
        }
        chunks.push(chunk);
      }
      if (response.statusCode < 200 || response.statusCode >= 300) throw new NotProtocol(`the guardrail answered ${response.statusCode}`);
      return parseVerdict(Buffer.concat(chunks).toString('utf8'), body.phase as GuardPhase);
    };
    const compiled: Compiled = {
      config,
      instance: `${url.host}${url.pathname}`,
      call,
      request: config.guarding_mode !== 'OUTPUT',
      answer: null,
    };
    if (config.guarding_mode !== 'INPUT') compiled.answer = { rule: PLUGIN, channels: ['text'], create: (stream) => new WebhookHook(compiled, stream) };
    return compiled;
  },
  access(ctx, conf) {
    if (conf.request) ctx.requestChecks.push(requestCheck(conf, ctx.requestId));
    if (conf.answer !== null) ctx.responseHooks.push(conf.answer);
  },
};
