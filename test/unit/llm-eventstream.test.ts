/**
 * AWS event-stream framing (Bedrock): split-invariant, bounded, checksummed; every header type
 * decoded; exceptions and errors as events the Bedrock translator reports.
 * Kong's `unit/streaming-chunk-formats/aws` fixture is checked at every byte in test/conformance.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { EventStreamMessageDecoder, encodeEventStreamMessage, toEvent } from '../../src/llm/stream/aws-eventstream.ts';
import { createFrameDecoder } from '../../src/llm/stream/index.ts';
import { decodeAll } from '../conformance/support.ts';
import { TranslationError, type StreamEvent } from '../../src/llm/types.ts';

const concat = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

const decode = (bytes: Uint8Array, cuts: number[] = [], max = 1 << 20): StreamEvent[] => decodeAll('aws-eventstream', bytes, cuts, { maxEventSize: max });

const event = (type: string, payload: string) => encodeEventStreamMessage({ ':event-type': type, ':content-type': 'application/json', ':message-type': 'event' }, payload);

/** A message with one header of every type, built by hand from the format's description. */
function everyHeaderType(): Uint8Array {
  const header = (name: string, type: number, value: Uint8Array) => concat(Uint8Array.of(name.length), new TextEncoder().encode(name), Uint8Array.of(type), value);
  const be = (bytes: number, write: (v: DataView) => void) => {
    const b = new Uint8Array(bytes);
    write(new DataView(b.buffer));
    return b;
  };
  const withLength = (data: Uint8Array) => concat(be(2, (v) => v.setUint16(0, data.length)), data);
  const headers = concat(
    header('t', 0, new Uint8Array()),
    header('f', 1, new Uint8Array()),
    header('b', 2, Uint8Array.of(0xff)),
    header('s', 3, be(2, (v) => v.setInt16(0, -2))),
    header('i', 4, be(4, (v) => v.setInt32(0, 70000))),
    header('l', 5, be(8, (v) => v.setBigInt64(0, 1n << 40n))),
    header('y', 6, withLength(Uint8Array.of(1, 2, 3))),
    header(':event-type', 7, withLength(new TextEncoder().encode('messageStart'))),
    header('ts', 8, be(8, (v) => v.setBigInt64(0, 1700000000000n))),
    header('u', 9, new Uint8Array(16).fill(7)),
  );
  const payload = new TextEncoder().encode('{"role":"assistant"}');
  const total = 12 + headers.length + payload.length + 4;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, total);
  view.setUint32(4, headers.length);
  view.setUint32(8, crc32(out.subarray(0, 8)));
  out.set(headers, 12);
  out.set(payload, 12 + headers.length);
  view.setUint32(total - 4, crc32(out.subarray(0, total - 4)));
  return out;
}

describe('AWS event-stream decoding', () => {
  it('decodes every header type', () => {
    const [message] = new EventStreamMessageDecoder(1 << 20).push(everyHeaderType());
    assert.deepEqual({ ...message.headers }, {
      t: true,
      f: false,
      b: -1,
      s: -2,
      i: 70000,
      l: 1n << 40n,
      y: Uint8Array.of(1, 2, 3),
      ':event-type': 'messageStart',
      ts: 1700000000000n,
      u: new Uint8Array(16).fill(7),
    });
    assert.deepEqual(toEvent(message), { event: 'messageStart', data: '{"role":"assistant"}' });
  });

  it('gives the same events however the bytes are cut (T49)', () => {
    const bytes = concat(event('messageStart', '{"role":"assistant"}'), event('contentBlockDelta', '{"delta":{"text":"Grüße 🎉"}}'), event('messageStop', '{"stopReason":"end_turn"}'), encodeEventStreamMessage({ ':event-type': 'empty' }, ''));
    const whole = decode(bytes);
    assert.equal(whole.length, 4);
    assert.equal(whole[1].data, '{"delta":{"text":"Grüße 🎉"}}');
    for (let cut = 0; cut <= bytes.length; cut++) assert.deepEqual(decode(bytes, [cut]), whole, `cut at ${cut}`);
    assert.deepEqual(decode(bytes, Array.from({ length: bytes.length }, (_, i) => i)), whole, 'one byte at a time');
  });

  it('round-trips any headers and payload, split anywhere (property)', () => {
    const name = fc.string({ minLength: 1, maxLength: 20 }).filter((s) => Buffer.byteLength(s) < 256);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.dictionary(name, fc.string({ maxLength: 40 }), { maxKeys: 4 }), fc.string({ maxLength: 200 })), { minLength: 1, maxLength: 5 }), fc.array(fc.nat(), { maxLength: 6 }), (messages, rawCuts) => {
        const bytes = concat(...messages.map(([headers, payload]) => encodeEventStreamMessage(headers, payload)));
        const cuts = [...new Set(rawCuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const decoder = new EventStreamMessageDecoder(1 << 20);
        const decoded = [];
        let start = 0;
        for (const cut of [...cuts, bytes.length]) {
          decoded.push(...decoder.push(bytes.subarray(start, cut)));
          start = cut;
        }
        assert.equal(decoded.length, messages.length);
        decoded.forEach((m, i) => {
          assert.deepEqual({ ...m.headers }, { ...messages[i][0] });
          assert.equal(new TextDecoder().decode(m.payload), messages[i][1]);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('decodes header names and values alike whether seen before or not: near-misses, any Unicode, values past the remembered size (property)', () => {
    // a tiny alphabet makes many same-length strings that differ in one byte; full Unicode makes multi-byte ones; 70-character values are past what is remembered
    const near = fc.string({ unit: fc.constantFrom('a', 'b', 'é'), minLength: 1, maxLength: 6 });
    const value = fc.oneof(near, fc.string({ unit: 'grapheme', maxLength: 12 }), fc.string({ minLength: 65, maxLength: 70 }));
    fc.assert(
      fc.property(fc.array(fc.dictionary(near, value, { minKeys: 1, maxKeys: 4 }), { minLength: 1, maxLength: 12 }), (headerSets) => {
        const decoder = createFrameDecoder('aws-eventstream', { maxEventSize: 1 << 20 });
        const bytes = concat(...headerSets.map((h) => encodeEventStreamMessage({ ...h, ':event-type': Object.values(h)[0] }, '{}')));
        const raw = new EventStreamMessageDecoder(1 << 20).push(bytes);
        assert.deepEqual(raw.map((m) => ({ ...m.headers })), headerSets.map((h) => ({ ...h, ':event-type': Object.values(h)[0] })));
        assert.deepEqual(decoder.push(bytes).map((e) => e.event), headerSets.map((h) => Object.values(h)[0]));
      }),
      { numRuns: 300 },
    );
  });

  it('turns exceptions and errors into events the translator reports', () => {
    const exception = encodeEventStreamMessage({ ':exception-type': 'modelStreamErrorException', ':message-type': 'exception', ':content-type': 'application/json' }, '{"message":"boom"}');
    const bare = encodeEventStreamMessage({ ':exception-type': 'internalServerException', ':message-type': 'exception' }, '');
    const error = encodeEventStreamMessage({ ':message-type': 'error', ':error-code': 'InternalFailure', ':error-message': 'oops' }, '');
    assert.deepEqual(decode(concat(exception, bare, error)), [
      { event: 'exception:modelStreamErrorException', data: '{"message":"boom"}' },
      { event: 'exception:internalServerException', data: '{}' },
      { event: 'error:InternalFailure', data: '{"message":"oops"}' },
    ]);
  });

  it('refuses corrupt, oversized and cut-off input with a TranslationError', () => {
    const good = event('messageStart', '{"role":"assistant"}');
    const flip = (at: number) => {
      const copy = good.slice();
      copy[at] ^= 0x01;
      return copy;
    };
    const refused = (bytes: Uint8Array, message: RegExp, max?: number) => assert.throws(() => decode(bytes, [], max), (e: unknown) => e instanceof TranslationError && message.test(e.message));
    refused(flip(1), /prelude checksum mismatch/);
    refused(flip(9), /prelude checksum mismatch/);
    refused(flip(20), /message checksum mismatch/);
    refused(flip(good.length - 2), /message checksum mismatch/);
    refused(good.subarray(0, good.length - 1), /ended inside a message/);
    refused(good, /larger than 50 bytes/, 50);
    // A header section that claims more than its message holds.
    const lying = good.slice();
    const view = new DataView(lying.buffer);
    view.setUint32(4, good.length);
    view.setUint32(8, crc32(lying.subarray(0, 8)));
    refused(lying, /invalid message length/);
    // A header of an unknown type, checksums right.
    const unknownType = encodeEventStreamMessage({ x: 'y' }, '{}');
    unknownType[12 + 1 + 1] = 42;
    new DataView(unknownType.buffer).setUint32(unknownType.length - 4, crc32(unknownType.subarray(0, unknownType.length - 4)));
    refused(unknownType, /unknown header type 42/);
    // A payload that is not UTF-8.
    refused(encodeEventStreamMessage({ ':event-type': 'x' }, Uint8Array.of(0xc3, 0x28)), /not valid UTF-8/);
  });

  it('never throws anything but TranslationError on random bytes', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), (chunks) => {
        const decoder = createFrameDecoder('aws-eventstream', { maxEventSize: 256 });
        try {
          for (const chunk of chunks) decoder.push(chunk);
          decoder.end();
        } catch (e) {
          if (!(e instanceof TranslationError)) throw e;
        }
      }),
      { numRuns: 3000 },
    );
  });
});
