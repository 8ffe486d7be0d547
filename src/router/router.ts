/**
 * Kong 3.x route matching (traditional_compatible flavour), compiled once per config version.
 *
 * Each (route, path) pair becomes a match entry with Kong's priority (kong/router/transform.lua
 * `get_priority`): more matching fields first, then plain hosts, header count, regex paths over
 * prefixes, `regex_priority`, longest prefix; ties go to the older route. Entries are indexed by
 * their literal path prefix (a regex's literal head, e.g. `/openai-chat` for `~/openai-chat$`), so
 * a lookup touches only the buckets of the request path's prefixes: routing cost does not grow
 * with the number of routes.
 */
import { normalizePath } from '../schema/typedefs.ts';

export interface RouteSpec<T = unknown> {
  id: string;
  created_at: number;
  paths: string[] | null;
  methods: string[] | null;
  hosts: string[] | null;
  headers: Record<string, string[]> | null;
  protocols: string[] | null;
  regex_priority: number | null;
  /** Whatever the caller wants back on a match. */
  data: T;
}

export interface MatchRequest {
  method: string;
  /** Host header, possibly with a port. */
  host: string;
  /** Path without the query string. */
  path: string;
  headers: Record<string, string | string[] | undefined>;
}

/** What a match gives back of its route. */
export interface MatchedRoute<T> {
  id: string;
  data: T;
}

export interface RouteMatch<T> {
  route: MatchedRoute<T>;
  /** The part of the path the route's path matched (what strip_path removes). */
  matched: string;
  /** Named captures of a regex path. */
  captures: Record<string, string> | null;
  /** The path the route matched against (normalised). */
  path: string;
}

interface HostMatcher {
  exact?: string;
  suffix?: string; // "*.example.com" → ".example.com"
  prefix?: string; // "example.*" → "example."
  withPort: boolean;
}

interface HeaderMatcher {
  name: string;
  values: string[]; // lower-cased plain values
  regexes: RegExp[];
}

/**
 * One (route, path) pair. It keeps only what matching needs, not the route's spec: a worker holds
 * one per route of the configuration, and every field that is not an object is one the garbage
 * collector has nothing to trace (see docs/performance.md, "10,000 routes").
 */
interface Entry<T> extends MatchedRoute<T> {
  hasPaths: boolean;
  /** Kong's priority, most significant first (see `priorityOf`); then `order`. */
  rank: number;
  regexPriority: number;
  prefixLength: number;
  order: number;
  /** Literal path prefix used as the index key ('' for routes without paths). */
  literal: string;
  regex: RegExp | null;
  /** For a regex that is a literal followed by `$`: match by equality, no regex run. */
  exact: string | null;
  methods: Set<string> | null;
  hosts: HostMatcher[] | null;
  headers: HeaderMatcher[] | null;
}

const REGEX_SPECIAL = /[\\^$.|?*+()[\]{}]/;

/** The literal head of a regex source, e.g. `/v1/chat` of `/v1/chat/.*` (without a trailing quantified char). */
function literalHead(source: string): { head: string; exact: boolean } {
  // an alternation anywhere may match paths that do not start with the first branch
  if (source.includes('|')) return { head: '', exact: false };
  let i = 0;
  // characters gathered in an array and joined: `head += c` would leave a chain of one rope node
  // per character in the heap for as long as the snapshot lives
  const chars: string[] = [];
  while (i < source.length) {
    const c = source[i];
    if (c === '\\' && i + 1 < source.length && /[/\-.~_]/.test(source[i + 1])) {
      chars.push(source[i + 1]);
      i += 2;
      continue;
    }
    if (REGEX_SPECIAL.test(c)) break;
    chars.push(c);
    i++;
  }
  const head = chars.join('');
  const rest = source.slice(i);
  // a quantifier applies to the previous char: drop it from the literal head
  if (/^[?*+{]/.test(rest) && head.length) return { head: head.slice(0, -1), exact: false };
  return { head, exact: rest === '$' };
}

function hostMatcher(h: string): HostMatcher {
  const lower = h.toLowerCase();
  const withPort = /:\d+$/.test(lower) && !lower.endsWith(']');
  if (lower.startsWith('*')) return { suffix: lower.slice(1), withPort };
  if (lower.endsWith('*')) return { prefix: lower.slice(0, -1), withPort };
  return { exact: lower, withPort };
}

function headerMatcher(name: string, values: string[]): HeaderMatcher {
  const plain: string[] = [];
  const regexes: RegExp[] = [];
  for (const v of values) {
    if (v.startsWith('~*')) regexes.push(new RegExp(v.slice(2), 'i'));
    else plain.push(v.toLowerCase());
  }
  return { name: name.toLowerCase(), values: plain, regexes };
}

/** Kong's priority of a (route, path) pair: the fields Entry ranks by. */
function priorityOf(route: RouteSpec, path: string | null): Pick<Entry<unknown>, 'rank' | 'regexPriority' | 'prefixLength'> {
  let weight = 0;
  if (route.methods?.length) weight++;
  if (route.hosts?.length) weight++;
  const headerCount = route.headers ? Math.min(Object.keys(route.headers).length, 255) : 0;
  if (headerCount) weight++;
  if (path !== null) weight++;
  const plainHostOnly = !!route.hosts?.length && route.hosts.every((h) => !h.includes('*'));
  const isRegex = path?.startsWith('~') ?? false;
  return {
    // weight (0-4), plain hosts only (0/1), header count (0-255), regex (0/1), packed in one small integer
    rank: (weight << 10) | ((plainHostOnly ? 1 : 0) << 9) | (headerCount << 1) | (isRegex ? 1 : 0),
    regexPriority: isRegex ? (route.regex_priority ?? 0) : 0,
    prefixLength: isRegex || path === null ? 0 : path.length,
  };
}

function comparePriority(a: Entry<unknown>, b: Entry<unknown>): number {
  return b.rank - a.rank || b.regexPriority - a.regexPriority || b.prefixLength - a.prefixLength || a.order - b.order;
}

export class Router<T> {
  /** literal prefix → its entry, or its entries sorted by priority */
  readonly #buckets = new Map<string, Entry<T> | Entry<T>[]>();
  /** distinct literal lengths, longest first */
  readonly #lengths: number[];
  readonly #pathless: Entry<T>[] = [];
  readonly size: number;

  constructor(routes: RouteSpec<T>[]) {
    const ordered = [...routes].sort((a, b) => a.created_at - b.created_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const entries: Entry<T>[] = [];
    ordered.forEach((route, order) => {
      const base = {
        id: route.id,
        data: route.data,
        hasPaths: !!route.paths?.length,
        order,
        methods: route.methods?.length ? new Set(route.methods) : null,
        hosts: route.hosts?.length ? route.hosts.map(hostMatcher) : null,
        headers: route.headers && Object.keys(route.headers).length ? Object.entries(route.headers).map(([n, v]) => headerMatcher(n, v)) : null,
      };
      if (!route.paths?.length) {
        entries.push({ ...base, ...priorityOf(route, null), literal: '', regex: null, exact: null });
        return;
      }
      for (const p of route.paths) {
        if (p.startsWith('~')) {
          const source = p.slice(1);
          const { head, exact } = literalHead(source);
          // a literal followed by `$` is matched by equality: no RegExp object is kept for it
          entries.push({ ...base, ...priorityOf(route, p), literal: head, regex: exact ? null : new RegExp(`^(?:${source})`), exact: exact ? head : null });
        } else {
          entries.push({ ...base, ...priorityOf(route, p), literal: p, regex: null, exact: null });
        }
      }
    });
    entries.sort(comparePriority);
    const lengths = new Set<number>();
    for (const e of entries) {
      if (!e.hasPaths) {
        this.#pathless.push(e);
        continue;
      }
      const bucket = this.#buckets.get(e.literal);
      // most literals belong to one entry: it is stored as itself, not in an array of one
      if (bucket === undefined) this.#buckets.set(e.literal, e);
      else if (Array.isArray(bucket)) bucket.push(e);
      else this.#buckets.set(e.literal, [bucket, e]);
      lengths.add(e.literal.length);
    }
    this.#lengths = [...lengths].sort((a, b) => b - a);
    this.size = routes.length;
  }

  match(req: MatchRequest): RouteMatch<T> | null {
    const path = needsNormalizing(req.path) ? normalizePath(req.path) : req.path;
    const hostFull = req.host.toLowerCase();
    const colon = hostFull.lastIndexOf(':');
    const hostOnly = colon > hostFull.lastIndexOf(']') ? hostFull.slice(0, colon) : hostFull;

    let best: Entry<T> | null = null;
    let bestMatch: RegExpExecArray | null = null;
    let bestMatched = '';
    const consider = (e: Entry<T>) => {
      if (best !== null && comparePriority(e, best) >= 0) return;
      if (!this.#matchesNonPath(e, req, hostFull, hostOnly)) return;
      let matched: string;
      let m: RegExpExecArray | null = null;
      if (e.exact !== null) {
        if (path !== e.exact) return;
        matched = path;
      } else if (e.regex) {
        m = e.regex.exec(path);
        if (!m) return;
        matched = m[0];
      } else {
        matched = e.literal;
      }
      best = e;
      bestMatch = m;
      bestMatched = matched;
    };

    for (const len of this.#lengths) {
      if (len > path.length) continue;
      const bucket = this.#buckets.get(path.slice(0, len));
      if (bucket === undefined) continue;
      if (Array.isArray(bucket)) for (const e of bucket) consider(e);
      else consider(bucket);
    }
    for (const e of this.#pathless) consider(e);

    if (best === null) return null;
    const found = best as Entry<T>;
    const m = bestMatch as RegExpExecArray | null;
    return {
      route: found,
      matched: found.hasPaths ? bestMatched : '',
      captures: m?.groups ? { ...m.groups } : null,
      path,
    };
  }

  #matchesNonPath(e: Entry<T>, req: MatchRequest, hostFull: string, hostOnly: string): boolean {
    if (e.methods && !e.methods.has(req.method)) return false;
    if (e.hosts && !e.hosts.some((h) => hostMatches(h, h.withPort ? hostFull : hostOnly))) return false;
    if (e.headers) {
      for (const h of e.headers) {
        const raw = req.headers[h.name];
        if (raw === undefined) return false;
        const values = Array.isArray(raw) ? raw : [raw];
        const ok = values.some((v) => h.values.includes(v.toLowerCase()) || h.regexes.some((r) => r.test(v)));
        if (!ok) return false;
      }
    }
    return true;
  }
}

function hostMatches(m: HostMatcher, host: string): boolean {
  if (m.exact !== undefined) return host === m.exact;
  if (m.suffix !== undefined) return host.endsWith(m.suffix) && host.length > m.suffix.length;
  if (m.prefix !== undefined) return host.startsWith(m.prefix) && host.length > m.prefix.length;
  return false;
}

function needsNormalizing(path: string): boolean {
  return path.includes('%') || path.includes('/.') || path.includes('//');
}
