/**
 * What makes two requests "the same question" for the cache (docs/plugins.md, "The key").
 *
 * - The PROMPT TEXT (what is embedded, and hashed for the exact key) follows Kong's `format_chat`:
 *   the last `message_countback` messages, newest first, each as `role: content\n\n`; `user`
 *   messages always, `system`/`developer`, `assistant` and `tool` ones unless their `ignore_*`
 *   flag is set (an ignored message still counts towards `message_countback`, as in Kong). A
 *   legacy Completions request's text is its `prompt`. Content is the text parts joined; any other
 *   part (an image, a tool call, a tool result) is written as its JSON, so two prompts that differ
 *   only in an image are not the same prompt.
 * - The EXACT KEY is the SHA-256 of the prompt text AND everything else that changes the answer:
 *   the client API (an entry is rendered in the API that stored it), the provider/model asked,
 *   the sampling fields (max tokens, temperature, top_p, top_k, stop, seed, penalties, n,
 *   logprobs, logit bias), the tools and tool choice, parallel tool calls, the response format,
 *   the reasoning request, and the Anthropic/OpenAI-only request fields. `stream` is not in it:
 *   a streamed and a whole answer are the same answer.
 * - The SCOPE (key of the vector search, prefix of the exact key) is the plugin instance, the
 *   route, the consumer (unless `cache_scope: route`; an anonymous request's consumer is '') and
 *   the hash of everything in the exact key but the prompt text: a semantic match is only ever
 *   between requests that differ in their wording alone.
 */
import { createHash } from 'node:crypto';
import type { CanonicalRequest, Message, Part } from '../../exchange/types.ts';

export interface PromptRules {
  message_countback: number;
  ignore_system_prompts: boolean;
  ignore_assistant_prompts: boolean;
  ignore_tool_prompts: boolean;
}

/** The prompt text Kong's format_chat makes of the request (see the header). */
export function promptText(req: CanonicalRequest, rules: PromptRules): string {
  if (req.kind === 'completions' && typeof req.prompt === 'string') return `user: ${req.prompt}\n\n`;
  const messages = req.messages;
  let out = '';
  const last = messages.length - rules.message_countback;
  for (let i = messages.length - 1; i >= 0 && i >= last; i--) {
    const m = messages[i];
    if (!included(m, rules)) continue;
    out += `${m.role}: ${contentOf(m)}\n\n`;
  }
  return out;
}

function included(m: Message, rules: PromptRules): boolean {
  switch (m.role) {
    case 'user':
      return true;
    case 'system':
    case 'developer':
      return !rules.ignore_system_prompts;
    case 'assistant':
      return !rules.ignore_assistant_prompts;
    case 'tool':
      return !rules.ignore_tool_prompts;
  }
}

function contentOf(m: Message): string {
  if (m.parts.length === 1 && m.parts[0].type === 'text') return m.parts[0].text;
  return m.parts.map(partText).join('');
}

function partText(p: Part): string {
  if (p.type === 'text') return p.text;
  // a cache mark is a hint to the provider, not part of the question
  const { cache: _cache, ...rest } = p as Part & { cache?: unknown };
  return JSON.stringify(rest);
}

/** Everything but the prompt text that changes the answer (see the header), as one canonical JSON text. */
export function answerParams(req: CanonicalRequest, api: string, model: string): string {
  const s = req.sampling;
  return JSON.stringify([
    api,
    model,
    req.kind,
    s.maxTokens ?? null,
    s.temperature ?? null,
    s.topP ?? null,
    s.topK ?? null,
    s.stop ?? null,
    s.seed ?? null,
    s.presencePenalty ?? null,
    s.frequencyPenalty ?? null,
    s.n ?? null,
    s.logprobs ?? null,
    s.topLogprobs ?? null,
    s.logitBias ?? null,
    req.tools ? req.tools.map(stripCache) : null,
    req.toolChoice ?? null,
    req.parallelToolCalls ?? null,
    req.output ?? null,
    req.reasoning ?? null,
    req.openai ?? null,
    req.anthropic ?? null,
  ]);
}

function stripCache<T extends object>(t: T): Omit<T, 'cache'> {
  const { cache: _cache, ...rest } = t as T & { cache?: unknown };
  return rest;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export interface CacheKeys {
  /** Where the request's vectors are searched, and the exact keys' prefix. */
  scope: string;
  /** The exact key (hex SHA-256): the entry's key in the key-value cache and its vector's id; `X-Cache-Key`. */
  key: string;
  /** What is embedded. */
  text: string;
}

export interface ScopeOf {
  pluginId: string;
  routeId: string;
  /** '' for anonymous requests, or for every request when the cache is shared by the route. */
  consumerId: string;
}

export function cacheKeys(req: CanonicalRequest, rules: PromptRules, who: ScopeOf, api: string, model: string): CacheKeys {
  const text = promptText(req, rules);
  const params = answerParams(req, api, model);
  const scope = `${who.pluginId}:${who.routeId}:${who.consumerId}:${sha256(params).slice(0, 32)}`;
  return { scope, key: sha256(`${scope}\n${text}`), text };
}
