/**
 * AWS event-stream decoding (`application/vnd.amazon.eventstream`, Bedrock's ConverseStream and
 * InvokeModelWithResponseStream). A binary framing, not text:
 *
 *   [total length: u32][headers length: u32][prelude CRC32: u32][headers][payload][message CRC32: u32]
 *
 * all big-endian; the prelude CRC covers the first 8 bytes, the message CRC everything before it.
 * A header is [name length: u8][name][type: u8][value], the value's encoding given by its type
 * (0/1 boolean true/false, 2 byte, 3 short, 4 int, 5 long, 6 bytes and 7 string with a u16 length,
 * 8 timestamp (ms, i64), 9 UUID). Reference: the AWS SDKs' `eventstream` codecs and
 * https://docs.aws.amazon.com/AmazonS3/latest/API/RESTSelectObjectAppendix.html (the same framing).
 *
 * Like the SSE and NDJSON decoders this one is incremental and split-invariant (a message cut at any
 * byte comes out whole once its last byte arrives), bounded (a message longer than the limit is an
 * error before it is buffered) and strict: a CRC mismatch, a header that runs past its section, an
 * unknown header type or a payload that is not UTF-8 is a TranslationError, never garbage passed on.
 *
 * Messages become StreamEvents: `:message-type: event` → `{event: <:event-type>, data: <payload>}`;
 * `exception` → `{event: 'exception:<:exception-type>', data: <payload or '{}'>}`; `error` →
 * `{event: 'error:<:error-code>', data: JSON {message: <:error-message>}}`.
 */
import { crc32 } from 'node:zlib';
import { TranslationError, type StreamEvent } from '../types.ts';
import type { FrameDecoder } from './decoder.ts';

/** Prelude (12 bytes) + message CRC (4 bytes): the smallest possible message. */
const MIN_MESSAGE = 16;
const PRELUDE = 12;

export type HeaderValue = boolean | number | bigint | string | Uint8Array;

export interface EventStreamMessage {
  headers: Record<string, HeaderValue>;
  /** A view of the bytes pushed (no copy): valid while the caller leaves the chunks it pushed as they are. */
  payload: Uint8Array;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Splits bytes into event-stream messages, whatever the chunking. */
export class EventStreamMessageDecoder {
  readonly #maxMessageSize: number;
  #buffer: Uint8Array = new Uint8Array(0);

  constructor(maxMessageSize: number) {
    this.#maxMessageSize = maxMessageSize;
  }

  push(chunk: Uint8Array): EventStreamMessage[] {
    this.#buffer = this.#buffer.length === 0 ? chunk : concat(this.#buffer, chunk);
    const buffer = this.#buffer;
    const messages: EventStreamMessage[] = [];
    let offset = 0;
    while (buffer.length - offset >= PRELUDE) {
      const total = u32(buffer, offset);
      const headersLength = u32(buffer, offset + 4);
      if (crc32(buffer.subarray(offset, offset + 8)) !== u32(buffer, offset + 8)) {
        throw new TranslationError('upstream event stream: prelude checksum mismatch');
      }
      if (total < MIN_MESSAGE || headersLength > total - MIN_MESSAGE) {
        throw new TranslationError('upstream event stream: invalid message length');
      }
      if (total > this.#maxMessageSize) {
        throw new TranslationError(`upstream stream event larger than ${this.#maxMessageSize} bytes`);
      }
      if (buffer.length - offset < total) break;
      const message = buffer.subarray(offset, offset + total);
      if (crc32(message.subarray(0, total - 4)) !== u32(message, total - 4)) {
        throw new TranslationError('upstream event stream: message checksum mismatch');
      }
      messages.push({
        headers: parseHeaders(message.subarray(PRELUDE, PRELUDE + headersLength)),
        // a view, not a copy: nothing writes these bytes again (a cut message's tail is copied
        // out below), and the frame decoder turns the payload into text at once (toEvent)
        payload: message.subarray(PRELUDE + headersLength, total - 4),
      });
      offset += total;
    }
    // Keep only the incomplete tail (copied, so a large consumed chunk is not retained).
    this.#buffer = offset === 0 ? buffer : buffer.slice(offset);
    return messages;
  }

  /** At EOF: a partial message means the stream was cut. */
  end(): EventStreamMessage[] {
    if (this.#buffer.length > 0) {
      this.#buffer = new Uint8Array(0);
      throw new TranslationError('upstream event stream ended inside a message');
    }
    return [];
  }
}

/** A big-endian u32 (the prelude's lengths and the checksums), without a DataView per message. */
function u32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function parseHeaders(bytes: Uint8Array): Record<string, HeaderValue> {
  const headers: Record<string, HeaderValue> = Object.create(null) as Record<string, HeaderValue>;
  let dataView: DataView | null = null;
  // only numeric headers need one (Bedrock sends strings alone)
  const view = (): DataView => (dataView ??= new DataView(bytes.buffer, bytes.byteOffset, bytes.length));
  let at = 0;
  const need = (n: number): void => {
    if (at + n > bytes.length) throw new TranslationError('upstream event stream: header runs past the header section');
  };
  while (at < bytes.length) {
    need(1);
    const nameLength = bytes[at++];
    need(nameLength + 1);
    const name = headerText(bytes, at, nameLength);
    at += nameLength;
    const type = bytes[at++];
    let value: HeaderValue;
    switch (type) {
      case 0:
        value = true;
        break;
      case 1:
        value = false;
        break;
      case 2:
        need(1);
        value = view().getInt8(at);
        at += 1;
        break;
      case 3:
        need(2);
        value = view().getInt16(at);
        at += 2;
        break;
      case 4:
        need(4);
        value = view().getInt32(at);
        at += 4;
        break;
      case 5:
      case 8:
        need(8);
        value = view().getBigInt64(at);
        at += 8;
        break;
      case 6:
      case 7: {
        need(2);
        const length = (bytes[at] << 8) | bytes[at + 1];
        at += 2;
        need(length);
        value = type === 7 ? headerText(bytes, at, length) : bytes.slice(at, at + length);
        at += length;
        break;
      }
      case 9:
        need(16);
        value = bytes.slice(at, at + 16);
        at += 16;
        break;
      default:
        throw new TranslationError(`upstream event stream: unknown header type ${type}`);
    }
    headers[name] = value;
  }
  return headers;
}

/**
 * Header names and short string values decoded lately, with their bytes: a stream repeats a
 * handful (`:event-type`, `contentBlockDelta`, `:content-type`, `application/json` ...), so each
 * is decoded once and afterwards matched by its bytes, where a TextDecoder call per header was
 * the larger part of a message's framing. Bounded: INTERN_MAX strings of up to INTERN_BYTES
 * bytes, the oldest dropped first.
 */
const interned: { bytes: Uint8Array; text: string }[] = [];
const INTERN_MAX = 32;
const INTERN_BYTES = 64;

function headerText(bytes: Uint8Array, at: number, length: number): string {
  if (length > INTERN_BYTES) return text(bytes.subarray(at, at + length));
  next: for (let i = 0; i < interned.length; i++) {
    const known = interned[i].bytes;
    if (known.length !== length) continue;
    for (let j = 0; j < length; j++) if (known[j] !== bytes[at + j]) continue next;
    return interned[i].text;
  }
  const own = bytes.slice(at, at + length);
  const decoded = text(own);
  if (interned.length >= INTERN_MAX) interned.shift();
  interned.push({ bytes: own, text: decoded });
  return decoded;
}

function text(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new TranslationError('upstream event stream: text that is not valid UTF-8');
  }
}

/** The FrameDecoder for `aws-eventstream` framing: messages as StreamEvents (see the header comment). */
export class AwsEventStreamDecoder implements FrameDecoder {
  readonly #messages: EventStreamMessageDecoder;

  constructor(maxMessageSize: number) {
    this.#messages = new EventStreamMessageDecoder(maxMessageSize);
  }

  push(chunk: Uint8Array): StreamEvent[] {
    return this.#messages.push(chunk).map(toEvent);
  }

  end(): StreamEvent[] {
    return this.#messages.end().map(toEvent);
  }
}

function stringHeader(message: EventStreamMessage, name: string): string | undefined {
  const value = message.headers[name];
  return typeof value === 'string' ? value : undefined;
}

export function toEvent(message: EventStreamMessage): StreamEvent {
  const kind = stringHeader(message, ':message-type') ?? 'event';
  const payload = text(message.payload);
  if (kind === 'exception') return { event: `exception:${stringHeader(message, ':exception-type') ?? 'unknown'}`, data: payload || '{}' };
  if (kind === 'error') {
    return { event: `error:${stringHeader(message, ':error-code') ?? 'unknown'}`, data: JSON.stringify({ message: stringHeader(message, ':error-message') ?? payload }) };
  }
  return { event: stringHeader(message, ':event-type'), data: payload };
}

// ---------------------------------------------------------------------------------------------
// Encoding (for mocks and tests: the decoder's exact inverse for string headers)

/** One event-stream message with string headers. */
export function encodeEventStreamMessage(headers: Record<string, string>, payload: Uint8Array | string): Uint8Array {
  const body = typeof payload === 'string' ? new TextEncoder().encode(payload) : payload;
  const encoder = new TextEncoder();
  const parts: Uint8Array[] = [];
  for (const [name, value] of Object.entries(headers)) {
    const n = encoder.encode(name);
    const v = encoder.encode(value);
    const header = new Uint8Array(1 + n.length + 1 + 2 + v.length);
    header[0] = n.length;
    header.set(n, 1);
    header[1 + n.length] = 7;
    new DataView(header.buffer).setUint16(2 + n.length, v.length);
    header.set(v, 4 + n.length);
    parts.push(header);
  }
  const headersLength = parts.reduce((sum, p) => sum + p.length, 0);
  const total = PRELUDE + headersLength + body.length + 4;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, total);
  view.setUint32(4, headersLength);
  view.setUint32(8, crc32(out.subarray(0, 8)));
  let at = PRELUDE;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  out.set(body, at);
  view.setUint32(total - 4, crc32(out.subarray(0, total - 4)));
  return out;
}
