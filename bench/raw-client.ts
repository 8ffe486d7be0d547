/**
 * The benchmark's raw HTTP/1.1 client: keep-alive sockets writing prebuilt request bytes and timing
 * answers with `process.hrtime`, so it adds as little as possible to the latencies it measures
 * (autocannon measures throughput; latency in microseconds needs a client with no framework).
 *
 *   serial   one request at a time on one connection: the added latency of a hop, in µs.
 *   stream   one streamed request at a time: time to first SSE event and to the end of the stream.
 *   paced    an open-loop load at a fixed request rate over a pool of connections: p50/p99 below
 *            saturation, measured from the moment each request was due (queueing counts).
 */
import net from 'node:net';
import { Http1Parser } from './http1.ts';

export interface RequestSpec {
  port: number;
  path: string;
  headers: Record<string, string>;
  body: Buffer;
}

/** The bytes of one POST; built once and written as is for every request. */
export function buildRequest(spec: RequestSpec): Buffer {
  let head = `POST ${spec.path} HTTP/1.1\r\nHost: 127.0.0.1:${spec.port}\r\nConnection: keep-alive\r\nContent-Type: application/json\r\nContent-Length: ${spec.body.length}\r\n`;
  for (const [k, v] of Object.entries(spec.headers)) head += `${k}: ${v}\r\n`;
  return Buffer.concat([Buffer.from(`${head}\r\n`), spec.body]);
}

export interface Exchange {
  status: number;
  /** ns (hrtime.bigint as number) when the request was written. */
  sentAt: number;
  /** ns when the status line and headers were complete. */
  headAt: number;
  /** ns when the first body bytes containing `data:` (or, for non-SSE, any body byte) arrived; 0 if none. */
  firstDataAt: number;
  endAt: number;
  bytes: number;
  /** Number of `data:` occurrences in the body (SSE events); counted only when asked. */
  events: number;
  sawDone: boolean;
}

const now = (): number => Number(process.hrtime.bigint());
const DATA = Buffer.from('data:');
const DONE = Buffer.from('[DONE]');

/** One keep-alive connection, one request at a time. */
export class RawConnection {
  readonly #port: number;
  #socket: net.Socket | null = null;
  #current: { x: Exchange; countEvents: boolean; resolve: (x: Exchange) => void; reject: (e: Error) => void } | null = null;
  #connecting: Promise<void> | null = null;
  #timer: NodeJS.Timeout | undefined;

  constructor(port: number) {
    this.#port = port;
  }

  get busy(): boolean {
    return this.#current !== null;
  }

  #connect(): Promise<void> {
    if (this.#socket && !this.#socket.destroyed) return Promise.resolve();
    this.#connecting ??= new Promise<void>((resolve, reject) => {
      const socket = net.connect({ port: this.#port, host: '127.0.0.1', noDelay: true });
      const parser = new Http1Parser('response', {
        onHead: (h) => {
          const c = this.#current;
          if (!c) return;
          c.x.status = h.status;
          c.x.headAt = now();
        },
        onBody: (chunk) => {
          const c = this.#current;
          if (!c) return;
          c.x.bytes += chunk.length;
          if (c.x.firstDataAt === 0 && (!c.countEvents || chunk.includes(DATA))) c.x.firstDataAt = now();
          if (c.countEvents) {
            let i = -1;
            while ((i = chunk.indexOf(DATA, i + 1)) !== -1) c.x.events++;
            if (!c.x.sawDone && chunk.includes(DONE)) c.x.sawDone = true;
          }
        },
        onEnd: () => {
          const c = this.#current;
          if (!c) return;
          c.x.endAt = now();
          this.#current = null;
          clearTimeout(this.#timer);
          c.resolve(c.x);
        },
      });
      socket.once('connect', () => {
        this.#connecting = null;
        resolve();
      });
      socket.on('data', (d: Buffer) => {
        try {
          parser.execute(d);
        } catch (e) {
          socket.destroy(e as Error);
        }
      });
      const gone = (err?: Error) => {
        this.#connecting = null;
        if (this.#socket === socket) this.#socket = null;
        const c = this.#current;
        if (c) {
          parser.finish(); // ends an until-close body (resolves it) if that is what was cut
          if (this.#current === c) {
            this.#current = null;
            c.reject(err ?? new Error('connection closed before the answer completed'));
          }
        }
        reject(err ?? new Error('connection closed'));
      };
      socket.on('error', (e) => gone(e));
      socket.on('close', () => gone());
      this.#socket = socket;
    });
    return this.#connecting;
  }

  /** Sends the prebuilt request and resolves when the answer is complete (or fails after `timeoutMs`). */
  async send(request: Buffer, countEvents = false, dueAt = 0, timeoutMs = 30_000): Promise<Exchange> {
    if (this.#current) throw new Error('connection busy');
    const x: Exchange = { status: 0, sentAt: 0, headAt: 0, firstDataAt: 0, endAt: 0, bytes: 0, events: 0, sawDone: false };
    const done = new Promise<Exchange>((resolve, reject) => {
      this.#current = { x, countEvents, resolve, reject };
    });
    done.catch(() => {}); // a failed connect rejects both; the caller sees the connect error
    try {
      await this.#connect();
    } catch (e) {
      this.#current = null;
      throw e;
    }
    x.sentAt = dueAt || now();
    const socket = this.#socket!;
    this.#timer = setTimeout(() => socket.destroy(new Error(`no complete answer within ${timeoutMs} ms`)), timeoutMs);
    socket.write(request);
    return done;
  }

  close(): void {
    this.#socket?.destroy();
    this.#socket = null;
  }
}

export interface Counts {
  ok: number;
  non2xx: number;
  errors: number;
}

/** Sorted-array percentile (nearest rank). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export interface SerialResult extends Counts {
  /** µs */
  p50: number;
  p90: number;
  p99: number;
  mean: number;
}

/** `count` requests one after the other on one connection; latency percentiles in µs. */
export async function serial(port: number, request: Buffer, count: number): Promise<SerialResult> {
  const conn = new RawConnection(port);
  const lat = new Float64Array(count);
  let n = 0;
  const counts: Counts = { ok: 0, non2xx: 0, errors: 0 };
  for (let i = 0; i < count; i++) {
    try {
      const x = await conn.send(request);
      if (x.status >= 200 && x.status < 300) {
        counts.ok++;
        lat[n++] = (x.endAt - x.sentAt) / 1000;
      } else counts.non2xx++;
    } catch {
      counts.errors++;
    }
  }
  conn.close();
  const sorted = lat.subarray(0, n).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return { ...counts, p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), mean: n ? sum / n : NaN };
}

export interface StreamResult extends Counts {
  /** ms, medians over the streams of the run */
  ttfb: number;
  ttfbP90: number;
  total: number;
  /** SSE `data:` events per stream (median) and streams that ended with `[DONE]`. */
  events: number;
  complete: number;
  /** Events per second after the first one (median over streams): how fast chunks flow through. */
  chunksPerSec: number;
}

/**
 * `count` streamed requests over `concurrency` connections, each connection running its streams
 * one after the other; connection i starts `staggerMs * i` later so the streams do not all begin
 * in the same instant.
 */
export async function streams(port: number, request: Buffer, count: number, concurrency = 1, staggerMs = 0): Promise<StreamResult> {
  const ttfb: number[] = [];
  const total: number[] = [];
  const events: number[] = [];
  const rates: number[] = [];
  const counts: Counts = { ok: 0, non2xx: 0, errors: 0 };
  let complete = 0;
  let next = 0;
  const worker = async (i: number) => {
    if (staggerMs > 0 && i > 0) await new Promise((r) => setTimeout(r, staggerMs * i));
    const conn = new RawConnection(port);
    while (next < count) {
      next++;
      try {
        const x = await conn.send(request, true);
        if (x.status >= 200 && x.status < 300) {
          counts.ok++;
          ttfb.push((x.firstDataAt - x.sentAt) / 1e6);
          total.push((x.endAt - x.sentAt) / 1e6);
          events.push(x.events);
          if (x.events > 1 && x.endAt > x.firstDataAt) rates.push((x.events - 1) / ((x.endAt - x.firstDataAt) / 1e9));
          if (x.sawDone) complete++;
        } else counts.non2xx++;
      } catch {
        counts.errors++;
      }
    }
    conn.close();
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, (_, i) => worker(i)));
  const sorted = (a: number[]) => [...a].sort((p, q) => p - q);
  return { ...counts, ttfb: percentile(sorted(ttfb), 50), ttfbP90: percentile(sorted(ttfb), 90), total: percentile(sorted(total), 50), events: percentile(sorted(events), 50), complete, chunksPerSec: percentile(sorted(rates), 50) };
}

export interface PacedResult extends Counts {
  /** requests actually completed per second */
  rps: number;
  /** µs, from the moment each request was due */
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** requests that had to wait for a free connection */
  queued: number;
}

/**
 * Open-loop load: `rate` requests per second for `durationMs`, each sent when due on a free
 * connection of a pool of `connections` (opened up front). A 1 ms timer releases the requests that
 * became due; latency is measured from when a request was sent, or from when it was due if it had
 * to wait for a connection (timer lateness is not charged to the target, queueing is).
 */
export async function paced(port: number, request: Buffer, rate: number, durationMs: number, connections: number): Promise<PacedResult> {
  const pool: RawConnection[] = [];
  for (let i = 0; i < connections; i++) pool.push(new RawConnection(port));
  // open every connection before the clock starts
  await Promise.all(pool.map((c) => c.send(request).catch(() => null)));
  const idle = [...pool];
  const backlog: number[] = []; // due times (ns) of requests waiting for a connection
  const lat: number[] = [];
  const counts: Counts = { ok: 0, non2xx: 0, errors: 0 };
  let queued = 0;
  const total = Math.round((rate * durationMs) / 1000);
  const interval = 1e9 / rate;
  const start = now();
  let issued = 0;
  let finished = 0;

  return new Promise<PacedResult>((resolve) => {
    const fire = (conn: RawConnection, dueAt: number) => {
      conn.send(request, false, dueAt).then(
        (x) => {
          if (x.status >= 200 && x.status < 300) {
            counts.ok++;
            lat.push((x.endAt - x.sentAt) / 1000);
          } else counts.non2xx++;
          release(conn);
        },
        () => {
          counts.errors++;
          release(conn);
        },
      );
    };
    const release = (conn: RawConnection) => {
      finished++;
      const due = backlog.shift();
      if (due !== undefined) fire(conn, due);
      else idle.push(conn);
      if (finished === total) done();
    };
    const tick = () => {
      const t = now();
      const due = Math.min(total, Math.floor((t - start) / interval) + 1);
      while (issued < due) {
        issued++;
        const conn = idle.pop();
        if (conn) fire(conn, 0);
        else {
          queued++;
          backlog.push(start + (issued - 1) * interval);
        }
      }
      if (issued >= total) clearInterval(timer);
    };
    const timer = setInterval(tick, 1);
    // bounded: whatever has not answered 10 s after the end counts as an error
    const guard = setTimeout(() => {
      counts.errors += total - finished;
      finished = total;
      done();
    }, durationMs + 10_000);
    tick();
    let resolved = false;
    const done = () => {
      if (resolved) return;
      resolved = true;
      clearInterval(timer);
      clearTimeout(guard);
      const elapsed = (now() - start) / 1e9;
      for (const c of pool) c.close();
      lat.sort((a, b) => a - b);
      resolve({ ...counts, rps: finished / elapsed, p50: percentile(lat, 50), p90: percentile(lat, 90), p99: percentile(lat, 99), max: lat.length ? lat[lat.length - 1] : NaN, queued });
    };
    if (total === 0) done();
  });
}
