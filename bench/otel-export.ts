/**
 * What a recorded span costs once the request is over (issue 21, docs/performance.md
 * "OpenTelemetry"): an AI request's two spans (the `kong` request span and the GenAI client span,
 * with the attributes they carry) built, queued to the real exporter, encoded and sent in batches
 * of 200 to an OTLP sink in another process (bench/otlp-sink.ts), `--requests` times per round;
 * CPU per request of this process. `--cpu-prof` to see where it goes.
 *
 *   taskset -c 0 node bench/otel-export.ts [--requests 20000] [--rounds 5]
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { exporterFor } from '../src/observability/otel/exporter.ts';
import { newSpanId, newTraceId } from '../src/observability/otel/ids.ts';
import type { SpanRecord } from '../src/observability/otel/types.ts';

const { values: args } = parseArgs({ options: { requests: { type: 'string', default: '20000' }, rounds: { type: 'string', default: '5' } } });
const N = Number(args.requests);

const sinkProcess = spawn(process.execPath, ['--input-type=module', '-e', `const { startOtlpSink } = await import(${JSON.stringify(path.join(import.meta.dirname, 'otlp-sink.ts'))}); const s = await startOtlpSink(); console.log(s.url);`], { stdio: ['ignore', 'pipe', 'inherit'] });
const url: string = await new Promise((resolve) => sinkProcess.stdout!.once('data', (d: Buffer) => resolve(String(d).trim())));

const exporter = exporterFor('traces', {
  endpoint: { url: `${url}/v1/traces`, headers: {}, connectTimeoutMs: 1000, sendTimeoutMs: 5000, readTimeoutMs: 5000, encoding: 'protobuf' },
  resource: { 'service.name': 'modelgate' },
  maxBatch: 200,
  flushDelayMs: 1000,
  maxQueue: 10_000,
});

/** One AI request's spans with the default instrumentations, attributes as the gateway sets them. */
function requestSpans(): SpanRecord[] {
  const traceId = newTraceId();
  const root = newSpanId();
  const t = performance.timeOrigin + performance.now();
  return [
    {
      traceId, spanId: root, parentSpanId: null, name: 'kong', kind: 2, startMs: t, endMs: t + 1.2,
      attributes: { 'http.request.method': 'POST', 'url.path': '/v1/chat/completions', 'url.scheme': 'http', 'network.protocol.version': '1.1', 'http.response.status_code': 200, 'kong.request.id': 'c0a80101-0000-4000-8000-000000000001', 'server.address': '127.0.0.1', 'server.port': 8000, 'client.address': '127.0.0.1', 'http.route': '/v1/chat/completions', 'kong.route.name': 'chat' },
    },
    {
      traceId, spanId: newSpanId(), parentSpanId: root, name: 'chat gpt-4o-mini', kind: 3, startMs: t + 0.2, endMs: t + 1.0,
      attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o-mini', 'server.address': '127.0.0.1', 'server.port': 9999, 'gen_ai.response.id': 'chatcmpl-abc123def456', 'gen_ai.response.model': 'gpt-4o-mini-2024-07-18', 'gen_ai.response.finish_reasons': ['stop'], 'gen_ai.usage.input_tokens': 12, 'gen_ai.usage.output_tokens': 9, 'modelgate.cost': 0.0000072 },
    },
  ];
}

for (let round = 0; round < Number(args.rounds); round++) {
  const c0 = process.cpuUsage();
  for (let i = 0; i < N; i++) {
    for (const s of requestSpans()) exporter.add(s);
    if (i % 100 === 99) await new Promise((r) => setImmediate(r)); // let batches leave, as between requests
  }
  await new Promise((r) => setTimeout(r, 300));
  const c = process.cpuUsage(c0);
  console.log(`round ${round + 1}: ${((c.user + c.system) / N).toFixed(2)} µs CPU per request (2 spans built, queued, encoded, sent)`);
}
sinkProcess.kill();
process.exit(0);
