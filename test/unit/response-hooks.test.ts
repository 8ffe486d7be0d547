/**
 * Response hooks (src/plugins/shared/response-hooks.ts): the sliding window catches a banned
 * phrase however a stream is cut and releases clean text unchanged and in order; chains feed each
 * hook's output to the next, sync or async; a hook's failure blocks (fail closed); the stream guard
 * renders only released text, flushing it before the finish and the end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ResponseBlockedError, ResponseChain, SlidingWindow, throughChain, type AnswerStream, type ResponseHookFactory } from '../../src/plugins/shared/response-hooks.ts';
import { answerGuard } from '../../src/plugins/ai-prompt-guard/handler.ts';
import { compileGuardPattern } from '../../src/plugins/ai-prompt-guard/regex.ts';
import { StreamGuard } from '../../src/plugins/ai-proxy/guard-answer.ts';
import { ExchangeContext } from '../../src/exchange/context.ts';
import { parseSse } from '../helpers/sse.ts';
import type { RequestContext } from '../../src/proxy/context.ts';
import type { CanonicalRequest } from '../../src/exchange/types.ts';

const REQUEST = { kind: 'chat', messages: [], sampling: {}, stream: true, includeUsage: false, passthrough: {}, dropped: [], source: { format: 'openai-chat', body: {} } } as unknown as CanonicalRequest;
const STREAM: AnswerStream = { channel: 'text', choice: 0, whole: false, api: 'openai-chat', request: REQUEST, provider: 'openai', model: 'gpt-4o', requestId: 'r1' };

/** Pushes `parts` through a fresh chain; the released text, or the refusal. */
async function run(factories: ResponseHookFactory[], parts: string[]): Promise<string | ResponseBlockedError> {
  const chain = ResponseChain.create(factories, STREAM)!;
  let out = '';
  try {
    for (const p of parts) out += await chain.push(p);
    out += await chain.flush();
  } catch (e) {
    if (e instanceof ResponseBlockedError) return e;
    throw e;
  }
  return out;
}

/** Every way to cut `text` into three pieces (two cut points, empty pieces included). */
function* cuts(text: string): Generator<string[]> {
  for (let i = 0; i <= text.length; i++) for (let j = i; j <= text.length; j++) yield [text.slice(0, i), text.slice(i, j), text.slice(j)];
}

const guard = (window: number) => answerGuard([compileGuardPattern('(?i)open\\s+sesame')], window);

test('a banned phrase split at every chunk boundary is still caught (window as long as the match)', async () => {
  const text = 'Say the words: Open  Sesame, and the door opens.';
  for (const parts of cuts(text)) {
    const r = await run([guard(16)], parts);
    assert.ok(r instanceof ResponseBlockedError, `not caught when cut as ${JSON.stringify(parts)}`);
    assert.equal(r.rule, 'ai-prompt-guard');
    assert.ok(!r.clientMessage.toLowerCase().includes('sesame'), 'the client message never repeats the matched text');
  }
});

test('clean text is released unchanged and in order, holding back at most the window', async () => {
  const text = 'The door stays shut; nothing to say here at all, really.';
  for (const parts of cuts(text)) assert.equal(await run([guard(16)], parts), text);
  const hook = new SlidingWindow(8, (t) => t);
  assert.equal(hook.push('0123456789abcdef'), '01234567');
  assert.equal(hook.push('gh'), '89');
  assert.equal(hook.flush(), 'abcdefgh');
});

test('a cut never splits a surrogate pair', () => {
  const hook = new SlidingWindow(1, (t) => t);
  const released = hook.push('ab😀');
  assert.equal(released, 'ab');
  assert.equal(hook.flush(), '😀');
});

test('chaining: each hook is pushed what the one before released, in plugin order; sync and async mixed', async () => {
  const seen: string[] = [];
  const upper: ResponseHookFactory = { rule: 'upper', create: () => ({ window: 0, push: (t) => t.toUpperCase(), flush: () => '' }) };
  const slowTag: ResponseHookFactory = {
    rule: 'tag',
    create: () => ({
      window: 0,
      push: async (t) => {
        seen.push(t);
        await new Promise((r) => setImmediate(r));
        return `[${t}]`;
      },
      flush: () => '',
    }),
  };
  assert.equal(await run([upper, slowTag], ['ab', 'cd']), '[AB][CD]');
  assert.deepEqual(seen, ['AB', 'CD']);
  // the other order: the async hook first
  assert.equal(await run([slowTag, upper], ['ab']), '[AB]');
  // a synchronous chain answers without a promise
  const chain = ResponseChain.create([upper], STREAM)!;
  assert.equal(chain.push('x'), 'X');
  assert.equal(typeof throughChain(ResponseChain.create([upper], STREAM)!, 'y'), 'string');
});

test('a flush goes through the rest of the chain: a tail released at the end is still judged by the next hook', async () => {
  const holdAll: ResponseHookFactory = { rule: 'hold', create: () => new SlidingWindow(1000, (t) => t) };
  const r = await run([holdAll, guard(16)], ['open ', 'sesame']);
  assert.ok(r instanceof ResponseBlockedError);
});

test('a hook that fails blocks (fail closed), naming its rule', async () => {
  const broken: ResponseHookFactory = { rule: 'broken', create: () => ({ window: 0, push: () => Promise.reject(new Error('connection refused')), flush: () => '' }) };
  const r = await run([broken], ['hello']);
  assert.ok(r instanceof ResponseBlockedError);
  assert.equal(r.rule, 'broken');
  assert.equal(r.code, 'response_check_failed');
  const throwing: ResponseHookFactory = { rule: 'throwing', create: () => ({ window: 0, push: () => { throw new TypeError('bug'); }, flush: () => '' }) };
  const t = await run([throwing], ['hello']);
  assert.ok(t instanceof ResponseBlockedError && t.rule === 'throwing');
});

test('the channel filter: a text-only hook is not made for reasoning', () => {
  const f: ResponseHookFactory = { rule: 'x', create: () => new SlidingWindow(0, (t) => t) };
  assert.equal(ResponseChain.create([f], { ...STREAM, channel: 'reasoning' }), null);
  assert.notEqual(ResponseChain.create([{ ...f, channels: ['reasoning'] }], { ...STREAM, channel: 'reasoning' }), null);
});

function guarded(factories: ResponseHookFactory[]) {
  const ctx = { responseHooks: factories, requestId: 'r1' } as unknown as RequestContext;
  const driver = new ExchangeContext({ provider: 'openai', routeType: 'llm/v1/chat', model: 'gpt-4o', options: {} as never, stream: true, includeUsage: false, inbound: 'openai-chat', id: 'chatcmpl-1', now: 1 });
  const guard = new StreamGuard(ctx, driver, REQUEST);
  driver.wrapSink = guard.wrap;
  return { guard, sink: driver.createSink() };
}

/** The content deltas and the finish reason of OpenAI chat frames, in order. */
function contents(frames: string): string[] {
  const out: string[] = [];
  for (const e of parseSse(frames)) {
    if (e.data === '[DONE]') {
      out.push('[DONE]');
      continue;
    }
    const c = e.data.choices?.[0];
    if (c?.delta?.content) out.push(c.delta.content);
    if (c?.finish_reason) out.push(`finish:${c.finish_reason}`);
  }
  return out;
}

test('stream guard: only released text is rendered; the tail is flushed before the finish and [DONE]', async () => {
  const { guard, sink } = guarded([guard16()]);
  assert.equal(sink.start(), '');
  let frames = '';
  for (const piece of ['Hello ', 'there, ', 'this is ', 'a clean ', 'answer.']) {
    assert.equal(sink.text(piece), '', 'the translator gets no frame: the guard renders');
    frames += await guard.drain();
  }
  sink.finish('stop');
  sink.done();
  frames += await guard.drain();
  const seen = contents(frames);
  assert.deepEqual(seen.slice(-2), ['finish:stop', '[DONE]']);
  assert.equal(seen.slice(0, -2).join(''), 'Hello there, this is a clean answer.');
  assert.equal(guard.released, 'Hello there, this is a clean answer.');
});

function guard16(): ResponseHookFactory {
  return guard(16);
}

test('stream guard: a tool call after text comes after the text held back', async () => {
  const { guard, sink } = guarded([guard16()]);
  sink.start();
  sink.text('Let me look that up.');
  sink.toolCalls([{ index: 0, id: 'call_1', name: 'lookup', arguments: '{}' }]);
  sink.finish('tool_calls');
  sink.done();
  const frames = await guard.drain();
  const order = parseSse(frames)
    .filter((e) => e.data !== '[DONE]')
    .map((e) => e.data.choices?.[0]?.delta)
    .filter((d) => d && (d.content || d.tool_calls))
    .map((d) => (d.content ? 'text' : 'tool'));
  assert.deepEqual(order.slice(-1), ['tool']);
  assert.ok(order.indexOf('tool') > order.lastIndexOf('text'));
});

test('stream guard: a blocked answer throws before anything of the phrase is rendered', async () => {
  const { guard, sink } = guarded([guard16()]);
  sink.start();
  let frames = '';
  let blocked: unknown = null;
  try {
    for (const piece of ['Fine text first. ', 'Now: open ', 'sesame!']) {
      sink.text(piece);
      frames += await guard.drain();
    }
  } catch (e) {
    blocked = e;
  }
  assert.ok(blocked instanceof ResponseBlockedError);
  assert.ok(!frames.toLowerCase().includes('open'), 'nothing of the banned phrase reached the client');
});
