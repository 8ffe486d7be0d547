/**
 * Deterministic text, token counts, chunking and ids shared by every mock provider.
 *
 * Token rule (all providers): one token per whitespace-separated word. "1 + 1 = 2." is 5 tokens.
 * A prompt's tokens are the words of every text it carries (messages, system/preamble, prompt).
 * Tests can therefore assert exact usage numbers without a real tokenizer.
 */

/** The answer every mock gives unless told otherwise (option `text`, `nextResponse({ text })`). */
export const DEFAULT_TEXT = '1 + 1 = 2.';

export function countTokens(text: string): number {
  // counted in place, and the last long text remembered: splitting a multi-megabyte answer (the
  // `huge` mode) into words, several times per answer, took the mock longer than a read_timeout
  if (text === lastCounted.text) return lastCounted.words;
  let words = 0;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const space = isSpace(text.charCodeAt(i));
    if (!space && !inWord) words++;
    inWord = !space;
  }
  if (text.length > 4096) lastCounted = { text, words };
  return words;
}

let lastCounted = { text: '', words: 0 };

/** JavaScript's `\s`. */
function isSpace(c: number): boolean {
  if (c <= 32) return c === 32 || (c >= 9 && c <= 13);
  if (c < 0xa0) return false;
  return c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

/** The first `max` words of `text` (with the whitespace between them), and whether words were cut. */
export function truncateTokens(text: string, max: number | null | undefined): { text: string; truncated: boolean } {
  if (max == null || countTokens(text) <= max) return { text, truncated: false };
  const words = text.match(/\s*\S+/g) ?? [];
  return { text: words.slice(0, Math.max(0, max)).join(''), truncated: true };
}

/** A stop sequence found in `text`: the text before it and the sequence, else null. */
export function cutAtStop(text: string, stops: unknown): { text: string; stop: string } | null {
  const list = typeof stops === 'string' ? [stops] : Array.isArray(stops) ? stops.filter((s): s is string => typeof s === 'string' && s !== '') : [];
  let best: { text: string; stop: string } | null = null;
  for (const stop of list) {
    const at = text.indexOf(stop);
    if (at >= 0 && (best === null || at < best.text.length)) best = { text: text.slice(0, at), stop };
  }
  return best;
}

/**
 * Splits `text` into stream pieces whose concatenation is exactly `text`.
 * `n` null: one piece per word, leading whitespace attached (" +", " 1"), like real BPE deltas.
 * `n` given: exactly `n` pieces of near-equal length (empty pieces when n exceeds the length).
 */
export function splitChunks(text: string, n: number | null | undefined): string[] {
  if (n == null || !Number.isFinite(n) || n < 1) {
    const words = text.match(/\s*\S+|\s+$/g);
    return words && words.length ? words : [text];
  }
  const count = Math.floor(n);
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(text.slice(Math.floor((i * text.length) / count), Math.floor(((i + 1) * text.length) / count)));
  return out;
}

/** A filler text of exactly `bytes` characters made of words (so it chunks and counts like text). */
export function fillerText(bytes: number): string {
  const unit = 'lorem ipsum dolor sit amet ';
  return unit.repeat(Math.ceil(Math.max(0, bytes) / unit.length)).slice(0, Math.max(0, bytes));
}

/** Concatenated text of a message content: a string, or an array of parts carrying `text`. */
export function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((part) => (part && typeof part === 'object' && typeof (part as { text?: unknown }).text === 'string' ? (part as { text: string }).text : ''))
      .filter(Boolean)
      .join(' ');
  }
  return '';
}

/** Sum of the tokens of several texts. */
export function tokensOf(...texts: unknown[]): number {
  return texts.reduce<number>((n, t) => n + countTokens(textOf(t)), 0);
}

/**
 * Ids and clocks of one mock instance: sequential ids (deterministic per instance) and either the
 * real clock or a fixed one (option `fixedTime`, epoch seconds).
 */
export class Ids {
  #n = 0;
  readonly fixedTime: number | undefined;
  constructor(fixedTime?: number) {
    this.fixedTime = fixedTime;
  }
  /** `prefix` + a zero-padded counter, e.g. `chatcmpl-mock000001`. */
  next(prefix: string): string {
    this.#n++;
    return `${prefix}${String(this.#n).padStart(6, '0')}`;
  }
  /** A UUID-shaped id (Cohere's ids are UUIDs). */
  uuid(): string {
    this.#n++;
    return `00000000-0000-4000-8000-${String(this.#n).padStart(12, '0')}`;
  }
  /** Seconds since the epoch. */
  seconds(): number {
    return this.fixedTime ?? Math.floor(Date.now() / 1000);
  }
  /** ISO-8601 timestamp (Ollama's `created_at`). */
  iso(): string {
    return new Date(this.fixedTime !== undefined ? this.fixedTime * 1000 : Date.now()).toISOString();
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
