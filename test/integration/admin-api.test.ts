/**
 * The Admin API as a user of Kong's guide meets it: the guide's curl form bodies replayed against
 * the real gateway process, and Kong's answers for every error case — the same suite on each
 * store (SQLite, and PostgreSQL when its server binaries are installed).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Gateway } from '../helpers/gateway.ts';
import { guideAdminCalls } from '../helpers/kong-guide.ts';
import { PgServer, pgMissing } from '../helpers/postgres.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Each store: how to start the gateway on it, or why it cannot run here. */
const STORES: { name: string; skip: string | null; env: () => Promise<Record<string, string>>; stop?: () => Promise<void> }[] = [
  { name: 'sqlite', skip: null, env: async () => ({}) },
  (() => {
    let server: PgServer | null = null;
    return {
      name: 'postgres',
      skip: pgMissing,
      env: async () => {
        server = await PgServer.start();
        return { MODELGATE_DATABASE: 'postgres', MODELGATE_PG_URL: await server.createDatabase('admin_api') };
      },
      stop: async () => {
        await server?.close();
      },
    };
  })(),
];

if (pgMissing) process.stderr.write(`# skipped the PostgreSQL run of the Admin API suite: ${pgMissing}\n`);

for (const store of STORES) describe(`Admin API on ${store.name}`, { skip: store.skip ?? false }, () => {
  let gw: Gateway;
  let env: Record<string, string>;
  before(async () => {
    env = await store.env();
    gw = await Gateway.start({ env });
  });
  after(async () => {
    await gw?.close();
    await store.stop?.();
  });


  test('the guide creates the null service with the url shorthand', async () => {
    const [first] = guideAdminCalls();
    assert.equal(first.path, '/services');
    const r = await gw.adminForm('POST', first.path, first.data);
    assert.equal(r.status, 201, r.text);
    const s = r.json;
    assert.match(s.id, UUID);
    assert.equal(s.name, 'ai-proxy');
    assert.equal(s.protocol, 'http');
    assert.equal(s.host, 'localhost');
    assert.equal(s.port, 32000);
    assert.equal(s.path, null);
    assert.equal(s.retries, 5);
    assert.equal(s.connect_timeout, 60000);
    assert.equal(s.read_timeout, 60000);
    assert.equal(s.write_timeout, 60000);
    assert.equal(s.enabled, true);
    assert.equal(typeof s.created_at, 'number');
    assert.equal(s.tags, null);
  });

  test('every route and plugin call of the guide is answered as Kong answers it', async () => {
    const calls = guideAdminCalls().slice(1);
    assert.equal(calls.length, 12, 'six providers, a route and a plugin each');
    for (const call of calls) {
      const r = await gw.adminForm('POST', call.path, call.data);
      const isAnthropicPlugin = call.path === '/routes/anthropic-chat/plugins';
      if (isAnthropicPlugin) {
        // the guide's own example sets top_p=256 and top_k=0.5: Kong refuses it, naming both fields
        assert.equal(r.status, 400, r.text);
        assert.equal(r.json.code, 2);
        assert.equal(r.json.name, 'schema violation');
        assert.equal(r.json.fields.config.model.options.top_p, 'value should be between 0 and 1');
        assert.equal(r.json.fields.config.model.options.top_k, 'expected an integer');
        continue;
      }
      assert.equal(r.status, 201, `${call.path}: ${r.text}`);
      if (call.path.endsWith('/routes')) {
        assert.equal(r.json.paths.length, 1);
        assert.match(r.json.paths[0], /^~\/[a-z0-9]+-chat\$$/);
        assert.equal(r.json.strip_path, true);
        assert.deepEqual(r.json.protocols, ['http', 'https']);
        assert.match(r.json.service.id, UUID);
      } else {
        assert.equal(r.json.name, 'ai-proxy');
        assert.equal(r.json.config.route_type, 'llm/v1/chat');
        assert.equal(r.json.enabled, true);
        assert.match(r.json.route.id, UUID);
      }
    }
    const openai = await gw.adminRequest('GET', '/routes/openai-chat/plugins');
    assert.equal(openai.status, 200);
    const conf = openai.json.data[0].config;
    assert.equal(conf.model.options.max_tokens, 512, 'form strings are typed by the schema');
    assert.equal(conf.model.options.temperature, 1);
    assert.equal(conf.model.options.azure_api_version, '2023-05-15', 'defaults are filled in');
    assert.equal(conf.logging.log_payloads, false);
    assert.equal(conf.auth.header_value, 'Bearer <openai_key>', 'admins see the key, as in Kong');
  });

  test('the anthropic example with valid sampling options is accepted', async () => {
    const r = await gw.adminForm('POST', '/routes/anthropic-chat/plugins', [
      ['name', 'ai-proxy'],
      ['config.route_type', 'llm/v1/chat'],
      ['config.auth.header_name', 'apikey'],
      ['config.auth.header_value', '<anthropic_key>'],
      ['config.model.provider', 'anthropic'],
      ['config.model.name', 'claude-2.1'],
      ['config.model.options.max_tokens', '512'],
      ['config.model.options.top_p', '0.5'],
      ['config.model.options.top_k', '256'],
    ]);
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.config.model.options.top_k, 256);
  });

  test('JSON, form and multipart bodies make the same entity', async () => {
    const json = await gw.adminRequest('POST', '/services', { name: 'enc-json', host: 'example.com', port: 8080, tags: ['a', 'b'] });
    const form = await gw.adminForm('POST', '/services', [
      ['name', 'enc-form'],
      ['host', 'example.com'],
      ['port', '8080'],
      ['tags[]', 'a'],
      ['tags[]', 'b'],
    ]);
    const fd = new FormData();
    fd.append('name', 'enc-multi');
    fd.append('host', 'example.com');
    fd.append('port', '8080');
    fd.append('tags', 'a');
    fd.append('tags', 'b');
    const multi = await fetch(gw.admin + '/services', { method: 'POST', body: fd });
    const mjson = await multi.json();
    for (const [r, name] of [[json.json, 'enc-json'], [form.json, 'enc-form'], [mjson, 'enc-multi']] as const) {
      assert.equal(r.name, name);
      assert.equal(r.port, 8080);
      assert.deepEqual(r.tags, ['a', 'b']);
      assert.equal(r.protocol, 'http');
    }
  });

  test('errors come in Kong shapes and statuses', async () => {
    const dup = await gw.adminForm('POST', '/services', { name: 'ai-proxy', url: 'http://localhost:1' });
    assert.equal(dup.status, 409);
    assert.equal(dup.json.code, 5);
    assert.equal(dup.json.name, 'unique constraint violation');
    assert.equal(dup.json.message, `UNIQUE violation detected on '{name="ai-proxy"}'`);
    assert.deepEqual(dup.json.fields, { name: 'ai-proxy' });

    const missing = await gw.adminRequest('GET', '/services/nope');
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.json, { message: 'Not found' });

    const badProvider = await gw.adminForm('POST', '/plugins', { name: 'ai-proxy', 'config.route_type': 'llm/v1/chat', 'config.model.provider': 'nope' });
    assert.equal(badProvider.status, 400);
    assert.equal(badProvider.json.fields.config.model.provider, 'expected one of: openai, azure, anthropic, cohere, mistral, llama2, gemini, bedrock, huggingface, groq, together, deepseek, fireworks, openrouter, vllm, lmstudio, llamacpp');

    const azure = await gw.adminForm('POST', '/plugins', {
      name: 'ai-proxy',
      'config.route_type': 'llm/v1/chat',
      'config.auth.header_name': 'api-key',
      'config.auth.header_value': 'k',
      'config.model.provider': 'azure',
      'config.model.name': 'gpt-35-turbo',
    });
    assert.equal(azure.status, 400);
    assert.deepEqual(azure.json.fields.config['@entity'], [
      "must set 'model.options.azure_instance' for azure provider",
      "must set 'model.options.azure_deployment_id' for azure provider",
    ]);

    const unknownField = await gw.adminRequest('POST', '/services', { name: 'x1', host: 'example.com', colour: 'red' });
    assert.equal(unknownField.status, 400);
    assert.equal(unknownField.json.fields.colour, 'unknown field');

    const port = await gw.adminRequest('POST', '/services', { name: 'x2', host: 'example.com', port: 70000 });
    assert.equal(port.status, 400);
    assert.equal(port.json.fields.port, 'value should be between 0 and 65535');
    assert.equal(port.json.message, 'schema violation (port: value should be between 0 and 65535)');

    const method = await gw.adminRequest('PUT', '/services');
    assert.equal(method.status, 405);
    assert.deepEqual(method.json, { message: 'Method not allowed' });

    const media = await gw.adminRequest('POST', '/services', 'name=x', { 'content-type': 'text/plain' });
    assert.equal(media.status, 415);

    const malformed = await gw.adminRequest('POST', '/services', '{"name":', { 'content-type': 'application/json' });
    assert.equal(malformed.status, 400);
    assert.equal(malformed.json.message, 'Cannot parse JSON body');

    const fk = await gw.adminRequest('DELETE', '/services/ai-proxy');
    assert.equal(fk.status, 400);
    assert.equal(fk.json.code, 4);

    const routeFk = await gw.adminRequest('POST', '/routes', { paths: ['/x'], service: { id: '00000000-0000-4000-8000-000000000000' } });
    assert.equal(routeFk.status, 400);
    assert.equal(routeFk.json.name, 'foreign key violation');

    const unknownPlugin = await gw.adminRequest('POST', '/plugins', { name: 'no-such-plugin' });
    assert.equal(unknownPlugin.status, 400);
    assert.match(unknownPlugin.json.fields.name, /not enabled/);

    const tooMany = await gw.adminForm('POST', '/services', Array.from({ length: 1001 }, (_, i) => [`tags[${i}]`, 'x'] as [string, string]));
    assert.equal(tooMany.status, 400);
    assert.equal(tooMany.json.message, 'Too many arguments');

    const pollution = await gw.adminForm('POST', '/services', { name: 'p', host: 'example.com', '__proto__.polluted': 'yes' });
    assert.equal(pollution.status, 400);
    const after = await gw.adminRequest('GET', '/services/p');
    assert.equal(after.status, 404);
  });

  test('PATCH merges, PUT creates or replaces, DELETE is idempotent', async () => {
    const created = await gw.adminRequest('POST', '/services', { name: 'crud', url: 'https://example.com:8443/v1' });
    assert.equal(created.status, 201);
    assert.equal(created.json.protocol, 'https');
    assert.equal(created.json.port, 8443);
    assert.equal(created.json.path, '/v1');
    const patched = await gw.adminForm('PATCH', '/services/crud', { read_timeout: '1234' });
    assert.equal(patched.status, 200);
    assert.equal(patched.json.read_timeout, 1234);
    assert.equal(patched.json.host, 'example.com');
    assert.equal(patched.json.id, created.json.id);
    assert.ok(patched.json.updated_at >= created.json.updated_at);

    const put = await gw.adminRequest('PUT', '/services/crud-put', { host: 'example.org' });
    assert.equal(put.status, 200);
    assert.equal(put.json.name, 'crud-put');
    const replaced = await gw.adminRequest('PUT', '/services/crud-put', { host: 'example.net' });
    assert.equal(replaced.json.id, put.json.id);
    assert.equal(replaced.json.host, 'example.net');

    assert.equal((await gw.adminRequest('DELETE', '/services/crud-put')).status, 204);
    assert.equal((await gw.adminRequest('DELETE', '/services/crud-put')).status, 204);
    assert.equal((await gw.adminRequest('GET', '/services/crud-put')).status, 404);
  });

  test('lists paginate with size, offset and next, and filter by tags', async () => {
    for (let i = 0; i < 7; i++) {
      const r = await gw.adminRequest('POST', '/services', { name: `page-${i}`, host: 'example.com', tags: i % 2 ? ['odd', 'paged'] : ['even', 'paged'] });
      assert.equal(r.status, 201);
    }
    const seen = new Set<string>();
    let next: string | null = '/services?tags=paged&size=3';
    let pages = 0;
    while (next) {
      const r = await gw.adminRequest('GET', next);
      assert.equal(r.status, 200, r.text);
      for (const s of r.json.data) {
        assert.ok(!seen.has(s.id), 'no duplicates across pages');
        seen.add(s.id);
      }
      next = r.json.next;
      pages++;
    }
    assert.equal(seen.size, 7);
    assert.equal(pages, 3);
    const odd = await gw.adminRequest('GET', '/services?tags=odd');
    assert.equal(odd.json.data.length, 3);
    const either = await gw.adminRequest('GET', '/services?tags=odd/even');
    assert.equal(either.json.data.length, 7);
    const badSize = await gw.adminRequest('GET', '/services?size=0');
    assert.equal(badSize.status, 400);
    const badOffset = await gw.adminRequest('GET', '/services?offset=garbage!!');
    assert.equal(badOffset.status, 400);
    assert.equal(badOffset.json.name, 'invalid offset');
  });

  test('node information, status, enabled plugins and schemas', async () => {
    const root = await gw.adminRequest('GET', '/');
    assert.equal(root.status, 200);
    assert.equal(typeof root.json.version, 'string');
    assert.equal(typeof root.json.hostname, 'string');
    assert.ok(root.json.plugins.available_on_server['ai-proxy']);
    assert.ok(root.json.plugins.enabled_in_cluster.includes('ai-proxy'));
    assert.equal(root.json.configuration.admin_listen[0], `127.0.0.1:${gw.adminPort}`);
    const status = await gw.adminRequest('GET', '/status');
    assert.equal(status.status, 200);
    assert.equal(status.json.database.reachable, true);
    assert.equal(status.json.server.workers, 1);
    // each worker's memory, reported since it applied its configuration
    assert.equal(status.json.memory.workers.length, 1);
    assert.ok(status.json.memory.workers[0].heap_used_bytes > 0 && status.json.memory.workers[0].rss_bytes > status.json.memory.workers[0].heap_used_bytes);
    const enabled = await gw.adminRequest('GET', '/plugins/enabled');
    assert.ok(enabled.json.enabled_plugins.includes('request-termination'));
    const schema = await gw.adminRequest('GET', '/schemas/plugins/ai-proxy');
    assert.equal(schema.status, 200);
    const config = schema.json.fields.find((f: Record<string, unknown>) => 'config' in f).config;
    assert.equal(config.type, 'record');
    const unknown = await gw.adminRequest('GET', '/schemas/plugins/nope');
    assert.equal(unknown.status, 404);
  });

  test('consumers: created, found by username or id, filtered by custom_id, unique, patched', async () => {
    const dana = await gw.adminForm('POST', '/consumers', { username: 'dana', custom_id: 'crm-17' });
    assert.equal(dana.status, 201, dana.text);
    assert.match(dana.json.id, UUID);
    assert.deepEqual([dana.json.username, dana.json.custom_id, dana.json.tags], ['dana', 'crm-17', null]);
    assert.equal(typeof dana.json.created_at, 'number');

    const byName = await gw.adminRequest('GET', '/consumers/dana');
    const byId = await gw.adminRequest('GET', `/consumers/${dana.json.id}`);
    assert.equal(byName.status, 200);
    assert.deepEqual(byName.json, dana.json);
    assert.deepEqual(byId.json, dana.json);
    const byCustomId = await gw.adminRequest('GET', '/consumers?custom_id=crm-17');
    assert.deepEqual(byCustomId.json.data, [dana.json]);
    assert.deepEqual((await gw.adminRequest('GET', '/consumers?custom_id=nobody')).json.data, []);

    const dup = await gw.adminRequest('POST', '/consumers', { username: 'dana' });
    assert.equal(dup.status, 409);
    assert.deepEqual(dup.json, { code: 5, name: 'unique constraint violation', message: `UNIQUE violation detected on '{username="dana"}'`, fields: { username: 'dana' } });

    const nameless = await gw.adminRequest('POST', '/consumers', { tags: ['x'] });
    assert.equal(nameless.status, 400);
    assert.equal(nameless.json.name, 'schema violation');

    const patched = await gw.adminRequest('PATCH', '/consumers/dana', { tags: ['team-a'] });
    assert.equal(patched.status, 200);
    assert.equal(patched.json.id, dana.json.id);
    assert.equal(patched.json.custom_id, 'crm-17');
    assert.deepEqual(patched.json.tags, ['team-a']);
    assert.equal((await gw.adminRequest('GET', '/consumers/nobody')).status, 404);
  });

  test('key-auth credentials: Kong endpoints under /consumers/{c}/key-auth and /key-auths', async () => {
    await gw.adminRequest('POST', '/consumers', { username: 'eve' });
    const given = await gw.adminForm('POST', '/consumers/dana/key-auth', { key: 'dana-key-1' });
    assert.equal(given.status, 201, given.text);
    const dana = (await gw.adminRequest('GET', '/consumers/dana')).json;
    assert.match(given.json.id, UUID);
    assert.equal(given.json.key, 'dana-key-1');
    assert.deepEqual(given.json.consumer, { id: dana.id });
    assert.equal(typeof given.json.created_at, 'number');

    // no key: Kong generates one
    const generated = await gw.adminRequest('POST', '/consumers/dana/key-auth', {});
    assert.equal(generated.status, 201, generated.text);
    assert.match(generated.json.key, /^[0-9a-f]{32}$/);

    // keys are unique across consumers, with Kong's error object
    const dup = await gw.adminRequest('POST', '/consumers/eve/key-auth', { key: 'dana-key-1' });
    assert.equal(dup.status, 409);
    assert.deepEqual(dup.json, { code: 5, name: 'unique constraint violation', message: `UNIQUE violation detected on '{key="dana-key-1"}'`, fields: { key: 'dana-key-1' } });
    assert.equal((await gw.adminRequest('POST', '/consumers/nobody/key-auth', { key: 'x' })).status, 404);

    const list = await gw.adminRequest('GET', '/consumers/dana/key-auth');
    assert.equal(list.status, 200);
    assert.deepEqual(list.json.data.map((c: { id: string }) => c.id).sort(), [given.json.id, generated.json.id].sort());
    assert.deepEqual((await gw.adminRequest('GET', '/consumers/eve/key-auth')).json.data, []);

    // one credential: by id or by key, only under its own consumer
    const byId = await gw.adminRequest('GET', `/consumers/dana/key-auth/${given.json.id}`);
    assert.equal(byId.status, 200);
    assert.deepEqual(byId.json, given.json);
    assert.deepEqual((await gw.adminRequest('GET', '/consumers/dana/key-auth/dana-key-1')).json, given.json);
    assert.equal((await gw.adminRequest('GET', `/consumers/eve/key-auth/${given.json.id}`)).status, 404);

    // the top-level collection and the credential's consumer
    const all = await gw.adminRequest('GET', '/key-auths');
    assert.ok(all.json.data.some((c: { id: string }) => c.id === given.json.id));
    assert.ok(all.json.data.some((c: { id: string }) => c.id === generated.json.id));
    assert.deepEqual((await gw.adminRequest('GET', `/key-auths/${given.json.id}`)).json, given.json);
    for (const ref of ['dana-key-1', given.json.id]) {
      const owner = await gw.adminRequest('GET', `/key-auths/${ref}/consumer`);
      assert.equal(owner.status, 200);
      assert.equal(owner.json.id, dana.id);
      assert.equal(owner.json.username, 'dana');
    }
    assert.equal((await gw.adminRequest('GET', '/key-auths/no-such-key/consumer')).status, 404);

    // PATCH changes the key, keeps the credential; another consumer cannot patch it
    const patched = await gw.adminRequest('PATCH', `/consumers/dana/key-auth/${given.json.id}`, { key: 'dana-key-2' });
    assert.equal(patched.status, 200, patched.text);
    assert.equal(patched.json.id, given.json.id);
    assert.equal(patched.json.key, 'dana-key-2');
    assert.equal((await gw.adminRequest('PATCH', `/consumers/eve/key-auth/${given.json.id}`, { key: 'stolen' })).status, 404);
    const clash = await gw.adminRequest('PATCH', `/consumers/dana/key-auth/${given.json.id}`, { key: generated.json.key });
    assert.equal(clash.status, 409);
    assert.equal(clash.json.code, 5);

    // DELETE: gone, and deleting again is still 204
    assert.equal((await gw.adminRequest('DELETE', `/consumers/dana/key-auth/${given.json.id}`)).status, 204);
    assert.equal((await gw.adminRequest('GET', `/key-auths/${given.json.id}`)).status, 404);
    assert.equal((await gw.adminRequest('DELETE', `/consumers/dana/key-auth/${given.json.id}`)).status, 204);

    // deleting the consumer deletes its credentials (Kong's cascade)
    assert.equal((await gw.adminRequest('DELETE', '/consumers/dana')).status, 204);
    assert.equal((await gw.adminRequest('GET', `/key-auths/${generated.json.id}`)).status, 404);
  });

  test('key-auth credentials take effect at the proxy when created, changed and deleted', async () => {
    await gw.adminRequest('POST', '/routes', { name: 'keyed', paths: ['/keyed'] });
    await gw.adminRequest('POST', '/routes/keyed/plugins', { name: 'key-auth' });
    await gw.adminRequest('POST', '/routes/keyed/plugins', { name: 'request-termination', config: { status_code: 200, message: 'in' } });
    await gw.adminRequest('POST', '/consumers', { username: 'frank' });
    const cred = (await gw.adminRequest('POST', '/consumers/frank/key-auth', { key: 'frank-key-1' })).json;
    const call = (key: string) => gw.proxyRequest('GET', '/keyed', undefined, { apikey: key }).then((r) => r.status);

    assert.equal(await call('frank-key-1'), 200);
    await gw.adminRequest('PATCH', `/consumers/frank/key-auth/${cred.id}`, { key: 'frank-key-2' });
    assert.deepEqual([await call('frank-key-1'), await call('frank-key-2')], [401, 200]);
    await gw.adminRequest('DELETE', `/key-auths/${cred.id}`);
    assert.equal(await call('frank-key-2'), 401);
  });

  test('the configuration survives a restart', async () => {
    const before = await gw.adminRequest('GET', '/routes?size=1000');
    await gw.stop();
    await gw.launch({ env });
    const afterRestart = await gw.adminRequest('GET', '/routes?size=1000');
    assert.deepEqual(afterRestart.json.data, before.json.data);
    const plugins = await gw.adminRequest('GET', '/routes/openai-chat/plugins');
    assert.equal(plugins.json.data.length, 1);
  });
});
