/**
 * The Admin GUI's Configuration pages in a real headless Chromium against the real gateway: an AI
 * route made through the "new AI route" form answers through the proxy from a strict OpenAI mock;
 * the Admin API's schema errors land on their fields (and a failed step undoes the earlier ones);
 * a consumer's key-auth key is shown once; deletes go through a confirm dialog; a DB-less node
 * shows no write buttons, its declarative YAML, and takes an upload.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { Gateway } from '../helpers/gateway.ts';
import { browserMissing, closeBrowser, openGui, screenshot } from '../helpers/browser.ts';
import { startMockProvider, type MockProvider } from '../mocks/providers.ts';

const skip = { skip: browserMissing ?? false };
const SCHEMES = ['light', 'dark'] as const;

/** The text of the field error tied to an input by aria-describedby. */
async function errorOf(page: Page, label: string): Promise<string> {
  const input = page.getByLabel(label, { exact: true });
  // the refusal arrives after the click: wait for the input to be marked invalid
  await input.and(page.locator('[aria-invalid="true"]')).waitFor();
  const ids = ((await input.getAttribute('aria-describedby')) ?? '').split(' ').filter((id) => id.endsWith('-error'));
  assert.equal(ids.length, 1, `${label} is described by one error`);
  assert.equal(await input.getAttribute('aria-invalid'), 'true');
  const error = page.locator(`[id="${ids[0]}"]`);
  assert.equal(await error.getAttribute('role'), 'alert');
  return (await error.textContent()) ?? '';
}

describe('Admin GUI configuration (SQLite)', () => {
  let gw: Gateway;
  let mock: MockProvider;
  before(async () => {
    mock = await startMockProvider('openai');
    gw = await Gateway.start();
  });
  after(async () => {
    await gw?.close();
    await mock?.close();
    await closeBrowser();
  });

  test('new AI route: one click makes service, route and ai-proxy; the proxy answers from the mock', skip, async () => {
    const s = await openGui(gw.gui);
    try {
      const { page } = s;
      await page.goto(gw.gui + '/#/config/new-ai-route');
      await page.getByLabel('Provider', { exact: true }).selectOption('openai');
      await page.getByLabel('Model', { exact: true }).fill('gpt-4o');
      await page.getByLabel('API key', { exact: true }).fill('sk-test');
      await page.getByLabel('Route type', { exact: true }).selectOption('llm/v1/chat');
      await page.getByLabel('Name', { exact: true }).fill('gui-chat');
      assert.equal(await page.getByLabel('Path', { exact: true }).inputValue(), '/gui-chat', 'the path follows the name');
      await page.getByLabel('upstream_url', { exact: true }).fill(`${mock.url}/v1/chat/completions`);
      await page.getByRole('button', { name: 'Create AI route' }).click();
      await page.getByRole('heading', { name: 'AI route gui-chat is ready' }).waitFor();

      const curl = (await page.locator('.snippet', { hasText: 'curl' }).locator('pre').textContent()) ?? '';
      assert.match(curl, new RegExp(`http://127\\.0\\.0\\.1:${gw.proxyPort}/gui-chat`));
      const python = (await page.locator('.snippet', { hasText: 'Python' }).locator('pre').textContent()) ?? '';
      assert.match(python, new RegExp(`base_url="http://127\\.0\\.0\\.1:${gw.proxyPort}/gui-chat"`));
      assert.doesNotMatch(curl + python, /sk-test/, 'the snippets never hold the provider key');

      const plugins = (await gw.adminRequest('GET', '/routes/gui-chat/plugins')).json.data;
      assert.equal(plugins.length, 1);
      assert.equal(plugins[0].name, 'ai-proxy');
      assert.deepEqual(plugins[0].config.auth.header_name, 'Authorization');
      assert.deepEqual(plugins[0].config.auth.header_value, 'Bearer sk-test');
      assert.equal(plugins[0].config.model.name, 'gpt-4o');

      // the curl snippet's request, through the proxy, and the OpenAI SDK's path under the route
      const r = await gw.proxyRequest('POST', '/gui-chat', { messages: [{ role: 'user', content: 'Hello!' }] });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.choices[0].message.content, '1 + 1 = 2.');
      const sdk = await gw.proxyRequest('POST', '/gui-chat/chat/completions', { model: 'gpt-4o', messages: [{ role: 'user', content: 'Hello!' }] }, { authorization: 'Bearer unused' });
      assert.equal(sdk.status, 200, sdk.text);
      assert.equal(mock.requests.at(-1)!.headers.authorization, 'Bearer sk-test');
      assert.deepEqual(s.problems(), []);
    } finally {
      await s.close();
    }
  });

  test('new AI route: a refused later step removes what was made and shows the error on its field', skip, async () => {
    const s = await openGui(gw.gui);
    try {
      const { page } = s;
      s.expectStatus(/^\/api\/services\/[^/]+\/routes$/, 400);
      s.expectStatus(/^\/api\/routes\/[^/]+\/plugins$/, 400);
      await page.goto(gw.gui + '/#/config/new-ai-route');
      await page.getByLabel('API key', { exact: true }).fill('sk-test');
      await page.getByLabel('Name', { exact: true }).fill('bad-path');
      await page.getByLabel('Path', { exact: true }).fill('no-slash');
      await page.getByRole('button', { name: 'Create AI route' }).click();
      assert.match(await errorOf(page, 'Path'), /should start with: \/ \(fixed path\) or ~\/ \(regex path\)/);
      assert.match((await page.locator('form .error-box').textContent()) ?? '', /Creating the route failed/);
      assert.equal((await gw.adminRequest('GET', '/services/bad-path')).status, 404, 'the service made first is gone');

      // the plugin step: Azure without its instance
      await page.getByLabel('Path', { exact: true }).fill('/azure-gui');
      await page.getByLabel('Name', { exact: true }).fill('azure-gui');
      await page.getByLabel('Provider', { exact: true }).selectOption('azure');
      await page.getByLabel('azure_deployment_id', { exact: true }).fill('dep');
      await page.getByRole('button', { name: 'Create AI route' }).click();
      assert.equal(await errorOf(page, 'azure_instance'), "must set 'model.options.azure_instance' for azure provider");
      assert.equal((await gw.adminRequest('GET', '/routes/azure-gui')).status, 404);
      assert.equal((await gw.adminRequest('GET', '/services/azure-gui')).status, 404);
      assert.deepEqual(s.problems(), []);
    } finally {
      await s.close();
    }
  });

  test('plugin form: out-of-range and missing values are shown under their inputs', skip, async () => {
    const s = await openGui(gw.gui);
    try {
      const { page } = s;
      s.expectStatus(/^\/api\/plugins$/, 400);
      await page.goto(gw.gui + '/#/config/plugins/new');
      await page.getByLabel('Plugin', { exact: true }).selectOption('ai-proxy');
      await page.getByLabel('route', { exact: true }).selectOption({ label: 'gui-chat' });
      await page.getByLabel('route_type', { exact: true }).selectOption('llm/v1/chat');
      await page.getByText('options', { exact: true }).click(); // the collapsed model.options record
      await page.getByLabel('temperature', { exact: true }).fill('9');
      await page.getByRole('button', { name: 'Create plugin' }).click();
      assert.equal(await errorOf(page, 'temperature'), 'value should be between 0 and 5');
      assert.equal(await errorOf(page, 'provider'), 'required field missing');
      assert.match((await page.locator('form > .error-box').textContent()) ?? '', /schema violation/);
      assert.equal((await gw.adminRequest('GET', '/routes/gui-chat/plugins')).json.data.length, 1, 'nothing was added');
      assert.deepEqual(s.problems(), []);
    } finally {
      await s.close();
    }
  });

  test('a consumer and its key-auth credential: the key is shown once', skip, async () => {
    const s = await openGui(gw.gui);
    try {
      const { page } = s;
      await page.goto(gw.gui + '/#/config/consumers');
      await page.getByRole('link', { name: 'New consumer' }).click();
      await page.getByLabel('username', { exact: true }).fill('alice');
      await page.getByRole('button', { name: 'Create consumer' }).click();
      await page.getByRole('heading', { name: 'Key-auth credentials' }).waitFor();
      await page.getByRole('button', { name: 'New key' }).click();
      await page.getByRole('button', { name: 'Create key' }).click();
      const shown = page.getByLabel('New key', { exact: true });
      await shown.waitFor();
      const key = ((await shown.textContent()) ?? '').trim();
      const creds = (await gw.adminRequest('GET', '/consumers/alice/key-auth')).json.data;
      assert.equal(creds.length, 1);
      assert.equal(key, creds[0].key, 'the key shown is the stored one');
      await page.getByRole('table', { name: 'Credentials' }).getByText(creds[0].id).waitFor();
      await page.getByRole('button', { name: 'Done' }).click();
      assert.equal(await page.getByText(key).count(), 0, 'gone once dismissed');
      await page.reload();
      await page.getByRole('table', { name: 'Credentials' }).getByText(creds[0].id).waitFor();
      assert.ok(!(await page.content()).includes(key), 'never shown again');
      assert.deepEqual(s.problems(), []);
    } finally {
      await s.close();
    }
  });

  test('delete asks first: Esc keeps the route, Delete removes it', skip, async () => {
    await gw.adminRequest('POST', '/services', { name: 'doomed', url: 'http://127.0.0.1:9' });
    await gw.adminRequest('POST', '/services/doomed/routes', { name: 'doomed', paths: ['/doomed'] });
    const s = await openGui(gw.gui);
    try {
      const { page } = s;
      await page.goto(gw.gui + '/#/config/routes');
      await page.getByRole('button', { name: 'Delete route doomed' }).click();
      await page.getByRole('dialog', { name: 'Delete route doomed?' }).waitFor();
      await page.keyboard.press('Escape');
      await page.getByRole('dialog').waitFor({ state: 'detached' });
      assert.equal((await gw.adminRequest('GET', '/routes/doomed')).status, 200);
      await page.getByRole('button', { name: 'Delete route doomed' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
      await page.getByRole('dialog').waitFor({ state: 'detached' });
      await page.getByRole('link', { name: 'doomed' }).waitFor({ state: 'detached' });
      assert.equal((await gw.adminRequest('GET', '/routes/doomed')).status, 404);
      assert.deepEqual(s.problems(), []);
    } finally {
      await s.close();
    }
  });

  test('screenshots: routes, the plugin form, new AI route', skip, async () => {
    for (const scheme of SCHEMES) {
      const s = await openGui(gw.gui, { colorScheme: scheme });
      try {
        const { page } = s;
        await page.goto(gw.gui + '/#/config/routes');
        await page.getByRole('table', { name: 'Routes' }).waitFor();
        await screenshot(page, 'config-routes', scheme);
        await page.goto(gw.gui + '/#/config/plugins/new?name=ai-proxy');
        await page.getByLabel('route_type', { exact: true }).waitFor();
        await screenshot(page, 'config-plugin-form', scheme);
        await page.goto(gw.gui + '/#/config/new-ai-route');
        await page.getByLabel('Provider', { exact: true }).selectOption('azure');
        await screenshot(page, 'config-new-ai-route', scheme);
        assert.deepEqual(s.problems(), []);
      } finally {
        await s.close();
      }
    }
  });
});

const DECLARATIVE = `_format_version: "3.0"
services:
  - name: ai
    url: http://localhost:32000
    routes:
      - name: chat
        paths: ["/chat"]
consumers:
  - username: bob
`;

describe('Admin GUI configuration (DB-less)', () => {
  let gw: Gateway;
  before(async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'modelgate-gui-config-'));
    const file = path.join(dir, 'kong.yml');
    writeFileSync(file, DECLARATIVE);
    gw = await Gateway.start({ env: { MODELGATE_DATABASE: 'off', MODELGATE_DECLARATIVE_CONFIG: file } });
  });
  after(async () => {
    await gw?.close();
    await closeBrowser();
  });

  test('lists are read-only; the declarative file is shown and an upload replaces it', skip, async () => {
    const s = await openGui(gw.gui);
    try {
      const { page } = s;
      s.expectStatus(/^\/api\/config$/, 400);
      await page.goto(gw.gui + '/#/config/routes');
      await page.getByRole('table', { name: 'Routes' }).getByRole('link', { name: 'chat' }).waitFor();
      for (const name of [/^New /, /^Edit /, /^Delete /]) assert.equal(await page.getByRole('button', { name }).count(), 0);
      assert.equal(await page.getByRole('link', { name: /^(New route|Edit )/ }).count(), 0);
      assert.equal(await page.getByRole('link', { name: 'New AI route' }).count(), 0);
      await page.getByRole('link', { name: 'chat' }).click();
      assert.ok(await page.getByLabel('paths 1').isDisabled(), 'the form is read-only');
      assert.equal(await page.getByRole('button', { name: /Save|Create/ }).count(), 0);
      await page.goto(gw.gui + '/#/config/consumers');
      await page.getByRole('link', { name: 'bob' }).click();
      await page.getByRole('heading', { name: 'Key-auth credentials' }).waitFor();
      assert.equal(await page.getByRole('button', { name: 'New key' }).count(), 0);

      await page.getByRole('navigation', { name: 'Configuration' }).getByRole('link', { name: 'Declarative' }).click();
      const yaml = page.getByLabel('Current configuration (YAML)');
      await yaml.getByText('name: chat').waitFor();
      assert.match((await yaml.textContent()) ?? '', /_format_version: "3\.0"|_format_version: '3\.0'|_format_version: 3\.0/);

      // refused: the errors are listed and nothing changes
      await page.getByLabel('Declarative configuration', { exact: true }).fill('_format_version: "3.0"\nservices:\n  - name: broken\n    port: 99999\n');
      await page.getByRole('button', { name: 'Upload' }).click();
      const refusal = page.getByRole('alert').filter({ hasText: 'Refused, nothing changed' });
      await refusal.waitFor();
      assert.match((await refusal.textContent()) ?? '', /service broken/);
      assert.equal((await gw.adminRequest('GET', '/routes/chat')).status, 200);

      await page.getByLabel('Declarative configuration', { exact: true }).fill(DECLARATIVE.replace('name: chat', 'name: uploaded').replace('/chat', '/uploaded'));
      await page.getByRole('button', { name: 'Upload' }).click();
      const done = page.getByRole('status').filter({ hasText: 'Configuration replaced' });
      await done.waitFor();
      for (const part of ['1 services', '1 routes', '1 consumers']) assert.ok(((await done.textContent()) ?? '').includes(part), part);
      await yaml.getByText('name: uploaded').waitFor();
      assert.equal((await gw.adminRequest('GET', '/routes/uploaded')).status, 200);
      assert.equal((await gw.adminRequest('GET', '/routes/chat')).status, 404);
      assert.deepEqual(s.problems(), []);
    } finally {
      await s.close();
    }
  });

  test('screenshots: declarative', skip, async () => {
    for (const scheme of SCHEMES) {
      const s = await openGui(gw.gui, { colorScheme: scheme });
      try {
        await s.page.goto(gw.gui + '/#/config/declarative');
        await s.page.getByLabel('Current configuration (YAML)').waitFor();
        await screenshot(s.page, 'config-declarative', scheme);
        assert.deepEqual(s.problems(), []);
      } finally {
        await s.close();
      }
    }
  });
});
