/**
 * The trace headers written on an outgoing request, one writer per format, after Kong's injectors
 * (kong/observability/tracing/propagation/injectors/*.lua): the same header names, the same id
 * sizes (`trace_id_allowed_sizes`: the first is the default, another is used when the caller's id
 * had that size), the same value shapes. Pure: the caller sets the headers.
 *
 * The span id written is the gateway's span that makes the call, and the sampled flag is the
 * gateway's decision (Kong's opentelemetry plugin overwrites the extracted context with both
 * before injecting: kong/plugins/opentelemetry/traces.lua, get_inject_ctx).
 */
import type { PropagationFormat, TraceContext } from '../types.ts';
import { hexToDec, toIdSize } from './hex.ts';

/** What is injected: the trace, the calling span, and the gateway's sampling decision. */
export interface InjectContext extends Omit<TraceContext, 'sampled' | 'spanId' | 'format'> {
  /** The gateway's span making the call (16 hex). */
  spanId: string;
  /** That span's parent (b3's `x-b3-parentspanid`, jaeger's third field), when it has one. */
  parentSpanId?: string | null;
  /** The gateway's sampling decision. */
  sampled: boolean;
}

/** A format's trace id size in bytes: the caller's when the format allows it, else the format's default (the first). */
function traceIdOf(ctx: InjectContext, allowed: readonly number[]): string {
  const size = ctx.traceIdBytes !== undefined && allowed.includes(ctx.traceIdBytes) ? ctx.traceIdBytes : allowed[0]!;
  // a trace's id is already 32 lower-case digits (made here or normalised when extracted): the common case needs no copy
  if (size === 16 && ctx.traceId.length === 32) return ctx.traceId;
  return toIdSize(ctx.traceId, size);
}

const SIZE_16 = [16] as const;
const SIZE_16_8 = [16, 8] as const;
const SIZE_8_16 = [8, 16] as const;
const SIZE_8 = [8] as const;

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** ngx.escape_uri as Kong uses it on baggage values: everything but letters, digits and -._~ percent-encoded. */
function escapeUri(v: string): string {
  return encodeURIComponent(v).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function writeBaggage(out: Record<string, string>, prefix: string, bag: Record<string, string> | undefined): void {
  if (bag === undefined) return;
  for (const k in bag) {
    // keys come from header names, but a name that is not a token would make the request throw
    if (TOKEN.test(k)) out[prefix + k] = escapeUri(bag[k]!);
  }
}

type Writer = (ctx: InjectContext, out: Record<string, string>) => void;

const WRITERS: Record<PropagationFormat, Writer> = {
  w3c(ctx, out) {
    out.traceparent = `00-${traceIdOf(ctx, SIZE_16)}-${ctx.spanId}-${ctx.sampled ? '01' : '00'}`;
    // W3C: a participant passes the caller's tracestate on (Kong's injector writes traceparent only)
    if (ctx.traceState) out.tracestate = ctx.traceState;
  },
  b3(ctx, out) {
    out['x-b3-traceid'] = traceIdOf(ctx, SIZE_16_8);
    out['x-b3-spanid'] = ctx.spanId;
    if (ctx.parentSpanId) out['x-b3-parentspanid'] = ctx.parentSpanId;
    // debug implies sampled and replaces the sampled header (Kong's b3 injector)
    if (ctx.debug) out['x-b3-flags'] = '1';
    else out['x-b3-sampled'] = ctx.sampled ? '1' : '0';
  },
  'b3-single'(ctx, out) {
    const flag = ctx.debug ? 'd' : ctx.sampled ? '1' : '0';
    out.b3 = `${traceIdOf(ctx, SIZE_16_8)}-${ctx.spanId}-${flag}${ctx.parentSpanId ? `-${ctx.parentSpanId}` : ''}`;
  },
  jaeger(ctx, out) {
    out['uber-trace-id'] = `${traceIdOf(ctx, SIZE_16_8)}:${ctx.spanId}:${ctx.parentSpanId || '0'}:${ctx.sampled ? '01' : '00'}`;
    writeBaggage(out, 'uberctx-', ctx.baggage);
  },
  ot(ctx, out) {
    // 64-bit trace ids by default, as Kong writes them
    out['ot-tracer-traceid'] = traceIdOf(ctx, SIZE_8_16);
    out['ot-tracer-spanid'] = ctx.spanId;
    out['ot-tracer-sampled'] = ctx.sampled ? '1' : '0';
    writeBaggage(out, 'ot-baggage-', ctx.baggage);
  },
  datadog(ctx, out) {
    // 64-bit ids only (Kong's TODO for 128-bit ids stands): the low 64 bits of the trace id, in decimal
    out['x-datadog-trace-id'] = hexToDec(traceIdOf(ctx, SIZE_8));
    out['x-datadog-parent-id'] = hexToDec(ctx.spanId);
    out['x-datadog-sampling-priority'] = ctx.sampled ? '1' : '0';
  },
  aws(ctx, out) {
    const t = traceIdOf(ctx, SIZE_16);
    out['x-amzn-trace-id'] = `Root=1-${t.slice(0, 8)}-${t.slice(8)};Parent=${ctx.spanId};Sampled=${ctx.sampled ? '1' : '0'}`;
  },
  gcp(ctx, out) {
    out['x-cloud-trace-context'] = `${traceIdOf(ctx, SIZE_16)}/${hexToDec(ctx.spanId)};o=${ctx.sampled ? '1' : '0'}`;
  },
  instana(ctx, out) {
    out['x-instana-t'] = traceIdOf(ctx, SIZE_16_8);
    out['x-instana-s'] = ctx.spanId;
    out['x-instana-l'] = ctx.sampled ? '1' : '0';
  },
};

/**
 * The headers to set on the outgoing request (names lower-case), for each format of `formats` in
 * order. `preserve` is the format the caller's context was read in (`extractedFormat`), else
 * `defaultFormat` (Kong's rule); a b3 context read from the single `b3` header is preserved as
 * `b3-single`. Two formats naming the same header write the same value.
 */
export function injectHeaders(
  ctx: InjectContext,
  formats: readonly (PropagationFormat | 'preserve')[],
  defaultFormat: PropagationFormat,
  extractedFormat?: PropagationFormat | null,
  out: Record<string, string> = {},
): Record<string, string> {
  for (const f of formats) {
    const format = f === 'preserve' ? (extractedFormat ?? defaultFormat) : f;
    const write = WRITERS[format];
    if (write !== undefined) write(ctx, out);
  }
  return out;
}
