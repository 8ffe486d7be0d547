/**
 * A real headless Chromium for the Admin GUI's tests (Debian's `chromium`, driven by playwright-core;
 * `.ci/run` installs it like PostgreSQL). When no browser is found, `browserMissing` says what to
 * install and the GUI suites skip.
 *
 * A session records what must never happen on a GUI page: console errors, uncaught exceptions,
 * failed requests, answers ≥ 400 the test did not expect, and any request to another origin than
 * the gateway's GUI. `problems()` lists them; tests assert it is empty.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

const CANDIDATES = [process.env.MODELGATE_TEST_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'].filter(Boolean) as string[];

export const CHROMIUM: string | null = CANDIDATES.find((p) => existsSync(p)) ?? null;

export const browserMissing: string | null = CHROMIUM ? null : 'chromium not found: install it (Debian/Ubuntu: apt-get install chromium) to run the Admin GUI browser tests';

/** Where the tests write screenshots: docs/screenshots when MODELGATE_UPDATE_SCREENSHOTS=1, else a temp folder. */
export const SCREENSHOT_DIR = process.env.MODELGATE_UPDATE_SCREENSHOTS === '1' ? path.resolve(import.meta.dirname, '../../docs/screenshots') : path.join(os.tmpdir(), 'modelgate-gui-screenshots');

let shared: Promise<Browser> | null = null;

/** One browser per test file, closed by `closeBrowser()` in `after`. */
export function browser(): Promise<Browser> {
  shared ??= chromium.launch({ executablePath: CHROMIUM!, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  return shared;
}

export async function closeBrowser(): Promise<void> {
  if (!shared) return;
  const b = await shared;
  shared = null;
  await b.close();
}

export interface GuiSession {
  context: BrowserContext;
  page: Page;
  /** What went wrong on the page so far (see the file's comment). */
  problems(): string[];
  /** Answers with these statuses on paths matching `pattern` are expected (a schema error's 400). */
  expectStatus(pattern: RegExp, status: number): void;
  /** Bytes transferred (compressed, as on the wire) for every answer so far. */
  transferred(): Promise<number>;
  close(): Promise<void>;
}

export interface SessionOptions {
  colorScheme?: 'light' | 'dark';
  viewport?: { width: number; height: number };
}

export async function openGui(guiUrl: string, opts: SessionOptions = {}): Promise<GuiSession> {
  const b = await browser();
  const context = await b.newContext({ viewport: opts.viewport ?? { width: 1366, height: 768 }, colorScheme: opts.colorScheme ?? 'light' });
  const page = await context.newPage();
  const origin = new URL(guiUrl).origin;
  const problems: string[] = [];
  const expected: [RegExp, number][] = [];
  const responses: Promise<number>[] = [];
  const isExpected = (url: string, status: number) => {
    const p = new URL(url).pathname;
    return expected.some(([re, s]) => s === status && re.test(p));
  };
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    // Chromium logs every answer ≥ 400 to the console: an expected one is not a problem
    const status = /^Failed to load resource: the server responded with a status of (\d+)/.exec(m.text());
    if (status && isExpected(m.location().url, Number(status[1]))) return;
    problems.push(`console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith('data:') && !u.startsWith('blob:') && new URL(u).origin !== origin) problems.push(`off-origin request: ${u}`);
  });
  page.on('requestfailed', (r) => {
    const why = r.failure()?.errorText ?? '';
    // a request the page itself cancelled (a stopped stream, a superseded load) is not a failure
    if (!/ERR_ABORTED|cancel/i.test(why)) problems.push(`request failed: ${r.method()} ${r.url()} (${why})`);
  });
  page.on('response', (r) => {
    responses.push(r.request().sizes().then((s) => s.responseBodySize + s.responseHeadersSize, () => 0));
    const status = r.status();
    if (status < 400) return;
    if (!isExpected(r.url(), status)) problems.push(`HTTP ${status}: ${r.request().method()} ${new URL(r.url()).pathname}`);
  });
  return {
    context,
    page,
    problems: () => [...problems],
    expectStatus: (pattern, status) => void expected.push([pattern, status]),
    transferred: async () => (await Promise.all(responses)).reduce((a, b) => a + b, 0),
    close: () => context.close(),
  };
}

/** A screenshot of the page as it is, as `<name>-<scheme>.png`. */
export async function screenshot(page: Page, name: string, scheme: 'light' | 'dark'): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}-${scheme}.png`);
  await page.screenshot({ path: file, fullPage: false });
  return file;
}
