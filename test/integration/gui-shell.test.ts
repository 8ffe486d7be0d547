/**
 * The Admin GUI's listener and shell (src/gui/): its files with a strict CSP and compression, the
 * Admin API under /api with the same guard, the playground's relay to the proxy, the admin-token
 * prompt, and a first page that stays under 300 KB compressed — in a real headless Chromium.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Gateway, httpRequest } from '../helpers/gateway.ts';
import { EchoServer } from '../helpers/echo-server.ts';
import { browserMissing, closeBrowser, openGui } from '../helpers/browser.ts';

const TOKEN = 'gui-test-admin-token-5f2a';

describe('Admin GUI listener', () => {
  let gw: Gateway;
  let echo: EchoServer;
  before(async () => {
    echo = await EchoServer.start();
    gw = await Gateway.start();
    await gw.adminRequest('POST', '/services', { name: 'echo', url: `http://127.0.0.1:${echo.port}` });
    await gw.adminRequest('POST', '/services/echo/routes', { name: 'echo', paths: ['/echo'] });
  });
  after(async () => {
    await gw?.close();
    await echo?.close();
  });

  test('the page and its files: one origin, a strict CSP, compressed, cached by ETag', async () => {
    const page = await fetch(gw.gui + '/', { headers: { 'accept-encoding': 'br' } });
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type')!, /^text\/html/);
    const csp = page.headers.get('content-security-policy')!;
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /connect-src 'self'/);
    assert.match(csp, /script-src 'self' 'sha256-[A-Za-z0-9+/=]+'/);
    assert.equal(page.headers.get('x-frame-options'), 'DENY');
    const html = await page.text();
    assert.match(html, /<script type="importmap">/);
    assert.doesNotMatch(html, /https?:\/\//, 'the page names no other host');

    const main = await fetch(gw.gui + '/app/main.ts', { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(main.status, 200);
    assert.match(main.headers.get('content-type')!, /^text\/javascript/);
    assert.equal(main.headers.get('content-encoding'), 'gzip');
    const js = await main.text();
    assert.doesNotMatch(js, /interface PageProps/, 'types are stripped');
    const again = await fetch(gw.gui + '/app/main.ts', { headers: { 'if-none-match': main.headers.get('etag')! } });
    assert.equal(again.status, 304);

    for (const bad of ['/app/../settings.ts', '/app/%2e%2e/settings.ts', '/app/lib/.hidden.ts', '/src/settings.ts', '/app/nothing.ts']) {
      const r = await httpRequest(gw.gui + bad);
      assert.equal(r.status, 404, bad);
    }
    const post = await fetch(gw.gui + '/', { method: 'POST' });
    assert.equal(post.status, 405);
  });

  test('/api is the Admin API, behind the same guard', async () => {
    const status = await fetch(gw.gui + '/api/status');
    assert.equal(status.status, 200);
    assert.ok(((await status.json()) as { server: unknown }).server);
    const routes = await fetch(gw.gui + '/api/routes');
    assert.equal(((await routes.json()) as { data: unknown[] }).data.length, 1);
    const foreignHost = await httpRequest(gw.gui + '/api/status', { headers: { host: 'evil.example' } });
    assert.equal(foreignHost.status, 403);
    const foreignWrite = await fetch(gw.gui + '/api/services', { method: 'POST', headers: { origin: 'http://evil.example', 'content-type': 'application/json' }, body: '{"name":"x","url":"http://127.0.0.1:1"}' });
    assert.equal(foreignWrite.status, 403);
    const sameOriginWrite = await fetch(gw.gui + '/api/consumers', { method: 'POST', headers: { origin: gw.gui, 'content-type': 'application/json' }, body: '{"username":"gui-made"}' });
    assert.equal(sameOriginWrite.status, 201);
  });

  test('/gateway relays to the proxy listener, without the admin token', async () => {
    const r = await fetch(gw.gui + '/gateway/echo/hello?x=1', { method: 'POST', headers: { 'content-type': 'application/json', 'kong-admin-token': 'not-for-upstream', authorization: 'Bearer route-key' }, body: '{"a":1}' });
    assert.equal(r.status, 200);
    const seen = (await r.json()) as { url: string; headers: Record<string, string>; body: string };
    assert.equal(seen.url, '/hello?x=1');
    assert.equal(seen.body, '{"a":1}');
    assert.equal(seen.headers.authorization, 'Bearer route-key', "the route's own credentials are the client's to send");
    assert.equal(seen.headers['kong-admin-token'], undefined);
  });

  test('in Chromium: the shell loads with no error, no off-origin request, under 300 KB', { skip: browserMissing ?? false }, async () => {
    const s = await openGui(gw.gui);
    try {
      await s.page.goto(gw.gui + '/', { waitUntil: 'networkidle' });
      await s.page.getByRole('navigation', { name: 'Main' }).waitFor();
      for (const name of ['Dashboard', 'Requests', 'Playground', 'Configuration', 'Cluster']) {
        await s.page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true }).click();
        await s.page.waitForFunction((n: string) => (globalThis as unknown as { document: { title: string } }).document.title.startsWith(n), name);
      }
      await s.page.goto(gw.gui + '/#/nowhere');
      await s.page.getByRole('heading', { name: 'Not found' }).waitFor();
      const bytes = await s.transferred();
      assert.ok(bytes > 1000 && bytes <= 300 * 1024, `first pages transferred ${bytes} bytes`);
      assert.deepEqual(s.problems(), []);
    } finally {
      await s.close();
      await closeBrowser();
    }
  });
});

describe('Admin GUI with an admin token', () => {
  let gw: Gateway;
  before(async () => {
    gw = await Gateway.start({ env: { MODELGATE_ADMIN_TOKEN: TOKEN } });
  });
  after(async () => {
    await gw?.close();
    await closeBrowser();
  });

  test('the API refuses the GUI without the token', async () => {
    assert.equal((await fetch(gw.gui + '/api/status')).status, 401);
    assert.equal((await fetch(gw.gui + '/api/status', { headers: { 'kong-admin-token': TOKEN } })).status, 200);
    assert.equal((await fetch(gw.gui + '/gateway/anything')).status, 401, 'the relay is an admin door too');
    // the page itself is public: it holds no data
    assert.equal((await fetch(gw.gui + '/')).status, 200);
  });

  test('in Chromium: the token is asked, a wrong one refused, the right one kept for the tab only', { skip: browserMissing ?? false }, async () => {
    const s = await openGui(gw.gui);
    s.expectStatus(/^\/api\//, 401);
    try {
      await s.page.goto(gw.gui + '/');
      const input = s.page.getByLabel('Token', { exact: true });
      await input.waitFor();
      await input.fill('wrong-token');
      await s.page.getByRole('button', { name: 'Sign in' }).click();
      await s.page.getByText('The gateway refused this token.').waitFor();
      await input.fill(TOKEN);
      await s.page.getByRole('button', { name: 'Sign in' }).click();
      await s.page.getByRole('dialog').waitFor({ state: 'detached' });
      const stored = await s.page.evaluate("[sessionStorage.getItem('modelgate.admin-token'), localStorage.length]");
      assert.deepEqual(stored, [TOKEN, 0], 'sessionStorage only, never localStorage');
      await s.page.reload();
      await s.page.getByRole('navigation', { name: 'Main' }).waitFor();
      assert.equal(await s.page.locator('.token-prompt').count(), 0, 'a reload keeps the session');
      assert.deepEqual(s.problems(), []);
    } finally {
      await s.close();
    }
    const fresh = await openGui(gw.gui);
    fresh.expectStatus(/^\/api\//, 401);
    try {
      await fresh.page.goto(gw.gui + '/');
      await fresh.page.getByLabel('Token', { exact: true }).waitFor();
      assert.deepEqual(fresh.problems(), []);
    } finally {
      await fresh.close();
    }
  });
});

describe('MODELGATE_ADMIN_GUI_LISTEN=off', () => {
  test('no GUI listener', async () => {
    const gw = await Gateway.start({ env: { MODELGATE_ADMIN_GUI_LISTEN: 'off' } });
    try {
      // The port the GUI would have had is free for anyone: another test's gateway may have taken
      // it since. Whatever answers there, if anything, must not be this gateway's GUI.
      const mine = (await (await fetch(gw.admin + '/')).json()) as { node_id: string };
      assert.match(mine.node_id, /^[0-9a-f-]{36}$/);
      const there = (await fetch(gw.gui + '/api/')
        .then((r) => r.json())
        .catch(() => null)) as { node_id?: string } | null;
      assert.notEqual(there?.node_id, mine.node_id, 'no GUI listener of this gateway');
      assert.equal((await fetch(gw.admin + '/status')).status, 200);
    } finally {
      await gw.close();
    }
  });
});
