/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): the top functions by self time, the top
 * functions by inclusive time (each sample counted once per function on its stack), and self time
 * grouped by source file and by area (modelgate src/…, node internals, each npm package, GC …).
 *
 *   node bench/profile-summary.ts FILE.cpuprofile [--top N] [--skip-ms N] [--json]
 * (`--skip-ms`: leave out the first N ms, e.g. start-up)
 */
import fs from 'node:fs';
import path from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface FunctionCost {
  name: string;
  /** file:line (1-based) */
  location: string;
  area: string;
  /** µs and % of the profile's sampled time */
  selfUs: number;
  selfPct: number;
  totalUs: number;
  totalPct: number;
  /** µs per request (when the number of requests in the window is known) */
  selfUsPerReq: number | null;
  totalUsPerReq: number | null;
}

export interface ProfileSummary {
  file: string;
  /** The part of the profile summarised, in ms from its start (null: all of it). */
  windowMs: [number, number] | null;
  /** µs covered by samples, and of it spent idle (the event loop waiting). */
  sampledUs: number;
  idleUs: number;
  busyUs: number;
  samples: number;
  /** Requests served in the window (when known): per-request figures are busy time ÷ requests. */
  requests: number | null;
  busyUsPerReq: number | null;
  topSelf: FunctionCost[];
  topTotal: FunctionCost[];
  byArea: { area: string; selfUs: number; pct: number; usPerReq: number | null }[];
  byFile: { file: string; selfUs: number; pct: number; usPerReq: number | null }[];
}

const REPO = path.resolve(import.meta.dirname, '..');

function shortUrl(url: string): string {
  if (!url) return '';
  let u = url.replace(/^file:\/\//, '');
  if (u.startsWith(REPO + '/')) u = u.slice(REPO.length + 1);
  const nm = u.lastIndexOf('node_modules/');
  if (nm !== -1) u = u.slice(nm);
  return u;
}

/** Where a function lives: modelgate's own tree, an npm package, Node's internals, V8 pseudo-frames. */
function areaOf(cf: CallFrame): string {
  const u = shortUrl(cf.url);
  if (!u) {
    if (cf.functionName === '(garbage collector)') return '(gc)';
    if (cf.functionName === '(idle)' || cf.functionName === '(program)' || cf.functionName === '(root)') return cf.functionName;
    return '(native / builtins)';
  }
  if (u.startsWith('node:')) {
    const m = /^node:(?:internal\/)?(?:deps\/)?([a-z_]+)/.exec(u);
    return `node:${m ? m[1] : u.slice(5)}`;
  }
  if (u.startsWith('node_modules/')) {
    const parts = u.slice('node_modules/'.length).split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  const m = /^(src\/[^/]+(?:\/[^/]+)?)\//.exec(u);
  if (m) return m[1];
  if (u.startsWith('bench/')) return u;
  return u.split('/').slice(0, 2).join('/');
}

/**
 * `window`: only samples taken between these monotonic times (µs, the clock of
 * `process.hrtime`, which V8's profile timestamps share on Linux) — e.g. the load phase without
 * the start-up. A window that holds no sample is ignored.
 */
export function summarise(file: string, top = 25, window?: { fromUs: number; toUs: number }, requests?: number): ProfileSummary {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) byId.set(n.id, n);
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const keyOf = (cf: CallFrame) => `${cf.functionName || '(anonymous)'}\u0000${cf.url}\u0000${cf.lineNumber}`;
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const frames = new Map<string, CallFrame>();
  const selfOfNode = new Map<number, number>();

  let sampled = 0;
  let idle = 0;
  let from = -Infinity;
  let to = Infinity;
  if (window) {
    let t = profile.startTime;
    let inside = 0;
    for (let i = 0; i < profile.samples.length; i++) {
      t += profile.timeDeltas[i] ?? 0;
      if (t >= window.fromUs && t <= window.toUs) inside++;
    }
    if (inside > 0) [from, to] = [window.fromUs, window.toUs];
  }
  // timeDeltas[i] is the time since the previous sample: it belongs to sample i
  let t = profile.startTime;
  let count = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = Math.max(0, profile.timeDeltas[i] ?? 0);
    t += profile.timeDeltas[i] ?? 0;
    if (t < from || t > to) continue;
    const id = profile.samples[i];
    sampled += dt;
    count++;
    selfOfNode.set(id, (selfOfNode.get(id) ?? 0) + dt);
  }
  for (const [id, dt] of selfOfNode) {
    const node = byId.get(id);
    if (!node) continue;
    const cf = node.callFrame;
    if (cf.functionName === '(idle)') idle += dt;
    const key = keyOf(cf);
    frames.set(key, cf);
    self.set(key, (self.get(key) ?? 0) + dt);
    // inclusive: once per distinct function on the stack
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur)!;
      const k = keyOf(n.callFrame);
      if (seen.has(k)) continue;
      seen.add(k);
      frames.set(k, n.callFrame);
      total.set(k, (total.get(k) ?? 0) + dt);
    }
  }

  const busy = sampled - idle;
  const pct = (us: number) => (busy > 0 ? (100 * us) / busy : 0);
  const perReq = (us: number) => (requests && requests > 0 ? Math.round((us / requests) * 100) / 100 : null);
  const cost = (k: string): FunctionCost => {
    const cf = frames.get(k)!;
    const s = self.get(k) ?? 0;
    const t = total.get(k) ?? 0;
    return {
      name: cf.functionName || '(anonymous)',
      location: cf.url ? `${shortUrl(cf.url)}:${cf.lineNumber + 1}` : '',
      area: areaOf(cf),
      selfUs: Math.round(s),
      selfPct: Math.round(pct(s) * 10) / 10,
      totalUs: Math.round(t),
      totalPct: Math.round(pct(t) * 10) / 10,
      selfUsPerReq: perReq(s),
      totalUsPerReq: perReq(t),
    };
  };
  const PSEUDO = new Set(['(idle)', '(root)', '(program)']);
  const real = [...frames.keys()].filter((k) => !PSEUDO.has(frames.get(k)!.functionName));

  const topSelf = real
    .filter((k) => self.has(k))
    .sort((a, b) => self.get(b)! - self.get(a)!)
    .slice(0, top)
    .map(cost);
  const topTotal = real
    .filter((k) => frames.get(k)!.url && !frames.get(k)!.url.startsWith('node:'))
    .sort((a, b) => (total.get(b) ?? 0) - (total.get(a) ?? 0))
    .slice(0, top)
    .map(cost);

  const areas = new Map<string, number>();
  const files = new Map<string, number>();
  for (const [k, s] of self) {
    const cf = frames.get(k)!;
    if (cf.functionName === '(idle)') continue;
    const a = areaOf(cf);
    areas.set(a, (areas.get(a) ?? 0) + s);
    const f = shortUrl(cf.url) || a;
    files.set(f, (files.get(f) ?? 0) + s);
  }
  const ranked = (m: Map<string, number>, label: 'area' | 'file') =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, label === 'area' ? 100 : top)
      .map(([name, us]) => ({ [label]: name, selfUs: Math.round(us), pct: Math.round(pct(us) * 10) / 10, usPerReq: perReq(us) }));

  return {
    file,
    windowMs: Number.isFinite(from) ? [Math.round((from - profile.startTime) / 1000), Math.round((to - profile.startTime) / 1000)] : null,
    sampledUs: Math.round(sampled),
    idleUs: Math.round(idle),
    busyUs: Math.round(busy),
    samples: count,
    requests: requests ?? null,
    busyUsPerReq: perReq(busy),
    topSelf,
    topTotal,
    byArea: ranked(areas, 'area') as ProfileSummary['byArea'],
    byFile: ranked(files, 'file') as ProfileSummary['byFile'],
  };
}

function pad(s: string, n: number): string {
  return s.length >= n ? s.slice(0, n) : s + ' '.repeat(n - s.length);
}

export function formatSummary(s: ProfileSummary, top = 25): string {
  const ms = (us: number) => (us / 1000).toFixed(1);
  const per = s.requests !== null;
  const num = (v: number | null, pctv: number) => (per && v !== null ? v.toFixed(2) : pctv.toFixed(1));
  const unit = per ? 'µs/req' : '%';
  const lines: string[] = [];
  const win = s.windowMs ? ` (window ${s.windowMs[0]}–${s.windowMs[1]} ms of the profile)` : '';
  lines.push(`profile ${path.basename(s.file)}${win}: ${s.samples} samples, ${ms(s.sampledUs)} ms sampled, ${ms(s.busyUs)} ms busy (${((100 * s.busyUs) / Math.max(1, s.sampledUs)).toFixed(0)}%), ${ms(s.idleUs)} ms idle`);
  if (per) lines.push(`${s.requests} requests in the window: ${s.busyUsPerReq?.toFixed(1)} µs of sampled CPU per request (figures below are µs per request)`);
  lines.push('');
  lines.push(`top ${top} functions by self time (${unit}; share of busy time)`);
  lines.push(`  ${pad('self', 7)} ${pad('total', 7)} ${pad('self%', 6)} ${pad('function', 40)} ${pad('area', 22)} location`);
  for (const f of s.topSelf.slice(0, top)) lines.push(`  ${pad(num(f.selfUsPerReq, f.selfPct), 7)} ${pad(num(f.totalUsPerReq, f.totalPct), 7)} ${pad(f.selfPct.toFixed(1), 6)} ${pad(f.name, 40)} ${pad(f.area, 22)} ${f.location}`);
  lines.push('');
  lines.push(`top ${top} JavaScript functions by inclusive time (${unit}; node: internals excluded)`);
  lines.push(`  ${pad('total', 7)} ${pad('self', 7)} ${pad('function', 40)} location`);
  for (const f of s.topTotal.slice(0, top)) lines.push(`  ${pad(num(f.totalUsPerReq, f.totalPct), 7)} ${pad(num(f.selfUsPerReq, f.selfPct), 7)} ${pad(f.name, 40)} ${f.location}`);
  lines.push('');
  lines.push(`self time by area (${unit}; share)`);
  for (const a of s.byArea) lines.push(`  ${pad(num(a.usPerReq, a.pct), 7)} ${pad(a.pct.toFixed(1) + '%', 6)} ${a.area}`);
  lines.push('');
  lines.push(`self time by file (${unit}; share)`);
  for (const f of s.byFile.slice(0, top)) lines.push(`  ${pad(num(f.usPerReq, f.pct), 7)} ${pad(f.pct.toFixed(1) + '%', 6)} ${f.file}`);
  return lines.join('\n');
}

/** Two profiles side by side by area, in µs per request: where one spends more than the other. */
export function compareAreas(a: ProfileSummary, b: ProfileSummary, labels: [string, string]): string {
  const get = (s: ProfileSummary) => new Map(s.byArea.map((x) => [x.area, x.usPerReq ?? x.pct]));
  const ma = get(a);
  const mb = get(b);
  const areas = [...new Set([...ma.keys(), ...mb.keys()])].sort((x, y) => (ma.get(y) ?? 0) - (mb.get(y) ?? 0) - ((ma.get(x) ?? 0) - (mb.get(x) ?? 0)));
  const lines = [`self time by area, µs per request: ${labels[0]} vs ${labels[1]}`, `  ${pad(labels[0], 10)} ${pad(labels[1], 10)} ${pad('diff', 8)} area`];
  lines.push(`  ${pad((a.busyUsPerReq ?? 0).toFixed(2), 10)} ${pad((b.busyUsPerReq ?? 0).toFixed(2), 10)} ${pad(((a.busyUsPerReq ?? 0) - (b.busyUsPerReq ?? 0)).toFixed(2), 8)} (all busy time)`);
  for (const area of areas) {
    const x = ma.get(area) ?? 0;
    const y = mb.get(area) ?? 0;
    lines.push(`  ${pad(x.toFixed(2), 10)} ${pad(y.toFixed(2), 10)} ${pad((x - y >= 0 ? '+' : '') + (x - y).toFixed(2), 8)} ${area}`);
  }
  return lines.join('\n');
}

if (import.meta.main) {
  const { parseArgs } = await import('node:util');
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' }, json: { type: 'boolean' }, 'skip-ms': { type: 'string' } } });
  if (positionals.length === 0) {
    console.error('usage: node bench/profile-summary.ts FILE.cpuprofile [--top N] [--skip-ms N] [--json]');
    process.exit(2);
  }
  const top = Number(values.top);
  for (const file of positionals) {
    let window: { fromUs: number; toUs: number } | undefined;
    if (values['skip-ms']) {
      const start = (JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile).startTime;
      window = { fromUs: start + Number(values['skip-ms']) * 1000, toUs: Infinity };
    }
    const s = summarise(file, top, window);
    console.log(values.json ? JSON.stringify(s, null, 2) : formatSummary(s, top));
  }
}
