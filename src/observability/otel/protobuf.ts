/**
 * A small protobuf writer for the OTLP encoders (otlp.ts, otlp-metrics.ts): just what proto3
 * messages need, written by hand so that encoding a span costs no SDK objects (docs/decisions.md,
 * "OpenTelemetry (issue 21)"). Wire format: https://protobuf.dev/programming-guides/encoding/.
 *
 * Nested messages are length-delimited and their length comes first, so `fork()` reserves one
 * byte for it, the caller writes the message's fields, and `join()` writes the length there; only a
 * body of 128 bytes or more (a longer varint) is moved right to make room. Most nested messages
 * of a span (attributes: KeyValue, AnyValue; status; events) are shorter, so they cost no copy;
 * a span, longer, is opened with `forkWide()`, which reserves two bytes. One Writer is reused
 * across batches: `reset()` keeps the grown buffer. Copies and strings go through one call (`Uint8Array#set`, Buffer's
 * `utf8Write`) except the shortest, written by a loop: a call costs ~15–30 ns whatever the length,
 * a loop ~1–2 ns a byte, so the loop wins below ~8 bytes (copies) and ~12 characters (strings)
 * (docs/performance.md, "OpenTelemetry").
 */

/** Wire types (encoding guide, "Message Structure"). */
export const WIRE = { varint: 0, i64: 1, len: 2, i32: 5 } as const;

const TWO_32 = 4294967296;

/** Node's own UTF-8 writer of a Buffer (what `buf.write(s, at, n, 'utf8')` ends in, without the argument checks; protobufjs uses it too). */
interface Utf8Writable {
  utf8Write(value: string, offset: number, length: number): number;
}

/** Copies up to this many bytes, and strings up to this many characters, are written by a loop (see above). */
const COPY_LOOP_MAX = 8;
/** copyWritten's loop goes further: its call would also make a view (`subarray`); 16 covers a trace id. */
const COPY_OUT_LOOP_MAX = 16;
const STRING_LOOP_MAX = 12;

export class ProtoWriter {
  private buf: Uint8Array;
  private view: DataView;
  /** The same memory as a Buffer, for its UTF-8 writer. */
  private text: Utf8Writable;
  pos = 0;
  /** Start positions of open nested messages (where their bodies begin, after the length's reserved byte), `depth` of them. */
  private stack = new Int32Array(16);
  /** Bytes reserved for each open message's length (1, or 2 for `forkWide`). */
  private reserved = new Uint8Array(16);
  private depth = 0;

  constructor(initialSize = 4096) {
    this.buf = new Uint8Array(initialSize);
    this.view = new DataView(this.buf.buffer);
    this.text = Buffer.from(this.buf.buffer) as unknown as Utf8Writable;
  }

  /** Empties the writer for the next message; the buffer (already grown to fit) is kept. */
  reset(): this {
    this.pos = 0;
    this.depth = 0;
    return this;
  }

  /** What was written, without a copy: valid until the writer is reset or written again. */
  written(): Uint8Array {
    if (this.depth !== 0) throw new Error('protobuf: unclosed nested message');
    return this.buf.subarray(0, this.pos);
  }

  /** A copy of what was written (the internal buffer is reused by the next message). */
  finish(): Uint8Array {
    if (this.depth !== 0) throw new Error('protobuf: unclosed nested message');
    return this.buf.slice(0, this.pos);
  }

  private ensure(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
    this.text = Buffer.from(next.buffer) as unknown as Utf8Writable;
  }

  /** A varint of a non-negative integer up to 2^53 (JS numbers; larger uint64s go through fixed64). */
  uvarint(value: number): this {
    if (value < 0x80) {
      // one byte: lengths of most nested messages, small counts
      this.ensure(1);
      this.buf[this.pos++] = value;
      return this;
    }
    this.ensure(10);
    let v = value;
    // Above 2^31 bit operators would truncate: divide instead.
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
    return this;
  }

  /** int64/int32 varint of a signed integer: negatives are 10-byte two's complement (proto3's int64). */
  int64(value: number): this {
    if (value >= 0) return this.uvarint(value);
    // Two's complement of a negative safe integer, as low and high 32-bit halves.
    const abs = -value;
    let lo = abs % TWO_32;
    let hi = Math.floor(abs / TWO_32);
    lo = (~lo + 1) >>> 0;
    hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
    return this.varint64(lo, hi);
  }

  /** A varint of a 64-bit value given as unsigned 32-bit halves. */
  varint64(lo: number, hi: number): this {
    this.ensure(10);
    while (hi !== 0 || lo >= 0x80) {
      this.buf[this.pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    this.buf[this.pos++] = lo;
    return this;
  }

  /** A field's key: (field number << 3) | wire type; one byte for every field number below 16 (all of OTLP's but a few), written here rather than through uvarint (a call per field). */
  tag(field: number, wire: number): this {
    const key = field * 8 + wire;
    if (key >= 0x80) return this.uvarint(key);
    if (this.pos === this.buf.length) this.ensure(1);
    this.buf[this.pos++] = key;
    return this;
  }

  /** fixed64 from unsigned 32-bit halves, little-endian. */
  fixed64(lo: number, hi: number): this {
    this.ensure(8);
    this.view.setUint32(this.pos, lo >>> 0, true);
    this.view.setUint32(this.pos + 4, hi >>> 0, true);
    this.pos += 8;
    return this;
  }

  /** fixed32, little-endian. */
  fixed32(value: number): this {
    this.ensure(4);
    this.view.setUint32(this.pos, value >>> 0, true);
    this.pos += 4;
    return this;
  }

  /** A double (IEEE 754, little-endian, wire type i64). */
  double(value: number): this {
    this.ensure(8);
    this.view.setFloat64(this.pos, value, true);
    this.pos += 8;
    return this;
  }

  /** Raw bytes (no length): pre-encoded fields (attribute keys, a resource). */
  raw(bytes: Uint8Array): this {
    const n = bytes.length;
    this.ensure(n);
    if (n > COPY_LOOP_MAX) this.buf.set(bytes, this.pos);
    else for (let i = 0, p = this.pos; i < n; i++) this.buf[p + i] = bytes[i];
    this.pos += n;
    return this;
  }

  /**
   * Copies `n` bytes written from position `from` into `into` at `at` (to write them again later
   * with `raw`): up to an id's length by a loop (no view made), longer ones (an attribute's field)
   * in one call.
   */
  copyWritten(from: number, n: number, into: Uint8Array, at: number): void {
    const buf = this.buf;
    if (n > COPY_OUT_LOOP_MAX) into.set(buf.subarray(from, from + n), at);
    else for (let i = 0; i < n; i++) into[at + i] = buf[from + i];
  }

  /** A length-prefixed UTF-8 string (no tag). */
  string(value: string): this {
    const n = value.length;
    if (n <= STRING_LOOP_MAX) {
      // a short ASCII string: one length byte and a copy loop
      this.ensure(n + 1);
      const buf = this.buf;
      const at = this.pos + 1;
      let i = 0;
      for (; i < n; i++) {
        const c = value.charCodeAt(i);
        if (c >= 0x80) break;
        buf[at + i] = c;
      }
      if (i === n) {
        buf[this.pos] = n;
        this.pos = at + n;
        return this;
      }
    }
    // UTF-8 is 1 to 3 bytes per UTF-16 unit; write in place, then the length before it. The length
    // is reserved for the fewest bytes (n: an ASCII string's), so a string that is ASCII never
    // moves; one whose UTF-8 length needs a longer varint moves right by a byte or two.
    const max = n * 3;
    const lenSize = varintSize(n);
    this.ensure(10 + max); // room for the move and for uvarint()'s own ensure(10) below: a growth there would lose the bytes written past pos
    const start = this.pos + lenSize;
    const written = this.text.utf8Write(value, start, max);
    const actual = varintSize(written);
    if (actual !== lenSize) this.buf.copyWithin(this.pos + actual, start, start + written);
    this.uvarint(written);
    this.pos += written;
    return this;
  }

  /** Length-prefixed bytes (no tag). */
  bytes(value: Uint8Array): this {
    this.uvarint(value.length);
    return this.raw(value);
  }

  /** Length-prefixed bytes from a hex string (trace and span ids), without an intermediate array. */
  hexBytes(hex: string): this {
    const n = hex.length >>> 1;
    this.uvarint(n);
    this.ensure(n);
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) buf[p++] = HEX_PAIR[((hex.charCodeAt(2 * i) & 0x7f) << 7) | (hex.charCodeAt(2 * i + 1) & 0x7f)];
    this.pos = p;
    return this;
  }

  // Fields (tag + value). Proto3 omits defaults on the wire; the callers decide what to skip.

  stringField(field: number, value: string): this {
    return this.tag(field, WIRE.len).string(value);
  }

  bytesField(field: number, value: Uint8Array): this {
    return this.tag(field, WIRE.len).bytes(value);
  }

  hexField(field: number, hex: string): this {
    return this.tag(field, WIRE.len).hexBytes(hex);
  }

  uint32Field(field: number, value: number): this {
    return this.tag(field, WIRE.varint).uvarint(value);
  }

  /** int64 / int32 / enum (negative enums are 10-byte varints, as int32's are). */
  int64Field(field: number, value: number): this {
    return this.tag(field, WIRE.varint).int64(value);
  }

  boolField(field: number, value: boolean): this {
    return this.tag(field, WIRE.varint).uvarint(value ? 1 : 0);
  }

  doubleField(field: number, value: number): this {
    return this.tag(field, WIRE.i64).double(value);
  }

  fixed64Field(field: number, lo: number, hi: number): this {
    return this.tag(field, WIRE.i64).fixed64(lo, hi);
  }

  fixed32Field(field: number, value: number): this {
    return this.tag(field, WIRE.i32).fixed32(value);
  }

  /** Packed repeated doubles (proto3's default for repeated scalars). */
  packedDoubles(field: number, values: ArrayLike<number>): this {
    this.tag(field, WIRE.len).uvarint(values.length * 8);
    for (let i = 0; i < values.length; i++) this.double(values[i]);
    return this;
  }

  /** Packed repeated fixed64 from non-negative safe integers (histogram bucket counts). */
  packedFixed64(field: number, values: ArrayLike<number>): this {
    this.tag(field, WIRE.len).uvarint(values.length * 8);
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      this.fixed64(v % TWO_32, Math.floor(v / TWO_32));
    }
    return this;
  }

  /** Packed repeated varints (uint64/int64 from safe integers). */
  packedVarints(field: number, values: ArrayLike<number>): this {
    this.fork(field);
    for (let i = 0; i < values.length; i++) this.int64(values[i]);
    return this.join();
  }

  /** fixed64 nanoseconds of fractional epoch ms (nanosHalves), left out when 0 as proto3 does. */
  timeField(field: number, ms: number): this {
    nanosInto(ms, HALVES);
    if (HALVES[0] !== 0 || HALVES[1] !== 0) this.fixed64Field(field, HALVES[0], HALVES[1]);
    return this;
  }

  /**
   * Opens a nested message (or any length-delimited field whose size is not known in advance):
   * writes the tag and reserves one byte for the length. Close it with `join()`.
   */
  fork(field: number): this {
    return this.#open(field, 1);
  }

  /**
   * `fork()` for a message that is usually 128 to 16,383 bytes long (a span): two bytes reserved
   * for its length, so that such a body is not moved when it is closed; a shorter one moves left.
   */
  forkWide(field: number): this {
    return this.#open(field, 2);
  }

  #open(field: number, reserve: number): this {
    this.tag(field, WIRE.len);
    this.ensure(reserve);
    this.pos += reserve;
    if (this.depth === this.stack.length) {
      const deeper = new Int32Array(this.depth * 2);
      deeper.set(this.stack);
      this.stack = deeper;
      const reserved = new Uint8Array(this.depth * 2);
      reserved.set(this.reserved);
      this.reserved = reserved;
    }
    this.reserved[this.depth] = reserve;
    this.stack[this.depth++] = this.pos;
    return this;
  }

  /** Closes the innermost `fork()`: writes its length, moving the body when the length needs other than the reserved bytes. */
  join(): this {
    if (this.depth === 0) throw new Error('protobuf: join() without fork()');
    const start = this.stack[--this.depth];
    const reserved = this.reserved[this.depth];
    const len = this.pos - start;
    if (len < 0x80 && reserved === 1) {
      this.buf[start - 1] = len;
      return this;
    }
    if (reserved === 2 && len >= 0x80 && len < 0x4000) {
      this.buf[start - 2] = (len & 0x7f) | 0x80;
      this.buf[start - 1] = len >>> 7;
      return this;
    }
    const shift = varintSize(len) - reserved; // bytes the body moves right (left when negative)
    if (shift > 0) this.ensure(shift);
    this.buf.copyWithin(start + shift, start, this.pos);
    let p = start - reserved;
    let v = len;
    while (v >= 0x80) {
      this.buf[p++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[p] = v;
    this.pos += shift;
    return this;
  }
}

/** A hex digit's value by char code (either case); anything else counts as 0, as ids are checked where they are made. */
const HEX = new Uint8Array(128);
for (let i = 0; i < 10; i++) HEX[48 + i] = i;
for (let i = 0; i < 6; i++) HEX[97 + i] = HEX[65 + i] = 10 + i;
/** A byte's value by its two hex digits' char codes (high << 7 | low): one load a byte instead of two and a shift (16 KB). */
const HEX_PAIR = new Uint8Array(128 * 128);
for (let hi = 0; hi < 128; hi++) for (let lo = 0; lo < 128; lo++) HEX_PAIR[(hi << 7) | lo] = (HEX[hi] << 4) | HEX[lo];

/** Bytes a varint of a non-negative safe integer takes. */
export function varintSize(value: number): number {
  let n = 1;
  let v = value;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/**
 * Unix nanoseconds from fractional epoch milliseconds, as fixed64 halves, without BigInt and
 * without losing the fraction: ms is split into whole ms and the sub-ms part (rounded to ns), and
 * whole ms × 1e6 is done in 32-bit halves (a double holds ms × 1e6 ≈ 1.8e18 only to ~256 ns).
 */
export function nanosHalves(ms: number): [lo: number, hi: number] {
  const out: [number, number] = [0, 0];
  nanosInto(ms, out);
  return out;
}

/** Scratch halves for timeField (encoding is synchronous: never shared between calls in flight). */
const HALVES: [number, number] = [0, 0];

/** nanosHalves into `out`, without an allocation per time written. */
function nanosInto(ms: number, out: [number, number]): void {
  if (!(ms > 0)) {
    out[0] = out[1] = 0;
    return;
  }
  let whole = Math.floor(ms);
  let sub = Math.round((ms - whole) * 1e6);
  if (sub >= 1e6) {
    whole += 1;
    sub -= 1e6;
  }
  // whole × 1e6 + sub with whole < 2^53: split whole into 2^32 halves and carry.
  const wHi = Math.floor(whole / TWO_32);
  const wLo = whole % TWO_32;
  // wLo × 1e6 < 2^52: exact in a double.
  const loProduct = wLo * 1e6 + sub;
  out[0] = loProduct % TWO_32;
  out[1] = (wHi * 1e6 + Math.floor(loProduct / TWO_32)) % TWO_32;
}

/**
 * The same nanoseconds as a decimal string (OTLP/JSON writes uint64 as strings): whole ms × 1e6 +
 * sub-ms ns is the whole ms' digits followed by the sub-ms part on six digits, so no BigInt.
 */
export function nanosString(ms: number): string {
  if (!(ms > 0)) return '0';
  let whole = Math.floor(ms);
  let sub = Math.round((ms - whole) * 1e6);
  if (sub >= 1e6) {
    whole += 1;
    sub -= 1e6;
  }
  if (whole === 0) return String(sub);
  return String(whole) + String(sub).padStart(6, '0');
}
