/**
 * Micro-benchmark of ai-sanitizer's request side: CPU time per KB of prompt to find and replace
 * every value (all_and_credentials, placeholders), on three kinds of prompt text — plain prose
 * with no sensitive value, prose with a few values per KB (email, phone, card, IBAN, AWS key,
 * IP), and a digit-heavy text (order tables: the phone and card candidates work hardest there).
 * Prints the median of `--rounds` timed rounds after a warm-up, per text; a report, not a test
 * (docs/performance.md, "Cache and guardrails").
 *
 *   node bench/sanitizer.ts
 *   node bench/sanitizer.ts --kb 64 --rounds 30
 */
import { parseArgs } from 'node:util';
import { Redactor } from '../src/plugins/ai-sanitizer/redactor.ts';
import { kindsFor } from '../src/plugins/ai-sanitizer/kinds.ts';

const { values: args } = parseArgs({ options: { kb: { type: 'string', default: '16' }, rounds: { type: 'string', default: '20' } } });
const KB = Number(args.kb);
const ROUNDS = Number(args.rounds);

const PROSE =
  'The quarterly review covers the migration of the billing service to the new cluster, the rollout plan for the ' +
  'regional gateways, and the open questions the support team raised about retention of chat transcripts. ';
const VALUES = [
  'Contact jane.doe@example.org or +44 20 7946 0958 about it. ',
  'Card 4111 1111 1111 1111 was charged; refund to GB82 WEST 1234 5698 7654 32. ',
  'The build used AKIAIOSFODNN7EXAMPLE from 10.20.30.40 last night. ',
];
const DIGITS = 'Order 10293 shipped 2024-05-17 qty 12 at 19.99 ref 5512-3391 zip 90210 line 7 of 42; ';

function fill(parts: string[]): string {
  let s = '';
  for (let i = 0; s.length < KB * 1024; i++) s += parts[i % parts.length];
  return s.slice(0, KB * 1024);
}

const TEXTS: [string, string][] = [
  ['prose, nothing to find', fill([PROSE])],
  ['prose with values (~10 per KB)', fill([PROSE, VALUES[0], PROSE, VALUES[1], VALUES[2]])],
  ['digit-heavy (order lines)', fill([DIGITS])],
];

const plan = { kinds: kindsFor(['all_and_credentials']), custom: [] };

function run(text: string): number {
  const r = new Redactor(plan, 'placeholder');
  r.avoid(text);
  return r.redact(text).spans.length;
}

for (const [name, text] of TEXTS) {
  for (let i = 0; i < 5; i++) run(text);
  const times: number[] = [];
  let found = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = process.cpuUsage();
    found = run(text);
    const d = process.cpuUsage(t0);
    times.push((d.user + d.system) / 1000);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  console.log(`${name.padEnd(32)} ${KB} KB: ${(median / KB).toFixed(3)} ms CPU per KB (median of ${ROUNDS}; ${found} values found)`);
}
