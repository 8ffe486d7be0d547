import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { getDriver } from '../../src/llm/drivers/index.ts';
import { createFrameDecoder } from '../../src/llm/stream/index.ts';
import { TranslationError, UpstreamStreamError, type LlmRouteType, type ModelOptions, type ProviderName, type StreamEvent, type Usage } from '../../src/llm/types.ts';
import { readdirSync } from 'node:fs';
import { RECORDED_STREAM_CASES } from '../conformance/cases-streams.ts';
import { GOLDEN_SUFFIX, kongFixturesMissing, RECORDINGS, UPDATE_GOLDENS, assembledText, clientFrames, context, decodeAll, fixtureText, golden, goldenFile, recording, runStream } from '../conformance/support.ts';

type Json = Record<string, any>;
const CHAT: LlmRouteType = 'llm/v1/chat';
const COMPLETIONS: LlmRouteType = 'llm/v1/completions';
const encode = (text: string) => new TextEncoder().encode(text);
const usage = (prompt: number, completion: number): Usage => ({ prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion });

const ollama = { llama2_format: 'ollama' as const, upstream_url: 'http://ollama/api/chat' };
const raw = { llama2_format: 'raw' as const, upstream_url: 'http://tgi/' };

interface Recorded {
  name: string;
  provider: ProviderName;
  route: LlmRouteType;
  options?: Partial<ModelOptions>;
  /** What a client assembles from the content deltas (or completion texts). */
  text: string;
  /** What the translator keeps for token estimates (tool call arguments count too). */
  kept?: string;
  finish: string;
  usage: Usage | null;
  model: string;
  /**
   * The event that is the provider's end when it is not the last one (Bedrock's messageStop before
   * metadata, TGI's finish chunk before [DONE]): a substring of it. `null`: the stream cannot show
   * truncation (every Gemini 1.5 chunk says STOP), so the truncation test skips it.
   */
  end?: string | null;
  /**
   * The golden's name when not the recording's (a recording read by two routes): the client frames
   * are `recordings/<golden>.expected.json`, `<golden>.usage.expected.json` with usage asked.
   */
  golden?: string;
}

const RECORDED: Recorded[] = [
  { name: 'openai-chat.sse', provider: 'openai', route: CHAT, text: 'Grüße 👋 — 1 + 1 = 2, "quoted" 日本', finish: 'stop', usage: usage(19, 10), model: 'gpt-4o-2024-08-06' },
  { name: 'openai-tool-calls.sse', provider: 'openai', route: CHAT, text: '', kept: '{"location":"Zürich"}', finish: 'tool_calls', usage: usage(82, 17), model: 'gpt-4o-2024-08-06' },
  { name: 'openai-completions.sse', provider: 'openai', route: COMPLETIONS, text: '\n\nThis is a tést', finish: 'length', usage: usage(5, 7), model: 'gpt-3.5-turbo-instruct' },
  { name: 'mistral-chat.sse', provider: 'mistral', route: CHAT, options: { mistral_format: 'openai' }, text: 'Bonjour à tous ✨', finish: 'stop', usage: usage(10, 6), model: 'mistral-small-latest' },
  {
    name: 'anthropic-chat.sse',
    provider: 'anthropic',
    route: CHAT,
    text: 'Okay, let me check the weather in San Francisco — ☀️ «chaud»:',
    kept: 'Okay, let me check the weather in San Francisco — ☀️ «chaud»:{"location": "San Francisco, CA"}',
    finish: 'tool_calls',
    usage: usage(472, 89),
    model: 'claude-sonnet-4-5-20250929',
  },
  { name: 'cohere-chat.ndjson', provider: 'cohere', route: CHAT, text: '1 + 1 = 2 ✓ — naïve', finish: 'stop', usage: usage(9, 8), model: 'test-model' },
  { name: 'cohere-generate.ndjson', provider: 'cohere', route: COMPLETIONS, text: ' Bonjour, ça va ?', finish: 'length', usage: usage(4, 6), model: 'test-model' },
  { name: 'ollama-chat.ndjson', provider: 'llama2', route: CHAT, options: ollama, text: 'The sky is blue 🌌 — Rayleigh.', finish: 'stop', usage: usage(26, 282), model: 'llama3.2' },
  { name: 'ollama-generate.ndjson', provider: 'mistral', route: COMPLETIONS, options: { mistral_format: 'ollama', upstream_url: 'http://o/' }, text: 'Why not — ½', finish: 'length', usage: usage(13, 3), model: 'llama3.2' },
  { name: 'tgi.sse', provider: 'llama2', route: CHAT, options: raw, text: ' The answer is 2 — ✔', finish: 'stop', usage: null, model: 'test-model' },
  { name: 'llamacpp.sse', provider: 'llama2', route: COMPLETIONS, options: raw, text: 'Hello wörld', finish: 'length', usage: usage(11, 2), model: 'test-model' },
  // Gemini: CRLF-framed SSE without a terminator; thinking tokens count as output.
  { name: 'gemini-chat.sse', provider: 'gemini', route: CHAT, text: 'Grüße — 1 + 1 = 2 ✓', finish: 'stop', usage: usage(9, 12), model: 'gemini-2.5-flash' },
  { name: 'gemini-chat.sse', golden: 'gemini-chat.completions', provider: 'gemini', route: COMPLETIONS, text: 'Grüße — 1 + 1 = 2 ✓', finish: 'stop', usage: usage(9, 12), model: 'gemini-2.5-flash' },
  // Gemini 1.5 put finishReason STOP on every chunk: one finish, at the end.
  { name: 'gemini-stop-every-chunk.sse', provider: 'gemini', route: CHAT, text: 'The theory of relativity is two theories.', finish: 'stop', usage: usage(6, 8), model: 'test-model', end: null },
  { name: 'gemini-tool-call.sse', provider: 'gemini', route: CHAT, text: '', kept: '{"city":"Zürich"}', finish: 'tool_calls', usage: usage(41, 7), model: 'gemini-2.5-flash' },
  // Bedrock ConverseStream: AWS event-stream framing; usage (with cache reads) arrives after messageStop.
  { name: 'bedrock-chat.eventstream', provider: 'bedrock', route: CHAT, text: 'Hallo — 1 + 1 = 2 🎉', finish: 'length', usage: usage(31, 7), model: 'test-model', end: 'messageStop' },
  { name: 'bedrock-chat.eventstream', golden: 'bedrock-chat.completions', provider: 'bedrock', route: COMPLETIONS, text: 'Hallo — 1 + 1 = 2 🎉', finish: 'length', usage: usage(31, 7), model: 'test-model', end: 'messageStop' },
  // TGI's Messages API: `eos_token` and an empty id normalized.
  { name: 'huggingface-tgi-chat.sse', provider: 'huggingface', route: CHAT, text: 'Bonjour à tous 🤗', finish: 'stop', usage: usage(15, 5), model: 'HuggingFaceH4/zephyr-7b-beta', end: '"finish_reason":"eos_token"' },
  // DeepSeek's reasoning_content travels through untouched; only content is the answer.
  // reasoning_content counts toward the estimate too (reasoning tokens are completion tokens)
  { name: 'deepseek-reasoner.sse', provider: 'deepseek', route: CHAT, text: '1 + 1 = 2 ✓', kept: 'Okay, 1+1 is 2.1 + 1 = 2 ✓', finish: 'stop', usage: usage(12, 20), model: 'deepseek-reasoner' },
];

function contextFor(r: Recorded, includeUsage: boolean) {
  return context({ provider: r.provider, routeType: r.route, options: r.options, stream: true, includeUsage });
}

/** Recordings read by a test other than the RECORDED table's. */
const OTHER_RECORDINGS = ['anthropic-error.sse'];

function goldenName(stem: string, includeUsage: boolean): string {
  return `${stem}${includeUsage ? '.usage' : ''}`;
}

function goldenOf(r: Recorded, includeUsage: boolean): string {
  return goldenName(r.golden ?? r.name.replace(/\.[^.]+$/, ''), includeUsage);
}

/** Frames equal to the golden's, key order included (the client sees the JSON text). */
function assertFrames(actual: unknown[], expected: unknown[], message?: string): void {
  assert.deepEqual(actual, expected, message);
  assert.equal(JSON.stringify(actual), JSON.stringify(expected), `${message ?? ''} (key order)`);
}

/**
 * What OpenAI's streaming reference says a client gets, checked on every golden so that a
 * regenerated one cannot quietly accept a wrong translation: chat opens with the assistant role,
 * exactly one choice carries a finish_reason and only the usage chunk may follow it, the usage-only
 * chunk (`choices: []`) comes only when the client asked, last before `[DONE]`, and a tool call's
 * first delta names it (id, type, name) while the later ones only add arguments.
 */
function assertOpenAIShape(frames: unknown[], route: LlmRouteType, includeUsage: boolean, label: string): void {
  assert.equal(frames.at(-1), '[DONE]', `${label}: [DONE] last`);
  assert.equal(frames.filter((f) => f === '[DONE]').length, 1, `${label}: [DONE] once`);
  const chunks = frames.slice(0, -1) as Json[];
  const object = route === CHAT ? 'chat.completion.chunk' : 'text_completion';
  for (const chunk of chunks) {
    assert.equal(chunk.object, object, label);
    assert.equal(typeof chunk.id, 'string', label);
    assert.notEqual(chunk.id, '', label);
    assert.equal(typeof chunk.created, 'number', label);
    assert.equal(typeof chunk.model, 'string', label);
    assert.ok(Array.isArray(chunk.choices) && chunk.choices.length <= 1, `${label}: one choice or none`);
    for (const choice of chunk.choices) {
      assert.equal(choice.index, 0, label);
      if (route === CHAT) assert.equal(typeof choice.delta, 'object', label);
      else assert.equal(typeof choice.text, 'string', label);
    }
  }
  if (route === CHAT) assert.equal(chunks[0].choices[0].delta.role, 'assistant', `${label}: the first chunk names the role`);
  if (route === CHAT) assert.equal(chunks.filter((c) => c.choices[0]?.delta?.role !== undefined).length, 1, `${label}: the role once`);
  const finishes = chunks.flatMap((c, i) => (c.choices[0]?.finish_reason != null ? [i] : []));
  assert.equal(finishes.length, 1, `${label}: exactly one finish_reason`);
  assert.ok(['stop', 'length', 'tool_calls', 'content_filter'].includes(chunks[finishes[0]].choices[0].finish_reason), label);
  const usageOnly = chunks.flatMap((c, i) => (c.choices.length === 0 ? [i] : []));
  if (!includeUsage) assert.deepEqual(usageOnly, [], `${label}: no usage chunk the client did not ask for`);
  else assert.ok(usageOnly.length === 0 || (usageOnly.length === 1 && usageOnly[0] === chunks.length - 1), `${label}: the usage chunk once, last`);
  assert.ok(chunks.slice(finishes[0] + 1).every((c) => c.choices.length === 0), `${label}: nothing but usage after the finish`);
  // Tool call deltas: the first of each call names it, the rest only add arguments.
  const seen = new Set<number>();
  for (const chunk of chunks) {
    for (const call of chunk.choices[0]?.delta?.tool_calls ?? []) {
      if (!seen.has(call.index)) {
        seen.add(call.index);
        assert.ok(typeof call.id === 'string' && call.id !== '' && call.type === 'function' && typeof call.function.name === 'string', `${label}: a call opens with id, type and name`);
      } else assert.ok(call.id === undefined && call.function.name === undefined, `${label}: later deltas only add arguments`);
      assert.equal(typeof call.function.arguments, 'string', label);
    }
  }
  if (seen.size > 0) assert.equal(chunks[finishes[0]].choices[0].finish_reason, 'tool_calls', `${label}: calls end with tool_calls`);
}

describe('recorded native streams → OpenAI chunks', () => {
  for (const r of RECORDED) {
    for (const includeUsage of [false, true]) {
      it(`${r.name} (${r.provider} ${r.route}${includeUsage ? ', usage asked' : ''})`, () => {
        const run = runStream(contextFor(r, includeUsage), recording(r.name));
        assert.equal(run.done, true);
        assert.ok(run.output.endsWith('data: [DONE]\n\n'));
        assert.equal(run.output.indexOf('[DONE]'), run.output.length - '[DONE]\n\n'.length, '[DONE] once, at the end');
        const frames = clientFrames(run.output);
        assertFrames(frames, golden(goldenOf(r, includeUsage), frames), goldenFile(goldenOf(r, includeUsage)));
        assertOpenAIShape(frames, r.route, includeUsage, goldenOf(r, includeUsage));
        const chunks = frames.slice(0, -1) as Json[];

        assert.equal(assembledText(chunks), r.text);
        assert.equal(run.text, r.kept ?? r.text);
        // the three counts here; the kinds the provider reported (cache, reasoning) are in the goldens' usage chunks
        assert.deepEqual(run.usage && { prompt_tokens: run.usage.prompt_tokens, completion_tokens: run.usage.completion_tokens, total_tokens: run.usage.total_tokens }, r.usage);
        assert.equal(run.responseModel ?? 'test-model', r.model);
        const object = r.route === CHAT ? 'chat.completion.chunk' : 'text_completion';
        for (const chunk of chunks) assert.equal(chunk.object, object);
        assert.deepEqual(
          chunks.flatMap((c) => c.choices.map((choice: Json) => choice.finish_reason)).filter((f) => f != null),
          [r.finish],
        );
        if (r.route === CHAT) assert.equal(chunks[0].choices[0].delta.role, 'assistant', 'the first chunk names the role');

        const withUsage = chunks.filter((c) => c.usage != null);
        const usageOnly = chunks.filter((c) => c.choices.length === 0);
        if (includeUsage && r.usage) {
          assert.equal(withUsage.length, 1, 'usage reported once');
          const { prompt_tokens, completion_tokens, total_tokens } = withUsage[0].usage;
          assert.deepEqual({ prompt_tokens, completion_tokens, total_tokens }, r.usage);
        }
        if (!includeUsage) assert.equal(usageOnly.length, 0, 'no usage chunk the client did not ask for');
      });
    }
  }
});

describe('split invariance (T49): the golden frames however the bytes are cut', { skip: UPDATE_GOLDENS && 'writing goldens' }, () => {
  for (const r of RECORDED) {
    for (const includeUsage of [false, true]) {
      const name = goldenOf(r, includeUsage);
      it(`${r.name} (${r.provider} ${r.route}${includeUsage ? ', usage asked' : ''}) = ${goldenFile(name)}: cut at every byte, then at random places`, () => {
        assertSplitsMatchGolden(contextFor(r, includeUsage), recording(r.name), name);
      });
    }
  }

  it('byte-at-a-time delivery gives the golden frames', () => {
    for (const r of RECORDED) {
      for (const includeUsage of [false, true]) {
        const bytes = recording(r.name);
        const cuts = Array.from({ length: bytes.length }, (_, i) => i);
        const name = goldenOf(r, includeUsage);
        assertFrames(clientFrames(runStream(contextFor(r, includeUsage), bytes, cuts).output), golden(name), name);
      }
    }
  });
});

/** Every single cut and random sets of cuts give the golden frames, byte for byte the same output. */
function assertSplitsMatchGolden(ctx: ReturnType<typeof context>, bytes: Uint8Array, name: string): void {
  const expected = golden(name);
  const whole = runStream(ctx, bytes).output;
  assert.doesNotMatch(whole, /\uFFFD/);
  assertFrames(clientFrames(whole), expected, name);
  for (let cut = 0; cut <= bytes.length; cut++) {
    const output = runStream(ctx, bytes, [cut]).output;
    if (output !== whole) assertFrames(clientFrames(output), expected, `${name}, cut at ${cut}`);
    assert.equal(output, whole, `${name}, cut at ${cut}`);
  }
  fc.assert(
    fc.property(fc.uniqueArray(fc.integer({ min: 0, max: bytes.length }), { maxLength: 40 }), (cuts) => {
      const output = runStream(ctx, bytes, cuts.sort((a, b) => a - b)).output;
      if (output !== whole) assertFrames(clientFrames(output), expected, `${name}, cut at ${cuts.join(',')}`);
      assert.equal(output, whole);
    }),
    { numRuns: 200 },
  );
}

describe("Kong's recorded streams → golden OpenAI chunks", { skip: kongFixturesMissing ?? false }, () => {
  for (const c of RECORDED_STREAM_CASES) {
    for (const includeUsage of [false, true]) {
      const name = goldenName(c.golden, includeUsage);
      it(`${c.files.join(' + ')} (${c.provider} ${c.route}${includeUsage ? ', usage asked' : ''}) = ${goldenFile(name)}, cut at every byte`, () => {
        const bytes = new Uint8Array(Buffer.concat(c.files.map((f) => (c.encoding === 'base64' ? Buffer.from(fixtureText(f).trim(), 'base64') : Buffer.from(fixtureText(f))))));
        const ctx = context({ provider: c.provider, routeType: c.route, stream: true, includeUsage });
        const frames = clientFrames(runStream(ctx, bytes).output);
        assertFrames(frames, golden(name, frames), goldenFile(name));
        assertOpenAIShape(frames, c.route, includeUsage, name);
        if (!UPDATE_GOLDENS) assertSplitsMatchGolden(ctx, bytes, name);
      });
    }
  }
});

describe('recordings/ holds only what the tests read', () => {
  it('every recording is read, every golden belongs to a case, and no two cases share one', () => {
    const goldens = [
      ...RECORDED.flatMap((r) => [goldenOf(r, false), goldenOf(r, true)]),
      ...RECORDED_STREAM_CASES.flatMap((c) => [goldenName(c.golden, false), goldenName(c.golden, true)]),
    ].map(goldenFile);
    const perCase = RECORDED.map((r) => `${goldenOf(r, false)}`);
    assert.equal(new Set(perCase).size, perCase.length, 'one golden per case');
    const expected = new Set([...RECORDED.map((r) => r.name), ...OTHER_RECORDINGS, ...goldens]);
    const present = readdirSync(RECORDINGS);
    assert.deepEqual(present.filter((file) => !expected.has(file)), [], 'files no test reads (a stale golden?)');
    assert.deepEqual([...expected].filter((file) => !present.includes(file)).sort(), [], `missing: run UPDATE_GOLDENS=1 npm test -- llm-stream and review the *${GOLDEN_SUFFIX} files`);
  });
});

describe('frame decoders', () => {
  it('keeps a multi-byte character split across chunks intact', () => {
    const bytes = encode('data: é€🎉\n\n');
    for (let cut = 0; cut <= bytes.length; cut++) {
      assert.deepEqual(decodeAll('sse', bytes, [cut]), [{ event: undefined, data: 'é€🎉' }], `cut at ${cut}`);
    }
    const line = encode('{"t":"日本🎉"}\n');
    for (let cut = 0; cut <= line.length; cut++) assert.deepEqual(decodeAll('ndjson', line, [cut]), [{ event: undefined, data: '{"t":"日本🎉"}' }]);
  });

  it('rejects invalid UTF-8 and a stream ending inside a character', () => {
    for (const framing of ['sse', 'ndjson'] as const) {
      assert.throws(() => createFrameDecoder(framing).push(new Uint8Array([0x64, 0x61, 0xff, 0x0a])), TranslationError);
      assert.throws(() => createFrameDecoder(framing).push(new Uint8Array([0xc0, 0xaf])), TranslationError, 'overlong encoding');
      const decoder = createFrameDecoder(framing);
      decoder.push(new Uint8Array([0x61, 0xe2, 0x82]));
      assert.throws(() => decoder.end(), TranslationError);
    }
  });

  it('bounds what it buffers', () => {
    const sse = createFrameDecoder('sse', { maxEventSize: 100 });
    assert.throws(() => {
      for (let i = 0; i < 10; i++) sse.push(encode('data: 0123456789abcdef\n'));
    }, TranslationError);
    assert.throws(() => sse.push(encode('\n')), TranslationError, 'stays failed');
    const ndjson = createFrameDecoder('ndjson', { maxEventSize: 100 });
    assert.throws(() => {
      for (let i = 0; i < 10; i++) ndjson.push(encode('{"a":"0123456789abcdef"'));
    }, TranslationError);
    // Below the limit, many small events are fine however long the stream.
    const many = createFrameDecoder('sse', { maxEventSize: 100 });
    for (let i = 0; i < 1000; i++) assert.equal(many.push(encode(`data: ${i}\n\n`)).length, 1);
  });

  it('parses SSE as the specification says', () => {
    const text = ': comment\r\nevent: message_start\r\ndata: {"a":1}\r\n\r\ndata:no-space\rdata: two\r\rid: 7\nretry: 10\nunknown: x\ndata: [DONE]\n\ndata: never-ended\n';
    const expected: StreamEvent[] = [
      { event: 'message_start', data: '{"a":1}' },
      { event: undefined, data: 'no-space\ntwo' },
      { event: undefined, data: '[DONE]' },
    ];
    const bytes = encode(text);
    for (let cut = 0; cut <= bytes.length; cut++) assert.deepEqual(decodeAll('sse', bytes, [cut]), expected, `cut at ${cut}`);
  });

  it('parses NDJSON lines, skipping blank ones and keeping a last line without newline', () => {
    const bytes = encode('{"a":1}\r\n\n  \n{"b":2}\n\n\n{"c":3}');
    assert.deepEqual(decodeAll('ndjson', bytes).map((e) => e.data), ['{"a":1}', '{"b":2}', '{"c":3}']);
  });

  it('never throws anything but TranslationError on random bytes', () => {
    fc.assert(
      fc.property(fc.constantFrom('sse', 'ndjson', 'aws-eventstream' as const), fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), (framing, chunks) => {
        const decoder = createFrameDecoder(framing, { maxEventSize: 128 });
        try {
          for (const chunk of chunks) decoder.push(chunk);
          decoder.end();
        } catch (e) {
          if (!(e instanceof TranslationError)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('stream endings and errors', () => {
  it('gives no [DONE] for a truncated stream (T43)', () => {
    for (const r of RECORDED) {
      if (r.end === null) continue;
      const bytes = recording(r.name);
      const terminal = r.end === undefined ? lastEventStart(bytes) : eventStart(bytes, r.end);
      for (const cut of [Math.floor(bytes.length / 2), terminal]) {
        const ctx = contextFor(r, true);
        const driver = getDriver(ctx.provider);
        const decoder = createFrameDecoder(driver.streamFraming(ctx));
        const translator = driver.createStreamTranslator(ctx);
        let output = '';
        try {
          for (const event of [...decoder.push(bytes.subarray(0, cut)), ...decoder.end()]) output += translator.push(event);
        } catch (e) {
          // A line cut in half at EOF is malformed: a typed error, still no [DONE].
          assert.ok(e instanceof TranslationError, r.name);
        }
        assert.equal(translator.done, false, `${r.name} cut at ${cut}`);
        assert.equal(translator.finish(), '');
        assert.doesNotMatch(output, /\[DONE\]/);
      }
    }
  });

  it('reports provider error events as UpstreamStreamError after the text already sent', () => {
    const ctx = context({ provider: 'anthropic', stream: true });
    const driver = getDriver('anthropic');
    const translator = driver.createStreamTranslator(ctx);
    const decoder = createFrameDecoder('sse');
    let output = '';
    assert.throws(
      () => {
        for (const event of decoder.push(recording('anthropic-error.sse'))) output += translator.push(event);
      },
      (e: unknown) => e instanceof UpstreamStreamError && e.type === 'overloaded_error' && e.message === 'Overloaded',
    );
    assert.equal(assembledText(clientFrames(output)), 'Partial');
    assert.equal(translator.done, false);

    const cases: [ProviderName, Partial<ModelOptions>, LlmRouteType, string, string][] = [
      ['openai', {}, CHAT, 'data: {"error":{"message":"The server had an error","type":"server_error"}}\n\n', 'server_error'],
      ['cohere', {}, CHAT, '{"is_finished":true,"event_type":"stream-end","finish_reason":"ERROR_LIMIT","response":{"text":"too many"}}\n', 'rate_limit_error'],
      ['cohere', {}, COMPLETIONS, '{"event_type":"stream-error","is_finished":true,"finish_reason":"ERROR","err":"boom"}\n', 'upstream_error'],
      ['llama2', ollama, CHAT, '{"error":"model requires more system memory"}\n', 'upstream_error'],
      ['llama2', raw, CHAT, 'data:{"error":"Input validation error","error_type":"validation"}\n\n', 'validation'],
    ];
    for (const [provider, options, routeType, stream, type] of cases) {
      assert.throws(() => runStream(context({ provider, options, routeType, stream: true }), encode(stream)), (e: unknown) => e instanceof UpstreamStreamError && e.type === type, `${provider} ${type}`);
    }
  });

  it('reports malformed events as TranslationError', () => {
    const cases: [ProviderName, Partial<ModelOptions>, string][] = [
      ['openai', {}, 'data: {not json\n\n'],
      ['openai', {}, 'data: [1,2]\n\n'],
      ['anthropic', {}, 'event: message_start\ndata: {"type":"message_start",\n\n'],
      ['anthropic', {}, 'data: "text"\n\n'],
      ['cohere', {}, 'not json\n'],
      ['llama2', ollama, '[1,2]\n'],
      ['llama2', raw, 'data: nope\n\n'],
    ];
    for (const [provider, options, stream] of cases) {
      assert.throws(() => runStream(context({ provider, options, stream: true }), encode(stream)), (e: unknown) => e instanceof TranslationError && !e.message.startsWith('could not'), `${provider}: ${stream}`);
    }
  });

  it('reports the estimate when the provider gave no usage and the client asked', () => {
    const ctx = context({ provider: 'llama2', options: raw, stream: true, includeUsage: true });
    const driver = getDriver('llama2');
    const translator = driver.createStreamTranslator(ctx);
    for (const event of decodeAll('sse', recording('tgi.sse'))) translator.push(event);
    assert.equal(translator.usage(), null);
    const frames = clientFrames(translator.finish(usage(3, 4)));
    assert.deepEqual(frames, [{ id: 'chatcmpl-gateway', object: 'chat.completion.chunk', created: 1_700_000_000, model: 'test-model', choices: [], usage: usage(3, 4) }, '[DONE]']);
    assert.equal(translator.finish(usage(3, 4)), '', 'finish() only once');
  });

  it('ignores events after the provider ended', () => {
    const ctx = context({ provider: 'anthropic', stream: true });
    const translator = getDriver('anthropic').createStreamTranslator(ctx);
    translator.push({ event: 'message_stop', data: '{"type":"message_stop"}' });
    assert.equal(translator.done, true);
    assert.equal(translator.push({ event: 'content_block_delta', data: '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"late"}}' }), '');
    assert.equal(translator.text, '');
  });

  it('passes OpenAI events through verbatim', () => {
    const ctx = context({ provider: 'openai', stream: true, includeUsage: true });
    const bytes = recording('openai-chat.sse');
    const upstream = new TextDecoder().decode(bytes);
    assert.equal(runStream(ctx, bytes).output, upstream, 'with usage asked, the client gets the upstream bytes');
  });

  it('never throws anything but typed errors on random events (T50)', () => {
    const translators: { provider: ProviderName; options: Partial<ModelOptions> }[] = [
      { provider: 'openai', options: {} },
      { provider: 'anthropic', options: {} },
      { provider: 'cohere', options: {} },
      { provider: 'llama2', options: ollama },
      { provider: 'llama2', options: raw },
      { provider: 'mistral', options: { mistral_format: 'openai' } },
      { provider: 'gemini', options: {} },
      { provider: 'bedrock', options: {} },
      { provider: 'huggingface', options: {} },
      { provider: 'huggingface', options: { upstream_url: 'http://tgi/' } },
      { provider: 'groq', options: {} },
      { provider: 'deepseek', options: {} },
    ];
    const eventName = fc.constantFrom(
      undefined, 'message_start', 'content_block_start', 'content_block_delta', 'message_delta', 'message_stop', 'error', 'ping', 'x',
      'messageStart', 'contentBlockStart', 'contentBlockDelta', 'contentBlockStop', 'messageStop', 'metadata', 'exception:throttlingException', 'error:x',
    );
    const payload = fc.oneof(
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.string(),
      fc.constant('[DONE]'),
      fc
        .record(
          {
            type: fc.constantFrom('message_start', 'content_block_start', 'content_block_delta', 'message_delta', 'message_stop', 'error'),
            event_type: fc.constantFrom('stream-start', 'text-generation', 'stream-end', 'stream-error', 'x'),
            message: fc.jsonValue(),
            content_block: fc.jsonValue(),
            delta: fc.jsonValue(),
            index: fc.jsonValue(),
            usage: fc.jsonValue(),
            error: fc.jsonValue(),
            text: fc.jsonValue(),
            finish_reason: fc.jsonValue(),
            response: fc.jsonValue(),
            done: fc.boolean(),
            token: fc.jsonValue(),
            generated_text: fc.jsonValue(),
            details: fc.jsonValue(),
            choices: fc.jsonValue(),
            candidates: fc.oneof(fc.jsonValue(), fc.array(fc.record({ content: fc.record({ parts: fc.array(fc.record({ text: fc.jsonValue(), functionCall: fc.jsonValue(), thought: fc.jsonValue(), thoughtSignature: fc.jsonValue() }, { requiredKeys: [] })) }, { requiredKeys: [] }), finishReason: fc.jsonValue() }, { requiredKeys: [] }))),
            usageMetadata: fc.jsonValue(),
            promptFeedback: fc.jsonValue(),
            contentBlockIndex: fc.jsonValue(),
            start: fc.jsonValue(),
            stopReason: fc.jsonValue(),
            modelVersion: fc.jsonValue(),
          },
          { requiredKeys: [] },
        )
        .map((v) => JSON.stringify(v)),
    );
    fc.assert(
      fc.property(fc.constantFrom(...translators), fc.constantFrom(CHAT, COMPLETIONS), fc.boolean(), fc.array(fc.record({ event: eventName, data: payload }), { maxLength: 12 }), (config, routeType, includeUsage, events) => {
        const ctx = context({ provider: config.provider, options: config.options, routeType, stream: true, includeUsage });
        const translator = getDriver(config.provider).createStreamTranslator(ctx);
        try {
          for (const event of events) {
            const out = translator.push(event);
            assert.equal(typeof out, 'string');
          }
          translator.finish();
          void translator.text;
          void translator.usage();
        } catch (e) {
          if (e instanceof UpstreamStreamError) return;
          if (!(e instanceof TranslationError)) throw e;
          assert.doesNotMatch(e.message, /^could not translate/, 'the safety net caught a bug');
        }
      }),
      { numRuns: 3000 },
    );
  });
});

/** Offset where the last event or line starts: cutting there loses exactly the terminal event. */
/** Where the event (SSE) or message (AWS event stream) containing `marker` starts, as a byte offset. */
function eventStart(bytes: Uint8Array, marker: string): number {
  const at = Buffer.from(bytes).indexOf(marker);
  assert.ok(at > 0, marker);
  if (bytes[0] === 0) {
    // Event-stream messages: walk the length prefixes to the message holding the marker.
    let offset = 0;
    for (;;) {
      const total = new DataView(bytes.buffer, bytes.byteOffset + offset).getUint32(0);
      if (offset + total > at) return offset;
      offset += total;
    }
  }
  const before = Buffer.from(bytes).subarray(0, at).lastIndexOf('\n\n');
  return before === -1 ? 0 : before + 2;
}

function lastEventStart(bytes: Uint8Array): number {
  const text = new TextDecoder().decode(bytes).replace(/\n+$/, '');
  const sse = text.lastIndexOf('\n\n');
  const start = sse !== -1 && !text.trimStart().startsWith('{') ? sse + 2 : text.lastIndexOf('\n') + 1;
  // Back to a byte offset.
  return encode(text.slice(0, start)).length;
}
