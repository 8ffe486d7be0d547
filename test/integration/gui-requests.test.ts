/**
 * The Admin GUI's request log (issue 20) in a real headless Chromium against the real gateway:
 * known traffic through an OpenAI mock (a chat and an error by alice, a stream and a chat by bob)
 * is listed newest first with each row's cost as the Usage API gives it; the filters (in the URL)
 * narrow the list (status 5xx → the error only, streamed → the stream, consumer → bob's two); the
 * detail view shows the cost, and no page ever holds the provider key or a consumer's key. What a
 * row carries beyond its figures: a balanced route whose first target fails shows both attempts
 * with their status, a route with `log_payloads` shows the bodies as the row holds them, and a
 * route without either shows neither.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Gateway } from '../helpers/gateway.ts';
import { startMockProvider, type MockProvider } from '../mocks/providers.ts';
import { configureSpendRoutes, type SpendRouteIds } from '../helpers/spend-routes.ts';
import { browserMissing, closeBrowser, openGui, screenshot, type GuiSession } from '../helpers/browser.ts';
import { money } from '../../src/gui/app/lib/format.ts';

const OPENAI_KEY = 'sk-openai-guirequests-7c3d90e1';
const ALICE_KEY = 'alice-guirequests-key-2b8f4a6d';
const BOB_KEY = 'bob-guirequests-key-9e1c5f37';
const SECRETS = [OPENAI_KEY, ALICE_KEY, BOB_KEY];
const USER = [{ role: 'user', content: 'What is 1+1?' }];

let gw: Gateway;
let openai: MockProvider;
let ids: SpendRouteIds;
/** The rows as the Usage API gives them, newest first, and which call each is. */
let rows: any[] = [];
const calls: Record<'chat' | 'error' | 'stream' | 'bob', string> = { chat: '', error: '', stream: '', bob: '' };

before(async () => {
  if (browserMissing) return;
  openai = await startMockProvider('openai', { key: OPENAI_KEY });
  gw = await Gateway.start({ workers: 1 });
  ids = await configureSpendRoutes(gw, { openaiUrl: openai.url, openaiKey: OPENAI_KEY, aliceKey: ALICE_KEY, inputCost: 1000, outputCost: 2000 });
  assert.equal((await gw.adminRequest('POST', '/consumers', { username: 'bob' })).status, 201);
  assert.equal((await gw.adminRequest('POST', '/consumers/bob/key-auth', { key: BOB_KEY })).status, 201);

  const send = async (name: keyof typeof calls, key: string, body: unknown, fail = false) => {
    if (fail) openai.nextResponse('5xx-json:500');
    const r = await gw.proxyRequest('POST', '/chat', body, { apikey: key });
    assert.equal(r.status >= 500, fail, `${name}: ${r.status} ${r.text}`);
    calls[name] = r.headers.get('x-modelgate-request-id') ?? '';
    assert.ok(calls[name], `${name}: a request id`);
  };
  await send('chat', ALICE_KEY, { messages: USER });
  await send('stream', BOB_KEY, { messages: USER, stream: true, stream_options: { include_usage: true } });
  await send('error', ALICE_KEY, { messages: USER }, true);
  await send('bob', BOB_KEY, { messages: USER });

  // rows reach the store off the hot path: wait (bounded) until all four are there
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = await gw.adminRequest('GET', '/usage/requests');
    if (r.status === 200 && r.json.data.length === 4) {
      rows = r.json.data;
      break;
    }
    if (Date.now() > deadline) throw new Error(`spend rows did not arrive: ${r.status} ${r.text}`);
    await new Promise((res) => setTimeout(res, 50));
  }
});

after(async () => {
  await closeBrowser();
  await gw?.close();
  await openai?.close();
});

const rowOf = (name: keyof typeof calls) => rows.find((r) => r.request_id === calls[name]);

/** The request ids the table lists, once they are exactly `want` (in order). */
async function listed(s: GuiSession, want: string[]): Promise<void> {
  await s.page.waitForFunction(
    (w: string[]) => {
      // runs in the page (the DOM is not in the tests' types)
      const doc = (globalThis as unknown as { document: { querySelectorAll(s: string): Iterable<{ getAttribute(n: string): string | null }> } }).document;
      const got = [...doc.querySelectorAll('.rq-table tbody tr')].map((tr) => tr.getAttribute('data-request-id'));
      return got.length === w.length && got.every((id, i) => id === w[i]);
    },
    want,
    { timeout: 10_000 },
  );
}

async function assertNoSecret(s: GuiSession, where: string): Promise<void> {
  const text = await s.page.content();
  for (const secret of SECRETS) assert.ok(!text.includes(secret), `${where}: a key on the page`);
}

test('the spend rows hold no key', { skip: browserMissing ?? false }, () => {
  const text = JSON.stringify(rows);
  for (const secret of SECRETS) assert.ok(!text.includes(secret));
  assert.equal(rowOf('chat').credential_id, ids.credential, 'the credential by id');
});

test('in Chromium: the log lists the traffic with its cost, filters narrow it, the detail shows the cost and no key', { skip: browserMissing ?? false }, async () => {
  const s = await openGui(gw.gui);
  try {
    await s.page.goto(gw.gui + '/#/requests');
    const all = rows.map((r) => r.request_id);
    assert.deepEqual(all, [calls.bob, calls.error, calls.stream, calls.chat], 'newest first');
    await listed(s, all);
    for (const r of rows) {
      const tr = s.page.locator(`tr[data-request-id="${r.request_id}"]`);
      assert.equal(await tr.locator('.rq-cost').textContent(), money(r.cost), `cost of ${r.request_id}`);
    }
    assert.notEqual(money(rowOf('chat').cost), '—', 'the chat is priced');
    // consumers by name, from the Admin API
    assert.equal(await s.page.locator(`tr[data-request-id="${calls.bob}"] td`).nth(3).textContent(), 'bob');
    await assertNoSecret(s, 'list');
    await screenshot(s.page, 'requests', 'light');

    await s.page.getByLabel('Status').selectOption('5xx');
    await listed(s, [calls.error]);
    assert.match(s.page.url(), /#\/requests\?status=5xx$/, 'the filter is in the URL');
    assert.equal(await s.page.locator('.rq-error').first().textContent(), rowOf('error').error_class);

    await s.page.getByLabel('Status').selectOption('');
    await s.page.getByLabel('Streamed').selectOption('true');
    await listed(s, [calls.stream]);

    // a page at a time: the next one through the API's cursor
    await s.page.goto(gw.gui + '/#/requests?limit=3');
    await listed(s, all.slice(0, 3));
    await s.page.getByRole('button', { name: 'Load more' }).click();
    await listed(s, all);
    assert.equal(await s.page.getByRole('button', { name: 'Load more' }).count(), 0, 'no more pages');

    // a shared link: the filters come from the URL
    await s.page.goto(gw.gui + '/#/requests?consumer=bob');
    await listed(s, [calls.bob, calls.stream]);
    assert.equal(await s.page.getByLabel('Consumer').inputValue(), 'bob');
    await s.page.goto(gw.gui + '/#/requests?status=200&model=gpt-4o');
    await listed(s, [calls.bob, calls.stream, calls.chat]);

    // the detail of the chat
    const chat = rowOf('chat');
    await s.page.locator(`tr[data-request-id="${calls.chat}"]`).getByRole('link').click();
    await s.page.getByRole('heading', { name: 'Request', exact: true }).waitFor();
    await s.page.locator('.rq-detail-cost').waitFor();
    assert.equal(await s.page.locator('.rq-detail-cost').textContent(), money(chat.cost));
    assert.equal(await s.page.locator('.rq-exact-cost').textContent(), String(chat.cost));
    const usage = s.page.getByRole('region', { name: 'Usage' });
    assert.match((await usage.textContent())!, new RegExp(`Prompt tokens${chat.prompt_tokens}`));
    assert.match((await usage.textContent())!, new RegExp(`Completion tokens${chat.completion_tokens}`));
    await assertNoSecret(s, 'detail');
    await screenshot(s.page, 'requests-detail', 'light');
    // back to the list, filters kept
    await s.page.getByRole('link', { name: '← All requests' }).click();
    await listed(s, [calls.bob, calls.stream, calls.chat]);
    assert.deepEqual(s.problems(), []);
  } finally {
    await s.close();
  }
});

test('in Chromium: the detail of an error and of a stream, by link; dark theme', { skip: browserMissing ?? false }, async () => {
  const s = await openGui(gw.gui, { colorScheme: 'dark' });
  try {
    const err = rowOf('error');
    await s.page.goto(gw.gui + `/#/requests/${err.request_id}?at=${err.time}`);
    await s.page.getByRole('region', { name: 'Details' }).waitFor();
    const request = (await s.page.getByRole('region', { name: 'Details' }).textContent())!;
    assert.ok(request.includes(err.request_id) && request.includes(`Error class${err.error_class}`), request);
    await assertNoSecret(s, 'error detail');

    // a hand-typed link (no time) still finds the row
    const stream = rowOf('stream');
    await s.page.goto(gw.gui + `/#/requests/${stream.request_id}`);
    await s.page.locator('.rq-detail-cost').waitFor();
    assert.equal(await s.page.locator('.rq-detail-cost').textContent(), money(stream.cost));
    assert.ok((await s.page.getByRole('region', { name: 'Cost and time' }).textContent())!.includes(`(${stream.ttft_ms} ms)`), 'time to first token');
    await screenshot(s.page, 'requests-detail', 'dark');

    await s.page.goto(gw.gui + '/#/requests/no-such-request');
    await s.page.getByText('No request no-such-request in the spend log').waitFor();

    await s.page.goto(gw.gui + '/#/requests');
    await listed(s, rows.map((r) => r.request_id));
    await screenshot(s.page, 'requests', 'dark');
    assert.deepEqual(s.problems(), []);
  } finally {
    await s.close();
  }
});

test('in Chromium: the detail shows a balanced route\'s attempts and a logged route\'s payloads, as the rows hold them; a plain route neither', { skip: browserMissing ?? false }, async () => {
  // two more routes, after the list tests (their traffic is not in `rows`): a balanced one whose
  // first target fails once, and one logging payloads
  const target = (model: string, weight: number) => ({
    route_type: 'llm/v1/chat',
    weight,
    auth: { header_name: 'Authorization', header_value: `Bearer ${OPENAI_KEY}` },
    model: { provider: 'openai', name: model, options: { upstream_url: `${openai.url}/v1/chat/completions` } },
  });
  const admin = async (url: string, body: unknown) => {
    const r = await gw.adminRequest('POST', url, body);
    assert.equal(r.status, 201, r.text);
  };
  await admin('/services/ai/routes', { name: 'balanced', paths: ['/balanced'] });
  await admin('/routes/balanced/plugins', { name: 'ai-proxy-advanced', config: { balancer: { algorithm: 'priority', retries: 1 }, targets: [target('gpt-4o', 100), target('gpt-4o-mini', 50)] } });
  await admin('/services/ai/routes', { name: 'logged', paths: ['/logged'] });
  await admin('/routes/logged/plugins', { name: 'ai-proxy', config: { ...target('gpt-4o', 100), weight: undefined, logging: { log_statistics: true, log_payloads: true } } });
  openai.nextResponse({ status: 500, body: { error: { message: 'the first target failed', type: 'server_error' } } });
  const balanced = await gw.proxyRequest('POST', '/balanced', { messages: USER });
  assert.equal(balanced.headers.get('x-modelgate-attempts'), '2', balanced.text);
  const logged = await gw.proxyRequest('POST', '/logged', { messages: [{ role: 'user', content: 'Say <b>"hi"</b> & stop' }] });
  assert.equal(logged.status, 200, logged.text);
  const byId = async (id: string | null) => {
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; await new Promise((res) => setTimeout(res, 50))) {
      const r = await gw.adminRequest('GET', `/usage/requests?request_id=${id}`);
      if (r.status === 200 && r.json.data.length === 1) return r.json.data[0];
    }
    throw new Error(`no spend row for ${id}`);
  };
  const bRow = await byId(balanced.headers.get('x-modelgate-request-id'));
  const lRow = await byId(logged.headers.get('x-modelgate-request-id'));
  assert.deepEqual(bRow.attempts.map((a: any) => a.status), [500, 200]);
  assert.equal(bRow.payload, null);
  assert.equal(lRow.attempts, null);
  assert.equal(typeof lRow.payload?.request, 'string');

  const s = await openGui(gw.gui);
  try {
    const open = async (row: any) => {
      await s.page.goto(gw.gui + `/#/requests/${row.request_id}?at=${row.time}`);
      await s.page.getByRole('region', { name: 'Details' }).getByText(row.request_id).waitFor();
    };
    await open(bRow);
    const attempts = s.page.getByRole('region', { name: 'Attempts' });
    const cells = await attempts.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...(tr as unknown as { querySelectorAll(s: string): Iterable<{ textContent: string | null }> }).querySelectorAll('td')].map((td) => td.textContent)));
    assert.deepEqual(
      cells.map((c) => c.slice(0, 5)),
      bRow.attempts.map((a: any, i: number) => [String(i + 1), `targets[${a.target}]`, a.provider, a.model, String(a.status)]),
    );
    assert.deepEqual(cells.map((c) => c[1]), ['targets[0]', 'targets[1]'], 'the failing target first');
    assert.equal(await attempts.locator('tbody tr').first().locator('.badge.err').textContent(), '500');
    assert.equal(await s.page.getByRole('region', { name: 'Payloads' }).count(), 0, 'the balanced route logs no payloads');

    await open(lRow);
    const payloads = s.page.getByRole('region', { name: 'Payloads' });
    assert.deepEqual(await payloads.locator('pre').allTextContents(), [lRow.payload.request, lRow.payload.response], 'the bodies as the row holds them (text, not markup)');
    assert.ok(lRow.payload.request.includes('Say <b>\\"hi\\"</b> & stop'), lRow.payload.request);
    assert.equal(await payloads.locator('b').count(), 0, 'a body is never markup');
    assert.equal(await s.page.getByRole('region', { name: 'Attempts' }).count(), 0, 'one call: no attempts');

    await open(rowOf('chat'));
    assert.equal(await s.page.getByRole('region', { name: 'Attempts' }).count(), 0);
    assert.equal(await s.page.getByRole('region', { name: 'Payloads' }).count(), 0);
    await assertNoSecret(s, 'attempts and payloads');
    assert.deepEqual(s.problems(), []);
  } finally {
    await s.close();
  }
});

test('in Chromium: an API refusal is shown, not swallowed', { skip: browserMissing ?? false }, async () => {
  const s = await openGui(gw.gui);
  s.expectStatus(/^\/api\/usage\/requests$/, 400);
  try {
    await s.page.goto(gw.gui + '/#/requests?consumer=nobody');
    await s.page.getByRole('alert').getByText("no consumer with the id or username 'nobody'", { exact: false }).waitFor();
    assert.deepEqual(s.problems(), []);
  } finally {
    await s.close();
  }
});
