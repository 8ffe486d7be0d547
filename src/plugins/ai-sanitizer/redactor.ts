/**
 * One request's redaction: finds the spans (detectors/), replaces each distinct value by its
 * placeholder (`<EMAIL_1>`, numbered per kind in order of first appearance) or synthetic fake
 * (synthetic.ts), the same replacement wherever the value appears in the request, and keeps the
 * mapping replacement → original for the answer (recover.ts). Nothing here logs or keeps values
 * beyond the request.
 *
 * A replacement is never a string that already occurs in the request's text (the haystack):
 * then putting the originals back in the answer cannot change text the client wrote itself —
 * `<EMAIL_1>` typed by the client stays as typed, the next number is used instead.
 */
import { detect, type DetectedKind, type DetectionPlan, type Span } from './detectors/index.ts';
import { syntheticValue } from './synthetic.ts';
import { HASHED } from './kinds.ts';

export type RedactType = 'placeholder' | 'synthetic';

export function placeholder(kind: DetectedKind, n: number): string {
  return `<${kind.toUpperCase()}_${n}>`;
}

export interface Redaction {
  text: string;
  spans: Span[];
}

export class Redactor {
  readonly plan: DetectionPlan;
  readonly type: RedactType;
  /** Request text the replacements must not collide with (every text scanned, joined). */
  #haystack = '';
  /** original → replacement, per kind. */
  readonly #byValue = new Map<string, string>();
  /** replacement → original: what recover.ts puts back. */
  readonly recoverable = new Map<string, string>();
  readonly #used = new Set<string>();
  readonly #next = new Map<DetectedKind, number>();

  constructor(plan: DetectionPlan, type: RedactType) {
    this.plan = plan;
    this.type = type;
  }

  /** Adds text the replacements must not collide with. */
  avoid(text: string): void {
    this.#haystack += '\u0000' + text;
  }

  /** The spans of `text` replaced, and `text` with each replaced. `skip`: values left as they are (another redaction's replacements). */
  redact(text: string, skip?: ReadonlyMap<string, string>): Redaction {
    const found = detect(text, this.plan);
    if (found.length === 0) return { text, spans: found };
    let out = '';
    let at = 0;
    const spans: Span[] = [];
    for (const s of found) {
      const value = text.slice(s.start, s.end);
      if (skip?.has(value)) continue;
      spans.push(s);
      out += text.slice(at, s.start) + this.#replacement(s.kind, value);
      at = s.end;
    }
    return { text: out + text.slice(at), spans };
  }

  #replacement(kind: DetectedKind, value: string): string {
    const key = kind + '\u0000' + value;
    const known = this.#byValue.get(key);
    if (known !== undefined) return known;
    const hashed = this.type === 'synthetic' && HASHED.has(kind);
    let r: string;
    for (;;) {
      const n = (this.#next.get(kind) ?? 0) + 1;
      this.#next.set(kind, n);
      r = this.type === 'placeholder' ? placeholder(kind, n) : syntheticValue(kind, value, n);
      // a run of # is Kong's synthetic credential: never recovered, so it may repeat
      if (hashed) break;
      if (!this.#used.has(r) && !this.#haystack.includes(r) && r !== value) break;
    }
    this.#byValue.set(key, r);
    if (!hashed) {
      this.#used.add(r);
      this.recoverable.set(r, value);
    }
    return r;
  }
}
