/**
 * Idle timeouts for many short-lived waits (a request body arriving) without a timer each: a
 * watched wait records when it last made progress, and one sweep per timeout length fires the
 * ones idle for longer than the timeout. Arming and touching cost a Set insert and a clock read
 * instead of a timer's list insert and removal per request; the price is precision: a wait fires
 * between `timeoutMs` and `timeoutMs` + a quarter of it (at most one second more) after its last
 * progress.
 */
export interface IdleWatch {
  /** Progress was made: the idle clock starts again. */
  touch(): void;
  /** The wait is over (done or failed): it will not fire. */
  stop(): void;
}

class Entry implements IdleWatch {
  last = performance.now();
  private readonly entries: Set<Entry>;
  readonly onIdle: () => void;

  constructor(entries: Set<Entry>, onIdle: () => void) {
    this.entries = entries;
    this.onIdle = onIdle;
  }

  touch(): void {
    this.last = performance.now();
  }

  stop(): void {
    this.entries.delete(this);
  }
}

class Sweeper {
  readonly #timeoutMs: number;
  readonly #entries = new Set<Entry>();
  #timer: NodeJS.Timeout | null = null;

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  watch(onIdle: () => void): IdleWatch {
    const entry = new Entry(this.#entries, onIdle);
    this.#entries.add(entry);
    if (this.#timer === null) {
      this.#timer = setInterval(() => this.#sweep(), Math.max(1, Math.min(1000, Math.floor(this.#timeoutMs / 4))));
      this.#timer.unref();
    }
    return entry;
  }

  #sweep(): void {
    if (this.#entries.size === 0) {
      clearInterval(this.#timer!);
      this.#timer = null;
      return;
    }
    const now = performance.now();
    for (const entry of this.#entries) {
      if (now - entry.last < this.#timeoutMs) continue;
      this.#entries.delete(entry);
      entry.onIdle();
    }
  }
}

const sweepers = new Map<number, Sweeper>();

/** Calls `onIdle` once if no `touch()` happens for `timeoutMs` (coarsely: see above). */
export function watchIdle(timeoutMs: number, onIdle: () => void): IdleWatch {
  let sweeper = sweepers.get(timeoutMs);
  if (!sweeper) sweepers.set(timeoutMs, (sweeper = new Sweeper(timeoutMs)));
  return sweeper.watch(onIdle);
}
