/**
 * The framing decoders shared by every driver: bytes in, framed events out. Both are incremental
 * and split-invariant (the same events whatever way the bytes are cut into chunks, T49) and bound
 * what they buffer: one event or line larger than the limit is an error, not unbounded growth.
 */
import type { StreamEvent, StreamFraming } from '../types.ts';
import { NdjsonDecoder } from './ndjson.ts';
import { SseDecoder } from './sse.ts';

export interface FrameDecoder {
  /** Decodes one network chunk; returns the events it completed (possibly none). */
  push(chunk: Uint8Array): StreamEvent[];
  /** At the end of the upstream body: returns what the framing allows to complete at EOF. */
  end(): StreamEvent[];
}

/** The largest single event (SSE) or line (NDJSON) we buffer, in characters. */
export const DEFAULT_MAX_EVENT_SIZE = 16 * 1024 * 1024;

export interface DecoderOptions {
  maxEventSize?: number;
}

export function createFrameDecoder(framing: StreamFraming, options: DecoderOptions = {}): FrameDecoder {
  const max = options.maxEventSize ?? DEFAULT_MAX_EVENT_SIZE;
  return framing === 'sse' ? new SseDecoder(max) : new NdjsonDecoder(max);
}
