/**
 * Server-sent events decoding on top of `eventsource-parser` (docs/architecture.md, dependencies: correct framing of split and
 * joined events, CR/LF/CRLF line ends, comments, multi-line data). We add strict incremental UTF-8
 * decoding and turn its buffer limit into a typed error.
 *
 * At EOF an event without its terminating blank line is dropped, as the SSE specification says:
 * a stream cut in the middle of an event must not look complete (T43). Kong's fixture
 * `streaming-chunk-formats/text-event-stream` shows the same behaviour.
 */
import { createParser, type EventSourceParser } from 'eventsource-parser';
import { TranslationError, type StreamEvent } from '../types.ts';
import { StrictUtf8Decoder } from './utf8.ts';
import type { FrameDecoder } from './decoder.ts';

export class SseDecoder implements FrameDecoder {
  private readonly utf8 = new StrictUtf8Decoder();
  private readonly parser: EventSourceParser;
  private readonly maxEventSize: number;
  private events: StreamEvent[] = [];
  private failure: TranslationError | null = null;

  constructor(maxEventSize: number) {
    this.maxEventSize = maxEventSize;
    this.parser = createParser({
      onEvent: (message) => {
        this.events.push({ event: message.event, data: message.data });
      },
      onError: (error) => {
        // Unknown fields and bad `retry` values are ignorable per the specification; only overflow is fatal.
        if (error.type === 'max-buffer-size-exceeded') {
          this.failure = new TranslationError(`upstream stream event larger than ${this.maxEventSize} characters`);
        }
      },
      maxBufferSize: maxEventSize,
    });
  }

  push(chunk: Uint8Array): StreamEvent[] {
    return this.feed(this.utf8.push(chunk));
  }

  end(): StreamEvent[] {
    return this.feed(this.utf8.end());
  }

  private feed(text: string): StreamEvent[] {
    if (this.failure) throw this.failure;
    if (text !== '') this.parser.feed(text);
    if (this.failure) throw this.failure;
    const events = this.events;
    this.events = [];
    return events;
  }
}
