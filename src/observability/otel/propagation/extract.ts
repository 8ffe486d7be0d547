/**
 * Reading a caller's trace context from request headers, one reader per format, after Kong's
 * extractors (kong/observability/tracing/propagation/extractors/*.lua) and the formats' own
 * references: W3C Trace Context (https://www.w3.org/TR/trace-context/), B3
 * (https://github.com/openzipkin/b3-propagation), Jaeger's `uber-trace-id`, OpenTracing's `ot-*`,
 * Datadog's `x-datadog-*`, AWS X-Ray's `X-Amzn-Trace-Id`, Google Cloud's `X-Cloud-Trace-Context`,
 * Instana's `X-INSTANA-T/S/L`.
 *
 * Pure and never throwing: a malformed header is a header that is not there. Ids come back as
 * OpenTelemetry's sizes (trace 32 hex digits, span 16), padded or cut as Kong's `to_id_size` does,
 * with the caller's trace id size kept in `traceIdBytes` for the injectors that allow several.
 *
 * Where this differs from Kong, on purpose:
 * - A format counts as found only when it yields a trace id. Kong stops at the first extractor that
 *   returns anything, and its b3 extractor returns a (useless) table whenever a `tracestate` header is
 *   present, so a W3C caller that sends `tracestate` is not continued under `header_type: preserve`
 *   (b3 comes first in that order). A sampling decision alone (b3's `0`) has no trace to continue,
 *   and the contract's TraceContext has no place for it: the gateway's own sampler decides.
 * - An all-zero id is an invalid id, handled by the format's own rule for an invalid one (Kong
 *   checks zeros only for W3C and Jaeger).
 * - Instana's and Datadog's ids must be whole hex / decimal values (Kong takes a hex prefix).
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { PropagationFormat, TraceContext } from '../types.ts';
import { decToHex, hexBytes, isDec, isHex, isZero, toIdSize } from './hex.ts';

/** A header's value as one string (Node joins repeated headers with ", "; a hand-built array is joined the same way). */
function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return v.join(', ');
  return undefined;
}

/**
 * The context from raw hex ids, or null when the trace id is unusable. `span` null: the format
 * carried no (valid) span id, so the trace continues with no parent (`spanId` '').
 */
function context(format: PropagationFormat, trace: string, span: string | null, sampled: boolean | null): TraceContext | null {
  const traceId = toIdSize(trace, 16);
  if (isZero(traceId)) return null;
  let spanId = '';
  if (span !== null) {
    spanId = toIdSize(span, 8);
    if (isZero(spanId)) return null;
  }
  return { traceId, spanId, sampled, format, traceIdBytes: hexBytes(trace) };
}

/** Each `<prefix><key>` header as a baggage item, its value URL-decoded (Kong's parse_baggage_headers). */
function baggage(headers: IncomingHttpHeaders, prefix: string): Record<string, string> | undefined {
  let out: Record<string, string> | undefined;
  for (const name in headers) {
    if (name.length <= prefix.length || !name.startsWith(prefix)) continue;
    const raw = header(headers, name);
    if (raw === undefined) continue;
    let value = raw;
    try {
      value = decodeURIComponent(raw);
    } catch {
      // not percent-encoded as it should be: passed on as sent
    }
    (out ??= {})[name.slice(prefix.length)] = value;
  }
  return out;
}

/** W3C: at most this much `tracestate` is passed on (the spec's "at least 512 characters"), whole members kept from the left. */
const TRACESTATE_MAX = 512;

function traceState(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const s = raw.trim();
  if (s.length === 0) return undefined;
  if (s.length <= TRACESTATE_MAX) return s;
  let out = '';
  for (const member of s.split(',')) {
    const m = member.trim();
    if (m.length === 0) continue;
    const next = out.length === 0 ? m : `${out},${m}`;
    if (next.length > TRACESTATE_MAX) break;
    out = next;
  }
  return out.length > 0 ? out : undefined;
}

/** `traceparent: 00-<trace 32>-<parent 16>-<flags 2>`: version 00 only, exactly four fields (Kong's w3c extractor). */
function w3c(headers: IncomingHttpHeaders): TraceContext | null {
  const tp = header(headers, 'traceparent');
  if (tp === undefined) return null;
  const parts = tp.split('-');
  if (parts.length !== 4) return null;
  const [version, trace, parent, flags] = parts as [string, string, string, string];
  if (version !== '00' || trace.length !== 32 || parent.length !== 16 || flags.length !== 2) return null;
  if (!isHex(trace) || !isHex(parent) || !isHex(flags)) return null;
  const ctx = context('w3c', trace, parent, (Number.parseInt(flags, 16) & 1) === 1);
  if (ctx === null) return null;
  const state = traceState(header(headers, 'tracestate'));
  if (state !== undefined) ctx.traceState = state;
  return ctx;
}

interface B3Part {
  trace?: string;
  span?: string;
  parent?: string;
  sampled: boolean | null;
  debug: boolean;
}

const B3_SAMPLED: Record<string, boolean> = { '1': true, true: true, '0': false, false: false };

/** `b3: <trace>-<span>[-<sampled>[-<parent>]]`, or a lone `0`/`1`/`d`; null when malformed (its ids and flag unused). */
function b3Single(v: string): B3Part | null {
  if (v === '1') return { sampled: true, debug: false };
  if (v === 'd') return { sampled: true, debug: true };
  if (v === '0') return { sampled: false, debug: false };
  const parts = v.split('-');
  if (parts.length < 2 || parts.length > 4) return null;
  const [trace, span, flag, parent] = parts as [string, string, string | undefined, string | undefined];
  if ((trace.length !== 16 && trace.length !== 32) || !isHex(trace) || span.length !== 16 || !isHex(span)) return null;
  if (flag !== undefined && flag !== '0' && flag !== '1' && flag !== 'd') return null;
  if (parent !== undefined && (parent.length !== 16 || !isHex(parent))) return null;
  return { trace, span, parent, sampled: flag === undefined ? null : flag !== '0', debug: flag === 'd' };
}

/** The `x-b3-*` headers; one malformed id voids all three ids (Kong's read_multi_header). */
function b3Multi(headers: IncomingHttpHeaders): B3Part {
  const s = header(headers, 'x-b3-sampled');
  let sampled = s === undefined ? null : (B3_SAMPLED[s] ?? null);
  const debug = header(headers, 'x-b3-flags') === '1';
  if (debug) sampled = true;
  const trace = header(headers, 'x-b3-traceid');
  const span = header(headers, 'x-b3-spanid');
  const parent = header(headers, 'x-b3-parentspanid');
  const bad =
    (trace !== undefined && ((trace.length !== 16 && trace.length !== 32) || !isHex(trace))) ||
    (span !== undefined && (span.length !== 16 || !isHex(span))) ||
    (parent !== undefined && (parent.length !== 16 || !isHex(parent)));
  return bad ? { sampled, debug } : { trace, span, parent, sampled, debug };
}

/** b3, single header first (`b3`, else a `b3=` member of `tracestate`), the multi headers filling what it lacks. */
function b3(headers: IncomingHttpHeaders): TraceContext | null {
  let raw = header(headers, 'b3');
  if (raw === undefined) {
    const ts = header(headers, 'tracestate');
    if (ts !== undefined) {
      for (const member of ts.split(',')) {
        const m = member.trim();
        if (m.startsWith('b3=') && m.length > 3) {
          raw = m.slice(3);
          break;
        }
      }
    }
  }
  const single = raw === undefined ? null : b3Single(raw);
  const multi = b3Multi(headers);
  const trace = single?.trace ?? multi.trace;
  if (trace === undefined) return null;
  const span = single?.span ?? multi.span ?? single?.parent ?? multi.parent ?? null;
  const ctx = context(single?.trace !== undefined ? 'b3-single' : 'b3', trace, span, single?.sampled ?? multi.sampled);
  if (ctx !== null && (single?.debug || multi.debug)) ctx.debug = true;
  return ctx;
}

/** `uber-trace-id: <trace ≤32>:<span ≤16>:<parent>:<flags 1-2>`, hex; baggage from `uberctx-*`. */
function jaeger(headers: IncomingHttpHeaders): TraceContext | null {
  const v = header(headers, 'uber-trace-id');
  if (v === undefined) return null;
  const parts = v.split(':');
  if (parts.length !== 4 || !parts.every(isHex)) return null;
  const [trace, span, , flags] = parts as [string, string, string, string];
  // the parent field is not checked further: Kong only warns about it (it is the caller's parent, unused here)
  if (trace.length > 32 || span.length > 16 || (flags.length !== 1 && flags.length !== 2)) return null;
  const ctx = context('jaeger', trace, span, (Number.parseInt(flags, 16) & 1) === 1);
  if (ctx === null) return null;
  const bag = baggage(headers, 'uberctx-');
  if (bag) ctx.baggage = bag;
  return ctx;
}

/** `ot-tracer-traceid` (16 or 32 hex), `ot-tracer-spanid` (16), `ot-tracer-sampled`; baggage from `ot-baggage-*`. */
function ot(headers: IncomingHttpHeaders): TraceContext | null {
  const trace = header(headers, 'ot-tracer-traceid');
  if (trace === undefined || (trace.length !== 16 && trace.length !== 32) || !isHex(trace)) return null;
  const span = header(headers, 'ot-tracer-spanid');
  if (span !== undefined && (span.length !== 16 || !isHex(span))) return null;
  const s = header(headers, 'ot-tracer-sampled');
  const ctx = context('ot', trace, span ?? null, s === undefined ? null : (B3_SAMPLED[s] ?? null));
  if (ctx === null) return null;
  const bag = baggage(headers, 'ot-baggage-');
  if (bag) ctx.baggage = bag;
  return ctx;
}

/** Datadog's decimal ids beyond this many digits are refused (2^128 has 39): keeps BigInt parsing trivially cheap. */
const DEC_MAX_DIGITS = 40;

function decId(raw: string | undefined): string | null {
  if (raw === undefined) return null;
  const v = raw.trim();
  if (v.length === 0 || v.length > DEC_MAX_DIGITS || !isDec(v)) return null;
  return decToHex(v);
}

/**
 * `x-datadog-trace-id`, `x-datadog-parent-id` (unsigned decimal), `x-datadog-sampling-priority`
 * (1 or 2 keep, 0 or -1 drop; anything else voids the whole context, as in Kong). A malformed
 * parent id is dropped and the trace continued, as in Kong.
 */
function datadog(headers: IncomingHttpHeaders): TraceContext | null {
  const p = header(headers, 'x-datadog-sampling-priority');
  let sampled: boolean | null = null;
  if (p !== undefined) {
    if (p === '1' || p === '2') sampled = true;
    else if (p === '0' || p === '-1') sampled = false;
    else return null;
  }
  const trace = decId(header(headers, 'x-datadog-trace-id'));
  if (trace === null || trace === '') return null;
  let span = decId(header(headers, 'x-datadog-parent-id'));
  if (span !== null && (span === '' || isZero(toIdSize(span, 8)))) span = null;
  return context('datadog', trace, span, sampled);
}

const AWS_ROOT = /^1-([0-9a-fA-F]{8})-([0-9a-fA-F]{24})$/;

/** `X-Amzn-Trace-Id: Root=1-<8 hex>-<24 hex>;Parent=<16 hex>;Sampled=<0|1>`, keys in any order, others ignored. */
function aws(headers: IncomingHttpHeaders): TraceContext | null {
  const v = header(headers, 'x-amzn-trace-id');
  if (v === undefined) return null;
  let trace: string | undefined;
  let parent: string | undefined;
  let sampled: boolean | null = null;
  for (const pair of v.split(';')) {
    const eq = pair.indexOf('=');
    const key = (eq < 0 ? pair : pair.slice(0, eq)).trim();
    const value = eq < 0 ? '' : pair.slice(eq + 1).trim();
    if (key === 'Root') {
      const m = AWS_ROOT.exec(value);
      if (m === null) return null;
      trace = m[1]! + m[2]!;
    } else if (key === 'Parent') {
      if (value.length !== 16 || !isHex(value)) return null;
      parent = value;
    } else if (key === 'Sampled') {
      if (value !== '0' && value !== '1') return null;
      sampled = value === '1';
    }
  }
  if (trace === undefined) return null;
  return context('aws', trace, parent ?? null, sampled);
}

const GCP = /^([0-9a-f]{32})\/([0-9]{1,20})(?:;o=([0-9]))?$/;

/** `X-Cloud-Trace-Context: <trace 32 hex>/<span decimal>[;o=<digit>]`; sampled only with o=1 (Kong's gcp extractor). */
function gcp(headers: IncomingHttpHeaders): TraceContext | null {
  const v = header(headers, 'x-cloud-trace-context');
  if (v === undefined) return null;
  const m = GCP.exec(v);
  if (m === null) return null;
  const span = decToHex(m[2]!);
  if (span === '') return null;
  return context('gcp', m[1]!, span, m[3] === '1');
}

/** `X-INSTANA-T` (16 or 32 hex) and `X-INSTANA-S` (up to 16 hex), both required; `X-INSTANA-L` sampled when it starts with 1. */
function instana(headers: IncomingHttpHeaders): TraceContext | null {
  const trace = header(headers, 'x-instana-t');
  const span = header(headers, 'x-instana-s');
  if (trace === undefined || span === undefined) return null;
  if ((trace.length !== 16 && trace.length !== 32) || !isHex(trace)) return null;
  if (span.length === 0 || span.length > 16 || !isHex(span)) return null;
  // the level may carry correlation data after a comma ("1,correlationType=web;..."): its first character decides
  const level = header(headers, 'x-instana-l');
  return context('instana', trace, span, level !== undefined && level.charAt(0) === '1');
}

const READERS: Record<PropagationFormat, (headers: IncomingHttpHeaders) => TraceContext | null> = {
  w3c,
  b3,
  // Kong has one b3 extractor for both shapes; `b3-single` in a list reads the same way
  'b3-single': b3,
  jaeger,
  ot,
  datadog,
  aws,
  gcp,
  instana,
};

/**
 * The headers without which no reader finds a trace id: each format's trace-id header (and b3's
 * single header, which may also ride in `tracestate`). A request carrying none of them, which is
 * most requests, is known to continue no trace after one pass over its own few headers, instead of
 * a dozen look-ups for absent names across the formats (test/unit/otel-propagation.test.ts holds
 * the two ways equal).
 */
const TRIGGERS = new Set(['traceparent', 'b3', 'tracestate', 'x-b3-traceid', 'uber-trace-id', 'ot-tracer-traceid', 'x-datadog-trace-id', 'x-amzn-trace-id', 'x-cloud-trace-context', 'x-instana-t']);

function anyTrigger(headers: IncomingHttpHeaders): boolean {
  for (const name in headers) if (TRIGGERS.has(name)) return true;
  return false;
}

/** extract without the trigger pre-check (and the property test's reference for it). */
export function extractEveryFormat(headers: IncomingHttpHeaders, formats: readonly PropagationFormat[]): TraceContext | null {
  for (const f of formats) {
    const read = READERS[f];
    if (read === undefined) continue;
    const ctx = read(headers);
    if (ctx !== null) return ctx;
  }
  return null;
}

/**
 * The caller's trace context: the first format, in the given order, whose headers yield a trace
 * id; null when none does (or `formats` is empty: never continue a caller's trace).
 */
export function extract(headers: IncomingHttpHeaders, formats: readonly PropagationFormat[]): TraceContext | null {
  return anyTrigger(headers) ? extractEveryFormat(headers, formats) : null;
}
