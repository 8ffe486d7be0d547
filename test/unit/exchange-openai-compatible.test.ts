/**
 * The OpenAI-compatible format on the canonical exchange: the client's own body through the
 * allow-list (the pass-through fast path), every allow-list drop through the policy, provider
 * state for other providers left out cleanly, usage details read, reasoning from normalized servers.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { getDriver } from '../../src/llm/drivers/index.ts';
import { parseOpenAIRequest } from '../../src/exchange/inbound/openai-chat.ts';
import { providerBody } from '../../src/exchange/policy.ts';
import { RequestError } from '../../src/llm/types.ts';
import { buildFor, buildWithContext, context, parseFor, runStream } from '../conformance/support.ts';

const hi = { messages: [{ role: 'user', content: 'hi' }] };

describe('openai-compatible: requests', () => {
  it("passes the client's own messages array when nothing in it needs leaving out", () => {
    const body = { messages: [{ role: 'system', content: 's' }, { role: 'user', content: 'u' }], temperature: 0.2 };
    const req = parseOpenAIRequest(body, 'llm/v1/chat');
    const out = providerBody(getDriver('openai'), req, context({ provider: 'openai', model: 'gpt-4o' }));
    assert.equal(out.messages, body.messages, 'the very array: json-reuse copies its bytes');
  });

  it('leaves provider state and cache marks out cleanly, and takes an echoed answer', () => {
    const out = buildFor('openai', {
      messages: [
        { role: 'system', content: [{ type: 'text', text: 'rules', cache_control: { type: 'ephemeral' } }] },
        { role: 'user', content: 'q', cache_control: { type: 'ephemeral' } },
        { role: 'assistant', content: 'a', refusal: null, annotations: [], reasoning_content: 'r', reasoning_details: [{ type: 'reasoning.text', text: 'r', signature: 's', format: 'anthropic-claude-v1' }] },
        { role: 'user', content: 'again' },
      ],
      tools: [{ type: 'function', function: { name: 'f' }, cache_control: { type: 'ephemeral' } }],
    });
    assert.deepEqual(out.messages, [
      { role: 'system', content: [{ type: 'text', text: 'rules' }] },
      { role: 'user', content: 'q' },
      { role: 'assistant', content: 'a', refusal: null },
      { role: 'user', content: 'again' },
    ]);
    assert.deepEqual(out.tools, [{ type: 'function', function: { name: 'f' } }]);
  });

  it('OpenRouter keeps reasoning_details and cache marks (it takes them)', () => {
    const details = [{ type: 'reasoning.text', text: 'r', signature: 's', format: 'anthropic-claude-v1' }];
    const out = buildFor('openrouter', { messages: [{ role: 'user', content: 'q', cache_control: { type: 'ephemeral' } }, { role: 'assistant', content: 'a', reasoning_details: details }, { role: 'user', content: 'b' }] });
    assert.deepEqual(out.messages[0].cache_control, { type: 'ephemeral' });
    assert.deepEqual(out.messages[1].reasoning_details, details);
  });

  it('reports what the allow-list leaves out through the policy', () => {
    assert.throws(() => buildFor('openai', { ...hi, top_k: 5 }), (e: unknown) => e instanceof RequestError && e.message === 'top_k: not supported by the openai provider');
    assert.throws(() => buildFor('openai', { messages: [{ role: 'user', content: 'hi', color: 'blue' }] }), (e: unknown) => e instanceof RequestError && e.message === 'messages[0].color: not supported by the openai provider');
    const dropped = buildWithContext('openai', { messages: [{ role: 'user', content: 'hi', color: 'blue' }], top_k: 5 }, { policy: 'drop' });
    assert.deepEqual(dropped.body.messages, [{ role: 'user', content: 'hi' }]);
    assert.equal('top_k' in dropped.body, false);
    assert.deepEqual(dropped.ctx.dropped, ['top_k', 'messages[0].color']);
    const passed = buildWithContext('openai', { messages: [{ role: 'user', content: 'hi', color: 'blue' }], min_p: 0.1 }, { policy: 'pass' });
    assert.deepEqual(passed.body.messages, [{ role: 'user', content: 'hi', color: 'blue' }]);
    assert.equal(passed.body.min_p, 0.1);
    assert.deepEqual(passed.ctx.dropped, []);
    // a self-hosted server takes min_p natively: sent whatever the policy
    assert.equal(buildFor('vllm', { ...hi, min_p: 0.1, top_k: 3 }, { options: { upstream_url: 'http://v/v1' } }).min_p, 0.1);
  });
});

describe('openai-compatible: answers', () => {
  it('reads usage details and passes the bytes on', () => {
    const body = JSON.stringify({ id: 'x', object: 'chat.completion', model: 'o3', choices: [{ index: 0, message: { role: 'assistant', content: '2' }, finish_reason: 'stop' }], usage: { prompt_tokens: 10, completion_tokens: 30, total_tokens: 40, prompt_tokens_details: { cached_tokens: 8 }, completion_tokens_details: { reasoning_tokens: 20 } } });
    const t = getDriver('openai').parseResponse(body, context({ provider: 'openai' }));
    assert.equal(t.body, body);
    assert.deepEqual(t.usage, { prompt_tokens: 10, completion_tokens: 30, total_tokens: 40, prompt_tokens_details: { cached_tokens: 8 }, completion_tokens_details: { reasoning_tokens: 20 } });
    const deepseek = getDriver('deepseek').parseResponse(JSON.stringify({ choices: [], usage: { prompt_tokens: 5, completion_tokens: 1, prompt_cache_hit_tokens: 4 } }), context({ provider: 'deepseek' }));
    assert.deepEqual(deepseek.usage?.prompt_tokens_details, { cached_tokens: 4 });
  });

  it('normalized servers: reasoning as reasoning_content, {} for argument-less calls, neutral ids', () => {
    const answer = parseFor('huggingface', { id: 'x', choices: [{ message: { role: 'assistant', content: '', reasoning_content: 'think', tool_calls: [{ id: '0', type: 'function', function: { name: 'f', arguments: '' } }, { id: 'a:b', type: 'function', function: { name: 'g', arguments: { a: 1 } } }] }, finish_reason: 'stop' }] });
    const message = answer.choices[0].message;
    assert.equal(message.content, null);
    assert.equal(message.reasoning_content, 'think');
    assert.deepEqual(message.tool_calls.map((c: any) => c.function.arguments), ['{}', '{"a":1}']);
    for (const c of message.tool_calls) assert.match(c.id, /^[A-Za-z0-9_-]{1,64}$/);
  });

  it('normalized streams: reasoning deltas as reasoning_content', () => {
    const sse = ['{"id":"x","model":"m","choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":"hm"}}]}', '{"id":"x","choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":"stop"}]}', '[DONE]'].map((d) => `data: ${d}\n\n`).join('');
    const run = runStream(context({ provider: 'huggingface', stream: true }), new TextEncoder().encode(sse));
    assert.match(run.output, /"delta":\{"reasoning_content":"hm"\}/);
    assert.match(run.output, /"delta":\{"content":"ok"\}/);
  });
});
