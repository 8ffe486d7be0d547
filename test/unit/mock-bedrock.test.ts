/**
 * The strict Bedrock Converse mock, called directly (no server, no SigV4): cache points, reasoning
 * content with signatures, thinking rules, forced tool calls answered with schema inputs, the
 * zero-input tool stream, cache usage, as the Converse reference describes them; and round trips
 * through the Bedrock format (the signed reasoning of one answer is accepted next turn, a
 * structured answer and a streamed tool call come out as an OpenAI client expects).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { HandlerCtx, Reply } from '../mocks/server.ts';
import { Ids } from '../mocks/text.ts';
import { bedrockProvider, MOCK_REASONING, signatureOf } from '../mocks/bedrock.ts';
import { AwsEventStreamDecoder } from '../../src/llm/stream/aws-eventstream.ts';
import { bedrockConverseFormat, RESPONSE_TOOL } from '../../src/llm/formats/bedrock-converse.ts';
import { ExchangeContext } from '../../src/exchange/context.ts';
import type { ModelOptions, StreamEvent } from '../../src/llm/types.ts';
import type { CanonicalRequest, CanonicalResponse, Message } from '../../src/exchange/types.ts';

type Json = Record<string, any>;
const CLAUDE = 'anthropic.claude-sonnet-4-5-20250929-v1:0';

function call(handle: (ctx: HandlerCtx) => Reply, model: string, json: Json, stream = false): Reply {
  const path = `/model/${encodeURIComponent(model)}/${stream ? 'converse-stream' : 'converse'}`;
  const req = { method: 'POST', path, query: {}, headers: {}, body: JSON.stringify(json), json, seq: 1 } as unknown as HandlerCtx['req'];
  return handle({ req, path, text: 'Paris is the capital.', forceStream: false, chunks: null, ids: new Ids(1_700_000_000) });
}

const provider = (model = CLAUDE) => {
  const mock = bedrockProvider({ credentials: null, models: '*' });
  return (body: Json, stream = false) => call((c) => mock.handle(c), model, { messages: [{ role: 'user', content: [{ text: 'hi' }] }], ...body }, stream);
};

function json(reply: Reply): { status: number; body: Json } {
  assert.equal(reply.kind, 'json');
  return { status: reply.status, body: reply.body as Json };
}

function events(reply: Reply): StreamEvent[] {
  assert.equal(reply.kind, 'stream');
  const decoder = new AwsEventStreamDecoder(1 << 20);
  return reply.frames.flatMap((f) => decoder.push(f as Uint8Array));
}

const error = (reply: Reply): string => {
  const { status, body } = json(reply);
  assert.equal(status, 400, JSON.stringify(body));
  return body.message;
};

const point = { cachePoint: { type: 'default' } };
const TOOL = { toolSpec: { name: 'get_weather', inputSchema: { json: { type: 'object', properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } }, required: ['city', 'unit'] } } } };
const NOW = { toolSpec: { name: 'get_time', inputSchema: { json: { type: 'object', properties: {} } } } };

describe('bedrock mock: prompt caching', () => {
  it('cache points follow content, in system, messages and tools; at most 4; type default and a known ttl', () => {
    const send = provider();
    assert.equal(json(send({ system: [{ text: 'Rules' }, point], toolConfig: { tools: [TOOL, point] } })).status, 200);
    assert.equal(json(send({ messages: [{ role: 'user', content: [{ text: 'doc' }, { cachePoint: { type: 'default', ttl: '1h' } }, { text: 'q' }] }] })).status, 200);
    assert.match(error(send({ system: [point, { text: 'Rules' }] })), /cachePoint at system\.0 must follow a content block/);
    assert.match(error(send({ messages: [{ role: 'user', content: [{ text: 'a' }, point, point] }] })), /must follow a content block/);
    assert.match(error(send({ toolConfig: { tools: [point, TOOL] } })), /must follow a content block/);
    assert.match(error(send({ system: [{ text: 'Rules' }, { cachePoint: { type: 'ephemeral' } }] })), /Member must satisfy enum value set: \[default\]/);
    assert.match(error(send({ system: [{ text: 'Rules' }, { cachePoint: { type: 'default', ttl: '10m' } }] })), /enum value set: \[5m, 1h\]/);
    const five = [{ text: 'a' }, point, { text: 'b' }, point, { text: 'c' }, point, { text: 'd' }, point, { text: 'e' }, point];
    assert.match(error(send({ messages: [{ role: 'user', content: five }] })), /maximum of 4 cachePoint blocks/);
  });

  it('the first request with a cached prefix writes it, the next reads it; inputTokens counts the rest', () => {
    const send = provider();
    const body = { system: [{ text: 'one two three four five' }, point], messages: [{ role: 'user', content: [{ text: 'six seven' }] }] };
    assert.deepEqual(json(send(body)).body.usage, { inputTokens: 2, outputTokens: 4, totalTokens: 11, cacheReadInputTokens: 0, cacheWriteInputTokens: 5 });
    assert.deepEqual(json(send(body)).body.usage, { inputTokens: 2, outputTokens: 4, totalTokens: 11, cacheReadInputTokens: 5, cacheWriteInputTokens: 0 });
    // without cache points, no cache fields
    assert.deepEqual(json(send({})).body.usage, { inputTokens: 1, outputTokens: 4, totalTokens: 5 });
  });
});

describe('bedrock mock: reasoning', () => {
  it('answers signed reasoning first when Claude thinking is on; streams reasoning deltas then the signature', () => {
    const send = provider();
    const thinking = { additionalModelRequestFields: { thinking: { type: 'enabled', budget_tokens: 1024 } }, inferenceConfig: { maxTokens: 2048 } };
    const answer = json(send(thinking)).body;
    assert.deepEqual(answer.output.message.content[0], { reasoningContent: { reasoningText: { text: MOCK_REASONING, signature: signatureOf(MOCK_REASONING) } } });
    assert.deepEqual(answer.output.message.content[1], { text: 'Paris is the capital.' });
    const streamed = events(send(thinking, true)).map((e) => ({ type: e.event, data: JSON.parse(e.data) }));
    const reasoning = streamed.filter((e) => e.type === 'contentBlockDelta' && e.data.contentBlockIndex === 0).map((e) => e.data.delta.reasoningContent);
    assert.equal(reasoning.map((r) => r.text ?? '').join(''), MOCK_REASONING);
    assert.deepEqual(reasoning.at(-1), { signature: signatureOf(MOCK_REASONING) });
    assert.ok(streamed.some((e) => e.type === 'contentBlockDelta' && e.data.contentBlockIndex === 1 && typeof e.data.delta.text === 'string'));
  });

  it("refuses what Claude's extended thinking refuses", () => {
    const send = provider();
    const on = (budget: number, extra: Json = {}) => ({ additionalModelRequestFields: { thinking: { type: 'enabled', budget_tokens: budget }, ...extra.fields }, inferenceConfig: { maxTokens: 4096, ...extra.config }, ...extra.body });
    assert.match(error(send(on(500))), /budget_tokens: Input should be greater than or equal to 1024/);
    assert.match(error(send(on(4096))), /`max_tokens` must be greater than `thinking.budget_tokens`/);
    assert.match(error(send(on(1024, { config: { temperature: 0.5 } }))), /`temperature` may only be set to 1/);
    assert.match(error(send(on(1024, { fields: { top_k: 5 } }))), /`top_k` must be unset/);
    assert.match(error(send(on(1024, { body: { toolConfig: { tools: [TOOL], toolChoice: { any: {} } } } }))), /Thinking may not be enabled when tool_choice forces tool use/);
    assert.equal(json(send(on(1024, { body: { toolConfig: { tools: [TOOL], toolChoice: { auto: {} } } } }))).status, 200);
    assert.match(error(send(on(1024, { config: { topP: 0.5 } }))), /`top_p` must be greater than or equal to 0.95/);
    // a tool loop continued with thinking needs the turn's own thinking first
    const loop = (first: Json[]) => ({
      messages: [
        { role: 'user', content: [{ text: 'q' }] },
        { role: 'assistant', content: [...first, { toolUse: { toolUseId: 'tooluse_1', name: 'get_weather', input: { city: 'Paris', unit: 'celsius' } } }] },
        { role: 'user', content: [{ toolResult: { toolUseId: 'tooluse_1', content: [{ text: 'sunny' }] } }] },
      ],
      toolConfig: { tools: [TOOL] },
    });
    assert.match(error(send(on(1024, { body: loop([]) }))), /Expected `thinking` or `redacted_thinking`, but found `toolUse`/);
    assert.equal(json(send(on(1024, { body: loop([{ reasoningContent: { reasoningText: { text: MOCK_REASONING, signature: signatureOf(MOCK_REASONING) } } }]) }))).status, 200);
    // Claude 4.5 and later: temperature or top_p
    assert.match(error(send({ inferenceConfig: { temperature: 0.5, topP: 0.9 } })), /cannot both be specified/);
    assert.equal(json(provider('anthropic.claude-3-5-sonnet-20240620-v1:0')({ inferenceConfig: { temperature: 0.5, topP: 0.9 } })).status, 200);
    // a field the model does not take
    assert.match(error(provider('meta.llama3-1-8b-instruct-v1:0')({ additionalModelRequestFields: { thinking: { type: 'enabled', budget_tokens: 1024 } } })), /extraneous key \[thinking\]/);
  });

  it('reasoning in assistant turns: Claude wants it first and signed as it was given', () => {
    const send = provider();
    const turn = (content: Json[]) => send({ messages: [{ role: 'user', content: [{ text: 'q' }] }, { role: 'assistant', content }, { role: 'user', content: [{ text: 'and?' }] }] });
    const signed = { reasoningContent: { reasoningText: { text: MOCK_REASONING, signature: signatureOf(MOCK_REASONING) } } };
    assert.equal(json(turn([signed, { text: 'A.' }])).status, 200);
    assert.equal(json(turn([{ reasoningContent: { redactedContent: 'b3BhcXVl' } }, { text: 'A.' }])).status, 200);
    assert.match(error(turn([{ text: 'A.' }, signed])), /thinking blocks must come first/);
    assert.match(error(turn([{ reasoningContent: { reasoningText: { text: 'x' } } }, { text: 'A.' }])), /signature: Field required/);
    assert.match(error(turn([{ reasoningContent: { reasoningText: { text: 'tampered', signature: signatureOf(MOCK_REASONING) } } }, { text: 'A.' }])), /Invalid `signature`/);
    assert.match(error(send({ messages: [{ role: 'user', content: [{ text: 'q' }, signed] }] })), /only allowed in assistant messages/);
  });

  it('Nova 2 takes reasoningConfig and answers redacted reasoning', () => {
    const send = provider('us.amazon.nova-2-lite-v1:0');
    const answer = json(send({ additionalModelRequestFields: { reasoningConfig: { type: 'enabled', maxReasoningEffort: 'low' } } })).body;
    assert.deepEqual(answer.output.message.content[0], { reasoningContent: { reasoningText: { text: '[REDACTED]' } } });
    assert.match(error(send({ additionalModelRequestFields: { reasoningConfig: { type: 'enabled', maxReasoningEffort: 'max' } } })), /maxReasoningEffort/);
  });
});

describe('bedrock mock: tools', () => {
  it('a forced tool is answered with an input that satisfies its schema; a tool without properties streams one empty input delta', () => {
    const send = provider();
    const answer = json(send({ toolConfig: { tools: [TOOL], toolChoice: { tool: { name: 'get_weather' } } } })).body;
    assert.equal(answer.stopReason, 'tool_use');
    assert.deepEqual(answer.output.message.content[0].toolUse.input, { city: 'Paris', unit: 'celsius' });
    const streamed = events(send({ toolConfig: { tools: [NOW], toolChoice: { any: {} } } }, true)).map((e) => ({ type: e.event, data: JSON.parse(e.data) }));
    const inputs = streamed.filter((e) => e.type === 'contentBlockDelta').map((e) => e.data.delta.toolUse.input);
    assert.deepEqual(inputs, ['']);
    assert.equal(streamed.find((e) => e.type === 'contentBlockStart')?.data.start.toolUse.name, 'get_time');
  });

  it('tool configuration and tool blocks are checked', () => {
    const send = provider();
    assert.match(error(send({ toolConfig: { tools: [TOOL], toolChoice: { tool: { name: 'other' } } } })), /not defined in toolConfig\.tools/);
    assert.match(error(send({ toolConfig: { tools: [point] } })), /must follow a content block/);
    assert.match(error(send({ toolConfig: { tools: [{ toolSpec: { name: 'x', inputSchema: { json: { type: 'array' } } } }] } })), /must be object/);
    assert.match(error(send({ toolConfig: { tools: [TOOL, TOOL] } })), /same name/);
    const history = (id: string, status?: string) => ({
      messages: [
        { role: 'user', content: [{ text: 'q' }] },
        { role: 'assistant', content: [{ toolUse: { toolUseId: id, name: 'get_time', input: {} } }] },
        { role: 'user', content: [{ toolResult: { toolUseId: id, content: [{ text: '12:00' }], ...(status ? { status } : {}) } }] },
      ],
    });
    assert.match(error(send(history('tooluse_1'))), /toolConfig field must be defined/);
    assert.equal(json(send({ ...history('tooluse_1', 'error'), toolConfig: { tools: [NOW] } })).status, 200);
    assert.match(error(send({ ...history('call_a+b/c=', 'error'), toolConfig: { tools: [NOW] } })), /toolUseId/);
    assert.match(error(send({ ...history('tooluse_1', 'failed'), toolConfig: { tools: [NOW] } })), /enum value set: \[success, error\]/);
  });

  it('documents, audio, requestMetadata and serviceTier', () => {
    const send = provider();
    const doc = (name: string) => ({ messages: [{ role: 'user', content: [{ text: 'read' }, { document: { format: 'pdf', name, source: { bytes: 'JVBERi0=' } } }] }] });
    assert.equal(json(send(doc('Q3 report-final'))).status, 200);
    assert.match(error(send(doc('report.pdf'))), /document name/);
    assert.equal(json(send({ messages: [{ role: 'user', content: [{ text: 'hear' }, { audio: { format: 'wav', source: { bytes: 'UklGRg==' } } }] }] })).status, 200);
    assert.equal(json(send({ requestMetadata: { user: 'u-1@example.com' }, serviceTier: { type: 'flex' } })).status, 200);
    assert.match(error(send({ requestMetadata: { user: 'a\u0000b' } })), /requestMetadata/);
    assert.match(error(send({ serviceTier: { type: 'scale' } })), /serviceTier/);
  });
});

// ---------------------------------------------------------------------------------------------
// Round trips: the format's bodies are accepted, the mock's answers come back as they should.

const OPTIONS = {
  max_tokens: 4096, temperature: 1, top_p: null, top_k: null, anthropic_version: null, azure_instance: null, azure_api_version: null,
  azure_deployment_id: null, llama2_format: null, mistral_format: null, upstream_url: null, upstream_path: null, input_cost: null, output_cost: null,
} as ModelOptions;

function context(stream = false): ExchangeContext {
  return new ExchangeContext({ provider: 'bedrock', routeType: 'llm/v1/chat', model: CLAUDE, options: OPTIONS, stream, includeUsage: true, policy: 'error', now: 1_700_000_000, id: 'chatcmpl-rt' });
}

function request(messages: Message[], extra: Partial<CanonicalRequest> = {}): CanonicalRequest {
  return { kind: 'chat', messages, sampling: {}, stream: false, includeUsage: true, passthrough: {}, dropped: [], source: { format: 'openai-chat', body: {} }, ...extra };
}

describe('bedrock mock ↔ format', () => {
  const mock = bedrockProvider({ credentials: null, models: '*' });
  const exchange = (req: CanonicalRequest): CanonicalResponse => {
    const ctx = context();
    const reply = json(call((c) => mock.handle(c), CLAUDE, bedrockConverseFormat.buildRequest(req, ctx)));
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    return bedrockConverseFormat.parseResponse(JSON.stringify(reply.body), ctx) as CanonicalResponse;
  };

  it('the signed reasoning of one answer is accepted next turn', () => {
    const ask: Message = { role: 'user', parts: [{ type: 'text', text: 'Capital of France?' }] };
    const first = exchange(request([ask], { reasoning: { effort: 'low' } }));
    const parts = first.choices[0].parts;
    assert.equal(parts[0].type, 'reasoning');
    const next = exchange(request([ask, { role: 'assistant', parts }, { role: 'user', parts: [{ type: 'text', text: 'And Italy?' }] }], { reasoning: { effort: 'low' } }));
    assert.equal(next.choices[0].finishReason, 'stop');
    // tampered reasoning is refused, as Claude refuses it
    const tampered = parts.map((p) => (p.type === 'reasoning' ? { ...p, text: `${p.text}!` } : p));
    const ctx = context();
    const body = bedrockConverseFormat.buildRequest(request([ask, { role: 'assistant', parts: tampered }, { role: 'user', parts: [{ type: 'text', text: 'And Italy?' }] }]), ctx);
    assert.match(error(call((c) => mock.handle(c), CLAUDE, body)), /Invalid `signature`/);
  });

  it('structured output: the response tool is forced and its input comes back as the JSON answer', () => {
    const schema = { type: 'object', properties: { city: { type: 'string' }, population: { type: 'integer' }, tags: { type: 'array', items: { type: 'string' } } }, required: ['city', 'population', 'tags'] };
    const answer = exchange(request([{ role: 'user', parts: [{ type: 'text', text: 'Capital of France?' }] }], { output: { type: 'json_schema', name: 'city', schema, strict: true } }));
    assert.deepEqual(answer.choices[0], { parts: [{ type: 'text', text: '{"city":"Paris","population":1,"tags":["Paris"]}' }], finishReason: 'stop' });
  });

  it('prompt caching: cache marks become cache points; cache writes then reads come back in usage', () => {
    const req = request([
      { role: 'system', parts: [{ type: 'text', text: 'You are careful. '.repeat(50), cache: { type: 'ephemeral' } }] },
      { role: 'user', parts: [{ type: 'text', text: 'What is 1+1?' }] },
    ]);
    const fresh = bedrockProvider({ credentials: null, models: '*' });
    const once = () => {
      const ctx = context();
      const reply = json(call((c) => fresh.handle(c), CLAUDE, bedrockConverseFormat.buildRequest(req, ctx)));
      return (bedrockConverseFormat.parseResponse(JSON.stringify(reply.body), ctx) as CanonicalResponse).usage;
    };
    const first = once();
    const second = once();
    assert.deepEqual(first?.prompt_tokens_details, { cached_tokens: 0, cache_write_tokens: 150 });
    assert.deepEqual(second?.prompt_tokens_details, { cached_tokens: 150, cache_write_tokens: 0 });
    assert.equal(second?.prompt_tokens, 150 + 3);
  });

  it('a streamed zero-argument tool call reaches the client with "{}" arguments', () => {
    const ctx = context(true);
    const body = bedrockConverseFormat.buildRequest(
      request([{ role: 'user', parts: [{ type: 'text', text: 'Time?' }] }], { tools: [{ type: 'function', name: 'get_time', parameters: { type: 'object', properties: {} } }], toolChoice: { type: 'tool', name: 'get_time' } }),
      ctx,
    );
    const translator = bedrockConverseFormat.createStreamTranslator(ctx);
    let out = '';
    for (const event of events(call((c) => mock.handle(c), CLAUDE, body, true))) out += translator.push(event);
    out += translator.finish(null);
    const chunks = out.split('\n\n').filter((f) => f.startsWith('data: {')).map((f) => JSON.parse(f.slice(6)));
    const args = chunks.flatMap((c) => c.choices?.[0]?.delta?.tool_calls ?? []).map((t: Json) => t.function?.arguments ?? '').join('');
    assert.equal(args, '{}');
    assert.equal(chunks.find((c) => c.choices?.[0]?.finish_reason)?.choices[0].finish_reason, 'tool_calls');
    assert.ok(out.endsWith('data: [DONE]\n\n'));
    assert.equal(RESPONSE_TOOL, 'modelgate_response');
  });
});
