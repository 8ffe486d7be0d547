/**
 * `ai-prompt-guard`: the request's prompt text — the `user` messages (every role with
 * `match_all_roles`), newest first, only the newest with `allow_all_conversation_history`; or a
 * completions `prompt` — must match none of `deny_patterns` and, when `allow_patterns` is set, one
 * of them. A refusal is Kong's 400 `{"error":{"message":"bad request"}}`, which does not reveal
 * the guard; the reason is logged at debug level.
 *
 * Patterns were vetted when configured (regex.ts); the text matched is bounded by
 * MAX_GUARDED_CHARS, a longer prompt is refused.
 */
import type { PluginHandler } from '../types.ts';
import type { AiPromptGuardConfig } from './schema.ts';
import { promptError, readPromptJson } from '../shared/prompt-body.ts';
import { compileGuardPattern, MAX_GUARDED_CHARS, type GuardPattern } from './regex.ts';
import { logger } from '../../observability/logger.ts';

interface Compiled {
  config: AiPromptGuardConfig;
  deny: GuardPattern[];
  allow: GuardPattern[];
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

export const handler: PluginHandler<AiPromptGuardConfig, Compiled> = {
  compile(config) {
    return {
      config,
      deny: (config.deny_patterns ?? []).map(compileGuardPattern),
      allow: (config.allow_patterns ?? []).map(compileGuardPattern),
    };
  },
  async access(ctx, conf) {
    const request = await readPromptJson(ctx, conf.config.max_request_body_size);
    let reason: string | null;
    try {
      reason = judgePrompt(collectPrompt(request, conf.config), conf);
    } catch (e) {
      if (!(e instanceof GuardRefusal)) throw e;
      reason = e.message;
    }
    if (reason !== null) {
      logger().debug({ plugin: 'ai-prompt-guard', request_id: ctx.requestId, reason }, 'prompt refused');
      throw promptError(400, 'bad request');
    }
  },
};
