import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { estimatePromptTokens, estimateTokens, MAX_TOKENIZED_CHARS, promptText } from '../../src/llm/tokens.ts';
import type { ClientRequest } from '../../src/llm/types.ts';

describe('estimateTokens', () => {
  it('counts with the o200k encoding', () => {
    assert.equal(estimateTokens(''), 0);
    assert.equal(estimateTokens('Hello world'), 2);
    assert.ok(estimateTokens('日本語のテキスト 🎉') > 0);
  });

  it('treats special-token text as text instead of throwing', () => {
    assert.ok(estimateTokens('before <|endoftext|> after <|im_start|>') > 3);
  });

  it('caps the work on huge inputs and extrapolates', () => {
    const huge = 'lorem ipsum dolor sit amet, '.repeat(100_000);
    assert.ok(huge.length > MAX_TOKENIZED_CHARS);
    const estimate = estimateTokens(huge);
    const exactPerRepeat = estimateTokens('lorem ipsum dolor sit amet, '.repeat(1000)) / 1000;
    assert.ok(Math.abs(estimate - exactPerRepeat * 100_000) / estimate < 0.05, `${estimate}`);
    // A cut inside a surrogate pair must not break.
    assert.ok(estimateTokens('a'.repeat(MAX_TOKENIZED_CHARS - 1) + '🎉'.repeat(10)) > 0);
  });

  it('bounds its work on huge or adversarial text: past a cap the count is extrapolated', () => {
    // The tokenizer's cost explodes on long runs without whitespace; the estimate only ever
    // tokenizes MAX_TOKENIZED_CHARS and scales, so a 1 MiB prompt costs what 32 KiB cost.
    const capped = 'a'.repeat(MAX_TOKENIZED_CHARS);
    const huge = 'a'.repeat(MAX_TOKENIZED_CHARS * 32);
    const ratio = estimateTokens(huge) / estimateTokens(capped);
    assert.ok(ratio > 30 && ratio < 34, `extrapolated, ratio ${ratio}`);
    for (const text of [huge, '🎉'.repeat(300_000)]) assert.ok(estimateTokens(text) > 0);
  });
});

describe('promptText and estimatePromptTokens', () => {
  it('joins message texts, text parts and tool call arguments', () => {
    const req = {
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: [{ type: 'text', text: 'Look:' }, { type: 'image_url', image_url: { url: 'https://x/y.png' } }] },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{"q":1}' } }] },
      ],
    } as ClientRequest;
    assert.equal(promptText(req), 'Be brief.\nLook:\n\n{"q":1}');
    assert.equal(estimatePromptTokens(req), estimateTokens(promptText(req)) + 3 * 3 + 3);
    assert.equal(promptText({ prompt: 'Say hi' } as ClientRequest), 'Say hi');
    assert.equal(estimatePromptTokens({ prompt: 'Say hi' } as ClientRequest), estimateTokens('Say hi'));
  });
});
