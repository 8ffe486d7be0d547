/**
 * The Admin GUI's playground (issue 20) in a real headless Chromium against the real gateway and a
 * strict OpenAI mock that streams one word per event, slowly enough to watch: the answer grows in
 * the page while it streams, then completes; the tokens and cost the page shows equal the spend
 * row the Usage API gives for the answer's request id; the request panel shows the body sent; a
 * key-auth route refuses a wrong key (the 401 is shown in the conversation) and answers the right one.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { Gateway } from '../helpers/gateway.ts';
import { startMockProvider, type MockProvider } from '../mocks/providers.ts';
import { browserMissing, closeBrowser, openGui, screenshot } from '../helpers/browser.ts';
import { count, money } from '../../src/gui/app/lib/format.ts';

const OPENAI_KEY = 'sk-openai-playground-6a1f';
const ALICE_KEY = 'alice-playground-key-93c0e7';
const ANSWER = 'Streaming lets a reader see the answer arrive one word after another while the model is still writing it.';
const INPUT_COST = 3; // per million tokens, the route's own prices
const OUTPUT_COST = 7;
/** Between two stream events: long enough that the page can be read twice while it streams. */
const DELAY_MS = 120;

describe('Admin GUI playground', { skip: browserMissing ?? false }, () => {
  let gw: Gateway;
  let openai: MockProvider;
  before(async () => {
    openai = await startMockProvider('openai', { key: OPENAI_KEY, text: ANSWER, delayMs: DELAY_MS });
    gw = await Gateway.start();
    const admin = async (method: string, url: string, body?: unknown) => {
      const r = await gw.adminRequest(method, url, body);
      assert.ok(r.status < 300, `${method} ${url}: ${r.status} ${r.text}`);
      return r.json;
    };
    const auth = { header_name: 'Authorization', header_value: `Bearer ${OPENAI_KEY}` };
    const model = (name: string) => ({ provider: 'openai', name, options: { upstream_url: `${openai.url}/v1/chat/completions`, input_cost: INPUT_COST, output_cost: OUTPUT_COST } });
    await admin('POST', '/services', { name: 'llm', url: 'http://localhost:32000' });
    await admin('POST', '/services/llm/routes', { name: 'chat', paths: ['/chat'] });
    await admin('POST', '/routes/chat/plugins', { name: 'ai-proxy', config: { route_type: 'llm/v1/chat', auth, model: model('gpt-4o') } });
    await admin('POST', '/services/llm/routes', { name: 'secure-chat', paths: ['/secure'] });
    await admin('POST', '/routes/secure-chat/plugins', { name: 'key-auth', config: { key_names: ['x-team-key'] } });
    await admin('POST', '/routes/secure-chat/plugins', { name: 'ai-proxy', config: { route_type: 'llm/v1/chat', auth, model: model('gpt-4o-mini') } });
    await admin('POST', '/services/llm/routes', { name: 'embed', paths: ['/embed'] });
    await admin('POST', '/routes/embed/plugins', { name: 'ai-proxy', config: { route_type: 'llm/v1/embeddings', auth, model: { provider: 'openai', name: 'text-embedding-3-small', options: { upstream_url: `${openai.url}/v1/embeddings` } } } });
    // a unified endpoint: the request's model picks the target
    await admin('POST', '/services/llm/routes', { name: 'unified', paths: ['/v1'] });
    await admin('POST', '/routes/unified/plugins', {
      name: 'ai-proxy-advanced',
      config: { targets: [{ route_type: 'llm/v1/chat', auth, model: model('gpt-4o') }, { route_type: 'llm/v1/chat', auth, alias: 'small', model: model('gpt-4o-mini') }] },
    });
    await admin('POST', '/consumers', { username: 'alice' });
    await admin('POST', '/consumers/alice/key-auth', { key: ALICE_KEY });
  });
  after(async () => {
    await closeBrowser();
    await gw?.close();
    await openai?.close();
  });

  const answer = (page: Page, n: number) => page.getByLabel(`Answer ${n}`, { exact: true });
  const turnState = (page: Page, n: number) => page.getByRole('article', { name: `Turn ${n}` }).locator('.pg-role .badge');

  /** The figures table's cell (`browser` or `gateway` column) of a row, as shown and as its exact value. */
  async function figure(page: Page, n: number, row: string, column: 'browser' | 'gateway'): Promise<{ text: string; value: string | null }> {
    const cell = page.getByRole('table', { name: `Answer ${n} figures` }).getByRole('row', { name: row, exact: false }).getByRole('cell').nth(column === 'browser' ? 0 : 1);
    return { text: ((await cell.textContent()) ?? '').trim(), value: await cell.getAttribute('data-value') };
  }

  async function spendRow(requestId: string): Promise<any> {
    const r = await gw.adminRequest('GET', `/usage/requests?request_id=${encodeURIComponent(requestId)}`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.data.length, 1, `one spend row for ${requestId}`);
    return r.json.data[0];
  }

  /** Once turn `n`'s spend look-up is over: the request id its figures name. */
  async function settledRequestId(page: Page, n: number): Promise<string> {
    const turn = page.getByRole('article', { name: `Turn ${n}` });
    await turn.getByRole('table', { name: `Answer ${n} figures` }).waitFor();
    await turn.getByRole('status').filter({ hasText: 'Looking up' }).waitFor({ state: 'detached' });
    return (await turn.locator('.pg-figures code').last().textContent())!;
  }

  async function send(page: Page, text: string): Promise<void> {
    const input = page.getByLabel('Message', { exact: true });
    await input.fill(text);
    await input.press('Enter');
  }

  for (const scheme of ['light', 'dark'] as const) {
    test(`${scheme}: an answer streams in token by token, and its figures are the spend row's`, async () => {
      const s = await openGui(gw.gui, { colorScheme: scheme });
      try {
        await s.page.goto(gw.gui + '/#/playground');
        const routeSelect = s.page.getByLabel('Route', { exact: true });
        await routeSelect.waitFor();
        // the first usable route is picked; the embeddings route is listed but cannot be chosen
        assert.equal(await routeSelect.inputValue(), (await gw.adminRequest('GET', '/routes/chat')).json.id);
        assert.equal(await s.page.locator('#pg-route option[disabled]').textContent(), 'embed (not a chat route)');
        assert.equal(await s.page.getByLabel('Model', { exact: true }).inputValue(), 'gpt-4o');
        await s.page.getByLabel('System prompt').fill('Answer in one sentence.');
        await send(s.page, 'Why stream answers?');

        // read the answer twice while it streams: it grows, the second reading extends the first
        const a = answer(s.page, 1);
        await s.page.waitForFunction(() => ((globalThis as any).document.querySelector('[aria-label="Answer 1"]')?.textContent ?? '').length > 0);
        const first = (await a.textContent())!;
        assert.equal(await turnState(s.page, 1).textContent(), 'streaming…');
        await s.page.waitForFunction((seen: number) => ((globalThis as any).document.querySelector('[aria-label="Answer 1"]')?.textContent ?? '').length > seen, first.length);
        const second = (await a.textContent())!;
        assert.ok(second.length > first.length && second.startsWith(first), `grew from ${JSON.stringify(first)} to ${JSON.stringify(second)}`);
        assert.ok(second.length < ANSWER.length, 'read while the answer was still streaming');
        await s.page.getByText('done', { exact: true }).waitFor();
        assert.equal(await a.textContent(), ANSWER);

        // the gateway's figures: the spend row of the answer's request id
        const requestId1 = await settledRequestId(s.page, 1);
        const row = await spendRow(requestId1);
        assert.equal(row.stream, true);
        assert.ok(row.cost > 0, 'the route prices the answer');
        for (const [name, field] of [['Prompt tokens', 'prompt_tokens'], ['Completion tokens', 'completion_tokens'], ['Total tokens', 'total_tokens']] as const) {
          const gateway = await figure(s.page, 1, name, 'gateway');
          assert.deepEqual(gateway, { text: count(row[field]), value: String(row[field]) }, name);
          const browser = await figure(s.page, 1, name, 'browser');
          assert.equal(browser.value, String(row[field]), `${name}: the stream's usage chunk says the same`);
        }
        assert.equal(row.completion_tokens, ANSWER.split(/\s+/).length, 'the mock counts one token per word');
        assert.deepEqual(await figure(s.page, 1, 'Cost', 'gateway'), { text: money(row.cost), value: String(row.cost) });
        assert.equal((await figure(s.page, 1, 'Latency', 'gateway')).value, String(row.latency_ms));
        assert.equal((await figure(s.page, 1, 'Time to first token', 'gateway')).value, String(row.ttft_ms));
        const ttft = Number((await figure(s.page, 1, 'Time to first token', 'browser')).value);
        const latency = Number((await figure(s.page, 1, 'Latency', 'browser')).value);
        assert.ok(ttft > 0 && latency > ttft, `browser timings: ttft ${ttft}, latency ${latency}`);

        // the exact request: what the mock's upstream request was made from
        await s.page.getByText('The exact request sent').click();
        const body = JSON.parse((await s.page.getByLabel('Request body').textContent())!);
        assert.deepEqual(body, {
          model: 'gpt-4o',
          messages: [
            { role: 'system', content: 'Answer in one sentence.' },
            { role: 'user', content: 'Why stream answers?' },
          ],
          stream: true,
          stream_options: { include_usage: true },
        });
        const curl = (await s.page.getByLabel('curl command').textContent())!;
        assert.match(curl, new RegExp(`^curl -sS -N "http://127\\.0\\.0\\.1:${gw.proxyPort}/chat"`));
        assert.ok(curl.includes(JSON.stringify(body)), 'curl sends the same body');
        const upstream = openai.requests.at(-1)!;
        assert.deepEqual((upstream.json as { messages: unknown }).messages, body.messages);
        await screenshot(s.page, 'playground', scheme);
        assert.deepEqual(s.problems(), []);
      } finally {
        await s.close();
      }
    });
  }

  test('a key-auth route: a wrong key gets the 401 shown in the conversation, the right key an answer', async () => {
    const s = await openGui(gw.gui);
    s.expectStatus(/^\/gateway\/secure$/, 401);
    try {
      await s.page.goto(gw.gui + '/#/playground');
      const routeSelect = s.page.getByLabel('Route', { exact: true });
      await routeSelect.waitFor();
      await routeSelect.selectOption({ label: 'secure-chat' });
      const key = s.page.getByLabel(/^Consumer key/);
      await key.fill('not-a-key');
      await send(s.page, 'Hello?');
      const alert = s.page.getByRole('article', { name: 'Turn 1' }).getByRole('alert');
      await alert.waitFor();
      assert.equal(await alert.textContent(), '401: Invalid authentication credentials (unauthorized)', "the gateway's OpenAI-shaped error, as it said it");
      assert.equal(await turnState(s.page, 1).textContent(), 'failed');
      const requestId1 = await settledRequestId(s.page, 1);
      const failed = await spendRow(requestId1);
      assert.equal(failed.status, 401);
      assert.equal((await figure(s.page, 1, 'Cost', 'gateway')).value, String(failed.cost));

      await key.fill(ALICE_KEY);
      await send(s.page, 'Hello again?');
      await turnState(s.page, 2).filter({ hasText: 'done' }).waitFor();
      assert.equal(await answer(s.page, 2).textContent(), ANSWER);
      const upstream = openai.requests.at(-1)!;
      assert.deepEqual((upstream.json as { messages: unknown }).messages, [{ role: 'user', content: 'Hello again?' }], 'the failed turn is not sent again');
      await s.page.getByText('The exact request sent').click();
      const curl = (await s.page.getByLabel('curl command').textContent())!;
      assert.match(curl, /-H "x-team-key: \$MODELGATE_KEY"/);
      assert.ok(!curl.includes(ALICE_KEY), 'the key is not written into the curl');
      assert.deepEqual(s.problems(), []);
    } finally {
      await s.close();
    }
  });

  test('a unified endpoint: the model is picked; errors (a provider 5xx, a stream cut mid-way) are shown in the conversation; Stop cuts the answer', async () => {
    const s = await openGui(gw.gui);
    s.expectStatus(/^\/gateway\/v1$/, 500);
    try {
      await s.page.goto(gw.gui + '/#/playground');
      const routeSelect = s.page.getByLabel('Route', { exact: true });
      await routeSelect.waitFor();
      await routeSelect.selectOption({ label: 'unified' });
      const modelSelect = s.page.getByLabel('Model', { exact: true });
      const options = await modelSelect.locator('option').allTextContents();
      assert.deepEqual(options, ['Any target (the balancer picks)', 'openai/gpt-4o', 'openai/gpt-4o-mini (as small)']);
      await modelSelect.selectOption('small');
      await send(s.page, 'Which model?');
      await turnState(s.page, 1).filter({ hasText: 'done' }).waitFor();
      assert.equal((openai.requests.at(-1)!.json as { model: string }).model, 'gpt-4o-mini');

      openai.nextResponse('5xx-json:500');
      await send(s.page, 'And now?');
      const failed = s.page.getByRole('article', { name: 'Turn 2' }).getByRole('alert');
      await failed.waitFor();
      assert.match((await failed.textContent())!, /^500: /);

      openai.nextResponse('reset-mid-stream');
      await send(s.page, 'Once more?');
      const cut = s.page.getByRole('article', { name: 'Turn 3' }).getByRole('alert');
      await cut.waitFor();
      assert.equal(await turnState(s.page, 3).textContent(), 'failed');
      assert.ok(((await answer(s.page, 3).textContent()) ?? '').length > 0, 'the part that came is kept');

      // Stop: the stream is cut from the browser, the gateway records a client that left
      await send(s.page, 'Stop me?');
      await s.page.waitForFunction(() => ((globalThis as any).document.querySelector('[aria-label="Answer 4"]')?.textContent ?? '').length > 0);
      await s.page.getByRole('button', { name: 'Stop' }).click();
      await turnState(s.page, 4).filter({ hasText: 'stopped' }).waitFor();
      assert.ok(((await answer(s.page, 4).textContent()) ?? '').length < ANSWER.length);
      const requestId4 = await settledRequestId(s.page, 4);
      const stopped = await spendRow(requestId4);
      assert.equal(stopped.error_class, 'client_closed');
      assert.equal((await figure(s.page, 4, 'Completion tokens', 'gateway')).value, String(stopped.completion_tokens));
      assert.equal(await cut.textContent(), 'the provider connection failed mid-stream (upstream_connection_error)', "the stream's error event, as the gateway sent it");
      assert.deepEqual(s.problems(), []);
    } finally {
      await s.close();
    }
  });
});
