/** Kong's stream fixtures: single provider frames and framing cases (cases-streams.ts). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { getDriver } from '../../src/llm/drivers/index.ts';
import { FRAME_CASES, FRAMING_CASES, JSON_ARRAY_CASES, RECORDED_STREAM_CASES, framingFiles } from './cases-streams.ts';
import { kongFixturesMissing, assembledText, clientFrames, context, decodeAll, fixtureBytes, fixtureJson, fixtureText, runStream } from './support.ts';
import { createFrameDecoder } from '../../src/llm/stream/index.ts';

const encode = (text: string) => new TextEncoder().encode(text);

describe('Kong stream fixtures', { skip: kongFixturesMissing ?? false }, () => {
  describe('real provider frames -> OpenAI chunk choices', () => {
    for (const c of FRAME_CASES) {
      it(`${c.provider} ${c.route}: ${c.file}`, () => {
        const ctx = context({ provider: c.provider, routeType: c.route, stream: true });
        const driver = getDriver(c.provider);
        // The files hold one frame without the blank line that ends an SSE event.
        const decoder = createFrameDecoder(driver.streamFraming(ctx));
        const events = [...decoder.push(encode(`${fixtureText(c.file)}\n`)), ...decoder.end()];
        assert.equal(events.length, 1);
        const translator = driver.createStreamTranslator(ctx);
        const frames = clientFrames(translator.push(events[0]));
        assert.equal(frames.length, 1);
        assert.deepEqual((frames[0] as { choices: unknown }).choices, c.choices);
        assert.equal(translator.text, 'the answer');
      });
    }
  });

  describe('framing: bytes -> events', () => {
    for (const c of FRAMING_CASES) {
      const files = framingFiles(c);
      it(`${c.framing}: ${files.input} -> ${files.expected}, whatever the chunking`, () => {
        const bytes = fixtureBytes(files.input);
        const kong = (fixtureJson(files.expected) as { data: string }[]).map((e) => e.data);
        // Kong's entries as our events (AWS), or their data (SSE, NDJSON: our events' data).
        const expected: unknown[] = c.fromKong ? kong.map(c.fromKong) : kong;
        const decoded = (cuts: number[]): unknown[] => decodeAll(c.framing, bytes, cuts).map((e) => (c.fromKong ? e : e.data));
        assert.deepEqual(decoded([]), expected);
        for (let cut = 1; cut < bytes.length; cut++) assert.deepEqual(decoded([cut]), expected, `cut at byte ${cut}`);
      });
    }
  });

  describe('recorded provider streams -> OpenAI chunks, whatever the chunking', () => {
    for (const c of RECORDED_STREAM_CASES) {
      it(`${c.provider} ${c.route}: ${c.files.join(' + ')}`, () => {
        const bytes = new Uint8Array(Buffer.concat(c.files.map((f) => (c.encoding === 'base64' ? Buffer.from(fixtureText(f).trim(), 'base64') : Buffer.from(fixtureBytes(f))))));
        const ctx = context({ provider: c.provider, routeType: c.route, stream: true, includeUsage: true });
        const whole = runStream(ctx, bytes);
        assert.equal(whole.done, true);
        assert.deepEqual(whole.usage, c.usage);
        const frames = clientFrames(whole.output) as { choices?: { delta: { tool_calls?: { id?: string; function: { name?: string; arguments: string } }[] }; finish_reason: string | null }[] }[];
        assert.equal(frames.at(-1), '[DONE]');
        assert.equal(assembledText(frames), c.text);
        const calls: { id: string; name: string; arguments: string }[] = [];
        for (const frame of frames) {
          for (const call of frame.choices?.[0]?.delta.tool_calls ?? []) {
            if (call.id) calls.push({ id: call.id, name: call.function.name ?? '', arguments: '' });
            calls[calls.length - 1].arguments += call.function.arguments;
          }
        }
        assert.deepEqual(calls, c.toolCalls);
        assert.deepEqual(frames.flatMap((f) => (f.choices?.[0]?.finish_reason ? [f.choices[0].finish_reason] : [])), [c.finish]);
        for (let cut = 0; cut <= bytes.length; cut++) assert.equal(runStream(ctx, bytes, [cut]).output, whole.output, `cut at ${cut}`);
      });
    }
  });

  describe("Gemini's JSON-array streams, read whole", () => {
    for (const c of JSON_ARRAY_CASES) {
      it(c.inputs.join(' + '), () => {
        const body = c.inputs.map((f) => fixtureText(f)).join('');
        const ctx = context({ provider: 'gemini', model: 'gemini-1.5-flash' });
        const answer = JSON.parse(getDriver('gemini').parseResponse(body, ctx).body);
        const expected =
          'text' in c.expected
            ? fixtureText(c.expected.text)
            : c.expected.pieces
                .flatMap((f) => (fixtureJson(f) as { data: string }[]).map((e) => e.data))
                .filter((data) => data !== '[DONE]')
                .map((data) => (JSON.parse(data) as { candidates: { content: { parts: { text: string }[] } }[] }).candidates[0].content.parts[0].text)
                .join('');
        assert.equal(answer.choices[0].message.content, expected);
        assert.equal(answer.choices[0].finish_reason, 'stop');
        assert.ok(answer.usage.completion_tokens > 0);
      });
    }
  });
});
