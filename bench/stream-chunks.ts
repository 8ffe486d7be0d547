/**
 * Issue 24's per-chunk target (≤ 10 µs of gateway CPU per translated chunk, for each provider) as
 * `npm run bench` reads it: bench/stream-cost.ts (the stream work's own harness: the gateway, a
 * strict mock per provider format, two chunk counts, µs per chunk as the slope between them) run as
 * a child with `--rounds` and `--json`, its results split back into rounds so that each format's
 * per-chunk cost gets a median and a spread like every other target, and ref-parse's CPU per
 * streamed request in the same rounds as the reference that must hold still.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const HARNESS = path.join(import.meta.dirname, 'stream-cost.ts');

/** The formats whose chunks the gateway translates (OpenAI's passes through). */
export const TRANSLATED_FORMATS = ['anthropic', 'gemini', 'bedrock', 'cohere', 'ollama'] as const;

export interface StreamCost {
  /** target (a format, ref-parse, ref-pass) → µs per chunk in each round (slope between the chunk counts) */
  perChunk: Record<string, number[]>;
  /** target → µs per streamed request at the larger chunk count, in each round */
  perRequest: Record<string, number[]>;
  chunks: number[];
  requests: number;
  error?: string;
}

interface Measured {
  target: string;
  chunks: number;
  cpuPerRequest: number;
}

/** Splits the harness's results (in the order measured: round → target → chunk count) into rounds. */
export function perRound(results: Measured[]): Pick<StreamCost, 'perChunk' | 'perRequest' | 'chunks'> {
  const chunks = [...new Set(results.map((r) => r.chunks))].sort((a, b) => a - b);
  const [lo, hi] = [chunks[0], chunks.at(-1)!];
  const seen = new Map<string, number>();
  const byRound = new Map<string, Map<number, number>[]>(); // target → rounds → chunks → µs/req
  for (const r of results) {
    const key = `${r.target}@${r.chunks}`;
    const round = seen.get(key) ?? 0;
    seen.set(key, round + 1);
    const rounds = byRound.get(r.target) ?? [];
    byRound.set(r.target, rounds);
    (rounds[round] ??= new Map()).set(r.chunks, r.cpuPerRequest);
  }
  const perChunk: Record<string, number[]> = {};
  const perRequest: Record<string, number[]> = {};
  for (const [target, rounds] of byRound) {
    perChunk[target] = rounds.map((m) => (hi > lo ? ((m.get(hi) ?? NaN) - (m.get(lo) ?? NaN)) / (hi - lo) : NaN));
    perRequest[target] = rounds.map((m) => m.get(hi) ?? NaN);
  }
  return { perChunk, perRequest, chunks };
}

/** Runs the harness (when it exists) and reads its JSON; never throws: a failure is reported in `error`. */
export async function runStreamCost(opts: { rounds: number; requests: number; log: (m: string) => void }): Promise<StreamCost> {
  const empty = { perChunk: {}, perRequest: {}, chunks: [], requests: opts.requests };
  if (!fs.existsSync(HARNESS)) return { ...empty, error: 'bench/stream-cost.ts is not there' };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'modelgate-bench-stream-cost-'));
  const out = path.join(dir, 'stream-cost.json');
  try {
    const args = [HARNESS, '--rounds', String(opts.rounds), '--requests', String(opts.requests), '--warmup', String(Math.max(10, Math.round(opts.requests / 4))), '--json', out];
    let stderr = '';
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr.on('data', (d: Buffer) => {
        stderr = (stderr + d.toString()).slice(-4000);
        for (const line of d.toString().split('\n')) if (line.trim()) opts.log(`  stream-cost: ${line.trim()}`);
      });
      // the harness has been seen to linger after writing its results (a handle left open): once
      // the file parses, it gets a few seconds to exit by itself and is then stopped (by its pid)
      const poll = setInterval(() => {
        try {
          JSON.parse(fs.readFileSync(out, 'utf8'));
        } catch {
          return;
        }
        clearInterval(poll);
        setTimeout(() => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        }, 5000).unref();
      }, 1000);
      const done = (c: number | null) => {
        clearInterval(poll);
        resolve(c);
      };
      child.on('error', () => done(-1));
      child.on('exit', (c) => done(c));
    });
    // a results file that parses counts even when the harness had to be stopped after writing it
    if (!fs.existsSync(out)) return { ...empty, error: `bench/stream-cost.ts exited ${code}: ${stderr.trim().split('\n').at(-1) ?? ''}` };
    const json = JSON.parse(fs.readFileSync(out, 'utf8')) as { results?: Measured[] };
    if (!Array.isArray(json.results) || !json.results.length) return { ...empty, error: 'bench/stream-cost.ts wrote no results' };
    return { ...perRound(json.results), requests: opts.requests };
  } catch (e) {
    return { ...empty, error: `bench/stream-cost.ts: ${(e as Error).message}` };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
