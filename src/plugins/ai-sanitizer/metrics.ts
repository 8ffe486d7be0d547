/**
 * `modelgate_ai_sanitizer_detections_total{kind, phase}`: values found (one per occurrence), by
 * detected kind (detectors/types.ts: a fixed list, custom patterns all `custom`) and phase
 * (`request` | `response`). Never a value, never a pattern name.
 */
import { client, PREFIX, registry } from '../../observability/metrics.ts';
import type { Span } from './detectors/index.ts';

const detections = new client.Counter({
  name: `${PREFIX}ai_sanitizer_detections_total`,
  help: 'PII and secrets found by ai-sanitizer, by kind and phase',
  labelNames: ['kind', 'phase'] as const,
  registers: [registry],
});

/** Kind → count, for the log line and the metric. */
export function countKinds(spans: readonly Span[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of spans) out[s.kind] = (out[s.kind] ?? 0) + 1;
  return out;
}

export function countDetections(counts: Record<string, number>, phase: 'request' | 'response'): void {
  for (const [kind, n] of Object.entries(counts)) detections.inc({ kind, phase }, n);
}
