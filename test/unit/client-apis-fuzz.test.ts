/**
 * No body crashes the client APIs' adapters (issue 18, "no input crashes a worker"): arbitrary
 * JSON, and arbitrary JSON grafted into otherwise valid Responses and Anthropic bodies, is either
 * parsed or refused with a RequestError (the client's 400), never another exception; and whatever
 * is parsed goes through every provider format without anything but a RequestError either.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { clientApi } from '../../src/exchange/apis/index.ts';
import { RequestError } from '../../src/llm/types.ts';
import { ExchangeContext } from '../../src/exchange/context.ts';
import { providerBody } from '../../src/exchange/policy.ts';
import { getDriver } from '../../src/llm/drivers/index.ts';
import { EMPTY_OPTIONS } from '../../src/plugins/ai-proxy/compile.ts';
import type { InboundFormat } from '../../src/exchange/types.ts';

const FORMATS: InboundFormat[] = ['openai-responses', 'anthropic-messages'];
const PROVIDERS = ['openai', 'anthropic', 'gemini', 'bedrock', 'cohere', 'mistral', 'huggingface'] as const;
const OPTIONS = {
  openai: {},
  anthropic: {},
  gemini: {},
  bedrock: { bedrock: { aws_region: 'us-east-1' } },
  cohere: {},
  mistral: { mistral_format: 'openai' },
  huggingface: {},
} as const;

/** A valid body of each API, to graft arbitrary values into. */
const VALID: Record<string, Record<string, unknown>> = {
  'openai-responses': { model: 'm', input: [{ role: 'user', content: 'hi' }], instructions: 'be brief', tools: [{ type: 'function', name: 'f', parameters: { type: 'object' } }] },
  'anthropic-messages': { model: 'm', max_tokens: 64, system: 'be brief', messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }], tools: [{ name: 'f', input_schema: { type: 'object' } }] },
};

const KEYS: Record<string, string[]> = {
  'openai-responses': ['input', 'instructions', 'tools', 'tool_choice', 'text', 'reasoning', 'max_output_tokens', 'temperature', 'include', 'metadata', 'store', 'parallel_tool_calls'],
  'anthropic-messages': ['messages', 'system', 'tools', 'tool_choice', 'thinking', 'max_tokens', 'temperature', 'top_k', 'stop_sequences', 'metadata', 'stream'],
};

function onlyRequestErrors(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof RequestError)) throw e;
  }
}

function throughEveryProvider(format: InboundFormat, value: unknown): void {
  let req;
  try {
    req = clientApi(format).parse(value);
  } catch (e) {
    if (e instanceof RequestError) return;
    throw e;
  }
  for (const provider of PROVIDERS) {
    const ctx = new ExchangeContext({ provider, routeType: 'llm/v1/chat', model: 'm', options: { ...EMPTY_OPTIONS, ...OPTIONS[provider], unsupported_params: 'drop' }, stream: false, includeUsage: true, inbound: format, request: req });
    onlyRequestErrors(() => providerBody(getDriver(provider), req, ctx));
  }
}

for (const format of FORMATS) {
  test(`${format}: arbitrary JSON is parsed or refused with a 400, never a crash`, () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => throughEveryProvider(format, value)),
      { numRuns: 300 },
    );
  });

  test(`${format}: arbitrary values in a valid body's fields are parsed or refused with a 400, never a crash`, () => {
    fc.assert(
      fc.property(fc.constantFrom(...KEYS[format]), fc.jsonValue({ maxDepth: 5 }), fc.nat(3), (key, value, where) => {
        const body = structuredClone(VALID[format]);
        // at the top level, or inside the first message / item
        const list = (format === 'openai-responses' ? body.input : body.messages) as Record<string, unknown>[];
        if (where === 0) list[0] = { ...list[0], [key === 'messages' || key === 'input' ? 'content' : key]: value };
        else body[key] = value;
        throughEveryProvider(format, body);
      }),
      { numRuns: 400 },
    );
  });
}

test('the valid bodies themselves parse', () => {
  for (const format of FORMATS) assert.equal(clientApi(format).parse(VALID[format]).source.format, format);
});
