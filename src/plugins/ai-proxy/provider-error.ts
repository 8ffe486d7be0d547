/**
 * A provider's error answer (any non-200 but a redirect) as the client of an AI route gets it:
 * its status, and OpenAI's error envelope.
 *
 * - A body already in OpenAI's envelope (OpenAI, Azure, the OpenAI-compatible servers, Anthropic's
 *   `{"type":"error","error":{"type","message"}}`) passes through as the provider wrote it.
 * - Anything else — Bedrock's `{"message"}` with `x-amzn-errortype`, Cohere's `{"message"}`,
 *   Gemini's `{"error":{"code":429,"status",...}}`, TGI's `{"error":"..."}`, an HTML page from a
 *   load balancer — is wrapped: the best message found becomes `error.message`, `type` and `code`
 *   come from the status (openai-error.ts), and the provider's own body (parsed when it is JSON,
 *   bounded in size) and error type are kept under `error.provider`.
 * - A provider's hint of when to retry that is not a header (Gemini's `RetryInfo.retryDelay`)
 *   becomes `Retry-After`; a provider's own `Retry-After` header is kept as it is (relay-json.ts).
 *
 * Registered secrets (provider keys) are masked in whatever is passed on: a provider may quote
 * the key it refused. Nothing of the request (headers, body) is added.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { redact } from '../../observability/redact.ts';
import { openAiError } from './openai-error.ts';

/** How much of a provider's error body is kept under `error.provider.body` (characters). */
const MAX_KEPT = 4096;
/** A plain-text body up to this length is taken as the message (an Envoy or nginx one-liner). */
const MAX_TEXT_MESSAGE = 300;

type Path = readonly (string | number)[];

/** Where providers put their error message, most specific first. */
const MESSAGE_PATHS: readonly Path[] = [
  ['error', 'message'], // Gemini, OpenAI-like bodies with a numeric code
  ['message'], // Bedrock, Cohere, Mistral, vLLM's top-level error object
  ['Message'], // AWS services answering in their other casing
  ['error'], // TGI, Ollama: `{"error": "..."}`
  ['detail'], // FastAPI servers
  ['detail', 0, 'msg'], // FastAPI validation errors
  ['error_description'], // OAuth token endpoints
  ['errors', 0, 'message'],
];

/** Where providers put their own error type (after Bedrock's `x-amzn-errortype` header). */
const TYPE_PATHS: readonly Path[] = [
  ['error', 'status'], // Gemini: RESOURCE_EXHAUSTED, INVALID_ARGUMENT ...
  ['error', 'type'],
  ['error_type'], // TGI
  ['__type'], // AWS JSON protocol
  ['type'], // Mistral, vLLM
  ['error', 'code'],
  ['code'],
];

function dig(value: unknown, path: Path): unknown {
  let v = value;
  for (const key of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<string | number, unknown>)[key];
  }
  return v;
}

function firstString(value: unknown, paths: readonly Path[]): string | null {
  for (const p of paths) {
    const v = dig(value, p);
    if (typeof v === 'string' && v.trim() !== '') return v;
  }
  return null;
}

const isNullableString = (v: unknown) => v === undefined || v === null || typeof v === 'string';

/** Already OpenAI's envelope: what the SDKs read is where they read it, with the types they expect. */
function isOpenAiShaped(value: unknown): boolean {
  const e = dig(value, ['error']);
  if (typeof e !== 'object' || e === null || Array.isArray(e)) return false;
  const error = e as Record<string, unknown>;
  return typeof error.message === 'string' && isNullableString(error.type) && isNullableString(error.code) && isNullableString(error.param);
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/** Bedrock's `x-amzn-errortype: ValidationException:http://internal.amazon.com/coral/...`: the part before the colon. */
function amznErrorType(headers: IncomingHttpHeaders): string | null {
  const raw = headers['x-amzn-errortype'];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (!value) return null;
  return value.split(':')[0] || null;
}

function htmlTitle(text: string): string | null {
  const m = /<title[^>]*>([^<]{1,200})<\/title>/i.exec(text);
  return m ? m[1].replace(/\s+/g, ' ').trim() || null : null;
}

/** The message of a body that is not JSON: an HTML page's title, a short text itself. */
function textMessage(status: number, text: string): string {
  const trimmed = text.trim();
  if (trimmed === '') return `the provider answered ${status} with an empty body`;
  if (/^<(!doctype|html|head|body)/i.test(trimmed)) {
    const title = htmlTitle(trimmed);
    return `the provider answered ${status} with an HTML page${title ? `: ${title}` : ''}`;
  }
  if (trimmed.length <= MAX_TEXT_MESSAGE && !trimmed.includes('\n')) return `the provider answered ${status}: ${trimmed}`;
  return `the provider answered ${status} without a JSON body`;
}

/**
 * Google's `google.rpc.RetryInfo` (`"retryDelay": "13s"`, in `error.details[]`) as Retry-After
 * seconds, rounded up; null when the body has none.
 */
function retryDelayOf(value: unknown): string | null {
  const details = dig(value, ['error', 'details']);
  if (!Array.isArray(details)) return null;
  for (const d of details) {
    const type = dig(d, ['@type']);
    const delay = dig(d, ['retryDelay']);
    if (typeof type !== 'string' || !type.endsWith('google.rpc.RetryInfo') || typeof delay !== 'string') continue;
    const m = /^(\d+(?:\.\d+)?)s$/.exec(delay.trim());
    if (m) return String(Math.max(1, Math.ceil(Number(m[1]))));
  }
  return null;
}

export interface ProviderErrorAnswer {
  /** The client's body (JSON text). */
  body: string;
  /** Retry-After from a hint in the body, for when the provider sent no such header. */
  retryAfter: string | null;
}

/** The client's answer to a provider's error `status` with body `text` (decoded). */
export function providerErrorAnswer(status: number, text: string, headers: IncomingHttpHeaders, provider: string): ProviderErrorAnswer {
  const safe = redact(text);
  const parsed = parseJson(safe);
  if (parsed.ok && isOpenAiShaped(parsed.value)) return { body: safe, retryAfter: null };
  const value = parsed.ok ? parsed.value : undefined;
  const providerType = amznErrorType(headers) ?? (parsed.ok ? firstString(value, TYPE_PATHS) : null);
  const message = parsed.ok ? (firstString(value, MESSAGE_PATHS) ?? `the provider answered ${status}${providerType ? ` (${providerType})` : ''}`) : textMessage(status, safe);
  const kept = parsed.ok && safe.length <= MAX_KEPT ? value : safe.length <= MAX_KEPT ? safe : `${safe.slice(0, MAX_KEPT)}… (${safe.length - MAX_KEPT} more characters)`;
  const envelope = openAiError(status, message);
  envelope.error.provider = { name: provider, status, type: providerType, body: kept };
  return { body: JSON.stringify(envelope), retryAfter: parsed.ok ? retryDelayOf(value) : null };
}
