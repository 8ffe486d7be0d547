/**
 * The strict Gemini mock for issue 17's features, and the Gemini format against it: thought
 * signatures required back on Gemini 3 function calls (and restored by the format from the
 * ReasoningPart the gateway attaches), responseJsonSchema honoured, thoughts with includeThoughts,
 * usage with thoughtsTokenCount and implicit-cache cachedContentTokenCount.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startMockProvider } from '../mocks/providers.ts';
import { THOUGHT_TOKENS } from '../mocks/gemini.ts';
import { geminiFormat } from '../../src/llm/formats/gemini.ts';
import { RequestError, type DriverContext, type ModelOptions } from '../../src/llm/types.ts';
import type { CanonicalRequest, CanonicalResponse, Message, ReasoningPart } from '../../src/exchange/types.ts';

type Json = Record<string, any>;
type Mock = Awaited<ReturnType<typeof startMockProvider>>;

const OPTIONS: ModelOptions = {
  max_tokens: null, temperature: null, top_p: null, top_k: null, anthropic_version: null, azure_instance: null, azure_api_version: null,
  azure_deployment_id: null, llama2_format: null, mistral_format: null, upstream_url: null, upstream_path: null, input_cost: null, output_cost: null,
};

function context(model: string): DriverContext {
  return {
    provider: 'gemini', routeType: 'llm/v1/chat', model, options: OPTIONS, stream: false, includeUsage: false, now: 1_700_000_000, id: 'chatcmpl-mock',
    inbound: 'openai-chat', policy: 'error',
    unsupported(path: string): void {
      throw new RequestError(`${path}: not supported`);
    },
    drop: () => undefined,
    createSink: () => {
      throw new Error('not streamed here');
    },
    renderResponse: (response) => JSON.stringify(response),
  };
}

function request(messages: Message[], extra: Partial<CanonicalRequest> = {}): CanonicalRequest {
  return { kind: 'chat', messages, sampling: {}, stream: false, includeUsage: false, passthrough: {}, dropped: [], source: { format: 'openai-chat', body: {} }, ...extra };
}

const user = (text: string): Message => ({ role: 'user', parts: [{ type: 'text', text }] });
const weather = { type: 'function' as const, name: 'weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } };

let mock: Mock;
before(async () => {
  mock = await startMockProvider('gemini', { models: '*' });
});
after(() => mock.close());

async function post(model: string, body: unknown): Promise<{ status: number; json: Json }> {
  const res = await fetch(`${mock.url}/v1beta/models/${model}:generateContent`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-goog-api-key': 'gemini-test' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Json };
}

/** The format's body for `req`, sent to the mock, the answer parsed by the format. */
async function exchange(model: string, req: CanonicalRequest): Promise<{ status: number; json: Json; answer?: CanonicalResponse }> {
  const ctx = context(model);
  const { status, json } = await post(model, geminiFormat.buildRequest(req, ctx));
  return { status, json, answer: status === 200 ? (geminiFormat.parseResponse(JSON.stringify(json), ctx) as CanonicalResponse) : undefined };
}

describe('gemini mock: thought signatures', () => {
  it('signs Gemini 3 function calls, refuses them back unsigned, and takes them back signed (the format restores the signature)', async () => {
    const model = 'gemini-3-pro-preview';
    const first = await exchange(model, request([user('Weather in Oslo?')], { tools: [weather], toolChoice: { type: 'required' } }));
    assert.equal(first.status, 200);
    const parts = first.answer!.choices[0].parts;
    const call = parts.find((p) => p.type === 'tool_call')!;
    const state = parts.filter((p): p is ReasoningPart => p.type === 'reasoning' && p.signature !== undefined);
    assert.equal(state.length, 1);
    assert.deepEqual({ provider: state[0].provider, toolCallId: state[0].toolCallId }, { provider: 'gemini', toolCallId: (call as { id: string }).id });
    assert.doesNotMatch((call as { id: string }).id, /__thought__/);

    const result: Message = { role: 'tool', parts: [{ type: 'tool_result', toolCallId: (call as { id: string }).id, content: [{ type: 'text', text: '{"temp":3}' }] }] };
    // Sent back as it came, with the gateway's ReasoningPart: accepted.
    const signed = await exchange(model, request([user('Weather in Oslo?'), { role: 'assistant', parts: [...state, call] }, result], { tools: [weather] }));
    assert.equal(signed.status, 200);
    // Without it, hand-built: Gemini's 400.
    const unsigned = await post(model, {
      contents: [
        { role: 'user', parts: [{ text: 'Weather in Oslo?' }] },
        { role: 'model', parts: [{ functionCall: { name: 'weather', args: {} } }] },
        { role: 'user', parts: [{ functionResponse: { name: 'weather', response: { temp: 3 } } }] },
      ],
    });
    assert.equal(unsigned.status, 400);
    assert.equal(unsigned.json.error.status, 'INVALID_ARGUMENT');
    assert.match(unsigned.json.error.message, /^Function call is missing a thought_signature in functionCall parts\. .*default_api:weather/);
  });

  it('takes an OpenAI-originated conversation (no signatures) through the format, and refuses a signature that is not bytes', async () => {
    const model = 'gemini-3-pro-preview';
    const answer = await exchange(
      model,
      request(
        [
          user('Weather in Oslo?'),
          { role: 'assistant', parts: [{ type: 'tool_call', id: 'call_openai_1', name: 'weather', arguments: '{"city":"Oslo"}' }] },
          { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'call_openai_1', content: [{ type: 'text', text: 'cold' }] }] },
        ],
        { tools: [weather] },
      ),
    );
    assert.equal(answer.status, 200);
    const bad = await post(model, { contents: [{ role: 'user', parts: [{ text: 'x' }] }, { role: 'model', parts: [{ text: 'y', thoughtSignature: 'not base64!' }] }, { role: 'user', parts: [{ text: 'z' }] }] });
    assert.equal(bad.status, 400);
    assert.match(bad.json.error.message, /thought_signature' \(TYPE_BYTES\), Base64 decoding failed/);
  });

  it('signs the last part of a Gemini 3 answer without calls: reasoning state without a call id', async () => {
    const { answer } = await exchange('gemini-3-pro-preview', request([user('Hi')]));
    const state = answer!.choices[0].parts.filter((p): p is ReasoningPart => p.type === 'reasoning');
    assert.equal(state.length, 1);
    assert.equal(state[0].toolCallId, undefined);
  });
});

describe('gemini mock: thinking, structured output, usage', () => {
  it('answers thoughts with includeThoughts, reports thought tokens, refuses budget and level together', async () => {
    const { status, answer } = await exchange('gemini-2.5-flash', request([user('Why is the sky blue?')], { reasoning: { effort: 'low' } }));
    assert.equal(status, 200);
    const [first] = answer!.choices[0].parts;
    assert.equal(first.type, 'reasoning');
    assert.notEqual((first as ReasoningPart).text, '');
    assert.equal(answer!.usage!.completion_tokens_details?.reasoning_tokens, THOUGHT_TOKENS);
    assert.equal(answer!.usage!.total_tokens, answer!.usage!.prompt_tokens + answer!.usage!.completion_tokens);
    // Thinking off on 2.5 Flash: no thoughts, no signature.
    const off = await exchange('gemini-2.5-flash', request([user('Why?')], { reasoning: { effort: 'none' } }));
    assert.equal(off.answer!.usage!.completion_tokens_details, undefined);
    assert.ok(off.answer!.choices[0].parts.every((p) => p.type !== 'reasoning'));
    // Gemini 3 gets a level it takes.
    assert.equal((await exchange('gemini-3-pro-preview', request([user('Why?')], { reasoning: { effort: 'high' } }))).status, 200);
    const both = await post('gemini-3-pro-preview', { contents: [{ parts: [{ text: 'x' }] }], generationConfig: { thinkingConfig: { thinkingBudget: 10, thinkingLevel: 'low' } } });
    assert.equal(both.status, 400);
    const pro = await post('gemini-2.5-pro', { contents: [{ parts: [{ text: 'x' }] }], generationConfig: { thinkingConfig: { thinkingBudget: 0 } } });
    assert.equal(pro.json.error.message, 'Budget 0 is invalid. This model only works in thinking mode.');
  });

  it('answers JSON that matches a responseJsonSchema, and refuses a schema without the JSON MIME type', async () => {
    const schema = { type: 'object', properties: { city: { type: 'string' }, population: { type: 'integer' }, tags: { type: 'array', items: { type: 'string', enum: ['big', 'small'] } } }, required: ['city'], additionalProperties: false };
    const { answer } = await exchange('gemini-2.5-flash', request([user('A city?')], { output: { type: 'json_schema', name: 'city', schema } }));
    const text = answer!.choices[0].parts.filter((p) => p.type === 'text').map((p) => (p as { text: string }).text).join('');
    const value = JSON.parse(text);
    assert.equal(typeof value.city, 'string');
    assert.equal(value.population, 1);
    assert.deepEqual(value.tags, ['big']);
    const plain = await exchange('gemini-2.0-flash', request([user('JSON please')], { output: { type: 'json_object' } }));
    assert.ok(JSON.parse((plain.answer!.choices[0].parts[0] as { text: string }).text));
    const noMime = await post('gemini-2.5-flash', { contents: [{ parts: [{ text: 'x' }] }], generationConfig: { responseJsonSchema: schema } });
    assert.equal(noMime.status, 400);
    const both = await post('gemini-2.5-flash', { contents: [{ parts: [{ text: 'x' }] }], generationConfig: { responseMimeType: 'application/json', responseJsonSchema: schema, responseSchema: { type: 'object' } } });
    assert.equal(both.status, 400);
  });

  it('reports a repeated prompt prefix as cached tokens (implicit caching)', async () => {
    const history = [{ role: 'system', parts: [{ type: 'text', text: 'You are a very careful assistant with a long system prompt.' }] }, user('First question about caching')] as Message[];
    const first = await exchange('gemini-2.0-flash', request(history));
    assert.equal(first.answer!.usage!.prompt_tokens_details, undefined);
    const second = await exchange('gemini-2.0-flash', request([...history, { role: 'assistant', parts: [{ type: 'text', text: 'An answer.' }] }, user('And a follow-up?')]));
    const cached = second.answer!.usage!.prompt_tokens_details?.cached_tokens;
    assert.ok(cached !== undefined && cached > 0 && cached < second.answer!.usage!.prompt_tokens, String(cached));
  });
});
