/**
 * Instruction counts of one process started under `valgrind --tool=callgrind --instr-atstart=no`
 * (bench/stream-cost.ts, bench/otel-cost.ts): counting is turned on around a measurement and the
 * dump read back. Counts repeat for the same inputs whatever else runs on the machine, which CPU
 * time on this shared machine does not.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/**
 * The command prefix that starts a process under callgrind with counting off, dumps in `dir`.
 * `separateThreads`: a dump per thread, so that `Callgrind.stop()` can count the main thread
 * alone (V8's compiler and GC helper threads left out, as they run beside the request path).
 */
export function callgrindCommand(dir: string, separateThreads = false): string[] {
  return ['valgrind', '--tool=callgrind', '--trace-children=yes', '--instr-atstart=no', '--smc-check=all-non-file', ...(separateThreads ? ['--separate-threads=yes'] : []), `--callgrind-out-file=${dir}/cg.%p`];
}

/** Instruction counting in one process of a gateway started under callgrind (callgrind_control). */
export class Callgrind {
  readonly #pid: number;
  readonly #dir: string;
  /** Each measurement's dump is kept as `<label>.cg` in the dir (for callgrind_annotate) instead of deleted. */
  readonly #keepAs: string | null;
  constructor(pid: number, dir: string, keepAs: string | null = null) {
    this.#pid = pid;
    this.#dir = dir;
    this.#keepAs = keepAs;
  }
  #control(...a: string[]): void {
    const r = spawnSync('callgrind_control', [...a, String(this.#pid)], { encoding: 'utf8', timeout: 600_000 });
    if (r.status !== 0) throw new Error(`callgrind_control ${a.join(' ')}: ${r.stderr || r.stdout}`);
  }
  start(): void {
    this.#control('-i', 'on');
    this.#control('-z');
  }
  /**
   * Instructions since start(): of every thread, or of the main thread alone when `mainThread`
   * (the process runs under `callgrindCommand(dir, true)`: its dumps end in `-01` for thread 1).
   */
  stop(mainThread = false): number {
    for (const f of fs.readdirSync(this.#dir)) if (f.startsWith(`cg.${this.#pid}.`)) fs.rmSync(path.join(this.#dir, f));
    this.#control('-d');
    this.#control('-i', 'off');
    const dumps = fs.readdirSync(this.#dir).filter((f) => f.startsWith(`cg.${this.#pid}.`) && (!mainThread || f.endsWith('-01')));
    if (mainThread && dumps.length === 0) throw new Error(`callgrind: no main-thread dump for ${this.#pid} (started without separate threads?)`);
    let total = 0;
    for (const f of dumps) {
      const m = /^(?:summary|totals):\s*(\d+)/m.exec(fs.readFileSync(path.join(this.#dir, f), 'utf8'));
      if (m) total += Number(m[1]);
      if (this.#keepAs) fs.renameSync(path.join(this.#dir, f), path.join(this.#dir, `${this.#keepAs}.cg`));
    }
    return total;
  }
}

