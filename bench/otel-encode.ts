/**
 * Micro-benchmark of the OTLP span encoders (src/observability/otel/otlp.ts): µs per span to
 * encode a typical batch of one AI request's spans — Kong's root server span, `kong.router`, two
 * `kong.access.plugin.*` spans, a `kong.balancer` attempt and the GenAI client span with its usage
 * attributes and a first-token event — repeated to `--batch` spans, as protobuf and as OTLP/JSON.
 * Prints the median of `--rounds` timed rounds after a warm-up; a report, not a test
 * (docs/performance.md, "OpenTelemetry").
 *
 *   node bench/otel-encode.ts
 *   node bench/otel-encode.ts --batch 512 --rounds 30
 */
import { parseArgs } from 'node:util';
import { encodeTracesJson, tracesEncoder } from '../src/observability/otel/otlp.ts';
import type { SpanRecord } from '../src/observability/otel/types.ts';

const { values: args } = parseArgs({
  options: {
    batch: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '20' },
  },
});
const BATCH = Number(args.batch);
const ROUNDS = Number(args.rounds);

const RESOURCE = { 'service.name': 'modelgate', 'service.version': '0.1.0', 'service.instance.id': 'host-1:12345', 'deployment.environment.name': 'prod' };
const SCOPE = { name: 'modelgate', version: '0.1.0' };

function hex(n: number, digits: number): string {
  return n.toString(16).padStart(digits, '0').slice(-digits);
}

/** One AI request's spans: six, as the opentelemetry plugin records them. */
function requestSpans(i: number): SpanRecord[] {
  const t = performance.timeOrigin + performance.now();
  const traceId = hex(i * 2654435761, 16) + hex(i + 1, 16);
  const root = hex(i * 6 + 1, 16);
  const span = (k: number, name: string, kind: SpanRecord['kind'], parent: string | null, start: number, end: number, attributes: SpanRecord['attributes']): SpanRecord => ({
    traceId,
    spanId: hex(i * 6 + k, 16),
    parentSpanId: parent,
    name,
    kind,
    startMs: t + start,
    endMs: t + end,
    attributes,
    status: { code: 0 },
  });
  return [
    span(1, 'kong', 2, null, 0, 812.345, {
      'http.request.method': 'POST',
      'url.full': 'http://gateway.example.com/openai/v1/chat/completions',
      'http.route': '/openai',
      'server.address': 'gateway.example.com',
      'network.protocol.version': '1.1',
      'client.address': '10.1.2.3',
      'http.response.status_code': 200,
      'kong.request.id': '6f1c7e0c2b9a4d3e8f7a6b5c4d3e2f1a',
    }),
    span(2, 'kong.router', 1, root, 0.012, 0.051, { 'kong.route.name': 'openai-chat' }),
    span(3, 'kong.access.plugin.key-auth', 1, root, 0.06, 0.11, {}),
    span(4, 'kong.access.plugin.ai-proxy', 1, root, 0.12, 0.43, {}),
    span(5, 'kong.balancer', 3, root, 0.5, 811.9, { 'try_count': 1, 'net.peer.name': 'api.openai.com', 'net.peer.port': 443, 'peer.service': 'openai' }),
    {
      ...span(6, 'chat gpt-4o-mini', 3, root, 0.52, 811.8, {
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': 'gpt-4o-mini',
        'gen_ai.request.max_tokens': 512,
        'gen_ai.request.temperature': 0.2,
        'gen_ai.request.top_p': 0.95,
        'gen_ai.response.model': 'gpt-4o-mini-2024-07-18',
        'gen_ai.response.id': 'chatcmpl-9XyZabcdef0123456789',
        'gen_ai.response.finish_reasons': ['stop'],
        'gen_ai.usage.input_tokens': 1234,
        'gen_ai.usage.output_tokens': 256,
        'server.address': 'api.openai.com',
        'server.port': 443,
        'modelgate.cost': 0.00033870000000000003,
      }),
      events: [{ name: 'gen_ai.first_token', timeMs: t + 180.25, attributes: { 'gen_ai.response.time_to_first_chunk': 0.17973 } }],
    },
  ];
}

const spans: SpanRecord[] = [];
for (let i = 0; spans.length < BATCH; i++) spans.push(...requestSpans(i));
spans.length = BATCH;

function measure(label: string, encode: () => Uint8Array | string): void {
  let bytes = 0;
  for (let i = 0; i < 200; i++) bytes = encode().length; // warm-up: JIT and the writer's buffer grown
  const perSpan: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const reps = 50;
    const started = process.hrtime.bigint();
    for (let i = 0; i < reps; i++) encode();
    const ns = Number(process.hrtime.bigint() - started);
    perSpan.push(ns / 1000 / reps / BATCH);
  }
  perSpan.sort((a, b) => a - b);
  const median = perSpan[Math.floor(perSpan.length / 2)];
  console.log(`${label.padEnd(10)} ${median.toFixed(2)} µs/span (median of ${ROUNDS}; min ${perSpan[0].toFixed(2)}, max ${perSpan[perSpan.length - 1].toFixed(2)})  ${(bytes / BATCH).toFixed(0)} bytes/span`);
}

console.log(`OTLP span encoding, batches of ${BATCH} spans (six per AI request), node ${process.version}`);
// as the exporter encodes: one encoder per exporter (resource and scope encoded once, its own buffer)
const encodeTraces = tracesEncoder(RESOURCE, SCOPE);
measure('protobuf', () => encodeTraces(spans));
measure('json', () => encodeTracesJson(spans, RESOURCE, SCOPE));
