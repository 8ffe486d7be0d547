/**
 * Issue 24's memory target under load ("under a 10-minute soak no growth over 10%") as
 * `npm run bench -- --soak 600` reads it: bench/soak.ts run as a child for the given seconds, its
 * JSON report read back. Growth is the largest drift of any gateway process, RSS or V8 heap: the
 * second half's peak over the first half's after warm-up (bench/soak.ts explains why peaks).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface SoakOutcome {
  seconds: number;
  /** largest drift over the gateway's processes (RSS and heap), e.g. 0.04 = 4%; null when not run */
  growth: number | null;
  /** the soak's own checks (answers, configuration, descriptors) all passed */
  passed: boolean;
  file: string | null;
  error?: string;
}

export async function runSoak(seconds: number): Promise<SoakOutcome> {
  const warmup = Math.min(60, Math.floor(seconds / 3));
  let stdout = '';
  let stderr = '';
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, [path.join(import.meta.dirname, 'soak.ts'), '--duration', String(seconds), '--warmup', String(warmup)], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    child.on('error', () => resolve(-1));
    child.on('exit', (c) => resolve(c));
  });
  const m = /results: (\S+\.json)/.exec(stdout);
  const file = m ? path.resolve(process.cwd(), m[1]) : null;
  if (!file || !fs.existsSync(file)) return { seconds, growth: null, passed: false, file: null, error: `bench/soak.ts exited ${code} without a report: ${stderr.trim().split('\n').at(-1) ?? ''}` };
  const report = JSON.parse(fs.readFileSync(file, 'utf8')) as { memory: { drift: number; heap_drift: number; role: string }[] };
  const drifts = report.memory.flatMap((p) => [p.drift, p.role === 'worker' ? p.heap_drift : NaN]).filter((x) => Number.isFinite(x));
  return { seconds, growth: drifts.length ? Math.max(...drifts) : null, passed: code === 0, file: path.relative(process.cwd(), file) };
}
