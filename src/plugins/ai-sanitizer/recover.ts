/**
 * Putting the originals back (`recover_redacted`): every replacement the request side made is
 * replaced by its original wherever it appears in the answer, streamed or not.
 *
 * Streams: a replacement can be cut between two chunks (`<EMA` | `IL_1>`). The hook releases all
 * text except the longest tail that is a proper prefix of some replacement (at most the longest
 * replacement minus one character), and never a tail inside a replacement it already matched.
 * So the answer the client reads is the same whatever the chunking (the property tests cut at
 * every boundary).
 */
import type { ResponseHook } from '../shared/response-hooks.ts';

export class Recoverer {
  readonly #map: ReadonlyMap<string, string>;
  readonly #re: RegExp | null;
  readonly #prefixes = new Set<string>();
  readonly longest: number;

  constructor(map: ReadonlyMap<string, string>) {
    this.#map = map;
    const tokens = [...map.keys()].sort((a, b) => b.length - a.length);
    this.#re = tokens.length === 0 ? null : new RegExp(tokens.map(escape).join('|'), 'g');
    this.longest = tokens.length === 0 ? 0 : tokens[0].length;
    for (const t of tokens) for (let i = 1; i < t.length; i++) this.#prefixes.add(t.slice(0, i));
  }

  /** `text` with every replacement put back; `hold`: also how much of its end to keep back (a cut replacement). */
  recover(text: string, hold: boolean): { released: string; pending: string } {
    if (this.#re === null) return { released: text, pending: '' };
    let out = '';
    let at = 0;
    this.#re.lastIndex = 0;
    for (let m = this.#re.exec(text); m !== null; m = this.#re.exec(text)) {
      // a replacement at the very end that begins a longer one (`2001:db8::1` of `…::10`) waits for the next chunk
      if (hold && m.index + m[0].length === text.length && this.#prefixes.has(m[0])) return { released: out + text.slice(at, m.index), pending: text.slice(m.index) };
      out += text.slice(at, m.index) + this.#map.get(m[0]);
      at = m.index + m[0].length;
    }
    let cut = text.length;
    if (hold) {
      for (let k = Math.min(this.longest - 1, text.length - at); k > 0; k--) {
        if (this.#prefixes.has(text.slice(text.length - k))) {
          cut = text.length - k;
          break;
        }
      }
    }
    return { released: out + text.slice(at, cut), pending: text.slice(cut) };
  }
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The recovery as a response hook over one text stream. */
export class RecoverHook implements ResponseHook {
  readonly window: number;
  readonly #r: Recoverer;
  #pending = '';

  constructor(recoverer: Recoverer) {
    this.#r = recoverer;
    this.window = Math.max(0, recoverer.longest - 1);
  }

  push(text: string): string {
    const { released, pending } = this.#r.recover(this.#pending + text, true);
    this.#pending = pending;
    return released;
  }

  flush(): string {
    const rest = this.#pending;
    this.#pending = '';
    return rest === '' ? '' : this.#r.recover(rest, false).released;
  }
}
