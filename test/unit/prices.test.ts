import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BUNDLED_PRICES, configuredPricesFile, loadPriceTable, priceOf, PricesError, readPriceFile, resetPrices, validatePrices } from '../../src/spend/prices.ts';
import { loadSettings, SettingsError } from '../../src/settings.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prices-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
function file(name: string, content: unknown): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, typeof content === 'string' ? content : JSON.stringify(content));
  return f;
}

describe('priceOf: the bundled table', () => {
  it('finds exact names', () => {
    assert.deepEqual(priceOf('openai', 'gpt-4o'), { input: 2.5, cached_input: 1.25, output: 10 });
    assert.equal(priceOf('anthropic', 'claude-sonnet-4-5')?.cache_write, 3.75);
    assert.equal(priceOf('deepseek', 'deepseek-reasoner')?.cached_input, 0.14);
    assert.equal(priceOf('openai', 'text-embedding-3-small')?.kind, 'embeddings');
  });

  it('maps dated snapshots through patterns, most specific first', () => {
    assert.equal(priceOf('openai', 'gpt-4o-2024-08-06'), priceOf('openai', 'gpt-4o'));
    assert.equal(priceOf('openai', 'gpt-4o-mini-2024-07-18'), priceOf('openai', 'gpt-4o-mini'));
    assert.equal(priceOf('openai', 'gpt-5-2025-08-07'), priceOf('openai', 'gpt-5'));
    assert.equal(priceOf('openai', 'gpt-5-mini-2025-08-07'), priceOf('openai', 'gpt-5-mini'));
    // gpt-4-0125-preview is a GPT-4 Turbo snapshot: the longer pattern wins over gpt-4's
    assert.equal(priceOf('openai', 'gpt-4-0125-preview'), priceOf('openai', 'gpt-4-turbo'));
    assert.equal(priceOf('anthropic', 'claude-sonnet-4-5-20250929'), priceOf('anthropic', 'claude-sonnet-4-5'));
    assert.equal(priceOf('anthropic', 'claude-3-5-haiku-latest')?.input, 0.8);
    assert.equal(priceOf('anthropic', 'claude-sonnet-4-20250514'), priceOf('anthropic', 'claude-sonnet-4-0'));
  });

  it('prices Bedrock ids: regional and in-Region profiles at +10% from Claude 4.5, the global profile at list price', () => {
    const regional = priceOf('bedrock', 'us.anthropic.claude-sonnet-4-5-20250929-v1:0');
    assert.deepEqual(regional, { input: 3.3, cached_input: 0.33, cache_write: 4.125, output: 16.5 });
    assert.equal(priceOf('bedrock', 'anthropic.claude-sonnet-4-5-20250929-v1:0'), regional);
    assert.equal(priceOf('bedrock', 'eu.anthropic.claude-sonnet-4-5-20250929-v1:0'), regional);
    assert.deepEqual(priceOf('bedrock', 'global.anthropic.claude-sonnet-4-5-20250929-v1:0'), { input: 3, cached_input: 0.3, cache_write: 3.75, output: 15 });
    assert.equal(priceOf('bedrock', 'us.anthropic.claude-sonnet-4-20250514-v1:0')?.input, 3);
    assert.equal(priceOf('bedrock', 'anthropic.claude-3-haiku-20240307-v1:0')?.output, 1.25);
    assert.equal(priceOf('bedrock', 'us.amazon.nova-pro-v1:0')?.cached_input, 0.2);
  });

  it('strips provider prefixes (Gemini models/, Vertex publishers/google/models/)', () => {
    assert.equal(priceOf('gemini', 'models/gemini-2.5-pro'), priceOf('gemini', 'gemini-2.5-pro'));
    assert.equal(priceOf('gemini', 'publishers/google/models/gemini-2.5-flash'), priceOf('gemini', 'gemini-2.5-flash'));
    assert.equal(priceOf('gemini', 'gemini-2.0-flash-001'), priceOf('gemini', 'gemini-2.0-flash'));
  });

  it('prices Fireworks serverless models with or without the accounts/fireworks/models/ prefix, cache reads apart', () => {
    assert.deepEqual(priceOf('fireworks', 'accounts/fireworks/models/gpt-oss-120b'), { input: 0.15, cached_input: 0.015, output: 0.6 });
    assert.equal(priceOf('fireworks', 'kimi-k2p6'), priceOf('fireworks', 'accounts/fireworks/models/kimi-k2p6'));
    assert.equal(priceOf('fireworks', 'accounts/fireworks/models/llama-v3p1-8b-instruct'), null, 'size-tier rate not read: unpriced');
  });

  // Mistral, Cohere and Groq from their own docs (data/prices.json notes give the pages); the
  // values below are the docs' USD list prices, so a wrong edit of the table fails here.
  it('prices Mistral by dated id and by its -latest aliases, cache reads at 10% of input', () => {
    const large = priceOf('mistral', 'mistral-large-2512');
    assert.deepEqual(large, { input: 0.5, cached_input: 0.05, output: 1.5 });
    assert.equal(priceOf('mistral', 'mistral-large-latest'), large);
    assert.deepEqual(priceOf('mistral', 'mistral-medium-latest'), { input: 1.5, cached_input: 0.15, output: 7.5 }, 'Medium 3.5, as the docs point the alias today');
    assert.equal(priceOf('mistral', 'mistral-small-latest'), priceOf('mistral', 'mistral-small-2603'));
    assert.equal(priceOf('mistral', 'mistral-small-2603')?.output, 0.6);
    assert.equal(priceOf('mistral', 'codestral-latest')?.input, 0.3);
    assert.deepEqual(priceOf('mistral', 'mistral-embed'), { kind: 'embeddings', input: 0.1 });
    assert.equal(priceOf('mistral', 'open-mistral-nemo'), priceOf('mistral', 'open-mistral-nemo-2407'), 'deprecated, still served: priced');
    assert.equal(priceOf('mistral', 'mistral-tiny'), null, 'retired alias with no price');
  });

  it("prices Cohere's Command models from their model cards; the deprecated aliases stay unpriced", () => {
    assert.deepEqual(priceOf('cohere', 'command-a-03-2025'), { input: 2.5, output: 10 });
    assert.deepEqual(priceOf('cohere', 'command-r-08-2024'), { input: 0.15, output: 0.6 });
    assert.equal(priceOf('cohere', 'command-r7b-12-2024')?.input, 0.0375);
    // command-r is an alias of command-r-03-2024, a different (older) model than the priced refresh
    assert.equal(priceOf('cohere', 'command-r'), null);
    assert.equal(priceOf('cohere', 'command-r-plus'), null);
    assert.equal(priceOf('cohere', 'embed-v4.0'), null);
  });

  it('prices Groq production models by their exact ids, never by another name or provider', () => {
    assert.deepEqual(priceOf('groq', 'llama-3.3-70b-versatile'), { input: 0.59, output: 0.79 });
    assert.deepEqual(priceOf('groq', 'openai/gpt-oss-20b'), { input: 0.075, output: 0.3 });
    assert.equal(priceOf('groq', 'openai/gpt-oss-120b')?.output, 0.6);
    assert.equal(priceOf('groq', 'gpt-oss-120b'), null, "Groq's id carries the openai/ prefix");
    assert.equal(priceOf('together', 'openai/gpt-oss-120b'), null, "Together's rate was not read: Groq's is not borrowed");
    assert.equal(priceOf('huggingface', 'meta-llama/Llama-3.1-8B-Instruct'), null, 'billed at the routed provider rate');
  });

  it('resolves Azure through OpenAI (global standard = OpenAI list price), with its own names first', () => {
    assert.equal(priceOf('azure', 'gpt-4o-2024-08-06'), priceOf('openai', 'gpt-4o'));
    assert.deepEqual(priceOf('azure', 'gpt-35-turbo'), { input: 0.5, output: 1.5 });
    assert.equal(priceOf('openai', 'gpt-35-turbo'), null, 'Azure-only names stay Azure');
  });

  it('prices self-hosted providers at 0 and unknown models at null, never a guess', () => {
    assert.deepEqual(priceOf('vllm', 'anything'), { input: 0, output: 0 });
    assert.deepEqual(priceOf('llama2', 'llama-2-7b-chat.Q4_K_M.gguf'), { input: 0, output: 0 });
    assert.equal(priceOf('openai', 'test-model'), null);
    assert.equal(priceOf('openai', 'gpt-4o-mini-but-not'), null);
    assert.equal(priceOf('nobody', 'gpt-4o'), null);
    assert.equal(priceOf('openrouter', 'openai/gpt-4o-mini'), null, "an aggregator uses its own entries, never another provider's");
  });

  // docs/providers.md names these models as current (OpenAI reasoning models, Claude 4.5+, Gemini
  // 2.5/3); the rest are the models the repository's tests and mocks call. Each is priced or
  // listed under its provider's `unpriced` with the reason.
  const NAMED: [string, string][] = [
    ['openai', 'o1'], ['openai', 'o3'], ['openai', 'o4-mini'], ['openai', 'gpt-5'], ['openai', 'gpt-4o'], ['openai', 'gpt-4o-mini'],
    ['openai', 'gpt-4'], ['openai', 'gpt-3.5-turbo'], ['openai', 'gpt-3.5-turbo-instruct'], ['openai', 'o3-mini'], ['openai', 'gpt-5-mini'],
    ['openai', 'text-embedding-3-small'], ['openai', 'text-embedding-3-large'], ['azure', 'gpt-35-turbo'],
    ['anthropic', 'claude-sonnet-4-5'], ['anthropic', 'claude-sonnet-4-5-20250929'], ['anthropic', 'claude-opus-4-7'], ['anthropic', 'claude-haiku-4-5'],
    ['anthropic', 'claude-3-5-haiku-latest'], ['anthropic', 'claude-3-7-sonnet-latest'], ['anthropic', 'claude-opus-4-6'], ['anthropic', 'claude-sonnet-4-6'],
    ['gemini', 'gemini-2.5-flash'], ['gemini', 'gemini-2.5-pro'], ['gemini', 'gemini-3-pro-preview'], ['gemini', 'gemini-2.0-flash'],
    ['gemini', 'gemini-1.5-pro'], ['gemini', 'gemini-1.5-flash'], ['gemini', 'text-embedding-004'],
    ['bedrock', 'anthropic.claude-3-5-sonnet-20240620-v1:0'], ['bedrock', 'amazon.nova-lite-v1:0'], ['bedrock', 'amazon.nova-2-lite-v1:0'],
    ['bedrock', 'meta.llama3-1-8b-instruct-v1:0'], ['bedrock', 'amazon.titan-embed-text-v2:0'], ['bedrock', 'anthropic.claude-opus-4-1-20250805-v1:0'],
    ['deepseek', 'deepseek-chat'], ['deepseek', 'deepseek-reasoner'],
    ['cohere', 'command-r'], ['cohere', 'command-r-plus'], ['cohere', 'command'], ['cohere', 'embed-english-v3.0'], ['cohere', 'embed-english-v2.0'],
    ['mistral', 'mistral-tiny'], ['mistral', 'mistral-small'], ['mistral', 'mistral-small-latest'], ['mistral', 'mistral-large-latest'], ['mistral', 'mistral-embed'],
    ['mistral', 'mistral-medium-latest'], ['mistral', 'codestral-latest'], ['cohere', 'command-a-03-2025'], ['cohere', 'command-r7b-12-2024'],
    ['groq', 'llama-3.3-70b-versatile'], ['groq', 'llama-3.1-8b-instant'], ['groq', 'openai/gpt-oss-120b'],
    ['together', 'Qwen/Qwen2.5-7B-Instruct'], ['together', 'meta-llama/Llama-3.3-70B-Instruct-Turbo'],
    ['fireworks', 'accounts/fireworks/models/llama-v3p1-8b-instruct'], ['fireworks', 'accounts/fireworks/models/gpt-oss-120b'],
    ['openrouter', 'openai/gpt-4o-mini'], ['huggingface', 'meta-llama/Llama-3.1-8B-Instruct'],
  ];
  it('prices or explicitly marks every model the docs call current and the tests use', () => {
    const table = readPriceFile(BUNDLED_PRICES, 'bundled');
    for (const [provider, model] of NAMED) {
      const marked = table.providers[provider]?.unpriced?.[model] !== undefined;
      assert.ok(priceOf(provider, model) !== null || marked, `${provider}/${model}: neither priced nor marked unpriced`);
      if (marked) assert.equal(priceOf(provider, model), null, `${provider}/${model}: marked unpriced but priced`);
    }
  });

  it('has a valid bundled table: dated, every priced provider with its source and retrieval date', () => {
    const table = validatePrices(JSON.parse(fs.readFileSync(BUNDLED_PRICES, 'utf8')), 'bundled');
    assert.match(table.updated!, /^\d{4}-\d{2}-\d{2}$/);
    for (const name of ['openai', 'azure', 'anthropic', 'gemini', 'bedrock', 'cohere', 'mistral', 'groq', 'together', 'deepseek', 'fireworks', 'openrouter', 'huggingface']) {
      const p = table.providers[name];
      assert.ok(p, `${name} is in the table`);
      assert.match(p.source!, /^https:\/\//, `${name}.source`);
      assert.match(p.retrieved!, /^\d{4}-\d{2}-\d{2}$/, `${name}.retrieved`);
    }
    for (const name of ['vllm', 'lmstudio', 'llamacpp', 'llama2']) assert.equal(table.providers[name]?.self_hosted, true, `${name} is self-hosted`);
  });
});

describe('MODELGATE_PRICES_FILE', () => {
  it('adds and replaces entries over the bundled table', () => {
    const f = file('override.json', {
      providers: {
        openai: { models: { 'gpt-4o': { input: 1, output: 2 }, 'my-ft': { input: 3, output: 4, patterns: ['ft:gpt-4o-mini:*'] } } },
        openrouter: { models: { 'openai/gpt-4o-mini': { input: 0.15, output: 0.6 } } },
        selfhosted: { self_hosted: true },
      },
    });
    const t = loadPriceTable(f);
    assert.deepEqual(t.priceOf('openai', 'gpt-4o'), { input: 1, output: 2 });
    assert.deepEqual(t.priceOf('openai', 'gpt-4o-2024-08-06'), { input: 1, output: 2 }, "a re-priced entry keeps the bundled patterns");
    assert.deepEqual(t.priceOf('openai', 'ft:gpt-4o-mini:acme:x:123'), { input: 3, output: 4 });
    assert.equal(t.priceOf('openai', 'gpt-4o-mini')?.input, 0.15, 'other bundled entries stay');
    assert.deepEqual(t.priceOf('openrouter', 'openai/gpt-4o-mini'), { input: 0.15, output: 0.6 });
    assert.deepEqual(t.priceOf('selfhosted', 'x'), { input: 0, output: 0 });
  });

  it('is read from the environment, or from the settings handed to workers', () => {
    assert.equal(configuredPricesFile({ MODELGATE_PRICES_FILE: '/x.json' }), '/x.json');
    assert.equal(configuredPricesFile({ MODELGATE_PRICES_FILE: '' }), null);
    assert.equal(configuredPricesFile({ MODELGATE_WORKER_SETTINGS: JSON.stringify({ prices_file: '/y.json' }) }), '/y.json');
    assert.equal(configuredPricesFile({}), null);
    const f = file('env.json', { providers: { openai: { models: { 'test-model': { input: 7, output: 8 } } } } });
    const saved = process.env.MODELGATE_PRICES_FILE;
    process.env.MODELGATE_PRICES_FILE = f;
    try {
      resetPrices();
      assert.deepEqual(priceOf('openai', 'test-model'), { input: 7, output: 8 });
    } finally {
      if (saved === undefined) delete process.env.MODELGATE_PRICES_FILE;
      else process.env.MODELGATE_PRICES_FILE = saved;
      resetPrices();
    }
    assert.equal(priceOf('openai', 'test-model'), null);
  });

  it('refuses schema violations with a message naming the file, the path and the problem', () => {
    const cases: [unknown, RegExp][] = [
      [[], /expected a JSON object/],
      [{}, /providers: required/],
      [{ providers: { openai: { models: { m: { output: 1 } } } } }, /providers\.openai\.models\["m"\]\.input: required/],
      [{ providers: { openai: { models: { m: { input: 1 } } } } }, /\.output: required/],
      [{ providers: { openai: { models: { m: { input: -1, output: 1 } } } } }, /\.input: expected a price/],
      [{ providers: { openai: { models: { m: { input: '1', output: 1 } } } } }, /\.input: expected a price/],
      [{ providers: { openai: { models: { m: { input: 1, output: 1, cached: 1 } } } } }, /\.cached: unknown field/],
      [{ providers: { openai: { models: { m: { input: 1, output: 1, patterns: 'gpt-*' } } } } }, /\.patterns: expected an array/],
      [{ providers: { openai: { retrieved: 'yesterday' } } }, /retrieved: expected a date/],
      [{ updated: '2026', providers: {} }, /updated: required: a date/],
      [{ providers: { azure: { same_as: 'azure' } } }, /cannot be priced as itself/],
    ];
    for (const [content, message] of cases) {
      const f = file('bad.json', content);
      assert.throws(() => loadPriceTable(f), (e: Error) => e instanceof PricesError && e.message.startsWith(f) && message.test(e.message), JSON.stringify(content));
    }
    assert.throws(() => loadPriceTable(file('notjson.json', '{')), /notjson\.json: not JSON/);
    assert.throws(() => loadPriceTable(path.join(dir, 'missing.json')), /missing\.json: cannot read \(ENOENT\)/);
    // an embeddings entry needs no output price
    assert.equal(loadPriceTable(file('emb.json', { providers: { openai: { models: { e: { kind: 'embeddings', input: 1 } } } } })).priceOf('openai', 'e')?.input, 1);
  });

  it('stops start-up through the settings, naming the variable', () => {
    const bad = file('bad-settings.json', { providers: { openai: { models: { m: { input: 'x', output: 1 } } } } });
    assert.throws(() => loadSettings({ MODELGATE_PRICES_FILE: bad }), (e: Error) => e instanceof SettingsError && /^MODELGATE_PRICES_FILE: .*bad-settings\.json: providers\.openai\.models\["m"\]\.input: expected a price/.test(e.message));
    const good = file('good-settings.json', { providers: {} });
    assert.equal(loadSettings({ MODELGATE_PRICES_FILE: good }).prices_file, good);
    assert.equal(loadSettings({}).prices_file, null);
  });
});
