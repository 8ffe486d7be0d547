/**
 * `ai-prompt-guard`: the request's prompt text — the `user` messages (every role with
 * `match_all_roles`), newest first, only the newest with `allow_all_conversation_history`; or a
 * completions `prompt` — must match none of `deny_patterns` and, when `allow_patterns` is set, one
 * of them. A refusal is Kong's 400 `{"error":{"message":"bad request"}}`, which does not reveal
 * the guard; the reason is logged at debug level.
 *
 * Whatever API the client speaks (issue 18), the guard is a prompt hook over the parsed request
 * (shared/prompt-hooks.ts), after the decorator's (plugin order). For the OpenAI APIs it reads the
 * client's own body (`source.body`, decorations included): that body goes to OpenAI-compatible
 * providers as it is, content parts the adapter could not map included, so the guard reads what
 * the provider reads — and decides exactly as it did on the body. For OpenAI Responses and
 * Anthropic Messages it reads the canonical messages: the text parts of each message, and of the
 * tool results in a tool message (`match_all_roles`). An Anthropic tool result is a canonical
 * `tool` message, not a user one, as an OpenAI `tool` message is. A request without a prompt (an
 * embeddings request) is refused, as before.
 *
 * Patterns were vetted when configured (regex.ts); the text matched is bounded by
 * MAX_GUARDED_CHARS, a longer prompt is refused.
 */
import type { PluginHandler } from '../types.ts';
import { DEFAULT_RESPONSE_WINDOW, type AiPromptGuardConfig } from './schema.ts';
import { ResponseBlockedError, SlidingWindow, type ResponseHookFactory } from '../shared/response-hooks.ts';
import { countDecision } from '../shared/guardrail-metrics.ts';
import type { CanonicalRequest, InboundFormat, Message } from '../../exchange/types.ts';
import { promptError, readPromptJson } from '../shared/prompt-body.ts';
import type { PromptHook } from '../shared/prompt-hooks.ts';
import { compileGuardPattern, MAX_GUARDED_CHARS, type GuardPattern } from './regex.ts';
import { logger } from '../../observability/logger.ts';

interface Compiled {
  config: AiPromptGuardConfig;
  deny: GuardPattern[];
  allow: GuardPattern[];
  /** `check_response` with deny patterns: the answer's hook (made once per snapshot). */
  answer?: ResponseHookFactory | null;
}

const RULE = 'ai-prompt-guard';

/**
 * `check_response`: the deny patterns over the answer's text and reasoning, in a sliding window of
 * `response_window` characters on streams (shared/response-hooks.ts, SlidingWindow): a match of at
 * most that many characters is caught however the stream is cut. A match refuses the answer (the
 * client API's error; on a stream its error event, no [DONE]). The allow patterns do not apply to
 * answers: an answer is not asked to look like an allowed question.
 */
export function answerGuard(deny: GuardPattern[], window: number): ResponseHookFactory {
  const judge = (text: string, final: boolean): string => {
    let lowered: string | null = null;
    const lower = () => (lowered ??= text.toLowerCase());
    for (const p of deny) {
      if (matches(p, text, lower)) {
        countDecision(RULE, 'response', 'block');
        throw new ResponseBlockedError(RULE, 'the answer was blocked by a content policy', { reason: 'answer pattern is blocked' });
      }
    }
    if (final) countDecision(RULE, 'response', 'allow');
    return text;
  };
  return {
    rule: RULE,
    channels: ['text', 'reasoning'],
    create: (stream) => new SlidingWindow(stream.whole ? 0 : window, judge),
  };
}

const BAD_FORMAT = 'ai-prompt-guard only supports llm/v1/chat or llm/v1/completions prompts';

class GuardRefusal extends Error {}

function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (content === null || content === undefined) return '';
  if (Array.isArray(content)) {
    // OpenAI content parts: every text part is checked (a guard must not be bypassed by splitting)
    return content
      .map((p) => (p && typeof p === 'object' && typeof (p as { text?: unknown }).text === 'string' ? (p as { text: string }).text : ''))
      .filter(Boolean)
      .join(' ');
  }
  throw new GuardRefusal(BAD_FORMAT);
}

/** The text the patterns are matched against (Kong 3.8's collection). */
export function collectPrompt(request: Record<string, unknown>, conf: Pick<AiPromptGuardConfig, 'allow_all_conversation_history' | 'match_all_roles'>): string {
  const messages = request.messages;
  if (Array.isArray(messages)) {
    const parts: string[] = [];
    for (let i = messages.length - 1; i >= 0; i--) {
      const m = messages[i] as { role?: unknown; content?: unknown } | null;
      if (!m || typeof m.role !== 'string') throw new GuardRefusal(BAD_FORMAT);
      if (m.role === 'user' || conf.match_all_roles) {
        parts.push(contentText(m.content));
        if (conf.allow_all_conversation_history) break;
      }
    }
    return parts.join(' ');
  }
  const prompt = request.prompt;
  if (typeof prompt === 'string') return prompt;
  if (Array.isArray(prompt) && prompt.every((p) => typeof p === 'string')) return prompt.join(' ');
  throw new GuardRefusal(BAD_FORMAT);
}

/** A canonical message's text: its text parts, and the text of its tool results, as OpenAI content parts are joined. */
function messageText(message: Message): string {
  const texts: string[] = [];
  for (const part of message.parts) {
    if (part.type === 'text') {
      if (part.text) texts.push(part.text);
    } else if (part.type === 'tool_result') {
      for (const c of part.content) if (c.type === 'text' && c.text) texts.push(c.text);
    }
  }
  return texts.join(' ');
}

type GuardScope = Pick<AiPromptGuardConfig, 'allow_all_conversation_history' | 'match_all_roles'>;

/** collectPrompt over canonical messages: the same messages, in the same order, joined the same way. */
export function collectMessages(messages: Message[], conf: GuardScope): string {
  const parts: string[] = [];
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m.role === 'user' || conf.match_all_roles) {
      parts.push(messageText(m));
      if (conf.allow_all_conversation_history) break;
    }
  }
  return parts.join(' ');
}

const fromBody = (req: CanonicalRequest, conf: GuardScope) => collectPrompt(req.source.body, conf);
const fromMessages = (req: CanonicalRequest, conf: GuardScope) => collectMessages(req.messages, conf);

/** Where the prompt text is read, by the client's API (see the header: what the provider reads). */
const PROMPT_TEXT: Record<InboundFormat, (req: CanonicalRequest, conf: GuardScope) => string> = {
  'openai-chat': fromBody,
  'openai-completions': fromBody,
  'openai-responses': fromMessages,
  'anthropic-messages': fromMessages,
};

/** The text the patterns are matched against in a parsed request (null: no prompt, refused). */
export function collectRequestPrompt(req: CanonicalRequest | null, conf: GuardScope): string {
  if (req === null) throw new GuardRefusal(BAD_FORMAT);
  return PROMPT_TEXT[req.source.format](req, conf);
}

function matches(p: GuardPattern, text: string, lower: () => string): boolean {
  return p.re.test(p.fold ? lower() : text);
}

/** Why the prompt is refused, or null when it passes. */
export function judgePrompt(text: string, conf: Compiled): string | null {
  if (text.length > MAX_GUARDED_CHARS) return `prompt longer than ${MAX_GUARDED_CHARS} characters`;
  let lowered: string | null = null;
  const lower = () => (lowered ??= text.toLowerCase());
  for (const p of conf.deny) if (matches(p, text, lower)) return 'prompt pattern is blocked';
  if (conf.allow.length === 0) return null;
  for (const p of conf.allow) if (matches(p, text, lower)) return null;
  return "prompt doesn't match any allowed pattern";
}

/** judgePrompt over the collected text; a prompt that cannot be collected is refused too. */
function verdict(collect: () => string, conf: Compiled): string | null {
  try {
    return judgePrompt(collect(), conf);
  } catch (e) {
    if (!(e instanceof GuardRefusal)) throw e;
    return e.message;
  }
}

function refuse(requestId: string, reason: string): never {
  logger().debug({ plugin: 'ai-prompt-guard', request_id: requestId, reason }, 'prompt refused');
  throw promptError(400, 'bad request');
}

/** The guard as a prompt hook: reads the request, never changes it. */
export function guardHook(conf: Compiled, requestId: string): PromptHook {
  return (req) => {
    const reason = verdict(() => collectRequestPrompt(req, conf.config), conf);
    if (reason !== null) refuse(requestId, reason);
  };
}

export const handler: PluginHandler<AiPromptGuardConfig, Compiled> = {
  compile(config) {
    const deny = (config.deny_patterns ?? []).map(compileGuardPattern);
    return {
      config,
      deny,
      allow: (config.allow_patterns ?? []).map(compileGuardPattern),
      answer: config.check_response && deny.length > 0 ? answerGuard(deny, config.response_window ?? DEFAULT_RESPONSE_WINDOW) : null,
    };
  },
  async access(ctx, conf) {
    // read here for the plugin's own body limit and messages (Kong's); the hook judges once the exchange has parsed it
    await readPromptJson(ctx, conf.config.max_request_body_size);
    ctx.promptHooks.push(guardHook(conf, ctx.requestId));
    if (conf.answer) ctx.responseHooks.push(conf.answer);
  },
};
