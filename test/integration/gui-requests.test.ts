/**
 * The Admin GUI's request log (issue 20) in a real headless Chromium against the real gateway:
 * known traffic through an OpenAI mock (a chat and an error by alice, a stream and a chat by bob)
 * is listed newest first with each row's cost as the Usage API gives it; the filters (in the URL)
 * narrow the list (status 5xx → the error only, streamed → the stream, consumer → bob's two); the
 * detail view shows the cost, and no page ever holds the provider key or a consumer's key.
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
