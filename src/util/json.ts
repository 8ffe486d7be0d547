/**
 * Strict JSON parsing for untrusted bodies: valid UTF-8 only (no silent U+FFFD), nesting bounded
 * before `JSON.parse` builds anything (deep input would otherwise make later `JSON.stringify` or
 * recursion throw RangeError), and a typed error instead of an exception escaping to a handler.
 */
export const MAX_JSON_DEPTH = 64;

export class JsonBodyError extends Error {
  readonly reason: 'utf8' | 'depth' | 'syntax' | 'empty';
  constructor(reason: 'utf8' | 'depth' | 'syntax' | 'empty', message: string) {
    super(message);
    this.reason = reason;
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

export function decodeUtf8(buf: Uint8Array): string {
  try {
    return utf8.decode(buf);
  } catch {
    throw new JsonBodyError('utf8', 'body is not valid UTF-8');
  }
}

/**
 * Deepest nesting of arrays/objects in a JSON text, ignoring brackets inside strings; stops as
 * soon as `limit` is passed, so a hostile `[[[[…` is refused after a few bytes, before
 * `JSON.parse` spends seconds building it. Strings (nearly all of an LLM prompt's bytes) are
 * skipped with `indexOf` to their closing quote rather than walked a character at a time.
 */
export function jsonDepth(text: string, limit = Infinity): number {
  let depth = 0;
  let max = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      i = closingQuote(text, i + 1);
      if (i === -1) return max; // unterminated: JSON.parse refuses it
    } else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (c === 125 || c === 93) depth--;
  }
  return max;
}

/** The index of the quote that closes a string starting at `from`, or -1: a quote preceded by an odd run of backslashes is escaped. */
export function closingQuote(text: string, from: number): number {
  for (let j = from; ; j++) {
    j = text.indexOf('"', j);
    if (j === -1) return -1;
    let backslashes = 0;
    while (text.charCodeAt(j - 1 - backslashes) === 92 /* \ */) backslashes++;
    if (backslashes % 2 === 0) return j;
  }
}

export function parseJsonText(text: string, maxDepth = MAX_JSON_DEPTH): unknown {
  if (text.trim() === '') throw new JsonBodyError('empty', 'empty body');
  if (jsonDepth(text, maxDepth) > maxDepth) throw new JsonBodyError('depth', `JSON nested deeper than ${maxDepth} levels`);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new JsonBodyError('syntax', (e as Error).message);
  }
}

export function parseJsonBody(buf: Uint8Array, maxDepth = MAX_JSON_DEPTH): unknown {
  return parseJsonText(decodeUtf8(buf), maxDepth);
}
