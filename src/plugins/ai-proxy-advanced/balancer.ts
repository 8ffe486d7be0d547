/**
 * Picking a target for each attempt, and remembering how targets behave.
 *
 * - Algorithms (Kong's names): weighted round-robin (nginx's smooth variant: an even spread, no
 *   bursts), consistent-hashing (a weighted ring of `slots` points, keyed by a header, the
 *   consumer or the client address), lowest-latency (EWMA of time per output token or of the
 *   whole answer), lowest-usage (tokens or cost served, per unit of weight), priority (the
 *   highest weight group first, round-robin inside it; lower groups only when it has no
 *   candidate left).
 * - Passive health: a circuit breaker per target. `max_fails` failures in a row open it for
 *   `fail_timeout` ms; then one request may probe it (half-open); its success closes the circuit,
 *   its failure opens it again. `max_fails: 0` turns it off (Kong's default).
 * - State lives in each worker process (as Kong's balancer state lives in each nginx worker) and
 *   survives configuration changes that leave the targets as they were.
 */
import type { Algorithm, BalancerConfig } from './schema.ts';

const EWMA_WEIGHT = 0.3;

export interface TargetState {
  readonly index: number;
  readonly weight: number;
  /** Smooth weighted round-robin's running score. */
  current: number;
  failures: number;
  /** Epoch ms until which the circuit is open (0: closed). */
  openUntil: number;
  /** A half-open probe is in flight. */
  probing: boolean;
  /** EWMA of the latency figure the config asks for; null until measured. */
  latency: number | null;
  /** Tokens (or cost) served. */
  usage: number;
}

export interface Outcome {
  ok: boolean;
  /** Whole answer, ms. */
  latencyMs?: number;
  completionTokens?: number;
  /** In the config's `tokens_count_strategy` unit. */
  usage?: number;
}

type Pick = (b: Balancer, pool: TargetState[], hashKey: string | null) => TargetState;

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** nginx's smooth weighted round-robin over the pool. */
function smoothRoundRobin(pool: TargetState[]): TargetState {
  let total = 0;
  let best = pool[0];
  for (const t of pool) {
    t.current += t.weight;
    total += t.weight;
    if (t.current > best.current) best = t;
  }
  best.current -= total;
  return best;
}

const ALGORITHMS: Record<Algorithm, Pick> = {
  'round-robin': (_b, pool) => smoothRoundRobin(pool),
  priority: (_b, pool) => {
    const top = Math.max(...pool.map((t) => t.weight));
    return smoothRoundRobin(pool.filter((t) => t.weight === top));
  },
  'lowest-latency': (_b, pool) => {
    // unmeasured targets first: a new target must get a chance to be measured
    const unmeasured = pool.filter((t) => t.latency === null);
    if (unmeasured.length) return smoothRoundRobin(unmeasured);
    return pool.reduce((a, b) => ((b.latency as number) < (a.latency as number) ? b : a));
  },
  'lowest-usage': (_b, pool) => pool.reduce((a, b) => (b.usage / b.weight < a.usage / a.weight ? b : a)),
  'consistent-hashing': (b, pool, hashKey) => (hashKey === null ? smoothRoundRobin(pool) : b.onRing(fnv1a(hashKey), pool)),
};

export class Balancer {
  readonly targets: TargetState[];
  readonly #config: BalancerConfig;
  /** Sorted ring points (consistent-hashing), built on first use. */
  #ring: { point: number; target: TargetState }[] | null = null;

  constructor(weights: number[], config: BalancerConfig) {
    this.targets = weights.map((weight, index) => ({ index, weight, current: 0, failures: 0, openUntil: 0, probing: false, latency: null, usage: 0 }));
    this.#config = config;
  }

  /** Whether a target may take a request now; claims the half-open probe when it is that time. */
  #available(t: TargetState, now: number): boolean {
    if (t.openUntil === 0) return true;
    if (now < t.openUntil || t.probing) return false;
    return true;
  }

  /**
   * The next target among `eligible` (indices) not yet `tried`, or null when none can be tried
   * now. `blockedUntil` tells, when every candidate's circuit is open, when one will half-open.
   */
  pick(eligible: readonly number[], tried: ReadonlySet<number>, hashKey: string | null, now = Date.now()): { target: TargetState | null; blockedUntil: number } {
    const pool: TargetState[] = [];
    let blockedUntil = Infinity;
    for (const i of eligible) {
      if (tried.has(i)) continue;
      const t = this.targets[i];
      if (this.#available(t, now)) pool.push(t);
      else blockedUntil = Math.min(blockedUntil, t.probing ? now + 1000 : t.openUntil);
    }
    if (!pool.length) return { target: null, blockedUntil };
    const target = ALGORITHMS[this.#config.algorithm](this, pool, hashKey);
    if (target.openUntil !== 0) target.probing = true; // this request is the half-open probe
    return { target, blockedUntil };
  }

  onRing(hash: number, pool: TargetState[]): TargetState {
    const ring = (this.#ring ??= this.#buildRing());
    const allowed = new Set(pool);
    let lo = 0;
    let hi = ring.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ring[mid].point < hash) lo = mid + 1;
      else hi = mid;
    }
    for (let k = 0; k < ring.length; k++) {
      const p = ring[(lo + k) % ring.length];
      if (allowed.has(p.target)) return p.target;
    }
    return pool[0];
  }

  #buildRing(): { point: number; target: TargetState }[] {
    const total = this.targets.reduce((s, t) => s + t.weight, 0);
    const ring: { point: number; target: TargetState }[] = [];
    for (const t of this.targets) {
      const points = Math.max(1, Math.round((this.#config.slots * t.weight) / total));
      for (let v = 0; v < points; v++) ring.push({ point: fnv1a(`${t.index}#${v}`), target: t });
    }
    return ring.sort((a, b) => a.point - b.point);
  }

  report(t: TargetState, outcome: Outcome, now = Date.now()): void {
    t.probing = false;
    if (outcome.ok) {
      t.failures = 0;
      t.openUntil = 0;
      const figure = this.#config.latency_strategy === 'tpot' && outcome.completionTokens ? (outcome.latencyMs ?? 0) / outcome.completionTokens : outcome.latencyMs;
      if (figure !== undefined) t.latency = t.latency === null ? figure : t.latency + EWMA_WEIGHT * (figure - t.latency);
      if (outcome.usage) t.usage += outcome.usage;
      return;
    }
    t.failures++;
    if (this.#config.max_fails > 0 && (t.openUntil !== 0 || t.failures >= this.#config.max_fails)) {
      t.openUntil = now + this.#config.fail_timeout;
      t.failures = 0;
    }
  }
}

/** Balancer state per worker, kept across snapshots whose targets did not change. */
const balancers = new Map<string, Balancer>();

export function balancerFor(key: string, weights: number[], config: BalancerConfig): Balancer {
  let b = balancers.get(key);
  if (!b) {
    if (balancers.size > 1000) balancers.clear();
    b = new Balancer(weights, config);
    balancers.set(key, b);
  }
  return b;
}
