/**
 * What a cache hit costs (issue 22): latency and gateway CPU of an ai-semantic-cache Hit against a
 * direct call (the same route without the cache, to the benchmark's mock upstream, which answers at
 * once), exact and semantic, memory and redis strategies. Target: a hit costs less than a direct call.
 *
 * Set-up (127.0.0.1 only): bench/mock-upstream.ts as the provider, test/mocks/embeddings.ts as the
 * embeddings provider (1536 dimensions: a realistic vector to parse, hash and compare), a
 * throwaway redis-server (test/helpers/redis.ts), and one modelgate node with one worker and
 * `MODELGATE_REDIS_URL`. Routes:
 * - `direct`: ai-proxy alone (every request goes to the mock);
 * - `exact-memory`, `exact-redis`: `exact_caching: true`; the same prompt each time (the exact key's
 *   answer, no embeddings call);
 * - `semantic-memory`, `semantic-redis`: `exact_caching: false`; a paraphrase each time (an
 *   embeddings call, a vector search, then the answer). The semantic stores hold `--fill` other
 *   vectors of the same scope first, so the search has work to do.
 * Each route: one Miss to store the answer; then every route gets 1,000 warm-up requests (so the
 * route measured first does not pay the JIT's warm-up for the others); then per route 200 more, then
 * `--requests` requests one at a time
 * (latency p50/p99 seen by the client) and `--requests` with `--concurrency` in flight (gateway CPU
 * per request: the primary's and the worker's, from /proc). The mock and the embeddings mock run in
 * this process: their CPU is not the gateway's; the primary's share is shown apart (the memory
 * strategy's answers live there). The status of every measured answer is checked.
 *
 *   node bench/semantic-cache.ts [--requests 2000] [--concurrency 16] [--fill 2000]
 */
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { Gateway } from '../test/helpers/gateway.ts';
import { RedisServer, redisMissing } from '../test/helpers/redis.ts';
import { startEmbeddingsMock } from '../test/mocks/embeddings.ts';
import { startMockUpstream } from './mock-upstream.ts';
import { childPids, cpuUs } from './procs.ts';

const { values: args } = parseArgs({ options: { requests: { type: 'string', default: '2000' }, concurrency: { type: 'string', default: '16' }, fill: { type: 'string', default: '2000' } } });
const N = Number(args.requests);
const C = Number(args.concurrency);
const FILL = Number(args.fill);
const DIMS = 1536;

if (redisMissing) {
  console.error(redisMissing);
  process.exit(1);
}

const mock = await startMockUpstream({ chunks: 1, delayMs: 0 });
const embed = await startEmbeddingsMock({ dimensions: DIMS });
const redis = await RedisServer.start();
const gw = await Gateway.start({ workers: 1, env: { MODELGATE_REDIS_URL: redis.url, MODELGATE_LOG_LEVEL: 'warn', MODELGATE_SPEND_LOG: 'off' } });
const agent = new Agent({ connections: C * 2, pipelining: 1 });

async function cleanup(): Promise<void> {
  await agent.close();
  await gw.close();
  await redis.close();
  await embed.close();
  await mock.close();
}

async function admin(method: string, url: string, body: unknown): Promise<void> {
  const r = await gw.adminRequest(method, url, body);
  if (r.status >= 300) throw new Error(`${url}: ${r.text}`);
}

const cachePlugin = (strategy: 'memory' | 'redis', exact: boolean) => ({
  name: 'ai-semantic-cache',
  config: {
    embeddings: { model: { provider: 'openai', name: 'mock-embed', options: { upstream_url: `${embed.url}/v1/embeddings` } } },
    vectordb: { strategy, dimensions: DIMS, distance_metric: 'cosine', threshold: 0.1, memory: { max_entries: 100_000, max_bytes: 1024 * 1024 * 1024 } },
    exact_caching: exact,
    cache_ttl: 3600,
  },
});

const ROUTES: [string, unknown | null][] = [
  ['direct', null],
  ['exact-memory', cachePlugin('memory', true)],
  ['exact-redis', cachePlugin('redis', true)],
  ['semantic-memory', cachePlugin('memory', false)],
  ['semantic-redis', cachePlugin('redis', false)],
];

await admin('POST', '/services', { name: 'ai', url: 'http://localhost:32000' });
for (const [name, cache] of ROUTES) {
  await admin('POST', '/services/ai/routes', { name, paths: [`/${name}`] });
  await admin('POST', `/routes/${name}/plugins`, {
    name: 'ai-proxy',
    config: { route_type: 'llm/v1/chat', auth: { header_name: 'Authorization', header_value: 'Bearer sk-bench' }, model: { provider: 'openai', name: 'gpt-4o-mini', options: { upstream_url: `${mock.url}/v1/chat/completions` } } },
  });
  if (cache) await admin('POST', `/routes/${name}/plugins`, cache);
}

const body = (content: string) => JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] });

async function send(route: string, content: string): Promise<string | null> {
  const r = await request(`${gw.proxy}/${route}/v1/chat/completions`, { method: 'POST', body: body(content), headers: { 'content-type': 'application/json' }, dispatcher: agent });
  await r.body.text();
  if (r.statusCode !== 200) throw new Error(`${route}: ${r.statusCode}`);
  const s = r.headers['x-cache-status'];
  return typeof s === 'string' ? s : null;
}

const QUESTION = 'What is the boiling point of water at sea level?';
const PARAPHRASE = "what's the boiling point of water at sea level";

/** The vectors stored besides the question (other prompts of the same scope: the search compares them). */
async function fillStore(route: string): Promise<void> {
  for (let i = 0; i < FILL; i += C) {
    await Promise.all(Array.from({ length: Math.min(C, FILL - i) }, (_, j) => send(route, `Unrelated question number ${i + j} about topic ${(i + j) % 97} and item ${(i + j) * 31}`)));
  }
}

const pids = () => [gw.proc!.pid!, ...childPids(gw.proc!.pid!)];

interface Figures {
  route: string;
  p50: number;
  p99: number;
  cpuUsPerRequest: number;
  /** Of which the primary's (the memory strategy's answers live there). */
  primaryUsPerRequest: number;
  rps: number;
}

/** Stores the route's answer (one Miss) and waits until it is a Hit. */
async function prime(route: string): Promise<void> {
  const content = route.startsWith('semantic') ? PARAPHRASE : QUESTION;
  await send(route, QUESTION);
  // the answer is stored in the log phase: until the next request hits
  for (let i = 0; i < 200 && (await send(route, content)) !== 'Hit'; i++) await new Promise((r) => setTimeout(r, 10));
}

/** Every route once more, WARMUP requests each, before any is measured: the first measured route does not pay the JIT's warm-up. */
const WARMUP = 1000;

async function measure(route: string, cached: boolean): Promise<Figures> {
  const content = route.startsWith('semantic') ? PARAPHRASE : QUESTION;
  const expect = cached ? 'Hit' : null;
  for (let i = 0; i < 200; i++) await send(route, content);
  const lat: number[] = [];
  for (let i = 0; i < N; i++) {
    const t0 = performance.now();
    const s = await send(route, content);
    lat.push(performance.now() - t0);
    if (s !== expect) throw new Error(`${route}: X-Cache-Status ${s}, expected ${expect}`);
  }
  lat.sort((a, b) => a - b);
  const cpu0 = cpuUs(pids());
  const primary0 = cpuUs([gw.proc!.pid!]);
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: C }, async () => {
      while (next < N) {
        next++;
        const s = await send(route, content);
        if (s !== expect) throw new Error(`${route}: X-Cache-Status ${s}, expected ${expect}`);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuUs(pids()) - cpu0;
  const primary = cpuUs([gw.proc!.pid!]) - primary0;
  return { route, p50: lat[Math.floor(N / 2)] * 1000, p99: lat[Math.floor(N * 0.99)] * 1000, cpuUsPerRequest: cpu / N, primaryUsPerRequest: primary / N, rps: N / seconds };
}

try {
  for (const [name] of ROUTES) if (name.startsWith('semantic')) await fillStore(name);
  for (const [name, cache] of ROUTES) if (cache) await prime(name);
  for (const [name] of ROUTES) {
    const content = name.startsWith('semantic') ? PARAPHRASE : QUESTION;
    for (let i = 0; i < WARMUP; i += C) await Promise.all(Array.from({ length: C }, () => send(name, content)));
  }
  const out: Figures[] = [];
  for (const [name, cache] of ROUTES) out.push(await measure(name, cache !== null));
  const direct = out[0];
  console.log(`${N} requests per route; latency one at a time, CPU and throughput with ${C} in flight; semantic stores hold ${FILL + 1} vectors of ${DIMS} dimensions`);
  console.log('route            p50 µs   p99 µs   gateway CPU µs/req (primary)   req/s    CPU vs direct');
  for (const f of out) {
    console.log(
      `${f.route.padEnd(16)} ${f.p50.toFixed(0).padStart(6)}   ${f.p99.toFixed(0).padStart(6)}   ${f.cpuUsPerRequest.toFixed(0).padStart(18)} (${f.primaryUsPerRequest.toFixed(0).padStart(5)})   ${f.rps.toFixed(0).padStart(6)}   ${f === direct ? '' : `${((f.cpuUsPerRequest / direct.cpuUsPerRequest) * 100).toFixed(0)}%`}`,
    );
  }
  for (const f of out.slice(1)) console.log(`${f.cpuUsPerRequest < direct.cpuUsPerRequest && f.p50 < direct.p50 ? 'pass' : 'FAIL'}: a ${f.route} hit costs less than a direct call (CPU and p50)`);
} finally {
  await cleanup();
}
