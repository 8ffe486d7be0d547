/**
 * Serialising a request body that is mostly the client's own: the values a driver passes through
 * unchanged (the `messages` of a long conversation, a completions `prompt`) are copied as the
 * client's bytes instead of being re-serialised by `JSON.stringify` and encoded to UTF-8 again.
 *
 * For a 1 MB prompt that is most of the work a gateway does (`JSON.stringify` of it costs more
 * than `JSON.parse`); for a small body it saves nothing, so it is used above a size only.
 *
 * Safe by construction: a value is copied only when the body holds the very object (or string)
 * `JSON.parse` made from that span of the client's text, and only when the text is ASCII, so
 * character offsets are byte offsets. Everything else goes through `JSON.stringify`, and the
 * result is the JSON text of the same value, member for member in the same order.
 */
import { closingQuote } from './json.ts';

/** A JSON body as the client sent it: its bytes, their text, and what `JSON.parse` made of it. */
export interface ClientJson {
  bytes: Buffer;
  text: string;
  value: unknown;
}

/** Below this many bytes a body is serialised whole: finding and copying the spans costs ~2 µs, what `JSON.stringify` and encoding cost for about 3 KB. */
export const REUSE_MIN_BYTES = 4 * 1024;

export interface Span {
  start: number;
  end: number;
}

const QUOTE = 34;

function isJsonSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && isJsonSpace(text.charCodeAt(i))) i++;
  return i;
}

/** Index just past the JSON value starting at `i` (-1 if it does not end). */
function valueEnd(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === QUOTE) {
    const q = closingQuote(text, i + 1);
    return q === -1 ? -1 : q + 1;
  }
  if (c === 123 /* { */ || c === 91 /* [ */) {
    let depth = 0;
    for (let j = i; j < text.length; j++) {
      const d = text.charCodeAt(j);
      if (d === QUOTE) {
        j = closingQuote(text, j + 1);
        if (j === -1) return -1;
      } else if (d === 123 || d === 91) depth++;
      else if ((d === 125 || d === 93) && --depth === 0) return j + 1;
    }
    return -1;
  }
  // a number, true, false or null: up to the next delimiter
  let j = i;
  while (j < text.length) {
    const d = text.charCodeAt(j);
    if (d === 44 /* , */ || d === 125 /* } */ || d === 93 /* ] */ || isJsonSpace(d)) break;
    j++;
  }
  return j;
}

/**
 * The span of each member's value of a JSON text whose top-level value is an object, by key; the
 * last of repeated keys wins, as in `JSON.parse`. The text must be one `JSON.parse` accepted;
 * null when the top level is not an object or the text is not as expected.
 */
export function topLevelMembers(text: string): Map<string, Span> | null {
  let i = skipSpace(text, 0);
  if (text.charCodeAt(i) !== 123) return null;
  const members = new Map<string, Span>();
  i = skipSpace(text, i + 1);
  if (text.charCodeAt(i) === 125) return members;
  for (;;) {
    if (text.charCodeAt(i) !== QUOTE) return null;
    const keyEnd = closingQuote(text, i + 1);
    if (keyEnd === -1) return null;
    const rawKey = text.slice(i + 1, keyEnd);
    const key = rawKey.includes('\\') ? (JSON.parse(text.slice(i, keyEnd + 1)) as string) : rawKey;
    i = skipSpace(text, keyEnd + 1);
    if (text.charCodeAt(i) !== 58 /* : */) return null;
    const start = skipSpace(text, i + 1);
    const end = valueEnd(text, start);
    if (end === -1) return null;
    members.set(key, { start, end });
    i = skipSpace(text, end);
    const c = text.charCodeAt(i);
    if (c === 125) return members;
    if (c !== 44) return null;
    i = skipSpace(text, i + 1);
  }
}

/** A value worth copying as the client's bytes: a string or a structure (numbers and literals are cheaper to write). */
function copyable(value: unknown): boolean {
  return typeof value === 'string' || (typeof value === 'object' && value !== null);
}

/**
 * `body` as UTF-8 JSON, copying from `source` each top-level value that is the client's own; null
 * when `source` cannot be used (small, not ASCII, not an object), and the caller serialises whole.
 */
export function encodeReusing(body: Record<string, unknown>, source: ClientJson | null): Buffer | null {
  if (source === null || source.bytes.length < REUSE_MIN_BYTES) return null;
  // every character one byte: offsets in the text are offsets in the bytes (a BOM or any
  // multi-byte character makes the text shorter than the bytes)
  if (source.text.length !== source.bytes.length) return null;
  const original = source.value as Record<string, unknown>;
  if (typeof original !== 'object' || original === null || Array.isArray(original)) return null;
  const spans = topLevelMembers(source.text);
  if (spans === null) return null;

  const parts: Buffer[] = [];
  let pending = '{';
  let first = true;
  for (const key of Object.keys(body)) {
    const value = body[key];
    if (value === undefined || typeof value === 'function' || typeof value === 'symbol') continue; // JSON.stringify skips these members
    const member = `${first ? '' : ','}${JSON.stringify(key)}:`;
    first = false;
    const span = spans.get(key);
    if (span !== undefined && copyable(value) && Object.hasOwn(original, key) && original[key] === value) {
      parts.push(Buffer.from(pending + member));
      parts.push(source.bytes.subarray(span.start, span.end));
      pending = '';
    } else {
      pending += member + JSON.stringify(value);
    }
  }
  pending += '}';
  parts.push(Buffer.from(pending));
  return Buffer.concat(parts);
}
