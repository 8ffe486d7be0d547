/**
 * The Gemini wire format on the canonical exchange, called directly: CanonicalRequest literals in,
 * Gemini bodies out; Gemini answers in, CanonicalResponse out; Gemini streams in, the sequence of
 * EventSink calls out. The context is minimal: `unsupported` records (or throws under `error`),
 * `createSink` returns a recording fake.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { geminiFormat, geminiUsage, LEGACY_THOUGHT_SEPARATOR, SKIP_SIGNATURE } from '../../src/llm/formats/gemini.ts';
import { RequestError, TranslationError, UpstreamStreamError, type DriverContext, type ModelOptions } from '../../src/llm/types.ts';
import { ExchangeContext } from '../../src/exchange/context.ts';
import { TOOL_CALL_ID, type CanonicalRequest, type CanonicalResponse, type Message, type ReasoningPart, type UnsupportedPolicy } from '../../src/exchange/types.ts';
import { NO_OPTIONS, recordingContext, type RecordingContext } from '../helpers/format-context.ts';

type Json = Record<string, any>;

type TestContext = RecordingContext;

function context(init: { model?: string; policy?: UnsupportedPolicy; stream?: boolean; includeUsage?: boolean; options?: Partial<ModelOptions>; routeType?: DriverContext['routeType'] } = {}): TestContext {
  return recordingContext({
    provider: 'gemini',
    ...init,
    model: init.model ?? 'gemini-2.5-flash',
    policy: init.policy ?? 'error',
    sink: { model: 'gemini-2.5-flash', startDetail: true, carry: true },
    dropOnce: true,
  });
}

function request(messages: Message[], extra: Partial<CanonicalRequest> = {}): CanonicalRequest {
  return { kind: 'chat', messages, sampling: {}, stream: false, includeUsage: false, passthrough: {}, dropped: [], source: { format: 'openai-chat', body: {} }, ...extra };
}

const user = (text: string): Message => ({ role: 'user', parts: [{ type: 'text', text }] });
const hi = [user('hi')];

function build(req: CanonicalRequest, ctx = context()): Json {
  return geminiFormat.buildRequest(req, ctx) as Json;
}

function parse(body: unknown, ctx = context()): CanonicalResponse {
  const answer = geminiFormat.parseResponse(JSON.stringify(body), ctx);
  assert.ok(!('passthrough' in answer));
  return answer as CanonicalResponse;
}

/** Runs SSE events through a stream translator; returns the sink's events and the translator. */
function stream(events: unknown[], ctx = context({ stream: true })) {
  const translator = geminiFormat.createStreamTranslator(ctx);
  for (const event of events) translator.push({ event: undefined, data: JSON.stringify(event) });
  translator.finish();
  return { translator, events: ctx.sinks[0].events, sink: ctx.sinks[0] };
}

const requestError = (pattern: RegExp) => (e: unknown) => e instanceof RequestError && pattern.test(e.message);

// ---------------------------------------------------------------------------------------------

describe('gemini format: request', () => {
  it('maps system and developer messages, user parts and sampling', () => {
    const body = build(
      request(
        [
          { role: 'system', parts: [{ type: 'text', text: 'Be brief.' }] },
          { role: 'developer', parts: [{ type: 'text', text: 'Answer in French.' }] },
          {
            role: 'user',
            parts: [
              { type: 'text', text: 'What is this?' },
              { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: 'iVBOR' } },
              { type: 'image', source: { kind: 'url', url: 'gs://bucket/cat.webp' } },
              { type: 'image', source: { kind: 'url', url: 'https://example.com/cat?size=2' } },
              { type: 'image', source: { kind: 'url', url: 'data:image/gif;base64,R0lG' } },
              { type: 'audio', data: 'UklGR', format: 'wav' },
              { type: 'file', source: { kind: 'base64', mediaType: 'application/pdf', data: 'JVBER' }, filename: 'a.pdf' },
              { type: 'file', source: { kind: 'url', url: 'https://example.com/report.pdf' } },
            ],
          },
        ],
        { sampling: { maxTokens: 100, temperature: 1.5, topP: 0.5, topK: 0, stop: ['END'], seed: 7, presencePenalty: 0.1, frequencyPenalty: 0.2, n: 2 } },
      ),
    );
    assert.deepEqual(body.systemInstruction, { parts: [{ text: 'Be brief.' }, { text: 'Answer in French.' }] });
    assert.deepEqual(body.contents, [
      {
        role: 'user',
        parts: [
          { text: 'What is this?' },
          { inlineData: { mimeType: 'image/png', data: 'iVBOR' } },
          { fileData: { mimeType: 'image/webp', fileUri: 'gs://bucket/cat.webp' } },
          { fileData: { mimeType: 'image/jpeg', fileUri: 'https://example.com/cat?size=2' } },
          { inlineData: { mimeType: 'image/gif', data: 'R0lG' } },
          { inlineData: { mimeType: 'audio/wav', data: 'UklGR' } },
          { inlineData: { mimeType: 'application/pdf', data: 'JVBER' } },
          { fileData: { mimeType: 'application/pdf', fileUri: 'https://example.com/report.pdf' } },
        ],
      },
    ]);
    assert.deepEqual(body.generationConfig, { maxOutputTokens: 100, temperature: 1.5, topP: 0.5, stopSequences: ['END'], seed: 7, presencePenalty: 0.1, frequencyPenalty: 0.2, candidateCount: 2 });
    assert.equal('model' in body, false, 'the model is in the URL');
  });

  it('lets configured options win and clamps the temperature to 0..2', () => {
    const body = build(request(hi, { sampling: { maxTokens: 5, temperature: 0.3, topK: 4 } }), context({ options: { max_tokens: 50, temperature: 5, top_k: 0 } }));
    assert.deepEqual(body.generationConfig, { maxOutputTokens: 50, temperature: 2 });
  });

  it('asks for completions as one user turn', () => {
    const body = build({ ...request([]), kind: 'completions', prompt: 'Say hi' }, context({ routeType: 'llm/v1/completions' }));
    assert.deepEqual(body.contents, [{ role: 'user', parts: [{ text: 'Say hi' }] }]);
  });

  it('maps structured output to responseJsonSchema, json_object to the MIME type only', () => {
    const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false };
    const body = build(request(hi, { output: { type: 'json_schema', name: 'place', schema, strict: true } }));
    assert.deepEqual(body.generationConfig, { responseMimeType: 'application/json', responseJsonSchema: schema });
    const described = build(request(hi, { output: { type: 'json_schema', name: 'place', schema, description: 'A place' } }));
    assert.equal(described.generationConfig.responseJsonSchema.description, 'A place');
    assert.deepEqual(build(request(hi, { output: { type: 'json_object' } })).generationConfig, { responseMimeType: 'application/json' });
    assert.equal(build(request(hi, { output: { type: 'text' } })).generationConfig, undefined);
    // Streamed requests have the same body.
    assert.deepEqual(build(request(hi, { stream: true, output: { type: 'json_schema', name: 'p', schema } }), context({ stream: true })).generationConfig.responseJsonSchema, schema);
  });

  it('maps tools and tool choice', () => {
    const body = build(
      request(hi, {
        tools: [
          { type: 'function', name: 'weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
          { type: 'function', name: 'strict', parameters: { type: 'object', properties: { a: { type: 'string', const: 'x' } }, additionalProperties: false }, strict: true },
          { type: 'function', name: 'nullable', parameters: { type: 'object', properties: { a: { type: ['string', 'null'] } } } },
          { type: 'function', name: 'noargs', parameters: { type: 'object', properties: {} } },
        ],
        toolChoice: { type: 'tool', name: 'weather' },
      }),
    );
    const [weather, strict, nullable, noargs] = body.tools[0].functionDeclarations;
    assert.deepEqual(weather, { name: 'weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } });
    assert.ok(strict.parametersJsonSchema && !strict.parameters, 'schemas beyond the OpenAPI subset go in parametersJsonSchema');
    assert.ok(nullable.parametersJsonSchema && !nullable.parameters, 'type lists are JSON Schema');
    assert.deepEqual(noargs, { name: 'noargs' });
    assert.deepEqual(body.toolConfig, { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['weather'] } });
    const tools = [{ type: 'function' as const, name: 'f', parameters: {} }];
    const mode = (type: 'auto' | 'none' | 'required') => build(request(hi, { tools, toolChoice: { type } })).toolConfig.functionCallingConfig.mode;
    assert.deepEqual([mode('auto'), mode('none'), mode('required')], ['AUTO', 'NONE', 'ANY']);
    assert.equal(build(request(hi, { toolChoice: { type: 'none' } })).toolConfig, undefined, 'no tools, no tool config');
  });

  it('maps tool calls and results: names looked up by id, JSON objects as they are, text as content, errors as error', () => {
    const body = build(
      request([
        user('Weather in Paris and Rome?'),
        {
          role: 'assistant',
          parts: [
            { type: 'text', text: 'Let me look.' },
            { type: 'tool_call', id: 'call_1', name: 'weather', arguments: '{"city":"Paris"}' },
            { type: 'tool_call', id: 'call_2', name: 'weather', arguments: '' },
          ],
        },
        { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'call_1', content: [{ type: 'text', text: '{"temp":21}' }] }] },
        { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'call_2', content: [{ type: 'text', text: 'sunny' }] }] },
        { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'other', name: 'forecast', content: [{ type: 'text', text: 'timeout' }], isError: true }] },
        { role: 'tool', name: 'clock', parts: [{ type: 'tool_result', toolCallId: 'unknown', content: [{ type: 'text', text: '12:00' }] }] },
        user('Thanks'),
      ]),
    );
    assert.deepEqual(body.contents[1], {
      role: 'model',
      parts: [{ text: 'Let me look.' }, { functionCall: { id: 'call_1', name: 'weather', args: { city: 'Paris' } } }, { functionCall: { id: 'call_2', name: 'weather', args: {} } }],
    });
    assert.deepEqual(body.contents[2], {
      role: 'user',
      parts: [
        { functionResponse: { id: 'call_1', name: 'weather', response: { temp: 21 } } },
        { functionResponse: { id: 'call_2', name: 'weather', response: { content: 'sunny' } } },
        { functionResponse: { id: 'other', name: 'forecast', response: { error: 'timeout' } } },
        { functionResponse: { id: 'unknown', name: 'clock', response: { content: '12:00' } } },
      ],
    });
    assert.deepEqual(body.contents[3], { role: 'user', parts: [{ text: 'Thanks' }] });
  });

  it('restores thought signatures from gemini reasoning parts, and leaves other providers’ reasoning out', () => {
    const body = build(
      request([
        user('Weather in Paris?'),
        {
          role: 'assistant',
          parts: [
            { type: 'reasoning', text: 'The user wants the weather.', signature: 'c2lnMQ==', provider: 'gemini', toolCallId: 'call_1' },
            { type: 'reasoning', text: 'thinking', signature: 'anthropic-sig', provider: 'anthropic' },
            { type: 'reasoning', text: '', encrypted: 'gAAAA', provider: 'openai' },
            { type: 'tool_call', id: 'call_1', name: 'weather', arguments: '{"city":"Paris"}' },
            { type: 'tool_call', id: 'call_2', name: 'weather', arguments: '{"city":"Rome"}' },
          ],
        },
        { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'call_1', content: [{ type: 'text', text: '21' }] }] },
        { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'call_2', content: [{ type: 'text', text: '25' }] }] },
      ]),
      context({ model: 'gemini-3-pro-preview' }),
    );
    assert.deepEqual(body.contents[1].parts, [
      { functionCall: { id: 'call_1', name: 'weather', args: { city: 'Paris' } }, thoughtSignature: 'c2lnMQ==' },
      { functionCall: { id: 'call_2', name: 'weather', args: { city: 'Rome' } } },
    ]);
    assert.deepEqual(body.contents[2].parts.map((p: Json) => p.functionResponse.response), [{ content: 21 }, { content: 25 }]);
  });

  it('puts a signature that belongs to no call on the last text part', () => {
    const body = build(
      request([
        user('Hi'),
        { role: 'assistant', parts: [{ type: 'reasoning', text: '', signature: 'dGV4dA==', provider: 'gemini' }, { type: 'text', text: 'Hello!' }] },
        { role: 'assistant', parts: [{ type: 'reasoning', text: '', signature: 'b25seQ==', provider: 'gemini' }] },
        user('Again'),
      ]),
    );
    assert.deepEqual(body.contents[1], { role: 'model', parts: [{ text: 'Hello!', thoughtSignature: 'dGV4dA==' }] });
    assert.deepEqual(body.contents[2], { role: 'model', parts: [{ text: '', thoughtSignature: 'b25seQ==' }] });
  });

  it('still reads signatures from legacy __thought__ ids', () => {
    const legacy = `call_1${LEGACY_THOUGHT_SEPARATOR}c2lnMQ==`;
    const body = build(
      request([
        user('Weather?'),
        { role: 'assistant', parts: [{ type: 'tool_call', id: legacy, name: 'weather', arguments: '{}' }] },
        { role: 'tool', parts: [{ type: 'tool_result', toolCallId: legacy, content: [{ type: 'text', text: 'sunny' }] }] },
      ]),
    );
    assert.deepEqual(body.contents[1].parts, [{ functionCall: { id: 'call_1', name: 'weather', args: {} }, thoughtSignature: 'c2lnMQ==' }]);
    assert.deepEqual(body.contents[2].parts[0].functionResponse, { id: 'call_1', name: 'weather', response: { content: 'sunny' } }, 'the id without the signature');
  });

  it('gives current-turn calls made elsewhere the documented placeholder signature, and nothing to earlier turns', () => {
    // An OpenAI-originated conversation: no signatures anywhere.
    const body = build(
      request([
        user('First question'),
        { role: 'assistant', parts: [{ type: 'tool_call', id: 'call_a', name: 'lookup', arguments: '{}' }] },
        { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'call_a', content: [{ type: 'text', text: 'x' }] }] },
        { role: 'assistant', parts: [{ type: 'text', text: 'Done.' }] },
        user('Second question'),
        { role: 'assistant', parts: [{ type: 'tool_call', id: 'call_b', name: 'lookup', arguments: '{}' }, { type: 'tool_call', id: 'call_c', name: 'lookup', arguments: '{}' }] },
        { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'call_b', content: [{ type: 'text', text: 'y' }] }] },
        { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'call_c', content: [{ type: 'text', text: 'z' }] }] },
        { role: 'assistant', parts: [{ type: 'tool_call', id: 'call_d', name: 'lookup', arguments: '{}' }] },
        { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'call_d', content: [{ type: 'text', text: 'w' }] }] },
      ]),
      context({ model: 'gemini-3-pro-preview' }),
    );
    assert.equal(body.contents[1].parts[0].thoughtSignature, undefined, 'an earlier turn is not checked');
    assert.deepEqual(body.contents[5].parts, [{ functionCall: { id: 'call_b', name: 'lookup', args: {} }, thoughtSignature: SKIP_SIGNATURE }, { functionCall: { id: 'call_c', name: 'lookup', args: {} } }]);
    assert.equal(body.contents[7].parts[0].thoughtSignature, SKIP_SIGNATURE, 'each step of the current turn');
    const old = build(request([user('Q'), { role: 'assistant', parts: [{ type: 'tool_call', id: 'call_x', name: 'lookup', arguments: '{}' }] }, { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'call_x', content: [{ type: 'text', text: 'x' }] }] }]), context({ model: 'gemini-2.0-flash' }));
    assert.equal(old.contents[1].parts[0].thoughtSignature, undefined, 'a model that does not think checks nothing');
  });

  it('maps reasoning effort to thinkingLevel (Gemini 3) or thinkingBudget (2.5), with thoughts included', () => {
    const thinking = (model: string, reasoning: CanonicalRequest['reasoning']) => build(request(hi, { reasoning }), context({ model })).generationConfig?.thinkingConfig;
    assert.deepEqual(thinking('gemini-2.5-flash', { effort: 'low' }), { thinkingBudget: 1024, includeThoughts: true });
    assert.deepEqual(thinking('gemini-2.5-flash', { effort: 'medium' }), { thinkingBudget: 8192, includeThoughts: true });
    assert.deepEqual(thinking('gemini-2.5-flash', { effort: 'high' }), { thinkingBudget: 24576, includeThoughts: true });
    assert.deepEqual(thinking('gemini-2.5-flash', { effort: 'minimal' }), { thinkingBudget: 512, includeThoughts: true });
    assert.deepEqual(thinking('gemini-2.5-flash', { effort: 'none' }), { thinkingBudget: 0 });
    assert.deepEqual(thinking('gemini-2.5-pro', { effort: 'none' }), { thinkingBudget: 128 }, '2.5 Pro cannot turn thinking off');
    assert.deepEqual(thinking('gemini-3-flash-preview', { effort: 'minimal' }), { thinkingLevel: 'minimal', includeThoughts: true });
    assert.deepEqual(thinking('gemini-3-flash-preview', { effort: 'medium' }), { thinkingLevel: 'medium', includeThoughts: true });
    assert.deepEqual(thinking('gemini-3-pro-preview', { effort: 'none' }), { thinkingLevel: 'low' }, 'Gemini 3 cannot turn thinking off');
    assert.deepEqual(thinking('gemini-3-pro-preview', { effort: 'medium' }), { thinkingLevel: 'high', includeThoughts: true }, '3 Pro has low and high only');
    assert.deepEqual(thinking('gemini-3.1-pro-preview', { effort: 'medium' }), { thinkingLevel: 'medium', includeThoughts: true });
    assert.deepEqual(thinking('gemini-3-pro-preview', { budgetTokens: 2000 }), { thinkingBudget: 2000, includeThoughts: true });
    assert.equal(thinking('gemini-2.5-flash', undefined), undefined);
    assert.equal(thinking('gemini-2.0-flash', { effort: 'none' }), undefined, 'nothing to turn off');
    assert.throws(() => thinking('gemini-2.0-flash', { effort: 'high' }), requestError(/reasoning_effort: thinking on gemini-2\.0-flash/));
  });

  it('drops cache marks by name whatever the policy', () => {
    const req = request(
      [
        { role: 'system', parts: [{ type: 'text', text: 'Long instructions', cache: { type: 'ephemeral' } }] },
        { role: 'user', parts: [{ type: 'text', text: 'Question', cache: { type: 'ephemeral', ttl: '1h' } }], cache: { type: 'ephemeral' } },
      ],
      { tools: [{ type: 'function', name: 'f', parameters: {}, cache: { type: 'ephemeral' } }] },
    );
    const ctx = context({ policy: 'error' });
    const body = build(req, ctx);
    assert.deepEqual(body.systemInstruction, { parts: [{ text: 'Long instructions' }] });
    assert.equal(JSON.stringify(body).includes('cache'), false);
    // Named in the call's dropped paths (X-Modelgate-Dropped-Params), not refused under `error`.
    assert.deepEqual(ctx.dropped, ['messages[0].content[0].cache_control', 'messages[1].cache_control', 'messages[1].content[0].cache_control', 'tools[0].cache_control']);
    assert.deepEqual(req.dropped, [], 'the request is shared by every target: left alone');
  });

  it('puts what Gemini cannot express through the policy', () => {
    const cases: [Partial<CanonicalRequest> | Message[], string][] = [
      [{ sampling: { logprobs: true } }, 'logprobs'],
      [{ sampling: { topLogprobs: 2 } }, 'top_logprobs'],
      [{ sampling: { logitBias: { '50256': -100 } } }, 'logit_bias'],
      [{ sampling: { n: 2 }, stream: true }, 'n'],
      [{ sampling: { stop: ['a', 'b', 'c', 'd', 'e', 'f'] } }, 'stop'],
      [{ user: 'u-1' }, 'user'],
      [{ metadata: { a: 'b' } }, 'metadata'],
      [{ openai: { store: true } }, 'store'],
      [{ tools: [{ type: 'function', name: 'f', parameters: {} }], parallelToolCalls: false }, 'parallel_tool_calls'],
      [{ tools: [{ type: 'builtin', name: 'web_search', config: {} }] }, 'tools[0]'],
      [[{ role: 'user', parts: [{ type: 'image', source: { kind: 'url', url: 'file:///etc/passwd' } }] }], 'messages[0].content[0].image_url.url'],
      [[{ role: 'user', parts: [{ type: 'image', source: { kind: 'file_id', fileId: 'file-1' } }] }], 'messages[0].content[0]'],
      [[{ role: 'user', parts: [{ type: 'file', source: { kind: 'file_id', fileId: 'file-1' } }] }], 'messages[0].content[0]'],
      [[{ role: 'user', name: 'alice', parts: [{ type: 'text', text: 'hi' }] }], 'messages[0].name'],
      [[{ role: 'system', parts: [{ type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: 'x' } }] }, user('hi')], 'messages[0].content[0]'],
    ];
    for (const [change, path] of cases) {
      const req = Array.isArray(change) ? request(change) : request(hi, change);
      assert.throws(() => build(req, context({ policy: 'error' })), (e: unknown) => e instanceof RequestError && e.message.startsWith(`${path}:`), path);
      const ctx = context({ policy: 'drop' });
      geminiFormat.buildRequest(Array.isArray(change) ? request(change) : request(hi, change), ctx);
      assert.deepEqual(ctx.dropped, [path], path);
    }
    // Under drop: what is left out is left out (the first five stop sequences stay).
    const body = build(request(hi, { sampling: { stop: ['a', 'b', 'c', 'd', 'e', 'f'], n: 3 }, stream: true, user: 'u' }), context({ policy: 'drop', stream: true }));
    assert.deepEqual(body.generationConfig, { stopSequences: ['a', 'b', 'c', 'd', 'e'] });
    // Text-only modalities say nothing Gemini does not do.
    assert.doesNotThrow(() => build(request(hi, { openai: { modalities: ['text'] } })));
  });

  it('names Gemini’s own fields as native (the plugin adds them whatever the policy), and adds no passthrough itself', () => {
    assert.deepEqual(geminiFormat.nativeFields?.(context()), ['safetySettings', 'cachedContent', 'labels']);
    const body = build(request(hi, { passthrough: { safetySettings: [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_NONE' }], contents: 'nope' } }));
    assert.equal(body.safetySettings, undefined);
    assert.deepEqual(body.contents, [{ role: 'user', parts: [{ text: 'hi' }] }]);
  });

  it('maps image detail to the media resolution', () => {
    const image = (detail: string) => ({ type: 'image' as const, source: { kind: 'base64' as const, mediaType: 'image/png', data: 'x' }, detail });
    assert.equal(build(request([{ role: 'user', parts: [image('low'), image('high')] }])).generationConfig.mediaResolution, 'MEDIA_RESOLUTION_HIGH');
    assert.equal(build(request([{ role: 'user', parts: [image('low')] }])).generationConfig.mediaResolution, 'MEDIA_RESOLUTION_LOW');
    assert.equal(build(request([{ role: 'user', parts: [image('auto')] }])).generationConfig, undefined);
  });

  it('refuses what is not a request', () => {
    assert.throws(() => build(request([{ role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'nope', content: [{ type: 'text', text: 'x' }] }] }])), requestError(/messages\[0\]\.tool_call_id: no earlier assistant tool call/));
    assert.throws(() => build(request([{ role: 'system', parts: [{ type: 'text', text: 'only a system prompt' }] }])), requestError(/at least one user or assistant message/));
    assert.throws(() => build(request([user('x'), { role: 'assistant', parts: [{ type: 'tool_call', id: 'a', name: 'f', arguments: '[1]' }] }])), requestError(/arguments: expected a JSON object/));
  });
});

// ---------------------------------------------------------------------------------------------

describe('gemini format: answers', () => {
  it('turns thoughts into reasoning, signatures into gemini reasoning state, and gives calls neutral ids', () => {
    const answer = parse({
      candidates: [
        {
          content: {
            role: 'model',
            parts: [
              { text: 'The user wants the weather.', thought: true },
              { functionCall: { name: 'weather', args: { city: 'Zürich' } }, thoughtSignature: 'abc+/=' },
              { functionCall: { id: 'fc.with.dots', name: 'weather', args: { city: 'Bern' } } },
              { functionCall: { id: 'gemini_own_id', name: 'time' } },
            ],
          },
          finishReason: 'STOP',
        },
      ],
      usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 5, thoughtsTokenCount: 20, cachedContentTokenCount: 4, totalTokenCount: 35 },
      modelVersion: 'gemini-2.5-pro',
      responseId: 'resp-1',
    });
    assert.equal(answer.id, 'resp-1');
    assert.equal(answer.model, 'gemini-2.5-pro');
    assert.equal(answer.created, 1_700_000_000);
    const [choice] = answer.choices;
    assert.equal(choice.finishReason, 'tool_calls');
    const calls = choice.parts.filter((p) => p.type === 'tool_call');
    assert.equal(calls[0].id, 'call_resp-1_0');
    assert.match(calls[1].id, /^call_[A-Za-z0-9_-]{24}$/, 'a non-neutral Gemini id gets a stable neutral stand-in');
    assert.equal(calls[2].id, 'gemini_own_id');
    for (const call of calls) assert.match(call.id, TOOL_CALL_ID);
    assert.deepEqual(choice.parts, [
      { type: 'reasoning', text: 'The user wants the weather.', provider: 'gemini' },
      { type: 'reasoning', text: '', signature: 'abc+/=', provider: 'gemini', toolCallId: 'call_resp-1_0' },
      { type: 'tool_call', id: 'call_resp-1_0', name: 'weather', arguments: '{"city":"Zürich"}' },
      { type: 'tool_call', id: calls[1].id, name: 'weather', arguments: '{"city":"Bern"}' },
      { type: 'tool_call', id: 'gemini_own_id', name: 'time', arguments: '{}' },
    ]);
    assert.deepEqual(answer.usage, {
      prompt_tokens: 10,
      completion_tokens: 25,
      total_tokens: 35,
      prompt_tokens_details: { cached_tokens: 4 },
      completion_tokens_details: { reasoning_tokens: 20 },
    });
  });

  it('keeps a signature on a text part as reasoning state without a call', () => {
    const answer = parse({ candidates: [{ content: { parts: [{ text: 'Hel' }, { text: 'lo', thoughtSignature: 'c2ln' }] }, finishReason: 'STOP' }] });
    assert.deepEqual(answer.choices[0].parts, [
      { type: 'reasoning', text: '', signature: 'c2ln', provider: 'gemini' },
      { type: 'text', text: 'Hello' },
    ]);
    assert.equal(answer.usage, null);
  });

  it('maps finish reasons, blocked prompts, several candidates and JSON-array answers', () => {
    const reason = (finishReason: string) => parse({ candidates: [{ content: { parts: [{ text: 'x' }] }, finishReason }] }).choices[0].finishReason;
    assert.deepEqual(['STOP', 'MAX_TOKENS', 'SAFETY', 'RECITATION', 'PROHIBITED_CONTENT', 'OTHER', 'SOMETHING_NEW'].map(reason), ['stop', 'length', 'content_filter', 'content_filter', 'content_filter', 'stop', 'stop']);
    const blocked = parse({ promptFeedback: { blockReason: 'SAFETY' }, usageMetadata: { promptTokenCount: 4, totalTokenCount: 4 } });
    assert.deepEqual(blocked.choices, [{ parts: [{ type: 'text', text: '' }], finishReason: 'content_filter' }]);
    assert.deepEqual(blocked.usage, { prompt_tokens: 4, completion_tokens: 0, total_tokens: 4 });
    const two = parse({ candidates: [{ content: { parts: [{ text: 'a' }] }, finishReason: 'STOP' }, { content: { parts: [{ text: 'b' }] }, finishReason: 'MAX_TOKENS' }] });
    assert.deepEqual(two.choices, [{ parts: [{ type: 'text', text: 'a' }], finishReason: 'stop' }, { parts: [{ type: 'text', text: 'b' }], finishReason: 'length' }]);
    const ctx = context();
    const merged = geminiFormat.parseResponse(
      JSON.stringify([
        { candidates: [{ content: { parts: [{ text: 'Hel' }] } }], usageMetadata: { promptTokenCount: 3, totalTokenCount: 3 } },
        { candidates: [{ content: { parts: [{ text: 'lo' }] }, finishReason: 'MAX_TOKENS' }], usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 2, totalTokenCount: 5 } },
      ]),
      ctx,
    ) as CanonicalResponse;
    assert.deepEqual(merged.choices, [{ parts: [{ type: 'text', text: 'Hello' }], finishReason: 'length' }]);
    assert.equal(merged.id, 'chatcmpl-gateway');
  });

  it('refuses what is not an answer', () => {
    const translation = (pattern: RegExp) => (e: unknown) => e instanceof TranslationError && pattern.test(e.message);
    assert.throws(() => parse({ candidates: [] }), translation(/^no generation candidates received from Gemini/));
    assert.throws(() => parse({ error: { code: 400, message: 'bad', status: 'INVALID_ARGUMENT' } }), translation(/^gemini error: bad$/));
    assert.throws(() => geminiFormat.parseResponse('<html>', context()), translation(/^failed to decode gemini response$/));
  });

  it('counts tool-use prompt tokens as input', () => {
    assert.deepEqual(geminiUsage({ promptTokenCount: 10, toolUsePromptTokenCount: 5, candidatesTokenCount: 2, totalTokenCount: 17 }), { prompt_tokens: 15, completion_tokens: 2, total_tokens: 17 });
    assert.equal(geminiUsage({ totalTokenCount: 3 }), null);
  });
});

// ---------------------------------------------------------------------------------------------

describe('gemini format: streams', () => {
  it('streams thoughts as reasoning, text, calls with their signatures as state, one finish at the end', () => {
    const { events, translator, sink } = stream(
      [
        { candidates: [{ content: { parts: [{ text: 'Thinking...', thought: true }], role: 'model' } }], modelVersion: 'gemini-3-pro-preview', responseId: 'r1' },
        { candidates: [{ content: { parts: [{ text: 'Let me check.' }], role: 'model' }, finishReason: 'STOP' }] },
        {
          candidates: [{ content: { parts: [{ functionCall: { name: 'weather', args: { city: 'Paris' } }, thoughtSignature: 'c2lnMQ==' }, { functionCall: { name: 'weather', args: {} } }], role: 'model' }, finishReason: 'STOP' }],
          usageMetadata: { promptTokenCount: 8, candidatesTokenCount: 6, thoughtsTokenCount: 12, cachedContentTokenCount: 2, totalTokenCount: 26 },
        },
      ],
      context({ stream: true, includeUsage: true, model: 'gemini-3-pro-preview' }),
    );
    const usage = { prompt_tokens: 8, completion_tokens: 18, total_tokens: 26, prompt_tokens_details: { cached_tokens: 2 }, completion_tokens_details: { reasoning_tokens: 12 } };
    assert.deepEqual(events, [
      ['start', 'r1', 'gemini-3-pro-preview'],
      ['reasoning', 'Thinking...'],
      ['text', 'Let me check.'],
      ['reasoningState', { type: 'reasoning', text: '', signature: 'c2lnMQ==', provider: 'gemini', toolCallId: 'call_r1_0' }],
      ['toolCalls', [{ index: 0, id: 'call_r1_0', name: 'weather', arguments: '{"city":"Paris"}' }]],
      ['toolCalls', [{ index: 1, id: 'call_r1_1', name: 'weather', arguments: '{}' }]],
      ['finish', 'tool_calls'],
      ['usage', usage],
      ['done'],
    ]);
    assert.equal(translator.done, true);
    assert.deepEqual(translator.usage(), usage);
    assert.equal(translator.responseModel, 'gemini-3-pro-preview');
    assert.deepEqual(sink.carried.toolCallIds, ['call_r1_0', 'call_r1_1']);
  });

  it('gives a streamed answer the ids the same answer gets unstreamed', () => {
    const chunk = { candidates: [{ content: { parts: [{ functionCall: { name: 'f', args: {} }, thoughtSignature: 'cw==' }] }, finishReason: 'STOP' }], responseId: 'same' };
    const whole = parse(chunk);
    const streamed = stream([chunk]);
    const wholeIds = whole.choices[0].parts.filter((p) => p.type === 'tool_call').map((p) => (p as { id: string }).id);
    assert.deepEqual(streamed.sink.carried.toolCallIds, wholeIds);
  });

  it('keeps a text signature as state, ends on a blocked prompt, and passes errors on', () => {
    const signed = stream([{ candidates: [{ content: { parts: [{ text: 'Hi' }, { text: '', thoughtSignature: 'c2ln' }] }, finishReason: 'STOP' }] }]);
    assert.deepEqual(signed.events.slice(1), [
      ['text', 'Hi'],
      ['reasoningState', { type: 'reasoning', text: '', signature: 'c2ln', provider: 'gemini' }],
      ['finish', 'stop'],
      ['done'],
    ]);
    const blocked = stream([{ promptFeedback: { blockReason: 'SAFETY' } }]);
    assert.deepEqual(blocked.events.slice(1), [['finish', 'content_filter'], ['done']]);
    // A stream that never says why it stopped is truncated: no done.
    const cut = stream([{ candidates: [{ content: { parts: [{ text: 'Bon' }] } }] }]);
    assert.equal(cut.translator.done, false);
    assert.deepEqual(cut.events.map((e) => e[0]), ['start', 'text']);
    const ctx = context({ stream: true });
    const translator = geminiFormat.createStreamTranslator(ctx);
    translator.push({ event: undefined, data: JSON.stringify({ candidates: [{ content: { parts: [{ text: 'x' }] } }] }) });
    assert.throws(
      () => translator.push({ event: undefined, data: JSON.stringify({ error: { code: 503, message: 'The model is overloaded.', status: 'UNAVAILABLE' } }) }),
      (e: unknown) => e instanceof UpstreamStreamError && e.type === 'UNAVAILABLE' && e.message === 'The model is overloaded.',
    );
  });
});

// ---------------------------------------------------------------------------------------------

describe('gemini format: multi-turn', () => {
  it('an answer’s signature, attached by the gateway as its ReasoningPart, comes back on the call next turn', () => {
    const answer = parse(
      {
        candidates: [{ content: { parts: [{ text: 'planning', thought: true }, { functionCall: { name: 'weather', args: { city: 'Oslo' } }, thoughtSignature: 'U0lHTg==' }] }, finishReason: 'STOP' }],
        responseId: 'turn1',
      },
      context({ model: 'gemini-3-pro-preview' }),
    );
    const parts = answer.choices[0].parts;
    const call = parts.find((p) => p.type === 'tool_call')!;
    const state = parts.filter((p): p is ReasoningPart => p.type === 'reasoning' && p.signature !== undefined);
    // What the client sends back (its tool call, by its neutral id) with what the provider-state cache attaches.
    const next = request([
      user('Weather in Oslo?'),
      { role: 'assistant', parts: [...state, call] },
      { role: 'tool', parts: [{ type: 'tool_result', toolCallId: (call as { id: string }).id, content: [{ type: 'text', text: '{"temp":3}' }] }] },
    ]);
    const body = build(next, context({ model: 'gemini-3-pro-preview' }));
    const id = (call as { id: string }).id;
    assert.deepEqual(body.contents[1], { role: 'model', parts: [{ functionCall: { id, name: 'weather', args: { city: 'Oslo' } }, thoughtSignature: 'U0lHTg==' }] });
    assert.deepEqual(body.contents[2], { role: 'user', parts: [{ functionResponse: { id, name: 'weather', response: { temp: 3 } } }] });
  });
});

// ---------------------------------------------------------------------------------------------

describe('gemini format: with the gateway’s own context and OpenAI renderer', () => {
  const call = (init: { stream?: boolean; policy?: UnsupportedPolicy } = {}) =>
    new ExchangeContext({ provider: 'gemini', routeType: 'llm/v1/chat', model: 'gemini-3-pro-preview', options: NO_OPTIONS, stream: init.stream ?? false, includeUsage: true, policy: init.policy ?? 'error', now: 1_700_000_000, id: 'chatcmpl-x' });

  it('names dropped cache marks in the call’s dropped paths under the default policy', () => {
    const ctx = call();
    geminiFormat.buildRequest(request([{ role: 'user', parts: [{ type: 'text', text: 'Long', cache: { type: 'ephemeral' } }] }]), ctx);
    assert.deepEqual(ctx.dropped, ['messages[0].content[0].cache_control']);
  });

  it('streams OpenAI chunks: reasoning_content, the signature in reasoning_details under the call’s id, a neutral tool-call id', () => {
    const ctx = call({ stream: true });
    const translator = geminiFormat.createStreamTranslator(ctx);
    let out = '';
    for (const event of [
      { candidates: [{ content: { parts: [{ text: 'Let me think.', thought: true }] } }], responseId: 'r9', modelVersion: 'gemini-3-pro-preview' },
      { candidates: [{ content: { parts: [{ functionCall: { name: 'weather', args: { city: 'Oslo' } }, thoughtSignature: 'c2lnbmF0dXJl' }] }, finishReason: 'STOP' }], usageMetadata: { promptTokenCount: 5, candidatesTokenCount: 3, thoughtsTokenCount: 4, totalTokenCount: 12 } },
    ]) out += translator.push({ event: undefined, data: JSON.stringify(event) });
    out += translator.finish();
    const frames = out.split('\n\n').filter(Boolean).map((f) => f.slice('data: '.length)).map((d) => (d === '[DONE]' ? d : JSON.parse(d)));
    const deltas = frames.filter((f): f is Json => typeof f === 'object' && f.choices.length > 0).map((f) => f.choices[0].delta);
    assert.equal(deltas.map((d) => d.reasoning_content ?? '').join(''), 'Let me think.');
    const detail = deltas.find((d) => d.reasoning_details)!.reasoning_details[0];
    const toolCall = deltas.find((d) => d.tool_calls)!.tool_calls[0];
    assert.equal(toolCall.id, 'call_r9_0');
    assert.deepEqual(detail, { type: 'reasoning.text', text: '', signature: 'c2lnbmF0dXJl', id: 'call_r9_0', format: 'google-gemini-v1', index: 0 });
    assert.equal(JSON.stringify(frames).includes('__thought__'), false);
    assert.deepEqual(frames.at(-2), { id: 'r9', object: 'chat.completion.chunk', created: 1_700_000_000, model: 'gemini-3-pro-preview', choices: [], usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12, completion_tokens_details: { reasoning_tokens: 4 } } });
    assert.equal(frames.at(-1), '[DONE]');
    // What the gateway keeps for the next turn: the signature, keyed by the call's id.
    assert.deepEqual(translator.carried?.toolCallIds, ['call_r9_0']);
    assert.equal(translator.carried?.reasoning[0].signature, 'c2lnbmF0dXJl');
    assert.equal(translator.carried?.reasoning[0].toolCallId, 'call_r9_0');
  });
});
