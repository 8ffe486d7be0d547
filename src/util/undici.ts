/**
 * The parts of undici the gateway uses, loaded from their own files instead of undici's index
 * (util/package-file.ts).
 *
 * Why: undici's index loads all of undici (fetch, WebSocket, EventSource, the cache and mock
 * agents, the SQLite cache store) and, through them, Node's own bundled copy of undici: ~5.7 MB of
 * V8 heap and ~2.2 MB outside it in a worker that uses none of it. These parts alone take ~2.4 MB
 * and ~1.1 MB (docs/performance.md, "Idle memory"). Every module of `src/` imports undici from
 * here; `import type` from 'undici' costs nothing and stays as it is.
 */
import type * as Undici from 'undici';
import { packageFile } from './package-file.ts';

const lib = (file: string): unknown => packageFile('undici', `lib/${file}`);

const Dispatcher = lib('dispatcher/dispatcher.js') as typeof Undici.Dispatcher;
// what undici's index does: every dispatcher gets request(), stream(), pipeline() …
Object.assign(Dispatcher.prototype, lib('api/index.js'));

export const Agent = lib('dispatcher/agent.js') as typeof Undici.Agent;
export type Agent = Undici.Agent;
export const Pool = lib('dispatcher/pool.js') as typeof Undici.Pool;
export type Pool = Undici.Pool;
export const errors = lib('core/errors.js') as typeof Undici.errors;
export const buildConnector = lib('core/connect.js') as typeof Undici.buildConnector;
const coreUtil = lib('core/util.js') as { parseHeaders: typeof Undici.util.parseHeaders; headerNameToString: typeof Undici.util.headerNameToString };
export const util: typeof Undici.util = { parseHeaders: coreUtil.parseHeaders, headerNameToString: coreUtil.headerNameToString };

/**
 * undici's top-level `request(url, options)` for a call that names its dispatcher (every caller
 * here does: no global dispatcher is created or used).
 */
export function request(url: string | URL, opts: Omit<Undici.Dispatcher.RequestOptions, 'origin' | 'path' | 'method'> & { method?: Undici.Dispatcher.HttpMethod; dispatcher: Undici.Dispatcher }): Promise<Undici.Dispatcher.ResponseData> {
  const { dispatcher, ...rest } = opts;
  const u = typeof url === 'string' ? new URL(url) : url;
  return dispatcher.request({ ...rest, origin: u.origin, path: u.search ? `${u.pathname}${u.search}` : u.pathname, method: opts.method ?? (opts.body ? 'PUT' : 'GET') });
}
