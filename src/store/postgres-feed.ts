/**
 * The cluster change feed: tells this node when another node changed the configuration.
 * - LISTEN on a dedicated connection (a pooled one would be handed to other queries): every
 *   write NOTIFYs its new version on commit, so nodes hear of it within milliseconds.
 * - Reconnects with backoff when the connection drops (database restart, network), and reports
 *   a change after every reconnect: notifications sent while it was away are lost, so it
 *   re-checks instead.
 * - Polls on a timer as a safety net for anything missed; `onChange` is cheap when nothing
 *   changed (the publisher compares versions before loading anything).
 */
import pg from 'pg';
import type { Logger } from 'pino';
import { CHANGE_CHANNEL } from './postgres.ts';

export interface ChangeFeedOptions {
  config: pg.ClientConfig;
  log: Logger;
  /** Called on a notification, after a reconnect and on every poll. */
  onChange: (reason: 'notify' | 'reconnect' | 'poll') => void;
  pollIntervalMs: number;
  /** First reconnect delay; doubles up to `maxBackoffMs`. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

export class PgChangeFeed {
  readonly #opts: ChangeFeedOptions;
  #client: pg.Client | null = null;
  #stopped = false;
  #connected = false;
  #everConnected = false;
  #backoff: number;
  #reconnectTimer: NodeJS.Timeout | null = null;
  #pollTimer: NodeJS.Timeout | null = null;

  constructor(opts: ChangeFeedOptions) {
    this.#opts = opts;
    this.#backoff = opts.minBackoffMs ?? 100;
  }

  /** Whether the LISTEN connection is up (shown by `GET /status`). */
  get connected(): boolean {
    return this.#connected;
  }

  /** Connects in the background; resolves after the first attempt, whatever its outcome. */
  async start(): Promise<void> {
    this.#pollTimer = setInterval(() => {
      this.#opts.log.trace('change feed: polling the configuration version');
      this.#opts.onChange('poll');
    }, this.#opts.pollIntervalMs);
    this.#pollTimer.unref();
    await this.#connect();
  }

  async #connect(): Promise<void> {
    if (this.#stopped) return;
    const client = new pg.Client(this.#opts.config);
    this.#client = client;
    let lost = false;
    const onLost = (err?: Error) => {
      if (lost || this.#client !== client) return;
      lost = true;
      const wasConnected = this.#connected;
      this.#connected = false;
      this.#client = null;
      client.removeAllListeners('notification');
      client.end().catch(() => {});
      if (this.#stopped) return;
      if (wasConnected) this.#opts.log.warn({ err: err?.message }, 'change feed: lost the PostgreSQL connection; proxies keep serving, reconnecting');
      this.#scheduleReconnect();
    };
    client.on('error', onLost);
    client.on('end', () => onLost());
    client.on('notification', (msg) => {
      if (msg.channel !== CHANGE_CHANNEL) return;
      this.#opts.log.debug({ version: Number(msg.payload) }, 'change feed: a node wrote a new configuration');
      this.#opts.onChange('notify');
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANGE_CHANNEL}`);
    } catch (e) {
      if (!this.#everConnected && !lost) this.#opts.log.warn({ err: (e as Error).message }, 'change feed: cannot reach PostgreSQL; retrying');
      onLost(e as Error);
      return;
    }
    if (this.#stopped) {
      await client.end().catch(() => {});
      return;
    }
    const reconnected = this.#everConnected;
    this.#opts.log.debug('change feed: listening for configuration changes');
    this.#connected = true;
    this.#everConnected = true;
    this.#backoff = this.#opts.minBackoffMs ?? 100;
    if (reconnected) {
      this.#opts.log.info('change feed: reconnected to PostgreSQL; catching up');
      // whatever was notified while we were away is lost: look for ourselves
      this.#opts.onChange('reconnect');
    }
  }

  #scheduleReconnect(): void {
    if (this.#reconnectTimer || this.#stopped) return;
    const delay = this.#backoff;
    this.#backoff = Math.min(this.#backoff * 2, this.#opts.maxBackoffMs ?? 1000);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = null;
      void this.#connect();
    }, delay);
    this.#reconnectTimer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#pollTimer) clearInterval(this.#pollTimer);
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    const c = this.#client;
    this.#client = null;
    this.#connected = false;
    await c?.end().catch(() => {});
  }
}
