import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateEntity } from '../../src/entities/index.ts';
import { schemaViolationMessage } from '../../src/entities/errors.ts';
import { validateRecord, mergeRecord } from '../../src/schema/validate.ts';
import { serviceSchema } from '../../src/entities/services.ts';

const plugin = (config: Record<string, unknown>) => validateEntity('plugins', { name: 'ai-proxy', config });

test('ai-proxy defaults are filled in when the config is written', () => {
  const r = plugin({ route_type: 'llm/v1/chat', auth: { header_name: 'Authorization', header_value: 'Bearer k' }, model: { provider: 'openai', name: 'gpt-4', options: {} } });
  assert.equal(r.errors, undefined);
  const c = r.value.config as any;
  assert.equal(c.model.options.max_tokens, 256);
  assert.equal(c.model.options.temperature, 1);
  assert.equal(c.model.options.azure_api_version, '2023-05-15');
  assert.equal(c.logging.log_payloads, false);
  assert.equal(c.response_streaming, 'allow');
  assert.equal(c.auth.allow_override, false);
  assert.deepEqual(r.value.protocols, ['grpc', 'grpcs', 'http', 'https']);
  assert.equal(r.value.enabled, true);
});

test("ai-proxy entity checks give Kong's messages in Kong's order", () => {
  const noAuth = plugin({ route_type: 'llm/v1/chat', model: { provider: 'openai', name: 'gpt-4' } });
  assert.deepEqual((noAuth.errors as any).config['@entity'], [
    "must set one of 'auth.header_name', 'auth.param_name', and its respective options, when provider is not self-hosted",
  ]);
  const halfAuth = plugin({ route_type: 'llm/v1/chat', auth: { header_name: 'x' }, model: { provider: 'openai', name: 'gpt-4' } });
  assert.deepEqual((halfAuth.errors as any).config['@entity'], ["all or none of these fields must be set: 'auth.header_name', 'auth.header_value'"]);
  const llama = plugin({ route_type: 'llm/v1/chat', model: { provider: 'llama2', name: 'llama2' } });
  assert.deepEqual((llama.errors as any).config['@entity'], [
    "must set 'model.options.llama2_format' for llama2 provider",
    "must set 'model.options.upstream_url' for self-hosted providers/models",
  ]);
  const mistral = plugin({ route_type: 'llm/v1/chat', model: { provider: 'mistral', name: 'm', options: { mistral_format: 'ollama' } } });
  assert.deepEqual((mistral.errors as any).config['@entity'], ["must set 'model.options.upstream_url' for self-hosted providers/models"]);
  const selfHosted = plugin({ route_type: 'llm/v1/chat', model: { provider: 'llama2', name: 'llama2', options: { llama2_format: 'raw', upstream_url: 'http://localhost:1/x' } } });
  assert.equal(selfHosted.errors, undefined, 'self-hosted needs no auth');
});

test('azure needs its instance and deployment, unless upstream_url says where requests go', () => {
  const auth = { header_name: 'api-key', header_value: 'k' };
  const bare = plugin({ route_type: 'llm/v1/chat', auth, model: { provider: 'azure', name: 'gpt-4' } });
  assert.deepEqual((bare.errors as any).config['@entity'], [
    "must set 'model.options.azure_instance' for azure provider",
    "must set 'model.options.azure_deployment_id' for azure provider",
  ]);
  const fronted = plugin({ route_type: 'llm/v1/chat', auth, model: { provider: 'azure', name: 'gpt-4', options: { upstream_url: 'https://apim.example.com/openai/deployments/gpt-4/chat/completions' } } });
  assert.equal(fronted.errors, undefined);
});

test('field errors nest like the config and the message renders like Kong', () => {
  const r = plugin({ route_type: 'llm/v1/chat', auth: { header_name: 'a', header_value: 'b' }, model: { provider: 'anthropic', name: 'c', options: { top_p: 256, top_k: 0.5 } } });
  assert.deepEqual((r.errors as any).config.model.options, { top_p: 'value should be between 0 and 1', top_k: 'expected an integer' });
  const msg = schemaViolationMessage(r.errors!);
  assert.match(msg, /^schema violation \(config\.model: \{/);
  const two = validateRecord(serviceSchema.fields, serviceSchema.entity_checks, { host: 'x', port: 70000, retries: -1 });
  assert.equal(schemaViolationMessage(two.errors!), '2 schema violations (port: value should be between 0 and 65535; retries: value should be between 0 and 32767)');
});

test('unknown fields, wrong types, __proto__ keys are reported, never applied', () => {
  const input = JSON.parse('{"host":"x","__proto__":{"polluted":true},"port":"80"}');
  const r = validateRecord(serviceSchema.fields, serviceSchema.entity_checks, input);
  assert.equal((r.errors as any).port, 'expected an integer');
  assert.equal(Object.prototype.hasOwnProperty.call(r.errors, '__proto__'), true);
  assert.equal(({} as any).polluted, undefined);
});

test('PATCH merges records and replaces everything else', () => {
  const base = { config: { model: { provider: 'openai', name: 'a', options: { max_tokens: 1 } } }, tags: ['x'] };
  const fields = { config: { type: 'record' as const, fields: { model: { type: 'record' as const, fields: { provider: { type: 'string' as const }, name: { type: 'string' as const }, options: { type: 'record' as const, fields: {} } } } } }, tags: { type: 'set' as const } };
  const merged = mergeRecord(fields, base, { config: { model: { name: 'b' } }, tags: ['y'] }) as any;
  assert.equal(merged.config.model.provider, 'openai');
  assert.equal(merged.config.model.name, 'b');
  assert.deepEqual(merged.tags, ['y']);
});

test('service url shorthand expands to protocol, host, port and path', () => {
  const r = validateEntity('services', { name: 's', url: 'https://api.example.com:8443/v1' });
  assert.equal(r.errors, undefined);
  assert.equal(r.value.protocol, 'https');
  assert.equal(r.value.host, 'api.example.com');
  assert.equal(r.value.port, 8443);
  assert.equal(r.value.path, '/v1');
  const plain = validateEntity('services', { url: 'http://localhost:32000' });
  assert.equal(plain.value.port, 32000);
  assert.equal(plain.value.path, null);
});

test('route paths are validated as Kong does', () => {
  const bad = validateEntity('routes', { paths: ['/a//b', 'nope', '~/(unclosed', '/a/../b'] });
  const errs = (bad.errors as any).paths;
  assert.equal(errs[0], 'must not have empty segments');
  assert.equal(errs[1], 'should start with: / (fixed path) or ~/ (regex path)');
  assert.match(errs[2], /^invalid regex/);
  assert.match(errs[3], /^non-normalized path/);
  const none = validateEntity('routes', { name: 'r' });
  assert.deepEqual((none.errors as any)['@entity'], ["must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'https'"]);
});
