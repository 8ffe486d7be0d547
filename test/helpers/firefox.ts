/**
 * A real headless Firefox for the Admin GUI's tests (issue 20: "works in current Chromium and
 * Firefox"). Debian's `firefox-esr` (or `firefox`), driven by puppeteer-core over WebDriver BiDi —
 * Puppeteer's only Firefox protocol since v23; puppeteer-core never downloads a browser, and
 * Playwright's Firefox is a patched build of its own that cannot be installed here. `.ci/run`
 * installs firefox-esr like chromium; when none is found, `firefoxMissing` says what to install and
 * the Firefox suite skips.
 *
 * A session records what browser.ts records in Chromium, as far as BiDi exposes it:
 * - console errors (BiDi `log.entryAdded` of type console at level error);
 * - uncaught exceptions (`log.entryAdded` of type javascript);
 * - failed requests (`network.fetchError`), except those the page cancelled itself;
 * - answers ≥ 400 the test did not expect (`network.responseCompleted`);
 * - any request to another origin than the GUI's (`network.beforeRequestSent`).
 * Firefox also reports the page's CSP refusals as `log.entryAdded` errors of type javascript, so a
 * blocked script, style or eval lands in problems() like an uncaught exception.
 * What BiDi does not give: the browser's other console lines (Chromium's "Failed to load resource"
 * has no BiDi entry; the failing answer is seen as its response instead); transfer sizes (so no
 * `transferred()` here: the 300 KB budget is measured in Chromium); and prefers-color-scheme
 * emulation (Firefox has no `emulation.setMediaFeaturesOverride` yet): a dark session comes from a
 * browser launched with Firefox's own content colour-scheme preference.
 */
import { existsSync } from 'node:fs';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

const CANDIDATES = [process.env.MODELGATE_TEST_FIREFOX, '/usr/bin/firefox-esr', '/usr/bin/firefox'].filter(Boolean) as string[];

export const FIREFOX: string | null = CANDIDATES.find((p) => existsSync(p)) ?? null;

export const firefoxMissing: string | null = FIREFOX ? null : 'firefox not found: install it (Debian: apt-get install firefox-esr) to run the Admin GUI Firefox tests';

type Scheme = 'light' | 'dark';
const launched = new Map<Scheme, Promise<Browser>>();

/**
 * One browser per colour scheme per test file, closed by `closeFirefox()` in `after`. Firefox reads
 * prefers-color-scheme for pages from `layout.css.prefers-color-scheme.content-override`
 * (0 dark, 1 light), so the scheme is the browser's, not the page's.
 */
export function firefox(scheme: Scheme = 'light'): Promise<Browser> {
  let browser = launched.get(scheme);
  if (!browser) {
    // Puppeteer writes these prefs into a temporary profile of its own, removed when it closes
    browser = puppeteer.launch({
      browser: 'firefox',
      executablePath: FIREFOX!,
      headless: true,
      defaultViewport: { width: 1366, height: 768 },
      extraPrefsFirefox: { 'layout.css.prefers-color-scheme.content-override': scheme === 'dark' ? 0 : 1 },
    });
    launched.set(scheme, browser);
  }
  return browser;
}

export async function closeFirefox(): Promise<void> {
  const all = [...launched.values()];
  launched.clear();
  for (const browser of all) await (await browser.catch(() => null))?.close();
}

export interface FirefoxSession {
  page: Page;
  /** What went wrong on the page so far (see the file's comment). */
  problems(): string[];
  /** Answers with this status on paths matching `pattern` are expected (the token prompt's 401). */
  expectStatus(pattern: RegExp, status: number): void;
  close(): Promise<void>;
}

export async function openFirefox(guiUrl: string, opts: { colorScheme?: Scheme } = {}): Promise<FirefoxSession> {
  const b = await firefox(opts.colorScheme ?? 'light');
  // a fresh context per session, like a Playwright context: no storage shared between sessions
  const context = await b.createBrowserContext();
  const page = await context.newPage();
  const origin = new URL(guiUrl).origin;
  const problems: string[] = [];
  const expected: [RegExp, number][] = [];
  const isExpected = (url: string, status: number) => {
    const p = new URL(url).pathname;
    return expected.some(([re, s]) => s === status && re.test(p));
  };
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e instanceof Error ? e.message : String(e)}`));
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith('data:') && !u.startsWith('blob:') && new URL(u).origin !== origin) problems.push(`off-origin request: ${u}`);
  });
  page.on('requestfailed', (r) => {
    const why = r.failure()?.errorText ?? '';
    // a request the page itself cancelled (a stopped stream, a superseded load) is not a failure
    if (!/NS_BINDING_ABORTED|abort|cancel/i.test(why)) problems.push(`request failed: ${r.method()} ${r.url()} (${why})`);
  });
  page.on('response', (r) => {
    const status = r.status();
    if (status < 400) return;
    if (!isExpected(r.url(), status)) problems.push(`HTTP ${status}: ${r.request().method()} ${new URL(r.url()).pathname}`);
  });
  return {
    page,
    problems: () => [...problems],
    expectStatus: (pattern, status) => void expected.push([pattern, status]),
    close: () => context.close(),
  };
}
