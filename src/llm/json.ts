/**
 * Small, total readers for untrusted JSON values. Provider answers are data we do not control:
 * every field is read through these guards so that a wrong type becomes "absent" (or a typed
 * error raised by the caller), never a TypeError.
 */
import { RequestError, TranslationError } from './types.ts';

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function asString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** A finite number, else undefined (NaN and Infinity cannot come from JSON, but callers pass options too). */
export function asNumber(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** A count of tokens: a finite, non-negative number. */
export function asCount(value: unknown): number | undefined {
  const n = asNumber(value);
  return n !== undefined && n >= 0 ? n : undefined;
}

export function asArray(value: unknown): unknown[] | undefined {
  return Array.isArray(value) ? value : undefined;
}

export function asObject(value: unknown): JsonObject | undefined {
  return isObject(value) ? value : undefined;
}

/** `obj.a.b.c` for untrusted data; undefined as soon as a step is not an object. */
export function dig(value: unknown, ...path: string[]): unknown {
  let current = value;
  for (const key of path) {
    if (!isObject(current)) return undefined;
    current = current[key];
  }
  return current;
}

/**
 * Parses a provider's JSON answer. Anything that is not JSON (an HTML error page, a truncated
 * body) becomes a TranslationError with Kong's wording: `failed to decode <what> response`.
 */
export function parseUpstreamJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new TranslationError(`failed to decode ${what} response`);
  }
}

/** Like parseUpstreamJson, for bodies that must be a JSON object. */
export function parseUpstreamObject(text: string, what: string, missing: string): JsonObject {
  const value = parseUpstreamJson(text, what);
  if (!isObject(value)) throw new TranslationError(missing);
  return value;
}

/**
 * A tool call's arguments as the JSON object a provider wants (Anthropic `input`, Converse
 * `toolUse.input`, Gemini `functionCall.args`, Ollama `arguments`): '' is no arguments, anything
 * but an object is the client's error at `path`.
 */
export function argumentsObject(args: string, path: string): JsonObject {
  if (args.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(args);
  } catch {
    throw new RequestError(`${path}: expected a JSON object`);
  }
  if (!isObject(parsed)) throw new RequestError(`${path}: expected a JSON object`);
  return parsed;
}
