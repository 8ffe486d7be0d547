/**
 * The Responses store (src/exchange/responses-store.ts): save/load/delete per scope, bounded by
 * age and by count, against the real local store (the primary's MemoryCounters and MemoryCache
 * reached over IpcState, as a worker reaches them) and against a real Redis (skipped, with the
 * reason, without a `redis-server` binary); then the pure parts: request expansion for
 * `previous_response_id`, resource paths and answers.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryCounters } from '../../src/state/memory.ts';
import { MemoryCache } from '../../src/state/memory-cache.ts';
import { IpcState, serveCacheRequest, serveCounterRequest } from '../../src/state/ipc.ts';
import { RedisState } from '../../src/state/redis.ts';
import { installSharedState } from '../../src/state/index.ts';
import { validateRecord } from '../../src/schema/validate.ts';
import { RequestError } from '../../src/llm/types.ts';
import { RedisServer, redisMissing } from '../helpers/redis.ts';
import {
  ResponsesStore,
  answerInputItems,
  answerResponsesResource,
  answerRetrieve,
  expandPrevious,
  resolvePrevious,
  responsesResourceRequest,
  responsesStoreField,
  storedInputOf,
  type StoredResponse,
} from '../../src/exchange/responses-store.ts';

// ---------------------------------------------------------------------------------------------
// shared state: local always; redis when a redis-server can be started

const counters = new MemoryCounters();
const cache = new MemoryCache();
const local: IpcState = new IpcState((msg) => {
  const values = msg.t === 'cache' ? serveCacheRequest(cache, msg) : serveCounterRequest(counters, msg);
  setImmediate(() => local.onReply({ t: 'state-reply', id: msg.id, values }));
  return true;
});

let redisServer: RedisServer | null = null;
let redis: RedisState | null = null;
const redisReady: Promise<void> = (async () => {
  if (!redisMissing) {
    redisServer = await RedisServer.start();
    redis = new RedisState(redisServer.url, { timeoutMs: 2000, prefix: 'test:' });
    await redis.client.ping().catch(() => new Promise((r) => redis!.client.once('ready', r)));
  }
  installSharedState({ local, redis });
})();

after(async () => {
  counters.close();
  cache.close();
  await redis?.close();
  await redisServer?.close();
});

const POLICIES = [
  { policy: 'local' as const, skip: false as const },
  { policy: 'redis' as const, skip: redisMissing ?? (false as const) },
];

let counter = 0;
/** A fresh response id and scope per call: tests share one store. */
const newId = () => `resp_${(++counter).toString(36)}x${Math.random().toString(36).slice(2, 10)}`;
const newScope = () => `route-${counter}-${Math.random().toString(36).slice(2)}:consumer-a`;

function stored(id: string, text = 'hello'): StoredResponse {
  return {
    id,
    input: [{ type: 'message', role: 'user', content: text }],
    response: { id, object: 'response', status: 'completed', output: [{ id: `msg_${id.slice(5)}`, type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'hi', annotations: [] }] }] },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const { policy, skip } of POLICIES) {
  test(`${policy}: save, load, delete`, { skip }, async () => {
    await redisReady;
    const store = new ResponsesStore({ ttl: 3600, max_per_consumer: 10, policy });
    const scope = newScope();
    const id = newId();
    assert.equal(await store.load(scope, id), null);
    assert.equal(await store.save(scope, stored(id)), true);
    assert.deepEqual(await store.load(scope, id), stored(id));
    assert.equal(await store.delete(scope, id), true);
    assert.equal(await store.load(scope, id), null);
    assert.equal(await store.delete(scope, id), false, 'a second delete finds nothing');
    assert.equal(await store.save(scope, { ...stored(id), id: 'not-a-response-id' }), false, 'only response ids are stored');
    assert.equal(await store.load(scope, 'resp_../x'), null);
  });

  test(`${policy}: one scope never sees another's responses`, { skip }, async () => {
    await redisReady;
    const store = new ResponsesStore({ ttl: 3600, max_per_consumer: 10, policy });
    const route = `route-${newId()}`;
    const alice = `${route}:alice`;
    const bob = `${route}:bob`;
    const otherRoute = `other-${newId()}:alice`;
    const id = newId();
    await store.save(alice, stored(id));
    assert.equal(await store.load(bob, id), null, 'another consumer of the route');
    assert.equal(await store.load(otherRoute, id), null, 'the same consumer on another route');
    assert.equal(await store.delete(bob, id), false, 'another consumer cannot delete it');
    assert.deepEqual(await store.load(alice, id), stored(id), 'still there for its owner');
    const answer = await answerResponsesResource(store, bob, { op: 'get', id });
    assert.equal(answer.status, 404, 'answered as unknown, not as forbidden');
  });

  test(`${policy}: responses expire after ttl`, { skip }, async () => {
    await redisReady;
    const store = new ResponsesStore({ ttl: 0.05, max_per_consumer: 10, policy });
    const scope = newScope();
    const id = newId();
    assert.equal(await store.save(scope, stored(id)), true);
    await sleep(300);
    assert.equal(await store.load(scope, id), null);
  });

  test(`${policy}: at most max_per_consumer per scope, oldest first`, { skip }, async () => {
    await redisReady;
    const max = 4;
    const store = new ResponsesStore({ ttl: 3600, max_per_consumer: max, policy });
    const scope = newScope();
    const other = newScope();
    const ids = Array.from({ length: max + 3 }, newId);
    const bystander = newId();
    await store.save(other, stored(bystander));
    for (const id of ids) assert.equal(await store.save(scope, stored(id)), true);
    const present = await Promise.all(ids.map(async (id) => (await store.load(scope, id)) !== null));
    assert.deepEqual(present, [false, false, false, true, true, true, true], 'the first three are gone');
    assert.ok(await store.load(other, bystander), 'another scope keeps its own count');
  });

  test(`${policy}: concurrent saves keep the bound`, { skip }, async () => {
    await redisReady;
    const store = new ResponsesStore({ ttl: 3600, max_per_consumer: 5, policy });
    const scope = newScope();
    const ids = Array.from({ length: 20 }, newId);
    for (let i = 0; i < ids.length; i += 4) await Promise.all(ids.slice(i, i + 4).map((id) => store.save(scope, stored(id))));
    const kept = (await Promise.all(ids.map((id) => store.load(scope, id)))).filter(Boolean);
    assert.equal(kept.length, 5);
  });

  test(`${policy}: an entry above the size bound is not stored`, { skip }, async () => {
    await redisReady;
    const store = new ResponsesStore({ ttl: 3600, max_per_consumer: 10, policy }, { maxEntryBytes: 1000 });
    const scope = newScope();
    const id = newId();
    assert.equal(await store.save(scope, stored(id, 'x'.repeat(2000))), false);
    assert.equal(await store.load(scope, id), null);
    assert.equal(await store.save(scope, stored(id, 'small')), true);
  });
}

test('a store that does not answer: save, load and delete reject; the answers say 503', async () => {
  await redisReady;
  installSharedState({ local: new IpcState(() => false) });
  try {
    const store = new ResponsesStore({ ttl: 60, max_per_consumer: 10, policy: 'local' });
    const id = newId();
    await assert.rejects(store.save('s', stored(id)), /no IPC channel/);
    await assert.rejects(store.load('s', id));
    const answer = await answerResponsesResource(store, 's', { op: 'delete', id });
    assert.equal(answer.status, 503);
    const resolved = await resolvePrevious(store, 's', { input: 'hi', previous_response_id: id });
    assert.equal(resolved.ok, false);
    if (!resolved.ok) assert.equal(resolved.answer.status, 503);
  } finally {
    installSharedState({ local, redis });
  }
});

// ---------------------------------------------------------------------------------------------
// configuration

test('config.responses: production defaults, and bounds', () => {
  const fields = { responses: responsesStoreField };
  const r = validateRecord(fields, undefined, {});
  assert.equal(r.errors, undefined);
  assert.deepEqual(
    { ...(r.value.responses as Record<string, unknown>), redis: undefined },
    { store: true, ttl: 30 * 24 * 3600, max_per_consumer: 1000, policy: 'local', redis: undefined },
  );
  const bad = validateRecord(fields, undefined, { responses: { policy: 'cluster', max_per_consumer: 0, ttl: 1.5 } });
  assert.ok(bad.errors);
  assert.deepEqual(Object.keys(bad.errors.responses as object).sort(), ['max_per_consumer', 'policy', 'ttl']);
});

// ---------------------------------------------------------------------------------------------
// request bodies

test('storedInputOf: a string is one user message; items are kept; bad input is a 400 naming the field', () => {
  assert.deepEqual(storedInputOf({ input: 'hi' }), [{ type: 'message', role: 'user', content: 'hi' }]);
  const items = [{ role: 'user', content: [{ type: 'input_text', text: 'a' }] }, { type: 'function_call_output', call_id: 'call_1', output: '4' }];
  assert.deepEqual(storedInputOf({ input: items }), items);
  assert.deepEqual(storedInputOf({}), []);
  assert.throws(() => storedInputOf({ input: 42 }), (e: Error) => e instanceof RequestError && /^input:/.test(e.message));
  assert.throws(() => storedInputOf({ input: [{ role: 'user', content: 'a' }, 'b'] }), (e: Error) => e instanceof RequestError && /^input\[1\]:/.test(e.message));
});

test('expandPrevious: history, then the previous output, then the new input; no previous_response_id', () => {
  const first = { model: 'm', instructions: 'Be terse.', input: 'What is 2+2?' };
  const previous: StoredResponse = {
    id: 'resp_1',
    input: storedInputOf(first),
    response: {
      id: 'resp_1',
      object: 'response',
      instructions: 'Be terse.',
      output: [
        { id: 'rs_1', type: 'reasoning', summary: [], encrypted_content: 'enc', status: null },
        { id: 'fc_1', type: 'function_call', call_id: 'call_1', name: 'add', arguments: '{"a":2,"b":2}', status: 'completed' },
      ],
    },
  };
  const next = { model: 'm', previous_response_id: 'resp_1', input: [{ type: 'function_call_output', call_id: 'call_1', output: '4' }], temperature: 0.2 };
  const expanded = expandPrevious(next, previous);
  assert.deepEqual(expanded, {
    model: 'm',
    temperature: 0.2,
    input: [
      { type: 'message', role: 'user', content: 'What is 2+2?' },
      { id: 'rs_1', type: 'reasoning', summary: [], encrypted_content: 'enc' },
      { id: 'fc_1', type: 'function_call', call_id: 'call_1', name: 'add', arguments: '{"a":2,"b":2}', status: 'completed' },
      { type: 'function_call_output', call_id: 'call_1', output: '4' },
    ],
  });
  assert.equal('instructions' in expanded, false, "the previous request's instructions are not carried over");
  assert.equal(expandPrevious({ ...next, instructions: 'Be kind.' }, previous).instructions, 'Be kind.', 'the new request keeps its own');
  assert.deepEqual(next.input, [{ type: 'function_call_output', call_id: 'call_1', output: '4' }], 'the body is not changed');
  assert.deepEqual(previous.input, [{ type: 'message', role: 'user', content: 'What is 2+2?' }], 'nor the stored entry');
});

test('expandPrevious: a chain of two previous responses, each saved with the expanded input', () => {
  const msg = (role: string, text: string, id: string) => ({ id, type: 'message', role, status: 'completed', content: [{ type: 'output_text', text, annotations: [] }] });
  const body1 = { input: 'one' };
  const r1: StoredResponse = { id: 'resp_1', input: storedInputOf(body1), response: { id: 'resp_1', output: [msg('assistant', 'ONE', 'msg_1')] } };
  const body2 = expandPrevious({ input: 'two', previous_response_id: 'resp_1' }, r1);
  const r2: StoredResponse = { id: 'resp_2', input: storedInputOf(body2), response: { id: 'resp_2', output: [msg('assistant', 'TWO', 'msg_2')] } };
  const body3 = expandPrevious({ input: [{ role: 'user', content: 'three' }], previous_response_id: 'resp_2' }, r2);
  assert.deepEqual(body3.input, [
    { type: 'message', role: 'user', content: 'one' },
    msg('assistant', 'ONE', 'msg_1'),
    { type: 'message', role: 'user', content: 'two' },
    msg('assistant', 'TWO', 'msg_2'),
    { role: 'user', content: 'three' },
  ]);
});

test('resolvePrevious: unchanged without one, expanded when known, a 400 when unknown or when storage is off', async () => {
  await redisReady;
  const store = new ResponsesStore({ ttl: 3600, max_per_consumer: 10, policy: 'local' });
  const scope = newScope();
  const id = newId();
  await store.save(scope, stored(id, 'first'));

  const plain = { input: 'hi' };
  assert.deepEqual(await resolvePrevious(store, scope, plain), { ok: true, body: plain, previous: null });

  const known = await resolvePrevious(store, scope, { input: 'again', previous_response_id: id });
  assert.ok(known.ok);
  assert.equal((known.body.input as unknown[]).length, 3);
  assert.equal(known.previous?.id, id);

  const unknown = await resolvePrevious(store, newScope(), { input: 'again', previous_response_id: id });
  assert.deepEqual(unknown, {
    ok: false,
    answer: {
      status: 400,
      body: { error: { message: `Previous response with id '${id}' not found.`, type: 'invalid_request_error', param: 'previous_response_id', code: 'previous_response_not_found' } },
    },
  });

  const off = await resolvePrevious(null, scope, { input: 'again', previous_response_id: id });
  assert.ok(!off.ok);
  assert.equal(off.answer.status, 400);
  assert.match(String((off.answer.body.error as { message: string }).message), /does not store responses/);
  assert.deepEqual(await resolvePrevious(null, scope, plain), { ok: true, body: plain, previous: null }, 'without previous_response_id, storage off changes nothing');

  const wrongType = await resolvePrevious(store, scope, { previous_response_id: 7 });
  assert.ok(!wrongType.ok);
  assert.equal(wrongType.answer.status, 400);
});

// ---------------------------------------------------------------------------------------------
// resources

test('responsesResourceRequest recognises the three resource requests at the end of a path', () => {
  assert.deepEqual(responsesResourceRequest('GET', '/v1/responses/resp_abc123'), { op: 'get', id: 'resp_abc123' });
  assert.deepEqual(responsesResourceRequest('delete', '/openai/v1/responses/resp_abc123'), { op: 'delete', id: 'resp_abc123' });
  assert.deepEqual(responsesResourceRequest('GET', '/route/responses/resp_X9/input_items?limit=2&order=asc'), { op: 'input_items', id: 'resp_X9' });
  for (const [method, path] of [
    ['POST', '/v1/responses'],
    ['POST', '/v1/responses/resp_abc'],
    ['DELETE', '/v1/responses/resp_abc/input_items'],
    ['GET', '/v1/responses'],
    ['GET', '/v1/responses/abc'],
    ['GET', '/v1/responses/resp_'],
    ['GET', '/v1/responses/resp_a-b'],
    ['GET', '/v1/responses/resp_abc/cancel'],
    ['GET', '/v1/responses/resp_abc/input_items/x'],
    ['GET', '/v1/myresponses/resp_abc'],
    ['GET', '/v1/chat/completions'],
  ]) {
    assert.equal(responsesResourceRequest(method, path), null, `${method} ${path}`);
  }
});

test('answers: retrieve, delete, not found in OpenAI shapes', async () => {
  await redisReady;
  const store = new ResponsesStore({ ttl: 3600, max_per_consumer: 10, policy: 'local' });
  const scope = newScope();
  const id = newId();
  await store.save(scope, stored(id));
  assert.deepEqual(await answerResponsesResource(store, scope, { op: 'get', id }), { status: 200, body: stored(id).response });
  assert.equal(answerRetrieve(stored(id), id, { stream: 'true' }).status, 400, 'no re-streaming of a stored response');
  assert.deepEqual(await answerResponsesResource(store, scope, { op: 'delete', id }), { status: 200, body: { id, object: 'response', deleted: true } });
  const notFound = { status: 404, body: { error: { message: `Response with id '${id}' not found.`, type: 'invalid_request_error', param: null, code: null } } };
  assert.deepEqual(await answerResponsesResource(store, scope, { op: 'get', id }), notFound);
  assert.deepEqual(await answerResponsesResource(store, scope, { op: 'delete', id }), notFound);
  assert.deepEqual(await answerResponsesResource(store, scope, { op: 'input_items', id }), notFound);
  const off = await answerResponsesResource(null, scope, { op: 'get', id });
  assert.equal(off.status, 404);
  assert.match(String((off.body.error as { message: string }).message), /does not store responses/);
});

test('input items: every item with an id, newest first by default, paged with limit and after', () => {
  const entry: StoredResponse = {
    id: 'resp_1',
    input: [
      { type: 'message', role: 'user', content: 'one' },
      { id: 'msg_a1', type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'ONE', annotations: [] }] },
      { role: 'user', content: 'two' },
      { type: 'function_call_output', call_id: 'call_1', output: '4' },
    ],
    response: { id: 'resp_1', output: [] },
  };
  const all = answerInputItems(entry, 'resp_1', { order: 'asc', limit: '100' });
  assert.equal(all.status, 200);
  const data = all.body.data as Record<string, unknown>[];
  assert.equal(data.length, 4);
  assert.deepEqual(data[0].content, [{ type: 'input_text', text: 'one' }], 'a string content is listed as its text part');
  assert.equal(data[2].type, 'message');
  assert.equal(data[1].id, 'msg_a1', 'an item keeps its own id');
  assert.match(String(data[0].id), /^msg_[0-9a-f]{32}$/);
  assert.match(String(data[3].id), /^item_[0-9a-f]{32}$/);
  assert.equal(new Set(data.map((d) => d.id)).size, 4);
  assert.deepEqual(answerInputItems(entry, 'resp_1', { order: 'asc' }), all, 'ids are stable from one call to the next');
  assert.deepEqual({ ...all.body, data: undefined }, { object: 'list', data: undefined, first_id: data[0].id, last_id: data[3].id, has_more: false });

  const page1 = answerInputItems(entry, 'resp_1', { limit: '3' });
  assert.deepEqual((page1.body.data as Record<string, unknown>[]).map((d) => d.id), [data[3].id, data[2].id, data[1].id], 'desc by default');
  assert.equal(page1.body.has_more, true);
  const page2 = answerInputItems(entry, 'resp_1', { limit: ['1', '3'], after: String(page1.body.last_id) });
  assert.deepEqual((page2.body.data as Record<string, unknown>[]).map((d) => d.id), [data[0].id]);
  assert.equal(page2.body.has_more, false);
  assert.equal(answerInputItems(entry, 'resp_1', { after: String(data[0].id) }).body.first_id, null, 'an empty page');

  for (const query of [{ limit: '0' }, { limit: '101' }, { limit: 'x' }, { order: 'up' }, { after: 'msg_unknown' }]) {
    const r = answerInputItems(entry, 'resp_1', query);
    assert.equal(r.status, 400, JSON.stringify(query));
    assert.equal((r.body.error as { param: string }).param, Object.keys(query)[0]);
  }
});

test('input items of a chain: history items keep their ids from one response to the next', () => {
  const body1 = { input: 'one' };
  const r1: StoredResponse = { id: 'resp_1', input: storedInputOf(body1), response: { id: 'resp_1', output: [{ id: 'msg_o1', type: 'message', role: 'assistant', content: [] }] } };
  const r2: StoredResponse = { id: 'resp_2', input: storedInputOf(expandPrevious({ input: 'two', previous_response_id: 'resp_1' }, r1)), response: { id: 'resp_2', output: [] } };
  const ids = (r: StoredResponse) => (answerInputItems(r, r.id, { order: 'asc' }).body.data as Record<string, unknown>[]).map((d) => d.id);
  assert.deepEqual(ids(r2).slice(0, 1), ids(r1));
});
