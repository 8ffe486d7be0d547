/**
 * Answers for requests node:http's parser rejects before they become requests: a status, a JSON
 * body and `Connection: close`, written raw (there is no ServerResponse for them).
 */
import http from 'node:http';

const ANSWERS: Record<string, [number, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'Request header fields too large'],
  HPE_URI_TOO_LONG: [414, 'Request-URI too long'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request timeout'],
  HPE_HEADERS_TIMEOUT: [408, 'Request timeout'],
};
const REQUEST_LINE_TOO_LONG: [number, string] = [414, 'Request-URI too long'];
const BAD_REQUEST: [number, string] = [400, 'Bad request'];

/** The parser's error, with what node:http adds to it: the bytes being parsed and where it stopped. */
export interface ParserError extends NodeJS.ErrnoException {
  rawPacket?: Buffer;
  bytesParsed?: number;
}

/** The status and message a parser error is answered with. */
export function parserErrorAnswer(err: ParserError): [number, string] {
  if (err.code === 'HPE_HEADER_OVERFLOW' && requestLineOverflowed(err.rawPacket, err.bytesParsed)) return REQUEST_LINE_TOO_LONG;
  return ANSWERS[err.code ?? ''] ?? BAD_REQUEST;
}

export function rawAnswer(status: number, message: string): string {
  const body = JSON.stringify({ message });
  return `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

const LF = 0x0a;
const SP = 0x20;
const COLON = 0x3a;
const REQUEST_LINE_START = /^[A-Z]+ /;

/**
 * Whether a header overflow happened in the request line (414) rather than in the header fields
 * (431). The parser counts the request target against the same limit as the fields and reports
 * both alike; all we have is the chunk it was parsing (`packet`) and where it stopped (`at`), so:
 * - a line ended in that chunk before the overflow: a header field overflowed;
 * - the parser stopped on the byte that ended the span that overflowed: a space ends the request
 *   target (it stops on the space after a field name's colon too, and on CR or LF after a value);
 * - it stopped at the chunk's end, inside a span: the request target if the chunk starts with the
 *   request line. A target so long that it started in an earlier chunk and does not end in this
 *   one cannot be told from a long header value there, and stays 431.
 */
export function requestLineOverflowed(packet: Buffer | undefined, at: number | undefined): boolean {
  if (!packet || at === undefined || at < 0 || at > packet.length) return false;
  if (packet.subarray(0, at).includes(LF)) return false;
  if (at < packet.length) return packet[at] === SP && at > 0 && packet[at - 1] !== COLON;
  return REQUEST_LINE_START.test(packet.subarray(0, 32).toString('latin1'));
}
