/**
 * Provider state across turns, for clients that do not echo it back. An answer's reasoning state
 * (Anthropic thinking signatures and redacted thinking, Bedrock's reasoning signatures, Gemini's
 * thought signatures, OpenAI's encrypted reasoning) must come back with the assistant's tool calls
 * next turn, or the provider refuses the turn (Anthropic with thinking on) or reasons worse (Gemini).
 * OpenAI clients keep `message.tool_calls` but most drop `reasoning_details`, so the gateway keeps
 * the state in the shared cache, keyed by tool-call id:
 *
 * - after an answer (JSON or stream: `sink.carried`), its reasoning parts are stored under each of
 *   its tool-call ids, for an hour, when they are small enough (at most 256 KiB);
 * - before a request is built, an assistant message with tool calls and no reasoning of its own
 *   gets the cached parts back. Formats decide what to send: state goes only to the provider that
 *   made it (`ReasoningPart.provider`), so a conversation that moves to another provider drops it
 *   cleanly.
 *
 * Keys are scoped (the route and the consumer): one client cannot pull another's state by naming
 * its tool-call id. The cache is `redis` when configured (state follows a conversation across
 * nodes), else the node's own; when it is unavailable, nothing is remembered and requests go on.
 */
import { cacheStore } from '../state/index.ts';
import type { CanonicalRequest, Carried, Message, ReasoningPart } from './types.ts';

export const STATE_TTL_MS = 60 * 60 * 1000;
export const MAX_STATE_BYTES = 256 * 1024;
const NAMESPACE = 'exchange';

function cache() {
  return cacheStore('redis', NAMESPACE);
}

function keyOf(scope: string, id: string): string {
  return `${scope}:${id}`;
}

/** Whether an answer carried anything worth remembering. */
export function hasState(carried: Carried | undefined | null): carried is Carried {
  return !!carried && carried.reasoning.length > 0 && carried.toolCallIds.length > 0;
}

/** The parts to keep for one tool call: those that belong to it, and those that belong to no call in particular. */
function partsFor(carried: Carried, id: string): ReasoningPart[] {
  return carried.reasoning.filter((p) => p.toolCallId === undefined || p.toolCallId === id);
}

/** Stores an answer's reasoning state under each of its tool-call ids. Never throws; resolves when written (or given up). */
export async function rememberState(carried: Carried | undefined | null, scope: string): Promise<void> {
  if (!hasState(carried)) return;
  try {
    const store = cache();
    await Promise.all(
      carried.toolCallIds.map((id) => {
        const value = JSON.stringify(partsFor(carried, id));
        if (value === '[]' || value.length > MAX_STATE_BYTES) return undefined;
        return store.set(keyOf(scope, id), value, STATE_TTL_MS);
      }),
    );
  } catch {
    // no shared state in this process, or the store is down: the next turn goes without it
  }
}

/** A reasoning part that carries state a provider needs back (not only its text). */
function carriesState(p: ReasoningPart): boolean {
  return p.signature !== undefined || p.redacted !== undefined || p.encrypted !== undefined;
}

/**
 * The ids of assistant tool calls whose message carries no reasoning state of its own. Reasoning
 * text alone does not count: an Anthropic client echoes a Bedrock or Gemini thinking block with an
 * empty signature (it cannot carry another provider's), and a Responses client a reasoning item
 * without `encrypted_content`.
 */
function callsWithoutState(messages: Message[]): Map<number, string[]> {
  const found = new Map<number, string[]>();
  messages.forEach((m, i) => {
    if (m.role !== 'assistant') return;
    let reasoning = false;
    const ids: string[] = [];
    for (const p of m.parts) {
      if (p.type === 'reasoning' && carriesState(p)) reasoning = true;
      else if (p.type === 'tool_call') ids.push(p.id);
    }
    if (!reasoning && ids.length > 0) found.set(i, ids);
  });
  return found;
}

/**
 * Puts cached reasoning state back on the request's assistant messages that have tool calls and no
 * reasoning of their own (the parts go first, as the provider wrote them). Never throws.
 */
export async function restoreState(req: CanonicalRequest, scope: string): Promise<void> {
  const wanted = callsWithoutState(req.messages);
  if (wanted.size === 0) return;
  let store;
  try {
    store = cache();
  } catch {
    return;
  }
  await Promise.all(
    [...wanted].map(async ([i, ids]) => {
      const seen = new Set<string>();
      const parts: ReasoningPart[] = [];
      for (const id of ids) {
        let value: string | null = null;
        try {
          value = await store.get(keyOf(scope, id));
        } catch {
          return;
        }
        if (!value) continue;
        let cached: unknown;
        try {
          cached = JSON.parse(value);
        } catch {
          continue;
        }
        if (!Array.isArray(cached)) continue;
        for (const part of cached as ReasoningPart[]) {
          const k = JSON.stringify(part);
          if (part?.type !== 'reasoning' || seen.has(k)) continue;
          seen.add(k);
          parts.push(part);
        }
      }
      if (parts.length > 0) {
        // the cached parts have the text too: the client's text-only echo of them goes
        const m = req.messages[i];
        req.messages[i] = { ...m, parts: [...parts, ...m.parts.filter((p) => p.type !== 'reasoning' || carriesState(p))] };
      }
    }),
  );
}

/** Providers whose formats send reasoning state back: only their routes look the cache up. */
export const STATEFUL_PROVIDERS: ReadonlySet<string> = new Set(['anthropic', 'bedrock', 'gemini']);
