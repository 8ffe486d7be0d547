/**
 * Newline-delimited JSON decoding (Ollama, Cohere v1). Lines end with LF; a CR before it is
 * dropped (Kong's `complete-json` fixture uses CRLF). Blank lines are skipped: Kong's Cohere mock
 * separates lines with blank ones. The last line is emitted at EOF even without its newline, since
 * a complete JSON value needs no terminator; a truncated one then fails to parse downstream.
 */
import { TranslationError, type StreamEvent } from '../types.ts';
import { StrictUtf8Decoder } from './utf8.ts';
import type { FrameDecoder } from './decoder.ts';

export class NdjsonDecoder implements FrameDecoder {
  readonly #utf8 = new StrictUtf8Decoder();
  readonly #maxLineSize: number;
  /** The unterminated tail of the input: the start of the next line. */
  #partial = '';

  constructor(maxLineSize: number) {
    this.#maxLineSize = maxLineSize;
  }

  push(chunk: Uint8Array): StreamEvent[] {
    return this.#lines(this.#utf8.push(chunk));
  }

  end(): StreamEvent[] {
    const events = this.#lines(this.#utf8.end());
    const last = this.#partial;
    this.#partial = '';
    addLine(events, last);
    return events;
  }

  #lines(text: string): StreamEvent[] {
    const events: StreamEvent[] = [];
    let start = 0;
    let newline = text.indexOf('\n');
    while (newline !== -1) {
      // Only a completed line pays for the concatenation with the buffered tail.
      const line = start === 0 && this.#partial !== '' ? this.#partial + text.slice(0, newline) : text.slice(start, newline);
      if (start === 0) this.#partial = '';
      addLine(events, line);
      start = newline + 1;
      newline = text.indexOf('\n', start);
    }
    if (start < text.length) this.#partial += text.slice(start);
    if (this.#partial.length > this.#maxLineSize) {
      this.#partial = '';
      throw new TranslationError(`upstream stream line longer than ${this.#maxLineSize} characters`);
    }
    return events;
  }
}

function addLine(events: StreamEvent[], line: string): void {
  const data = line.endsWith('\r') ? line.slice(0, -1) : line;
  if (data.trim() !== '') events.push({ event: undefined, data });
}
