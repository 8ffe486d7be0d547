/**
 * Reasoning state in OpenAI-chat messages, in OpenRouter's documented `reasoning_details` shape
 * (what OpenAI-compatible clients and SDKs that keep provider state already echo back):
 *
 *   { "type": "reasoning.text", "text": "...", "signature": "...", "format": "anthropic-claude-v1", "index": 0 }
 *   { "type": "reasoning.encrypted", "data": "...", "format": "anthropic-claude-v1", "index": 1 }
 *   { "type": "reasoning.summary", "summary": "...", "format": "openai-responses-v1" }
 *
 * `id` is the tool call a signature belongs to (Gemini's thought signatures ride on a function
 * call). `format` names the provider that made the state, so only that provider gets it back.
 */
import type { JsonObject } from '../llm/json.ts';
import type { ReasoningPart } from './types.ts';

const FORMAT_OF: Readonly<Record<string, string>> = {
  anthropic: 'anthropic-claude-v1',
  openai: 'openai-responses-v1',
  azure: 'openai-responses-v1',
  gemini: 'google-gemini-v1',
  bedrock: 'amazon-bedrock-v1',
};
const PROVIDER_OF: Readonly<Record<string, string>> = {
  'anthropic-claude-v1': 'anthropic',
  'openai-responses-v1': 'openai',
  'google-gemini-v1': 'gemini',
  'amazon-bedrock-v1': 'bedrock',
};

/** The `format` of a provider's state (`modelgate-<provider>-v1` for providers OpenRouter names none for). */
export function reasoningFormat(provider: string | undefined): string {
  if (!provider) return 'unknown';
  return FORMAT_OF[provider] ?? `modelgate-${provider}-v1`;
}

/** The provider a `format` names, or undefined (`unknown`, or nothing). */
export function providerOfFormat(format: unknown): string | undefined {
  if (typeof format !== 'string') return undefined;
  if (Object.hasOwn(PROVIDER_OF, format)) return PROVIDER_OF[format];
  const m = /^modelgate-([a-z0-9-]+)-v1$/.exec(format);
  return m ? m[1] : undefined;
}

/** A reasoning part as one `reasoning_details` entry (null when it carries nothing). */
export function reasoningDetail(part: ReasoningPart, index: number): JsonObject | null {
  const format = reasoningFormat(part.provider);
  const opaque = part.encrypted ?? part.redacted;
  let detail: JsonObject;
  if (opaque !== undefined) detail = { type: 'reasoning.encrypted', data: opaque };
  else if (part.signature !== undefined || part.text !== '') {
    detail = { type: 'reasoning.text', text: part.text };
    if (part.signature !== undefined) detail.signature = part.signature;
  } else return null;
  if (part.toolCallId !== undefined) detail.id = part.toolCallId;
  detail.format = format;
  detail.index = index;
  return detail;
}

/** `reasoning_details` entries back into reasoning parts; entries of unknown types are skipped (returned in `skipped` by index). */
export function reasoningPartsOf(details: unknown[]): { parts: ReasoningPart[]; skipped: number[] } {
  const parts: ReasoningPart[] = [];
  const skipped: number[] = [];
  details.forEach((d, i) => {
    if (typeof d !== 'object' || d === null || Array.isArray(d)) {
      skipped.push(i);
      return;
    }
    const detail = d as JsonObject;
    const provider = providerOfFormat(detail.format);
    const part: ReasoningPart = { type: 'reasoning', text: '' };
    if (detail.type === 'reasoning.text') {
      part.text = typeof detail.text === 'string' ? detail.text : '';
      if (typeof detail.signature === 'string') part.signature = detail.signature;
    } else if (detail.type === 'reasoning.summary') {
      part.text = typeof detail.summary === 'string' ? detail.summary : '';
    } else if (detail.type === 'reasoning.encrypted' && typeof detail.data === 'string') {
      if (provider === 'openai') part.encrypted = detail.data;
      else part.redacted = detail.data;
    } else {
      skipped.push(i);
      return;
    }
    if (provider) part.provider = provider;
    if (typeof detail.id === 'string') part.toolCallId = detail.id;
    parts.push(part);
  });
  return { parts, skipped };
}
