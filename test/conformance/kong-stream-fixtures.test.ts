/** Kong's stream fixtures: single provider frames and framing cases (cases-streams.ts). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { getDriver } from '../../src/llm/drivers/index.ts';
import { FRAME_CASES, FRAMING_CASES, framingFiles } from './cases-streams.ts';
import { HAVE_FIXTURES, clientFrames, context, decodeAll, fixtureJson, fixtureText } from './support.ts';
import { createFrameDecoder } from '../../src/llm/stream/index.ts';

const encode = (text: string) => new TextEncoder().encode(text);

describe('Kong stream fixtures', { skip: !HAVE_FIXTURES && 'Kong fixtures not found beside the checkout' }, () => {
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
        const bytes = encode(fixtureText(files.input));
        const expected = (fixtureJson(files.expected) as { data: string }[]).map((e) => e.data);
        assert.deepEqual(
          decodeAll(c.framing, bytes).map((e) => e.data),
          expected,
        );
        for (let cut = 1; cut < bytes.length; cut++) {
          assert.deepEqual(
            decodeAll(c.framing, bytes, [cut]).map((e) => e.data),
            expected,
            `cut at byte ${cut}`,
          );
        }
      });
    }
  });
});
