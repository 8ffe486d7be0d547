/**
 * The gateway's MCP sessions. A client initializes through the gateway and gets the gateway's own
 * `Mcp-Session-Id`; the upstream's session id never leaves the gateway. A session belongs to the
 * consumer that opened it (another consumer presenting its id is told it does not exist) and to
 * its route, ends when the client DELETEs it, when it is unused for `idle_timeout`, when it is
 * older than `session_ttl`, or when its upstream stalls or goes away.
 *
 * Where sessions live: in each worker's memory (bounded by `max_sessions`), written through to
 * the node's shared cache (`src/state/`, held by the primary) so the next request of a session
 * may land on any worker of the node. What the shared copy carries is only what another worker
 * needs to go on (ids, owner, protocol version); in-flight requests belong to the worker serving them.
 */
import { randomBytes } from 'node:crypto';
import { cacheStore } from '../../state/index.ts';
import type { CacheStore } from '../../state/types.ts';

export interface SessionLimits {
  idleMs: number;
  ttlMs: number;
  maxSessions: number;
}

/** `elsewhere`: another worker of the node closed it (its shared copy is gone); that worker did what closing takes. */
export type CloseReason = 'client' | 'idle' | 'expired' | 'upstream_timeout' | 'upstream_gone' | 'upstream_not_found' | 'evicted' | 'elsewhere';

export interface McpSession {
  readonly id: string;
  readonly routeId: string;
  /** The consumer id that opened it, or null (a route without authentication). */
  readonly owner: string | null;
  readonly createdAt: number;
  lastUsedAt: number;
  /** When the shared copy was last refreshed (Date.now()). */
  sharedAt: number;
  upstreamSessionId: string | null;
  /** The protocol version the initialize answer settled on. */
  protocolVersion: string | null;
  /**
   * A legacy HTTP+SSE upstream's stream is one connection, held by the worker that opened it:
   * that worker's loopback address for the others (legacy-home.ts), else null.
   */
  home: { port: number; token: string } | null;
  readonly limits: SessionLimits;
  closed: CloseReason | null;
  /** This worker's upstream requests for the session, aborted when it closes. */
  readonly inflight: Set<AbortController>;
  /** What a mode keeps per session (a legacy SSE upstream's connection), by the mode's key. */
  readonly extra: Map<string, unknown>;
}

interface SharedCopy {
  r: string;
  o: string | null;
  c: number;
  u: string | null;
  v: string | null;
  h?: { p: number; k: string } | null;
  i: number;
  t: number;
  m: number;
}

type CloseListener = (s: McpSession, reason: CloseReason) => void;

const SWEEP_INTERVAL_MS = 30_000;

export class SessionTable {
  readonly #local = new Map<string, McpSession>();
  readonly #listeners: CloseListener[] = [];
  #sweeper: NodeJS.Timeout | null = null;
  readonly #shared: CacheStore;

  constructor(namespace = 'ai-mcp-proxy') {
    this.#shared = cacheStore('local', namespace);
  }

  get size(): number {
    return this.#local.size;
  }

  /** Told of every closed session (the passthrough ends it upstream). */
  onClose(fn: CloseListener): void {
    this.#listeners.push(fn);
  }

  /** A new session, or null when `maxSessions` are open on this worker and none has expired. */
  create(routeId: string, owner: string | null, limits: SessionLimits): McpSession | null {
    if (this.#local.size >= limits.maxSessions) this.sweep();
    if (this.#local.size >= limits.maxSessions) return null;
    const now = Date.now();
    const s: McpSession = {
      id: randomBytes(24).toString('base64url'),
      routeId,
      owner,
      createdAt: now,
      lastUsedAt: now,
      sharedAt: 0,
      upstreamSessionId: null,
      protocolVersion: null,
      home: null,
      limits,
      closed: null,
      inflight: new Set(),
      extra: new Map(),
    };
    this.#local.set(s.id, s);
    this.#startSweeper();
    return s;
  }

  /** Writes the session where the node's other workers find it. */
  async share(s: McpSession): Promise<void> {
    if (s.closed) return;
    s.sharedAt = Date.now();
    const copy: SharedCopy = { r: s.routeId, o: s.owner, c: s.createdAt, u: s.upstreamSessionId, v: s.protocolVersion, h: s.home ? { p: s.home.port, k: s.home.token } : null, i: s.limits.idleMs, t: s.limits.ttlMs, m: s.limits.maxSessions };
    try {
      await this.#shared.set(s.id, JSON.stringify(copy), Math.max(1, Math.min(s.limits.idleMs, s.createdAt + s.limits.ttlMs - s.sharedAt)));
    } catch {
      // no shared state in this process (a unit test), or the store refused: this worker still has it
    }
  }

  /**
   * The session for this id on this route and for this consumer, or null (unknown, expired,
   * closed, another route's or another consumer's: the client is told 404 in every case).
   */
  async find(id: string, routeId: string, owner: string | null): Promise<McpSession | null> {
    let s = this.#local.get(id) ?? null;
    if (s === null) s = await this.#adopt(id);
    else if (!(await this.#stillShared(s))) {
      // closed by another worker (a DELETE, a stalled server): this copy goes too
      this.close(s, 'elsewhere');
      return null;
    }
    if (s === null) return null;
    const now = Date.now();
    const expired = now - s.lastUsedAt > s.limits.idleMs ? 'idle' : now - s.createdAt > s.limits.ttlMs ? 'expired' : null;
    if (expired) {
      this.close(s, expired);
      return null;
    }
    if (s.routeId !== routeId || s.owner !== owner) return null;
    s.lastUsedAt = now;
    // the shared copy's lifetime is the idle timeout: refreshed a few times per idle period, not per request
    if (now - s.sharedAt > s.limits.idleMs / 4) void this.share(s);
    return s;
  }

  /** Whether the node still holds the session: one round trip to the primary per request, the price of any worker serving any session. */
  async #stillShared(s: McpSession): Promise<boolean> {
    if (s.sharedAt === 0) return true; // not shared yet (its initialize is under way)
    try {
      return (await this.#shared.get(s.id)) !== null;
    } catch {
      return true; // no shared state in this process: this worker's copy is the only one
    }
  }

  async #adopt(id: string): Promise<McpSession | null> {
    let text: string | null = null;
    try {
      text = await this.#shared.get(id);
    } catch {
      return null;
    }
    if (text === null) return null;
    let c: SharedCopy;
    try {
      c = JSON.parse(text) as SharedCopy;
    } catch {
      return null;
    }
    const again = this.#local.get(id); // another request of the session adopted it meanwhile
    if (again) return again;
    const now = Date.now();
    const s: McpSession = {
      id,
      routeId: c.r,
      owner: c.o,
      createdAt: c.c,
      lastUsedAt: now,
      sharedAt: now,
      upstreamSessionId: c.u,
      protocolVersion: c.v,
      home: c.h ? { port: c.h.p, token: c.h.k } : null,
      limits: { idleMs: c.i, ttlMs: c.t, maxSessions: c.m },
      closed: null,
      inflight: new Set(),
      extra: new Map(),
    };
    this.#local.set(id, s);
    this.#startSweeper();
    return s;
  }

  /** Ends the session here and node-wide: its in-flight upstream requests are aborted, listeners told. */
  close(s: McpSession, reason: CloseReason): void {
    if (s.closed) return;
    s.closed = reason;
    this.#local.delete(s.id);
    if (reason !== 'elsewhere') {
      try {
        this.#shared.delete(s.id).catch(() => {});
      } catch {
        // no shared state in this process: nothing shared to delete
      }
    }
    for (const a of s.inflight) a.abort(new Error(`MCP session closed (${reason})`));
    s.inflight.clear();
    for (const fn of this.#listeners) {
      try {
        fn(s, reason);
      } catch {
        // a listener's fault must not keep the session open
      }
    }
    if (this.#local.size === 0) this.#stopSweeper();
  }

  /** Closes every session past its idle time or lifetime. */
  sweep(now = Date.now()): void {
    for (const s of [...this.#local.values()]) {
      if (now - s.lastUsedAt > s.limits.idleMs) this.close(s, 'idle');
      else if (now - s.createdAt > s.limits.ttlMs) this.close(s, 'expired');
    }
  }

  /** Closes every session (worker shutdown, tests). */
  closeAll(reason: CloseReason = 'evicted'): void {
    for (const s of [...this.#local.values()]) this.close(s, reason);
  }

  #startSweeper(): void {
    if (this.#sweeper !== null) return;
    this.#sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.#sweeper.unref();
  }

  #stopSweeper(): void {
    if (this.#sweeper === null) return;
    clearInterval(this.#sweeper);
    this.#sweeper = null;
  }
}

/** The worker's one table: sessions outlive configuration snapshots (a config change must not drop them). */
export const sessions = new SessionTable();
