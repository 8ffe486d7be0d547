/**
 * Property-based tests (issue 8): the form-body parser, the router, every driver's request and
 * response translation. Random valid inputs round-trip; random invalid inputs end in the error
 * type that becomes a 4xx (FormError / HttpError 400, RequestError) or, for provider answers, a
 * TranslationError (502) — never any other exception. The stream decoders have their own
 * properties (llm-stream.test.ts, llm-eventstream.test.ts).
 *
 * Seeded: a failure reproduces. The counts keep the file to a few seconds.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { prng } from '../helpers/prng.ts';
import { buildArgs, FormError, parseUrlEncoded } from '../../src/admin/form.ts';
import { parseBody } from '../../src/admin/body.ts';
import { HttpError } from '../../src/entities/errors.ts';
import { FORBIDDEN_KEYS } from '../../src/schema/validate.ts';
import { normalizePath } from '../../src/schema/typedefs.ts';
import { Router, type MatchRequest, type RouteSpec } from '../../src/router/router.ts';
import { getDriver } from '../../src/llm/drivers/index.ts';
import { validateClientRequest } from '../../src/llm/validate.ts';
import { parseOpenAIRequest } from '../../src/exchange/inbound/openai-chat.ts';
import { providerBody } from '../../src/exchange/policy.ts';
import { PROVIDERS, RequestError, TranslationError, type ClientRequest, type LlmRouteType, type ModelOptions, type ProviderName } from '../../src/llm/types.ts';
import { context } from '../conformance/support.ts';

fc.configureGlobal({ seed: 20_240_808, numRuns: 200 });

/** Compares data, not prototypes (fast-check may build null-prototype records). */
const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

const describeError = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e));

// =============================================================================================
// Form bodies (src/admin/form.ts, src/admin/body.ts)

type FormValue = string | null | FormValue[] | { [k: string]: FormValue };
type FormSegment = string | number | null; // name, [index], []

/** A field name Kong's key syntax can carry: no `.`, `[`, `]`, not a refused name. */
const formName = fc
  .oneof(fc.stringMatching(/^[a-z_][a-z0-9_-]{0,5}$/), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 5 }))
  .filter((k) => !/[.[\]]/.test(k) && !FORBIDDEN_KEYS.has(k));
const formLeaf = fc.oneof({ weight: 5, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }) }, { weight: 1, arbitrary: fc.constant(null) });

const formTree = fc.letrec<{ node: FormValue; object: Record<string, FormValue>; array: FormValue[] }>((tie) => ({
  node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, formLeaf, tie('object'), tie('array')),
  object: fc.dictionary(formName, tie('node'), { minKeys: 1, maxKeys: 4, noNullPrototype: true }),
  array: fc.array(tie('node'), { minLength: 1, maxLength: 4 }),
})).object;

function keyOf(segments: FormSegment[]): string {
  let key = segments[0] as string;
  for (const s of segments.slice(1)) key += typeof s === 'string' ? `.${s}` : s === null ? '[]' : `[${s}]`;
  return key;
}

const isLeaf = (v: FormValue): v is string | null => v === null || typeof v === 'string';

/**
 * Kong-style pairs for a tree, choosing at random how each array is written: `a[i]=` with
 * increasing (sparse) indexes in any order, `a[]=` in order, or a repeated `a=` (the last two only
 * where Kong's rules make them mean the same array).
 */
function toPairs(tree: Record<string, FormValue>, seed: number): [string, string][] {
  const rnd = prng(seed);
  const pairs: [string, string][] = [];
  const emit = (value: FormValue, at: FormSegment[]): void => {
    if (isLeaf(value)) {
      pairs.push([keyOf(at), value ?? '']);
      return;
    }
    if (!Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) emit(v, [...at, k]);
      return;
    }
    const leaves = value.every(isLeaf);
    const lastIsName = typeof at[at.length - 1] === 'string';
    const style = rnd();
    if (leaves && lastIsName && value.length >= 2 && style < 0.25) {
      for (const v of value) pairs.push([keyOf(at), (v as string | null) ?? '']);
    } else if (leaves && style < 0.5) {
      for (const v of value) pairs.push([keyOf([...at, null]), (v as string | null) ?? '']);
    } else {
      let index = Math.floor(rnd() * 3);
      const indexed = value.map((v) => {
        index += 1 + Math.floor(rnd() * 3);
        return [index, v] as const;
      });
      if (rnd() < 0.5) indexed.reverse();
      for (const [i, v] of indexed) emit(v, [...at, i]);
    }
  };
  for (const [k, v] of Object.entries(tree)) emit(v, [k]);
  return pairs;
}

/** Form-ish fragments, so that random bodies reach deep into the key syntax. */
const formJunk = fc
  .array(
    fc.oneof(
      fc.constantFrom('a', 'b', '1', '0', '9999', '.', '..', '[', ']', '[]', '[1]', '[1001]', '=', '&', '%', '%5B', '%5D', '%2E', '%00', '+', '__proto__', 'constructor', 'prototype', 'é', '\u0000', '%FF', '%E2%82'),
      fc.string({ maxLength: 3 }),
    ),
    { maxLength: 40 },
  )
  .map((parts) => parts.join(''));

describe('form bodies', () => {
  it('Kong-style pairs of any nested object of strings and arrays parse back to it', () => {
    fc.assert(
      fc.property(formTree, fc.integer(), (tree, seed) => {
        const pairs = toPairs(tree, seed);
        fc.pre(pairs.length <= 1000);
        assert.deepEqual(plain(buildArgs(pairs)), plain(tree));
        // the same through a url-encoded body
        const body = pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
        assert.deepEqual(plain(parseUrlEncoded(body)), plain(tree));
      }),
      { numRuns: 500 },
    );
  });

  it('any text parses or throws FormError, never another exception', () => {
    fc.assert(
      fc.property(fc.oneof(formJunk, fc.string(), fc.string({ unit: 'binary' })), (text) => {
        try {
          JSON.stringify(parseUrlEncoded(text));
        } catch (e) {
          assert.ok(e instanceof FormError, describeError(e));
        }
      }),
      { numRuns: 1000 },
    );
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  const bytes = fc.oneof(fc.uint8Array({ maxLength: 200 }), formJunk.map((s) => new TextEncoder().encode(s)));
  const part = fc
    .tuple(formJunk, formJunk, fc.boolean())
    .map(([name, value, file]) => `--X\r\nContent-Disposition: form-data; name="${name}"${file ? '; filename="f"' : ''}\r\n\r\n${value}\r\n`);
  const multipart = fc.tuple(fc.array(part, { maxLength: 5 }), fc.boolean(), fc.string({ maxLength: 10 })).map(([parts, closed, tail]) => Buffer.from(parts.join('') + (closed ? '--X--\r\n' : tail)));
  /** parseBody resolves to a tree or rejects with a 400, and nothing escapes as an uncaught exception. */
  async function bodyGivesTreeOr400(type: string, raw: Buffer): Promise<void> {
    const escaped: unknown[] = [];
    const listener = (e: unknown) => escaped.push(e);
    process.on('uncaughtException', listener);
    try {
      try {
        const parsed = await parseBody(type, raw);
        assert.equal(typeof parsed.value, 'object');
      } catch (e) {
        assert.ok(e instanceof HttpError && e.status === 400, describeError(e));
      }
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('uncaughtException', listener);
    }
    assert.deepEqual(escaped.map(describeError), [], `uncaught while parsing ${JSON.stringify(raw.toString('latin1'))}`);
  }

  it('any bytes as a form or multipart body give a tree or an HTTP 400', async () => {
    const cases = fc.oneof(
      bytes.map((b) => ['application/x-www-form-urlencoded', Buffer.from(b)] as const),
      bytes.map((b) => ['multipart/form-data; boundary=X', Buffer.from(b)] as const),
      multipart.filter((b) => !b.includes('filename=')).map((b) => ['multipart/form-data; boundary=X', b] as const),
    );
    await fc.assert(fc.asyncProperty(cases, ([type, raw]) => bodyGivesTreeOr400(type, raw)), { numRuns: 400 });
  });

  // Found by this property: a file part cut short by the end of the body made busboy's file stream
  // emit 'error' with no listener, an uncaught exception in the process that serves the Admin API.
  it('multipart bodies with truncated file parts give an HTTP 400', async () => {
    await fc.assert(fc.asyncProperty(multipart, (raw) => bodyGivesTreeOr400('multipart/form-data; boundary=X', raw)), { numRuns: 200 });
  });
});

// =============================================================================================
// Router (src/router/router.ts) against a brute-force reference of Kong's rules

type Route = RouteSpec<string>;

/** A regex path built from pieces, each with a generator of text it matches. */
interface RegexPiece {
  source: string;
  sample: fc.Arbitrary<string>;
}

/** Strings over a small alphabet (cheaper than fc.stringMatching, which matters inside chain). */
const chars = (alphabet: string, minLength: number, maxLength: number) => fc.array(fc.constantFrom(...alphabet), { minLength, maxLength }).map((a) => a.join(''));
const segment = chars('abc1', 1, 3);
const pathText = chars('abc1/', 0, 6);
const digits = chars('0123456789', 1, 3);

const prefixPath = fc.oneof(
  { weight: 1, arbitrary: fc.constant('/') },
  { weight: 6, arbitrary: fc.tuple(fc.array(segment, { minLength: 1, maxLength: 3 }), fc.boolean()).map(([s, slash]) => `/${s.join('/')}${slash ? '/' : ''}`) },
);

const PIECES: fc.Arbitrary<RegexPiece>[] = [];
function regexPieces(group: number): fc.Arbitrary<RegexPiece> {
  return (PIECES[group] ??= fc.oneof(
    segment.map((s) => ({ source: `/${s}`, sample: fc.constant(`/${s}`) })),
    segment.map((s) => ({ source: `\\/${s}`, sample: fc.constant(`/${s}`) })),
    fc.constant({ source: '\\d+', sample: digits }),
    fc.constant({ source: '[a-c]+', sample: chars('abc', 1, 3) }),
    fc.constant({ source: '.*', sample: pathText }),
    fc.constant({ source: '\\.', sample: fc.constant('.') }),
    fc.constant({ source: '\\-', sample: fc.constant('-') }),
    fc.constantFrom('a', 'b', '1').map((c) => ({ source: `${c}?`, sample: fc.constantFrom(c, '') })),
    fc.constantFrom('a', 'b').map((c) => ({ source: `${c}{2}`, sample: fc.constant(c + c) })),
    fc.constantFrom('a', 'c').map((c) => ({ source: `${c}{0,2}`, sample: fc.constantFrom('', c, c + c) })),
    fc.constantFrom('a', '1').map((c) => ({ source: `${c}*`, sample: fc.constantFrom('', c, c + c) })),
    fc.constant({ source: '(?:ab|c)', sample: fc.constantFrom('ab', 'c') }),
    fc.constant({ source: '(\\d+)', sample: digits }),
    fc.constant({ source: `(?<g${group}>[a-c1]+)`, sample: chars('abc1', 1, 3) }),
    fc.constant({ source: '/(?:x|y)', sample: fc.constantFrom('/x', '/y') }),
  ));
}

/** `~` + source, and a generator of paths it matches (when nothing more is appended after a `$`). */
const regexPath = fc
  .tuple(segment, fc.array(fc.nat(), { maxLength: 4 }), fc.boolean(), fc.option(segment, { freq: 5 }))
  .chain(([first, groups, anchored, alternative]) =>
    fc.tuple(fc.constant(first), fc.tuple(...groups.map((_, i) => regexPieces(i))), fc.constant(anchored), fc.constant(alternative)),
  )
  .map(([first, pieces, anchored, alternative]) => {
    const all: RegexPiece[] = [{ source: `/${first}`, sample: fc.constant(`/${first}`) }, ...pieces];
    const end = anchored ? '$' : '';
    const main = fc.tuple(...all.map((p) => p.sample)).map((parts) => parts.join(''));
    return {
      // a top-level alternation: the second branch need not start like the first
      path: `~${all.map((p) => p.source).join('')}${end}${alternative === null ? '' : `|/${alternative}${end}`}`,
      sample: alternative === null ? main : fc.oneof(main, fc.constant(`/${alternative}`)),
      anchored,
    };
  });

const label = fc.constantFrom('a', 'b', 'x');
const hostPattern = fc
  .tuple(fc.array(label, { minLength: 1, maxLength: 2 }), fc.constantFrom('com', 'io'), fc.constantFrom('plain', 'plain', 'prefix-wild', 'suffix-wild'), fc.constantFrom('', '', ':8000'), fc.boolean())
  .map(([labels, tld, kind, port, upper]) => {
    const name = [...labels, tld].join('.');
    const host = kind === 'prefix-wild' ? `*.${name}` : kind === 'suffix-wild' ? `${labels.join('.')}.*` : name;
    // Kong's schema refuses a port after a trailing wildcard (`example.*:8000`)
    return (upper ? host.toUpperCase() : host) + (kind === 'suffix-wild' ? '' : port);
  });

interface GeneratedRoute {
  route: Route;
  /** For each of the route's paths: requests' paths that match it. */
  samples: { path: fc.Arbitrary<string> }[];
}

const METHODS = ['GET', 'POST', 'PUT', 'DELETE'] as const;

const routeArb = (id: string): fc.Arbitrary<GeneratedRoute> =>
  fc
    .record({
      created_at: fc.integer({ min: 1, max: 4 }),
      paths: fc.option(fc.array(fc.oneof(prefixPath.map((p) => ({ path: p, sample: fc.constant(p), anchored: false })), regexPath), { minLength: 1, maxLength: 3 }), { freq: 4 }),
      methods: fc.oneof({ weight: 2, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.uniqueArray(fc.constantFrom(...METHODS), { minLength: 1, maxLength: 3 }) }),
      hosts: fc.oneof({ weight: 2, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.uniqueArray(hostPattern, { minLength: 1, maxLength: 2 }) }),
      headers: fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constantFrom<Record<string, string[]>>({ 'X-V': ['1'] }, { 'x-v': ['2', '~*^v'] }, { 'x-v': ['1'], 'x-w': ['a'] }) }),
      regex_priority: fc.option(fc.integer({ min: 0, max: 3 }), { freq: 3 }),
    })
    .map((r) => ({
      route: {
        id,
        created_at: r.created_at,
        paths: r.paths?.map((p) => p.path) ?? null,
        methods: r.methods,
        hosts: r.hosts,
        headers: r.headers,
        protocols: ['http', 'https'],
        regex_priority: r.regex_priority,
        data: id,
      },
      samples: (r.paths ?? []).map((p) => ({ path: p.anchored ? p.sample : fc.tuple(p.sample, pathText).map(([s, tail]) => s + tail) })),
    }));

const routeTable = fc.integer({ min: 1, max: 10 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => routeArb(`r${i}`))));

/** A request made from one route's own path, method, host and headers. */
function requestFor(g: GeneratedRoute): fc.Arbitrary<MatchRequest> {
  const r = g.route;
  const path = g.samples.length ? fc.constantFrom(...g.samples).chain((s) => s.path) : pathText.map((p) => `/${p}`);
  const method = r.methods ? fc.constantFrom(...r.methods) : fc.constantFrom(...METHODS);
  const host = r.hosts
    ? fc.tuple(fc.constantFrom(...r.hosts), fc.constantFrom('q', 'q.r'), fc.constantFrom('', ':8000', ':9')).map(([h, wild, port]) => {
        const name = h.replace(/^\*/, wild).replace(/\*(:\d+)?$/, `${wild}$1`);
        return /:\d+$/.test(name) ? name : name + port;
      })
    : fc.constantFrom('localhost:8000', 'a.com');
  const headers: Record<string, string> = {};
  for (const [name, values] of Object.entries(r.headers ?? {})) headers[name.toLowerCase()] = values[0].startsWith('~*') ? 'V3' : values[0];
  return fc.record({ method, host, path, headers: fc.constant(headers) });
}

/** A request from anywhere in the same small spaces of paths, hosts, methods and headers. */
const randomRequest: fc.Arbitrary<MatchRequest> = fc.record({
  method: fc.constantFrom(...METHODS),
  // `*.a.com` → `q.a.com`, or the bare `a.com` a wildcard must not match
  host: fc.oneof(hostPattern.map((h) => h.replace(/\*/, 'q')), hostPattern.map((h) => h.replace(/^\*\.|\.\*$/, '')), fc.constant('localhost:8000')),
  path: fc.oneof(
    pathText.map((p) => `/${p}`),
    fc.tuple(pathText, fc.constantFrom('%61', '/./', '/../', '//', '%2F', '.')).map(([p, odd]) => `/${p}${odd}${p}`),
    chars('abc19./-', 0, 8).map((p) => `/${p}`),
  ),
  headers: fc.constantFrom({}, { 'x-v': '1' }, { 'x-v': 'v9' }, { 'x-v': '2', 'x-w': 'A' }, { 'x-v': ['3', '1'], 'x-w': 'a' }),
});

function refHostMatches(pattern: string, requestHost: string): boolean {
  const p = pattern.toLowerCase();
  const full = requestHost.toLowerCase();
  const host = /:\d+$/.test(p) ? full : full.replace(/:\d+$/, '');
  if (p.startsWith('*')) return host.length > p.length - 1 && host.endsWith(p.slice(1));
  if (p.endsWith('*')) return host.length > p.length - 1 && host.startsWith(p.slice(0, -1));
  return host === p;
}

function refNonPath(r: Route, req: MatchRequest): boolean {
  if (r.methods?.length && !r.methods.includes(req.method)) return false;
  if (r.hosts?.length && !r.hosts.some((h) => refHostMatches(h, req.host))) return false;
  for (const [name, values] of Object.entries(r.headers ?? {})) {
    const raw = req.headers[name.toLowerCase()];
    if (raw === undefined) return false;
    const sent = Array.isArray(raw) ? raw : [raw];
    const ok = sent.some((v) => values.some((want) => (want.startsWith('~*') ? new RegExp(want.slice(2), 'i').test(v) : want.toLowerCase() === v.toLowerCase())));
    if (!ok) return false;
  }
  return true;
}

interface RefCandidate {
  route: Route;
  key: number[];
  matched: string;
  captures: Record<string, string> | null;
}

/**
 * Kong's rules, brute force: every (route, path) that accepts the request, ordered by the number
 * of matching fields, plain hosts, header count, regex over prefix, regex_priority, longest prefix;
 * ties to the older route (created_at, then id). Returns every best candidate (one route's paths
 * can tie with each other).
 */
function referenceMatch(routes: Route[], req: MatchRequest): RefCandidate[] {
  const path = normalizePath(req.path);
  const older = [...routes].sort((a, b) => a.created_at - b.created_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const candidates: RefCandidate[] = [];
  older.forEach((r, age) => {
    if (!refNonPath(r, req)) return;
    const fields = [r.methods?.length, r.hosts?.length, r.headers && Object.keys(r.headers).length].filter(Boolean).length;
    const plainHosts = r.hosts?.length && r.hosts.every((h) => !h.includes('*')) ? 1 : 0;
    const headerCount = r.headers ? Object.keys(r.headers).length : 0;
    if (!r.paths?.length) {
      candidates.push({ route: r, key: [fields, plainHosts, headerCount, 0, 0, 0, -age], matched: '', captures: null });
      return;
    }
    for (const p of r.paths) {
      if (p.startsWith('~')) {
        const m = new RegExp(`^(?:${p.slice(1)})`).exec(path);
        if (m) candidates.push({ route: r, key: [fields + 1, plainHosts, headerCount, 1, r.regex_priority ?? 0, 0, -age], matched: m[0], captures: m.groups ? { ...m.groups } : null });
      } else if (path.startsWith(p)) {
        candidates.push({ route: r, key: [fields + 1, plainHosts, headerCount, 0, 0, p.length, -age], matched: p, captures: null });
      }
    }
  });
  const cmp = (a: number[], b: number[]) => {
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
    return 0;
  };
  let best: RefCandidate[] = [];
  for (const c of candidates) {
    const order = best.length ? cmp(c.key, best[0].key) : 1;
    if (order > 0) best = [c];
    else if (order === 0) best.push(c);
  }
  return best;
}

function assertSameAsReference(router: Router<string>, routes: Route[], req: MatchRequest): void {
  const got = router.match(req);
  const want = referenceMatch(routes, req);
  const where = `${req.method} ${req.host} ${req.path} ${JSON.stringify(req.headers)}`;
  if (want.length === 0) {
    assert.equal(got, null, `${where}: expected no match, got ${got?.route.id}`);
    return;
  }
  assert.ok(got, `${where}: expected ${want[0].route.id}, got no match`);
  assert.equal(got.route.id, want[0].route.id, where);
  const same = want.find((c) => c.matched === got.matched && JSON.stringify(c.captures) === JSON.stringify(got.captures));
  assert.ok(same, `${where}: matched ${JSON.stringify(got.matched)} ${JSON.stringify(got.captures)}, expected one of ${JSON.stringify(want.map((c) => [c.matched, c.captures]))}`);
  assert.equal(got.path, normalizePath(req.path));
}

describe('router', () => {
  it('random route tables match random requests exactly as the reference does', () => {
    fc.assert(
      fc.property(
        routeTable.chain((table) =>
          fc.tuple(fc.constant(table), fc.array(fc.oneof(fc.constantFrom(...table).chain(requestFor), randomRequest), { minLength: 1, maxLength: 25 })),
        ),
        ([table, requests]) => {
          const routes = table.map((g) => g.route);
          const router = new Router(routes);
          for (const req of requests) assertSameAsReference(router, routes, req);
        },
      ),
      { numRuns: 400 },
    );
  });

  it("a request made from a route's own path, host and method always matches a route", () => {
    fc.assert(
      fc.property(
        routeTable.chain((table) => fc.tuple(fc.constant(table), fc.integer({ min: 0, max: table.length - 1 }).chain((i) => fc.tuple(fc.constant(i), requestFor(table[i]))))),
        ([table, [i, req]]) => {
          const routes = table.map((g) => g.route);
          // the request really is the route's own (checks the generator)
          assert.ok(referenceMatch([routes[i]], req).length > 0, `not ${routes[i].id}'s own request`);
          assert.notEqual(new Router(routes).match(req), null);
        },
      ),
      { numRuns: 300 },
    );
  });
});

// =============================================================================================
// Drivers: requests

const CHAT: LlmRouteType = 'llm/v1/chat';
const COMPLETIONS: LlmRouteType = 'llm/v1/completions';

/** Every driver and wire format. `bridged`: its completions route is sent as chat completions. */
const CONFIGS: { provider: ProviderName; options: Partial<ModelOptions>; openaiShaped: boolean; bridged: boolean; completionsOpenAI: boolean }[] = [
  { provider: 'openai', options: {}, openaiShaped: true, bridged: false, completionsOpenAI: true },
  { provider: 'azure', options: { azure_instance: 'i', azure_deployment_id: 'd' }, openaiShaped: true, bridged: false, completionsOpenAI: true },
  { provider: 'azure', options: { azure_instance: 'i', azure_deployment_id: 'd', azure_api_version: '2024-10-21' }, openaiShaped: true, bridged: false, completionsOpenAI: true },
  { provider: 'anthropic', options: {}, openaiShaped: false, bridged: false, completionsOpenAI: false },
  { provider: 'cohere', options: {}, openaiShaped: false, bridged: false, completionsOpenAI: false },
  { provider: 'mistral', options: { mistral_format: 'openai' }, openaiShaped: true, bridged: true, completionsOpenAI: false },
  { provider: 'mistral', options: { mistral_format: 'openai', upstream_url: 'http://m/v1' }, openaiShaped: true, bridged: false, completionsOpenAI: true },
  { provider: 'mistral', options: { mistral_format: 'ollama', upstream_url: 'http://o/' }, openaiShaped: false, bridged: false, completionsOpenAI: false },
  { provider: 'llama2', options: { llama2_format: 'raw', upstream_url: 'http://t/' }, openaiShaped: false, bridged: false, completionsOpenAI: false },
  { provider: 'llama2', options: { llama2_format: 'ollama', upstream_url: 'http://o/' }, openaiShaped: false, bridged: false, completionsOpenAI: false },
  { provider: 'llama2', options: { llama2_format: 'openai', upstream_url: 'http://v/' }, openaiShaped: true, bridged: false, completionsOpenAI: true },
  { provider: 'gemini', options: {}, openaiShaped: false, bridged: false, completionsOpenAI: false },
  { provider: 'bedrock', options: { bedrock: { aws_region: 'us-east-1' } }, openaiShaped: false, bridged: false, completionsOpenAI: false },
  { provider: 'huggingface', options: {}, openaiShaped: true, bridged: false, completionsOpenAI: false },
  { provider: 'huggingface', options: { upstream_url: 'http://tgi/' }, openaiShaped: true, bridged: false, completionsOpenAI: false },
  { provider: 'groq', options: {}, openaiShaped: true, bridged: true, completionsOpenAI: false },
  { provider: 'together', options: {}, openaiShaped: true, bridged: false, completionsOpenAI: true },
  { provider: 'deepseek', options: {}, openaiShaped: true, bridged: false, completionsOpenAI: true },
  { provider: 'fireworks', options: {}, openaiShaped: true, bridged: false, completionsOpenAI: true },
  { provider: 'openrouter', options: {}, openaiShaped: true, bridged: false, completionsOpenAI: true },
  { provider: 'vllm', options: { upstream_url: 'http://vllm/v1' }, openaiShaped: true, bridged: false, completionsOpenAI: true },
  { provider: 'lmstudio', options: { upstream_url: 'http://lms/v1' }, openaiShaped: true, bridged: false, completionsOpenAI: true },
  { provider: 'llamacpp', options: { upstream_url: 'http://llama/v1' }, openaiShaped: true, bridged: false, completionsOpenAI: true },
];

it('the driver configs cover every provider', () => {
  assert.deepEqual(new Set(CONFIGS.map((c) => c.provider)), new Set(PROVIDERS));
});

/** Configured options the gateway may carry (null: the client's value stays). */
const configuredOptions = fc.record({
  max_tokens: fc.option(fc.integer({ min: 1, max: 4096 })),
  temperature: fc.option(fc.double({ min: 0, max: 2, noNaN: true })),
  top_p: fc.option(fc.double({ min: 0, max: 1, noNaN: true })),
  top_k: fc.option(fc.integer({ min: 1, max: 100 })),
});

const text = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 });
const validMessage = fc.oneof(
  fc.record({ role: fc.constantFrom('system', 'user', 'assistant'), content: text }),
  fc.record({ role: fc.constant('user'), content: fc.array(fc.record({ type: fc.constant('text'), text }), { minLength: 1, maxLength: 2 }) }),
  fc.record({ role: fc.constantFrom('user', 'assistant'), content: text, name: fc.stringMatching(/^[a-z]{1,5}$/) }),
);
const sampling = {
  temperature: fc.oneof(fc.double({ min: 0, max: 2, noNaN: true }), fc.constantFrom(0, 2, null)),
  top_p: fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(0, 1, null)),
  max_tokens: fc.oneof(fc.integer({ min: 1, max: 100_000 }), fc.constantFrom(1, Number.MAX_SAFE_INTEGER, null)),
  stream: fc.boolean(),
  model: fc.constantFrom('configured', 'gpt-4o', null),
  n: fc.integer({ min: 1, max: 3 }),
  presence_penalty: fc.double({ min: -2, max: 2, noNaN: true }),
  frequency_penalty: fc.double({ min: -2, max: 2, noNaN: true }),
  seed: fc.integer(),
  user: text,
  stream_options: fc.record({ include_usage: fc.boolean() }),
};
const validChat = fc.record(
  { messages: fc.array(validMessage, { minLength: 1, maxLength: 6 }), stop: fc.oneof(text, fc.array(text, { maxLength: 4 }), fc.constant(null)), ...sampling },
  { requiredKeys: ['messages'] },
);
const validCompletions = fc.record({ prompt: fc.string({ unit: 'grapheme', maxLength: 60 }), stop: fc.oneof(text, fc.array(text, { maxLength: 4 })), ...sampling }, { requiredKeys: ['prompt'] });

/** What a JSON body can be on the wire, and nothing else. */
function assertJsonValue(value: unknown, at = 'body'): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    assert.ok(Number.isFinite(value), `${at}: ${value}`);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((v, i) => assertJsonValue(v, `${at}[${i}]`));
    return;
  }
  assert.equal(typeof value, 'object', `${at}: ${typeof value}`);
  for (const [k, v] of Object.entries(value as object)) if (v !== undefined) assertJsonValue(v, `${at}.${k}`);
}

/** Validation, then the driver, as the ai-proxy plugin does them (exchange.ts). Returns the body or the RequestError. */
function clientToUpstream(body: unknown, routeType: LlmRouteType, config: (typeof CONFIGS)[number], configured: Partial<ModelOptions>, configuredModel: string | null): Record<string, unknown> | RequestError {
  try {
    const canonical = parseOpenAIRequest(body, routeType);
    const request = canonical.source.body as ClientRequest;
    const model = configuredModel ?? (typeof request.model === 'string' && request.model !== '' ? request.model : 'client-less-model');
    const ctx = context({
      provider: config.provider,
      routeType,
      model,
      options: { ...config.options, ...configured },
      stream: request.stream === true,
      includeUsage: request.stream_options?.include_usage === true,
    });
    const upstream = providerBody(getDriver(config.provider), canonical, ctx);
    getDriver(config.provider).endpoint(ctx);
    return upstream;
  } catch (e) {
    if (e instanceof RequestError) return e;
    assert.fail(`${config.provider} ${JSON.stringify(config.options)} ${routeType}: ${describeError(e)}\nbody: ${JSON.stringify(body)}`);
  }
}

/** A body as the plugin gets it: parsed from JSON text. */
const wire = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

describe('driver requests', () => {
  it('valid chat and completions bodies give a JSON body or a RequestError, for every driver', () => {
    const body = fc.oneof(validChat.map((b) => [CHAT, b] as const), validCompletions.map((b) => [COMPLETIONS, b] as const));
    fc.assert(
      fc.property(body, configuredOptions, fc.constantFrom('configured', null), ([routeType, client], configured, model) => {
        const sent = wire(client);
        for (const config of CONFIGS) {
          const upstream = clientToUpstream(sent, routeType, config, configured, model);
          if (upstream instanceof RequestError) continue;
          assert.equal(typeof upstream, 'object');
          assertJsonValue(upstream);
          JSON.stringify(upstream);
          if (config.openaiShaped && (routeType === CHAT || config.bridged || config.completionsOpenAI)) {
            // OpenAI-shaped upstreams get the client's text back, verbatim
            const messages = (upstream as { messages?: { content: unknown }[] }).messages;
            if (routeType === CHAT) assert.deepEqual(plain(messages?.map((m) => m.content)), plain((client as { messages: { content: unknown }[] }).messages.map((m) => m.content)));
            else if (config.bridged) assert.deepEqual(plain(messages), [{ role: 'user', content: (client as { prompt: string }).prompt }]);
            else assert.equal((upstream as { prompt?: string }).prompt, (client as { prompt: string }).prompt);
          }
        }
        assert.deepEqual(wire(client), sent, 'the client body is not mutated');
      }),
      { numRuns: 250 },
    );
  });

  /** One change that makes a valid body invalid, by OpenAI's rules. */
  const breakage = fc.oneof(
    fc.constantFrom('temperature', 'top_p', 'max_tokens', 'max_completion_tokens', 'n', 'presence_penalty', 'frequency_penalty').chain((field) =>
      fc.record({
        field: fc.constant(field),
        value: fc.oneof(
          fc.constantFrom(-1, -0.5, 2.5, 3, 1e300, -1e300, 129, 1.5, 0, '1', '0.5', true, [], {}, [1]),
          fc.string(),
          fc.double({ min: 2.0001, max: 1e6, noNaN: true }),
          fc.double({ min: -1e6, max: -2.0001, noNaN: true }),
        ),
      }).filter(({ field, value }) => {
        // keep only values outside the field's range
        const ranges: Record<string, [number, number, boolean]> = { temperature: [0, 2, false], top_p: [0, 1, false], max_tokens: [1, Number.MAX_SAFE_INTEGER, true], max_completion_tokens: [1, Number.MAX_SAFE_INTEGER, true], n: [1, 128, true], presence_penalty: [-2, 2, false], frequency_penalty: [-2, 2, false] };
        const [min, max, integer] = ranges[field];
        return typeof value !== 'number' || value < min || value > max || (integer && !Number.isInteger(value));
      }),
    ),
    fc.record({ field: fc.constant('stop'), value: fc.oneof(fc.integer(), fc.constant(true), fc.constant({}), fc.array(fc.oneof(fc.integer(), fc.constant(null), fc.constant({})), { minLength: 1, maxLength: 3 })) }),
    fc.record({ field: fc.constant('stream'), value: fc.oneof(fc.string(), fc.integer(), fc.constant({}), fc.constant([])) }),
    fc.record({ field: fc.constant('model'), value: fc.oneof(fc.integer(), fc.constant(true), fc.constant({}), fc.constant(['gpt'])) }),
    fc.record({ field: fc.constant('stream_options'), value: fc.oneof(fc.string(), fc.integer(), fc.constant([]), fc.record({ include_usage: fc.oneof(fc.string(), fc.integer(), fc.constant({})) })) }),
    fc.record({ field: fc.constant('tools'), value: fc.oneof(fc.string(), fc.constant({}), fc.array(fc.oneof(fc.integer(), fc.constant({}), fc.record({ type: fc.constant('function'), function: fc.oneof(fc.constant({}), fc.record({ name: fc.integer() })) })), { minLength: 1, maxLength: 2 })) }),
  );
  const brokenMessages = fc.oneof(
    fc.constantFrom([], {}, 'hi', 1, true),
    fc.array(fc.oneof(fc.constantFrom(1, 'hi', null, [], true)), { minLength: 1, maxLength: 2 }),
    fc.record({ role: fc.oneof(fc.string().filter((r) => !['system', 'developer', 'user', 'assistant', 'tool', 'function'].includes(r)), fc.integer(), fc.constant(null)), content: text }).map((m) => [m]),
    fc.record({ role: fc.constantFrom('system', 'user', 'assistant'), content: fc.oneof(fc.integer(), fc.constant(true), fc.constant({}), fc.constant([]), fc.constant(null), fc.array(fc.oneof(fc.integer(), fc.constant({}), fc.record({ type: fc.constant('text'), text: fc.integer() }), fc.record({ type: fc.constant('image_url'), image_url: fc.constantFrom('x', {}, { url: 1 }) })), { minLength: 1, maxLength: 2 })) }).map((m) => [m]),
    fc.record({ role: fc.constant('tool'), content: text }).map((m) => [m]), // no tool_call_id
    fc.record({ role: fc.constant('user'), content: text, name: fc.oneof(fc.integer(), fc.constant({})) }).map((m) => [m]),
    fc.record({ role: fc.constantFrom('user', 'system'), content: text, tool_calls: fc.constant([]) }).map((m) => [m]),
    fc.record({ role: fc.constant('assistant'), content: fc.constant(null), tool_calls: fc.constantFrom('x', [1], [{}], [{ id: 'c', function: { name: 'f' } }], [{ id: 1, function: { name: 'f', arguments: '{}' } }]) }).map((m) => [m]),
  );

  it('invalid bodies are refused with a RequestError by validation', () => {
    const invalid = fc.oneof(
      fc.tuple(validChat, breakage).map(([b, { field, value }]) => [CHAT, { ...b, [field]: value }] as const),
      fc.tuple(validCompletions, breakage).map(([b, { field, value }]) => [COMPLETIONS, { ...b, [field]: value }] as const),
      fc.tuple(validChat, brokenMessages).map(([b, messages]) => [CHAT, { ...b, messages }] as const),
      // the other route type's body, both shapes at once, neither, or no object at all
      validCompletions.map((b) => [CHAT, b] as const),
      validChat.map((b) => [COMPLETIONS, b] as const),
      fc.tuple(validChat, fc.string()).map(([b, prompt]) => [CHAT, { ...b, prompt }] as const),
      fc.tuple(validCompletions, fc.oneof(fc.integer(), fc.constant(null), fc.constant({}))).map(([b, prompt]) => [COMPLETIONS, { ...b, prompt }] as const),
      fc.tuple(fc.constantFrom(CHAT, COMPLETIONS), fc.oneof(fc.jsonValue().filter((v) => typeof v !== 'object' || v === null || Array.isArray(v)), fc.dictionary(fc.string().filter((k) => k !== 'messages' && k !== 'prompt'), fc.jsonValue(), { maxKeys: 3 }))),
    );
    fc.assert(
      fc.property(invalid, ([routeType, body]) => {
        const sent = wire(body);
        assert.throws(() => validateClientRequest(sent, routeType), (e) => e instanceof RequestError || assert.fail(describeError(e)), JSON.stringify(sent));
      }),
      { numRuns: 1500 },
    );
  });

  it('junk anywhere in a body gives a JSON body or a RequestError, for every driver', () => {
    const junk = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }),
      fc.constantFrom(-1, 0, 1e308, -1e308, 2 ** 53, 0.1, '', '__proto__', [], {}, [[]], { __proto__: null, toString: 1 }),
      fc.constant(JSON.parse('{"__proto__":{"polluted":1},"constructor":{"prototype":{"x":1}}}')),
    );
    const key = fc.oneof(
      fc.constantFrom('temperature', 'top_p', 'top_k', 'max_tokens', 'max_completion_tokens', 'stop', 'stream', 'stream_options', 'model', 'n', 'tools', 'tool_choice', 'response_format', 'functions', 'function_call', 'logit_bias', 'user', 'seed', 'echo', 'suffix', 'best_of', 'min_p', 'repetition_penalty', 'safety_model', 'provider', 'reasoning', 'prediction', 'metadata', 'api_base', '__proto__', 'constructor', 'options', 'system'),
      fc.string({ maxLength: 6 }),
    );
    const messageJunk = fc.record(
      {
        role: fc.oneof(fc.constantFrom('system', 'developer', 'user', 'assistant', 'tool', 'function'), junk),
        content: fc.oneof(text, junk, fc.array(fc.oneof(fc.record({ type: fc.constantFrom('text', 'image_url', 'input_audio', 'file', 'x'), text: fc.oneof(text, junk), image_url: fc.oneof(fc.record({ url: fc.constantFrom('https://x/y.png', 'data:image/png;base64,AAAA', 'data:,', 'data:image/png;base64,', 'ftp://x'), detail: junk }, { requiredKeys: ['url'] }), junk) }, { requiredKeys: ['type'] }), junk), { minLength: 1, maxLength: 3 })),
        name: fc.oneof(text, junk),
        tool_call_id: fc.oneof(text, junk),
        tool_calls: fc.oneof(junk, fc.array(fc.record({ id: fc.oneof(text, junk), type: fc.oneof(fc.constant('function'), junk), function: fc.oneof(junk, fc.record({ name: fc.oneof(text, junk), arguments: fc.oneof(fc.constantFrom('{}', '{"a":1}', '[', 'null', '"x"', '{"a":'), junk) })) }), { maxLength: 2 })),
        function_call: junk,
      },
      { requiredKeys: ['role'] },
    );
    const body = fc.oneof(
      fc.tuple(validChat, fc.array(fc.tuple(key, junk), { maxLength: 4 })).map(([b, extra]) => [CHAT, Object.assign({ ...b }, Object.fromEntries(extra))] as const),
      fc.tuple(validCompletions, fc.array(fc.tuple(key, junk), { maxLength: 4 })).map(([b, extra]) => [COMPLETIONS, Object.assign({ ...b }, Object.fromEntries(extra))] as const),
      fc.tuple(fc.array(messageJunk, { minLength: 1, maxLength: 4 }), fc.array(fc.tuple(key, junk), { maxLength: 3 })).map(([messages, extra]) => [CHAT, { ...Object.fromEntries(extra), messages }] as const),
      fc.tuple(fc.constantFrom(CHAT, COMPLETIONS), fc.jsonValue({ maxDepth: 4 })),
    );
    fc.assert(
      fc.property(body, configuredOptions, fc.constantFrom('configured', null), ([routeType, client], configured, model) => {
        const sent = wire(client);
        for (const config of CONFIGS) {
          const upstream = clientToUpstream(sent, routeType, config, configured, model);
          if (!(upstream instanceof RequestError)) assertJsonValue(upstream);
        }
      }),
      { numRuns: 600 },
    );
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});

// =============================================================================================
// Drivers: responses

const finishReason = fc.constantFrom('stop', 'length', 'tool_calls', 'content_filter', null);
const usage = fc.option(
  fc.record({ prompt_tokens: fc.nat(100_000), completion_tokens: fc.nat(100_000) }).map((u) => ({ ...u, total_tokens: u.prompt_tokens + u.completion_tokens })),
  { freq: 3 },
);
const answerMeta = { id: fc.stringMatching(/^chatcmpl-[a-z0-9]{1,8}$/), created: fc.integer({ min: 1, max: 2_000_000_000 }), model: fc.stringMatching(/^[a-z0-9.-]{1,12}$/) };
const chatAnswer = fc.record({
  ...answerMeta,
  object: fc.constant('chat.completion'),
  choices: fc.array(fc.record({ message: fc.record({ role: fc.constant('assistant'), content: fc.string({ unit: 'grapheme', maxLength: 60 }) }), finish_reason: finishReason }), { minLength: 1, maxLength: 3 }).map((choices) => choices.map((c, index) => ({ index, ...c }))),
  usage,
});
const completionAnswer = fc.record({
  ...answerMeta,
  object: fc.constant('text_completion'),
  choices: fc.array(fc.record({ text: fc.string({ unit: 'grapheme', maxLength: 60 }), finish_reason: finishReason }), { minLength: 1, maxLength: 3 }).map((choices) => choices.map((c, index) => ({ index, ...c }))),
  usage,
});

type Answer = { model: string; choices: { message?: { content: string }; text?: string }[]; usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null };

describe('driver responses', () => {
  const compatible = CONFIGS.filter((c) => c.openaiShaped);

  it('an OpenAI-shaped answer through every OpenAI-compatible driver keeps its content, usage and model', () => {
    const cases = fc.oneof(
      fc.tuple(fc.constantFrom(...compatible), fc.constant(CHAT), chatAnswer),
      fc.tuple(fc.constantFrom(...compatible.filter((c) => c.bridged)), fc.constant(COMPLETIONS), chatAnswer),
      fc.tuple(fc.constantFrom(...compatible.filter((c) => c.completionsOpenAI)), fc.constant(COMPLETIONS), completionAnswer),
    );
    fc.assert(
      fc.property(cases, fc.boolean(), ([config, routeType, answer], spaced) => {
        const ctx = context({ provider: config.provider, routeType, options: config.options });
        const upstreamText = JSON.stringify(answer, null, spaced ? 2 : undefined);
        const translated = getDriver(config.provider).parseResponse(upstreamText, ctx);
        const sent = JSON.parse(translated.body) as Answer;
        const contents = (a: Answer, chat: boolean) => a.choices.map((c) => (chat ? c.message?.content : c.text));
        const upstreamChat = routeType === CHAT || config.bridged;
        assert.deepEqual(contents(sent, routeType === CHAT), contents(answer as Answer, upstreamChat));
        assert.equal(sent.choices.length, answer.choices.length);
        assert.deepEqual(translated.usage, answer.usage);
        assert.equal(translated.responseModel, answer.model);
        assert.equal(sent.model, answer.model);
        if (!config.bridged && config.provider !== 'huggingface') assert.equal(translated.body, upstreamText, 'pass-through: the upstream bytes');
      }),
      { numRuns: 600 },
    );
  });

  it('junk answers to every driver throw only TranslationError (and not through the safety net)', () => {
    const junkText = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary', maxLength: 30 }),
      fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
      fc.constantFrom('', ' ', 'null', '[]', '{}', '"x"', '1e400', '-0', '\uFEFF{}', '{"choices":null}', '{"choices":{}}', '{"choices":[null]}', '{"choices":[{"message":null}]}', '{"choices":[1,"a",[]]}', '{"content":null}', '{"content":[null]}', '{"candidates":[null]}', '{"candidates":[{"content":null}]}', '{"output":null}', '{"output":{"message":{"content":[null]}}}', '{"generations":[null]}', '[{"generated_text":1}]', '{"message":{"content":1},"done":true}', '{"__proto__":{"choices":[]}}', '<html>502</html>', '['.repeat(5000)),
      fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify({ choices: [v], content: [v], candidates: [v], output: { message: { content: [v] } }, generations: [v], message: v, usage: v, usageMetadata: v, meta: v })),
    );
    fc.assert(
      fc.property(fc.constantFrom(...CONFIGS), fc.constantFrom(CHAT, COMPLETIONS), junkText, (config, routeType, body) => {
        const ctx = context({ provider: config.provider, options: config.options, routeType });
        try {
          const translated = getDriver(config.provider).parseResponse(body, ctx);
          assert.equal(typeof translated.body, 'string');
          JSON.parse(translated.body);
        } catch (e) {
          assert.ok(e instanceof TranslationError, describeError(e));
          assert.doesNotMatch(e.message, /^could not translate/, `${config.provider}: caught by the safety net: ${e.message}`);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
