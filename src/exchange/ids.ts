/**
 * Provider-neutral tool-call ids (`TOOL_CALL_ID`: `^[A-Za-z0-9_-]{1,64}$`), which every provider
 * accepts back next turn. A conversation that started on one provider can then continue on another
 * (ai-proxy-advanced failover and balancing). Provider state never rides inside an id: it travels
 * as a ReasoningPart (docs/architecture.md, "The canonical exchange").
 *
 * Formats call `toolCallId` for every call they read from a provider; renderers call it again as a
 * safety net (it is idempotent: a neutral id comes back unchanged). The mapping is deterministic
 * (no randomness, no clock), so a JSON answer and the same answer streamed give the same ids.
 */
import { createHash } from 'node:crypto';
import { TOOL_CALL_ID } from './types.ts';

/**
 * The id the client sees for a provider's tool call:
 * - the provider's own id when it is already neutral (OpenAI's `call_...`, Anthropic's `toolu_...`,
 *   Bedrock's `tooluse_...`);
 * - else, for a non-empty id (too long, or with `+/=.:` ...), `call_` and 24 characters of its
 *   SHA-256 (base64url): the same provider id always gives the same neutral id;
 * - else (the provider gives none: Gemini, Ollama), `call_<answer id>_<index>`, made neutral too.
 */
export function toolCallId(providerId: unknown, answerId: string, index: number): string {
  if (typeof providerId === 'string' && providerId !== '') return neutralId(providerId);
  return neutralId(`call_${answerId}_${index}`);
}

/** `id` itself when it is neutral, else its stable neutral stand-in. */
export function neutralId(id: string): string {
  if (TOOL_CALL_ID.test(id)) return id;
  return `call_${createHash('sha256').update(id).digest('base64url').slice(0, 24)}`;
}

/** Whether a client may be shown `id` as it is. */
export function isNeutralId(id: string): boolean {
  return TOOL_CALL_ID.test(id);
}
