/**
 * `modelgate_ai_guardrail_decisions_total{plugin, phase, decision}`: every decision a guardrail
 * took (ai-prompt-guard on answers, ai-guardrail-webhook, ai-sanitizer), by plugin name (bounded:
 * never an instance id or a rule text), phase (`request` | `response`) and decision:
 * `allow`, `block`, `replace` (the text was changed), `error` (the check failed and blocked:
 * fail closed), `fail_open` (the check failed and the text passed: `fail_mode: open`).
 */
import { client, PREFIX, registry } from '../../observability/metrics.ts';

export type GuardPhase = 'request' | 'response';
export type GuardDecision = 'allow' | 'block' | 'replace' | 'error' | 'fail_open';

const decisions = new client.Counter({
  name: `${PREFIX}ai_guardrail_decisions_total`,
  help: 'Guardrail decisions on prompts and answers, by plugin, phase and decision',
  labelNames: ['plugin', 'phase', 'decision'] as const,
  registers: [registry],
});

export function countDecision(plugin: string, phase: GuardPhase, decision: GuardDecision): void {
  decisions.inc({ plugin, phase, decision });
}
