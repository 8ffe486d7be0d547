/**
 * The `llm/v1/embeddings` route type: validation with Kong's detection messages, each provider's
 * endpoint and body, OpenAI's answer (float or base64), usage completion, and the safety property
 * (any answer translates or is a TranslationError).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { getDriver } from '../../src/llm/drivers/index.ts';
import { base64Embedding, completeEmbeddingsUsage, embeddingsInputText, validateEmbeddingsRequest } from '../../src/llm/embeddings.ts';
import { PROVIDERS, RequestError, TranslationError, type EmbeddingsContext, type ModelOptions, type ProviderName } from '../../src/llm/types.ts';
import { NO_OPTIONS } from '../conformance/support.ts';

type Json = Record<string, any>;

function ctx(provider: ProviderName, options: Partial<ModelOptions> = {}, model = 'embed-model'): EmbeddingsContext {
  return { provider, routeType: 'llm/v1/embeddings', model, options: { ...NO_OPTIONS, ...options }, now: 1_700_000_000 };
}

const requestError = (pattern: RegExp) => (e: unknown) => e instanceof RequestError && pattern.test(e.message);

describe('validateEmbeddingsRequest', () => {
  it("uses Kong's detection messages for bodies of another route type", () => {
    assert.throws(() => validateEmbeddingsRequest({ messages: [{ role: 'user', content: 'x' }] }), requestError(/^\[llm\/v1\/chat\] message format is not compatible with \[llm\/v1\/embeddings\] route type$/));
    assert.throws(() => validateEmbeddingsRequest({ prompt: 'x' }), requestError(/^\[llm\/v1\/completions\] message format is not compatible with \[llm\/v1\/embeddings\] route type$/));
    assert.throws(() => validateEmbeddingsRequest({}), requestError(/^request format not recognised$/));
    assert.throws(() => validateEmbeddingsRequest([]), requestError(/^request format not recognised$/));
  });

  it("accepts OpenAI's four input forms and checks every field", () => {
    for (const input of ['text', ['a', 'b'], [1, 2, 3], [[1, 2], [3]]]) assert.deepEqual(validateEmbeddingsRequest({ input }).input, input);
    const cases: [unknown, RegExp][] = [
      [{ input: '' }, /^input: expected a non-empty string$/],
      [{ input: [] }, /^input: expected a string, an array of strings/],
      [{ input: ['a', ''] }, /^input\[1\]: expected a non-empty string$/],
      [{ input: ['a', 3] }, /^input\[1\]: expected a string or an array of token ids$/],
      [{ input: [[1], 'a'] }, /^input: expected either strings or token arrays, not both$/],
      [{ input: [[1.5]] }, /^input\[0\]/],
      [{ input: [-1] }, /^input\[0\]/],
      [{ input: Array.from({ length: 2049 }, () => 'x') }, /^input: at most 2048 inputs/],
      [{ input: 'x', model: 3 }, /^model: expected a string$/],
      [{ input: 'x', encoding_format: 'int8' }, /^encoding_format: expected 'float' or 'base64'$/],
      [{ input: 'x', dimensions: 0 }, /^dimensions: expected an integer of at least 1$/],
      [{ input: 'x', dimensions: 1.5 }, /^dimensions:/],
      [{ input: 'x', user: 1 }, /^user: expected a string$/],
    ];
    for (const [body, message] of cases) assert.throws(() => validateEmbeddingsRequest(body), requestError(message), JSON.stringify(body).slice(0, 60));
    const kept = validateEmbeddingsRequest({ input: 'x', input_type: 'search_query', model: null, encoding_format: null });
    assert.equal(kept.input_type, 'search_query');
  });
});

describe('answers', () => {
  it("encodes base64 as OpenAI does: little-endian float32", () => {
    assert.equal(base64Embedding([1, -2, 0.5]), Buffer.from(new Float32Array([1, -2, 0.5]).buffer).toString('base64'));
    assert.equal(base64Embedding([]), '');
  });

  it('passes an OpenAI answer through unchanged, and re-encodes only when it must', () => {
    const body = JSON.stringify({ object: 'list', data: [{ object: 'embedding', index: 0, embedding: [0.5, 0.25] }], model: 'text-embedding-3-small', usage: { prompt_tokens: 2, total_tokens: 2 } });
    const openai = getDriver('openai').embeddings!;
    const translated = openai.parseResponse(body, validateEmbeddingsRequest({ input: 'hi' }), ctx('openai'));
    assert.equal(translated.body, body);
    assert.deepEqual(translated.usage, { prompt_tokens: 2, completion_tokens: 0, total_tokens: 2 });
    assert.equal(translated.responseModel, 'text-embedding-3-small');
    // LM Studio cannot encode base64: floats are asked for and encoded here.
    const lmstudio = getDriver('lmstudio').embeddings!;
    const request = validateEmbeddingsRequest({ input: 'hi', encoding_format: 'base64' });
    assert.equal('encoding_format' in lmstudio.buildRequest(request, ctx('lmstudio', { upstream_url: 'http://l/v1' })), false);
    const encoded = JSON.parse(lmstudio.parseResponse(body, request, ctx('lmstudio')).body);
    assert.equal(encoded.data[0].embedding, base64Embedding([0.5, 0.25]));
    assert.throws(() => openai.parseResponse('{"object":"list"}', request, ctx('openai')), (e: unknown) => e instanceof TranslationError && e.message === "'data' not in llm/v1/embeddings response");
    assert.throws(() => openai.parseResponse('{"data":[{"embedding":["x"]}]}', validateEmbeddingsRequest({ input: 'x' }), ctx('openai')), TranslationError);
  });

  it('fills in estimated usage when the provider counts nothing', () => {
    const request = validateEmbeddingsRequest({ input: ['hello world', 'again'] });
    const gemini = getDriver('gemini').embeddings!;
    const translated = gemini.parseResponse(JSON.stringify({ embeddings: [{ values: [1, 2] }, { values: [3, 4] }] }), request, ctx('gemini', {}, 'text-embedding-004'));
    assert.equal(translated.usage, null);
    assert.equal(JSON.parse(translated.body).usage, null);
    const complete = completeEmbeddingsUsage(translated, request);
    assert.equal(complete.estimated, true);
    assert.ok(complete.usage.prompt_tokens >= 3);
    assert.deepEqual(JSON.parse(complete.body).usage, { prompt_tokens: complete.usage.prompt_tokens, total_tokens: complete.usage.prompt_tokens });
    assert.equal(embeddingsInputText(request), 'hello world\nagain');
    const tokens = completeEmbeddingsUsage({ ...translated }, validateEmbeddingsRequest({ input: [[1, 2, 3], [4]] }));
    assert.equal(tokens.usage.prompt_tokens, 4, 'token arrays count as their length');
    assert.throws(() => gemini.parseResponse(JSON.stringify({ embeddings: [{ values: [1] }] }), request, ctx('gemini')), (e: unknown) => e instanceof TranslationError && /1 embeddings for 2 inputs/.test(e.message));
  });
});

describe('providers', () => {
  const url = (provider: ProviderName, options: Partial<ModelOptions> = {}, model = 'embed-model') => getDriver(provider).embeddings!.endpoint(ctx(provider, options, model)).url;

  it('has an embeddings endpoint for each provider that has an embeddings API', () => {
    assert.equal(url('openai'), 'https://api.openai.com:443/v1/embeddings');
    assert.equal(url('azure', { azure_instance: 'res', azure_deployment_id: 'emb', azure_api_version: '2024-10-21' }), 'https://res.openai.azure.com:443/openai/deployments/emb/embeddings?api-version=2024-10-21');
    assert.equal(url('cohere'), 'https://api.cohere.com:443/v1/embed');
    assert.equal(url('mistral', { mistral_format: 'openai' }), 'https://api.mistral.ai:443/v1/embeddings');
    assert.equal(url('mistral', { mistral_format: 'ollama', upstream_url: 'http://o:11434/api/embed' }), 'http://o:11434/api/embed');
    assert.equal(url('gemini', {}, 'text-embedding-004'), 'https://generativelanguage.googleapis.com:443/v1beta/models/text-embedding-004:batchEmbedContents');
    assert.equal(
      url('gemini', { gemini: { api_endpoint: 'europe-west4-aiplatform.googleapis.com', project_id: 'p', location_id: 'europe-west4' } }, 'text-embedding-005'),
      'https://europe-west4-aiplatform.googleapis.com:443/v1/projects/p/locations/europe-west4/publishers/google/models/text-embedding-005:predict',
    );
    assert.equal(url('huggingface', {}, 'BAAI/bge-small-en-v1.5'), 'https://router.huggingface.co:443/hf-inference/models/BAAI/bge-small-en-v1.5/pipeline/feature-extraction');
    assert.equal(url('huggingface', { upstream_url: 'http://tei:8080/embed' }), 'http://tei:8080/embed');
    assert.equal(url('together'), 'https://api.together.xyz:443/v1/embeddings');
    assert.equal(url('vllm', { upstream_url: 'http://v:8000' }), 'http://v:8000/v1/embeddings');
    const without = PROVIDERS.filter((p) => !getDriver(p).embeddings);
    assert.deepEqual(without, ['anthropic', 'bedrock', 'groq', 'deepseek', 'openrouter']);
    assert.throws(() => url('llama2', { llama2_format: 'raw', upstream_url: 'http://t/' }), requestError(/the 'raw' format has no embeddings/));
  });

  it("builds each provider's body", () => {
    const build = (provider: ProviderName, body: unknown, options: Partial<ModelOptions> = {}, model = 'm'): Json => getDriver(provider).embeddings!.buildRequest(validateEmbeddingsRequest(body), ctx(provider, options, model));
    assert.deepEqual(build('openai', { input: ['a'], model: 'client-model', dimensions: 256, encoding_format: 'base64', user: 'u', extra: 1 }), { input: ['a'], model: 'm', dimensions: 256, encoding_format: 'base64', user: 'u' });
    assert.deepEqual(build('cohere', { input: 'a', input_type: 'search_query', truncate: 'END' }), { texts: ['a'], model: 'm', input_type: 'search_query', embedding_types: ['float'], truncate: 'END' });
    assert.deepEqual(build('cohere', { input: ['a', 'b'] }).input_type, 'search_document');
    assert.throws(() => build('cohere', { input: 'a', dimensions: 8 }), requestError(/^dimensions: not supported by the cohere provider$/));
    assert.deepEqual(build('mistral', { input: 'a', dimensions: 8, user: 'u', encoding_format: 'base64' }, { mistral_format: 'openai' }), { input: 'a', model: 'm', output_dimension: 8 });
    assert.deepEqual(build('llama2', { input: ['a'], dimensions: 4, keep_alive: '5m' }, { llama2_format: 'ollama', upstream_url: 'http://o/api/embed' }), { model: 'm', input: ['a'], keep_alive: '5m', dimensions: 4 });
    assert.deepEqual(build('gemini', { input: ['a', 'b'], dimensions: 64, task_type: 'RETRIEVAL_QUERY' }, {}, 'models/text-embedding-004'), {
      requests: [
        { model: 'models/text-embedding-004', content: { parts: [{ text: 'a' }] }, taskType: 'RETRIEVAL_QUERY', outputDimensionality: 64 },
        { model: 'models/text-embedding-004', content: { parts: [{ text: 'b' }] }, taskType: 'RETRIEVAL_QUERY', outputDimensionality: 64 },
      ],
    });
    const vertex = { gemini: { api_endpoint: 'us-central1-aiplatform.googleapis.com', project_id: 'p', location_id: 'us-central1' } };
    assert.deepEqual(build('gemini', { input: 'a', dimensions: 64 }, vertex), { instances: [{ content: 'a' }], parameters: { outputDimensionality: 64 } });
    assert.deepEqual(build('huggingface', { input: ['a'], normalize: true }), { inputs: ['a'], normalize: true });
    assert.throws(() => build('together', { input: [[1, 2]] }), requestError(/token arrays are not supported by the together provider/));
    assert.throws(() => build('fireworks', { input: 'x', dimensions: 0 }), requestError(/^dimensions/));
    assert.throws(() => build('lmstudio', { input: 'x', dimensions: 2 }, { upstream_url: 'http://l/v1' }), requestError(/^dimensions: not supported by the lmstudio provider$/));
  });

  it('reads each provider answer (Cohere by type or as floats, Vertex counting tokens, Ollama prompt_eval_count)', () => {
    const request = validateEmbeddingsRequest({ input: ['a', 'b'] });
    const answer = (provider: ProviderName, body: unknown, options: Partial<ModelOptions> = {}): Json => {
      const t = getDriver(provider).embeddings!.parseResponse(JSON.stringify(body), request, ctx(provider, options));
      return { ...JSON.parse(t.body), reported: t.usage };
    };
    const vectors = [[0.1, 0.2], [0.3, 0.4]];
    const cohere = answer('cohere', { id: 'x', embeddings: { float: vectors }, meta: { billed_units: { input_tokens: 2 } } });
    assert.deepEqual(cohere.data.map((d: Json) => d.embedding), vectors);
    assert.deepEqual(cohere.usage, { prompt_tokens: 2, total_tokens: 2 });
    assert.deepEqual(answer('cohere', { embeddings: vectors }).data[1].embedding, vectors[1]);
    const vertex = { gemini: { api_endpoint: 'x.googleapis.com', project_id: 'p', location_id: 'l' } };
    const predicted = answer('gemini', { predictions: vectors.map((values) => ({ embeddings: { values, statistics: { token_count: 3 } } })) }, vertex);
    assert.deepEqual(predicted.usage, { prompt_tokens: 6, total_tokens: 6 });
    const ollama = answer('mistral', { model: 'nomic-embed-text', embeddings: vectors, prompt_eval_count: 4 }, { mistral_format: 'ollama', upstream_url: 'http://o/api/embed' });
    assert.deepEqual([ollama.model, ollama.usage], ['nomic-embed-text', { prompt_tokens: 4, total_tokens: 4 }]);
    assert.deepEqual(answer('huggingface', vectors).data.map((d: Json) => d.index), [0, 1]);
    assert.throws(() => answer('huggingface', [[[0.1]], [[0.2]]]), (e: unknown) => e instanceof TranslationError && /not an array of numbers/.test(e.message));
    assert.throws(() => answer('mistral', { error: 'model not found' }, { mistral_format: 'ollama', upstream_url: 'http://o/' }), (e: unknown) => e instanceof TranslationError && e.message === 'ollama error: model not found');
  });

  it('answers or throws a TranslationError for any provider answer (T50)', () => {
    const configs: [ProviderName, Partial<ModelOptions>][] = [
      ['openai', {}], ['azure', { azure_instance: 'i', azure_deployment_id: 'd' }], ['cohere', {}], ['mistral', { mistral_format: 'openai' }],
      ['mistral', { mistral_format: 'ollama', upstream_url: 'http://o/' }], ['gemini', {}], ['gemini', { upstream_url: 'http://g/x:predict' }],
      ['huggingface', {}], ['together', {}], ['lmstudio', { upstream_url: 'http://l/' }],
    ];
    const answerLike = fc.oneof(
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.string(),
      fc.record({ data: fc.array(fc.record({ embedding: fc.oneof(fc.jsonValue(), fc.array(fc.double())) }, { requiredKeys: [] })), usage: fc.jsonValue(), model: fc.jsonValue() }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
      fc.record({ embeddings: fc.oneof(fc.jsonValue(), fc.array(fc.array(fc.double()))), predictions: fc.jsonValue(), meta: fc.jsonValue(), prompt_eval_count: fc.jsonValue() }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
    );
    const input = fc.oneof(fc.string({ minLength: 1 }), fc.array(fc.string({ minLength: 1 }), { minLength: 1, maxLength: 3 }));
    fc.assert(
      fc.property(fc.constantFrom(...configs), answerLike, input, fc.constantFrom('float', 'base64'), ([provider, options], body, text, encoding) => {
        const request = validateEmbeddingsRequest({ input: text, encoding_format: encoding });
        try {
          const translated = getDriver(provider).embeddings!.parseResponse(body, request, ctx(provider, options));
          JSON.parse(translated.body);
        } catch (e) {
          if (!(e instanceof TranslationError)) throw e;
          assert.doesNotMatch(e.message, /^could not translate/);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
