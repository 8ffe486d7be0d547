/**
 * Process plumbing for the benchmark: CPU time and RSS from /proc, CPU pinning with `taskset`,
 * spawning children that print a JSON line when ready, free ports, and stopping exactly the
 * processes the benchmark started (by pid) even when it fails half-way.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { createInterface } from 'node:readline';

/** Clock ticks per second for /proc/<pid>/stat (almost always 100). */
const CLK_TCK = (() => {
  try {
    const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    const n = Number(r.stdout.trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of a whole process (all threads, living or exited) in µs, tick resolution. */
function statCpuUs(pid: number): number {
  const fields = statFields(pid);
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLK_TCK;
}

/** /proc/<pid>/stat's fields after the command name (index 11: utime, 12: stime, in ticks). */
function statFields(pid: number): string[] {
  const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // the command name may contain spaces and parentheses: fields start after the last ')'
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

/** Kernel (system) time of processes in µs, from /proc/<pid>/stat: clock-tick resolution, for windows of seconds. */
export function sysUs(pids: number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      total += (Number(statFields(pid)[12]) * 1e6) / CLK_TCK;
    } catch {
      // exited
    }
  }
  return total;
}

/** Run time of every thread of a process in µs (ns resolution), from /proc/<pid>/task/<tid>/schedstat. */
function schedCpuUs(pid: number): number {
  let ns = 0;
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread just exited
    }
  }
  return ns / 1000;
}

let useSchedstat: boolean | null = null;

/**
 * CPU time used so far by the given processes, in µs. Uses per-thread schedstat (nanoseconds)
 * when the kernel exposes it, /proc/<pid>/stat ticks otherwise. A process that is gone counts 0.
 */
export function cpuUs(pids: number[]): number {
  if (useSchedstat === null) {
    try {
      useSchedstat = fs.readFileSync(`/proc/${process.pid}/task/${process.pid}/schedstat`, 'utf8').split(' ').length >= 2;
    } catch {
      useSchedstat = false;
    }
  }
  let total = 0;
  for (const pid of pids) {
    try {
      total += useSchedstat ? schedCpuUs(pid) : statCpuUs(pid);
    } catch {
      // exited
    }
  }
  return total;
}

/**
 * Time one CPU spent running tasks (user, nice, system) or stolen by the hypervisor, in µs, from
 * /proc/stat ticks; NaN if unknown. Interrupt and softirq time is left out: it is mostly the
 * network processing of the measured traffic itself, which the kernel does not charge to a task.
 */
export function cpuBusyUs(cpu: number): number {
  try {
    const line = fs
      .readFileSync('/proc/stat', 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`cpu${cpu} `));
    if (!line) return NaN;
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal ...
    const busy = f[0] + f[1] + f[2] + (f[7] ?? 0);
    return (busy * 1e6) / CLK_TCK;
  } catch {
    return NaN;
  }
}

export function cpuClock(): string {
  return useSchedstat ? 'schedstat (ns)' : `stat (${CLK_TCK} Hz ticks)`;
}

/**
 * Resident memory in bytes (0s if the process is gone): the whole RSS, and its anonymous part
 * (heap, stacks, JIT code — what the process itself allocated; the rest are file pages such as the
 * node binary, shared by every Node process on the machine).
 */
export function memory(pid: number): { rss: number; anon: number; file: number; shmem: number } {
  try {
    const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(text)?.[1] ?? 0) * 1024;
    return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile'), shmem: kb('RssShmem') };
  } catch {
    return { rss: 0, anon: 0, file: 0, shmem: 0 };
  }
}

/** Direct children of a process, from /proc/<pid>/task/<pid>/children (or a scan of /proc). */
export function childPids(pid: number): number[] {
  try {
    return fs
      .readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    const out: number[] = [];
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const text = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
        const ppid = Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[1]);
        if (ppid === pid) out.push(Number(entry));
      } catch {
        // gone
      }
    }
    return out;
  }
}

export interface Pinning {
  enabled: boolean;
  /** CPU list for the targets (gateway and reference proxies). */
  targetCpu: string;
  /** CPU list for the load generator (this process) and the mock upstream. */
  loadCpu: string;
  note: string;
}

/** Decides the pinning: targets on CPU 0, load generator and mock on CPU 1, when taskset exists. */
export function planPinning(wanted: boolean): Pinning {
  const cores = os.availableParallelism();
  const off = (note: string): Pinning => ({ enabled: false, targetCpu: '', loadCpu: '', note });
  if (!wanted) return off('pinning disabled (--no-pin)');
  if (process.platform !== 'linux') return off('pinning needs Linux taskset; running unpinned');
  if (cores < 2) return off(`only ${cores} CPU: running unpinned`);
  const probe = spawnSync('taskset', ['-c', '0', 'true']);
  if (probe.error || probe.status !== 0) return off('taskset not available: running unpinned');
  // leave any further cores alone: the comparison is one gateway core against one load core
  return { enabled: true, targetCpu: '0', loadCpu: '1', note: `targets on CPU 0, load generator and mock on CPU 1 (${cores} CPUs)` };
}

/** Pins this process (every thread) to the load generator's CPU. */
export function pinSelf(p: Pinning): void {
  if (!p.enabled) return;
  const r = spawnSync('taskset', ['-a', '-p', '-c', p.loadCpu, String(process.pid)]);
  if (r.status !== 0) throw new Error(`taskset -p failed: ${r.stderr?.toString().trim()}`);
}

const started = new Set<ChildProcess>();

/** Spawns a child on the given CPU list (or unpinned); it is killed when the benchmark exits. */
export function spawnPinned(cpu: string, cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; stdout?: 'pipe' | 'ignore' | number; stderr?: 'pipe' | 'ignore' | number }): ChildProcess {
  const [file, argv] = cpu ? ['taskset', ['-c', cpu, cmd, ...args]] : [cmd, args];
  const child = spawn(file, argv, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', opts.stdout ?? 'pipe', opts.stderr ?? 'pipe'] });
  started.add(child);
  child.once('exit', () => started.delete(child));
  return child;
}

/** Last resort on exit: SIGKILL every child this benchmark started and that is still running. */
export function killStarted(): void {
  for (const c of started) {
    if (c.exitCode === null && c.signalCode === null && c.pid) {
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

/** Resolves with the first stdout line parsed as JSON (the child's "ready" line). */
export function readyLine<T>(child: ChildProcess, what: string, timeoutMs = 20_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    const timer = setTimeout(() => reject(new Error(`${what}: not ready after ${timeoutMs} ms\n${stderr}`)), timeoutMs);
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', (line) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(line) as T);
      } catch {
        reject(new Error(`${what}: unexpected output '${line}'\n${stderr}`));
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${what}: exited during start-up (code ${code}, signal ${signal})\n${stderr}`));
    });
  });
}

/** Stops a child: SIGTERM, then SIGKILL after `graceMs`. */
export function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || !child.pid) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      try {
        process.kill(child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    }, graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** A port that was free a moment ago on 127.0.0.1 (the tests' helper). */
export { freePort } from '../test/helpers/gateway.ts';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
