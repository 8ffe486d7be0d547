/**
 * A small incremental HTTP/1.1 message parser for the benchmark's raw client and mock upstream:
 * the head (request or status line plus headers) and the body framing (Content-Length, chunked,
 * or until close for responses). It is deliberately minimal — no pipelining of requests beyond
 * back-to-back messages on one connection, no upgrade — but correct on arbitrary packet splits.
 */

export interface Head {
  /** Requests: the method; responses: ''. */
  method: string;
  /** Requests: the target; responses: ''. */
  url: string;
  /** Responses: the status code; requests: 0. */
  status: number;
  /** Lower-cased header names; repeated headers joined with ', '. */
  headers: Record<string, string>;
}

export interface ParserHandlers {
  onHead(head: Head): void;
  onBody(chunk: Buffer): void;
  onEnd(): void;
}

/** Parser states. */
const S = { Head: 0, Length: 1, ChunkSize: 2, ChunkData: 3, ChunkCrlf: 4, Trailers: 5, UntilClose: 6 } as const;
type State = (typeof S)[keyof typeof S];

const CRLF = Buffer.from('\r\n');
const CRLFCRLF = Buffer.from('\r\n\r\n');
const EMPTY = Buffer.alloc(0);
/** Longest head we accept before declaring the peer broken. */
const MAX_HEAD = 64 * 1024;

export class HttpParseError extends Error {}

export class Http1Parser {
  readonly #kind: 'request' | 'response';
  readonly #h: ParserHandlers;
  #state: State = S.Head;
  #pending: Buffer = EMPTY;
  #remaining = 0;
  /** Responses: set by the client before each request; a HEAD answer has no body. */
  expectNoBody = false;

  constructor(kind: 'request' | 'response', handlers: ParserHandlers) {
    this.#kind = kind;
    this.#h = handlers;
  }

  /** True between a head and the end of its body. */
  get inMessage(): boolean {
    return this.#state !== S.Head;
  }

  /** The connection closed: ends an until-close body; false if a message was cut. */
  finish(): boolean {
    if (this.#state === S.UntilClose) {
      this.#state = S.Head;
      this.#h.onEnd();
      return true;
    }
    return this.#state === S.Head && this.#pending.length === 0;
  }

  execute(data: Buffer): void {
    let buf = this.#pending.length ? Buffer.concat([this.#pending, data]) : data;
    this.#pending = EMPTY;
    let pos = 0;
    while (pos < buf.length) {
      switch (this.#state) {
        case S.Head: {
          const end = buf.indexOf(CRLFCRLF, pos);
          if (end === -1) {
            if (buf.length - pos > MAX_HEAD) throw new HttpParseError('head too large');
            this.#pending = buf.subarray(pos);
            return;
          }
          const head = this.#parseHead(buf.toString('latin1', pos, end));
          pos = end + 4;
          this.#begin(head);
          break;
        }
        case S.Length:
        case S.ChunkData: {
          const n = Math.min(this.#remaining, buf.length - pos);
          this.#h.onBody(buf.subarray(pos, pos + n));
          pos += n;
          this.#remaining -= n;
          if (this.#remaining === 0) {
            if (this.#state === S.Length) this.#end();
            else {
              this.#state = S.ChunkCrlf;
              this.#remaining = 2;
            }
          }
          break;
        }
        case S.ChunkCrlf: {
          const n = Math.min(this.#remaining, buf.length - pos);
          pos += n;
          this.#remaining -= n;
          if (this.#remaining === 0) this.#state = S.ChunkSize;
          break;
        }
        case S.ChunkSize: {
          const eol = buf.indexOf(CRLF, pos);
          if (eol === -1) {
            this.#pending = buf.subarray(pos);
            return;
          }
          const line = buf.toString('latin1', pos, eol);
          pos = eol + 2;
          const size = parseInt(line, 16); // chunk extensions after ';' are ignored by parseInt
          if (!Number.isFinite(size) || size < 0) throw new HttpParseError(`bad chunk size line '${line}'`);
          if (size === 0) this.#state = S.Trailers;
          else {
            this.#state = S.ChunkData;
            this.#remaining = size;
          }
          break;
        }
        case S.Trailers: {
          const eol = buf.indexOf(CRLF, pos);
          if (eol === -1) {
            this.#pending = buf.subarray(pos);
            return;
          }
          const empty = eol === pos;
          pos = eol + 2;
          if (empty) this.#end();
          break;
        }
        case S.UntilClose: {
          this.#h.onBody(buf.subarray(pos));
          pos = buf.length;
          break;
        }
      }
    }
    buf = EMPTY;
  }

  #parseHead(text: string): Head {
    const lines = text.split('\r\n');
    const first = lines[0];
    const head: Head = { method: '', url: '', status: 0, headers: {} };
    if (this.#kind === 'response') {
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(first);
      if (!m) throw new HttpParseError(`bad status line '${first.slice(0, 80)}'`);
      head.status = Number(m[1]);
    } else {
      const sp1 = first.indexOf(' ');
      const sp2 = first.indexOf(' ', sp1 + 1);
      if (sp1 <= 0 || sp2 <= sp1) throw new HttpParseError(`bad request line '${first.slice(0, 80)}'`);
      head.method = first.slice(0, sp1);
      head.url = first.slice(sp1 + 1, sp2);
    }
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i];
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      head.headers[name] = head.headers[name] === undefined ? value : `${head.headers[name]}, ${value}`;
    }
    return head;
  }

  #begin(head: Head): void {
    this.#h.onHead(head);
    const te = head.headers['transfer-encoding'];
    const cl = head.headers['content-length'];
    const noBody = this.#kind === 'response' && (this.expectNoBody || head.status === 204 || head.status === 304 || (head.status >= 100 && head.status < 200));
    if (head.status >= 100 && head.status < 200) return; // interim answer: the real head follows
    if (noBody) return this.#end();
    if (te && /chunked/i.test(te)) {
      this.#state = S.ChunkSize;
    } else if (cl !== undefined) {
      const n = Number(cl);
      if (!Number.isSafeInteger(n) || n < 0) throw new HttpParseError(`bad content-length '${cl}'`);
      if (n === 0) return this.#end();
      this.#state = S.Length;
      this.#remaining = n;
    } else if (this.#kind === 'response') {
      this.#state = S.UntilClose;
    } else {
      this.#end();
    }
  }

  #end(): void {
    this.#state = S.Head;
    this.#remaining = 0;
    this.#h.onEnd();
  }
}
