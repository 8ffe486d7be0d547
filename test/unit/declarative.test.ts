/**
 * Kong's declarative format: ids (Kong's UUIDv5 scheme), nesting and references, every error at
 * once with its path, uniqueness across the file, the guide's misplaced model options, the
 * export round trip, and the in-memory store DB-less mode reads through.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import YAML from 'yaml';
import { uuidV5, entityId } from '../../src/declarative/ids.ts';
import { exportConfig, flattenConfig, loadDeclarativeText, declarativeError } from '../../src/declarative/index.ts';
import { luaCompact } from '../../src/declarative/errors.ts';
import { MemoryStore } from '../../src/store/declarative.ts';
import { guideYamlRoutes } from '../helpers/kong-guide.ts';

const NOW = 1_700_000_000;

const ok = (doc: unknown) => {
  const r = flattenConfig(doc, NOW);
  assert.equal(r.errors, undefined, JSON.stringify(r.errors?.issues));
  return r.data!;
};

test('UUIDv5 is RFC-conformant and ids follow Kong: per-entity namespace, endpoint key', () => {
  assert.equal(uuidV5('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'www.example.com'), '2ed6657d-e927-568b-95e1-2665a8aea6a2');
  const data = ok({ _format_version: '3.0', services: [{ name: 'ai-proxy', host: 'localhost' }] });
  assert.equal(data.services[0].id, entityId('services', 'ai-proxy'));
  assert.notEqual(entityId('services', 'x'), entityId('routes', 'x'));
  const again = ok({ _format_version: '3.0', services: [{ name: 'ai-proxy', host: 'other' }] });
  assert.equal(again.services[0].id, data.services[0].id, 'the same name keeps its id across loads');
  const given = ok({ _format_version: '3.0', services: [{ id: 'C0FFEE00-0000-4000-8000-000000000000', name: 'x', host: 'h' }] });
  assert.equal(given.services[0].id, 'c0ffee00-0000-4000-8000-000000000000');
});

test('nested and top-level entities, references by name and by id, plugin scopes', () => {
  const data = ok({
    _format_version: '3.0',
    _transform: true,
    _comment: 'hello',
    _workspace: 'default',
    services: [
      {
        name: 'svc',
        url: 'http://example.com:8080/base',
        _comment: 'comments are allowed on entities',
        routes: [{ name: 'nested', paths: ['/n'], plugins: [{ name: 'request-termination', config: { status_code: 418 } }] }],
        plugins: [{ name: 'request-termination', config: { status_code: 503 } }],
      },
    ],
    routes: [
      { name: 'by-name', service: 'svc', paths: ['/a'] },
      { paths: ['/unnamed'], service: { id: entityId('services', 'svc') } },
    ],
    consumers: [{ username: 'alice', keyauth_credentials: [{ key: 'alice-key' }], plugins: [{ name: 'request-termination' }] }],
    plugins: [{ name: 'request-termination', route: 'by-name', config: { status_code: 401 } }, { name: 'request-termination', config: { status_code: 500 } }],
  });
  const svc = data.services[0];
  assert.equal(svc.port, 8080);
  assert.equal(svc.path, '/base');
  assert.equal(svc.created_at, NOW);
  assert.deepEqual(data.routes.map((r) => r.service.id), [svc.id, svc.id, svc.id]);
  const nested = data.routes.find((r) => r.name === 'nested')!;
  const byName = data.routes.find((r) => r.name === 'by-name')!;
  const scopes = new Set(data.plugins.map((p) => JSON.stringify([p.config.status_code, p.route?.id ?? null, p.service?.id ?? null, p.consumer?.id ?? null])));
  const expected = [
    [401, byName.id, null, null],
    [418, nested.id, null, null],
    [500, null, null, null],
    [503, null, svc.id, null],
    [503, null, null, data.consumers[0].id],
  ];
  assert.deepEqual(scopes, new Set(expected.map((e) => JSON.stringify(e))));
  assert.equal(data.plugins.find((p) => p.config.status_code === 418)!.id, entityId('plugins', `plugins:request-termination:${nested.id}::`), "Kong's plugin cache key");
  assert.equal(data.keyauth_credentials[0].consumer.id, data.consumers[0].id);
  const unnamed = (d: typeof data) => d.routes.find((r) => r.paths[0] === '/unnamed')!.id;
  const doc = { _format_version: '3.0', services: [{ name: 's', host: 'h' }], routes: [{ paths: ['/unnamed'], service: 's' }] };
  assert.equal(unnamed(ok(doc)), unnamed(ok(structuredClone(doc))), 'an unnamed entity gets a stable, content-derived id (Kong: random)');
  const twice = ok({ _format_version: '3.0', routes: [{ paths: ['/same'] }, { paths: ['/same'] }] });
  assert.notEqual(twice.routes[0].id, twice.routes[1].id, 'identical unnamed entities still get distinct ids');
});

test('every error at once, each at its path, in Kong\'s shapes', () => {
  const r = flattenConfig({
    _format_version: 3,
    colour: 'red',
    upstreams: [{ name: 'u' }],
    services: [{ name: 'a', host: 'h', port: 'eighty', routes: [{ name: 'r1', paths: ['/ok'] }, { name: 'r2', paths: [1], bogus: true }] }, 'not a record'],
    routes: { not: 'a list' },
    consumers: [{ custom_id: 'c', keyauth_credentials: [{}] }],
    plugins: [{ name: 'request-termination', route: 'nowhere' }],
  });
  assert.ok(r.errors);
  const f = r.errors.fields as any;
  assert.equal(f._format_version, 'expected a string (write it quoted: "3.0")');
  assert.equal(f.colour, 'unknown field');
  assert.equal(f.upstreams, "modelgate does not support 'upstreams' entities");
  assert.equal(f.services[0].port, 'expected an integer');
  assert.equal(f.services[0].routes[0], null);
  assert.deepEqual(f.services[0].routes[1].paths, ['expected a string']);
  assert.equal(f.services[0].routes[1].bogus, 'unknown field');
  assert.equal(f.services[1], 'expected a record');
  assert.equal(f.routes, 'expected an array');
  assert.match(f.consumers[0].keyauth_credentials[0].key, /^required field missing/);
  assert.deepEqual(f.plugins[0]['@entity'], ["invalid reference 'route: nowhere' (no such entry in 'routes')"]);
  const paths = r.errors.issues.map((i) => i.path);
  for (const p of ['_format_version', 'colour', 'upstreams', 'services[0].port', 'services[0].routes[1].paths[0]', 'services[0].routes[1].bogus', 'services[1]', 'routes', 'consumers[0].keyauth_credentials[0].key', 'plugins[0]']) {
    assert.ok(paths.includes(p), `${p} in ${paths.join(', ')}`);
  }
  const flat = r.errors.flattened.find((e) => e.entity_name === 'r2')!;
  assert.equal(flat.entity_type, 'route');
  assert.deepEqual(flat.entity, { name: 'r2', paths: [1], bogus: true });
  assert.deepEqual(flat.errors.find((e) => e.field === 'paths.1'), { type: 'field', field: 'paths.1', message: 'expected a string', path: 'services[0].routes[1].paths[0]' });
  const body = declarativeError(r.errors);
  assert.equal(body.status, 400);
  assert.equal(body.body.code, 14);
  assert.match(String(body.body.message), /^declarative config is invalid: \{_format_version="expected a string/);
  assert.equal(luaCompact({ a: [null, { b: 'x' }], '@entity': ['m'] }), '{["@entity"]={"m"},a={[2]={b="x"}}}');
});

test('format version, uniqueness across the file, and syntax errors', () => {
  assert.match(String((flattenConfig({}).errors!.fields as any)._format_version), /required field missing/);
  assert.match(String((flattenConfig({ _format_version: '2.1' }).errors!.fields as any)._format_version), /not supported; modelgate reads "3.0"/);
  const dup = flattenConfig({
    _format_version: '3.0',
    services: [{ name: 's', host: 'h', routes: [{ name: 'r', paths: ['/a'], plugins: [{ name: 'request-termination' }, { name: 'request-termination' }] }] }],
    routes: [{ name: 'r', paths: ['/b'], service: 's' }],
    consumers: [{ username: 'u', custom_id: 'same' }, { username: 'v', custom_id: 'same' }],
  });
  const messages = dup.errors!.issues.map((i) => `${i.path}: ${i.message}`);
  assert.ok(messages.some((m) => /^routes\[0\]: uniqueness violation: 'routes' entity with primary key set to/.test(m)), messages.join('\n'));
  assert.ok(messages.some((m) => /plugins\[1\]: uniqueness violation/.test(m)), messages.join('\n'));
  assert.ok(messages.some((m) => m === "consumers[1]: uniqueness violation: 'consumers' entity with custom_id set to 'same' already declared"), messages.join('\n'));
  const syntax = loadDeclarativeText('services:\n  - name: a\n  name: b\n');
  assert.equal(syntax.errors!.issues.length, 1);
  assert.match(syntax.errors!.issues[0].message, /line \d+/);
  assert.match(loadDeclarativeText('a: 1\na: 2\n').errors!.issues[0].message, /unique/i);
  assert.equal(loadDeclarativeText('').errors!.issues[0].message, 'the file is empty');
  assert.ok(loadDeclarativeText('{"_format_version":"3.0"}').data, 'JSON is read too');
});

test("the guide's YAML: misplaced model options are moved with a warning; the Admin API would refuse them", () => {
  const routes = guideYamlRoutes();
  assert.equal(routes.length, 6);
  const doc = { _format_version: '3.0', services: [{ name: 'ai-proxy', url: 'http://localhost:32000', routes }] };
  const r = flattenConfig(doc);
  // the guide's own Anthropic values are refused, as Kong refuses them
  assert.deepEqual(r.errors!.issues.map((i) => i.path).sort(), ['services[0].routes[3].plugins[0].config.model.options.top_k', 'services[0].routes[3].plugins[0].config.model.options.top_p']);
  routes[3].plugins[0].config.model.options.top_p = 1;
  routes[3].plugins[0].config.model.options.top_k = 250;
  const fixed = flattenConfig(doc);
  assert.equal(fixed.errors, undefined, JSON.stringify(fixed.errors?.issues));
  assert.deepEqual(fixed.warnings, [
    'services[0].routes[4].plugins[0]: config.model.llama2_format belongs in config.model.options.llama2_format; moved it there',
    'services[0].routes[4].plugins[0]: config.model.upstream_url belongs in config.model.options.upstream_url; moved it there',
    'services[0].routes[5].plugins[0]: config.model.mistral_format belongs in config.model.options.mistral_format; moved it there',
    'services[0].routes[5].plugins[0]: config.model.upstream_url belongs in config.model.options.upstream_url; moved it there',
  ]);
  const llama = fixed.data!.plugins.find((p) => p.config.model.provider === 'llama2')!;
  assert.equal(llama.config.model.options.llama2_format, 'ollama');
  assert.equal(llama.config.model.options.upstream_url, 'http://llama2-server.local:11434/v1/chat');
  assert.equal(routes[4].plugins[0].config.model.llama2_format, 'ollama', 'the input is not modified');
});

test('an export loads back to the same entities', () => {
  const data = ok({
    _format_version: '3.0',
    services: [{ name: 'svc', host: 'h', tags: ['t'], routes: [{ name: 'r', paths: ['/r'], plugins: [{ name: 'request-termination', config: { status_code: 418 } }] }], plugins: [{ name: 'request-termination' }] }],
    routes: [{ name: 'loose', paths: ['/l'] }],
    consumers: [{ username: 'alice', keyauth_credentials: [{ key: 'k1' }] }],
    plugins: [{ name: 'request-termination', route: 'loose', consumer: 'alice' }, { name: 'request-termination', config: { status_code: 404 } }],
  });
  const doc = exportConfig(data);
  const reloaded = ok(YAML.parse(YAML.stringify(doc)));
  const byId = (d: typeof data) => Object.fromEntries(Object.entries(d).map(([e, rows]) => [e, [...rows].sort((x, y) => x.id.localeCompare(y.id))]));
  assert.deepEqual(byId(reloaded), byId(data), 'same ids, same fields (the export nests differently, so the order may differ)');
});

test('the in-memory store pages, filters and looks up like the databases', async () => {
  const store = new MemoryStore();
  const data = ok({
    _format_version: '3.0',
    services: [{ name: 'a', host: 'h', tags: ['x', 'y'], routes: [{ name: 'ra', paths: ['/a'] }] }, { name: 'b', host: 'h', tags: ['y'] }, { name: 'c', host: 'h' }],
  });
  const v = await store.version();
  await store.replaceAll(data);
  assert.equal(await store.version(), v + 1);
  const ids = data.services.map((s) => s.id).sort();
  assert.deepEqual((await store.page('services', { size: 2 })).map((s) => s.id), ids.slice(0, 2));
  assert.deepEqual((await store.page('services', { size: 2, after: ids[1] })).map((s) => s.id), ids.slice(2));
  assert.equal((await store.page('services', { size: 10, tags: ['x', 'y'] })).length, 1);
  assert.equal((await store.page('services', { size: 10, tags: ['x', 'y'], tagsMode: 'or' })).length, 2);
  const a = (await store.findBy('services', 'name', 'a'))!;
  assert.equal((await store.page('routes', { size: 10, where: { column: 'service_id', value: a.id } })).length, 1);
  assert.equal(await store.count('routes', { column: 'service_id', value: a.id }), 1);
  assert.equal((await store.get('services', a.id))?.name, 'a');
  await assert.rejects(store.write(), /POST \/config/);
});
