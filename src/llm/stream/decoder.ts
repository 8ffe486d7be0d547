/**
 * The framing decoders shared by every driver: bytes in, framed events out. Both are incremental
 * and split-invariant (the same events whatever way the bytes are cut into chunks, T49) and bound
 * what they buffer: one event or line larger than the limit is an error, not unbounded growth.
 */
import type { StreamEvent, StreamFraming } from '../types.ts';
import { NdjsonDecoder } from './ndjson.ts';
import { SseDecoder } from './sse.ts';
import { AwsEventStreamDecoder } from './aws-eventstream.ts';

export interface FrameDecoder {
  /** Decodes one network chunk; returns the events it completed (possibly none). */
  push(chunk: Uint8Array): StreamEvent[];
  /** At the end of the upstream body: returns what the framing allows to complete at EOF. */
  end(): StreamEvent[];
}

/** The largest single event (SSE), line (NDJSON, in characters) or message (AWS event stream, in bytes) we buffer. */
export const DEFAULT_MAX_EVENT_SIZE = 16 * 1024 * 1024;

export interface DecoderOptions {
  maxEventSize?: number;
}

export function createFrameDecoder(framing: StreamFraming, options: DecoderOptions = {}): FrameDecoder {
  const max = options.maxEventSize ?? DEFAULT_MAX_EVENT_SIZE;
  switch (framing) {
    case 'sse':
      return new SseDecoder(max);
    case 'ndjson':
      return new NdjsonDecoder(max);
    case 'aws-eventstream':
      return new AwsEventStreamDecoder(max);
    default:
      throw new Error(`unknown stream framing '${String(framing)}'`);
  }
}
