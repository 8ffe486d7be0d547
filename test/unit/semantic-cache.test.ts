/**
 * ai-semantic-cache's pure parts: the key rules (Kong's format_chat: countback and the ignore_*
 * flags; what changes the exact key and the scope), the memory vector store (scopes, threshold,
 * top-k order, ttl, LRU bounds by entries and bytes, dimensions; its LSH index: recall against
 * brute force, exact distances, candidates capped, removals), a worker's local copies of answers
 * (expiry, replacement, bounds), the distances, Cache-Control
 * parsing, and reading answers back from each client API (JSON and streams, complete or not).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { promptText, cacheKeys, type PromptRules } from '../../src/plugins/ai-semantic-cache/key.ts';
import { MemoryVectorStore } from '../../src/plugins/ai-semantic-cache/memory-store.ts';
import { LocalAnswers, MAX_COPY } from '../../src/plugins/ai-semantic-cache/local-answers.ts';
import { encodeEntry, type Entry } from '../../src/plugins/ai-semantic-cache/entry.ts';
import { cosineDistance, distance, euclideanDistance, DimensionError } from '../../src/plugins/ai-semantic-cache/vector-store.ts';
import { LSH_DEFAULTS } from '../../src/plugins/ai-semantic-cache/redis-lsh.ts';
import { benchThreshold, dataset, DIMENSIONS } from '../../bench/semantic-recall.ts';
import { parseCacheControl } from '../../src/plugins/ai-semantic-cache/cache-control.ts';
import { readAnswer } from '../../src/plugins/ai-semantic-cache/capture.ts';
import { markCached } from '../../src/plugins/ai-semantic-cache/render.ts';
import { clientApi } from '../../src/exchange/apis/index.ts';
import type { CanonicalRequest } from '../../src/exchange/types.ts';

const RULES: PromptRules = { message_countback: 10, ignore_system_prompts: false, ignore_assistant_prompts: false, ignore_tool_prompts: false };
const chat = (messages: unknown[], extra: Record<string, unknown> = {}): CanonicalRequest => clientApi('openai-chat').parse({ model: 'm', messages, ...extra });
const WHO = { pluginId: 'p', routeId: 'r', consumerId: 'c' };

describe('prompt text (Kong format_chat)', () => {
  const req = chat([
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Hi' },
    { role: 'assistant', content: 'Hello' },
    { role: 'user', content: 'What is 2+2?' },
  ]);
  test('newest first, every role by default', () => {
    assert.equal(promptText(req, RULES), 'user: What is 2+2?\n\nassistant: Hello\n\nuser: Hi\n\nsystem: Be brief.\n\n');
  });
  test('message_countback counts ignored messages too; ignore_* drop their roles', () => {
    assert.equal(promptText(req, { ...RULES, message_countback: 1 }), 'user: What is 2+2?\n\n');
    assert.equal(promptText(req, { ...RULES, message_countback: 2, ignore_assistant_prompts: true }), 'user: What is 2+2?\n\n');
    assert.equal(promptText(req, { ...RULES, ignore_system_prompts: true, ignore_assistant_prompts: true }), 'user: What is 2+2?\n\nuser: Hi\n\n');
  });
  test('a tool message is dropped with ignore_tool_prompts', () => {
    const r = chat([
      { role: 'user', content: 'weather?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'w', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 'c1', content: 'sunny' },
    ]);
    assert.match(promptText(r, RULES), /^tool: /);
    assert.equal(promptText(r, { ...RULES, ignore_tool_prompts: true, ignore_assistant_prompts: true }), 'user: weather?\n\n');
  });
});

describe('keys', () => {
  const base = chat([{ role: 'user', content: 'Q' }]);
  const k = (r: CanonicalRequest, who = WHO, api = 'openai-chat', model = 'openai/gpt-4') => cacheKeys(r, RULES, who, api, model);
  test('the same request has the same key; stream does not change it', () => {
    assert.equal(k(base).key, k(chat([{ role: 'user', content: 'Q' }])).key);
    assert.equal(k(base).key, k(chat([{ role: 'user', content: 'Q' }], { stream: true })).key);
  });
  test('sampling, tools, response format, model, API, consumer change scope and key', () => {
    const variants = [
      k(chat([{ role: 'user', content: 'Q' }], { temperature: 0.2 })),
      k(chat([{ role: 'user', content: 'Q' }], { max_tokens: 5 })),
      k(chat([{ role: 'user', content: 'Q' }], { seed: 1 })),
      k(chat([{ role: 'user', content: 'Q' }], { stop: ['x'] })),
      k(chat([{ role: 'user', content: 'Q' }], { response_format: { type: 'json_object' } })),
      k(chat([{ role: 'user', content: 'Q' }], { tools: [{ type: 'function', function: { name: 't', parameters: { type: 'object' } } }] })),
      k(base, WHO, 'openai-chat', 'openai/gpt-4o'),
      k(base, WHO, 'anthropic-messages'),
      k(base, { ...WHO, consumerId: 'other' }),
    ];
    const all = new Set([k(base).scope, ...variants.map((v) => v.scope)]);
    assert.equal(all.size, variants.length + 1);
    assert.equal(new Set([k(base).key, ...variants.map((v) => v.key)]).size, variants.length + 1);
  });
  test('a different prompt keeps the scope (so it can match semantically) but not the key', () => {
    const other = k(chat([{ role: 'user', content: 'Q2' }]));
    assert.equal(other.scope, k(base).scope);
    assert.notEqual(other.key, k(base).key);
  });
});

describe('distances', () => {
  const a = Float32Array.from([1, 0]);
  const b = Float32Array.from([0, 1]);
  test('cosine and euclidean', () => {
    assert.equal(cosineDistance(a, a), 0);
    assert.equal(cosineDistance(a, b), 1);
    assert.equal(cosineDistance(a, Float32Array.from([-1, 0])), 2);
    assert.equal(cosineDistance(a, Float32Array.from([0, 0])), 1);
    assert.equal(euclideanDistance(a, b), Math.SQRT2);
  });
});

describe('memory vector store', () => {
  const v = (...x: number[]) => Float32Array.from(x);
  test('search within the threshold, nearest first, top k, only in its scope', async () => {
    const s = new MemoryVectorStore({ dimensions: 2, metric: 'euclidean', maxEntries: 100, maxBytes: 1 << 20 });
    await s.insert('s', 'far', v(3, 0), 1000);
    await s.insert('s', 'near', v(0.1, 0), 1000);
    await s.insert('s', 'mid', v(0.5, 0), 1000);
    await s.insert('t', 'other', v(0, 0), 1000);
    assert.deepEqual((await s.search('s', v(0, 0), 5, 1)).map((m) => m.id), ['near', 'mid']);
    assert.deepEqual((await s.search('s', v(0, 0), 1, 1)).map((m) => m.id), ['near']);
    assert.deepEqual(await s.search('u', v(0, 0), 5, 10), []);
    await s.delete('s', 'near');
    assert.deepEqual((await s.search('s', v(0, 0), 5, 1)).map((m) => m.id), ['mid']);
  });
  test('expired vectors are never found', async () => {
    let now = 0;
    const s = new MemoryVectorStore({ dimensions: 2, metric: 'cosine', maxEntries: 10, maxBytes: 1 << 20, now: () => now });
    await s.insert('s', 'a', v(1, 0), 100);
    assert.equal((await s.search('s', v(1, 0), 1, 0.1)).length, 1);
    now = 100;
    assert.equal((await s.search('s', v(1, 0), 1, 0.1)).length, 0);
    assert.equal(s.size, 0);
  });
  test('bounded by entries: the least recently used goes first (a match is a use)', async () => {
    const s = new MemoryVectorStore({ dimensions: 2, metric: 'cosine', maxEntries: 2, maxBytes: 1 << 20 });
    await s.insert('s', 'a', v(1, 0), 1000);
    await s.insert('s', 'b', v(0, 1), 1000);
    await s.search('s', v(1, 0), 1, 0.01); // uses a
    await s.insert('s', 'c', v(1, 1), 1000); // evicts b
    assert.deepEqual((await s.search('s', v(0, 1), 3, 2)).map((m) => m.id).sort(), ['a', 'c']);
  });
  test('bounded by bytes', async () => {
    const s = new MemoryVectorStore({ dimensions: 256, metric: 'cosine', maxEntries: 1000, maxBytes: 4 * 1024 });
    for (let i = 0; i < 20; i++) await s.insert('s', `id${i}`, new Float32Array(256).fill(i + 1), 1000);
    assert.ok(s.bytes <= 4 * 1024);
    assert.ok(s.size >= 1 && s.size < 20);
  });
  test('a vector of the wrong length is refused', async () => {
    const s = new MemoryVectorStore({ dimensions: 3, metric: 'cosine', maxEntries: 10, maxBytes: 1 << 20 });
    await assert.rejects(s.insert('s', 'a', v(1, 0), 10), DimensionError);
    await assert.rejects(s.search('s', v(1, 0), 1, 1), DimensionError);
  });
});

describe('memory vector store: the LSH index above the brute-force limit (1536 dimensions, clustered, seed 7)', () => {
  for (const metric of ['cosine', 'euclidean'] as const) {
    test(`${metric}: recall@1 against brute force ≥ 0.95, every match exact`, async () => {
      const { threshold, cosine } = benchThreshold(metric);
      const data = dataset(7, 2000, 200, cosine);
      const s = new MemoryVectorStore({ dimensions: DIMENSIONS, metric, threshold, maxEntries: 10_000, maxBytes: 1 << 30 });
      for (let i = 0; i < data.stored.length; i++) await s.insert('s', String(i), data.stored[i], 60_000);
      let answerable = 0;
      let right = 0;
      for (const q of data.queries) {
        let best = -1;
        let bestD = Infinity;
        data.stored.forEach((v, id) => {
          const d = distance(metric, q, v);
          if (d <= threshold && d < bestD) (bestD = d), (best = id);
        });
        const got = await s.search('s', q, 3, threshold);
        for (const m of got) assert.equal(m.distance, distance(metric, q, data.stored[Number(m.id)]), 'the exact distance');
        if (best >= 0) {
          answerable++;
          if (got[0]?.id === String(best)) right++;
        }
      }
      assert.ok(answerable >= 140, `${answerable} queries brute force answers`);
      assert.ok(right / answerable >= 0.95, `recall@1 ${right / answerable}`);
    });
  }

  test('below the limit a search is exhaustive, above it the candidates are capped (the index is used)', async () => {
    const data = dataset(3, 600, 1, 0.1);
    const cap = { ...LSH_DEFAULTS, max_candidates: 100 };
    const exhaustive = new MemoryVectorStore({ dimensions: DIMENSIONS, metric: 'cosine', lsh: cap, exactUpTo: 1000, maxEntries: 10_000, maxBytes: 1 << 30 });
    const indexed = new MemoryVectorStore({ dimensions: DIMENSIONS, metric: 'cosine', lsh: cap, maxEntries: 10_000, maxBytes: 1 << 30 });
    for (let i = 0; i < data.stored.length; i++) {
      await exhaustive.insert('s', String(i), data.stored[i], 60_000);
      await indexed.insert('s', String(i), data.stored[i], 60_000);
    }
    // threshold 2: every vector matches, so what comes back is what was compared
    assert.equal((await exhaustive.search('s', data.queries[0], 1000, 2)).length, 600);
    const n = (await indexed.search('s', data.queries[0], 1000, 2)).length;
    assert.ok(n > 0 && n <= 100, `${n} compared`);
  });

  test('deleted and expired vectors leave the buckets; a re-insert is found once', async () => {
    let now = 0;
    const data = dataset(5, 300, 1, 0.1);
    const s = new MemoryVectorStore({ dimensions: DIMENSIONS, metric: 'cosine', exactUpTo: 10, maxEntries: 10_000, maxBytes: 1 << 30, now: () => now });
    for (let i = 0; i < data.stored.length; i++) await s.insert('s', String(i), data.stored[i], i < 150 ? 100 : 1000);
    await s.insert('s', '200', data.stored[200], 1000);
    assert.deepEqual((await s.search('s', data.stored[200], 3, 0.01)).map((m) => m.id), ['200']);
    await s.delete('s', '200');
    assert.deepEqual(await s.search('s', data.stored[200], 3, 0.01), []);
    now = 100;
    assert.deepEqual(await s.search('s', data.stored[10], 3, 0.01), []);
    assert.deepEqual((await s.search('s', data.stored[250], 3, 0.01)).map((m) => m.id), ['250']);
  });
});

describe("a worker's local copies of answers (memory strategy)", () => {
  const entry = (createdAt: number, ttlMs: number, text = 'hi'): Entry => ({ v: 1, createdAt, ttlMs, provider: 'openai', model: 'm', choices: [{ index: 0, parts: [{ type: 'text', text }], finishReason: 'stop' }] as unknown as Entry['choices'], usage: null, cost: null });
  const put = (l: LocalAnswers, key: string, e: Entry) => l.put(key, e, encodeEntry(e));

  test("served until the entry's own expiry, never after; a store replaces the copy", () => {
    let now = 1000;
    const l = new LocalAnswers({ maxEntries: 10, maxBytes: 1 << 20, now: () => now });
    put(l, 'k', entry(900, 200, 'old'));
    assert.equal(l.get('k')?.createdAt, 900);
    put(l, 'k', entry(1000, 200, 'new'));
    assert.equal((l.get('k')?.choices[0] as any).parts[0].text, 'new');
    now = 1199;
    assert.ok(l.get('k'));
    now = 1200;
    assert.equal(l.get('k'), null);
    assert.equal(l.size, 0);
    put(l, 'gone', entry(0, 100));
    assert.equal(l.size, 0, 'an expired entry is not copied');
  });

  test('bounded by entries (least recently used first) and by bytes; big answers are not copied', () => {
    const l = new LocalAnswers({ maxEntries: 2, maxBytes: 1 << 20 });
    const now = Date.now();
    put(l, 'a', entry(now, 60_000));
    put(l, 'b', entry(now, 60_000));
    l.get('a');
    put(l, 'c', entry(now, 60_000));
    assert.ok(l.get('a') && l.get('c'));
    assert.equal(l.get('b'), null);
    const small = new LocalAnswers({ maxEntries: 100, maxBytes: 2048 });
    for (let i = 0; i < 10; i++) put(small, `k${i}`, entry(now, 60_000, 'x'.repeat(200)));
    assert.ok(small.bytes <= 2048 && small.size >= 1 && small.size < 10, `${small.size} copies, ${small.bytes} bytes`);
    const l2 = new LocalAnswers({ maxEntries: 10, maxBytes: 1 << 30 });
    put(l2, 'big', entry(now, 60_000, 'x'.repeat(MAX_COPY)));
    assert.equal(l2.size, 0);
  });
});

describe('Cache-Control', () => {
  test('directives, case and quoting, s-maxage over max-age, junk ignored', () => {
    assert.deepEqual(parseCacheControl(undefined), { noStore: false, noCache: false, private: false, maxAge: null });
    assert.deepEqual(parseCacheControl('No-Store'), { noStore: true, noCache: false, private: false, maxAge: null });
    assert.equal(parseCacheControl('no-cache, private').noCache, true);
    assert.equal(parseCacheControl('no-cache, private').private, true);
    assert.equal(parseCacheControl('max-age=60').maxAge, 60);
    assert.equal(parseCacheControl('max-age="60"').maxAge, 60);
    assert.equal(parseCacheControl(['max-age=60', 's-maxage=5']).maxAge, 5);
    assert.equal(parseCacheControl('max-age=-1').maxAge, null);
    assert.equal(parseCacheControl('max-age=1e3').maxAge, null);
  });
});

describe('reading answers back', () => {
  test('OpenAI chat JSON and stream (text, tool calls, usage); a stream without [DONE] is not an answer', () => {
    const json = readAnswer('openai-chat', JSON.stringify({ id: 'x', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'Hi', tool_calls: [{ id: 't', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] }, finish_reason: 'tool_calls' }], usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } }), false);
    assert.deepEqual(json?.choices[0], { parts: [{ type: 'text', text: 'Hi' }, { type: 'tool_call', id: 't', name: 'f', arguments: '{"a":1}' }], finishReason: 'tool_calls' });
    const frames = [
      { id: 'x', model: 'm', choices: [{ index: 0, delta: { role: 'assistant', content: 'H' } }] },
      { id: 'x', choices: [{ index: 0, delta: { content: 'i' } }] },
      { id: 'x', choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: 't', function: { name: 'f', arguments: '{"a"' } }] } }] },
      { id: 'x', choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: ':1}' } }] }, finish_reason: 'tool_calls' }] },
    ]
      .map((f) => `data: ${JSON.stringify(f)}\n\n`)
      .join('');
    const streamed = readAnswer('openai-chat', `${frames}data: [DONE]\n\n`, true);
    assert.deepEqual(streamed?.choices[0], json?.choices[0]);
    assert.equal(readAnswer('openai-chat', frames, true), null);
    assert.equal(readAnswer('openai-chat', `${frames}data: {"error":{"message":"x"}}\n\n`, true), null);
  });
  test('Anthropic stream: blocks, tool input JSON, stop reason; no message_stop is not an answer', () => {
    const ev = (type: string, data: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
    const body =
      ev('message_start', { message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'c', content: [], usage: { input_tokens: 3, output_tokens: 0 } } }) +
      ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }) +
      ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Hello' } }) +
      ev('content_block_start', { index: 1, content_block: { type: 'tool_use', id: 'tu', name: 'f', input: {} } }) +
      ev('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: '{"a":' } }) +
      ev('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: '1}' } }) +
      ev('message_delta', { delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 7 } });
    const a = readAnswer('anthropic-messages', body + ev('message_stop', {}), true);
    assert.deepEqual(a?.choices[0], { parts: [{ type: 'text', text: 'Hello' }, { type: 'tool_call', id: 'tu', name: 'f', arguments: '{"a":1}' }], finishReason: 'tool_calls' });
    assert.deepEqual(a?.usage, { prompt_tokens: 3, completion_tokens: 7, total_tokens: 10 });
    assert.equal(readAnswer('anthropic-messages', body, true), null);
  });
  test('Responses: the completed response object; a failed one is not an answer', () => {
    const response = { id: 'resp_1', object: 'response', created_at: 1, model: 'm', status: 'completed', output: [{ type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Yo' }] }], usage: { input_tokens: 1, output_tokens: 1, total_tokens: 2 } };
    assert.deepEqual(readAnswer('openai-responses', JSON.stringify(response), false)?.choices[0], { parts: [{ type: 'text', text: 'Yo' }], finishReason: 'stop' });
    const stream = `event: response.completed\ndata: ${JSON.stringify({ type: 'response.completed', response })}\n\n`;
    assert.equal(readAnswer('openai-responses', stream, true)?.choices[0].parts.length, 1);
    assert.equal(readAnswer('openai-responses', `event: response.failed\ndata: {"type":"response.failed"}\n\n${stream}`, true), null);
  });
  test('the cached marker goes into every usage object, not into text', () => {
    assert.equal(markCached('{"content":"\\"usage\\":{","usage":{"prompt_tokens":0}}'), '{"content":"\\"usage\\":{","usage":{"cached":true,"prompt_tokens":0}}');
  });
});
