/**
 * What a spend row carries beyond the sums (issues 19, 20: the GUI's request detail), against the
 * real gateway on SQLite: a balanced ai-proxy-advanced route whose first target fails records both
 * calls (the failing one's status) and a single call records none; a route with
 * `logging.log_payloads` records the client's body and the answer, the body cut at
 * PAYLOAD_MAX_BYTES with the marker and a consumer key sent in the body masked; `/usage/requests`
 * answers both as JSON objects, and its CSV has the attempts as one JSON cell and no payload.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Gateway } from '../helpers/gateway.ts';
import { startMockProvider, type MockProvider } from '../mocks/providers.ts';
import { PAYLOAD_MAX_BYTES, PAYLOAD_TRUNCATED_MARK } from '../../src/spend/types.ts';

const OPENAI_KEY = 'sk-openai-rowsdetail-71c0d3a9';
const BOB_KEY = 'bob-rowsdetail-key-5a9e33c1';
const USER = [{ role: 'user', content: 'What is 1+1?' }];

let gw: Gateway;
let openai: MockProvider;

async function admin(method: string, url: string, body?: unknown): Promise<any> {
  const r = await gw.adminRequest(method, url, body);
  assert.ok(r.status < 300, `${method} ${url}: ${r.status} ${r.text}`);
  return r.json;
}

/** `/usage/requests` rows of a route once there are `n` (polled: rows reach the file in the primary's batches). */
async function rowsOf(route: string, n: number): Promise<any[]> {
  const deadline = Date.now() + 20_000;
  let rows: any[] = [];
  while (Date.now() < deadline) {
    const r = await gw.adminRequest('GET', `/usage/requests?route=${route}&from=${new Date(Date.now() - 3_600_000).toISOString()}`);
    assert.equal(r.status, 200, r.text);
    rows = r.json.data;
    if (rows.length >= n) break;
    await new Promise((res) => setTimeout(res, 50));
  }
  assert.equal(rows.length, n, `${n} rows on ${route}`);
  return rows;
}

const target = (model: string, weight: number, options: Record<string, unknown> = {}) => ({
  route_type: 'llm/v1/chat',
  weight,
  auth: { header_name: 'Authorization', header_value: `Bearer ${OPENAI_KEY}` },
  model: { provider: 'openai', name: model, options: { upstream_url: `${openai.url}/v1/chat/completions`, ...options } },
});

before(async () => {
  openai = await startMockProvider('openai', { key: OPENAI_KEY });
  gw = await Gateway.start({ workers: 1 });
  await admin('POST', '/services', { name: 'ai', url: 'http://localhost:32000' });
  await admin('POST', '/services/ai/routes', { name: 'balanced', paths: ['/balanced'] });
  await admin('POST', '/routes/balanced/plugins', {
    name: 'ai-proxy-advanced',
    config: { balancer: { algorithm: 'priority', retries: 1 }, targets: [target('gpt-4o', 100), target('gpt-4o-mini', 50)] },
  });
  await admin('POST', '/services/ai/routes', { name: 'logged', paths: ['/logged'] });
  await admin('POST', '/routes/logged/plugins', { name: 'key-auth', config: { key_in_body: true } });
  await admin('POST', '/routes/logged/plugins', {
    name: 'ai-proxy',
    // the key stays in the client's body (no hide_credentials); the provider is not sent it
    config: { ...target('gpt-4o', 100, { unsupported_params: 'drop' }), weight: undefined, logging: { log_statistics: true, log_payloads: true } },
  });
  await admin('POST', '/consumers', { username: 'bob' });
  await admin('POST', '/consumers/bob/key-auth', { key: BOB_KEY });
});

after(async () => {
  await gw?.close();
  await openai?.close();
});

test('a balanced route records each call when it took more than one; one call records none', async () => {
  openai.nextResponse({ status: 500, body: { error: { message: 'the first target failed', type: 'server_error' } } });
  const failedOver = await gw.proxyRequest('POST', '/balanced', { messages: USER });
  assert.equal(failedOver.status, 200, failedOver.text);
  assert.equal(failedOver.headers.get('x-modelgate-attempts'), '2');
  const single = await gw.proxyRequest('POST', '/balanced', { messages: USER });
  assert.equal(single.status, 200, single.text);
  assert.equal(single.headers.get('x-modelgate-attempts'), '1');

  const rows = await rowsOf('balanced', 2);
  const byId = new Map(rows.map((r) => [r.request_id, r]));
  const rFailedOver = byId.get(failedOver.headers.get('x-modelgate-request-id'));
  const rSingle = byId.get(single.headers.get('x-modelgate-request-id'));
  assert.ok(Array.isArray(rFailedOver.attempts), 'attempts come back as a JSON array, not a string');
  assert.deepEqual(
    rFailedOver.attempts.map((a: any) => ({ target: a.target, provider: a.provider, model: a.model, status: a.status })),
    [
      { target: 0, provider: 'openai', model: 'gpt-4o', status: 500 },
      { target: 1, provider: 'openai', model: 'gpt-4o-mini', status: 200 },
    ],
  );
  for (const a of rFailedOver.attempts) assert.ok(typeof a.latency_ms === 'number' && a.latency_ms >= 0);
  assert.equal(rFailedOver.status, 200);
  assert.equal(rFailedOver.payload, null, 'no payload where the route does not log payloads');
  assert.equal(rSingle.attempts, null);
  assert.ok(!JSON.stringify(rows).includes(OPENAI_KEY), 'no provider key in a row');

  // CSV: the attempts as one compact JSON cell, and no payload column at all
  const csv = await gw.adminRequest('GET', `/usage/requests?route=balanced&from=${new Date(Date.now() - 3_600_000).toISOString()}`, undefined, { accept: 'text/csv' });
  assert.equal(csv.status, 200, csv.text);
  const [header, ...lines] = csv.text.trim().split('\r\n');
  const columns = header.split(',');
  assert.ok(columns.includes('attempts') && !columns.includes('payload'), header);
  const line = lines.find((l) => l.startsWith(new Date(rFailedOver.time).toISOString()) && l.includes(rFailedOver.request_id));
  assert.ok(line, 'the failed-over request is a CSV line');
  const cell = /"(\[\{.*\}\])"/.exec(line)?.[1].replace(/""/g, '"');
  assert.deepEqual(JSON.parse(cell ?? 'null'), rFailedOver.attempts);
});

test('a route logging payloads records the bodies, cut at the bound, with a consumer key in the body masked', async () => {
  const long = 'é'.repeat(50_000); // 100,000 bytes of UTF-8: the client's body passes PAYLOAD_MAX_BYTES
  const body = { apikey: BOB_KEY, messages: [{ role: 'user', content: long }] };
  const raw = JSON.stringify(body);
  const answer = await gw.proxyRequest('POST', '/logged', raw, { 'content-type': 'application/json' });
  assert.equal(answer.status, 200, answer.text);
  const small = await gw.proxyRequest('POST', '/logged', { apikey: BOB_KEY, messages: USER });
  assert.equal(small.status, 200, small.text);

  const rows = await rowsOf('logged', 2);
  const byId = new Map(rows.map((r) => [r.request_id, r]));
  const big = byId.get(answer.headers.get('x-modelgate-request-id'));
  const short = byId.get(small.headers.get('x-modelgate-request-id'));
  assert.equal(typeof big.payload, 'object', 'the payload comes back as a JSON object, not a string');
  assert.equal(big.attempts, null, 'ai-proxy makes one call');

  // the request: masked, cut within the bound, the marker giving the whole body's size
  const masked = raw.replace(BOB_KEY, '[REDACTED]');
  const bytes = Buffer.byteLength(masked);
  assert.ok(bytes > PAYLOAD_MAX_BYTES);
  const mark = `${PAYLOAD_TRUNCATED_MARK}${bytes} bytes in all]`;
  assert.ok(big.payload.request.endsWith(mark), big.payload.request.slice(-80));
  const kept = big.payload.request.slice(0, -mark.length);
  assert.ok(masked.startsWith(kept), 'the kept part is the body as sent, from its start');
  assert.ok(Buffer.byteLength(kept) <= PAYLOAD_MAX_BYTES && Buffer.byteLength(kept) > PAYLOAD_MAX_BYTES - 4, `${Buffer.byteLength(kept)} bytes kept`);
  assert.ok(kept.startsWith('{"apikey":"[REDACTED]"'), kept.slice(0, 40));
  // the answer, small, whole: what the client got
  assert.equal(big.payload.response, answer.text);

  assert.deepEqual(short.payload, { request: JSON.stringify({ apikey: '[REDACTED]', messages: USER }), response: small.text });
  const all = JSON.stringify(rows);
  assert.ok(!all.includes(BOB_KEY) && !all.includes(OPENAI_KEY), 'no key in a row');
});
