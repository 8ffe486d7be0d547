/**
 * The Admin GUI in Firefox (issue 20: "works in current Chromium and Firefox"): Debian's
 * firefox-esr, headless, driven by puppeteer-core over WebDriver BiDi (test/helpers/firefox.ts),
 * against one real gateway (an admin token, two workers) with known AI traffic to a strict OpenAI
 * mock. In one tab: the token prompt refuses a wrong token and takes MODELGATE_ADMIN_TOKEN; the
 * dashboard's tiles equal /usage and its charts are drawn (pixels on every canvas); the request
 * log lists the spend rows with their cost; Configuration lists the routes and opens a plugin's
 * form; the playground streams an answer (read while it grows); the cluster page shows both
 * workers; Tab reaches the navigation with a visible focus and Enter follows a link. A dark
 * browser shows the dark theme. No page is wider than the 1366×768 window, and none has a console
 * error, a failed or off-origin request, or an unexpected answer ≥ 400.
 * The pages' figures are checked in depth by the Chromium suites (gui-*.test.ts); this file
 * checks that Firefox runs the same pages.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ElementHandle, Page } from 'puppeteer-core';
import { Gateway } from '../helpers/gateway.ts';
import { startMockProvider, type MockProvider } from '../mocks/providers.ts';
import { closeFirefox, firefoxMissing, openFirefox, type FirefoxSession } from '../helpers/firefox.ts';
import { money } from '../../src/gui/app/lib/format.ts';

const SKIP = { skip: firefoxMissing ?? false };
const TOKEN = 'firefox-admin-token-4d81c2';
const OPENAI_KEY = 'sk-openai-firefox-0b7e';
const ANSWER = 'Firefox reads the stream one word at a time while the model is still writing it.';
/** Between two stream events: slow enough to read the playground's answer twice while it grows. */
const DELAY_MS = 150;

let gw: Gateway;
let openai: MockProvider;
/** The spend rows of the traffic, newest first, as /usage/requests gives them. */
let rows: any[] = [];
let from = 0;
let to = 0;

async function admin(method: string, url: string, body?: unknown): Promise<any> {
  const r = await gw.adminRequest(method, url, body, { 'kong-admin-token': TOKEN });
  assert.ok(r.status < 300, `${method} ${url}: ${r.status} ${r.text}`);
  return r.json;
}

before(async () => {
  if (SKIP.skip) return;
  openai = await startMockProvider('openai', { key: OPENAI_KEY, text: ANSWER, delayMs: DELAY_MS });
  gw = await Gateway.start({ workers: 2, env: { MODELGATE_ADMIN_TOKEN: TOKEN } });
  await admin('POST', '/services', { name: 'ai', url: 'http://localhost:32000' });
  await admin('POST', '/services/ai/routes', { name: 'chat', paths: ['/chat'] });
  await admin('POST', '/routes/chat/plugins', {
    name: 'ai-proxy',
    config: {
      route_type: 'llm/v1/chat',
      auth: { header_name: 'Authorization', header_value: `Bearer ${OPENAI_KEY}` },
      model: { provider: 'openai', name: 'gpt-4o', options: { upstream_url: `${openai.url}/v1/chat/completions`, input_cost: 1000, output_cost: 2000 } },
    },
  });
  from = Date.now();
  const ask = { messages: [{ role: 'user', content: 'What is 1+1?' }] };
  for (const body of [ask, { ...ask, stream: true }, ask]) {
    const r = await gw.proxyRequest('POST', '/chat', body);
    assert.equal(r.status, 200, r.text);
  }
  to = Date.now() + 1;
  // rows reach the store off the hot path: wait (bounded) until all three are there
  const deadline = Date.now() + 15_000;
  for (;;) {
    const r = await gw.adminRequest('GET', '/usage/requests', undefined, { 'kong-admin-token': TOKEN });
    if (r.status === 200 && r.json.data.length === 3) {
      rows = r.json.data;
      break;
    }
    if (Date.now() > deadline) throw new Error(`spend rows did not arrive: ${r.status} ${r.text}`);
    await new Promise((res) => setTimeout(res, 50));
  }
});

after(async () => {
  await closeFirefox();
  await gw?.close();
  await openai?.close();
});

/** An element by its accessible role and name (Puppeteer's ARIA query, BiDi's accessibility locator). */
const aria = (role: string, name: string) => `::-p-aria([name="${name}"][role="${role}"])`;

/**
 * The form control whose accessible name is `label` (its <label>, or aria-label): the ARIA query
 * also finds the <label> element itself, so the control is picked among the matches. Waits
 * (bounded) for it to appear.
 */
async function control(page: Page, label: string): Promise<ElementHandle> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    for (const el of await page.$$(`::-p-aria(${label})`)) {
      if (await el.evaluate((e) => ['INPUT', 'SELECT', 'TEXTAREA'].includes(e.nodeName))) return el;
    }
    if (Date.now() > deadline) throw new Error(`no control labelled ${label}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function text(page: Page, selector: string): Promise<string> {
  const el = await page.waitForSelector(selector);
  return ((await el!.evaluate((e) => e.textContent)) ?? '').trim();
}

async function signIn(s: FirefoxSession): Promise<void> {
  const { page } = s;
  await page.goto(gw.gui + '/');
  await page.waitForSelector(aria('dialog', 'Admin token'));
  const input = await control(page, 'Token');
  await input.type('wrong-token');
  await page.locator(aria('button', 'Sign in')).click();
  assert.equal(await text(page, '.token-prompt [role="alert"]'), 'The gateway refused this token.');
  await input.evaluate((e: any) => e.select());
  await input.type(TOKEN);
  await page.keyboard.press('Enter');
  await page.waitForSelector('.token-prompt', { hidden: true });
  const stored = await page.evaluate(() => {
    const w = globalThis as any; // runs in the page: the DOM is not in the tests' types
    return [w.sessionStorage.getItem('modelgate.admin-token'), w.localStorage.length];
  });
  assert.deepEqual(stored, [TOKEN, 0], 'the token is kept for the tab only');
}

async function dashboard(page: Page): Promise<void> {
  const q = new URLSearchParams({ range: 'custom', from: new Date(from - 120_000).toISOString(), to: new Date(to + 120_000).toISOString(), refresh: 'off' });
  await page.goto(`${gw.gui}/#/?${q}`);
  await page.waitForSelector('.dashboard[data-rendered="true"]');
  const query = await page.$eval('.dashboard', (e) => e.getAttribute('data-usage-query'));
  const u = await admin('GET', `/usage?${query}`);
  assert.equal(u.totals.requests, 3);
  for (const metric of ['requests', 'errors', 'prompt_tokens', 'completion_tokens', 'total_tokens', 'cost']) {
    const v = await page.$eval(`.tile[data-metric="${metric}"]`, (e) => e.getAttribute('data-value'));
    assert.equal(v, String(u.totals[metric]), `tile ${metric}`);
  }
  // the arrays handed to uPlot: the traffic chart holds /usage's requests
  const drawn = await page.evaluate(() => (globalThis as any).__modelgate_charts as Record<string, { series: { label: string; values: (number | null)[] }[] }>);
  assert.deepEqual(Object.keys(drawn).sort(), ['breakdown', 'cost', 'latency', 'tokens', 'traffic']);
  const requests = drawn.traffic.series.find((x) => x.label === 'Requests')!.values;
  assert.equal(requests.reduce((a: number, b) => a + (b ?? 0), 0), 3);
  // and uPlot drew them: every chart's canvas has painted pixels
  const painted = await page.evaluate(() =>
    [...(globalThis as any).document.querySelectorAll('.uplot canvas')].map((c: any) => {
      const data: Uint8ClampedArray = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) n++;
      return n;
    }),
  );
  assert.equal(painted.length, 5, 'five charts');
  assert.ok(painted.every((n) => n > 0), `pixels painted per canvas: ${painted}`);
}

async function requests(page: Page): Promise<void> {
  await page.goto(gw.gui + '/#/requests');
  const want = rows.map((r) => r.request_id);
  await page.waitForFunction((n: number) => (globalThis as any).document.querySelectorAll('.rq-table tbody tr[data-request-id]').length === n, {}, want.length);
  const listed = await page.$$eval('.rq-table tbody tr[data-request-id]', (trs) => trs.map((tr) => tr.getAttribute('data-request-id')));
  assert.deepEqual(listed, want, 'the spend rows, newest first');
  for (const r of rows) assert.equal(await text(page, `tr[data-request-id="${r.request_id}"] .rq-cost`), money(r.cost));
  assert.ok(!(await page.content()).includes(OPENAI_KEY), 'no key on the page');
}

async function configuration(page: Page): Promise<void> {
  await page.goto(gw.gui + '/#/config/routes');
  const routes = (await admin('GET', '/routes')).data.map((r: any) => r.name);
  await page.waitForSelector(`${aria('table', 'Routes')} >>> ${aria('link', 'chat')}`);
  const names = await page.$$eval('table[aria-label="Routes"] tbody tr td:first-child a', (as) => as.map((a) => a.textContent));
  assert.deepEqual(names, routes);
  // a plugin's form, generated from its schema, with the plugin's values in it
  await page.goto(gw.gui + '/#/config/plugins');
  await page.locator(`${aria('table', 'Plugins')} >>> ${aria('link', 'ai-proxy')}`).click();
  const routeType = await control(page, 'route_type');
  assert.equal(await routeType.evaluate((e: any) => e.value), 'llm/v1/chat');
  await page.waitForSelector(aria('button', 'Save'));
}

async function playground(page: Page): Promise<void> {
  await page.goto(gw.gui + '/#/playground');
  const route = await control(page, 'Route');
  assert.equal(await route.evaluate((e: any) => e.value), (await admin('GET', '/routes/chat')).id);
  const message = await control(page, 'Message');
  await message.type('Why stream answers?');
  await page.keyboard.press('Enter');
  // read the answer twice while it streams: the second reading extends the first
  const answerText = () => page.$eval('[aria-label="Answer 1"]', (e) => e.textContent ?? '');
  await page.waitForFunction(() => ((globalThis as any).document.querySelector('[aria-label="Answer 1"]')?.textContent ?? '').length > 0);
  const first = await answerText();
  await page.waitForFunction((n: number) => ((globalThis as any).document.querySelector('[aria-label="Answer 1"]')?.textContent ?? '').length > n, {}, first.length);
  const second = await answerText();
  assert.ok(second.length > first.length && second.startsWith(first), `grew from ${JSON.stringify(first)} to ${JSON.stringify(second)}`);
  assert.ok(second.length < ANSWER.length, 'read while the answer was still streaming');
  await page.waitForFunction(() => (globalThis as any).document.querySelector('[aria-label="Turn 1"] .pg-role .badge')?.textContent === 'done', { timeout: 15_000 });
  assert.equal(await answerText(), ANSWER);
}

async function cluster(page: Page): Promise<void> {
  await page.goto(gw.gui + '/#/cluster');
  await page.waitForSelector('dd[data-field="config_version"]');
  const info = await admin('GET', '/');
  await page.waitForFunction((n: number) => (globalThis as any).document.querySelectorAll('table.cl-workers tbody tr').length === n, {}, info.pids.workers.length);
  const pids = await page.$$eval('table.cl-workers tbody tr td:nth-child(2)', (tds) => tds.map((td) => Number(td.textContent)));
  assert.deepEqual(pids, info.pids.workers, 'both workers, by pid');
  const status = await admin('GET', '/status');
  assert.equal(await text(page, 'dd[data-field="config_version"]'), String(status.configuration.version));
}

async function keyboard(page: Page): Promise<void> {
  await page.goto(gw.gui + '/#/');
  await page.reload();
  await page.waitForSelector(aria('navigation', 'Main'));
  // Tab from the top of the page until the Requests link has the focus (bounded: a few links come first)
  let focused = '';
  for (let i = 0; i < 10 && focused !== 'Requests'; i++) {
    await page.keyboard.press('Tab');
    focused = await page.evaluate(() => {
      const el = (globalThis as any).document.activeElement;
      return el?.closest('nav[aria-label="Main"]') ? el.textContent : '';
    });
  }
  assert.equal(focused, 'Requests', 'Tab reaches the navigation');
  const visible = await page.evaluate(() => {
    const el = (globalThis as any).document.activeElement;
    return el.matches(':focus-visible') && (globalThis as any).getComputedStyle(el).outlineStyle !== 'none';
  });
  assert.ok(visible, 'the focus is visible');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => (globalThis as any).document.title.startsWith('Requests'));
  assert.equal(await page.evaluate(() => (globalThis as any).location.hash), '#/requests');
}

test('in Firefox: token prompt, every page, keyboard navigation, no problem', SKIP, async () => {
  const s = await openFirefox(gw.gui);
  // the page asks the API before the token is known: those 401s are what opens the prompt
  s.expectStatus(/^\/api\//, 401);
  try {
    await signIn(s);
    const steps: [string, (p: Page) => Promise<void>][] = [
      ['dashboard', dashboard],
      ['requests', requests],
      ['configuration', configuration],
      ['playground', playground],
      ['cluster', cluster],
      ['keyboard', keyboard],
    ];
    for (const [name, step] of steps) {
      await step(s.page);
      // readable at 1366×768 in Firefox too: nothing wider than the window
      const [scroll, client] = await s.page.evaluate(() => {
        const root = (globalThis as any).document.documentElement;
        return [root.scrollWidth, root.clientWidth];
      });
      assert.ok(scroll <= client, `${name}: ${scroll} px wide in a ${client} px window`);
      assert.deepEqual(s.problems(), [], `after ${name}`);
    }
  } finally {
    await s.close();
  }
});

test('in Firefox, dark: the system setting gives the dark theme', SKIP, async () => {
  const s = await openFirefox(gw.gui, { colorScheme: 'dark' });
  s.expectStatus(/^\/api\//, 401);
  try {
    await signIn(s);
    await s.page.waitForSelector('.dashboard[data-rendered="true"]');
    const stroke = await s.page.evaluate(() => (globalThis as any).getComputedStyle((globalThis as any).document.documentElement).getPropertyValue('--series-1').trim());
    assert.equal(stroke, '#748ffc', 'the dark palette is in effect');
    assert.deepEqual(s.problems(), []);
  } finally {
    await s.close();
  }
});
