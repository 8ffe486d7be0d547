/**
 * Answers the gateway writes itself (errors, plugin exits), in one place so every one carries the
 * request id and latency header and a JSON body, and none is written twice.
 */
import type { ServerResponse } from 'node:http';
import { HEADERS } from './names.ts';

export function writeJson(res: ServerResponse, status: number, body: unknown, requestId: string, startedAt: number, extra?: Record<string, string>): void {
  if (res.headersSent) {
    // too late for a clean answer: end what was started so the client sees a truncated response
    res.destroy();
    return;
  }
  const text = typeof body === 'string' ? body : JSON.stringify(body ?? null);
  const headers: Record<string, string | number> = {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    [HEADERS.requestId]: requestId,
    [HEADERS.responseLatency]: Math.round(performance.now() - startedAt),
    server: HEADERS.server,
  };
  if (extra) for (const [k, v] of Object.entries(extra)) headers[k.toLowerCase()] = v;
  res.writeHead(status, headers);
  res.end(text);
}

/** Kong's error body for gateway errors, with the request id so users can find the log line. */
export function errorBody(message: string, requestId: string): { message: string; request_id: string } {
  return { message, request_id: requestId };
}
