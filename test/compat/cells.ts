/**
 * One cell of a compatibility table (test/compat/matrix.ts, test/compat/client-apis.ts): a verdict
 * decided by requests through the real gateway, and why when it is not a plain yes.
 */
import { z } from 'zod';
import type { RecordedRequest } from '../mocks/providers.ts';

export type Verdict = 'yes' | 'emulated' | 'no';

export interface Cell {
  /** yes / emulated / no, or (usage kinds) the list of token kinds seen. */
  value: string;
  /** Why, for anything but a plain yes: what the gateway or the provider answered. */
  note?: string;
}

export const yes = (note?: string): Cell => (note ? { value: 'yes', note } : { value: 'yes' });
export const no = (note: string): Cell => ({ value: 'no', note });
export const emulated = (note: string): Cell => ({ value: 'emulated', note });

/** A refusal as a note, short and stable: `<status>: <message>`, whitespace folded. */
export function refusalNote(status: number | string, message: unknown): string {
  return `${status}: ${String(message).replace(/\s+/g, ' ').slice(0, 200)}`;
}

// ---------------------------------------------------------------------------------------------
// What the probes of every table share: the structured-output schema, and readings of what the
// provider's mock received.


export const City = z.object({ city: z.string(), population: z.number().int(), tags: z.array(z.string()) });
export const CITY_SCHEMA = {
  type: 'object',
  properties: { city: { type: 'string' }, population: { type: 'integer' }, tags: { type: 'array', items: { type: 'string' } } },
  required: ['city', 'population', 'tags'],
  additionalProperties: false,
};

/** The provider answered with its streaming framing (stream frames), not one JSON body. */
export const streamedUpstream = (r: RecordedRequest | undefined): boolean => (r?.eventsSent ?? 0) > 0;

/** The provider's body declares tools (OpenAI, Anthropic, Gemini, Cohere, Ollama `tools`; Bedrock `toolConfig.tools`). */
export function declaresTools(upstream: RecordedRequest | undefined): boolean {
  const json = upstream?.json as { tools?: unknown; toolConfig?: { tools?: unknown } } | undefined;
  const nonEmpty = (v: unknown) => Array.isArray(v) && v.length > 0;
  return nonEmpty(json?.tools) || nonEmpty(json?.toolConfig?.tools);
}

export function jsonObject(text: string): boolean {
  try {
    const v = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v);
  } catch {
    return false;
  }
}
