/**
 * Every prompt text of a parsed request, changed by one function, in both places a provider can
 * read it from (prompt-hooks.ts): the canonical messages (what every format translates) and the
 * client's own body in its API's shape (what pass-through formats send as it came). Both get the
 * same function, and the redactor gives a value the same replacement wherever it is, so the two
 * stay in agreement.
 *
 * Texts: message text parts and tool results (a tool's output is as likely to hold a customer's
 * email as the user's message), system prompts / instructions, a completions prompt. Not changed:
 * images, audio, files, tool-call arguments (JSON the client's program wrote; see docs/plugins.md)
 * and tool definitions. Copies only what changes (prompt-hooks.ts: never edit in place).
 *
 * `lastOnly` (Kong's `allow_all_conversation_history: false`): only the newest message (the
 * newest entry of the body's list), as Kong's prompt plugins read the history.
 */
import type { CanonicalRequest, Message, Part } from '../../exchange/types.ts';
import type { JsonObject } from '../../llm/json.ts';

export type TextFn = (text: string) => string;

const TEXT_TYPES = new Set(['text', 'input_text', 'output_text']);

/** A content value of any of the client APIs: a string, or a list of parts/blocks. */
function mapContent(content: unknown, f: TextFn): unknown {
  if (typeof content === 'string') return f(content);
  if (!Array.isArray(content)) return content;
  let changed = false;
  const out = content.map((p) => {
    if (p === null || typeof p !== 'object') return p;
    const part = p as Record<string, unknown>;
    let next = part;
    if (TEXT_TYPES.has(part.type as string) && typeof part.text === 'string') {
      const text = f(part.text);
      if (text !== part.text) next = { ...part, text };
    } else if (part.type === 'tool_result' && part.content !== undefined) {
      const c = mapContent(part.content, f); // Anthropic tool_result: a string or text blocks
      if (c !== part.content) next = { ...part, content: c };
    }
    if (next !== part) changed = true;
    return next;
  });
  return changed ? out : content;
}

function mapList(list: unknown, lastOnly: boolean, f: (item: Record<string, unknown>) => Record<string, unknown>): unknown {
  if (!Array.isArray(list)) return list;
  let changed = false;
  const out = list.map((item, i) => {
    if (item === null || typeof item !== 'object' || (lastOnly && i !== list.length - 1)) return item;
    const next = f(item as Record<string, unknown>);
    if (next !== item) changed = true;
    return next;
  });
  return changed ? out : list;
}

function withField(obj: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> {
  return value === obj[key] ? obj : { ...obj, [key]: value };
}

const chatMessage = (f: TextFn) => (m: Record<string, unknown>) => withField(m, 'content', mapContent(m.content, f));

function responsesItem(f: TextFn) {
  return (item: Record<string, unknown>) => {
    if (item.type === 'function_call_output' || item.type === 'custom_tool_call_output') return withField(item, 'output', mapContent(item.output, f));
    return withField(item, 'content', mapContent(item.content, f));
  };
}

/** The client's body with `f` applied to its prompt texts, by API; the same object when nothing changed. */
export function mapBody(format: CanonicalRequest['source']['format'], body: JsonObject, f: TextFn, lastOnly: boolean): JsonObject {
  let out: Record<string, unknown> = body;
  switch (format) {
    case 'openai-chat':
      out = withField(out, 'messages', mapList(out.messages, lastOnly, chatMessage(f)));
      break;
    case 'openai-completions': {
      const p = out.prompt;
      if (typeof p === 'string') out = withField(out, 'prompt', f(p));
      else if (Array.isArray(p)) {
        let changed = false;
        const q = p.map((x, i) => {
          if (typeof x !== 'string' || (lastOnly && i !== p.length - 1)) return x;
          const y = f(x);
          if (y !== x) changed = true;
          return y;
        });
        if (changed) out = { ...out, prompt: q };
      }
      break;
    }
    case 'openai-responses':
      if (!lastOnly && typeof out.instructions === 'string') out = withField(out, 'instructions', f(out.instructions));
      out = typeof out.input === 'string' ? withField(out, 'input', f(out.input)) : withField(out, 'input', mapList(out.input, lastOnly, responsesItem(f)));
      break;
    case 'anthropic-messages':
      if (!lastOnly && out.system !== undefined) out = withField(out, 'system', mapContent(out.system, f));
      out = withField(out, 'messages', mapList(out.messages, lastOnly, chatMessage(f)));
      break;
  }
  return out as JsonObject;
}

function mapPart(part: Part, f: TextFn): Part {
  if (part.type === 'text') {
    const text = f(part.text);
    return text === part.text ? part : { ...part, text };
  }
  if (part.type === 'tool_result') {
    let changed = false;
    const content = part.content.map((c) => {
      if (c.type !== 'text') return c;
      const text = f(c.text);
      if (text === c.text) return c;
      changed = true;
      return { ...c, text };
    });
    return changed ? { ...part, content } : part;
  }
  return part;
}

/** The canonical messages with `f` applied; the same array when nothing changed. */
export function mapMessages(messages: Message[], f: TextFn, lastOnly: boolean): Message[] {
  let changed = false;
  const out = messages.map((m, i) => {
    if (lastOnly && i !== messages.length - 1) return m;
    let partsChanged = false;
    const parts = m.parts.map((p) => {
      const q = mapPart(p, f);
      if (q !== p) partsChanged = true;
      return q;
    });
    if (!partsChanged) return m;
    changed = true;
    return { ...m, parts };
  });
  return changed ? out : messages;
}

/** Applies `f` to every prompt text of the request (canonical and body), assigning new values where they changed. */
export function mapRequestTexts(req: CanonicalRequest, f: TextFn, lastOnly: boolean): void {
  const messages = mapMessages(req.messages, f, lastOnly);
  if (messages !== req.messages) req.messages = messages;
  if (typeof req.prompt === 'string') {
    const prompt = f(req.prompt);
    if (prompt !== req.prompt) req.prompt = prompt;
  }
  const body = mapBody(req.source.format, req.source.body, f, lastOnly);
  if (body !== req.source.body) req.source = { format: req.source.format, body };
}
