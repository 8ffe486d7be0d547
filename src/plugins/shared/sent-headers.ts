/**
 * The response headers the client actually received, for the log serializer (Kong's
 * `response.headers`, from `ngx.resp.get_headers()`): names lower-cased, a repeated header as an
 * array.
 *
 * Read from the header block Node wrote (`res._header`), once, in the log phase. `getHeaders()`
 * is no substitute: it knows only headers set with `setHeader` (an answer written with
 * `writeHead(status, headers)` shows `{}`) and never the ones Node adds itself (Date, Connection,
 * Keep-Alive, Transfer-Encoding). Capturing headers as they are written would cost every request
 * on every route, log plugin or not; this costs only the requests that are logged.
 */
import type { ServerResponse } from 'node:http';

export type SentHeaders = Record<string, string | string[]>;

/** `res._header`: the serialized status line and headers once they went out, else null. */
function headerBlock(res: ServerResponse): string | null | undefined {
  return (res as unknown as { _header?: string | null })._header;
}

export function sentHeaders(res: ServerResponse): SentHeaders {
  const block = headerBlock(res);
  if (typeof block !== 'string') {
    // null: nothing was sent (the client left first). Not a string at all: a Node version without
    // `_header`; what setHeader recorded is the best that is left.
    return block === null ? {} : (res.getHeaders() as SentHeaders);
  }
  return parseHeaderBlock(block);
}

/** Parses `HTTP/1.1 200 OK\r\nName: value\r\n...\r\n\r\n` (Node never folds lines). */
export function parseHeaderBlock(block: string): SentHeaders {
  const out: SentHeaders = {};
  let start = block.indexOf('\r\n') + 2; // past the status line
  if (start === 1) return out;
  while (start < block.length) {
    const end = block.indexOf('\r\n', start);
    const stop = end === -1 ? block.length : end;
    if (stop === start) break; // the blank line that ends the block
    const colon = block.indexOf(':', start);
    if (colon !== -1 && colon < stop) {
      const name = block.slice(start, colon).trim().toLowerCase();
      const value = block.slice(colon + 1, stop).trim();
      const prev = out[name];
      out[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
    }
    start = stop + 2;
  }
  return out;
}
