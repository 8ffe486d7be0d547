/**
 * MCP's older transport, "HTTP with SSE" (modelcontextprotocol.io, revision 2024-11-05,
 * "Transports"), the gateway as the client of a server that speaks only it: the client opens an
 * SSE stream (GET), the server's first event is `endpoint`, a URI the client then POSTs every
 * message to, and everything the server sends (answers, its notifications and requests) comes as
 * `message` events on that one stream. One connection per session, so the gateway must itself
 * match answers to the client POSTs waiting for them:
 * - an answer goes to the exchange waiting for its JSON-RPC id (the client's own ids: a session
 *   is one client, and MCP forbids reusing an id within a session; a second request under way
 *   with an id already waited for is refused, `duplicate`);
 * - `notifications/progress` goes to the exchange that sent its `progressToken`;
 * - the server's other messages (logging, list_changed, its requests) carry no relation on this
 *   transport: they go to the oldest exchange still open (Streamable HTTP lets a server send any
 *   message on a request's stream), else to the client's GET streams, else nowhere (as a
 *   Streamable HTTP server drops what it sends while no GET stream is open).
 * An exchange whose answers stop for `server.timeout` ends `timeout`; the stream ending ends every
 * exchange `gone` and tells the owner (`onGone`). The endpoint must be on the stream's own origin:
 * a server cannot send the gateway, and the credentials it adds, elsewhere.
 */
import { once } from 'node:events';
import { watchIdle, type IdleWatch } from '../../util/idle-watch.ts';
import { isNotification, isResponse, parseUpstream, type RpcId } from './jsonrpc.ts';
import { callUpstream, contentTypeOf, sseEvents, type SseEvent } from './transport.ts';

/** How an exchange ended; what the client is told follows from it (passthrough-legacy.ts). */
export type ExchangeEnd =
  | { kind: 'answered' } // every awaited answer came (requests the client cancelled are not awaited)
  | { kind: 'timeout' }
  | { kind: 'gone' }
  | { kind: 'closed' } // the gateway closed the session meanwhile
  | { kind: 'aborted' } // the client left
  | { kind: 'refused'; status: number } // the server refused the POST
  | { kind: 'duplicate'; id: RpcId };

export interface ExchangeRequest {
  /** The client's message (or batch), as it goes upstream. */
  body: string;
  /** The requests in it whose answers are awaited. */
  wait: RpcId[];
  /** Their progress tokens (`params._meta.progressToken`). */
  tokens: (string | number)[];
  /** The headers of the POST upstream (the gateway's credentials, the client's forwarded headers). */
  headers: Record<string, string | string[]>;
}

/** Receives one upstream message's text, in order; resolves when it has been passed on. */
export type TextSink = (text: string) => Promise<void>;

/** A session's legacy upstream, held on this worker (LegacySseUpstream) or on another (legacy-home.ts). */
export interface LegacyLink {
  exchange(req: ExchangeRequest, sink: TextSink, signal: AbortSignal): Promise<ExchangeEnd>;
  /** The server's unrelated messages until the link closes or `signal` fires. */
  listen(sink: TextSink, signal: AbortSignal): Promise<void>;
  close(): void;
}

interface Pending {
  readonly ids: Set<RpcId>;
  readonly tokens: Set<string | number>;
  readonly sink: TextSink;
  readonly idle: IdleWatch | null;
  finish(end: ExchangeEnd): void;
}

export class LegacySseUpstream implements LegacyLink {
  readonly endpoint: URL;
  readonly #timeoutMs: number;
  readonly #stream: AbortController;
  readonly #onGone: () => void;
  readonly #pending = new Set<Pending>();
  readonly #byId = new Map<RpcId, Pending>();
  readonly #byToken = new Map<string | number, Pending>();
  readonly #listeners = new Set<TextSink>();
  readonly #ended: Promise<void>;
  #end!: () => void;
  #closed = false;

  private constructor(endpoint: URL, timeoutMs: number, stream: AbortController, onGone: () => void) {
    this.endpoint = endpoint;
    this.#timeoutMs = timeoutMs;
    this.#stream = stream;
    this.#onGone = onGone;
    this.#ended = new Promise((r) => (this.#end = r));
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Opens the stream and waits (at most `timeoutMs`) for its `endpoint` event. Rejects with why it could not. */
  static async open(url: string, headers: Record<string, string | string[]>, timeoutMs: number, onGone: () => void): Promise<LegacySseUpstream> {
    const stream = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      stream.abort();
    }, timeoutMs);
    try {
      const answer = await callUpstream({ url, method: 'GET', headers: { ...headers, accept: 'text/event-stream' }, signal: stream.signal });
      if (answer.status !== 200 || contentTypeOf(answer.headers) !== 'text/event-stream') {
        await answer.body.dump();
        throw new Error(`the server answered the stream's GET with HTTP ${answer.status}`);
      }
      const events = sseEvents(answer.body)[Symbol.asyncIterator]();
      let endpoint: URL | null = null;
      while (endpoint === null) {
        const next = await events.next();
        if (next.done) throw new Error('the stream ended before its endpoint event');
        // anything before the endpoint event has no session to belong to
        if (next.value.event === 'endpoint') endpoint = new URL(next.value.data.trim(), url);
      }
      if (endpoint.origin !== new URL(url).origin) throw new Error(`the endpoint event names another origin (${endpoint.origin})`);
      clearTimeout(timer);
      const up = new LegacySseUpstream(endpoint, timeoutMs, stream, onGone);
      void up.#read(events);
      return up;
    } catch (e) {
      clearTimeout(timer);
      stream.abort();
      throw timedOut ? new Error(`no endpoint event within ${timeoutMs} ms`) : e;
    }
  }

  async #read(events: AsyncIterator<SseEvent>): Promise<void> {
    try {
      for (;;) {
        const next = await events.next();
        if (next.done) break;
        const e = next.value;
        if ((e.event !== undefined && e.event !== 'message') || e.data === '') continue;
        await this.#route(e.data);
      }
    } catch {
      // the connection broke, or close() aborted it
    }
    if (this.#closed) return;
    this.#shut({ kind: 'gone' });
    this.#onGone();
  }

  async #route(text: string): Promise<void> {
    const messages = parseUpstream(text);
    if (messages === null) return; // not JSON-RPC: nobody can use it
    let target: Pending | null = null;
    for (const m of messages) {
      if (isResponse(m) && m.id !== null && this.#byId.has(m.id)) target = this.#byId.get(m.id)!;
      else if (isNotification(m) && m.method === 'notifications/progress') {
        const t = m.params?.progressToken;
        if ((typeof t === 'string' || typeof t === 'number') && this.#byToken.has(t)) target = this.#byToken.get(t)!;
      }
      if (target) break;
    }
    if (target === null) {
      if (messages.every(isResponse)) return; // an answer nobody waits for (cancelled, or its client left)
      // the oldest exchange still waiting for an answer (one that only sent notifications expects its 202, no stream)
      for (const p of this.#pending) if (p.ids.size > 0) {
        target = p;
        break;
      }
    }
    if (target === null) {
      for (const l of [...this.#listeners]) await l(text).catch(() => {});
      return;
    }
    target.idle?.touch();
    await target.sink(text).catch(() => {});
    for (const m of messages) if (isResponse(m) && m.id !== null && target.ids.delete(m.id)) this.#byId.delete(m.id);
    if (target.ids.size === 0) target.finish({ kind: 'answered' });
  }

  exchange(req: ExchangeRequest, sink: TextSink, signal: AbortSignal): Promise<ExchangeEnd> {
    if (this.#closed) return Promise.resolve({ kind: 'closed' });
    for (const id of req.wait) if (this.#byId.has(id)) return Promise.resolve({ kind: 'duplicate', id });
    return new Promise<ExchangeEnd>((resolve) => {
      let done = false;
      const onAbort = () => p.finish({ kind: 'aborted' });
      const p: Pending = {
        ids: new Set(req.wait),
        tokens: new Set(req.tokens),
        sink,
        idle: req.wait.length > 0 ? watchIdle(this.#timeoutMs, () => p.finish({ kind: 'timeout' })) : null,
        finish: (end) => {
          if (done) return;
          done = true;
          p.idle?.stop();
          for (const id of p.ids) if (this.#byId.get(id) === p) this.#byId.delete(id);
          for (const t of p.tokens) if (this.#byToken.get(t) === p) this.#byToken.delete(t);
          this.#pending.delete(p);
          signal.removeEventListener('abort', onAbort);
          resolve(end);
        },
      };
      this.#pending.add(p);
      for (const id of p.ids) this.#byId.set(id, p);
      for (const t of p.tokens) this.#byToken.set(t, p);
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      this.#cancellations(req.body);
      // waiters are in place before the message leaves: the answer may come before the POST's 202
      void this.#post(req).then((status) => {
        if (status === null) p.finish({ kind: this.#closed ? 'closed' : 'gone' });
        else if (status >= 400) p.finish({ kind: 'refused', status });
        else if (p.ids.size === 0) p.finish({ kind: 'answered' });
        else p.idle?.touch();
      });
    });
  }

  /** A client's notifications/cancelled: nobody answers the request it names (specification), so nobody waits for it. */
  #cancellations(body: string): void {
    const messages = parseUpstream(body);
    if (!messages) return;
    for (const m of messages) {
      if (!isNotification(m) || m.method !== 'notifications/cancelled') continue;
      const id = m.params?.requestId as RpcId | undefined;
      const p = id === undefined ? undefined : this.#byId.get(id);
      if (!p || id === undefined) continue;
      p.ids.delete(id);
      this.#byId.delete(id);
      if (p.ids.size === 0) p.finish({ kind: 'answered' });
    }
  }

  /** POSTs to the endpoint; the status (202 expected), or null when the server could not be reached. */
  async #post(req: ExchangeRequest): Promise<number | null> {
    try {
      const signal = AbortSignal.any([this.#stream.signal, AbortSignal.timeout(this.#timeoutMs)]);
      const r = await callUpstream({ url: this.endpoint.href, method: 'POST', headers: { ...req.headers, 'content-type': 'application/json' }, body: req.body, signal });
      await r.body.dump();
      return r.status;
    } catch {
      return null;
    }
  }

  async listen(sink: TextSink, signal: AbortSignal): Promise<void> {
    if (this.#closed || signal.aborted) return;
    this.#listeners.add(sink);
    await Promise.race([this.#ended, once(signal, 'abort')]);
    this.#listeners.delete(sink);
  }

  /** Ends the session upstream: on this transport, by closing its stream. */
  close(): void {
    if (this.#closed) return;
    this.#shut({ kind: 'closed' });
    this.#stream.abort();
  }

  #shut(end: ExchangeEnd): void {
    this.#closed = true;
    for (const p of [...this.#pending]) p.finish(end);
    this.#end();
  }
}
