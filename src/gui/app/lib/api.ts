/**
 * The Admin API, as the GUI reaches it: same origin, under `/api` (src/gui/server.ts). The admin
 * token, when the gateway has one, is asked once and kept in sessionStorage only (it is gone when
 * the tab closes), and sent as `Kong-Admin-Token` — never `Authorization`, which the playground's
 * requests use for the route's own key.
 */
const TOKEN_KEY = 'modelgate.admin-token';

export class ApiError extends Error {
  readonly status: number;
  readonly body: ApiErrorBody;
  constructor(status: number, body: ApiErrorBody) {
    super(body.message ?? `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

/** Kong's error shape: `message`, and for schema violations `fields` mirroring the entity. */
export interface ApiErrorBody {
  message?: string;
  name?: string;
  code?: number;
  fields?: Record<string, unknown>;
  [k: string]: unknown;
}

type Listener = () => void;
const unauthorizedListeners = new Set<Listener>();

/** Called when an answer is 401: the shell shows the token prompt. */
export function onUnauthorized(fn: Listener): () => void {
  unauthorizedListeners.add(fn);
  return () => unauthorizedListeners.delete(fn);
}

export function adminToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setAdminToken(token: string | null): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** Headers every GUI request to the gateway carries (the token when there is one). */
export function authHeaders(): Record<string, string> {
  const token = adminToken();
  return token ? { 'Kong-Admin-Token': token } : {};
}

export interface ApiInit {
  method?: string;
  body?: unknown;
  /** Sent as is (a YAML upload, a form); otherwise `body` is sent as JSON. */
  rawBody?: BodyInit;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

async function send(path: string, init: ApiInit): Promise<Response> {
  const headers: Record<string, string> = { ...authHeaders(), ...init.headers };
  let body: BodyInit | undefined = init.rawBody;
  if (body === undefined && init.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(init.body);
  }
  const res = await fetch(`/api${path}`, { method: init.method ?? 'GET', headers, body, signal: init.signal });
  if (res.status === 401) for (const fn of unauthorizedListeners) fn();
  if (!res.ok) {
    let parsed: ApiErrorBody = {};
    try {
      parsed = (await res.json()) as ApiErrorBody;
    } catch {
      parsed = { message: `HTTP ${res.status}` };
    }
    throw new ApiError(res.status, parsed);
  }
  return res;
}

/** A JSON answer of the Admin API (204 gives null). Errors throw ApiError. */
export async function api<T = unknown>(path: string, init: ApiInit = {}): Promise<T> {
  const res = await send(path, init);
  if (res.status === 204) return null as T;
  return (await res.json()) as T;
}

/** A text answer (CSV, YAML). */
export async function apiText(path: string, init: ApiInit = {}): Promise<string> {
  return (await send(path, init)).text();
}

/** Every page of a Kong collection (`data` + `next`). */
export async function apiAll<T = Record<string, unknown>>(path: string): Promise<T[]> {
  const out: T[] = [];
  let next: string | null = path;
  while (next) {
    const page: { data: T[]; next?: string | null } = await api(next);
    out.push(...page.data);
    next = page.next ? page.next.replace(/^https?:\/\/[^/]+/, '') : null;
  }
  return out;
}
