/**
 * Issue 17, "nothing silently lost", as a property: for random OpenAI chat bodies (any mix of
 * system/developer prompts, text, images by URL and by bytes, audio, files, tool turns, tools and
 * tool choice, structured output, reasoning effort, cache marks, every sampling field, user and
 * metadata, OpenAI-only fields and unknown fields), parsed by the inbound adapter and mapped out
 * by every provider's driver as the plugin does it (src/plugins/ai-proxy/exchange.ts, planCall):
 *
 * - under the `drop` policy, every feature of the request is either in the provider's body or
 *   named in the call's dropped paths (what `X-Modelgate-Dropped-Params` and the log show);
 * - under the `error` policy, the same request is refused with a RequestError naming a dropped
 *   path when anything was dropped, and gives the same body when nothing was;
 * - nothing but a RequestError ever escapes.
 *
 * "In the body" is checked by a marker: each feature carries a unique value (a text, a number, a
 * name) that must appear in the provider's JSON, or, where the provider's API spells the feature
 * differently (a boolean, a choice), one of the spellings the formats use.
 *
 * And for answers: whatever fragments a provider streams a tool call's arguments in (all of them
 * '' included, as Anthropic streams a call without input), and whatever its ids look like (Gemini's
 * with the signature inside, `+/=` and hundreds of characters), the client's assembled calls have
 * JSON-object arguments (`"{}"` for none) and provider-neutral ids, one per provider call.
 *
 * Seeded: a failure reproduces.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseOpenAIRequest } from '../../src/exchange/inbound/openai-chat.ts';
import { ExchangeContext } from '../../src/exchange/context.ts';
import { addPassthrough, applyPolicy } from '../../src/exchange/policy.ts';
import { getDriver } from '../../src/llm/drivers/index.ts';
import { RequestError, type ModelOptions, type ProviderName } from '../../src/llm/types.ts';
import { createOpenAISink } from '../../src/exchange/render/openai-chat.ts';
import { TOOL_CALL_ID, type CanonicalRequest, type ToolCallDelta, type UnsupportedPolicy } from '../../src/exchange/types.ts';
import { NO_OPTIONS } from '../helpers/format-context.ts';

const RUNS = 150;
const SEED = 20_261_206;

interface Target {
  label: string;
  provider: ProviderName;
  model: string;
  options?: Partial<ModelOptions>;
}

/** Every wire format, through the drivers that use it. */
const TARGETS: Target[] = [
  { label: 'openai', provider: 'openai', model: 'gpt-4o' },
  { label: 'azure', provider: 'azure', model: 'gpt-4o', options: { azure_instance: 'mock', azure_deployment_id: 'gpt-4o', azure_api_version: '2024-10-21' } },
  { label: 'anthropic', provider: 'anthropic', model: 'claude-sonnet-4-5' },
  { label: 'bedrock (claude)', provider: 'bedrock', model: 'anthropic.claude-sonnet-4-5-20250929-v1:0', options: { bedrock: { aws_region: 'us-east-1' } } as Partial<ModelOptions> },
  { label: 'bedrock (nova)', provider: 'bedrock', model: 'amazon.nova-pro-v1:0', options: { bedrock: { aws_region: 'us-east-1' } } as Partial<ModelOptions> },
  { label: 'gemini 2.5', provider: 'gemini', model: 'gemini-2.5-flash' },
  { label: 'gemini 3', provider: 'gemini', model: 'gemini-3-pro-preview' },
  { label: 'cohere', provider: 'cohere', model: 'command-r' },
  { label: 'mistral (openai)', provider: 'mistral', model: 'mistral-large-latest', options: { mistral_format: 'openai', upstream_url: 'http://mistral.local/v1/chat/completions' } },
  { label: 'mistral (ollama)', provider: 'mistral', model: 'mistral', options: { mistral_format: 'ollama', upstream_url: 'http://ollama.local/api/chat' } },
  { label: 'llama2 (ollama)', provider: 'llama2', model: 'llama3.1', options: { llama2_format: 'ollama', upstream_url: 'http://ollama.local/api/chat' } },
  { label: 'llama2 (raw)', provider: 'llama2', model: 'llama2', options: { llama2_format: 'raw', upstream_url: 'http://tgi.local/generate' } },
  { label: 'llama2 (openai)', provider: 'llama2', model: 'llama3.1', options: { llama2_format: 'openai', upstream_url: 'http://vllm.local/v1/chat/completions' } },
  { label: 'huggingface', provider: 'huggingface', model: 'meta-llama/Llama-3.1-8B-Instruct' },
  { label: 'groq', provider: 'groq', model: 'llama-3.3-70b-versatile' },
  { label: 'vllm', provider: 'vllm', model: 'Qwen/Qwen3-8B', options: { upstream_url: 'http://vllm.local/v1' } },
  { label: 'deepseek', provider: 'deepseek', model: 'deepseek-chat' },
];

/** One feature of a generated request: where it is, and how to see it in a provider's body. */
interface Expectation {
  feature: string;
  /** The client field's path, as dropped paths name it (`temperature`, `messages[2].content[1]`). */
  path: string;
  found: (body: string) => boolean;
}

const includes = (marker: string) => (body: string) => body.includes(marker);
const matches = (re: RegExp) => (body: string) => re.test(body);

// ---------------------------------------------------------------------------------------------
// Generators

const marker = fc.stringMatching(/^[a-z]{4}[0-9]{4}$/).map((s) => `mk${s}`);
const base64 = fc.uint8Array({ minLength: 24, maxLength: 48 }).map((b) => Buffer.from(b).toString('base64'));

interface Generated {
  body: Record<string, unknown>;
  expect: Expectation[];
}

const spec = fc.record({
  system: fc.constantFrom(null, 'system', 'developer', 'system-parts-cached'),
  userParts: fc.subarray(['image-data', 'image-url', 'audio', 'file', 'text-cached'] as const),
  toolTurn: fc.boolean(),
  toolTurnArgs: fc.boolean(),
  tools: fc.boolean(),
  toolCache: fc.boolean(),
  toolChoice: fc.constantFrom(null, 'required', 'named'),
  parallel: fc.boolean(),
  schema: fc.boolean(),
  effort: fc.constantFrom(null, 'low', 'high'),
  sampling: fc.subarray(['temperature', 'top_p', 'top_k', 'seed', 'max_tokens', 'max_completion_tokens', 'stop', 'presence_penalty', 'frequency_penalty', 'n', 'logprobs', 'logit_bias'] as const),
  user: fc.boolean(),
  metadata: fc.boolean(),
  openaiFields: fc.subarray(['store', 'service_tier', 'prompt_cache_key', 'verbosity'] as const),
  unknownField: fc.boolean(),
  markers: fc.array(marker, { minLength: 12, maxLength: 12 }),
  data: fc.array(base64, { minLength: 3, maxLength: 3 }),
});

const request: fc.Arbitrary<Generated> = spec.map((s) => {
  const m = s.markers;
  const messages: Record<string, unknown>[] = [];
  const expect: Expectation[] = [];
  const body: Record<string, unknown> = { messages };

  if (s.system === 'system' || s.system === 'developer') {
    expect.push({ feature: s.system, path: `messages[${messages.length}]`, found: includes(m[0]) });
    messages.push({ role: s.system, content: `Rules ${m[0]}` });
  } else if (s.system === 'system-parts-cached') {
    const at = `messages[${messages.length}]`;
    expect.push({ feature: 'system', path: at, found: includes(m[0]) });
    expect.push({ feature: 'cache mark (system)', path: `${at}.content[0].cache_control`, found: matches(/cache_control|cachePoint/) });
    messages.push({ role: 'system', content: [{ type: 'text', text: `Rules ${m[0]}`, cache_control: { type: 'ephemeral' } }] });
  }

  const ui = messages.length;
  const parts: Record<string, unknown>[] = [{ type: 'text', text: `Question ${m[1]}` }];
  expect.push({ feature: 'user text', path: `messages[${ui}]`, found: includes(m[1]) });
  for (const kind of s.userParts) {
    const at = `messages[${ui}].content[${parts.length}]`;
    if (kind === 'image-data') {
      parts.push({ type: 'image_url', image_url: { url: `data:image/png;base64,${s.data[0]}` } });
      expect.push({ feature: 'image bytes', path: at, found: includes(s.data[0].slice(0, 24)) });
    } else if (kind === 'image-url') {
      parts.push({ type: 'image_url', image_url: { url: `https://images.example.com/${m[2]}.png` } });
      expect.push({ feature: 'image url', path: at, found: includes(m[2]) });
    } else if (kind === 'audio') {
      parts.push({ type: 'input_audio', input_audio: { data: s.data[1], format: 'wav' } });
      expect.push({ feature: 'audio', path: at, found: includes(s.data[1].slice(0, 24)) });
    } else if (kind === 'file') {
      parts.push({ type: 'file', file: { file_data: `data:application/pdf;base64,${s.data[2]}`, filename: `${m[3]}.pdf` } });
      expect.push({ feature: 'file', path: at, found: includes(s.data[2].slice(0, 24)) });
    } else {
      parts.push({ type: 'text', text: `More ${m[4]}`, cache_control: { type: 'ephemeral' } });
      expect.push({ feature: 'user text (cached part)', path: at, found: includes(m[4]) });
      expect.push({ feature: 'cache mark (part)', path: `${at}.cache_control`, found: matches(/cache_control|cachePoint/) });
    }
  }
  messages.push({ role: 'user', content: parts.length === 1 ? parts[0].text : parts });

  const toolName = `fn_${m[5]}`;
  if (s.toolTurn) {
    const ai = messages.length;
    const args = s.toolTurnArgs ? JSON.stringify({ q: m[6] }) : '{}';
    messages.push({ role: 'assistant', content: null, tool_calls: [{ id: `call_${m[7]}`, type: 'function', function: { name: toolName, arguments: args } }] });
    messages.push({ role: 'tool', tool_call_id: `call_${m[7]}`, content: `Result ${m[8]}` });
    messages.push({ role: 'user', content: 'Thanks.' });
    expect.push({ feature: 'assistant tool call', path: `messages[${ai}]`, found: (b) => b.includes(toolName) && (!s.toolTurnArgs || b.includes(m[6])) });
    expect.push({ feature: 'tool result', path: `messages[${ai + 1}]`, found: includes(m[8]) });
  }
  if (s.tools || s.toolTurn || s.toolChoice) {
    const tool: Record<string, unknown> = { type: 'function', function: { name: toolName, description: `Looks up ${m[9]}`, parameters: { type: 'object', properties: { q: { type: 'string' } } } } };
    if (s.toolCache) tool.cache_control = { type: 'ephemeral' };
    body.tools = [tool];
    expect.push({ feature: 'tool', path: 'tools[0]', found: (b) => b.includes(toolName) && b.includes(m[9]) });
    if (s.toolCache) expect.push({ feature: 'cache mark (tool)', path: 'tools[0].cache_control', found: matches(/cache_control|cachePoint/) });
    if (s.toolChoice === 'required') {
      body.tool_choice = 'required';
      expect.push({ feature: 'tool_choice required', path: 'tool_choice', found: matches(/"(required|any|ANY|REQUIRED)"|"any":\{|"tool_choice"|"toolChoice"|"functionCallingConfig"/) });
    } else if (s.toolChoice === 'named') {
      body.tool_choice = { type: 'function', function: { name: toolName } };
      expect.push({ feature: 'tool_choice named', path: 'tool_choice', found: (b) => b.split(toolName).length > (s.toolTurn ? 3 : 2) || /allowedFunctionNames|"tool_choice"|"toolChoice"/.test(b) });
    }
    if (s.parallel) {
      body.parallel_tool_calls = false;
      expect.push({ feature: 'parallel_tool_calls', path: 'parallel_tool_calls', found: matches(/parallel/i) });
    }
  }
  if (s.schema) {
    body.response_format = { type: 'json_schema', json_schema: { name: `out_${m[10]}`, strict: true, schema: { type: 'object', properties: { [`p_${m[10]}`]: { type: 'string' } }, required: [`p_${m[10]}`], additionalProperties: false } } };
    expect.push({ feature: 'response_format json_schema', path: 'response_format', found: includes(`p_${m[10]}`) });
  }
  if (s.effort) {
    body.reasoning_effort = s.effort;
    expect.push({ feature: 'reasoning_effort', path: 'reasoning_effort', found: matches(/thinking|reasoning|"think"|effort|budget/i) });
  }
  const numbers: Record<string, [unknown, (b: string) => boolean]> = {
    temperature: [0.4321, includes('0.4321')],
    top_p: [0.8765, includes('0.8765')],
    top_k: [4242, includes('4242')],
    seed: [918273, includes('918273')],
    max_tokens: [777, includes('777')],
    max_completion_tokens: [778, includes('778')],
    stop: [[`stop_${m[11]}`], includes(`stop_${m[11]}`)],
    presence_penalty: [0.1234, includes('0.1234')],
    frequency_penalty: [0.2345, includes('0.2345')],
    n: [2, matches(/"(n|candidateCount|num_generations|numberOfResults)":\s*2\b/)],
    logprobs: [true, matches(/logprobs/i)],
    logit_bias: [{ '50256': -100 }, includes('50256')],
  };
  // max_completion_tokens supersedes max_tokens (OpenAI's reference): the request carries one of them
  const sampling = s.sampling.includes('max_completion_tokens') ? s.sampling.filter((f) => f !== 'max_tokens') : s.sampling;
  for (const field of sampling) {
    const [value, found] = numbers[field];
    body[field] = value;
    // a thinking budget is added to the answer's limit (Anthropic, Bedrock): the limit is there, larger
    const limit = (b: string) => found(b) || (s.effort !== null && /"(max_tokens|maxTokens|maxOutputTokens|num_predict)":\d+/.test(b));
    expect.push({ feature: field, path: field, found: field === 'max_tokens' || field === 'max_completion_tokens' ? limit : found });
  }
  if (s.user) {
    body.user = `user_${m[3]}`;
    expect.push({ feature: 'user', path: 'user', found: includes(`user_${m[3]}`) });
  }
  if (s.metadata) {
    body.metadata = { trace: `meta_${m[4]}` };
    expect.push({ feature: 'metadata', path: 'metadata', found: includes(`meta_${m[4]}`) });
  }
  const openai: Record<string, [unknown, (b: string) => boolean]> = {
    store: [true, matches(/"store"/)],
    service_tier: ['flex', matches(/service_tier|serviceTier|"flex"/)],
    prompt_cache_key: [`pck_${m[5]}`, includes(`pck_${m[5]}`)],
    verbosity: ['low', matches(/verbosity/)],
  };
  for (const field of s.openaiFields) {
    const [value, found] = openai[field];
    body[field] = value;
    expect.push({ feature: field, path: field, found });
  }
  if (s.unknownField) {
    body[`x_extra_${m[6]}`] = `extra_${m[7]}`;
    expect.push({ feature: 'unknown top-level field', path: `x_extra_${m[6]}`, found: includes(`extra_${m[7]}`) });
  }
  return { body, expect };
});

// ---------------------------------------------------------------------------------------------
// What the plugin does for one call (planCall), without the network

interface Outcome {
  body: Record<string, unknown> | null;
  dropped: string[];
  error: RequestError | null;
}

function plan(target: Target, canonical: CanonicalRequest, policy: UnsupportedPolicy): Outcome {
  const options = { ...NO_OPTIONS, ...target.options } as ModelOptions;
  const driver = getDriver(target.provider);
  const ctx = new ExchangeContext({ provider: target.provider, routeType: 'llm/v1/chat', model: target.model, options, stream: canonical.stream, includeUsage: canonical.includeUsage, policy, now: 1_700_000_000, id: 'chatcmpl-test' });
  try {
    const send = applyPolicy(canonical, ctx, { nativeFields: driver.nativeFields?.(ctx) ?? [], handlesUnmapped: driver.handlesUnmapped?.(ctx) ?? false });
    const body = driver.buildRequest(canonical, ctx);
    addPassthrough(body, canonical, send);
    return { body, dropped: [...ctx.dropped], error: null };
  } catch (err) {
    if (err instanceof RequestError) return { body: null, dropped: [...ctx.dropped], error: err };
    throw new Error(`${target.label}: ${err instanceof Error ? `${err.name}: ${err.message}\n${err.stack}` : String(err)}`);
  }
}

/**
 * A dropped path names the feature at `path` when it is that path, inside it, or an enclosing one.
 * `tool_choice` and `parallel_tool_calls` qualify `tools`: a dropped `tools` names them too.
 */
function named(path: string, dropped: string[]): boolean {
  if ((path === 'tool_choice' || path === 'parallel_tool_calls') && dropped.includes('tools')) return true;
  return dropped.some((d) => d === path || d.startsWith(`${path}.`) || d.startsWith(`${path}[`) || path.startsWith(`${d}.`) || path.startsWith(`${d}[`));
}

/** Fresh parse per call: formats must not depend on another's changes to the request. */
const parse = (body: Record<string, unknown>): CanonicalRequest => parseOpenAIRequest(structuredClone(body), 'llm/v1/chat');

describe('nothing silently lost: every feature is in the provider body or named as dropped', () => {
  for (const target of TARGETS) {
    it(target.label, () => {
      let sent = 0;
      fc.assert(
        fc.property(request, fc.boolean(), ({ body, expect }, stream) => {
          const client = { ...body, ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}) };
          const dropped = plan(target, parse(client), 'drop');
          if (dropped.error) return; // a request the provider cannot take in any form (the 400 names it)
          sent++;
          const text = JSON.stringify(dropped.body);
          const lost = expect.filter((e) => !e.found(text) && !named(e.path, dropped.dropped));
          assert.deepEqual(
            lost.map((e) => `${e.feature} (${e.path})`),
            [],
            `${target.label} lost features without naming them.\ndropped: ${JSON.stringify(dropped.dropped)}\nclient: ${JSON.stringify(client)}\nprovider: ${text}`,
          );

          // under `error`: a 400 naming a dropped path and the provider, or (drops a format makes by name
          // whatever the policy, e.g. Gemini's cache marks) the same body with the same paths named
          const strict = plan(target, parse(client), 'error');
          if (strict.error) {
            assert.ok(dropped.dropped.length > 0, `${target.label}: nothing dropped under drop, yet error refused: ${strict.error.message}`);
            assert.ok(
              dropped.dropped.some((p) => strict.error!.message.includes(p)),
              `${target.label}: the 400 names a dropped path: "${strict.error.message}" vs ${JSON.stringify(dropped.dropped)}`,
            );
            assert.match(strict.error.message, new RegExp(`\\b${target.provider}\\b`), 'the 400 names the provider');
          } else {
            assert.deepEqual(strict.dropped, dropped.dropped, `${target.label}: what error let through is named as dropped too`);
            assert.deepEqual(strict.body, dropped.body);
          }
        }),
        { numRuns: RUNS, seed: SEED },
      );
      assert.ok(sent > RUNS / 4, `${target.label}: only ${sent} of ${RUNS} requests could be built at all`);
    });
  }
});

describe('the pass policy sends unknown top-level fields as they are, and names what it cannot send', () => {
  for (const target of TARGETS) {
    it(target.label, () => {
      fc.assert(
        fc.property(request, ({ body, expect }) => {
          const passed = plan(target, parse(body), 'pass');
          if (passed.error) return;
          const text = JSON.stringify(passed.body);
          for (const e of expect) assert.ok(e.found(text) || named(e.path, passed.dropped), `${target.label}: ${e.feature} (${e.path}) lost under pass`);
          for (const key of Object.keys(body).filter((k) => k.startsWith('x_extra_'))) {
            assert.ok(Object.hasOwn(passed.body!, key) || passed.dropped.includes(key), `${target.label}: ${key} passed or named`);
          }
        }),
        { numRuns: Math.floor(RUNS / 3), seed: SEED + 1 },
      );
    });
  }
});

describe('streamed tool calls as the client assembles them', () => {
  /** A provider id: neutral, or Gemini's legacy shape with a signature inside, or any string. */
  const providerId = fc.oneof(
    fc.stringMatching(/^toolu_[A-Za-z0-9]{8,24}$/),
    fc.base64String({ minLength: 40, maxLength: 400 }).map((b64) => `call_${b64.length}__thought__${b64}`),
    fc.string({ minLength: 1, maxLength: 80 }),
    fc.constant(undefined),
  );
  const args = fc.oneof(
    fc.constant(''),
    fc.dictionary(fc.stringMatching(/^[a-z]{1,6}$/), fc.oneof(fc.string(), fc.integer(), fc.boolean()), { maxKeys: 4 }).map((o) => JSON.stringify(o)),
  );
  /** One call: its id and name, and its arguments cut into fragments ('' fragments included). */
  const call = fc.record({ id: providerId, name: fc.stringMatching(/^[a-z_]{1,12}$/), args, cuts: fc.array(fc.nat(), { maxLength: 6 }), empties: fc.nat({ max: 3 }) });

  it('arguments are JSON objects and ids are neutral, whatever the fragments and the provider ids', () => {
    fc.assert(
      fc.property(fc.array(call, { minLength: 1, maxLength: 4 }), fc.boolean(), (calls, includeUsage) => {
        const sink = createOpenAISink({ id: 'chatcmpl-prop', now: 1_700_000_000, model: 'm', routeType: 'llm/v1/chat', includeUsage });
        let wire = sink.start();
        calls.forEach((c, index) => {
          const points = [...new Set(c.cuts.map((n) => (c.args.length ? n % (c.args.length + 1) : 0)))].sort((a, b) => a - b);
          const pieces: string[] = [];
          let at = 0;
          for (const p of points) {
            pieces.push(c.args.slice(at, p));
            at = p;
          }
          pieces.push(c.args.slice(at));
          for (let i = 0; i < c.empties; i++) pieces.push('');
          const first: ToolCallDelta = { index, name: c.name, arguments: pieces[0] };
          if (c.id !== undefined) first.id = c.id;
          wire += sink.toolCalls([first]);
          for (const piece of pieces.slice(1)) wire += sink.toolCalls([{ index, arguments: piece }]);
        });
        wire += sink.finish('tool_calls') + sink.done();

        const assembled: { id: string; name: string; arguments: string }[] = [];
        for (const line of wire.split('\n')) {
          if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
          for (const tc of JSON.parse(line.slice(6)).choices[0]?.delta?.tool_calls ?? []) {
            const at = (assembled[tc.index] ??= { id: '', name: '', arguments: '' });
            if (tc.id) at.id = tc.id;
            if (tc.function?.name) at.name += tc.function.name;
            if (typeof tc.function?.arguments === 'string') at.arguments += tc.function.arguments;
          }
        }
        assert.equal(assembled.length, calls.length);
        assembled.forEach((a, i) => {
          assert.match(a.id, TOOL_CALL_ID, `call ${i}: id ${a.id}`);
          assert.equal(a.name, calls[i].name);
          const parsed = JSON.parse(a.arguments);
          assert.ok(typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed), `call ${i}: ${a.arguments}`);
          assert.equal(a.arguments, calls[i].args === '' ? '{}' : calls[i].args);
        });
        assert.equal(new Set(assembled.map((a) => a.id)).size, new Set(calls.map((c, i) => c.id ?? `none-${i}`)).size, 'distinct provider calls keep distinct ids');
        assert.deepEqual(sink.carried.toolCallIds, assembled.map((a) => a.id), 'the ids carried to the next turn are the ones the client saw');
      }),
      { numRuns: 300, seed: SEED + 2 },
    );
  });
});
