/**
 * Token estimates for when a provider reports no usage (truncated streams, servers without
 * counts, malformed usage; T39, T43). Counted with `gpt-tokenizer`'s o200k_base encoding: exact
 * for current OpenAI models and a fair estimate for others (Kong used characters / 4).
 */
import { createRequire } from 'node:module';
import type { ClientRequest } from './types.ts';
import { textOf } from './content.ts';

interface Encoder {
  countTokens(text: string, options?: { disallowedSpecial?: Set<string> }): number;
}

/**
 * Work is capped so that estimating never blocks the event loop for long (T44: <= 50 ms): at most
 * this many characters are tokenized, and a longer text is extrapolated from that sample.
 */
export const MAX_TOKENIZED_CHARS = 32 * 1024;

/**
 * Text is tokenized in slices of about this size. BPE cost grows faster than linearly in the
 * length of one pre-token, and a run without whitespace (`aaaa...`, base64) is one pre-token:
 * 256 Ki of `a` took 29 s in one piece and takes ~1 ms in slices.
 */
const SLICE_CHARS = 1024;

/** Per-message overhead of the chat format (OpenAI's documented ~3 tokens), and the reply primer. */
const TOKENS_PER_MESSAGE = 3;
const REPLY_PRIMER_TOKENS = 3;

let encoder: Encoder | undefined;

/**
 * The encoder loads on first use (~100 ms, tens of MB), not at start-up: most requests carry
 * provider usage and never need it. Call it at worker start to take that cost early.
 */
export function loadTokenizer(): Encoder {
  if (!encoder) {
    const require = createRequire(import.meta.url);
    encoder = require('gpt-tokenizer/encoding/o200k_base') as Encoder;
  }
  return encoder;
}

/** No special tokens: `<|endoftext|>` in user text is text, and the tokenizer must not throw on it. */
const NO_SPECIAL_TOKENS = { disallowedSpecial: new Set<string>() };

export function estimateTokens(text: string): number {
  if (text === '') return 0;
  const sampleEnd = cutPoint(text, 0, MAX_TOKENIZED_CHARS);
  const sampled = countSlices(loadTokenizer(), text, sampleEnd);
  return sampleEnd === text.length ? sampled : Math.ceil((sampled * text.length) / sampleEnd);
}

function countSlices(tokenizer: Encoder, text: string, end: number): number {
  let count = 0;
  for (let start = 0; start < end; ) {
    let stop = cutPoint(text, start, Math.min(SLICE_CHARS, end - start));
    // Prefer to cut at a space near the end of the slice, so words stay whole.
    const space = text.lastIndexOf(' ', stop - 1);
    if (stop < end && space > start + SLICE_CHARS / 2) stop = space;
    count += tokenizer.countTokens(text.slice(start, stop), NO_SPECIAL_TOKENS);
    start = stop;
  }
  return count;
}

/** `start + length`, moved back one so that a surrogate pair is never cut in half. */
function cutPoint(text: string, start: number, length: number): number {
  const end = start + length;
  if (end >= text.length) return text.length;
  const last = text.charCodeAt(end - 1);
  return last >= 0xd800 && last <= 0xdbff ? end - 1 : end;
}

/** The text of a request's prompt: the messages' text (and tool call arguments), or the prompt. */
export function promptText(req: ClientRequest): string {
  if (typeof req.prompt === 'string') return req.prompt;
  if (!Array.isArray(req.messages)) return '';
  const parts: string[] = [];
  for (const message of req.messages) {
    parts.push(textOf(message.content));
    if (Array.isArray(message.tool_calls)) {
      for (const call of message.tool_calls) {
        const args = (call as { function?: { arguments?: unknown } })?.function?.arguments;
        if (typeof args === 'string') parts.push(args);
      }
    }
  }
  return parts.join('\n');
}

/** Estimated prompt tokens of a request, with the chat format's per-message overhead. */
export function estimatePromptTokens(req: ClientRequest): number {
  const text = estimateTokens(promptText(req));
  if (!Array.isArray(req.messages)) return text;
  return text + req.messages.length * TOKENS_PER_MESSAGE + REPLY_PRIMER_TOKENS;
}
