/**
 * Fault and behaviour modes, chosen per request by the `x-mock-mode` header (comma-separated to
 * combine, e.g. `stream,slow-headers:200`), else by the next queued `nextResponse`, else by the
 * mock's default mode (`setMode`).
 */

/** What the argument after `name:` means; `?` marks an optional argument with its default. */
type ArgKind = 'none' | 'ms' | 'count' | 'status' | 'bytes' | 'seconds?' | 'ms?' | 'status?';

export const MODES = {
  /** Normal behaviour: stream if the request asks to. */
  ok: 'none',
  /** Answer with the provider's streaming framing even if the request did not ask for it. */
  stream: 'none',
  /** Destroy the socket as soon as the request headers arrive (as a default mode: stop listening). */
  refuse: 'none',
  /** Read the request, then reset the connection before any response byte. */
  'reset-before-headers': 'none',
  /** Read the request, send the status line and part of the header block, then reset. */
  'reset-mid-headers': 'none',
  /** Read the request, answer with bytes that are not HTTP at all, and keep the socket open. */
  garbage: 'none',
  /** Send the headers (with the full Content-Length) and half the body, then reset. */
  'reset-mid-body': 'none',
  /** Stream half the events, then reset. */
  'reset-mid-stream': 'none',
  /** Wait `ms` before sending the status line and headers. */
  'slow-headers': 'ms',
  /** Send the headers at once, then wait `ms` before the body / first event. */
  'slow-body': 'ms',
  /** Stream the first `count` events, then send nothing more but keep the socket open. */
  'stall-stream': 'count',
  /** The provider's own JSON error body with that 5xx status. */
  '5xx-json': 'status',
  /** An HTML error page (as a load balancer / CDN gives) with that status. */
  '5xx-html': 'status',
  /** The provider's rate-limit error with `Retry-After: seconds` (default 1). */
  '429': 'seconds?',
  /** Status 200, `application/json`, a body that is not JSON. */
  'invalid-json-200': 'none',
  /** Status 200, valid JSON that is not the provider's response shape. */
  'wrong-shape-200': 'none',
  /** Stream everything but the terminal event, then end the response cleanly. */
  'truncated-sse': 'none',
  /** Stream the opening events, then one filler event every `ms` (default 100) until the client leaves. */
  'never-ending-sse': 'ms?',
  /** Answer with a completion text padded so the JSON body is `bytes` long. */
  huge: 'bytes',
  /** Gzip the body and say so with `Content-Encoding: gzip`. */
  gzip: 'none',
  /** Redirect (`status`, default 307) to the same mock under `/__mock/redirected`. */
  redirect: 'status?',
  /** Answer 200 with what was received: method, path, query, headers, body. */
  echo: 'none',
} as const satisfies Record<string, ArgKind>;

export type ModeName = keyof typeof MODES;

const DEFAULTS: Partial<Record<ModeName, number>> = { '429': 1, 'never-ending-sse': 100, redirect: 307 };

/** Modes that only make sense for a stream: they force the streaming framing. */
export const STREAM_MODES: ReadonlySet<ModeName> = new Set(['stream', 'reset-mid-stream', 'stall-stream', 'truncated-sse', 'never-ending-sse']);

export class ModeError extends Error {
  override readonly name = 'ModeError';
}

/** A parsed mode list: which modes are on and their numeric arguments. */
export class Modes {
  readonly #args = new Map<ModeName, number | null>();
  readonly source: string;

  constructor(spec: string) {
    this.source = spec;
    for (const raw of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
      const [name, arg] = raw.split(/:(.*)/s) as [string, string | undefined];
      if (!(name in MODES)) throw new ModeError(`unknown mock mode "${name}"; known: ${Object.keys(MODES).join(', ')}`);
      const mode = name as ModeName;
      const kind: ArgKind = MODES[mode];
      if (kind === 'none') {
        if (arg !== undefined) throw new ModeError(`mock mode "${mode}" takes no argument`);
        this.#args.set(mode, null);
        continue;
      }
      if (arg === undefined || arg === '') {
        if (!kind.endsWith('?')) throw new ModeError(`mock mode "${mode}" needs an argument (${kind})`);
        this.#args.set(mode, DEFAULTS[mode] ?? null);
        continue;
      }
      const value = Number(arg);
      if (!Number.isFinite(value) || value < 0) throw new ModeError(`mock mode "${mode}": "${arg}" is not a non-negative number`);
      this.#args.set(mode, value);
    }
  }

  has(mode: ModeName): boolean {
    return this.#args.has(mode);
  }

  /** The numeric argument of a mode that is on (its default when omitted). */
  arg(mode: ModeName): number {
    return this.#args.get(mode) ?? DEFAULTS[mode] ?? 0;
  }

  /** Whether any mode forces the streaming framing. */
  get forcesStream(): boolean {
    for (const m of this.#args.keys()) if (STREAM_MODES.has(m)) return true;
    return false;
  }
}
