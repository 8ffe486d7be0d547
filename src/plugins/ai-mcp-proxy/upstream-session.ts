/**
 * The gateway as an MCP client of one upstream server (Streamable HTTP, modelcontextprotocol.io
 * "Transports" and "Lifecycle"), for the `listener` mode: it opens a session of its own
 * (initialize, then notifications/initialized), sends requests with ids of its own and reads
 * their answers whether the server answers with JSON or an SSE stream, hands every other message
 * the server sends on the way (progress, logging, list_changed) to the caller, listens on the
 * session's GET stream, and ends the session with DELETE.
 *
 * The gateway initializes with no client capabilities (no sampling, roots or elicitation), so a
 * conforming server sends it no requests of its own; one that does is not answered.
 */
import { watchIdle } from '../../util/idle-watch.ts';
import { isResponse, parseUpstream, type RpcId, type RpcMessage, type RpcResponse } from './jsonrpc.ts';
import { ACCEPT_BOTH, SESSION_HEADER, VERSION_HEADER, callUpstream, contentTypeOf, headerValue, readCapped, sseEvents } from './transport.ts';

/** The protocol revision the gateway asks its upstreams for (the servers answer with theirs). */
export const UPSTREAM_PROTOCOL_VERSION = '2025-06-18';
/** An upstream's answer is read up to this size (a tools/list, a tool's result). */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;
const DELETE_TIMEOUT_MS = 2000;

export interface UpstreamTarget {
  /** The member's name in logs and errors. */
  name: string;
  url: string;
  /** The gateway's own headers toward this upstream (its credentials), resolved. */
  headers: Record<string, string>;
  /** How long the server may stay silent while a request waits on it (ms). */
  timeoutMs: number;
}

/** Why an upstream request failed: `timeout` (silent too long), `gone` (connection, HTTP error, bad answer), `session` (the server forgot the session). */
export class UpstreamFailure extends Error {
  readonly kind: 'timeout' | 'gone' | 'session' | 'aborted';
  constructor(kind: UpstreamFailure['kind'], message: string) {
    super(message);
    this.kind = kind;
  }
}

export type MessageSink = (m: RpcMessage) => void | Promise<void>;

export class UpstreamSession {
  readonly target: UpstreamTarget;
  sessionId: string | null = null;
  protocolVersion: string | null = null;
  /** What the server said of itself on initialize (capabilities, serverInfo). */
  serverResult: Record<string, unknown> | null = null;
  #nextId = 1;
  readonly #inflight = new Set<AbortController>();
  #closed = false;

  constructor(target: UpstreamTarget, state?: { sessionId: string | null; protocolVersion: string | null }) {
    this.target = target;
    if (state) {
      this.sessionId = state.sessionId;
      this.protocolVersion = state.protocolVersion;
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** A fresh id for a request to this server: the gateway's own, never a client's (two clients' ids could meet here). */
  newId(): RpcId {
    return this.#nextId++;
  }

  #headers(): Record<string, string> {
    const h: Record<string, string> = { ...this.target.headers };
    if (this.sessionId !== null) h[SESSION_HEADER] = this.sessionId;
    if (this.protocolVersion !== null) h[VERSION_HEADER] = this.protocolVersion;
    return h;
  }

  /** initialize, then notifications/initialized: the session is usable once this resolves. */
  async open(clientInfo: { name: string; version: string }): Promise<void> {
    const id = this.newId();
    const r = await this.request(id, 'initialize', { protocolVersion: UPSTREAM_PROTOCOL_VERSION, capabilities: {}, clientInfo }, null, true);
    if (r.error) throw new UpstreamFailure('gone', `initialize refused: ${r.error.message}`);
    const result = (r.result ?? {}) as Record<string, unknown>;
    this.serverResult = result;
    this.protocolVersion = typeof result.protocolVersion === 'string' ? result.protocolVersion : UPSTREAM_PROTOCOL_VERSION;
    await this.notify('notifications/initialized', undefined);
  }

  /**
   * One request; resolves with its answer. Messages the server sends before it (progress,
   * logging, its own notifications) go to `sink` in order. Rejects with an UpstreamFailure.
   */
  async request(id: RpcId, method: string, params: Record<string, unknown> | undefined, sink: MessageSink | null, init = false, signal?: AbortSignal): Promise<RpcResponse> {
    if (this.#closed) throw new UpstreamFailure('session', 'the upstream session is closed');
    const abort = new AbortController();
    let why: UpstreamFailure | null = null;
    const fail = (f: UpstreamFailure) => {
      why ??= f;
      abort.abort();
    };
    const onOuter = () => fail(new UpstreamFailure('aborted', 'the request was cancelled'));
    if (signal?.aborted) onOuter();
    signal?.addEventListener('abort', onOuter);
    const idle = watchIdle(this.target.timeoutMs, () => fail(new UpstreamFailure('timeout', `Request timed out: ${this.target.name} sent nothing for ${this.target.timeoutMs} ms`)));
    this.#inflight.add(abort);
    const message: Record<string, unknown> = { jsonrpc: '2.0', id, method };
    if (params !== undefined) message.params = params;
    try {
      const headers = { ...this.#headers(), 'content-type': 'application/json', accept: ACCEPT_BOTH };
      const answer = await callUpstream({ url: this.target.url, method: 'POST', headers, body: JSON.stringify(message), signal: abort.signal });
      idle.touch();
      if (init) this.sessionId = headerValue(answer.headers, SESSION_HEADER);
      if (answer.status === 404 && !init && this.sessionId !== null) {
        await answer.body.dump();
        this.#closed = true;
        throw new UpstreamFailure('session', `${this.target.name} no longer knows the session`);
      }
      if (answer.status >= 400) {
        await answer.body.dump();
        throw new UpstreamFailure('gone', `${this.target.name} answered HTTP ${answer.status}`);
      }
      const type = contentTypeOf(answer.headers);
      if (type === 'text/event-stream') {
        for await (const e of sseEvents(answer.body, () => idle.touch())) {
          if (e.data === '') continue; // a priming event: an id for resumption, no message
          const found = await this.#deliver(e.data, id, sink);
          if (found) {
            // the answer is in: the server closes the stream itself, the gateway does not wait on it
            answer.body.destroy();
            return found;
          }
        }
        throw new UpstreamFailure('gone', `Connection closed: ${this.target.name} ended its stream without answering`);
      }
      if (type === 'application/json') {
        const text = await readCapped(answer.body, MAX_ANSWER_BYTES, () => idle.touch());
        if (text === null) throw new UpstreamFailure('gone', `${this.target.name} answered more than the gateway reads`);
        const found = await this.#deliver(text.toString('utf8'), id, sink);
        if (found) return found;
      } else await answer.body.dump();
      throw new UpstreamFailure('gone', `${this.target.name} gave no answer to ${method}`);
    } catch (e) {
      if (why !== null) throw why;
      if (e instanceof UpstreamFailure) throw e;
      throw new UpstreamFailure('gone', `Connection closed: ${this.target.name} could not be reached (${(e as Error).message})`);
    } finally {
      idle.stop();
      signal?.removeEventListener('abort', onOuter);
      this.#inflight.delete(abort);
    }
  }

  /** Parses one message (or batch) from the server: the answer to `id` is returned, the rest go to the sink. */
  async #deliver(text: string, id: RpcId, sink: MessageSink | null): Promise<RpcResponse | null> {
    const messages = parseUpstream(text);
    if (messages === null) throw new UpstreamFailure('gone', `${this.target.name} sent something that is not JSON-RPC`);
    let found: RpcResponse | null = null;
    for (const m of messages) {
      if (isResponse(m) && m.id === id) found = m;
      else if (sink !== null) await sink(m);
    }
    return found;
  }

  /** A notification to the server (202 expected; nothing to wait for). */
  async notify(method: string, params: Record<string, unknown> | undefined): Promise<void> {
    if (this.#closed) return;
    const message: Record<string, unknown> = { jsonrpc: '2.0', method };
    if (params !== undefined) message.params = params;
    const headers = { ...this.#headers(), 'content-type': 'application/json', accept: ACCEPT_BOTH };
    try {
      const r = await callUpstream({ url: this.target.url, method: 'POST', headers, body: JSON.stringify(message), signal: AbortSignal.timeout(this.target.timeoutMs) });
      await r.body.dump();
    } catch {
      // a lost notification (cancellation, initialized) is not the client's failure
    }
  }

  /**
   * The session's own stream (GET): the server's notifications as they come, until the server
   * ends it, offers none (405), or `signal` fires. Resolves either way; never rejects.
   */
  async listen(sink: MessageSink, signal: AbortSignal): Promise<'ended' | 'none'> {
    if (this.#closed || this.sessionId === null) return 'none';
    const abort = new AbortController();
    const onOuter = () => abort.abort();
    signal.addEventListener('abort', onOuter);
    this.#inflight.add(abort);
    try {
      const headers = { ...this.#headers(), accept: 'text/event-stream' };
      const answer = await callUpstream({ url: this.target.url, method: 'GET', headers, signal: abort.signal });
      if (answer.status !== 200 || contentTypeOf(answer.headers) !== 'text/event-stream') {
        await answer.body.dump();
        return 'none';
      }
      for await (const e of sseEvents(answer.body)) {
        if (e.data === '') continue;
        const messages = parseUpstream(e.data);
        if (messages) for (const m of messages) await sink(m);
      }
      return 'ended';
    } catch {
      return 'ended';
    } finally {
      signal.removeEventListener('abort', onOuter);
      this.#inflight.delete(abort);
    }
  }

  /** Ends the session: requests under way are aborted, the server is told with DELETE (the specification: clients SHOULD). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const a of this.#inflight) a.abort();
    this.#inflight.clear();
    if (this.sessionId === null) return;
    const headers = this.#headers();
    callUpstream({ url: this.target.url, method: 'DELETE', headers, signal: AbortSignal.timeout(DELETE_TIMEOUT_MS) })
      .then((r) => r.body.dump())
      .catch(() => {});
  }
}
