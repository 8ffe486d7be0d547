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

/** Deepest nesting of arrays/objects in a JSON text, ignoring brackets inside strings. */
export function jsonDepth(text: string, limit = Infinity): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
      continue;
    }
    if (c === 34) inString = true;
    else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (c === 125 || c === 93) depth--;
  }
  return max;
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
