/**
 * Instructions a traced request's spans cost the OTLP encoder (src/observability/otel/otlp.ts),
 * counted by callgrind without the rest of the gateway (docs/performance.md, "Thirteenth look"):
 * the request span and the GenAI client span as the gateway builds them for a route's chat calls
 * (the same attributes each request but for a new request id, response id and span ids), encoded
 * in batches of 200 spans as the exporter sends them. The script starts itself under callgrind and
 * counts the main thread over `--requests` requests' spans, built beforehand, after `--warmup`
 * others: once with the encoding left out (the loop alone), once with it, and prints the difference
 * per request.
 *
 *   node bench/otel-encode-cg.ts [--requests 20000] [--warmup 20000] [--keep]
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import { tracesEncoder } from '../src/observability/otel/otlp.ts';
import { newSpanId, newTraceId } from '../src/observability/otel/ids.ts';
import type { SpanRecord } from '../src/observability/otel/types.ts';
import { Callgrind, callgrindCommand } from './callgrind.ts';

const { values: args } = parseArgs({
  options: {
    requests: { type: 'string', default: '20000' },
    warmup: { type: 'string', default: '20000' },
    child: { type: 'string' }, // 'encode' | 'build': this process is the one measured
    keep: { type: 'boolean', default: false }, // keep the dumps (build.cg, encode.cg) for callgrind_annotate
  },
});
const REQUESTS = Number(args.requests);

if (args.child) await child(args.child === 'encode');
else await drive();

/** Starts the measured process under callgrind for each variant and counts its main thread over the measured requests. */
async function drive(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'modelgate-enc-cg-'));
  const counts: Record<string, number> = {};
  try {
    for (const variant of ['build', 'encode']) {
      const [cmd, ...pre] = callgrindCommand(dir, true);
      const p = spawn(cmd, [...pre, process.execPath, '--expose-gc', ...(args.keep ? ['--perf-basic-prof'] : []), import.meta.filename, '--child', variant, '--requests', String(REQUESTS), '--warmup', args.warmup!], { stdio: ['pipe', 'pipe', 'ignore'] });
      const lines = readline.createInterface({ input: p.stdout! })[Symbol.asyncIterator]();
      const next = async () => (await lines.next()).value as string;
      if ((await next()) !== 'ready') throw new Error('child did not get ready');
      const cg = new Callgrind(p.pid!, dir, args.keep ? variant : null);
      cg.start();
      p.stdin!.write('go\n');
      const done = await next();
      counts[variant] = cg.stop(true) / REQUESTS;
      console.log(`${variant.padEnd(6)} ${(counts[variant] / 1e3).toFixed(2)} k instructions a request (${done})`);
      p.stdin!.end();
      await new Promise((r) => p.once('exit', r));
    }
    console.log(`encoder: ${((counts.encode - counts.build) / 1e3).toFixed(2)} k instructions a request`);
  } finally {
    if (args.keep) console.log(`dumps kept in ${dir}`);
    else fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function child(encoding: boolean): Promise<void> {
  const encode = tracesEncoder({ 'service.name': 'modelgate', 'service.version': '0.1.0', 'service.instance.id': 'w1', 'host.name': 'h' }, { name: 'modelgate', version: '0.1.0' });
  let seq = 0;
  const requestSpans = (): SpanRecord[] => {
    const t = performance.timeOrigin + performance.now();
    const traceId = newTraceId();
    const root = newSpanId();
    seq++;
    return [
      {
        traceId, spanId: root, parentSpanId: null, name: 'kong', kind: 2, startMs: t, endMs: t + 1.25,
        attributes: {
          'url.scheme': 'http', 'network.protocol.version': '1.1', 'http.request.method': 'POST', 'server.address': '127.0.0.1', 'server.port': 8000,
          'http.route': '/traced', 'kong.route.name': 'traced', 'url.path': '/traced', 'http.response.status_code': 200, 'user_agent.original': 'bench',
          'client.address': '127.0.0.1', 'kong.request.id': newTraceId(),
        },
      },
      {
        traceId, spanId: newSpanId(), parentSpanId: root, name: 'chat gpt-4o-mini', kind: 3, startMs: t + 0.2, endMs: t + 1.1,
        attributes: {
          'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o-mini', 'server.address': '127.0.0.1', 'server.port': 9999,
          'gen_ai.request.max_tokens': 64, 'gen_ai.response.model': 'gpt-4o-mini-2024-07-18', 'gen_ai.response.finish_reasons': ['stop'],
          'gen_ai.response.id': `chatcmpl-${seq}`, 'gen_ai.usage.input_tokens': 12, 'gen_ai.usage.output_tokens': 9, 'modelgate.cost': 0.0000072,
        },
      },
    ];
  };
  // the spans are built before counting starts (and collected into the old generation), so that
  // the count is the encoding's own: building them allocates, and where a scavenge falls moved a
  // count by more than the encoder costs
  const built = (requests: number): SpanRecord[][] => {
    const batches: SpanRecord[][] = [];
    let batch: SpanRecord[] = [];
    for (let i = 0; i < requests; i++) {
      for (const s of requestSpans()) batch.push(s);
      if (batch.length >= 200) {
        batches.push(batch);
        batch = [];
      }
    }
    return batches;
  };
  const run = (batches: SpanRecord[][]): number => {
    let bytes = 0;
    for (const batch of batches) if (encoding) bytes += encode(batch).length;
    return bytes;
  };
  const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  // warm-up, with pauses for V8's optimizing compiler, which runs beside (slowly under callgrind):
  // the count is the optimized code's, as in a gateway that has been running
  const warm = built(Number(args.warmup));
  for (let i = 0; i < 4; i++) {
    run(warm);
    await new Promise((r) => setTimeout(r, 1500));
  }
  const measured = built(REQUESTS);
  (globalThis as { gc?: () => void }).gc?.();
  (globalThis as { gc?: () => void }).gc?.();
  console.log('ready');
  await lines.next();
  const bytes = run(measured);
  console.log(`${(bytes / REQUESTS).toFixed(0)} bytes a request`);
  await lines.next(); // stdin closed: exit
}
