/**
 * Scanning the answer (`sanitization_mode: OUTPUT | BOTH`): the answer's text is redacted as the
 * prompt is (same kinds, same redact_type, numbering continued from the request's), or refused
 * with `block_if_detected`. Recovery (recover.ts) never applies to what this redacts: Kong's
 * "recover_redacted doesn't apply to the redacted output".
 *
 * Streams: a value can arrive over several chunks, so the hook keeps a window of raw text
 * (WINDOW characters) and moves the cut back so that it never falls inside a finding, inside a
 * run of non-space characters (a key still arriving; up to MAX_WORD back), or after the start of a PEM private key
 * whose END line has not come yet; what lies before the cut is redacted and released. Every
 * finding is therefore judged whole, whatever the chunking. A run that never ends is released
 * once MAX_HOLD characters are pending (redacted as far as it can be judged), so memory stays bounded.
 */
import { ResponseBlockedError, type ResponseHook } from '../shared/response-hooks.ts';
import { detect, type Span } from './detectors/index.ts';
import type { Redactor } from './redactor.ts';

/** Longer than any finding that contains spaces (a grouped card or IBAN, a phone number). */
export const WINDOW = 256;
/** The most a hook ever keeps pending (a PEM key or a JWT is at most ~16 KiB). */
export const MAX_HOLD = 32 * 1024;
/** The longest run of non-space characters the cut steps back over (a long JWT or token still arriving). */
export const MAX_WORD = 2048;

export interface ScanOptions {
  redactor: Redactor;
  /** The request's replacements: text the model repeats from the prompt, not new findings. */
  skip: ReadonlyMap<string, string>;
  block: boolean;
  rule: string;
  onFound: (spans: Span[]) => void;
}

const isSpace = (c: number) => c === 32 || c === 10 || c === 13 || c === 9;

/** Where the released part may end: before WINDOW from the end, never inside a finding, a word or an open PEM key. */
export function safeCut(text: string, spans: readonly Span[]): number {
  let cut = text.length - WINDOW;
  for (let moved = true; moved && cut > 0; ) {
    moved = false;
    // bounded: text without spaces (Chinese, Japanese, minified JSON) must still flow
    const floor = cut - MAX_WORD;
    while (cut > 0 && cut > floor && !isSpace(text.charCodeAt(cut - 1)) && !isSpace(text.charCodeAt(cut))) {
      cut--;
      moved = true;
    }
    for (const s of spans) {
      if (s.start < cut && cut < s.end) {
        cut = s.start;
        moved = true;
      }
    }
  }
  const begin = text.lastIndexOf('-----BEGIN');
  if (begin >= 0 && begin < cut && text.indexOf('-----END', begin) < 0) cut = begin;
  if (cut <= 0 && text.length > MAX_HOLD) cut = text.length - WINDOW;
  return Math.max(0, cut);
}

export class ScanHook implements ResponseHook {
  readonly window = WINDOW;
  readonly #o: ScanOptions;
  #pending = '';

  constructor(options: ScanOptions) {
    this.#o = options;
  }

  push(text: string): string {
    const buf = this.#pending + text;
    if (buf.length <= WINDOW) {
      this.#pending = buf;
      return '';
    }
    const cut = safeCut(buf, detect(buf, this.#o.redactor.plan));
    this.#pending = buf.slice(cut);
    return cut === 0 ? '' : this.#release(buf.slice(0, cut));
  }

  flush(): string {
    const rest = this.#pending;
    this.#pending = '';
    return rest === '' ? '' : this.#release(rest);
  }

  #release(text: string): string {
    const { text: out, spans } = this.#o.redactor.redact(text, this.#o.skip);
    if (spans.length === 0) return out;
    this.#o.onFound(spans);
    if (this.#o.block) {
      const kinds = [...new Set(spans.map((s) => s.kind))].sort().join(', ');
      throw new ResponseBlockedError(this.#o.rule, `the answer was blocked by ai-sanitizer: it contains ${kinds}`, { code: 'sensitive_data_detected', reason: `detected ${kinds}` });
    }
    return out;
  }
}
