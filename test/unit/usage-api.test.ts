/** The Usage API's parameters, CSV and answers (src/admin/usage-routes.ts), over a fake SpendStore. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import {
  DEFAULT_RANGE_MS,
  MAX_POINTS,
  csvField,
  csvLines,
  nextUrl,
  parseGroupBy,
  parseRequestsQuery,
  parseTime,
  parseUsageQuery,
  pointCount,
  registerUsageRoutes,
  requestsCsv,
  usageCsv,
  wantsCsv,
  type RawQuery,
  type UsageRoutesOptions,
} from '../../src/admin/usage-routes.ts';
import { errorAnswer } from '../../src/admin/error-reply.ts';
import { HttpError } from '../../src/entities/errors.ts';
import { StoreError, type Row } from '../../src/store/types.ts';
import type { RequestsQuery, SpendRow, SpendStore, UsageAnswer, UsageQuery, UsageTotals } from '../../src/spend/types.ts';

const NOW = Date.parse('2025-06-15T12:34:56.789Z');
const ALICE = '11111111-1111-4111-8111-111111111111';
const ROUTE = '22222222-2222-4222-8222-222222222222';
const GONE = '33333333-3333-4333-8333-333333333333';

/** The HttpError a call throws, with its field and message. */
function refusal(fn: () => unknown): { status: number; body: Record<string, any> } {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof HttpError, `expected an HttpError, got ${e}`);
    return { status: e.status, body: e.body };
  }
  assert.fail('expected a refusal');
}

test('times: ISO 8601 with or without zone, date only, epoch seconds and milliseconds', () => {
  assert.equal(parseTime('2025-01-31T10:00:00Z', 'from'), Date.parse('2025-01-31T10:00:00Z'));
  assert.equal(parseTime('2025-01-31T10:00:00', 'from'), Date.parse('2025-01-31T10:00:00Z'), 'no zone is UTC, not the server local time');
  assert.equal(parseTime('2025-01-31T12:00:00+02:00', 'from'), Date.parse('2025-01-31T10:00:00Z'));
  assert.equal(parseTime('2025-01-31T10:00:00.250Z', 'from'), Date.parse('2025-01-31T10:00:00.250Z'));
  assert.equal(parseTime('2025-01-31', 'from'), Date.parse('2025-01-31T00:00:00Z'));
  assert.equal(parseTime('1738317600', 'from'), 1738317600_000, 'seconds');
  assert.equal(parseTime('1738317600.5', 'from'), 1738317600_500, 'fractional seconds');
  assert.equal(parseTime('1738317600123', 'from'), 1738317600123, 'milliseconds');
  for (const bad of ['yesterday', 'May 3', '2025-13-45T00:00:00Z', '-5', '1e9', '']) {
    const r = refusal(() => parseTime(bad, 'to'));
    assert.equal(r.status, 400, bad);
    assert.equal(r.body.code, 2);
    assert.equal(r.body.name, 'schema violation');
    assert.match(r.body.fields.to, /ISO 8601/);
    assert.match(r.body.message, /^schema violation \(to: /);
  }
});

test('range: the last 24 h by default, from the given to, and from must come before to', () => {
  const q = parseUsageQuery({}, NOW);
  assert.deepEqual([q.from, q.to], [NOW - DEFAULT_RANGE_MS, NOW]);
  const to = Date.parse('2025-01-02T00:00:00Z');
  const q2 = parseUsageQuery({ to: '2025-01-02T00:00:00Z' }, NOW);
  assert.deepEqual([q2.from, q2.to], [to - DEFAULT_RANGE_MS, to]);
  const q3 = parseUsageQuery({ from: '2025-06-15T00:00:00Z' }, NOW);
  assert.deepEqual([q3.from, q3.to], [Date.parse('2025-06-15T00:00:00Z'), NOW]);
  const r = refusal(() => parseUsageQuery({ from: '2025-01-02', to: '2025-01-01' }, NOW));
  assert.equal(r.status, 400);
  assert.match(r.body.fields.to, /must be after from/);
  assert.equal(refusal(() => parseUsageQuery({ from: '2025-01-01', to: '2025-01-01' }, NOW)).status, 400, 'an empty range');
});

test('interval: hour by default, minute|hour|day, anything else named', () => {
  assert.equal(parseUsageQuery({}, NOW).interval, 'hour');
  for (const i of ['minute', 'hour', 'day']) assert.equal(parseUsageQuery({ interval: i }, NOW).interval, i);
  for (const bad of ['week', 'HOUR', 'toString', '__proto__']) {
    const r = refusal(() => parseUsageQuery({ interval: bad }, NOW));
    assert.equal(r.body.fields.interval, 'expected one of: minute, hour, day', bad);
  }
});

test('group_by: comma-separated or repeated, deduplicated, in the order given; unknown names refused', () => {
  assert.deepEqual(parseGroupBy(undefined), []);
  assert.deepEqual(parseGroupBy(''), []);
  assert.deepEqual(parseGroupBy('model'), ['model']);
  assert.deepEqual(parseGroupBy('route, consumer,route'), ['route', 'consumer']);
  assert.deepEqual(parseGroupBy(['provider', 'model,provider']), ['provider', 'model']);
  const r = refusal(() => parseUsageQuery({ group_by: 'model,team' }, NOW));
  assert.match(r.body.fields.group_by, /unknown dimension 'team'/);
});

test('points: intervals the range touches; more than the maximum is a 400 saying so', () => {
  const day = 86_400_000;
  assert.equal(pointCount(0, day, 'hour'), 24);
  assert.equal(pointCount(1, day, 'hour'), 24);
  assert.equal(pointCount(30 * 60_000, day + 30 * 60_000, 'hour'), 25, 'unaligned: both partial hours count');
  assert.equal(pointCount(0, 1, 'day'), 1);
  const from = '2025-01-01T00:00:00Z';
  const ok = new Date(Date.parse(from) + MAX_POINTS * 60_000).toISOString();
  assert.equal(parseUsageQuery({ from, to: ok, interval: 'minute' }, NOW).interval, 'minute', 'exactly the maximum');
  const tooMany = new Date(Date.parse(from) + (MAX_POINTS + 1) * 60_000).toISOString();
  const r = refusal(() => parseUsageQuery({ from, to: tooMany, interval: 'minute' }, NOW));
  assert.equal(r.status, 400);
  assert.match(r.body.fields.interval, /holds 10001 minute points, more than 10000/);
  assert.equal(parseUsageQuery({ from, to: tooMany, interval: 'hour' }, NOW).interval, 'hour', 'a longer interval fits');
});

test('filters are kept as given; repeated or unknown parameters are refused by name', () => {
  const q = parseUsageQuery({ consumer: 'alice', route: 'chat', model: 'gpt-4o', provider: 'openai' }, NOW);
  assert.deepEqual([q.consumer, q.route, q.model, q.provider], ['alice', 'chat', 'gpt-4o', 'openai']);
  assert.equal(parseUsageQuery({ model: '' }, NOW).model, undefined, 'an empty filter is no filter');
  assert.match(refusal(() => parseUsageQuery({ model: ['a', 'b'] }, NOW)).body.fields.model, /one value/);
  assert.match(refusal(() => parseUsageQuery({ groupby: 'model' }, NOW)).body.fields.groupby, /unknown parameter/);
  assert.match(refusal(() => parseUsageQuery({ limit: '5' }, NOW)).body.fields.limit, /unknown parameter/, 'limit is for /usage/requests');
});

test('requests: limit 100 by default, 1 to 1000, cursor passed through', () => {
  const q = parseRequestsQuery({}, NOW);
  assert.equal(q.limit, 100);
  assert.equal(q.cursor, undefined);
  assert.equal(parseRequestsQuery({ limit: '1000', cursor: 'abc' }, NOW).limit, 1000);
  assert.equal(parseRequestsQuery({ cursor: 'abc' }, NOW).cursor, 'abc');
  for (const bad of ['0', '1001', '-1', '1.5', 'ten', ' 5']) {
    assert.equal(refusal(() => parseRequestsQuery({ limit: bad }, NOW)).body.fields.limit, 'expected an integer between 1 and 1000', bad);
  }
  assert.match(refusal(() => parseRequestsQuery({ interval: 'hour' }, NOW)).body.fields.interval, /unknown parameter/);
});

test('requests: status as a code or a class, streamed true|false, request_id exact', () => {
  const q = parseRequestsQuery({ status: '5xx', streamed: 'true', request_id: 'req-1' }, NOW);
  assert.deepEqual([q.status, q.streamed, q.request_id], [{ min: 500, max: 599 }, true, 'req-1']);
  assert.deepEqual(parseRequestsQuery({ status: '429' }, NOW).status, { min: 429, max: 429 });
  assert.equal(parseRequestsQuery({ streamed: 'false' }, NOW).streamed, false);
  for (const bad of ['6xx', '99', '5XXX', 'error']) assert.match(refusal(() => parseRequestsQuery({ status: bad }, NOW)).body.fields.status, /status code/, bad);
  assert.equal(refusal(() => parseRequestsQuery({ streamed: 'yes' }, NOW)).body.fields.streamed, 'expected true or false');
  assert.match(refusal(() => parseUsageQuery({ status: '500' }, NOW)).body.fields.status, /unknown parameter/, 'the rollups keep no status');
});

test('next page URL pins the range and keeps the filters as written', () => {
  const q: RequestsQuery = { from: Date.parse('2025-01-01T00:00:00Z'), to: Date.parse('2025-01-02T00:00:00Z'), limit: 10, consumer: ALICE };
  const raw: RawQuery = { consumer: 'alice', status: '5xx', streamed: 'true', limit: '10' };
  const url = nextUrl('/usage/requests', q, raw, 'c u/r')!;
  const u = new URL(url, 'http://x');
  assert.equal(u.pathname, '/usage/requests');
  assert.deepEqual(Object.fromEntries(u.searchParams), { from: '2025-01-01T00:00:00.000Z', to: '2025-01-02T00:00:00.000Z', consumer: 'alice', status: '5xx', streamed: 'true', limit: '10', cursor: 'c u/r' });
  assert.equal(nextUrl('/usage/requests', q, raw, null), null);
});

test('CSV fields: RFC 4180 quoting, CRLF, empty for null, formulas neutralised', () => {
  assert.equal(csvField(null), '');
  assert.equal(csvField(undefined), '');
  assert.equal(csvField(0), '0');
  assert.equal(csvField(0.00125), '0.00125');
  assert.equal(csvField(-3), '-3', 'a number is never text');
  assert.equal(csvField(true), 'true');
  assert.equal(csvField('gpt-4o'), 'gpt-4o');
  assert.equal(csvField('a,b'), '"a,b"');
  assert.equal(csvField('say "hi"'), '"say ""hi"""');
  assert.equal(csvField('two\nlines'), '"two\nlines"');
  assert.equal(csvField('cr\rhere'), '"cr\rhere"');
  assert.equal(csvField('=HYPERLINK("x")'), `"'=HYPERLINK(""x"")"`);
  assert.equal(csvField('+1'), "'+1");
  assert.equal(csvField('@sum'), "'@sum");
  assert.equal(csvLines(['a', 'b'], [[1, 'x,y'], [null, 2]]), 'a,b\r\n1,"x,y"\r\n,2\r\n');
});

test('Accept: CSV when text/csv is asked for at least as much as JSON', () => {
  assert.equal(wantsCsv(undefined), false);
  assert.equal(wantsCsv('*/*'), false);
  assert.equal(wantsCsv('application/json'), false);
  assert.equal(wantsCsv('text/csv'), true);
  assert.equal(wantsCsv('Text/CSV; charset=utf-8'), true);
  assert.equal(wantsCsv('application/json;q=0.5, text/csv'), true);
  assert.equal(wantsCsv('text/csv;q=0.5, application/json'), false);
  assert.equal(wantsCsv('text/csv;q=0'), false);
});

const zero: UsageTotals = {
  requests: 0,
  errors: 0,
  prompt_tokens: 0,
  completion_tokens: 0,
  cached_tokens: 0,
  cache_write_tokens: 0,
  reasoning_tokens: 0,
  total_tokens: 0,
  cost: 0,
  unpriced_requests: 0,
  saved_tokens: 0,
  saved_cost: 0,
  latency_p50_ms: null,
  latency_p95_ms: null,
  ttft_p50_ms: null,
  ttft_p95_ms: null,
};

const answer: UsageAnswer = {
  from: '2025-06-15T00:00:00.000Z',
  to: '2025-06-15T02:00:00.000Z',
  interval: 'hour',
  group_by: ['consumer', 'model'],
  series: [
    { ...zero, start: '2025-06-15T00:00:00.000Z', group: { consumer: ALICE, model: 'gpt-4o' }, requests: 2, prompt_tokens: 10, completion_tokens: 4, total_tokens: 14, cost: 0.5, latency_p50_ms: 12, latency_p95_ms: 20, ttft_p50_ms: 3.5, ttft_p95_ms: 7 },
    { ...zero, start: '2025-06-15T01:00:00.000Z', group: { consumer: null, model: 'a,b' }, requests: 1, errors: 1, unpriced_requests: 1 },
  ],
  totals: { ...zero, requests: 3 },
};

test('usage CSV: one row per point, names beside ids, totals left out', () => {
  const withNames = structuredClone(answer);
  (withNames.series[0].group as Record<string, unknown>).consumer_name = 'alice';
  (withNames.series[1].group as Record<string, unknown>).consumer_name = null;
  const lines = usageCsv(withNames).split('\r\n');
  assert.equal(lines[0], 'start,consumer,consumer_name,model,requests,errors,prompt_tokens,completion_tokens,cached_tokens,cache_write_tokens,reasoning_tokens,total_tokens,cost,unpriced_requests,latency_p50_ms,latency_p95_ms,ttft_p50_ms,ttft_p95_ms');
  assert.equal(lines[1], `2025-06-15T00:00:00.000Z,${ALICE},alice,gpt-4o,2,0,10,4,0,0,0,14,0.5,0,12,20,3.5,7`);
  assert.equal(lines[2], '2025-06-15T01:00:00.000Z,,,"a,b",1,1,0,0,0,0,0,0,0,1,,,,');
  assert.equal(lines[3], '', 'ends with CRLF, no totals row');
  assert.equal(lines.length, 4);
});

const row = (over: Partial<SpendRow> = {}): SpendRow => ({
  time: Date.parse('2025-06-15T10:00:00.000Z'),
  request_id: 'req-1',
  consumer_id: ALICE,
  credential_id: null,
  route_id: ROUTE,
  service_id: null,
  plugin_id: null,
  client_api: 'openai-chat',
  provider: 'openai',
  model_requested: 'gpt-4o',
  model_served: 'gpt-4o-2024-08-06',
  status: 200,
  prompt_tokens: 5,
  completion_tokens: 4,
  cached_tokens: 0,
  cache_write_tokens: 0,
  reasoning_tokens: 0,
  total_tokens: 9,
  cost: 0.0000525,
  latency_ms: 12,
  ttft_ms: null,
  stream: false,
  cache_hit: false,
  saved_tokens: 0,
  saved_cost: 0,
  estimated: false,
  error_class: null,
  attempts: null,
  payload: null,
  ...over,
});

test('requests CSV: every SpendRow field but the payload, time in ISO 8601, attempts as one JSON cell', () => {
  const attempts = [{ target: 0, provider: 'openai', model: 'gpt-4o', status: 500, latency_ms: 3 }, { target: 1, provider: 'openai', model: 'gpt-4o-mini', status: 502, latency_ms: 4 }];
  const lines = requestsCsv([
    row({ payload: { request: '{"messages":[]}', response: '{}' } }),
    row({ request_id: 'req-2', status: 502, cost: null, error_class: 'provider_error', stream: true, ttft_ms: 7, attempts }),
  ]).split('\r\n');
  assert.equal(lines[0].split(',').length, 28);
  assert.equal(lines[0].split(',')[0], 'time');
  assert.ok(lines[0].endsWith(',error_class,attempts') && !lines[0].includes('payload'), lines[0]);
  assert.equal(lines[1], `2025-06-15T10:00:00.000Z,req-1,${ALICE},,${ROUTE},,,openai-chat,openai,gpt-4o,gpt-4o-2024-08-06,200,5,4,0,0,0,9,0.0000525,12,,false,false,0,0,false,,`);
  assert.equal(lines[2], `2025-06-15T10:00:00.000Z,req-2,${ALICE},,${ROUTE},,,openai-chat,openai,gpt-4o,gpt-4o-2024-08-06,502,5,4,0,0,0,9,,12,7,true,false,0,0,false,provider_error,"${JSON.stringify(attempts).replace(/"/g, '""')}"`);
  assert.equal(requestsCsv([]), lines[0] + '\r\n', 'an empty page is the header alone');
});

// ---------------------------------------------------------------------------------------------
// The endpoints, over a fake store and a fake entity lookup

interface Fake {
  usage: UsageQuery[];
  requests: RequestsQuery[];
  fail?: unknown;
}

function fakeStore(fake: Fake): SpendStore {
  return {
    kind: 'sqlite',
    write: async () => {},
    usage: async (q) => {
      fake.usage.push(q);
      if (fake.fail) throw fake.fail;
      return structuredClone({ ...answer, group_by: q.group_by });
    },
    requests: async (q) => {
      fake.requests.push(q);
      if (fake.fail) throw fake.fail;
      return q.cursor ? { data: [row({ request_id: 'req-old' })], next_cursor: null } : { data: [row()], next_cursor: 'CUR' };
    },
    costOf: async () => 0,
    prune: async () => {},
    close: async () => {},
  };
}

const ENTITIES: Record<string, Row[]> = {
  consumers: [{ id: ALICE, created_at: 0, username: 'alice' }],
  routes: [{ id: ROUTE, created_at: 0, name: 'chat' }],
};

async function app(over: Partial<UsageRoutesOptions> = {}, fake: Fake = { usage: [], requests: [] }) {
  const a = Fastify();
  a.setErrorHandler((err, _req, reply) => {
    const ans = errorAnswer(err);
    if (ans.headers) reply.headers(ans.headers);
    return reply.code(ans.status).send(ans.body);
  });
  registerUsageRoutes(a, {
    store: () => fakeStore(fake),
    disabled: () => false,
    find: async (entity, key) => ENTITIES[entity].find((e) => e.id === key || e.username === key || e.name === key) ?? null,
    now: () => NOW,
    ...over,
  });
  await a.ready();
  return { app: a, fake };
}

test('GET /usage: names resolve to ids, unknown names are a 400, unknown ids pass (deleted entities keep their history)', async () => {
  const { app: a, fake } = await app();
  const r = await a.inject({ url: '/usage?consumer=alice&route=chat&model=gpt-4o&group_by=consumer,model' });
  assert.equal(r.statusCode, 200);
  assert.deepEqual(
    { consumer: fake.usage[0].consumer, route: fake.usage[0].route, model: fake.usage[0].model, group_by: fake.usage[0].group_by },
    { consumer: ALICE, route: ROUTE, model: 'gpt-4o', group_by: ['consumer', 'model'] },
  );
  const body = r.json();
  assert.deepEqual(body.series[0].group, { consumer: ALICE, model: 'gpt-4o', consumer_name: 'alice' });
  assert.deepEqual(body.series[1].group, { consumer: null, model: 'a,b', consumer_name: null });

  const gone = await a.inject({ url: `/usage?consumer=${GONE.toUpperCase()}` });
  assert.equal(gone.statusCode, 200);
  assert.equal(fake.usage[1].consumer, GONE);

  const unknown = await a.inject({ url: '/usage?route=nope' });
  assert.equal(unknown.statusCode, 400);
  assert.deepEqual(unknown.json().fields, { route: "no route with the id or name 'nope'" });
  assert.equal(fake.usage.length, 2, 'no query for a refused request');

  const bad = await a.inject({ url: '/usage?interval=week' });
  assert.equal(bad.statusCode, 400);
  assert.deepEqual(bad.json(), { code: 2, name: 'schema violation', message: 'schema violation (interval: expected one of: minute, hour, day)', fields: { interval: 'expected one of: minute, hour, day' } });
  await a.close();
});

test('GET /usage with Accept: text/csv', async () => {
  const { app: a } = await app();
  const r = await a.inject({ url: '/usage?group_by=model', headers: { accept: 'text/csv' } });
  assert.equal(r.statusCode, 200);
  assert.equal(r.headers['content-type'], 'text/csv; charset=utf-8; header=present');
  assert.equal(r.body.split('\r\n')[0].split(',').slice(0, 3).join(','), 'start,model,requests');
  await a.close();
});

test('GET /usage/requests: a page and the next one through its URL; CSV with a Link header', async () => {
  const { app: a, fake } = await app();
  const r = await a.inject({ url: '/usage/requests?consumer=alice&limit=1' });
  assert.equal(r.statusCode, 200);
  const body = r.json();
  assert.equal(body.data[0].request_id, 'req-1');
  assert.equal(fake.requests[0].limit, 1);
  assert.equal(fake.requests[0].consumer, ALICE);
  assert.match(body.next, /^\/usage\/requests\?from=2025-06-14T12%3A34%3A56.789Z&to=2025-06-15T12%3A34%3A56.789Z&consumer=alice&limit=1&cursor=CUR$/);
  const page2 = await a.inject({ url: body.next });
  assert.equal(page2.statusCode, 200);
  assert.deepEqual(page2.json(), { data: [row({ request_id: 'req-old' })], next: null });
  assert.deepEqual([fake.requests[1].from, fake.requests[1].to, fake.requests[1].cursor], [fake.requests[0].from, fake.requests[0].to, 'CUR']);

  const csv = await a.inject({ url: '/usage/requests', headers: { accept: 'text/csv' } });
  assert.equal(csv.statusCode, 200);
  assert.match(String(csv.headers.link), /^<\/usage\/requests\?.*cursor=CUR>; rel="next"$/);
  assert.equal(csv.body.split('\r\n').length, 3, 'header, one row, final CRLF');
  await a.close();
});

test('503 when the spend log is off or its store is away; a store bug stays a 500', async () => {
  const off = await app({ disabled: () => true });
  for (const url of ['/usage', '/usage/requests']) {
    const r = await off.app.inject({ url });
    assert.equal(r.statusCode, 503);
    assert.match(r.json().message, /MODELGATE_SPEND_LOG=off/);
  }
  await off.app.close();

  const none = await app({ store: () => null });
  const r = await none.app.inject({ url: '/usage' });
  assert.equal(r.statusCode, 503);
  assert.equal(r.json().message, 'The spend log database is unavailable; try again once it is back');

  const fake: Fake = { usage: [], requests: [], fail: new StoreError('unavailable', 'down') };
  const down = await app({}, fake);
  const d = await down.app.inject({ url: '/usage/requests' });
  assert.equal(d.statusCode, 503);
  assert.equal(d.headers['retry-after'], '5');
  fake.fail = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
  assert.equal((await down.app.inject({ url: '/usage' })).statusCode, 503);
  class SpendCursorError extends Error {}
  fake.fail = new SpendCursorError('invalid cursor');
  const c = await down.app.inject({ url: '/usage/requests?cursor=zzz' });
  assert.equal(c.statusCode, 400, 'a cursor the store cannot read is the client\'s error');
  assert.match(c.json().fields.cursor, /next URL/);
  fake.fail = new TypeError('a bug');
  assert.equal((await down.app.inject({ url: '/usage' })).statusCode, 500);
  await down.app.close();
});

test('only GET', async () => {
  const { app: a } = await app();
  for (const method of ['POST', 'DELETE'] as const) assert.equal((await a.inject({ method, url: '/usage' })).statusCode, 405);
  await a.close();
});
