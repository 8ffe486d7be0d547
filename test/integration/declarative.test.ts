/**
 * DB-less mode against the real gateway: the guide's YAML for all six providers in one Kong
 * declarative file (with the null service), keyed for the mock providers; every route answers.
 * Then the Admin API in DB-less mode (read-only, POST /config atomic, GET /config), what survives
 * a restart (D6), an invalid file at start-up, vault references end to end, and the time to load
 * a large configuration.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { Gateway } from '../helpers/gateway.ts';
import { GUIDE_CHAT_BODY as GUIDE_BODY, GUIDE_ROUTES as ROUTES, guideYamlRoutes } from '../helpers/kong-guide.ts';
import { startMockProvider, type MockProvider } from '../mocks/providers.ts';

const mocks: Record<string, MockProvider> = {};
let dir: string;
let file: string;
let gw: Gateway;

/** The guide's routes, pointed at the mocks with the mocks' keys; the OpenAI key as a vault reference. */
function guideConfig(): Record<string, unknown> {
  const routes = guideYamlRoutes();
  const conf = (name: string) => routes.find((r) => r.name === name)!.plugins[0].config;
  conf('openai-chat').auth.header_value = '{vault://env/mg-test-openai-auth}';
  conf('openai-chat').model.options.upstream_url = `${mocks.openai.url}/v1/chat/completions`;
  conf('azure-chat').auth.header_value = 'azure-test-key';
  conf('azure-chat').model.options.upstream_url = `${mocks.azure.url}/openai/deployments/kong-gpt-3-5/chat/completions`;
  conf('cohere-chat').auth.header_value = 'Bearer co-test';
  conf('cohere-chat').model.options.upstream_url = `${mocks.cohere.url}/v1/chat`;
  // the guide's Anthropic sampling values violate the schema (Kong refuses them too)
  Object.assign(conf('anthropic-chat').model.options, { top_p: 1, top_k: 250, upstream_url: `${mocks.anthropic.url}/v1/messages` });
  conf('anthropic-chat').auth.header_value = 'sk-ant-test';
  // llama2 and mistral keep the guide's misplaced `model.upstream_url` / `model.*_format`: moved with a warning
  conf('llama2-chat').model.upstream_url = `${mocks.ollama.url}/api/chat`;
  conf('mistral-chat').model.upstream_url = `${mocks.ollama.url}/api/chat`;
  return { _format_version: '3.0', _comment: 'the AI Proxy guide, declaratively', services: [{ name: 'ai-proxy', url: 'http://localhost:32000', routes }] };
}

const DBLESS = () => ({ MODELGATE_DATABASE: 'off', MODELGATE_DECLARATIVE_CONFIG: file, MG_TEST_OPENAI_AUTH: 'Bearer sk-test' });

before(async () => {
  mocks.openai = await startMockProvider('openai');
  mocks.azure = await startMockProvider('azure', { deployments: { 'kong-gpt-3-5': 'gpt-35-turbo' } });
  mocks.anthropic = await startMockProvider('anthropic', { models: '*' });
  mocks.cohere = await startMockProvider('cohere');
  mocks.ollama = await startMockProvider('ollama');
  dir = mkdtempSync(path.join(os.tmpdir(), 'modelgate-decl-'));
  file = path.join(dir, 'kong.yml');
  writeFileSync(file, YAML.stringify(guideConfig()));
  gw = await Gateway.start({ env: DBLESS() });
});

after(async () => {
  await gw?.close();
  await Promise.all(Object.values(mocks).map((m) => m.close()));
  rmSync(dir, { recursive: true, force: true });
});

async function allRoutesAnswer(g: Gateway): Promise<void> {
  for (const route of ROUTES) {
    const res = await g.proxyRequest('POST', `/${route}`, GUIDE_BODY);
    assert.equal(res.status, 200, `${route}: ${res.text}`);
    assert.equal(res.json.object, 'chat.completion', route);
  }
}

test("the guide's YAML for all six providers loads and every route answers", async () => {
  await allRoutesAnswer(gw);
  const openai = mocks.openai.requests[mocks.openai.requests.length - 1];
  assert.equal(openai.headers.authorization, 'Bearer sk-test', 'the vault reference is resolved when the snapshot is built');
  assert.match(gw.logs, /config\.model\.llama2_format belongs in config\.model\.options\.llama2_format; moved it there/);
  assert.match(gw.logs, /config\.model\.upstream_url belongs in config\.model\.options\.upstream_url/);
  assert.match(gw.logs, /config\.model\.mistral_format belongs in config\.model\.options\.mistral_format/);
});

test('the key behind a vault reference is stored nowhere, only the reference', async () => {
  const plugins = await gw.adminRequest('GET', '/routes/openai-chat/plugins');
  assert.equal(plugins.json.data[0].config.auth.header_value, '{vault://env/mg-test-openai-auth}');
  const saved = readFileSync(path.join(gw.prefix, 'declarative.json'), 'utf8');
  assert.ok(saved.includes('{vault://env/mg-test-openai-auth}'));
  assert.ok(!saved.includes('sk-test'), 'the resolved key is not persisted');
  assert.ok(!(await gw.adminRequest('GET', '/config')).text.includes('sk-test'));
});

test('the Admin API is read-only: reads work, writes get Kong\'s DB-less answer', async () => {
  const routes = await gw.adminRequest('GET', '/services/ai-proxy/routes');
  assert.equal(routes.status, 200);
  assert.deepEqual(routes.json.data.map((r: any) => r.name).sort(), [...ROUTES].sort());
  const cases: [string, string, string][] = [
    ['POST', '/services', "cannot create 'services' entities when not using a database"],
    ['POST', '/services/ai-proxy/routes', "cannot create 'routes' entities when not using a database"],
    ['PATCH', '/routes/openai-chat', "cannot update 'routes' entities when not using a database"],
    ['PUT', '/consumers/alice', "cannot create or update 'consumers' entities when not using a database"],
    ['DELETE', '/routes/openai-chat/plugins/x', "cannot remove 'plugins' entities when not using a database"],
  ];
  for (const [method, url, message] of cases) {
    const r = await gw.adminRequest(method, url, method === 'DELETE' ? undefined : { name: 'x' });
    assert.equal(r.status, 405, `${method} ${url}`);
    assert.deepEqual(r.json, { code: 12, name: 'operation unsupported', message });
  }
  const validate = await gw.adminRequest('POST', '/schemas/services/validate', { host: 'example.com' });
  assert.equal(validate.status, 200, 'schema validation changes nothing and stays available');
});

test('POST /config with an invalid configuration changes nothing and returns every error', async () => {
  const bad = {
    _format_version: '3.0',
    services: [
      { name: 'svc', url: 'http://127.0.0.1:1', routes: [{ name: 'ok', paths: ['/ok'] }, { name: 'bad-path', paths: ['no-slash'], plugins: [{ name: 'ai-proxy', config: { route_type: 'llm/v1/chat', model: { provider: 'nope' } } }] }] },
      { name: 'svc', host: 'example.com', port: 70000 },
    ],
    routes: [{ name: 'orphan', service: 'missing', paths: ['/o'] }],
  };
  const r = await gw.adminRequest('POST', '/config', bad);
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.code, 14);
  assert.equal(r.json.name, 'invalid declarative configuration');
  assert.match(r.json.message, /^declarative config is invalid: \{/);
  const f = r.json.fields;
  assert.equal(f.services[0].routes[0], null, 'entries without errors are null, as in Kong');
  assert.deepEqual(f.services[0].routes[1].paths, ['should start with: / (fixed path) or ~/ (regex path)']);
  assert.equal(f.services[0].routes[1].plugins[0].config.model.provider, 'expected one of: openai, azure, anthropic, cohere, mistral, llama2, gemini, bedrock, huggingface, groq, together, deepseek, fireworks, openrouter, vllm, lmstudio, llamacpp');
  assert.equal(f.services[1].port, 'value should be between 0 and 65535');
  assert.match(f.services[1]['@entity'][0], /uniqueness violation: 'services' entity with primary key set to '[0-9a-f-]+' already declared/);
  assert.deepEqual(f.routes[0]['@entity'], ["invalid reference 'service: missing' (no such entry in 'services')"]);
  const paths = r.json.flattened_errors.flatMap((e: any) => e.errors.map((x: any) => x.path));
  assert.ok(paths.includes('services[0].routes[1].paths[0]'));
  assert.ok(paths.includes('services[0].routes[1].plugins[0].config.model.provider'));
  assert.ok(paths.includes('services[1].port'));
  assert.ok(paths.includes('routes[0]'));
  const route = r.json.flattened_errors.find((e: any) => e.entity_name === 'bad-path');
  assert.equal(route.entity_type, 'route');
  assert.deepEqual(route.errors[0], { type: 'field', field: 'paths.1', message: 'should start with: / (fixed path) or ~/ (regex path)', path: 'services[0].routes[1].paths[0]' });
  await allRoutesAnswer(gw);

  const syntax = await gw.adminRequest('POST', '/config', { config: 'services: [' });
  assert.equal(syntax.status, 400);
  assert.equal(syntax.json.code, 14);
  const none = await gw.adminRequest('POST', '/config', { nothing: true });
  assert.equal(none.status, 400);
  assert.deepEqual(none.json, { message: 'expected a declarative configuration' });
});

test('POST /config replaces the whole configuration atomically; GET /config returns it', async () => {
  const current = await gw.adminRequest('GET', '/config');
  assert.equal(current.status, 200);
  const doc = YAML.parse(current.json.config);
  assert.equal(doc._format_version, '3.0');
  assert.equal(doc.services[0].routes.length, 6);
  const next = {
    _format_version: '3.0',
    services: [{ name: 'teapot', url: 'http://127.0.0.1:1', routes: [{ name: 'tea', paths: ['/tea'], plugins: [{ name: 'request-termination', config: { status_code: 418, message: 'short and stout' } }] }] }],
  };
  const posted = await gw.adminRequest('POST', '/config', next);
  assert.equal(posted.status, 201, posted.text);
  assert.equal(Object.keys(posted.json.routes).length, 1);
  assert.equal((await gw.proxyRequest('GET', '/tea')).status, 418, 'the new configuration serves as soon as POST /config answers');
  assert.equal((await gw.proxyRequest('POST', '/openai-chat', GUIDE_BODY)).status, 404, 'the old one is gone');
  const yaml = await fetch(gw.admin + '/config', { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: current.json.config });
  assert.equal(yaml.status, 201, 'raw YAML is accepted too');
  await allRoutesAnswer(gw);
  assert.equal((await gw.proxyRequest('GET', '/tea')).status, 404);
  const ids = (await gw.adminRequest('GET', '/routes')).json.data.map((r: any) => r.id).sort();
  assert.deepEqual(ids, doc.services[0].routes.map((r: any) => r.id).sort(), 'the exported ids come back');
});

test('the last good configuration survives a restart; an edited file wins over it', async () => {
  const posted = await gw.adminRequest('POST', '/config', {
    _format_version: '3.0',
    services: [{ name: 'teapot', url: 'http://127.0.0.1:1', routes: [{ name: 'tea', paths: ['/tea'], plugins: [{ name: 'request-termination', config: { status_code: 418 } }] }] }],
  });
  assert.equal(posted.status, 201);
  await gw.stop();
  await gw.launch({ env: DBLESS() });
  assert.equal((await gw.proxyRequest('GET', '/tea')).status, 418, 'the file is unchanged: the configuration posted since wins');
  await gw.stop();
  await gw.launch({ env: { MODELGATE_DATABASE: 'off' } });
  assert.equal((await gw.proxyRequest('GET', '/tea')).status, 418, 'no file: the last good configuration');
  await gw.stop();
  writeFileSync(file, YAML.stringify(guideConfig()) + '# edited\n');
  await gw.launch({ env: DBLESS() });
  assert.equal((await gw.proxyRequest('GET', '/tea')).status, 404, 'an edited file is the newest intent');
  await allRoutesAnswer(gw);
});

test('an invalid file stops start-up with every error and its path', async () => {
  const badFile = path.join(dir, 'bad.yml');
  writeFileSync(
    badFile,
    YAML.stringify({
      _format_version: '3.0',
      services: [{ name: 'ai-proxy', url: 'http://localhost:32000', routes: [{ name: 'r', paths: ['x'], plugins: [{ name: 'ai-proxy', config: { route_type: 'nope' } }] }] }],
      plugins: [{ name: 'no-such-plugin' }],
    }),
  );
  const bad = await Gateway.start({ noWait: true, env: { MODELGATE_DATABASE: 'off', MODELGATE_DECLARATIVE_CONFIG: badFile } });
  assert.equal(await bad.waitExit(), 1);
  assert.match(bad.stderr, /MODELGATE_DECLARATIVE_CONFIG: .*bad\.yml is invalid \(\d+ errors\)/);
  assert.match(bad.stderr, /services\[0\]\.routes\[0\]\.paths\[0\]: should start with/);
  assert.match(bad.stderr, /services\[0\]\.routes\[0\]\.plugins\[0\]\.config\.route_type: expected one of/);
  assert.match(bad.stderr, /plugins\[0\]\.name: plugin 'no-such-plugin' not enabled/);
  await bad.close();
});

test('a large configuration loads in seconds (METRIC)', async () => {
  const N = 5000;
  const routes = Array.from({ length: N }, (_, i) => ({ name: `r${i}`, paths: [`/bulk/${i}`] }));
  routes[N - 1] = { ...routes[N - 1], plugins: [{ name: 'request-termination', config: { status_code: 418 } }] } as any;
  const body = JSON.stringify({ _format_version: '3.0', services: [{ name: 'bulk', url: 'http://127.0.0.1:1', routes }] });
  const t0 = Date.now();
  const r = await gw.adminRequest('POST', '/config', body, { 'content-type': 'application/json' });
  const ms = Date.now() - t0;
  assert.equal(r.status, 201, r.text.slice(0, 500));
  assert.equal((await gw.proxyRequest('GET', `/bulk/${N - 1}`)).status, 418);
  console.log(`METRIC declarative_load_${N}_routes_ms=${ms}`);
  assert.ok(ms < 15_000, `${N} routes took ${ms} ms`);
});
