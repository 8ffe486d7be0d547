/**
 * The ai-proxy schema's provider half for issue 10: the new provider names, `llm/v1/embeddings`,
 * Kong 3.8's gemini/bedrock auth and options, 3.9's huggingface options, and their entity checks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateEntity } from '../../src/entities/index.ts';
import { authField, modelOptionsField, ROUTE_TYPES } from '../../src/plugins/ai-proxy/schema.ts';
import { PROVIDERS } from '../../src/llm/types.ts';

const plugin = (config: Record<string, unknown>) => validateEntity('plugins', { name: 'ai-proxy', config });
const entityErrors = (config: Record<string, unknown>) => (plugin(config).errors as any)?.config?.['@entity'];
const key = { header_name: 'Authorization', header_value: 'Bearer k' };

test('every provider name and the embeddings and responses route types are accepted', () => {
  assert.deepEqual([...ROUTE_TYPES], ['llm/v1/chat', 'llm/v1/completions', 'llm/v1/embeddings', 'llm/v1/responses', 'preserve']);
  for (const provider of PROVIDERS) {
    const options: Record<string, unknown> = { upstream_url: 'http://localhost:1/v1' };
    if (provider === 'llama2') options.llama2_format = 'openai';
    if (provider === 'mistral') options.mistral_format = 'openai';
    if (provider === 'azure') Object.assign(options, { azure_instance: 'i', azure_deployment_id: 'd' });
    const r = plugin({ route_type: 'llm/v1/chat', auth: key, model: { provider, name: 'm', options } });
    assert.equal(r.errors, undefined, `${provider}: ${JSON.stringify(r.errors)}`);
  }
});

test('the hosted OpenAI-compatible APIs need a key; the self-hosted ones an upstream_url', () => {
  for (const provider of ['groq', 'together', 'deepseek', 'fireworks', 'openrouter']) {
    assert.deepEqual(entityErrors({ route_type: 'llm/v1/chat', model: { provider, name: 'm' } }), [
      "must set one of 'auth.header_name', 'auth.param_name', and its respective options, when provider is not self-hosted",
    ]);
  }
  for (const provider of ['vllm', 'lmstudio', 'llamacpp']) {
    assert.deepEqual(entityErrors({ route_type: 'llm/v1/chat', model: { provider, name: 'm' } }), ["must set 'model.options.upstream_url' for self-hosted providers/models"]);
    assert.equal(plugin({ route_type: 'llm/v1/chat', model: { provider, name: 'm', options: { upstream_url: 'http://gpu:8000/v1' } } }).errors, undefined, 'no key needed');
  }
  assert.equal(plugin({ route_type: 'llm/v1/chat', model: { provider: 'huggingface', name: 'm', options: { upstream_url: 'http://tgi:8080' } } }).errors, undefined, 'a TGI needs no key');
});

test("gemini: a key or a service account; Vertex's three options together; no allow_override (Kong 3.8)", () => {
  assert.deepEqual(entityErrors({ route_type: 'llm/v1/chat', model: { provider: 'gemini', name: 'gemini-2.5-flash' } }), [
    "must set one of 'auth.header_name', 'auth.param_name', 'auth.gcp_use_service_account' for the gemini provider",
  ]);
  assert.equal(plugin({ route_type: 'llm/v1/chat', auth: { param_name: 'key', param_value: 'k', param_location: 'query' }, model: { provider: 'gemini', name: 'g' } }).errors, undefined);
  const sa = plugin({
    route_type: 'llm/v1/chat',
    auth: { gcp_use_service_account: true, gcp_service_account_json: '{"client_email":"x"}' },
    model: { provider: 'gemini', name: 'g', options: { gemini: { api_endpoint: 'us-central1-aiplatform.googleapis.com', project_id: 'p', location_id: 'us-central1' } } },
  });
  assert.equal(sa.errors, undefined);
  const partial = plugin({ route_type: 'llm/v1/chat', auth: key, model: { provider: 'gemini', name: 'g', options: { gemini: { api_endpoint: 'x.googleapis.com', project_id: 'p' } } } });
  assert.deepEqual((partial.errors as any).config.model.options.gemini['@entity'], ["all or none of these fields must be set: 'api_endpoint', 'project_id', 'location_id'"]);
  for (const provider of ['gemini', 'bedrock']) {
    assert.deepEqual(entityErrors({ route_type: 'llm/v1/chat', auth: { ...key, allow_override: true }, model: { provider, name: 'm' } }), ['bedrock and gemini only support auth.allow_override = false']);
  }
});

test('bedrock: AWS keys come in pairs; region and credentials may come from the environment', () => {
  assert.equal(plugin({ route_type: 'llm/v1/chat', model: { provider: 'bedrock', name: 'amazon.nova-lite-v1:0' } }).errors, undefined);
  const half = entityErrors({ route_type: 'llm/v1/chat', auth: { aws_access_key_id: 'AKID' }, model: { provider: 'bedrock', name: 'm', options: { bedrock: { aws_region: 'us-east-1' } } } });
  assert.deepEqual(half, ["all or none of these fields must be set: 'auth.aws_access_key_id', 'auth.aws_secret_access_key'"]);
});

test('huggingface options are booleans; embeddings only where the provider has an API', () => {
  const hf = plugin({ route_type: 'llm/v1/completions', auth: key, model: { provider: 'huggingface', name: 'm', options: { huggingface: { use_cache: 'no' } } } });
  assert.equal((hf.errors as any).config.model.options.huggingface.use_cache, 'expected a boolean');
  assert.equal(plugin({ route_type: 'llm/v1/embeddings', auth: key, model: { provider: 'openai', name: 'text-embedding-3-small' } }).errors, undefined);
  assert.equal(plugin({ route_type: 'llm/v1/embeddings', auth: key, model: { provider: 'cohere', name: 'embed-english-v3.0' } }).errors, undefined);
  assert.deepEqual(entityErrors({ route_type: 'llm/v1/embeddings', auth: key, model: { provider: 'anthropic', name: 'm' } }), ['anthropic does not support route_type llm/v1/embeddings']);
  assert.deepEqual(entityErrors({ route_type: 'llm/v1/embeddings', model: { provider: 'llama2', name: 'm', options: { llama2_format: 'raw', upstream_url: 'http://t/' } } }), [
    'llama2 (raw format) does not support route_type llm/v1/embeddings',
  ]);
});

test('the new secrets are referenceable and encrypted (redacted from logs); defaults are Kong 3.8s', () => {
  for (const field of ['gcp_service_account_json', 'aws_access_key_id', 'aws_secret_access_key', 'header_value', 'param_value']) {
    assert.equal(authField.fields![field].referenceable, true, field);
    assert.equal(authField.fields![field].encrypted, true, field);
  }
  const r = plugin({ route_type: 'llm/v1/chat', auth: key, model: { provider: 'openai', name: 'gpt-4o' } });
  assert.equal((r.value.config as any).auth.gcp_use_service_account, false);
  assert.deepEqual(Object.keys(modelOptionsField.fields!).filter((k) => ['gemini', 'bedrock', 'huggingface'].includes(k)), ['gemini', 'bedrock', 'huggingface']);
});

test("llm_format: openai by default, anthropic on chat routes only (Kong's Claude Code setup), nothing else", () => {
  const base = { auth: { header_name: 'x-api-key', header_value: 'k' }, model: { provider: 'anthropic', name: 'claude-sonnet-4-5' } };
  const ok = plugin({ ...base, route_type: 'llm/v1/chat', llm_format: 'anthropic' });
  assert.equal(ok.errors, undefined, JSON.stringify(ok.errors));
  assert.equal((plugin({ ...base, route_type: 'llm/v1/chat' }).value as any).config.llm_format, 'openai');
  assert.deepEqual(entityErrors({ ...base, route_type: 'llm/v1/responses', llm_format: 'anthropic' }), ["llm_format 'anthropic' needs route_type 'llm/v1/chat' (Anthropic's Messages API is a chat API)"]);
  assert.ok((plugin({ ...base, route_type: 'llm/v1/chat', llm_format: 'gemini' }).errors as any)?.config?.llm_format);
});
