/**
 * A cached answer as it is kept in the key-value cache (src/state/, under the exact key): the
 * answer in canonical form (text, refusal and tool-call parts, finish reason, per choice), so any
 * rendering of it can be made (JSON or a stream, capture.ts reads it from whatever the client got),
 * and what the original call cost: its usage and cost are what a hit SAVES (spend rows, logs).
 */
import type { CanonicalChoice, Usage } from '../../exchange/types.ts';

export interface Entry {
  v: 1;
  /** Epoch milliseconds when the answer was stored: `Age`. */
  createdAt: number;
  /** Its time to live, ms: `X-Cache-Ttl` is what is left of it. */
  ttlMs: number;
  /** The provider and the model that answered. */
  provider: string;
  model: string;
  choices: CanonicalChoice[];
  /** The original call's usage and cost (null: unpriced). */
  usage: Usage | null;
  cost: number | null;
}

export function encodeEntry(e: Entry): string {
  return JSON.stringify(e);
}

/** The entry in `text`, or null when it is not one (another version's, or damaged: a miss). */
export function decodeEntry(text: string | null): Entry | null {
  if (text === null) return null;
  try {
    const e = JSON.parse(text) as Entry;
    if (e?.v !== 1 || typeof e.createdAt !== 'number' || typeof e.ttlMs !== 'number' || !Array.isArray(e.choices) || e.choices.length === 0) return null;
    return e;
  } catch {
    return null;
  }
}

/** Whole seconds since the entry was stored. */
export function ageSeconds(e: Entry, now: number): number {
  return Math.max(0, Math.floor((now - e.createdAt) / 1000));
}

/** Whole seconds it has left (at least 0). */
export function ttlLeftSeconds(e: Entry, now: number): number {
  return Math.max(0, Math.ceil((e.createdAt + e.ttlMs - now) / 1000));
}
