/**
 * The proxy's ServerResponse. Headers a plugin adds before the answer exists (rate-limit state,
 * the cache status, the trace id: src/plugins/shared/response-headers.ts) are held here and
 * written by whatever `writeHead` the answer makes: ai-proxy's, the gateway's own errors, a
 * proxied upstream's, or Node's implicit one when a body is written without it.
 *
 * Why not `setHeader`: one `setHeader` before the answer sends Node's `writeHead` down its slow
 * path, which puts every header of the answer through `setHeader` too (validated, lower-cased,
 * stored as a pair) before validating each again as it serialises them. A rate-limited route's
 * seven headers made its answer cost ~4.6 KB and several µs more than the chat route's
 * (docs/performance.md, "Allocation per request"). Held here, the answer's headers and the
 * plugins' go to `writeHead` as one object, its fast path.
 *
 * Precedence is `setHeader`'s: the answer's own headers win over held ones of the same name
 * (compared without case), and a held header replaces an earlier held one of that name.
 */
import { ServerResponse, type IncomingMessage, type OutgoingHttpHeaders, type OutgoingHttpHeader } from 'node:http';
import { BoundedMap } from '../util/bounded-map.ts';

type Headers = OutgoingHttpHeaders | OutgoingHttpHeader[];

export class GatewayResponse<Request extends IncomingMessage = IncomingMessage> extends ServerResponse<Request> {
  /** Held headers as (name as given, lower-case name, value) triples; null: none held. */
  private held: string[] | null = null;

  /** Holds a header for the answer (a later one of the same name replaces it). */
  holdHeader(name: string, value: string): void {
    const lower = lowerName(name);
    const held = (this.held ??= []);
    for (let i = 1; i < held.length; i += 3) {
      if (held[i] === lower) {
        held[i - 1] = name;
        held[i + 1] = value;
        return;
      }
    }
    held.push(name, lower, value);
  }

  override writeHead(statusCode: number, reason?: string | Headers, headers?: Headers): this {
    const held = this.held;
    if (held === null || this.headersSent) return super.writeHead(statusCode, reason as string, headers);
    this.held = null;
    if (typeof reason !== 'string') {
      headers = reason;
      reason = undefined;
    }
    const merged = merge(held, headers);
    return reason === undefined ? super.writeHead(statusCode, merged) : super.writeHead(statusCode, reason, merged);
  }
}

/**
 * Header names in lower case, remembered: plugins hold the same few names on every request, and
 * `toLowerCase` makes a new string for each mixed-case one (`X-RateLimit-Limit-Minute`). Bounded
 * all the same (a header named from configuration could be anything).
 */
const LOWER = new BoundedMap<string, string>(512);

function lowerName(name: string): string {
  let lower = LOWER.get(name);
  if (lower === undefined) LOWER.set(name, (lower = name.toLowerCase()));
  return lower;
}

/** The held headers the answer does not name itself, then the answer's, as one object (a flat list when the answer gave one). */
function merge(held: string[], headers: Headers | undefined): Headers {
  if (Array.isArray(headers)) {
    // writeHead's flat [name, value, name, value ...] form
    const given = new Set<string>();
    for (let i = 0; i < headers.length; i += 2) given.add(String(headers[i]).toLowerCase());
    const out: OutgoingHttpHeader[] = [];
    for (let i = 0; i < held.length; i += 3) if (!given.has(held[i + 1])) out.push(held[i], held[i + 2]);
    for (let i = 0; i < headers.length; i++) out.push(headers[i]);
    return out;
  }
  const out: OutgoingHttpHeaders = {};
  let given: Set<string> | null = null;
  if (headers) for (const k in headers) (given ??= new Set()).add(k.toLowerCase());
  for (let i = 0; i < held.length; i += 3) if (given === null || !given.has(held[i + 1])) out[held[i]] = held[i + 2];
  if (headers) for (const k in headers) out[k] = headers[k];
  return out;
}
