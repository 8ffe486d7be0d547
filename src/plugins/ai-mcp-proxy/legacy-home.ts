/**
 * Where a legacy HTTP+SSE upstream lives on a node of many workers. Its session is one stream,
 * held by the worker that opened it (the session's "home"), while the client's requests reach
 * any worker (session.ts). The home serves the others on a loopback listener of its own, opened
 * on first use and named in the session's shared copy (port and a random token, so no other
 * local process can use it):
 *   POST   /s/{session}  an exchange (ExchangeRequest as JSON): the upstream's messages for it as
 *                       SSE `message` events, then one `end` event with the ExchangeEnd;
 *   GET    /s/{session}  the server's unrelated messages (the client's GET stream), as SSE;
 *   DELETE /s/{session}  the session ended on another worker: the stream closes here too.
 * Governance, logging and the client's answer stay on the worker that took the client's request;
 * the home only moves upstream messages. A home that is gone (its worker died) is a session gone.
 */
import http from 'node:http';
import { once } from 'node:events';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Agent, request } from '../../util/undici.ts';
import { sseEvents } from './transport.ts';
import type { ExchangeEnd, ExchangeRequest, LegacyLink, TextSink } from './legacy-sse.ts';
import { sessions, type McpSession } from './session.ts';

const TOKEN_HEADER = 'x-modelgate-mcp-home';
/** A forwarded exchange carries one client message, already within the route's body limit; this bounds the home's reading. */
const MAX_EXCHANGE_BYTES = 64 * 1024 * 1024;
const DELETE_TIMEOUT_MS = 2000;

interface Held {
  session: McpSession;
  link: LegacyLink;
}

/** The legacy links this worker holds, by gateway session id. */
const held = new Map<string, Held>();
let home: Promise<{ port: number; token: string }> | null = null;
let mine: { port: number; token: string } | null = null;
/** Between workers of one node on loopback: not an egress, so not the egress policy's agent. */
const agent = new Agent({ headersTimeout: 0, bodyTimeout: 0 });

export function holdLink(s: McpSession, link: LegacyLink): void {
  held.set(s.id, { session: s, link });
}

/** Forgets the session's link on this worker; the link, if it was held here. */
export function releaseLink(id: string): LegacyLink | null {
  const h = held.get(id);
  held.delete(id);
  return h?.link ?? null;
}

/** The session's link: held here, or reached at its home; null when neither (its home was this worker and it is gone). */
export function linkOf(s: McpSession): LegacyLink | null {
  const h = held.get(s.id);
  if (h) return h.link;
  if (s.home === null || (mine !== null && s.home.port === mine.port)) return null;
  return new RemoteLink(s.home, s.id);
}

/** This worker's loopback listener for the others, started on first use. */
export function homeAddress(): Promise<{ port: number; token: string }> {
  home ??= new Promise((resolve, reject) => {
    const token = randomBytes(24).toString('base64url');
    const server = http.createServer((req, res) => void serve(req, res, token));
    server.once('error', reject);
    // exclusive: a cluster worker's listen(0) is otherwise the primary's one port, shared by every worker
    server.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () => {
      server.unref();
      mine = { port: (server.address() as AddressInfo).port, token };
      resolve(mine);
    });
  });
  return home;
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

async function serve(req: http.IncomingMessage, res: http.ServerResponse, token: string): Promise<void> {
  const given = req.headers[TOKEN_HEADER];
  if (typeof given !== 'string' || !sameToken(given, token)) return void res.writeHead(403).end();
  const m = /^\/s\/([A-Za-z0-9_-]{1,100})$/.exec(req.url ?? '');
  const h = m ? held.get(m[1]) : undefined;
  if (!h) return void res.writeHead(404).end();
  // the home's copy is in use, whichever worker took the request: its idle sweep must not end it
  h.session.lastUsedAt = Date.now();
  if (req.method === 'DELETE') {
    sessions.close(h.session, 'elsewhere');
    return void res.writeHead(200).end();
  }
  const abort = new AbortController();
  res.on('close', () => abort.abort());
  const write = async (event: string, data: string): Promise<void> => {
    if (res.destroyed || res.writableEnded) return;
    // a message the server wrote over several data lines keeps them (the SSE parser joins them with newlines)
    const frame = `event: ${event}\n${data.split('\n').map((l) => `data: ${l}\n`).join('')}\n`;
    if (!res.write(frame)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
  };
  if (req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'text/event-stream' }).flushHeaders();
    await h.link.listen((text) => write('message', text), abort.signal);
    return void res.end();
  }
  if (req.method !== 'POST') return void res.writeHead(405).end();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_EXCHANGE_BYTES) return void res.writeHead(413).end();
    chunks.push(c as Buffer);
  }
  let er: ExchangeRequest;
  try {
    er = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ExchangeRequest;
  } catch {
    return void res.writeHead(400).end();
  }
  res.writeHead(200, { 'content-type': 'text/event-stream' }).flushHeaders();
  const end = await h.link.exchange(er, (text) => write('message', text), abort.signal);
  await write('end', JSON.stringify(end));
  res.end();
}

/** A session's link held by another worker of the node, reached on its loopback listener. */
class RemoteLink implements LegacyLink {
  readonly #url: string;
  readonly #token: string;

  constructor(at: { port: number; token: string }, sessionId: string) {
    this.#url = `http://127.0.0.1:${at.port}/s/${sessionId}`;
    this.#token = at.token;
  }

  async exchange(req: ExchangeRequest, sink: TextSink, signal: AbortSignal): Promise<ExchangeEnd> {
    try {
      const r = await request(this.#url, { method: 'POST', headers: { [TOKEN_HEADER]: this.#token, 'content-type': 'application/json' }, body: JSON.stringify(req), signal, dispatcher: agent });
      if (r.statusCode !== 200) {
        await r.body.dump();
        return { kind: 'closed' }; // the home holds the session no more
      }
      for await (const e of sseEvents(r.body)) {
        if (e.event === 'end') return JSON.parse(e.data) as ExchangeEnd;
        await sink(e.data);
      }
      return { kind: 'gone' };
    } catch {
      return signal.aborted ? { kind: 'aborted' } : { kind: 'gone' };
    }
  }

  async listen(sink: TextSink, signal: AbortSignal): Promise<void> {
    try {
      const r = await request(this.#url, { method: 'GET', headers: { [TOKEN_HEADER]: this.#token }, signal, dispatcher: agent });
      if (r.statusCode !== 200) return void (await r.body.dump());
      for await (const e of sseEvents(r.body)) await sink(e.data);
    } catch {
      // the home went away, or the client did
    }
  }

  close(): void {
    request(this.#url, { method: 'DELETE', headers: { [TOKEN_HEADER]: this.#token }, signal: AbortSignal.timeout(DELETE_TIMEOUT_MS), dispatcher: agent })
      .then((r) => r.body.dump())
      .catch(() => {});
  }
}
